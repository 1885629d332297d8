/* rt_gw_rcpt_hold.c -- the holding rule of receipts (rt_gw_rcpt.c): a receipt
 * whose message is final already while its link awaits answers waits as
 * early, since an upstream that numbers again from the start may have
 * given that id to one of those (docs/gateway.md, "Receipts"); but not a
 * receipt after ACCEPTED, nor one about a destination of a submit_multi.
 * And the receipt groups: the upstream entries of one SMSC account, whose
 * receipts may come on any of their sessions, match them among the
 * messages of all (a ring of links, l->sib, set by core.gw_groups).
 */
#include <string.h>

#include "rt.h"
#include "rt_gw.h"
#include "rt_store.h"

#define STATE_ACCEPTED 6        /* message_state ACCEPTED: final, yet receipts may follow */

/* Whether l has requests that await their answers (its forwarder's
 * messages, or with message_id "upstream" those an ESME waits for): an
 * answer to come may give one of them any id. */
static int awaiting_one(rt_link_t *l)
{
    uint32_t i;
    if (l->inflight) return 1;
    for (i = 0; rt.net && i < l->nsess; i++) {
        sess_t *s = net_find(rt.net, l->sess[i]);
        if (s && sess_window_used(s) > 0) return 1;
    }
    return 0;
}

/* ... or any link of its receipt group: one SMSC account numbers the
 * messages of all, and the answer to come may be any link's. */
static int awaiting(rt_link_t *l)
{
    rt_link_t *m;
    if (awaiting_one(l)) return 1;
    for (m = l->sib; m && m != l; m = m->sib)
        if (awaiting_one(m)) return 1;
    return 0;
}

rt_link_t *rt_gw_rcpt_find_group(rt_link_t *l, store_t *st, store_str_t k, int written, store_fwd_fn fn, void *ud)
{
    rt_link_t *m;
    for (m = l->sib; m && m != l; m = m->sib)
        if (store_fwd_by_key(st, (store_str_t){m->name, m->len}, k, written, fn, ud) == 1) return m;
    return NULL;
}

/* Whether the receipt `in` is about one of the destinations of the
 * submit_multi whose key is `key`: its source_addr (a receipt's
 * source_addr is the destination it reports on) is one of the multi's
 * destination addresses. A receipt without one names none. */
typedef struct multi_s {
    const uint8_t *src;
    size_t         n;
    int            found;
} multi_t;

static int multi_dest_of(const store_msg_t *m, void *ud)
{
    static pdu_t p;
    multi_t *mu = ud;
    pdu_error_t perr;
    int i;
    if (!m->pdu.p || pdu_decode(&p, (const uint8_t *)m->pdu.p, m->pdu.n, 0, &perr) != SMPP_ESME_ROK) return 1;
    for (i = 0; i < p.naddr; i++)
        if (p.addr[i].dest_flag == 1 && p.addr[i].len == mu->n && memcmp(p.addr[i].addr, mu->src, mu->n) == 0)
            mu->found = 1;
    return 1;
}

static int multi_dest(store_t *st, long long key, const pdu_t *in)
{
    const pdu_value_t *src = pdu_get(in, PDU_F_SOURCE_ADDR);
    multi_t mu;
    if (!src || !src->ptr || !src->len) return 0;
    mu.src = src->ptr;
    mu.n = src->len;
    mu.found = 0;
    if (store_get_key(st, key, multi_dest_of, &mu) < 0) return 0;
    return mu.found;
}

/* Whether a receipt that found its final message r while the link awaits
 * answers is held as early (rt_gw_rcpt.c, receipt()): not when the message is
 * ACCEPTED (a state after which SMPP receipts may still come: its next
 * one is its own), nor for a submit_multi when the receipt is about one
 * of its destinations (each has a receipt under the one id). */
int rt_gw_rcpt_held(rt_link_t *l, store_t *st, const store_fwd_row_t *r, const pdu_t *in)
{
    long long state = r->state;
    if (!r->final || !awaiting(l)) return 0;
    if (state < 0 && store_fwd_state_of(st, r->rowid, &state) != 1) state = -1;
    if (state == STATE_ACCEPTED) return 0;
    return !(r->multi && multi_dest(st, r->rowid, in));
}
