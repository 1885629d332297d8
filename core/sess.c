/* sess.c -- the SMPP session state machine (sans-I/O): framing, state rules,
 * windows, timers and the protocol chores. See sess.h for the contract.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sess.h"
#include "sess_defaults.h"               /* generated from lua/smpp/config.lua */
#include "sess_int.h"

/* The schema and SESS_CONFIG_MAP list the same options, and the codec's
 * default cap is the session's. */
#define SESS_CONFIG_ONE(key, field, scale) + 1
typedef char session_options_match_the_schema[(0 SESS_CONFIG_MAP(SESS_CONFIG_ONE)) == SESS_DEFAULT_COUNT ? 1 : -1];
#undef SESS_CONFIG_ONE
typedef char max_pdu_default_is_the_codecs[SESS_DEFAULT_max_pdu == PDU_DEFAULT_MAX_LEN ? 1 : -1];

const double sess_rtt_bounds_ms[SESS_RTT_BUCKETS] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000,
                                                     2500, 5000, 10000, 1e300};


/* -- Context and defaults ----------------------------------------------------- */

sess_ctx_t *sess_ctx_new(void)
{
    sess_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (ctx) ctx->next_id = 1;
    return ctx;
}

void sess_ctx_free(sess_ctx_t *ctx)
{
    size_t i;
    if (!ctx) return;
    for (i = 0; i < ctx->ngroups; i++) free(ctx->groups[i]);
    free(ctx);
}

const sess_totals_t *sess_ctx_totals(const sess_ctx_t *ctx) { return &ctx->totals; }

void sess_config_default(sess_config_t *c)
{
#define SESS_CONFIG_DEFAULT(key, field, scale) c->field = (uint32_t)(SESS_DEFAULT_##key * (scale));
    SESS_CONFIG_MAP(SESS_CONFIG_DEFAULT)
#undef SESS_CONFIG_DEFAULT
}

/* -- Small helpers ------------------------------------------------------------ */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t cmd_index(const pdu_cmd_t *c) { return pdu_cmd_index(c); }

/* A response with `status` received (rx) or sent: bounded counting by code,
 * in the totals and in s's group. */
static void count_status(sess_t *s, uint32_t status, int rx)
{
    sess_totals_t *t = &s->ctx->totals;
    uint32_t i;
    if (s->group) sess__group_status(s->group, status, rx);
    if (status < PDU_STATUS_SPAN) {
        (rx ? t->status_rx : t->status_tx)[status]++;
        return;
    }
    for (i = 0; i < t->nother && t->other[i].status != status; i++) {}
    if (i == t->nother) {
        if (i == SESS_OTHER_STATUSES) {
            if (rx) t->other_rx++;
            else t->other_tx++;
            return;
        }
        t->other[t->nother++].status = status;
    }
    if (rx) t->other[i].rx++;
    else t->other[i].tx++;
}

/* The permission bit of a state in pdu_cmd_t.esme_states/smsc_states. */
static int state_bit(sess_state_t st)
{
    switch (st) {
    case SESS_OPEN: case SESS_OUTBOUND: return PDU_ST_OPEN;
    case SESS_BOUND_TX: return PDU_ST_BOUND_TX;
    case SESS_BOUND_RX: return PDU_ST_BOUND_RX;
    case SESS_BOUND_TRX: return PDU_ST_BOUND_TRX;
    default: return 0;
    }
}

static int is_bound(sess_state_t st)
{
    return st == SESS_BOUND_TX || st == SESS_BOUND_RX || st == SESS_BOUND_TRX;
}

static void set_state(sess_t *s, sess_state_t st)
{
    sess_state_t old = s->state;
    if (old == st) return;
    s->ctx->totals.open[s->side][old]--;
    s->ctx->totals.open[s->side][st]++;
    s->state = st;
    if (s->h->state) s->h->state(s, old, s->ud);
}

/* The bound state a bind command leads to. */
static sess_state_t bound_by(uint32_t bind_id)
{
    switch (bind_id & ~SMPP_RESPONSE_BIT) {
    case SMPP_BIND_TRANSMITTER: return SESS_BOUND_TX;
    case SMPP_BIND_RECEIVER: return SESS_BOUND_RX;
    default: return SESS_BOUND_TRX;
    }
}

static int is_bind(uint32_t id)
{
    id &= ~SMPP_RESPONSE_BIT;
    return id == SMPP_BIND_TRANSMITTER || id == SMPP_BIND_RECEIVER || id == SMPP_BIND_TRANSCEIVER;
}

/* -- Output ------------------------------------------------------------------- */

/* A response the engine writes on its own (chores, refusals). */
static void chore_respond(sess_t *s, uint32_t resp_id, uint32_t seq, uint32_t status)
{
    pdu_t *tx = &s->ctx->tx_pdu;
    pdu_init(tx, resp_id, seq);
    tx->command_status = status;
    if (resp_id == SMPP_GENERIC_NACK) COUNT(s, nacks_tx);
    if (status) COUNT(s, sent_error);
    count_status(s, status, 0);
    sess__out_pdu(s, tx);
}

/* -- Life --------------------------------------------------------------------- */

sess_t *sess_new(sess_ctx_t *ctx, sess_side_t side, const sess_config_t *cfg,
                 const sess_handler_t *h, void *ud, uint64_t now_ms)
{
    sess_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->ctx = ctx;
    s->cfg = *cfg;
    if (!s->cfg.window) s->cfg.window = 1;
    if (!s->cfg.receive_window) s->cfg.receive_window = 1;
    if (!s->cfg.max_pdu) s->cfg.max_pdu = PDU_DEFAULT_MAX_LEN;
    /* one slot more than configured: the engine's own enquire_link/unbind
     * must fit even when the owner filled the window */
    if (win_init(&s->win, s->cfg.window + 1) || win_init(&s->rwin, s->cfg.receive_window)) {
        win_free(&s->win);
        free(s);
        return NULL;
    }
    s->id = ctx->next_id++;
    s->side = side;
    s->state = SESS_OPEN;
    s->h = h;
    s->ud = ud;
    s->next_seq = 1;
    s->created_ms = s->last_rx_ms = s->last_enquire_ms = now_ms;
    s->st.started_ms = now_ms;
    ctx->totals.opened++;
    ctx->totals.open[side][SESS_OPEN]++;
    return s;
}

/* Complete every outstanding request of a closing session with `err`, one
 * at a time (a callback may change the table; a closing session takes no
 * new request). */
static void fail_all(sess_t *s, int err)
{
    while (s->win.count) {
        win_entry_t e;
        uint32_t i;
        for (i = 0; !s->win.slots[i].seq; i++) {}
        win_del(&s->win, s->win.slots[i].seq, &e);
        if (e.cb) ((sess_done_fn)e.cb)(s, e.arg, NULL, err);
    }
}

void sess_free(sess_t *s)
{
    if (!s) return;
    if (!s->closing) sess_close(s, "released");
    fail_all(s, SESS_ECLOSED);
    s->ctx->totals.open[s->side][s->state]--;
    s->ctx->totals.closed++;
    win_free(&s->win);
    win_free(&s->rwin);
    free(s->in);
    free(s->out);
    free(s->spare);
    free(s->lent);
    free(s);
}

void sess_close(sess_t *s, const char *reason)
{
    if (s->closing) return;
    s->closing = 1;
    s->close_reason = reason;
    sess__emit(s, (sess_event_t){.kind = SESS_EV_CLOSING, .text = reason});
    set_state(s, SESS_CLOSED);
    if (s->h->close) s->h->close(s, reason, s->ud);
}

/* -- Sending ------------------------------------------------------------------ */

static void on_enquire_done(sess_t *s, void *arg, const pdu_t *resp, int err);
static void on_unbind_done(sess_t *s, void *arg, const pdu_t *resp, int err);
static void drain(sess_t *s, uint64_t now);

/* Send with or without the state rule (the engine's own chores skip it):
 * the PDU p, or (p NULL) the octets raw[0..raw_len) of a request encoded
 * before, command_id theirs. */
static long send_any(sess_t *s, pdu_t *p, const uint8_t *raw, size_t raw_len, uint32_t command_id,
                     sess_done_fn cb, void *arg, uint64_t now, int check)
{
    const pdu_cmd_t *cmd = pdu_cmd_find(command_id);
    win_entry_t *e = NULL;
    uint32_t seq;
    long n;
    if (!cmd) {
        snprintf(s->errmsg, sizeof s->errmsg, "unknown command_id 0x%08X", command_id);
        return SESS_EINVAL;
    }
    if (s->closing) return SESS_ECLOSED;
    if (check) {
        int allowed = s->side == SESS_SMSC ? cmd->smsc_states : cmd->esme_states;
        if (s->state == SESS_UNBINDING || !(allowed & state_bit(s->state))) return SESS_ESTATE;
        if (s->cfg.max_output && sess_output_pending(s) > s->cfg.max_output) return SESS_EOUTPUT;
        if (cmd->resp_id && s->win.count >= s->cfg.window) return SESS_EWINDOW;
    }
    do {                               /* 1..0x7FFFFFFF, skipping numbers in use */
        seq = s->next_seq;
        s->next_seq = seq >= 0x7FFFFFFF ? 1 : seq + 1;
    } while (win_get(&s->win, seq));
    if (p) {
        p->sequence_number = seq;
        p->command_status = 0;
    }
    if (cmd->resp_id) {
        if (!(e = win_put(&s->win, seq))) return SESS_EWINDOW;
        e->command_id = command_id;
        e->sent_ms = now;
        e->deadline_ms = now + s->cfg.response_timeout_ms;
        e->cb = (void *)cb;
        e->arg = arg;
        if (!s->win_next || e->deadline_ms < s->win_next) s->win_next = e->deadline_ms;
    }
    if ((n = p ? sess__out_pdu(s, p) : sess__out_octets(s, cmd, raw, raw_len, seq)) < 0) {
        if (cmd->resp_id) win_del(&s->win, seq, NULL);
        return n;
    }
    if (cmd->resp_id) COUNT(s, tx_requests);
    return (long)seq;
}

static long send_pdu(sess_t *s, pdu_t *p, sess_done_fn cb, void *arg, uint64_t now, int check)
{
    return send_any(s, p, NULL, 0, p->command_id, cb, arg, now, check);
}

long sess_send(sess_t *s, pdu_t *pdu, sess_done_fn cb, void *arg, uint64_t now_ms)
{
    if (pdu->command_id & SMPP_RESPONSE_BIT && pdu->command_id != SMPP_GENERIC_NACK) {
        snprintf(s->errmsg, sizeof s->errmsg, "use sess_respond for %s",
                 pdu->cmd ? pdu->cmd->name : "a response");
        return SESS_EINVAL;
    }
    return send_pdu(s, pdu, cb, arg, now_ms, 1);
}

long sess_send_octets(sess_t *s, const uint8_t *pdu, size_t len, sess_done_fn cb, void *arg, uint64_t now_ms)
{
    uint32_t id = len >= 16 ? be32(pdu + 4) : 0;
    if (len < 16 || len > PDU_DEFAULT_MAX_LEN || be32(pdu) != len) {
        snprintf(s->errmsg, sizeof s->errmsg, "%zu octets are not one PDU (command_length %u)", len,
                 len >= 4 ? be32(pdu) : 0);
        return SESS_EINVAL;
    }
    if (id & SMPP_RESPONSE_BIT) {
        snprintf(s->errmsg, sizeof s->errmsg, "command_id 0x%08X is not a request", id);
        return SESS_EINVAL;
    }
    return send_any(s, NULL, pdu, len, id, cb, arg, now_ms, 1);
}

long sess_bind(sess_t *s, uint32_t command_id, const char *system_id, const char *password,
               const char *system_type, sess_done_fn cb, void *arg, uint64_t now_ms)
{
    pdu_t *p = &s->ctx->tx_pdu;
    if (!is_bind(command_id) || (command_id & SMPP_RESPONSE_BIT)) return SESS_EINVAL;
    pdu_init(p, command_id, 0);
    pdu_set_cstr(p, PDU_F_SYSTEM_ID, system_id);
    pdu_set_cstr(p, PDU_F_PASSWORD, password);
    pdu_set_cstr(p, PDU_F_SYSTEM_TYPE, system_type ? system_type : "");
    pdu_set_int(p, PDU_F_INTERFACE_VERSION, 0x34);
    snprintf(s->system_id, sizeof s->system_id, "%s", system_id);
    return sess_send(s, p, cb, arg, now_ms);
}

long sess_outbind(sess_t *s, const char *system_id, const char *password, uint64_t now_ms)
{
    pdu_t *p = &s->ctx->tx_pdu;
    pdu_init(p, SMPP_OUTBIND, 0);
    pdu_set_cstr(p, PDU_F_SYSTEM_ID, system_id);
    pdu_set_cstr(p, PDU_F_PASSWORD, password);
    return sess_send(s, p, NULL, NULL, now_ms);
}

int sess_respond(sess_t *s, uint32_t seq, pdu_t *resp, uint32_t status, uint64_t now_ms)
{
    win_entry_t e;
    const pdu_cmd_t *req;
    long n;
    if (s->closing) return SESS_ECLOSED;
    if (!win_del(&s->rwin, seq, &e)) return SESS_ENOREQ;
    req = pdu_cmd_find(e.command_id);
    if (!resp) {
        resp = &s->ctx->tx_pdu;
        pdu_init(resp, req->resp_id, seq);
    }
    resp->command_id = req->resp_id;
    resp->command_status = status;
    resp->sequence_number = seq;
    if ((n = sess__out_pdu(s, resp)) < 0) {
        /* The body was refused: the peer still gets an answer (counted there). */
        sess__emit(s, (sess_event_t){.kind = SESS_EV_RESPONSE_REFUSED, .command_id = req->id, .seq = seq,
                               .text = s->errmsg});
        chore_respond(s, req->resp_id, seq, SMPP_ESME_RSYSERR);
        status = SMPP_ESME_RSYSERR;
    } else {
        count_status(s, status, 0);
        if (status) COUNT(s, sent_error);
    }
    while (e.dups--) chore_respond(s, pdu_cmd_find(e.dup_id)->resp_id, seq, SMPP_ESME_RSYSERR);
    if (is_bind(e.command_id)) {
        if (seq == s->bind_seq) s->bind_checking = 0;
        if (status == SMPP_ESME_ROK && s->state != SESS_UNBINDING) {
            if (s->side == SESS_SMSC && !s->group) s->group = sess_ctx_group(s->ctx, SESS_SMSC, s->system_id);
            sess__emit(s, (sess_event_t){.kind = SESS_EV_BOUND, .command_id = req->id, .seq = seq,
                                   .state = bound_by(e.command_id)});
            set_state(s, bound_by(e.command_id));
        } else {
            sess__emit(s, (sess_event_t){.kind = SESS_EV_BIND_REFUSED, .command_id = req->id, .seq = seq,
                                   .status = status});
        }
    }
    if (s->state == SESS_UNBINDING) drain(s, now_ms);
    return n < 0 ? (int)n : 0;
}

int sess_unbind(sess_t *s, uint64_t now_ms)
{
    if (s->closing || !is_bound(s->state)) return SESS_ESTATE;
    s->bound_state = s->state;
    s->unbind_ours = 1;
    s->unbind_started_ms = now_ms;
    sess__emit(s, (sess_event_t){.kind = SESS_EV_UNBINDING, .n1 = s->win.count, .n2 = s->rwin.count});
    set_state(s, SESS_UNBINDING);
    drain(s, now_ms);
    return 0;
}

/* In UNBINDING: once nothing is outstanding either way, finish the handshake. */
static void drain(sess_t *s, uint64_t now)
{
    uint32_t ours;
    if (s->state != SESS_UNBINDING || s->closing || s->rwin.count) return;
    ours = s->win.count - (s->unbind_ours == 2 ? 1 : 0);
    if (ours) return;
    if (s->unbind_peer) {
        s->unbind_peer = 0;
        chore_respond(s, SMPP_UNBIND_RESP, s->unbind_peer_seq, SMPP_ESME_ROK);
        sess_close(s, "unbind");
    } else if (s->unbind_ours == 1) {
        pdu_t *tx = &s->ctx->tx_pdu;
        pdu_init(tx, SMPP_UNBIND, 0);
        s->unbind_ours = 2;
        if (send_pdu(s, tx, on_unbind_done, NULL, now, 0) < 0) sess_close(s, "unbind");
    }
}

static void on_unbind_done(sess_t *s, void *arg, const pdu_t *resp, int err)
{
    (void)arg;
    (void)resp;
    sess_close(s, err == SESS_ETIMEOUT ? "unbind_resp not received" : "unbind");
}

static void on_enquire_done(sess_t *s, void *arg, const pdu_t *resp, int err)
{
    (void)arg;
    (void)resp;
    if (err == 0 || err == SESS_ENACK) {
        s->enquire_missed = 0;
    } else if (err == SESS_ETIMEOUT && ++s->enquire_missed >= s->cfg.enquire_link_misses) {
        sess__emit(s, (sess_event_t){.kind = SESS_EV_PEER_DEAD, .n1 = s->enquire_missed});
        sess_close(s, "enquire_link unanswered");
    }
}

/* -- Receiving ---------------------------------------------------------------- */

static void handle_response(sess_t *s, const pdu_t *p, uint32_t st, uint64_t now)
{
    win_entry_t e;
    const pdu_cmd_t *req;
    sess_done_fn cb;
    sess_totals_t *tot = &s->ctx->totals;
    if (!win_del(&s->win, p->sequence_number, &e)) {
        COUNT(s, unmatched);
        sess__emit(s, (sess_event_t){.kind = SESS_EV_UNMATCHED, .command_id = p->command_id, .seq = p->sequence_number});
        return;
    }
    req = pdu_cmd_find(e.command_id);
    cb = (sess_done_fn)e.cb;
    s->st.rtt_ms_sum += now - e.sent_ms;
    tot->sum.rtt_ms_sum += now - e.sent_ms;
    tot->side[s->side].rtt_ms_sum += now - e.sent_ms;
    COUNT(s, rtt_count);
    {
        int b = 0;
        while (b < SESS_RTT_BUCKETS - 1 && (double)(now - e.sent_ms) > sess_rtt_bounds_ms[b]) b++;
        tot->rtt_buckets[b]++;
        if (s->group) {
            s->group->rtt_buckets[b]++;
            s->group->st.rtt_ms_sum += now - e.sent_ms;
        }
    }
    count_status(s, p->command_status, 1);
    if (p->command_id == SMPP_GENERIC_NACK) {
        COUNT(s, nacks_rx);
        sess__emit(s, (sess_event_t){.kind = SESS_EV_NACKED, .command_id = req->id, .seq = p->sequence_number,
                               .status = p->command_status});
        if (cb) cb(s, e.arg, p, SESS_ENACK);
        return;
    }
    if (p->command_id != req->resp_id || st != SMPP_ESME_ROK) {
        COUNT(s, malformed);
        sess__emit(s, (sess_event_t){.kind = SESS_EV_BAD_RESPONSE, .command_id = req->id, .seq = p->sequence_number,
                               .text = st != SMPP_ESME_ROK ? "malformed" : "wrong command_id"});
        if (cb) cb(s, e.arg, NULL, SESS_EBADRESP);
        return;
    }
    if (p->command_status) COUNT(s, resp_error);
    else COUNT(s, resp_ok);
    if (is_bind(e.command_id)) {
        if (p->command_status == SMPP_ESME_ROK) {
            sess__emit(s, (sess_event_t){.kind = SESS_EV_BOUND_TO_SMSC, .command_id = req->id,
                                   .seq = p->sequence_number, .state = bound_by(e.command_id)});
            set_state(s, bound_by(e.command_id));
        } else {
            sess__emit(s, (sess_event_t){.kind = SESS_EV_BIND_REJECTED, .command_id = req->id,
                                   .seq = p->sequence_number, .status = p->command_status});
        }
    }
    if (cb) cb(s, e.arg, p, 0);
}

static void refuse(sess_t *s, const pdu_t *p, uint32_t status, const char *why)
{
    const pdu_cmd_t *cmd = p->cmd;
    sess__emit(s, (sess_event_t){.kind = SESS_EV_REFUSED, .command_id = p->command_id, .seq = p->sequence_number,
                           .status = status, .text = why});
    chore_respond(s, cmd && cmd->resp_id ? cmd->resp_id : SMPP_GENERIC_NACK, p->sequence_number,
                  status);
}

/* The owner declined the request (no handler): the one place that decides
 * what such a request gets. */
static void decline(sess_t *s, const pdu_t *p, uint64_t now)
{
    if (p->cmd->resp_id) {
        sess__emit(s, (sess_event_t){.kind = SESS_EV_DECLINED, .command_id = p->command_id, .seq = p->sequence_number});
        sess_respond(s, p->sequence_number, NULL, SMPP_ESME_RINVCMDID, now);
    } else if (p->command_id == SMPP_OUTBIND) {
        sess_close(s, "outbind refused: no outbind handler");
    }                                  /* alert_notification: nothing to answer */
}

/* Hand a request to the owner (a declined one is answered here). */
static void dispatch(sess_t *s, const pdu_t *p, uint64_t now)
{
    if (!s->h->request || s->h->request(s, p, s->ud) == SESS_DECLINED) decline(s, p, now);
}

static void handle_request(sess_t *s, pdu_t *p, uint64_t now)
{
    const pdu_cmd_t *cmd = p->cmd;
    int allowed = s->side == SESS_SMSC ? cmd->esme_states : cmd->smsc_states, taking;
    uint32_t id = p->command_id;
    win_entry_t *e;

    COUNT(s, rx_requests);
    if (id == SMPP_ENQUIRE_LINK) {     /* answered in every state */
        chore_respond(s, SMPP_ENQUIRE_LINK_RESP, p->sequence_number, SMPP_ESME_ROK);
        return;
    }
    if (id == SMPP_UNBIND) {
        if (s->state == SESS_OPEN || s->state == SESS_OUTBOUND) {
            /* Strictly ESME_RINVBNDSTS; peers that do this want to leave. */
            chore_respond(s, SMPP_UNBIND_RESP, p->sequence_number, SMPP_ESME_ROK);
            sess_close(s, "unbind before bind");
            return;
        }
        if (s->unbind_peer) {
            refuse(s, p, SMPP_ESME_RINVBNDSTS, "unbind already in progress");
            return;
        }
        sess__emit(s, (sess_event_t){.kind = SESS_EV_PEER_UNBINDS, .n1 = s->win.count, .n2 = s->rwin.count});
        if (s->state != SESS_UNBINDING) {
            s->bound_state = s->state;
            s->unbind_started_ms = now;
            set_state(s, SESS_UNBINDING);
        }
        s->unbind_peer = 1;
        s->unbind_peer_seq = p->sequence_number;
        drain(s, now);
        return;
    }
    if (is_bind(id) && is_bound(s->state)) {
        refuse(s, p, SMPP_ESME_RALYBND, "already bound");
        return;
    }
    /* one bind at a time: the owner may take a while (a password hash),
     * and a second bind meanwhile would be checked beside it, each
     * answered on its own and the state set by whichever ends last */
    if (is_bind(id) && s->bind_checking) {
        refuse(s, p, SMPP_ESME_RALYBND, "a bind is being checked");
        return;
    }
    /* while our own unbind waits for our requests' answers (or for its
     * unbind_resp), what the SMSC delivers (the receipts of those messages)
     * is taken as in the bound state; drain waits for its answer too */
    taking = s->state == SESS_UNBINDING && s->unbind_ours && !s->unbind_peer && s->side == SESS_ESME
             && (id == SMPP_DELIVER_SM || id == SMPP_DATA_SM) && (allowed & state_bit(s->bound_state));
    if (!taking && (s->state == SESS_UNBINDING || !(allowed & state_bit(s->state)))) {
        if (!cmd->resp_id && id != SMPP_OUTBIND && id != SMPP_ALERT_NOTIFICATION) return;
        refuse(s, p, SMPP_ESME_RINVBNDSTS, sess_state_name(s->state));
        return;
    }
    if (!cmd->resp_id) {               /* outbind, alert_notification */
        if (id == SMPP_OUTBIND) set_state(s, SESS_OUTBOUND);
        dispatch(s, p, now);
        return;
    }
    if ((id == SMPP_SUBMIT_SM || id == SMPP_SUBMIT_MULTI || id == SMPP_DATA_SM)
        && s->throttle && !tb_take(s->throttle, now)) {
        COUNT(s, throttled);
        refuse(s, p, SMPP_ESME_RTHROTTLED, "rate limit");
        return;
    }
    if (s->rwin.count >= s->cfg.receive_window) {
        COUNT(s, throttled);
        refuse(s, p, SMPP_ESME_RTHROTTLED, "receive window full");
        return;
    }
    if (p->sequence_number == 0) {      /* 3.4 §2.5.x: 1..0x7FFFFFFF; 0 marks "no request" here */
        refuse(s, p, SMPP_ESME_RSYSERR, "sequence_number 0 is outside 1..0x7FFFFFFF");
        return;
    }
    if (!(e = win_put(&s->rwin, p->sequence_number))) {        /* in use (or no memory) */
        /* a duplicate: its refusal follows the first's answer (sess_respond), so that a
         * peer matching answers by sequence_number never takes it for the first's */
        if ((e = win_get(&s->rwin, p->sequence_number)) && e->dups < UINT32_MAX) {
            e->dups++;
            e->dup_id = id;
            sess__emit(s, (sess_event_t){.kind = SESS_EV_REFUSED, .command_id = id, .seq = p->sequence_number,
                .status = SMPP_ESME_RSYSERR, .text = "sequence_number in use by a request in progress (answered after it)"});
        } else refuse(s, p, SMPP_ESME_RSYSERR, "sequence_number in use by a request in progress");
        return;
    }
    e->command_id = id;
    e->sent_ms = now;
    if (is_bind(id)) {
        const pdu_value_t *v = pdu_get(p, PDU_F_SYSTEM_ID);
        snprintf(s->system_id, sizeof s->system_id, "%.*s", v ? (int)v->len : 0,
                 v ? (const char *)v->ptr : "");
        s->bind_checking = 1;
        s->bind_seq = p->sequence_number;
    }
    dispatch(s, p, now);
}

static void handle_pdu(sess_t *s, const uint8_t *data, size_t len, uint64_t now)
{
    pdu_error_t err;
    pdu_t *rx = &s->ctx->rx_pdu;
    uint32_t st = pdu_decode(rx, data, len, s->cfg.max_pdu, &err);
    const pdu_cmd_t *cmd = rx->cmd;
    int is_resp = (rx->command_id & SMPP_RESPONSE_BIT) != 0;

    COUNT(s, rx_pdus);
    s->last_rx_ms = now;
    s->enquire_missed = 0;             /* anything received: the peer is alive */
    if (cmd) COUNT(s, rx_cmd[cmd_index(cmd)]);
    if (s->ctx->trace) s->ctx->trace(s, rx, 1, st);
    if (st == SMPP_ESME_RINVCMDID) {
        COUNT(s, malformed);
        sess__emit(s, (sess_event_t){.kind = SESS_EV_UNKNOWN_COMMAND, .command_id = rx->command_id,
                               .seq = rx->sequence_number});
        chore_respond(s, SMPP_GENERIC_NACK, rx->sequence_number, SMPP_ESME_RINVCMDID);
        return;
    }
    if (is_resp) {
        handle_response(s, rx, st, now);
        if (s->state == SESS_UNBINDING) drain(s, now);
        return;
    }
    if (st != SMPP_ESME_ROK) {
        COUNT(s, malformed);
        sess__emit(s, (sess_event_t){.kind = SESS_EV_MALFORMED, .command_id = rx->command_id,
                               .seq = rx->sequence_number, .status = st, .text = err.msg});
        if (!cmd->resp_id && cmd->id == SMPP_ALERT_NOTIFICATION) return; /* no answer exists */
        chore_respond(s, st == SMPP_ESME_RINVCMDLEN || !cmd->resp_id ? SMPP_GENERIC_NACK
                      : cmd->resp_id, rx->sequence_number, st);
        return;
    }
    handle_request(s, rx, now);
}

/* The largest command_length the session takes now: max_pdu once bound or
 * while its bind is being checked (a client may send its first submit
 * right behind its bind: refused ESME_RINVBNDSTS if the bind is not done,
 * the framing kept), SESS_UNBOUND_MAX_PDU before (what a peer that has
 * not asked to bind may make us buffer: the PDUs allowed then are a few
 * dozen octets). */
static uint32_t frame_max(const sess_t *s)
{
    int unbound = (s->state == SESS_OPEN || s->state == SESS_OUTBOUND) && !s->bind_checking;
    return unbound && s->cfg.max_pdu > SESS_UNBOUND_MAX_PDU ? SESS_UNBOUND_MAX_PDU : s->cfg.max_pdu;
}

/* Frame and handle every whole PDU of buf; returns the octets consumed. */
static size_t process(sess_t *s, const uint8_t *buf, size_t len, uint64_t now)
{
    size_t pos = 0;
    while (!s->closing && pos < len) {
        uint32_t max = frame_max(s);       /* per PDU: a bind_resp may be followed by more */
        long n = pdu_frame(buf + pos, len - pos, max);
        if (n == 0) break;
        if (n < 0) {
            uint32_t cl = be32(buf + pos);
            uint32_t seq = len - pos >= 16 ? be32(buf + pos + 12) : 0;
            COUNT(s, malformed);
            sess__emit(s, (sess_event_t){.kind = SESS_EV_FRAMING_LOST, .seq = seq, .n1 = cl, .n2 = max});
            chore_respond(s, SMPP_GENERIC_NACK, seq, SMPP_ESME_RINVCMDLEN);
            sess_close(s, "framing lost (bad command_length)");
            return len;
        }
        handle_pdu(s, buf + pos, (size_t)n, now);
        pos += (size_t)n;
    }
    return pos;
}

int sess_feed(sess_t *s, const uint8_t *data, size_t len, uint64_t now_ms)
{
    size_t used;
    if (s->closing) return -1;
    s->st.rx_bytes += len;
    s->ctx->totals.sum.rx_bytes += len;
    s->ctx->totals.side[s->side].rx_bytes += len;
    if (s->in_len == 0) {
        used = process(s, data, len, now_ms);
        data += used;
        len -= used;
        if (!len || s->closing) return s->closing ? -1 : 0;
    }
    if (s->in_len + len > s->in_cap) {   /* bounded: framing checked max_pdu (before a bind: far less) */
        size_t cap = s->in_cap ? s->in_cap : 256;
        uint8_t *p;
        while (cap < s->in_len + len) cap *= 2;
        if (!(p = realloc(s->in, cap))) {
            sess_close(s, "out of memory");
            return -1;
        }
        s->in = p;
        s->in_cap = cap;
    }
    memcpy(s->in + s->in_len, data, len);
    s->in_len += len;
    used = process(s, s->in, s->in_len, now_ms);
    memmove(s->in, s->in + used, s->in_len - used);
    s->in_len -= used;
    if (s->in_len == 0) {              /* idle sessions keep no input buffer */
        free(s->in);
        s->in = NULL;
        s->in_cap = 0;
    }
    return s->closing ? -1 : 0;
}

/* -- Timers ------------------------------------------------------------------- */

static void expire_window(sess_t *s, uint64_t now)
{
    uint32_t i, n = 0;
    uint64_t next = 0;
    win_entry_t *list = NULL;
    for (i = 0; i <= s->win.mask; i++) {
        win_entry_t *e = &s->win.slots[i];
        if (!e->seq) continue;
        if (e->deadline_ms <= now) {
            if (!list && !(list = malloc(s->win.count * sizeof *list))) return;
            list[n++] = *e;
        } else if (!next || e->deadline_ms < next) {
            next = e->deadline_ms;
        }
    }
    s->win_next = next;
    for (i = 0; i < n; i++) {
        win_del(&s->win, list[i].seq, NULL);
        COUNT(s, timeouts);
        sess__emit(s, (sess_event_t){.kind = SESS_EV_TIMEOUT, .command_id = list[i].command_id, .seq = list[i].seq,
                               .n1 = s->cfg.response_timeout_ms});
        if (list[i].cb) ((sess_done_fn)list[i].cb)(s, list[i].arg, NULL, SESS_ETIMEOUT);
    }
    free(list);
}

static uint64_t enquire_due(const sess_t *s)
{
    uint64_t base = s->last_rx_ms > s->last_enquire_ms ? s->last_rx_ms : s->last_enquire_ms;
    return base + s->cfg.enquire_link_ms;
}

void sess_tick(sess_t *s, uint64_t now)
{
    if (s->closing) return;
    if (s->win_next && now >= s->win_next) expire_window(s, now);
    if (s->closing) return;
    if ((s->state == SESS_OPEN || s->state == SESS_OUTBOUND) && s->cfg.init_timeout_ms
        && now >= s->created_ms + s->cfg.init_timeout_ms) {
        sess_close(s, "not bound within the session_init timer");
        return;
    }
    if (s->cfg.inactivity_ms && now >= s->last_rx_ms + s->cfg.inactivity_ms) {
        sess_close(s, "inactivity timer");
        return;
    }
    if (s->state == SESS_UNBINDING && now >= s->unbind_started_ms + s->cfg.unbind_timeout_ms) {
        sess_close(s, "unbind did not complete in time");
        return;
    }
    if (is_bound(s->state) && s->cfg.enquire_link_ms && now >= enquire_due(s)) {
        pdu_t *tx = &s->ctx->tx_pdu;
        pdu_init(tx, SMPP_ENQUIRE_LINK, 0);
        s->last_enquire_ms = now;
        send_pdu(s, tx, on_enquire_done, NULL, now, 0);
    }
}

uint64_t sess_next_deadline(const sess_t *s)
{
    uint64_t d = s->win_next, t;
#define EARLIER(x) do { t = (x); if (!d || t < d) d = t; } while (0)
    if (s->closing) return 0;
    if ((s->state == SESS_OPEN || s->state == SESS_OUTBOUND) && s->cfg.init_timeout_ms)
        EARLIER(s->created_ms + s->cfg.init_timeout_ms);
    if (s->cfg.inactivity_ms) EARLIER(s->last_rx_ms + s->cfg.inactivity_ms);
    if (s->state == SESS_UNBINDING) EARLIER(s->unbind_started_ms + s->cfg.unbind_timeout_ms);
    if (is_bound(s->state) && s->cfg.enquire_link_ms) EARLIER(enquire_due(s));
#undef EARLIER
    return d;
}

/* -- Inspecting --------------------------------------------------------------- */

uint64_t sess_id(const sess_t *s) { return s->id; }
sess_state_t sess_state(const sess_t *s) { return s->state; }
sess_side_t sess_side(const sess_t *s) { return s->side; }
const char *sess_system_id(const sess_t *s) { return s->system_id; }
int sess_is_closing(const sess_t *s) { return s->closing; }
const char *sess_close_reason(const sess_t *s) { return s->close_reason; }
uint32_t sess_window_used(const sess_t *s) { return s->win.count; }
uint32_t sess_receive_window_used(const sess_t *s) { return s->rwin.count; }
const sess_config_t *sess_config(const sess_t *s) { return &s->cfg; }
const sess_stats_t *sess_stats(const sess_t *s) { return &s->st; }
const char *sess_last_error(const sess_t *s) { return s->errmsg; }
void *sess_userdata(const sess_t *s) { return s->ud; }
void sess_set_userdata(sess_t *s, void *ud) { s->ud = ud; }
void sess_set_throttle(sess_t *s, tb_t *b) { s->throttle = b; }

/* Test hook: the next sequence_number to try (for the wrap-around test). */
void sess__set_next_seq(sess_t *s, uint32_t seq);
void sess__set_next_seq(sess_t *s, uint32_t seq) { s->next_seq = seq; }
