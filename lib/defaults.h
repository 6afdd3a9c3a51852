/* Every built-in default and limit, in one place. Times are in milliseconds. */
#ifndef ZS_DEFAULTS_H
#define ZS_DEFAULTS_H

#define ZS_SERVER_NAME "zserver"

#define ZS_DEFAULT_USER "www-data"
#define ZS_DEFAULT_GROUP "www-data"
#define ZS_DEFAULT_LOG_LEVEL "notice"
#define ZS_DEFAULT_INDEX "index.html"

/* Request head limits: 414 for the request line, 431 for a header line or the whole head. */
#define ZS_MAX_REQUEST_LINE (8 * 1024)
#define ZS_MAX_HEADER_LINE (8 * 1024)
#define ZS_MAX_HEADERS_SIZE (64 * 1024)
#define ZS_MAX_HEADERS_COUNT 256
#define ZS_CLIENT_MAX_BODY_SIZE (1024 * 1024)

/* Chunked request bodies: a chunk-size line longer than this is rejected
 * with 400 (16 hex digits, plus room for short extensions). */
#define ZS_MAX_CHUNK_LINE 256

#define ZS_HEADER_TIMEOUT 60000
#define ZS_BODY_TIMEOUT 60000
#define ZS_KEEPALIVE_TIMEOUT 75000
#define ZS_SEND_TIMEOUT 60000
#define ZS_SHUTDOWN_TIMEOUT 60000
#define ZS_KEEPALIVE_REQUESTS 10000

/* The WSGI adapter is a module that workers load only when a location uses
 * it: libpython would add about 3 MiB to every process that links it. */
#define ZS_WSGI_MODULE_NAME "zs_wsgi.so"
/* Request bodies up to this size stay in memory for wsgi.input; larger ones
 * go to a temporary file in client_body_temp_path. */
#define ZS_WSGI_BODY_IN_MEMORY (64 * 1024)
/* wsgi_timeout: how long application code may run for one request. */
#define ZS_WSGI_TIMEOUT 60000

#define ZS_BACKEND_CONNECT_TIMEOUT 60000
#define ZS_BACKEND_READ_TIMEOUT 60000
/* Requests of a location that may wait for a backend slot (backend_queue). */
#define ZS_BACKEND_QUEUE 64
#define ZS_CLIENT_BODY_TEMP_PATH "/tmp"

/* Managed apps: the socket directory when the master runs as root (else the
 * pid file's directory), and the PATH of programs whose env sets none. */
#define ZS_APP_SOCKET_DIR "/run/zserver"
#define ZS_APP_PATH "PATH=/usr/local/bin:/usr/bin:/bin"
#define ZS_APP_PROCESSES_MAX 1024

#define ZS_WORKER_CONNECTIONS 1024
#define ZS_LISTEN_BACKLOG 511

/* Byte ranges: more ranges than this in one request and the Range header is ignored. */
#define ZS_MAX_RANGES 16

/* Access log lines are buffered up to this size and flushed at least once a second. */
#define ZS_ACCESS_LOG_BUFFER (64 * 1024)

/* Respawn back-off for workers that die soon after start. */
#define ZS_RESPAWN_MIN_LIFETIME 2000
#define ZS_RESPAWN_BACKOFF_MAX 30000

#endif
