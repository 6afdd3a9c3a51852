"""Persistent connections: pipelining, keepalive_requests, Connection: close,
client half-close and the keep-alive idle timeout."""

import socket
import time

import pytest

from conftest import exchange, parse_response, parse_responses, wait_until

BIG_SIZE = 1024 * 1024


def get(path, extra=b""):
    return b"GET " + path + b" HTTP/1.1\r\nHost: a\r\n" + extra + b"\r\n"


def start(server, globals_=""):
    server.write("f.txt", b"hello, keep-alive\n")
    server.write("big.bin", bytes(range(256)) * (BIG_SIZE // 256))
    for i in range(100):
        server.write("n%d.txt" % i, "file %d\n" % i)
    server.config(globals_=globals_, locations="location / { }")
    server.start()
    assert wait_until(lambda: len(server.workers()) == 2)
    return server.workers()


@pytest.fixture
def srv(server):
    """A started server with default settings; after the test, checks that no
    worker died."""
    pids = start(server)
    yield server
    assert server.workers() == pids
    assert "killed by signal" not in server.log()


def read_until_closed(sock, timeout=5):
    """Reads until EOF; returns (data, seconds it took)."""
    start = time.monotonic()
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data, time.monotonic() - start


def test_100_pipelined_requests_answered_in_order(srv):
    # Every tenth request is for a missing file, so that the order of
    # responses is checked on statuses as well as bodies.
    raw = b""
    expected = []
    for i in range(100):
        extra = b"Connection: close\r\n" if i == 99 else b""
        if i % 10 == 3:
            raw += get(b"/missing%d" % i, extra)
            expected.append((404, None))
        else:
            raw += get(b"/n%d.txt" % i, extra)
            expected.append((200, b"file %d\n" % i))
    data, closed = exchange(srv.port, raw)
    responses = parse_responses(data)
    assert [r[0] for r in responses] == [e[0] for e in expected]
    for (status, headers, body), (_, want) in zip(responses, expected):
        if want is not None:
            assert body == want
    assert [r[1].get("connection") for r in responses] == [None] * 99 + ["close"]
    assert closed


def test_keepalive_requests_closes_after_third(server):
    pids = start(server, globals_="keepalive_requests = 3\n")
    data, closed = exchange(server.port, get(b"/n1.txt") * 5)
    responses = parse_responses(data)
    assert [r[0] for r in responses] == [200, 200, 200]
    assert [r[1].get("connection") for r in responses] == [None, None, "close"]
    assert closed
    assert server.workers() == pids


def test_keepalive_requests_counts_sequential_requests(server):
    start(server, globals_="keepalive_requests = 3\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as s:
        for i in range(3):
            s.sendall(get(b"/n%d.txt" % i))
            data = b""
            while b"\n" not in data.partition(b"\r\n\r\n")[2]:
                chunk = s.recv(65536)
                assert chunk, "closed after %d responses" % i
                data += chunk
            status, headers, body, rest = parse_response(data)
            assert (status, body, rest) == (200, b"file %d\n" % i, b"")
            assert headers.get("connection") == ("close" if i == 2 else None)
        s.settimeout(3)
        assert s.recv(65536) == b""


@pytest.mark.parametrize("value", [b"close", b"Close"])
def test_connection_close_answered_then_closed(srv, value):
    data, closed = exchange(srv.port, get(b"/f.txt", b"Connection: " + value + b"\r\n") + get(b"/n1.txt"))
    responses = parse_responses(data)
    assert [r[0] for r in responses] == [200]
    assert responses[0][1]["connection"] == "close"
    assert responses[0][2] == b"hello, keep-alive\n"
    assert closed


def test_keepalive_connection_stays_open(srv):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=3) as s:
        s.sendall(get(b"/f.txt"))
        time.sleep(0.3)
        s.settimeout(0.5)
        data = s.recv(65536)
        status, headers, body, rest = parse_response(data)
        assert (status, body, rest) == (200, b"hello, keep-alive\n", b"")
        assert "connection" not in headers
        with pytest.raises(socket.timeout):
            s.recv(65536)


def test_half_close_still_answered(srv):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(get(b"/big.bin"))
        s.shutdown(socket.SHUT_WR)
        data, _ = read_until_closed(s)
    status, _, body, rest = parse_response(data)
    assert status == 200
    assert body == bytes(range(256)) * (BIG_SIZE // 256)
    assert rest == b""


def test_half_close_after_pipelined_requests_answers_all(srv):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(get(b"/big.bin") + get(b"/n5.txt") + get(b"/big.bin"))
        s.shutdown(socket.SHUT_WR)
        data, _ = read_until_closed(s)
    responses = parse_responses(data)
    assert [r[0] for r in responses] == [200, 200, 200]
    assert [len(r[2]) for r in responses] == [BIG_SIZE, 7, BIG_SIZE]


def test_idle_keepalive_closed_silently(server):
    # The header timeout is longer, so a close after about 1 s shows that
    # keepalive_timeout applies between requests.
    pids = start(server, globals_="keepalive_timeout = 1s\nclient_header_timeout = 10s\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as s:
        s.sendall(get(b"/f.txt"))
        data = b""
        while not data.endswith(b"hello, keep-alive\n"):
            chunk = s.recv(65536)
            assert chunk
            data += chunk
        assert parse_response(data)[0] == 200
        rest, elapsed = read_until_closed(s)
    assert rest == b""
    assert 0.9 < elapsed < 3
    assert server.workers() == pids


def test_keepalive_timeout_restarts_after_each_request(server):
    start(server, globals_="keepalive_timeout = 1s\nclient_header_timeout = 10s\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as s:
        for i in range(4):
            s.sendall(get(b"/n%d.txt" % i))
            data = b""
            while not data.endswith(b"file %d\n" % i):
                chunk = s.recv(65536)
                assert chunk, "closed before response %d" % i
                data += chunk
            time.sleep(0.5)


def test_empty_lines_do_not_extend_keepalive(server):
    # Empty lines before a request line are ignored (RFC 9112 2.2), so a
    # client cannot hold an idle connection open by sending only CRLFs.
    start(server, globals_="keepalive_timeout = 1s\nclient_header_timeout = 1s\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as s:
        s.sendall(get(b"/f.txt"))
        data = b""
        while not data.endswith(b"hello, keep-alive\n"):
            chunk = s.recv(65536)
            assert chunk
            data += chunk
        start_time = time.monotonic()
        s.settimeout(0.3)
        rest = b""
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
            rest += chunk
        elapsed = time.monotonic() - start_time
    assert rest == b""
    assert elapsed < 3
