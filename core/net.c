/* net.c -- libuv transport for sessions: accept/connect (host names
 * resolved at each connect), read -> sess_feed, batched writes in the
 * prepare phase, per-session timer, back-pressure, close after the last
 * write. It logs what the engine reports (sess.c writes no log lines).
 *
 * Who owns what: the net owns its sessions' context (sess_ctx_t), every
 * connection and listener, and the read buffer they share. A connection
 * owns its two handles (TCP, timer) and its session, freed when both
 * handles have closed. The output buffer being written is the session's,
 * lent until the write callback releases it (one such write at a time);
 * TLS ciphertext is copied into a write request of its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net.h"
#include "tls.h"

typedef struct conn_s conn_t;
typedef struct map_slot_s { uint64_t id; conn_t *c; } map_slot_t;
typedef struct connect_req_s connect_req_t;

struct conn_s {
    uv_tcp_t        tcp;
    uv_timer_t      timer;
    net_t          *net;
    sess_t         *sess;
    uint64_t        armed;        /* deadline the timer is set for (0 = none) */
    uv_write_t      wreq;         /* the write of the lent output buffer */
    const uint8_t  *wbuf;         /* that buffer, while it is written */
    size_t          inflight;     /* TLS ciphertext handed to uv_write, not yet written */
    int             reading;
    int             dirty;        /* on net->dirty: flush output, re-arm timer */
    int             closing;      /* sess asked to close: finish writes, then close */
    int             dead;         /* its handles are closing */
    int             shut;         /* uv_shutdown started (FIN after the last write) */
    int             eof;          /* the peer closed its side */
    int             handles;      /* uv handles still open (tcp, timer) */
    int             announced;    /* owner.opened was called */
    intptr_t        owner_data;
    char            remote[64];
    char            local[64];    /* our address of this connection */
    net_connect_fn  connect_cb;   /* called once, then NULL */
    void           *connect_arg;
    connect_req_t  *connecting;   /* a connect in progress */
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
    sess_ctx_t     *ctx;
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
    /* One loop thread: every read lands here and is fed at once; a partial
     * PDU is copied into the session, so idle sessions hold no input. */
    char            rbuf[65536];
};

/* A TLS write: ciphertext copied out of the TLS layer. */
typedef struct write_s {
    uv_write_t      req;
    uint8_t        *data;
    size_t          len;
} write_t;

/* Resolving and trying the addresses of a host name, one after another. */
struct connect_req_s {
    uv_getaddrinfo_t gai;
    uv_connect_t    req;
    conn_t         *c;            /* NULL once the connection is gone */
    struct addrinfo *res, *next;  /* resolved addresses; the next to try */
    struct sockaddr_storage literal;
    int             has_literal;
    int             resolving;    /* uv_getaddrinfo in progress */
    int             port;
    int             last_err;
};

static void conn_close_handles(conn_t *c);
static void shutdown_conn(conn_t *c);
static void read_start(conn_t *c);
static void close_prepare(net_t *n);
static void on_handle_closed(uv_handle_t *h);

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

static void read_pause(conn_t *c)
{
    if (!c->reading) return;
    uv_read_stop((uv_stream_t *)&c->tcp);      /* cannot fail on an open stream */
    c->reading = 0;
}

static void on_write(uv_write_t *req, int status)
{
    conn_t *c = req->data;
    if (req == &c->wreq) {              /* the session's lent buffer */
        const uint8_t *buf = c->wbuf;
        c->wbuf = NULL;
        if (c->sess) sess_output_release(c->sess, buf);   /* what was queued meanwhile goes next */
    } else {                            /* TLS ciphertext */
        write_t *w = (write_t *)req;
        c->inflight -= w->len;
        free(w->data);
        free(w);
        if (c->sess) sess_set_inflight(c->sess, c->inflight);
    }
    if (!c->sess) return;                       /* handles are closing */
    if (status < 0) log_msg(LOG_WARN, sess_id(c->sess), "write failed: %s", uv_strerror(status));
    if (status < 0 && !c->closing) sess_close(c->sess, "write failed");
    if (c->closing) {
        mark_dirty(c);                  /* the rest of the output, then the shutdown */
        return;
    }
    /* back-pressure released: the peer reads again */
    if (!c->reading && sess_output_pending(c->sess) <= sess_config(c->sess)->max_output / 2)
        read_start(c);
}

/* Write `len` octets: the lent buffer through c->wreq, or TLS ciphertext
 * (malloc'd, owned by the write). Returns 0 or a libuv error. */
static int write_out(conn_t *c, const uint8_t *data, size_t len, int lent)
{
    uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
    uv_write_t *req;
    int rc;
    if (lent) {
        req = &c->wreq;
        c->wbuf = data;
    } else {
        write_t *w = malloc(sizeof *w);
        if (!w) return UV_ENOMEM;
        w->data = (uint8_t *)data;
        w->len = len;
        req = &w->req;
        c->inflight += len;
        sess_set_inflight(c->sess, c->inflight);
    }
    req->data = c;
    if ((rc = uv_write(req, (uv_stream_t *)&c->tcp, &buf, 1, on_write)) < 0) {
        if (lent) {
            c->wbuf = NULL;
        } else {
            c->inflight -= len;
            sess_set_inflight(c->sess, c->inflight);
            free(req);
        }
    }
    return rc;
}

static void flush(conn_t *c)
{
    size_t len;
    const uint8_t *plain;
    uint8_t *cipher;
    int rc;
    if (!c->sess || c->dead || c->handles < 2) return;
    if (!c->tls) {
        if (c->wbuf || !(plain = sess_output_take(c->sess, &len))) return;   /* busy, or nothing */
        if ((rc = write_out(c, plain, len, 1)) < 0) {
            sess_output_release(c->sess, plain);
            log_msg(LOG_WARN, sess_id(c->sess), "write failed: %s", uv_strerror(rc));
            sess_close(c->sess, "write failed");
        }
        return;
    }
    /* TLS: encrypt at once (the plaintext goes back to the session); the
     * handshake may add bytes of its own */
    if ((plain = sess_output_take(c->sess, &len)) != NULL) {
        rc = tls_write(c->tls, plain, len);
        sess_output_release(c->sess, plain);
        if (rc < 0) {
            sess_close(c->sess, "TLS write failed");
            return;
        }
    }
    if (!(cipher = tls_take_output(c->tls, &len))) return;
    if ((rc = write_out(c, cipher, len, 0)) < 0) {
        free(cipher);
        log_msg(LOG_WARN, sess_id(c->sess), "write failed: %s", uv_strerror(rc));
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
    if (status < 0 || c->dead || c->handles < 2 || c->eof
        || uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_discard) < 0)
        conn_close_handles(c);
}

static void shutdown_conn(conn_t *c)
{
    uv_shutdown_t *req;
    if (c->shut || c->dead || c->handles < 2) return;
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
    int rc;
    if (c->closing || c->dead) return;
    d = sess_next_deadline(c->sess);
    if (d == c->armed) return;
    c->armed = d;
    if (!d) {
        uv_timer_stop(&c->timer);               /* cannot fail */
        return;
    }
    now = uv_now(c->net->loop);
    if ((rc = uv_timer_start(&c->timer, on_timer, d > now ? d - now : 0, 0)) < 0) {
        log_msg(LOG_ERROR, sess_id(c->sess), "session timer: %s", uv_strerror(rc));
        sess_close(c->sess, "session timer failed");
    }
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
        /* a closing session shuts down once all its output is on its way */
        if (c->closing) {
            if (!sess_output_queued(c->sess)) shutdown_conn(c);
        } else {
            rearm(c);
        }
    }
}

/* -- Connections ------------------------------------------------------------------ */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    conn_t *c = h->data;
    (void)hint;
    *buf = uv_buf_init(c->net->rbuf, sizeof c->net->rbuf);
}

static void pause_if_not_reading(conn_t *c)
{
    if (!c->closing && sess_output_pending(c->sess) > sess_config(c->sess)->max_output) {
        if (!c->tls) log_msg(LOG_WARN, sess_id(c->sess), "peer is not reading: pausing input");
        read_pause(c);
    }
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
        pause_if_not_reading(c);
        return;
    }
    if (nread > 0) {
        sess_feed(c->sess, (const uint8_t *)buf->base, (size_t)nread, uv_now(c->net->loop));
        pause_if_not_reading(c);
        mark_dirty(c);
    } else if (nread < 0) {
        read_pause(c);
        c->eof = 1;
        if (!c->closing)
            sess_close(c->sess, nread == UV_EOF ? "peer closed the connection" : uv_strerror((int)nread));
        mark_dirty(c);
    }
}

static void read_start(conn_t *c)
{
    int rc;
    if (c->reading || c->closing || c->dead) return;
    if ((rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) < 0) {
        log_msg(LOG_WARN, sess_id(c->sess), "read failed: %s", uv_strerror(rc));
        sess_close(c->sess, "read failed");
        mark_dirty(c);
        return;
    }
    c->reading = 1;
}

/* A connect's callback, at most once. */
static void connect_done(conn_t *c, int status)
{
    net_connect_fn cb = c->connect_cb;
    if (!cb) return;
    c->connect_cb = NULL;
    cb(c->net, status < 0 ? NULL : c->sess, status, c->connect_arg);
}

static void on_handle_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    net_t *n = c->net;
    size_t i;
    if (--c->handles > 0) return;
    if (c->connecting) {                /* its resolver request frees itself */
        c->connecting->c = NULL;
        c->connecting = NULL;
    }
    connect_done(c, UV_ECANCELED);
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
    if (c->dead) return;
    c->dead = 1;
    read_pause(c);
    if (c->connecting && c->connecting->resolving)   /* on_resolved still runs, and frees it */
        uv_cancel((uv_req_t *)&c->connecting->gai);
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    if (!uv_is_closing((uv_handle_t *)&c->timer)) uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

/* sess_handler_t: the engine's calls, routed to the owner. */
static int h_request(sess_t *s, const pdu_t *req, void *ud)
{
    conn_t *c = ud;
    return c->net->owner->request ? c->net->owner->request(c->net, s, req, c->net->ud) : SESS_DECLINED;
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
    int rc;
    (void)s;
    (void)reason;
    c->closing = 1;
    if (c->tls) tls_shutdown(c->tls);   /* close_notify goes out with the last flush */
    read_pause(c);
    /* Give the last writes (a nack, an unbind_resp) 2 s, then close anyway. */
    if (!c->dead && (rc = uv_timer_start(&c->timer, on_timer, 2000, 0)) < 0) {
        log_msg(LOG_ERROR, sess_id(c->sess), "close timer: %s", uv_strerror(rc));
        conn_close_handles(c);
    }
    mark_dirty(c);
}

/* The engine's events are the log lines operators read. */
static void h_event(sess_t *s, const sess_event_t *ev, void *ud)
{
    log_level_t level = ev->severity == SESS_SEV_WARN ? LOG_WARN : LOG_INFO;
    char line[512];
    (void)ud;
    if (log_enabled(level)) log_msg(level, sess_id(s), "%s", sess_event_format(s, ev, line, sizeof line));
}

static const sess_handler_t handler = {h_request, h_state, h_output, h_close, h_event};

/* A connection with its handles open and a new session; NULL (and *err)
 * when memory or libuv refuses. */
static conn_t *conn_new(net_t *n, sess_side_t side, const sess_config_t *cfg, int *err)
{
    conn_t *c = calloc(1, sizeof *c);
    *err = UV_ENOMEM;
    if (!c) return NULL;
    c->net = n;
    if ((*err = uv_tcp_init(n->loop, &c->tcp)) < 0) {
        free(c);
        return NULL;
    }
    c->tcp.data = c->timer.data = c;
    if ((*err = uv_timer_init(n->loop, &c->timer)) < 0) {
        c->handles = 1;                         /* on_handle_closed frees c */
        c->dead = 1;
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
        c->next = n->conns;                     /* linked: the close path unlinks */
        if (n->conns) n->conns->prev = c;
        n->conns = c;
        n->count++;
        return NULL;
    }
    c->handles = 2;
    c->next = n->conns;                         /* linked first: the close path unlinks */
    if (n->conns) n->conns->prev = c;
    n->conns = c;
    n->count++;
    c->sess = sess_new(n->ctx, side, cfg, &handler, c, uv_now(n->loop));
    if (!c->sess || map_put(n, sess_id(c->sess), c)) {
        if (c->sess) { sess_free(c->sess); c->sess = NULL; }
        conn_close_handles(c);                  /* frees c once closed */
        *err = UV_ENOMEM;
        return NULL;
    }
    *err = 0;
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
            if (uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof host) < 0) snprintf(host, sizeof host, "?");
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        } else {
            if (uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof host) < 0) snprintf(host, sizeof host, "?");
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
    }
    snprintf(out, n, "%s:%d", host, port);
}

static void announce(conn_t *c)
{
    int rc;
    if ((rc = uv_tcp_nodelay(&c->tcp, 1)) < 0)        /* latency only: go on without it */
        log_msg(LOG_WARN, sess_id(c->sess), "TCP_NODELAY: %s", uv_strerror(rc));
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
    if (uv_tcp_init(server->loop, t) < 0) {
        free(t);
        return;
    }
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
    int rc;
    if (status < 0) {
        log_msg(LOG_WARN, 0, "accept on %s:%d: %s", l->host, l->port, uv_strerror(status));
        return;
    }
    if (n->shutting_down) return;
    if (n->max_total && n->count >= n->max_total) {
        refuse_conn(server, "too many connections");
        return;
    }
    if (!(c = conn_new(n, l->side, &l->cfg, &rc))) {
        refuse_conn(server, uv_strerror(rc));
        return;
    }
    if ((rc = uv_accept(server, (uv_stream_t *)&c->tcp)) < 0) {
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

/* An IPv4/IPv6 literal (or "localhost", for listeners) into *ss. */
static int parse_literal(const char *host, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0) return 0;
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0) return 0;
    return UV_EINVAL;
}

static int resolve_listen(const char *host, int port, struct sockaddr_storage *ss)
{
    return parse_literal(strcmp(host, "localhost") ? host : "127.0.0.1", port, ss);
}

/* -- Public ----------------------------------------------------------------------- */

net_t *net_new(uv_loop_t *loop, const net_owner_t *owner, void *ud)
{
    net_t *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    if (!(n->ctx = sess_ctx_new())) {
        free(n);
        return NULL;
    }
    n->loop = loop;
    n->owner = owner;
    n->ud = ud;
    if (uv_prepare_init(loop, &n->prepare) < 0) {
        sess_ctx_free(n->ctx);
        free(n);
        return NULL;
    }
    n->prepare.data = n;
    if (uv_prepare_start(&n->prepare, on_prepare) < 0) {   /* only fails on a closing handle */
        n->prepare_closed = 1;
        uv_close((uv_handle_t *)&n->prepare, NULL);
        return n;                               /* net_free later: the close callback is NULL */
    }
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
    struct sockaddr_storage ss, b;
    int len = sizeof b;
    listener_t *l;
    int rc;
    if ((rc = resolve_listen(host, port, &ss)) || !(l = calloc(1, sizeof *l))) {
        tls_ctx_free(tls);
        return rc ? rc : UV_ENOMEM;
    }
    l->net = n;
    l->side = side;
    l->cfg = *cfg;
    l->tls = tls;
    if ((rc = uv_tcp_init(n->loop, &l->tcp)) < 0) {
        tls_ctx_free(tls);
        free(l);
        return rc;
    }
    l->tcp.data = l;
    if ((rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0)) < 0
        || (rc = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection)) < 0
        || (rc = uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&b, &len)) < 0) {
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        return rc;
    }
    l->port = ntohs(b.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&b)->sin6_port
                                            : ((struct sockaddr_in *)&b)->sin_port);
    if (bound_port) *bound_port = l->port;
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

/* -- Connecting: resolve, then try each address in turn ---------------------------- */

static void connect_req_free(connect_req_t *r)
{
    if (r->res) uv_freeaddrinfo(r->res);
    free(r);
}

/* The connect failed for good: the caller hears it, the connection goes. */
static void connect_fail(connect_req_t *r, int status)
{
    conn_t *c = r->c;
    c->connecting = NULL;
    connect_req_free(r);
    connect_done(c, status);
    if (c->sess) sess_close(c->sess, "connect failed");
    conn_close_handles(c);
}

static void on_connect(uv_connect_t *req, int status);

/* Start a connect to the next address. Returns 0, or the libuv error of
 * the last address tried when none is left. */
static int connect_next(connect_req_t *r)
{
    conn_t *c = r->c;
    for (;;) {
        struct sockaddr_storage ss;
        int rc;
        if (r->has_literal) {
            ss = r->literal;
            r->has_literal = 0;
        } else if (r->next) {
            if (r->next->ai_addrlen > sizeof ss) { r->next = r->next->ai_next; continue; }
            memcpy(&ss, r->next->ai_addr, r->next->ai_addrlen);
            if (ss.ss_family == AF_INET6) ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)r->port);
            else ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)r->port);
            r->next = r->next->ai_next;
        } else {
            return r->last_err ? r->last_err : UV_EADDRNOTAVAIL;
        }
        r->req.data = r;
        if ((rc = uv_tcp_connect(&r->req, &c->tcp, (struct sockaddr *)&ss, on_connect)) == 0) return 0;
        r->last_err = rc;             /* e.g. no IPv6 here: the next address */
    }
}

/* A failed attempt closed the TCP handle: a new one tries the next address
 * (unless the connection was given up meanwhile). */
static void on_retry_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    connect_req_t *r = c->connecting;
    int rc = UV_ECANCELED;
    if (!c->closing && r && (rc = uv_tcp_init(c->net->loop, &c->tcp)) == 0) {
        c->tcp.data = c;
        c->dead = 0;
        if ((rc = connect_next(r)) < 0) connect_fail(r, rc);
        return;
    }
    /* given up: the TCP handle stays closed, the timer closes now */
    c->handles--;
    if (r) {
        c->connecting = NULL;
        connect_req_free(r);
    }
    connect_done(c, rc);
    if (c->sess && !c->closing) sess_close(c->sess, "connect failed");
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_connect(uv_connect_t *req, int status)
{
    connect_req_t *r = req->data;
    conn_t *c = r->c;
    if (status == 0 && c->sess && !c->closing) {
        c->connecting = NULL;
        connect_req_free(r);
        announce(c);
        if (c->tls) tls_start(c->tls);  /* the ClientHello */
        connect_done(c, 0);
        return;
    }
    if (status == 0) status = UV_ECANCELED;
    r->last_err = status;
    if (status != UV_ECANCELED && c->sess && !c->closing && !c->dead && (r->next || r->has_literal)) {
        c->dead = 1;                  /* not closing for good: on_retry_closed takes over */
        uv_close((uv_handle_t *)&c->tcp, on_retry_closed);
        return;
    }
    connect_fail(r, status);
}

static void on_resolved(uv_getaddrinfo_t *gai, int status, struct addrinfo *res)
{
    connect_req_t *r = gai->data;
    conn_t *c = r->c;
    int rc;
    r->res = res;
    r->resolving = 0;
    if (!c) {                         /* the connection went while we resolved */
        connect_req_free(r);
        return;
    }
    if (status < 0) {
        connect_fail(r, status);
        return;
    }
    if (c->closing || c->dead) {
        connect_fail(r, UV_ECANCELED);
        return;
    }
    r->next = res;
    if ((rc = connect_next(r)) < 0) connect_fail(r, rc);
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
    connect_req_t *r;
    conn_t *c;
    int rc;
    if (port <= 0 || port > 65535) return UV_EINVAL;
    if (!(r = calloc(1, sizeof *r))) return UV_ENOMEM;
    if (!(c = conn_new(n, side, cfg, &rc))) {
        free(r);
        return rc;
    }
    r->c = c;
    r->port = port;
    r->gai.data = r;
    if (tls && !(c->tls = tls_conn_new(tls, hostname ? hostname : host))) {
        free(r);
        sess_close(c->sess, "TLS: out of memory");
        conn_close_handles(c);
        return UV_ENOMEM;
    }
    snprintf(c->remote, sizeof c->remote, "%s:%d", host, port);
    if (parse_literal(host, port, &r->literal) == 0) {   /* an address: no resolver */
        r->has_literal = 1;
        if ((rc = connect_next(r)) < 0) {
            free(r);
            sess_close(c->sess, "connect failed");
            conn_close_handles(c);
            return rc;
        }
    } else {                          /* a name: resolved now, at each connect */
        struct addrinfo hints;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        r->resolving = 1;
        if ((rc = uv_getaddrinfo(n->loop, &r->gai, on_resolved, host, NULL, &hints)) < 0) {
            free(r);
            sess_close(c->sess, "connect failed");
            conn_close_handles(c);
            return rc;
        }
    }
    c->connect_cb = cb;
    c->connect_arg = arg;
    c->connecting = r;
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
    sess_ctx_free(n->ctx);
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
const sess_ctx_t *net_ctx(const net_t *n) { return n->ctx; }
