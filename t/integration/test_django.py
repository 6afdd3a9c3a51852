"""Debian's Django 3.2 through the WSGI adapter: the project of
t/apps/django_site mounted at /site/, so Django builds its URLs with the
script prefix /site.

The project is copied to a temporary folder once per module. Its SQLite
database is made there with `manage.py migrate` and gets a superuser.
Run as root, the tests start the workers as nobody
(conftest.pool_identity()), so the database folder and file are given to
that user: SQLite writes its journal next to the database.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse

import pytest

from backends import APPS_SOURCE_DIR, copy_tree_readable, worker_identity
from wsgi_support import (DEBIAN_PYTHON, Mount, chunked, fetch, multipart_body,
                          require_python_module, start_wsgi, wait_for_log)

MiB = 1 << 20
ADMIN_USER = "zsadmin"
ADMIN_PASSWORD = "zs-test-password-4711"


def manage(site, *args, env=None):
    """Run manage.py of the copied project with Debian's Python; fail the
    test with the command's output when it fails."""
    result = subprocess.run([DEBIAN_PYTHON, "manage.py", *args], cwd=site,
                            env=dict(os.environ, **(env or {})), timeout=120,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        pytest.fail("manage.py %s failed with status %d:\n%s"
                    % (" ".join(args), result.returncode, result.stdout.decode(errors="replace")))
    return result.stdout.decode(errors="replace")


def give_to_workers(path):
    """Make the workers' user the owner of path and everything in it."""
    identity = worker_identity()
    if identity is None:
        return
    shutil.chown(path, *identity)
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            shutil.chown(os.path.join(folder, name), *identity)


@pytest.fixture(scope="module")
def django_site():
    """The path of a migrated copy of the project, with a superuser."""
    require_python_module("django", "python3-django")
    base = tempfile.mkdtemp(prefix="zs-django-")
    os.chmod(base, 0o755)
    site = os.path.join(base, "django_site")
    try:
        copy_tree_readable(os.path.join(APPS_SOURCE_DIR, "django_site"), site)
        data = os.path.join(site, "data")
        os.makedirs(data, mode=0o755)
        manage(site, "migrate", "--noinput")
        manage(site, "createsuperuser", "--noinput", "--username", ADMIN_USER,
               "--email", "zsadmin@example.org", env={"DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD})
        give_to_workers(data)
        yield site
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def site(server, django_site):
    start_wsgi(server, [Mount("/site/", "zsite.wsgi:application", (django_site,),
                              "    client_max_body_size = 32m")])
    return Browser(server)


class Browser:
    """A client that keeps cookies (name and value only, for any path) and
    sends Host: 127.0.0.1:PORT, as a browser does."""

    def __init__(self, server):
        self.server = server
        self.host = "127.0.0.1:%d" % server.port
        self.cookies = {}

    def request(self, method, target, body=b"", headers=(), cookies=True):
        headers = list(headers)
        if cookies and self.cookies:
            headers.append(("Cookie", "; ".join("%s=%s" % item for item in self.cookies.items())))
        response = fetch(self.server, method, target, body=body, headers=headers,
                         host=self.host, timeout=30)
        for value in response.all("set-cookie"):
            pair, _, attributes = value.partition(";")
            name, _, cookie = pair.strip().partition("=")
            if "max-age=0" in attributes.lower().replace(" ", ""):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = cookie
        return response

    def get(self, target):
        return self.request("GET", target)

    def post_form(self, target, fields, cookies=True):
        body = urllib.parse.urlencode(fields).encode()
        return self.request("POST", target, body=body, cookies=cookies,
                            headers=[("Content-Type", "application/x-www-form-urlencoded")])


def csrf_token(response):
    """The value of the csrfmiddlewaretoken field in an HTML page."""
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', response.body)
    assert match, "no CSRF token in the page:\n%r" % response.body[:2000]
    return match.group(1).decode()


def text_of(response):
    return response.body.decode("utf-8")


def test_django_script_prefix(site):
    response = site.get("/site/whoami/")
    assert response.status == 200
    assert response.header("content-type") == "application/json"
    assert json.loads(response.body) == {
        "script_name": "/site",
        "path_info": "/whoami/",
        "path": "/site/whoami/",
        "script_prefix": "/site/",
        "form_url": "/site/form/",
        "absolute_uri": "http://%s/site/whoami/" % site.host,
        "user": "",
    }


def test_django_admin_login(site):
    response = site.get("/site/admin/")
    assert response.status == 302
    assert response.header("location") == "/site/admin/login/?next=/site/admin/"

    login_page = site.get("/site/admin/login/?next=/site/admin/")
    assert login_page.status == 200
    assert login_page.header("content-type") == "text/html; charset=utf-8"
    assert "csrftoken" in site.cookies
    assert 'action="/site/admin/login/?next=/site/admin/"' in text_of(login_page)
    token = csrf_token(login_page)

    response = site.post_form("/site/admin/login/?next=/site/admin/", [
        ("csrfmiddlewaretoken", token), ("username", ADMIN_USER),
        ("password", ADMIN_PASSWORD), ("next", "/site/admin/")])
    assert response.status == 302, text_of(response)[:2000]
    assert response.header("location") == "/site/admin/"
    assert "sessionid" in site.cookies
    session_cookie = [v for v in response.all("set-cookie") if v.startswith("sessionid=")]
    assert len(session_cookie) == 1
    assert "HttpOnly" in session_cookie[0]
    assert "Path=/" in session_cookie[0]

    index = site.get("/site/admin/")
    assert index.status == 200
    page = text_of(index)
    assert re.search(r"Welcome,\s*<strong>%s</strong>" % ADMIN_USER, page), page[:3000]
    assert "Site administration" in page
    assert 'href="/site/admin/auth/user/"' in page

    users = site.get("/site/admin/auth/user/")
    assert users.status == 200
    assert ">%s</a>" % ADMIN_USER in text_of(users)

    assert json.loads(site.get("/site/whoami/").body)["user"] == ADMIN_USER


def test_django_admin_wrong_password(site):
    token = csrf_token(site.get("/site/admin/login/"))
    response = site.post_form("/site/admin/login/", [
        ("csrfmiddlewaretoken", token), ("username", ADMIN_USER), ("password", "wrong")])
    assert response.status == 200
    assert "Please enter the correct username and password" in text_of(response)
    assert "sessionid" not in site.cookies


def test_django_login_without_csrf(site):
    response = site.post_form("/site/admin/login/", [
        ("username", ADMIN_USER), ("password", ADMIN_PASSWORD)])
    assert response.status == 403
    assert "CSRF verification failed" in text_of(response)
    assert "sessionid" not in site.cookies


def test_django_form_post_with_csrf(site):
    form_page = site.get("/site/form/")
    assert form_page.status == 200
    assert 'action="/site/form/"' in text_of(form_page)
    token = csrf_token(form_page)

    response = site.post_form("/site/form/", [
        ("csrfmiddlewaretoken", token), ("name", "Zoë Ünïcode"),
        ("message", "hello, zserver & co")])
    assert response.status == 200
    assert response.header("content-type") == "text/plain; charset=utf-8"
    assert response.body == "name: Zoë Ünïcode\nmessage: hello, zserver & co\n".encode("utf-8")


def test_django_form_without_token(site):
    token = csrf_token(site.get("/site/form/"))

    # The cookie is there, the field is not.
    response = site.post_form("/site/form/", [("name", "x")])
    assert response.status == 403
    assert "CSRF verification failed" in text_of(response)

    # The field is there, the cookie is not.
    response = site.post_form("/site/form/", [("csrfmiddlewaretoken", token), ("name", "x")],
                              cookies=False)
    assert response.status == 403


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_django_file_upload(site, framing):
    token = csrf_token(site.get("/site/upload/"))
    data = os.urandom(5 * MiB + 17)
    body, content_type = multipart_body(
        fields=[("csrfmiddlewaretoken", token), ("note", "five MiB")],
        files=[("file", "data.bin", data)])
    headers = [("Content-Type", content_type)]
    if framing == "chunked":
        # Django 3.2 reads CONTENT_LENGTH bytes and nothing without it
        # (WSGIRequest in django/core/handlers/wsgi.py), so this passes only
        # because the adapter sets CONTENT_LENGTH for a chunked body.
        body = chunked(body, 100000)
        headers.append(("Transfer-Encoding", "chunked"))
    response = site.request("POST", "/site/upload/", body=body, headers=headers)
    assert response.status == 200, text_of(response)[:2000]
    assert json.loads(response.body) == {
        "files": [{"field": "file", "name": "data.bin", "size": len(data),
                   "sha256": hashlib.sha256(data).hexdigest()}],
        "fields": {"note": ["five MiB"]},
    }


def test_django_not_found_is_djangos(site):
    response = site.get("/site/nothing/")
    assert response.status == 404
    assert "<h1>Not Found</h1>" in text_of(response)


def test_django_disallowed_host_logged(site, server):
    response = fetch(server, "GET", "/site/whoami/", host="evil.example")
    assert response.status == 400
    assert "Bad Request (400)" in response.body.decode()
    # Django logs it through the stderr handler of zsite/settings.py.
    assert wait_for_log(server, "Invalid HTTP_HOST header: 'evil.example'"), server.log()[-3000:]
