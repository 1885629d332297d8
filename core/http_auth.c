/* http_auth.c -- what is decided when a request's head has arrived,
 * before any of its body is read: who the request is, and how large a
 * body its route takes.
 *
 * Who: the one credential a request carries, judged against the
 * listener's token and the accounts' tokens in constant time. This is the only place that reads a request's credential; the
 * owner (lua/smpp/http.lua) gets the identity decided here with the
 * request (http_req_t.role, .account) and never looks at a token itself.
 *
 * Which credential: the Authorization header when the request has one
 * (the query is then not read for a token), else the query's `token`
 * parameter. A credential that is none of the tokens is invalid, whatever
 * else the request carries.
 *
 * How large: the owner names its routes' needs (http_set_route_bodies:
 * /send a message, /stats none), so that a body larger than the route
 * takes is 413 at the head instead of being read up to http.max_body.
 *
 * Who owns what: the accounts' tokens and their system_ids, and the
 * routes' limits, are copies owned here, replaced as a whole by
 * http_set_tokens (a reload) and http_set_route_bodies, and freed by
 * http_set_tokens(NULL, NULL, 0) and http_set_route_bodies(NULL, NULL, 0)
 * (http_close_all).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"

typedef struct acct_token_s {
    char *token, *name;
} acct_token_t;

static acct_token_t *acct_tokens;
static size_t acct_ntokens;

/* -- Comparing ---------------------------------------------------------------------- */

/* a and b equal, in time that depends on b's length only */
static int same_secret(const char *a, size_t alen, const char *b, size_t blen)
{
    volatile unsigned char d = (unsigned char)(alen != blen);
    size_t i;
    for (i = 0; i < blen; i++) d |= (unsigned char)((i < alen ? a[i] : 0) ^ b[i]);
    return d == 0;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Which secret v (n octets) is: the listener's token (HTTP_ADMIN), one of
 * the accounts' tokens (HTTP_ACCOUNT, *acct its index), else
 * HTTP_INVALID. Every token is compared in full, so the time taken does
 * not say which one (or how much of one) matched. */
static int which_secret(const char *token, const char *v, size_t n, size_t *acct)
{
    int admin = n > 0 && token && *token && same_secret(v, n, token, strlen(token));
    int found = 0;
    size_t i;
    for (i = 0; i < acct_ntokens; i++) {
        int eq = same_secret(v, n, acct_tokens[i].token, strlen(acct_tokens[i].token));
        if (eq && !found) {
            found = 1;
            *acct = i;
        }
    }
    if (n == 0) return HTTP_INVALID;
    return admin ? HTTP_ADMIN : found ? HTTP_ACCOUNT : HTTP_INVALID;
}

/* The value of the query's `token` parameters in url, percent-decoded into
 * v (at most HTTP_TOKEN_MAX + 1 octets kept, so that a longer one cannot
 * equal a token): how many there are (0, 1 or 2 meaning "more than one"). */
static int query_token(const char *url, char *v, size_t cap, size_t *n)
{
    const char *q = url ? strchr(url, '?') : NULL;
    int count = 0;
    int hi, lo;
    *n = 0;
    while (q && *q) {
        q++;
        if (!strncmp(q, "token=", 6) && ++count == 1) {
            for (q += 6; *q && *q != '&' && *n < cap; q++) {
                if (*q == '%' && (hi = hexval(q[1])) >= 0 && (lo = hexval(q[2])) >= 0) {
                    v[(*n)++] = (char)(hi * 16 + lo);
                    q += 2;
                } else {
                    v[(*n)++] = *q == '+' ? ' ' : *q;
                }
            }
        }
        q = strchr(q, '&');
    }
    return count > 2 ? 2 : count;
}

/* -- The check ---------------------------------------------------------------------- */

int http__identify(const char *token, const char *auth, size_t auth_len, const char *url, char *account,
                   size_t account_cap)
{
    char v[HTTP_TOKEN_MAX + 2];
    size_t n, acct = 0;
    int role;
    if (account_cap) account[0] = '\0';
    if ((!token || !*token) && acct_ntokens == 0) return HTTP_ANON;   /* no token anywhere: open */
    if (auth_len > 0) {                    /* the header is the credential */
        size_t i = 7;
        if (auth_len <= 7 || strncasecmp(auth, "Bearer ", 7)) return HTTP_INVALID;
        while (i < auth_len && auth[i] == ' ') i++;
        role = which_secret(token, auth + i, auth_len - i, &acct);
    } else {
        int k = query_token(url, v, sizeof v, &n);
        if (k == 0) return token && *token ? HTTP_INVALID : HTTP_ANON;
        if (k > 1) return HTTP_INVALID;
        role = which_secret(token, v, n, &acct);
    }
    if (role == HTTP_ACCOUNT && account_cap) snprintf(account, account_cap, "%s", acct_tokens[acct].name);
    return role;
}

void http_set_tokens(const char *const *tokens, const char *const *names, size_t n)
{
    size_t i, kept = 0;
    acct_token_t *list = n ? calloc(n, sizeof *list) : NULL;
    for (i = 0; list && i < n; i++) {
        if (!tokens[i] || !*tokens[i] || strlen(tokens[i]) > HTTP_TOKEN_MAX) continue;
        if (!names[i] || !*names[i] || strlen(names[i]) > HTTP_ACCOUNT_MAX) continue;
        list[kept].token = strdup(tokens[i]);
        list[kept].name = strdup(names[i]);
        if (list[kept].token && list[kept].name) {
            kept++;
        } else {
            free(list[kept].token);
            free(list[kept].name);
        }
    }
    for (i = 0; i < acct_ntokens; i++) {
        free(acct_tokens[i].token);
        free(acct_tokens[i].name);
    }
    free(acct_tokens);
    acct_tokens = list;
    acct_ntokens = kept;
}

/* -- How large a body a route takes ------------------------------------------------------ */

typedef struct route_body_s {
    char  *route;                          /* "METHOD /path", or "METHOD /prefix*" */
    size_t len;                            /* octets compared: without the '*' */
    int    prefix;
    size_t max;
} route_body_t;

static route_body_t *route_bodies;
static size_t route_nbodies;

int http_set_route_bodies(const char *const *routes, const size_t *max, size_t n)
{
    size_t i;
    route_body_t *list = n ? calloc(n, sizeof *list) : NULL;
    if (n && !list) return -1;
    for (i = 0; i < n; i++) {
        size_t len = strlen(routes[i]);
        if (!(list[i].route = strdup(routes[i]))) {
            while (i--) free(list[i].route);
            free(list);
            return -1;
        }
        list[i].prefix = len > 0 && routes[i][len - 1] == '*';
        list[i].len = len - (size_t)list[i].prefix;
        list[i].max = max[i];
    }
    for (i = 0; i < route_nbodies; i++) free(route_bodies[i].route);
    free(route_bodies);
    route_bodies = list;
    route_nbodies = n;
    return 0;
}

/* Whether the path (url's first plen octets) percent-decoded is want (or,
 * prefix, starts with it): the routes are matched on the decoded path
 * (lua/smpp/http.lua), so /sen%64 is POST /send and takes its bound. A
 * malformed escape never matches (the request is refused with 400). */
static int path_is(const char *want, size_t wlen, int prefix, const char *url, size_t plen)
{
    size_t i = 0, k;
    int hi, lo, c;
    for (k = 0; k < wlen; k++) {
        if (i >= plen) return 0;
        if (url[i] != '%') c = (unsigned char)url[i++];
        else if (i + 3 <= plen && (hi = hexval(url[i + 1])) >= 0 && (lo = hexval(url[i + 2])) >= 0) {
            c = hi * 16 + lo;
            i += 3;
        } else return 0;
        if (c != (unsigned char)want[k]) return 0;
    }
    return prefix || i == plen;
}

size_t http__body_limit(const char *method, const char *url, size_t max_body)
{
    size_t mlen = strlen(method), plen = strcspn(url, "?"), i;
    for (i = 0; i < route_nbodies; i++) {
        const route_body_t *r = &route_bodies[i];
        if (r->len <= mlen || memcmp(r->route, method, mlen) || r->route[mlen] != ' ') continue;
        /* the path's octets: r->len - mlen - 1 */
        if (!path_is(r->route + mlen + 1, r->len - mlen - 1, r->prefix, url, plen)) continue;
        return r->max < max_body ? r->max : max_body;
    }
    return max_body;
}
