#!/bin/sh
# CGI wrapper around git's smart HTTP server. GIT_PROJECT_ROOT and
# GIT_HTTP_EXPORT_ALL come from the environment (the server's CGI
# parameters) when set. Otherwise the repositories are those under
# DOCUMENT_ROOT, and all of them are exported.
: "${GIT_PROJECT_ROOT:=${DOCUMENT_ROOT:-}}"
if [ -z "$GIT_PROJECT_ROOT" ]; then
    printf 'Status: 500 Internal Server Error\nContent-Type: text/plain\n\n'
    printf 'git-http-backend.sh: set GIT_PROJECT_ROOT or DOCUMENT_ROOT\n'
    echo "git-http-backend.sh: neither GIT_PROJECT_ROOT nor DOCUMENT_ROOT is set" >&2
    exit 0
fi
: "${GIT_HTTP_EXPORT_ALL:=1}"
export GIT_PROJECT_ROOT GIT_HTTP_EXPORT_ALL

# The test repositories belong to the user who runs the tests, but the
# script may run as the workers' user (nobody under root). Since 2.35.2, git
# refuses repositories of another owner unless safe.directory allows them.
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*'
exec /usr/lib/git-core/git-http-backend
