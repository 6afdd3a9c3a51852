"""Access log: combined and JSON lines, escaping, buffering and flushing, and
reopening the access and error logs with SIGUSR1 without losing a line."""

import datetime
import json
import os
import re
import signal
import threading
import time

from conftest import fetch, raw_request, parse_response, start_daemon, wait_until

COMBINED = re.compile(
    r'(?P<addr>\S+) - - \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+) '
    r'"(?P<referer>[^"]*)" "(?P<agent>[^"]*)"\n')

JSON_FIELDS = ["time", "remote_addr", "host", "request", "method", "uri", "protocol", "status",
               "body_bytes_sent", "referer", "user_agent", "request_time"]


def start(server, fmt="combined", workers=1, extra=""):
    server.write("index.html", "hello\n")
    server.access_log = os.path.join(server.dir, "access.log")
    server.config(workers=workers, server_extra='access_log = "%s"\naccess_log_format = %s\n%s'
                  % (server.access_log, fmt, extra), locations="location / { }")
    server.start()
    return server


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return f.read().decode("latin-1").splitlines(keepends=True)


def wait_lines(path, count, timeout=3):
    """Waits until path contains `count` lines and returns them."""
    wait_until(lambda: len(read_lines(path)) >= count, timeout=timeout)
    return read_lines(path)


def request(server, raw):
    return parse_response(server.request(raw))


def test_combined_line_is_exact(server):
    start(server)
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    status, _, body, _ = request(server, b"GET /index.html?a=1 HTTP/1.1\r\nHost: a\r\n"
                                         b"Referer: http://ref.example/x\r\nUser-Agent: agent/1.0\r\n"
                                         b"Connection: close\r\n\r\n")
    assert (status, body) == (200, b"hello\n")
    status, _, body, _ = request(server, b"GET /missing HTTP/1.0\r\n\r\n")
    assert status == 404
    request(server, b"HEAD /index.html HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")

    lines = wait_lines(server.access_log, 3)
    assert len(lines) == 3
    match = re.fullmatch(
        r'127\.0\.0\.1 - - \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] '
        r'"GET /index\.html\?a=1 HTTP/1\.1" 200 6 "http://ref\.example/x" "agent/1\.0"\n', lines[0])
    assert match, lines[0]
    logged = datetime.datetime.strptime(match.group(1), "%d/%b/%Y:%H:%M:%S %z")
    assert before <= logged <= datetime.datetime.now(datetime.timezone.utc)
    assert re.fullmatch(r'127\.0\.0\.1 - - \[[^\]]+\] "GET /missing HTTP/1\.0" 404 %d "-" "-"\n'
                        % len(body), lines[1]), lines[1]
    assert re.fullmatch(r'127\.0\.0\.1 - - \[[^\]]+\] "HEAD /index\.html HTTP/1\.1" 200 0 "-" "-"\n',
                        lines[2]), lines[2]


def test_combined_escapes_quotes_and_control_bytes(server):
    start(server)
    request(server, b'GET /a"b\\c\xff HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
    request(server, b'GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: x"y\\z\t\xff end\r\n'
                    b'Referer: r"\r\nConnection: close\r\n\r\n')
    status, _, _, _ = request(server, b"GET /\x1b[31m HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert status == 400

    lines = wait_lines(server.access_log, 3)
    assert len(lines) == 3
    assert lines[0].endswith(r'] "GET /a\x22b\x5cc\xff HTTP/1.1" 404 68 "-" "-"' "\n"), lines[0]
    assert lines[1].endswith(r'] "GET / HTTP/1.1" 200 6 "r\x22" "x\x22y\x5cz\x09\xff end"' "\n"), lines[1]
    assert lines[2].endswith(r'] "GET /\x1b[31m HTTP/1.1" 400 72 "-" "-"' "\n"), lines[2]
    for line in lines:
        assert COMBINED.fullmatch(line), line
        assert all(0x20 <= ord(ch) < 0x7f for ch in line[:-1]), line


def test_json_lines_have_exact_fields(server):
    start(server, fmt="json")
    request(server, b"GET /index.html?x=1 HTTP/1.1\r\nHost: www.example.org:8080\r\n"
                    b"User-Agent: ua \"q\" \\ \t\xff\r\nReferer: http://r/\r\nConnection: close\r\n\r\n")
    request(server, b"HEAD /nope HTTP/1.0\r\n\r\n")

    lines = wait_lines(server.access_log, 2)
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert list(first) == JSON_FIELDS
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", first["time"])
    logged = datetime.datetime.fromisoformat(first["time"])
    assert abs((datetime.datetime.now(datetime.timezone.utc) - logged).total_seconds()) < 10
    assert first["remote_addr"] == "127.0.0.1"
    assert first["host"] == "www.example.org"
    assert first["request"] == "GET /index.html?x=1 HTTP/1.1"
    assert first["method"] == "GET"
    assert first["uri"] == "/index.html?x=1"
    assert first["protocol"] == "HTTP/1.1"
    assert first["status"] == 200
    assert first["body_bytes_sent"] == 6
    assert first["referer"] == "http://r/"
    # Bytes above 0x7f are written as \u00XX, so 0xff reads back as U+00FF.
    assert first["user_agent"] == 'ua "q" \\ \t\u00ff'
    assert isinstance(first["request_time"], float)
    assert 0 <= first["request_time"] < 5
    assert r'"user_agent":"ua \"q\" \\ \u0009\u00ff"' in lines[0]

    second = json.loads(lines[1])
    assert list(second) == JSON_FIELDS
    assert (second["method"], second["uri"], second["protocol"]) == ("HEAD", "/nope", "HTTP/1.0")
    assert (second["status"], second["body_bytes_sent"]) == (404, 0)
    assert (second["host"], second["referer"], second["user_agent"]) == ("", "", "")


def test_access_log_off_writes_nothing(server):
    server.write("index.html", "hello\n")
    logged = os.path.join(server.dir, "on.log")
    body = """
server off {
  listen = { "127.0.0.1:%d" }
  root = "%s"
  access_log = off
  location / { }
}
server on {
  listen = { "127.0.0.1:%d" }
  server_name = { on.example }
  root = "%s"
  access_log = "%s"
  location / { }
}
""" % (server.port, server.root, server.port, server.root, logged)
    server.config(body=body)
    server.start()

    for _ in range(3):
        assert fetch(server, "/", host="off.example")[0] == 200
    assert fetch(server, "/", host="on.example")[0] == 200
    wait_lines(logged, 1)
    time.sleep(0.7)
    server.signal(signal.SIGTERM)
    assert server.proc.wait(5) == 0

    assert len(read_lines(logged)) == 1
    assert '"GET / HTTP/1.1" 200 6' in read_lines(logged)[0]
    # No log file appeared for the server whose access log is off.
    assert sorted(os.listdir(server.dir)) == ["html", "on.log", "stderr.log", "zserver.conf"]


def test_lines_are_buffered_then_flushed_within_a_second(server):
    start(server)
    seen_buffered = False
    for n in range(3):
        assert fetch(server, "/?n=%d" % n)[0] == 200
        if len(read_lines(server.access_log)) == n:
            seen_buffered = True
        began = time.time()
        assert len(wait_lines(server.access_log, n + 1, timeout=3)) == n + 1
        assert time.time() - began < 1.5
    # The sweep may flush between a response and the check; three tries
    # all landing in that window would mean no buffering.
    assert seen_buffered


def test_buffered_lines_written_at_shutdown(server):
    for sig in (signal.SIGTERM, signal.SIGQUIT):
        start(server, workers=2)
        for n in range(20):
            assert fetch(server, "/?n=%d" % n)[0] == 200
        server.signal(sig)
        assert server.proc.wait(5) == 0
        lines = read_lines(server.access_log)
        assert sorted(int(re.search(r"\?n=(\d+) ", line).group(1)) for line in lines) == list(range(20))
        os.unlink(server.access_log)
        server.stderr.close()


class NumberedRequests(threading.Thread):
    """Requests path?n=0, 1, 2, ... with Connection: close until stopped;
    `done` counts the responses received."""

    def __init__(self, server, path, status):
        super().__init__(daemon=True)
        self.server = server
        self.path = path
        self.status = status
        self.done = 0
        self.failures = []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            try:
                status = fetch(self.server, "%s?n=%d" % (self.path, self.done))[0]
            except OSError as exc:
                status = repr(exc)
            if status != self.status:
                self.failures.append((self.done, status))
            self.done += 1

    def stop(self):
        self.stopped.set()
        self.join(5)


def numbers(lines):
    return [int(re.search(r"\?n=(\d+) ", line).group(1)) for line in lines]


def test_usr1_reopens_access_log_without_losing_lines(server):
    start(server, workers=2)
    loop = NumberedRequests(server, "/index.html", 200)
    loop.start()
    assert wait_until(lambda: loop.done >= 50)

    rotated = server.access_log + ".1"
    os.rename(server.access_log, rotated)
    before_signal = loop.done
    server.signal(signal.SIGUSR1)
    assert wait_until(lambda: os.path.exists(server.access_log))
    time.sleep(0.3)
    after_reopen = loop.done
    assert wait_until(lambda: loop.done >= after_reopen + 50)
    loop.stop()
    server.signal(signal.SIGQUIT)
    assert server.proc.wait(5) == 0

    assert loop.failures == []
    old = numbers(read_lines(rotated))
    new = numbers(read_lines(server.access_log))
    assert sorted(old + new) == list(range(loop.done))
    assert set(range(before_signal)) <= set(old)
    assert set(range(after_reopen, loop.done)) <= set(new)


def test_usr1_reopens_error_log_of_daemon(server):
    server.write("index.html", "hello\n")
    # Unreadable for the workers, so that every request logs one line at info.
    server.write("secret", "x", mode=0)
    server.config(workers=2, locations="location / { }")
    start_daemon(server)
    assert wait_until(lambda: len(server.workers()) == 2)
    line = 'client 127.0.0.1: open "secret" failed: Permission denied'
    loop = NumberedRequests(server, "/secret", 403)
    loop.start()
    assert wait_until(lambda: loop.done >= 50)

    rotated = server.error_log + ".1"
    os.rename(server.error_log, rotated)
    before_signal = loop.done
    server.signal(signal.SIGUSR1)
    assert wait_until(lambda: os.path.exists(server.error_log))
    time.sleep(0.3)
    after_reopen = loop.done
    assert wait_until(lambda: loop.done >= after_reopen + 50)
    loop.stop()

    assert loop.failures == []
    with open(rotated) as f:
        old = f.read()
    with open(server.error_log) as f:
        new = f.read()
    assert old.count(line) + new.count(line) == loop.done
    assert old.count(line) >= before_signal
    assert new.count(line) >= loop.done - after_reopen
    assert "reopening log files" in old
    assert "reopening log files" not in new

    # Workers started after the reopen write to the new file too.
    server.signal(signal.SIGHUP)
    assert wait_until(lambda: "configuration reloaded" in open(server.error_log).read())
    assert wait_until(lambda: len(server.workers()) == 2)
    assert fetch(server, "/secret")[0] == 403
    assert wait_until(lambda: open(server.error_log).read().count(line) == new.count(line) + 1)


def test_long_escaped_line_is_written_whole(server):
    start(server)
    # Every byte is escaped to four, so the line is about 96 KiB: more than the buffer.
    target = b"/" + b"\xff" * 7000
    agent = b"\xfe" * 7000
    referer = b"\xfd" * 7000
    for _ in range(2):
        status, _, _, _ = request(server, b"GET %s HTTP/1.1\r\nHost: a\r\nUser-Agent: %s\r\n"
                                          b"Referer: %s\r\nConnection: close\r\n\r\n"
                                          % (target, agent, referer))
        assert status == 404
    assert fetch(server, "/index.html")[0] == 200

    lines = wait_lines(server.access_log, 3)
    assert len(lines) == 3
    for line in lines[:2]:
        match = COMBINED.fullmatch(line)
        assert match, line[:200]
        assert match.group("request") == "GET /" + r"\xff" * 7000 + " HTTP/1.1"
        assert match.group("referer") == r"\xfd" * 7000
        assert match.group("agent") == r"\xfe" * 7000
    assert '"GET /index.html HTTP/1.1" 200 6' in lines[2]


def test_long_json_line_is_written_whole(server):
    start(server, fmt="json")
    agent = b"\xfe" * 8000
    referer = b'"' * 8000
    status, _, _, _ = request(server, b"GET /index.html HTTP/1.1\r\nHost: a\r\nUser-Agent: %s\r\n"
                                      b"Referer: %s\r\nConnection: close\r\n\r\n" % (agent, referer))
    assert status == 200

    lines = wait_lines(server.access_log, 1)
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["user_agent"] == "\u00fe" * 8000
    assert entry["referer"] == '"' * 8000
    assert entry["status"] == 200
