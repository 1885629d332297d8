/* net_int.h -- the insides of the transport, shared by net.c (connections,
 * I/O), net_listen.c (listeners, accept) and net_connect.c (resolve,
 * connect) and by nothing else: owners see only net.h.
 */
#ifndef SMPPGW_NET_INT_H
#define SMPPGW_NET_INT_H

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
    uint64_t        tls_deadline; /* a TLS connect's handshake ends by then (0 = none) */
    uv_write_t      wreq;         /* the write of the lent output buffer */
    const uint8_t  *wbuf;         /* that buffer, while it is written */
    size_t          inflight;     /* TLS ciphertext handed to uv_write, not yet written */
    int             reading;
    int             paused;       /* reading stopped for back-pressure (on net->paused) */
    uint64_t        pauses;       /* times it was paused */
    size_t          written;      /* octets written since the kernel's queue was last looked at */
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
    conn_t         *pause_next, *pause_prev;   /* net->paused */
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
    int             reuseport;    /* listen with SO_REUSEPORT (workers) */
    uint64_t        pauses;
    conn_t         *paused;       /* sessions not read for back-pressure */
    uv_timer_t      resume_timer; /* looks at the paused ones' backlog */
    int             resume_timer_on;
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

/* -- Shared between the transport's files (net.c) -------------------------- */

/* A connection with its handles open and a new session; NULL (and *err)
 * when memory or libuv refuses. */
conn_t *net__conn_new(net_t *n, sess_side_t side, const sess_config_t *cfg, int *err);

/* Close both handles (once); the connection is freed when they are closed. */
void net__conn_close_handles(conn_t *c);
void net__on_handle_closed(uv_handle_t *h);

/* The connection is up: addresses, reading, owner.opened. */
void net__announce(conn_t *c);

/* Output or timers to schedule in the next prepare phase. */
void net__mark_dirty(conn_t *c);

/* "host:port" of one end of the connection (peer: 1). */
void net__addr_name(conn_t *c, int peer, char *out, size_t n);

/* Call a connect's callback, at most once. */
void net__connect_done(conn_t *c, int status);
void net__tls_progress(conn_t *c, const char *failed);
uint64_t net__tls_deadline(const conn_t *c, uint64_t d);
void net__tls_tick(conn_t *c, uint64_t now);

/* A listener's close callback: frees it and its TLS context (net_listen.c). */
void net__on_listener_closed(uv_handle_t *h);

/* An IPv4/IPv6 literal into *ss: 0 or UV_EINVAL. */
int net__parse_literal(const char *host, int port, struct sockaddr_storage *ss);

#endif /* SMPPGW_NET_INT_H */
