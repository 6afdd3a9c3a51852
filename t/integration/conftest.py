"""Shared fixtures: start the real zserver binary on loopback with a config
written by the test, and talk to it over raw sockets or http.client."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ZSERVER = os.environ.get("ZSERVER", os.path.join(TOP, "zserver"))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pool_identity():
    """The user and group workers run as: nobody when the tests run as root."""
    if os.geteuid() != 0:
        return ""
    group = "nogroup"
    try:
        import grp
        grp.getgrnam(group)
    except KeyError:
        group = "nobody"
    return 'user = nobody\ngroup = %s\n' % group


class Server:
    """One zserver master started in the foreground with its own config."""

    def __init__(self, workdir):
        self.dir = workdir
        self.root = os.path.join(workdir, "html")
        os.makedirs(self.root, exist_ok=True)
        os.chmod(workdir, 0o755)
        os.chmod(self.root, 0o755)
        self.port = free_port()
        self.conf_path = os.path.join(workdir, "zserver.conf")
        self.error_log = os.path.join(workdir, "error.log")
        self.pid_file = os.path.join(workdir, "zserver.pid")
        self.proc = None

    def write(self, relpath, data, mode=0o644):
        path = os.path.join(self.root, relpath)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        os.chmod(path, mode)
        return path

    def config(self, body=None, globals_="", workers=2, server_extra="", locations=""):
        """Writes the configuration file; body replaces the default server block."""
        if body is None:
            body = """
server test {
  listen = { "127.0.0.1:%d" }
  root = "%s"
%s
%s
}
""" % (self.port, self.root, server_extra, locations)
        text = """pid_file = "%s"
error_log = "%s"
log_level = info
mime_types = "%s"
%s%s
pool default { workers = %d }
%s
""" % (self.pid_file, self.error_log, os.path.join(TOP, "conf", "mime.types"),
            pool_identity(), globals_, workers, body)
        with open(self.conf_path, "w") as f:
            f.write(text)
        return self.conf_path

    def start(self, args=(), wait=True):
        self.stderr = open(os.path.join(self.dir, "stderr.log"), "ab")
        self.proc = subprocess.Popen([ZSERVER, "-f", "-c", self.conf_path, *args],
                                     stdout=self.stderr, stderr=self.stderr)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, port=None, timeout=10):
        port = port or self.port
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("zserver exited with %s:\n%s" % (self.proc.returncode, self.log()))
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("zserver did not listen on %d:\n%s" % (port, self.log()))

    def log(self):
        out = ""
        for name in ("stderr.log", "error.log"):
            path = os.path.join(self.dir, name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    out += f.read()
        return out

    def signal(self, sig):
        self.proc.send_signal(sig)

    def workers(self):
        """Pids of the master's worker processes."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:
                pids.append(int(entry))
        return sorted(pids)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.stderr.close()

    def request(self, raw, timeout=5):
        return raw_request(self.port, raw, timeout)


def raw_request(port, raw, timeout=5, host="127.0.0.1"):
    """Sends raw bytes and returns everything received until the server closes
    the connection or `timeout` passes without data."""
    if isinstance(raw, str):
        raw = raw.encode()
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(raw)
        chunks = []
        while True:
            try:
                data = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


def parse_response(data):
    """Splits one response into (status, headers dict with lowercase names, body, rest).
    Uses Content-Length; repeated headers are joined with ', '."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    assert sep, "no complete response head in %r" % data[:200]
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        key = name.decode().lower()
        value = value.strip().decode("latin-1")
        headers[key] = headers[key] + ", " + value if key in headers else value
    length = int(headers.get("content-length", "0"))
    return status, headers, rest[:length], rest[length:]


def parse_responses(data):
    out = []
    while data:
        status, headers, body, data = parse_response(data)
        out.append((status, headers, body))
    return out


@pytest.fixture
def server():
    base = tempfile.mkdtemp(prefix="zs-test-")
    srv = Server(base)
    yield srv
    srv.stop()
    log = srv.log()
    shutil.rmtree(base, ignore_errors=True)
    # Sanitizer builds report to stderr, which the fixture keeps in the log:
    # a report fails the test even when no request failed.
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        assert marker not in log, "sanitizer report in the server log:\n" + log[-4000:]


def fetch(server, target, method="GET", headers=(), host="a"):
    """Sends one request with "Connection: close" and returns parse_response()'s
    (status, headers, body, rest). The target (str or bytes) is sent unchanged,
    so tests can send paths that a client library would rewrite. headers is a
    sequence of (name, value) pairs."""
    if isinstance(target, str):
        target = target.encode()
    head = b"%s %s HTTP/1.1\r\nHost: %s\r\n" % (method.encode(), target, host.encode())
    for name, value in headers:
        head += b"%s: %s\r\n" % (name.encode(), value.encode())
    return parse_response(server.request(head + b"Connection: close\r\n\r\n"))


class DaemonMaster:
    """Stands in for the Popen object of a master that detached itself (started
    without -f): found through its pid file, signalled by pid and watched
    through /proc. It is not our child, so its exit status cannot be read."""

    def __init__(self, pid):
        self.pid = pid
        self.returncode = None

    def poll(self):
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            state = "X"
        if state in ("Z", "X"):
            self.returncode = -1    # exited, status unknown
        return self.returncode

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.time() + timeout
        while self.poll() is None:
            if deadline is not None and time.time() > deadline:
                raise subprocess.TimeoutExpired("zserver", timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, sig):
        os.kill(self.pid, sig)

    def kill(self):
        self.send_signal(signal.SIGKILL)


def start_daemon(server, args=(), check=True):
    """Starts zserver without -f, so that it daemonizes and logs to the
    configured error_log, and returns the CompletedProcess of the command.
    On success server.proc becomes a DaemonMaster found through the pid file."""
    server.stderr = open(os.path.join(server.dir, "stderr.log"), "ab")
    result = subprocess.run([ZSERVER, "-c", server.conf_path, *args], stdin=subprocess.DEVNULL,
                            stdout=server.stderr, stderr=server.stderr, timeout=10)
    if result.returncode == 0:
        with open(server.pid_file) as f:
            server.proc = DaemonMaster(int(f.read()))
    elif check:
        raise RuntimeError("zserver exited with %d:\n%s" % (result.returncode, server.log()))
    return result


def wait_until(predicate, timeout=5, interval=0.02):
    """Polls predicate until it returns a true value, which is returned; the
    last value (false) is returned when timeout seconds pass first."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value or time.time() > deadline:
            return value
        time.sleep(interval)


def exchange(port, raw, timeout=3):
    """Sends raw bytes on a new connection and reads until the server closes
    it or `timeout` seconds pass without data. Returns (data, closed): closed
    is True on EOF or reset, False when the connection was still open."""
    if isinstance(raw, str):
        raw = raw.encode()
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        while True:
            try:
                data = s.recv(65536)
            except socket.timeout:
                return b"".join(chunks), False
            except ConnectionResetError:
                return b"".join(chunks), True
            if not data:
                return b"".join(chunks), True
            chunks.append(data)
