"""WSGI applications (PEP 3333) that the integration tests serve through
ZServer's WSGI adapter (t/integration/test_wsgi.py).

Each callable below is one small application, and a test mounts the ones it
needs, for example `wsgi_app = "wsgi_tests:echo"`. Query parameters choose
what an application does, as each docstring lists. JSON bodies are
json.dumps(..., sort_keys=True) plus a newline, so a test can predict every
byte.

Most callables are wrapped in wsgiref.validate.validator. The validator
raises AssertionError inside the application, so the request fails with a
500, when the server breaks a rule of PEP 3333 (a wrong environ type, a
missing key, read() with no size, an iterator used after close()). It
writes "Iterator garbage collected without being closed" to sys.stderr
when the server drops a response iterator without calling close(). The
callables that are not wrapped say why.

Only the standard library is used, so the module imports under any
Python 3 that ZServer embeds.
"""

import hashlib
import http
import io
import json
import os
import sys
import time
from urllib.parse import parse_qs
from wsgiref.validate import validator

# Bounds on query parameters, so that a typo in a test cannot make a worker
# allocate or send without limit.
MAX_STREAM_MIB = 1024
MAX_PIECE_SIZE = 1 << 20
MAX_PIECES = 100000
MAX_DELAY_MS = 1000

# The pattern that `stream` sends: piece k (from 0) is k as 8 big-endian
# bytes followed by bytes 8 to piece_size of STREAM_BASE. A test computes
# the same bytes, so lost, repeated or reordered pieces change the SHA-256.
STREAM_BASE = bytes(range(256)) * (MAX_PIECE_SIZE // 256)


class QueryError(ValueError):
    """A query parameter is missing, not a number or out of range."""


def query_params(environ):
    return parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)


def query_int(params, name, default, minimum, maximum):
    """Return the query parameter `name` as an int from minimum to maximum."""
    values = params.get(name)
    if not values:
        return default
    try:
        number = int(values[0])
    except ValueError:
        raise QueryError("%s must be an integer, got %r" % (name, values[0])) from None
    if not minimum <= number <= maximum:
        raise QueryError("%s must be from %d to %d, got %d" % (name, minimum, maximum, number))
    return number


def query_str(params, name, default=None):
    values = params.get(name)
    return values[0] if values else default


def query_flag(params, name):
    return query_str(params, name, "0") not in ("", "0")


def json_body(value):
    return (json.dumps(value, sort_keys=True) + "\n").encode("utf-8")


def bad_request(start_response, error):
    body = ("invalid query: %s\n" % error).encode("utf-8")
    start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8"),
                                       ("Content-Length", str(len(body)))])
    return [body]


def status_line(code):
    return "%d %s" % (code, http.HTTPStatus(code).phrase)


# ---- echo ----

READ_STYLES = ("read", "read_n", "readline", "readlines", "iter", "none")


def read_body(stream, style, size):
    """Read the request body with one of READ_STYLES and return the pieces
    in the order the stream returned them."""
    if style == "read":
        return [stream.read()]
    if style == "read_n":
        pieces = []
        while True:
            piece = stream.read(size)
            if not piece:
                return pieces
            pieces.append(piece)
    if style == "readline":
        pieces = []
        while True:
            line = stream.readline()
            if not line:
                return pieces
            pieces.append(line)
    if style == "readlines":
        return stream.readlines()
    if style == "iter":
        return list(stream)
    return []


def wsgi_values(environ):
    """The wsgi.* entries of environ as JSON values."""
    return {
        "version": list(environ["wsgi.version"]),
        "url_scheme": environ["wsgi.url_scheme"],
        "multithread": environ["wsgi.multithread"],
        "multiprocess": environ["wsgi.multiprocess"],
        "run_once": environ["wsgi.run_once"],
        "input_terminated": environ.get("wsgi.input_terminated"),
        "file_wrapper": callable(environ.get("wsgi.file_wrapper")),
        "errors_write": callable(getattr(environ["wsgi.errors"], "write", None)),
    }


def echo_app(environ, start_response):
    """Respond with JSON that describes the request.

    ?read= picks how wsgi.input is read: read (read() with no size), read_n
    (read(size) until b"", size from ?size=, default 4096), readline,
    readlines, iter (iteration) or none (the default).

    The JSON has these members. "environ" contains every entry whose value
    is a str: the CGI variables and HTTP_*. "wsgi" is wsgi_values().
    "body_length" and "body_sha256" describe the body that was read.
    "pieces" counts the pieces that the read style returned, and
    "max_piece" is the longest. "after_eof" lists the lengths that read(1)
    and readline() return after the body, both 0 when the server stops at
    CONTENT_LENGTH. "pid" is the worker's process id, "read" the style.

    The response has no Content-Length: its body is a list of one item.
    """
    params = query_params(environ)
    style = query_str(params, "read", "none")
    if style not in READ_STYLES:
        return bad_request(start_response, "read must be one of %s" % ", ".join(READ_STYLES))
    try:
        size = query_int(params, "size", 4096, 1, MAX_PIECE_SIZE)
    except QueryError as error:
        return bad_request(start_response, error)

    stream = environ["wsgi.input"]
    pieces = read_body(stream, style, size)
    body = b"".join(pieces)
    after_eof = [len(stream.read(1)), len(stream.readline())] if style != "none" else None
    result = {
        "environ": {key: value for key, value in environ.items() if isinstance(value, str)},
        "wsgi": wsgi_values(environ),
        "read": style,
        "body_length": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "pieces": len(pieces),
        "max_piece": max((len(piece) for piece in pieces), default=0),
        "after_eof": after_eof,
        "pid": os.getpid(),
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json_body(result)]


echo = validator(echo_app)
# wsgiref.validate allows read() only with a size, as PEP 3333 lists it.
# A server that sets wsgi.input_terminated promises that read() with no
# size stops at the end of the body, and plain applications rely on that,
# so ?read=read is tried through this unwrapped callable.
echo_unvalidated = echo_app


# ---- stream and upload ----

def stream_piece(index, size):
    return index.to_bytes(8, "big") + STREAM_BASE[8:size]


def stream_app(environ, start_response):
    """Send ?mib=N MiB (0 to 1024, default 1) of the STREAM_BASE pattern as
    pieces of ?piece= bytes (8 to 1 MiB, a divisor of 1 MiB, default 64 KiB)
    from a generator. ?length=1 declares the Content-Length."""
    params = query_params(environ)
    try:
        mib = query_int(params, "mib", 1, 0, MAX_STREAM_MIB)
        piece_size = query_int(params, "piece", 65536, 8, MAX_PIECE_SIZE)
    except QueryError as error:
        return bad_request(start_response, error)
    if (1 << 20) % piece_size:
        return bad_request(start_response, "piece must divide 1048576, got %d" % piece_size)

    total = mib << 20
    headers = [("Content-Type", "application/octet-stream")]
    if query_flag(params, "length"):
        headers.append(("Content-Length", str(total)))
    start_response("200 OK", headers)

    def pieces():
        for index in range(total // piece_size):
            yield stream_piece(index, piece_size)

    return pieces()


stream = validator(stream_app)


def upload_app(environ, start_response):
    """Read wsgi.input with read(?size=, default 65536) until b"" and
    respond with JSON: "length", "sha256", "pieces" and the
    "content_length" that environ gave (null when absent)."""
    params = query_params(environ)
    try:
        size = query_int(params, "size", 65536, 1, MAX_PIECE_SIZE)
    except QueryError as error:
        return bad_request(start_response, error)

    digest = hashlib.sha256()
    length = 0
    count = 0
    stream = environ["wsgi.input"]
    while True:
        piece = stream.read(size)
        if not piece:
            break
        digest.update(piece)
        length += len(piece)
        count += 1
    result = {
        "length": length,
        "sha256": digest.hexdigest(),
        "pieces": count,
        "content_length": environ.get("CONTENT_LENGTH"),
    }
    body = json_body(result)
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


upload = validator(upload_app)


# ---- write() ----

WRITE_PIECES = (b"first line from write()\n", b"second line from write()\n")
WRITE_TAIL = b"third line from the iterable\n"


def write_callable_app(environ, start_response):
    """Send WRITE_PIECES through the write() callable that start_response
    returns, then return a list with WRITE_TAIL, or an empty list with
    ?tail=0. ?length=1 declares the Content-Length of everything."""
    params = query_params(environ)
    tail = [WRITE_TAIL] if query_str(params, "tail", "1") != "0" else []
    headers = [("Content-Type", "text/plain")]
    if query_flag(params, "length"):
        total = sum(len(piece) for piece in WRITE_PIECES) + sum(len(piece) for piece in tail)
        headers.append(("Content-Length", str(total)))
    write = start_response("200 OK", headers)
    for piece in WRITE_PIECES:
        write(piece)
    return tail


write_callable = validator(write_callable_app)


# ---- wsgi.file_wrapper ----

def file_app(environ, start_response):
    """Send the file ?path= (absolute) through environ["wsgi.file_wrapper"].

    ?length=1 declares a Content-Length of the bytes from the start offset
    to the end of the file, ?length=N (N > 1) declares N. ?offset=N seeks
    to N first, and the response starts there because the wrapper reads
    from the file's current position. ?block=N is the block size given to
    the wrapper. ?source=bytesio wraps an io.BytesIO copy of the file,
    which has no fileno(), so the server must iterate the wrapper.
    """
    params = query_params(environ)
    path = query_str(params, "path")
    if not path or not os.path.isabs(path):
        return bad_request(start_response, "path must be an absolute file name")
    try:
        offset = query_int(params, "offset", 0, 0, 1 << 40)
        length = query_int(params, "length", 0, 0, 1 << 40)
        block = query_int(params, "block", 8192, 1, MAX_PIECE_SIZE)
    except QueryError as error:
        return bad_request(start_response, error)

    source = open(path, "rb")
    if query_str(params, "source") == "bytesio":
        with source:
            source = io.BytesIO(source.read())
    source.seek(offset)
    headers = [("Content-Type", "application/octet-stream")]
    if length == 1:
        size = os.path.getsize(path)
        headers.append(("Content-Length", str(max(size - offset, 0))))
    elif length > 1:
        headers.append(("Content-Length", str(length)))
    start_response("200 OK", headers)
    return environ["wsgi.file_wrapper"](source, block)


# Not wrapped: the validator would hide the wrapper object inside its own
# iterator, and the server could not recognise it and use sendfile.
file = file_app
# The same application behind the validator: the server gets a plain
# iterator and sends what it yields.
file_validated = validator(file_app)


# ---- failures ----

RAISES_MESSAGE = "wsgi_tests.raises: failed before start_response"
RAISES_LATE_MESSAGE = "wsgi_tests.raises_late: failed after the first piece"
RAISES_LATE_PIECE = b"partial body before the error\n"


def raises_app(environ, start_response):
    """Raise RuntimeError(RAISES_MESSAGE) before start_response."""
    raise RuntimeError(RAISES_MESSAGE)


raises = validator(raises_app)


def raises_late_app(environ, start_response):
    """Yield RAISES_LATE_PIECE, then raise RuntimeError(RAISES_LATE_MESSAGE).
    ?length=N declares a Content-Length of N."""
    params = query_params(environ)
    try:
        length = query_int(params, "length", 0, 0, 1 << 30)
    except QueryError as error:
        return bad_request(start_response, error)
    headers = [("Content-Type", "text/plain")]
    if length:
        headers.append(("Content-Length", str(length)))
    start_response("200 OK", headers)

    def pieces():
        yield RAISES_LATE_PIECE
        raise RuntimeError(RAISES_LATE_MESSAGE)

    return pieces()


raises_late = validator(raises_late_app)

EXC_INFO_MESSAGE = "wsgi_tests.exc_info: the first status is replaced"
EXC_INFO_BODY = b"second status\n"
EXC_INFO_LATE_PIECE = b"first piece, sent before the error\n"


def exc_info_app(environ, start_response):
    """Call start_response with 200 and "X-Attempt: first", then again with
    409, "X-Attempt: second" and the exc_info of a caught ValueError,
    before any body. PEP 3333 lets the second call replace the first, so
    the client gets 409 and EXC_INFO_BODY.

    ?late=1 yields EXC_INFO_LATE_PIECE first. The second call then comes
    after the head was sent, and start_response must raise the ValueError
    again, so the response is cut.

    ?twice=1 calls start_response a second time without exc_info, which
    PEP 3333 calls a fatal error: the server must raise.
    """
    params = query_params(environ)
    first_headers = [("Content-Type", "text/plain"), ("X-Attempt", "first")]
    second_headers = [("Content-Type", "text/plain"), ("X-Attempt", "second")]

    if query_flag(params, "twice"):
        start_response("200 OK", first_headers)
        start_response(status_line(409), second_headers)
        return [b"start_response accepted a second call without exc_info\n"]

    if not query_flag(params, "late"):
        start_response("200 OK", first_headers)
        try:
            raise ValueError(EXC_INFO_MESSAGE)
        except ValueError:
            start_response(status_line(409), second_headers, sys.exc_info())
        return [EXC_INFO_BODY]

    start_response("200 OK", first_headers)

    def pieces():
        yield EXC_INFO_LATE_PIECE
        try:
            raise ValueError(EXC_INFO_MESSAGE)
        except ValueError:
            start_response(status_line(409), second_headers, sys.exc_info())
        yield b"start_response did not raise after the head was sent\n"

    return pieces()


exc_info = validator(exc_info_app)


# ---- close() ----

# Counters of this process: CountedBody objects made and close() calls.
# A test that reads them runs the server with one worker, so every request
# reaches the same process.
close_counts = {"created": 0, "closed": 0, "closed_again": 0}


class CountedBody:
    """A response iterable that counts its close() calls in close_counts."""

    def __init__(self, pieces, size, delay):
        self.pieces = pieces
        self.size = size
        self.delay = delay
        self.closed = False
        close_counts["created"] += 1

    def __iter__(self):
        for index in range(self.pieces):
            if self.delay and index:
                time.sleep(self.delay)
            yield b"%07d\n" % index + b"c" * (self.size - 8)

    def close(self):
        if self.closed:
            close_counts["closed_again"] += 1
        self.closed = True
        close_counts["closed"] += 1


def close_count_app(environ, start_response):
    """Return a CountedBody of ?pieces= pieces (default 1) of ?size= bytes
    (8 to 1 MiB, default 64), ?delay= milliseconds apart (default 0).

    ?report=1 returns close_counts and the pid as JSON instead and makes no
    CountedBody, so reading the counters does not change them.
    """
    params = query_params(environ)
    if query_flag(params, "report"):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json_body(dict(close_counts, pid=os.getpid()))]
    try:
        pieces = query_int(params, "pieces", 1, 0, MAX_PIECES)
        size = query_int(params, "size", 64, 8, MAX_PIECE_SIZE)
        delay = query_int(params, "delay", 0, 0, MAX_DELAY_MS)
    except QueryError as error:
        return bad_request(start_response, error)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return CountedBody(pieces, size, delay / 1000)


close_count = validator(close_count_app)


# ---- Content-Length mismatches ----

def short_length_app(environ, start_response):
    """Declare Content-Length: 100 and send 10 bytes."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "100")])
    return [b"only ten\r\n"]


short_length = validator(short_length_app)


def long_length_app(environ, start_response):
    """Declare Content-Length: 5 and send 20 bytes in two pieces."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return iter([b"0123456789", b"abcdefghij"])


long_length = validator(long_length_app)


# ---- wsgi.errors, stdout and stderr ----

def error_lines(tag):
    """The lines that errors_app writes for one request, by destination."""
    prefix = "wsgi_tests.errors %s:" % tag
    return {
        "errors_write": prefix + " line from wsgi.errors.write",
        "errors_writelines_1": prefix + " first line from wsgi.errors.writelines",
        "errors_writelines_2": prefix + " second line from wsgi.errors.writelines",
        "errors_two_1": prefix + " first of two lines in one write",
        "errors_two_2": prefix + " second of two lines in one write",
        "stdout": prefix + " line printed to sys.stdout",
        "stderr": prefix + " line printed to sys.stderr",
    }


def errors_app(environ, start_response):
    """Write the error_lines() of ?tag= (default "none") to wsgi.errors,
    sys.stdout and sys.stderr, and respond with "logged\\n"."""
    tag = query_str(query_params(environ), "tag", "none")
    lines = error_lines(tag)
    errors = environ["wsgi.errors"]
    errors.write(lines["errors_write"] + "\n")
    errors.writelines([lines["errors_writelines_1"] + "\n", lines["errors_writelines_2"] + "\n"])
    errors.write(lines["errors_two_1"] + "\n" + lines["errors_two_2"] + "\n")
    errors.flush()
    print(lines["stdout"])
    print(lines["stderr"], file=sys.stderr)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "7")])
    return [b"logged\n"]


errors = validator(errors_app)


# ---- status and headers ----

def status_app(environ, start_response):
    """Respond with ?code= (200 to 599, default 200) and its standard
    reason phrase.

    ?cookies=N adds N headers "Set-Cookie: cN=vN; Path=/". ?header=Name:Value
    (repeatable) adds a header. ?body= is the body (default "status body\\n",
    none for 204 and 304). 204 and 304 get no Content-Type either, because
    wsgiref.validate rejects one there.
    ?length=1 declares the Content-Length. ?generator=1 returns the body
    from a generator instead of a list of one item.
    """
    params = query_params(environ)
    try:
        code = query_int(params, "code", 200, 200, 599)
        cookies = query_int(params, "cookies", 0, 0, 20)
    except QueryError as error:
        return bad_request(start_response, error)

    no_body = code in (204, 304)
    body = b"" if no_body else query_str(params, "body", "status body\n").encode("utf-8")
    headers = [] if no_body else [("Content-Type", "text/plain; charset=utf-8")]
    for number in range(1, cookies + 1):
        headers.append(("Set-Cookie", "c%d=v%d; Path=/" % (number, number)))
    for item in params.get("header", []):
        name, sep, value = item.partition(":")
        if not sep:
            return bad_request(start_response, "header must be Name:Value, got %r" % item)
        headers.append((name, value.strip()))
    if query_flag(params, "length") and not no_body:
        headers.append(("Content-Length", str(len(body))))
    start_response(status_line(code), headers)

    if query_flag(params, "generator"):
        def pieces():
            if body:
                yield body
        return pieces()
    return [body] if body else []


status = validator(status_app)
