"""WSGI responses as a stream: each piece goes out as it is produced, a
long response gives way to the worker's other connections, HEAD stops the
iteration, and mount points do not match inside a name."""

import os
import socket
import subprocess
import time

from conftest import ZSERVER, fetch, wait_until

STREAM_APP = '''
import time
def slow(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    def pieces():
        for i in range(4):
            yield b"piece %d\\n" % i
            time.sleep(0.4)
    return pieces()
def forever(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    def pieces():
        while True:
            yield b"x" * 4096
    return pieces()
def empty(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    def pieces():
        while True:
            yield b""
    return pieces()
def big_write(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                      ("Content-Length", str(8 << 20))])
    write(b"w" * (8 << 20))
    return []
def where(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s|%s" % (environ["SCRIPT_NAME"], environ["PATH_INFO"])).encode()]
'''


def start(server):
    folder = os.path.join(server.dir, "py")
    os.makedirs(folder, exist_ok=True)
    os.chmod(folder, 0o755)
    with open(os.path.join(folder, "streams.py"), "w") as f:
        f.write(STREAM_APP)
    server.write("static.txt", "static\n")
    server.config(workers=1, server_extra='  python_path = { "%s" }\n  access_log = "%s"'
                  % (folder, os.path.join(server.dir, "access.log")), locations="""
  location /slow { wsgi_app = "streams:slow" }
  location /forever { wsgi_app = "streams:forever" }
  location /empty { wsgi_app = "streams:empty" }
  location /app { wsgi_app = "streams:where" }
  location /app/admin { return = "403" }
  location /big_write {
    wsgi_app = "streams:big_write"
    wsgi_timeout = 1s
  }
""")
    server.start()


def test_pieces_sent_when_produced(server):
    start(server)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET /slow HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        started = time.time()
        data = b""
        while b"piece 0\n" not in data:
            data += s.recv(4096)
        first = time.time() - started
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        total = time.time() - started
    assert first < 0.3                   # not held until the generator ends (1.6 s)
    assert total > 1.4
    assert data.endswith(b"\r\n0\r\n\r\n")
    for i in range(4):
        assert b"piece %d\n" % i in data


def test_long_stream_lets_others_run(server):
    start(server)
    # A client that reads nothing: the stream fills its socket, then waits.
    stuck = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.sendall(b"GET /forever HTTP/1.1\r\nHost: a\r\n\r\n")
    # A client that reads as fast as it can keeps the generator running.
    fast = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    fast.sendall(b"GET /forever HTTP/1.1\r\nHost: a\r\n\r\n")
    fast.recv(65536)
    try:
        for _ in range(5):
            fast.recv(1 << 20)
            started = time.time()
            assert fetch(server, "/static.txt")[:3:2] == (200, b"static\n")
            assert time.time() - started < 0.5
    finally:
        stuck.close()
        fast.close()
    # The client that left is noticed: its response is logged as sent in part.
    assert wait_until(lambda: os.path.exists(os.path.join(server.dir, "access.log"))
                      and open(os.path.join(server.dir, "access.log")).read().count('"GET /forever HTTP/1.1" 200') == 2,
                      timeout=10)


def test_empty_pieces_do_not_block(server):
    start(server)
    client = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    client.sendall(b"GET /empty HTTP/1.1\r\nHost: a\r\n\r\n")
    try:
        time.sleep(0.2)
        started = time.time()
        assert fetch(server, "/static.txt")[:3:2] == (200, b"static\n")
        assert time.time() - started < 0.5
    finally:
        client.close()


def test_head_stops_the_iteration(server):
    start(server)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"HEAD /forever HTTP/1.1\r\nHost: a\r\n\r\nGET /app/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n")
    assert rest.endswith(b"\r\n\r\n/app|/x")


def test_mount_point_name_boundary(server):
    start(server)
    assert fetch(server, "/app/x")[:3:2] == (200, b"/app|/x")
    assert fetch(server, "/app")[:3:2] == (200, b"/app|")
    assert fetch(server, "/app/admin")[0] == 403
    # /appadmin matches the prefix /app but is not below it: the application
    # must not see it as its /admin, past the location that guards it.
    assert fetch(server, "/appadmin")[0] == 404


def test_python_home_needs_virtualenv(server):
    plain = os.path.join(server.dir, "plain")
    os.makedirs(plain)
    for home, message in [
        (os.path.join(server.dir, "missing"), "python_home '%s': no such directory"),
        (plain, "python_home '%s' is not a virtualenv (no pyvenv.cfg): make one with /usr/bin/python3 -m venv"),
    ]:
        server.config(locations="""
  location /py/ {
    wsgi_app = "app"
    python_home = "%s"
  }
""" % home)
        r = subprocess.run([ZSERVER, "-t", "-c", server.conf_path], capture_output=True, text=True)
        assert r.returncode != 0
        assert message % home in r.stderr


def test_slow_client_write_no_timeout(server):
    # write() waits for the client for 3 s, past the 1 s wsgi_timeout: the
    # wait is not the application's time.
    start(server)
    worker = server.workers()[0]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(b"GET /big_write HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        received = 0
        started = time.time()
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            received += len(chunk)
            if time.time() - started < 3:
                time.sleep(0.02)
    assert received > 8 << 20
    assert server.workers() == [worker]
    assert "TimeoutError" not in server.log()
