/* net_connect.c -- connecting: an address literal is tried at once; a
 * host name is resolved with uv_getaddrinfo at every connect (so a
 * reconnect follows DNS changes) and its addresses tried in turn, a new
 * TCP handle for each attempt. The request frees itself; a connection
 * that goes while its name resolves detaches from it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_int.h"

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
    net__connect_done(c, status);
    if (c->sess) sess_close(c->sess, "connect failed");
    net__conn_close_handles(c);
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
    net__connect_done(c, rc);
    if (c->sess && !c->closing) sess_close(c->sess, "connect failed");
    uv_close((uv_handle_t *)&c->timer, net__on_handle_closed);
}

static void on_connect(uv_connect_t *req, int status)
{
    connect_req_t *r = req->data;
    conn_t *c = r->c;
    if (status == 0 && c->net->shutting_down) status = UV_ECANCELED;   /* started before the shutdown */
    if (status == 0 && c->sess && !c->closing) {
        c->connecting = NULL;
        connect_req_free(r);
        net__announce(c);
        if (c->tls) {                   /* the ClientHello; reported at the handshake's end */
            c->tls_deadline = uv_now(c->net->loop) + sess_config(c->sess)->response_timeout_ms;
            tls_start(c->tls);
            net__mark_dirty(c);
            return;
        }
        net__connect_done(c, 0);
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

/* -- TLS: the connect is over when the handshake is ---------------------------------- */

static char tls_detail[200];

/* A TLS connection's connect is reported when its handshake is over, so
 * that a certificate that does not verify fails the connect itself (an
 * unbound session was returned, and failed later, at its first PDU):
 * `failed` NULL, reported once the handshake has finished; else NET_ETLS
 * with failed as the detail (net_tls_detail). Nothing once reported. */
void net__tls_progress(conn_t *c, const char *failed)
{
    if (!c->connect_cb || !c->tls || c->connecting) return;
    if (failed) {                       /* a TLS error as it is; any other close said to be one */
        snprintf(tls_detail, sizeof tls_detail, "%s%s", strncmp(failed, "TLS", 3) ? "TLS handshake did not finish: "
                 : "", *failed ? failed : "closed");
        net__connect_done(c, NET_ETLS);
    } else if (tls_handshake_done(c->tls)) {
        net__connect_done(c, 0);
    }
}

const char *net_tls_detail(void) { return tls_detail; }

/* The connection timer's deadline: the session's (d; 0: none), or the
 * handshake's when that is earlier and the connect not reported yet. A
 * peer that takes the connection and never answers would hold a connect
 * with init_timeout 0 for ever: the handshake has the response_timeout a
 * request has. */
uint64_t net__tls_deadline(const conn_t *c, uint64_t d)
{
    if (!c->tls_deadline || !c->connect_cb) return d;
    return d && d < c->tls_deadline ? d : c->tls_deadline;
}

/* The timer fired: a handshake past its deadline ends the connection. */
void net__tls_tick(conn_t *c, uint64_t now)
{
    if (!c->tls_deadline || !c->connect_cb || now < c->tls_deadline) return;
    sess_close(c->sess, "TLS handshake timed out");
    net__tls_progress(c, "TLS handshake did not finish within the session's response_timeout");
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
    if (n->shutting_down) return UV_ECANCELED;      /* a connection now would hold the exit */
    if (!(r = calloc(1, sizeof *r))) return UV_ENOMEM;
    if (!(c = net__conn_new(n, side, cfg, &rc))) {
        free(r);
        return rc;
    }
    r->c = c;
    r->port = port;
    r->gai.data = r;
    if (tls && !(c->tls = tls_conn_new(tls, hostname ? hostname : host))) {
        free(r);
        sess_close(c->sess, "TLS: out of memory");
        net__conn_close_handles(c);
        return UV_ENOMEM;
    }
    snprintf(c->remote, sizeof c->remote, "%s:%d", host, port);
    if (net__parse_literal(host, port, &r->literal) == 0) {   /* an address: no resolver */
        r->has_literal = 1;
        if ((rc = connect_next(r)) < 0) {
            free(r);
            sess_close(c->sess, "connect failed");
            net__conn_close_handles(c);
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
            net__conn_close_handles(c);
            return rc;
        }
    }
    c->connect_cb = cb;
    c->connect_arg = arg;
    c->connecting = r;
    return 0;
}
