/* sess.h -- the SMPP session engine: bind states, sequence numbers, the send
 * and receive windows, timers, enquire_link, generic_nack, throttling and the
 * unbind handshake. Sans-I/O: bytes go in with sess_feed(), bytes come out of
 * sess_output_take(), time comes in as `now` (milliseconds, any monotonic
 * origin). net.h runs sessions over libuv TCP; this file knows no sockets.
 *
 * Life of a session
 *   sess_new() when a connection is up (state OPEN). The owner feeds what it
 *   reads, writes what sess_output_take() gives when handler.output fires,
 *   calls sess_tick() when sess_next_deadline() is due, and closes the
 *   connection when handler.close fires (after writing the pending output).
 *   sess_free() then completes every outstanding request with SESS_ECLOSED.
 *
 * What the engine answers by itself (the owner never sees these):
 *   enquire_link (any state); unknown command_id (generic_nack
 *   ESME_RINVCMDID); a request not allowed in the state (its response with
 *   ESME_RINVBNDSTS, or generic_nack for one without a response); a bind on
 *   a bound session (ESME_RALYBND); a malformed request (the codec's status:
 *   generic_nack ESME_RINVCMDLEN for length faults, else the request's
 *   response); throttling (ESME_RTHROTTLED when the receive window is full
 *   or the session's token bucket is empty, for submit_sm, submit_multi and
 *   data_sm); unbind (unbind_resp once outstanding work is done, then close).
 *   A command_length below 16 or above max_pdu loses the framing: the engine
 *   queues generic_nack ESME_RINVCMDLEN and closes after it is written.
 *
 * Ownership: a pdu_t passed to handler.request is borrowed for the call (it
 * points into the engine's buffers). PDUs given to sess_send/sess_respond
 * are encoded at once and may be reused when the call returns.
 */
#ifndef SMPPGW_SESS_H
#define SMPPGW_SESS_H

#include <stddef.h>
#include <stdint.h>

#include "pdu.h"
#include "tb.h"

typedef struct sess_s sess_t;

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

/* Errors (negative), each with a short stable token from sess_strerror(). */
#define SESS_EWINDOW  (-10)  /* "window full" */
#define SESS_ETIMEOUT (-11)  /* "timeout" */
#define SESS_ECLOSED  (-12)  /* "closed" */
#define SESS_ENACK    (-13)  /* "nack": the peer answered generic_nack */
#define SESS_ESTATE   (-14)  /* "not allowed in this state" */
#define SESS_EINVAL   (-15)  /* "invalid pdu" (see sess_last_error) */
#define SESS_EOUTPUT  (-16)  /* "output full": the peer is not reading */
#define SESS_EBADRESP (-17)  /* "bad response": the peer's response was malformed */
#define SESS_ENOMEM   (-18)  /* "out of memory" */
#define SESS_ENOREQ   (-19)  /* "no such request": respond to an unknown seq */

const char *sess_strerror(int err);

typedef struct sess_config_s {
    uint32_t window;             /* max requests we have outstanding (default 10) */
    uint32_t receive_window;     /* max peer requests being handled (default 100) */
    uint32_t response_timeout_ms;/* per request we send (default 30000) */
    uint32_t enquire_link_ms;    /* send enquire_link after this idle time; 0 = never (30000) */
    uint32_t enquire_link_misses;/* unanswered enquire_links before the peer is dead (3) */
    uint32_t init_timeout_ms;    /* close if not bound by then; 0 = never (30000) */
    uint32_t inactivity_ms;      /* close if nothing received for this long; 0 = never (0) */
    uint32_t unbind_timeout_ms;  /* longest graceful close (default 10000) */
    uint32_t max_pdu;            /* command_length cap (default PDU_DEFAULT_MAX_LEN) */
    uint32_t max_output;         /* unsent output bound in octets (default 1 MiB) */
} sess_config_t;

void sess_config_default(sess_config_t *cfg);

/* Completion of a request we sent: exactly one call, with err 0 and the
 * response (borrowed: valid during the call), or err SESS_ETIMEOUT,
 * SESS_ECLOSED, SESS_EBADRESP (resp NULL) or SESS_ENACK (resp is the
 * generic_nack). */
typedef void (*sess_done_fn)(sess_t *s, void *arg, const pdu_t *resp, int err);

typedef struct sess_handler_s {
    /* A peer request for the owner: answer it with sess_respond() (now or
     * later) when the command has a response. Also called for outbind (ESME
     * side) and alert_notification, which have none. */
    void (*request)(sess_t *s, const pdu_t *req, void *ud);
    /* The state changed (bound, unbinding, closed). */
    void (*state)(sess_t *s, sess_state_t old, void *ud);
    /* Output is waiting: take it with sess_output_take() soon (the transport
     * batches: one write per loop turn). */
    void (*output)(sess_t *s, void *ud);
    /* The session is over: write the pending output, then close the
     * connection and call sess_free(). `reason` is a static string. */
    void (*close)(sess_t *s, const char *reason, void *ud);
} sess_handler_t;

typedef struct sess_stats_s {
    uint64_t started_ms;
    uint64_t rx_pdus, tx_pdus, rx_bytes, tx_bytes;
    uint64_t rx_requests, tx_requests;    /* requests received / sent */
    uint64_t resp_ok, resp_error;         /* responses to our requests, by status */
    uint64_t sent_error;                  /* error responses we sent */
    uint64_t timeouts, nacks_rx, nacks_tx, unmatched, malformed, throttled;
    uint64_t rtt_ms_sum, rtt_count;       /* send-to-response time */
    uint32_t rx_cmd[32], tx_cmd[32];      /* by index in the command table */
} sess_stats_t;

/* Send-to-response time buckets of sess_totals.rtt_buckets: upper bounds in
 * ms (the last one counts everything slower). */
#define SESS_RTT_BUCKETS 14
extern const double sess_rtt_bounds_ms[SESS_RTT_BUCKETS];

/* Totals over all sessions of the process (one loop thread, no locks). */
typedef struct sess_totals_s {
    uint64_t opened, closed;
    uint32_t open[2][7];                  /* [side][state] sessions now */
    sess_stats_t sum;                     /* sums of the per-session counters */
    uint64_t status_tx[0x114], status_rx[0x114]; /* responses by command_status; last = other */
    uint64_t rtt_buckets[SESS_RTT_BUCKETS];       /* response times, not cumulative */
} sess_totals_t;

extern sess_totals_t sess_totals;

/* -- Life ----------------------------------------------------------------- */

/* A new session in state OPEN. `cfg` is copied. Returns NULL without memory. */
sess_t *sess_new(sess_side_t side, const sess_config_t *cfg, const sess_handler_t *h,
                 void *ud, uint64_t now_ms);

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

/* Hand the queued output to the caller: returns a malloc'd buffer of *len
 * octets that the caller frees after writing it (NULL when empty). */
uint8_t *sess_output_take(sess_t *s, size_t *len);

/* The transport reports octets handed to the socket but not yet written,
 * so that SESS_EOUTPUT can count them. */
void sess_set_inflight(sess_t *s, size_t octets);

/* Queued plus in-flight output octets. */
size_t sess_output_pending(const sess_t *s);

/* -- Inspecting ------------------------------------------------------------- */

uint64_t            sess_id(const sess_t *s);
sess_state_t        sess_state(const sess_t *s);
sess_side_t         sess_side(const sess_t *s);
const char         *sess_state_name(sess_state_t st);
const char         *sess_system_id(const sess_t *s);  /* "" until a bind */
int                 sess_is_closing(const sess_t *s);
const char         *sess_close_reason(const sess_t *s);
uint32_t            sess_window_used(const sess_t *s);
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
