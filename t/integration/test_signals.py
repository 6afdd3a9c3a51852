"""Signals to the master: worker deaths and respawn back-off, QUIT, TERM,
WINCH, TTIN and TTOU."""

import hashlib
import os
import re
import signal
import socket
import threading
import time

from conftest import ZSERVER, fetch, parse_response, raw_request, wait_until

BIG_SIZE = 10 * 1024 * 1024


def start(server, workers=2, globals_=""):
    server.write("index.html", "hello\n")
    server.config(workers=workers, globals_=globals_,
                  locations='location / { }\nlocation "= /ok" { return = "200 ok" }')
    server.start()
    assert wait_until(lambda: len(server.workers()) == workers), server.workers()
    return server


def ok_status(server):
    try:
        return fetch(server, "/ok")[0]
    except (OSError, AssertionError) as exc:
        return repr(exc)


class RequestLoop(threading.Thread):
    """Sends "GET /ok" with Connection: close in a loop until stopped and
    records each outcome as (time, status or exception text)."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.results = []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            self.results.append((time.time(), ok_status(self.server)))
            time.sleep(0.005)

    def stop(self):
        self.stopped.set()
        self.join(5)
        return self.results


def replaced(server, victim):
    """True once the pool's only worker is a process other than victim."""
    pids = server.workers()
    return len(pids) == 1 and pids[0] != victim


def log_count(server, text):
    return server.log().count(text)


def test_killed_worker_is_logged_and_replaced(server):
    start(server)
    before = server.workers()
    loop = RequestLoop(server)
    loop.start()
    time.sleep(0.2)

    victim = before[0]
    os.kill(victim, signal.SIGKILL)
    killed_at = time.time()
    respawned = wait_until(lambda: len(set(server.workers()) - {victim}) == 2)
    time.sleep(0.3)
    results = loop.stop()

    assert respawned, server.workers()
    after = server.workers()
    assert before[1] in after
    assert len(after) == 2
    assert "worker %d (pool default) killed by signal 9 (Killed)" % victim in server.log()
    failures = [r for r in results if r[1] != 200]
    # Only a connection that the killed worker had accepted may fail.
    assert len(failures) <= 1, failures
    assert sum(1 for t, status in results if t > killed_at and status == 200) >= 10


def test_worker_dying_at_start_is_respawned_with_backoff(server):
    start(server, workers=1)
    delays = []
    for expected in (100, 200, 400):
        victim = server.workers()[0]
        os.kill(victim, signal.SIGKILL)
        killed_at = time.time()
        assert wait_until(lambda: replaced(server, victim), timeout=3)
        delays.append(time.time() - killed_at)
        assert log_count(server, "pool default: workers keep dying, next start in %d ms" % expected) == 1

    # The planned delay is a minimum; the master may start the worker a little later.
    assert delays[0] >= 0.09
    assert delays[1] >= 0.19
    assert delays[2] >= 0.39
    assert delays[2] < 1.5
    assert ok_status(server) == 200


def test_backoff_resets_after_healthy_run(server):
    start(server, workers=1)
    victim = server.workers()[0]
    os.kill(victim, signal.SIGKILL)
    assert wait_until(lambda: replaced(server, victim), timeout=3)
    assert log_count(server, "next start in 100 ms") == 1

    # A worker that ran for longer than the 2 s minimum lifetime is replaced at once.
    time.sleep(2.2)
    victim = server.workers()[0]
    os.kill(victim, signal.SIGKILL)
    killed_at = time.time()
    assert wait_until(lambda: replaced(server, victim), timeout=3)
    assert time.time() - killed_at < 0.5
    assert log_count(server, "workers keep dying") == 1


def slow_download(port, path, first, results, rate=2 * 1024 * 1024):
    """Downloads path at about `rate` bytes per second through a small receive
    buffer. Sets results["started"] once `first` bytes have arrived, and
    stores the whole response in results["data"]."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    sock.settimeout(10)
    chunks = []
    received = 0
    try:
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % path.encode())
        begin = time.time()
        while True:
            data = sock.recv(32 * 1024)
            if not data:
                break
            chunks.append(data)
            received += len(data)
            if received >= first:
                results["started"].set()
            ahead = received / rate - (time.time() - begin)
            if ahead > 0:
                time.sleep(ahead)
    except OSError as exc:
        results["error"] = exc
    finally:
        sock.close()
        results["data"] = b"".join(chunks)
        results["started"].set()


def start_download(server, first=1024 * 1024):
    results = {"started": threading.Event()}
    thread = threading.Thread(target=slow_download, args=(server.port, "/big.bin", first, results),
                              daemon=True)
    thread.start()
    assert results["started"].wait(5)
    return thread, results


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


def test_quit_finishes_download_and_refuses_new_connections(server):
    content = os.urandom(BIG_SIZE)
    server.write("big.bin", content)
    start(server)
    thread, results = start_download(server)

    server.signal(signal.SIGQUIT)
    assert wait_until(lambda: connect_refused(server.port), timeout=2)
    assert thread.is_alive(), "download ended before the test could check refusals"

    thread.join(15)
    assert not thread.is_alive()
    assert "error" not in results
    status, headers, body, rest = parse_response(results["data"])
    assert status == 200
    assert headers["content-length"] == str(BIG_SIZE)
    assert len(body) == BIG_SIZE
    assert hashlib.sha256(body).digest() == hashlib.sha256(content).digest()
    assert rest == b""

    assert server.proc.wait(10) == 0
    assert not os.path.exists(server.pid_file)
    assert "graceful shutdown requested" in server.log()


def unix_request(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)
        sock.sendall(b"GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        return parse_response(sock.recv(65536))[0]


def test_quit_removes_unix_socket_file(server):
    path = os.path.join(server.dir, "zs.sock")
    server.config(body="""
server test {
  listen = { "127.0.0.1:%d", "unix:%s" }
  root = "%s"
  location "= /ok" { return = "200 ok" }
}
""" % (server.port, path, server.root))
    server.start()
    assert unix_request(path) == 200

    server.signal(signal.SIGQUIT)
    assert server.proc.wait(5) == 0
    assert not os.path.exists(path)


def test_quit_with_idle_keepalive_exits_promptly(server):
    start(server)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(b"GET /ok HTTP/1.1\r\nHost: a\r\n\r\n")
    assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK\r\n")

    began = time.time()
    server.signal(signal.SIGQUIT)
    assert server.proc.wait(5) == 0
    assert time.time() - began < 3
    assert sock.recv(4096) == b""
    sock.close()


def test_term_exits_fast(server):
    server.write("big.bin", os.urandom(BIG_SIZE))
    start(server)
    thread, results = start_download(server)

    began = time.time()
    server.signal(signal.SIGTERM)
    assert server.proc.wait(5) == 0
    assert time.time() - began < 1.5
    thread.join(10)
    assert len(results["data"]) < BIG_SIZE
    assert not os.path.exists(server.pid_file)
    assert connect_refused(server.port)


def test_winch_stops_workers_and_hup_restarts_them(server):
    start(server)
    server.signal(signal.SIGWINCH)
    assert wait_until(lambda: server.workers() == [], timeout=3), server.workers()
    time.sleep(0.3)
    assert server.proc.poll() is None
    assert server.workers() == []
    assert "stopping workers gracefully, the master stays" in server.log()

    server.signal(signal.SIGHUP)
    assert wait_until(lambda: len(server.workers()) == 2, timeout=3)
    assert ok_status(server) == 200


def test_ttin_and_ttou_change_worker_count(server):
    start(server)
    server.signal(signal.SIGTTIN)
    assert wait_until(lambda: len(server.workers()) == 3)
    server.signal(signal.SIGTTOU)
    assert wait_until(lambda: len(server.workers()) == 2)
    server.signal(signal.SIGTTOU)
    assert wait_until(lambda: len(server.workers()) == 1)

    # The count never drops below one worker per pool.
    server.signal(signal.SIGTTOU)
    time.sleep(0.5)
    assert len(server.workers()) == 1
    assert ok_status(server) == 200
    assert log_count(server, "pool default: worker count raised to 3") == 1
    assert log_count(server, "pool default: worker count lowered to 2") == 1
    assert log_count(server, "pool default: worker count lowered to 1") == 1
    assert log_count(server, "pool default: already at one worker, not lowered") == 1


def test_master_logs_start_and_exit(server):
    start(server)
    pid = server.proc.pid
    server.signal(signal.SIGQUIT)
    assert server.proc.wait(5) == 0
    log = server.log()
    assert re.search(r"\[notice\] %d#master: zserver \S+ started, configuration %s\n"
                     % (pid, re.escape(server.conf_path)), log)
    assert re.search(r"\[notice\] %d#master: exiting\n" % pid, log)


def test_pool_without_listeners_gets_no_workers(server):
    server.write("index.html", "x")
    server.config(globals_="pool spare { workers = 3 }\n")
    server.start()
    status, _, _, _ = fetch(server, "/index.html")
    assert status == 200
    assert len(server.workers()) == 2


def test_process_titles(server):
    server.config(workers=2)
    server.start()
    with open("/proc/%d/cmdline" % server.proc.pid, "rb") as f:
        master = f.read().rstrip(b"\0")
    assert master == b"zserver: master process %s -f -c %s" % (ZSERVER.encode(), server.conf_path.encode())
    workers = server.workers()
    assert len(workers) == 2
    for pid in workers:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            assert f.read().rstrip(b"\0") == b"zserver: worker process (pool default)"
