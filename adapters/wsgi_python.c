/* The embedded interpreter of a worker: start-up with python_home and
 * python_path, output to the error log, the import of each wsgi_app, and
 * tracebacks in the error log. */
#include "config.h"

#include "adapters/wsgi.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"

/* The location of each WSGI location and the application it runs. */
struct loc_app {
    const struct zs_location *loc;
    struct wsgi_app *app;
};

static struct wsgi_app *apps;
static size_t app_count;
static struct loc_app *loc_apps;
static size_t loc_app_count;
static PyObject *format_exception;   /* traceback.format_exception */
static PyThreadState *main_thread;   /* saved while the worker's loop runs */

/* The worker's loop runs without the GIL, so that threads an application
 * starts (a log shipper, a scheduler) run while the worker waits. */
void
wsgi_gil_take(void)
{
    PyEval_RestoreThread(main_thread);
}

void
wsgi_gil_drop(void)
{
    main_thread = PyEval_SaveThread();
}

static bool
in_pool(const struct zs_server *srv, const struct zs_location *loc, const struct zs_pool *pool)
{
    return srv->srv_pool == pool && loc->loc_handler == ZS_HANDLER_WSGI && loc->loc_return_status == 0;
}

/* Collects the pool's WSGI locations, with one application per distinct wsgi_app. */
static int
collect_locations(const struct zs_config *conf, const struct zs_pool *pool)
{
    size_t n = 0;

    for (size_t i = 0; i < conf->server_count; i++)
        for (size_t j = 0; j < conf->servers[i].srv_location_count; j++)
            n += in_pool(&conf->servers[i], &conf->servers[i].srv_locations[j], pool);
    apps = calloc(n, sizeof(*apps));
    loc_apps = calloc(n, sizeof(*loc_apps));
    if (apps == NULL || loc_apps == NULL)
        return -1;
    for (size_t i = 0; i < conf->server_count; i++) {
        for (size_t j = 0; j < conf->servers[i].srv_location_count; j++) {
            const struct zs_location *loc = &conf->servers[i].srv_locations[j];
            struct wsgi_app *app = NULL;
            if (!in_pool(&conf->servers[i], loc, pool))
                continue;
            for (size_t k = 0; k < app_count && app == NULL; k++)
                if (strcmp(apps[k].spec, loc->loc_wsgi_app) == 0)
                    app = &apps[k];
            if (app == NULL) {
                app = &apps[app_count++];
                app->loc = loc;
                app->spec = loc->loc_wsgi_app;
            }
            loc_apps[loc_app_count].loc = loc;
            loc_apps[loc_app_count++].app = app;
        }
    }
    return 0;
}

/* The interpreter finds its prefix from the program name: the Python that
 * libpython belongs to, or the virtualenv's, whose pyvenv.cfg then makes
 * sys.prefix the virtualenv and its site-packages importable. */
static int
start_interpreter(const char *home)
{
    PyConfig config;
    PyStatus status;
    char program[PATH_MAX];

    /* The master checked python_home as root; the workers read it as the
     * pool's user, and Python would go on without it, silently. */
    if (home != NULL) {
        snprintf(program, sizeof(program), "%s/pyvenv.cfg", home);
        if (access(program, R_OK) != 0) {
            zs_log_error("python_home '%s': %s cannot be read by the pool's user: %s", home, program,
                         strerror(errno));
            return -1;
        }
    }
    snprintf(program, sizeof(program), "%s/bin/python3", home != NULL ? home : ZS_PYTHON_PREFIX);
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;     /* signals belong to the worker's loop */
    config.parse_argv = 0;
    config.user_site_directory = 0;         /* nothing from the pool user's ~/.local */
    status = PyConfig_SetBytesString(&config, &config.program_name, program);
    if (!PyStatus_Exception(status))
        status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        zs_log_error("starting Python failed (python_home %s): %s%s%s", home != NULL ? home : "not set",
                     status.func != NULL ? status.func : "", status.func != NULL ? ": " : "",
                     status.err_msg != NULL ? status.err_msg : "unknown error");
        return -1;
    }
    return 0;
}

/* Puts every python_path entry of the pool's locations in front of sys.path, in
 * configuration order. */
static int
extend_sys_path(void)
{
    PyObject *sys_path = PySys_GetObject("path");   /* borrowed */
    Py_ssize_t at = 0;

    if (sys_path == NULL || !PyList_Check(sys_path))
        return -1;
    for (size_t i = 0; i < loc_app_count; i++) {
        const struct zs_location *loc = loc_apps[i].loc;
        for (size_t j = 0; j < loc->loc_python_path_count; j++) {
            PyObject *entry = PyUnicode_DecodeFSDefault(loc->loc_python_path[j]);
            int present;
            if (entry == NULL)
                return -1;
            present = PySequence_Contains(sys_path, entry);
            if (present == 0 && PyList_Insert(sys_path, at++, entry) == -1)
                present = -1;
            Py_DECREF(entry);
            if (present == -1)
                return -1;
        }
    }
    return 0;
}

/* A crash in an extension module (or Python itself) dumps the Python
 * stacks into the error log, which is where the worker's death is logged. */
static void
enable_faulthandler(void)
{
    PyObject *module = PyImport_ImportModule("faulthandler");
    PyObject *r = NULL;

    if (module != NULL && zs_log_fd() >= 0)
        r = PyObject_CallMethod(module, "enable", "(ii)", zs_log_fd(), 1);
    Py_XDECREF(r);
    Py_XDECREF(module);
    PyErr_Clear();
}

static int
redirect_output(void)
{
    PyObject *out = wsgi_log_new(ZS_LOG_NOTICE, "python stdout: ");
    PyObject *err = wsgi_log_new(ZS_LOG_ERROR, "python stderr: ");
    int r = -1;

    if (out != NULL && err != NULL && PySys_SetObject("stdout", out) == 0 && PySys_SetObject("stderr", err) == 0)
        r = 0;
    Py_XDECREF(out);
    Py_XDECREF(err);
    return r;
}

/* "a.b:c.d" imports module a.b and returns its attribute c.d; the callable
 * is "application" when the spec names none. */
static PyObject *
import_callable(const char *spec)
{
    const char *colon = strchr(spec, ':');
    char *module_name = strndup(spec, colon != NULL ? (size_t)(colon - spec) : strlen(spec));
    const char *rest = colon != NULL ? colon + 1 : "application";
    PyObject *obj;

    if (module_name == NULL)
        return PyErr_NoMemory();
    obj = PyImport_ImportModule(module_name);
    free(module_name);
    while (obj != NULL && *rest != '\0') {
        const char *dot = strchr(rest, '.');
        size_t len = dot != NULL ? (size_t)(dot - rest) : strlen(rest);
        PyObject *name = PyUnicode_FromStringAndSize(rest, (Py_ssize_t)len);
        PyObject *attr = name != NULL ? PyObject_GetAttr(obj, name) : NULL;
        Py_XDECREF(name);
        Py_DECREF(obj);
        obj = attr;
        rest += len + (dot != NULL);
    }
    if (obj != NULL && !PyCallable_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s is a %.100s, not a callable", spec, Py_TYPE(obj)->tp_name);
        Py_CLEAR(obj);
    }
    return obj;
}

static void
python_path_text(const struct zs_location *loc, char *out, size_t size)
{
    size_t len = 0;

    out[0] = '\0';
    for (size_t i = 0; i < loc->loc_python_path_count && len < size; i++)
        len += (size_t)snprintf(out + len, size - len, "%s%s", i > 0 ? ", " : "", loc->loc_python_path[i]);
    if (loc->loc_python_path_count == 0)
        snprintf(out, size, "not set");
}

static void
load_app(struct wsgi_app *app)
{
    char path[1024];
    char prefix[256];

    app->callable = import_callable(app->spec);
    if (app->callable != NULL)
        return;
    python_path_text(app->loc, path, sizeof(path));
    zs_log_error("%s:%d: wsgi_app \"%s\" of location '%s' failed to load (python_path: %s)",
                 app->loc->loc_file, app->loc->loc_line, app->spec, app->loc->loc_title, path);
    snprintf(prefix, sizeof(prefix), "wsgi_app \"%s\": ", app->spec);
    wsgi_log_exception(prefix);
}

int
wsgi_python_init(const struct zs_config *conf, const struct zs_pool *pool)
{
    PyObject *traceback;

    if (collect_locations(conf, pool) == -1) {
        zs_log_error("pool %s: out of memory while starting Python", pool->pool_name);
        return -1;
    }
    if (loc_app_count == 0)
        return -1;
    /* check_python_home() let only one python_home through per pool. */
    if (start_interpreter(loc_apps[0].loc->loc_python_home) == -1)
        return -1;
    if (wsgi_types_init() == -1 || extend_sys_path() == -1 || redirect_output() == -1) {
        wsgi_log_exception("starting Python: ");
        Py_FinalizeEx();
        return -1;
    }
    enable_faulthandler();
    traceback = PyImport_ImportModule("traceback");
    if (traceback != NULL) {
        format_exception = PyObject_GetAttrString(traceback, "format_exception");
        Py_DECREF(traceback);
    }
    PyErr_Clear();
    for (size_t i = 0; i < app_count; i++)
        load_app(&apps[i]);
    wsgi_gil_drop();
    return 0;
}

/* Runs the interpreter's exit: atexit functions, then waits for the
 * application's non-daemon threads; shutdown_timeout bounds it from the master. */
void
wsgi_python_exit(void)
{
    wsgi_gil_take();
    for (size_t i = 0; i < app_count; i++)
        Py_CLEAR(apps[i].callable);
    Py_CLEAR(format_exception);
    Py_FinalizeEx();
    free(apps);
    free(loc_apps);
    apps = NULL;
    loc_apps = NULL;
    app_count = loc_app_count = 0;
}

int
wsgi_shortest_timeout(void)
{
    int shortest = 0;

    for (size_t i = 0; i < loc_app_count; i++)
        if (shortest == 0 || loc_apps[i].loc->loc_wsgi_timeout < shortest)
            shortest = loc_apps[i].loc->loc_wsgi_timeout;
    return shortest;
}

bool
wsgi_all_loaded(void)
{
    for (size_t i = 0; i < app_count; i++)
        if (apps[i].callable == NULL)
            return false;
    return true;
}

const struct wsgi_app *
wsgi_app_for(const struct zs_location *loc)
{
    for (size_t i = 0; i < loc_app_count; i++)
        if (loc_apps[i].loc == loc)
            return loc_apps[i].app->callable != NULL ? loc_apps[i].app : NULL;
    return NULL;
}

static void
log_text_lines(const char *prefix, const char *text)
{
    char line[1024];

    while (*text != '\0') {
        size_t len = strcspn(text, "\n");
        if (len > 0) {
            zs_log_escape_text(line, sizeof(line), text, len);
            zs_log_error("%s%s", prefix, line);
        }
        text += len + (text[len] == '\n');
    }
}

void
wsgi_log_exception(const char *prefix)
{
    PyObject *type, *value, *tb, *lines = NULL;

    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL)
        return;
    PyErr_NormalizeException(&type, &value, &tb);
    if (format_exception != NULL)
        lines = PyObject_CallFunctionObjArgs(format_exception, type, value != NULL ? value : Py_None,
                                             tb != NULL ? tb : Py_None, NULL);
    if (lines != NULL && PyList_Check(lines)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lines); i++) {
            const char *text = PyUnicode_AsUTF8(PyList_GET_ITEM(lines, i));
            if (text != NULL)
                log_text_lines(prefix, text);
        }
    } else {
        /* No traceback module (python_home broken): the type name at least. */
        zs_log_error("%s%s", prefix, ((PyTypeObject *)type)->tp_name);
    }
    PyErr_Clear();
    Py_XDECREF(lines);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}
