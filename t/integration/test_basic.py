"""Basic HTTP/1.1 serving: status lines, headers, keep-alive, pipelining, HEAD."""

import http.client
import re

from conftest import parse_response, parse_responses


def start(server):
    server.write("index.html", "<h1>hello</h1>\n")
    server.write("1k.bin", b"x" * 1024)
    server.config(locations='location / { }')
    return server.start()


def test_get_index(server):
    start(server)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/")
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.read() == b"<h1>hello</h1>\n"
    assert resp.getheader("Content-Type") == "text/html; charset=utf-8"
    assert resp.getheader("Content-Length") == "15"
    assert resp.getheader("Server") == "zserver"
    assert re.fullmatch(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT",
                        resp.getheader("Date"))
    assert resp.getheader("Accept-Ranges") == "bytes"


def test_keepalive_reuses_connection(server):
    start(server)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    for _ in range(5):
        conn.request("GET", "/1k.bin")
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.read() == b"x" * 1024
    assert conn.sock is not None


def test_pipelined_requests_answered_in_order(server):
    start(server)
    raw = ("GET /1k.bin HTTP/1.1\r\nHost: a\r\n\r\n"
           "GET /missing HTTP/1.1\r\nHost: a\r\n\r\n"
           "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    responses = parse_responses(server.request(raw))
    assert [r[0] for r in responses] == [200, 404, 200]
    assert responses[0][2] == b"x" * 1024
    assert responses[2][2] == b"<h1>hello</h1>\n"
    assert responses[2][1]["connection"] == "close"


def test_head_has_length_but_no_body(server):
    start(server)
    data = server.request("HEAD /1k.bin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nContent-Length: 1024\r\n" in head + b"\r\n"
    assert body == b""


def test_http10_closes_unless_keepalive(server):
    start(server)
    data = server.request("GET /1k.bin HTTP/1.0\r\n\r\n")
    status, headers, body, rest = parse_response(data)
    assert (status, len(body), rest) == (200, 1024, b"")
    data = server.request("GET /1k.bin HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                          "GET /1k.bin HTTP/1.0\r\n\r\n")
    responses = parse_responses(data)
    assert [r[0] for r in responses] == [200, 200]
    assert responses[0][1]["connection"] == "keep-alive"


def test_missing_file_is_404(server):
    start(server)
    status, headers, body, _ = parse_response(
        server.request("GET /nope HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
    assert status == 404
    assert headers["content-type"] == "text/html"
    assert b"404 Not Found" in body


def test_post_to_static_is_405(server):
    start(server)
    status, headers, _, _ = parse_response(server.request(
        "POST /1k.bin HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"))
    assert status == 405
    assert headers["allow"] == "GET, HEAD"
