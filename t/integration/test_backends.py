"""Tests of the application backends in backends.py, without zserver.

PHP-FPM, uWSGI with Flask (over FastCGI and SCGI) and the FastCGI programs of
t/apps are started for real and receive requests from the FastCGI and SCGI
clients of backends.py. The CGI scripts of t/apps/cgi run as a server runs
them. The adapter tests build on these backends, so the expected bytes here
are what zserver must pass on."""

import contextlib
import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import free_port
from backends import (APPS_BUILD_DIR, APPS_SOURCE_DIR, FCGI_END_REQUEST, FCGI_STDERR,
                      FCGI_STDOUT, PHP_FPM, UWSGI, BackendError, FcgiApp, PhpFpm, Uwsgi, fcgi_exchange,
                      fcgi_request, request_params, scgi_request)

CGI_DIR = os.path.join(APPS_SOURCE_DIR, "cgi")
PHP_CGI = "/usr/bin/php-cgi8.2"
GIT_HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

UWSGI_PYTHON3_PLUGIN = "/usr/lib/uwsgi/plugins/python3_plugin.so"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def edge_pattern(length):
    """The body of fcgi_edge's big=N: the byte at offset i is i % 251."""
    period = bytes(range(251))
    return (period * (length // 251 + 1))[:length]


@contextlib.contextmanager
def backend_folder():
    """A fresh folder that the workers' user can traverse, removed afterwards."""
    path = tempfile.mkdtemp(prefix="zs-backends-")
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def backend_dir():
    with backend_folder() as path:
        yield path


# PHP-FPM and uWSGI are started once per module: each start costs about a
# second (uWSGI needs one to stop), and their tests do not change them.
def skip_without_php_fpm():
    if not os.access(PHP_FPM, os.X_OK):
        pytest.skip("needs Debian's php8.2-fpm (./setup --test installs it)")


@pytest.fixture(scope="module")
def php_fpm():
    skip_without_php_fpm()
    with backend_folder() as path, PhpFpm(path) as php:
        yield php


def start_uwsgi(mode):
    if not os.access(UWSGI, os.X_OK) or not os.path.exists(UWSGI_PYTHON3_PLUGIN):
        pytest.skip("needs Debian's uwsgi-core, uwsgi-plugin-python3 and python3-flask"
                    " (./setup --test installs them)")
    with backend_folder() as path, Uwsgi(path, mode) as uwsgi:
        yield uwsgi


@pytest.fixture(scope="module")
def uwsgi_fastcgi():
    yield from start_uwsgi("fastcgi")


@pytest.fixture(scope="module")
def uwsgi_scgi():
    yield from start_uwsgi("scgi")


@pytest.fixture
def start_backend():
    """Start backends for one test and stop them all at its end. A sanitizer
    report in a backend's log (t/apps programs of a sanitizer build) fails
    the test."""
    started = []

    def start(backend):
        started.append(backend)
        return backend.start()

    yield start
    for backend in started:
        backend.stop()
    for backend in started:
        log = backend.log()
        for marker in SANITIZER_MARKERS:
            assert marker not in log, "sanitizer report in %s's log:\n%s" % (backend.name, log[-4000:])


# ---- t/apps FastCGI programs ----

def test_fcgi_hello_exact_response(backend_dir, start_backend):
    app = start_backend(FcgiApp(backend_dir, "fcgi_hello"))

    stdout, stderr, status = fcgi_request(app.socket, request_params())

    assert stdout == b"Content-Type: text/plain\r\nContent-Length: 14\r\n\r\nHello, world!\n"
    assert stderr == b""
    assert status == 0


def test_fcgi_hello_serves_many_requests(backend_dir, start_backend):
    app = start_backend(FcgiApp(backend_dir, "fcgi_hello"))

    for _ in range(50):
        stdout, _, _ = fcgi_request(app.socket, request_params())
        assert stdout.endswith(b"\r\n\r\nHello, world!\n")


def test_fcgi_hello_on_loopback_port(backend_dir, start_backend):
    app = start_backend(FcgiApp(backend_dir, "fcgi_hello", address=("127.0.0.1", free_port())))

    stdout, _, _ = fcgi_request(app.socket, request_params())

    assert stdout.endswith(b"Hello, world!\n")


def echo_body(params, body):
    lines = sorted("%s=%s" % (name, value) for name, value in params.items())
    text = "".join(line + "\n" for line in lines)
    return text.encode() + b"BODY %d %s\n" % (len(body), sha256(body).encode())


def test_fcgi_echo_params_and_body(backend_dir, start_backend):
    app = start_backend(FcgiApp(backend_dir, "fcgi_echo"))
    # 200 KiB: several FCGI_STDIN records of at most 65535 bytes.
    body = bytes(range(256)) * 800
    params = request_params(method="POST", path="/echo", body=body,
                            content_type="application/octet-stream",
                            headers=[("X-Long", "v" * 300)])

    stdout, stderr, status = fcgi_request(app.socket, params, body)

    expected_body = echo_body(dict(params, FCGI_ROLE="RESPONDER"), body)
    assert stdout == (b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(expected_body)
                      + expected_body)
    assert stderr == b""
    assert status == 0


def test_fcgi_echo_status_and_cookies(backend_dir, start_backend):
    app = start_backend(FcgiApp(backend_dir, "fcgi_echo"))
    params = request_params(query="status=404&cookies=3")

    stdout, _, _ = fcgi_request(app.socket, params)

    head, _, body = stdout.partition(b"\r\n\r\n")
    assert head == (b"Status: 404 Not Found\r\n"
                    b"Content-Type: text/plain\r\n"
                    b"Set-Cookie: echo1=1; Path=/\r\n"
                    b"Set-Cookie: echo2=2; Path=/\r\n"
                    b"Set-Cookie: echo3=3; Path=/\r\n"
                    b"Content-Length: %d" % len(body))
    assert body == echo_body(dict(params, FCGI_ROLE="RESPONDER"), b"")


def test_fcgi_echo_rejects_invalid_status(backend_dir, start_backend):
    app = start_backend(FcgiApp(backend_dir, "fcgi_echo"))

    stdout, _, _ = fcgi_request(app.socket, request_params(query="status=abc"))

    message = b"status must be a number from 100 to 999\n"
    assert stdout == (b"Status: 400 Bad Request\r\nContent-Type: text/plain\r\n"
                      b"Content-Length: %d\r\n\r\n%s" % (len(message), message))


def edge(app, query, **kwargs):
    return fcgi_exchange(app.socket, request_params(query=query), **kwargs)


def test_fcgi_edge_default_response(backend_dir, start_backend):
    app = start_backend(FcgiApp(backend_dir, "fcgi_edge"))

    response = edge(app, "")

    assert response.complete
    assert response.stdout == b"Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nedge\n"


def test_fcgi_edge_split_head(backend_dir, start_backend):
    app = start_backend(FcgiApp(backend_dir, "fcgi_edge"))
    head = b"Content-Type: text/plain\r\nContent-Length: 5\r\n\r\n"

    response = edge(app, "split")

    assert response.stdout == head + b"edge\n"
    # One record per head byte, one for the body, one empty to end the stream.
    assert response.count(FCGI_STDOUT) == len(head) + 2
    assert all(len(content) == 1 for kind, content in response.records[:len(head)])


def test_fcgi_edge_stderr_records(backend_dir, start_backend):
    app = start_backend(FcgiApp(backend_dir, "fcgi_edge"))

    response = edge(app, "stderr=4")

    lines = response.stderr.split(b"\n")[:-1]
    assert len(response.stderr) == 4 * 1024
    assert [len(line) for line in lines] == [1023] * 4
    assert lines[0].startswith(b"fcgi_edge stderr line 1 ")
    assert response.count(FCGI_STDERR) >= 4
    first_stdout = [kind for kind, _ in response.records].index(FCGI_STDOUT)
    assert all(kind == FCGI_STDERR for kind, _ in response.records[:first_stdout])
    assert response.stdout.endswith(b"\r\n\r\nedge\n")


def test_fcgi_edge_slow(backend_dir, start_backend):
    app = start_backend(FcgiApp(backend_dir, "fcgi_edge"))

    started = time.monotonic()
    response = edge(app, "slow=300")
    elapsed = time.monotonic() - started

    assert response.complete
    assert elapsed >= 0.3


def test_fcgi_edge_die_mid_body(backend_dir, start_backend):
    app = start_backend(FcgiApp(backend_dir, "fcgi_edge"))

    response = edge(app, "die&big=1")

    head = b"Content-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n"
    assert not response.complete
    assert response.stdout == head + edge_pattern(512 * 1024)
    assert app.proc.wait(5) == 1


def test_fcgi_edge_nohead_closes_without_records(backend_dir, start_backend):
    app = start_backend(FcgiApp(backend_dir, "fcgi_edge"))

    response = edge(app, "nohead")

    assert response.records == []
    assert not response.complete
    assert edge(app, "").complete, "fcgi_edge stopped serving after nohead"


def test_fcgi_edge_empty_ends_without_output(backend_dir, start_backend):
    app = start_backend(FcgiApp(backend_dir, "fcgi_edge"))

    response = edge(app, "empty")

    assert response.complete
    assert response.stdout == b""
    assert response.app_status == 0


def test_fcgi_edge_big_head(backend_dir, start_backend):
    app = start_backend(FcgiApp(backend_dir, "fcgi_edge"))

    response = edge(app, "bighead=8&lf&nolength")

    assert response.stdout == (b"Content-Type: text/plain\nX-Big: " + b"h" * 8192
                               + b"\n\nedge\n")


def test_fcgi_edge_big_body(backend_dir, start_backend):
    app = start_backend(FcgiApp(backend_dir, "fcgi_edge"))

    response = edge(app, "big=3")

    head, _, body = response.stdout.partition(b"\r\n\r\n")
    assert head == b"Content-Type: application/octet-stream\r\nContent-Length: 3145728"
    assert len(body) == 3 * 1024 * 1024
    assert sha256(body) == sha256(edge_pattern(3 * 1024 * 1024))
    assert response.records[-1][0] == FCGI_END_REQUEST


def test_fcgi_edge_rejects_invalid_value(backend_dir, start_backend):
    app = start_backend(FcgiApp(backend_dir, "fcgi_edge"))

    response = edge(app, "big=x")

    assert response.stdout.startswith(b"Status: 400 Bad Request\r\n")
    assert response.stdout.endswith(b"invalid value for big in the query string\n")


def test_fcgi_app_missing_socket_folder_fails_start(backend_dir):
    app = FcgiApp(backend_dir, "fcgi_hello", address=os.path.join(backend_dir, "no", "s.sock"))

    # libfcgi 2.4.2 itself exits when bind() fails, with errno as the status.
    with pytest.raises(BackendError, match="exited with status %d" % errno.ENOENT):
        app.start()
    assert app.proc is None
    assert "bind/listen: No such file or directory" in app.log()


# ---- PHP-FPM ----

PHP_SERVER_NAMES = [
    "GATEWAY_INTERFACE", "SERVER_SOFTWARE", "SERVER_PROTOCOL", "REQUEST_METHOD",
    "REQUEST_URI", "SCRIPT_NAME", "SCRIPT_FILENAME", "PATH_INFO", "PHP_SELF",
    "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH", "DOCUMENT_ROOT",
    "REMOTE_ADDR", "REMOTE_PORT", "SERVER_ADDR", "SERVER_PORT", "SERVER_NAME",
    "HTTP_HOST", "HTTPS",
]


def php_info(params, post_sizes=None, files=None, raw_body=b""):
    """The exact JSON line of info.php, as PHP's json_encode writes it."""
    server = {name: params.get(name) for name in PHP_SERVER_NAMES}
    server["PHP_SELF"] = params["SCRIPT_NAME"] + params["PATH_INFO"]
    value = {"server": server, "post_sizes": post_sizes or {}, "files": files or {},
             "body_length": len(raw_body), "body_sha256": sha256(raw_body)}
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"


def php_params(php, **kwargs):
    return request_params(script_name="/info.php", path="",
                          script_filename=php.script_path("info.php"), **kwargs)


def test_php_fpm_get(php_fpm):
    php = php_fpm
    params = php_params(php, query="a=1&b=2", DOCUMENT_ROOT=php.root, HTTPS="on")

    stdout, stderr, status = fcgi_request(php.socket, params)

    assert stdout == b"Content-Type: application/json\r\n\r\n" + php_info(params)
    assert stderr == b""
    assert status == 0


def test_php_fpm_post_form(php_fpm):
    php = php_fpm
    body = b"name=zserver&list=" + b"x" * 100000
    params = php_params(php, method="POST", body=body,
                        content_type="application/x-www-form-urlencoded")

    stdout, _, _ = fcgi_request(php.socket, params, body)

    expected = php_info(params, post_sizes={"name": 7, "list": 100000}, raw_body=body)
    assert stdout == b"Content-Type: application/json\r\n\r\n" + expected


def test_php_fpm_multipart_upload(php_fpm):
    php = php_fpm
    content = os.urandom(70000)
    body = (b"--B0undary\r\n"
            b'Content-Disposition: form-data; name="title"\r\n\r\n'
            b"report\r\n"
            b"--B0undary\r\n"
            b'Content-Disposition: form-data; name="upload"; filename="data.bin"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n"
            + content + b"\r\n--B0undary--\r\n")
    params = php_params(php, method="POST", body=body,
                        content_type="multipart/form-data; boundary=B0undary")

    stdout, _, _ = fcgi_request(php.socket, params, body)

    expected = php_info(params, post_sizes={"title": 6},
                        files={"upload": {"name": "data.bin", "size": 70000, "error": 0}})
    assert stdout == b"Content-Type: application/json\r\n\r\n" + expected


def test_php_fpm_error_log_on_stderr(php_fpm):
    php = php_fpm

    _, stderr, _ = fcgi_request(php.socket, php_params(php, query="log=disk+almost+full"))

    assert stderr == b"PHP message: disk almost full"


def test_php_fpm_missing_script(php_fpm):
    php = php_fpm
    params = request_params(script_name="/missing.php", path="",
                            script_filename=php.script_path("missing.php"))

    stdout, stderr, _ = fcgi_request(php.socket, params)

    assert stdout == (b"Status: 404 Not Found\r\nContent-type: text/html; charset=UTF-8\r\n\r\n"
                      b"File not found.\n")
    assert stderr == b"Primary script unknown"


def test_php_fpm_stop_removes_socket(backend_dir):
    skip_without_php_fpm()
    php = PhpFpm(backend_dir)

    with php:
        assert os.path.exists(php.socket)
    assert not os.path.exists(php.socket)
    assert php.returncode == 0
    php.stop()


# ---- uWSGI with Flask ----

def json_line(value):
    return json.dumps(value, sort_keys=True).encode() + b"\n"


def test_uwsgi_fastcgi_hello(uwsgi_fastcgi):
    uwsgi = uwsgi_fastcgi

    stdout, stderr, status = fcgi_request(uwsgi.socket, request_params(path="/"))

    assert stdout == (b"Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      b"Content-Length: 18\r\n\r\nHello from Flask!\n")
    assert stderr == b""
    assert status == 0


def test_uwsgi_fastcgi_echo(uwsgi_fastcgi):
    uwsgi = uwsgi_fastcgi
    body = os.urandom(150000)
    params = request_params(method="PUT", script_name="/app", path="/echo", query="x=%2F&y",
                            body=body, content_type="application/octet-stream")

    stdout, _, _ = fcgi_request(uwsgi.socket, params, body)

    expected = json_line({"method": "PUT", "script_name": "/app", "path": "/echo",
                          "query": "x=%2F&y", "body_length": 150000,
                          "body_sha256": sha256(body)})
    assert stdout == (b"Status: 200 OK\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(expected) + expected)


def test_uwsgi_fastcgi_form(uwsgi_fastcgi):
    uwsgi = uwsgi_fastcgi
    body = b"colour=red&colour=blue&size=10"
    params = request_params(method="POST", path="/form", body=body,
                            content_type="application/x-www-form-urlencoded")

    stdout, _, _ = fcgi_request(uwsgi.socket, params, body)

    assert stdout.endswith(b"\r\n\r\n" + json_line({"colour": ["red", "blue"], "size": ["10"]}))


def test_uwsgi_fastcgi_two_cookies(uwsgi_fastcgi):
    uwsgi = uwsgi_fastcgi

    stdout, _, _ = fcgi_request(uwsgi.socket, request_params(path="/cookie"))

    assert stdout == (b"Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      b"Content-Length: 12\r\n"
                      b"Set-Cookie: flavour=oatmeal; Path=/\r\n"
                      b"Set-Cookie: session=s3cr3t; HttpOnly; Path=/app\r\n\r\n"
                      b"two cookies\n")


def test_uwsgi_fastcgi_upload(uwsgi_fastcgi):
    uwsgi = uwsgi_fastcgi
    first, second = os.urandom(1000), os.urandom(90000)
    body = b""
    for field, name, data in (("a", "one.bin", first), ("b", "two.bin", second)):
        body += (b"--sep\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                 b"Content-Type: application/octet-stream\r\n\r\n%s\r\n"
                 % (field.encode(), name.encode(), data))
    body += b"--sep--\r\n"
    params = request_params(method="POST", path="/upload", body=body,
                            content_type="multipart/form-data; boundary=sep")

    stdout, _, _ = fcgi_request(uwsgi.socket, params, body)

    expected = json_line({"files": [
        {"field": "a", "filename": "one.bin", "length": 1000, "sha256": sha256(first)},
        {"field": "b", "filename": "two.bin", "length": 90000, "sha256": sha256(second)},
    ]})
    assert stdout.endswith(b"\r\n\r\n" + expected)


def test_uwsgi_fastcgi_stream_chunks(uwsgi_fastcgi):
    uwsgi = uwsgi_fastcgi

    response = fcgi_exchange(uwsgi.socket, request_params(path="/stream", query="n=4&delay=20"))

    assert response.complete
    assert response.stdout == (b"Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                               b"chunk 1\nchunk 2\nchunk 3\nchunk 4\n")
    # uWSGI writes each chunk as it is produced: head, 4 chunks, end of stream.
    assert response.count(FCGI_STDOUT) == 6


def scgi_echo_response(body, params):
    expected = json_line({"method": params["REQUEST_METHOD"], "script_name": "",
                          "path": params["PATH_INFO"], "query": params["QUERY_STRING"],
                          "body_length": len(body), "body_sha256": sha256(body)})
    return (b"Status: 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(expected) + expected)


def test_uwsgi_scgi_hello_and_echo(uwsgi_scgi):
    uwsgi = uwsgi_scgi
    body = os.urandom(100000)
    params = request_params(method="POST", path="/echo", query="q=1", body=body)

    hello = scgi_request(uwsgi.socket, request_params(path="/"))
    echo = scgi_request(uwsgi.socket, params, body)

    assert hello == (b"Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     b"Content-Length: 18\r\n\r\nHello from Flask!\n")
    assert echo == scgi_echo_response(body, params)


def test_uwsgi_rejects_unknown_mode(backend_dir):
    with pytest.raises(ValueError, match="mode must be one of"):
        Uwsgi(backend_dir, "http")


# ---- CGI scripts, run as a server runs them (RFC 3875) ----

def run_cgi(script, params, body=b"", timeout=10):
    env = dict(params, PATH="/usr/bin:/bin")
    return subprocess.run([os.path.join(CGI_DIR, script)], input=body, env=env,
                          capture_output=True, timeout=timeout)


def test_cgi_hello():
    result = run_cgi("hello.sh", request_params())

    assert result.stdout == b"Content-Type: text/plain\n\nHello from CGI!\n"
    assert result.returncode == 0


def test_cgi_env_reads_content_length_bytes():
    body = os.urandom(100000)
    params = request_params(method="POST", body=body, content_type="application/octet-stream")

    # One byte past CONTENT_LENGTH, which the digest must not cover.
    result = run_cgi("env.pl", params, body + b"!")

    expected_env = dict(params, PATH="/usr/bin:/bin")
    assert result.stdout == b"Content-Type: text/plain\n\n" + echo_body(expected_env, body)
    assert result.returncode == 0


def test_cgi_nph_status_line():
    result = run_cgi("nph-hello.sh", request_params(SERVER_PROTOCOL="HTTP/1.0"))

    assert result.stdout == (b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: 26\r\nConnection: close\r\nX-Nph: yes\r\n\r\n"
                             b"Hello from an nph script!\n")


def test_cgi_stderr_lines():
    result = run_cgi("stderr.sh", request_params(query="lines=3"))

    assert result.stderr == b"".join(b"stderr.sh: line %d on stderr\n" % i for i in (1, 2, 3))
    assert result.stdout == b"Content-Type: text/plain\n\nbody after 3 stderr lines\n"


def test_cgi_stderr_rejects_invalid_count():
    result = run_cgi("stderr.sh", request_params(query="lines=-5"))

    assert result.stdout.startswith(b"Status: 400 Bad Request\n")
    assert result.stderr == b""


def test_cgi_forever_outputs_nothing():
    proc = subprocess.Popen([os.path.join(CGI_DIR, "forever.sh")], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, env=request_params())
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            proc.communicate(timeout=0.5)
    finally:
        proc.kill()
    stdout, _ = proc.communicate()
    assert stdout == b""
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.skipif(not os.access(GIT_HTTP_BACKEND, os.X_OK),
                    reason="needs Debian's git (./setup --test installs it)")
def test_cgi_git_http_backend_advertises_refs(backend_dir):
    repo = os.path.join(backend_dir, "repo.git")
    subprocess.run(["git", "init", "-q", "--bare", repo], check=True)
    params = request_params(path="/repo.git/info/refs", query="service=git-upload-pack",
                            DOCUMENT_ROOT=backend_dir)

    result = run_cgi("git-http-backend.sh", params)

    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert b"Content-Type: application/x-git-upload-pack-advertisement" in head.split(b"\r\n")
    assert body.startswith(b"001e# service=git-upload-pack\n0000")
    assert result.returncode == 0


def test_cgi_git_http_backend_without_root():
    params = request_params(path="/repo.git/info/refs", DOCUMENT_ROOT=None)

    result = run_cgi("git-http-backend.sh", params)

    assert result.stdout.startswith(b"Status: 500 Internal Server Error\n")


def run_php_cgi(params):
    env = dict(params, PATH="/usr/bin:/bin")
    return subprocess.run([PHP_CGI, "-d", "expose_php=0"], stdin=subprocess.DEVNULL, env=env,
                          capture_output=True, timeout=10)


@pytest.mark.skipif(not os.access(PHP_CGI, os.X_OK),
                    reason="needs Debian's php8.2-cgi (./setup --test installs it)")
def test_php_cgi_runs_info_php():
    script = os.path.join(APPS_SOURCE_DIR, "php", "info.php")
    params = request_params(script_name="/info.php", path="", script_filename=script,
                            REDIRECT_STATUS="200")

    result = run_php_cgi(params)

    assert result.stdout == b"Content-Type: application/json\r\n\r\n" + php_info(params)


def test_apps_are_built():
    missing = [name for name in ("fcgi_hello", "fcgi_echo", "fcgi_edge")
               if not os.access(os.path.join(APPS_BUILD_DIR, name), os.X_OK)]
    assert missing == [], "not built in %s: %s (run make check)" % (APPS_BUILD_DIR, missing)
