/* sess.h -- the SMPP session engine: bind states, sequence numbers, the send
 * and receive windows, timers, enquire_link, generic_nack, throttling and the
 * unbind handshake. Sans-I/O: bytes go in with sess_feed(), bytes come out of
 * sess_output_take(), time comes in as `now` (milliseconds, any monotonic
 * origin). net.h runs sessions over libuv TCP; this file knows no sockets,
 * no clock and no log: what happens is reported to the owner as events.
 *
 * Life of a session
 *   sess_ctx_new() once: the context owns what sessions share (totals, the
 *   id counter, scratch PDUs). sess_new() when a connection is up (state
 *   OPEN). The owner feeds what it reads, writes what sess_output_take()
 *   lends it when handler.output fires, calls sess_tick() when
 *   sess_next_deadline() is due, and closes the connection when
 *   handler.close fires (after writing the pending output). sess_free()
 *   then completes every outstanding request with SESS_ECLOSED.
 *
 * What the engine answers by itself (the owner never sees these):
 *   enquire_link (any state); unknown command_id (generic_nack
 *   ESME_RINVCMDID); a request not allowed in the state (its response with
 *   ESME_RINVBNDSTS, or generic_nack for one without a response); a bind on
 *   a bound session, or while the owner has another bind of the session
 *   (ESME_RALYBND: one bind at a time, however long its check takes); a malformed request (the codec's status:
 *   generic_nack ESME_RINVCMDLEN for length faults, else the request's
 *   response); throttling (ESME_RTHROTTLED when the receive window is full
 *   or the session's token bucket is empty, for submit_sm, submit_multi and
 *   data_sm); unbind (unbind_resp once outstanding work is done, then close);
 *   a request the owner declines (handler.request returns SESS_DECLINED, or
 *   there is no handler): ESME_RINVCMDID, outbind closes the session,
 *   alert_notification is dropped. This is the only place that decides it.
 *   A command_length below 16 or above max_pdu -- above SESS_UNBOUND_MAX_PDU
 *   while the session is not bound nor its bind being checked (OPEN,
 *   OUTBOUND) -- loses the framing:
 *   the engine queues generic_nack ESME_RINVCMDLEN and closes after it is
 *   written.
 *
 * Ownership: a pdu_t passed to handler.request is borrowed for the call (it
 * points into the engine's buffers). PDUs given to sess_send/sess_respond
 * are encoded at once and may be reused when the call returns. Output is
 * lent, not handed over: the buffer sess_output_take() returns stays the
 * session's and goes back with sess_output_release().
 */
#ifndef SMPPGW_SESS_H
#define SMPPGW_SESS_H

#include <stddef.h>
#include <stdint.h>

#include "pdu.h"
#include "tb.h"

typedef struct sess_s sess_t;

/* The largest command_length taken before the session is bound. The PDUs
 * allowed then are small (SMPP 3.4, 4.1 and 4.2: a bind is at most 98
 * octets, its response 37 with sc_interface_version, outbind 41,
 * enquire_link and generic_nack 16), so a peer that has not bound can make
 * the engine buffer this much, not max_pdu. */
#define SESS_UNBOUND_MAX_PDU 1024

typedef enum {
    SESS_OPEN,       /* connected, not bound */
    SESS_OUTBOUND,   /* ESME side: outbind received, bind_receiver pending */
    SESS_BOUND_TX,
    SESS_BOUND_RX,
    SESS_BOUND_TRX,
    SESS_UNBINDING,  /* unbind sent or received: finishing outstanding work */
    SESS_CLOSED
} sess_state_t;

/* Which side of the protocol this end plays. A server (listener) is the
 * SMSC side; a client that connects is the ESME side. */
typedef enum { SESS_SMSC = 0, SESS_ESME = 1 } sess_side_t;

/* Errors: negative, in a range of their own (-20001..-20099, clear of
 * errno values and libuv's codes), each with a short stable token from
 * sess_strerror(). One row each: X(name, number, token). */
#define SESS_ERRNO_MAP(X) \
    X(EWINDOW,   1, "window full") \
    X(ETIMEOUT,  2, "timeout") \
    X(ECLOSED,   3, "closed") \
    X(ENACK,     4, "nack")                       /* the peer answered generic_nack */ \
    X(ESTATE,    5, "not allowed in this state") \
    X(EINVAL,    6, "invalid pdu")                /* see sess_last_error() */ \
    X(EOUTPUT,   7, "output full")                /* the peer is not reading */ \
    X(EBADRESP,  8, "bad response")               /* the peer's response was malformed */ \
    X(ENOMEM,    9, "out of memory") \
    X(ENOREQ,   10, "no such request")            /* respond to an unknown seq */ \
    /* a connection that could not be made (core.connect; the prose comes third) */ \
    X(ECONNREFUSED, 11, "connect refused")        /* nothing listens there */ \
    X(ERESOLVE, 12, "resolve")                    /* the host name did not resolve */ \
    X(EUNREACH, 13, "unreachable")                /* no route to the network or host */ \
    X(ECONNECT, 14, "connect failed")             /* any other reason */

#define SESS_E__BASE (-20000)
enum {
#define SESS_ERR_ENUM(name, n, text) SESS_##name = SESS_E__BASE - (n),
    SESS_ERRNO_MAP(SESS_ERR_ENUM)
#undef SESS_ERR_ENUM
    SESS_E__LAST = SESS_E__BASE - 99
};

/* The number of error codes, and the i-th (0 <= i < SESS_E_COUNT): for
 * owners that count errors in an array (sess_err_index maps back, -1 for a
 * code that is not an engine error). */
enum {
#define SESS_ERR_COUNT(name, n, text) + 1
    SESS_E_COUNT = 0 SESS_ERRNO_MAP(SESS_ERR_COUNT)
#undef SESS_ERR_COUNT
};
#define SESS_E_AT(i) (SESS_E__BASE - 1 - (int)(i))
static inline int sess_err_index(int err)
{
    return err <= SESS_E__BASE - 1 && err >= SESS_E__BASE - SESS_E_COUNT ? SESS_E__BASE - 1 - err : -1;
}

/* The token of an engine error code; "unknown error" for anything else. */
const char *sess_strerror(int err);

/* Session options. Their defaults live in one place, the schema of
 * lua/smpp/config.lua (with the documentation of each); the build turns
 * them into sess_defaults.h for sess_config_default(). */
typedef struct sess_config_s {
    uint32_t window;             /* max requests we have outstanding */
    uint32_t receive_window;     /* max peer requests being handled */
    uint32_t response_timeout_ms;/* per request we send */
    uint32_t enquire_link_ms;    /* send enquire_link after this idle time; 0 = never */
    uint32_t enquire_link_misses;/* unanswered enquire_links before the peer is dead */
    uint32_t init_timeout_ms;    /* close if not bound by then; 0 = never */
    uint32_t inactivity_ms;      /* close if nothing received for this long; 0 = never */
    uint32_t unbind_timeout_ms;  /* longest graceful close */
    uint32_t max_pdu;            /* command_length cap */
    uint32_t max_output;         /* unsent output bound in octets */
} sess_config_t;

/* Each option by its configuration name (a key of a config's `session`
 * table), its sess_config_t field, and the scale from the config's unit to
 * the engine's (seconds -> milliseconds). */
#define SESS_CONFIG_MAP(X) \
    X(window,                window,              1) \
    X(receive_window,        receive_window,      1) \
    X(response_timeout,      response_timeout_ms, 1000) \
    X(enquire_link_interval, enquire_link_ms,     1000) \
    X(enquire_link_misses,   enquire_link_misses, 1) \
    X(init_timeout,          init_timeout_ms,     1000) \
    X(inactivity_timeout,    inactivity_ms,       1000) \
    X(unbind_timeout,        unbind_timeout_ms,   1000) \
    X(max_pdu,               max_pdu,             1) \
    X(max_output,            max_output,          1)

void sess_config_default(sess_config_t *cfg);

/* Completion of a request we sent: exactly one call, with err 0 and the
 * response (borrowed: valid during the call), or err SESS_ETIMEOUT,
 * SESS_ECLOSED, SESS_EBADRESP (resp NULL) or SESS_ENACK (resp is the
 * generic_nack). */
typedef void (*sess_done_fn)(sess_t *s, void *arg, const pdu_t *resp, int err);

/* What handler.request returns: the owner took the request (it answers
 * with sess_respond(), now or later, when the command has a response), or
 * declined it (the engine answers; see the top of this file). */
enum { SESS_TAKEN = 0, SESS_DECLINED = 1 };

/* Something the owner may want to log or count. The engine writes no log
 * lines: sess_event_format() renders an event as the line operators know,
 * and `severity` says how loud it is. */
typedef enum { SESS_SEV_WARN = 1, SESS_SEV_INFO = 2 } sess_severity_t;

#define SESS_EVENT_MAP(X) \
    X(CLOSING,         INFO)  /* the session closes: text = reason */ \
    X(BOUND,           INFO)  /* we accepted a bind: state = the bound state */ \
    X(BIND_REFUSED,    INFO)  /* we refused a bind: status */ \
    X(BOUND_TO_SMSC,   INFO)  /* our bind was accepted: state */ \
    X(BIND_REJECTED,   WARN)  /* our bind was refused: status */ \
    X(UNBINDING,       INFO)  /* we unbind: n1 outstanding, n2 being handled */ \
    X(PEER_UNBINDS,    INFO)  /* the peer unbinds: n1, n2 as above */ \
    X(PEER_DEAD,       WARN)  /* n1 enquire_link unanswered */ \
    X(TIMEOUT,         WARN)  /* command_id, seq: no response within n1 ms */ \
    X(UNMATCHED,       WARN)  /* a response (command_id, seq) that matches no request */ \
    X(NACKED,          WARN)  /* our request (command_id, seq) got generic_nack with status */ \
    X(BAD_RESPONSE,    WARN)  /* our request (command_id, seq) got a bad response: text */ \
    X(REFUSED,         INFO)  /* a request (command_id, seq) answered with status: text = why */ \
    X(DECLINED,        INFO)  /* a request (command_id) the owner declined: ESME_RINVCMDID */ \
    X(UNKNOWN_COMMAND, WARN)  /* command_id, seq unknown: generic_nack */ \
    X(MALFORMED,       WARN)  /* command_id, seq malformed: status, text = the codec's message */ \
    X(FRAMING_LOST,    WARN)  /* command_length n1 outside 16..n2 */ \
    X(RESPONSE_REFUSED,WARN)  /* the encoder refused our response to command_id: text */

typedef enum {
#define SESS_EV_ENUM(name, sev) SESS_EV_##name,
    SESS_EVENT_MAP(SESS_EV_ENUM)
#undef SESS_EV_ENUM
    SESS_EV__COUNT
} sess_event_kind_t;

typedef struct sess_event_s {
    sess_event_kind_t kind;
    sess_severity_t   severity;
    uint32_t          command_id, seq, status;
    uint32_t          n1, n2;
    sess_state_t      state;
    const char       *text;     /* borrowed for the call */
} sess_event_t;

/* Write the log line of `ev` into buf (always NUL-terminated); returns buf. */
const char *sess_event_format(const sess_t *s, const sess_event_t *ev, char *buf, size_t n);

typedef struct sess_handler_s {
    /* A peer request for the owner; returns SESS_TAKEN or SESS_DECLINED
     * (see above). Also called for outbind (ESME side) and
     * alert_notification, which have no response. NULL declines all. */
    int (*request)(sess_t *s, const pdu_t *req, void *ud);
    /* The state changed (bound, unbinding, closed). */
    void (*state)(sess_t *s, sess_state_t old, void *ud);
    /* Output is waiting: take it with sess_output_take() soon (the transport
     * batches: one write per loop turn). */
    void (*output)(sess_t *s, void *ud);
    /* The session is over: write the pending output, then close the
     * connection and call sess_free(). `reason` is a static string. */
    void (*close)(sess_t *s, const char *reason, void *ud);
    /* Something to log or count (may be NULL). */
    void (*event)(sess_t *s, const sess_event_t *ev, void *ud);
} sess_handler_t;

typedef struct sess_stats_s {
    uint64_t started_ms;
    uint64_t rx_pdus, tx_pdus, rx_bytes, tx_bytes;
    uint64_t rx_requests, tx_requests;    /* requests received / sent */
    uint64_t resp_ok, resp_error;         /* responses to our requests, by status */
    uint64_t sent_error;                  /* error responses we sent */
    uint64_t timeouts, nacks_rx, nacks_tx, unmatched, malformed, throttled;
    uint64_t rtt_ms_sum, rtt_count;       /* send-to-response time */
    uint32_t rx_cmd[PDU_CMD__COUNT], tx_cmd[PDU_CMD__COUNT];  /* by pdu_cmd_index_t */
} sess_stats_t;

/* Send-to-response time buckets of sess_totals_t.rtt_buckets: upper bounds
 * in ms (the last one counts everything slower). */
#define SESS_RTT_BUCKETS 14
extern const double sess_rtt_bounds_ms[SESS_RTT_BUCKETS];

/* Responses with a command_status outside status.def's span (vendor codes
 * 0x400-0x4FF and anything else), counted by code in the order they first
 * came; past SESS_OTHER_STATUSES codes, in other_rx/other_tx. */
#define SESS_OTHER_STATUSES 32
typedef struct sess_status_count_s {
    uint32_t status;
    uint64_t rx, tx;
} sess_status_count_t;

/* Totals over the sessions of one context (one loop thread, no locks). */
typedef struct sess_totals_s {
    uint64_t opened, closed;
    uint32_t open[2][SESS_CLOSED + 1];    /* [side][state] sessions now */
    sess_stats_t sum;                     /* sums of the per-session counters */
    sess_stats_t side[2];                 /* ... by sess_side_t: peers bound to us, our binds */
    uint64_t status_rx[PDU_STATUS_SPAN], status_tx[PDU_STATUS_SPAN]; /* responses by command_status */
    sess_status_count_t other[SESS_OTHER_STATUSES];                 /* ... and beyond it */
    uint32_t nother;
    uint64_t other_rx, other_tx;
    uint64_t rtt_buckets[SESS_RTT_BUCKETS];       /* response times, not cumulative */
} sess_totals_t;

/* -- Groups ---------------------------------------------------------------- */

/* The counters of a group of sessions: one account's (SESS_SMSC side: the
 * engine puts a session in its system_id's group when its bind succeeds)
 * or one upstream's (SESS_ESME side: the owner names it, sess_set_group).
 * Groups live as long as their context: counters never go back. At most
 * SESS_MAX_GROUPS per context; a session past that is in none (counted in
 * sess_totals_t... groups_refused). Responses by command_status are kept
 * for SESS_GROUP_STATUSES codes per group, the rest in other_rx/other_tx. */
#define SESS_MAX_GROUPS     512
#define SESS_GROUP_STATUSES 24
typedef struct sess_group_s {
    char                name[65];
    sess_side_t         side;
    sess_stats_t        st;
    sess_status_count_t status[SESS_GROUP_STATUSES];
    uint32_t            nstatus;
    uint64_t            other_rx, other_tx;
    uint64_t            rtt_buckets[SESS_RTT_BUCKETS];
} sess_group_t;

/* -- Context --------------------------------------------------------------- */

/* What the sessions of one owner share: the totals, the session id
 * counter, the scratch PDUs the engine decodes into and answers from. A
 * context outlives its sessions. NULL without memory. */
typedef struct sess_ctx_s sess_ctx_t;
sess_ctx_t *sess_ctx_new(void);
void sess_ctx_free(sess_ctx_t *ctx);
const sess_totals_t *sess_ctx_totals(const sess_ctx_t *ctx);

/* The group named `name` on `side` (created when new), or NULL past
 * SESS_MAX_GROUPS or without memory. Owned by the context. */
sess_group_t *sess_ctx_group(sess_ctx_t *ctx, sess_side_t side, const char *name);
/* The i-th group (in creation order), NULL past the last. Borrowed. */
const sess_group_t *sess_ctx_group_at(const sess_ctx_t *ctx, size_t i);
/* Sessions that found no group (the bound was reached). */
uint64_t sess_ctx_groups_refused(const sess_ctx_t *ctx);

/* The PDU trace: `fn` is called for every PDU a session of the context
 * decodes (rx = 1, with the status decoding gave) or encodes (rx = 0),
 * NULL for none. One branch per PDU when unset. `p` is borrowed for the
 * call only. */
typedef void (*sess_trace_fn)(const sess_t *s, const pdu_t *p, int rx, uint32_t status);
void sess_ctx_set_trace(sess_ctx_t *ctx, sess_trace_fn fn);

/* -- Life ----------------------------------------------------------------- */

/* A new session of `ctx` in state OPEN. `cfg` is copied. Returns NULL
 * without memory. */
sess_t *sess_new(sess_ctx_t *ctx, sess_side_t side, const sess_config_t *cfg,
                 const sess_handler_t *h, void *ud, uint64_t now_ms);

/* Release: completes outstanding requests with SESS_ECLOSED (their callbacks
 * run now), frees buffers. The owner calls it once the connection is gone. */
void sess_free(sess_t *s);

/* Feed received bytes (any chunking). Returns 0, or -1 once the session is
 * closing (framing lost, or it was already closing). */
int sess_feed(sess_t *s, const uint8_t *data, size_t len, uint64_t now_ms);

/* Run the timers due at now_ms: response timeouts, enquire_link, the
 * session_init, inactivity and unbind timers. */
void sess_tick(sess_t *s, uint64_t now_ms);

/* When sess_tick must run next (0 = nothing scheduled). */
uint64_t sess_next_deadline(const sess_t *s);

/* -- Sending -------------------------------------------------------------- */

/* Send a request (or a PDU with no response: generic_nack, outbind,
 * alert_notification). The engine sets pdu->sequence_number (1..0x7FFFFFFF,
 * never one in use) and, for commands with a response, calls `cb` once.
 * Returns the sequence_number (> 0) or SESS_EWINDOW, SESS_ESTATE (not
 * allowed for this side in this state, or closing), SESS_EOUTPUT, SESS_EINVAL
 * (the encoder refused it: sess_last_error() names the field); cb is not
 * called then. */
long sess_send(sess_t *s, pdu_t *pdu, sess_done_fn cb, void *arg, uint64_t now_ms);

/* The same for a request already encoded (pdu[0..len), one whole PDU,
 * e.g. as a store keeps it): sent as it is but for its sequence_number
 * (set here, as sess_send sets it) and command_status (0). Only the
 * header is checked (command_length = len, a request's command_id the
 * codec knows; else SESS_EINVAL): the body is the caller's to have
 * encoded right. The octets are copied before it returns. */
long sess_send_octets(sess_t *s, const uint8_t *pdu, size_t len, sess_done_fn cb, void *arg, uint64_t now_ms);

/* Answer the peer's request `seq` (as given to handler.request). `resp` holds
 * the response body (its command_id is set here) or is NULL for an empty
 * one. Returns 0, SESS_ENOREQ (no such request outstanding), SESS_EINVAL. */
int sess_respond(sess_t *s, uint32_t seq, pdu_t *resp, uint32_t status, uint64_t now_ms);

/* Bind (ESME side): bind_transmitter/receiver/transceiver per `command_id`.
 * The state changes when the response says ESME_ROK. */
long sess_bind(sess_t *s, uint32_t command_id, const char *system_id, const char *password,
               const char *system_type, sess_done_fn cb, void *arg, uint64_t now_ms);

/* Send outbind (SMSC side, on a connection it opened). */
long sess_outbind(sess_t *s, const char *system_id, const char *password, uint64_t now_ms);

/* Graceful unbind: no new requests either way; once outstanding work is done
 * the engine sends unbind, and closes on unbind_resp. Returns 0 or
 * SESS_ESTATE when not bound. */
int sess_unbind(sess_t *s, uint64_t now_ms);

/* Close now (after the pending output is written): handler.close runs. */
void sess_close(sess_t *s, const char *reason);

/* -- Output ---------------------------------------------------------------- */

/* Lend the queued output to the transport: *len octets that stay valid
 * and unchanged until sess_output_release() (or sess_free()). NULL when
 * nothing is queued, or while a buffer is lent: one write at a time, and
 * what is queued meanwhile goes out with the next take. The session keeps
 * two buffers and swaps them, so a steady flow allocates nothing. */
const uint8_t *sess_output_take(sess_t *s, size_t *len);
void sess_output_release(sess_t *s, const uint8_t *buf);

/* The transport reports octets it holds besides the lent buffer (a TLS
 * layer's ciphertext), so that SESS_EOUTPUT can count them. */
void sess_set_inflight(sess_t *s, size_t octets);

/* Queued, lent and in-flight output octets; queued alone (not yet taken). */
size_t sess_output_pending(const sess_t *s);
size_t sess_output_queued(const sess_t *s);

/* -- Inspecting ------------------------------------------------------------- */

uint64_t            sess_id(const sess_t *s);
sess_state_t        sess_state(const sess_t *s);
sess_side_t         sess_side(const sess_t *s);
const char         *sess_state_name(sess_state_t st);
const char         *sess_system_id(const sess_t *s);  /* "" until a bind */
/* Put s in group g (NULL: none): its counters from now on count there too. */
void                sess_set_group(sess_t *s, sess_group_t *g);
int                 sess_is_closing(const sess_t *s);
const char         *sess_close_reason(const sess_t *s);
uint32_t            sess_window_used(const sess_t *s);
/* 1 when the oldest request awaiting its response was sent more than
 * age_ms before now (a peer that has stopped answering). */
int                 sess_late(sess_t *s, uint64_t now, uint64_t age_ms);
uint32_t            sess_receive_window_used(const sess_t *s);
const sess_config_t *sess_config(const sess_t *s);
const sess_stats_t *sess_stats(const sess_t *s);
const char         *sess_last_error(const sess_t *s); /* message of the last SESS_EINVAL */
void               *sess_userdata(const sess_t *s);
void                sess_set_userdata(sess_t *s, void *ud);

/* Throttle the peer's submit_sm/submit_multi/data_sm with `b` (shared by
 * the sessions of an account; NULL = no limit). The bucket must outlive
 * the session or be replaced first. */
void sess_set_throttle(sess_t *s, tb_t *b);

#endif /* SMPPGW_SESS_H */
