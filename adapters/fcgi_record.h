/* FastCGI records (FastCGI Specification 1.0, Open Market 1996): encoding
 * of what the web server sends and an incremental decoder of what the
 * application sends back. */
#ifndef ZS_FCGI_RECORD_H
#define ZS_FCGI_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/cgi_env.h"
#include "lib/buf.h"

#define ZS_FCGI_HEADER_LEN 8
#define ZS_FCGI_MAX_CONTENT 65535

enum zs_fcgi_type {
    ZS_FCGI_BEGIN_REQUEST = 1,
    ZS_FCGI_ABORT_REQUEST = 2,
    ZS_FCGI_END_REQUEST = 3,
    ZS_FCGI_PARAMS = 4,
    ZS_FCGI_STDIN = 5,
    ZS_FCGI_STDOUT = 6,
    ZS_FCGI_STDERR = 7,
    ZS_FCGI_DATA = 8,
    ZS_FCGI_GET_VALUES = 9,
    ZS_FCGI_GET_VALUES_RESULT = 10,
    ZS_FCGI_UNKNOWN_TYPE = 11
};

enum zs_fcgi_protocol_status {
    ZS_FCGI_REQUEST_COMPLETE = 0,
    ZS_FCGI_CANT_MPX_CONN = 1,
    ZS_FCGI_OVERLOADED = 2,
    ZS_FCGI_UNKNOWN_ROLE = 3
};

/* Appends BEGIN_REQUEST (role RESPONDER, FCGI_KEEP_CONN when keep_conn).
 * Each append returns 0, or -1 when out of memory. */
int zs_fcgi_begin_request(struct zs_buf *out, uint16_t request_id, bool keep_conn);
/* Appends the variables as PARAMS records (name-value pairs with 1- or
 * 4-byte lengths, split across records of at most ZS_FCGI_MAX_CONTENT
 * bytes, padded to 8), then the empty PARAMS record that ends the stream.
 * Also returns -1, appending nothing, when a name or value is longer than
 * 2^31 - 1 bytes, the maximum a pair length can encode. */
int zs_fcgi_params(struct zs_buf *out, uint16_t request_id, const struct zs_cgi_var *vars,
                   size_t count);
/* Appends data as records of the given stream type (STDIN), split and
 * padded; len 0 appends the empty record that ends the stream. */
int zs_fcgi_stream(struct zs_buf *out, enum zs_fcgi_type type, uint16_t request_id,
                   const char *data, size_t len);
int zs_fcgi_abort_request(struct zs_buf *out, uint16_t request_id);

/* One piece of what the application sent: stream content (STDOUT, STDERR),
 * or the end of a request. */
struct zs_fcgi_piece {
    enum zs_fcgi_type type;
    uint16_t request_id;
    const char *data;            /* STDOUT, STDERR: bytes inside the input */
    size_t len;                  /* 0 for the empty record that ends a stream */
    uint32_t app_status;         /* END_REQUEST */
    uint8_t protocol_status;     /* END_REQUEST */
};

enum zs_fcgi_next {
    ZS_FCGI_NEED_MORE,           /* all input used: feed more */
    ZS_FCGI_PIECE,               /* *piece is set */
    ZS_FCGI_INVALID              /* bad version or record: drop the connection */
};

/* Decoder state; zero-initialise, or call zs_fcgi_parser_init(). */
struct zs_fcgi_parser {
    unsigned char header[ZS_FCGI_HEADER_LEN];
    size_t header_have;
    unsigned char body[8];       /* END_REQUEST body, which may arrive split */
    size_t body_have;
    size_t content_left;
    size_t padding_left;
    bool in_record;
};

void zs_fcgi_parser_init(struct zs_fcgi_parser *p);
/* Decodes from *data (*len bytes), advancing both past what it used.
 * Call it again after each ZS_FCGI_PIECE until it returns
 * ZS_FCGI_NEED_MORE. Stream content comes out in pieces as it arrives,
 * pointing into the input; other record types than STDOUT, STDERR and
 * END_REQUEST are skipped. END_REQUEST comes out once its padding has been
 * read too, so the input is then at a record boundary. After
 * ZS_FCGI_INVALID the parser state is undefined. */
enum zs_fcgi_next zs_fcgi_parse(struct zs_fcgi_parser *p, const char **data, size_t *len,
                                struct zs_fcgi_piece *piece);

/* SCGI (scgi.py protocol description, 2006): appends the netstring head
 * "<len>:CONTENT_LENGTH\0<n>\0SCGI\01\0...\0," with CONTENT_LENGTH first
 * as the protocol requires, then every other variable. Variables named
 * CONTENT_LENGTH or SCGI in vars are left out. Returns 0, or -1 (appending
 * nothing) when out of memory, when content_length is negative, or when a
 * name is empty or a name or value contains a NUL byte. */
int zs_scgi_head(struct zs_buf *out, const struct zs_cgi_var *vars, size_t count,
                 int64_t content_length);

#endif
