/* net.h -- sessions over libuv TCP: listen and accept (server side), connect
 * (client side), framing through sess_feed(), one batched write per loop
 * turn, one timer per session armed to its next deadline, back-pressure,
 * and the close lifecycle. Knows nothing of PDU bodies or Lua.
 *
 * Usage (see core/examples/server.c and client.c):
 *
 *     net_t *n = net_new(uv_default_loop(), &owner, my_data);
 *     net_listen(n, "127.0.0.1", 2775, SESS_SMSC, &cfg, &port);   // or net_connect
 *     uv_run(uv_default_loop(), UV_RUN_DEFAULT);
 *
 * The owner's callbacks get the sess_t of each connection; they answer
 * requests with sess_respond() and send with sess_send() (see sess.h). A
 * session is valid from owner.opened until owner.closed returns; after
 * that the engine frees it. The net logs the engine's events (log.h).
 */
#ifndef SMPPGW_NET_H
#define SMPPGW_NET_H

#include <uv.h>

#include "sess.h"
#include "tls.h"

typedef struct net_s net_t;

typedef struct net_owner_s {
    /* A connection is up (accepted, or connected by net_connect). */
    void (*opened)(net_t *n, sess_t *s, void *ud);
    /* A peer request for the owner: returns SESS_TAKEN or SESS_DECLINED
     * (see sess_handler_t.request; NULL declines every request). */
    int (*request)(net_t *n, sess_t *s, const pdu_t *req, void *ud);
    /* The bind state changed. */
    void (*state)(net_t *n, sess_t *s, sess_state_t old, void *ud);
    /* The connection is gone; the session is freed right after this call
     * (outstanding requests then complete with SESS_ECLOSED). */
    void (*closed)(net_t *n, sess_t *s, const char *reason, void *ud);
    /* After net_shutdown: the last connection (bound or not) is gone, so
     * the owner can release what else keeps the loop alive. */
    void (*drained)(net_t *n, void *ud);
    /* Once per loop turn, before the turn's output is written (libuv's
     * prepare phase): the owner finishes the turn's work, e.g. commits
     * what the turn stored and only then answers (may be NULL). */
    void (*turn)(net_t *n, void *ud);
    /* A response that matches no request in the window (its request
     * timed out before it came, or the peer made it up) (may be NULL). */
    void (*unmatched)(net_t *n, sess_t *s, uint32_t command_id, void *ud);
} net_owner_t;

/* A transport on `loop`. Returns NULL without memory. */
net_t *net_new(uv_loop_t *loop, const net_owner_t *owner, void *ud);

/* Listen on host:port (an IPv4/IPv6 literal or "localhost"; port 0 picks
 * one, written to *bound_port). Accepted connections become sessions of
 * `side` (SESS_SMSC for an SMSC/gateway; SESS_ESME to accept outbind).
 * Returns 0 or a negative libuv error (uv_strerror names it). */
int net_listen(net_t *n, const char *host, int port, sess_side_t side,
               const sess_config_t *cfg, int *bound_port);

/* The same with TLS (tls.h). The listener takes the context: it is freed
 * when the listener closes, or at once if listening fails. */
int net_listen_tls(net_t *n, const char *host, int port, sess_side_t side,
                   const sess_config_t *cfg, tls_ctx_t *tls, int *bound_port);

/* Stop listening on host:port (as given to net_listen; port the bound
 * one). Sessions accepted there go on. Returns 0 or UV_ENOENT. */
int net_unlisten(net_t *n, const char *host, int port);
/* The TLS context of the listener on host:port is replaced by tls (which it
 * then owns; connections already accepted keep the old one's certificate).
 * UV_ENOENT when there is no such TLS listener (tls is freed then). */
int net_listen_set_tls(net_t *n, const char *host, int port, tls_ctx_t *tls);

/* Connect to host:port: an IPv4/IPv6 literal, or a name resolved with
 * uv_getaddrinfo at each call (so a reconnect sees DNS changes), its
 * addresses tried in turn. On success the session is announced with
 * owner.opened and `cb` gets it; on failure cb gets NULL and the libuv
 * error (UV_EAI_NONAME for a name that does not resolve). Returns 0 or a
 * negative libuv error (cb is not called then). */
typedef void (*net_connect_fn)(net_t *n, sess_t *s, int status, void *arg);
int net_connect(net_t *n, const char *host, int port, sess_side_t side,
                const sess_config_t *cfg, net_connect_fn cb, void *arg);

/* Connect over TLS: `hostname` is checked against the server's
 * certificate (when the context verifies) and sent as SNI. cb hears of
 * the connection when the handshake is over: a handshake that failed (a
 * certificate that did not verify, the peer closing first) is NET_ETLS,
 * its reason net_tls_detail() while cb runs. */
#define NET_ETLS (-20100)                 /* clear of libuv's codes and sess.h's */
int net_connect_tls(net_t *n, const char *host, int port, sess_side_t side,
                    const sess_config_t *cfg, tls_ctx_t *tls, const char *hostname,
                    net_connect_fn cb, void *arg);
const char *net_tls_detail(void);

/* Limits on accepted connections: in total and from one remote address
 * (0 = none). Connections past them are closed at once and counted. */
void net_set_limits(net_t *n, size_t max_total, size_t max_per_address);
uint64_t net_refused(const net_t *n);

/* Listeners opened from now on set SO_REUSEPORT, so that several worker
 * processes share one port (the kernel spreads the connections). */
void net_set_reuseport(net_t *n, int on);

/* Back-pressure: a session stops being read while its unsent output (what
 * the session queued plus what the kernel still holds for the peer) is
 * above the session's max_output, and is read again only once that has
 * fallen below half of it. Pauses so far (all sessions), and whether one
 * session is paused now and how often it was. */
uint64_t net_pauses(const net_t *n);
int      net_is_paused(const sess_t *s);
uint64_t net_pauses_of(const sess_t *s);

/* Graceful stop: listeners close, bound sessions unbind, others close. The
 * loop ends once every session is gone (unless the owner keeps handles).
 * From then on net_connect refuses (UV_ECANCELED), a connect under way
 * gives up when it completes, and a bind that completes is unbound at
 * once: nothing new can hold the exit. */
void net_shutdown(net_t *n);
int  net_is_shutting_down(const net_t *n);

/* Free a transport whose loop has ended (its sessions' context with it). */
void net_free(net_t *n);

/* The session with this id, or NULL once it is gone. */
sess_t *net_find(net_t *n, uint64_t id);

/* Call fn for every session (fn must not free sessions). */
void net_foreach(net_t *n, void (*fn)(sess_t *s, void *arg), void *arg);

/* Call fn for at most `limit` sessions, skipping the first `offset`, in
 * the order net_foreach uses (newest first): paging without a walk of
 * every session. Returns the number of sessions fn saw. */
size_t net_page(net_t *n, size_t offset, size_t limit, void (*fn)(sess_t *s, void *arg), void *arg);

/* Tell the transport that `s` has new work (output or timers) to schedule
 * after calls made outside its callbacks, e.g. sess_send from a timer. */
void net_touch(sess_t *s);

/* "host:port" of the peer, and our own end of the connection; an IPv6
 * host in brackets ("[::1]:2775"), as lua/smpp/address.lua reads it. */
const char *net_remote(const sess_t *s);
const char *net_local(const sess_t *s);

/* Writes "host:port" into out (n octets, truncated, NUL-terminated): the
 * one form smppgw writes an address in, an IPv6 host in brackets. */
void net_addr_format(char *out, size_t n, const char *host, int port);

/* The context of the net's sessions: their totals (sess_ctx_totals). */
const sess_ctx_t *net_ctx(const net_t *n);

/* Per-session slot for the owner, and the loop clock in milliseconds. */
void     net_set_owner_data(sess_t *s, intptr_t v);
intptr_t net_owner_data(const sess_t *s);
uint64_t net_now(const net_t *n);
uv_loop_t *net_loop(const net_t *n);
size_t   net_count(const net_t *n);

#endif /* SMPPGW_NET_H */
