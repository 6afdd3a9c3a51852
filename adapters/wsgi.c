/* The WSGI adapter (PEP 3333): runs a Python application inside the worker.
 *
 * The request body is collected first (wsgi.input), so that a slow upload
 * never keeps the worker waiting inside Python. Then the application runs,
 * and the worker's other connections wait until it returns. Its response is
 * iterated a piece at a time, each piece sent as it comes: when the client
 * falls behind, the iteration stops until resume(), so a large response
 * streams with bounded memory and the other connections go on between
 * pieces. */
#include "config.h"

#include "adapters/wsgi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapters/cgi_env.h"
#include "lib/log.h"

/* Pieces and bytes of a response sent in one go before the worker's other
 * connections get their turn. */
#define PUMP_PIECES 64
#define PUMP_BYTES (256 * 1024)
#define PUMP_MS 20
/* Response headers kept on the stack; more take one allocation. */
#define HEAD_HEADERS_STACK 32
/* Environment keys kept interned by position, for the usual variables. */
#define KEY_CACHE_SIZE 48
#define KEY_CACHE_NAME_MAX 40

/* One request: the adapter's state, and the start_response callable that
 * the application gets. Python code may keep a reference after the request
 * is over; io is NULL from then on. */
typedef struct wsgi_request_s {
    PyObject_HEAD
    struct zs_app_io *io;
    const struct wsgi_app *app;
    PyObject *environ;
    PyObject *input;
    PyObject *status;            /* from start_response, a str */
    PyObject *headers;           /* from start_response, a list of (str, str) */
    PyObject *result;            /* what the application returned */
    PyObject *iter;              /* its iterator, once iteration started */
    Py_ssize_t next_index;       /* list and tuple results are indexed, not iterated */
    int64_t content_length;      /* declared by the application, or -1 */
    int status_code;
    int timeout_ms;              /* the location's wsgi_timeout */
    int64_t used_ms;             /* application time since the last output */
    bool head_request;           /* HEAD: the response has no body */
    bool head_sent;
    bool closed;                 /* result.close() was called */
    bool yielded;                /* waits in the yield list for its next turn */
    struct wsgi_request_s *next_yielded;
} wsgi_request;

static PyTypeObject wsgi_request_type;

static PyObject *environ_base;   /* the wsgi.* entries every request has */
static PyObject *key_input, *scheme_http, *scheme_https, *key_scheme;
static struct {
    char name[KEY_CACHE_NAME_MAX];
    size_t len;
    PyObject *key;
} key_cache[KEY_CACHE_SIZE];

static void request_pump(wsgi_request *r);
static bool latin1_str(PyObject *s);

/* Requests whose iteration gave way to other connections, resumed by a
 * timer: a timer runs after the loop has polled for I/O, where a fed event
 * would run before it. */
static wsgi_request *yielded_first;
static ev_timer yield_timer;

/* ---- Log lines ---- */

static void
request_log_exception(wsgi_request *r, const char *what)
{
    char prefix[512];
    char uri[160] = "-";
    const char *method = "-";
    PyObject *value;

    /* The request line comes from environ: the request view is gone. */
    if (r->environ != NULL) {
        value = PyDict_GetItemString(r->environ, "REQUEST_METHOD");
        if (value != NULL && latin1_str(value))
            method = (const char *)PyUnicode_1BYTE_DATA(value);
        value = PyDict_GetItemString(r->environ, "REQUEST_URI");
        if (value != NULL && latin1_str(value))
            zs_log_escape(uri, sizeof(uri), (const char *)PyUnicode_1BYTE_DATA(value),
                          (size_t)PyUnicode_GET_LENGTH(value));
    }
    snprintf(prefix, sizeof(prefix), "client %s: \"%s %s\": wsgi_app \"%s\" %s: ",
             r->io != NULL ? zs_app_peer(r->io) : "-", method, uri, r->app->spec, what);
    wsgi_log_exception(prefix);
}

/* ---- environ ---- */

static int
environ_base_init(void)
{
    PyObject *version = Py_BuildValue("(ii)", 1, 0);
    PyObject *errors = wsgi_log_new(ZS_LOG_ERROR, "wsgi.errors: ");
    int r = -1;

    environ_base = PyDict_New();
    key_input = PyUnicode_InternFromString("wsgi.input");
    key_scheme = PyUnicode_InternFromString("wsgi.url_scheme");
    scheme_http = PyUnicode_InternFromString("http");
    scheme_https = PyUnicode_InternFromString("https");
    if (version != NULL && errors != NULL && environ_base != NULL && key_input != NULL && key_scheme != NULL
        && scheme_http != NULL && scheme_https != NULL
        && PyDict_SetItemString(environ_base, "wsgi.version", version) == 0
        && PyDict_SetItemString(environ_base, "wsgi.errors", errors) == 0
        && PyDict_SetItemString(environ_base, "wsgi.multithread", Py_False) == 0
        && PyDict_SetItemString(environ_base, "wsgi.multiprocess", Py_True) == 0
        && PyDict_SetItemString(environ_base, "wsgi.run_once", Py_False) == 0
        && PyDict_SetItemString(environ_base, "wsgi.input_terminated", Py_True) == 0
        && PyDict_SetItemString(environ_base, "wsgi.file_wrapper", (PyObject *)&wsgi_file_wrapper_type) == 0)
        r = 0;
    Py_XDECREF(version);
    Py_XDECREF(errors);
    return r;
}

/* Variables come in much the same order on every request, so the key at
 * each position is usually the one the last request had there. */
static PyObject *
environ_key(size_t i, const char *name, size_t len)
{
    if (i >= KEY_CACHE_SIZE || len >= KEY_CACHE_NAME_MAX)
        return PyUnicode_FromStringAndSize(name, (Py_ssize_t)len);
    if (key_cache[i].key != NULL && key_cache[i].len == len && memcmp(key_cache[i].name, name, len) == 0) {
        Py_INCREF(key_cache[i].key);
        return key_cache[i].key;
    }
    PyObject *key = PyUnicode_FromStringAndSize(name, (Py_ssize_t)len);
    if (key == NULL)
        return NULL;
    PyUnicode_InternInPlace(&key);
    Py_XSETREF(key_cache[i].key, key);
    memcpy(key_cache[i].name, name, len);
    key_cache[i].len = len;
    Py_INCREF(key);
    return key;
}

/* SCRIPT_NAME is the location's prefix (the mount point), PATH_INFO the
 * rest; a regular-expression location mounts the application at the root. */
static int
environ_split(const struct zs_app_request *req, struct zs_cgi_script *script)
{
    const struct zs_location *loc = req->location;

    if (loc->loc_match == ZS_LOC_REGEX || loc->loc_match == ZS_LOC_REGEX_NOCASE || loc->loc_split_path_info != NULL) {
        *script = (struct zs_cgi_script){ .script_name = "", .path_info = req->path, .path_info_len = req->path_len };
        return 0;
    }
    return zs_cgi_split_app(req, script);
}

/* PEP 3333's native strings: each byte of a variable is one character (latin-1). */
static PyObject *
environ_build(const struct zs_app_request *req, const struct zs_cgi_script *script)
{
    static struct zs_cgi_env env;    /* its storage is reused by the next request */
    PyObject *environ;

    if (zs_cgi_env_build(&env, req, script) == -1) {
        PyErr_SetString(PyExc_RuntimeError, "building the CGI variables failed");
        return NULL;
    }
    environ = PyDict_Copy(environ_base);
    if (environ == NULL)
        return NULL;
    for (size_t i = 0; i < env.count; i++) {
        const struct zs_cgi_var *v = &env.vars[i];
        PyObject *key = environ_key(i, v->name, v->name_len);
        PyObject *value = PyUnicode_DecodeLatin1(v->value, (Py_ssize_t)v->value_len, NULL);
        int r = key != NULL && value != NULL ? PyDict_SetItem(environ, key, value) : -1;
        Py_XDECREF(key);
        Py_XDECREF(value);
        if (r == -1) {
            Py_DECREF(environ);
            return NULL;
        }
    }
    if (PyDict_SetItem(environ, key_scheme, req->https ? scheme_https : scheme_http) == -1) {
        Py_DECREF(environ);
        return NULL;
    }
    return environ;
}

/* ---- start_response ---- */

static bool
header_name_valid(const Py_UCS1 *s, Py_ssize_t len)
{
    static const char token[] = "!#$%&'*+-.^_`|~";

    if (len == 0)
        return false;
    for (Py_ssize_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] != '\0' && strchr(token, s[i]) != NULL)))
            return false;
    return true;
}

static bool
header_value_valid(const Py_UCS1 *s, Py_ssize_t len)
{
    for (Py_ssize_t i = 0; i < len; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return false;
    return true;
}

/* A str whose characters are all latin-1 is stored one byte each: those
 * bytes go to the client as they are. */
static bool
latin1_str(PyObject *s)
{
    return PyUnicode_Check(s) && PyUnicode_KIND(s) == PyUnicode_1BYTE_KIND;
}

static int
check_status(PyObject *status)
{
    const Py_UCS1 *s;
    Py_ssize_t len;

    if (!latin1_str(status)) {
        PyErr_Format(PyExc_TypeError, "start_response: status must be a str of latin-1 characters, not %.100s",
                     Py_TYPE(status)->tp_name);
        return -1;
    }
    s = PyUnicode_1BYTE_DATA(status);
    len = PyUnicode_GET_LENGTH(status);
    /* PEP 3333 requires a reason phrase; like gunicorn, a bare "200" is accepted. */
    if (len < 3 || s[0] < '2' || s[0] > '5' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9'
        || (len > 3 && s[3] != ' ') || !header_value_valid(s, len)) {
        PyErr_Format(PyExc_ValueError, "start_response: invalid status %R (expected \"200 OK\": a code from 200 to 599, "
                     "a space and a reason)", status);
        return -1;
    }
    return 0;
}

static int
check_headers(PyObject *headers)
{
    if (!PyList_Check(headers)) {
        PyErr_Format(PyExc_TypeError, "start_response: headers must be a list, not %.100s", Py_TYPE(headers)->tp_name);
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(headers); i++) {
        PyObject *h = PyList_GET_ITEM(headers, i);
        PyObject *name, *value;
        if (!PyTuple_Check(h) || PyTuple_GET_SIZE(h) != 2) {
            PyErr_Format(PyExc_TypeError, "start_response: header %zd is not a (name, value) tuple", i);
            return -1;
        }
        name = PyTuple_GET_ITEM(h, 0);
        value = PyTuple_GET_ITEM(h, 1);
        if (!latin1_str(name) || !latin1_str(value)) {
            PyErr_Format(PyExc_TypeError, "start_response: header %zd: name and value must be str of latin-1 characters", i);
            return -1;
        }
        if (!header_name_valid(PyUnicode_1BYTE_DATA(name), PyUnicode_GET_LENGTH(name))
            || !header_value_valid(PyUnicode_1BYTE_DATA(value), PyUnicode_GET_LENGTH(value))) {
            PyErr_Format(PyExc_ValueError, "start_response: invalid header %R: %R", name, value);
            return -1;
        }
    }
    return 0;
}

static PyObject *request_write(wsgi_request *r, PyObject *data);
static PyMethodDef write_def = { "write", (PyCFunction)request_write, METH_O, "Write response body bytes." };

/* start_response(status, headers, exc_info=None) */
static PyObject *
request_call(wsgi_request *r, PyObject *args, PyObject *kwargs)
{
    static char *names[] = { "status", "response_headers", "exc_info", NULL };
    PyObject *status, *headers, *exc_info = Py_None;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|O:start_response", names, &status, &headers, &exc_info))
        return NULL;
    if (r->io == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "start_response: the request is over");
        return NULL;
    }
    if (exc_info != Py_None) {
        if (r->head_sent) {
            /* PEP 3333: too late to change the response; raise the error again. */
            if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
                PyErr_SetString(PyExc_TypeError, "start_response: exc_info must be a 3-tuple");
                return NULL;
            }
            PyObject *type = PyTuple_GET_ITEM(exc_info, 0);
            PyObject *value = PyTuple_GET_ITEM(exc_info, 1);
            PyObject *tb = PyTuple_GET_ITEM(exc_info, 2);
            Py_INCREF(type);
            Py_INCREF(value);
            if (tb == Py_None)
                tb = NULL;
            Py_XINCREF(tb);
            PyErr_Restore(type, value, tb);
            return NULL;
        }
    } else if (r->status != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "start_response called a second time without exc_info");
        return NULL;
    }
    if (check_status(status) == -1 || check_headers(headers) == -1)
        return NULL;
    Py_INCREF(status);
    Py_INCREF(headers);
    Py_XSETREF(r->status, status);
    Py_XSETREF(r->headers, headers);
    return PyCFunction_New(&write_def, (PyObject *)r);
}

/* ---- Response head ---- */

static bool
name_is(PyObject *name, const char *lower)
{
    size_t len = strlen(lower);

    return (size_t)PyUnicode_GET_LENGTH(name) == len
           && strncasecmp((const char *)PyUnicode_1BYTE_DATA(name), lower, len) == 0;
}

/* Headers the worker writes itself or that belong to one connection only. */
static bool
header_dropped(PyObject *name)
{
    static const char *const names[] = { "connection", "keep-alive", "transfer-encoding", "te", "trailer",
                                         "upgrade", "proxy-connection", "date", "server" };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (name_is(name, names[i]))
            return true;
    return false;
}

static int64_t
parse_content_length(PyObject *value)
{
    const Py_UCS1 *s = PyUnicode_1BYTE_DATA(value);
    Py_ssize_t len = PyUnicode_GET_LENGTH(value);
    int64_t n = 0;

    if (len == 0 || len > 18)
        return -1;
    for (Py_ssize_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        n = n * 10 + (s[i] - '0');
    }
    return n;
}

/* Sends the status and headers from start_response, with the Content-Length
 * the application declared, else length_hint (-1: unknown). Returns 0, or
 * -1 with an exception set. */
static int
request_send_head(wsgi_request *r, int64_t length_hint)
{
    struct zs_app_header stack[HEAD_HEADERS_STACK];
    struct zs_app_header *out = stack;
    Py_ssize_t count = r->headers != NULL ? PyList_GET_SIZE(r->headers) : 0;
    size_t n = 0;

    if (r->status == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the application returned without calling start_response");
        return -1;
    }
    if (count > HEAD_HEADERS_STACK && (out = malloc((size_t)count * sizeof(*out))) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    r->content_length = -1;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *h = PyList_GET_ITEM(r->headers, i);
        PyObject *name = PyTuple_GET_ITEM(h, 0);
        PyObject *value = PyTuple_GET_ITEM(h, 1);
        if (name_is(name, "content-length")) {
            r->content_length = parse_content_length(value);
            if (r->content_length == -1) {
                PyErr_Format(PyExc_ValueError, "invalid Content-Length %R", value);
                if (out != stack)
                    free(out);
                return -1;
            }
            continue;
        }
        if (header_dropped(name))
            continue;
        out[n++] = (struct zs_app_header){
            .name = (const char *)PyUnicode_1BYTE_DATA(name),
            .name_len = (size_t)PyUnicode_GET_LENGTH(name),
            .value = (const char *)PyUnicode_1BYTE_DATA(value),
            .value_len = (size_t)PyUnicode_GET_LENGTH(value),
        };
    }
    r->head_sent = true;
    r->status_code = atoi((const char *)PyUnicode_1BYTE_DATA(r->status));
    zs_app_head(r->io, r->status_code, out, n, r->content_length >= 0 ? r->content_length : length_hint);
    if (out != stack)
        free(out);
    return 0;
}

/* ---- write() ---- */

static PyObject *
request_write(wsgi_request *r, PyObject *data)
{
    if (r->io == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "write: the request is over");
        return NULL;
    }
    if (!PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError, "write() argument must be bytes, not %.100s", Py_TYPE(data)->tp_name);
        return NULL;
    }
    if (!r->head_sent && request_send_head(r, -1) == -1)
        return NULL;
    /* PEP 3333: the block is sent before write() returns. */
    if (PyBytes_GET_SIZE(data) > 0) {
        int drained;
        zs_app_body(r->io, PyBytes_AS_STRING(data), (size_t)PyBytes_GET_SIZE(data));
        /* Waiting for the client is not the application's time. */
        wsgi_timeout_end();
        drained = zs_app_drain(r->io);
        wsgi_timeout_begin(r->timeout_ms, 0);
        if (drained == -1) {
            PyErr_SetString(PyExc_OSError, "write: the client is gone or stopped reading");
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

/* ---- Request life ---- */

/* The request is over for the adapter: no zs_app_* call after this. */
static void
request_unyield(wsgi_request *r)
{
    if (!r->yielded)
        return;
    for (wsgi_request **pp = &yielded_first; *pp != NULL; pp = &(*pp)->next_yielded) {
        if (*pp == r) {
            *pp = r->next_yielded;
            break;
        }
    }
    r->yielded = false;
}

static void
request_detach(wsgi_request *r)
{
    request_unyield(r);
    r->io = NULL;
    Py_CLEAR(r->iter);
    Py_CLEAR(r->result);
    Py_CLEAR(r->environ);
    Py_CLEAR(r->input);
    Py_DECREF(r);                /* the reference the worker's state held */
}

/* PEP 3333: close() of the result is called once, however the request ends. */
static void
request_close_result(wsgi_request *r)
{
    PyObject *close = NULL;

    if (r->closed || r->result == NULL)
        return;
    r->closed = true;
    if (PyList_CheckExact(r->result) || PyTuple_CheckExact(r->result))
        return;
    close = PyObject_GetAttrString(r->result, "close");
    if (close == NULL) {
        PyErr_Clear();
        return;
    }
    PyObject *ret = PyObject_CallNoArgs(close);
    Py_DECREF(close);
    if (ret == NULL)
        request_log_exception(r, "raised in close()");
    Py_XDECREF(ret);
}

/* The application raised: 500 before the head, else a cut response. */
static void
request_fail(wsgi_request *r, const char *what)
{
    struct zs_app_io *io = r->io;

    request_log_exception(r, what);
    request_close_result(r);
    if (r->head_sent)
        zs_app_end(io, false);
    else
        zs_app_fail(io, 500);
    request_detach(r);
}

static void
request_finish(wsgi_request *r)
{
    struct zs_app_io *io = r->io;

    /* Nothing was produced: the body is empty, unless this is HEAD, whose
     * empty body does not give the length. */
    if (!r->head_sent && request_send_head(r, r->head_request ? -1 : 0) == -1) {
        request_fail(r, "failed");
        return;
    }
    request_close_result(r);
    zs_app_end(io, true);
    request_detach(r);
}

/* Length of a list or tuple of bytes, known before any of it is sent: the
 * usual `return [body]` then gets a Content-Length instead of chunks. */
static int64_t
result_length(PyObject *result)
{
    int64_t total = 0;

    if (!PyList_CheckExact(result) && !PyTuple_CheckExact(result))
        return -1;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(result); i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(result, i);
        if (!PyBytes_Check(item))
            return -1;
        total += PyBytes_GET_SIZE(item);
    }
    return total;
}

/* A file_wrapper over a regular file goes out with sendfile(). Returns true
 * when the request is done, false to iterate the wrapper instead. */
static bool
request_try_sendfile(wsgi_request *r)
{
    wsgi_file_wrapper *w = (wsgi_file_wrapper *)r->result;
    PyObject *ret;
    struct stat st;
    long fd;
    int64_t offset, length;
    int copy;

    if (r->status == NULL || r->head_sent)
        return false;
    ret = PyObject_CallMethod(w->filelike, "fileno", NULL);
    fd = ret != NULL ? PyLong_AsLong(ret) : -1;
    Py_XDECREF(ret);
    if (fd < 0 || fstat((int)fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        PyErr_Clear();
        return false;
    }
    /* tell(), not the descriptor's offset: a buffered reader reads ahead. */
    ret = PyObject_CallMethod(w->filelike, "tell", NULL);
    offset = ret != NULL ? PyLong_AsLongLong(ret) : -1;
    Py_XDECREF(ret);
    if (offset < 0) {
        PyErr_Clear();
        offset = lseek((int)fd, 0, SEEK_CUR);
        if (offset < 0)
            return false;
    }
    length = st.st_size > offset ? st.st_size - offset : 0;
    copy = fcntl((int)fd, F_DUPFD_CLOEXEC, 0);
    if (copy == -1)
        return false;
    if (request_send_head(r, length) == -1) {
        close(copy);
        request_fail(r, "failed");
        return true;
    }
    if (zs_app_sendfile(r->io, copy, offset, length) == -1) {
        close(copy);
        return false;
    }
    request_finish(r);
    return true;
}

/* The next piece of the result: a new reference, or NULL at the end or
 * with an exception set. */
static PyObject *
result_next(wsgi_request *r)
{
    if (PyList_CheckExact(r->result) || PyTuple_CheckExact(r->result)) {
        if (r->next_index >= PySequence_Fast_GET_SIZE(r->result))
            return NULL;
        PyObject *item = PySequence_Fast_GET_ITEM(r->result, r->next_index++);
        Py_INCREF(item);
        return item;
    }
    if (r->iter == NULL && (r->iter = PyObject_GetIter(r->result)) == NULL)
        return NULL;
    return PyIter_Next(r->iter);
}

/* Runs fn on a request as application code, under wsgi_timeout. The extra
 * reference keeps r valid when fn ends the request. */
static void
request_enter(wsgi_request *r, void (*fn)(wsgi_request *))
{
    Py_INCREF(r);
    wsgi_timeout_begin(r->timeout_ms, r->used_ms);
    fn(r);
    r->used_ms = wsgi_timeout_end();
    Py_DECREF(r);
}

static void
yield_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    wsgi_request *list = yielded_first;

    yielded_first = NULL;
    wsgi_gil_take();
    while (list != NULL) {
        wsgi_request *r = list;
        list = r->next_yielded;
        r->yielded = false;
        request_enter(r, request_pump);
    }
    wsgi_gil_drop();
}

/* Lets the worker serve its other connections before the next piece. */
static void
request_yield(wsgi_request *r)
{
    r->yielded = true;
    r->next_yielded = yielded_first;
    yielded_first = r;
    if (!ev_is_active(&yield_timer)) {
        ev_timer_set(&yield_timer, 0., 0.);
        ev_timer_start(zs_app_loop(), &yield_timer);
    }
}

/* No body goes to the client: HEAD, 1xx, 204 and 304. */
static bool
request_has_body(const wsgi_request *r)
{
    return !r->head_request && r->status_code != 204 && r->status_code != 304;
}

/* Sends pieces of the result until it ends, the client falls behind (then
 * resume() comes), or the turn is over (then the yield timer comes). A
 * computed list goes out in one write; a generator's pieces each go out as
 * they come, since the next one may take a while. */
static void
request_pump(wsgi_request *r)
{
    bool streamed = !PyList_CheckExact(r->result) && !PyTuple_CheckExact(r->result);
    int64_t turn_end = wsgi_clock_ms() + PUMP_MS;
    size_t bytes = 0;

    for (int pieces = 0;; pieces++) {
        PyObject *item;
        Py_ssize_t len;
        int more;

        if (pieces == PUMP_PIECES || bytes >= PUMP_BYTES || (streamed && wsgi_clock_ms() >= turn_end)) {
            request_yield(r);
            return;
        }
        item = result_next(r);
        if (item == NULL) {
            if (PyErr_Occurred())
                request_fail(r, "raised while iterating its response");
            else
                request_finish(r);
            return;
        }
        if (!PyBytes_Check(item)) {
            PyErr_Format(PyExc_TypeError, "the response iterable yielded %.100s, not bytes", Py_TYPE(item)->tp_name);
            Py_DECREF(item);
            request_fail(r, "failed");
            return;
        }
        len = PyBytes_GET_SIZE(item);
        if (len == 0) {
            Py_DECREF(item);
            continue;
        }
        if (!r->head_sent && request_send_head(r, r->next_index == 1 ? result_length(r->result) : -1) == -1) {
            Py_DECREF(item);
            request_fail(r, "failed");
            return;
        }
        if (!request_has_body(r)) {
            Py_DECREF(item);
            request_finish(r);   /* the rest would be dropped: do not compute it */
            return;
        }
        more = zs_app_body(r->io, PyBytes_AS_STRING(item), (size_t)len);
        Py_DECREF(item);
        bytes += (size_t)len;
        wsgi_timeout_progress();
        if (streamed) {
            more = zs_app_flush(r->io);
            if (more == -1) {
                request_close_result(r);
                zs_app_end(r->io, false);    /* the client is gone */
                request_detach(r);
                return;
            }
        }
        if (!more)
            return;              /* resume() comes when the client has caught up */
    }
}

static void
request_run(wsgi_request *r)
{
    PyObject *args[2] = { r->environ, (PyObject *)r };

    r->result = PyObject_Vectorcall(r->app->callable, args, 2, NULL);
    if (r->result == NULL) {
        request_fail(r, "raised");
        return;
    }
    if (Py_IS_TYPE(r->result, &wsgi_file_wrapper_type) && request_try_sendfile(r))
        return;
    request_pump(r);
}

/* ---- Adapter ---- */

static void *
wsgi_start(struct zs_app_io *io, const struct zs_app_request *req)
{
    const struct wsgi_app *app;
    struct zs_cgi_script script;
    int status = environ_split(req, &script);
    wsgi_request *r;

    if (status != 0) {
        zs_app_fail(io, status);
        return NULL;
    }
    wsgi_gil_take();
    app = wsgi_app_for(req->location);
    if (app == NULL) {
        zs_log_error("client %s: wsgi_app \"%s\" failed to load when the worker started (logged then): 500 until a reload",
                     zs_app_peer(io), req->location->loc_wsgi_app);
        goto fail;
    }
    r = PyObject_New(wsgi_request, &wsgi_request_type);
    if (r == NULL)
        goto fail_python;
    r->io = io;
    r->app = app;
    r->status = r->headers = r->result = r->iter = NULL;
    r->next_index = 0;
    r->content_length = -1;
    r->status_code = 0;
    r->timeout_ms = req->location->loc_wsgi_timeout;
    r->used_ms = 0;
    r->head_request = strcmp(req->method, "HEAD") == 0;
    r->head_sent = r->closed = r->yielded = false;
    r->next_yielded = NULL;
    r->input = wsgi_input_new(req->content_length, zs_app_config()->client_body_temp_path);
    r->environ = r->input != NULL ? environ_build(req, &script) : NULL;
    if (r->environ == NULL || PyDict_SetItem(r->environ, key_input, r->input) == -1) {
        request_log_exception(r, "could not start");
        r->io = NULL;
        Py_CLEAR(r->environ);
        Py_CLEAR(r->input);
        Py_DECREF(r);
        goto fail;
    }
    wsgi_gil_drop();
    return r;

fail_python:
    wsgi_log_exception("wsgi: ");
fail:
    wsgi_gil_drop();
    zs_app_fail(io, 500);
    return NULL;
}

static size_t
wsgi_body(void *state, const char *data, size_t len, bool last)
{
    wsgi_request *r = state;

    if (len > 0 && wsgi_input_append(r->input, data, len) == -1) {
        struct zs_app_io *io = r->io;
        wsgi_gil_take();
        request_detach(r);
        wsgi_gil_drop();
        zs_app_fail(io, 500);
        return len;
    }
    if (last) {
        wsgi_gil_take();
        request_enter(r, request_run);
        wsgi_gil_drop();
    }
    return len;
}

static void
wsgi_resume(void *state)
{
    wsgi_request *r = state;

    wsgi_gil_take();
    request_enter(r, request_pump);
    wsgi_gil_drop();
}

static void
wsgi_abort(void *state)
{
    wsgi_request *r = state;

    wsgi_gil_take();
    request_enter(r, request_close_result);
    request_detach(r);
    wsgi_gil_drop();
}

static void
request_dealloc(wsgi_request *r)
{
    Py_XDECREF(r->status);
    Py_XDECREF(r->headers);
    Py_XDECREF(r->result);
    Py_XDECREF(r->iter);
    Py_XDECREF(r->environ);
    Py_XDECREF(r->input);
    PyObject_Free(r);
}

static PyTypeObject wsgi_request_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zserver.StartResponse",
    .tp_basicsize = sizeof(wsgi_request),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "start_response(status, response_headers, exc_info=None) of one request.",
    .tp_dealloc = (destructor)request_dealloc,
    .tp_call = (ternaryfunc)request_call,
};

/* Set in the loader once the applications are imported, and so in every
 * worker it forks. */
static bool preloaded;

/* Starts Python and imports the pool's applications. */
static int
wsgi_setup(const struct zs_config *conf, const struct zs_pool *pool)
{
    ev_timer_init(&yield_timer, yield_cb, 0., 0.);
    if (wsgi_python_init(conf, pool) == -1)
        return -1;
    wsgi_gil_take();
    if (PyType_Ready(&wsgi_request_type) < 0 || environ_base_init() == -1) {
        wsgi_log_exception("wsgi: ");
        wsgi_gil_drop();
        wsgi_python_exit();
        return -1;
    }
    wsgi_gil_drop();
    return 0;
}

static int
wsgi_init(const struct zs_config *conf, const struct zs_pool *pool)
{
    int r;

    if (preloaded) {
        /* Forked with the GIL held by wsgi_fork_prepare(). */
        PyOS_AfterFork_Child();
    } else {
        if (wsgi_setup(conf, pool) == -1)
            return -1;
        wsgi_gil_take();
    }
    r = wsgi_timeout_start(wsgi_shortest_timeout());
    wsgi_gil_drop();
    return r;
}

/* A failed import fails the loader, and with it the start or the reload:
 * the previous generation goes on serving. */
static int
wsgi_preload(const struct zs_config *conf, const struct zs_pool *pool)
{
    if (wsgi_setup(conf, pool) == -1)
        return -1;
    if (!wsgi_all_loaded())
        return -1;
    preloaded = true;
    return 0;
}

static void
wsgi_fork_prepare(void)
{
    wsgi_gil_take();
    PyOS_BeforeFork();
}

static void
wsgi_fork_parent(void)
{
    PyOS_AfterFork_Parent();
    wsgi_gil_drop();
}

static void
wsgi_exit(void)
{
    wsgi_gil_take();
    for (size_t i = 0; i < KEY_CACHE_SIZE; i++)
        Py_CLEAR(key_cache[i].key);
    Py_CLEAR(environ_base);
    Py_CLEAR(key_input);
    Py_CLEAR(key_scheme);
    Py_CLEAR(scheme_http);
    Py_CLEAR(scheme_https);
    wsgi_gil_drop();
    wsgi_python_exit();
}

static const struct zs_adapter wsgi_adapter = {
    .name = "wsgi",
    .start = wsgi_start,
    .body = wsgi_body,
    .resume = wsgi_resume,
    .abort = wsgi_abort,
};

__attribute__((visibility("default"))) const struct zs_adapter_module zs_module = {
    .adapter = &wsgi_adapter,
    .init = wsgi_init,
    .exit = wsgi_exit,
    .preload = wsgi_preload,
    .fork_prepare = wsgi_fork_prepare,
    .fork_parent = wsgi_fork_parent,
};
