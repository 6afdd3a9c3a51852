"""Conditional requests on static files (RFC 9110 13): validators, 304 and 412."""

import email.utils
import os

from conftest import fetch

BODY = b"conditional body\n"
MTIME = 1700000000                 # Tue, 14 Nov 2023 22:13:20 GMT
LAST_MODIFIED = "Tue, 14 Nov 2023 22:13:20 GMT"
EARLIER = "Tue, 14 Nov 2023 22:13:19 GMT"
LATER = "Tue, 14 Nov 2023 22:13:21 GMT"
ETAG = '"%x-%x"' % (MTIME, len(BODY))


def start(server):
    path = server.write("doc.txt", BODY)
    os.utime(path, ns=(MTIME * 10 ** 9, MTIME * 10 ** 9))
    server.config()
    return server.start()


def get(server, *headers, method="GET"):
    return fetch(server, "/doc.txt", method=method, headers=headers)


def assert_not_modified(server, *headers, method="GET"):
    raw = server.request(b"%s /doc.txt HTTP/1.1\r\nHost: a\r\n%sConnection: close\r\n\r\n"
                         % (method.encode(), b"".join(b"%s: %s\r\n" % (n.encode(), v.encode()) for n, v in headers)))
    head, sep, after = raw.partition(b"\r\n\r\n")
    assert sep == b"\r\n\r\n"
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 304 Not Modified", headers
    fields = {line.split(b":", 1)[0].lower(): line.split(b":", 1)[1].strip() for line in lines[1:]}
    assert fields[b"etag"] == ETAG.encode(), headers
    assert fields[b"last-modified"] == LAST_MODIFIED.encode(), headers
    assert b"content-length" not in fields, headers
    assert b"content-type" not in fields, headers
    assert after == b"", headers


def assert_full(response, headers):
    status, resp_headers, body, _ = response
    assert status == 200, headers
    assert body == BODY, headers
    assert resp_headers["etag"] == ETAG, headers


def assert_precondition_failed(response, headers):
    status, _, body, _ = response
    assert status == 412, headers
    assert b"412 Precondition Failed" in body, headers
    assert BODY not in body, headers


def test_validators_present(server):
    start(server)
    status, headers, body, _ = get(server)
    assert status == 200
    assert headers["etag"] == ETAG
    assert headers["last-modified"] == LAST_MODIFIED
    assert email.utils.parsedate_to_datetime(headers["last-modified"]).timestamp() == MTIME


def test_if_none_match_hits_are_304(server):
    start(server)
    for value in (ETAG, "*", "W/" + ETAG, '"other", ' + ETAG, '"a","b",' + ETAG + ' , "c"'):
        assert_not_modified(server, ("If-None-Match", value))


def test_if_none_match_misses_are_200(server):
    start(server)
    for value in ('"other"', 'W/"other"', ETAG[:-2] + '"', '"%x-%x"' % (MTIME, len(BODY) + 1)):
        headers = [("If-None-Match", value)]
        assert_full(get(server, *headers), headers)


def test_if_modified_since(server):
    start(server)
    for value in (LAST_MODIFIED, LATER, "Tuesday, 14-Nov-23 22:13:20 GMT", "Tue Nov 14 22:13:20 2023"):
        assert_not_modified(server, ("If-Modified-Since", value))
    for value in (EARLIER, "not a date", "Tue, 14 Nov 2023 25:13:20 GMT", ""):
        headers = [("If-Modified-Since", value)]
        assert_full(get(server, *headers), headers)


def test_if_match(server):
    start(server)
    for value in (ETAG, "*", '"other", ' + ETAG):
        headers = [("If-Match", value)]
        assert_full(get(server, *headers), headers)
    # If-Match uses the strong comparison, so a weak tag never matches.
    for value in ('"other"', "W/" + ETAG):
        headers = [("If-Match", value)]
        assert_precondition_failed(get(server, *headers), headers)


def test_if_unmodified_since(server):
    start(server)
    headers = [("If-Unmodified-Since", EARLIER)]
    assert_precondition_failed(get(server, *headers), headers)
    for value in (LAST_MODIFIED, LATER, "garbage"):
        headers = [("If-Unmodified-Since", value)]
        assert_full(get(server, *headers), headers)


def test_if_match_overrides_if_unmodified_since(server):
    start(server)
    headers = [("If-Match", ETAG), ("If-Unmodified-Since", EARLIER)]
    assert_full(get(server, *headers), headers)


def test_if_none_match_overrides_if_modified_since(server):
    start(server)
    headers = [("If-None-Match", '"other"'), ("If-Modified-Since", LATER)]
    assert_full(get(server, *headers), headers)
    assert_not_modified(server, ("If-None-Match", ETAG), ("If-Modified-Since", EARLIER))


def test_failed_if_match_beats_if_none_match(server):
    start(server)
    headers = [("If-Match", '"other"'), ("If-None-Match", ETAG)]
    assert_precondition_failed(get(server, *headers), headers)


def test_not_modified_for_head(server):
    start(server)
    assert_not_modified(server, ("If-None-Match", ETAG), method="HEAD")
    assert_not_modified(server, ("If-Modified-Since", LAST_MODIFIED), method="HEAD")


def test_not_modified_keeps_connection_usable(server):
    start(server)
    raw = ("GET /doc.txt HTTP/1.1\r\nHost: a\r\nIf-None-Match: %s\r\n\r\n"
           "GET /doc.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % ETAG)
    data = server.request(raw)
    first, _, second = data.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 304 Not Modified\r\n")
    assert second.startswith(b"HTTP/1.1 200 OK\r\n")
    assert second.endswith(b"\r\n\r\n" + BODY)
