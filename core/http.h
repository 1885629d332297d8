/* http.h -- a small HTTP/1.1 server on libuv for the API and the dashboard,
 * parsing with Debian's http-parser. Keep-alive and pipelining (requests
 * are answered one at a time, in order); bounded sizes, connections and
 * times; who the request is (its token) and how large a body its route
 * takes are decided at the end of the request head, before any body is
 * read. Knows nothing of Lua: the owner's handler answers with
 * http_respond().
 */
#ifndef SMPPGW_HTTP_H
#define SMPPGW_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define HTTP_MAX_URL    8192
#define HTTP_MAX_HEADER 8192
#define HTTP_MAX_CTYPE  255     /* octets of an answer's content type */

/* Who a request is (its one credential, judged when its head arrived:
 * http_auth.c). */
enum { HTTP_INVALID = -1, HTTP_ANON = 0, HTTP_ADMIN = 1, HTTP_ACCOUNT = 2 };
#define HTTP_ACCOUNT_MAX 63     /* octets of an account's name given with a request */

typedef struct http_req_s {
    const char *method;         /* "GET", "POST", ... */
    const char *url;            /* path and query, NUL-terminated */
    const char *body;           /* body octets (NUL-terminated too) */
    size_t      body_len;
    const char *content_type;   /* "" when absent */
    const char *authorization;  /* "" when absent */
    int         role;           /* HTTP_ANON, HTTP_ADMIN or HTTP_ACCOUNT (never HTTP_INVALID: 401) */
    const char *account;        /* HTTP_ACCOUNT: the system_id whose token it carries, else "" */
    const char *remote;         /* the peer's address, without the port */
    void       *conn;           /* pass to http_respond */
} http_req_t;

/* What a listener accepts. Limits count over every listener of the
 * process; 0 means "no limit" for the counts and "never" for the times. */
typedef struct http_opts_s {
    const char *token;              /* required token (NULL or "": none); copied */
    size_t      max_connections;    /* connections open at once; at the limit a new one
                                       takes the slot of the one waiting longest in the
                                       middle of a request, head or body (not an admin's
                                       body), or of an idle one (http.c, evictable), or
                                       is refused */
    size_t      max_per_address;    /* connections open from one peer address */
    size_t      max_body;           /* request body octets (413 past it; a route may
                                       take less: http_set_route_bodies) */
    unsigned    header_timeout_ms;  /* a new connection or a request's first
                                       byte -> the end of its head (408) */
    unsigned    body_timeout_ms;    /* the end of the head -> the end of the body (408) */
    unsigned    idle_timeout_ms;    /* after an answer, the wait for the next request */
} http_opts_t;

/* The defaults of the config's http section (the schema of
 * lua/smpp/config.lua holds them; the build writes them into
 * http_defaults.h), no token. */
void http_opts_default(http_opts_t *o);

/* Counters for /stats. */
typedef struct http_stats_s {
    uint64_t open;              /* connections open now */
    uint64_t refused;           /* connections refused past a limit (503) */
    uint64_t evicted;           /* closed at max_connections to make room (see http.c) */
    uint64_t timeouts;          /* heads or bodies cut off by their timeout (408), and new
                                   connections closed for sending no head in time */
    uint64_t unauthorized;      /* requests refused for a missing or wrong token (401) */
} http_stats_t;
void http_get_stats(http_stats_t *out);

/* Called once per request; the owner must call http_respond(req->conn, ...)
 * exactly once, now or later. `req` and its strings live until then. */
typedef void (*http_handler_fn)(const http_req_t *req, void *ud);

/* Listen on host:port (port 0: any; the bound one in *bound) with `opts`
 * (NULL: the defaults; copied). There is one API per process: the options
 * of the last call hold for every listener. Returns 0 or a negative libuv
 * error (UV_EINVAL also for a token of 256 octets or more). */
int http_listen(uv_loop_t *loop, const char *host, int port, const http_opts_t *opts,
                http_handler_fn fn, void *ud, int *bound);

/* Besides the listener's token, each of these n tokens (copied; empty
 * ones and ones of 256 octets or more are left out) lets a request
 * through as the account names[i] (a system_id, copied; at most
 * HTTP_ACCOUNT_MAX octets), whose requests the owner restricts. Replaces
 * the previous set; (NULL, NULL, 0) clears it. With no token at all (no
 * listener token, no account's) every request passes. */
void http_set_tokens(const char *const *tokens, const char *const *names, size_t n);

/* The owner's routes that take less than http.max_body: routes[i] is
 * "METHOD /path" (the path exactly, without the query) or "METHOD
 * /prefix*" (any path that starts so), max[i] its body octets at most
 * (copied; replaces the previous list; (NULL, NULL, 0) clears it). A
 * request whose declared body is larger is refused with 413 at its head,
 * one whose chunked body grows past it with 413 when it does. Returns 0,
 * or -1 without memory (the list in force stays). */
int http_set_route_bodies(const char *const *routes, const size_t *max, size_t n);

/* http_answer_check(status, content_type, len) -> NULL when an answer may
 * carry them, else why not (static text): the status must be a whole
 * number 200..599, the content type (len octets) a "type/subtype" of
 * token characters, optionally followed by parameters, at most
 * HTTP_MAX_CTYPE printable ASCII octets (no CR, LF or other control
 * character, so it can never end the header line). The owner checks what
 * a script gave it with this before http_respond. */
const char *http_answer_check(double status, const char *content_type, size_t len);

/* http_ctype_check(content_type, len) -> NULL or why the content type is
 * unfit for a header (the rule of http_answer_check; http_post uses it too). */
const char *http_ctype_check(const char *content_type, size_t len);

/* Answer the request of `conn`. The body is copied. A status or content
 * type that http_answer_check refuses is answered 500 with a JSON error
 * instead (and logged): nothing a caller passes reaches the head unchecked. */
void http_respond(void *conn, int status, const char *content_type, const char *body, size_t len);

/* Close the listeners and every idle connection (shutdown); a connection
 * whose request is being handled closes once it is answered. */
void http_close_all(void);

/* -- Where callbacks may go (http_nets.c) -- */

/* http_nets_set(cidrs, n): http.callback_networks, "address[/prefix]"
 * (IPv4 or IPv6), copied; NULL: the default rule (any address but
 * link-local, 169.254.0.0/16 and fe80::/10, and 0.0.0.0/8); an empty list
 * allows nothing. Returns 0, i + 1 when cidrs[i] is not a network (the
 * list in force stays), or -1 without memory. */
long http_nets_set(const char *const *cidrs, size_t n);

/* http_nets_allowed(sa, cidrs, n) -> 1 when http_post may connect to the
 * address sa (borrowed), else 0; -1 without memory. cidrs NULL: the list
 * in force (above); else that list (a configuration being checked: an
 * entry that is not a network is left out). IPv4-mapped IPv6 is judged as
 * the IPv4 address it is. */
long http_nets_allowed(const struct sockaddr *sa, const char *const *cidrs, size_t n);

/* POST `body` to http://host:port/path (a callback URL). host is an IP
 * address (or "localhost"), port 1..65535, path starts with "/" and holds
 * printable ASCII without spaces (at most HTTP_MAX_URL octets), and the
 * content type passes http_ctype_check: nothing given can add a header
 * line. cb gets the HTTP status of the answer (100..599), or a negative
 * libuv error (UV_ETIMEDOUT after 10 s, UV_EPROTO for an answer that is
 * not HTTP). Returns 0 or a negative libuv error (UV_EINVAL for any of
 * the above, UV_EACCES for an address http_nets_allowed refuses; cb is not
 * called then). */
typedef void (*http_post_fn)(int status, void *arg);
int http_post(uv_loop_t *loop, const char *host, int port, const char *path,
              const char *content_type, const char *body, size_t len, http_post_fn cb, void *arg);

#endif /* SMPPGW_HTTP_H */
