/* net.c -- libuv transport for sessions: accept/connect, read -> sess_feed,
 * batched writes in the prepare phase, per-session timer, back-pressure,
 * close after the last write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net.h"
#include "tls.h"

typedef struct conn_s conn_t;
typedef struct map_slot_s { uint64_t id; conn_t *c; } map_slot_t;

struct conn_s {
    uv_tcp_t        tcp;
    uv_timer_t      timer;
    net_t          *net;
    sess_t         *sess;
    uint64_t        armed;        /* deadline the timer is set for (0 = none) */
    size_t          inflight;     /* octets handed to uv_write, not yet written */
    int             reading;
    int             dirty;        /* on net->dirty: flush output, re-arm timer */
    int             closing;      /* sess asked to close: finish writes, then close */
    int             shut;         /* uv_shutdown started (FIN after the last write) */
    int             eof;          /* the peer closed its side */
    int             handles;      /* uv handles still open (tcp, timer) */
    int             announced;    /* owner.opened was called */
    intptr_t        owner_data;
    char            remote[64];
    char            local[64];    /* our address of this connection */
    net_connect_fn  connect_cb;
    void           *connect_arg;
    tls_conn_t     *tls;          /* NULL for plain TCP */
    conn_t         *next, *prev;  /* all connections */
    conn_t         *dirty_next;
};

typedef struct listener_s {
    uv_tcp_t        tcp;
    net_t          *net;
    char            host[64];
    int             port;         /* as bound */
    tls_ctx_t      *tls;          /* TLS listener, or NULL */
    sess_side_t     side;
    sess_config_t   cfg;
    struct listener_s *next;
} listener_t;

struct net_s {
    uv_loop_t      *loop;
    const net_owner_t *owner;
    void           *ud;
    uv_prepare_t    prepare;
    conn_t         *conns;
    conn_t         *dirty;
    listener_t     *listeners;
    size_t          count;
    size_t          max_total, max_per_address;
    uint64_t        refused;
    int             shutting_down;
    /* id -> conn, open addressing (ids only grow; deleted slots are
     * tombstoned and the table is rebuilt when it fills) */
    map_slot_t     *map;
    size_t          map_cap, map_used;
    int             prepare_closed;
};

typedef struct write_s {
    uv_write_t      req;
    conn_t         *c;
    uint8_t        *data;
    size_t          len;
} write_t;

static void conn_close_handles(conn_t *c);
static void shutdown_conn(conn_t *c);
static void read_start(conn_t *c);
static void close_prepare(net_t *n);

/* -- id map --------------------------------------------------------------------- */

#define TOMB ((conn_t *)1)

static int map_put(net_t *n, uint64_t id, conn_t *c)
{
    size_t i;
    if ((n->map_used + 1) * 2 > n->map_cap) {   /* grow and drop tombstones */
        size_t cap = n->map_cap ? n->map_cap * 2 : 64, j;
        map_slot_t *old = n->map;
        size_t old_cap = n->map_cap;
        n->map = calloc(cap, sizeof *n->map);
        if (!n->map) { n->map = old; return -1; }
        n->map_cap = cap;
        n->map_used = 0;
        for (j = 0; j < old_cap; j++)
            if (old[j].c && old[j].c != TOMB) map_put(n, old[j].id, old[j].c);
        free(old);
    }
    for (i = (size_t)(id * 11400714819323198485ull) & (n->map_cap - 1); n->map[i].c;
         i = (i + 1) & (n->map_cap - 1)) {}
    n->map[i].id = id;
    n->map[i].c = c;
    n->map_used++;
    return 0;
}

static size_t map_slot(const net_t *n, uint64_t id)
{
    size_t i;
    if (!n->map_cap) return (size_t)-1;
    for (i = (size_t)(id * 11400714819323198485ull) & (n->map_cap - 1); n->map[i].c;
         i = (i + 1) & (n->map_cap - 1))
        if (n->map[i].c != TOMB && n->map[i].id == id) return i;
    return (size_t)-1;
}

sess_t *net_find(net_t *n, uint64_t id)
{
    size_t i = map_slot(n, id);
    return i == (size_t)-1 ? NULL : n->map[i].c->sess;
}

/* -- Scheduling: output and timers ---------------------------------------------- */

static void mark_dirty(conn_t *c)
{
    if (c->dirty) return;
    c->dirty = 1;
    c->dirty_next = c->net->dirty;
    c->net->dirty = c;
}

/* Take c off the dirty list before it is freed (a connection can be
 * marked, e.g. by a failed connect, and closed before the next prepare). */
static void unmark_dirty(conn_t *c)
{
    conn_t **pp;
    if (!c->dirty) return;
    for (pp = &c->net->dirty; *pp; pp = &(*pp)->dirty_next)
        if (*pp == c) {
            *pp = c->dirty_next;
            break;
        }
    c->dirty = 0;
}

void net_touch(sess_t *s)
{
    mark_dirty(sess_userdata(s));
}

static void on_write(uv_write_t *req, int status)
{
    write_t *w = (write_t *)req;
    conn_t *c = w->c;
    c->inflight -= w->len;
    free(w->data);
    free(w);
    if (!c->sess) return;                       /* handles are closing */
    sess_set_inflight(c->sess, c->inflight);
    if (status < 0) log_msg(LOG_WARN, sess_id(c->sess), "write failed: %s", uv_strerror(status));
    if (status < 0 && !c->closing) sess_close(c->sess, "write failed");
    if (c->closing) return;
    /* back-pressure released: the peer reads again */
    if (!c->reading && sess_output_pending(c->sess) <= sess_config(c->sess)->max_output / 2)
        read_start(c);
}

static void flush(conn_t *c)
{
    size_t len;
    uint8_t *data;
    write_t *w;
    uv_buf_t buf;
    int rc;
    if (!c->sess || c->handles < 2) return;
    data = sess_output_take(c->sess, &len);
    if (c->tls) {                       /* encrypt; the handshake may add its own bytes */
        if (data && tls_write(c->tls, data, len) < 0) {
            free(data);
            sess_close(c->sess, "TLS write failed");
            return;
        }
        free(data);
        data = tls_take_output(c->tls, &len);
    }
    if (!data) return;
    if (!(w = malloc(sizeof *w))) {
        free(data);
        sess_close(c->sess, "out of memory");
        return;
    }
    w->c = c;
    w->data = data;
    w->len = len;
    buf = uv_buf_init((char *)data, (unsigned)len);
    c->inflight += len;
    sess_set_inflight(c->sess, c->inflight);
    if ((rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write)) < 0) {
        log_msg(LOG_WARN, sess_id(c->sess), "write failed: %s", uv_strerror(rc));
        c->inflight -= len;
        free(data);
        free(w);
        sess_close(c->sess, "write failed");
    }
}

/* Lingering close: FIN after the queued writes, then read and discard what
 * the peer still sends until it closes too (or the grace timer fires).
 * Closing at once would answer unread input with a RST, and the peer could
 * lose our last PDU (a generic_nack, an unbind_resp). */
static void on_discard(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread < 0) conn_close_handles(st->data);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);

static void on_shutdown(uv_shutdown_t *req, int status)
{
    conn_t *c = req->data;
    free(req);
    if (status < 0 || c->handles < 2 || c->eof
        || uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_discard) < 0)
        conn_close_handles(c);
}

static void shutdown_conn(conn_t *c)
{
    uv_shutdown_t *req;
    if (c->shut || c->handles < 2) return;
    c->shut = 1;
    if (!(req = malloc(sizeof *req))) {
        conn_close_handles(c);
        return;
    }
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        free(req);
        conn_close_handles(c);
    }
}

static void on_timer(uv_timer_t *t)
{
    conn_t *c = t->data;
    c->armed = 0;
    if (!c->sess || c->closing) {
        if (c->closing) conn_close_handles(c);  /* the close grace period ran out */
        return;
    }
    sess_tick(c->sess, uv_now(c->net->loop));
    mark_dirty(c);
}

static void rearm(conn_t *c)
{
    uint64_t d, now;
    if (c->closing) return;
    d = sess_next_deadline(c->sess);
    if (d == c->armed) return;
    c->armed = d;
    if (!d) {
        uv_timer_stop(&c->timer);
        return;
    }
    now = uv_now(c->net->loop);
    uv_timer_start(&c->timer, on_timer, d > now ? d - now : 0, 0);
}

/* Before the loop blocks: write what every touched session queued, close
 * those that finished, re-arm their timers. */
static void on_prepare(uv_prepare_t *p)
{
    net_t *n = p->data;
    while (n->dirty) {
        conn_t *c = n->dirty;
        n->dirty = c->dirty_next;
        c->dirty = 0;
        if (!c->sess) continue;
        flush(c);
        if (c->closing) shutdown_conn(c);
        else rearm(c);
    }
}

/* -- Connections ------------------------------------------------------------------ */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    /* One loop thread: every read lands in this buffer and is fed at once;
     * a partial PDU is copied into the session. Idle sessions hold nothing. */
    static char shared[65536];
    (void)h;
    (void)hint;
    *buf = uv_buf_init(shared, sizeof shared);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = st->data;
    if (!c->sess) return;
    if (nread > 0 && c->tls) {
        const uint8_t *plain;
        size_t plen;
        if (tls_feed(c->tls, (const uint8_t *)buf->base, (size_t)nread, &plain, &plen) < 0) {
            log_msg(LOG_WARN, sess_id(c->sess), "%s", tls_error(c->tls));
            sess_close(c->sess, "TLS failure");
            mark_dirty(c);
            return;
        }
        mark_dirty(c);                  /* handshake answers go out with the next flush */
        if (!plen) return;
        sess_feed(c->sess, plain, plen, uv_now(c->net->loop));
        if (!c->closing && sess_output_pending(c->sess) > sess_config(c->sess)->max_output) {
            uv_read_stop(st);
            c->reading = 0;
        }
        return;
    }
    if (nread > 0) {
        sess_feed(c->sess, (const uint8_t *)buf->base, (size_t)nread, uv_now(c->net->loop));
        if (!c->closing && sess_output_pending(c->sess) > sess_config(c->sess)->max_output) {
            log_msg(LOG_WARN, sess_id(c->sess), "peer is not reading: pausing input");
            uv_read_stop(st);
            c->reading = 0;
        }
        mark_dirty(c);
    } else if (nread < 0) {
        uv_read_stop(st);
        c->reading = 0;
        c->eof = 1;
        if (!c->closing)
            sess_close(c->sess, nread == UV_EOF ? "peer closed the connection" : uv_strerror((int)nread));
        mark_dirty(c);
    }
}

static void read_start(conn_t *c)
{
    if (c->reading || c->closing) return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
}

static void on_handle_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    net_t *n = c->net;
    size_t i;
    if (--c->handles > 0) return;
    if (c->sess) {
        if (c->announced && n->owner->closed)
            n->owner->closed(n, c->sess, sess_close_reason(c->sess), n->ud);
        if ((i = map_slot(n, sess_id(c->sess))) != (size_t)-1) n->map[i].c = TOMB;
        sess_free(c->sess);
        c->sess = NULL;
    }
    if (c->prev) c->prev->next = c->next;
    else n->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    n->count--;
    unmark_dirty(c);
    tls_conn_free(c->tls);
    free(c);
    if (n->shutting_down && !n->conns) {
        close_prepare(n);
        if (n->owner->drained) n->owner->drained(n, n->ud);
    }
}

static void close_prepare(net_t *n)
{
    if (n->prepare_closed) return;
    n->prepare_closed = 1;
    uv_close((uv_handle_t *)&n->prepare, NULL);
}

static void conn_close_handles(conn_t *c)
{
    if (c->handles < 2 || uv_is_closing((uv_handle_t *)&c->tcp)) return;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

/* sess_handler_t: the engine's calls, routed to the owner. */
static void h_request(sess_t *s, const pdu_t *req, void *ud)
{
    conn_t *c = ud;
    if (c->net->owner->request) c->net->owner->request(c->net, s, req, c->net->ud);
    else sess_respond(s, req->sequence_number, NULL, SMPP_ESME_RINVCMDID, uv_now(c->net->loop));
}

static void h_state(sess_t *s, sess_state_t old, void *ud)
{
    conn_t *c = ud;
    if (c->announced && c->net->owner->state) c->net->owner->state(c->net, s, old, c->net->ud);
}

static void h_output(sess_t *s, void *ud)
{
    (void)s;
    mark_dirty(ud);
}

static void h_close(sess_t *s, const char *reason, void *ud)
{
    conn_t *c = ud;
    (void)s;
    (void)reason;
    c->closing = 1;
    if (c->tls) tls_shutdown(c->tls);   /* close_notify goes out with the last flush */
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    /* Give the last writes (a nack, an unbind_resp) 2 s, then close anyway. */
    if (c->handles == 2) uv_timer_start(&c->timer, on_timer, 2000, 0);
    mark_dirty(c);
}

static const sess_handler_t handler = {h_request, h_state, h_output, h_close};

static conn_t *conn_new(net_t *n, sess_side_t side, const sess_config_t *cfg)
{
    conn_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->net = n;
    uv_tcp_init(n->loop, &c->tcp);
    uv_timer_init(n->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    c->next = n->conns;                         /* linked first: the close path unlinks */
    if (n->conns) n->conns->prev = c;
    n->conns = c;
    n->count++;
    c->sess = sess_new(side, cfg, &handler, c, uv_now(n->loop));
    if (!c->sess || map_put(n, sess_id(c->sess), c)) {
        if (c->sess) { sess_free(c->sess); c->sess = NULL; }
        conn_close_handles(c);                  /* frees c once closed */
        return NULL;
    }
    return c;
}

/* "host:port" of one end of the connection. */
static void addr_name(conn_t *c, int peer, char *out, size_t n)
{
    struct sockaddr_storage ss;
    int len = sizeof ss, rc;
    char host[48] = "?";
    int port = 0;
    rc = peer ? uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len)
              : uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &len);
    if (rc == 0) {
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof host);
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof host);
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
    }
    snprintf(out, n, "%s:%d", host, port);
}

static void announce(conn_t *c)
{
    uv_tcp_nodelay(&c->tcp, 1);
    addr_name(c, 1, c->remote, sizeof c->remote);
    addr_name(c, 0, c->local, sizeof c->local);
    read_start(c);
    c->announced = 1;
    log_msg(LOG_INFO, sess_id(c->sess), "connection %s %s", 
            sess_side(c->sess) == SESS_SMSC ? "from" : "to", c->remote);
    if (c->net->owner->opened) c->net->owner->opened(c->net, c->sess, c->net->ud);
    mark_dirty(c);
}

/* Connections from the peer's address, ignoring the port. */
static size_t count_from(net_t *n, const char *remote)
{
    const char *colon = strrchr(remote, ':');
    size_t hl = colon ? (size_t)(colon - remote) : strlen(remote), k = 0;
    conn_t *c;
    for (c = n->conns; c; c = c->next)
        if (c->announced && !strncmp(c->remote, remote, hl) && c->remote[hl] == ':') k++;
    return k;
}

static void refuse_conn(uv_stream_t *server, const char *why)
{
    listener_t *l = server->data;
    uv_tcp_t *t = malloc(sizeof *t);
    l->net->refused++;
    if (!t) return;
    uv_tcp_init(server->loop, t);
    if (uv_accept(server, (uv_stream_t *)t) == 0 && l->net->refused % 1000 == 1)
        log_msg(LOG_WARN, 0, "connection refused: %s (%llu refused so far)", why,
                (unsigned long long)l->net->refused);
    uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

static void on_connection(uv_stream_t *server, int status)
{
    listener_t *l = server->data;
    net_t *n = l->net;
    conn_t *c;
    if (status < 0) {              /* e.g. out of descriptors: libuv dropped the connection */
        n->refused++;
        log_msg(LOG_WARN, 0, "connection not accepted: %s (is limits.max_connections above the open-files limit?)",
                uv_strerror(status));
        return;
    }
    if (n->shutting_down) return;
    if (n->max_total && n->count >= n->max_total) {
        refuse_conn(server, "too many connections");
        return;
    }
    if (!(c = conn_new(n, l->side, &l->cfg))) return;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        sess_close(c->sess, "accept failed");
        return;
    }
    if (l->tls && !(c->tls = tls_conn_new(l->tls, NULL))) {
        sess_close(c->sess, "TLS: out of memory");
        return;
    }
    if (n->max_per_address) {
        addr_name(c, 1, c->remote, sizeof c->remote);
        if (count_from(n, c->remote) >= n->max_per_address) {
            n->refused++;
            if (n->refused % 1000 == 1)
                log_msg(LOG_WARN, 0, "connection from %s refused: more than %zu from that address",
                        c->remote, n->max_per_address);
            sess_close(c->sess, "too many connections from that address");
            return;
        }
    }
    announce(c);
}

void net_set_limits(net_t *n, size_t max_total, size_t max_per_address)
{
    n->max_total = max_total;
    n->max_per_address = max_per_address;
}

uint64_t net_refused(const net_t *n) { return n->refused; }

/* -- Addresses ------------------------------------------------------------------- */

static int resolve(const char *host, int port, struct sockaddr_storage *ss)
{
    if (!strcmp(host, "localhost")) host = "127.0.0.1";
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0) return 0;
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0) return 0;
    return UV_EINVAL;
}

/* -- Public ----------------------------------------------------------------------- */

net_t *net_new(uv_loop_t *loop, const net_owner_t *owner, void *ud)
{
    net_t *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->loop = loop;
    n->owner = owner;
    n->ud = ud;
    uv_prepare_init(loop, &n->prepare);
    n->prepare.data = n;
    uv_prepare_start(&n->prepare, on_prepare);
    uv_unref((uv_handle_t *)&n->prepare);       /* it must not keep the loop alive */
    return n;
}

int net_listen(net_t *n, const char *host, int port, sess_side_t side,
               const sess_config_t *cfg, int *bound_port)
{
    return net_listen_tls(n, host, port, side, cfg, NULL, bound_port);
}

/* A listener owns its TLS context: both go when it closes. */
static void on_listener_closed(uv_handle_t *h)
{
    listener_t *l = h->data;
    tls_ctx_free(l->tls);
    free(l);
}

int net_listen_tls(net_t *n, const char *host, int port, sess_side_t side,
                   const sess_config_t *cfg, tls_ctx_t *tls, int *bound_port)
{
    struct sockaddr_storage ss;
    listener_t *l;
    int rc;
    if ((rc = resolve(host, port, &ss)) || !(l = calloc(1, sizeof *l))) {
        tls_ctx_free(tls);
        return rc ? rc : UV_ENOMEM;
    }
    l->net = n;
    l->side = side;
    l->cfg = *cfg;
    l->tls = tls;
    uv_tcp_init(n->loop, &l->tcp);
    l->tcp.data = l;
    if ((rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0)) < 0
        || (rc = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection)) < 0) {
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        return rc;
    }
    {
        struct sockaddr_storage b;
        int len = sizeof b;
        uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&b, &len);
        l->port = ntohs(b.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&b)->sin6_port
                                                : ((struct sockaddr_in *)&b)->sin_port);
        if (bound_port) *bound_port = l->port;
    }
    snprintf(l->host, sizeof l->host, "%s", host);
    l->next = n->listeners;
    n->listeners = l;
    return 0;
}

int net_unlisten(net_t *n, const char *host, int port)
{
    listener_t **pp, *l;
    for (pp = &n->listeners; (l = *pp) != NULL; pp = &l->next) {
        if (l->port == port && strcmp(l->host, host) == 0) {
            *pp = l->next;
            uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
            return 0;
        }
    }
    return UV_ENOENT;
}

typedef struct connect_req_s {
    uv_connect_t req;
    conn_t *c;
} connect_req_t;

static void on_connect(uv_connect_t *req, int status)
{
    connect_req_t *r = (connect_req_t *)req;
    conn_t *c = r->c;
    free(r);
    if (status < 0 || !c->sess) {
        if (c->connect_cb) c->connect_cb(c->net, NULL, status < 0 ? status : UV_ECANCELED, c->connect_arg);
        if (c->sess) sess_close(c->sess, "connect failed");
        conn_close_handles(c);
        return;
    }
    announce(c);
    if (c->tls) tls_start(c->tls);      /* the ClientHello */
    if (c->connect_cb) c->connect_cb(c->net, c->sess, 0, c->connect_arg);
}

int net_connect(net_t *n, const char *host, int port, sess_side_t side,
                const sess_config_t *cfg, net_connect_fn cb, void *arg)
{
    return net_connect_tls(n, host, port, side, cfg, NULL, NULL, cb, arg);
}

int net_connect_tls(net_t *n, const char *host, int port, sess_side_t side,
                    const sess_config_t *cfg, tls_ctx_t *tls, const char *hostname,
                    net_connect_fn cb, void *arg)
{
    struct sockaddr_storage ss;
    connect_req_t *r;
    conn_t *c;
    int rc;
    if ((rc = resolve(host, port, &ss))) return rc;
    if (!(r = malloc(sizeof *r))) return UV_ENOMEM;
    if (!(c = conn_new(n, side, cfg))) {
        free(r);
        return UV_ENOMEM;
    }
    c->connect_cb = cb;
    c->connect_arg = arg;
    if (tls && !(c->tls = tls_conn_new(tls, hostname ? hostname : host))) {
        free(r);
        sess_close(c->sess, "TLS: out of memory");
        conn_close_handles(c);
        return UV_ENOMEM;
    }
    r->c = c;
    snprintf(c->remote, sizeof c->remote, "%s:%d", host, port);
    if ((rc = uv_tcp_connect(&r->req, &c->tcp, (struct sockaddr *)&ss, on_connect)) < 0) {
        free(r);
        sess_close(c->sess, "connect failed");
        conn_close_handles(c);
        return rc;
    }
    return 0;
}

void net_shutdown(net_t *n)
{
    listener_t *l;
    conn_t *c;
    if (n->shutting_down) return;
    n->shutting_down = 1;
    while ((l = n->listeners) != NULL) {
        n->listeners = l->next;
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
    }
    for (c = n->conns; c; c = c->next) {
        sess_state_t st;
        if (!c->sess || c->closing) continue;
        st = sess_state(c->sess);
        if (st == SESS_BOUND_TX || st == SESS_BOUND_RX || st == SESS_BOUND_TRX)
            sess_unbind(c->sess, uv_now(n->loop));
        else if (st != SESS_UNBINDING)
            sess_close(c->sess, "shutdown");
        mark_dirty(c);
    }
    if (!n->conns) {
        close_prepare(n);
        if (n->owner->drained) n->owner->drained(n, n->ud);
    }
}

int net_is_shutting_down(const net_t *n) { return n->shutting_down; }

void net_free(net_t *n)
{
    if (!n) return;
    free(n->map);
    free(n);
}

void net_foreach(net_t *n, void (*fn)(sess_t *s, void *arg), void *arg)
{
    conn_t *c, *next;
    for (c = n->conns; c; c = next) {
        next = c->next;
        if (c->sess && c->announced) fn(c->sess, arg);
    }
}

const char *net_remote(const sess_t *s)
{
    const conn_t *c = sess_userdata(s);
    return c->remote;
}

const char *net_local(const sess_t *s)
{
    const conn_t *c = sess_userdata(s);
    return c->local;
}

void net_set_owner_data(sess_t *s, intptr_t v) { ((conn_t *)sess_userdata(s))->owner_data = v; }
intptr_t net_owner_data(const sess_t *s) { return ((const conn_t *)sess_userdata(s))->owner_data; }
uint64_t net_now(const net_t *n) { return uv_now(n->loop); }
uv_loop_t *net_loop(const net_t *n) { return n->loop; }
size_t net_count(const net_t *n) { return n->count; }
