#!/bin/sh
# The smallest CGI response: a Content-Type header and a text body, with no
# Content-Length, so the server must delimit the body itself.
printf 'Content-Type: text/plain\n\nHello from CGI!\n'
