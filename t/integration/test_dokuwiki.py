"""Debian's DokuWiki through the real binary and PHP-FPM.

The test never touches the system's /etc/dokuwiki or /var/lib/dokuwiki.
It builds a private wiki laid out as upstream's tarball is. The code is a
copy of Debian's /usr/share/dokuwiki with its symbolic links resolved.
conf/ inside the tree contains copies of /etc/dokuwiki's files and a
local.php of its own, and data/ inside the tree starts empty and belongs to
PHP-FPM's user. The zserver configuration follows nginx's DokuWiki recipe:
doku.php as the index file, PHP through FastCGI, and 403 for the
directories that must not be served.
"""

import html.parser
import http.cookiejar
import os
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from backends import PHP_FPM, PhpFpm, worker_identity

DOKUWIKI = "/usr/share/dokuwiki"
DOKUWIKI_CONF = "/etc/dokuwiki"
PAGE_DIRS = ("pages", "attic", "media", "media_attic", "meta", "media_meta", "cache", "index",
             "locks", "tmp", "log")
START_TEXT = "====== ZServer wiki ======\nThe start page of the test wiki.\n"

pytestmark = pytest.mark.skipif(
    not (os.path.isfile(os.path.join(DOKUWIKI, "doku.php")) and os.access(PHP_FPM, os.X_OK)),
    reason="needs Debian's dokuwiki and php8.2-fpm (./setup --test installs them)")


def copy_code(source, target):
    """Copy a tree with its symbolic links resolved, readable by any user.

    Entries that the tests' user cannot read are left out. Debian's
    lib/plugins/testing (mode 0700, owned by root) is one of them when the
    tests do not run as root, and DokuWiki's plugins.php disables that
    plugin anyway.
    """
    def unreadable(folder, names):
        return [name for name in names if not os.access(os.path.join(folder, name), os.R_OK)]

    shutil.copytree(source, target, ignore=unreadable)
    os.chmod(target, 0o755)
    for folder, dirs, files in os.walk(target):
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


def give_to_workers(path):
    """Make PHP-FPM's pool user (the user nobody when the tests run as
    root) the owner of path and everything below it."""
    identity = worker_identity()
    if identity is None:
        return
    shutil.chown(path, *identity)
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            shutil.chown(os.path.join(folder, name), *identity)


class WikiTree:
    """A private DokuWiki installation in a folder of its own.

    Debian's inc/preload.php, which points DokuWiki at /etc/dokuwiki, is
    left out of the copy, so DokuWiki falls back to its own default: the
    conf/ folder next to inc/.
    """

    def __init__(self, base):
        self.root = os.path.join(base, "dokuwiki")
        self.data = os.path.join(self.root, "data")
        self.conf = os.path.join(self.root, "conf")
        self.sessions = os.path.join(base, "sessions")
        copy_code(DOKUWIKI, self.root)
        os.unlink(os.path.join(self.root, "inc", "preload.php"))

        os.makedirs(self.conf, mode=0o755)
        for name in os.listdir(DOKUWIKI_CONF):
            source = os.path.join(DOKUWIKI_CONF, name)
            # acl.auth.php and users.auth.php link to /var/lib/dokuwiki and
            # are not needed without ACLs.
            if os.path.isfile(source) and not os.path.islink(source):
                shutil.copyfile(source, os.path.join(self.conf, name))
                os.chmod(os.path.join(self.conf, name), 0o644)
        with open(os.path.join(self.conf, "local.php"), "w") as f:
            f.write("<?php\n"
                    "$conf['title'] = 'ZServer test wiki';\n"
                    "$conf['savedir'] = '%s';\n"
                    "$conf['useacl'] = 0;\n"
                    "$conf['updatecheck'] = 0;\n"
                    "$conf['userewrite'] = 0;\n" % self.data)

        for name in PAGE_DIRS:
            os.makedirs(os.path.join(self.data, name))
        self.write_page("start", START_TEXT)
        os.makedirs(self.sessions, mode=0o700)
        give_to_workers(self.data)
        give_to_workers(self.sessions)

    def write_page(self, page_id, text):
        path = os.path.join(self.data, "pages", *page_id.split(":")) + ".txt"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


@pytest.fixture(scope="module")
def wiki_tree():
    base = tempfile.mkdtemp(prefix="zs-dokuwiki-")
    os.chmod(base, 0o755)
    try:
        yield WikiTree(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


class WikiPhpFpm(PhpFpm):
    """PHP-FPM that keeps its sessions in the wiki's folder, not in the
    system's /var/lib/php/sessions."""

    def __init__(self, tmpdir, sessions):
        super().__init__(tmpdir)
        self.sessions = sessions

    def prepare(self):
        super().prepare()
        with open(self.pool_path, "a") as f:
            f.write("php_admin_value[session.save_path] = %s\n" % self.sessions)


class Response:
    """Status, headers and body of one response."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.text = body.decode("utf-8", errors="replace")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hands 3xx responses to the test, which checks them, instead of
    following them."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class WikiClient:
    """A browser stand-in: keeps cookies, uses no proxy and follows no
    redirect."""

    def __init__(self, server, tree):
        self.server = server
        self.tree = tree
        self.base = "http://127.0.0.1:%d" % server.port
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                  urllib.request.HTTPCookieProcessor(self.cookies),
                                                  NoRedirect())

    def request(self, target, form=None):
        """GET target, or POST the (name, value) pairs of form to it as
        application/x-www-form-urlencoded. Returns a Response."""
        data = None if form is None else urllib.parse.urlencode(form).encode("ascii")
        req = urllib.request.Request(self.base + target, data=data)
        try:
            with self.opener.open(req, timeout=15) as resp:
                return Response(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as err:
            with err:
                return Response(err.code, err.headers, err.read())


@pytest.fixture
def wiki(server, wiki_tree):
    """Start PHP-FPM and zserver for the wiki and return a WikiClient."""
    fpm = WikiPhpFpm(server.dir, wiki_tree.sessions).start()
    try:
        server.root = wiki_tree.root
        # Regular expression locations are tried in file order, so the 403
        # location comes first and /inc/init.php never reaches PHP. As in
        # nginx's recipe, the folder names match at any depth, which also
        # covers the conf/ folders of plugins.
        server.config(server_extra="  index = { doku.php }", locations="""
  location '~ /(data|conf|bin|inc|vendor)/|/install\\.php$' {
    return = 403
  }
  location '~ \\.php(/|$)' {
    fastcgi_pass = "unix:%s"
    fastcgi_split_path_info = '^(.+\\.php)(/.*)$'
  }
""" % fpm.socket)
        server.start()
        yield WikiClient(server, wiki_tree)
    finally:
        fpm.stop()


class FormParser(html.parser.HTMLParser):
    """Collects the action and the controls (input, button, textarea) of
    the form with the given id, in document order."""

    def __init__(self, form_id):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.found = False
        self.action = None
        self.method = None
        self.controls = []         # [tag, attribute dict, value]
        self._inside = False
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("id") == self.form_id:
            self.found = True
            self._inside = True
            self.action = attrs.get("action")
            self.method = (attrs.get("method") or "get").lower()
            return
        if not self._inside:
            return
        if tag in ("input", "button"):
            self.controls.append([tag, attrs, attrs.get("value") or ""])
        elif tag == "textarea":
            self._textarea = [tag, attrs, ""]
            self.controls.append(self._textarea)

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[2] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._inside = False


def form_submission(parser, submitter, values):
    """Return the (name, value) pairs that a browser sends for the parsed
    form when the button named submitter is clicked, with values replacing
    the values of the named controls.

    This follows the HTML standard's form submission. Controls without a
    name, disabled controls, and unchecked checkboxes and radio buttons are
    skipped, and of the buttons only the submitter is sent. Line breaks in a
    textarea become CRLF.
    """
    pairs = []
    used = set()
    for tag, attrs, value in parser.controls:
        name = attrs.get("name")
        if not name or "disabled" in attrs:
            continue
        kind = (attrs.get("type") or ("submit" if tag == "button" else "text")).lower()
        if kind in ("submit", "image", "button", "reset"):
            if name != submitter:
                continue
        elif kind in ("checkbox", "radio") and "checked" not in attrs:
            continue
        if name in values:
            value = values[name]
            used.add(name)
        if tag == "textarea":
            value = value.replace("\r\n", "\n").replace("\n", "\r\n")
        pairs.append((name, value))
    missing = set(values) - used
    assert not missing, "the form has no control named %s" % sorted(missing)
    return pairs


def edit_page(wiki, page_id, text, summary):
    """Fetch the edit form of page_id and submit it with the Save button,
    as a browser does. Returns the response to the POST."""
    form_page = wiki.request("/doku.php?" + urllib.parse.urlencode({"id": page_id, "do": "edit"}))
    assert form_page.status == 200
    parser = FormParser("dw__editform")
    parser.feed(form_page.text)
    parser.close()
    assert parser.found, "no edit form in the page:\n" + form_page.text[:2000]
    assert parser.method == "post"
    # The form always has the field, but DokuWiki 2022-07-31b fills it only
    # for logged-in users (getSecurityToken() in inc/common.php), so here it
    # is empty.
    assert any(attrs.get("name") == "sectok" for _, attrs, _ in parser.controls)

    pairs = form_submission(parser, "do[save]", {"wikitext": text, "summary": summary})
    return wiki.request(parser.action, pairs)


def wait_past_second(timestamp):
    """Sleep until the clock is 50 ms into the second after the one that
    contains timestamp (in seconds since the epoch). The margin covers file
    times, which Linux takes from a clock that may lag time.time() by a few
    milliseconds."""
    time.sleep(max(0.0, int(timestamp) + 1.05 - time.time()))


def test_start_page_through_index(wiki):
    response = wiki.request("/")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<meta name="generator" content="DokuWiki"/>' in response.text
    assert "<title>start [ZServer test wiki]</title>" in response.text
    assert '<h1 class="sectionedit1" id="zserver_wiki">ZServer wiki</h1>' in response.text
    assert "The start page of the test wiki." in response.text
    assert any(cookie.name == "DokuWiki" for cookie in wiki.cookies), "no session cookie"

    # The query string survives the change to the index file.
    response = wiki.request("/?id=start&do=export_raw")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.body == START_TEXT.encode()


def test_create_edit_and_revisions(wiki):
    page = "zstest:created"
    target = "/doku.php?id=" + page

    first_text = "====== Created page ======\nFirst **bold** version by zserver.\n"
    response = edit_page(wiki, page, first_text, "first version")
    # PHP sends 302 for a Location header without an explicit status.
    assert response.status == 302
    assert response.headers["Location"] == "http://127.0.0.1:%d%s" % (wiki.server.port, target)
    page_file = os.path.join(wiki.tree.data, "pages", "zstest", "created.txt")
    with open(page_file, "rb") as f:
        assert f.read() == first_text.encode()
    first_revision = int(os.stat(page_file).st_mtime)

    response = wiki.request(target)
    assert response.status == 200
    assert '<h1 class="sectionedit1" id="created_page">Created page</h1>' in response.text
    assert "First <strong>bold</strong> version by zserver." in response.text

    # DokuWiki names a revision by the second of the page file's mtime, so a
    # second save within the same second would replace the first revision.
    wait_past_second(first_revision)
    second_text = "====== Created page ======\nSecond //italic// version by zserver.\n"
    response = edit_page(wiki, page, second_text, "second version")
    assert response.status == 302

    response = wiki.request(target)
    assert response.status == 200
    assert "Second <em>italic</em> version by zserver." in response.text
    assert "First <strong>bold</strong>" not in response.text

    # The list shows the newest revision first, each with its summary.
    response = wiki.request(target + "&do=revisions")
    assert response.status == 200
    revisions = re.findall(r'<input name="rev2\[\]" type="checkbox" value="(\d+)" />', response.text)
    assert len(revisions) == 2, revisions
    assert int(revisions[1]) == first_revision
    assert int(revisions[0]) > first_revision
    summaries = re.findall(r'<span class="sum"> – ([^<]*)</span>', response.text)
    assert summaries == ["second version", "first version"]

    response = wiki.request("%s&rev=%s" % (target, revisions[1]))
    assert response.status == 200
    assert "First <strong>bold</strong> version by zserver." in response.text


@pytest.mark.parametrize("path", ["/data/pages/start.txt", "/data/", "/%64ata/pages/start.txt",
                                  "/conf/local.php", "/inc/init.php", "/bin/indexer.php",
                                  "/vendor/autoload.php", "/install.php",
                                  "/lib/plugins/authad/conf/default.php"])
def test_private_paths_are_403(wiki, path):
    response = wiki.request(path)
    assert response.status == 403
    assert "The start page of the test wiki." not in response.text
    assert "savedir" not in response.text


def test_static_and_php_assets(wiki):
    response = wiki.request("/lib/images/blank.gif")
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/gif"
    with open(os.path.join(DOKUWIKI, "lib", "images", "blank.gif"), "rb") as f:
        assert response.body == f.read()

    response = wiki.request("/lib/exe/css.php?t=dokuwiki")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/css; charset=utf-8"
    assert b".dokuwiki" in response.body
