/* rt_gwr_rcpt.c -- receipts on the Redis store: a receipt from an
 * upstream's session, on any node, is matched through the mapping the
 * forwarder wrote (P k:<upstream>:<key> -> our id), rewritten to our id and
 * appended to the account's stream (P r:<account>, rt_gwr_rx.c delivers
 * it to whichever node holds a receiver), and the message's state is
 * written. One that comes before its mapping waits in P e:<upstream>:<key>
 * (a list with early_ttl) and is applied when the forwarder writes the
 * mapping (the script below hands it back in the same step, so none falls
 * between). The upstream is answered ESME_ROK only once Redis holds the
 * receipt (ESME_RX_T_APPN when it cannot: the upstream sends it again).
 *
 * Who owns what: a receipt being matched is a small record (rmatch_t)
 * owned from the first command until its last answer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlr.h"
#include "log.h"
#include "rt.h"
#include "rt_gw.h"
#include "rt_gwr.h"
#include "rt_redis.h"
#include "rt_route.h"
#include "rt_store.h"

#define KEY_MAX 160

/* KEYS: mapping, early list; ARGV: the receipt, early_ttl, prefix ->
 * false (kept as early) | { id, account } */
static const char match_script[] =
    "local id = redis.call('GET', KEYS[1])\n"
    "if not id then\n"
    "  redis.call('RPUSH', KEYS[2], ARGV[1])\n"
    "  redis.call('EXPIRE', KEYS[2], ARGV[2])\n"
    "  return false\n"
    "end\n"
    "local a = redis.call('HGET', ARGV[3] .. 'm:' .. id, 'account')\n"
    "return { id, a or '' }\n";

/* KEYS: mapping, early list; ARGV: id, ttl -> the early receipts (taken) */
const char rt_gwr_map_script[] =
    "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])\n"
    "local e = redis.call('LRANGE', KEYS[2], 0, -1)\n"
    "if #e > 0 then redis.call('DEL', KEYS[2]) end\n"
    "return e\n";

typedef struct rmatch_s {
    rt_link_t *l;
    uint64_t   sess;            /* the upstream session to answer (0: an early receipt) */
    uint32_t   seq;
    int        state, left, failed;
    long long  err;
    uint8_t   *pdu;             /* the receipt as it came */
    size_t     n;
} rmatch_t;

static struct {
    pdu_t    in;
    uint64_t matched, early, early_matched, unmatched, refused;
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

/* -- Applying a matched receipt ------------------------------------------------------- */

static void on_applied(void *ud, int ok)
{
    rmatch_t *m = ud;
    if (!ok) m->failed = 1;
    if (--m->left > 0) return;
    if (m->failed) R.refused++;
    answer(m, m->failed ? SMPP_ESME_RX_T_APPN : SMPP_ESME_ROK);
    done(m);
}

static void on_state_written(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    (void)r;
    (void)reply;
    if (err && strcmp(err, "closed") != 0) log_msg(LOG_WARN, 0, "cluster store: a receipt's state: %s", err);
    if (ud) on_applied(ud, !err);
}

/* The receipt m (decoded in pdu) of message id of account: rewritten,
 * appended to the account's stream, its state written. m is answered and
 * freed when both are done. */
static void apply(rmatch_t *m, const pdu_t *pdu, const char *id, const char *account)
{
    redis_t *r = rt_redis();
    const uint8_t *out;
    const char *why = NULL, *argv[10];
    size_t lens[10];
    char key[160], st[16], err[24], now[32];
    store_str_t sid = { id, strlen(id) };
    long len;
    int n = 0;
    if (!*account) {
        R.unmatched++;
        log_msg(LOG_WARN, 0, "receipt from %s for %s: the message's record is gone; answered ESME_ROK, not forwarded",
                m->l->name, id);
        answer(m, SMPP_ESME_ROK);
        done(m);
        return;
    }
    /* matched: counted per account (the queue entries carry no route) */
    rt_route_receipt(NULL, 0, account, strlen(account), m->state >= 0 ? m->state : 1);
    if ((len = rt_gw_rcpt_onward(pdu, sid, &out, &why)) < 0) {
        log_msg(LOG_ERROR, 0, "receipt from %s for %s cannot be rewritten (%s): answered ESME_RX_P_APPN",
                m->l->name, id, why);
        m->l->receipts_refused++;
        answer(m, SMPP_ESME_RX_P_APPN);
        done(m);
        return;
    }
    m->left = 2;
    if (rt_gwr_append(account, strlen(account), (store_str_t){(const char *)out, (size_t)len}, sid, on_applied, m) < 0)
        on_applied(m, 0);
    m->l->receipts++;
    R.matched++;
    snprintf(st, sizeof st, "%d", m->state >= 0 ? m->state : 1);
    snprintf(err, sizeof err, "%lld", m->err);
    snprintf(now, sizeof now, "%.3f", rt_time());
    argv[n] = "HSET", lens[n++] = 4;
    argv[n] = key, lens[n++] = rt_gwr_key(key, sizeof key, "m:", id, strlen(id));
    argv[n] = "state", lens[n++] = 5;
    argv[n] = st, lens[n++] = strlen(st);
    argv[n] = "err", lens[n++] = 3;
    argv[n] = err, lens[n++] = strlen(err);
    if (m->state >= 0 && dlr_is_final(m->state)) {
        argv[n] = "final", lens[n++] = 5;
        argv[n] = "1", lens[n++] = 1;
        argv[n] = "done", lens[n++] = 4;
        argv[n] = now, lens[n++] = strlen(now);
    }
    if (!r || redis_cmd(r, on_state_written, m, n, argv, lens) != 0) on_applied(m, 0);
}

/* -- Matching ---------------------------------------------------------------------------- */

static void on_match(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    rmatch_t *m = ud;
    char id[80], account[64];
    (void)r;
    if (err || !reply) {
        R.refused++;
        answer(m, SMPP_ESME_RX_T_APPN);
        done(m);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) {     /* nil: kept as early */
        R.early++;
        m->l->early++;
        answer(m, SMPP_ESME_ROK);
        done(m);
        return;
    }
    snprintf(id, sizeof id, "%.*s", (int)reply->element[0]->len, reply->element[0]->str ? reply->element[0]->str : "");
    snprintf(account, sizeof account, "%.*s", (int)reply->element[1]->len,
             reply->element[1]->str ? reply->element[1]->str : "");
    if (pdu_decode(&R.in, m->pdu, m->n, 0, NULL) != SMPP_ESME_ROK) {   /* it decoded when it came */
        answer(m, SMPP_ESME_RX_T_APPN);
        done(m);
        return;
    }
    apply(m, &R.in, id, account);
}

int rt_gwr_receipt(rt_link_t *l, sess_t *s, const pdu_t *req)
{
    redis_t *r = rt_redis();
    rmatch_t *m;
    char key[KEY_MAX], part[KEY_MAX + 200], mkey[400], ekey[400], ttl[32];
    const char *argv[8];
    size_t lens[8], klen = 0;
    pdu_t copy = *req;
    pdu_error_t perr;
    static uint8_t buf[70000];
    long len;
    int pn;
    if (!(m = calloc(1, sizeof *m))) {
        sess_respond(s, req->sequence_number, NULL, SMPP_ESME_RX_T_APPN, uv_now(rt.loop));
        return 1;
    }
    m->l = l;
    m->sess = sess_id(s);
    m->seq = req->sequence_number;
    if (!rt_gw_rcpt_read(l, req, key, &klen, &m->state, &m->err)) {
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
    pn = snprintf(part, sizeof part, "%s:%.*s", l->name, (int)klen, key);
    snprintf(ttl, sizeof ttl, "%.0f", ceil(rt_gw_conf.early_ttl > 1 ? rt_gw_conf.early_ttl : 1));
    argv[0] = "EVAL";
    argv[1] = match_script;
    argv[2] = "2";
    argv[3] = mkey;
    argv[4] = ekey;
    argv[5] = (const char *)m->pdu;
    argv[6] = ttl;
    argv[7] = rt_gwr_conf.prefix;
    lens[0] = 4;
    lens[1] = sizeof match_script - 1;
    lens[2] = 1;
    lens[3] = rt_gwr_key(mkey, sizeof mkey, "k:", part, (size_t)pn);
    lens[4] = rt_gwr_key(ekey, sizeof ekey, "e:", part, (size_t)pn);
    lens[5] = m->n;
    lens[6] = strlen(ttl);
    lens[7] = strlen(rt_gwr_conf.prefix);
    if (redis_cmd(r, on_match, m, 8, argv, lens) != 0) {
        R.refused++;
        answer(m, SMPP_ESME_RX_T_APPN);
        done(m);
    }
    return 1;
}

/* -- Early receipts ----------------------------------------------------------------------- */

void rt_gwr_rcpt_early(rt_link_t *l, const char *id, const char *account, const redisReply *list)
{
    size_t i;
    if (!list || list->type != REDIS_REPLY_ARRAY) return;
    for (i = 0; i < list->elements; i++) {
        const redisReply *e = list->element[i];
        rmatch_t *m;
        char key[KEY_MAX];
        size_t klen;
        if (e->type != REDIS_REPLY_STRING || !(m = calloc(1, sizeof *m))) continue;
        m->l = l;
        if (pdu_decode(&R.in, (const uint8_t *)e->str, e->len, 0, NULL) != SMPP_ESME_ROK
            || !rt_gw_rcpt_read(l, &R.in, key, &klen, &m->state, &m->err)) {
            done(m);
            continue;
        }
        R.early_matched++;
        l->early_matched++;
        apply(m, &R.in, id, account);
    }
}


void rt_gwr_rcpt_stats(lua_State *L)
{
    SET_NUM("receipts", R.matched);
    SET_NUM("receipts_early", R.early);
    SET_NUM("receipts_early_matched", R.early_matched);
    SET_NUM("receipts_unmatched", R.unmatched);
    SET_NUM("receipts_refused", R.refused);
}
