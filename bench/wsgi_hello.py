"""WSGI hello-world application for bench/run's wsgi-hello scenario.

Every request gets the same 200 response with Content-Type text/plain, a
Content-Length and the body below, returned as a list of one bytes object.
"""

BODY = b"Hello, World!\n"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
