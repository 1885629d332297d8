/* http_auth.c -- the HTTP API's token check: the listener's token and the
 * accounts' tokens, compared in constant time before any body is read.
 *
 * Who owns what: the accounts' tokens are copies owned here, replaced as a
 * whole by http_set_tokens (a reload) and freed by http_set_tokens(NULL, 0)
 * (http_close_all). Which routes an account's token opens is the owner's
 * to decide from the request (lua/smpp/http.lua).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"

static char **acct_tokens;
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

/* v (n octets) is the listener's token or one of the accounts' tokens.
 * Every token is compared in full, so the time taken does not say which
 * one (or how much of one) matched. */
static int known_secret(const char *token, const char *v, size_t n)
{
    int ok = same_secret(v, n, token, strlen(token));
    size_t i;
    for (i = 0; i < acct_ntokens; i++) ok |= same_secret(v, n, acct_tokens[i], strlen(acct_tokens[i]));
    return ok;
}

/* -- The check ---------------------------------------------------------------------- */

int http__authorized(const char *token, const char *auth, size_t auth_len, const char *url)
{
    const char *q;
    if (!token || !*token) return 1;
    if (auth_len > 7 && !strncasecmp(auth, "Bearer ", 7) && known_secret(token, auth + 7, auth_len - 7))
        return 1;
    q = url ? strchr(url, '?') : NULL;
    while (q && *q) {
        q++;
        if (!strncmp(q, "token=", 6)) {
            char v[HTTP_TOKEN_MAX + 1];
            size_t n = 0;
            int hi, lo;
            for (q += 6; *q && *q != '&' && n < sizeof v - 1; q++) {
                if (*q == '%' && (hi = hexval(q[1])) >= 0 && (lo = hexval(q[2])) >= 0) {
                    v[n++] = (char)(hi * 16 + lo);
                    q += 2;
                } else {
                    v[n++] = *q == '+' ? ' ' : *q;
                }
            }
            if (known_secret(token, v, n)) return 1;
        }
        q = strchr(q, '&');
    }
    return 0;
}

void http_set_tokens(const char *const *tokens, size_t n)
{
    size_t i, kept = 0;
    char **list = n ? calloc(n, sizeof *list) : NULL;
    for (i = 0; list && i < n; i++) {
        if (!tokens[i] || !*tokens[i] || strlen(tokens[i]) > HTTP_TOKEN_MAX) continue;
        if ((list[kept] = strdup(tokens[i])) != NULL) kept++;
    }
    for (i = 0; i < acct_ntokens; i++) free(acct_tokens[i]);
    free(acct_tokens);
    acct_tokens = list;
    acct_ntokens = kept;
}
