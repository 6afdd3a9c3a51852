"""Command line: -t, -T, -v, -V, -s, usage errors, start-up failures, daemon
mode and the privilege drop of workers."""

import grp
import os
import pwd
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import TOP, ZSERVER, fetch, free_port, start_daemon, wait_until

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="privileges are dropped only when run as root")


def run(*args, timeout=15):
    return subprocess.run([ZSERVER, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def version():
    with open(os.path.join(TOP, "configure.ac")) as f:
        return re.search(r"AC_INIT\(\[zserver\], \[([^\]]+)\]", f.read()).group(1)


def write_file(server, name, text):
    path = os.path.join(server.dir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def line_of(path, text):
    with open(path) as f:
        return 1 + f.read().split("\n").index(text)


def test_t_accepts_valid_config(server):
    path = server.config(locations="location / { }")
    result = run("-t", "-c", path)
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == "zserver: configuration file %s is valid\n" % path


BROKEN = [
    # (description, lines appended to a valid configuration, expected messages with {line})
    ("unknown option", ["bogus_option = 1"], ["{file}:{line0}: unknown option 'bogus_option'"]),
    ("bad value", ["keepalive_requests = many"],
     ["{file}:{line0}: keepalive_requests: invalid number 'many'"]),
    ("missing include", ['include("missing.conf")'],
     ["{file}:{line0}: include 'missing.conf': file '{dir}/missing.conf' not found"]),
    ("unclosed section", ["pool extra {", "workers = 1"],
     ["{file}:{line0}: '{{' is not closed by the end of the file"]),
    ("control character in default_type", ['default_type = "text/plain\\r\\nX-A: b"'],
     ["{file}:{line0}: default_type: invalid media type (it contains control characters)"]),
]


@pytest.mark.parametrize("description,lines,expected", BROKEN, ids=[b[0] for b in BROKEN])
def test_t_reports_error_with_file_and_line(server, description, lines, expected):
    path = server.config(globals_="\n".join(lines) + "\n")
    numbers = {"line%d" % i: line_of(path, text) for i, text in enumerate(lines)}
    result = run("-t", "-c", path)
    messages = [m.format(file=path, dir=server.dir, **numbers) for m in expected]
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "".join(m + "\n" for m in messages) + \
        "zserver: configuration file %s test failed\n" % path


def test_t_reports_every_error_in_one_file(server):
    body = """
server test {
  listen = { "127.0.0.1:99999" }
  root = "%s"
  location / { return = "999 nope" }
}
""" % server.root
    path = server.config(body=body)
    result = run("-t", "-c", path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "%s:%d: listen: invalid address '127.0.0.1:99999': invalid port '99999' (expected 1 to 65535)"
        % (path, line_of(path, '  listen = { "127.0.0.1:99999" }')),
        "%s:%d: return: status 999 is out of range (200 to 599)"
        % (path, line_of(path, '  location / { return = "999 nope" }')),
        "zserver: configuration file %s test failed" % path,
    ]


def test_t_names_included_file_in_errors(server):
    included = write_file(server, "extra.conf", "# extra settings\nsend_timeout = soon\n")
    path = server.config(globals_='include("extra.conf")\n')
    result = run("-t", "-c", path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "%s:2: send_timeout: invalid duration 'soon' "
        "(expected a number with an optional unit: ms, s, m, h or d)" % included)


def test_T_prints_resolved_config(server):
    path = server.config(globals_="client_header_timeout = 1500ms\n",
                         locations='location "= /x" { return = "200 hi" }')
    result = run("-T", "-c", path)
    assert result.returncode == 0
    assert result.stderr == "zserver: configuration file %s is valid\n" % path
    out = result.stdout
    assert out.startswith("# configuration file %s\n" % path)
    assert "\npid_file = %s\n" % server.pid_file in out
    assert "\nclient_header_timeout = 1500ms\n" in out
    assert "\nkeepalive_timeout = 75s\n" in out
    assert "\npool default {\n" in out
    assert "\n    workers = 2\n" in out
    assert "\n    listen = {127.0.0.1:%d}\n" % server.port in out
    assert "\n    location '= /x' {\n        return = '200 hi'\n" in out
    assert out.endswith("# 127.0.0.1:%d pool default: test\n" % server.port)

    # The printed configuration is itself valid and prints the same.
    dumped = write_file(server, "dumped.conf", out)
    again = run("-T", "-c", dumped)
    assert again.returncode == 0
    assert again.stdout == out.replace(path, dumped, 1)


def test_v_prints_version():
    result = run("-v")
    assert (result.returncode, result.stdout, result.stderr) == (0, "zserver version %s\n" % version(), "")


def test_V_prints_build_details():
    result = run("-V")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "zserver version %s" % version()
    assert lines[1].startswith("configure arguments: ")
    assert re.fullmatch(r"libev \d+\.\d+, http-parser \d+\.\d+\.\d+, libconfuse \S+, PCRE2 \d+\.\d+.*",
                        lines[2]), lines[2]


def test_unknown_flag_prints_usage():
    result = run("-x")
    assert (result.returncode, result.stdout) == (2, "")
    assert "invalid option -- 'x'\n" in result.stderr
    assert "\nusage: zserver [-c file] [-t] [-T] [-f] [-s reload|reopen|quit|stop] [-v] [-V]\n" \
        in result.stderr


def test_extra_argument_prints_usage():
    result = run("-t", "stray")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith('zserver: unexpected argument "stray"\nusage: zserver ')


def test_h_prints_usage_to_stdout():
    result = run("-h")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("usage: zserver ")


def test_s_without_running_server(server):
    path = server.config()
    result = run("-s", "reload", "-c", path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == ("zserver: pid file %s: missing or invalid; is zserver running?\n"
                             % server.pid_file)

    # A pid file left behind by a master that is gone.
    dead = subprocess.Popen(["true"])
    dead.wait()
    with open(server.pid_file, "w") as f:
        f.write("%d\n" % dead.pid)
    result = run("-s", "stop", "-c", path)
    assert result.returncode == 1
    assert result.stderr == "zserver: signal to master %d failed: No such process\n" % dead.pid


def test_s_rejects_unknown_action(server):
    path = server.config()
    result = run("-s", "restart", "-c", path)
    assert result.returncode == 2
    assert result.stderr == 'zserver: invalid -s action "restart": use reload, reopen, quit or stop\n'


def second_config(server, port):
    """The fixture's configuration with another listen port and the same pid file."""
    with open(server.conf_path) as f:
        text = f.read().replace("127.0.0.1:%d" % server.port, "127.0.0.1:%d" % port)
    return write_file(server, "second.conf", text.replace(server.error_log, server.error_log + ".2"))


def test_second_master_with_same_pid_file_refuses(server):
    server.config(locations="location / { }")
    server.start()
    master = server.proc.pid
    path = second_config(server, free_port())
    message = "pid file %s: zserver is already running as pid %d" % (server.pid_file, master)

    result = run("-f", "-c", path)
    assert result.returncode == 1
    assert message in result.stderr
    # A daemon logs the reason to its error log and names that log on stderr.
    result = run("-c", path)
    assert result.returncode == 1
    assert result.stderr == "zserver: start-up failed, see the error log %s.2\n" % server.error_log
    with open(server.error_log + ".2") as f:
        assert message in f.read()

    with open(server.pid_file) as f:
        assert f.read() == "%d\n" % master
    assert fetch(server, "/")[0] in (200, 403, 404)


def test_busy_listen_address_fails_start(server):
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("127.0.0.1", server.port))
    busy.listen(1)
    try:
        path = server.config()
        message = "listen 127.0.0.1:%d: bind failed: Address already in use\n" % server.port
        result = run("-f", "-c", path)
        assert result.returncode == 1
        assert result.stderr.endswith(message), result.stderr

        result = run("-c", path)
        assert result.returncode == 1
        assert result.stderr == "zserver: start-up failed, see the error log %s\n" % server.error_log
        with open(server.error_log) as f:
            assert f.read().endswith(message)
        assert not os.path.exists(server.pid_file)
    finally:
        busy.close()


def process_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            name, _, value = line.partition(":")
            fields[name] = value.split()
    return fields


def test_daemon_returns_after_workers_started(server):
    server.write("index.html", "hello\n")
    server.config(workers=2, locations="location / { }")
    result = start_daemon(server)
    # No waiting: everything is in place when the command returns.
    assert result.returncode == 0
    assert len(server.workers()) == 2
    status, _, body, _ = fetch(server, "/")
    assert status == 200
    assert body == b"hello\n"
    # The command's stdout and stderr went to this file, and it printed nothing.
    with open(os.path.join(server.dir, "stderr.log"), "rb") as f:
        assert f.read() == b""

    master = server.proc.pid
    assert process_status(master)["PPid"] != [str(os.getpid())]
    assert os.getsid(master) == master
    with open(server.error_log) as f:
        assert "zserver %s started, configuration %s" % (version(), server.conf_path) in f.read()

    result = run("-s", "quit", "-c", server.conf_path)
    assert (result.returncode, result.stderr) == (0, "")
    server.proc.wait(5)
    assert not os.path.exists(server.pid_file)


def test_daemon_stops_on_s_stop(server):
    server.config(workers=1)
    start_daemon(server)
    result = run("-s", "stop", "-c", server.conf_path)
    assert (result.returncode, result.stderr) == (0, "")
    server.proc.wait(5)
    assert not os.path.exists(server.pid_file)


@as_root
def test_workers_run_as_pool_user(server):
    server.config(workers=2)
    server.start()
    assert wait_until(lambda: len(server.workers()) == 2)
    nobody = pwd.getpwnam("nobody")
    gid = grp.getgrnam("nogroup").gr_gid if "nogroup" in {g.gr_name for g in grp.getgrall()} \
        else nobody.pw_gid
    for pid in server.workers():
        status = process_status(pid)
        assert status["Uid"] == [str(nobody.pw_uid)] * 4
        assert status["Gid"] == [str(gid)] * 4
        assert "0" not in status["Groups"]
    assert process_status(server.proc.pid)["Uid"][1] == "0"


@as_root
def test_root_pool_needs_allow_root(server):
    body = """
server test {
  listen = { "127.0.0.1:%d" }
  root = "%s"
  location / { }
}
""" % (server.port, server.root)
    path = server.config(body=body)
    with open(path) as f:
        text = f.read()
    text = re.sub(r"user = nobody\n", "user = root\n", text)
    text = text.replace("pool default { workers = 2 }", "pool default {\n  workers = 2\n}")
    with open(path, "w") as f:
        f.write(text)
    message = ("%s:%d: pool default: refusing to run workers as root; set allow_root = true to allow it"
               % (path, line_of(path, "pool default {")))
    for args in (["-t"], ["-f"]):
        result = run(*args, "-c", path)
        assert result.returncode == 1
        assert message in result.stderr.splitlines()

    with open(path, "w") as f:
        f.write(text.replace("  workers = 2\n", "  workers = 2\n  allow_root = true\n"))
    server.start()
    assert wait_until(lambda: len(server.workers()) == 2)
    for pid in server.workers():
        assert process_status(pid)["Uid"] == ["0"] * 4


def test_t_rejects_unquoted_wildcard_server_name(server):
    path = server.config(server_extra="server_name = *.example.org")
    line = line_of(path, "server_name = *.example.org")
    result = run("-t", "-c", path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "%s:%d: server_name '.example.org': invalid name; write a wildcard in quotes, "
        'as "*.example.org"' % (path, line))


def test_t_rejects_line_break_in_redirect(server):
    path = server.config(locations='location /r { return = "301 https://a/\\r\\nX: y" }')
    result = run("-t", "-c", path)
    assert result.returncode == 1
    assert "return: the URL of a 301 redirect contains a line break" in result.stderr


def test_second_start_keeps_running_unix_socket(server):
    sock = os.path.join(server.dir, "live.sock")
    server.write("x.txt", "alive\n")
    server.config(body="""
server s {
  listen = { "127.0.0.1:%d", "unix:%s" }
  root = "%s"
}
""" % (server.port, sock, server.root))
    server.start()
    inode = os.stat(sock).st_ino
    result = run("-f", "-c", server.conf_path)
    assert result.returncode == 1
    assert "zserver is already running" in result.stderr
    assert os.stat(sock).st_ino == inode
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(sock)
        s.sendall(b"GET /x.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\r\n\r\nalive\n")


def test_concurrent_s_reload_callers_all_succeed(server):
    server.config(locations="location / { }")
    server.start()
    procs = [subprocess.Popen([ZSERVER, "-s", "reload", "-c", server.conf_path],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
             for _ in range(4)]
    for proc in procs:
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
