/* The WSGI module's own declarations, shared by its three files:
 * wsgi_python.c (the interpreter and the applications), wsgi_types.c (the
 * Python types that PEP 3333 requires) and wsgi.c (the adapter). */
#ifndef ZS_WSGI_H
#define ZS_WSGI_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdbool.h>
#include <stdint.h>

#include "adapters/adapter.h"

/* One wsgi_app of the configuration, imported in this process. */
struct wsgi_app {
    const struct zs_location *loc;  /* the first location that names it */
    const char *spec;               /* "module:callable" as configured */
    PyObject *callable;             /* NULL when the import failed */
};

/* ---- wsgi_python.c ---- */

/* Starts the interpreter for the pool's WSGI locations and imports their
 * applications. Returns 0, or -1 when Python itself could not start. */
int wsgi_python_init(const struct zs_config *conf, const struct zs_pool *pool);
/* The GIL is held only while the adapter runs: take it on each entry from
 * the worker, drop it before returning. */
void wsgi_gil_take(void);
void wsgi_gil_drop(void);
void wsgi_python_exit(void);
/* The shortest wsgi_timeout of the pool's WSGI locations. */
int wsgi_shortest_timeout(void);
/* Whether every application of the pool imported. */
bool wsgi_all_loaded(void);
/* The application of a location, or NULL when it is not loaded. */
const struct wsgi_app *wsgi_app_for(const struct zs_location *loc);
/* Logs the pending Python exception with its traceback, one log line per
 * traceback line, each after prefix, and clears it. */
void wsgi_log_exception(const char *prefix);

/* ---- wsgi_timeout.c ---- */

/* Starts the watchdog of the worker's thread for timeouts down to
 * shortest_ms. Returns 0 or -1 (logged). */
int wsgi_timeout_start(int shortest_ms);
/* Around application code run for a request with its location's
 * wsgi_timeout: used_ms is what the request's code used before without
 * output, and end() returns the new total for the next begin(). */
void wsgi_timeout_begin(int timeout_ms, int64_t used_ms);
int64_t wsgi_timeout_end(void);
/* The application produced output: its clock starts again. */
void wsgi_timeout_progress(void);
/* Monotonic milliseconds, without a system call. */
int64_t wsgi_clock_ms(void);

/* ---- wsgi_types.c ---- */

extern PyTypeObject wsgi_input_type;
extern PyTypeObject wsgi_log_type;
extern PyTypeObject wsgi_file_wrapper_type;

/* Readies the types. Returns 0, or -1 with a Python exception set. */
int wsgi_types_init(void);

/* wsgi.input: the request body, held in memory or in an unnamed temporary
 * file. The adapter fills it before the application runs. */
typedef struct wsgi_input wsgi_input;
/* A new input for a body of length bytes. Returns NULL with a Python exception set. */
PyObject *wsgi_input_new(int64_t length, const char *temp_dir);
/* Appends body bytes. Returns 0, or -1 (logged) when the temporary file
 * cannot be written. */
int wsgi_input_append(PyObject *input, const char *data, size_t len);

/* A text stream whose lines go to the error log at a level, after a prefix:
 * wsgi.errors, sys.stderr and sys.stdout. */
PyObject *wsgi_log_new(int level, const char *prefix);

/* wsgi.file_wrapper: the file object and block size it wraps. */
typedef struct {
    PyObject_HEAD
    PyObject *filelike;
    Py_ssize_t blksize;
} wsgi_file_wrapper;

#endif
