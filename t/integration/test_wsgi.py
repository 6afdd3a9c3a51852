"""The in-process WSGI adapter (PEP 3333) through the real binary, with the
applications of t/apps/wsgi.

Each test mounts the callables of wsgi_tests.py that it needs under
locations of its own. Tests that must reach one process (the close()
counter, the next request after an error, the memory of the worker) run
the server with one worker.
"""

import hashlib
import itertools
import json
import math
import os
import socket
import time
import types

import pytest

from conftest import wait_until
from wsgi_support import (Client, Mount, elapsed_since, fetch, install_apps, open_files,
                          proc_status, request_bytes, start_wsgi,
                          validator_complaints, wait_for_log, WSGI_APPS_SOURCE)

MiB = 1 << 20


def load_app_module():
    """Load t/apps/wsgi/wsgi_tests.py into the test process, for the
    messages and the stream pattern that the applications use. It is
    compiled without writing bytecode next to it, so that the source tree
    stays as `make dist` packs it."""
    path = os.path.join(WSGI_APPS_SOURCE, "wsgi_tests.py")
    module = types.ModuleType("wsgi_tests_for_checks")
    module.__file__ = path
    with open(path) as f:
        exec(compile(f.read(), path, "exec"), module.__dict__)
    return module


APP = load_app_module()
# The message of the ImportError that t/apps/wsgi/import_fails.py raises.
IMPORT_FAILS_MESSAGE = "import_fails.py raises ImportError on purpose"


@pytest.fixture
def apps(server):
    """The folder of the installed applications (their python_path). After
    the test, checks that wsgiref.validate reported nothing in the log."""
    folder = install_apps(server)
    yield folder
    assert validator_complaints(server.log()) == []


def serve(server, apps, routes, workers=2, location_extra="", extra_locations=""):
    """Start the server with one location per (prefix, callable name) of
    routes, each with location_extra."""
    mounts = [Mount(prefix, "wsgi_tests:" + name, (apps,), location_extra)
              for prefix, name in routes.items()]
    return start_wsgi(server, mounts, workers=workers, extra_locations=extra_locations)


def json_of(response):
    assert response.status == 200, response
    assert response.header("content-type") == "application/json", response
    assert response.complete, response
    return json.loads(response.body)


def echo(server, target, method="GET", **options):
    return json_of(fetch(server, method, target, **options))


def lines_body(count):
    """A body of count numbered lines and a last line without a newline."""
    return b"".join(b"line %d of the request body\n" % i for i in range(count)) + b"no newline"


# ---- environ ----

def test_environ_prefix_location(server, apps):
    serve(server, apps, {"/py/": "echo"})
    with Client(server.port) as client:
        response = client.request("GET", "/py/a/b?x=1&y=%20z",
                                  headers=[("X-Custom", "one"), ("X-Custom", "two"),
                                           ("User-Agent", "zserver-tests/1")])
        local_port = client.local_port()
    result = json_of(response)

    env = result["environ"]
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == "/py"
    assert env["PATH_INFO"] == "/a/b"
    assert env["QUERY_STRING"] == "x=1&y=%20z"
    assert env["REQUEST_URI"] == "/py/a/b?x=1&y=%20z"
    assert env["SERVER_NAME"] == "localhost"
    assert env["SERVER_PORT"] == str(server.port)
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["REMOTE_PORT"] == str(local_port)

    assert env["HTTP_HOST"] == "localhost"
    assert env["HTTP_USER_AGENT"] == "zserver-tests/1"
    assert env["HTTP_X_CUSTOM"] == "one, two"
    assert "CONTENT_LENGTH" not in env
    assert "CONTENT_TYPE" not in env
    assert "HTTP_CONTENT_LENGTH" not in env
    assert "HTTP_CONTENT_TYPE" not in env

    assert result["wsgi"] == {
        "version": [1, 0],
        "url_scheme": "http",
        "multithread": False,
        "multiprocess": True,
        "run_once": False,
        "input_terminated": True,
        "file_wrapper": True,
        "errors_write": True,
    }


def test_one_item_list_content_length(server, apps):
    # echo returns a list of one item and no Content-Length header. The
    # unvalidated copy: wsgiref.validate would hide the list in its iterator.
    serve(server, apps, {"/py/": "echo_unvalidated"})
    response = fetch(server, "GET", "/py/")
    assert response.status == 200
    assert response.framing == "length"
    assert response.header("content-length") == str(len(response.body))
    assert response.header("transfer-encoding") is None


@pytest.mark.parametrize("target, path_info", [("/", "/"), ("/x/y", "/x/y"), ("/x/", "/x/")])
def test_environ_root_location(server, apps, target, path_info):
    serve(server, apps, {"/": "echo"})
    env = echo(server, target)["environ"]
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == path_info
    assert env["REQUEST_URI"] == target


def test_environ_prefix_without_rest(server, apps):
    serve(server, apps, {"/py/": "echo"})
    env = echo(server, "/py/")["environ"]
    assert env["SCRIPT_NAME"] == "/py"
    assert env["PATH_INFO"] == "/"


def test_environ_non_ascii_path_is_latin1(server, apps):
    serve(server, apps, {"/py/": "echo"})
    target = "/py/caf%C3%A9/%E2%82%AC%20x?q=%C3%A9&r=%2F"
    env = echo(server, target)["environ"]
    # PEP 3333: the decoded bytes of the path, each byte one character.
    assert env["PATH_INFO"] == "/café/€ x".encode("utf-8").decode("latin-1")
    assert env["QUERY_STRING"] == "q=%C3%A9&r=%2F"
    assert env["REQUEST_URI"] == target


def test_environ_post_body(server, apps):
    serve(server, apps, {"/py/": "echo"})
    body = b'{"k": "v"}'
    result = echo(server, "/py/submit?read=read_n", method="POST", body=body,
                  headers=[("Content-Type", "application/json; charset=utf-8")])
    env = result["environ"]
    assert env["REQUEST_METHOD"] == "POST"
    assert env["CONTENT_LENGTH"] == str(len(body))
    assert env["CONTENT_TYPE"] == "application/json; charset=utf-8"
    assert "HTTP_CONTENT_TYPE" not in env
    assert result["body_length"] == len(body)
    assert result["body_sha256"] == hashlib.sha256(body).hexdigest()


# ---- wsgi.input ----

# (callable, read style, expected pieces for a body of n lines plus one
# without a newline, of length total, read with size 1000).
READ_STYLES = [
    ("echo_unvalidated", "read", lambda lines, total: 1),
    ("echo", "read_n", lambda lines, total: math.ceil(total / 1000)),
    ("echo", "readline", lambda lines, total: lines + 1),
    ("echo", "readlines", lambda lines, total: lines + 1),
    ("echo", "iter", lambda lines, total: lines + 1),
]


@pytest.mark.parametrize("lines", [200, 5000], ids=["in-memory", "temporary-file"])
@pytest.mark.parametrize("app, style, pieces", READ_STYLES, ids=[s[1] for s in READ_STYLES])
def test_input_read_styles(server, apps, app, style, pieces, lines):
    serve(server, apps, {"/py/": app}, location_extra="    client_max_body_size = 8m")
    body = lines_body(lines)
    # 200 lines stay under the 64 KiB that the adapter keeps in memory;
    # 5000 lines (about 140 KiB) go through a temporary file.
    assert (len(body) < 65536) == (lines == 200)
    result = echo(server, "/py/?read=%s&size=1000" % style, method="POST", body=body,
                  headers=[("Content-Type", "text/plain")])
    assert result["read"] == style
    assert result["environ"]["CONTENT_LENGTH"] == str(len(body))
    assert result["body_length"] == len(body)
    assert result["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert result["pieces"] == pieces(lines, len(body))
    assert result["after_eof"] == [0, 0]
    if style == "read_n":
        assert result["max_piece"] == 1000


def test_input_chunked_body_length(server, apps):
    serve(server, apps, {"/py/": "echo"}, location_extra="    client_max_body_size = 8m")
    parts = [os.urandom(1), os.urandom(70000), os.urandom(4096), b"end"]
    whole = b"".join(parts)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    result = echo(server, "/py/?read=readlines", method="POST", body=chunked,
                  headers=[("Transfer-Encoding", "chunked")])
    assert result["environ"]["CONTENT_LENGTH"] == str(len(whole))
    assert result["body_length"] == len(whole)
    assert result["body_sha256"] == hashlib.sha256(whole).hexdigest()
    assert result["after_eof"] == [0, 0]


def test_input_empty_post(server, apps):
    serve(server, apps, {"/py/": "echo"})
    result = echo(server, "/py/?read=readline", method="POST", headers=[("Content-Length", "0")])
    assert result["body_length"] == 0
    assert result["pieces"] == 0
    assert result["after_eof"] == [0, 0]


# ---- large bodies and the worker's memory ----

def quarantine_off(monkeypatch):
    """Keep AddressSanitizer from holding freed memory (256 MiB by default)
    in the workers of a sanitizer build, which would hide what the memory
    checks measure. Builds without ASan ignore the variable."""
    options = [o for o in os.environ.get("ASAN_OPTIONS", "").split(":") if o]
    monkeypatch.setenv("ASAN_OPTIONS", ":".join(options + ["quarantine_size_mb=0"]))


# How much the worker's resident memory may grow while it moves 100 MiB.
# A worker that buffers the body instead of streaming it grows by about
# 100 MiB; the Python objects of one 64 KiB piece and the socket buffers
# take well under this.
MEMORY_GROWTH_LIMIT_KIB = 48 * 1024


def expected_stream(mib, piece=65536):
    digest = hashlib.sha256()
    for index in range((mib * MiB) // piece):
        digest.update(APP.stream_piece(index, piece))
    return digest.hexdigest()


@pytest.mark.parametrize("declare_length", [False, True], ids=["chunked", "content-length"])
def test_stream_100_mib_out(server, apps, monkeypatch, declare_length):
    quarantine_off(monkeypatch)
    serve(server, apps, {"/py/": "stream"}, workers=1)
    [worker] = server.workers()
    query = "mib=100" + ("&length=1" if declare_length else "")

    # Warm up: the first request imports the application.
    small = fetch(server, "GET", "/py/?mib=1")
    assert small.body_length == MiB
    baseline = proc_status(worker)

    digest = hashlib.sha256()
    with Client(server.port, timeout=30) as client:
        client.send(request_bytes("GET", "/py/?" + query))
        # The client reads nothing for a while: a worker that keeps pulling
        # pieces from the application now has to hold them in memory.
        time.sleep(1.5)
        paused = proc_status(worker)
        response = client.response(sink=digest.update)
    after = proc_status(worker)

    assert response.status == 200
    assert response.header("content-type") == "application/octet-stream"
    assert response.framing == ("length" if declare_length else "chunked")
    if declare_length:
        assert response.header("content-length") == str(100 * MiB)
    assert response.complete
    assert response.body_length == 100 * MiB
    assert digest.hexdigest() == expected_stream(100)

    growth_paused = paused["VmRSS"] - baseline["VmRSS"]
    growth_peak = after["VmHWM"] - baseline["VmHWM"]
    assert growth_paused < MEMORY_GROWTH_LIMIT_KIB, \
        "worker RSS grew by %d KiB while the client did not read" % growth_paused
    assert growth_peak < MEMORY_GROWTH_LIMIT_KIB, \
        "worker peak RSS grew by %d KiB during a 100 MiB response" % growth_peak
    assert server.workers() == [worker]


def upload_pieces(total, piece=MiB):
    """The pieces of a request body of total bytes: a random MiB, each copy
    prefixed with its number so that no two pieces are equal."""
    block = os.urandom(piece)
    for index in range(total // piece):
        yield index.to_bytes(8, "big") + block[8:]


CHUNK_SIZES = (1, 4096, 65535, 65536, 65537, 300000, MiB)


def chunked_pieces(total):
    """The chunks of a chunked request body of total bytes, in the wire
    format, with chunk sizes cycling through CHUNK_SIZES. Yields (wire
    bytes, data bytes)."""
    sizes = itertools.cycle(CHUNK_SIZES)
    for piece in upload_pieces(total):
        offset = 0
        while offset < len(piece):
            data = piece[offset:offset + next(sizes)]
            offset += len(data)
            yield b"%x\r\n" % len(data) + data + b"\r\n", data
    yield b"0\r\n\r\n", b""


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_upload_100_mib_in(server, apps, monkeypatch, framing):
    quarantine_off(monkeypatch)
    serve(server, apps, {"/py/": "upload"}, workers=1,
          location_extra="    client_max_body_size = 128m")
    [worker] = server.workers()
    assert fetch(server, "POST", "/py/", body=b"warm up").status == 200
    baseline = proc_status(worker)

    total = 100 * MiB
    digest = hashlib.sha256()
    with Client(server.port, timeout=60) as client:
        if framing == "content-length":
            client.send(request_bytes("POST", "/py/", headers=[
                ("Content-Type", "application/octet-stream"), ("Content-Length", str(total))]))
            for piece in upload_pieces(total):
                digest.update(piece)
                client.send(piece)
        else:
            client.send(request_bytes("POST", "/py/", headers=[
                ("Content-Type", "application/octet-stream"), ("Transfer-Encoding", "chunked")]))
            for wire, data in chunked_pieces(total):
                digest.update(data)
                client.send(wire)
        response = client.response()
    after = proc_status(worker)

    result = json_of(response)
    assert result["content_length"] == str(total)
    assert result["length"] == total
    assert result["sha256"] == digest.hexdigest()
    growth_peak = after["VmHWM"] - baseline["VmHWM"]
    assert growth_peak < MEMORY_GROWTH_LIMIT_KIB, \
        "worker peak RSS grew by %d KiB during a 100 MiB request body" % growth_peak


# ---- write() ----

@pytest.mark.parametrize("query, tail", [("", True), ("tail=0", False), ("length=1", True)],
                         ids=["write-then-list", "write-only", "declared-length"])
def test_write_callable(server, apps, query, tail):
    serve(server, apps, {"/py/": "write_callable"})
    response = fetch(server, "GET", "/py/?" + query)
    expected = b"".join(APP.WRITE_PIECES) + (APP.WRITE_TAIL if tail else b"")
    assert response.status == 200
    assert response.complete
    assert response.body == expected
    if "length=1" in query:
        assert response.framing == "length"
        assert response.header("content-length") == str(len(expected))
    else:
        assert response.framing == "chunked"


# ---- wsgi.file_wrapper ----

@pytest.fixture
def data_file(server):
    """A file of 3 MiB and 123 random bytes that the workers' user can read."""
    data = os.urandom(3 * MiB + 123)
    folder = os.path.join(server.dir, "files")
    os.makedirs(folder)
    os.chmod(folder, 0o755)
    path = os.path.join(folder, "data.bin")
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o644)
    return path, data


FILE_CASES = [
    ("file", "length=1"),
    ("file", ""),
    ("file", "length=1&source=bytesio"),
    ("file", "source=bytesio&block=1000"),
    ("file_validated", "length=1"),
    ("file_validated", ""),
]


@pytest.mark.parametrize("app, query", FILE_CASES,
                         ids=["%s-%s" % (a, q or "no-length") for a, q in FILE_CASES])
def test_file_wrapper_bytes(server, apps, data_file, app, query):
    path, data = data_file
    serve(server, apps, {"/py/": app}, workers=1)
    response = fetch(server, "GET", "/py/?path=%s&%s" % (path, query), timeout=30)
    assert response.status == 200
    assert response.complete
    assert response.body_length == len(data)
    assert response.body == data
    if "length=1" in query or (app == "file" and "bytesio" not in query):
        # Declared, or the rest of a regular file that goes out with sendfile.
        assert response.framing == "length"
        assert response.header("content-length") == str(len(data))
    else:
        assert response.framing in ("chunked", "close")


def test_file_wrapper_from_file_position(server, apps, data_file):
    # The wrapper reads from where the application left the file, as a
    # read() loop over the same object would.
    path, data = data_file
    serve(server, apps, {"/py/": "file"})
    response = fetch(server, "GET", "/py/?path=%s&offset=1000&length=1" % path, timeout=30)
    assert response.status == 200
    assert response.header("content-length") == str(len(data) - 1000)
    assert response.body == data[1000:]


def test_file_wrapper_declared_length_cuts(server, apps, data_file):
    path, data = data_file
    serve(server, apps, {"/py/": "file"})
    response = fetch(server, "GET", "/py/?path=%s&length=4096" % path)
    assert response.status == 200
    assert response.header("content-length") == "4096"
    assert response.complete
    assert response.body == data[:4096]


@pytest.mark.parametrize("query", ["length=1", ""], ids=["content-length", "no-length"])
def test_file_wrapper_head(server, apps, data_file, query):
    path, data = data_file
    serve(server, apps, {"/py/": "file"})
    response = fetch(server, "HEAD", "/py/?path=%s&%s" % (path, query))
    assert response.status == 200
    if query:
        assert response.header("content-length") == str(len(data))
    # fetch() read until the server closed the connection: nothing followed
    # the head, or closed() would have failed on the stray bytes.
    assert response.body == b""
    assert response.closed


def test_file_wrapper_closes_files(server, apps, data_file):
    path, data = data_file
    serve(server, apps, {"/py/": "file", "/checked/": "file_validated"}, workers=1)
    [worker] = server.workers()
    for prefix in ("/py/", "/checked/"):
        for query in ("length=1", "", "length=4096"):
            assert fetch(server, "GET", "%s?path=%s&%s" % (prefix, path, query)).status == 200
        assert fetch(server, "HEAD", "%s?path=%s&length=1" % (prefix, path)).status == 200
    assert wait_until(lambda: open_files(worker, path) == 0), \
        "the worker still has %d descriptors of %s" % (open_files(worker, path), path)


# ---- failing applications ----

def assert_error_page(response):
    """ZServer's own 500 page: no traceback and no application text."""
    assert response.status == 500
    assert response.complete
    assert b"Traceback" not in response.body
    assert b"wsgi_tests" not in response.body
    assert b"RuntimeError" not in response.body
    assert b"<h1>500 Internal Server Error</h1>" in response.body


def test_raises_before_start_response(server, apps):
    serve(server, apps, {"/py/": "raises", "/echo/": "echo"}, workers=1)
    pid_before = echo(server, "/echo/")["pid"]

    response = fetch(server, "GET", "/py/")
    assert_error_page(response)
    assert APP.RAISES_MESSAGE.encode() not in response.body

    assert wait_for_log(server, APP.RAISES_MESSAGE), server.log()[-3000:]
    log = server.log()
    assert "Traceback (most recent call last)" in log
    assert "RuntimeError: " + APP.RAISES_MESSAGE in log
    assert "raises_app" in log

    # The same worker serves the next request.
    assert echo(server, "/echo/")["pid"] == pid_before
    assert fetch(server, "GET", "/py/").status == 500
    assert echo(server, "/echo/?again=1")["environ"]["QUERY_STRING"] == "again=1"


@pytest.mark.parametrize("query, framing", [("", "chunked"), ("length=1000", "length")])
def test_raises_late_cuts_body(server, apps, query, framing):
    serve(server, apps, {"/py/": "raises_late", "/echo/": "echo"}, workers=1)
    with Client(server.port) as client:
        # Keep-alive, so only a close by the server ends the connection.
        response = client.request("GET", "/py/?" + query)
        assert response.status == 200
        assert response.framing == framing
        assert not response.complete, "the cut body ended as a complete response"
        assert response.body == APP.RAISES_LATE_PIECE
        assert client.closed()

    assert wait_for_log(server, APP.RAISES_LATE_MESSAGE), server.log()[-3000:]
    assert "Traceback (most recent call last)" in server.log()
    assert echo(server, "/echo/")["environ"]["PATH_INFO"] == "/"


def test_exc_info_replaces_status(server, apps):
    serve(server, apps, {"/py/": "exc_info"})
    response = fetch(server, "GET", "/py/")
    assert response.status == 409
    assert response.reason == "Conflict"
    assert response.all("x-attempt") == ["second"]
    assert response.header("content-type") == "text/plain"
    assert response.complete
    assert response.body == APP.EXC_INFO_BODY


def test_exc_info_after_head_cuts_body(server, apps):
    serve(server, apps, {"/py/": "exc_info"})
    with Client(server.port) as client:
        response = client.request("GET", "/py/?late=1")
        assert response.status == 200
        assert response.all("x-attempt") == ["first"]
        assert response.framing == "chunked"
        assert not response.complete
        assert response.body == APP.EXC_INFO_LATE_PIECE
        assert client.closed()
    assert wait_for_log(server, APP.EXC_INFO_MESSAGE), server.log()[-3000:]


def test_start_response_twice_without_exc_info(server, apps):
    # PEP 3333 calls a second call without exc_info a fatal error.
    serve(server, apps, {"/py/": "exc_info"})
    response = fetch(server, "GET", "/py/?twice=1")
    assert_error_page(response)
    assert b"accepted a second call" not in response.body


# ---- close() ----

def close_report(server):
    return echo(server, "/py/?report=1")


def wait_for_closes(server, count, timeout=5):
    """Poll the close() counters until `count` calls were made; return the
    last report."""
    wait_until(lambda: close_report(server)["closed"] >= count, timeout=timeout)
    return close_report(server)


def test_close_called_once_per_request(server, apps):
    serve(server, apps, {"/py/": "close_count"}, workers=1)
    assert close_report(server)["created"] == 0
    requests = 0

    for pieces in (0, 1, 3):
        response = fetch(server, "GET", "/py/?pieces=%d" % pieces)
        assert response.status == 200
        assert response.body == b"".join(b"%07d\n" % i + b"c" * 56 for i in range(pieces))
        requests += 1

    with Client(server.port) as client:
        for _ in range(3):
            assert client.request("GET", "/py/?pieces=2").status == 200
            requests += 1
        assert client.request("HEAD", "/py/?pieces=2").status == 200
        requests += 1

    report = wait_for_closes(server, requests)
    assert report["created"] == requests
    assert report["closed"] == requests
    assert report["closed_again"] == 0


@pytest.mark.parametrize("query, read_first", [
    ("pieces=2000&size=65536", True),
    ("pieces=2000&size=65536", False),
    ("pieces=40&size=100&delay=50", True),
], ids=["big-after-head", "big-at-once", "slow-after-first-piece"])
def test_close_on_client_disconnect(server, apps, query, read_first):
    serve(server, apps, {"/py/": "close_count"}, workers=1)
    assert close_report(server)["created"] == 0

    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(request_bytes("GET", "/py/?" + query, close=False))
    if read_first:
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
    sock.close()

    report = wait_for_closes(server, 1, timeout=10)
    if read_first:
        assert report["created"] == 1
        assert report["closed"] == 1, "close() was not called within 10 s"
    else:
        # The client left before the response began, so the server may
        # also drop the request without calling the application.
        assert report["created"] in (0, 1)
        assert report["closed"] == report["created"]
    assert report["closed_again"] == 0


# ---- Content-Length mismatches ----

def test_short_content_length_closes(server, apps):
    serve(server, apps, {"/py/": "short_length"})
    start = time.monotonic()
    with Client(server.port, timeout=5) as client:
        response = client.request("GET", "/py/")
        assert response.status == 200
        assert response.header("content-length") == "100"
        assert not response.complete
        assert response.body == b"only ten\r\n"
        assert client.closed(timeout=5)
    assert elapsed_since(start) < 5


def test_long_content_length_cuts_and_closes(server, apps):
    serve(server, apps, {"/py/": "long_length", "/echo/": "echo"})
    with Client(server.port, timeout=5) as client:
        # A second request is pipelined behind: it must get no response,
        # as the connection ends after the declared 5 bytes.
        client.send(request_bytes("GET", "/py/", close=False)
                    + request_bytes("GET", "/echo/", close=False))
        response = client.response()
        assert response.status == 200
        assert response.header("content-length") == "5"
        assert response.complete
        assert response.body == b"01234"
        assert client.closed(timeout=5)


# ---- the error log ----

def test_errors_stdout_stderr_in_log(server, apps):
    serve(server, apps, {"/py/": "errors"})
    tag = "tag%d" % os.getpid()
    response = fetch(server, "GET", "/py/?tag=" + tag)
    assert response.status == 200
    assert response.body == b"logged\n"

    expected = APP.error_lines(tag)
    for name, text in expected.items():
        assert wait_for_log(server, text), "%s: %r is not in the log:\n%s" % (
            name, text, server.log()[-3000:])
    log_lines = server.log().splitlines()
    for name, text in expected.items():
        found = [line for line in log_lines if text in line]
        assert len(found) == 1, "%s: %r is on %d lines" % (name, text, len(found))
        others = [t for n, t in expected.items() if n != name and t in found[0]]
        assert others == [], "%s shares its log line with %s" % (name, others)


# ---- connections ----

def test_keepalive_several_requests(server, apps):
    serve(server, apps, {"/py/": "echo"})
    with Client(server.port) as client:
        ports = set()
        for i in range(6):
            if i % 2:
                body = os.urandom(1000 * i)
                response = client.request("POST", "/py/?read=read_n&i=%d" % i, body=body)
                result = json_of(response)
                assert result["body_sha256"] == hashlib.sha256(body).hexdigest()
            else:
                result = json_of(client.request("GET", "/py/?i=%d" % i))
                assert result["body_length"] == 0
            assert result["environ"]["QUERY_STRING"].endswith("i=%d" % i)
            ports.add(result["environ"]["REMOTE_PORT"])
        assert ports == {str(client.local_port())}
        last = client.request("GET", "/py/?i=last", close=True)
        assert json_of(last)["environ"]["QUERY_STRING"] == "i=last"
        assert client.closed()


def test_pipelined_requests_in_order(server, apps):
    serve(server, apps, {"/py/": "echo", "/status/": "status"})
    with Client(server.port) as client:
        client.send(request_bytes("GET", "/py/?n=1", close=False)
                    + request_bytes("GET", "/status/?code=204", close=False)
                    + request_bytes("POST", "/py/?n=3&read=iter", body=b"a\nb\n", close=False)
                    + request_bytes("GET", "/py/?n=4", close=True))
        first = json_of(client.response())
        second = client.response()
        third = json_of(client.response())
        fourth = json_of(client.response())
        assert client.closed()
    assert first["environ"]["QUERY_STRING"] == "n=1"
    assert second.status == 204
    assert third["environ"]["QUERY_STRING"] == "n=3&read=iter"
    assert third["pieces"] == 2
    assert fourth["environ"]["QUERY_STRING"] == "n=4"


def test_http10_request(server, apps):
    serve(server, apps, {"/py/": "echo", "/stream/": "stream"})
    response = fetch(server, "GET", "/py/x", version="1.0", close=False)
    assert response.version == "HTTP/1.1"
    assert response.status == 200
    assert response.header("transfer-encoding") is None
    assert response.closed
    assert json.loads(response.body)["environ"]["SERVER_PROTOCOL"] == "HTTP/1.0"

    # A generator without Content-Length cannot be chunked for HTTP/1.0:
    # the body ends with the connection.
    digest = hashlib.sha256()
    with Client(server.port, timeout=20) as client:
        client.send(request_bytes("GET", "/stream/?mib=2", version="1.0", close=False))
        response = client.response(sink=digest.update)
        assert client.closed()
    assert response.status == 200
    assert response.header("transfer-encoding") is None
    assert response.framing == "close"
    assert response.body_length == 2 * MiB
    assert digest.hexdigest() == expected_stream(2)


def test_requests_leave_no_descriptors(server, apps):
    serve(server, apps, {"/py/": "upload"}, workers=1,
          location_extra="    client_max_body_size = 8m")
    [worker] = server.workers()
    body = os.urandom(200000)
    assert fetch(server, "POST", "/py/", body=body).status == 200
    before = len(os.listdir("/proc/%d/fd" % worker))
    for _ in range(50):
        result = json_of(fetch(server, "POST", "/py/", body=body))
        assert result["sha256"] == hashlib.sha256(body).hexdigest()
    # Request bodies over 64 KiB went through temporary files.
    assert wait_until(lambda: len(os.listdir("/proc/%d/fd" % worker)) <= before)


# ---- status and headers ----

def test_status_204_keeps_connection(server, apps):
    serve(server, apps, {"/py/": "status"})
    with Client(server.port) as client:
        response = client.request("GET", "/py/?code=204&cookies=2")
        assert response.status == 204
        assert response.reason == "No Content"
        assert response.header("content-length") is None
        assert response.header("transfer-encoding") is None
        assert response.all("set-cookie") == ["c1=v1; Path=/", "c2=v2; Path=/"]
        # Nothing was sent after the head: the next response follows at once.
        after = client.request("GET", "/py/?body=next", close=True)
        assert after.status == 200
        assert after.body == b"next"


def test_status_304_keeps_connection(server, apps):
    serve(server, apps, {"/py/": "status"})
    with Client(server.port) as client:
        response = client.request("GET", "/py/?code=304&header=ETag:%22v1%22")
        assert response.status == 304
        assert response.header("etag") == '"v1"'
        assert response.header("transfer-encoding") is None
        after = client.request("GET", "/py/?body=next", close=True)
        assert after.body == b"next"


@pytest.mark.parametrize("code, reason", [(201, "Created"), (404, "Not Found"),
                                          (500, "Internal Server Error")])
def test_status_with_app_body(server, apps, code, reason):
    # The application's own body goes out, not the server's error page.
    serve(server, apps, {"/py/": "status"})
    response = fetch(server, "GET", "/py/?code=%d&body=app+body+%d&header=X-App:yes"
                     % (code, code))
    assert response.status == code
    assert response.reason == reason
    assert response.header("x-app") == "yes"
    assert response.header("content-type") == "text/plain; charset=utf-8"
    assert response.body == b"app body %d" % code


def test_set_cookie_twice(server, apps):
    serve(server, apps, {"/py/": "status"})
    response = fetch(server, "GET", "/py/?cookies=2&length=1")
    assert response.status == 200
    assert response.all("set-cookie") == ["c1=v1; Path=/", "c2=v2; Path=/"]
    assert response.header("content-length") == str(len(b"status body\n"))
    assert response.body == b"status body\n"


@pytest.mark.parametrize("query", ["", "generator=1", "length=1&generator=1"],
                         ids=["list", "generator", "generator-with-length"])
def test_head_has_no_body(server, apps, query):
    serve(server, apps, {"/py/": "status"})
    with Client(server.port) as client:
        response = client.request("HEAD", "/py/?" + query)
        assert response.status == 200
        # wsgiref.validate hides even a list in its iterator, so only a
        # declared length can be repeated.
        if "length=1" in query:
            assert response.header("content-length") == str(len(b"status body\n"))
        if response.header("connection") == "close":
            # closed() fails on any byte of a body after the head.
            assert client.closed()
            return
        after = client.request("GET", "/py/?body=next", close=True)
        assert after.status == 200, "bytes of the HEAD response leaked into the next one"
        assert after.body == b"next"


# ---- applications that cannot be loaded ----

def test_import_error_is_500_and_logged(server, apps):
    server.write("static.txt", "static file\n")
    mounts = [
        Mount("/broken/", "import_fails", (apps,)),
        Mount("/missing/", "zs_no_such_module:application", (apps,)),
        Mount("/nocallable/", "wsgi_tests:no_such_callable", (apps,)),
        Mount("/py/", "wsgi_tests:echo", (apps,)),
    ]
    start_wsgi(server, mounts, extra_locations="  location / { }\n")

    for _ in range(4):
        for prefix in ("/broken/", "/missing/", "/nocallable/"):
            response = fetch(server, "GET", prefix + "x")
            assert_error_page(response)
            assert b"import_fails" not in response.body

    # The other locations of the same server work.
    assert echo(server, "/py/x")["environ"]["PATH_INFO"] == "/x"
    static = fetch(server, "GET", "/static.txt")
    assert static.status == 200
    assert static.body == b"static file\n"

    assert wait_for_log(server, IMPORT_FAILS_MESSAGE), server.log()[-3000:]
    log = server.log()
    lines = [line for line in log.splitlines() if "import_fails" in line]
    assert lines, log[-3000:]
    assert any(apps in line for line in lines), "no import_fails line names %s:\n%s" % (
        apps, "\n".join(lines))
    assert "zs_no_such_module" in log
    assert "No module named 'zs_no_such_module'" in log
    assert "no_such_callable" in log

