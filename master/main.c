/* zserver: command line. */
#include "config.h"

#include <ev.h>
#include <http_parser.h>
#include <confuse.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/conf.h"
#include "lib/log.h"
#include "lib/proctitle.h"
#include "master/conf_load.h"
#include "master/master.h"

#define DEFAULT_CONF ZS_SYSCONFDIR "/zserver/zserver.conf"

struct options {
    const char *conf_path;
    bool test;
    bool dump;
    bool foreground;
    const char *signal_action;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: zserver [-c file] [-t] [-T] [-f] [-s reload|reopen|quit|stop] [-v] [-V]\n"
            "  -c file  configuration file (default " DEFAULT_CONF ")\n"
            "  -t       test the configuration and exit\n"
            "  -T       test the configuration, print it resolved and exit\n"
            "  -f       stay in the foreground and log to stderr\n"
            "  -s act   send reload, reopen, quit or stop to the running master\n"
            "  -v       print the version\n"
            "  -V       print the version, build options and library versions\n");
}

static void
print_version(bool verbose)
{
    printf("zserver version " PACKAGE_VERSION "\n");
    if (!verbose)
        return;
    char pcre[64] = "";
    pcre2_config(PCRE2_CONFIG_VERSION, pcre);
    unsigned long hp = http_parser_version();
    printf("configure arguments: %s\n", ZS_CONFIGURE_ARGS);
    printf("libev %d.%d, http-parser %lu.%lu.%lu, libconfuse %s, PCRE2 %s\n", ev_version_major(),
           ev_version_minor(), (hp >> 16) & 255, (hp >> 8) & 255, hp & 255, confuse_version, pcre);
#ifdef ZS_SANITIZERS
    printf("built with AddressSanitizer and UndefinedBehaviorSanitizer\n");
#endif
}

static int
parse_args(int argc, char **argv, struct options *o)
{
    int ch;

    while ((ch = getopt(argc, argv, "c:tTfs:vVh")) != -1) {
        switch (ch) {
        case 'c': o->conf_path = optarg; break;
        case 't': o->test = true; break;
        case 'T': o->test = o->dump = true; break;
        case 'f': o->foreground = true; break;
        case 's': o->signal_action = optarg; break;
        case 'v': print_version(false); exit(0);
        case 'V': print_version(true); exit(0);
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "zserver: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct options o = { .conf_path = DEFAULT_CONF };
    struct zs_conf_errors errs = { 0 };

    zs_proctitle_init(argc, argv);
    zs_log_init("master");
    if (parse_args(argc, argv, &o) == -1)
        return 2;

    struct zs_config *conf = zs_conf_load(o.conf_path, &errs);
    if (conf == NULL) {
        for (size_t i = 0; i < errs.count; i++)
            fprintf(stderr, "%s\n", errs.msgs[i]);
        fprintf(stderr, "zserver: configuration file %s test failed\n", o.conf_path);
        zs_conf_errors_clear(&errs);
        return 1;
    }
    if (o.test) {
        if (o.dump)
            zs_conf_dump(conf, stdout);
        fprintf(stderr, "zserver: configuration file %s is valid\n", conf->conf_file);
        zs_conf_free(conf);
        return 0;
    }
    if (o.signal_action != NULL) {
        int rc = zs_signal_send(conf, o.signal_action);
        zs_conf_free(conf);
        return rc;
    }
    int rc = zs_master_run(conf, o.foreground);
    /* Only a failed start returns non-zero, and it keeps no reference to
     * the configuration: freeing it keeps LeakSanitizer's report clean. */
    if (rc != 0)
        zs_conf_free(conf);
    return rc;
}
