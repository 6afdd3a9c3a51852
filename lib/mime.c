/* Media types by file extension: a mime.types loader and an open-addressing hash table. */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mime.h"

#define MIME_INITIAL_SLOTS 256
#define MIME_NAME_MAX 127        /* RFC 6838 section 4.2: type and subtype names */

struct mime_slot {
    char *ext;                   /* lower case; NULL marks a free slot */
    size_t ext_len;
    const char *type;            /* points into zs_mime_table.types */
};

/* Text types are sent with this parameter: the web's documents are UTF-8. */
#define TEXT_CHARSET "; charset=utf-8"


struct zs_mime_table {
    struct mime_slot *slots;
    size_t slot_count;           /* a power of two, kept at least twice count */
    size_t count;
    char **types;
    size_t type_count;
    size_t type_cap;
};

/* FNV-1a over the lower-cased bytes, so that lookups need no copy. */
static uint64_t
ext_hash(const char *s, size_t len)
{
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)tolower((unsigned char)s[i]);
        h *= 1099511628211ULL;
    }
    return h;
}

static struct mime_slot *
slot_find(struct mime_slot *slots, size_t slot_count, const char *ext, size_t len)
{
    size_t mask = slot_count - 1;
    size_t i = (size_t)ext_hash(ext, len) & mask;

    while (slots[i].ext != NULL) {
        if (slots[i].ext_len == len && strncasecmp(slots[i].ext, ext, len) == 0)
            return &slots[i];
        i = (i + 1) & mask;
    }
    return &slots[i];
}

static int
table_grow(struct zs_mime_table *t)
{
    size_t slot_count = t->slot_count ? t->slot_count * 2 : MIME_INITIAL_SLOTS;
    struct mime_slot *slots = calloc(slot_count, sizeof(*slots));

    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < t->slot_count; i++) {
        struct mime_slot *old = &t->slots[i];
        if (old->ext != NULL)
            *slot_find(slots, slot_count, old->ext, old->ext_len) = *old;
    }
    free(t->slots);
    t->slots = slots;
    t->slot_count = slot_count;
    return 0;
}

static int
table_put(struct zs_mime_table *t, const char *ext, const char *type)
{
    size_t len = strlen(ext);
    struct mime_slot *slot;

    if ((t->count + 1) * 2 > t->slot_count && table_grow(t) == -1)
        return -1;
    slot = slot_find(t->slots, t->slot_count, ext, len);
    if (slot->ext == NULL) {
        slot->ext = strdup(ext);
        if (slot->ext == NULL)
            return -1;
        for (size_t i = 0; i < len; i++)
            slot->ext[i] = (char)tolower((unsigned char)slot->ext[i]);
        slot->ext_len = len;
        t->count++;
    }
    slot->type = type;
    return 0;
}

/* Keeps one copy of each type string for the life of the table, stored as
 * "type\0header\0": the header is the Content-Type value sent for it. */
static const char *
table_add_type(struct zs_mime_table *t, const char *type)
{
    size_t len = strlen(type);
    bool text = strncmp(type, "text/", 5) == 0;
    char *copy;

    if (t->type_count == t->type_cap) {
        size_t cap = t->type_cap ? t->type_cap * 2 : 64;
        char **types = realloc(t->types, cap * sizeof(*types));
        if (types == NULL)
            return NULL;
        t->types = types;
        t->type_cap = cap;
    }
    copy = malloc(2 * len + sizeof(TEXT_CHARSET) + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, type, len + 1);
    memcpy(copy + len + 1, type, len);
    strcpy(copy + 2 * len + 1, text ? TEXT_CHARSET : "");
    t->types[t->type_count++] = copy;
    return copy;
}

static int
name_is_valid(const char *s, size_t len)
{
    if (len == 0 || len > MIME_NAME_MAX || !isalnum((unsigned char)s[0]))
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && strchr("!#$&-^_.+", s[i]) == NULL)
            return 0;
    return 1;
}

/* Checks "type/subtype" as RFC 6838 section 4.2 restricts the names. */
static int
type_is_valid(const char *type)
{
    const char *slash = strchr(type, '/');

    if (slash == NULL)
        return 0;
    return name_is_valid(type, (size_t)(slash - type)) && name_is_valid(slash + 1, strlen(slash + 1));
}

static int
ext_is_valid(const char *ext)
{
    for (const char *p = ext; *p != '\0'; p++)
        if (*p == '/' || *p == '.' || iscntrl((unsigned char)*p))
            return 0;
    return 1;
}

/* Adds the extensions of one line. Returns 0, or -1 with err set. */
static int
parse_line(struct zs_mime_table *t, char *line, const char *where, char *err, size_t errsize)
{
    static const char blanks[] = " \t\r\n\f\v";
    char *save = NULL;
    char *hash = strchr(line, '#');
    const char *type;
    char *word;

    if (hash != NULL)
        *hash = '\0';
    word = strtok_r(line, blanks, &save);
    if (word == NULL)
        return 0;
    if (!type_is_valid(word)) {
        snprintf(err, errsize, "%s: invalid media type '%s' (expected type/subtype)", where, word);
        return -1;
    }
    type = table_add_type(t, word);
    if (type == NULL)
        goto oom;
    while ((word = strtok_r(NULL, blanks, &save)) != NULL) {
        if (!ext_is_valid(word)) {
            snprintf(err, errsize, "%s: invalid extension '%s' for %s (no dots or slashes)",
                     where, word, type);
            return -1;
        }
        if (table_put(t, word, type) == -1)
            goto oom;
    }
    return 0;

oom:
    snprintf(err, errsize, "%s: out of memory", where);
    return -1;
}

struct zs_mime_table *
zs_mime_load(const char *path, char *err, size_t errsize)
{
    struct zs_mime_table *t = NULL;
    char *line = NULL;
    size_t linesize = 0;
    unsigned long lineno = 0;
    FILE *fp = fopen(path, "re");

    if (fp == NULL) {
        snprintf(err, errsize, "%s: open failed: %s", path, strerror(errno));
        return NULL;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL || table_grow(t) == -1) {
        snprintf(err, errsize, "%s: out of memory", path);
        goto fail;
    }
    while (getline(&line, &linesize, fp) != -1) {
        char where[4096];

        lineno++;
        snprintf(where, sizeof(where), "%s:%lu", path, lineno);
        if (parse_line(t, line, where, err, errsize) == -1)
            goto fail;
    }
    if (ferror(fp)) {
        snprintf(err, errsize, "%s: read failed: %s", path, strerror(errno));
        goto fail;
    }
    free(line);
    fclose(fp);
    return t;

fail:
    free(line);
    fclose(fp);
    zs_mime_free(t);
    return NULL;
}

const char *
zs_mime_lookup(const struct zs_mime_table *t, const char *name, size_t len)
{
    size_t dot = len;
    const struct mime_slot *slot;

    if (t == NULL)
        return NULL;
    /* Find the last dot of the last path component. */
    for (size_t i = len; i > 0; i--) {
        if (name[i - 1] == '/')
            return NULL;
        if (name[i - 1] == '.') {
            dot = i - 1;
            break;
        }
    }
    if (dot == len || dot + 1 == len)
        return NULL;
    if (dot == 0 || name[dot - 1] == '/')
        return NULL;
    slot = slot_find(t->slots, t->slot_count, name + dot + 1, len - dot - 1);
    return slot->ext != NULL ? slot->type : NULL;
}

const char *
zs_mime_lookup_header(const struct zs_mime_table *t, const char *name, size_t len)
{
    const char *type = zs_mime_lookup(t, name, len);

    return type != NULL ? type + strlen(type) + 1 : NULL;
}

size_t
zs_mime_count(const struct zs_mime_table *t)
{
    return t != NULL ? t->count : 0;
}

void
zs_mime_free(struct zs_mime_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->slot_count; i++)
        free(t->slots[i].ext);
    free(t->slots);
    for (size_t i = 0; i < t->type_count; i++)
        free(t->types[i]);
    free(t->types);
    free(t);
}
