#!/bin/sh
# A CGI script: zserver runs it for /cgi-bin/hello.sh (cgi = on) and sends
# what it prints, after the header lines, to the client.
printf 'Content-Type: text/plain; charset=utf-8\r\n\r\n'
printf 'Hello from a CGI script.\n\n'
printf 'REQUEST_METHOD=%s\n' "$REQUEST_METHOD"
printf 'SCRIPT_NAME=%s\n' "$SCRIPT_NAME"
printf 'PATH_INFO=%s\n' "$PATH_INFO"
printf 'QUERY_STRING=%s\n' "$QUERY_STRING"
printf 'SERVER_SOFTWARE=%s\n' "$SERVER_SOFTWARE"
