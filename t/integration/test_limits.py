"""Limits that protect a worker: request line, header and body sizes,
timeouts for slow clients, and hostile clients that must not crash a worker
or stall the others."""

import random
import selectors
import socket
import struct
import time

import pytest

from conftest import exchange, parse_response, parse_responses, wait_until

FILE_BODY = b"hello, limits\n"
FOLLOW = b"GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n"
FOLLOW_CLOSE = b"GET /f.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
BIG_SIZE = 32 * 1024 * 1024

# Short timeouts keep the timeout tests fast. The sweep that enforces them
# runs every 0.5 s, so a timeout fires between 1 and 1.5 s after its start.
TIMEOUTS = """client_header_timeout = 1s
client_body_timeout = 1s
keepalive_timeout = 1s
send_timeout = 1s
"""


def start(server, workers=2, big=False, timeouts=TIMEOUTS):
    server.write("f.txt", FILE_BODY)
    if big:
        server.write("big.bin", b"z" * BIG_SIZE)
    server.config(globals_=timeouts, workers=workers, server_extra='client_max_body_size = "1k"',
                  locations="location / { }")
    server.start()
    assert wait_until(lambda: len(server.workers()) == workers)
    return server.workers()


@pytest.fixture
def srv(server):
    """A started server; after the test, checks that no worker died."""
    pids = start(server)
    yield server
    assert server.workers() == pids
    assert "killed by signal" not in server.log()


def assert_rejected(server, raw, status):
    """Checks that raw, with a valid request behind it, gets one response with
    `status` and "Connection: close", and that the server then closes."""
    data, closed = exchange(server.port, raw + FOLLOW)
    responses = parse_responses(data)
    assert [r[0] for r in responses] == [status], data[:300]
    assert responses[0][1]["connection"] == "close"
    assert closed


def assert_served(server, raw):
    """Checks that raw and a valid request behind it both get /f.txt."""
    data, closed = exchange(server.port, raw + FOLLOW_CLOSE)
    responses = parse_responses(data)
    assert [r[0] for r in responses] == [200, 200], data[:300]
    assert [r[2] for r in responses] == [FILE_BODY, FILE_BODY]
    assert closed


def request_line_of(length):
    """Returns a request line for /f.txt that is `length` bytes long without CRLF."""
    prefix, suffix = b"GET /f.txt?", b" HTTP/1.1"
    return prefix + b"q" * (length - len(prefix) - len(suffix)) + suffix


def header_of(length):
    """Returns a header line that is `length` bytes long without CRLF."""
    return b"X-Long: " + b"v" * (length - 8)


# Head sizes

def test_request_line_of_8k_accepted(srv):
    line = request_line_of(8192)
    assert len(line) == 8192
    assert_served(srv, line + b"\r\nHost: a\r\n\r\n")


def test_request_line_over_8k_is_414(srv):
    assert_rejected(srv, request_line_of(8193) + b"\r\nHost: a\r\n\r\n", 414)


def test_unfinished_request_line_over_8k_is_414(srv):
    # No line end yet: the 414 must not wait for one, nor for the timeout.
    data, closed = exchange(srv.port, request_line_of(9000), timeout=0.8)
    assert parse_response(data)[0] == 414
    assert closed


def test_header_line_of_8k_accepted(srv):
    assert_served(srv, b"GET /f.txt HTTP/1.1\r\nHost: a\r\n" + header_of(8192) + b"\r\n\r\n")


def test_header_line_over_8k_is_431(srv):
    raw = b"GET /f.txt HTTP/1.1\r\nHost: a\r\n" + header_of(8193) + b"\r\n\r\n"
    assert_rejected(srv, raw, 431)


def test_unfinished_header_line_over_8k_is_431(srv):
    data, closed = exchange(srv.port, b"GET /f.txt HTTP/1.1\r\nHost: a\r\n" + header_of(9000),
                            timeout=0.8)
    assert parse_response(data)[0] == 431
    assert closed


def many_headers(count, size):
    return b"".join(b"X-H%d: %s\r\n" % (i, b"v" * size) for i in range(count))


def test_head_under_64k_accepted(srv):
    assert_served(srv, b"GET /f.txt HTTP/1.1\r\nHost: a\r\n" + many_headers(8, 7500) + b"\r\n")


def test_head_over_64k_is_431(srv):
    # Each line is under the 8 KiB line limit; only the total is too large.
    raw = b"GET /f.txt HTTP/1.1\r\nHost: a\r\n" + many_headers(9, 7500) + b"\r\n"
    assert len(raw) > 64 * 1024
    assert_rejected(srv, raw, 431)


def test_unfinished_head_over_64k_is_431(srv):
    raw = b"GET /f.txt HTTP/1.1\r\nHost: a\r\n" + many_headers(10, 7500)
    data, closed = exchange(srv.port, raw, timeout=0.8)
    assert parse_response(data)[0] == 431
    assert closed


def test_256_headers_accepted(srv):
    assert_served(srv, b"GET /f.txt HTTP/1.1\r\nHost: a\r\n" + many_headers(255, 1) + b"\r\n")


def test_257_headers_is_431(srv):
    raw = b"GET /f.txt HTTP/1.1\r\nHost: a\r\n" + many_headers(256, 1) + b"\r\n"
    assert_rejected(srv, raw, 431)


def test_head_moved_in_read_buffer_keeps_request_line(srv):
    # The first read ends inside the second request's headers, so the server
    # must move the unparsed bytes to make room; the 501 test then looks at
    # the request line again.
    raw = FOLLOW + b"BREW /pot HTTP/1.1\r\nHost: a\r\n" + header_of(6000) + b"\r\n\r\n"
    data, closed = exchange(srv.port, raw)
    assert [r[0] for r in parse_responses(data)] == [200, 501]
    assert closed


def test_head_split_across_reads_keeps_request_line(srv):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=3) as s:
        s.sendall(b"BREW /pot HTTP/1.1\r\nHost: a\r\n")
        time.sleep(0.1)
        s.sendall(header_of(6000) + b"\r\n")
        time.sleep(0.1)
        s.sendall(header_of(6000) + b"\r\n\r\n")
        data, _ = read_until_closed(s, 3)
    assert parse_response(data)[0] == 501


def test_head_filling_read_buffer_then_body(srv):
    # The head fills the first read exactly and the body comes later, so the
    # buffer grows while the parsed Range header still points into it.
    head = b"GET /f.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=0-4\r\nContent-Length: 5\r\n"
    pad = 4096 - len(head) - len(b"X-Pad: \r\n\r\n")
    head += b"X-Pad: " + b"p" * pad + b"\r\n\r\n"
    assert len(head) == 4096
    with socket.create_connection(("127.0.0.1", srv.port), timeout=3) as s:
        s.sendall(head)
        time.sleep(0.2)
        s.sendall(b"hello" + FOLLOW_CLOSE)
        data, _ = read_until_closed(s, 3)
    responses = parse_responses(data)
    assert [r[0] for r in responses] == [206, 200]
    assert responses[0][2] == FILE_BODY[:5]


# Body size: client_max_body_size is 1k in this file's server.

def test_body_at_limit_accepted(srv):
    assert_served(srv, b"GET /f.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 1024\r\n\r\n" + b"b" * 1024)


def test_content_length_over_limit_is_413(srv):
    # The 413 comes before the body is read, so no body is sent here.
    data, closed = exchange(srv.port, b"GET /f.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 1025\r\n\r\n")
    responses = parse_responses(data)
    assert [r[0] for r in responses] == [413]
    assert responses[0][1]["connection"] == "close"
    assert closed


def test_content_length_over_limit_with_body_is_413(srv):
    raw = b"GET /f.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 4096\r\n\r\n" + b"b" * 4096
    assert_rejected(srv, raw, 413)


def chunked(body, size):
    out = b""
    for i in range(0, len(body), size):
        piece = body[i:i + size]
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
    return out + b"0\r\n\r\n"


def test_chunked_body_at_limit_accepted(srv):
    raw = b"GET /f.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(b"c" * 1024, 300)
    assert_served(srv, raw)


def test_chunked_body_growing_past_limit_is_413(srv):
    raw = b"GET /f.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(b"c" * 1500, 300)
    assert_rejected(srv, raw, 413)


def test_chunked_body_past_limit_sent_slowly_is_413(srv):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=3) as s:
        s.sendall(b"GET /f.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(5):
            s.sendall(b"100\r\n" + b"c" * 256 + b"\r\n")
            time.sleep(0.05)
        data = s.recv(65536)
    assert data.startswith(b"HTTP/1.1 413 Content Too Large\r\n")


def test_expect_100_continue_over_limit_is_413_without_interim(srv):
    raw = b"GET /f.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n"
    data, closed = exchange(srv.port, raw)
    assert data.startswith(b"HTTP/1.1 413 Content Too Large\r\n")
    assert closed


# Timeouts: 1 s each in this file's configuration.

def read_until_closed(sock, timeout):
    """Reads until EOF or reset; returns (data, seconds it took)."""
    start = time.monotonic()
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data, time.monotonic() - start


def test_partial_head_is_408(srv):
    with socket.create_connection(("127.0.0.1", srv.port)) as s:
        s.sendall(b"GET /f.txt HTTP/1.1\r\nHost: a\r\n")
        data, elapsed = read_until_closed(s, 5)
    status, headers, _, rest = parse_response(data)
    assert status == 408
    assert headers["connection"] == "close"
    assert rest == b""
    assert 0.9 < elapsed < 3


def test_silent_connection_closed_without_response(srv):
    with socket.create_connection(("127.0.0.1", srv.port)) as s:
        data, elapsed = read_until_closed(s, 5)
    assert data == b""
    assert 0.9 < elapsed < 3


def test_empty_lines_do_not_extend_header_timeout(srv):
    with socket.create_connection(("127.0.0.1", srv.port)) as s:
        start_time = time.monotonic()
        s.settimeout(0.3)
        data = b""
        while time.monotonic() - start_time < 5:
            try:
                s.sendall(b"\r\n")
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if not chunk:
                break
            data += chunk
        elapsed = time.monotonic() - start_time
    assert data == b""
    assert elapsed < 3


def test_partial_body_is_408(srv):
    with socket.create_connection(("127.0.0.1", srv.port)) as s:
        s.sendall(b"GET /f.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
        data, elapsed = read_until_closed(s, 5)
    status, headers, _, rest = parse_response(data)
    assert status == 408
    assert headers["connection"] == "close"
    assert rest == b""
    assert 0.9 < elapsed < 3


def test_slow_head_sender_is_408_despite_progress(srv):
    # client_header_timeout bounds the whole head, not the gap between bytes.
    with socket.create_connection(("127.0.0.1", srv.port)) as s:
        start = time.monotonic()
        s.settimeout(0.3)
        data = b""
        for ch in b"GET /f.txt HTTP/1.1\r\nHost: a\r\nX-Slow: " + b"s" * 40:
            try:
                s.sendall(bytes([ch]))
            except OSError:
                break
            try:
                data += s.recv(65536)
                break
            except socket.timeout:
                pass
        elapsed = time.monotonic() - start
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert elapsed < 3


def test_unread_response_cut_after_send_timeout(server):
    pids = start(server, workers=1, big=True)
    with socket.socket() as stalled:
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", server.port))
        stalled.sendall(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")

        # The only worker must go on serving others while that client stalls.
        for _ in range(3):
            data, closed = exchange(server.port, FOLLOW_CLOSE, timeout=2)
            status, _, body, _ = parse_response(data)
            assert (status, body) == (200, FILE_BODY)
            assert closed
        assert wait_until(lambda: "send timed out" in server.log(), timeout=4)

        data, _ = read_until_closed(stalled, 5)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert len(data) < BIG_SIZE
    assert server.workers() == pids


# Hostile clients: none of them may crash a worker.

def test_200_connections_sending_a_byte_at_a_time(server):
    # Default timeouts: sending 200 heads a byte at a time may take longer
    # than 1 s on a slow (sanitizer) build.
    pids = start(server, timeouts="")
    srv = server
    request = b"GET /f.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    socks = []
    try:
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            socks.append(s)
        for i in range(len(request)):
            for s in socks:
                s.sendall(request[i:i + 1])
            time.sleep(0.005)

        sel = selectors.DefaultSelector()
        received = {}
        for s in socks:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            received[s] = b""
        open_count = len(socks)
        deadline = time.monotonic() + 10
        while open_count and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                chunk = key.fileobj.recv(65536)
                if chunk:
                    received[key.fileobj] += chunk
                else:
                    sel.unregister(key.fileobj)
                    open_count -= 1
        sel.close()
    finally:
        for s in socks:
            s.close()
    assert open_count == 0
    statuses = [parse_response(data)[0] for data in received.values()]
    bodies = [parse_response(data)[2] for data in received.values()]
    assert statuses == [200] * 200
    assert bodies == [FILE_BODY] * 200
    assert srv.workers() == pids
    assert "killed by signal" not in srv.log()


def test_client_reset_mid_response(server):
    pids = start(server, workers=1, big=True)
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", server.port), timeout=3) as s:
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
            assert s.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
            # SO_LINGER with a zero timeout makes close() send RST.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    data, closed = exchange(server.port, FOLLOW_CLOSE)
    assert parse_response(data)[2] == FILE_BODY
    assert closed
    assert server.workers() == pids
    assert "killed by signal" not in server.log()


def test_client_reset_with_pipelined_requests_pending(srv):
    pids = srv.workers()
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=3) as s:
            s.sendall(FOLLOW * 50)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    data, closed = exchange(srv.port, FOLLOW_CLOSE)
    assert parse_response(data)[2] == FILE_BODY
    assert srv.workers() == pids


def test_random_bytes_do_not_crash_worker(srv):
    pids = srv.workers()
    for seed in range(20):
        garbage = random.Random(seed).randbytes(2048)
        data, closed = exchange(srv.port, garbage, timeout=3)
        if data:
            assert data.startswith(b"HTTP/1.1 4")
        assert closed
    assert srv.workers() == pids
