"""Reloading the configuration with SIGHUP and `zserver -s reload`: no
request fails under load, a broken configuration keeps the old one running,
and listeners are added and removed."""

import http.client
import os
import signal
import socket
import subprocess
import threading
import time

from conftest import ZSERVER, fetch, free_port, wait_until

LOAD_SECONDS = 4.0
HUP_INTERVAL = 0.3


def write_conf(server, text, workers=2, globals_="", listen=None):
    """Writes a configuration whose every request gets `200 text`. listen
    contains ports on 127.0.0.1 and unix socket paths."""
    if listen is None:
        listen = [server.port]
    addresses = ", ".join('"unix:%s"' % a if isinstance(a, str) else '"127.0.0.1:%d"' % a
                          for a in listen)
    body = """
server test {
  listen = { %s }
  root = "%s"
  location / { return = "200 %s" }
}
""" % (addresses, server.root, text)
    return server.config(body=body, workers=workers,
                         globals_="shutdown_timeout = 5s\n" + globals_)


def body_of(server, port=None):
    port = port or server.port
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/", headers={"Connection": "close"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    except OSError as exc:
        return None, repr(exc)


def reloads_logged(server):
    return server.log().count("configuration reloaded, generation")


def reload_command(server):
    return subprocess.run([ZSERVER, "-s", "reload", "-c", server.conf_path],
                          capture_output=True, text=True, timeout=15)


def connect_refused(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        # A probe still queued in the listener when it closed (listeners use
        # TCP_DEFER_ACCEPT, so an empty connection waits there): try again.
        return False


class Client(threading.Thread):
    """Requests "/" in a loop, on one keep-alive connection or with
    "Connection: close"; any exception or status other than 200 is a failure."""

    def __init__(self, port, keepalive, stop):
        super().__init__(daemon=True)
        self.port = port
        self.keepalive = keepalive
        self.stop_event = stop
        self.bodies = []
        self.failures = []
        self.connections = 0

    def connect(self):
        self.connections += 1
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)

    def run(self):
        headers = {} if self.keepalive else {"Connection": "close"}
        conn = self.connect()
        while not self.stop_event.is_set():
            try:
                conn.request("GET", "/", headers=headers)
                resp = conn.getresponse()
                body = resp.read().decode()
                if resp.status != 200:
                    self.failures.append((time.time(), resp.status, body))
                else:
                    self.bodies.append(body)
                if resp.will_close:
                    conn.close()
                    conn = self.connect()
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append((time.time(), "exception", repr(exc)))
                conn.close()
                conn = self.connect()
        conn.close()


def test_hup_under_load_fails_no_request(server):
    write_conf(server, "gen-0")
    server.start()
    assert wait_until(lambda: len(server.workers()) == 2)

    stop = threading.Event()
    clients = [Client(server.port, keepalive, stop) for keepalive in (True, True, False, False)]
    for client in clients:
        client.start()

    texts = ["gen-0"]
    hups = 0
    began = time.time()
    while time.time() - began < LOAD_SECONDS:
        time.sleep(HUP_INTERVAL)
        if hups % 3 == 2:
            texts.append("gen-%d" % len(texts))
            write_conf(server, texts[-1])
        server.signal(signal.SIGHUP)
        hups += 1
    # Let the last generation serve requests for a while before the clients stop.
    time.sleep(0.5)
    stop.set()
    for client in clients:
        client.join(10)

    failures = [("keep-alive" if client.keepalive else "close",) + failure
                for client in clients for failure in client.failures]
    assert failures == [], "\n".join(map(str, failures))
    bodies = [b for client in clients for b in client.bodies]
    assert len(bodies) > 200
    assert set(bodies) <= set(texts)
    for client in clients:
        assert client.bodies[-1] == texts[-1]
    # "Connection: close" from the draining workers made keep-alive clients reconnect.
    assert clients[0].connections > 1

    assert wait_until(lambda: reloads_logged(server) == hups, timeout=5), server.log()
    # Old generations finish their requests and exit: only the last two workers remain.
    assert wait_until(lambda: len(server.workers()) == 2, timeout=5), server.workers()
    log = server.log()
    assert "killed by signal" not in log
    assert "still running after its stop timeout" not in log
    assert " [error] " not in log


def test_hup_replaces_every_worker(server):
    write_conf(server, "one")
    server.start()
    assert wait_until(lambda: len(server.workers()) == 2)
    before = set(server.workers())

    write_conf(server, "two")
    server.signal(signal.SIGHUP)
    assert wait_until(lambda: body_of(server) == (200, "two"))
    assert wait_until(lambda: not set(server.workers()) & before)
    assert wait_until(lambda: len(server.workers()) == 2)


def test_hup_with_broken_config_keeps_old_one(server):
    write_conf(server, "one")
    server.start()
    assert wait_until(lambda: len(server.workers()) == 2)
    before = server.workers()

    path = write_conf(server, "two", globals_="no_such_option = 1\n")
    with open(path) as f:
        line = 1 + f.read().split("\n").index("no_such_option = 1")
    server.signal(signal.SIGHUP)
    assert wait_until(lambda: "reload failed" in server.log())

    log = server.log()
    assert "%s:%d: unknown option 'no_such_option'" % (path, line) in log
    assert "reload failed, still running the previous configuration" in log
    assert body_of(server) == (200, "one")
    assert server.workers() == before


def test_reload_command_reports_outcome(server):
    write_conf(server, "one")
    server.start()
    assert wait_until(lambda: len(server.workers()) == 2)

    # A syntax error is found by the command itself, before it signals.
    path = write_conf(server, "two", globals_="pid_file = \n")
    result = reload_command(server)
    assert result.returncode == 1
    assert "%s:" % path in result.stderr
    assert "configuration file %s test failed" % path in result.stderr
    assert body_of(server) == (200, "one")

    # A root that cannot be opened is found by the master, which replies that the reload failed.
    missing = os.path.join(server.dir, "missing-root")
    server.config(locations="location /x/ { root = \"%s\" }" % missing)
    result = reload_command(server)
    assert result.returncode == 1
    assert result.stderr == ("zserver: reload failed, the previous configuration is still running; "
                             "see the error log\n")
    assert "root %s: open failed: No such file or directory" % missing in server.log()
    assert body_of(server) == (200, "one")

    write_conf(server, "three")
    result = reload_command(server)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert wait_until(lambda: body_of(server) == (200, "three"))


def test_reload_adds_and_removes_listener(server):
    second = free_port()
    write_conf(server, "one")
    server.start()
    assert connect_refused(second)

    write_conf(server, "two", listen=[server.port, second])
    server.signal(signal.SIGHUP)
    assert wait_until(lambda: body_of(server, second) == (200, "two"))
    assert wait_until(lambda: body_of(server) == (200, "two"))

    write_conf(server, "three")
    server.signal(signal.SIGHUP)
    assert wait_until(lambda: connect_refused(second), timeout=3)
    assert body_of(server) == (200, "three")


def test_reload_removes_dropped_unix_socket_file(server):
    path = os.path.join(server.dir, "zs.sock")
    write_conf(server, "one", listen=[server.port, path])
    server.start()
    assert os.path.exists(path)

    write_conf(server, "two")
    server.signal(signal.SIGHUP)
    assert wait_until(lambda: body_of(server) == (200, "two"))
    assert not os.path.exists(path)


def test_reload_command_during_shutdown_fails_at_once(server):
    write_conf(server, "one", globals_="client_header_timeout = 3s\n")
    server.start()
    # A request head that never ends keeps a worker, and so the master, running.
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(b"GET / HTTP/1.1\r\n")
    time.sleep(0.2)
    server.signal(signal.SIGQUIT)
    # The master takes pending signals lowest number first, so HUP must come later.
    assert wait_until(lambda: "graceful shutdown requested" in server.log())

    began = time.time()
    result = reload_command(server)
    assert time.time() - began < 2
    assert server.proc.poll() is None
    assert result.returncode == 1
    assert "reload failed" in result.stderr
    assert "reload ignored: shutting down" in server.log()
    sock.close()
    assert server.proc.wait(5) == 0


def test_reload_with_busy_address_keeps_old_listeners(server):
    write_conf(server, "one")
    server.start()
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    busy_port = busy.getsockname()[1]
    try:
        write_conf(server, "two", listen=[server.port, busy_port])
        server.signal(signal.SIGHUP)
        assert wait_until(lambda: "reload failed" in server.log())
        assert ("listen 127.0.0.1:%d: bind failed: Address already in use" % busy_port
                in server.log())
    finally:
        busy.close()

    # The listener that the failed configuration had taken over went back to the old one.
    assert body_of(server) == (200, "one")
    write_conf(server, "three")
    server.signal(signal.SIGHUP)
    assert wait_until(lambda: body_of(server) == (200, "three"))


def test_hup_changes_worker_count(server):
    write_conf(server, "one", workers=1)
    server.start()
    assert wait_until(lambda: len(server.workers()) == 1)
    write_conf(server, "two", workers=3)
    server.signal(signal.SIGHUP)
    assert wait_until(lambda: len(server.workers()) == 3)
    assert wait_until(lambda: body_of(server) == (200, "two"))
