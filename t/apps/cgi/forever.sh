#!/bin/sh
# CGI script that never responds and never exits, for the server's CGI timeout.
# exec keeps a single process, so killing the script's pid ends it.
exec sleep infinity
