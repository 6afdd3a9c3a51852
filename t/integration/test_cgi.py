"""CGI: scripts under a `cgi = on` location, run by the real binary."""

import hashlib
import os
import socket
import time

from conftest import parse_response, raw_request

HELLO = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
printf 'hello from cgi\\n'
"""

# Prints the CGI variables the tests look at, one per line, in a fixed order.
ENV = """#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
for v in GATEWAY_INTERFACE REQUEST_METHOD SCRIPT_NAME PATH_INFO PATH_TRANSLATED QUERY_STRING \\
         REQUEST_URI SERVER_PROTOCOL SERVER_NAME SERVER_PORT REMOTE_ADDR CONTENT_LENGTH \\
         CONTENT_TYPE DOCUMENT_ROOT SCRIPT_FILENAME HTTP_X_CUSTOM HTTP_PROXY HTTP_X_UNDER_SCORE \\
         HTTP_COOKIE EXTRA PATH; do
  eval "val=\\${$v-unset}"
  printf '%s=%s\\n' "$v" "$val"
done
"""

SUM = """#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
printf 'length=%s\\n' "$CONTENT_LENGTH"
sha256sum | cut -d' ' -f1
"""


def setup_cgi(server, scripts, extra="", globals_=""):
    for name, text in scripts.items():
        server.write("cgi-bin/" + name, text, mode=0o755)
    server.write("static.txt", "static file\n")
    server.config(globals_=globals_, locations="""
  location /cgi-bin/ {
    cgi = on
    client_max_body_size = 64m
%s
  }
""" % extra)
    server.start()


def get(server, target, headers="", method="GET", body=b"", version="1.1"):
    raw = ("%s %s HTTP/%s\r\nHost: localhost\r\nConnection: close\r\n%s\r\n"
           % (method, target, version, headers)).encode() + body
    return raw_request(server.port, raw, timeout=10)


def env_lines(body):
    return dict(line.split("=", 1) for line in body.decode().splitlines())


def test_cgi_hello(server):
    setup_cgi(server, {"hello.sh": HELLO})
    status, headers, body, rest = parse_response(get(server, "/cgi-bin/hello.sh"))
    assert status == 200
    assert headers["content-type"] == "text/plain"
    assert headers["transfer-encoding"] == "chunked"
    assert rest == b"f\r\nhello from cgi\n\r\n0\r\n\r\n"


def test_cgi_variables(server):
    setup_cgi(server, {"env.sh": ENV}, extra='    cgi_param = { "EXTRA=from config" }')
    data = get(server, "/cgi-bin/env.sh/extra/path%20x?a=1&b=%20",
               headers="X-Custom: one\r\nX-Custom: two\r\nProxy: http://evil/\r\n"
                       "X-Under_Score: dropped\r\nCookie: a=1\r\nCookie: b=2\r\n",
               version="1.0")
    status, headers, _, rest = parse_response(data)
    assert status == 200
    env = env_lines(rest)
    assert env["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == "/cgi-bin/env.sh"
    assert env["PATH_INFO"] == "/extra/path x"
    assert env["PATH_TRANSLATED"] == server.root + "/extra/path x"
    assert env["QUERY_STRING"] == "a=1&b=%20"
    assert env["REQUEST_URI"] == "/cgi-bin/env.sh/extra/path%20x?a=1&b=%20"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.0"
    assert env["SERVER_NAME"] == "localhost"
    assert env["SERVER_PORT"] == str(server.port)
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["CONTENT_LENGTH"] == "unset"
    assert env["DOCUMENT_ROOT"] == server.root
    assert env["SCRIPT_FILENAME"] == server.root + "/cgi-bin/env.sh"
    assert env["HTTP_X_CUSTOM"] == "one, two"
    assert env["HTTP_PROXY"] == "unset"
    assert env["HTTP_X_UNDER_SCORE"] == "unset"
    assert env["HTTP_COOKIE"] == "a=1; b=2"
    assert env["EXTRA"] == "from config"
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"


def test_cgi_post_body(server):
    setup_cgi(server, {"sum.sh": SUM})
    body = os.urandom(3 * 1024 * 1024 + 7)
    data = get(server, "/cgi-bin/sum.sh", method="POST", body=body,
               headers="Content-Length: %d\r\n" % len(body))
    status, _, _, rest = parse_response(data)
    assert status == 200
    assert b"length=%d\n" % len(body) in rest
    assert hashlib.sha256(body).hexdigest().encode() in rest


def test_cgi_chunked_body_gets_exact_length(server):
    setup_cgi(server, {"sum.sh": SUM})
    parts = [os.urandom(1000), os.urandom(70000), os.urandom(3)]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    data = get(server, "/cgi-bin/sum.sh", method="POST", body=chunked,
               headers="Transfer-Encoding: chunked\r\n")
    status, _, _, rest = parse_response(data)
    assert status == 200
    whole = b"".join(parts)
    assert b"length=%d\n" % len(whole) in rest
    assert hashlib.sha256(whole).hexdigest().encode() in rest


def test_cgi_status_and_cookies(server):
    script = """#!/bin/sh
printf 'Status: 404 Gone Fishing\\r\\nContent-Type: text/plain\\r\\n'
printf 'Set-Cookie: a=1\\r\\nSet-Cookie: b=2\\r\\nContent-Length: 5\\r\\n\\r\\nnope\\n'
"""
    setup_cgi(server, {"status.sh": script})
    data = get(server, "/cgi-bin/status.sh")
    assert data.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert data.count(b"\r\nSet-Cookie: ") == 2
    assert b"\r\nSet-Cookie: a=1\r\n" in data
    assert b"\r\nSet-Cookie: b=2\r\n" in data
    status, headers, body, rest = parse_response(data)
    assert headers["content-length"] == "5"
    assert body == b"nope\n"
    assert rest == b""


def test_cgi_local_redirect(server):
    script = "#!/bin/sh\nprintf 'Location: /static.txt\\n\\n'\n"
    setup_cgi(server, {"local.sh": script})
    status, headers, body, _ = parse_response(get(server, "/cgi-bin/local.sh"))
    assert status == 200
    assert body == b"static file\n"
    assert "location" not in headers


def test_cgi_client_redirect(server):
    script = "#!/bin/sh\nprintf 'Location: http://example.org/x\\n\\n'\n"
    setup_cgi(server, {"away.sh": script})
    status, headers, _, _ = parse_response(get(server, "/cgi-bin/away.sh"))
    assert status == 302
    assert headers["location"] == "http://example.org/x"


def test_cgi_nph_passes_through(server):
    script = "#!/bin/sh\nprintf 'HTTP/1.1 299 Odd\\r\\nX-Nph: yes\\r\\n\\r\\nraw body'\n"
    setup_cgi(server, {"nph-raw.sh": script})
    assert get(server, "/cgi-bin/nph-raw.sh") == b"HTTP/1.1 299 Odd\r\nX-Nph: yes\r\n\r\nraw body"


def test_cgi_stderr_goes_to_error_log(server):
    script = """#!/bin/sh
echo 'first complaint' >&2
echo 'second complaint' >&2
printf 'Content-Type: text/plain\\n\\nok'
"""
    setup_cgi(server, {"noisy.sh": script})
    status, _, _, rest = parse_response(get(server, "/cgi-bin/noisy.sh"))
    assert status == 200
    assert rest.endswith(b"2\r\nok\r\n0\r\n\r\n")
    log = server.log()
    assert "CGI %s/cgi-bin/noisy.sh: stderr: first complaint" % server.root in log
    assert "CGI %s/cgi-bin/noisy.sh: stderr: second complaint" % server.root in log


def test_cgi_head_request_has_no_body(server):
    setup_cgi(server, {"hello.sh": HELLO})
    data = get(server, "/cgi-bin/hello.sh", method="HEAD")
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\r\n\r\n")
    assert b"hello" not in data


def test_cgi_http10_without_length_closes(server):
    setup_cgi(server, {"hello.sh": HELLO})
    data = get(server, "/cgi-bin/hello.sh", version="1.0")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in head
    assert b"Connection: close" in head
    assert body == b"hello from cgi\n"


def test_cgi_missing_script_and_directory(server):
    setup_cgi(server, {"hello.sh": HELLO})
    os.makedirs(os.path.join(server.root, "cgi-bin", "sub"))
    assert parse_response(get(server, "/cgi-bin/nothing.sh"))[0] == 404
    assert parse_response(get(server, "/cgi-bin/sub/"))[0] == 403


def test_cgi_not_executable_is_502(server):
    setup_cgi(server, {"hello.sh": HELLO})
    server.write("cgi-bin/plain.sh", HELLO, mode=0o644)
    assert parse_response(get(server, "/cgi-bin/plain.sh"))[0] == 502
    assert "cannot execute" in server.log()


def test_cgi_timeout_kills_process_group(server):
    script = """#!/bin/sh
echo $$ > "$DOCUMENT_ROOT/../script.pid"
sleep 300 &
wait
"""
    os.chmod(server.dir, 0o777)
    setup_cgi(server, {"forever.sh": script}, globals_="backend_read_timeout = 1s\n")
    start = time.time()
    status, _, _, _ = parse_response(get(server, "/cgi-bin/forever.sh"))
    assert status == 504
    assert time.time() - start < 5
    with open(os.path.join(server.dir, "script.pid")) as f:
        pid = int(f.read())
    deadline = time.time() + 5
    while time.time() < deadline and os.path.exists("/proc/%d" % pid):
        time.sleep(0.1)
    assert not os.path.exists("/proc/%d" % pid), "the script outlived its timeout"
    assert "timed out" in server.log()


def test_cgi_large_output_and_keepalive(server):
    script = """#!/bin/sh
printf 'Content-Type: application/octet-stream\\n\\n'
head -c 5000000 /dev/zero
"""
    setup_cgi(server, {"big.sh": script, "hello.sh": HELLO})
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET /cgi-bin/big.sh HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"GET /cgi-bin/hello.sh HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    body = b""
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            rest = rest[2:]
            break
        body += rest[:size]
        rest = rest[size + 2:]
    assert body == b"\0" * 5000000
    status, _, _, tail = parse_response(rest)
    assert status == 200
    assert tail.endswith(b"hello from cgi\n\r\n0\r\n\r\n")


def test_cgi_leaves_no_zombies(server):
    setup_cgi(server, {"hello.sh": HELLO})
    for _ in range(20):
        assert parse_response(get(server, "/cgi-bin/hello.sh"))[0] == 200
    time.sleep(0.5)
    workers = server.workers()
    zombies = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) in workers:
            zombies.append(entry)
    assert zombies == []


def test_cgi_interim_status_is_502(server):
    script = "#!/bin/sh\nprintf 'Status: 100 Continue\\n\\n'\n"
    setup_cgi(server, {"interim.sh": script})
    assert parse_response(get(server, "/cgi-bin/interim.sh"))[0] == 502


def test_cgi_header_names_with_dots_dropped(server):
    setup_cgi(server, {"env.sh": ENV})
    data = get(server, "/cgi-bin/env.sh", headers="X.Custom: dotted\r\nX-Custom: plain\r\n", version="1.0")
    env = env_lines(parse_response(data)[3])
    assert env["HTTP_X_CUSTOM"] == "plain"


def test_cgi_invalid_local_redirect_closes_cleanly(server):
    script = "#!/bin/sh\nprintf 'Location: /../x\\n\\n'\n"
    setup_cgi(server, {"bad.sh": script})
    for _ in range(20):
        assert parse_response(get(server, "/cgi-bin/bad.sh"))[0] in (400, 502)
    time.sleep(0.3)
    for pid in server.workers():
        fds = os.listdir("/proc/%d/fd" % pid)
        assert len(fds) < 20, "worker %d holds %d descriptors" % (pid, len(fds))


def test_cgi_slow_upload_outlives_read_timeout(server):
    setup_cgi(server, {"sum.sh": SUM}, globals_="backend_read_timeout = 1s\n")
    body = os.urandom(4000)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"POST /cgi-bin/sum.sh HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
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
    status, _, _, rest = parse_response(data)
    assert status == 200
    assert hashlib.sha256(body).hexdigest().encode() in rest


def test_cgi_client_gone_stops_script(server):
    script = """#!/bin/sh
sleep 2
touch "$DOCUMENT_ROOT/../finished"
printf 'Content-Type: text/plain\\n\\ndone'
"""
    os.chmod(server.dir, 0o777)
    setup_cgi(server, {"slow.sh": script})
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET /cgi-bin/slow.sh HTTP/1.1\r\nHost: a\r\n\r\n")
        time.sleep(0.3)
    time.sleep(3)
    assert not os.path.exists(os.path.join(server.dir, "finished")), "the script ran on for nobody"
    assert "connection closed before the application answered" in server.log()


def test_cgi_perl_script_with_body(server):
    with open(os.path.join(os.path.dirname(__file__), "..", "apps", "cgi", "env.pl")) as f:
        setup_cgi(server, {"env.pl": f.read()})
    body = os.urandom(500000)
    data = get(server, "/cgi-bin/env.pl/info?k=v", method="POST", body=body, version="1.0",
               headers="Content-Length: %d\r\nContent-Type: application/octet-stream\r\n" % len(body))
    status, headers, _, rest = parse_response(data)
    assert status == 200
    assert headers["content-type"] == "text/plain"
    lines = "\n" + rest.decode("latin-1")
    assert "\nREQUEST_METHOD=POST\n" in lines
    assert "\nPATH_INFO=/info\n" in lines
    assert "\nQUERY_STRING=k=v\n" in lines
    assert "\nCONTENT_TYPE=application/octet-stream\n" in lines
    assert "BODY %d %s\n" % (len(body), hashlib.sha256(body).hexdigest()) in lines
