/* http_int.h -- what http.c, http_head.c and http_auth.c share: the head
 * of an answer and who a request is (not part of the API in http.h).
 */
#ifndef SMPPGW_HTTP_INT_H
#define SMPPGW_HTTP_INT_H

#include <stddef.h>

#include "http.h"

/* Room for any head http_head writes: the fixed text (Retry-After on a
 * 503 included), the longest reason, a content type of HTTP_MAX_CTYPE
 * octets and a 20-digit length. */
#define HTTP_HEAD_MAX (180 + HTTP_MAX_CTYPE)

/* The head of an answer, written to head[0..n): its length, or -1 if it
 * does not fit (never a truncated or overlong copy). The status and the
 * content type must have passed http_answer_check. */
int http_head(char *head, size_t n, int status, const char *ctype, size_t len, int close_after);

/* The reason phrase of a status (never NULL: a status without a
 * registered one gets its class's name, "Client Error"). */
const char *http_reason(int status);

/* The longest token (the listener's or an account's), octets. */
#define HTTP_TOKEN_MAX 255

/* Who the request is (http_auth.c): its one credential is the
 * Authorization header ("Bearer TOKEN") when it has one, else the query's
 * `token` parameter; HTTP_ADMIN for the listener's `token`, HTTP_ACCOUNT
 * for one of the accounts' tokens (http_set_tokens; its system_id in
 * account[0..account_cap)), HTTP_ANON for no credential where none is
 * needed (no listener token), else HTTP_INVALID: a credential that is no
 * token (or a header of another scheme, or two `token` parameters), or
 * none where the listener has a token. With no token at all (no listener
 * token, no account's) every request is HTTP_ANON. */
int http__identify(const char *token, const char *auth, size_t auth_len, const char *url, char *account,
                   size_t account_cap);

/* The largest body the request (method, url) may carry: the limit
 * http_set_route_bodies gave its route, else max_body (never more). */
size_t http__body_limit(const char *method, const char *url, size_t max_body);

#endif /* SMPPGW_HTTP_INT_H */
