"""The bundled configuration and example site, as the README starts them."""

import os
import shutil

from conftest import TOP, fetch, pool_identity


def test_bundled_site_pages_and_links(server):
    conf_dir = os.path.join(server.dir, "conf")
    shutil.copytree(os.path.join(TOP, "conf"), conf_dir)
    os.chmod(conf_dir, 0o755)
    with open(os.path.join(conf_dir, "zserver.conf")) as f:
        text = f.read()
    assert '"127.0.0.1:8080"' in text
    text = text.replace('"127.0.0.1:8080"', '"127.0.0.1:%d"' % server.port)
    text = pool_identity() + text
    server.conf_path = os.path.join(conf_dir, "zserver.conf")
    with open(server.conf_path, "w") as f:
        f.write(text)
    server.start()

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
