"""Helpers for the tests of the WSGI adapter (test_wsgi.py,
test_flask_wsgi.py, test_django.py).

install_apps() copies applications of t/apps to the test's folder, where
the workers' user can read them (run as root, the tests start the workers
as nobody, see conftest.pool_identity()). start_wsgi() writes a zserver
configuration with one `wsgi_app` location per Mount and starts the
server. The client part sends raw requests and reads each response with
read_response(), which reports how the response was framed (chunked, by
Content-Length or by the end of the connection) and whether it was
complete, so that tests can check the framing as well as the bytes.
"""

import collections
import os
import shutil
import socket
import subprocess
import time

import pytest

from backends import APPS_SOURCE_DIR, copy_tree_readable
from conftest import wait_until

# The interpreter whose packages (python3-django, python3-flask) the
# adapter's libpython3.11 imports. `python3` on PATH may be another Python.
DEBIAN_PYTHON = "/usr/bin/python3"

WSGI_APPS_SOURCE = os.path.join(APPS_SOURCE_DIR, "wsgi")

# One wsgi_app location. python_path is a sequence of folders, extra is
# more directives for the location block (for example client_max_body_size).
Mount = collections.namedtuple("Mount", "prefix app python_path extra", defaults=((), ""))


def require_python_module(module, package):
    """Fail the test unless Debian's Python can import module, naming the
    Debian package that provides it."""
    try:
        result = subprocess.run([DEBIAN_PYTHON, "-c", "import " + module],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    except OSError as error:
        pytest.fail("cannot run %s, which the WSGI tests need: %s (install python3)"
                    % (DEBIAN_PYTHON, error), pytrace=False)
    if result.returncode != 0:
        pytest.fail("%s cannot import %s: install the Debian package %s (./setup --test)\n%s"
                    % (DEBIAN_PYTHON, module, package, result.stdout.decode(errors="replace")),
                    pytrace=False)


def install_apps(server, source=WSGI_APPS_SOURCE, name="wsgi"):
    """Copy the folder source to <server.dir>/<name>, readable by every user,
    and return the copy's path, which is the python_path of its modules."""
    target = os.path.join(server.dir, name)
    copy_tree_readable(source, target)
    return target


def install_file(server, name, source):
    """Copy the file source to the folder <server.dir>/<name>, readable by
    every user, and return the folder."""
    folder = os.path.join(server.dir, name)
    os.makedirs(folder, exist_ok=True)
    os.chmod(folder, 0o755)
    target = os.path.join(folder, os.path.basename(source))
    shutil.copyfile(source, target)
    os.chmod(target, 0o644)
    return folder


def quote_conf(text):
    if '"' in text or "\n" in text:
        raise ValueError("cannot quote %r for the configuration" % text)
    return '"%s"' % text


def wsgi_location(mount):
    """Return the location block of one Mount."""
    lines = ["  location %s {" % mount.prefix,
             "    wsgi_app = %s" % quote_conf(mount.app)]
    if mount.python_path:
        lines.append("    python_path = { %s }" % ", ".join(quote_conf(p) for p in mount.python_path))
    if mount.extra:
        lines.append(mount.extra)
    lines.append("  }")
    return "\n".join(lines) + "\n"


def start_wsgi(server, mounts, workers=2, globals_="", server_extra="", extra_locations=""):
    """Configure the server with a location per Mount (and extra_locations,
    written first), start it and wait until all its workers run."""
    locations = extra_locations + "".join(wsgi_location(m) for m in mounts)
    server.config(workers=workers, globals_=globals_, server_extra=server_extra,
                  locations=locations)
    server.start()
    assert wait_until(lambda: len(server.workers()) == workers), \
        "expected %d workers, found %s:\n%s" % (workers, server.workers(), server.log()[-3000:])
    return server


# ---- client ----

class Response:
    """One response as read from the connection.

    headers is the list of (lowercase name, value) pairs in order. framing
    is "chunked", "length", "close" (the body ends with the connection) or
    "none" (HEAD, 1xx, 204 and 304 responses). complete is False when the
    connection ended before the end that the framing announces: fewer
    bytes than Content-Length, or a chunked body without its last chunk.
    """

    def __init__(self, version, status, reason, headers):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = b""
        self.body_length = 0
        self.framing = None
        self.complete = False

    def header(self, name):
        """Return the values of every header called name, joined with ", ", or None."""
        values = self.all(name)
        return ", ".join(values) if values else None

    def all(self, name):
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    def __repr__(self):
        return "<Response %d %s framing=%s complete=%s %r>" % (
            self.status, self.reason, self.framing, self.complete, self.body[:200])


class ResponseHeadMissing(AssertionError):
    """The connection ended before a complete response head."""


def read_head(stream):
    """Read a status line and headers. Interim 1xx responses are skipped."""
    while True:
        line = stream.readline()
        if not line:
            raise ResponseHeadMissing("the connection ended before a response")
        if not line.endswith(b"\r\n"):
            raise ResponseHeadMissing("incomplete status line %r" % line)
        version, _, rest = line[:-2].decode("latin-1").partition(" ")
        code, _, reason = rest.partition(" ")
        headers = []
        while True:
            line = stream.readline()
            if not line.endswith(b"\r\n"):
                raise ResponseHeadMissing("incomplete header line %r" % line)
            if line == b"\r\n":
                break
            name, sep, value = line[:-2].decode("latin-1").partition(":")
            assert sep, "header line without a colon: %r" % line
            headers.append((name.lower(), value.strip()))
        if not 100 <= int(code) < 200:
            return Response(version, int(code), reason, headers)


def read_response(stream, method="GET", sink=None):
    """Read one response from a SocketReader.

    sink, when given, gets each piece of the body instead of Response.body,
    so that large bodies need not be kept. socket.timeout propagates when
    the server stays silent.
    """
    response = read_head(stream)

    def deliver(data):
        response.body_length += len(data)
        if sink is not None:
            sink(data)
        else:
            response.body += data

    try:
        read_body(stream, method, response, deliver)
    except ConnectionResetError:
        response.complete = False
    return response


def read_body(stream, method, response, deliver):
    """Read the body that the head of response announces."""
    encoding = (response.header("transfer-encoding") or "").lower()
    length = response.header("content-length")
    if method == "HEAD" or response.status in (204, 304):
        response.framing = "none"
        response.complete = True
    elif encoding:
        assert encoding == "chunked", "unexpected Transfer-Encoding %r" % encoding
        response.framing = "chunked"
        response.complete = read_chunked(stream, deliver)
    elif length is not None:
        response.framing = "length"
        response.complete = read_exact(stream, int(length), deliver)
    else:
        response.framing = "close"
        while True:
            data = stream.read1(1 << 20)
            if not data:
                break
            deliver(data)
        response.complete = True


def read_exact(stream, length, deliver):
    """Read length bytes; return False when the connection ends first."""
    while length > 0:
        data = stream.read1(min(length, 1 << 20))
        if not data:
            return False
        deliver(data)
        length -= len(data)
    return True


def read_chunked(stream, deliver):
    """Read a chunked body and its trailers; return False when the
    connection ends before the last chunk and the blank line after it."""
    while True:
        line = stream.readline()
        if not line.endswith(b"\r\n"):
            return False
        size = int(line[:-2].split(b";")[0], 16)
        if size == 0:
            break
        if not read_exact(stream, size, deliver):
            return False
        if stream.read(2) != b"\r\n":
            return False
    while True:
        line = stream.readline()
        if not line.endswith(b"\r\n"):
            return False
        if line == b"\r\n":
            return True


def request_bytes(method, target, headers=(), body=b"", version="1.1", host="localhost",
                  close=True):
    """Return a request head (and body) as bytes. headers is a sequence of
    (name, value) pairs; a Content-Length for body is added unless headers
    names Content-Length or Transfer-Encoding. The target (str or bytes) is
    sent unchanged."""
    if isinstance(target, str):
        target = target.encode("latin-1")
    lines = [b"%s %s HTTP/%s" % (method.encode(), target, version.encode())]
    if host is not None:
        lines.append(b"Host: " + host.encode())
    names = {name.lower() for name, _ in headers}
    for name, value in headers:
        lines.append(("%s: %s" % (name, value)).encode("latin-1"))
    if body and not names & {"content-length", "transfer-encoding"}:
        lines.append(b"Content-Length: %d" % len(body))
    if close:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class SocketReader:
    """A buffered reader of a socket with the methods that read_response()
    uses. Unlike socket.makefile(), it stays usable after a timeout."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = bytearray()

    def fill(self):
        """Receive more bytes; return False at the end of the connection."""
        try:
            data = self.sock.recv(1 << 18)
        except ConnectionResetError:
            data = b""
        self.buffer += data
        return bool(data)

    def take(self, length):
        data = bytes(self.buffer[:length])
        del self.buffer[:length]
        return data

    def readline(self):
        while b"\n" not in self.buffer:
            if not self.fill():
                return self.take(len(self.buffer))
        return self.take(self.buffer.index(b"\n") + 1)

    def read(self, length):
        while len(self.buffer) < length:
            if not self.fill():
                break
        return self.take(length)

    def read1(self, length):
        if not self.buffer:
            self.fill()
        return self.take(min(length, len(self.buffer)))


class Client:
    """One connection to the server, used for one or more requests."""

    def __init__(self, port, timeout=10):
        self.timeout = timeout
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.stream = SocketReader(self.sock)

    def send(self, data):
        self.sock.sendall(data)

    def response(self, method="GET", sink=None):
        return read_response(self.stream, method, sink)

    def request(self, method, target, **options):
        """Send one request (options as request_bytes, but the connection
        stays open unless close=True) and read its response."""
        options.setdefault("close", False)
        self.send(request_bytes(method, target, **options))
        return self.response(method)

    def closed(self, timeout=3):
        """Return True when the server closes the connection within timeout
        seconds without sending anything more, False when it keeps the
        connection open. Fail when it sends more bytes."""
        assert not self.stream.buffer, \
            "unexpected bytes after the response: %r" % bytes(self.stream.buffer[:200])
        self.sock.settimeout(timeout)
        try:
            more = self.stream.fill()
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(self.timeout)
        assert not more, "unexpected bytes after the response: %r" % bytes(self.stream.buffer[:200])
        return True

    def local_port(self):
        return self.sock.getsockname()[1]

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def fetch(server, method, target, **options):
    """Send one request on a new connection with "Connection: close" and
    return the Response, whose attribute `closed` is True when the server closed the
    connection after it."""
    timeout = options.pop("timeout", 10)
    options.setdefault("close", True)
    with Client(server.port, timeout=timeout) as client:
        client.send(request_bytes(method, target, **options))
        response = client.response(method)
        response.closed = client.closed()
    return response


# ---- processes ----

def proc_status(pid):
    """Return the fields of /proc/PID/status that end in kB, as ints in KiB."""
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            name, _, value = line.partition(":")
            parts = value.split()
            if len(parts) == 2 and parts[1] == "kB":
                fields[name] = int(parts[0])
    return fields


def open_files(pid, path):
    """Count the descriptors of process pid that refer to path."""
    count = 0
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(os.path.join(fd_dir, fd)) == path:
                count += 1
        except OSError:
            pass
    return count


VALIDATOR_COMPLAINTS = ("Iterator garbage collected without being closed", "WSGIWarning")


def validator_complaints(log):
    """Return the lines of the log in which wsgiref.validate reports a
    broken rule: an iterator dropped without close() or a warning about
    the environ."""
    return [line for line in log.splitlines()
            if any(marker in line for marker in VALIDATOR_COMPLAINTS)]


def wait_for_log(server, text, timeout=5):
    """Wait until the server's logs contain text; return whether they do."""
    return wait_until(lambda: text in server.log(), timeout=timeout)


def elapsed_since(start):
    return time.monotonic() - start


# ---- request bodies ----

def multipart_body(fields=(), files=(), boundary="zs-wsgi-boundary-7MA4YWxk"):
    """Return a multipart/form-data body (RFC 7578) and its Content-Type. fields is
    a sequence of (name, str value), files of (name, file name, bytes)."""
    parts = []
    for name, value in fields:
        parts.append(b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
                     % (boundary.encode(), name.encode(), value.encode("utf-8")))
    for name, filename, data in files:
        parts.append(b'--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
                     b"Content-Type: application/octet-stream\r\n\r\n%s\r\n"
                     % (boundary.encode(), name.encode(), filename.encode(), data))
    body = b"".join(parts) + b"--%s--\r\n" % boundary.encode()
    return body, "multipart/form-data; boundary=" + boundary


def chunked(body, size=65536):
    """Encode body in the chunked transfer coding, in chunks of size bytes."""
    out = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
           for i in range(0, len(body), size)]
    return b"".join(out) + b"0\r\n\r\n"
