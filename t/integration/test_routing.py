"""Routing: virtual hosts by Host, locations in nginx's order, and `return`."""

import os

from conftest import fetch, parse_response


def site(server, name, files):
    """Creates the document root <dir>/<name> with files {relative path: text}."""
    root = os.path.join(server.dir, name)
    os.makedirs(root, exist_ok=True)
    os.chmod(root, 0o755)
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
    return root


def vhost(server, title, names, extra=""):
    root = site(server, title, {"index.html": title})
    return """
server %s {
  listen = { "127.0.0.1:%d" }
  server_name = { %s }
  root = "%s"
  %s
}
""" % (title, server.port, ", ".join('"%s"' % n for n in names), root, extra)


def start_vhosts(server, default_extra=""):
    body = (vhost(server, "first", ["first.test"])
            + vhost(server, "exact", ["example.org", "alias.example.net"])
            + vhost(server, "front", ["*.example.org"])
            + vhost(server, "front_sub", ["*.sub.example.org"])
            + vhost(server, "back", ["www.example.*"])
            + vhost(server, "fallback", ["other.test"], default_extra))
    server.config(body=body)
    server.start()


def served_by(server, host):
    status, _, body, _ = fetch(server, "/", host=host)
    assert status == 200, host
    return body.decode()


HOSTS = [
    ("example.org", "exact"),
    ("alias.example.net", "exact"),
    ("EXAMPLE.Org", "exact"),
    ("example.org:8080", "exact"),
    ("example.org.", "exact"),
    ("Example.Org.:80", "exact"),
    ("a.example.org", "front"),
    ("a.b.example.org", "front"),
    ("www.example.org", "front"),
    ("x.sub.example.org", "front_sub"),
    ("www.example.com", "back"),
    ("WWW.Example.net", "back"),
    ("first.test", "first"),
    ("other.test", "fallback"),
]


def test_virtual_hosts_by_host(server):
    start_vhosts(server)
    for host, expected in HOSTS:
        assert served_by(server, host) == expected, host


def test_unknown_host_gets_first_server(server):
    start_vhosts(server)
    for host in ("nomatch.test", "example.org.evil", "xexample.org", "example.com", "127.0.0.1"):
        assert served_by(server, host) == "first", host
    status, _, body, _ = parse_response(server.request(b"GET / HTTP/1.0\r\n\r\n"))
    assert status == 200
    assert body == b"first"


def test_default_server_option_picks_default(server):
    start_vhosts(server, default_extra="default_server = true")
    for host in ("nomatch.test", "example.com"):
        assert served_by(server, host) == "fallback", host
    status, _, body, _ = parse_response(server.request(b"GET / HTTP/1.0\r\n\r\n"))
    assert status == 200
    assert body == b"fallback"
    for host, expected in HOSTS:
        assert served_by(server, host) == expected, host


def test_absolute_form_target_overrides_host(server):
    start_vhosts(server)
    status, _, body, _ = fetch(server, "http://a.example.org/", host="first.test")
    assert status == 200
    assert body == b"front"


def start_locations(server):
    roots = {}
    for name, files in {
        "server": {"index.html": "server", "unmatched.txt": "server", "a/x.PHP": "server"},
        "exact": {"exact": "exact"},
        "prefix_exact": {"exact": "prefix_exact", "exactly": "prefix_exact"},
        "a": {"a/x.txt": "a", "a/x.PHP": "a"},
        "ab": {"a/b/x.txt": "ab", "a/b/x.php": "ab"},
        "static": {"static/x.php": "static", "static/z.png": "static"},
        "regex1": {"a/b/x.php": "regex1", "other/y.php": "regex1"},
        "regex2": {"a/b/x.php": "regex2"},
        "nocase": {"img/x.png": "nocase", "img/X.PNG": "nocase", "static/z.png": "nocase"},
    }.items():
        roots[name] = site(server, name, files)
    locations = """
  location '= /exact' { root = "%(exact)s" }
  location /exact { root = "%(prefix_exact)s" }
  location /a/ { root = "%(a)s" }
  location /a/b/ { root = "%(ab)s" }
  location '^~ /static/' { root = "%(static)s" }
  location '~ \\.php$' { root = "%(regex1)s" }
  location '~ ^/a/b/.*\\.php$' { root = "%(regex2)s" }
  location '~* \\.PNG$' { root = "%(nocase)s" }
""" % roots
    body = """
server loc {
  listen = { "127.0.0.1:%d" }
  root = "%s"
%s
}
""" % (server.port, roots["server"], locations)
    server.config(body=body)
    server.start()


LOCATIONS = [
    ("/exact", "exact"),
    ("/exactly", "prefix_exact"),
    ("/a/x.txt", "a"),
    ("/a/b/x.txt", "ab"),
    ("/static/x.php", "static"),
    ("/static/z.png", "static"),
    ("/a/b/x.php", "regex1"),
    ("/other/y.php", "regex1"),
    ("/img/x.png", "nocase"),
    ("/img/X.PNG", "nocase"),
    ("/a/x.PHP", "a"),
]


def test_locations_in_nginx_order(server):
    start_locations(server)
    for path, expected in LOCATIONS:
        status, _, body, _ = fetch(server, path)
        assert status == 200, path
        assert body == expected.encode(), path


def test_location_matches_decoded_path(server):
    start_locations(server)
    for path, expected in (("/%65xact", "exact"), ("/a/./b/x.txt", "ab"), ("/a/b/x%2Ephp", "regex1")):
        status, _, body, _ = fetch(server, path)
        assert status == 200, path
        assert body == expected.encode(), path


def test_unmatched_path_uses_server_root(server):
    start_locations(server)
    for path in ("/unmatched.txt", "/"):
        status, _, body, _ = fetch(server, path)
        assert status == 200, path
        assert body == b"server", path


def start_returns(server):
    server.write("index.html", "index")
    server.config(server_extra='server_name = { "example.org" }', locations="""
  location /old/ { return = "301 https://$host$request_uri" }
  location '= /moved' { return = "302 /new?from=$uri&args=$args" }
  location '= /hello' { return = "200 hello world" }
  location '= /gone' { return = "404" }
  location '= /teapot' { return = "410 gone for good" }
  location /u/ { return = "302 http://$host$uri" }
  location '= /empty' { return = "204" }
""")
    server.start()


def test_return_redirect_location_exact(server):
    start_returns(server)
    cases = [
        ("/old/page?a=1&b=2", "example.org", "https://example.org/old/page?a=1&b=2"),
        ("/old/page", "example.org:8080", "https://example.org/old/page"),
        ("/old/a%20b/?q=%2F", "www.example.org.", "https://www.example.org/old/a%20b/?q=%2F"),
    ]
    for target, host, location in cases:
        status, headers, body, _ = fetch(server, target, host=host)
        assert status == 301, target
        assert headers["location"] == location, target
        assert b"301 Moved Permanently" in body, target


def test_return_host_variable_lowercased(server):
    start_returns(server)
    status, headers, _, _ = fetch(server, "/old/x", host="Example.ORG")
    assert status == 301
    assert headers["location"] == "https://example.org/old/x"


def test_return_redirect_with_uri_and_args(server):
    start_returns(server)
    status, headers, _, _ = fetch(server, "/moved?x=1")
    assert status == 302
    assert headers["location"] == "/new?from=/moved&args=x=1"


def test_return_uri_is_reencoded_in_location(server):
    """$uri is decoded; a CR LF from the client must not become a header."""
    start_returns(server)
    status, headers, _, _ = fetch(server, "/u/a%0d%0aX-Injected:%20yes")
    assert status == 302
    assert "x-injected" not in headers
    assert headers["location"] == "http://a/u/a%0D%0AX-Injected%3A%20yes"
    status, headers, _, _ = fetch(server, "/u/caf%C3%A9%20x")
    assert headers["location"] == "http://a/u/caf%C3%A9%20x"


def test_return_204_has_no_length_or_body(server):
    start_returns(server)
    raw = server.request("GET /empty HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 204 No Content\r\n")
    assert b"content-length" not in head.lower()
    assert b"content-type" not in head.lower()
    assert body == b""


def test_return_text_body_exact(server):
    start_returns(server)
    status, headers, body, rest = fetch(server, "/hello")
    assert status == 200
    assert body == b"hello world"
    assert headers["content-length"] == "11"
    assert headers["content-type"] == "text/plain"
    assert rest == b""
    status, headers, body, rest = fetch(server, "/teapot")
    assert status == 410
    assert body == b"gone for good"


def test_return_text_on_head(server):
    start_returns(server)
    status, headers, body, rest = fetch(server, "/hello", method="HEAD")
    assert status == 200
    assert headers["content-length"] == "11"
    assert (body, rest) == (b"", b"")


def test_return_status_only_sends_error_page(server):
    start_returns(server)
    status, headers, body, _ = fetch(server, "/gone")
    assert status == 404
    assert headers["content-type"] == "text/html"
    assert body == b"<!DOCTYPE html>\n<title>404 Not Found</title>\n<h1>404 Not Found</h1>\n"
