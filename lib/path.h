/* Request path decoding, dot-segment removal and percent-encoding. */
#ifndef ZS_PATH_H
#define ZS_PATH_H

#include <stddef.h>
#include <sys/types.h>

/* Decodes %XX escapes in the path of a request target once and removes dot segments
 * (RFC 3986 5.2.4), merging repeated slashes. in/len is the path only (before '?'),
 * it must start with '/'. out must have room for len + 1 bytes; the result is
 * NUL-terminated, starts with '/', keeps a trailing slash.
 * Returns 0, or -1 when the path is invalid: not starting with '/', a bad %XX escape,
 * a decoded NUL byte, or a ".." that would climb above "/". A raw NUL byte in in
 * is rejected too. Decoded "%2F" separates segments and decoded "%2e" counts as a
 * dot, so "/a/%2e%2e/b" becomes "/b"; "%25" yields a literal '%' that is not
 * decoded again. */
int zs_path_normalize(const char *in, size_t len, char *out, size_t *outlen);

/* Returns 1 when a segment of a normalised path starts with '.', except a first
 * segment ".well-known" (RFC 8615, needed for ACME challenges), else 0. */
int zs_path_has_dot_segment(const char *path, size_t len);

/* Percent-encodes a path for a Location header or an autoindex link. Unreserved
 * characters and '/' are kept, and every other byte becomes "%XX" in upper-case hex.
 * Returns the length without the NUL that ends out, or -1 when out is too small for
 * the encoded path and its NUL. */
ssize_t zs_path_encode(const char *in, size_t len, char *out, size_t outsize);

#endif
