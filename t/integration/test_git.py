"""Debian's git-http-backend and gitweb as CGI programs behind the real binary.

git-http-backend runs through t/apps/cgi/git-http-backend.sh, installed as
<root>/git/repo.cgi, so a repository is reached at /git/repo.cgi/project.git
and PATH_INFO carries the repository path. The git client talks smart HTTP
to it: clone, fetch and push, where a pack larger than git's 1 MiB
http.postBuffer goes out as a chunked request body. gitweb runs in place
from /usr/share/gitweb with a configuration that the test writes.
"""

import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile

import pytest

from backends import worker_identity
from conftest import TOP, parse_response, raw_request, wait_until

GIT = "/usr/bin/git"
GIT_HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
GITWEB = "/usr/share/gitweb/gitweb.cgi"
WRAPPER = os.path.join(TOP, "t", "apps", "cgi", "git-http-backend.sh")
PROJECT = "project.git"
BRANCH = "main"
GIT_TIMEOUT = 60
README = b"Random data for ZServer's git tests.\n"

pytestmark = pytest.mark.skipif(
    not all(os.access(path, os.X_OK) for path in (GIT, GIT_HTTP_BACKEND, GITWEB)),
    reason="needs Debian's git and gitweb (./setup --test installs them)")


def git_env(home):
    """Return an environment for the git client that reads no system or user
    configuration and no proxy variables, so every request goes to the
    server under test. safe.directory lets the tests' user (root) read a
    repository that the workers' user owns after a push."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": home,
        "LANG": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "safe.directory",
        "GIT_CONFIG_VALUE_0": "*",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "ZServer Test",
        "GIT_AUTHOR_EMAIL": "test@zserver.invalid",
        "GIT_COMMITTER_NAME": "ZServer Test",
        "GIT_COMMITTER_EMAIL": "test@zserver.invalid",
    }


def git_run(env, *args, cwd=None):
    """Run git and return the CompletedProcess. A failure raises with git's stderr."""
    result = subprocess.run([GIT, *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            capture_output=True, timeout=GIT_TIMEOUT)
    assert result.returncode == 0, "git %s failed with status %d:\n%s" % (
        " ".join(args), result.returncode, result.stderr.decode(errors="replace"))
    return result


def git(env, *args, cwd=None):
    """Run git and return its stdout as text."""
    return git_run(env, *args, cwd=cwd).stdout.decode()


def commit_random_files(env, work, files, message):
    """Write each {relative path: size} as random bytes, commit them, and
    return {relative path: content}."""
    written = {}
    for relpath, size in files.items():
        path = os.path.join(work, relpath)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = os.urandom(size)
        with open(path, "wb") as f:
            f.write(data)
        written[relpath] = data
    git(env, "add", "--all", cwd=work)
    git(env, "commit", "-q", "-m", message, cwd=work)
    return written


def sent_headers(trace):
    """Return the request header lines in git's GIT_TRACE_CURL output."""
    marker = "=> Send header: "
    lines = trace.decode(errors="replace").splitlines()
    return [line.split(marker, 1)[1] for line in lines if marker in line]


def received_statuses(trace):
    """Return the response status lines in git's GIT_TRACE_CURL output."""
    marker = "<= Recv header: HTTP/"
    lines = trace.decode(errors="replace").splitlines()
    return ["HTTP/" + line.split(marker, 1)[1] for line in lines if marker in line]


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def dechunk(data):
    """Decode a chunked body and return it. Trailers are not expected."""
    out = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert data == b"\r\n", "unexpected bytes after the last chunk: %r" % data[:100]
            return out
        out += data[:size]
        assert data[size:size + 2] == b"\r\n", "chunk of %d bytes not followed by CRLF" % size
        data = data[size + 2:]


def get(server, target, timeout=10):
    """GET target and return (status, headers, whole decoded body)."""
    raw = b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % target.encode()
    status, headers, body, rest = parse_response(raw_request(server.port, raw, timeout=timeout))
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(rest)
    else:
        assert rest == b""
    return status, headers, body


class History:
    """A bare repository with 5.6 MiB of random files over five commits,
    built once per module.

    commits lists the commit ids, oldest first, files maps each path of the
    last commit to its content, and random_bytes counts the random bytes of
    every commit, which no pack can compress.
    """

    def __init__(self, base):
        self.home = os.path.join(base, "home")
        os.makedirs(self.home)
        self.env = git_env(self.home)
        work = os.path.join(base, "work")
        git(self.env, "-c", "init.defaultBranch=" + BRANCH, "init", "-q", work)
        with open(os.path.join(work, "README"), "wb") as f:
            f.write(README)
        git(self.env, "add", "README", cwd=work)
        git(self.env, "commit", "-q", "-m", "Add README", cwd=work)

        self.files = {"README": README}
        self.random_bytes = 0
        for files, message in (({"data/a.bin": 2 << 20}, "Add a.bin"),
                               ({"data/b.bin": 1 << 20, "data/c.bin": 1 << 20},
                                "Add b.bin and c.bin"),
                               ({"data/a.bin": 3 << 19}, "Replace a.bin"),
                               ({"data/small/d.bin": 70000}, "Add d.bin")):
            self.files.update(commit_random_files(self.env, work, files, message))
            self.random_bytes += sum(files.values())
        self.commits = git(self.env, "rev-list", "--reverse", BRANCH, cwd=work).split()

        self.bare = os.path.join(base, PROJECT)
        git(self.env, "clone", "-q", "--bare", "--no-local", work, self.bare)
        with open(os.path.join(self.bare, "description"), "w") as f:
            f.write("ZServer test repository\n")


@pytest.fixture(scope="module")
def history():
    base = tempfile.mkdtemp(prefix="zs-git-history-")
    try:
        yield History(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


class GitSite:
    """A copy of the history's bare repository under <server dir>/repos,
    served by git-http-backend at /git/repo.cgi/ and by gitweb at
    /gitweb/gitweb.cgi, and a git client environment with its own HOME."""

    def __init__(self, server, history):
        self.server = server
        self.repos = os.path.join(server.dir, "repos")
        self.bare = os.path.join(self.repos, PROJECT)
        shutil.copytree(history.bare, self.bare)
        os.chmod(self.repos, 0o755)
        self.url = "http://127.0.0.1:%d/git/repo.cgi/%s" % (server.port, PROJECT)
        home = os.path.join(server.dir, "home")
        os.makedirs(home)
        self.env = git_env(home)
        self.bare_env = dict(self.env, GIT_DIR=self.bare)

    def allow_push(self):
        """Enable receive-pack for anonymous clients and, when the workers run
        as another user, give the repository to that user."""
        git(self.bare_env, "config", "http.receivepack", "true")
        identity = worker_identity()
        if identity is None:
            return
        shutil.chown(self.bare, *identity)
        for folder, dirs, files in os.walk(self.bare):
            for name in dirs + files:
                shutil.chown(os.path.join(folder, name), *identity)

    def clone(self, name, *options):
        target = os.path.join(self.server.dir, name)
        git(self.env, *options, "clone", "-q", self.url, target)
        return target

    def logged_requests(self):
        """Return (method, target, status, response body bytes) for each line
        of the access log."""
        if not os.path.exists(self.server.access_log):
            return []
        out = []
        with open(self.server.access_log, encoding="latin-1") as f:
            for line in f:
                match = re.search(r'"(\S+) (\S+) HTTP/1\.[01]" (\d{3}) (\d+) ', line)
                assert match, "unexpected access log line %r" % line
                out.append((match.group(1), match.group(2), int(match.group(3)),
                            int(match.group(4))))
        return out

    def wait_logged(self, predicate):
        """Wait until a line of the access log matches predicate, and return
        all lines as logged_requests() does. The worker flushes its lines at
        least once a second, in the order of the requests."""
        found = wait_until(lambda: any(predicate(r) for r in self.logged_requests()), timeout=5)
        requests = self.logged_requests()
        assert found, "no such request in the access log: %r" % requests
        return requests


def write_gitweb_config(server, projectroot):
    path = os.path.join(server.dir, "gitweb.conf")
    with open(path, "w") as f:
        f.write('$projectroot = "%s";\n' % projectroot)
        f.write('$site_name = "ZServer gitweb test";\n')
    os.chmod(path, 0o644)
    return path


@pytest.fixture
def site(server, history):
    """Start zserver with git-http-backend and gitweb and return a GitSite."""
    server.write("git/repo.cgi", read_file(WRAPPER), mode=0o755)
    site = GitSite(server, history)
    gitweb_config = write_gitweb_config(server, site.repos)
    server.access_log = os.path.join(server.dir, "access.log")
    # gitweb reads GITWEB_CONFIG_COMMON, then the first of GITWEB_CONFIG and
    # GITWEB_CONFIG_SYSTEM that exists. All three name the test's file, so
    # /etc/gitweb.conf is never read. gitweb's git commands run as the
    # workers' user on a repository of the tests' user, which git reads only
    # with safe.directory. One worker keeps the access log in the order of
    # the requests.
    server.config(workers=1, server_extra='  access_log = "%s"' % server.access_log, locations="""
  location /git/ {
    cgi = on
    client_max_body_size = 64m
    cgi_param = { "GIT_PROJECT_ROOT=%s" }
  }
  location /gitweb/ {
    root = /usr/share
    cgi = on
    cgi_param = { "GITWEB_CONFIG=%s", "GITWEB_CONFIG_SYSTEM=%s", "GITWEB_CONFIG_COMMON=%s",
                  "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=safe.directory", "GIT_CONFIG_VALUE_0=*" }
  }
  location /gitweb/static/ {
    root = /usr/share
  }
""" % (site.repos, gitweb_config, gitweb_config, gitweb_config))
    server.start()
    return site


# ---- git-http-backend ----

def test_upload_pack_advertisement(site, history):
    status, headers, body = get(site.server, "/git/repo.cgi/%s/info/refs?service=git-upload-pack"
                                % PROJECT)
    assert status == 200
    assert headers["content-type"] == "application/x-git-upload-pack-advertisement"
    assert headers["cache-control"] == "no-cache, max-age=0, must-revalidate"
    assert body.startswith(b"001e# service=git-upload-pack\n0000")
    head = history.commits[-1].encode()
    assert b"%s HEAD\0" % head in body
    assert b"%s refs/heads/%s\n" % (head, BRANCH.encode()) in body
    assert body.endswith(b"0000")


def test_receive_pack_disabled_is_403(site):
    status, headers, body = get(site.server, "/git/repo.cgi/%s/info/refs?service=git-receive-pack"
                                % PROJECT)
    assert status == 403
    assert body == b""
    # The worker may read the script's stderr after the response went out.
    message = "/git/repo.cgi: stderr: Service not enabled: 'receive-pack'"
    assert wait_until(lambda: message in site.server.log()), site.server.log()


def test_missing_repository_is_404(site):
    status, _, _ = get(site.server, "/git/repo.cgi/none.git/info/refs?service=git-upload-pack")
    assert status == 404


@pytest.mark.parametrize("protocol", ["0", "2"])
def test_clone_matches_repository(site, history, protocol):
    clone = site.clone("clone", "-c", "protocol.version=" + protocol)

    git(site.env, "fsck", "--full", "--strict", "--no-dangling", cwd=clone)
    assert git(site.env, "rev-list", "--reverse", "HEAD", cwd=clone).split() == history.commits
    assert git(site.env, "symbolic-ref", "HEAD", cwd=clone).strip() == "refs/heads/" + BRANCH
    assert git(site.env, "rev-parse", "origin/" + BRANCH, cwd=clone).strip() == history.commits[-1]
    for relpath, data in history.files.items():
        assert read_file(os.path.join(clone, relpath)) == data, relpath

    # Smart HTTP: the advertisement, then the pack in the response to a
    # POST, which has to be larger than the random data it holds.
    upload_pack = ("POST", "/git/repo.cgi/%s/git-upload-pack" % PROJECT, 200)
    requests = site.wait_logged(lambda r: r[:3] == upload_pack and r[3] > history.random_bytes)
    assert requests[0][:3] == ("GET", "/git/repo.cgi/%s/info/refs?service=git-upload-pack"
                               % PROJECT, 200)


def test_fetch_with_nothing_new(site, history):
    clone = site.clone("clone")
    trace = dict(site.env, GIT_TRACE_CURL="1", GIT_TRACE_CURL_NO_DATA="1", GIT_TRACE_PACKET="1")

    result = git_run(trace, "fetch", "-v", "origin", cwd=clone)

    assert result.stdout == b""
    assert b" = [up to date]      %s       -> origin/%s" % ((BRANCH.encode(),) * 2) in result.stderr
    assert git(site.env, "rev-parse", "origin/" + BRANCH, cwd=clone).strip() == history.commits[-1]
    # Protocol version 2: the advertisement and ls-refs, but no fetch command.
    sent = sent_headers(result.stderr)
    assert [line for line in sent if line.startswith(("GET ", "POST "))] == [
        "GET /git/repo.cgi/%s/info/refs?service=git-upload-pack HTTP/1.1" % PROJECT,
        "POST /git/repo.cgi/%s/git-upload-pack HTTP/1.1" % PROJECT]
    assert "Git-Protocol: version=2" in sent
    assert received_statuses(result.stderr) == ["HTTP/1.1 200 OK"] * 2
    assert b"fetch> command=ls-refs\n" in result.stderr
    assert b"fetch> command=fetch\n" not in result.stderr


def test_fetch_new_commits_with_gzip_request(site, history):
    site.allow_push()
    behind = site.clone("behind")
    ahead = site.clone("ahead")
    added = commit_random_files(site.env, ahead, {"new/x.bin": 100000}, "Add x.bin")
    git(site.env, "push", "-q", "origin", BRANCH, cwd=ahead)
    new_head = git(site.env, "rev-parse", "HEAD", cwd=ahead).strip()

    # Commits that the server lacks make git list them as "have" lines, and
    # git gzips an upload-pack request body larger than 1 KiB.
    git(site.env, "checkout", "-q", "-b", "local", cwd=behind)
    for number in range(40):
        git(site.env, "commit", "-q", "--allow-empty", "-m", "Local %d" % number, cwd=behind)
    trace = dict(site.env, GIT_TRACE_CURL="1", GIT_TRACE_CURL_NO_DATA="1")
    sent = sent_headers(git_run(trace, "fetch", "-q", "origin", cwd=behind).stderr)

    assert "Content-Encoding: gzip" in sent
    assert git(site.env, "rev-parse", "origin/" + BRANCH, cwd=behind).strip() == new_head
    shown = git_run(site.env, "show", "origin/%s:new/x.bin" % BRANCH, cwd=behind).stdout
    assert shown == added["new/x.bin"]
    git(site.env, "fsck", "--full", "--strict", "--no-dangling", cwd=behind)


def test_push_small_and_chunked(site):
    site.allow_push()
    clone = site.clone("clone")

    # A small pack goes in a request with Content-Length.
    with open(os.path.join(clone, "README"), "ab") as f:
        f.write(b"Pushed through zserver.\n")
    git(site.env, "commit", "-q", "-a", "-m", "Extend README", cwd=clone)
    small = git(site.env, "rev-parse", "HEAD", cwd=clone).strip()
    trace = dict(site.env, GIT_TRACE_CURL="1", GIT_TRACE_CURL_NO_DATA="1")
    sent = sent_headers(git_run(trace, "push", "-q", "origin", BRANCH, cwd=clone).stderr)
    assert "POST /git/repo.cgi/%s/git-receive-pack HTTP/1.1" % PROJECT in sent
    assert any(line.startswith("Content-Length: ") for line in sent), sent
    assert "Transfer-Encoding: chunked" not in sent
    assert git(site.bare_env, "rev-parse", BRANCH).strip() == small

    # 2.5 MiB of new blobs: more than http.postBuffer, so git first sends a
    # 4-byte probe ("0000"), then the pack with a chunked body.
    pushed = commit_random_files(site.env, clone, {"push/e.bin": 3 << 19}, "Add e.bin")
    pushed.update(commit_random_files(site.env, clone, {"push/f.bin": 1 << 20}, "Add f.bin"))
    big = git(site.env, "rev-parse", "HEAD", cwd=clone).strip()
    sent = sent_headers(git_run(trace, "push", "-q", "origin", BRANCH, cwd=clone).stderr)
    assert sent.count("POST /git/repo.cgi/%s/git-receive-pack HTTP/1.1" % PROJECT) == 2
    assert "Content-Length: 4" in sent
    assert "Transfer-Encoding: chunked" in sent

    assert git(site.bare_env, "rev-parse", BRANCH).strip() == big
    git(site.bare_env, "fsck", "--full", "--strict", "--no-dangling")
    assert git(site.bare_env, "rev-list", "-n", "3", BRANCH).split() == [
        big, git(site.env, "rev-parse", "HEAD~1", cwd=clone).strip(), small]
    for relpath, data in pushed.items():
        assert git_run(site.bare_env, "show", "%s:%s" % (BRANCH, relpath)).stdout == data, relpath

    # A second clone sees the pushed history.
    again = site.clone("again")
    assert git(site.env, "rev-parse", "HEAD", cwd=again).strip() == big
    assert read_file(os.path.join(again, "push", "e.bin")) == pushed["push/e.bin"]


# ---- gitweb ----

def gitweb(site, query):
    return get(site.server, "/gitweb/gitweb.cgi" + query)


def test_gitweb_project_list(site):
    status, headers, body = gitweb(site, "")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert b"<title>ZServer gitweb test</title>" in body
    assert (b'<a class="list" href="/gitweb/gitweb.cgi?p=project.git;a=summary">project.git</a>'
            in body)
    assert b'title="ZServer test repository">ZServer test repository</a>' in body
    assert body.rstrip().endswith(b"</html>")


def test_gitweb_commit_page(site, history):
    commit = history.commits[2]
    status, headers, body = gitweb(site, "?p=%s;a=commit;h=%s" % (PROJECT, commit))
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert b"<td class=\"sha1\">%s</td>" % commit.encode() in body
    assert b"Add b.bin and c.bin" in body
    assert b"data/b.bin" in body
    assert b"data/c.bin" in body


@pytest.mark.parametrize("relpath, media_type", [("data/small/d.bin", "application/octet-stream"),
                                                  ("data/a.bin", "application/octet-stream"),
                                                  ("README", "text/plain")])
def test_gitweb_blob_plain_is_exact(site, history, relpath, media_type):
    query = "?p=%s;a=blob_plain;f=%s;hb=%s" % (PROJECT, relpath, history.commits[-1])
    status, headers, body = gitweb(site, query)
    assert status == 200
    # CGI.pm, which gitweb uses, adds its default charset (ISO-8859-1) to any type.
    assert headers["content-type"] == media_type + "; charset=ISO-8859-1"
    assert headers["content-disposition"] == 'inline; filename="%s"' % relpath
    assert body == history.files[relpath]


def test_gitweb_snapshot_tgz(site, history):
    commit = history.commits[2]
    status, headers, body = gitweb(site, "?p=%s;a=snapshot;h=%s;sf=tgz" % (PROJECT, commit))
    assert status == 200
    assert headers["content-type"] == "application/x-gzip; charset=ISO-8859-1"
    assert headers["content-disposition"] == 'inline; filename="project-%s.tar.gz"' % commit[:7]

    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        names = sorted(member.name for member in archive.getmembers() if member.isfile())
        assert names == ["project-%s/%s" % (commit[:7], name)
                         for name in ("README", "data/a.bin", "data/b.bin", "data/c.bin")]
        member = archive.extractfile("project-%s/data/b.bin" % commit[:7])
        assert member.read() == history.files["data/b.bin"]


def test_gitweb_missing_project_is_404(site):
    status, headers, body = gitweb(site, "?p=none.git;a=summary")
    assert status == 404
    assert b"404 - No such project" in body


def test_gitweb_static_file(site):
    status, headers, body = get(site.server, "/gitweb/static/gitweb.css")
    assert status == 200
    assert headers["content-type"].startswith("text/css")
    assert body == read_file("/usr/share/gitweb/static/gitweb.css")
