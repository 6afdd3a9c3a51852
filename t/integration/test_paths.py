"""Hostile request paths: traversal in every encoding, NUL bytes, dot files,
symbolic links and special files. Nothing outside root may ever be served."""

import os
import time

from conftest import fetch

SECRET = b"TOP-SECRET-CONTENT"


def make_tree(server):
    """Puts secret.txt next to root and an ordinary tree inside it."""
    with open(os.path.join(server.dir, "secret.txt"), "wb") as f:
        f.write(SECRET)
    os.chmod(os.path.join(server.dir, "secret.txt"), 0o644)
    server.write("index.html", "index")
    server.write("sub/file.txt", "file")
    server.write("%2e%2e/marker.txt", "literal-percent-dir")


# (request-target, expected status). The expected codes follow the path
# rules: a ".." that climbs above "/" once decoded is a 400, and any other
# odd spelling is an ordinary name that does not exist (404).
TRAVERSALS = [
    ("/../secret.txt", 400),
    ("/%2e%2e/secret.txt", 400),
    ("/%2E%2E/secret.txt", 400),
    ("/%2E%2E%2fsecret.txt", 400),
    ("/..%2fsecret.txt", 400),
    ("/.%2e/secret.txt", 400),
    ("/%2e./secret.txt", 400),
    ("/sub/../../secret.txt", 400),
    ("/sub/%2e%2e/%2e%2e/secret.txt", 400),
    ("/sub/./../../secret.txt", 400),
    ("//../secret.txt", 400),
    ("/./../secret.txt", 400),
    ("/sub//..//..//secret.txt", 400),
    ("/%2e%2e%2f%2e%2e%2fsecret.txt", 400),
    ("/%00../secret.txt", 400),
    ("/%252e%252e/secret.txt", 404),
    ("/%252e%252e%252fsecret.txt", 404),
    ("/sub/..%252f..%252fsecret.txt", 404),
    ("/..%5csecret.txt", 404),
    ("/%2e%2e%5csecret.txt", 404),
    ("/sub%5c..%5c..%5csecret.txt", 404),
    ("/%c0%ae%c0%ae/secret.txt", 404),
    ("/..;/secret.txt", 404),
    ("/.../secret.txt", 404),
    ("/secret.txt", 404),
]


def test_traversal_never_leaves_root(server):
    make_tree(server)
    server.config()
    server.start()
    for target, expected in TRAVERSALS:
        data = server.request(b"GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % target.encode())
        assert SECRET not in data, target
        status = int(data.split(b" ", 2)[1])
        assert status == expected, target


def test_traversal_with_raw_backslashes(server):
    make_tree(server)
    server.config()
    server.start()
    # A backslash is an ordinary byte of a segment name, not a separator.
    cases = [
        (b"/..\\secret.txt", b"404"),
        (b"/sub\\..\\..\\secret.txt", b"404"),
        (b"\\..\\secret.txt", b"400"),
    ]
    for target, expected in cases:
        data = server.request(b"GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % target)
        assert SECRET not in data, target
        assert data.split(b" ", 2)[1] == expected, target


def test_traversal_in_absolute_form_target(server):
    make_tree(server)
    server.config()
    server.start()
    status, _, body, _ = fetch(server, "http://a/../secret.txt")
    assert status == 400
    assert SECRET not in body


def test_double_encoding_decoded_once(server):
    make_tree(server)
    server.config()
    server.start()
    status, _, body, _ = fetch(server, "/%252e%252e/marker.txt")
    assert status == 200
    assert body == b"literal-percent-dir"


def test_dot_segments_and_slashes_normalised(server):
    make_tree(server)
    server.config()
    server.start()
    for target in ("/sub/file.txt", "//sub//file.txt", "/./sub/./file.txt", "/sub/x/../file.txt",
                   "/%73ub/%66ile.txt", "/sub%2ffile.txt"):
        status, _, body, _ = fetch(server, target)
        assert status == 200, target
        assert body == b"file", target


def test_file_with_trailing_slash_is_404(server):
    make_tree(server)
    server.config()
    server.start()
    status, _, body, _ = fetch(server, "/sub/file.txt/")
    assert status == 404
    assert b"file" not in body


def test_nul_byte_is_400(server):
    make_tree(server)
    server.config()
    server.start()
    for target in ("/sub/file.txt%00", "/sub/file.txt%00.html", "/%00", "/sub%00/file.txt"):
        status, _, _, _ = fetch(server, target)
        assert status == 400, target


def make_dotfiles(server):
    server.write(".env", "env")
    server.write(".git/config", "git")
    server.write("a/.hidden/b", "hidden")
    server.write("a/.well-known/x", "nested-well-known")
    server.write(".well-known/x", "well-known")


def test_dotfiles_are_404(server):
    make_dotfiles(server)
    server.config()
    server.start()
    for target in ("/.env", "/.git/config", "/.git/", "/a/.hidden/b", "/%2eenv", "/a/%2Ehidden/b",
                   "/a/.well-known/x", "/.well-known/../.env", "/.well-known/%2e%2e/.git/config"):
        status, _, body, _ = fetch(server, target)
        assert status == 404, target
        assert body.startswith(b"<!DOCTYPE html>"), target


def test_well_known_is_served(server):
    make_dotfiles(server)
    server.config()
    server.start()
    status, _, body, _ = fetch(server, "/.well-known/x")
    assert status == 200
    assert body == b"well-known"


def test_dotfiles_served_when_allowed(server):
    make_dotfiles(server)
    server.config(server_extra="allow_dotfiles = true")
    server.start()
    for target, expected in (("/.env", b"env"), ("/.git/config", b"git"), ("/a/.hidden/b", b"hidden")):
        status, _, body, _ = fetch(server, target)
        assert status == 200, target
        assert body == expected, target


def make_symlinks(server):
    make_tree(server)
    server.write("target.txt", "inside-target")
    server.write("realdir/f.txt", "inside-dir")
    outside = os.path.join(server.dir, "outside")
    os.makedirs(outside)
    os.chmod(outside, 0o755)
    with open(os.path.join(outside, "f.txt"), "wb") as f:
        f.write(SECRET)
    os.chmod(os.path.join(outside, "f.txt"), 0o644)
    os.symlink("target.txt", os.path.join(server.root, "link-in"))
    os.symlink("realdir", os.path.join(server.root, "dirlink-in"))
    os.symlink("../secret.txt", os.path.join(server.root, "link-out"))
    os.symlink(os.path.join(server.dir, "secret.txt"), os.path.join(server.root, "link-abs-out"))
    os.symlink("../outside", os.path.join(server.root, "dirlink-out"))
    os.symlink("sub/../../secret.txt", os.path.join(server.root, "link-winding-out"))


def test_symlinks_not_followed_by_default(server):
    make_symlinks(server)
    server.config()
    server.start()
    for target in ("/link-in", "/dirlink-in/f.txt", "/link-out", "/link-abs-out", "/dirlink-out/f.txt"):
        status, _, body, _ = fetch(server, target)
        assert status == 404, target
        assert SECRET not in body, target


def test_symlinks_in_root_followed_when_enabled(server):
    make_symlinks(server)
    server.config(server_extra="follow_symlinks = true")
    server.start()
    for target, expected in (("/link-in", b"inside-target"), ("/dirlink-in/f.txt", b"inside-dir")):
        status, _, body, _ = fetch(server, target)
        assert status == 200, target
        assert body == expected, target


def test_symlinks_out_of_root_404(server):
    make_symlinks(server)
    server.config(server_extra="follow_symlinks = true")
    server.start()
    for target in ("/link-out", "/link-abs-out", "/dirlink-out/f.txt", "/link-winding-out"):
        status, _, body, _ = fetch(server, target)
        assert status == 404, target
        assert SECRET not in body, target


def test_fifo_is_403_without_hanging(server):
    server.write("index.html", "index")
    fifo = os.path.join(server.root, "fifo")
    os.mkfifo(fifo)
    os.chmod(fifo, 0o644)
    server.config()
    server.start()
    started = time.monotonic()
    data = server.request(b"GET /fifo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", timeout=3)
    assert data.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert time.monotonic() - started < 2
    status, _, body, _ = fetch(server, "/")
    assert status == 200
    assert body == b"index"


def test_fifo_index_and_sibling_skipped(server):
    server.write("d/style.css", "plain")
    os.mkfifo(os.path.join(server.root, "d", "index.html"))
    os.mkfifo(os.path.join(server.root, "d", "style.css.gz"))
    server.config(server_extra="gzip_static = true")
    server.start()
    started = time.monotonic()
    status, _, _, _ = fetch(server, "/d/")
    assert status == 403
    status, headers, body, _ = fetch(server, "/d/style.css", headers=[("Accept-Encoding", "gzip")])
    assert status == 200
    assert body == b"plain"
    assert "content-encoding" not in headers
    assert time.monotonic() - started < 2


def test_socket_file_below_root_is_403(server):
    import socket as socketmod
    server.config()
    path = os.path.join(server.root, "s.sock")
    listener = socketmod.socket(socketmod.AF_UNIX, socketmod.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o666)
    try:
        server.start()
        status, _, _, _ = fetch(server, "/s.sock")
        assert status == 403
        assert "[error]" not in server.log()
    finally:
        listener.close()
