/* Configuration types: the master fills them, workers and adapters only read them. */
#ifndef ZS_CONF_H
#define ZS_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

struct zs_mime_table;
struct zs_server;
struct zs_pool;

enum zs_loc_match {
    ZS_LOC_PREFIX,
    ZS_LOC_PREFIX_NOREGEX,       /* "^~ /path": a longest-prefix match skips the regular expressions */
    ZS_LOC_EXACT,
    ZS_LOC_REGEX,
    ZS_LOC_REGEX_NOCASE
};

/* The handler of a location's requests when it has no `return`. */
enum zs_handler {
    ZS_HANDLER_STATIC,
    ZS_HANDLER_FASTCGI,
    ZS_HANDLER_SCGI,
    ZS_HANDLER_CGI,
    ZS_HANDLER_WSGI
};

/* An extra CGI variable of a location (fastcgi_param, scgi_param, cgi_param). */
struct zs_param {
    char *name;
    char *value;
};

struct zs_app;

/* One backend address of fastcgi_pass or scgi_pass. */
struct zs_backend {
    char *be_addr;               /* normalised like listen addresses, or "app:NAME" */
    struct sockaddr_storage be_sa;   /* for "app:NAME", the app's unix socket */
    socklen_t be_salen;
    const struct zs_app *be_app; /* the managed application behind it, or NULL */
};

/* A managed FastCGI application: the master starts app_processes copies of
 * a FastCGI program on a unix socket and restarts them when they exit. */
struct zs_app {
    char *app_name;
    char **app_command;          /* argv, NULL-terminated; [0] is an absolute path */
    size_t app_command_count;
    char **app_env;              /* "NAME=value", NULL-terminated: the programs' whole environment */
    size_t app_env_count;
    int app_processes;
    char *app_user;
    char *app_group;
    uid_t app_uid;
    gid_t app_gid;
    gid_t *app_groups;
    int app_group_count;
    bool app_allow_root;         /* allow_root = on: the programs may run as uid 0 */
    char *app_socket;            /* absolute path of the unix socket the master binds */
    char *app_dir;               /* working directory, or NULL for / */
    int app_fd;                  /* listening socket bound by the master, or -1 */
    gid_t app_socket_gid;        /* group that may connect: the workers' */

    const char *app_file;
    int app_line;
};

enum zs_access_log_format {
    ZS_ACCESS_LOG_COMBINED,
    ZS_ACCESS_LOG_JSON
};

/* A location has its effective settings: values not set in the location are
 * copied from its server when the configuration is loaded. */
struct zs_location {
    char *loc_title;             /* as written, for messages and -T */
    enum zs_loc_match loc_match;
    char *loc_path;              /* prefix, exact path, or regular expression source */
    size_t loc_path_len;
    pcre2_code *loc_regex;       /* compiled for ZS_LOC_REGEX and ZS_LOC_REGEX_NOCASE */

    int loc_return_status;       /* 0 when the location has no `return` */
    char *loc_return_text;       /* URL for 301/302/303/307/308, body text otherwise */

    char *loc_root;              /* absolute path of the document root */
    int loc_root_fd;             /* O_PATH directory opened by the master, or -1 */
    char **loc_index;
    size_t loc_index_count;
    bool loc_autoindex;
    bool loc_gzip_static;
    bool loc_follow_symlinks;    /* symlinks are followed only while they stay below root */
    bool loc_allow_dotfiles;
    int64_t loc_client_max_body_size;

    enum zs_handler loc_handler;
    struct zs_backend *loc_backends;     /* fastcgi_pass or scgi_pass, tried round-robin */
    size_t loc_backend_count;
    pcre2_code *loc_split_path_info;     /* fastcgi_split_path_info: two captures, or NULL */
    char *loc_split_path_info_source;    /* its regular expression as written, for -T */
    struct zs_param *loc_params;
    size_t loc_param_count;
    int loc_backend_max_requests;        /* concurrent requests per backend and worker, 0: no limit */
    int loc_backend_queue;               /* requests that may wait for a slot before 503 */
    bool loc_fastcgi_keep_conn;          /* keep FastCGI connections open for reuse */
    char *loc_wsgi_app;                  /* "module:callable" of ZS_HANDLER_WSGI */
    char **loc_python_path;              /* prepended to sys.path, in order */
    size_t loc_python_path_count;
    char *loc_python_home;               /* a virtualenv or Python prefix, or NULL */
    int loc_wsgi_timeout;                /* milliseconds of application code per request */

    const char *loc_file;        /* where the location section starts, for messages */
    int loc_line;
};

struct zs_access_log {
    char *al_path;               /* "off" is stored as NULL */
    enum zs_access_log_format al_format;
    int al_fd;                   /* opened by the master */
};

struct zs_server {
    char *srv_title;
    char **srv_names;            /* exact names, "*.example.org" or "example.*" */
    size_t srv_name_count;
    bool srv_default;            /* default_server = on */
    char **srv_listen;           /* listen addresses as written */
    size_t srv_listen_count;
    struct zs_pool *srv_pool;

    struct zs_location *srv_locations;  /* in configuration order */
    size_t srv_location_count;

    struct zs_access_log srv_access_log;

    const char *srv_file;
    int srv_line;
};

struct zs_listener {
    char *lis_addr;              /* normalised: "127.0.0.1:8080", "[::1]:8080", "unix:/path" */
    struct sockaddr_storage lis_sa;
    socklen_t lis_salen;
    int lis_fd;                  /* bound and listening, or -1 before zs_listeners_open() */
    struct zs_pool *lis_pool;
    struct zs_server **lis_servers;   /* lis_servers[0] is the default server */
    size_t lis_server_count;
};

struct zs_pool {
    char *pool_name;
    char *pool_user;
    char *pool_group;
    uid_t pool_uid;              /* resolved when the master runs as root, else the master's */
    gid_t pool_gid;
    gid_t *pool_groups;          /* supplementary groups of pool_user, or NULL */
    int pool_group_count;
    bool pool_allow_root;
    int pool_workers;            /* "auto" resolved to the number of online CPUs */
    long pool_max_requests;      /* 0: unlimited */
    int pool_worker_connections;
    bool pool_wsgi_preload;      /* import WSGI applications once, before the workers fork */

    struct zs_listener **pool_listeners;
    size_t pool_listener_count;

    const char *pool_file;
    int pool_line;
};

struct zs_config {
    char *conf_file;             /* absolute path of the main file */
    char *conf_dir;              /* relative paths in the file resolve against this */

    char *user;
    char *group;
    char *pid_file;
    char *error_log;             /* "stderr", "syslog" or a path */
    int log_level;

    int header_timeout;          /* milliseconds */
    int body_timeout;
    int keepalive_timeout;
    int send_timeout;
    int shutdown_timeout;
    int keepalive_requests;
    int backend_connect_timeout; /* milliseconds */
    int backend_read_timeout;    /* milliseconds, between two reads from a backend */
    char *client_body_temp_path; /* directory of spooled request bodies */
    char *wsgi_module;           /* the WSGI adapter module, when a location uses wsgi_app */

    struct zs_mime_table *mime;
    char *mime_types_file;
    char *default_type;

    struct zs_pool *pools;
    size_t pool_count;
    struct zs_server *servers;
    size_t server_count;
    struct zs_listener *listeners;
    size_t listener_count;
    struct zs_app *apps;
    size_t app_count;

    char **files;                /* every file read, kept alive for *_file pointers */
    size_t file_count;
};

#endif
