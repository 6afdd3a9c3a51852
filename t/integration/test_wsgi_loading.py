"""How WSGI applications are loaded: per worker or preloaded, reloaded on
HUP, recycled by max_requests, import errors, python_home virtualenvs,
application threads, and the configuration checks."""

import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import ZSERVER, fetch, wait_until

PYTHON = "/usr/bin/python3"

# The module records the pid that imported it and starts a thread that
# counts while the worker waits for requests.
APP_TEMPLATE = '''
import os, sys, threading, time
VERSION = %r
IMPORT_PID = os.getpid()
ticks = 0
def _tick():
    global ticks
    while True:
        ticks += 1
        time.sleep(0.01)
threading.Thread(target=_tick, daemon=True).start()
def application(environ, start_response):
    body = "%%s %%d %%d %%d %%s" %% (VERSION, IMPORT_PID, os.getpid(), ticks, sys.prefix)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
'''


def write_app(server, version, name="loadapp"):
    path = os.path.join(server.dir, "py", name + ".py")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.chmod(os.path.dirname(path), 0o755)
    with open(path, "w") as f:
        f.write(APP_TEMPLATE % version)
    os.chmod(path, 0o644)
    # A rewrite within the same second must not reuse a stale .pyc.
    shutil.rmtree(os.path.join(server.dir, "py", "__pycache__"), ignore_errors=True)


def configure(server, pool="", app="loadapp:application", extra="", workers=2):
    server.config(locations="""
  location /py/ {
    wsgi_app = "%s"
    python_path = { "%s" }
    %s
  }
""" % (app, os.path.join(server.dir, "py"), extra))
    with open(server.conf_path) as f:
        text = f.read()
    text = text.replace("pool default { workers = 2 }", "pool default {\n  workers = %d\n%s\n}" % (workers, pool))
    with open(server.conf_path, "w") as f:
        f.write(text)


def get_app(server):
    status, _, body, _ = fetch(server, "/py/")
    assert status == 200, body
    version, import_pid, pid, ticks, prefix = body.decode().split(" ", 4)
    return version, int(import_pid), int(pid), int(ticks), prefix


def test_worker_import_and_hup(server):
    write_app(server, "v1")
    configure(server)
    server.start()
    version, import_pid, pid, _, prefix = get_app(server)
    assert version == "v1"
    assert import_pid == pid                 # imported by the worker itself
    assert prefix == "/usr"
    write_app(server, "v2")
    server.signal(signal.SIGHUP)
    assert wait_until(lambda: get_app(server)[0] == "v2", timeout=10)
    assert wait_until(lambda: pid not in server.workers(), timeout=10)


def test_preload_imports_once_before_fork(server):
    write_app(server, "v1")
    configure(server, pool="  wsgi_preload = on")
    server.start()
    seen = {}
    for _ in range(20):
        version, import_pid, pid, _, _ = get_app(server)
        seen[pid] = import_pid
    # Both workers respond with one import made before they existed, by the
    # loader, a child of the master that serves nothing.
    assert len(set(seen.values())) == 1
    loader = next(iter(seen.values()))
    assert loader not in seen
    assert loader in server.workers()
    assert "started preloading process %d" % loader in server.log()
    with open("/proc/%d/status" % loader) as f:
        uids = [line for line in f if line.startswith("Uid:")][0].split()[1:]
    assert "0" not in uids                   # the import never ran as root

    write_app(server, "v2")
    server.signal(signal.SIGHUP)
    assert wait_until(lambda: get_app(server)[0] == "v2", timeout=10)
    assert wait_until(lambda: loader not in server.workers(), timeout=10)


def test_preload_import_error_fails_start(server):
    configure(server, pool="  wsgi_preload = on", app="no_such_module:application")
    server.start(wait=False)
    assert server.proc.wait(20) == 1
    log = server.log()
    assert "wsgi_app \"no_such_module:application\" of location '/py/' failed to load (python_path: %s)" \
        % os.path.join(server.dir, "py") in log
    assert "ModuleNotFoundError: No module named 'no_such_module'" in log
    assert "pool default: preloading the WSGI applications failed" in log


def test_preload_broken_reload_keeps_serving(server):
    write_app(server, "v1")
    configure(server, pool="  wsgi_preload = on")
    server.start()
    assert get_app(server)[0] == "v1"
    with open(os.path.join(server.dir, "py", "loadapp.py"), "w") as f:
        f.write("raise ImportError('broken on purpose')\n")
    server.signal(signal.SIGHUP)
    assert wait_until(lambda: "reload failed, still running the previous configuration" in server.log(), timeout=15)
    assert "ImportError: broken on purpose" in server.log()
    assert get_app(server)[0] == "v1"


def test_import_error_gives_500(server):
    server.write("static.txt", "still here\n")
    configure(server, app="no_such_module:application")
    server.start()
    status, _, body, _ = fetch(server, "/py/x")
    assert status == 500
    assert b"Traceback" not in body and b"no_such_module" not in body
    assert fetch(server, "/static.txt")[:3:2] == (200, b"still here\n")
    log = server.log()
    assert "failed to load (python_path: %s)" % os.path.join(server.dir, "py") in log
    assert "ModuleNotFoundError: No module named 'no_such_module'" in log
    assert "failed to load when the worker started" in log


def test_max_requests_recycles_workers(server):
    write_app(server, "v1")
    configure(server, pool="  max_requests = 3")
    server.start()
    pids = set(get_app(server)[2] for _ in range(12))
    assert len(pids) >= 3


def test_app_threads_run_between_requests(server):
    write_app(server, "v1")
    configure(server, workers=1)
    server.start()
    _, _, pid, first, _ = get_app(server)
    time.sleep(0.5)
    _, _, again, later, _ = get_app(server)
    assert again == pid
    assert later - first >= 10               # about 50 ticks in 0.5 s


def test_python_home_virtualenv(server):
    venv = os.path.join(server.dir, "venv")
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", venv], check=True)
    site = os.path.join(venv, "lib", "python3.11", "site-packages")
    assert os.path.isdir(site), "the venv module of Debian's python3 made no site-packages"
    with open(os.path.join(site, "venv_only.py"), "w") as f:
        f.write("WHERE = 'from the virtualenv'\n")
    # bin/python3 links to the system's interpreter: leave links alone.
    for dirpath, dirnames, filenames in os.walk(venv):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, 0o644)
    os.makedirs(os.path.join(server.dir, "py"), exist_ok=True)
    os.chmod(os.path.join(server.dir, "py"), 0o755)
    with open(os.path.join(server.dir, "py", "venvapp.py"), "w") as f:
        f.write("import sys, venv_only\n"
                "def application(environ, start_response):\n"
                "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
                "    return [('%s|%s|%s' % (venv_only.WHERE, sys.prefix, sys.base_prefix)).encode()]\n")
    os.chmod(os.path.join(server.dir, "py", "venvapp.py"), 0o644)
    configure(server, app="venvapp", extra='python_home = "%s"' % venv)
    server.start()
    status, _, body, _ = fetch(server, "/py/")
    assert status == 200, server.log()
    assert body.decode() == "from the virtualenv|%s|/usr" % venv


def check_config(server, text):
    with open(server.conf_path, "w") as f:
        f.write(text)
    return subprocess.run([ZSERVER, "-t", "-c", server.conf_path], capture_output=True, text=True)


def test_config_errors(server):
    server.config()
    with open(server.conf_path) as f:
        base = f.read()
    head = base.split("server test")[0]

    r = check_config(server, head + """server test {
  listen = { "127.0.0.1:%d" }
  location /a/ {
    wsgi_app = "1bad:app"
  }
}
""" % server.port)
    assert r.returncode != 0
    assert "%s:%d: wsgi_app: invalid value '1bad:app': expected a Python module name" \
        % (server.conf_path, head.count("\n") + 4) in r.stderr

    r = check_config(server, head + """server test {
  listen = { "127.0.0.1:%d" }
  location /a/ {
    wsgi_app = "a:app"
    python_home = "/srv/one"
  }
  location /b/ {
    wsgi_app = "b:app"
    python_home = "/srv/two"
  }
}
""" % server.port)
    assert r.returncode != 0
    assert "location '/b/': python_home '/srv/two' differs from '/srv/one' of location '/a/'" in r.stderr
    assert "the workers of pool 'default' run one Python interpreter" in r.stderr

    r = check_config(server, head + """server test {
  listen = { "127.0.0.1:%d" }
  location /a/ {
    wsgi_app = "a:app"
    cgi = on
  }
}
""" % server.port)
    assert r.returncode != 0
    assert "cgi and wsgi_app cannot both be set" in r.stderr


HANG_APP = '''
import signal, time
def spin(environ, start_response):
    while True:
        pass
def blocked(environ, start_response):
    # The watchdog's signal blocked, as code that never returns to Python
    # would leave it pending.
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGRTMIN + 2])
    time.sleep(100)
def alarm(environ, start_response):
    signal.alarm(1)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"alarm set"]
def empty(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    def pieces():
        while True:
            yield b""
    return pieces()
def steady(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    def pieces():
        for i in range(30):
            time.sleep(0.1)
            yield b"."
    return pieces()
def ok(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
'''


def test_wsgi_timeout_stops_hung_code(server):
    os.makedirs(os.path.join(server.dir, "py"), exist_ok=True)
    os.chmod(os.path.join(server.dir, "py"), 0o755)
    with open(os.path.join(server.dir, "py", "hang.py"), "w") as f:
        f.write(HANG_APP)
    server.config(workers=1, server_extra='  python_path = { "%s" }\n  wsgi_timeout = 1s' % os.path.join(server.dir, "py"),
                  locations="""
  location /spin { wsgi_app = "hang:spin" }
  location /blocked { wsgi_app = "hang:blocked" }
  location /alarm { wsgi_app = "hang:alarm" }
  location /empty { wsgi_app = "hang:empty" }
  location /steady { wsgi_app = "hang:steady" }
  location /ok { wsgi_app = "hang:ok" }
""")
    server.start()
    started = time.time()
    assert fetch(server, "/spin")[0] == 500
    assert time.time() - started < 4
    assert fetch(server, "/ok")[:3:2] == (200, b"ok")
    assert "client 127.0.0.1: \"GET /spin\": wsgi_app \"hang:spin\" raised: TimeoutError: the request ran longer than wsgi_timeout without output" in server.log()

    # An endless run of empty pieces is code without output.
    assert fetch(server, "/empty")[0] == 500
    # A stream that produces a piece every 0.1 s runs past the timeout.
    data = server.request(b"GET /steady HTTP/1.0\r\nHost: a\r\n\r\n", timeout=10)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\r\n\r\n" + b"." * 30)
    # signal.alarm() of the application does not count as a timeout.
    assert fetch(server, "/alarm")[:3:2] == (200, b"alarm set")
    time.sleep(1.5)
    assert fetch(server, "/ok")[:3:2] == (200, b"ok")

    # The signal blocked: the TimeoutError cannot come, so the worker ends.
    worker = server.workers()[0]
    started = time.time()
    data = server.request(b"GET /blocked HTTP/1.1\r\nHost: a\r\n\r\n", timeout=30)
    assert data == b""
    assert 10 < time.time() - started < 20
    assert "ending the worker" in server.log()
    assert wait_until(lambda: "worker %d (pool default) exited with status 3" % worker in server.log(), timeout=5)
    assert wait_until(lambda: fetch(server, "/ok")[:3:2] == (200, b"ok"), timeout=10)
