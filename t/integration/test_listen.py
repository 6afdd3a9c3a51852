"""Listening addresses: IPv4, IPv6, unix sockets and a bare port on one server."""

import os
import socket

import pytest

from conftest import free_port, parse_response


def ipv6_loopback_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def get(family, address, host="a"):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(address)
        s.sendall(b"GET /x.txt HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host.encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return parse_response(data)
            data += chunk


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback on this machine")
def test_ipv4_ipv6_and_unix_on_one_server(server):
    port6 = free_port()
    sock = os.path.join(server.dir, "z.sock")
    server.write("x.txt", "same file\n")
    server.config(body="""
server s {
  listen = { "127.0.0.1:%d", "[::1]:%d", "unix:%s" }
  root = "%s"
}
""" % (server.port, port6, sock, server.root))
    server.start()
    for family, address in ((socket.AF_INET, ("127.0.0.1", server.port)),
                            (socket.AF_INET6, ("::1", port6)),
                            (socket.AF_UNIX, sock)):
        status, _, body, _ = get(family, address)
        assert (status, body) == (200, b"same file\n"), address
    assert oct(os.stat(sock).st_mode & 0o777) == "0o666"


def test_bare_port_listens_on_all_ipv4_addresses(server):
    server.write("x.txt", "any address\n")
    server.config(body="""
server s {
  listen = { "%d" }
  root = "%s"
}
""" % (server.port, server.root))
    server.start()
    for address in ("127.0.0.1", "127.0.0.2"):
        status, _, body, _ = get(socket.AF_INET, (address, server.port))
        assert (status, body) == (200, b"any address\n"), address
