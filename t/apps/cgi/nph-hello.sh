#!/bin/sh
# Non-parsed-header CGI script: it writes the whole HTTP response, status
# line included, which the server must pass to the client unchanged.
# RFC 3875, section 5.2, requires the request's protocol (SERVER_PROTOCOL) in
# the status line. It also forbids a response that lets the client send more
# requests on the connection, hence "Connection: close".
body='Hello from an nph script!
'
printf '%s 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\nX-Nph: yes\r\n\r\n%s' \
    "${SERVER_PROTOCOL:-HTTP/1.0}" "${#body}" "$body"
