/* http.h -- a small HTTP/1.1 server on libuv for the API and the dashboard,
 * parsing with Debian's http-parser. One request at a time per connection
 * (reading pauses until it is answered); keep-alive; bounded sizes.
 * Knows nothing of Lua: the owner's handler answers with http_respond().
 */
#ifndef SMPPGW_HTTP_H
#define SMPPGW_HTTP_H

#include <stddef.h>
#include <uv.h>

#define HTTP_MAX_URL    8192
#define HTTP_MAX_BODY   (1 << 20)
#define HTTP_MAX_HEADER 8192

typedef struct http_req_s {
    const char *method;         /* "GET", "POST", ... */
    const char *url;            /* path and query, NUL-terminated */
    const char *body;           /* body octets (NUL-terminated too) */
    size_t      body_len;
    const char *content_type;   /* "" when absent */
    const char *authorization;  /* "" when absent */
    void       *conn;           /* pass to http_respond */
} http_req_t;

/* Called once per request; the owner must call http_respond(req->conn, ...)
 * exactly once, now or later. `req` and its strings live until then. */
typedef void (*http_handler_fn)(const http_req_t *req, void *ud);

/* Listen on host:port (port 0: any; the bound one in *bound). Returns 0 or
 * a negative libuv error. */
int http_listen(uv_loop_t *loop, const char *host, int port, http_handler_fn fn, void *ud,
                int *bound);

/* Answer the request of `conn`. The body is copied. */
void http_respond(void *conn, int status, const char *content_type, const char *body, size_t len);

/* Close the listeners and every idle connection (shutdown); a connection
 * whose request is being handled closes once it is answered. */
void http_close_all(void);

/* POST `body` to http://host:port/path (a callback URL). cb gets the HTTP
 * status of the answer, or a negative libuv error (UV_ETIMEDOUT after
 * 10 s). Returns 0 or a negative libuv error (cb is not called then). */
typedef void (*http_post_fn)(int status, void *arg);
int http_post(uv_loop_t *loop, const char *host, int port, const char *path,
              const char *content_type, const char *body, size_t len, http_post_fn cb, void *arg);

#endif /* SMPPGW_HTTP_H */
