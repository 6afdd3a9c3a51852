"""Views of the test project. The POST responses are plain text or JSON
(json.dumps(..., sort_keys=True) plus a newline), so a test can predict
every byte."""

import hashlib
import json

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import get_script_prefix, reverse
from django.views.decorators.http import require_http_methods


def json_response(value):
    return HttpResponse(json.dumps(value, sort_keys=True) + "\n", content_type="application/json")


@require_http_methods(["GET", "POST"])
def form_view(request):
    """GET: a form with the CSRF token and the fields name and message.
    POST (the CSRF middleware checks the token first): the two fields back
    as "name: ...\\nmessage: ...\\n" in UTF-8."""
    if request.method == "GET":
        return render(request, "zsite/form.html")
    text = "name: %s\nmessage: %s\n" % (request.POST.get("name", ""),
                                         request.POST.get("message", ""))
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


@require_http_methods(["GET", "POST"])
def upload_view(request):
    """GET: a multipart form with the CSRF token. POST: JSON with the
    "files" (field, name, size and SHA-256 of each uploaded file, in the
    order they came) and the other "fields"."""
    if request.method == "GET":
        return render(request, "zsite/upload.html")
    files = []
    for field, uploads in request.FILES.lists():
        for upload in uploads:
            digest = hashlib.sha256()
            size = 0
            for chunk in upload.chunks():
                digest.update(chunk)
                size += len(chunk)
            files.append({"field": field, "name": upload.name, "size": size,
                          "sha256": digest.hexdigest()})
    fields = {name: values for name, values in request.POST.lists()
              if name != "csrfmiddlewaretoken"}
    return json_response({"files": files, "fields": fields})


def whoami_view(request):
    """JSON with the request's paths as Django reports them, and the user."""
    return json_response({
        "script_name": request.META.get("SCRIPT_NAME"),
        "path_info": request.path_info,
        "path": request.path,
        "script_prefix": get_script_prefix(),
        "form_url": reverse("form"),
        "absolute_uri": request.build_absolute_uri(),
        "user": request.user.get_username(),
    })
