"""Mirroring a real documentation tree: wget fetches Debian's Python HTML
documentation (package python3-doc) from zserver, and every page and asset that
a link reaches arrives byte-identical to the file on disk."""

import hashlib
import html.parser
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse

import pytest

from conftest import parse_response

PACKAGE = "python3-doc"
WGET_TIMEOUT = 60


def doc_root():
    """The HTML folder of python3-doc as `dpkg -L` lists it, or None when the
    package or wget is missing."""
    if shutil.which("wget") is None or shutil.which("dpkg") is None:
        return None
    out = subprocess.run(["dpkg", "-L", PACKAGE], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    for path in out.stdout.split("\n"):
        if path.endswith("/html") and os.path.isfile(os.path.join(path, "index.html")):
            return path
    return None


ROOT = doc_root()

pytestmark = pytest.mark.skipif(
    ROOT is None, reason="needs wget and Debian's %s (apt-get install wget %s)" % (PACKAGE, PACKAGE))


class LinkParser(html.parser.HTMLParser):
    """Collects the URLs wget follows in HTML: <a href>, <link href>, <script src>
    and <img src>."""

    ATTRS = {"a": "href", "link": "href", "script": "src", "img": "src"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.urls = []

    def handle_starttag(self, tag, attrs):
        name = self.ATTRS.get(tag)
        for key, value in attrs:
            if key == name and value:
                self.urls.append(value)


CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")


def links_in(path):
    """URLs in one HTML or CSS file, as written."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", errors="replace")
    if path.endswith(".css"):
        return [a or b for a, b in CSS_URL.findall(text)]
    parser = LinkParser()
    parser.feed(text)
    parser.close()
    return parser.urls


def local_target(root, page, url):
    """Resolves a link of the page (a path relative to root) to a path relative
    to root, or None when it leaves this site. A link to a folder names its
    index.html, as the server serves it."""
    base = "http://site/" + urllib.parse.quote(page)
    parts = urllib.parse.urlsplit(urllib.parse.urljoin(base, url))
    if parts.scheme != "http" or parts.netloc != "site":
        return None
    rel = urllib.parse.unquote(parts.path).lstrip("/")
    if rel == "" or rel.endswith("/") or os.path.isdir(os.path.join(root, rel)):
        rel = os.path.join(rel, "index.html")
    return os.path.normpath(rel)


def crawl(root):
    """Follows local links from index.html the way wget --recursive does, through
    HTML and CSS files. Returns (files a working link reaches, link targets that
    do not exist on disk)."""
    reachable, broken = set(), set()
    todo = ["index.html"]
    reachable.add("index.html")
    while todo:
        page = todo.pop()
        for url in links_in(os.path.join(root, page)):
            rel = local_target(root, page, url)
            if rel is None or rel in reachable or rel in broken:
                continue
            if rel.startswith("../") or not os.path.isfile(os.path.join(root, rel)):
                broken.add(rel)
                continue
            reachable.add(rel)
            if rel.endswith((".html", ".htm", ".css")):
                todo.append(rel)
    return reachable, broken


def leaves_root(root, rel):
    """Tell whether the file is reached through a symlink that points outside
    root, which zserver rejects with 404 even with follow_symlinks."""
    real_root = os.path.realpath(root)
    return not os.path.realpath(os.path.join(root, rel)).startswith(real_root + os.sep)


def has_symlinks(root):
    for folder, dirs, files in os.walk(root):
        if any(os.path.islink(os.path.join(folder, name)) for name in dirs + files):
            return True
    return False


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetched_files(mirror):
    """Maps each file wget saved to the path it stands for on the server. wget
    keeps a query string in the file name ("pydoctheme.css?2022.1")."""
    out = {}
    for folder, _, files in os.walk(mirror):
        for name in files:
            local = os.path.join(folder, name)
            rel = os.path.relpath(local, mirror)
            out[local] = rel.split("?", 1)[0]
    return out


def wget_statuses(log):
    """Maps each URL wget requested to the last HTTP status it logged for it."""
    statuses, url = {}, None
    for line in log.splitlines():
        m = re.match(r"^--\S+ \S+--\s+(\S+)$", line)
        if m:
            url = m.group(1)
            continue
        m = re.search(r"awaiting response\.\.\. (\d{3})", line)
        if m and url is not None:
            statuses[url] = int(m.group(1))
    return statuses


def doc_config(server, root, follow_symlinks):
    server.config(body="""
server doc {
  listen = { "127.0.0.1:%d" }
  root = "%s"
  follow_symlinks = %s
}
""" % (server.port, root, "true" if follow_symlinks else "false"))


def test_wget_mirror_matches_disk(server):
    follow = has_symlinks(ROOT)
    doc_config(server, ROOT, follow)
    server.start()
    reachable, broken = crawl(ROOT)
    refused = {rel for rel in reachable if leaves_root(ROOT, rel)}
    expected = reachable - refused
    assert len(expected) > 100, "python3-doc looks incomplete: %d pages reachable" % len(expected)

    mirror = tempfile.mkdtemp(prefix="zs-mirror-")
    try:
        log_path = os.path.join(mirror, "wget.log")
        out_dir = os.path.join(mirror, "site")
        url = "http://127.0.0.1:%d/" % server.port
        proc = subprocess.run(
            ["wget", "--recursive", "--no-parent", "--level=inf", "--no-host-directories",
             "-e", "robots=off", "--tries=1", "--timeout=10", "-P", out_dir, "-o", log_path, url],
            timeout=WGET_TIMEOUT)
        with open(log_path, errors="replace") as f:
            log = f.read()

        # Links that fail on disk, or leave root through a symlink, are the only 404s.
        statuses = wget_statuses(log)
        failed = {u: s for u, s in statuses.items() if s != 200}
        expected_failures = {url + urllib.parse.quote(rel): 404 for rel in broken | refused}
        assert failed == expected_failures, "wget failures differ:\n%s" % log[-3000:]
        assert log.count("ERROR 404: Not Found.") == len(expected_failures)
        assert "broken link" not in log
        for problem in ("Read error", "Connection closed", "Giving up", "Retrying", "ERROR 5"):
            assert problem not in log, "wget logged %r:\n%s" % (problem, log[-3000:])
        # wget exits with 8 when the server sent an error status for any request.
        assert proc.returncode == (8 if expected_failures else 0), log[-3000:]

        # Every file fetched is byte-identical to the file on disk.
        fetched = fetched_files(out_dir)
        for local, rel in sorted(fetched.items()):
            assert sha256(local) == sha256(os.path.join(ROOT, rel)), "%s differs from disk" % rel

        # Every link that works on disk was followed, and nothing else was fetched.
        got = set(fetched.values())
        assert sorted(expected - got) == []
        assert sorted(got - expected) == []
    finally:
        shutil.rmtree(mirror, ignore_errors=True)


def symlinks_leaving(root):
    """Symlinked files below root whose target lies outside root, relative to root."""
    out = []
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path) and os.path.isfile(path) and leaves_root(root, rel):
                out.append(rel)
    return sorted(out)


def common_root(targets):
    """The deepest folder that holds both the documentation and the targets of its symlinks."""
    paths = [os.path.realpath(ROOT)] + [os.path.realpath(os.path.join(ROOT, t)) for t in targets]
    return os.path.commonpath(paths)


def test_symlinks_below_a_wider_root_are_followed(server):
    # Debian links _static/jquery.js to /usr/share/javascript; with root at the
    # common ancestor of the documentation and its link targets the same links
    # stay below root and are served.
    targets = symlinks_leaving(ROOT)
    if not targets:
        pytest.skip("%s has no symlink that leaves its HTML folder" % PACKAGE)
    wide_root = common_root(targets)
    doc_config(server, wide_root, True)
    server.start()

    prefix = "/" + os.path.relpath(ROOT, wide_root)
    for rel in targets + ["index.html"]:
        path = urllib.parse.quote(prefix + "/" + rel)
        status, headers, body, _ = parse_response(server.request(
            "GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % path, timeout=10))
        with open(os.path.join(ROOT, rel), "rb") as f:
            data = f.read()
        assert status == 200, path
        assert headers["content-length"] == str(len(data)), path
        assert body == data, path


def test_symlinks_not_followed_when_off(server):
    targets = symlinks_leaving(ROOT)
    if not targets:
        pytest.skip("%s has no symlink that leaves its HTML folder" % PACKAGE)
    wide_root = common_root(targets)
    doc_config(server, wide_root, False)
    server.start()

    # The real path, so that the only symlink on the way is the file itself.
    real = os.path.realpath(ROOT)
    path = urllib.parse.quote("/" + os.path.relpath(real, wide_root) + "/" + targets[0])
    status, _, _, _ = parse_response(server.request(
        "GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % path))
    assert status == 404
