"""Debian's Flask 2.2 through the WSGI adapter: t/apps/flask_app.py (the
application that test_fastcgi.py runs under uWSGI) mounted at /flask/."""

import hashlib
import json
import os
import urllib.parse

import pytest

from backends import APPS_SOURCE_DIR
from wsgi_support import (Client, Mount, chunked, fetch, install_file, multipart_body,
                          require_python_module, start_wsgi)

MiB = 1 << 20


@pytest.fixture
def flask_server(server):
    require_python_module("flask", "python3-flask")
    folder = install_file(server, "flask", os.path.join(APPS_SOURCE_DIR, "flask_app.py"))
    start_wsgi(server, [Mount("/flask/", "flask_app:app", (folder,),
                              "    client_max_body_size = 16m")])
    return server


def json_of(response):
    assert response.status == 200, response
    assert response.header("content-type") == "application/json", response
    assert response.complete
    return json.loads(response.body)


def test_flask_hello(flask_server):
    response = fetch(flask_server, "GET", "/flask/")
    assert response.status == 200
    assert response.header("content-type") == "text/plain; charset=utf-8"
    assert response.header("content-length") == "18"
    assert response.body == b"Hello from Flask!\n"


def test_flask_head(flask_server):
    with Client(flask_server.port) as client:
        response = client.request("HEAD", "/flask/")
        assert response.status == 200
        assert response.header("content-length") == "18"
        after = client.request("GET", "/flask/", close=True)
        assert after.body == b"Hello from Flask!\n"


def test_flask_echo_post(flask_server):
    body = os.urandom(2 * MiB)
    result = json_of(fetch(flask_server, "POST", "/flask/echo?k=v&x=%C3%A9", body=body,
                           headers=[("Content-Type", "application/octet-stream")]))
    assert result == {
        "method": "POST",
        "script_name": "/flask",
        "path": "/echo",
        "query": "k=v&x=%C3%A9",
        "body_length": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }


def test_flask_echo_chunked_post(flask_server):
    # Werkzeug 2.2 reads wsgi.input to its end when the server sets
    # wsgi.input_terminated (get_input_stream() in werkzeug/wsgi.py), so
    # this passes whether or not CONTENT_LENGTH comes with the chunked body.
    body = os.urandom(300000)
    result = json_of(fetch(flask_server, "POST", "/flask/echo", body=chunked(body, 70000),
                           headers=[("Transfer-Encoding", "chunked")]))
    assert result["body_length"] == len(body)
    assert result["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_flask_form_post(flask_server):
    form = urllib.parse.urlencode([("a", "1"), ("a", "2"), ("name", "Zoë")]).encode()
    result = json_of(fetch(flask_server, "POST", "/flask/form", body=form,
                           headers=[("Content-Type", "application/x-www-form-urlencoded")]))
    assert result == {"a": ["1", "2"], "name": ["Zoë"]}


def test_flask_cookies(flask_server):
    response = fetch(flask_server, "GET", "/flask/cookie")
    assert response.status == 200
    assert response.body == b"two cookies\n"
    assert response.all("set-cookie") == ["flavour=oatmeal; Path=/",
                                          "session=s3cr3t; HttpOnly; Path=/app"]


def test_flask_multipart_upload(flask_server):
    first = os.urandom(3 * MiB + 5)
    second = b"small file\n"
    body, content_type = multipart_body(fields=[("note", "x")],
                                        files=[("f", "a.bin", first), ("g", "b.txt", second)])
    result = json_of(fetch(flask_server, "POST", "/flask/upload", body=body,
                           headers=[("Content-Type", content_type)], timeout=30))
    assert result == {"files": [
        {"field": "f", "filename": "a.bin", "length": len(first),
         "sha256": hashlib.sha256(first).hexdigest()},
        {"field": "g", "filename": "b.txt", "length": len(second),
         "sha256": hashlib.sha256(second).hexdigest()},
    ]}


def test_flask_stream(flask_server):
    response = fetch(flask_server, "GET", "/flask/stream?n=3")
    assert response.status == 200
    assert response.framing == "chunked"
    assert response.complete
    assert response.body == b"chunk 1\nchunk 2\nchunk 3\n"

    response = fetch(flask_server, "GET", "/flask/stream?n=10000")
    assert response.complete
    assert response.body == b"".join(b"chunk %d\n" % k for k in range(1, 10001))


def test_flask_errors_are_the_apps(flask_server):
    # Flask's own 404 and 405 pages, not the server's.
    response = fetch(flask_server, "GET", "/flask/nothing")
    assert response.status == 404
    assert response.header("content-type") == "text/html; charset=utf-8"
    assert b"<title>404 Not Found</title>" in response.body

    response = fetch(flask_server, "GET", "/flask/form")
    assert response.status == 405
    # Werkzeug builds the list from a set, so the order varies.
    assert sorted(response.header("allow").split(", ")) == ["OPTIONS", "POST"]

    response = fetch(flask_server, "GET", "/flask/stream?n=-1")
    assert response.status == 400
    assert response.body == b"invalid query: n must be from 0 to 10000, got -1\n"
