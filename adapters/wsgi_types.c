/* The Python types of PEP 3333 that the server provides: wsgi.input,
 * wsgi.errors (and sys.stdout, sys.stderr) and wsgi.file_wrapper. */
#include "config.h"

#include "adapters/wsgi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/defaults.h"
#include "lib/log.h"

/* Bytes of a spooled body read ahead for readline(). */
#define INPUT_READ_AHEAD (64 * 1024)
/* A line longer than this goes to the error log in pieces. */
#define LOG_LINE_MAX 4096
/* Bytes of output per log line. */
#define LOG_PIECE 960

/* ---- wsgi.input ---- */

struct wsgi_input {
    PyObject_HEAD
    int64_t length;              /* CONTENT_LENGTH */
    int64_t filled;              /* bytes appended by the adapter */
    int64_t pos;                 /* bytes the application has read */
    char *mem;                   /* the whole body, when it is small */
    int fd;                      /* else its temporary file */
    char *ahead;                 /* bytes [ahead_off, ahead_off + ahead_len) of the file */
    int64_t ahead_off;
    size_t ahead_len;
};

PyObject *
wsgi_input_new(int64_t length, const char *temp_dir)
{
    wsgi_input *in = PyObject_New(wsgi_input, &wsgi_input_type);

    if (in == NULL)
        return NULL;
    in->length = length;
    in->filled = in->pos = 0;
    in->mem = NULL;
    in->fd = -1;
    in->ahead = NULL;
    in->ahead_off = 0;
    in->ahead_len = 0;
    if (length > 0 && length <= ZS_WSGI_BODY_IN_MEMORY) {
        in->mem = malloc((size_t)length);
        if (in->mem == NULL) {
            Py_DECREF(in);
            return PyErr_NoMemory();
        }
    } else if (length > 0) {
        in->fd = open(temp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (in->fd == -1) {
            zs_log_syserr("creating a temporary file in %s for a request body failed (check client_body_temp_path)",
                          temp_dir);
            Py_DECREF(in);
            return PyErr_SetFromErrno(PyExc_OSError);
        }
    }
    return (PyObject *)in;
}

int
wsgi_input_append(PyObject *obj, const char *data, size_t len)
{
    wsgi_input *in = (wsgi_input *)obj;

    if ((int64_t)len > in->length - in->filled)
        len = (size_t)(in->length - in->filled);
    if (in->mem != NULL) {
        memcpy(in->mem + in->filled, data, len);
        in->filled += (int64_t)len;
        return 0;
    }
    while (len > 0) {
        ssize_t n = pwrite(in->fd, data, len, in->filled);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            zs_log_syserr("writing a request body to its temporary file failed");
            return -1;
        }
        data += n;
        len -= (size_t)n;
        in->filled += n;
    }
    return 0;
}

static void
input_dealloc(wsgi_input *in)
{
    free(in->mem);
    free(in->ahead);
    if (in->fd != -1)
        close(in->fd);
    PyObject_Free(in);
}

static int64_t
input_left(const wsgi_input *in)
{
    return in->filled - in->pos;
}

/* Points *p at the next bytes of the body, at least one when any is left,
 * and returns how many are there. Returns -1 with an exception set. */
static Py_ssize_t
input_peek(wsgi_input *in, const char **p)
{
    int64_t left = input_left(in);

    if (left == 0)
        return 0;
    if (in->mem != NULL) {
        *p = in->mem + in->pos;
        return (Py_ssize_t)left;
    }
    if (in->pos < in->ahead_off || in->pos >= in->ahead_off + (int64_t)in->ahead_len) {
        size_t want = left < INPUT_READ_AHEAD ? (size_t)left : INPUT_READ_AHEAD;
        ssize_t n;
        if (in->ahead == NULL && (in->ahead = malloc(INPUT_READ_AHEAD)) == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        do {
            n = pread(in->fd, in->ahead, want, in->pos);
        } while (n == -1 && errno == EINTR);
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        in->ahead_off = in->pos;
        in->ahead_len = (size_t)n;
    }
    *p = in->ahead + (in->pos - in->ahead_off);
    return (Py_ssize_t)(in->ahead_off + (int64_t)in->ahead_len - in->pos);
}

/* Copies the next n bytes of the body into out. Returns 0, or -1 with an exception set. */
static int
input_copy(wsgi_input *in, char *out, Py_ssize_t n)
{
    while (n > 0) {
        const char *p;
        Py_ssize_t avail = input_peek(in, &p);
        if (avail <= 0)
            return avail == 0 ? 0 : -1;
        /* A large read from the file skips the read-ahead buffer. */
        if (in->mem == NULL && n > INPUT_READ_AHEAD && avail == (Py_ssize_t)in->ahead_len) {
            ssize_t got = pread(in->fd, out, (size_t)n, in->pos);
            if (got == -1 && errno == EINTR)
                continue;
            if (got <= 0) {
                if (got == 0)
                    errno = EIO;
                PyErr_SetFromErrno(PyExc_OSError);
                return -1;
            }
            in->pos += got;
            out += got;
            n -= got;
            continue;
        }
        if (avail > n)
            avail = n;
        memcpy(out, p, (size_t)avail);
        in->pos += avail;
        out += avail;
        n -= avail;
    }
    return 0;
}

/* A size argument: None or a negative number means "all". */
static int
size_arg(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t *size)
{
    *size = -1;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "expected at most one argument");
        return -1;
    }
    if (nargs == 0 || args[0] == Py_None)
        return 0;
    *size = PyLong_AsSsize_t(args[0]);
    return *size == -1 && PyErr_Occurred() ? -1 : 0;
}

static PyObject *
input_read(wsgi_input *in, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t size;
    int64_t left = input_left(in);
    PyObject *bytes;

    if (size_arg(args, nargs, &size) == -1)
        return NULL;
    if (size < 0 || size > left)
        size = (Py_ssize_t)left;
    bytes = PyBytes_FromStringAndSize(NULL, size);
    if (bytes == NULL)
        return NULL;
    if (input_copy(in, PyBytes_AS_STRING(bytes), size) == -1) {
        Py_DECREF(bytes);
        return NULL;
    }
    return bytes;
}

static PyObject *
input_readline_limit(wsgi_input *in, Py_ssize_t limit)
{
    const char *p;
    Py_ssize_t avail = input_peek(in, &p);
    PyObject *line = NULL;

    if (avail <= 0)
        return avail == 0 ? PyBytes_FromStringAndSize(NULL, 0) : NULL;
    for (;;) {
        Py_ssize_t want = limit >= 0 && limit < avail ? limit : avail;
        const char *nl = memchr(p, '\n', (size_t)want);
        Py_ssize_t take = nl != NULL ? nl - p + 1 : want;
        PyObject *piece = PyBytes_FromStringAndSize(p, take);

        in->pos += take;
        if (piece == NULL) {
            Py_XDECREF(line);
            return NULL;
        }
        if (line == NULL)
            line = piece;
        else {
            PyBytes_ConcatAndDel(&line, piece);
            if (line == NULL)
                return NULL;
        }
        if (limit >= 0)
            limit -= take;
        if (nl != NULL || limit == 0)
            return line;
        avail = input_peek(in, &p);
        if (avail <= 0) {
            if (avail == 0)
                return line;
            Py_DECREF(line);
            return NULL;
        }
    }
}

static PyObject *
input_readline(wsgi_input *in, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t size;

    if (size_arg(args, nargs, &size) == -1)
        return NULL;
    return input_readline_limit(in, size);
}

static PyObject *
input_readlines(wsgi_input *in, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t hint;
    Py_ssize_t total = 0;
    PyObject *lines;

    if (size_arg(args, nargs, &hint) == -1)
        return NULL;
    lines = PyList_New(0);
    if (lines == NULL)
        return NULL;
    for (;;) {
        PyObject *line = input_readline_limit(in, -1);
        if (line == NULL) {
            Py_DECREF(lines);
            return NULL;
        }
        Py_ssize_t len = PyBytes_GET_SIZE(line);
        if (len == 0 || PyList_Append(lines, line) == -1) {
            Py_DECREF(line);
            if (len == 0)
                return lines;
            Py_DECREF(lines);
            return NULL;
        }
        Py_DECREF(line);
        total += len;
        if (hint > 0 && total >= hint)
            return lines;
    }
}

static PyObject *
input_next(wsgi_input *in)
{
    PyObject *line = input_readline_limit(in, -1);

    if (line != NULL && PyBytes_GET_SIZE(line) == 0) {
        Py_DECREF(line);
        return NULL;             /* StopIteration */
    }
    return line;
}

static PyMethodDef input_methods[] = {
    { "read", (PyCFunction)(void (*)(void))input_read, METH_FASTCALL, "Read at most size bytes of the body." },
    { "readline", (PyCFunction)(void (*)(void))input_readline, METH_FASTCALL, "Read one line of the body." },
    { "readlines", (PyCFunction)(void (*)(void))input_readlines, METH_FASTCALL, "Read the lines of the body." },
    { NULL, NULL, 0, NULL }
};

PyTypeObject wsgi_input_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zserver.Input",
    .tp_basicsize = sizeof(wsgi_input),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "wsgi.input: the request body.",
    .tp_dealloc = (destructor)input_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)input_next,
    .tp_methods = input_methods,
};

/* ---- wsgi.errors, sys.stdout, sys.stderr ---- */

typedef struct {
    PyObject_HEAD
    int level;
    char prefix[32];
    char *line;                  /* a line not ended yet */
    size_t len, cap;
} wsgi_log;

PyObject *
wsgi_log_new(int level, const char *prefix)
{
    wsgi_log *log = PyObject_New(wsgi_log, &wsgi_log_type);

    if (log == NULL)
        return NULL;
    log->level = level;
    snprintf(log->prefix, sizeof(log->prefix), "%s", prefix);
    log->line = NULL;
    log->len = log->cap = 0;
    return (PyObject *)log;
}

/* Logs text as one log line per LOG_PIECE bytes, so that nothing of a long
 * line is lost: escaping makes a byte at most 4 bytes long, and a log line
 * has room for 4 KiB with its time and prefix. */
static void
log_emit(wsgi_log *log, const char *text, size_t len)
{
    char escaped[4 * LOG_PIECE + 1];

    do {
        size_t piece = len < LOG_PIECE ? len : LOG_PIECE;
        zs_log_escape_text(escaped, sizeof(escaped), text, piece);
        zs_log(log->level, "%s%s", log->prefix, escaped);
        text += piece;
        len -= piece;
    } while (len > 0);
}

static void
log_flush_line(wsgi_log *log)
{
    if (log->len > 0)
        log_emit(log, log->line, log->len);
    log->len = 0;
}

static void
log_dealloc(wsgi_log *log)
{
    log_flush_line(log);
    free(log->line);
    PyObject_Free(log);
}

/* Appends text; each complete line goes to the log. Returns 0, or -1 with an exception set. */
static int
log_add(wsgi_log *log, const char *text, size_t len)
{
    while (len > 0) {
        const char *nl = memchr(text, '\n', len);
        size_t take = nl != NULL ? (size_t)(nl - text) : len;

        if (log->len == 0 && nl != NULL) {
            log_emit(log, text, take);       /* a whole line: no copy */
        } else {
            if (log->len + take > log->cap) {
                size_t cap = log->len + take < 256 ? 256 : 2 * (log->len + take);
                char *line = realloc(log->line, cap);
                if (line == NULL) {
                    PyErr_NoMemory();
                    return -1;
                }
                log->line = line;
                log->cap = cap;
            }
            memcpy(log->line + log->len, text, take);
            log->len += take;
            if (nl != NULL || log->len >= LOG_LINE_MAX)
                log_flush_line(log);
        }
        text += take + (nl != NULL);
        len -= take + (nl != NULL);
    }
    return 0;
}

static PyObject *
log_write(wsgi_log *log, PyObject *arg)
{
    Py_ssize_t len;
    const char *text;

    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "write() argument must be str, not %.100s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    text = PyUnicode_AsUTF8AndSize(arg, &len);
    if (text == NULL || log_add(log, text, (size_t)len) == -1)
        return NULL;
    return PyLong_FromSsize_t(PyUnicode_GET_LENGTH(arg));
}

static PyObject *
log_writelines(wsgi_log *log, PyObject *lines)
{
    PyObject *iter = PyObject_GetIter(lines);
    PyObject *item;

    if (iter == NULL)
        return NULL;
    while ((item = PyIter_Next(iter)) != NULL) {
        PyObject *r = log_write(log, item);
        Py_DECREF(item);
        if (r == NULL) {
            Py_DECREF(iter);
            return NULL;
        }
        Py_DECREF(r);
    }
    Py_DECREF(iter);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
log_flush(wsgi_log *log, PyObject *unused)
{
    log_flush_line(log);
    Py_RETURN_NONE;
}

static PyObject *
log_false(PyObject *self, PyObject *unused)
{
    Py_RETURN_FALSE;
}

static PyObject *
log_true(PyObject *self, PyObject *unused)
{
    Py_RETURN_TRUE;
}

static PyObject *
log_encoding(PyObject *self, void *closure)
{
    return PyUnicode_FromString("utf-8");
}

static PyObject *
log_closed(PyObject *self, void *closure)
{
    Py_RETURN_FALSE;
}

static PyMethodDef log_methods[] = {
    { "write", (PyCFunction)log_write, METH_O, "Write text to the error log." },
    { "writelines", (PyCFunction)log_writelines, METH_O, "Write each string of an iterable." },
    { "flush", (PyCFunction)log_flush, METH_NOARGS, "Log a line not yet ended." },
    { "isatty", log_false, METH_NOARGS, NULL },
    { "readable", log_false, METH_NOARGS, NULL },
    { "seekable", log_false, METH_NOARGS, NULL },
    { "writable", log_true, METH_NOARGS, NULL },
    { NULL, NULL, 0, NULL }
};

static PyGetSetDef log_getset[] = {
    { "encoding", log_encoding, NULL, NULL, NULL },
    { "closed", log_closed, NULL, NULL, NULL },
    { NULL, NULL, NULL, NULL, NULL }
};

PyTypeObject wsgi_log_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zserver.ErrorLog",
    .tp_basicsize = sizeof(wsgi_log),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A text stream whose lines go to the server's error log.",
    .tp_dealloc = (destructor)log_dealloc,
    .tp_methods = log_methods,
    .tp_getset = log_getset,
};

/* ---- wsgi.file_wrapper ---- */

static PyObject *
file_wrapper_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = { "filelike", "blksize", NULL };
    PyObject *filelike;
    Py_ssize_t blksize = 8192;
    wsgi_file_wrapper *w;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|n:file_wrapper", names, &filelike, &blksize))
        return NULL;
    if (blksize <= 0) {
        PyErr_SetString(PyExc_ValueError, "blksize must be positive");
        return NULL;
    }
    w = (wsgi_file_wrapper *)type->tp_alloc(type, 0);
    if (w == NULL)
        return NULL;
    Py_INCREF(filelike);
    w->filelike = filelike;
    w->blksize = blksize;
    return (PyObject *)w;
}

static void
file_wrapper_dealloc(wsgi_file_wrapper *w)
{
    Py_XDECREF(w->filelike);
    Py_TYPE(w)->tp_free((PyObject *)w);
}

/* Iteration is the fallback when the file cannot be sent with sendfile. */
static PyObject *
file_wrapper_next(wsgi_file_wrapper *w)
{
    PyObject *data = PyObject_CallMethod(w->filelike, "read", "n", w->blksize);

    if (data == NULL)
        return NULL;
    if (!PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError, "file_wrapper: read() returned %.100s, not bytes", Py_TYPE(data)->tp_name);
        Py_DECREF(data);
        return NULL;
    }
    if (PyBytes_GET_SIZE(data) == 0) {
        Py_DECREF(data);
        return NULL;
    }
    return data;
}

static PyObject *
file_wrapper_close(wsgi_file_wrapper *w, PyObject *unused)
{
    if (!PyObject_HasAttrString(w->filelike, "close"))
        Py_RETURN_NONE;
    return PyObject_CallMethod(w->filelike, "close", NULL);
}

static PyMethodDef file_wrapper_methods[] = {
    { "close", (PyCFunction)file_wrapper_close, METH_NOARGS, "Close the wrapped file." },
    { NULL, NULL, 0, NULL }
};

PyTypeObject wsgi_file_wrapper_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zserver.FileWrapper",
    .tp_basicsize = sizeof(wsgi_file_wrapper),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "wsgi.file_wrapper: a file sent with sendfile() when it is a regular file.",
    .tp_new = file_wrapper_new,
    .tp_dealloc = (destructor)file_wrapper_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)file_wrapper_next,
    .tp_methods = file_wrapper_methods,
};

int
wsgi_types_init(void)
{
    if (PyType_Ready(&wsgi_input_type) < 0 || PyType_Ready(&wsgi_log_type) < 0
        || PyType_Ready(&wsgi_file_wrapper_type) < 0)
        return -1;
    return 0;
}
