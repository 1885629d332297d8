/* rt_gwr_rcpt.c -- receipts on the Redis store: a receipt from an
 * upstream's session, on any node, is matched through the mapping the
 * forwarder wrote (rt_gwr.h: key_map -> our id) by one script call, then
 * rewritten to our id and appended to the account's stream (rt_gwr_rx.c
 * delivers it to whichever node holds a receiver), and then the message's
 * state and trace line are written: three calls, each needs the one before
 * (the id to rewrite to, the account whose stream it goes to, which is
 * another hash slot; the record is final only once its receipt is in the
 * stream). The upstream is answered ESME_ROK only once Redis holds the
 * receipt (ESME_RX_T_APPN when it cannot: the upstream sends it again).
 *
 * One that comes before its mapping waits in the early list (early_ttl),
 * and the upstream has its ESME_ROK: from then on Redis alone holds it.
 * The forwarder's answer script moves the early ones to the upstream's
 * being-matched set (P{u:<up>}p, stamped with Redis' clock) and hands them
 * back in the same step, so none falls between; each leaves the set only
 * when it is in the account's stream (or cannot go anywhere). What a node
 * did not finish (it died, lost Redis, Redis refused the append or the
 * answer's reply was lost) is taken again by a node that sweeps the set
 * (rt_gwr_rcpt_sweep.c, every claim_after / 3 s, receipts stamped
 * claim_after ago): at least once, as the messages' take-over.
 *
 * A receipt group (the upstream entries of one SMSC account, a ring of
 * links, l->sib): each entry's keys have their own hash tag, so every
 * member is asked first (a peek of the match call, one each in ring order
 * from the arrival entry, nothing written) whose mapping of the key is the
 * newest (the record's 'mapped' stamp, Redis' clock: one SMSC account
 * numbers the messages of all, and may number again from the start), and
 * the receipt is matched under that one's keys; only when all miss is it
 * kept as early, under the arrival entry (a last call there, which also
 * finds a mapping written meanwhile). An entry's answer
 * that writes a mapping takes its own early receipts (OUTCOME) and then,
 * one call each (TAKE), those kept under the other entries for that key;
 * those are matched as above (one kept just after such a TAKE: ask_again).
 * A receipt is counted under the entry whose
 * message it is; one kept leaves the being-matched set of the entry it was
 * kept under.
 *
 * A final receipt for a message already final (in a state other than
 * ACCEPTED) is a repeat of the one the ESME had: the match call sees the
 * record's fields and writes nothing; it is answered ESME_ROK, dropped and
 * counted in receipts_repeated. So is one about a destination of a
 * submit_multi (its source_addr) that had its final receipt: the record
 * keeps each destination's final state (RCPT_DONE), as the SQLite store's
 * trace does. As on SQLite, while the upstream (or its group) awaits
 * answers it is kept as early instead: an upstream that numbers again may
 * have given the id to one of them, whose answer then takes it. What a
 * node awaits is its own, so the match call asks the upstream's queue:
 * entries a node read and has not recorded the answer of (XPENDING).
 *
 * Who owns what: a receipt being matched is a small record (rmatch_t)
 * owned from the first call until its last answer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlr.h"
#include "log.h"
#include "msgid.h"
#include "rt.h"
#include "rt_gw.h"
#include "rt_gwr.h"
#include "rt_redis.h"
#include "rt_route.h"
#include "rt_store.h"

#define KEY_MAX 160
#define HTTP_ACCOUNT "@http"    /* messages of POST /send: their receipts go to Lua */

typedef struct rmatch_s {
    rt_link_t *l;               /* the entry whose message it is (once found) */
    rt_link_t *kl;              /* the entry it arrived on: kept as early there, and in its being-matched set */
    rt_link_t *at;              /* the entry whose keys the call under way looks in */
    uint64_t   sess;            /* the upstream session to answer (0: an early receipt) */
    uint32_t   seq;
    int        kept;            /* it is in the being-matched set (an early receipt) */
    int        state;
    long long  err;
    uint8_t   *pdu;             /* the receipt as it came (sequence 0) */
    size_t     n, klen;
    int        written;
    int        peek;            /* a group's members are being asked whose mapping is the newest (nothing written) */
    int        again;           /* ... asked again once it was kept as early: has another's answer come meanwhile? */
    int        busy;            /* ... one of them awaits answers (a repeat is held then) */
    rt_link_t *best;            /* ... the member whose mapping is the newest so far (NULL: none) */
    double     best_at;         /* ... its stamp ('mapped', Redis' clock in us; 0: from before it was stamped) */
    char       dest[24];        /* its source_addr: the destination it is about, if its message is a multi */
    char       about[24];       /* ... the multi's destination it is about (the match call said so), or "" */
    char       id[80], key[KEY_MAX];
} rmatch_t;

static struct {
    pdu_t    in;
    uint64_t matched, early, early_matched, unmatched, refused, to_handler, repeated, group_hits;
} R;

static void answer(rmatch_t *m, uint32_t status)
{
    sess_t *s;
    if (!m->sess || !rt.net || !(s = net_find(rt.net, m->sess))) return;
    sess_respond(s, m->seq, NULL, status, uv_now(rt.loop));
    net_touch(s);
}

static void done(rmatch_t *m)
{
    free(m->pdu);
    free(m);
}

/* -- The record, once the receipt is in the stream ---------------------------------------- */

/* The receipt's words for the record: state, err, final ("1" or ""), done,
 * trace line (stamped). */
typedef struct rfields_s {
    char st[16], err[24], final[2], now[32], text[320];
} rfields_t;

static void fields_of(const rmatch_t *m, rfields_t *f)
{
    const char *stat = dlr_stat_of(m->state);
    int final = m->state >= 0 && dlr_is_final(m->state);
    char line[256];
    snprintf(f->st, sizeof f->st, "%d", m->state >= 0 ? m->state : 1);
    snprintf(f->err, sizeof f->err, "%lld", m->err);
    snprintf(f->final, sizeof f->final, "%s", final ? "1" : "");
    snprintf(f->now, sizeof f->now, "%.3f", rt_time());
    snprintf(line, sizeof line, "receipt from %s: stat:%s err:%s%03lld%s%s%s", m->l->name, stat ? stat : "?",
             m->err < 0 ? "-" : "", m->err < 0 ? -m->err : m->err, final ? "" : " (not final)",
             m->about[0] ? "; about " : "", m->about);
    rt_gwr_stamp(f->text, sizeof f->text, line);
}

static void on_recorded(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    (void)r;
    (void)reply;
    (void)ud;
    if (err && strcmp(err, "closed") != 0) log_msg(LOG_WARN, 0, "cluster store: a receipt's state: %s", err);
}

/* RCPT_DONE on the keys of entry l: the record of message id (NULL:
 * none to write) gets the receipt's state and trace line; with unkeep the
 * receipt leaves l's being-matched set. */
static void done_call(rmatch_t *m, rt_link_t *l, const char *id, int unkeep)
{
    char mkey[RT_GWR_KEY_MAX], pkey[RT_GWR_KEY_MAX];
    const char *argv[9];
    size_t lens[9];
    rfields_t f;
    int i;
    fields_of(m, &f);
    argv[0] = mkey, lens[0] = rt_gwr_key_msg(mkey, sizeof mkey, l->name, l->len, id ? id : "", id ? strlen(id) : 0);
    argv[1] = pkey, lens[1] = rt_gwr_key_pending(pkey, sizeof pkey, l->name, l->len);
    argv[2] = id ? f.st : "";
    argv[3] = f.err;
    argv[4] = f.final;
    argv[5] = f.now;
    argv[6] = f.text;
    for (i = 2; i < 7; i++) lens[i] = strlen(argv[i]);
    argv[7] = unkeep ? (const char *)m->pdu : "", lens[7] = unkeep ? m->n : 0;
    argv[8] = id ? m->about : "", lens[8] = strlen(argv[8]);
    if (rt_gwr_eval(RT_GWR_RCPT_DONE, on_recorded, NULL, 2, 9, argv, lens) != 0 && unkeep)
        log_msg(LOG_WARN, 0, "cluster store: an early receipt from %s for %s stays in Redis; matched again after %g s",
                l->name, id ? id : "?", rt_gwr_conf.claim_after);
}

/* A kept receipt leaves the being-matched set of the entry it was kept
 * under (a call of its own when its message is another entry's). */
static void unkeep(rmatch_t *m)
{
    if (m->kept) done_call(m, m->kl, NULL, 1);
}

/* The record of message id (NULL: none to write) of entry m->l gets the
 * receipt's state and trace line, and a kept receipt leaves the
 * being-matched set. Nothing waits for the answer: a kept receipt whose
 * call fails is matched again (at least once). */
static void recorded(rmatch_t *m, const char *id)
{
    int here = m->kept && m->kl == m->l;
    if (id) done_call(m, m->l, id, here);
    if (m->kept && (!id || !here)) unkeep(m);
}

/* -- Passing a matched receipt on ------------------------------------------------------- */

static void on_appended(void *ud, int ok)
{
    rmatch_t *m = ud;
    if (!ok) {
        R.refused++;               /* a kept one stays in the set: matched again after claim_after */
        answer(m, SMPP_ESME_RX_T_APPN);
    } else {
        recorded(m, m->id);
        answer(m, SMPP_ESME_ROK);
    }
    done(m);
}

/* The receipt m (decoded in pdu) of message id of account: rewritten and
 * appended to the account's stream; m is answered and freed when Redis
 * has it. */
static void pass_on(rmatch_t *m, const pdu_t *pdu, const char *id, const char *account, const char *route,
                    const char *via)
{
    const uint8_t *out;
    const char *why = NULL;
    store_str_t sid = { id, strlen(id) }, up = { m->l->name, m->l->len };
    long len;
    if (!*account) {
        R.unmatched++;
        log_kind(LOG_WARN, 0, "receipt record gone", "receipt from %s for %s: the message's record is gone; "
                 "answered ESME_ROK, not forwarded", m->l->name, id);
        answer(m, SMPP_ESME_ROK);
        done(m);
        return;
    }
    rt_route_receipt(*route ? route : NULL, strlen(route), account, strlen(account), m->state >= 0 ? m->state : 1);
    if ((len = rt_gw_rcpt_onward(pdu, sid, &out, &why)) < 0) {
        log_kind(LOG_ERROR, 0, "receipt not rewritten", "receipt from %s for %s cannot be rewritten (%s): answered "
                 "ESME_RX_P_APPN", m->l->name, id, why);
        m->l->receipts_refused++;
        recorded(m, NULL);         /* a kept one leaves the set: it can go nowhere */
        answer(m, SMPP_ESME_RX_P_APPN);
        done(m);
        return;
    }
    m->l->receipts++;
    R.matched++;
    snprintf(m->id, sizeof m->id, "%s", id);
    if (rt_gwr_append(account, strlen(account), (store_str_t){(const char *)out, (size_t)len}, sid, up,
                      (store_str_t){ via, strlen(via) }, on_appended, m) < 0)
        on_appended(m, 0);
}

/* -- Matching ---------------------------------------------------------------------------- */

/* A receipt of a message sent through POST /send (account @http, or one
 * with a callback_url): its state is written (the match did); the
 * gateway's Lua handler reports it (event "receipt"), as on the SQLite
 * path. */
static void to_handler(rmatch_t *m, const pdu_t *pdu, const char *id, const char *account, const char *route)
{
    rt_gw_event_t ev;
    const pdu_value_t *sm = pdu_get(pdu, PDU_F_SHORT_MESSAGE);
    memset(&ev, 0, sizeof ev);
    ev.kind = "receipt";
    ev.link = m->l;
    ev.status = (uint32_t)(m->state >= 0 ? m->state : 1);
    snprintf(ev.id, sizeof ev.id, "%.*s", (int)sizeof ev.id - 1, id);        /* cut, as every id field is */
    snprintf(ev.account, sizeof ev.account, "%s", account);
    snprintf(ev.route, sizeof ev.route, "%s", route);
    if (sm && sm->ptr)
        snprintf(ev.detail, sizeof ev.detail, "%.*s", (int)(sm->len < sizeof ev.detail ? sm->len : sizeof ev.detail - 1),
                 (const char *)sm->ptr);
    m->l->receipts++;
    R.matched++;
    R.to_handler++;
    rt_gw_event(&ev);
    answer(m, SMPP_ESME_ROK);
    done(m);
}

static int match(rmatch_t *m, rt_link_t *at, int probe);
static void take_from(rt_link_t *l, const char *key, size_t kn);

/* Whether a peek's reply names a mapping of the key. */
static int mapped(const redisReply *reply)
{
    return reply && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 && reply->element[0]->str
        && strcmp(reply->element[0]->str, "peek") == 0 && reply->element[1]->str;
}

/* A group's receipt kept as early under the arrival entry: the other
 * members are asked once more (a peek each) whether one has a mapping of
 * the key now: its answer may have come after its peek, its TAKE before
 * this one was kept (nothing would take it until early_ttl). If one has,
 * the arrival entry's early receipts for the key are taken here as that
 * TAKE would (TAKE is atomic: the second finds none); an answer written
 * after its peek here takes it itself. -> 0 asked, -1 not (m the caller's). */
static int ask_again(rmatch_t *m)
{
    if (!m->kl->sib) return -1;
    m->again = m->peek = 1;
    m->sess = 0;                   /* answered: no upstream waits for it */
    if (match(m, m->kl->sib, 1) == 0) return 0;
    m->again = m->peek = 0;
    return -1;
}

/* ... one member answered the peek of ask_again: found, the early receipts
 * are taken; else the next member is asked; m is done with. */
static void asked_again(rmatch_t *m, const redisReply *reply)
{
    rt_link_t *next = m->at->sib;
    if (mapped(reply)) {
        take_from(m->kl, m->key, m->klen);
    } else if (reply && next && next != m->kl && match(m, next, 1) == 0) {
        return;
    }
    done(m);
}

/* A repeat of a final receipt, of a message of entry l: dropped. */
static void repeat(rmatch_t *m, rt_link_t *l)
{
    l->repeated++;
    R.repeated++;
    log_kind_for(LOG_INFO, 0, "receipt repeated", l->name, "receipt from %s for %s, final already: a repeat of its "
                 "final receipt, answered ESME_ROK and dropped", m->kl->name, m->key);
    if (m->kl != l) unkeep(m);     /* else the match call took it out of the set */
    answer(m, SMPP_ESME_ROK);
    done(m);
}

/* A group's peek answered for m->at: the newest mapping so far kept; the
 * next member asked, or, once all were, the receipt matched under the
 * newest one's keys (a sibling's as a probe: were it gone meanwhile, the
 * ring is walked on as before), else under the arrival entry's, which
 * keeps it as early when it has none either. Ties go to the first asked
 * (the arrival entry, then ring order), as before the stamps. Whether a
 * member awaits answers is kept too (a repeat is held then). */
static int peeked(rmatch_t *m, const redisReply *reply)
{
    rt_link_t *next = m->at->sib;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 2 && reply->element[2]->str
        && strcmp(reply->element[2]->str, "1") == 0)
        m->busy = 1;
    if (mapped(reply)) {
        double at = atof(reply->element[1]->str);
        if (at > m->best_at) {
            m->best_at = at;
            m->best = m->at;
        }
    }
    if (next && next != m->kl) return match(m, next, 1);
    m->peek = 0;
    return m->best && m->best != m->kl ? match(m, m->best, 1) : match(m, m->kl, 0);
}

/* A receipt matched from entry l: alone, one call; in a receipt group,
 * every member is asked first whose mapping of the key is the newest (one
 * SMSC account numbers the messages of all, and may number again from
 * the start), then matched there. */
static int find(rmatch_t *m, rt_link_t *l)
{
    if (!l->sib) return match(m, l, 0);
    m->peek = 1;
    m->best = NULL;
    m->best_at = -1;
    m->busy = 0;
    return match(m, l, 1);
}

static void on_match(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    rmatch_t *m = ud;
    char id[80], account[64], route[128], notify[8], via[48] = "";
    (void)r;
    if (m->again) {
        if (err || !reply)
            log_kind(LOG_WARN, 0, "early receipt not asked again", "cluster store: a receipt from %s for %s kept "
                     "as early: its group was not asked again (%s); it waits until an answer takes it, at most "
                     "early_ttl", m->kl->name, m->key, err ? err : "no reply");
        asked_again(m, err ? NULL : reply);
        return;
    }
    if (!err && reply && m->peek) {
        if (peeked(m, reply) == 0) return;          /* the next call is under way */
        err = "not sent";
    }
    if (err || !reply) {
        R.refused++;               /* a kept one stays in the set: matched again after claim_after */
        answer(m, SMPP_ESME_RX_T_APPN);
        done(m);
        return;
    }
    if (reply->type == REDIS_REPLY_INTEGER) {
        rt_link_t *next = m->at->sib;
        if (reply->integer == 1) {
            repeat(m, m->at);
            return;
        }
        if (reply->integer == 2) {  /* held as early: an awaited answer may have that id again */
            R.early++;
            m->kl->early++;
            answer(m, SMPP_ESME_ROK);
            done(m);
            return;
        }
        /* not among the messages of m->at: the next entry of the group,
         * then the arrival entry again, which keeps it */
        if (match(m, next && next != m->kl ? next : m->kl, next && next != m->kl) != 0) {
            R.refused++;
            answer(m, SMPP_ESME_RX_T_APPN);
            done(m);
        }
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 4) {     /* nil: kept as early (never a kept one) */
        R.early++;
        m->kl->early++;
        answer(m, SMPP_ESME_ROK);
        if (ask_again(m) != 0) done(m);
        return;
    }
    if (m->at != m->kl) R.group_hits++;
    m->l = m->at;                  /* its message's entry: the record and the counts are that entry's */
#define STR(i, buf) snprintf(buf, sizeof buf, "%.*s", (int)reply->element[i]->len, \
                             reply->element[i]->str ? reply->element[i]->str : "")
    STR(0, id);
    STR(1, account);
    STR(2, route);
    STR(3, notify);
    if (reply->elements > 4) STR(4, via);        /* the session it came in on (a record from before: none) */
    if (reply->elements > 5) STR(5, m->about);   /* a multi's destination */
#undef STR
    if (m->kept && *account) m->l->early_matched++;
    if (m->kept && m->l != m->kl && (!*account || strcmp(account, HTTP_ACCOUNT) == 0 || notify[0]))
        unkeep(m);                 /* the match call wrote what there was to write, under its message's entry */
    if (pdu_decode(&R.in, m->pdu, m->n, 0, NULL) != SMPP_ESME_ROK) {   /* it decoded when it came */
        recorded(m, NULL);
        answer(m, SMPP_ESME_RX_T_APPN);
        done(m);
        return;
    }
    if (*account && (strcmp(account, HTTP_ACCOUNT) == 0 || notify[0])) {
        rt_route_receipt(*route ? route : NULL, strlen(route), account, strlen(account),
                         m->state >= 0 ? m->state : 1);
        to_handler(m, &R.in, id, account, route);
        return;
    }
    pass_on(m, &R.in, id, account, route, via);
}

/* The match script for m under the keys of entry at (probe: another
 * entry of the arrival entry's receipt group, or the arrival entry before
 * them: on a miss nothing is kept), whose key (m->klen octets) the
 * upstream's id gave (m->written: the id as written, msgid_key_written).
 * Such a key finds a message only when its upstream_id is that id, also
 * through a mapping written before keys were as written (under the
 * normalised id, tried when the key's own is not there). */
static int match(rmatch_t *m, rt_link_t *at, int probe)
{
    rt_link_t *l = at;
    char mkey[RT_GWR_KEY_MAX], ekey[RT_GWR_KEY_MAX], pkey[RT_GWR_KEY_MAX], qkey[RT_GWR_KEY_MAX], okey[RT_GWR_KEY_MAX];
    char rkey[RT_GWR_KEY_MAX], ttl[32], old[KEY_MAX];
    const char *argv[20], *key = m->key;
    size_t lens[20], klen = m->klen;
    rfields_t f;
    int i, nk = 4, written = m->written;
    long on = -1;
    m->at = at;
    fields_of(m, &f);
    snprintf(ttl, sizeof ttl, "%.0f", ceil(rt_gw_conf.early_ttl > 1 ? rt_gw_conf.early_ttl : 1));
    argv[0] = mkey, lens[0] = rt_gwr_key_map(mkey, sizeof mkey, l->name, l->len, key, klen);
    argv[1] = ekey, lens[1] = rt_gwr_key_early(ekey, sizeof ekey, l->name, l->len, key, klen);
    argv[2] = pkey, lens[2] = rt_gwr_key_pending(pkey, sizeof pkey, l->name, l->len);
    argv[3] = qkey, lens[3] = rt_gwr_key_queue(qkey, sizeof qkey, l->name, l->len);
    if (written && (on = msgid_key(key, klen, MSGID_NORMALIZED, old, sizeof old)) >= 0
        && ((size_t)on != klen || memcmp(old, key, klen) != 0)) {
        argv[4] = okey, lens[4] = rt_gwr_key_map(okey, sizeof okey, l->name, l->len, old, (size_t)on);
        nk = 5;
    }
    argv[nk] = (const char *)m->pdu, lens[nk] = m->n;
    argv[nk + 1] = ttl;
    argv[nk + 2] = rkey, lens[nk + 2] = rt_gwr_key_msg(rkey, sizeof rkey, l->name, l->len, "", 0);
    argv[nk + 3] = f.st;
    argv[nk + 4] = f.err;
    argv[nk + 5] = f.final;
    argv[nk + 6] = f.now;
    argv[nk + 7] = f.text;
    argv[nk + 8] = m->kept && at == m->kl ? "1" : "";        /* in this entry's being-matched set */
    argv[nk + 9] = HTTP_ACCOUNT;
    argv[nk + 10] = written ? key : "", lens[nk + 10] = written ? klen : 0;
    argv[nk + 11] = probe ? "1" : "", lens[nk + 11] = probe ? 1 : 0;
    argv[nk + 12] = m->peek ? "1" : "", lens[nk + 12] = m->peek ? 1 : 0;
    argv[nk + 13] = m->dest, lens[nk + 13] = strlen(m->dest);
    argv[nk + 14] = m->busy ? "1" : "", lens[nk + 14] = m->busy ? 1 : 0;
    for (i = nk + 1; i < nk + 10; i++)
        if (i != nk + 2) lens[i] = strlen(argv[i]);
    return rt_gwr_eval(RT_GWR_MATCH, on_match, m, nk, nk + 15, argv, lens);
}

int rt_gwr_receipt(rt_link_t *l, sess_t *s, const pdu_t *req)
{
    redis_t *r = rt_redis();
    rmatch_t *m;
    pdu_t copy = *req;
    pdu_error_t perr;
    static uint8_t buf[70000];
    long len;
    if (!(m = calloc(1, sizeof *m))) {
        sess_respond(s, req->sequence_number, NULL, SMPP_ESME_RX_T_APPN, uv_now(rt.loop));
        return 1;
    }
    m->l = m->kl = l;
    m->sess = sess_id(s);
    m->seq = req->sequence_number;
    if (!rt_gw_rcpt_read(l, req, m->key, &m->klen, &m->written, &m->state, &m->err)) {
        R.unmatched++;
        l->unmatched++;
        answer(m, SMPP_ESME_ROK);
        done(m);
        return 1;
    }
    rt_gw_rcpt_dest(req, 1, m->dest, sizeof m->dest);
    if (!r || redis_state(r) != REDIS_UP) {
        R.refused++;
        answer(m, SMPP_ESME_RX_T_APPN);
        done(m);
        return 1;
    }
    copy.sequence_number = 0;
    if ((len = pdu_encode(&copy, buf, sizeof buf, &perr)) < 0 || !(m->pdu = malloc((size_t)len))) {
        answer(m, SMPP_ESME_RX_T_APPN);
        done(m);
        return 1;
    }
    memcpy(m->pdu, buf, (size_t)len);
    m->n = (size_t)len;
    if (find(m, l) != 0) {                       /* in a group: the newest of all members' */
        R.refused++;
        answer(m, SMPP_ESME_RX_T_APPN);
        done(m);
    }
    return 1;
}

/* -- Early receipts ----------------------------------------------------------------------- */

/* A kept receipt that does not decode (or names no message) leaves the
 * set: it would be taken again after every claim_after. */
static void forget(rt_link_t *l, const redisReply *e)
{
    rmatch_t m;
    memset(&m, 0, sizeof m);
    m.l = m.kl = l;
    m.kept = 1;
    m.state = -1;
    m.pdu = (uint8_t *)e->str;
    m.n = e->len;
    log_msg(LOG_WARN, 0, "cluster store: an early receipt from %s does not read as one: dropped", l->name);
    recorded(&m, NULL);
}

/* The mapping is written now (or a sweep found receipts no node finished):
 * each receipt is matched again (its script finds the mapping and the
 * receipt goes on as any other; no upstream session waits for these, and
 * each stays in the being-matched set until it is in the stream). */
void rt_gwr_rcpt_early(rt_link_t *l, const char *id, const char *account, const redisReply *list)
{
    size_t i;
    (void)id;
    (void)account;
    if (!list || list->type != REDIS_REPLY_ARRAY) return;
    for (i = 0; i < list->elements; i++) {
        const redisReply *e = list->element[i];
        rmatch_t *m;
        if (e->type != REDIS_REPLY_STRING || !(m = calloc(1, sizeof *m))) continue;
        m->l = m->kl = l;
        m->kept = 1;
        if (pdu_decode(&R.in, (const uint8_t *)e->str, e->len, 0, NULL) != SMPP_ESME_ROK
            || !rt_gw_rcpt_read(l, &R.in, m->key, &m->klen, &m->written, &m->state, &m->err)
            || !(m->pdu = malloc(e->len))) {
            forget(l, e);
            done(m);
            continue;
        }
        memcpy(m->pdu, e->str, e->len);
        m->n = e->len;
        rt_gw_rcpt_dest(&R.in, 1, m->dest, sizeof m->dest);
        R.early_matched++;
        if (find(m, l) != 0) {
            log_kind(LOG_WARN, 0, "early receipt not queued", "cluster store: an early receipt from %s for %s stays "
                     "in Redis; matched again after %g s", l->name, id, rt_gwr_conf.claim_after);
            done(m);
        }
    }
}

/* The early receipts of the other entries of l's receipt group for key
 * (l's answer wrote its mapping): one TAKE call each, in ring order; what
 * each hands back is matched as that entry's kept receipts (its set holds
 * them until they are in the account's stream). */
static void on_taken(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    char *name = ud;
    rt_link_t *l = rt_gw_link(name, strlen(name), 0);
    (void)r;
    if (err && strcmp(err, "closed") != 0) log_msg(LOG_WARN, 0, "cluster store: the early receipts of %s: %s", name, err);
    else if (l && reply && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0)
        rt_gwr_rcpt_early(l, "(its group's)", "", reply);
    free(name);
}

/* The early receipts kept under entry l for key: one TAKE call. */
static void take_from(rt_link_t *l, const char *key, size_t kn)
{
    char ekey[RT_GWR_KEY_MAX], pkey[RT_GWR_KEY_MAX], *name;
    const char *argv[2] = { ekey, pkey };
    size_t lens[2];
    lens[0] = rt_gwr_key_early(ekey, sizeof ekey, l->name, l->len, key, kn);
    lens[1] = rt_gwr_key_pending(pkey, sizeof pkey, l->name, l->len);
    if (!(name = strdup(l->name))) return;
    if (rt_gwr_eval(RT_GWR_TAKE, on_taken, name, 2, 2, argv, lens) != 0) free(name);
}

void rt_gwr_rcpt_group_take(rt_link_t *l, const char *key, size_t kn)
{
    rt_link_t *s;
    for (s = l->sib; s && s != l; s = s->sib) take_from(s, key, kn);
}

void rt_gwr_rcpt_stats(lua_State *L)
{
    SET_NUM("receipts", R.matched);
    SET_NUM("receipts_early", R.early);
    SET_NUM("receipts_early_matched", R.early_matched);
    SET_NUM("receipts_early_swept", rt_gwr_rcpt_swept());
    SET_NUM("receipts_unmatched", R.unmatched);
    SET_NUM("receipts_refused", R.refused);
    SET_NUM("receipts_to_handler", R.to_handler);
    SET_NUM("receipts_repeated", R.repeated);
    SET_NUM("receipts_group_matched", R.group_hits);
}
