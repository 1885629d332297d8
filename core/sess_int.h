/* sess_int.h -- the insides of a session and of its context, shared by
 * the engine's files (sess.c: the state machine; sess_out.c: the output
 * buffers; sess_text.c: error tokens, names and event lines) and by
 * nothing else: owners see only sess.h.
 */
#ifndef SMPPGW_SESS_INT_H
#define SMPPGW_SESS_INT_H

#include "sess.h"
#include "win.h"

/* A lent buffer larger than this is freed on release rather than kept as
 * the spare (a burst does not pin its memory to an idle session). */
#define SESS_OUT_KEEP 65536

struct sess_ctx_s {
    sess_totals_t totals;
    uint64_t      next_id;
    pdu_t         rx_pdu, tx_pdu;   /* decoded input; the engine's own answers */
    sess_trace_fn trace;            /* NULL: no PDU trace */
    sess_group_t *groups[SESS_MAX_GROUPS];   /* owned, in creation order */
    size_t        ngroups;
    uint64_t      groups_refused;
};

struct sess_s {
    sess_ctx_t     *ctx;
    uint64_t        id;
    sess_side_t     side;
    sess_state_t    state;
    sess_state_t    bound_state;    /* the bound state an UNBINDING session had */
    sess_config_t   cfg;
    const sess_handler_t *h;
    void           *ud;

    win_t           win;            /* our requests awaiting a response */
    win_t           rwin;           /* peer requests the owner is handling */
    uint32_t        next_seq;
    uint64_t        win_next;       /* no deadline in `win` is earlier (0 = none) */

    uint64_t        created_ms, last_rx_ms, last_enquire_ms;
    uint32_t        enquire_missed;
    uint32_t        unbind_peer_seq;
    int             unbind_peer;    /* peer's unbind waits for its unbind_resp */
    int             unbind_ours;    /* 0 none, 1 to send once drained, 2 sent */
    uint64_t        unbind_started_ms;

    int             closing;
    const char     *close_reason;
    int             bind_checking;  /* a bind of the peer is with the owner (its sequence_number: bind_seq) */
    uint32_t        bind_seq;

    uint8_t        *in;             /* a partial PDU carried between reads */
    size_t          in_len, in_cap;
    uint8_t        *out;            /* encoded, not yet taken by the transport */
    size_t          out_len, out_cap, inflight;
    uint8_t        *spare;          /* a free buffer, taken when output starts again */
    size_t          spare_cap;
    uint8_t        *lent;           /* with the transport until released */
    size_t          lent_len, lent_cap;

    tb_t           *throttle;
    char            system_id[17];
    char            errmsg[160];
    sess_stats_t    st;
    sess_group_t   *group;          /* the context's; NULL: none */
};

/* A counter of the session and of its context's totals. */
#define COUNT(s, field) ((s)->st.field++, (s)->ctx->totals.sum.field++, (s)->ctx->totals.side[(s)->side].field++, \
                         (s)->group ? (void)(s)->group->st.field++ : (void)0)

/* A response with `status` received (rx) or sent, in s's group (sess_group.c). */
void sess__group_status(sess_group_t *g, uint32_t status, int rx);

/* Report an event to the owner (sess_text.c). */
void sess__emit(sess_t *s, sess_event_t ev);

/* Encode p at the end of the output, counting it (sess_out.c). Returns
 * octets or a SESS_E* code (SESS_EINVAL with s->errmsg set). */
long sess__out_pdu(sess_t *s, pdu_t *p);
/* The same for a request encoded before, cmd its command: copied with
 * sequence_number seq and command_status 0 (sess_send_octets). */
long sess__out_octets(sess_t *s, const pdu_cmd_t *cmd, const uint8_t *raw, size_t len, uint32_t seq);

#endif /* SMPPGW_SESS_INT_H */
