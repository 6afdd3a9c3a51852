"""The example site's WSGI page: a plain PEP 3333 application that ZServer
runs in its workers (location /py/ in zserver.conf)."""

import html
import os
import sys
from urllib.parse import parse_qs


def page(environ, name):
    rows = "".join(
        "<tr><td>%s</td><td>%s</td></tr>" % (html.escape(key), html.escape(str(environ.get(key, ""))))
        for key in ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_PROTOCOL",
                    "wsgi.url_scheme", "wsgi.multiprocess"))
    return ("""<!DOCTYPE html>
<html lang="en">
<meta charset="utf-8">
<title>Hello from WSGI</title>
<link rel="stylesheet" href="/style.css">
<h1>Hello, %s!</h1>
<p>Python %s runs this page inside ZServer's worker process %d.</p>
<form method="post"><input name="name" value="%s"> <button>Greet</button></form>
<table>%s</table>
<p><a href="/">Back</a></p>
""" % (html.escape(name), sys.version.split()[0], os.getpid(), html.escape(name), rows)).encode()


def application(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    name = query.get("name", ["world"])[0]
    if environ["REQUEST_METHOD"] == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        form = parse_qs(environ["wsgi.input"].read(length).decode("utf-8", "replace"))
        name = form.get("name", [name])[0]
    body = page(environ, name[:100])
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [body]
