/* rt_gwr_rcpt.c -- receipts on the Redis store: a receipt from an
 * upstream's session, on any node, is matched through the mapping the
 * forwarder wrote (rt_gwr.h: key_map -> our id) by one script call that
 * also writes the message's state and trace line, then rewritten to our id
 * and appended to the account's stream (rt_gwr_rx.c delivers it to
 * whichever node holds a receiver): two calls, the second needs the first's
 * answer (the id to rewrite to, the account whose stream it goes to, which
 * is another hash slot). One that comes before its mapping waits in the
 * early list (early_ttl) and is matched again when the forwarder writes the
 * mapping (its script hands the early ones back in the same step, so none
 * falls between). The upstream is answered ESME_ROK only once Redis holds
 * the receipt (ESME_RX_T_APPN when it cannot: the upstream sends it again).
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
    rt_link_t *l;
    uint64_t   sess;            /* the upstream session to answer (0: an early receipt) */
    uint32_t   seq;
    int        state;
    long long  err;
    uint8_t   *pdu;             /* the receipt as it came (sequence 0) */
    size_t     n;
    char       id[80];
} rmatch_t;

static struct {
    pdu_t    in;
    uint64_t matched, early, early_matched, unmatched, refused, to_handler;
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

/* -- Passing a matched receipt on ------------------------------------------------------- */

static void on_appended(void *ud, int ok)
{
    rmatch_t *m = ud;
    if (!ok) R.refused++;
    answer(m, ok ? SMPP_ESME_ROK : SMPP_ESME_RX_T_APPN);
    done(m);
}

/* The receipt m (decoded in pdu) of message id of account: rewritten and
 * appended to the account's stream; m is answered and freed when Redis
 * has it. */
static void pass_on(rmatch_t *m, const pdu_t *pdu, const char *id, const char *account, const char *route)
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
        answer(m, SMPP_ESME_RX_P_APPN);
        done(m);
        return;
    }
    m->l->receipts++;
    R.matched++;
    if (rt_gwr_append(account, strlen(account), (store_str_t){(const char *)out, (size_t)len}, sid, up, on_appended,
                      m) < 0)
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

static void on_match(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    rmatch_t *m = ud;
    char id[80], account[64], route[128], notify[8];
    (void)r;
    if (err || !reply) {
        R.refused++;
        answer(m, SMPP_ESME_RX_T_APPN);
        done(m);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 4) {     /* nil: kept as early */
        R.early++;
        m->l->early++;
        answer(m, SMPP_ESME_ROK);
        done(m);
        return;
    }
#define STR(i, buf) snprintf(buf, sizeof buf, "%.*s", (int)reply->element[i]->len, \
                             reply->element[i]->str ? reply->element[i]->str : "")
    STR(0, id);
    STR(1, account);
    STR(2, route);
    STR(3, notify);
#undef STR
    if (pdu_decode(&R.in, m->pdu, m->n, 0, NULL) != SMPP_ESME_ROK) {   /* it decoded when it came */
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
    pass_on(m, &R.in, id, account, route);
}

/* The match script for m, whose key (klen octets) the upstream's id gave
 * (written: the id as written, msgid_key_written). Such a key finds a
 * message only when its upstream_id is that id, also through a mapping
 * written before keys were as written (under the normalised id, tried
 * when the key's own is not there). */
static int match(rmatch_t *m, const char *key, size_t klen, int written)
{
    rt_link_t *l = m->l;
    char mkey[RT_GWR_KEY_MAX], ekey[RT_GWR_KEY_MAX], okey[RT_GWR_KEY_MAX], rkey[RT_GWR_KEY_MAX], ttl[32], st[16];
    char err[24], now[32], old[KEY_MAX], line[256], text[320];
    const char *argv[12], *stat = dlr_stat_of(m->state);
    size_t lens[12];
    int final = m->state >= 0 && dlr_is_final(m->state), i, nk = 2;
    long on = -1;
    snprintf(ttl, sizeof ttl, "%.0f", ceil(rt_gw_conf.early_ttl > 1 ? rt_gw_conf.early_ttl : 1));
    snprintf(st, sizeof st, "%d", m->state >= 0 ? m->state : 1);
    snprintf(err, sizeof err, "%lld", m->err);
    snprintf(now, sizeof now, "%.3f", rt_time());
    snprintf(line, sizeof line, "receipt from %s: stat:%s err:%s%03lld%s", l->name, stat ? stat : "?",
             m->err < 0 ? "-" : "", m->err < 0 ? -m->err : m->err, final ? "" : " (not final)");
    argv[0] = mkey, lens[0] = rt_gwr_key_map(mkey, sizeof mkey, l->name, l->len, key, klen);
    argv[1] = ekey, lens[1] = rt_gwr_key_early(ekey, sizeof ekey, l->name, l->len, key, klen);
    if (written && (on = msgid_key(key, klen, MSGID_NORMALIZED, old, sizeof old)) >= 0
        && ((size_t)on != klen || memcmp(old, key, klen) != 0)) {
        argv[2] = okey, lens[2] = rt_gwr_key_map(okey, sizeof okey, l->name, l->len, old, (size_t)on);
        nk = 3;
    }
    argv[nk] = (const char *)m->pdu, lens[nk] = m->n;
    argv[nk + 1] = ttl;
    argv[nk + 2] = rkey, lens[nk + 2] = rt_gwr_key_msg(rkey, sizeof rkey, l->name, l->len, "", 0);
    argv[nk + 3] = st;
    argv[nk + 4] = err;
    argv[nk + 5] = final ? "1" : "";
    argv[nk + 6] = now;
    argv[nk + 7] = text, lens[nk + 7] = rt_gwr_stamp(text, sizeof text, line);
    argv[nk + 8] = written ? key : "", lens[nk + 8] = written ? klen : 0;
    for (i = nk + 1; i < nk + 7; i++)
        if (i != nk + 2) lens[i] = strlen(argv[i]);
    return rt_gwr_eval(RT_GWR_MATCH, on_match, m, nk, nk + 9, argv, lens);
}

int rt_gwr_receipt(rt_link_t *l, sess_t *s, const pdu_t *req)
{
    redis_t *r = rt_redis();
    rmatch_t *m;
    char key[KEY_MAX];
    size_t klen = 0;
    int written = 0;
    pdu_t copy = *req;
    pdu_error_t perr;
    static uint8_t buf[70000];
    long len;
    if (!(m = calloc(1, sizeof *m))) {
        sess_respond(s, req->sequence_number, NULL, SMPP_ESME_RX_T_APPN, uv_now(rt.loop));
        return 1;
    }
    m->l = l;
    m->sess = sess_id(s);
    m->seq = req->sequence_number;
    if (!rt_gw_rcpt_read(l, req, key, &klen, &written, &m->state, &m->err)) {
        R.unmatched++;
        l->unmatched++;
        answer(m, SMPP_ESME_ROK);
        done(m);
        return 1;
    }
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
    if (match(m, key, klen, written) != 0) {
        R.refused++;
        answer(m, SMPP_ESME_RX_T_APPN);
        done(m);
    }
    return 1;
}

/* -- Early receipts ----------------------------------------------------------------------- */

/* The mapping is written now: each receipt that came before it is matched
 * again (its script finds the mapping, writes the state, and the receipt
 * goes on as any other; no upstream session waits for these). */
void rt_gwr_rcpt_early(rt_link_t *l, const char *id, const char *account, const redisReply *list)
{
    size_t i;
    (void)id;
    (void)account;
    if (!list || list->type != REDIS_REPLY_ARRAY) return;
    for (i = 0; i < list->elements; i++) {
        const redisReply *e = list->element[i];
        rmatch_t *m;
        char key[KEY_MAX];
        size_t klen;
        int written = 0;
        if (e->type != REDIS_REPLY_STRING || !(m = calloc(1, sizeof *m))) continue;
        m->l = l;
        if (pdu_decode(&R.in, (const uint8_t *)e->str, e->len, 0, NULL) != SMPP_ESME_ROK
            || !rt_gw_rcpt_read(l, &R.in, key, &klen, &written, &m->state, &m->err) || !(m->pdu = malloc(e->len))) {
            done(m);
            continue;
        }
        memcpy(m->pdu, e->str, e->len);
        m->n = e->len;
        R.early_matched++;
        l->early_matched++;
        if (match(m, key, klen, written) != 0) {
            log_kind(LOG_WARN, 0, "early receipt not queued", "an early receipt from %s for %s was matched but could "
                     "not be passed on", l->name, id);
            done(m);
        }
    }
}


void rt_gwr_rcpt_stats(lua_State *L)
{
    SET_NUM("receipts", R.matched);
    SET_NUM("receipts_early", R.early);
    SET_NUM("receipts_early_matched", R.early_matched);
    SET_NUM("receipts_unmatched", R.unmatched);
    SET_NUM("receipts_refused", R.refused);
    SET_NUM("receipts_to_handler", R.to_handler);
}
