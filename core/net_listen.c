/* net_listen.c -- listeners: listen (plain or TLS), accept within the
 * connection limits (total and per address, refusals counted), unlisten.
 * A listener owns its TLS context; both go when it closes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net_int.h"

/* hidden by _POSIX_C_SOURCE in glibc's headers; the value is Linux's */
#if !defined(SO_REUSEPORT) && defined(__linux__)
#define SO_REUSEPORT 15
#endif

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
    if (status < 0) {              /* e.g. out of descriptors: libuv dropped the connection */
        n->refused++;
        log_msg(LOG_WARN, 0, "connection on %s:%d not accepted: %s (is limits.max_connections above the "
                "open-files limit?)", l->host, l->port, uv_strerror(status));
        return;
    }
    if (n->shutting_down) return;
    if (n->max_total && n->count >= n->max_total) {
        refuse_conn(server, "too many connections");
        return;
    }
    if (!(c = net__conn_new(n, l->side, &l->cfg, &rc))) {
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
        net__addr_name(c, 1, c->remote, sizeof c->remote);
        if (count_from(n, c->remote) >= n->max_per_address) {
            n->refused++;
            if (n->refused % 1000 == 1)
                log_msg(LOG_WARN, 0, "connection from %s refused: more than %zu from that address",
                        c->remote, n->max_per_address);
            sess_close(c->sess, "too many connections from that address");
            return;
        }
    }
    net__announce(c);
}

void net_set_limits(net_t *n, size_t max_total, size_t max_per_address)
{
    n->max_total = max_total;
    n->max_per_address = max_per_address;
}

uint64_t net_refused(const net_t *n) { return n->refused; }

void net_set_reuseport(net_t *n, int on) { n->reuseport = on; }

/* With reuseport the listener's socket is made now (not at bind) so that
 * SO_REUSEPORT is set before the bind. Returns 0 or a libuv error, with
 * *inited set when the handle exists (and must be closed). */
static int tcp_init(net_t *n, uv_tcp_t *t, int family, int *inited)
{
    uv_os_fd_t fd;
    int one = 1, rc;
    rc = n->reuseport ? uv_tcp_init_ex(n->loop, t, (unsigned)family) : uv_tcp_init(n->loop, t);
    if (rc < 0 || !n->reuseport) return rc;
    *inited = 1;
    if ((rc = uv_fileno((uv_handle_t *)t, &fd)) == 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        rc = uv_translate_sys_error(errno);
    return rc;
}


static int resolve_listen(const char *host, int port, struct sockaddr_storage *ss)
{
    return net__parse_literal(strcmp(host, "localhost") ? host : "127.0.0.1", port, ss);
}

int net_listen(net_t *n, const char *host, int port, sess_side_t side,
               const sess_config_t *cfg, int *bound_port)
{
    return net_listen_tls(n, host, port, side, cfg, NULL, bound_port);
}

/* A listener owns its TLS context: both go when it closes. */
void net__on_listener_closed(uv_handle_t *h)
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
    int rc, inited = 0;
    if ((rc = resolve_listen(host, port, &ss)) || !(l = calloc(1, sizeof *l))) {
        tls_ctx_free(tls);
        return rc ? rc : UV_ENOMEM;
    }
    l->net = n;
    l->side = side;
    l->cfg = *cfg;
    l->tls = tls;
    if ((rc = tcp_init(n, &l->tcp, ss.ss_family, &inited)) < 0) {
        if (inited) {
            l->tcp.data = l;
            uv_close((uv_handle_t *)&l->tcp, net__on_listener_closed);
            return rc;
        }
        tls_ctx_free(tls);
        free(l);
        return rc;
    }
    l->tcp.data = l;
    if ((rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0)) < 0
        || (rc = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection)) < 0
        || (rc = uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&b, &len)) < 0) {
        uv_close((uv_handle_t *)&l->tcp, net__on_listener_closed);
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
            uv_close((uv_handle_t *)&l->tcp, net__on_listener_closed);
            return 0;
        }
    }
    return UV_ENOENT;
}

int net_listen_set_tls(net_t *n, const char *host, int port, tls_ctx_t *tls)
{
    listener_t *l;
    for (l = n->listeners; l; l = l->next) {
        if (l->port == port && l->tls && strcmp(l->host, host) == 0) {
            tls_ctx_free(l->tls);        /* each accepted SSL holds its own reference */
            l->tls = tls;
            return 0;
        }
    }
    tls_ctx_free(tls);
    return UV_ENOENT;
}
