"""FastCGI and SCGI through the real binary, against php-fpm, uWSGI and the
libfcgi programs of t/apps."""

import hashlib
import json
import os
import socket
import threading
import time

import pytest

from backends import APPS_BUILD_DIR, FcgiApp, PhpFpm, Uwsgi
from conftest import parse_response, raw_request


def request(server, target, method="GET", headers="", body=b"", version="1.1", timeout=15):
    raw = ("%s %s HTTP/%s\r\nHost: localhost\r\nConnection: close\r\n%s\r\n"
           % (method, target, version, headers)).encode() + body
    return raw_request(server.port, raw, timeout=timeout)


def dechunk(data):
    out = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return out, data[2:]
        out += data[:size]
        data = data[size + 2:]


def body_of(data):
    """Status, headers and the decoded body of one response."""
    head, _, rest = data.partition(b"\r\n\r\n")
    status, headers, body, _ = parse_response(data)
    if headers.get("transfer-encoding") == "chunked":
        body, _ = dechunk(rest)
    return status, headers, body


def echo_params(body):
    """fcgi_echo's body: NAME=VALUE lines, then "BODY <n> <sha256>"."""
    params = {}
    body_line = None
    for line in body.decode("latin-1").splitlines():
        if line.startswith("BODY "):
            body_line = line
        else:
            name, _, value = line.partition("=")
            params[name] = value
    return params, body_line


# ---- php-fpm ----

@pytest.fixture
def php(server):
    fpm = PhpFpm(server.dir).start()
    server.root = fpm.root
    server.config(locations="""
  location '~ \\.php(/|$)' {
    fastcgi_pass = "unix:%s"
    fastcgi_split_path_info = '^(.+\\.php)(/.*)$'
    client_max_body_size = 64m
  }
""" % fpm.socket)
    server.start()
    yield fpm
    fpm.stop()


def php_json(data):
    status, headers, body = body_of(data)
    assert status == 200, data[:300]
    assert headers["content-type"] == "application/json"
    return json.loads(body)


def test_php_get_with_query(server, php):
    info = php_json(request(server, "/info.php?a=1&b=two"))
    s = info["server"]
    assert s["REQUEST_METHOD"] == "GET"
    assert s["QUERY_STRING"] == "a=1&b=two"
    assert s["REQUEST_URI"] == "/info.php?a=1&b=two"
    assert s["SCRIPT_NAME"] == "/info.php"
    assert s["SCRIPT_FILENAME"] == php.script_path("info.php")
    assert s["PATH_INFO"] in (None, "")
    assert s["SERVER_PORT"] == str(server.port)
    assert s["REMOTE_ADDR"] == "127.0.0.1"
    assert s["HTTP_HOST"] == "localhost"
    assert s["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert s["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert s["SERVER_SOFTWARE"].startswith("zserver/")
    assert s["HTTPS"] is None
    assert info["body_length"] == 0


def test_php_path_info(server, php):
    s = php_json(request(server, "/info.php/extra/part?q"))["server"]
    assert s["SCRIPT_NAME"] == "/info.php"
    assert s["PATH_INFO"] == "/extra/part"
    assert s["PHP_SELF"] == "/info.php/extra/part"


def test_php_form_post(server, php):
    form = b"name=value&other=" + b"x" * 1000
    info = php_json(request(server, "/info.php", method="POST", body=form,
                            headers="Content-Type: application/x-www-form-urlencoded\r\n"
                                    "Content-Length: %d\r\n" % len(form)))
    assert info["server"]["CONTENT_LENGTH"] == str(len(form))
    assert info["post_sizes"] == {"name": 5, "other": 1000}


def test_php_large_raw_post(server, php):
    body = os.urandom(6 * 1024 * 1024 + 1)
    info = php_json(request(server, "/info.php", method="POST", body=body,
                            headers="Content-Type: application/octet-stream\r\n"
                                    "Content-Length: %d\r\n" % len(body)))
    assert info["body_length"] == len(body)
    assert info["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_php_chunked_post(server, php):
    parts = [os.urandom(5000), os.urandom(300000), b"end"]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    info = php_json(request(server, "/info.php", method="POST", body=chunked,
                            headers="Content-Type: application/octet-stream\r\n"
                                    "Transfer-Encoding: chunked\r\n"))
    whole = b"".join(parts)
    assert info["server"]["CONTENT_LENGTH"] == str(len(whole))
    assert info["body_length"] == len(whole)
    assert info["body_sha256"] == hashlib.sha256(whole).hexdigest()


def test_php_multipart_upload(server, php):
    content = os.urandom(1500 * 1024)
    boundary = b"zsboundary7"
    body = (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.bin\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n--" + boundary + b"--\r\n")
    info = php_json(request(server, "/info.php", method="POST", body=body,
                            headers="Content-Type: multipart/form-data; boundary=%s\r\n"
                                    "Content-Length: %d\r\n" % (boundary.decode(), len(body))))
    assert info["files"] == {"f": {"name": "a.bin", "size": len(content), "error": 0}}


def test_php_missing_script_is_404(server, php):
    status, _, _ = body_of(request(server, "/nothing.php"))
    assert status == 404


def test_php_uploaded_file_never_runs(server, php):
    os.makedirs(os.path.join(php.root, "upload"))
    with open(os.path.join(php.root, "upload", "evil.jpg"), "w") as f:
        f.write("<?php echo 'EXECUTED';")
    data = request(server, "/upload/evil.jpg/x.php")
    assert body_of(data)[0] == 404
    assert b"EXECUTED" not in data


def test_php_stderr_reaches_error_log(server, php):
    php_json(request(server, "/info.php?log=marker-from-php"))
    assert "marker-from-php" in server.log()


def test_php_many_requests_on_reused_connections(server, php):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        for i in range(50):
            s.sendall(b"GET /info.php?i=%d HTTP/1.1\r\nHost: a\r\n\r\n" % i)
            data = b""
            while b"\r\n0\r\n\r\n" not in data:
                chunk = s.recv(65536)
                assert chunk, "connection closed after %d requests" % i
                data += chunk
            status, _, body = body_of(data)
            assert status == 200
            assert json.loads(body)["server"]["QUERY_STRING"] == "i=%d" % i


def test_php_head_request(server, php):
    data = request(server, "/info.php", method="HEAD")
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\r\n\r\n")


# ---- libfcgi programs ----

def fcgi_server(server, name, locations_extra="", globals_="", address=None):
    app = FcgiApp(server.dir, name, address=address).start()
    server.config(globals_=globals_, locations="""
  location /app/ {
    fastcgi_pass = "unix:%s"
    fastcgi_param = { "FROM_CONFIG=yes" }
    client_max_body_size = 64m
%s
  }
""" % (app.socket, locations_extra))
    server.start()
    return app


def test_fcgi_params_and_body(server):
    app = fcgi_server(server, "fcgi_echo")
    try:
        body = os.urandom(200000)
        data = request(server, "/app/some/path?x=1", method="PUT", body=body,
                       headers="Content-Length: %d\r\nX-Custom: v1\r\nX-Custom: v2\r\n"
                               "Proxy: evil\r\nX_Under: no\r\nContent-Type: text/x-test\r\n" % len(body))
        status, headers, out = body_of(data)
        assert status == 200
        params, body_line = echo_params(out)
        assert params["REQUEST_METHOD"] == "PUT"
        assert params["SCRIPT_NAME"] == "/app"
        assert params["PATH_INFO"] == "/some/path"
        assert params["QUERY_STRING"] == "x=1"
        assert params["CONTENT_LENGTH"] == str(len(body))
        assert params["CONTENT_TYPE"] == "text/x-test"
        assert params["HTTP_X_CUSTOM"] == "v1, v2"
        assert params["FROM_CONFIG"] == "yes"
        assert "HTTP_PROXY" not in params
        assert "HTTP_X_UNDER" not in params
        assert body_line == "BODY %d %s" % (len(body), hashlib.sha256(body).hexdigest())
    finally:
        app.stop()


def test_fcgi_status_and_repeated_cookies(server):
    app = fcgi_server(server, "fcgi_echo")
    try:
        data = request(server, "/app/?status=418&cookies=3")
        assert data.startswith(b"HTTP/1.1 418 ")
        assert data.count(b"\r\nSet-Cookie: ") == 3
    finally:
        app.stop()


@pytest.mark.parametrize("query", ["split", "lf", "nolength", "stderr=64"])
def test_fcgi_edge_responses(server, query):
    app = fcgi_server(server, "fcgi_edge")
    try:
        data = request(server, "/app/?" + query)
        status, headers, body = body_of(data)
        assert status == 200, data[:300]
        assert headers["content-type"] == "text/plain"
        assert body == b"edge\n"
        if query == "nolength":
            assert headers["transfer-encoding"] == "chunked"
        else:
            assert headers["content-length"] == "5"
        if query.startswith("stderr"):
            assert server.log().count("stderr:") >= 64
    finally:
        app.stop()


def test_fcgi_big_body_pattern(server):
    app = fcgi_server(server, "fcgi_edge")
    try:
        status, _, body = body_of(request(server, "/app/?big=20", timeout=30))
        assert status == 200
        size = 20 * 1024 * 1024
        assert len(body) == size
        assert body == (bytes(range(251)) * (size // 251 + 1))[:size]
    finally:
        app.stop()


def test_fcgi_backend_dies_mid_body(server):
    app = fcgi_server(server, "fcgi_edge")
    try:
        data = request(server, "/app/?die")
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
        assert len(rest) < length
        assert "closed the connection before the end of the response" in server.log()
    finally:
        app.stop()


def test_fcgi_no_head_is_502(server):
    app = fcgi_server(server, "fcgi_edge")
    try:
        assert body_of(request(server, "/app/?nohead"))[0] == 502
    finally:
        app.stop()


def test_fcgi_oversized_head_is_502(server):
    app = fcgi_server(server, "fcgi_edge")
    try:
        assert body_of(request(server, "/app/?bighead=100"))[0] == 502
        assert "invalid response head" in server.log()
    finally:
        app.stop()


def test_fcgi_read_timeout_is_504(server):
    app = fcgi_server(server, "fcgi_edge", globals_="backend_read_timeout = 1s\n")
    try:
        start = time.time()
        assert body_of(request(server, "/app/?slow=3000"))[0] == 504
        assert time.time() - start < 2.9
        assert "read timed out" in server.log()
    finally:
        app.stop()


def test_fcgi_refused_backend_is_502(server):
    server.config(locations="""
  location /app/ { fastcgi_pass = "unix:%s/none.sock" }
""" % server.dir)
    server.start()
    assert body_of(request(server, "/app/"))[0] == 502
    assert "connect failed" in server.log()


def test_fcgi_failover_to_second_backend(server):
    app = FcgiApp(server.dir, "fcgi_hello").start()
    try:
        server.config(locations="""
  location /app/ { fastcgi_pass = { "unix:%s/none.sock", "unix:%s" } }
""" % (server.dir, app.socket))
        server.start()
        for _ in range(4):
            status, _, body = body_of(request(server, "/app/"))
            assert status == 200
            assert body == b"Hello, world!\n"
    finally:
        app.stop()


def test_fcgi_limit_gives_fast_503(server):
    app = fcgi_server(server, "fcgi_edge", locations_extra="    backend_max_requests = 1\n"
                                                          "    backend_queue = 0\n")
    try:
        server.stop()
        server.config(workers=1, locations="""
  location /app/ {
    fastcgi_pass = "unix:%s"
    backend_max_requests = 1
    backend_queue = 0
  }
""" % app.socket)
        server.start()
        results = {}

        def slow():
            results["slow"] = body_of(request(server, "/app/?slow=1500"))[0]

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.4)
        start = time.time()
        assert body_of(request(server, "/app/"))[0] == 503
        assert time.time() - start < 0.5
        t.join()
        assert results["slow"] == 200
    finally:
        app.stop()


# ---- uWSGI with Flask, over FastCGI and SCGI ----

@pytest.mark.parametrize("mode", ["fastcgi", "scgi"])
def test_uwsgi_flask(server, mode):
    uw = Uwsgi(server.dir, mode).start()
    try:
        server.config(locations="""
  location /app/ {
    %s_pass = "unix:%s"
    client_max_body_size = 64m
  }
""" % (mode, uw.socket))
        server.start()
        status, _, body = body_of(request(server, "/app/"))
        assert (status, body) == (200, b"Hello from Flask!\n")

        payload = os.urandom(2 * 1024 * 1024)
        status, _, body = body_of(request(server, "/app/echo?k=v", method="POST", body=payload,
                                          headers="Content-Length: %d\r\n" % len(payload)))
        assert status == 200
        echo = json.loads(body)
        assert echo["script_name"] == "/app"
        assert echo["path"] == "/echo"
        assert echo["query"] == "k=v"
        assert echo["body_length"] == len(payload)
        assert echo["body_sha256"] == hashlib.sha256(payload).hexdigest()

        chunked = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        status, _, body = body_of(request(server, "/app/echo", method="POST", body=chunked,
                                          headers="Transfer-Encoding: chunked\r\n"))
        assert json.loads(body)["body_sha256"] == hashlib.sha256(b"hello world").hexdigest()

        data = request(server, "/app/cookie")
        assert data.count(b"\r\nSet-Cookie: ") == 2

        status, _, body = body_of(request(server, "/app/stream?n=3"))
        assert body == b"chunk 1\nchunk 2\nchunk 3\n"
    finally:
        uw.stop()


# ---- managed apps ----

def test_managed_app_serves_and_restarts(server):
    echo = os.path.join(APPS_BUILD_DIR, "fcgi_echo")
    sock = os.path.join(server.dir, "echo.sock")
    server.config(globals_="""
app echo {
  command = { "%s" }
  processes = 2
  socket = "%s"
  env = { "APP_MARK=managed" }
}
""" % (echo, sock), locations="""
  location /app/ { fastcgi_pass = "app:echo" }
""")
    server.start()
    status, _, body = body_of(request(server, "/app/x"))
    assert status == 200
    assert echo_params(body)[0]["SCRIPT_NAME"] == "/app"

    pids = [p for p in all_children(server.proc.pid) if comm(p) == "fcgi_echo"]
    assert len(pids) == 2
    os.kill(pids[0], 9)
    deadline = time.time() + 5
    while time.time() < deadline:
        now = [p for p in all_children(server.proc.pid) if comm(p) == "fcgi_echo"]
        if len(now) == 2 and pids[0] not in now:
            break
        time.sleep(0.1)
    assert len(now) == 2 and pids[0] not in now
    assert body_of(request(server, "/app/y"))[0] == 200
    assert "app echo: process %d killed by signal 9" % pids[0] in server.log()

    server.stop()
    assert not [p for p in now if os.path.exists("/proc/%d" % p)]


def all_children(ppid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == ppid:
                out.append(int(entry))
    return out


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def socket_fds(pid):
    fd_dir = "/proc/%d/fd" % pid
    return sum(1 for fd in os.listdir(fd_dir) if os.readlink(os.path.join(fd_dir, fd)).startswith("socket:"))


@pytest.mark.parametrize("keep", [True, False])
def test_fcgi_keep_conn_reuses_one_connection(server, keep):
    app = FcgiApp(server.dir, "fcgi_echo").start()
    try:
        server.config(workers=1, locations="""
  location /app/ {
    fastcgi_pass = "unix:%s"
    fastcgi_keep_conn = %s
  }
""" % (app.socket, "on" if keep else "off"))
        server.start()
        for i in range(20):
            status, _, body = body_of(request(server, "/app/?i=%d" % i))
            assert status == 200
            assert echo_params(body)[0]["QUERY_STRING"] == "i=%d" % i
        time.sleep(0.2)
        # The listening socket, plus the kept connection when keep_conn is on.
        assert socket_fds(app.proc.pid) == (2 if keep else 1)
    finally:
        app.stop()


def test_php_index_file_goes_to_fastcgi(server):
    fpm = PhpFpm(server.dir).start()
    try:
        os.makedirs(os.path.join(fpm.root, "wiki"))
        with open(os.path.join(fpm.root, "wiki", "index.php"), "w") as f:
            f.write("<?php echo 'index ', $_SERVER['SCRIPT_NAME'], ' ', $_SERVER['REQUEST_METHOD'], ' ',"
                    " strlen(file_get_contents('php://input'));")
        os.makedirs(os.path.join(fpm.root, "plain"))
        with open(os.path.join(fpm.root, "plain", "index.html"), "w") as f:
            f.write("static index\n")
        with open(os.path.join(fpm.root, "plain", "index.php"), "w") as f:
            f.write("<?php echo 'wrong';")
        server.root = fpm.root
        server.config(server_extra='  index = { index.html, index.php }', locations="""
  location '~ \\.php$' { fastcgi_pass = "unix:%s" }
""" % fpm.socket)
        server.start()
        assert body_of(request(server, "/wiki/"))[2] == b"index /wiki/index.php GET 0"
        assert body_of(request(server, "/wiki/", method="POST", body=b"abc",
                                headers="Content-Length: 3\r\n"))[2] == b"index /wiki/index.php POST 3"
        assert body_of(request(server, "/plain/"))[2] == b"static index\n"
    finally:
        fpm.stop()


def test_fcgi_spooled_body_keeps_its_own_headers(server):
    """A chunked body is read completely before the application starts; the
    headers it gets must be its own even when other requests were parsed
    in between."""
    app = fcgi_server(server, "fcgi_echo")
    try:
        server.stop()
        server.config(workers=1, locations="""
  location /app/ { fastcgi_pass = "unix:%s" }
""" % app.socket)
        server.start()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(b"POST /app/ HTTP/1.1\r\nHost: a\r\nX-Mark: first-request\r\n"
                      b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n")
            time.sleep(0.2)
            other = request(server, "/app/", headers="X-Mark: second-request-with-longer-value\r\n")
            assert echo_params(body_of(other)[2])[0]["HTTP_X_MARK"] == "second-request-with-longer-value"
            s.sendall(b"0\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        params, body_line = echo_params(body_of(data)[2])
        assert params["HTTP_X_MARK"] == "first-request"
        assert params["CONTENT_LENGTH"] == "5"
        assert body_line == "BODY 5 %s" % hashlib.sha256(b"hello").hexdigest()
    finally:
        app.stop()


def test_managed_app_keep_conn_does_not_stall(server):
    """Twenty concurrent requests to an app of two processes on one worker,
    with kept connections: the automatic limit of two connections queues
    the rest instead of leaving them in the app's accept queue."""
    hello = os.path.join(APPS_BUILD_DIR, "fcgi_hello")
    server.config(workers=1, globals_="""
app hello {
  command = { "%s" }
  processes = 2
  socket = "%s"
}
""" % (hello, os.path.join(server.dir, "hello.sock")), locations="""
  location /app/ {
    fastcgi_pass = "app:hello"
    fastcgi_keep_conn = on
  }
""")
    server.start()
    results = []

    def client():
        for _ in range(5):
            results.append(body_of(request(server, "/app/", timeout=5)))

    threads = [threading.Thread(target=client) for _ in range(20)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 100
    assert all(r[0] == 200 and r[2] == b"Hello, world!\n" for r in results)
    assert time.time() - start < 5


def test_managed_app_replaced_on_reload(server):
    import signal as signals
    echo = os.path.join(APPS_BUILD_DIR, "fcgi_echo")
    conf = """
app echo {
  command = { "%s" }
  processes = 1
  socket = "%s"
}
""" % (echo, os.path.join(server.dir, "echo.sock"))
    locations = """
  location /app/ {
    fastcgi_pass = "app:echo"
    fastcgi_param = { "GENERATION=%s" }
  }
"""
    server.config(globals_=conf, locations=locations % "one")
    server.start()
    assert echo_params(body_of(request(server, "/app/"))[2])[0]["GENERATION"] == "one"
    old = [p for p in all_children(server.proc.pid) if comm(p) == "fcgi_echo"]
    assert len(old) == 1

    server.config(globals_=conf, locations=locations % "two")
    server.signal(signals.SIGHUP)
    deadline = time.time() + 10
    generation = None
    while time.time() < deadline:
        generation = echo_params(body_of(request(server, "/app/"))[2])[0].get("GENERATION")
        if generation == "two" and not os.path.exists("/proc/%d" % old[0]):
            break
        time.sleep(0.1)
    assert generation == "two"
    assert not os.path.exists("/proc/%d" % old[0]), "the old app process outlived its generation"
    new = [p for p in all_children(server.proc.pid) if comm(p) == "fcgi_echo"]
    assert len(new) == 1
    assert new != old


def test_fcgi_slow_upload_outlives_read_timeout(server):
    app = fcgi_server(server, "fcgi_echo", globals_="backend_read_timeout = 1s\n")
    try:
        body = os.urandom(4000)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(b"POST /app/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body))
            for i in range(4):
                s.sendall(body[i * 1000:(i + 1) * 1000])
                time.sleep(0.6)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        status, _, out = body_of(data)
        assert status == 200
        assert echo_params(out)[1] == "BODY 4000 %s" % hashlib.sha256(body).hexdigest()
    finally:
        app.stop()
