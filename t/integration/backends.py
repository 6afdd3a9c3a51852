"""Application backends for the integration tests, and clients that talk to
them without zserver.

PhpFpm, Uwsgi and FcgiApp each start one backend on a unix socket in a
folder of the test. start() returns once the socket accepts connections (for
uWSGI, once it responds to a request). When the backend does not come up,
start() stops whatever it started and raises BackendError with the backend's
log. stop() may be called at any time and more than once. Each class is also
a context manager.

Users and sockets: run as root, the tests start zserver's workers as nobody
(pool_identity() in conftest.py), so every backend socket must accept
connections from that user. PHP-FPM's pool runs as the workers' user and owns
its socket. uWSGI drops to that user after it binds and gives it the socket.
The t/apps programs keep the tests' user and create their socket with mode
0666. The folder given to a backend must be traversable by the workers' user
(mode 0755, as tempfile.mkdtemp() folders are not).

fcgi_request() and scgi_request() are minimal clients of the FastCGI 1.0
specification and of the SCGI protocol.
"""

import grp
import os
import shutil
import signal
import socket
import struct
import subprocess
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ZSERVER = os.environ.get("ZSERVER", os.path.join(TOP, "zserver"))
# The t/apps programs are built next to the zserver binary under test.
APPS_BUILD_DIR = os.path.join(os.path.dirname(os.path.abspath(ZSERVER)), "t", "apps")
APPS_SOURCE_DIR = os.path.join(TOP, "t", "apps")

PHP_FPM = "/usr/sbin/php-fpm8.2"
UWSGI = "/usr/bin/uwsgi"

START_TIMEOUT = 10
STOP_TIMEOUT = 5


class BackendError(RuntimeError):
    """A backend did not start, or a client got a malformed response."""


def worker_identity():
    """Return (user, group) of zserver's workers in the tests: ("nobody",
    "nogroup") when the tests run as root, as conftest.pool_identity() sets
    it, else None because the workers keep the tests' user."""
    if os.geteuid() != 0:
        return None
    try:
        grp.getgrnam("nogroup")
        return ("nobody", "nogroup")
    except KeyError:
        return ("nobody", "nobody")


def connectable(address):
    """Return True when a connection to the unix socket path or (host, port) succeeds."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        try:
            sock.connect(address)
        except OSError:
            return False
    return True


class Backend:
    """A backend process started in its own process group, logging to a file.

    Subclasses set self.socket and implement command(). stop() sends
    stop_signal to the process, waits STOP_TIMEOUT seconds, then kills its
    whole process group, so no child outlives it.
    """

    stop_signal = signal.SIGQUIT

    def __init__(self, tmpdir, name):
        self.dir = tmpdir
        self.name = name
        self.log_path = os.path.join(tmpdir, name + ".log")
        self.socket = None
        self.proc = None
        self.returncode = None
        self._log_file = None

    def command(self):
        raise NotImplementedError

    def prepare(self):
        """Write configuration files before the process starts."""

    def popen_options(self):
        return {}

    def address(self):
        return self.socket

    def start(self):
        try:
            self.prepare()
            if isinstance(self.socket, str) and os.path.exists(self.socket):
                os.unlink(self.socket)
            self._log_file = open(self.log_path, "ab")
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                         stdout=self._log_file, stderr=self._log_file,
                                         cwd=self.dir, start_new_session=True,
                                         **self.popen_options())
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BackendError("%s exited with status %s before it listened on %s:\n%s"
                                   % (self.name, self.proc.returncode, self.address(), self.log()))
            if self.is_ready():
                return
            time.sleep(0.02)
        raise BackendError("%s did not listen on %s within %d s:\n%s"
                           % (self.name, self.address(), timeout, self.log()))

    def is_ready(self):
        return connectable(self.address())

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self.proc.send_signal(self.stop_signal)
                    self.proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    pass
            # The process group id is the backend's pid (start_new_session):
            # this reaches its children too, even after it exited.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.returncode = self.proc.wait()
            self.proc = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log(self):
        """Return the backend's log; subclasses add the files their backend writes."""
        return read_text(self.log_path)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


class PhpFpm(Backend):
    """PHP-FPM 8.2 with one static pool of `children` processes on
    <tmpdir>/php-fpm.sock.

    The scripts of t/apps/php are copied to <tmpdir>/php (self.root), where
    the workers' user can read them whatever the permissions of the source
    tree. script_path() names a copied script for SCRIPT_FILENAME. Run as
    root, the pool runs as the workers' user, so -R (which allows a root
    pool) is passed only when the pool user is root. The pool keeps the
    environment (clear_env = no) and catches the workers' stdout and stderr
    into the error log <tmpdir>/php-fpm.log. stop() sends QUIT, a graceful
    stop.
    """

    def __init__(self, tmpdir, children=2):
        super().__init__(tmpdir, "php-fpm-stdout")
        self.children = children
        self.socket = os.path.join(tmpdir, "php-fpm.sock")
        self.conf_path = os.path.join(tmpdir, "php-fpm.conf")
        self.pool_path = os.path.join(tmpdir, "php-fpm-pool.conf")
        self.error_log = os.path.join(tmpdir, "php-fpm.log")
        self.pid_file = os.path.join(tmpdir, "php-fpm.pid")
        self.root = os.path.join(tmpdir, "php")
        identity = worker_identity()
        self.user = identity[0] if identity else None
        self.group = identity[1] if identity else None

    def script_path(self, name):
        return os.path.join(self.root, name)

    def prepare(self):
        copy_tree_readable(os.path.join(APPS_SOURCE_DIR, "php"), self.root)
        with open(self.conf_path, "w") as f:
            f.write("[global]\n"
                    "pid = %s\n"
                    "error_log = %s\n"
                    "log_level = notice\n"
                    "daemonize = no\n"
                    "include = %s\n" % (self.pid_file, self.error_log, self.pool_path))
        pool = ["[test]",
                "listen = %s" % self.socket,
                "pm = static",
                "pm.max_children = %d" % self.children,
                "catch_workers_output = yes",
                "clear_env = no"]
        if self.user is not None:
            pool += ["user = %s" % self.user,
                     "group = %s" % self.group,
                     "listen.owner = %s" % self.user,
                     "listen.group = %s" % self.group,
                     "listen.mode = 0660"]
        with open(self.pool_path, "w") as f:
            f.write("\n".join(pool) + "\n")

    def command(self):
        # expose_php=0 drops the X-Powered-By header, so that responses do
        # not change with the PHP version.
        argv = [PHP_FPM, "--nodaemonize", "--fpm-config", self.conf_path, "-d", "expose_php=0"]
        if os.geteuid() == 0 and self.user in (None, "root"):
            argv.append("-R")
        return argv

    def log(self):
        return super().log() + read_text(self.error_log)


class Uwsgi(Backend):
    """uWSGI serving t/apps/flask_app.py over FastCGI (mode "fastcgi") or
    SCGI (mode "scgi") on <tmpdir>/uwsgi-<mode>.sock, with a master and
    `processes` workers, logging to <tmpdir>/uwsgi-<mode>.log.

    The application is copied to <tmpdir>/flask_app.py so that the workers'
    user can read it. stop() sends INT, not QUIT: uWSGI 2.0 reloads its
    workers on QUIT, and stops master and workers on INT (in about a second).
    """

    MODES = {"fastcgi": "--fastcgi-socket", "scgi": "--scgi-socket"}
    stop_signal = signal.SIGINT

    def __init__(self, tmpdir, mode, processes=2):
        if mode not in self.MODES:
            raise ValueError("mode must be one of %s, got %r" % (sorted(self.MODES), mode))
        super().__init__(tmpdir, "uwsgi-" + mode)
        self.mode = mode
        self.processes = processes
        self.socket = os.path.join(tmpdir, "uwsgi-%s.sock" % mode)
        self.app_path = os.path.join(tmpdir, "flask_app.py")

    def prepare(self):
        shutil.copyfile(os.path.join(APPS_SOURCE_DIR, "flask_app.py"), self.app_path)
        os.chmod(self.app_path, 0o644)

    def is_ready(self):
        # uWSGI binds its socket before it loads the application, so only a
        # response to a request shows that the workers are up.
        try:
            if self.mode == "fastcgi":
                fcgi_request(self.socket, request_params(), timeout=START_TIMEOUT)
            else:
                scgi_request(self.socket, request_params(), timeout=START_TIMEOUT)
        except (OSError, BackendError):
            return False
        return True

    def command(self):
        argv = [UWSGI, "--strict", "--plugin", "python3",
                self.MODES[self.mode], self.socket,
                "--wsgi-file", self.app_path, "--callable", "app", "--need-app",
                "--master", "--processes", str(self.processes),
                # Parameters up to the 64 KiB that a uwsgi buffer can hold,
                # not the default 4 KiB, so large request heads reach the app.
                "--buffer-size", "65535",
                "--die-on-term"]
        identity = worker_identity()
        if identity is not None:
            user, group = identity
            argv += ["--uid", user, "--gid", group,
                     "--chown-socket", "%s:%s" % (user, group), "--chmod-socket=660"]
        return argv


class FcgiApp(Backend):
    """One of the FastCGI programs of t/apps (fcgi_hello, fcgi_echo,
    fcgi_edge), built by `make check`, on <tmpdir>/<name>.sock.

    `address` replaces the socket: a unix socket path, or a (host, port)
    pair on loopback that the program gets as "host:port". stop() sends
    TERM, the signal the programs die of.
    """

    stop_signal = signal.SIGTERM

    def __init__(self, tmpdir, name, address=None):
        super().__init__(tmpdir, name)
        self.binary = os.path.join(APPS_BUILD_DIR, name)
        self.socket = address if address is not None else os.path.join(tmpdir, name + ".sock")

    def command(self):
        if not os.access(self.binary, os.X_OK):
            raise BackendError("%s is missing: build it with `make check` (needs libfcgi-dev)"
                               % self.binary)
        if isinstance(self.socket, str):
            return [self.binary, self.socket]
        return [self.binary, "%s:%d" % self.socket]

    def popen_options(self):
        # libfcgi creates the socket with mode 0777 & ~umask: 0666 lets the
        # workers' user connect.
        return {"umask": 0o111}


def copy_tree_readable(source, target):
    """Copy a folder of scripts so that any user can read them."""
    shutil.copytree(source, target, dirs_exist_ok=True)
    os.chmod(target, 0o755)
    for folder, dirs, files in os.walk(target):
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


# ---- FastCGI client (FastCGI Specification 1.0, Open Market, 1996) ----

FCGI_VERSION_1 = 1
FCGI_BEGIN_REQUEST = 1
FCGI_ABORT_REQUEST = 2
FCGI_END_REQUEST = 3
FCGI_PARAMS = 4
FCGI_STDIN = 5
FCGI_STDOUT = 6
FCGI_STDERR = 7
FCGI_DATA = 8
FCGI_GET_VALUES = 9
FCGI_GET_VALUES_RESULT = 10
FCGI_UNKNOWN_TYPE = 11
FCGI_RESPONDER = 1
FCGI_REQUEST_COMPLETE = 0
FCGI_MAX_CONTENT = 65535

RECORD_HEADER = struct.Struct("!BBHHBx")


def fcgi_record(record_type, content=b"", request_id=1):
    """Encode one record; content is at most 65535 bytes and is not padded."""
    return RECORD_HEADER.pack(FCGI_VERSION_1, record_type, request_id, len(content), 0) + content


def fcgi_stream(record_type, data, request_id=1):
    """Encode a stream (PARAMS, STDIN) as records of at most 65535 bytes,
    closed by an empty record."""
    out = b""
    for offset in range(0, len(data), FCGI_MAX_CONTENT):
        out += fcgi_record(record_type, data[offset:offset + FCGI_MAX_CONTENT], request_id)
    return out + fcgi_record(record_type, b"", request_id)


def fcgi_name_value(name, value):
    """Encode one name-value pair: lengths under 128 take one byte, longer
    ones four bytes with the top bit set."""
    name = name.encode("latin-1") if isinstance(name, str) else name
    value = value.encode("latin-1") if isinstance(value, str) else value
    out = b""
    for length in (len(name), len(value)):
        out += bytes([length]) if length < 128 else struct.pack("!I", length | 0x80000000)
    return out + name + value


class FcgiResponse:
    """The records that a FastCGI application sent for one request."""

    def __init__(self):
        self.records = []          # (type, content) in arrival order
        self.complete = False      # FCGI_END_REQUEST arrived
        self.app_status = None
        self.protocol_status = None

    def stream(self, record_type):
        return b"".join(content for kind, content in self.records if kind == record_type)

    def count(self, record_type):
        return sum(1 for kind, _ in self.records if kind == record_type)

    @property
    def stdout(self):
        return self.stream(FCGI_STDOUT)

    @property
    def stderr(self):
        return self.stream(FCGI_STDERR)


def recv_exact(sock, length):
    """Read exactly length bytes; return fewer only when the peer closes first."""
    chunks = []
    while length > 0:
        data = sock.recv(min(length, 1 << 20))
        if not data:
            break
        chunks.append(data)
        length -= len(data)
    return b"".join(chunks)


def fcgi_connect(address, timeout):
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return sock


def fcgi_exchange(address, params, stdin=b"", timeout=10, request_id=1):
    """Send one FCGI_RESPONDER request and read records until
    FCGI_END_REQUEST or until the application closes the connection.

    address is a unix socket path or a (host, port) pair. params is a dict or
    a sequence of (name, value) pairs of str or bytes. Returns an
    FcgiResponse whose `complete` is False when the connection closed before
    FCGI_END_REQUEST. Raises BackendError on a malformed record and
    socket.timeout when the application stays silent for timeout seconds.
    """
    pairs = params.items() if isinstance(params, dict) else params
    begin = struct.pack("!HB5x", FCGI_RESPONDER, 0)
    request = (fcgi_record(FCGI_BEGIN_REQUEST, begin, request_id)
               + fcgi_stream(FCGI_PARAMS, b"".join(fcgi_name_value(n, v) for n, v in pairs),
                             request_id)
               + fcgi_stream(FCGI_STDIN, stdin, request_id))
    response = FcgiResponse()
    with fcgi_connect(address, timeout) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            # The application may respond and close before it reads the whole body.
            pass
        while not response.complete:
            try:
                header = recv_exact(sock, RECORD_HEADER.size)
            except ConnectionResetError:
                break
            if not header:
                break
            if len(header) < RECORD_HEADER.size:
                raise BackendError("connection closed inside a record header: %r" % header)
            version, kind, rid, length, padding = RECORD_HEADER.unpack(header)
            if version != FCGI_VERSION_1:
                raise BackendError("record with version %d, expected 1" % version)
            body = recv_exact(sock, length + padding)
            if len(body) < length + padding:
                raise BackendError("connection closed inside a record of type %d" % kind)
            content = body[:length]
            if rid != request_id:
                raise BackendError("record of type %d for request %d, expected %d"
                                   % (kind, rid, request_id))
            response.records.append((kind, content))
            if kind == FCGI_END_REQUEST:
                response.app_status, response.protocol_status = struct.unpack("!IB3x", content)
                response.complete = True
    return response


def fcgi_request(address, params, stdin=b"", timeout=10):
    """Send one request and return (stdout bytes, stderr bytes, app_status).

    Raises BackendError when the application closed the connection before
    FCGI_END_REQUEST or ended the request with a protocol status other than
    FCGI_REQUEST_COMPLETE.
    """
    response = fcgi_exchange(address, params, stdin, timeout)
    if not response.complete:
        raise BackendError("connection closed before FCGI_END_REQUEST after %d records, stdout %r"
                           % (len(response.records), response.stdout[:200]))
    if response.protocol_status != FCGI_REQUEST_COMPLETE:
        raise BackendError("request ended with protocol status %d" % response.protocol_status)
    return response.stdout, response.stderr, response.app_status


def request_params(method="GET", path="/", query="", body=b"", content_type=None,
                   script_name="", script_filename=None, headers=(), **extra):
    """Build the CGI/1.1 parameters of a request (RFC 3875), as a web server
    on 127.0.0.1:8080 would send them for a client at 127.0.0.1:40000.

    headers is a sequence of (name, value) pairs that become HTTP_* params.
    Keyword arguments add or replace parameters, and None removes one.
    """
    uri = script_name + path + ("?" + query if query else "")
    params = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_SOFTWARE": "zserver-tests",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": "localhost",
        "SERVER_ADDR": "127.0.0.1",
        "SERVER_PORT": "8080",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "REQUEST_METHOD": method,
        "REQUEST_URI": uri,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "HTTP_HOST": "localhost:8080",
    }
    if content_type is not None:
        params["CONTENT_TYPE"] = content_type
    if script_filename is not None:
        params["SCRIPT_FILENAME"] = script_filename
    for name, value in headers:
        params["HTTP_" + name.upper().replace("-", "_")] = value
    for name, value in extra.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return params


# ---- SCGI client ----

def scgi_request(address, params, body=b"", timeout=10):
    """Send one SCGI request and return every byte of the response, read
    until the server closes the connection.

    The header block is a netstring of NUL-terminated names and values.
    CONTENT_LENGTH comes first with the length of body, then SCGI=1, then
    params (any CONTENT_LENGTH or SCGI in params is ignored).
    """
    pairs = params.items() if isinstance(params, dict) else params
    fields = [("CONTENT_LENGTH", str(len(body))), ("SCGI", "1")]
    fields += [(n, v) for n, v in pairs if n not in ("CONTENT_LENGTH", "SCGI")]
    block = b"".join(n.encode("latin-1") + b"\0" + v.encode("latin-1") + b"\0"
                     for n, v in fields)
    request = b"%d:%s," % (len(block), block) + body
    chunks = []
    with fcgi_connect(address, timeout) as sock:
        sock.sendall(request)
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)
