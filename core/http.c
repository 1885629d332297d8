/* http.c -- HTTP/1.1 server for the API and dashboard (see http.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "http.h"
#include "log.h"

typedef struct hconn_s {
    uv_tcp_t      tcp;
    http_parser   parser;
    http_req_t    req;
    char          method[16];
    char         *url, *body;
    size_t        url_len, body_len;
    char          ctype[256], auth[512];
    char          field[64];       /* the header being read */
    size_t        header_bytes;
    int           which;           /* 1 content-type, 2 authorization, 0 other */
    int           busy;            /* a request is with the owner */
    int           closing, keep_alive, error;
    struct hconn_s *next, *prev;
} hconn_t;

typedef struct hlisten_s {
    uv_tcp_t         tcp;
    http_handler_fn  fn;
    void            *ud;
    struct hlisten_s *next;
} hlisten_t;

static hlisten_t *listeners;
static hconn_t *conns;
static http_parser_settings settings;

/* -- Connections ---------------------------------------------------------------- */

static void on_closed(uv_handle_t *h)
{
    hconn_t *c = (hconn_t *)h;         /* tcp is the first member */
    if (c->prev) c->prev->next = c->next;
    else conns = c->next;
    if (c->next) c->next->prev = c->prev;
    free(c->url);
    free(c->body);
    free(c);
}

static void conn_close(hconn_t *c)
{
    if (c->closing) return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

typedef struct hwrite_s {
    uv_write_t req;
    hconn_t   *c;
    int        close_after;
    char       data[1];
} hwrite_t;

static void on_shutdown(uv_shutdown_t *req, int status)
{
    hconn_t *c = req->data;
    free(req);
    if (status < 0 || !c->error) conn_close(c);
    /* after an error answer the rest of the request is read and dropped
     * until the client closes: closing at once would reset the connection
     * and the client could lose the answer */
}

static void on_written(uv_write_t *req, int status)
{
    hwrite_t *w = (hwrite_t *)req;
    hconn_t *c = w->c;
    int close_after = w->close_after || status < 0;
    uv_shutdown_t *sd;
    free(w);
    if (!close_after || c->closing) return;
    if (status < 0 || !(sd = malloc(sizeof *sd))) {
        conn_close(c);
        return;
    }
    sd->data = c;
    if (uv_shutdown(sd, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        free(sd);
        conn_close(c);
    }
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void send_response(hconn_t *c, int status, const char *ctype, const char *body, size_t len,
                          int close_after)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n%s\r\n",
                     status, reason(status), ctype, len, close_after ? "Connection: close\r\n" : "");
    hwrite_t *w = malloc(sizeof *w + (size_t)n + len);
    uv_buf_t buf;
    if (!w) {
        conn_close(c);
        return;
    }
    memcpy(w->data, head, (size_t)n);
    if (len) memcpy(w->data + n, body, len);
    w->c = c;
    w->close_after = close_after;
    buf = uv_buf_init(w->data, (unsigned)(n + (int)len));
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written) < 0) {
        free(w);
        conn_close(c);
    }
}

/* An error found while parsing: answer with a JSON error and close. */
static void fail(hconn_t *c, int status, const char *what)
{
    char body[256];
    int n = snprintf(body, sizeof body, "{\"error\":\"%s\"}", what);
    c->error = 1;                      /* what follows is read and dropped */
    send_response(c, status, "application/json", body, (size_t)n, 1);
}

void http_respond(void *conn, int status, const char *content_type, const char *body, size_t len)
{
    hconn_t *c = conn;
    int keep = c->keep_alive && !c->closing;
    c->busy = 0;
    if (c->closing) return;
    send_response(c, status, content_type ? content_type : "text/plain", body, len, !keep);
    /* reset for the next request on this connection */
    c->url_len = c->body_len = 0;
    c->ctype[0] = c->auth[0] = '\0';
    c->header_bytes = 0;
    if (keep) uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* -- Parser callbacks --------------------------------------------------------------- */

static int append(char **buf, size_t *len, const char *at, size_t n, size_t max)
{
    char *p;
    if (*len + n > max) return -1;
    if (!(p = realloc(*buf, *len + n + 1))) return -1;
    memcpy(p + *len, at, n);
    *len += n;
    p[*len] = '\0';
    *buf = p;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    hconn_t *c = p->data;
    if (append(&c->url, &c->url_len, at, n, HTTP_MAX_URL)) {
        fail(c, 414, "URL too long");
        return -1;
    }
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    hconn_t *c = p->data;
    c->header_bytes += n;
    if (c->header_bytes > HTTP_MAX_HEADER) {
        fail(c, 431, "headers too large");
        return -1;
    }
    snprintf(c->field, sizeof c->field, "%.*s", (int)n, at);
    c->which = !strcasecmp(c->field, "content-type") ? 1 : !strcasecmp(c->field, "authorization") ? 2 : 0;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    hconn_t *c = p->data;
    c->header_bytes += n;
    if (c->header_bytes > HTTP_MAX_HEADER) {
        fail(c, 431, "headers too large");
        return -1;
    }
    if (c->which == 1) snprintf(c->ctype, sizeof c->ctype, "%.*s", (int)n, at);
    if (c->which == 2) snprintf(c->auth, sizeof c->auth, "%.*s", (int)n, at);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    hconn_t *c = p->data;
    if (append(&c->body, &c->body_len, at, n, HTTP_MAX_BODY)) {
        fail(c, 413, "body larger than 1 MiB");
        return -1;
    }
    return 0;
}

static int on_complete(http_parser *p)
{
    hconn_t *c = p->data;
    snprintf(c->method, sizeof c->method, "%s", http_method_str((enum http_method)p->method));
    c->keep_alive = http_should_keep_alive(p);
    c->req.method = c->method;
    c->req.url = c->url ? c->url : "/";
    c->req.body = c->body ? c->body : "";
    c->req.body_len = c->body_len;
    c->req.content_type = c->ctype;
    c->req.authorization = c->auth;
    c->req.conn = c;
    c->busy = 1;
    /* one request at a time: reading resumes once it is answered */
    uv_read_stop((uv_stream_t *)&c->tcp);
    return 1;   /* stop parsing here; the rest of this read (pipelining) is dropped */
}

/* -- Reading --------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    static char shared[16384];
    (void)h;
    (void)hint;
    *buf = uv_buf_init(shared, sizeof shared);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    hconn_t *c = (hconn_t *)st;
    hlisten_t *l = st->data;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0 || c->busy || c->error) return;
    http_parser_execute(&c->parser, &settings, buf->base, (size_t)nread);
    if (c->error) return;
    if (c->busy) {
        l->fn(&c->req, l->ud);
        return;
    }
    if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK)
        fail(c, 400, http_errno_description(HTTP_PARSER_ERRNO(&c->parser)));
}

static void on_connection(uv_stream_t *server, int status)
{
    hlisten_t *l = server->data;
    hconn_t *c;
    if (status < 0 || !(c = calloc(1, sizeof *c))) return;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = l;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
        return;
    }
    /* the handle's data is the listener (its handler); the parser's is
     * the connection */
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->next = conns;
    if (conns) conns->prev = c;
    conns = c;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int http_listen(uv_loop_t *loop, const char *host, int port, http_handler_fn fn, void *ud,
                int *bound)
{
    struct sockaddr_storage ss;
    hlisten_t *l;
    int rc;
    if (!strcmp(host, "localhost")) host = "127.0.0.1";
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) && uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss))
        return UV_EINVAL;
    http_parser_settings_init(&settings);
    settings.on_url = on_url;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_body = on_body;
    settings.on_message_complete = on_complete;
    if (!(l = calloc(1, sizeof *l))) return UV_ENOMEM;
    l->fn = fn;
    l->ud = ud;
    uv_tcp_init(loop, &l->tcp);
    l->tcp.data = l;
    if ((rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0)) < 0
        || (rc = uv_listen((uv_stream_t *)&l->tcp, 128, on_connection)) < 0) {
        uv_close((uv_handle_t *)&l->tcp, (uv_close_cb)free);
        return rc;
    }
    if (bound) {
        struct sockaddr_storage b;
        int len = sizeof b;
        uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&b, &len);
        *bound = ntohs(b.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&b)->sin6_port
                                               : ((struct sockaddr_in *)&b)->sin_port);
    }
    l->next = listeners;
    listeners = l;
    return 0;
}

void http_close_all(void)
{
    hconn_t *c, *next;
    while (listeners) {
        hlisten_t *l = listeners;
        listeners = l->next;
        uv_close((uv_handle_t *)&l->tcp, (uv_close_cb)free);
    }
    for (c = conns; c; c = next) {
        next = c->next;
        if (!c->busy) conn_close(c);
        else c->keep_alive = 0;     /* closes after its answer */
    }
}

/* -- Client: POST to a callback URL ----------------------------------------------------- */

typedef struct hpost_s {
    uv_tcp_t      tcp;
    uv_timer_t    timer;
    uv_connect_t  connect;
    uv_write_t    write;
    http_post_fn  cb;
    void         *arg;
    char          answer[64];      /* the status line is all we read */
    size_t        answer_len;
    int           done, handles;
    size_t        len;
    char          data[1];         /* the whole request */
} hpost_t;

static void post_closed(uv_handle_t *h)
{
    hpost_t *p = h->data;
    if (--p->handles == 0) free(p);
}

static void post_finish(hpost_t *p, int status)
{
    if (p->done) return;
    p->done = 1;
    p->cb(status, p->arg);
    uv_close((uv_handle_t *)&p->tcp, post_closed);
    uv_close((uv_handle_t *)&p->timer, post_closed);
}

static void post_timeout(uv_timer_t *t)
{
    post_finish(t->data, UV_ETIMEDOUT);
}

static void post_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    hpost_t *p = h->data;
    (void)hint;
    if (p->answer_len >= sizeof p->answer - 1) {
        static char sink[4096];             /* past the status line: dropped */
        *buf = uv_buf_init(sink, sizeof sink);
        return;
    }
    *buf = uv_buf_init(p->answer + p->answer_len, (unsigned)(sizeof p->answer - 1 - p->answer_len));
}

static void post_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    hpost_t *p = st->data;
    int code;
    if (nread > 0 && buf->base == p->answer + p->answer_len) p->answer_len += (size_t)nread;
    p->answer[p->answer_len] = '\0';
    if (sscanf(p->answer, "HTTP/%*d.%*d %d", &code) == 1 && strchr(p->answer, '\n')) {
        post_finish(p, code);
        return;
    }
    if (nread < 0) post_finish(p, nread == UV_EOF ? UV_EPROTO : (int)nread);
}

static void post_written(uv_write_t *req, int status)
{
    hpost_t *p = req->data;
    if (status < 0) post_finish(p, status);
    else uv_read_start((uv_stream_t *)&p->tcp, post_alloc, post_read);
}

static void post_connected(uv_connect_t *req, int status)
{
    hpost_t *p = req->data;
    uv_buf_t buf;
    if (status < 0) {
        post_finish(p, status);
        return;
    }
    buf = uv_buf_init(p->data, (unsigned)p->len);
    p->write.data = p;
    if ((status = uv_write(&p->write, (uv_stream_t *)&p->tcp, &buf, 1, post_written)) < 0)
        post_finish(p, status);
}

int http_post(uv_loop_t *loop, const char *host, int port, const char *path,
              const char *content_type, const char *body, size_t len, http_post_fn cb, void *arg)
{
    struct sockaddr_storage ss;
    hpost_t *p;
    char head[512];
    int n, rc;
    if (!strcmp(host, "localhost")) host = "127.0.0.1";
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) && uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss))
        return UV_EINVAL;
    n = snprintf(head, sizeof head,
                 "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n", path, host, port, content_type, len);
    if (n < 0 || (size_t)n >= sizeof head) return UV_EINVAL;
    if (!(p = calloc(1, sizeof *p + (size_t)n + len))) return UV_ENOMEM;
    memcpy(p->data, head, (size_t)n);
    memcpy(p->data + n, body, len);
    p->len = (size_t)n + len;
    p->cb = cb;
    p->arg = arg;
    uv_tcp_init(loop, &p->tcp);
    uv_timer_init(loop, &p->timer);
    p->tcp.data = p->timer.data = p->connect.data = p;
    p->handles = 2;
    uv_timer_start(&p->timer, post_timeout, 10000, 0);
    if ((rc = uv_tcp_connect(&p->connect, &p->tcp, (struct sockaddr *)&ss, post_connected)) < 0) {
        p->done = 1;
        uv_close((uv_handle_t *)&p->tcp, post_closed);
        uv_close((uv_handle_t *)&p->timer, post_closed);
        return rc;
    }
    return 0;
}
