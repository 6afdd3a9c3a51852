"""Static files: MIME types, large and empty files, index files, directory
redirects, autoindex listings and precompressed (gzip_static) siblings."""

import gzip
import os
import re

from conftest import fetch


def test_mime_types_by_extension(server):
    cases = [
        ("page.html", "text/html; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("logo.png", "image/png"),
        ("LOGO.PNG", "image/png"),
        ("archive.tar.gz", "application/gzip"),
        ("data.unknownext", "application/octet-stream"),
        ("README", "application/octet-stream"),
    ]
    for name, _ in cases:
        server.write(name, "x")
    server.config()
    server.start()
    for name, expected in cases:
        status, headers, body, _ = fetch(server, "/" + name)
        assert status == 200, name
        assert headers["content-type"] == expected, name
        assert body == b"x", name


def test_default_type_setting(server):
    server.write("data.unknownext", "x")
    server.config(globals_='default_type = "text/plain"\n')
    server.start()
    status, headers, _, _ = fetch(server, "/data.unknownext")
    assert status == 200
    assert headers["content-type"] == "text/plain"


def test_file_over_4gib_has_64bit_sizes(server):
    size = 5 * 1024 ** 3
    path = server.write("big.bin", b"")
    with open(path, "r+b") as f:
        f.truncate(size)
        f.seek(2 ** 32 - 2)
        f.write(b"wxyz")
        f.seek(size - 10)
        f.write(b"0123456789")
    server.config()
    server.start()

    status, headers, body, rest = fetch(server, "/big.bin", method="HEAD")
    assert status == 200
    assert headers["content-length"] == "5368709120"
    assert (body, rest) == (b"", b"")

    status, headers, body, _ = fetch(server, "/big.bin", headers=[("Range", "bytes=5368709110-")])
    assert status == 206
    assert headers["content-range"] == "bytes 5368709110-5368709119/5368709120"
    assert body == b"0123456789"

    status, headers, body, _ = fetch(server, "/big.bin", headers=[("Range", "bytes=-4")])
    assert status == 206
    assert headers["content-range"] == "bytes 5368709116-5368709119/5368709120"
    assert body == b"6789"

    status, headers, body, _ = fetch(server, "/big.bin", headers=[("Range", "bytes=4294967293-4294967298")])
    assert status == 206
    assert headers["content-range"] == "bytes 4294967293-4294967298/5368709120"
    assert body == b"\0wxyz\0"


def test_10mib_file_byte_identical(server):
    data = os.urandom(10 * 1024 * 1024)
    server.write("10m.bin", data)
    server.config()
    server.start()
    status, headers, body, rest = fetch(server, "/10m.bin")
    assert status == 200
    assert headers["content-length"] == str(len(data))
    assert len(body) == len(data)
    assert body == data
    assert rest == b""


def test_empty_file(server):
    server.write("empty.txt", b"")
    server.config()
    server.start()
    raw = server.request("GET /empty.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nContent-Length: 0\r\n" in head + b"\r\n"
    assert b"\r\nContent-Type: text/plain; charset=utf-8\r\n" in head + b"\r\n"
    assert body == b""


def test_index_first_existing_name_wins(server):
    server.write("only-second/second.html", "second")
    server.write("both/first.html", "first")
    server.write("both/second.html", "second")
    server.write("dir-named-first/first.html/inner.txt", "inner")
    server.write("dir-named-first/second.html", "second")
    server.config(server_extra="index = { first.html, second.html }")
    server.start()
    cases = [
        ("/only-second/", "second"),
        ("/both/", "first"),
        ("/dir-named-first/", "second"),
    ]
    for path, expected in cases:
        status, headers, body, _ = fetch(server, path)
        assert status == 200, path
        assert body == expected.encode(), path
        assert headers["content-type"] == "text/html; charset=utf-8", path


def test_directory_without_slash_redirects(server):
    server.write("sub/index.html", "sub")
    server.write("with space/index.html", "space")
    server.config()
    server.start()
    cases = [
        ("/sub", "/sub/"),
        ("/sub?x=1&y=%20", "/sub/?x=1&y=%20"),
        ("/with%20space", "/with%20space/"),
    ]
    for target, location in cases:
        status, headers, body, _ = fetch(server, target)
        assert status == 301, target
        assert headers["location"] == location, target
        assert b"301 Moved Permanently" in body, target


def test_directory_without_index_is_403(server):
    server.write("noindex/file.txt", "x")
    server.config()
    server.start()
    status, headers, body, _ = fetch(server, "/noindex/")
    assert status == 403
    assert b"403 Forbidden" in body
    assert b"file.txt" not in body


def autoindex_rows(body):
    """Returns (href, name, size) for each row of a listing, in order."""
    return re.findall(rb'<tr><td><a href="([^"]*)">([^<]*)</a></td><td>[^<]*</td><td>([^<]*)</td></tr>', body)


def make_listing_dir(server):
    server.write('list/<b>&"x".txt', "12345")
    server.write("list/with space \u00fc.txt", "abc")
    server.write("list/a.txt", "a")
    server.write("list/B.txt", "bb")
    server.write("list/.hidden", "secret")
    server.write("list/sub/inner.txt", "i")
    server.write("list/.git/config", "g")


def test_autoindex_lists_sorted_and_escaped(server):
    make_listing_dir(server)
    server.config(server_extra="autoindex = true")
    server.start()
    status, headers, body, _ = fetch(server, "/list/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert b"<title>Index of /list/</title>" in body
    assert autoindex_rows(body) == [
        (b"../", b"../", b"-"),
        (b"sub/", b"sub/", b"-"),
        (b"%3Cb%3E%26%22x%22.txt", b"&lt;b&gt;&amp;&quot;x&quot;.txt", b"5"),
        (b"B.txt", b"B.txt", b"2"),
        (b"a.txt", b"a.txt", b"1"),
        (b"with%20space%20%C3%BC.txt", "with space \u00fc.txt".encode(), b"3"),
    ]
    assert b"<b>" not in body
    assert b"hidden" not in body
    assert b".git" not in body


def test_autoindex_escapes_directory_name(server):
    server.write("<script>/f.txt", "f")
    server.config(server_extra="autoindex = true")
    server.start()
    status, _, body, _ = fetch(server, "/%3Cscript%3E/")
    assert status == 200
    assert b"<title>Index of /&lt;script&gt;/</title>" in body
    assert b"<script>" not in body


def test_autoindex_shows_dotfiles_when_allowed(server):
    make_listing_dir(server)
    server.config(server_extra="autoindex = true\nallow_dotfiles = true")
    server.start()
    status, _, body, _ = fetch(server, "/list/")
    assert status == 200
    names = [row[1] for row in autoindex_rows(body)]
    assert names[:3] == [b"../", b".git/", b"sub/"]
    assert b".hidden" in names


def test_autoindex_off_by_default(server):
    make_listing_dir(server)
    server.config()
    server.start()
    status, _, body, _ = fetch(server, "/list/")
    assert status == 403
    assert b"a.txt" not in body


GZ_PLAIN = b"body { color: red; }\n" * 50


def start_gzip(server, enabled=True):
    server.write("g/style.css", GZ_PLAIN)
    server.write("g/style.css.gz", gzip.compress(GZ_PLAIN, mtime=0))
    server.write("g/plain.js", b"let x = 1;\n")
    server.write("g/index.html", b"<p>index</p>\n")
    server.write("g/index.html.gz", gzip.compress(b"<p>index</p>\n", mtime=0))
    server.config(server_extra="gzip_static = %s" % ("true" if enabled else "false"))
    server.start()


def test_gzip_static_serves_gz_sibling(server):
    start_gzip(server)
    gz = gzip.compress(GZ_PLAIN, mtime=0)
    status, headers, body, _ = fetch(server, "/g/style.css", headers=[("Accept-Encoding", "gzip, deflate")])
    assert status == 200
    assert body == gz
    assert headers["content-length"] == str(len(gz))
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    assert headers["content-type"] == "text/css; charset=utf-8"

    _, plain_headers, _, _ = fetch(server, "/g/style.css")
    assert headers["etag"] != plain_headers["etag"]


def test_gzip_static_accept_encoding_variants(server):
    start_gzip(server)
    gz = gzip.compress(GZ_PLAIN, mtime=0)
    cases = [
        (None, GZ_PLAIN),
        ("gzip;q=0", GZ_PLAIN),
        ("identity", GZ_PLAIN),
        ("br, deflate", GZ_PLAIN),
        ("*;q=0.5", gz),
        ("GZIP", gz),
        ("deflate, gzip;q=0.5", gz),
    ]
    for accept, expected in cases:
        headers = [("Accept-Encoding", accept)] if accept is not None else []
        status, resp_headers, body, _ = fetch(server, "/g/style.css", headers=headers)
        assert status == 200, accept
        assert body == expected, accept
        assert resp_headers["vary"] == "Accept-Encoding", accept
        assert resp_headers["content-type"] == "text/css; charset=utf-8", accept
        assert ("content-encoding" in resp_headers) == (expected == gz), accept


def test_gzip_static_without_sibling_serves_plain(server):
    start_gzip(server)
    status, headers, body, _ = fetch(server, "/g/plain.js", headers=[("Accept-Encoding", "gzip")])
    assert status == 200
    assert body == b"let x = 1;\n"
    assert "content-encoding" not in headers
    assert headers["vary"] == "Accept-Encoding"
    assert headers["content-type"] == "text/javascript; charset=utf-8"


def test_gzip_static_index_file(server):
    start_gzip(server)
    status, headers, body, _ = fetch(server, "/g/", headers=[("Accept-Encoding", "gzip")])
    assert status == 200
    assert gzip.decompress(body) == b"<p>index</p>\n"
    assert headers["content-encoding"] == "gzip"
    assert headers["content-type"] == "text/html; charset=utf-8"


def test_gzip_static_off_ignores_sibling(server):
    start_gzip(server, enabled=False)
    status, headers, body, _ = fetch(server, "/g/style.css", headers=[("Accept-Encoding", "gzip")])
    assert status == 200
    assert body == GZ_PLAIN
    assert "content-encoding" not in headers
    assert "vary" not in headers
