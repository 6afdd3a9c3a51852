"""Flask application that uWSGI serves as a FastCGI or SCGI backend in the
integration tests (see Uwsgi in t/integration/backends.py).

Routes:
  /        "Hello from Flask!" as text/plain
  /echo    the method, script name, path, raw query string and the body's
           length and SHA-256, as JSON (any method)
  /form    the fields of a POSTed form, each name with its list of values
  /cookie  a short text body with two Set-Cookie headers
  /upload  the field, file name, length and SHA-256 of each uploaded file of
           a multipart/form-data POST
  /stream  ?n=N chunks "chunk K\\n" from a generator (N from 0 to 10000,
           default 3), ?delay=MS milliseconds apart (0 to 1000, default 0)

JSON bodies are json.dumps(..., sort_keys=True) plus a newline, so a test
can predict every byte.
"""

import hashlib
import json
import time

from flask import Flask, Response, request

app = Flask(__name__)

MAX_STREAM_CHUNKS = 10000
MAX_STREAM_DELAY_MS = 1000


def json_response(value, status=200):
    return Response(json.dumps(value, sort_keys=True) + "\n", status=status,
                    mimetype="application/json")


def bounded_int(name, default, maximum):
    """Read the query parameter `name` as an int from 0 to maximum; raise ValueError."""
    text = request.args.get(name)
    if text is None:
        return default
    number = int(text)
    if not 0 <= number <= maximum:
        raise ValueError("%s must be from 0 to %d, got %d" % (name, maximum, number))
    return number


@app.route("/")
def hello():
    return Response("Hello from Flask!\n", mimetype="text/plain")


@app.route("/echo", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def echo():
    body = request.get_data(cache=False)
    return json_response({
        "method": request.method,
        "script_name": request.script_root,
        "path": request.path,
        "query": request.query_string.decode("latin-1"),
        "body_length": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
    })


@app.route("/form", methods=["POST"])
def form():
    return json_response(request.form.to_dict(flat=False))


@app.route("/cookie")
def cookie():
    response = Response("two cookies\n", mimetype="text/plain")
    response.set_cookie("flavour", "oatmeal")
    response.set_cookie("session", "s3cr3t", path="/app", httponly=True)
    return response


@app.route("/upload", methods=["POST"])
def upload():
    files = []
    for field, storage in request.files.items(multi=True):
        data = storage.read()
        files.append({
            "field": field,
            "filename": storage.filename,
            "length": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        })
    return json_response({"files": files})


@app.route("/stream")
def stream():
    try:
        count = bounded_int("n", 3, MAX_STREAM_CHUNKS)
        delay_ms = bounded_int("delay", 0, MAX_STREAM_DELAY_MS)
    except ValueError as error:
        return Response("invalid query: %s\n" % error, status=400, mimetype="text/plain")

    def chunks():
        for k in range(1, count + 1):
            if k > 1 and delay_ms:
                time.sleep(delay_ms / 1000)
            yield "chunk %d\n" % k

    return Response(chunks(), mimetype="text/plain")
