#!/bin/sh
# CGI script that writes lines to stderr, which the server logs, before a
# normal response. QUERY_STRING "lines=N" sets how many (0 to 10000, default 2).
lines=2
case "${QUERY_STRING:-}" in
lines=*) lines=${QUERY_STRING#lines=} ;;
esac
case "$lines" in
'' | *[!0-9]*) lines=-1 ;;
esac
if [ "$lines" -lt 0 ] || [ "$lines" -gt 10000 ]; then
    printf 'Status: 400 Bad Request\nContent-Type: text/plain\n\nlines must be a number from 0 to 10000\n'
    exit 0
fi

i=1
while [ "$i" -le "$lines" ]; do
    echo "stderr.sh: line $i on stderr" >&2
    i=$((i + 1))
done
printf 'Content-Type: text/plain\n\nbody after %d stderr lines\n' "$lines"
