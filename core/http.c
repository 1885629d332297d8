/* http.c -- HTTP/1.1 server for the API and dashboard (see http.h; the
 * client that posts callbacks is http_client.c).
 *
 * A connection is IDLE (waiting for a request: the head timer on a new
 * connection, the idle timer after an answer), HEAD (a request's first
 * byte came: the head timer), BODY (its head passed the checks -- token,
 * one Authorization header, declared size within its route's -- so nothing of a refused body
 * is ever buffered: the body timer), BUSY (the owner has the request:
 * reading stops, no timer), or LINGER (an error was answered: what the
 * client still sends is read and dropped for a moment so that it can read
 * the answer, then the connection closes). Bytes that came after a
 * request (pipelining) wait in `pending` and are parsed once the answer
 * before them is written, so answers go out in order and a client that
 * does not read its answers stops being read.
 *
 * Who owns what: a connection owns its URL, body and pending buffers and
 * is freed when both of its handles are closed; it is never closed while
 * the owner holds its request (closing waits for the answer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "http.h"
#include "http_defaults.h"               /* generated from lua/smpp/config.lua */
#include "http_int.h"
#include "log.h"

enum { HC_IDLE, HC_HEAD, HC_BODY, HC_BUSY, HC_LINGER };
enum { H_OTHER, H_CTYPE, H_AUTH, H_EXPECT };

#define HTTP_LINGER_MS  5000           /* after an error answer, before closing */
#define HTTP_LINGER_MAX (4u << 20)     /* octets dropped while lingering, at most */
#define HTTP_BODY_FIRST 65536          /* body octets room is made for at the head, at most */

typedef struct hlisten_s {
    uv_tcp_t         tcp;
    http_handler_fn  fn;
    void            *ud;
    struct hlisten_s *next;
} hlisten_t;

typedef struct hconn_s {
    uv_tcp_t      tcp;                 /* first: the handle's address is the connection's */
    uv_timer_t    timer;
    int           handles;             /* open handles; freed when the last closes */
    http_handler_fn fn;                /* the listener's owner */
    void         *ud;
    http_parser   parser;
    http_req_t    req;
    int           state;
    char          method[16];
    char         *url, *body, *pending;
    size_t        url_len, body_len, body_cap, pending_len, pending_off;
    char          ctype[256], auth[512], expect[32];
    char          account[HTTP_ACCOUNT_MAX + 1];   /* whose token the request carries (http_auth.c) */
    int           role;
    size_t        body_max;            /* the most its route takes (http_auth.c) */
    uint64_t      since;               /* loop time it was accepted, or its request began */
    size_t        ctype_len, auth_len, expect_len;
    char          field[32];           /* the header name being read (its start) */
    size_t        field_len;
    int           which, in_value, auth_count;
    size_t        header_bytes, dropped;
    size_t        out_bytes;           /* answer octets queued, not yet written */
    char          addr[48];            /* the peer's address without the port */
    int           keep_alive, closing, close_when_answered;
    uint64_t      answered;            /* requests answered on this connection */
    struct hconn_s *next, *prev;       /* conns: newest first */
} hconn_t;

/* One API per process: the options of the last http_listen hold for
 * every listener (connections never point back at a listener, which a
 * shutdown frees while answers are still being written). */
static http_opts_t opts;
static char opts_token[HTTP_TOKEN_MAX + 1];
static hlisten_t *listeners;
static hconn_t *conns;
static http_stats_t stats;
static http_parser_settings settings;

void http_opts_default(http_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->max_connections = HTTP_DEFAULT_max_connections;
    o->max_per_address = HTTP_DEFAULT_max_per_address;
    o->max_body = HTTP_DEFAULT_max_body;
    o->header_timeout_ms = (unsigned)(HTTP_DEFAULT_header_timeout * 1000);
    o->body_timeout_ms = (unsigned)(HTTP_DEFAULT_body_timeout * 1000);
    o->idle_timeout_ms = (unsigned)(HTTP_DEFAULT_idle_timeout * 1000);
}

void http_get_stats(http_stats_t *out) { *out = stats; }

/* -- Connections ---------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    hconn_t *c = h->data;
    if (--c->handles > 0) return;
    free(c->url);
    free(c->body);
    free(c->pending);
    free(c);
}

/* Close now, or (while the owner holds a request) once it is answered. */
static void conn_close(hconn_t *c)
{
    if (c->closing) return;
    if (c->state == HC_BUSY) {
        c->close_when_answered = 1;
        return;
    }
    c->closing = 1;
    if (c->prev) c->prev->next = c->next;
    else conns = c->next;
    if (c->next) c->next->prev = c->prev;
    stats.open--;
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_timer(uv_timer_t *t);

static void timer_arm(hconn_t *c, unsigned ms)
{
    if (ms) uv_timer_start(&c->timer, on_timer, ms, 0);
    else uv_timer_stop(&c->timer);
}

static void pending_drop(hconn_t *c)
{
    free(c->pending);
    c->pending = NULL;
    c->pending_len = c->pending_off = 0;
}

/* -- Writing -------------------------------------------------------------------- */

typedef struct hwrite_s {
    uv_write_t req;
    hconn_t   *c;
    size_t     len;
    int        close_after;
    char       data[1];
} hwrite_t;

static void resume(hconn_t *c);
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void on_shutdown(uv_shutdown_t *req, int status)
{
    hconn_t *c = req->data;
    free(req);
    if (c->closing) return;
    /* after an error answer (LINGER) the client closes, or the timer does:
     * closing at once could reset the connection before it read the answer */
    if (status < 0 || c->state != HC_LINGER) conn_close(c);
}

static void on_written(uv_write_t *req, int status)
{
    hwrite_t *w = (hwrite_t *)req;
    hconn_t *c = w->c;
    int close_after = w->close_after;
    uv_shutdown_t *sd;
    c->out_bytes -= w->len;
    free(w);
    if (c->closing) return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (!close_after) {
        if (c->state == HC_IDLE && c->out_bytes == 0) resume(c);
        return;
    }
    if (!(sd = malloc(sizeof *sd))) {
        conn_close(c);
        return;
    }
    sd->data = c;
    if (uv_shutdown(sd, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        free(sd);
        conn_close(c);
    }
}

static void write_raw(hconn_t *c, const char *head, size_t hlen, const char *body, size_t blen,
                      int close_after)
{
    hwrite_t *w = malloc(sizeof *w + hlen + blen);
    uv_buf_t buf;
    if (!w) {
        conn_close(c);
        return;
    }
    memcpy(w->data, head, hlen);
    if (blen) memcpy(w->data + hlen, body, blen);
    w->c = c;
    w->len = hlen + blen;
    w->close_after = close_after;
    c->out_bytes += w->len;
    buf = uv_buf_init(w->data, (unsigned)w->len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written) < 0) {
        c->out_bytes -= w->len;
        free(w);
        conn_close(c);
    }
}

/* An error found before the owner saw the request: a JSON answer, then
 * LINGER until the client closes (or the timer). */
static void fail(hconn_t *c, int status, const char *what)
{
    char head[HTTP_HEAD_MAX], body[256];
    int hn, bn;
    if (c->closing || c->state == HC_LINGER) return;
    bn = snprintf(body, sizeof body, "{\"error\":\"%s\"}", what);
    if (bn < 0 || (size_t)bn >= sizeof body) bn = snprintf(body, sizeof body, "{\"error\":\"bad request\"}");
    hn = http_head(head, sizeof head, status, "application/json", (size_t)bn, 1);
    c->state = HC_LINGER;
    c->dropped = 0;
    pending_drop(c);
    timer_arm(c, HTTP_LINGER_MS);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);   /* to drop what follows */
    if (hn < 0) conn_close(c);
    else write_raw(c, head, (size_t)hn, body, (size_t)bn, 1);
}

void http_respond(void *conn, int status, const char *content_type, const char *body, size_t len)
{
    static const char bad[] = "{\"error\":\"internal error: an invalid answer (see the log)\"}";
    hconn_t *c = conn;
    char head[HTTP_HEAD_MAX];
    const char *why;
    int n, keep;
    if (c->state != HC_BUSY) return;
    c->state = HC_IDLE;
    c->answered++;
    free(c->body);
    c->body = NULL;
    c->body_len = c->body_cap = 0;
    if (c->close_when_answered || c->closing) {
        conn_close(c);
        return;
    }
    if (!content_type) content_type = "text/plain";
    why = http_answer_check(status, content_type, strlen(content_type));
    if (!why && len > UINT32_MAX - HTTP_HEAD_MAX) why = "the body is larger than 4 GiB";
    if (why) {
        const char *url = c->url ? c->url : "/";
        int plen = (int)strcspn(url, "?");   /* the query may hold the token */
        log_msg(LOG_ERROR, 0, "HTTP answer to %s %.*s replaced by a 500: %s", c->method, plen > 200 ? 200 : plen,
                url, why);
        status = 500;
        content_type = "application/json";
        body = bad;
        len = sizeof bad - 1;
    }
    keep = c->keep_alive && listeners != NULL;
    if ((n = http_head(head, sizeof head, status, content_type, len, !keep)) < 0) {
        conn_close(c);                       /* cannot happen: the inputs were checked */
        return;
    }
    /* the idle timer also bounds a client that never reads this answer */
    timer_arm(c, opts.idle_timeout_ms);
    write_raw(c, head, (size_t)n, body, len, !keep);
    /* the next request (pipelined or not) is read once this is written */
}

/* -- Parser callbacks --------------------------------------------------------------- */

static int append(char **buf, size_t *len, size_t *cap, const char *at, size_t n, size_t max)
{
    char *p;
    size_t want;
    if (*len + n > max) return -1;
    if (*len + n + 1 > *cap) {
        want = *cap ? *cap * 2 : 256;
        while (want < *len + n + 1) want *= 2;
        if (want > max + 1) want = max + 1;
        if (!(p = realloc(*buf, want))) return -1;
        *buf = p;
        *cap = want;
    }
    memcpy(*buf + *len, at, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static int on_begin(http_parser *p)
{
    hconn_t *c = p->data;
    c->state = HC_HEAD;
    c->url_len = c->body_len = 0;
    c->ctype_len = c->auth_len = c->expect_len = c->field_len = 0;
    c->ctype[0] = c->auth[0] = c->expect[0] = '\0';
    c->which = c->in_value = c->auth_count = 0;
    c->header_bytes = 0;
    c->since = uv_now(c->tcp.loop);
    timer_arm(c, opts.header_timeout_ms);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    hconn_t *c = p->data;
    char *u;
    if (c->url_len + n > HTTP_MAX_URL) {
        fail(c, 414, "URL too long");
        return -1;
    }
    if (!(u = realloc(c->url, c->url_len + n + 1))) {
        fail(c, 503, "out of memory");
        return -1;
    }
    memcpy(u + c->url_len, at, n);
    c->url = u;
    c->url_len += n;
    u[c->url_len] = '\0';
    return 0;
}

static int header_size(hconn_t *c, size_t n)
{
    c->header_bytes += n;
    if (c->header_bytes <= HTTP_MAX_HEADER) return 0;
    fail(c, 431, "headers too large");
    return -1;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    hconn_t *c = p->data;
    size_t room;
    if (header_size(c, n)) return -1;
    if (c->in_value) {                       /* a new header begins */
        c->in_value = 0;
        c->field_len = 0;
    }
    room = c->field_len < sizeof c->field - 1 ? sizeof c->field - 1 - c->field_len : 0;
    memcpy(c->field + c->field_len, at, n < room ? n : room);
    c->field_len += n;                       /* past the buffer: a name we do not need */
    c->field[c->field_len < sizeof c->field ? c->field_len : sizeof c->field - 1] = '\0';
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    hconn_t *c = p->data;
    char *dst = NULL;
    size_t *len = NULL, cap = 0;
    if (header_size(c, n)) return -1;
    if (!c->in_value) {                      /* the name is complete */
        c->in_value = 1;
        c->which = c->field_len >= sizeof c->field ? H_OTHER
                 : !strcasecmp(c->field, "content-type") ? H_CTYPE
                 : !strcasecmp(c->field, "authorization") ? H_AUTH
                 : !strcasecmp(c->field, "expect") ? H_EXPECT : H_OTHER;
        if (c->which == H_AUTH && ++c->auth_count > 1) {
            fail(c, 400, "two Authorization headers");
            return -1;
        }
        if (c->which == H_CTYPE) c->ctype_len = 0;
        if (c->which == H_EXPECT) c->expect_len = 0;
    }
    switch (c->which) {
    case H_CTYPE: dst = c->ctype; len = &c->ctype_len; cap = sizeof c->ctype; break;
    case H_AUTH: dst = c->auth; len = &c->auth_len; cap = sizeof c->auth; break;
    case H_EXPECT: dst = c->expect; len = &c->expect_len; cap = sizeof c->expect; break;
    default: return 0;
    }
    if (*len + n >= cap) {
        fail(c, 431, c->which == H_AUTH ? "Authorization header too long" : "header too long");
        return -1;
    }
    memcpy(dst + *len, at, n);
    *len += n;
    dst[*len] = '\0';
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    hconn_t *c = p->data;
    const http_opts_t *o = &opts;
    int chunked = (p->flags & F_CHUNKED) != 0;
    uint64_t declared = chunked || p->content_length == ULLONG_MAX ? 0 : p->content_length;
    char msg[96];
    /* HTTP/1.x only: a request line without a version (the parser's 0.9)
     * or another major version gets a JSON refusal, not an answer; a later
     * 1.x minor is served as 1.1 (RFC 9110, 2.5) */
    if (p->http_major != 1) {
        fail(c, p->http_major == 0 ? 400 : 505,
             p->http_major == 0 ? "request line without HTTP/1.1 or HTTP/1.0" : "HTTP version not supported: use HTTP/1.1 or HTTP/1.0");
        return -1;
    }
    c->role = http__identify(opts.token, c->auth, c->auth_len, c->url, c->account, sizeof c->account);
    if (c->role == HTTP_INVALID) {
        stats.unauthorized++;
        fail(c, 401, "missing or wrong token (Authorization: Bearer ... or else ?token=...)");
        return -1;
    }
    /* what its route takes: a larger body is never read */
    c->body_max = http__body_limit(http_method_str((enum http_method)p->method), c->url ? c->url : "/", o->max_body);
    if (declared > c->body_max) {
        snprintf(msg, sizeof msg, "body larger than %zu octets (%s)", c->body_max,
                 c->body_max < o->max_body ? "what this route takes" : "http.max_body");
        fail(c, 413, msg);
        return -1;
    }
    /* room for what comes at once; more as it arrives (append), so that a
     * client that declares a large body and sends little costs little */
    if (declared && !(c->body = malloc((size_t)(declared < HTTP_BODY_FIRST ? declared : HTTP_BODY_FIRST) + 1))) {
        fail(c, 503, "out of memory");
        return -1;
    }
    c->body_cap = declared ? (size_t)(declared < HTTP_BODY_FIRST ? declared : HTTP_BODY_FIRST) + 1 : 0;
    c->state = HC_BODY;
    timer_arm(c, o->body_timeout_ms);
    if ((declared || chunked) && !strcasecmp(c->expect, "100-continue")) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        write_raw(c, cont, sizeof cont - 1, NULL, 0, 0);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    hconn_t *c = p->data;
    char msg[96];
    if (append(&c->body, &c->body_len, &c->body_cap, at, n, c->body_max)) {
        snprintf(msg, sizeof msg, "body larger than %zu octets (%s)", c->body_max,
                 c->body_max < opts.max_body ? "what this route takes" : "http.max_body");
        fail(c, 413, msg);
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
    c->req.url = c->url && c->url_len ? c->url : "/";
    c->req.body = c->body ? c->body : "";
    c->req.body_len = c->body_len;
    c->req.content_type = c->ctype;
    c->req.authorization = c->auth;
    c->req.role = c->role;
    c->req.account = c->role == HTTP_ACCOUNT ? c->account : "";
    c->req.remote = c->addr;
    c->req.conn = c;
    c->state = HC_BUSY;
    timer_arm(c, 0);
    http_parser_pause(p, 1);                /* one request at a time: the rest waits */
    return 0;
}

/* -- Reading --------------------------------------------------------------------------- */

/* Feed bytes to the parser; returns how many it took (fewer when a request
 * completed: the rest belongs to the next one). */
static size_t parse(hconn_t *c, const char *data, size_t len)
{
    size_t n = http_parser_execute(&c->parser, &settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (c->closing || c->state == HC_LINGER) return len;
    if (e == HPE_PAUSED) {
        http_parser_pause(&c->parser, 0);
        return n;
    }
    if (e != HPE_OK) {
        /* http-parser names a chunk size past 2^64 as a bad Content-Length */
        fail(c, 400, e == HPE_INVALID_CONTENT_LENGTH && (c->parser.flags & F_CHUNKED) ? "invalid chunk size"
                                                                                   : http_errno_description(e));
        return len;
    }
    return len;
}

static void dispatch(hconn_t *c)
{
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->fn(&c->req, c->ud);
}

/* The answer is written: parse what came after the request, then read. */
static void resume(hconn_t *c)
{
    while (c->pending && c->state == HC_IDLE && !c->closing) {
        size_t n = parse(c, c->pending + c->pending_off, c->pending_len - c->pending_off);
        c->pending_off += n;
        if (c->pending_off >= c->pending_len) pending_drop(c);
        if (c->state == HC_BUSY) {
            dispatch(c);
            return;
        }
    }
    if (c->closing || c->state == HC_LINGER) return;
    if (c->state == HC_IDLE) timer_arm(c, opts.idle_timeout_ms);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    static char shared[65536];
    (void)h;
    (void)hint;
    *buf = uv_buf_init(shared, sizeof shared);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    hconn_t *c = st->data;
    size_t n, len = nread > 0 ? (size_t)nread : 0;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (!len || c->closing) return;
    if (c->state == HC_LINGER) {             /* after an error answer: dropped */
        c->dropped += len;
        if (c->dropped > HTTP_LINGER_MAX) conn_close(c);
        return;
    }
    if (c->state == HC_BUSY || c->pending) { /* a read that raced the stop: after the rest */
        char *p = realloc(c->pending, c->pending_len + len);
        uv_read_stop(st);
        if (!p) {
            conn_close(c);
            return;
        }
        memcpy(p + c->pending_len, buf->base, len);
        c->pending = p;
        c->pending_len += len;
        return;
    }
    n = parse(c, buf->base, len);
    if (c->state != HC_BUSY) return;
    if (n < len) {                           /* pipelined: kept for after the answer */
        if (!(c->pending = malloc(len - n))) {
            c->close_when_answered = 1;
        } else {
            memcpy(c->pending, buf->base + n, len - n);
            c->pending_len = len - n;
            c->pending_off = 0;
        }
    }
    dispatch(c);
}

static void on_timer(uv_timer_t *t)
{
    hconn_t *c = t->data;
    switch (c->state) {
    case HC_HEAD:
        stats.timeouts++;
        fail(c, 408, "request head not received in time");
        break;
    case HC_BODY:
        stats.timeouts++;
        fail(c, 408, "request body not received in time");
        break;
    case HC_BUSY:
        break;
    case HC_IDLE:                            /* a new connection that never sent a head */
        if (!c->answered) stats.timeouts++;  /* (after an answer: the idle timeout, not counted) */
        conn_close(c);
        break;
    default:                                 /* lingering after an error */
        conn_close(c);
    }
}

/* -- Accepting ------------------------------------------------------------------------- */

static size_t count_from(const char *addr)
{
    size_t k = 0;
    hconn_t *c;
    for (c = conns; c; c = c->next)
        if (!strcmp(c->addr, addr)) k++;
    return k;
}

static void peer_address(uv_tcp_t *t, char *out, size_t n)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    snprintf(out, n, "?");
    if (uv_tcp_getpeername(t, (struct sockaddr *)&ss, &len) != 0) return;
    if (ss.ss_family == AF_INET6) uv_ip6_name((struct sockaddr_in6 *)&ss, out, n);
    else uv_ip4_name((struct sockaddr_in *)&ss, out, n);
}

/* Past a limit: a 503 if the socket takes it at once, then close. */
static void refuse(hconn_t *c, const char *why)
{
    char msg[HTTP_HEAD_MAX + 200];
    char body[200];
    int bn, hn;
    uv_buf_t buf;
    stats.refused++;
    log_msg(LOG_WARN, 0, "HTTP connection from %s refused: %s", c->addr, why);
    bn = snprintf(body, sizeof body, "{\"error\":\"%s\"}", why);
    hn = http_head(msg, HTTP_HEAD_MAX, 503, "application/json", (size_t)bn, 1);
    if (hn >= 0 && bn >= 0 && (size_t)bn < sizeof body) {
        memcpy(msg + hn, body, (size_t)bn);
        buf = uv_buf_init(msg, (unsigned)(hn + bn));
        uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
    }
    uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
}

/* At max_connections, the connection that makes room for a new one: one
 * lingering after an error answer, else the one that has waited longest
 * in the middle of a request the owner does not yet have -- no request
 * head yet on a connection never answered, a head not complete, or a body
 * not complete that is not the admin's (a client that opens connections
 * and sends its heads or bodies slowly, or nothing) -- else the oldest
 * kept-alive connection between requests whose answers are all written,
 * else the oldest whose last answer is still being written (a client
 * that does not read). Never taken: a body the admin's token sent, and a
 * request the owner has. A client that sends its request promptly is
 * the newest of all, and its request is with the owner before a flood of
 * slow heads or slow bodies (from any number of addresses) gets to it. */
static hconn_t *evictable(const char **why)
{
    hconn_t *c, *found[4] = {NULL, NULL, NULL, NULL};
    static const char *const whys[4] = {
        "it was lingering after an error answer",
        "it had waited longest in the middle of a request (no head, or a slow head or body)",
        "it was idle between requests", "it was idle between requests, not reading its answer"};
    int i;
    for (c = conns; c; c = c->next) {        /* newest first: the last match is the oldest */
        if (c->closing) continue;
        if (c->state == HC_LINGER) found[0] = c;
        else if (c->state == HC_BUSY || (c->state == HC_BODY && c->role == HTTP_ADMIN)) continue;
        else if (c->state == HC_HEAD || c->state == HC_BODY || !c->answered) {
            if (!found[1] || c->since <= found[1]->since) found[1] = c;
        } else found[c->out_bytes ? 3 : 2] = c;
    }
    for (i = 0; i < 4; i++)
        if (found[i]) {
            *why = whys[i];
            return found[i];
        }
    return NULL;
}

static void on_connection(uv_stream_t *server, int status)
{
    hlisten_t *l = server->data;
    const http_opts_t *o = &opts;
    hconn_t *c, *old;
    const char *why;
    if (status < 0) {                        /* out of descriptors: libuv dropped it */
        stats.refused++;
        log_msg(LOG_WARN, 0, "HTTP connection refused: %s", uv_strerror(status));
        return;
    }
    if (!(c = calloc(1, sizeof *c))) return;
    uv_tcp_init(server->loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
        return;
    }
    peer_address(&c->tcp, c->addr, sizeof c->addr);
    /* one address first: it cannot make room for itself at others' expense
     * beyond its own share */
    if (o->max_per_address && count_from(c->addr) >= o->max_per_address) {
        refuse(c, "too many HTTP connections from this address (http.max_per_address)");
        return;
    }
    if (o->max_connections && stats.open >= o->max_connections) {
        if (!(old = evictable(&why))) {
            refuse(c, "too many HTTP connections (http.max_connections)");
            return;
        }
        stats.evicted++;
        log_msg(LOG_WARN, 0, "HTTP connection closed to make room for a new one: at http.max_connections, "
                "the one from %s, as %s", old->addr, why);
        conn_close(old);
    }
    uv_timer_init(server->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    c->fn = l->fn;
    c->ud = l->ud;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->next = conns;
    if (conns) conns->prev = c;
    conns = c;
    stats.open++;
    c->state = HC_IDLE;
    c->since = uv_now(server->loop);
    timer_arm(c, o->header_timeout_ms);      /* a new connection owes a request head */
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int http_listen(uv_loop_t *loop, const char *host, int port, const http_opts_t *o,
                http_handler_fn fn, void *ud, int *bound)
{
    struct sockaddr_storage ss;
    hlisten_t *l;
    int rc;
    if (!strcmp(host, "localhost")) host = "127.0.0.1";
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) && uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss))
        return UV_EINVAL;
    http_parser_settings_init(&settings);
    settings.on_message_begin = on_begin;
    settings.on_url = on_url;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_complete;
    if (o && o->token && strlen(o->token) >= sizeof opts_token) return UV_EINVAL;
    if (!(l = calloc(1, sizeof *l))) return UV_ENOMEM;
    if (o) opts = *o;
    else http_opts_default(&opts);
    snprintf(opts_token, sizeof opts_token, "%s", opts.token ? opts.token : "");
    opts.token = opts_token;
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
    http_set_tokens(NULL, NULL, 0);
    http_set_route_bodies(NULL, NULL, 0);             /* the accounts' tokens (http_auth.c) */
    while (listeners) {
        hlisten_t *l = listeners;
        listeners = l->next;
        uv_close((uv_handle_t *)&l->tcp, (uv_close_cb)free);
    }
    for (c = conns; c; c = next) {
        next = c->next;
        conn_close(c);                       /* a busy one closes after its answer */
    }
}
