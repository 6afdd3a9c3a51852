"""The bundled configuration and example site, as the README starts them."""

import os
import shutil

from conftest import TOP, fetch, pool_identity


def start_bundled(server):
    conf_dir = os.path.join(server.dir, "conf")
    shutil.copytree(os.path.join(TOP, "conf"), conf_dir)
    os.chmod(conf_dir, 0o755)
    with open(os.path.join(conf_dir, "zserver.conf")) as f:
        text = f.read()
    assert '"127.0.0.1:8080"' in text
    text = text.replace('"127.0.0.1:8080"', '"127.0.0.1:%d"' % server.port)
    # The PHP app's socket goes to the test's directory, away from a running example.
    assert "#socket = /run/zserver/app-php.sock" in text
    text = text.replace("#socket = /run/zserver/app-php.sock",
                        'socket = "%s"' % os.path.join(server.dir, "php.sock"))
    text = pool_identity() + text
    server.conf_path = os.path.join(conf_dir, "zserver.conf")
    with open(server.conf_path, "w") as f:
        f.write(text)
    server.start()


def fetch10(server, target):
    """GET over HTTP/1.0: an application's body then ends with the connection."""
    data = server.request(b"GET %s HTTP/1.0\r\nHost: a\r\n\r\n" % target.encode())
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = dict((k.decode().lower(), v.strip().decode()) for k, _, v in
                   (line.partition(b":") for line in lines[1:]))
    return int(lines[0].split()[1]), headers, body


def test_bundled_site_pages_and_links(server):
    start_bundled(server)
    status, headers, body, _ = fetch(server, "/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    with open(os.path.join(TOP, "conf", "html", "index.html"), "rb") as f:
        assert body == f.read()
    status, _, body, _ = fetch(server, "/docs/")
    assert status == 200
    assert b'<a href="example.txt">example.txt</a>' in body
    assert fetch(server, "/healthz")[:3:2] == (200, b"ok")
    status, headers, _, _ = fetch(server, "/old-page")
    assert (status, headers["location"]) == (301, "/")
    status, headers, _, _ = fetch(server, "/style.css")
    assert (status, headers["content-type"]) == (200, "text/css; charset=utf-8")


def test_bundled_site_cgi_and_php(server):
    start_bundled(server)
    status, headers, body = fetch10(server, "/cgi-bin/hello.sh/extra/path?a=1")
    assert status == 200
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert body.startswith(b"Hello from a CGI script.\n\n")
    assert b"\nSCRIPT_NAME=/cgi-bin/hello.sh\nPATH_INFO=/extra/path\nQUERY_STRING=a=1\n" in body

    status, headers, body = fetch10(server, "/app/hello.php?name=tester")
    assert status == 200
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert body.startswith(b"Hello, tester, from PHP 8.")
    assert b"\nSCRIPT_NAME=/app/hello.php\n" in body
    assert fetch(server, "/app/missing.php")[0] == 404


def test_bundled_site_wsgi(server):
    start_bundled(server)
    status, headers, body, _ = fetch(server, "/py/hello?name=<tester>")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-length"] == str(len(body))
    assert b"<h1>Hello, &lt;tester&gt;!</h1>" in body
    assert b"<tr><td>SCRIPT_NAME</td><td>/py</td></tr><tr><td>PATH_INFO</td><td>/hello</td></tr>" in body
    data = server.request(b"POST /py/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                          b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 12\r\n\r\n"
                          b"name=visitor")
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"<h1>Hello, visitor!</h1>" in data
