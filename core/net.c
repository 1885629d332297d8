/* net.c -- libuv transport for sessions: the connections (read ->
 * sess_feed, batched writes in the prepare phase, per-session timer,
 * back-pressure, close after the last write), shutdown and lookups. It
 * logs what the engine reports (sess.c writes no log lines). Listening and
 * accepting are in net_listen.c, connecting in net_connect.c.
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
#include <sys/ioctl.h>

#include "log.h"
#include "net_int.h"

/* How often a paused session's backlog is looked at (ms): the kernel says
 * nothing when the peer finally reads, so it is asked. */
#define RESUME_CHECK_MS 50

/* A TLS write: ciphertext copied out of the TLS layer. */
typedef struct write_s {
    uv_write_t      req;
    uint8_t        *data;
    size_t          len;
} write_t;

void net__conn_close_handles(conn_t *c);
static void shutdown_conn(conn_t *c);
static void read_start(conn_t *c);
static void close_prepare(net_t *n);
void net__on_handle_closed(uv_handle_t *h);

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

void net__mark_dirty(conn_t *c)
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
    net__mark_dirty(sess_userdata(s));
}

static void read_pause(conn_t *c)
{
    if (!c->reading) return;
    uv_read_stop((uv_stream_t *)&c->tcp);      /* cannot fail on an open stream */
    c->reading = 0;
}

/* -- Back-pressure ------------------------------------------------------------------
 * A peer that sends and never reads: its answers pile up. libuv's write
 * completes once the kernel has the octets, and on loopback the kernel takes
 * megabytes, so counting only the session's own buffers would resume
 * reading at every completed write. The backlog counts the kernel's unsent
 * and unacknowledged octets too (TIOCOUTQ, Linux); reading pauses above
 * max_output and resumes below half of it. */

static size_t kernel_queued(conn_t *c)
{
#ifdef TIOCOUTQ
    uv_os_fd_t fd;
    int n = 0;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 && ioctl(fd, TIOCOUTQ, &n) == 0 && n > 0)
        return (size_t)n;
#else
    (void)c;
#endif
    return 0;
}

static size_t backlog(conn_t *c)
{
    return sess_output_pending(c->sess) + kernel_queued(c);
}

static void unlink_paused(conn_t *c)
{
    if (!c->paused) return;
    c->paused = 0;
    if (c->pause_prev) c->pause_prev->pause_next = c->pause_next;
    else c->net->paused = c->pause_next;
    if (c->pause_next) c->pause_next->pause_prev = c->pause_prev;
    c->pause_next = c->pause_prev = NULL;
}

static void read_start(conn_t *c);
static void on_resume_timer(uv_timer_t *t);

/* Read again once the backlog is below half of max_output. */
static void resume_if_drained(conn_t *c)
{
    if (!c->paused || !c->sess || c->closing || c->dead) return;
    if (backlog(c) > sess_config(c->sess)->max_output / 2) return;
    unlink_paused(c);
    read_start(c);
}

static void on_resume_timer(uv_timer_t *t)
{
    net_t *n = t->data;
    conn_t *c, *next;
    for (c = n->paused; c; c = next) {
        next = c->pause_next;
        resume_if_drained(c);
    }
    if (!n->paused && n->resume_timer_on) {
        uv_timer_stop(&n->resume_timer);
        n->resume_timer_on = 0;
    }
}

/* After input was fed: pause when the backlog passed max_output. The
 * kernel's queue is asked only when the session's own buffers are over the
 * limit or a quarter of max_output was written since the last look, so a
 * reading peer costs one ioctl per max_output / 4 octets. */
static void pause_if_not_reading(conn_t *c)
{
    size_t max, own;
    if (c->closing || c->paused || !c->reading) return;
    max = sess_config(c->sess)->max_output;
    own = sess_output_pending(c->sess);
    if (own <= max && c->written < max / 4) return;
    c->written = 0;
    if (own + kernel_queued(c) <= max) return;
    read_pause(c);
    c->paused = 1;
    c->pauses++;
    c->net->pauses++;
    c->pause_prev = NULL;
    c->pause_next = c->net->paused;
    if (c->net->paused) c->net->paused->pause_prev = c;
    c->net->paused = c;
    if (c->pauses == 1 && !c->tls)
        log_msg(LOG_WARN, sess_id(c->sess), "peer is not reading: pausing input (%zu octets unsent)",
                own + kernel_queued(c));
    if (!c->net->resume_timer_on &&
        uv_timer_start(&c->net->resume_timer, on_resume_timer, RESUME_CHECK_MS, RESUME_CHECK_MS) == 0)
        c->net->resume_timer_on = 1;
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
        net__mark_dirty(c);                  /* the rest of the output, then the shutdown */
        return;
    }
    resume_if_drained(c);               /* back-pressure released: the peer reads again */
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
    c->written += len;
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
    if (nread < 0) net__conn_close_handles(st->data);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);

static void on_shutdown(uv_shutdown_t *req, int status)
{
    conn_t *c = req->data;
    free(req);
    /* while the process stops nobody waits for the peer: lingering would
     * hold the exit for the grace period (a refused connection the peer
     * keeps open, say); our output is out, and what we discard is moot */
    if (status < 0 || c->dead || c->handles < 2 || c->eof || c->net->shutting_down
        || uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_discard) < 0)
        net__conn_close_handles(c);
}

static void shutdown_conn(conn_t *c)
{
    uv_shutdown_t *req;
    if (c->shut || c->dead || c->handles < 2) return;
    c->shut = 1;
    if (!(req = malloc(sizeof *req))) {
        net__conn_close_handles(c);
        return;
    }
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        free(req);
        net__conn_close_handles(c);
    }
}

static void on_timer(uv_timer_t *t)
{
    conn_t *c = t->data;
    c->armed = 0;
    if (!c->sess || c->closing) {
        if (c->closing) net__conn_close_handles(c);  /* the close grace period ran out */
        return;
    }
    net__tls_tick(c, uv_now(c->net->loop));
    sess_tick(c->sess, uv_now(c->net->loop));
    net__mark_dirty(c);
}

static void rearm(conn_t *c)
{
    uint64_t d, now;
    int rc;
    if (c->closing || c->dead) return;
    d = net__tls_deadline(c, sess_next_deadline(c->sess));
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
    if (n->owner->turn) n->owner->turn(n, n->ud);
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
            net__tls_progress(c, tls_error(c->tls));
            net__mark_dirty(c);
            return;
        }
        net__mark_dirty(c);                  /* handshake answers go out with the next flush */
        net__tls_progress(c, NULL);          /* a TLS connect is reported when its handshake is over */
        if (!plen) return;
        sess_feed(c->sess, plain, plen, uv_now(c->net->loop));
        pause_if_not_reading(c);
        return;
    }
    if (nread > 0) {
        sess_feed(c->sess, (const uint8_t *)buf->base, (size_t)nread, uv_now(c->net->loop));
        pause_if_not_reading(c);
        net__mark_dirty(c);
    } else if (nread < 0) {
        read_pause(c);
        c->eof = 1;
        if (c->tls) net__tls_progress(c, "TLS handshake failed: the peer closed the connection");
        if (!c->closing)
            sess_close(c->sess, nread == UV_EOF ? "peer closed the connection" : uv_strerror((int)nread));
        net__mark_dirty(c);
    }
}

static void read_start(conn_t *c)
{
    int rc;
    if (c->reading || c->closing || c->dead) return;
    if ((rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) < 0) {
        log_msg(LOG_WARN, sess_id(c->sess), "read failed: %s", uv_strerror(rc));
        sess_close(c->sess, "read failed");
        net__mark_dirty(c);
        return;
    }
    c->reading = 1;
}

/* A connect's callback, at most once. */
void net__connect_done(conn_t *c, int status)
{
    net_connect_fn cb = c->connect_cb;
    if (!cb) return;
    c->connect_cb = NULL;
    cb(c->net, status < 0 ? NULL : c->sess, status, c->connect_arg);
}

void net__on_handle_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    net_t *n = c->net;
    size_t i;
    if (--c->handles > 0) return;
    if (c->tls && c->sess) net__tls_progress(c, sess_close_reason(c->sess));   /* closed mid-handshake */
    if (c->connecting) {                /* its resolver request frees itself */
        c->connecting->c = NULL;
        c->connecting = NULL;
    }
    net__connect_done(c, UV_ECANCELED);
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

/* The net's own handles (the prepare phase, the resume timer) go when the
 * last connection of a shutdown is gone. */
static void close_prepare(net_t *n)
{
    if (n->prepare_closed) return;
    n->prepare_closed = 1;
    uv_close((uv_handle_t *)&n->prepare, NULL);
    uv_close((uv_handle_t *)&n->resume_timer, NULL);
}

void net__conn_close_handles(conn_t *c)
{
    if (c->dead) return;
    c->dead = 1;
    unlink_paused(c);
    read_pause(c);
    if (c->connecting && c->connecting->resolving)   /* on_resolved still runs, and frees it */
        uv_cancel((uv_req_t *)&c->connecting->gai);   /* UV_EBUSY once it runs: then it ends by itself */
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, net__on_handle_closed);
    if (!uv_is_closing((uv_handle_t *)&c->timer)) uv_close((uv_handle_t *)&c->timer, net__on_handle_closed);
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
    sess_state_t st = sess_state(s);
    if (c->announced && c->net->owner->state) c->net->owner->state(c->net, s, old, c->net->ud);
    /* a bind that completes after net_shutdown (it was under way) is
     * undone at once: shutdown means every session unbinds */
    if (c->net->shutting_down && (st == SESS_BOUND_TX || st == SESS_BOUND_RX || st == SESS_BOUND_TRX)) {
        sess_unbind(s, uv_now(c->net->loop));
        net__mark_dirty(c);
    }
}

static void h_output(sess_t *s, void *ud)
{
    (void)s;
    net__mark_dirty(ud);
}

static void h_close(sess_t *s, const char *reason, void *ud)
{
    conn_t *c = ud;
    int rc;
    (void)s;
    (void)reason;
    c->closing = 1;
    if (c->tls) tls_shutdown(c->tls);   /* close_notify goes out with the last flush */
    unlink_paused(c);
    read_pause(c);
    /* Give the last writes (a nack, an unbind_resp) 2 s, then close anyway. */
    if (!c->dead && (rc = uv_timer_start(&c->timer, on_timer, 2000, 0)) < 0) {
        log_msg(LOG_ERROR, sess_id(c->sess), "close timer: %s", uv_strerror(rc));
        net__conn_close_handles(c);
    }
    net__mark_dirty(c);
}

/* The engine's events are the log lines operators read. Those about one
 * PDU (a refusal, a refused bind, a timeout, a malformed or unmatched one)
 * come as often as the peer sends: log_peer holds them to a few a window
 * per session, and all sessions together to LOG_TOTAL_LINES. */
static void h_event(sess_t *s, const sess_event_t *ev, void *ud)
{
    log_level_t level = ev->severity == SESS_SEV_WARN ? LOG_WARN : LOG_INFO;
    char line[512];
    conn_t *c = ud;
    if (ev->kind == SESS_EV_UNMATCHED && c && c->announced && c->net->owner->unmatched)
        c->net->owner->unmatched(c->net, s, ev->command_id, c->net->ud);
    if (!log_enabled(level)) return;
    sess_event_format(s, ev, line, sizeof line);
    switch (ev->kind) {
    case SESS_EV_REFUSED: case SESS_EV_DECLINED: case SESS_EV_UNKNOWN_COMMAND: case SESS_EV_MALFORMED:
    case SESS_EV_BIND_REFUSED:
    case SESS_EV_TIMEOUT: case SESS_EV_UNMATCHED: case SESS_EV_NACKED: case SESS_EV_BAD_RESPONSE:
    case SESS_EV_RESPONSE_REFUSED:
        log_peer(level, sess_id(s), "%s", line);
        break;
    default:
        log_msg(level, sess_id(s), "%s", line);
    }
}

static const sess_handler_t handler = {h_request, h_state, h_output, h_close, h_event};

/* A connection with its handles open and a new session; NULL (and *err)
 * when memory or libuv refuses. */
conn_t *net__conn_new(net_t *n, sess_side_t side, const sess_config_t *cfg, int *err)
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
        uv_close((uv_handle_t *)&c->tcp, net__on_handle_closed);
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
        net__conn_close_handles(c);                  /* frees c once closed */
        *err = UV_ENOMEM;
        return NULL;
    }
    *err = 0;
    return c;
}

/* "host:port" of one end of the connection ("[host]:port" for IPv6). */
void net__addr_name(conn_t *c, int peer, char *out, size_t n)
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
    net_addr_format(out, n, host, port);
}

void net__announce(conn_t *c)
{
    int rc;
    if ((rc = uv_tcp_nodelay(&c->tcp, 1)) < 0)        /* latency only: go on without it */
        log_msg(LOG_WARN, sess_id(c->sess), "TCP_NODELAY: %s", uv_strerror(rc));
    net__addr_name(c, 1, c->remote, sizeof c->remote);
    net__addr_name(c, 0, c->local, sizeof c->local);
    read_start(c);
    c->announced = 1;
    /* a peer's own port is left out: it differs on every connection, and
     * the line then could not be counted as a repeat (a connect flood) */
    if (sess_side(c->sess) == SESS_SMSC) {
        const char *colon = strrchr(c->remote, ':');      /* "host:port", "[v6]:port" */
        int len = colon ? (int)(colon - c->remote) : (int)strlen(c->remote);
        log_msg(LOG_INFO, sess_id(c->sess), "connection from %.*s", len, c->remote);
    } else {
        log_msg(LOG_INFO, sess_id(c->sess), "connection to %s", c->remote);
    }
    if (c->net->owner->opened) c->net->owner->opened(c->net, c->sess, c->net->ud);
    net__mark_dirty(c);
}

/* -- Addresses ------------------------------------------------------------------- */

/* An IPv4/IPv6 literal into *ss (listeners also take "localhost"). */
int net__parse_literal(const char *host, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0) return 0;
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0) return 0;
    return UV_EINVAL;
}

/* -- Public ----------------------------------------------------------------------- */

void net_addr_format(char *out, size_t n, const char *host, int port)
{
    snprintf(out, n, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

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
    uv_timer_init(loop, &n->resume_timer);     /* cannot fail */
    n->resume_timer.data = n;
    uv_unref((uv_handle_t *)&n->resume_timer);  /* paused sessions keep the loop alive */
    if (uv_prepare_start(&n->prepare, on_prepare) < 0) {   /* only fails on a closing handle */
        close_prepare(n);
        return n;                               /* net_free later: the close callbacks are NULL */
    }
    uv_unref((uv_handle_t *)&n->prepare);       /* it must not keep the loop alive */
    return n;
}

void net_shutdown(net_t *n)
{
    listener_t *l;
    conn_t *c;
    if (n->shutting_down) return;
    n->shutting_down = 1;
    while ((l = n->listeners) != NULL) {
        n->listeners = l->next;
        uv_close((uv_handle_t *)&l->tcp, net__on_listener_closed);
    }
    for (c = n->conns; c; c = c->next) {
        sess_state_t st;
        /* a closed connection lingering for its peer's FIN would hold the
         * exit for its grace period: its output is out, close it now */
        if (c->closing && c->shut && !c->dead) {
            net__conn_close_handles(c);
            continue;
        }
        if (!c->sess || c->closing) continue;
        st = sess_state(c->sess);
        if (st == SESS_BOUND_TX || st == SESS_BOUND_RX || st == SESS_BOUND_TRX)
            sess_unbind(c->sess, uv_now(n->loop));
        else if (st != SESS_UNBINDING)
            sess_close(c->sess, "shutdown");
        net__mark_dirty(c);
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

size_t net_page(net_t *n, size_t offset, size_t limit, void (*fn)(sess_t *s, void *arg), void *arg)
{
    conn_t *c, *next;
    size_t seen = 0, done = 0;
    for (c = n->conns; c && done < limit; c = next) {
        next = c->next;
        if (!c->sess || !c->announced) continue;
        if (seen++ < offset) continue;
        fn(c->sess, arg);
        done++;
    }
    return done;
}

uint64_t net_pauses(const net_t *n) { return n->pauses; }
int net_is_paused(const sess_t *s) { return ((const conn_t *)sess_userdata(s))->paused; }
uint64_t net_pauses_of(const sess_t *s) { return ((const conn_t *)sess_userdata(s))->pauses; }

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