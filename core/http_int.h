/* http_int.h -- what http.c, http_head.c and http_auth.c share: the head
 * of an answer and the token check (not part of the API in http.h).
 */
#ifndef SMPPGW_HTTP_INT_H
#define SMPPGW_HTTP_INT_H

#include <stddef.h>

#include "http.h"

/* Room for any head http_head writes: the fixed text, the longest reason,
 * a content type of HTTP_MAX_CTYPE octets and a 20-digit length. */
#define HTTP_HEAD_MAX (160 + HTTP_MAX_CTYPE)

/* The head of an answer, written to head[0..n): its length, or -1 if it
 * does not fit (never a truncated or overlong copy). The status and the
 * content type must have passed http_answer_check. */
int http_head(char *head, size_t n, int status, const char *ctype, size_t len, int close_after);

/* The longest token (the listener's or an account's), octets. */
#define HTTP_TOKEN_MAX 255

/* The request (its Authorization header, auth_len octets, and its URL)
 * carries `token` or one of the accounts' tokens (http_set_tokens), as
 * "Authorization: Bearer TOKEN" or a "token=TOKEN" query parameter: 1,
 * else 0. With no token (NULL or "") every request passes (the owner
 * checks account tokens where they matter). */
int http__authorized(const char *token, const char *auth, size_t auth_len, const char *url);

#endif /* SMPPGW_HTTP_INT_H */
