"""HTTP/1.1 framing and request-line checks: an ambiguous or invalid request
gets an exact error status and the connection is closed, so a request
pipelined behind it never gets a response."""

import socket
import ssl
import time

import pytest

from conftest import exchange, parse_response, parse_responses, wait_until

FILE_BODY = b"hello, framing\n"

# A valid request sent right behind each bad one. A response to it would mean
# that the server guessed where the bad request ended.
FOLLOW = b"GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n"
FOLLOW_CLOSE = b"GET /f.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"


@pytest.fixture
def srv(server):
    """A started server with /f.txt; after the test, checks that no worker died."""
    server.write("f.txt", FILE_BODY)
    server.config(locations="location / { }")
    server.start()
    assert wait_until(lambda: len(server.workers()) == 2)
    pids = server.workers()
    yield server
    assert server.workers() == pids
    assert "killed by signal" not in server.log()


def assert_rejected(server, raw, status):
    """Sends raw with a valid request behind it and checks that exactly one
    response, with `status` and "Connection: close", comes back before the
    server closes the connection."""
    data, closed = exchange(server.port, raw + FOLLOW)
    responses = parse_responses(data)
    assert [r[0] for r in responses] == [status], data[:300]
    assert responses[0][1]["connection"] == "close"
    assert closed


def assert_served_twice(server, raw):
    """Sends raw and a valid request behind it; both must get /f.txt."""
    data, closed = exchange(server.port, raw + FOLLOW_CLOSE)
    responses = parse_responses(data)
    assert [r[0] for r in responses] == [200, 200], data[:300]
    assert [r[2] for r in responses] == [FILE_BODY, FILE_BODY]
    assert closed


def get(headers=b"", body=b"", line=b"GET /f.txt HTTP/1.1"):
    return line + b"\r\nHost: a\r\n" + headers + b"\r\n" + body


# Requests whose framing or header syntax is ambiguous: RFC 9112 requires a
# 400 and a close for each, since a proxy in front may have read them otherwise.
AMBIGUOUS = [
    pytest.param(get(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
                 id="content-length then transfer-encoding"),
    pytest.param(get(b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", b"0\r\n\r\n"),
                 id="transfer-encoding then content-length"),
    pytest.param(get(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello"),
                 id="two equal content-length"),
    pytest.param(get(b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!"),
                 id="two different content-length"),
    pytest.param(get(b"Content-Length: 5, 5\r\n", b"hello"), id="content-length list"),
    pytest.param(get(b"Content-Length: 12a\r\n", b"hello"), id="content-length 12a"),
    pytest.param(get(b"Content-Length: -1\r\n"), id="content-length -1"),
    pytest.param(get(b"Content-Length: +5\r\n", b"hello"), id="content-length +5"),
    pytest.param(get(b"Content-Length: 5 5\r\n", b"hello"), id="content-length 5 space 5"),
    pytest.param(get(b"Content-Length: 0x5\r\n", b"hello"), id="content-length hex"),
    pytest.param(get(b"Content-Length:\r\n"), id="content-length empty"),
    pytest.param(get(b"Content-Length: 9223372036854775808\r\n"), id="content-length 2^63"),
    pytest.param(get(b"Content-Length: 18446744073709551616\r\n"), id="content-length 2^64"),
    pytest.param(get(b"Content-Length: 99999999999999999999999999\r\n"), id="content-length huge"),
    pytest.param(get(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
                 id="two transfer-encoding"),
    pytest.param(get(b"X-A: one\r\n two\r\n"), id="obs-fold with space"),
    pytest.param(get(b"X-A: one\r\n\ttwo\r\n"), id="obs-fold with tab"),
    pytest.param(b"GET /f.txt HTTP/1.1\r\n Host: a\r\n\r\n", id="space before first header"),
    pytest.param(get(b"X-A : b\r\n"), id="space before colon"),
    pytest.param(get(b"X-A\t: b\r\n"), id="tab before colon"),
    pytest.param(get(b"Content-Length : 5\r\n", b"hello"), id="space before colon of content-length"),
    pytest.param(get(line=b"GET /f.txt\rX HTTP/1.1"), id="bare CR in request line"),
    pytest.param(get(line=b"GET /f.txt HTTP/1.1\r"), id="CR CR LF after request line"),
    pytest.param(get(b"X-A: one\rtwo\r\n"), id="bare CR in header value"),
    pytest.param(get(b"X-A: one\r\r\n"), id="CR CR LF after header"),
    pytest.param(get(b"X\rA: b\r\n"), id="bare CR in header name"),
    pytest.param(get(b"X-A: one\x00two\r\n"), id="NUL in header value"),
    pytest.param(get(b"X\x00A: b\r\n"), id="NUL in header name"),
    pytest.param(get(line=b"GET /f\x00.txt HTTP/1.1"), id="NUL in target"),
    pytest.param(get(b"X-A b\r\n"), id="header without colon"),
    pytest.param(get(b": b\r\n"), id="empty header name"),
    pytest.param(get(b"X(A): b\r\n"), id="parenthesis in header name"),
    pytest.param(get(b"X@A: b\r\n"), id="at sign in header name"),
    pytest.param(get(b'X"A: b\r\n'), id="quote in header name"),
    pytest.param(get(b"X/A: b\r\n"), id="slash in header name"),
    pytest.param(get(b"X\xe9A: b\r\n"), id="non-ASCII in header name"),
    pytest.param(get(b"X A: b\r\n"), id="space inside header name"),
]


@pytest.mark.parametrize("raw", AMBIGUOUS)
def test_ambiguous_request_rejected(srv, raw):
    assert_rejected(srv, raw, 400)


def test_content_length_with_ows_frames_body(srv):
    # Spaces around a field value are not part of it (RFC 9110 5.5).
    assert_served_twice(srv, get(b"Content-Length:   5  \r\n", b"hello"))


def test_content_length_zero_has_no_body(srv):
    assert_served_twice(srv, get(b"Content-Length: 0\r\n"))


# Transfer codings

def test_transfer_encoding_gzip_is_501(srv):
    assert_rejected(srv, get(b"Transfer-Encoding: gzip\r\n", b"hello"), 501)


def test_transfer_encoding_gzip_chunked_is_501(srv):
    assert_rejected(srv, get(b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n"), 501)


def test_chunked_in_http10_rejected(srv):
    raw = b"GET /f.txt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    assert_rejected(srv, raw, 400)


def test_chunked_body_with_extensions_and_trailers(srv):
    body = (b"5;name=value;quoted=\"a b\"\r\nhello\r\n"
            b"7 ; x\r\n, world\r\n"
            b"0\r\nX-Trailer: one\r\nX-Other: two\r\n\r\n")
    assert_served_twice(srv, get(b"Transfer-Encoding: chunked\r\n", body))


def test_chunked_name_is_case_insensitive(srv):
    assert_served_twice(srv, get(b"Transfer-Encoding: Chunked\r\n", b"3\r\nabc\r\n0\r\n\r\n"))


def test_chunked_body_split_across_reads(srv):
    head = get(b"Transfer-Encoding: chunked\r\n")
    body = b"a;e=1\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", srv.port), timeout=3) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(head)
        for i in range(len(body)):
            time.sleep(0.002)
            s.sendall(body[i:i + 1])
        s.sendall(FOLLOW_CLOSE)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    assert [r[0] for r in parse_responses(data)] == [200, 200]


def test_chunk_size_of_15_digits_accepted(srv):
    body = b"000000000000005\r\nhello\r\n0\r\n\r\n"
    assert_served_twice(srv, get(b"Transfer-Encoding: chunked\r\n", body))


def test_chunk_size_of_16_digits_rejected(srv):
    body = b"0000000000000005\r\nhello\r\n0\r\n\r\n"
    assert_rejected(srv, get(b"Transfer-Encoding: chunked\r\n", body), 400)


def test_chunk_size_overflowing_int64_rejected(srv):
    body = b"ffffffffffffffffff\r\nhello\r\n0\r\n\r\n"
    assert_rejected(srv, get(b"Transfer-Encoding: chunked\r\n", body), 400)


def test_chunk_extension_of_200_bytes_accepted(srv):
    body = b"5;" + b"e" * 200 + b"\r\nhello\r\n0\r\n\r\n"
    assert_served_twice(srv, get(b"Transfer-Encoding: chunked\r\n", body))


def test_chunk_extension_over_256_bytes_rejected(srv):
    body = b"5;" + b"e" * 300 + b"\r\nhello\r\n0\r\n\r\n"
    assert_rejected(srv, get(b"Transfer-Encoding: chunked\r\n", body), 400)


@pytest.mark.parametrize("size_line", [b"zz", b"-5", b"0x5", b"5g", b"", b";e=1", b"5\x00"],
                         ids=["zz", "minus", "0x prefix", "trailing letter", "empty", "extension only",
                              "NUL"])
def test_invalid_chunk_size_rejected(srv, size_line):
    body = size_line + b"\r\nhello\r\n0\r\n\r\n"
    assert_rejected(srv, get(b"Transfer-Encoding: chunked\r\n", body), 400)


@pytest.mark.parametrize("body", [b"5\r\nhelloX\r\n0\r\n\r\n", b"5\r\nhello0\r\n\r\n",
                                  b"5\r\nhello\rX0\r\n\r\n", b"5\r\nhello world\r\n0\r\n\r\n"],
                         ids=["byte before CRLF", "no CRLF", "CR without LF", "data longer than size"])
def test_chunk_data_without_crlf_rejected(srv, body):
    assert_rejected(srv, get(b"Transfer-Encoding: chunked\r\n", body), 400)


# Request line

def test_unknown_method_is_501(srv):
    assert_rejected(srv, b"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n", 501)


def client_hello():
    """Returns the first bytes a TLS client sends: a ClientHello record."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="a.test")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def test_tls_client_hello_rejected_at_once(srv):
    # The client then waits for the server, so the 400 must not wait for a
    # line end or for client_header_timeout (60 s here).
    hello = client_hello()
    assert hello[0] == 0x16
    start = time.monotonic()
    data, closed = exchange(srv.port, hello, timeout=5)
    assert time.monotonic() - start < 3
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert closed


def test_binary_without_line_end_rejected_at_once(srv):
    garbage = client_hello().replace(b"\n", b"").replace(b"\r", b"")
    start = time.monotonic()
    data, closed = exchange(srv.port, garbage, timeout=5)
    assert time.monotonic() - start < 3
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert closed


@pytest.mark.parametrize("version", [b"HTTP/2.0", b"HTTP/3.0", b"HTTP/0.9"])
def test_unsupported_version_is_505(srv, version):
    assert_rejected(srv, b"GET /f.txt " + version + b"\r\nHost: a\r\n\r\n", 505)


def test_http11_without_host_rejected(srv):
    assert_rejected(srv, b"GET /f.txt HTTP/1.1\r\n\r\n", 400)


@pytest.mark.parametrize("hosts", [b"Host: a\r\nHost: b\r\n", b"Host: a\r\nHost: a\r\n"],
                         ids=["different", "equal"])
def test_two_host_headers_rejected(srv, hosts):
    assert_rejected(srv, b"GET /f.txt HTTP/1.1\r\n" + hosts + b"\r\n", 400)


def test_fragment_in_target_rejected(srv):
    assert_rejected(srv, get(line=b"GET /f.txt#top HTTP/1.1"), 400)


def test_connect_rejected(srv):
    # CONNECT requests a tunnel, which an origin server does not provide.
    assert_rejected(srv, b"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n", 400)


def test_empty_lines_before_request_line_ignored(srv):
    data, closed = exchange(srv.port, b"\r\n\n\r\n" + FOLLOW_CLOSE)
    responses = parse_responses(data)
    assert [r[0] for r in responses] == [200]
    assert responses[0][2] == FILE_BODY
    assert closed


def test_empty_lines_between_pipelined_requests_ignored(srv):
    assert_served_twice(srv, FOLLOW + b"\r\n\r\n")


def test_absolute_form_target_picks_server(server):
    body = """
server a {
  listen = { "127.0.0.1:%d" }
  server_name = { a.test }
  location / { return = "200 server a" }
}
server b {
  listen = { "127.0.0.1:%d" }
  server_name = { b.test }
  location / { return = "200 server b" }
}
""" % (server.port, server.port)
    server.config(body=body)
    server.start()
    raw = (b"GET http://a.test/x HTTP/1.1\r\nHost: b.test\r\n\r\n"
           b"GET http://b.test:8080/x?q=1 HTTP/1.1\r\nHost: a.test\r\n\r\n"
           b"GET /x HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n")
    data, closed = exchange(server.port, raw)
    responses = parse_responses(data)
    assert [r[0] for r in responses] == [200, 200, 200]
    assert [r[2] for r in responses] == [b"server a", b"server b", b"server b"]
    assert closed


def start_two_servers(server, extra=""):
    """Starts servers a.test and b.test on one address. Each responds with
    its own name through `return`."""
    body = """
server a {
  listen = { "127.0.0.1:%d" }
  server_name = { a.test }
  location / { return = "200 server a" }
  %s
}
server b {
  listen = { "127.0.0.1:%d" }
  server_name = { b.test }
  location / { return = "200 server b" }
}
""" % (server.port, extra, server.port)
    server.config(body=body)
    server.start()


@pytest.mark.parametrize("target", [b"http://a.test", b"http://a.test?q=1", b"HTTP://A.test:80"],
                         ids=["no path", "query without path", "upper-case scheme and port"])
def test_absolute_form_with_empty_path(server, target):
    start_two_servers(server)
    raw = b"GET " + target + b" HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n"
    data, closed = exchange(server.port, raw)
    responses = parse_responses(data)
    assert [(r[0], r[2]) for r in responses] == [(200, b"server a")]
    assert closed


@pytest.mark.parametrize("target", [b"http://u@a.test/x", b"http:///x", b"http://a b/x", b"*"],
                         ids=["userinfo", "empty authority", "space in authority", "asterisk"])
def test_invalid_target_rejected(srv, target):
    assert_rejected(srv, b"GET " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n", 400)


def test_absolute_form_request_uri_is_path_and_query(server):
    start_two_servers(server, extra='location /r { return = "301 https://$host$request_uri" }')
    raw = b"GET http://a.test/r?q=1 HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n"
    status, headers, _, _ = parse_response(exchange(server.port, raw)[0])
    assert status == 301
    assert headers["location"] == "https://a.test/r?q=1"


@pytest.mark.parametrize("host", [b"a b", b"a/b", b"a@b", b"[::1", b"a\tb"])
def test_invalid_host_rejected(srv, host):
    assert_rejected(srv, b"GET /f.txt HTTP/1.1\r\nHost: " + host + b"\r\n\r\n", 400)


def test_upgrade_request_served_as_plain_request(srv):
    # A server may ignore Upgrade (RFC 9110 7.8); the connection stays HTTP/1.1.
    raw = get(b"Connection: Upgrade\r\nUpgrade: websocket\r\n")
    assert_served_twice(srv, raw)


# Expect

def test_expect_100_continue_before_body(srv):
    head = get(b"Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=3) as s:
        s.sendall(head)
        interim = b""
        while len(interim) < 25:
            chunk = s.recv(25 - len(interim))
            assert chunk, "connection closed before 100 Continue"
            interim += chunk
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"hello")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    responses = parse_responses(data)
    assert [r[0] for r in responses] == [200]
    assert responses[0][2] == FILE_BODY


def test_expect_100_continue_without_body_has_no_interim(srv):
    data, closed = exchange(srv.port, get(b"Expect: 100-continue\r\nConnection: close\r\n"))
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert closed


def test_expect_100_continue_in_http10_has_no_interim(srv):
    raw = b"GET /f.txt HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    with socket.create_connection(("127.0.0.1", srv.port), timeout=3) as s:
        s.sendall(raw)
        s.settimeout(0.5)
        with pytest.raises(socket.timeout):
            s.recv(100)
        s.settimeout(3)
        s.sendall(b"hello")
        assert s.recv(17) == b"HTTP/1.1 200 OK\r\n"


def test_unknown_expectation_is_417(srv):
    assert_rejected(srv, get(b"Expect: 200-ok\r\n"), 417)
