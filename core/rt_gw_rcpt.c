/* rt_gw_rcpt.c -- receipts from upstream links, matched in C: the id a
 * receipt is about (the receipted_message_id TLV, else its text's id:
 * field), read in the format the link declared for that place, looked up
 * exactly within that link's messages in the store; the receipt rewritten
 * to the ESME's id (TLV and text) and handed, with a free window slot, to
 * the session its message came in on (rt_gw_origin.c), else to another
 * receiver of the account, else (or when the ESME does not take it) put in
 * its outbox (also when the ESME has not answered within receipt_wait:
 * rt_gw_wait.c, rt_gw_rcpt_due); the message's state written. The
 * upstream is answered after the commit that stored that: ESME_ROK, or
 * ESME_RX_T_APPN ("try later") when the receipt could not be kept (an
 * outbox or the early table full); until then it keeps the receipt, so a
 * crash loses none (one may come twice). A receipt whose message's answer
 * is not stored yet waits in the store's `early` table, matched once it is
 * (rt_gw_rcpt_early). Nothing is guessed: an id matches only its own key,
 * within its own upstream, or on a miss the other upstreams of its receipt
 * group (one SMSC account).
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlr.h"
#include "log.h"
#include "msgid.h"
#include "rt.h"
#include "rt_acct.h"
#include "rt_block.h"
#include "rt_gw.h"
#include "rt_route.h"
#include "rt_gwr.h"
#include "rt_outbox.h"
#include "rt_store.h"

#define KEY_MAX   160           /* ids longer than KEY_MAX / 2 - 1 octets match nothing */
#define LOG_S     10            /* one line about unmatched receipts per link this often */
#define HTTP_ACCOUNT "@http"    /* messages of POST /send: their receipts go to Lua */

static struct {
    pdu_t    in, out;           /* an early receipt decoded; the onward receipt */
    uint8_t  text[65536 + 64], buf[70000];
    double   logged;            /* rt_time() of the last line about unmatched receipts */
    uint64_t unlogged;
} rc;

static void log_unmatched(rt_link_t *l, const char *why)
{
    double now = rt_time();
    l->unmatched++;
    if (now - rc.logged < LOG_S) {
        rc.unlogged++;
        return;
    }
    log_msg(LOG_WARN, 0, "receipt from %s %s (%llu more unmatched receipts since the last line)", l->name, why,
            (unsigned long long)rc.unlogged);
    rc.logged = now;
    rc.unlogged = 0;
}

/* -- The onward receipt ------------------------------------------------------------------- */

/* *out = *in, without the TLV slots past its count nor the addresses of a
 * receipt (most of a pdu_t's 5.7 KB). */
static void copy_pdu(pdu_t *out, const pdu_t *in)
{
    memcpy(out, in, offsetof(pdu_t, tlv) + (size_t)in->ntlv * sizeof in->tlv[0]);
    if (in->naddr) memcpy(out->addr, in->addr, (size_t)in->naddr * sizeof in->addr[0]);
    out->raw = in->raw;
}

/* `in` rewritten to the ESME's id (receipted_message_id set or added, the
 * text's id: value replaced), encoded into rc.buf. Returns its length, or
 * -1 with the reason in why. */
static long onward(const pdu_t *in, const dlr_text_t *tx, store_str_t esme_id, const char **why)
{
    static char idz[80];
    pdu_t *out = &rc.out;
    pdu_error_t perr;
    size_t n, tlen;
    int in_payload, i, found = 0;
    const uint8_t *text = rt_gw_rcpt_text(in, &n, &in_payload);
    long len;
    copy_pdu(out, in);
    out->sequence_number = 0;
    out->present &= ~((uint64_t)1 << PDU_F_SM_LENGTH);      /* computed again from short_message */
    if (esme_id.n + 1 > sizeof idz) return *why = "the message id is too long", -1;
    memcpy(idz, esme_id.p, esme_id.n);
    idz[esme_id.n] = '\0';
    for (i = 0; i < out->ntlv; i++) {
        if (out->tlv[i].tag == SMPP_TLV_receipted_message_id) {
            out->tlv[i].val = (const uint8_t *)idz;
            out->tlv[i].len = (uint16_t)(esme_id.n + 1);
            found = 1;
        }
    }
    if (!found && pdu_tlv_add(out, SMPP_TLV_receipted_message_id, (const uint8_t *)idz,
                              (uint16_t)(esme_id.n + 1)) < 0)
        return *why = "no room for receipted_message_id", -1;
    if (tx->id && tx->id_at + tx->id_len <= n) {
        tlen = n - tx->id_len + esme_id.n;
        if (tlen > sizeof rc.text) return *why = "the receipt text is too long", -1;
        memcpy(rc.text, text, tx->id_at);
        memcpy(rc.text + tx->id_at, esme_id.p, esme_id.n);
        memcpy(rc.text + tx->id_at + esme_id.n, text + tx->id_at + tx->id_len, n - tx->id_at - tx->id_len);
        if (!in_payload && tlen <= PDU_MAX_SHORT_MESSAGE) {
            pdu_set_str(out, PDU_F_SHORT_MESSAGE, rc.text, tlen);
        } else {
            /* a longer id does not fit short_message: the text moves to message_payload */
            if (!in_payload) pdu_set_str(out, PDU_F_SHORT_MESSAGE, (const uint8_t *)"", 0);
            for (i = 0; i < out->ntlv && out->tlv[i].tag != SMPP_TLV_message_payload; i++) {}
            if (i < out->ntlv) {
                out->tlv[i].val = rc.text;
                out->tlv[i].len = (uint16_t)tlen;
            } else if (pdu_tlv_add(out, SMPP_TLV_message_payload, rc.text, (uint16_t)tlen) < 0) {
                return *why = "no room for message_payload", -1;
            }
        }
    }
    len = pdu_encode(out, rc.buf, sizeof rc.buf, &perr);
    if (len < 0) *why = perr.msg;
    return len;
}

/* -- Matching ------------------------------------------------------------------------------ */

typedef struct found_s {
    int             n;
    store_fwd_row_t r;
    char            id[72], account[24], route[72];
} found_t;

/* Copy v into dst (cap octets with the NUL), cut at its end. */
static size_t copy_to(char *dst, size_t cap, store_str_t v)
{
    size_t n = v.p ? (v.n < cap ? v.n : cap - 1) : 0;
    if (n) memcpy(dst, v.p, n);
    dst[n] = '\0';
    return n;
}

static int on_found(const store_fwd_row_t *r, void *ud)
{
    found_t *f = ud;
    if (f->n && r->rowid <= f->r.rowid) return 1;      /* a group's: the newest of all members is kept */
    f->n = 1;
    f->r = *r;
    /* the strings point into SQLite's row: copied before the next statement */
    f->r.id.p = f->id;
    f->r.id.n = copy_to(f->id, sizeof f->id, r->id);
    f->r.account.p = f->account;
    f->r.account.n = copy_to(f->account, sizeof f->account, r->account);
    f->r.pdu.p = NULL;
    f->r.route.p = f->route;                          /* per-route receipt counts */
    f->r.route.n = copy_to(f->route, sizeof f->route, r->route);
    f->r.notify.n = r->notify.p ? r->notify.n : 0;
    f->r.notify.p = r->notify.p ? "" : NULL;          /* whether it has one is all we keep */
    return 1;
}

/* -- Relaying: straight to a receiver with room ---------------------------------------- */

/* A receipt handed to a receiver of its account, waiting for the ESME's
 * answer; the upstream is answered only then (it keeps the receipt until
 * the ESME has it or the outbox holds it: a crash loses nothing). */
typedef struct relay_s {
    rt_gw_wait_t wait;          /* receipt_wait: then the outbox, the upstream answered (rt_gw_rcpt_due) */
    rt_link_t *link;
    uint64_t   up_sess;         /* the upstream session to answer (0: none, an early receipt) */
    uint32_t   up_seq;
    long long  rowid, err, queued;  /* queued: its outbox copy, put there at the deadline */
    int        state, final;
    char       id[72], account[24], dest[24];     /* dest: the destination a multi's receipt is about */
    struct relay_s *next;       /* on the list of receipts sent at the turn's end */
    size_t     n;
    uint8_t    pdu[1];          /* the onward receipt, for the outbox if the ESME does not take it */
} relay_t;

/* Receipts matched while answers wait for the turn's commit go after them
 * (rt_gw_rcpt_turn): with message_id "upstream" one of those answers may
 * give the ESME the very id the receipt names. */
static struct { relay_t *head, *tail; } deferred;

/* The message's state and trace line, then the upstream's answer.
 * delivered: `what` is "delivered to <its account>" (a usual line, as
 * what NULL is when the receipt is final: the store may keep those as a
 * column). */
static void settle(const relay_t *r, store_t *st, const char *what, int delivered, uint32_t answer)
{
    char line[256];
    rt_link_t *l = r->link;
    if (answer == SMPP_ESME_ROK || what) {
        int wr, rcpt = !r->final || r->dest[0] ? 0 : !what ? 1 : delivered ? 2 : 0;
        if (rcpt) {                        /* the usual line: the store's to keep */
            wr = store_fwd_receipt(st, r->rowid, r->state, r->err, rt_time(), rcpt, (store_str_t){ NULL, 0 });
        } else {
            char wb[200];
            store_str_t w = rt_gw_rcpt_what(wb, sizeof wb, r->dest, what);
            size_t n = store_fwd_line_receipt(line, sizeof line, (store_str_t){ l->name, l->len }, r->state, r->err,
                                              r->final, w);
            wr = r->final ? store_fwd_receipt(st, r->rowid, r->state, r->err, rt_time(), 0, (store_str_t){ line, n })
                          : store_fwd_state(st, r->rowid, r->state, 0, r->err, rt_time(), (store_str_t){ line, n });
        }
        if (wr < 0)
            log_kind(LOG_ERROR, 0, "receipt state not stored", "receipt from %s for %s: its state was not stored: %s",
                     l->name, r->id, store_errmsg(st));
        else if (!r->queued) l->receipts++;       /* counted once, when it was queued */
    }
    if (r->final) rt_gw_origin_drop(r->rowid);     /* nothing more goes to its session */
    if (r->up_sess) rt_gw_hold_answer(r->up_sess, r->up_seq, answer);
}

/* Into the account's outbox (no receiver had room, or it did not take it). */
static uint32_t queue_it(relay_t *r, store_t *st, const char *what)
{
    long long rowid = rt_outbox_post(r->account, strlen(r->account), (store_str_t){(const char *)r->pdu, r->n},
                                     (store_str_t){r->id, strlen(r->id)}, 0, rt_gw_conf.queue_ttl,
                                     rt_gw_origin_sess(r->rowid));        /* delivered on it, if it can */
    if (rowid < 0) {
        log_kind_for(LOG_WARN, 0, "receipt not queued", r->account, "receipt from %s for %s not queued for %s: %s; "
                     "answered ESME_RX_T_APPN", r->link->name, r->id, r->account, store_errmsg(st));
        r->link->receipts_refused++;
        settle(r, st, NULL, 0, SMPP_ESME_RX_T_APPN);
        return SMPP_ESME_RX_T_APPN;
    }
    settle(r, st, what, 0, SMPP_ESME_ROK);
    r->queued = rowid;
    return SMPP_ESME_ROK;
}

/* The ESME has not answered within receipt_wait: the outbox keeps the
 * receipt and the upstream is answered now; the ESME's answer, when it
 * comes, takes the outbox copy back (on_relayed). */
void rt_gw_rcpt_due(rt_gw_wait_t *w)
{
    relay_t *r = (relay_t *)w;
    store_t *st = rt_store();
    char what[128];
    if (!st || !r->up_sess) return;
    snprintf(what, sizeof what, "%s did not answer within receipt_wait: queued", r->account);
    queue_it(r, st, what);
    r->up_sess = 0;
}

static void on_relayed(sess_t *s, void *arg, const pdu_t *resp, int err)
{
    relay_t *r = arg;
    store_t *st = rt_store();
    rt_acct_t *a = rt_acct_get(r->account, strlen(r->account), 0);
    uint32_t status = resp ? resp->command_status : 0;
    char what[128];
    if (a && a->inflight) a->inflight--;
    rt_gw_wait_del(&r->wait);
    if (r->queued && (err || status == SMPP_ESME_RTHROTTLED || status == SMPP_ESME_RMSGQFUL
                      || status == SMPP_ESME_RX_T_APPN || status == SMPP_ESME_RINVBNDSTS)) {
        st = NULL;                            /* in the outbox already: its deliverer sends it */
    } else if (r->queued) {
        rt_outbox_cancel(r->queued);          /* answered late: not sent again (unless under way) */
    }
    if (st) {
        if (!err && status == SMPP_ESME_ROK) {
            rt_line_t tl = { what, 0, sizeof what };
            rt_gw_line_str(&tl, "delivered to ");
            rt_gw_line_str(&tl, r->account);
            if (a) a->delivered++;
            r->link->relayed++;
            settle(r, st, what, 1, SMPP_ESME_ROK);
        } else if (err || status == SMPP_ESME_RTHROTTLED || status == SMPP_ESME_RMSGQFUL
                   || status == SMPP_ESME_RX_T_APPN || status == SMPP_ESME_RINVBNDSTS) {
            /* not taken now (busy, timeout, the link went, the receiver
             * unbinding): the outbox keeps it */
            snprintf(what, sizeof what, "%s did not take it (%s): queued", r->account,
                     err ? sess_strerror(err) : pdu_status_name(status));
            queue_it(r, st, what);
        } else {
            snprintf(what, sizeof what, "refused by %s: %s", r->account,
                     pdu_status_name(status) ? pdu_status_name(status) : "an unknown status");
            if (a) a->refused++;
            settle(r, st, what, 0, SMPP_ESME_ROK);       /* the ESME has answered */
        }
    }
    (void)s;
    rt_block_put(r);
    if (a) {
        rt_acct_wake(a);                      /* a window slot is free for its deliverer */
        rt_acct_release(a);
    }
}

void rt_gw_rcpt_turn(void)
{
    relay_t *r;
    store_t *st = rt_store();
    while ((r = deferred.head) != NULL) {
        rt_acct_t *a = rt_acct_get(r->account, strlen(r->account), 0);
        sess_t *rs;
        deferred.head = r->next;
        if (a && rt.net && (rs = rt_gw_origin_pick(a, r->rowid)) != NULL
            && sess_send_octets(rs, r->pdu, r->n, on_relayed, r, uv_now(rt.loop)) > 0) {
            net_touch(rs);
            a->inflight++;
            rt_gw_wait_add(&r->wait);
            continue;
        }
        if (st) queue_it(r, st, NULL);     /* no receiver with room now: the outbox */
        else rt_gw_hold_answer(r->up_sess, r->up_seq, SMPP_ESME_RX_T_APPN);
        rt_block_put(r);
    }
    deferred.tail = NULL;
}

void rt_gw_rcpt_drop(void)
{
    relay_t *r;
    for (; (r = deferred.head) != NULL; rt_block_put(r)) deferred.head = r->next;
    deferred.tail = NULL;
}

/* -- Applying a receipt ---------------------------------------------------------------- */

/* The state a receipt gives: its message_state TLV, else its text's stat:; -1 none. */
static int state_of(const pdu_t *in, const dlr_text_t *tx)
{
    const pdu_tlv_t *ms = pdu_tlv_find(in, SMPP_TLV_message_state);
    return ms ? (int)ms->num : tx->stat ? dlr_state_of(tx->stat, tx->stat_len) : -1;
}

/* The receipt `in` of the message f->r, from upstream session up_sess
 * (request up_seq; 0: an early receipt, answered when it was kept):
 * relayed to a receiver of the account with room, else put in its outbox,
 * and the message's state written. Returns the status for the upstream,
 * or RELAYED when the ESME's answer decides it later. */
#define RELAYED 0xFFFFFFFFu
static uint32_t apply(rt_link_t *l, store_t *st, const found_t *f, const pdu_t *in, const dlr_text_t *tx,
                      uint64_t up_sess, uint32_t up_seq)
{
    const pdu_tlv_t *ne = pdu_tlv_find(in, SMPP_TLV_network_error_code);
    int state = state_of(in, tx);
    long long err = 0;
    const char *why = NULL;
    relay_t *r;
    rt_acct_t *a;
    sess_t *rs;
    long len;
    uint32_t st2;
    if (ne && ne->val && ne->len == 3) err = ne->val[1] << 8 | ne->val[2];
    else if (tx->err && tx->err_len < 10) {
        size_t i;
        for (i = 0; i < tx->err_len && tx->err[i] >= '0' && tx->err[i] <= '9'; i++) err = err * 10 + (tx->err[i] - '0');
    }
    if (state < 0) {                                 /* no state given: as it was */
        long long was = f->r.state;
        if (was < 0 && store_fwd_state_of(st, f->r.rowid, &was) != 1) was = 1;
        state = (int)was;
    }
    rt_route_receipt(f->route, f->r.route.n, f->account, strlen(f->account), state);
    if (strcmp(f->account, HTTP_ACCOUNT) == 0 || f->r.notify.p) {
        /* a message of POST /send: its state first, then the gateway's Lua
         * handler reports it (callback_url) */
        relay_t one;
        rt_gw_event_t ev;
        size_t n;
        int pl;
        const uint8_t *text = rt_gw_rcpt_text(in, &n, &pl);
        memset(&one, 0, sizeof one);
        one.link = l;
        one.rowid = f->r.rowid;
        one.state = state;
        one.final = dlr_is_final(state);
        one.err = err;
        settle(&one, st, NULL, 0, SMPP_ESME_ROK);
        memset(&ev, 0, sizeof ev);
        ev.kind = "receipt";
        ev.link = l;
        ev.rowid = f->r.rowid;
        ev.part = f->r.part;
        ev.rd = f->r.registered_delivery;
        ev.status = (uint32_t)state;
        memcpy(ev.id, f->id, sizeof ev.id);
        memcpy(ev.account, f->account, sizeof ev.account);
        snprintf(ev.detail, sizeof ev.detail, "%.*s", (int)(n < sizeof ev.detail ? n : sizeof ev.detail - 1), text);
        rt_gw_event(&ev);
        return SMPP_ESME_ROK;
    }
    if ((len = onward(in, tx, f->r.id, &why)) < 0) {
        log_kind(LOG_ERROR, 0, "receipt not rewritten", "receipt from %s for %s cannot be rewritten (%s): answered "
                 "ESME_RX_P_APPN", l->name, f->id, why);
        l->receipts_refused++;
        return SMPP_ESME_RX_P_APPN;
    }
    if (!(r = rt_block_get(sizeof *r + (size_t)len))) return SMPP_ESME_RX_T_APPN;
    memset(&r->wait, 0, sizeof r->wait);
    r->queued = 0;
    r->link = l;
    r->up_sess = up_sess;
    r->up_seq = up_seq;
    r->rowid = f->r.rowid;
    r->err = err;
    r->state = state;
    r->final = dlr_is_final(state);
    memcpy(r->id, f->id, sizeof r->id);
    memcpy(r->account, f->account, sizeof r->account);
    rt_gw_rcpt_dest(in, f->r.multi, r->dest, sizeof r->dest);
    r->n = (size_t)len;
    memcpy(r->pdu, rc.buf, (size_t)len);
    a = rt_acct_get(f->account, f->r.account.n, 0);
    /* an early receipt (up_sess 0) was answered when it was kept, and its
     * early row goes with this turn's commit: nothing would send it again
     * after a crash before the ESME's answer, so it goes into the outbox
     * (in the same commit), whose deliverer sends it */
    if (up_sess && a && rt.net && rt_store_holding()) {
        r->next = NULL;
        if (deferred.tail) deferred.tail->next = r;
        else deferred.head = r;
        deferred.tail = r;
        return RELAYED;
    }
    if (up_sess && a && rt.net && (rs = rt_gw_origin_pick(a, r->rowid)) != NULL) {
        /* the octets onward encoded, kept for the outbox: sent as they
         * are (encoded once), with the receiver's sequence_number */
        if (sess_send_octets(rs, r->pdu, r->n, on_relayed, r, uv_now(rt.loop)) > 0) {
            net_touch(rs);
            a->inflight++;
            rt_gw_wait_add(&r->wait);
            return RELAYED;
        }
    }
    r->up_sess = 0;                           /* answered by the caller */
    st2 = queue_it(r, st, NULL);
    rt_block_put(r);
    return st2;
}

/* The id a receipt is about, read as its link declared (its key into
 * key; *written: the key is the id as written, msgid_key_written); 0
 * when it has none it could be matched by. */
static int key_of(rt_link_t *l, const pdu_t *in, dlr_text_t *tx, char *key, size_t *klen, int *written)
{
    const pdu_tlv_t *t = pdu_tlv_find(in, SMPP_TLV_receipted_message_id);
    const char *id = NULL;
    size_t n = 0, tn;
    int pl, fmt = l->fmt_receipt;
    const uint8_t *text = rt_gw_rcpt_text(in, &tn, &pl);
    long k;
    dlr_read((const char *)text, tn, tx);
    if (t && t->val && t->len > 0) {
        const void *nul = memchr(t->val, 0, t->len);
        id = (const char *)t->val;
        n = nul ? (size_t)((const uint8_t *)nul - t->val) : t->len;
        fmt = l->fmt_tlv;
    }
    if (n == 0 && tx->id) {
        id = tx->id;
        n = tx->id_len;
        fmt = l->fmt_receipt;
    }
    if (n == 0 || n > KEY_MAX / 2 - 1) return 0;
    k = msgid_key(id, n, fmt, key, KEY_MAX);
    if (k <= 0) return 0;
    *klen = (size_t)k;
    if (written) *written = msgid_key_written(id, n, fmt);
    return 1;
}

/* A receipt from l (session up_sess, request up_seq): matched now, or
 * kept as early. Its message is the newest of l with its key (of l's
 * receipt group's members, when it has one: rt_gw_rcpt_find_group); when that
 * one is final already while l has requests awaiting their answers, the
 * receipt is kept as early instead: an upstream that numbers again from
 * the start (a restart, a wrap) may have given that id to one of those,
 * whose answer then matches it (rt_gw_rcpt_early), and a final message
 * has had its receipt (this one, if no answer claims it, is a repeat:
 * it expires after early_ttl). Not (rt_gw_rcpt_hold.c) when the message is
 * ACCEPTED, after which receipts may still come, nor for a receipt about
 * one of a submit_multi's destinations (its first final one); a final
 * receipt after the final one while no answer is awaited is a repeat,
 * answered ESME_ROK and dropped. Returns the status, or RELAYED. */
static uint32_t receipt(rt_link_t *l, const pdu_t *in, uint64_t up_sess, uint32_t up_seq)
{
    store_t *st = rt_store();
    dlr_text_t tx;
    found_t f;
    char key[KEY_MAX];
    size_t klen = 0;
    store_str_t up = { l->name, l->len }, k;
    rt_link_t *sl;
    int rcode, written = 0, held = 0;
    if (!st) return SMPP_ESME_RX_T_APPN;
    if (!key_of(l, in, &tx, key, &klen, &written)) {
        log_unmatched(l, "without a message id: answered ESME_ROK, not forwarded");
        return SMPP_ESME_ROK;
    }
    k.p = key;
    k.n = klen;
    memset(&f, 0, sizeof f);
    if ((rcode = store_fwd_by_key(st, up, k, written, on_found, &f)) < 0) {
        log_msg(LOG_ERROR, 0, "receipt from %s: %s", l->name, store_errmsg(st));
        return SMPP_ESME_RX_T_APPN;
    }
    if (l->sib && (sl = rt_gw_rcpt_find_group(l, st, k, written, on_found, &f, &f.r.rowid)) != NULL) {
        l = sl;                              /* another entry of the SMSC account sent the newest: its receipt */
        up = (store_str_t){ l->name, l->len };
    }
    if (f.n && (held = rt_gw_rcpt_held(l, st, &f.r, in, state_of(in, &tx))) == RT_GW_RCPT_REPEAT)
        return SMPP_ESME_ROK;
    if (f.n && !held) return apply(l, st, &f, in, &tx, up_sess, up_seq);
    if (!f.n && written) rt_gw_rcpt_case_hint(l, st, up, k);
    /* before its message's answer was stored: kept, matched by the same key then */
    {
        pdu_error_t perr;
        pdu_t *copy = &rc.out;
        long len;
        if (f.n) {
            /* held (likely a repeat): only while the early table, which
             * every upstream shares, is less than half full, so that held
             * receipts never crowd out those that came before their
             * answers; the upstream sends it again later */
            store_levels_t lv;
            store_levels(st, &lv);
            if (lv.max_early > 0 && lv.early >= lv.max_early / 2) {
                log_unmatched(l, "for a final message while answers are awaited (held as a likely repeat), and the "
                              "early table is half full: answered ESME_RX_T_APPN");
                return SMPP_ESME_RX_T_APPN;
            }
        }
        copy_pdu(copy, in);
        len = pdu_encode(copy, rc.buf, sizeof rc.buf, &perr);
        if (len < 0 || store_early_put(st, up, k, (store_str_t){(const char *)rc.buf, (size_t)len},
                                       rt_time() + rt_gw_conf.early_ttl, rt_gw_stamp()) < 0) {
            log_unmatched(l, "before its message's answer, and the early table is full: answered ESME_RX_T_APPN");
            return SMPP_ESME_RX_T_APPN;
        }
    }
    l->early++;
    return SMPP_ESME_ROK;
}

int rt_gw_request(sess_t *s, const pdu_t *req)
{
    rt_link_t *l;
    const pdu_value_t *esm;
    uint32_t status;
    if (!rt_gw_conf.on || !(l = rt_gw_link_of(s))) return 0;
    if (req->command_id != SMPP_DELIVER_SM && req->command_id != SMPP_DATA_SM) return 0;
    if (!(esm = pdu_get(req, PDU_F_ESM_CLASS)) || !dlr_is_receipt(esm->num)) return 0;
    if (l->rcpt_for) l = l->rcpt_for;        /* a receiver link's: about the transmitter link's messages */
    if (rt_gwr_on()) return rt_gwr_receipt(l, s, req);      /* the cluster's store: Redis */
    status = receipt(l, req, sess_id(s), req->sequence_number);
    if (status != RELAYED) rt_gw_hold_answer(sess_id(s), req->sequence_number, status);
    return 1;
}

/* -- Early receipts ------------------------------------------------------------------------- */

typedef struct early_s {
    size_t  n;
    struct early_s *next;
    uint8_t pdu[1];
} early_t;

static int collect(const store_item_t *it, void *ud)
{
    early_t **list = ud, *e = malloc(sizeof *e + it->pdu.n);
    if (!e) return 0;
    e->n = it->pdu.n;
    memcpy(e->pdu, it->pdu.p, it->pdu.n);
    e->next = *list;
    *list = e;
    return 0;
}

void rt_gw_rcpt_early(rt_link_t *l, store_t *st, store_str_t key, double sent)
{
    early_t *list = NULL, *e, *rev = NULL;
    store_str_t up = { l->name, l->len };
    rt_link_t *m = l;
    do      /* those that came on any link of its receipt group are its too */
        store_early_take(st, (store_str_t){ m->name, m->len }, key, sent, collect, &list);
    while ((m = m->sib) != NULL && m != l);
    while ((e = list) != NULL) {            /* oldest first */
        list = e->next;
        e->next = rev;
        rev = e;
    }
    while ((e = rev) != NULL) {
        pdu_error_t perr;
        dlr_text_t tx;
        found_t f;
        char k2[KEY_MAX];
        size_t klen;
        int written = 0;
        rev = e->next;
        memset(&f, 0, sizeof f);
        if (pdu_decode(&rc.in, e->pdu, e->n, 0, &perr) != SMPP_ESME_ROK
            || !key_of(l, &rc.in, &tx, k2, &klen, &written)) {
            /* kept, so it could be read then: nothing to match it by now */
        } else if (klen != key.n || memcmp(k2, key.p, klen) != 0) {
            /* kept under another key than its own (before schema 9, the
             * normalised id): not this message's; matched by its own key
             * as if it came now, or kept again under it */
            if (receipt(l, &rc.in, 0, 0) == SMPP_ESME_RX_T_APPN)
                log_kind(LOG_WARN, 0, "early receipt not kept", "an early receipt from %s kept before the upgrade "
                         "could not be kept again under its own key", l->name);
        } else if (store_fwd_by_key(st, up, key, written, on_found, &f) == 1) {
            l->early_matched++;
            if (apply(l, st, &f, &rc.in, &tx, 0, 0) == SMPP_ESME_RX_T_APPN)
                log_kind(LOG_WARN, 0, "early receipt not queued", "an early receipt from %s for %s was matched "
                         "but could not be queued", l->name, f.id);
        }
        free(e);
    }
}

/* -- For the Redis store (rt_gwr_rcpt.c): the same reading and rewriting -------------------- */

int rt_gw_rcpt_read(rt_link_t *l, const pdu_t *in, char *key, size_t *klen, int *written, int *state,
                    long long *err)
{
    const pdu_tlv_t *ne = pdu_tlv_find(in, SMPP_TLV_network_error_code);
    dlr_text_t tx;
    if (!key_of(l, in, &tx, key, klen, written)) return 0;
    *state = state_of(in, &tx);
    *err = 0;
    if (ne && ne->val && ne->len == 3) *err = ne->val[1] << 8 | ne->val[2];
    else if (tx.err && tx.err_len < 10) {
        size_t i;
        for (i = 0; i < tx.err_len && tx.err[i] >= '0' && tx.err[i] <= '9'; i++) *err = *err * 10 + (tx.err[i] - '0');
    }
    return 1;
}

long rt_gw_rcpt_onward(const pdu_t *in, store_str_t esme_id, const uint8_t **out, const char **why)
{
    dlr_text_t tx;
    size_t n;
    int pl;
    const uint8_t *text = rt_gw_rcpt_text(in, &n, &pl);
    dlr_read((const char *)text, n, &tx);
    *out = rc.buf;
    return onward(in, &tx, esme_id, why);
}
