/* rt_gw_rcpt_hold.c -- the holding rule of receipts (rt_gw_rcpt.c): a receipt
 * whose message is final already while its link awaits answers waits as
 * early, since an upstream that numbers again from the start may have
 * given that id to one of those (docs/gateway.md, "Receipts"); but not a
 * receipt after ACCEPTED, nor the first final one about a destination of a
 * submit_multi. A final receipt after the final one (of the message, or of
 * that destination of a multi) on a link that awaits no answer can be no
 * other message's: a repeat, answered ESME_ROK and dropped (the ESME had
 * the first), counted in receipts_repeated.
 * And the receipt groups: the upstream entries of one SMSC account, whose
 * receipts may come on any of their sessions, match them among the
 * messages of all (a ring of links, l->sib, set by core.gw_groups).
 * And the hint for a store upgraded to schema 9 whose upstream writes ids
 * in its receipts in another case than in its answers. And a receipt's
 * text (rt_gw_rcpt_text).
 */
#include <stdio.h>
#include <string.h>

#include "dlr.h"
#include "log.h"
#include "rt.h"
#include "rt_gw.h"
#include "rt_store.h"

#define STATE_ACCEPTED 6        /* message_state ACCEPTED: final, yet receipts may follow */
#define ABOUT "; about "        /* a multi's receipt line names its destination so (rt_gw_rcpt_what) */

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

/* The member other than l whose message under k is the newest of the
 * group (ud holds l's already, if it has one: fn keeps the newer row,
 * and *newest, the rowid it holds, tells which), or NULL: l's.
 * One SMSC account numbers the messages of all its entries, and may
 * number again from the start (a restart): as within one entry, the
 * newest message with that id is the receipt's, whichever member sent it. */
rt_link_t *rt_gw_rcpt_find_group(rt_link_t *l, store_t *st, store_str_t k, int written, store_fwd_fn fn, void *ud,
                                 const long long *newest)
{
    rt_link_t *m, *best = NULL;
    long long was = *newest;
    for (m = l->sib; m && m != l; m = m->sib)
        if (store_fwd_by_key(st, (store_str_t){m->name, m->len}, k, written, fn, ud) == 1 && *newest != was) {
            best = m;
            was = *newest;
        }
    return best;
}

/* What a receipt says of the multi whose key is `key`: whether its
 * source_addr (a receipt's source_addr is the destination it reports on)
 * is one of the multi's destination addresses, and whether that
 * destination has had a final receipt other than ACCEPTD already (a line
 * of its trace names it: rt_gw_rcpt_what). A receipt without one names none. */
typedef struct multi_s {
    const uint8_t *src;
    size_t         n;
    int            found, final;
} multi_t;

/* Whether the trace line [a, b) is a final receipt's other than ACCEPTD. */
static int final_line(const char *a, const char *b)
{
    static const char *const not[] = { " (not final)", "stat:ACCEPTD" };
    size_t i, k, len = (size_t)(b - a);
    if (len < 13) return 0;
    for (k = 0; k + 13 <= len && memcmp(a + k, "receipt from ", 13) != 0; k++) {}
    if (k + 13 > len) return 0;
    for (i = 0; i < 2; i++) {
        size_t m = strlen(not[i]);
        for (k = 0; k + m <= len; k++)
            if (memcmp(a + k, not[i], m) == 0) return 0;
    }
    return 1;
}

static void multi_final(multi_t *mu, store_str_t trace)
{
    size_t at, m = sizeof ABOUT - 1;
    for (at = 0; trace.p && at + m + mu->n <= trace.n; at++) {
        const char *p = trace.p + at, *a = p, *b = p + m + mu->n;
        if (memcmp(p, ABOUT, m) != 0 || memcmp(p + m, mu->src, mu->n) != 0) continue;
        if (b < trace.p + trace.n && *b != ';' && *b != '\n') continue;      /* a longer address */
        while (a > trace.p && a[-1] != '\n') a--;
        while (b < trace.p + trace.n && *b != '\n') b++;
        if (final_line(a, b)) mu->final = 1;
    }
}

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
    if (mu->found) multi_final(mu, m->trace);
    return 1;
}

static void multi_dest(store_t *st, long long key, const pdu_t *in, multi_t *mu)
{
    const pdu_value_t *src = pdu_get(in, PDU_F_SOURCE_ADDR);
    memset(mu, 0, sizeof *mu);
    if (!src || !src->ptr || !src->len) return;
    mu->src = src->ptr;
    mu->n = src->len;
    if (store_get_key(st, key, multi_dest_of, mu) < 0) mu->found = mu->final = 0;
}

/* A repeat dropped: counted, and one line per kind and link in the log's
 * repeat window (an upstream may repeat every receipt). */
static int repeated(rt_link_t *l, const store_fwd_row_t *r)
{
    l->repeated++;
    log_kind_for(LOG_INFO, 0, "receipt repeated", l->name, "receipt from %s for %.*s, final already: a repeat of "
                 "its final receipt, answered ESME_ROK and dropped", l->name, (int)r->id.n, r->id.p);
    return RT_GW_RCPT_REPEAT;
}

/* What becomes of a receipt that found its message r (rt_gw_rcpt.c,
 * receipt()): 0 it goes to the message; 1 it is held as early (r is final
 * and l awaits answers, one of which may claim it), not when r is
 * ACCEPTED (a state after which SMPP receipts may still come: its next
 * one is its own) nor for the first final receipt about a destination
 * of a submit_multi (each has a receipt under the one id);
 * RT_GW_RCPT_REPEAT when a final receipt (state: its message_state, -1
 * none) comes after r's final one (or that destination's) on a link that
 * awaits no answer: no other message can have that id, so it is the
 * repeat of one the ESME had, dropped. A receipt that is not final
 * goes to the message as before. */
int rt_gw_rcpt_held(rt_link_t *l, store_t *st, const store_fwd_row_t *r, const pdu_t *in, int state)
{
    long long was = r->state;
    int busy, again;
    multi_t mu;
    if (!r->final) return 0;
    busy = awaiting(l);
    if (r->multi) {
        multi_dest(st, r->rowid, in, &mu);
        if (mu.found && !mu.final) return 0;
        again = mu.found;                      /* about no destination of it: held as below */
    } else {
        if (was < 0 && store_fwd_state_of(st, r->rowid, &was) != 1) was = -1;
        if (was == STATE_ACCEPTED) return 0;
        again = 1;
    }
    if (busy) return 1;
    return again && state >= 0 && dlr_is_final(state) ? repeated(l, r) : 0;
}

/* The `what` of a receipt's trace line (rt_gw_rcpt.c, settle()): for a
 * multi's receipt "about <destination>" first, so that its destination's
 * repeat is known as one (multi_final); else `what` as it is. */
store_str_t rt_gw_rcpt_what(char *buf, size_t cap, const char *dest, const char *what)
{
    int n;
    if (!dest || !dest[0]) return (store_str_t){ what, what ? strlen(what) : 0 };
    n = snprintf(buf, cap, "%s%s%s%s", ABOUT + 2, dest, what ? "; " : "", what ? what : "");
    return (store_str_t){ buf, n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1 };
}

/* The destination a multi's receipt is about (its source_addr) into dest
 * (cap octets with the NUL); empty for another message's. */
void rt_gw_rcpt_dest(const pdu_t *in, int multi, char *dest, size_t cap)
{
    const pdu_value_t *src = multi ? pdu_get(in, PDU_F_SOURCE_ADDR) : NULL;
    size_t n = src && src->ptr ? (src->len < cap ? src->len : cap - 1) : 0;
    if (n) memcpy(dest, src->ptr, n);
    dest[n] = '\0';
}

/* The id of the message a look-up found (the strings point into SQLite's
 * row: copied before the next statement). */
static int id_of(const store_fwd_row_t *r, void *ud)
{
    char *id = ud;
    size_t n = r->id.p ? (r->id.n < 71 ? r->id.n : 71) : 0;
    if (n) memcpy(id, r->id.p, n);
    id[n] = '\0';
    return 1;
}

/* A receipt from l whose key is its id as written found no message,
 * while its key without the exact test finds one: a message keyed
 * before schema 9 whose upstream id differs from the receipt's in case
 * or leading zeros. Such an upstream (answers "AB1", receipts "ab1")
 * was matched by the old rule and is not now: said once per link, with
 * the fix, since its receipts all wait in early and expire. */
#define HINTED_MAX 64
void rt_gw_rcpt_case_hint(rt_link_t *l, store_t *st, store_str_t up, store_str_t k)
{
    static char hinted[HINTED_MAX][64];
    static int nhinted;
    char id[72] = "";
    size_t j;
    int i;
    /* only an id with a letter or a leading zero can differ so (digits
     * alone cost no second look-up) */
    for (j = 0; j < k.n && k.p[j] >= '0' && k.p[j] <= '9'; j++) {}
    if (j == k.n && k.p[0] != '0') return;
    for (i = 0; i < nhinted; i++)
        if (strncmp(hinted[i], l->name, sizeof hinted[i] - 1) == 0) return;
    if (store_fwd_by_key(st, up, k, 0, id_of, id) != 1) return;
    if (nhinted < HINTED_MAX) snprintf(hinted[nhinted++], sizeof hinted[0], "%s", l->name);
    log_kind(LOG_WARN, 0, "receipt id differs in case", "receipt from %s for %.*s: its message (%s) was stored "
             "before the schema 9 upgrade under an id that differs from it in case or leading zeros, and ids of "
             "id_format \"string\" are matched as written now: if %s writes its ids in its receipts otherwise than "
             "in its answers, set id_format = 'normalized' on it (its receipts wait in early and expire meanwhile)",
             l->name, (int)k.n, k.p, id, l->name);
}

/* The text of a receipt: short_message, else message_payload. */
const uint8_t *rt_gw_rcpt_text(const pdu_t *p, size_t *n, int *in_payload)
{
    const pdu_value_t *sm = pdu_get(p, PDU_F_SHORT_MESSAGE);
    const pdu_tlv_t *mp;
    *in_payload = 0;
    if (sm && sm->ptr && sm->len) {
        *n = sm->len;
        return sm->ptr;
    }
    if ((mp = pdu_tlv_find(p, SMPP_TLV_message_payload)) != NULL && mp->val) {
        *in_payload = 1;
        *n = mp->len;
        return mp->val;
    }
    *n = 0;
    return (const uint8_t *)"";
}
