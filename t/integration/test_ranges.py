"""Byte ranges (RFC 9110 14): single ranges, 416, multipart/byteranges and If-Range."""

import os
import re

from conftest import fetch, parse_responses

SMALL = bytes((i * 7 + 3) % 256 for i in range(1000))
# Bigger than what the server copies into its write buffer, so the ranges
# of this file go out with sendfile.
LARGE = os.urandom(200 * 1024)
MTIME = 1700000000
LAST_MODIFIED = "Tue, 14 Nov 2023 22:13:20 GMT"


def start(server):
    for name, data in (("small.bin", SMALL), ("large.bin", LARGE), ("empty.bin", b"")):
        path = server.write(name, data)
        os.utime(path, ns=(MTIME * 10 ** 9, MTIME * 10 ** 9))
    server.config()
    return server.start()


def get_range(server, value, path="/small.bin", extra=(), method="GET"):
    return fetch(server, path, method=method, headers=[("Range", value), *extra])


def test_single_ranges(server):
    start(server)
    cases = [
        ("bytes=0-0", 0, 0),
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, 999),
        ("bytes=-100", 900, 999),
        ("bytes=990-999999", 990, 999),
        ("bytes=-5000", 0, 999),
        ("bytes=999-", 999, 999),
        ("BYTES=10-19", 10, 19),
        ("bytes= 10-19 ", 10, 19),
    ]
    for value, first, last in cases:
        status, headers, body, rest = get_range(server, value)
        assert status == 206, value
        assert headers["content-range"] == "bytes %d-%d/1000" % (first, last), value
        assert headers["content-length"] == str(last - first + 1), value
        assert headers["content-type"] == "application/octet-stream", value
        assert body == SMALL[first:last + 1], value
        assert rest == b"", value


def test_single_range_of_large_file(server):
    start(server)
    status, headers, body, _ = get_range(server, "bytes=1000-150000", path="/large.bin")
    assert status == 206
    assert headers["content-range"] == "bytes 1000-150000/%d" % len(LARGE)
    assert body == LARGE[1000:150001]


def test_unsatisfiable_range_is_416(server):
    start(server)
    for value, path, size in (("bytes=1000-", "/small.bin", 1000), ("bytes=5000-6000", "/small.bin", 1000),
                              ("bytes=1000-1000,2000-", "/small.bin", 1000), ("bytes=-0", "/small.bin", 1000),
                              ("bytes=0-", "/empty.bin", 0), ("bytes=-1", "/empty.bin", 0)):
        status, headers, body, _ = get_range(server, value, path=path)
        assert status == 416, value
        assert headers["content-range"] == "bytes */%d" % size, value
        assert b"416 Range Not Satisfiable" in body, value


def test_invalid_range_header_is_ignored(server):
    start(server)
    for value in ("bytes=abc", "items=0-1", "bytes=5-1", "bytes=", "bytes=0-1;2-3", "bytes=--1",
                  "bytes=99999999999999999999-"):
        status, headers, body, _ = get_range(server, value)
        assert status == 200, value
        assert "content-range" not in headers, value
        assert body == SMALL, value


def parse_multipart(headers, body):
    """Returns [(part headers, part data)] of a multipart/byteranges body."""
    match = re.fullmatch(r"multipart/byteranges; boundary=(\S+)", headers["content-type"])
    assert match, headers["content-type"]
    delimiter = b"\r\n--" + match.group(1).encode()
    assert body.startswith(delimiter + b"\r\n")
    assert body.endswith(delimiter + b"--\r\n")
    pieces = body[:-len(delimiter + b"--\r\n")].split(delimiter)
    assert pieces[0] == b""
    parts = []
    for piece in pieces[1:]:
        assert piece.startswith(b"\r\n")
        head, sep, data = piece[2:].partition(b"\r\n\r\n")
        assert sep
        fields = {}
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            fields[name.decode().lower()] = value.strip().decode()
        parts.append((fields, data))
    return parts


def check_multipart(server, path, data, value, spans):
    status, headers, body, rest = get_range(server, value, path=path)
    assert status == 206, value
    assert "content-range" not in headers, value
    assert headers["content-length"] == str(len(body)), value
    assert rest == b"", value
    parts = parse_multipart(headers, body)
    assert len(parts) == len(spans), value
    for (fields, part), (first, last) in zip(parts, spans):
        assert fields["content-type"] == "application/octet-stream", value
        assert fields["content-range"] == "bytes %d-%d/%d" % (first, last, len(data)), value
        assert part == data[first:last + 1], value


def test_multiple_ranges_multipart(server):
    start(server)
    check_multipart(server, "/small.bin", SMALL, "bytes=0-9,20-29,-5", [(0, 9), (20, 29), (995, 999)])
    check_multipart(server, "/small.bin", SMALL, "bytes=500-, 0-0", [(500, 999), (0, 0)])
    check_multipart(server, "/small.bin", SMALL, "bytes=0-9,5000-6000,10-19", [(0, 9), (10, 19)])
    check_multipart(server, "/large.bin", LARGE, "bytes=0-99999,100000-%d,-1" % (len(LARGE) - 2),
                    [(0, 99999), (100000, len(LARGE) - 2), (len(LARGE) - 1, len(LARGE) - 1)])


def test_sixteen_ranges_allowed(server):
    start(server)
    spans = [(i * 10, i * 10 + 4) for i in range(16)]
    value = "bytes=" + ",".join("%d-%d" % span for span in spans)
    check_multipart(server, "/small.bin", SMALL, value, spans)


def test_seventeen_ranges_send_whole_file(server):
    start(server)
    value = "bytes=" + ",".join("%d-%d" % (i * 10, i * 10 + 4) for i in range(17))
    status, headers, body, _ = get_range(server, value)
    assert status == 200
    assert "content-range" not in headers
    assert body == SMALL


def test_if_range(server):
    start(server)
    _, headers, _, _ = fetch(server, "/small.bin")
    etag = headers["etag"]
    cases = [
        (etag, 206),
        ('"1-1"', 200),
        ("W/" + etag, 200),
        (LAST_MODIFIED, 206),
        ("Tue, 14 Nov 2023 22:13:21 GMT", 200),
        ("Tue, 14 Nov 2023 22:13:19 GMT", 200),
        ("not a date", 200),
    ]
    for value, expected in cases:
        status, resp_headers, body, _ = get_range(server, "bytes=0-9", extra=[("If-Range", value)])
        assert status == expected, value
        if expected == 206:
            assert resp_headers["content-range"] == "bytes 0-9/1000", value
            assert body == SMALL[:10], value
        else:
            assert "content-range" not in resp_headers, value
            assert body == SMALL, value


def test_range_on_head_is_200_without_body(server):
    start(server)
    status, headers, body, rest = get_range(server, "bytes=0-9", method="HEAD")
    assert status == 200
    assert headers["content-length"] == "1000"
    assert "content-range" not in headers
    assert (body, rest) == (b"", b"")


def test_accept_ranges_advertised(server):
    start(server)
    _, headers, _, _ = fetch(server, "/small.bin")
    assert headers["accept-ranges"] == "bytes"
    _, headers, _, _ = get_range(server, "bytes=0-1")
    assert headers["accept-ranges"] == "bytes"


def test_ranges_pipelined_on_keepalive(server):
    start(server)
    requests = [
        ("/large.bin", "bytes=0-9,-10"),
        ("/small.bin", "bytes=10-19"),
        ("/large.bin", "bytes=100-100099"),
        ("/small.bin", "bytes=0-0,2-2"),
        ("/small.bin", None),
    ]
    raw = b""
    for path, value in requests:
        raw += b"GET %s HTTP/1.1\r\nHost: a\r\n" % path.encode()
        if value is not None:
            raw += b"Range: %s\r\n" % value.encode()
        raw += b"\r\n"
    raw = raw[:-2] + b"Connection: close\r\n\r\n"
    responses = parse_responses(server.request(raw))
    assert [r[0] for r in responses] == [206, 206, 206, 206, 200]

    parts = parse_multipart(responses[0][1], responses[0][2])
    assert [p[1] for p in parts] == [LARGE[:10], LARGE[-10:]]
    assert responses[1][2] == SMALL[10:20]
    assert responses[2][2] == LARGE[100:100100]
    parts = parse_multipart(responses[3][1], responses[3][2])
    assert [p[1] for p in parts] == [SMALL[0:1], SMALL[2:3]]
    assert responses[4][2] == SMALL


def multipart_boundary(server):
    _, headers, _, _ = get_range(server, "bytes=0-0,2-2")
    return headers["content-type"].split("boundary=", 1)[1]


def test_multipart_boundary_differs_across_restarts(server):
    # A boundary that a client can predict lets a file that contains it
    # forge parts of the response (RFC 2046 5.1.1).
    start(server)
    first = multipart_boundary(server)
    server.stop()
    server.start()
    assert multipart_boundary(server) != first


def test_overlapping_ranges_larger_than_file_send_whole_file(server):
    """Sixteen "0-" ranges would copy the file sixteen times: send it once."""
    data = bytes(range(256)) * 40
    server.write("f.bin", data)
    server.config()
    server.start()
    status, headers, body, _ = fetch(server, "/f.bin", headers=(("Range", "bytes=" + ",".join(["0-"] * 16)),))
    assert status == 200
    assert headers["content-length"] == str(len(data))
    assert body == data
    status, headers, body, _ = fetch(server, "/f.bin", headers=(("Range", "bytes=0-99,50-149"),))
    assert status == 206
    assert headers["content-type"].startswith("multipart/byteranges; boundary=")
