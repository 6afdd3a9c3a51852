/* Adapter modules: a worker loads the WSGI module only when a location of
 * its pool uses it, so that every other process stays free of libpython. */
#include "config.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>

#include "adapters/adapter.h"
#include "lib/log.h"
#include "worker/worker.h"

static const struct zs_adapter_module *wsgi_module;

static bool
pool_uses(const struct zs_config *conf, const struct zs_pool *pool, enum zs_handler handler)
{
    for (size_t i = 0; i < conf->server_count; i++) {
        const struct zs_server *srv = &conf->servers[i];
        if (srv->srv_pool != pool)
            continue;
        for (size_t j = 0; j < srv->srv_location_count; j++)
            if (srv->srv_locations[j].loc_handler == handler && srv->srv_locations[j].loc_return_status == 0)
                return true;
    }
    return false;
}

/* RTLD_GLOBAL: Python's extension modules (lib-dynload) take libpython's
 * symbols from the global scope, as they would from the python3 binary. */
static const struct zs_adapter_module *
module_load(const char *path)
{
    void *handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    const struct zs_adapter_module *module;

    if (handle == NULL) {
        zs_log_error("loading the module %s failed: %s", path, dlerror());
        return NULL;
    }
    module = dlsym(handle, "zs_module");
    if (module == NULL) {
        zs_log_error("module %s has no zs_module: %s", path, dlerror());
        dlclose(handle);
        return NULL;
    }
    return module;
}

/* A worker whose module fails to load still serves its pool's other
 * locations: the WSGI ones respond 500. */
void
zs_modules_init(const struct zs_config *conf, const struct zs_pool *pool)
{
    if (conf->wsgi_module == NULL || !pool_uses(conf, pool, ZS_HANDLER_WSGI))
        return;
    /* A worker forked by a loader has the module loaded already. */
    if (wsgi_module == NULL)
        wsgi_module = module_load(conf->wsgi_module);
    if (wsgi_module != NULL && wsgi_module->init(conf, pool) == -1)
        wsgi_module = NULL;
}

int
zs_modules_preload(const struct zs_config *conf, const struct zs_pool *pool)
{
    if (conf->wsgi_module == NULL || !pool_uses(conf, pool, ZS_HANDLER_WSGI))
        return 0;
    wsgi_module = module_load(conf->wsgi_module);
    if (wsgi_module == NULL)
        return -1;
    return wsgi_module->preload(conf, pool);
}

void
zs_modules_fork_prepare(void)
{
    if (wsgi_module != NULL)
        wsgi_module->fork_prepare();
}

void
zs_modules_fork_parent(void)
{
    if (wsgi_module != NULL)
        wsgi_module->fork_parent();
}

bool
zs_modules_preload_wanted(const struct zs_config *conf, const struct zs_pool *pool)
{
    return pool->pool_wsgi_preload && conf->wsgi_module != NULL && pool_uses(conf, pool, ZS_HANDLER_WSGI);
}

void
zs_modules_exit(void)
{
    if (wsgi_module != NULL)
        wsgi_module->exit();
    wsgi_module = NULL;
}

const struct zs_adapter *
zs_modules_wsgi(void)
{
    return wsgi_module != NULL ? wsgi_module->adapter : NULL;
}
