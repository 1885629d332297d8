/* rt_gwr_fwd.c -- the forwarders of the Redis store: each upstream's queue
 * is a stream read by the consumer group "fwd", one consumer per process.
 * A woken link reads as many new entries as its sessions have free window
 * slots (XREADGROUP), sends them, and records the upstream's answer before
 * acknowledging the entry (one script call: the record and its trace line,
 * the id mapping, XACK, XDEL). Entries it could not send yet (throttled, timed out, link
 * paused) stay pending under this consumer and wait here with a due time.
 * Every claim_after / 3 seconds a link that can send takes over entries
 * pending longer than claim_after under any consumer (XAUTOCLAIM: a node
 * that died), and says its own still live (XCLAIM JUSTID, idle time reset),
 * so that a slow retry here is not taken over by another node.
 *
 * An answer Redis does not record (it refuses the write at its maxmemory,
 * or the link drops before its reply) is kept here with its entry and its
 * call tried again (rt_gwr_answer.c), the entry's claim kept alive; while
 * a link has such answers it reads, takes over and sends nothing more
 * (Redis that refuses writes still serves XREADGROUP and XAUTOCLAIM: every
 * claim_after the same entries were sent again). At least once: an
 * entry whose answer was not recorded when its node died is sent again by
 * whoever claims it, which the upstream may see twice. A refusal, a
 * throttle past throttle_retries, an ended validity and a stalled queue go
 * to the gateway's Lua event handler as on the SQLite path
 * (rt_gwr_decide.c; a move: rt_gwr_move.c).
 *
 * Who owns what: an entry (ent_t) is this file's from the read (or claim)
 * until the answer to its XACK (its answer's call, answer_t, with it).
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
#include "rt_gwr_fwd_int.h"
#include "rt_redis.h"
#include "rt_route.h"
#include "rt_store.h"

#define READ_MAX   500          /* entries one read asks for at most */
#define GROUP      "fwd"


uint64_t rt_gwr_fwd__retried;

static struct {
    glink_t *links;
    pdu_t    pdu;
    uint64_t read, claimed, sent, answered, refused, expired, touched;
} F;

/* -- Links and entries ------------------------------------------------------------------- */

glink_t *rt_gwr_fwd__glink(rt_link_t *l)
{
    glink_t *g;
    for (g = F.links; g; g = g->next)
        if (g->l == l) return g;
    if (!(g = calloc(1, sizeof *g))) return NULL;
    g->l = l;
    strcpy(g->cursor, "0-0");
    g->next = F.links;
    F.links = g;
    return g;
}

static size_t qkey(char *buf, size_t cap, rt_link_t *l) { return rt_gwr_key_queue(buf, cap, l->name, l->len); }

static ent_t *find(glink_t *g, const char *eid, size_t n)
{
    ent_t *e;
    for (e = g->head; e; e = e->next)
        if (strlen(e->eid) == n && memcmp(e->eid, eid, n) == 0) return e;
    return NULL;
}

void rt_gwr_fwd__drop(ent_t *e)
{
    glink_t *g = rt_gwr_fwd__glink(e->l);
    if (!g) return;
    if (e->waiting && g->waiting) g->waiting--;
    free(e->answer);
    if (e->prev) e->prev->next = e->next;
    else g->head = e->next;
    if (e->next) e->next->prev = e->prev;
    else g->tail = e->prev;
    g->held--;
    free(e->pdu);
    free(e);
}

static void copy(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap) n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* An entry of a stream reply ([eid, [field, value, ...]]) held here; NULL
 * when it is malformed, held already, or no memory. */
static ent_t *hold(glink_t *g, const redisReply *it, double now)
{
    const redisReply *f;
    ent_t *e;
    size_t i;
    if (it->type != REDIS_REPLY_ARRAY || it->elements < 2 || it->element[0]->type != REDIS_REPLY_STRING) return NULL;
    if (find(g, it->element[0]->str, it->element[0]->len)) return NULL;
    f = it->element[1];
    if (f->type != REDIS_REPLY_ARRAY || !(e = calloc(1, sizeof *e))) return NULL;
    e->l = g->l;
    copy(e->rup, sizeof e->rup, g->l->name, g->l->len);
    e->expires = NAN;
    e->due = now;
    copy(e->eid, sizeof e->eid, it->element[0]->str, it->element[0]->len);
    for (i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        if (strcmp(k->str, "id") == 0) copy(e->id, sizeof e->id, v->str, v->len);
        else if (strcmp(k->str, "acct") == 0) copy(e->acct, sizeof e->acct, v->str, v->len);
        else if (strcmp(k->str, "rd") == 0) e->rd = strtoll(v->str, NULL, 10);
        else if (strcmp(k->str, "att") == 0) e->attempts = strtoll(v->str, NULL, 10);
        else if (strcmp(k->str, "exp") == 0 && v->len) e->expires = strtod(v->str, NULL);
        else if (strcmp(k->str, "route") == 0) copy(e->route, sizeof e->route, v->str, v->len);
        else if (strcmp(k->str, "sub") == 0) e->submitted = strtod(v->str, NULL);
        else if (strcmp(k->str, "due") == 0 && strtod(v->str, NULL) > now) e->due = strtod(v->str, NULL);   /* moved with a delay */
        else if (strcmp(k->str, "pdu") == 0 && !e->pdu && (e->pdu = malloc(v->len ? v->len : 1))) {
            memcpy(e->pdu, v->str, v->len);
            e->pdu_n = v->len;
        }
    }
    if (!e->pdu || !e->id[0]) {
        log_msg(LOG_ERROR, 0, "cluster store: entry %s of %s's queue is malformed; left pending", e->eid, g->l->name);
        free(e->pdu);
        free(e);
        return NULL;
    }
    e->prev = g->tail;
    if (g->tail) g->tail->next = e;
    else g->head = e;
    g->tail = e;
    g->held++;
    return e;
}

/* -- Writing an outcome (rt_gwr_answer.c) ---------------------------------------------------- */

static void outcome(ent_t *e, int npairs, const char **pairs, const char *key, size_t kn, const char *line)
{
    rt_gwr_fwd__outcome(e, npairs, pairs, key, kn, line);
}

void rt_gwr_fwd__finish(ent_t *e, int state, uint32_t status, double now, const char *line)
{
    char st[16], err[16], done[32];
    const char *pairs[8];
    snprintf(st, sizeof st, "%d", state);
    snprintf(err, sizeof err, "%u", status);
    snprintf(done, sizeof done, "%.3f", now);
    pairs[0] = "state", pairs[1] = st;
    pairs[2] = "err", pairs[3] = err;
    pairs[4] = "done", pairs[5] = done;
    pairs[6] = "final", pairs[7] = "1";
    outcome(e, 4, pairs, NULL, 0, line);
}

/* -- Sessions ------------------------------------------------------------------------------ */

static int can_send(sess_t *s)
{
    sess_state_t st = sess_state(s);
    return (st == SESS_BOUND_TX || st == SESS_BOUND_TRX) && !sess_is_closing(s)
        && sess_window_used(s) < sess_config(s)->window;
}

static uint32_t free_slots(rt_link_t *l)
{
    uint32_t i, n = 0;
    for (i = 0; i < l->nsess; i++) {
        sess_t *s = net_find(rt.net, l->sess[i]);
        if (s && can_send(s)) n += sess_config(s)->window - sess_window_used(s);
    }
    return rt_gw_cap_slots(l, n);
}

static sess_t *pick(rt_link_t *l)
{
    uint32_t k;
    if (!rt_gw_cap_slots(l, 1)) return NULL;            /* a slow link's window, shrunk */
    for (k = 0; k < l->nsess; k++) {
        uint32_t i = (l->rr + k) % l->nsess;
        sess_t *s = net_find(rt.net, l->sess[i]);
        if (s && can_send(s)) {
            l->rr = i + 1;
            return s;
        }
    }
    return NULL;
}

/* -- The upstream's answer ---------------------------------------------------------------------- */

static double backoff(long long attempts)
{
    double d = rt_gw_conf.retry_min;
    while (--attempts > 0 && d < rt_gw_conf.retry_max) d *= 2;
    return d < rt_gw_conf.retry_max ? d : rt_gw_conf.retry_max;
}

static void accepted(ent_t *e, sess_t *s, const pdu_t *resp, double now)
{
    rt_link_t *l = e->l;
    const pdu_value_t *mid = pdu_get(resp, PDU_F_MESSAGE_ID);
    char uid[80], kbuf[160], att[24], done[32], line[300];
    const char *pairs[10];
    size_t un = 0, kn = 0;
    int np = 0, keyed = 0;
    if (mid && mid->ptr) copy(uid, sizeof uid, (const char *)mid->ptr, mid->len), un = strlen(uid);
    else uid[0] = '\0';
    if (rt_gw_wants_receipt(e->rd) && un > 0 && un < sizeof kbuf / 2 - 1) {
        long n = msgid_key(uid, un, l->fmt_resp, kbuf, sizeof kbuf);
        if (n >= 0) {
            kn = (size_t)n;
            keyed = 1;
        }
    }
    snprintf(att, sizeof att, "%lld", e->attempts + 1);
    snprintf(done, sizeof done, "%.3f", now);
    snprintf(line, sizeof line, "sent to %s (session %llu, attempt %lld): accepted as %s%s", l->name,
             (unsigned long long)sess_id(s), e->attempts + 1, uid,
             resp->naddr ? "; some destinations refused (unsuccess_sme)" : "");
    pairs[np++] = "state", pairs[np++] = "1";
    pairs[np++] = "upstream_id", pairs[np++] = uid;
    pairs[np++] = "attempts", pairs[np++] = att;
    if (!keyed) pairs[np++] = "final", pairs[np++] = "1", pairs[np++] = "done", pairs[np++] = done;
    l->accepted++;
    F.answered++;
    outcome(e, np / 2, pairs, keyed ? kbuf : NULL, kn, line);
}

/* A trace line for an attempt that is tried again (a note of its own:
 * retries are rare, the message's outcome is written with its last). */
static void note_retry(ent_t *e, sess_t *s, const char *what, double again)
{
    char line[300];
    snprintf(line, sizeof line, "sent to %s (session %llu, attempt %lld): %s; sent again in %.1f s", e->l->name,
             (unsigned long long)sess_id(s), e->attempts + 1, what, again);
    rt_gwr_note(e->rup, strlen(e->rup), e->id, line, 0, NULL);
}

static void on_done(sess_t *s, void *arg, const pdu_t *resp, int err)
{
    ent_t *e = arg;
    rt_link_t *l = e->l;
    uint32_t status = resp ? resp->command_status : 0;
    double now = rt_time();
    e->inflight = 0;
    if (l->inflight) l->inflight--;
    rt_gw_answer_count(l, err, status, e->sent);
    rt_fwd_wake(l);
    if (resp && status != SMPP_ESME_RTHROTTLED && status != SMPP_ESME_RMSGQFUL && e->route[0])  /* a final answer */
        rt_route_latency(e->route, strlen(e->route), now - e->submitted);
    if (!err && status == SMPP_ESME_ROK) {
        accepted(e, s, resp, now);
    } else if (!err && (status == SMPP_ESME_RTHROTTLED || status == SMPP_ESME_RMSGQFUL)) {
        l->throttled++;
        l->paused_until = now + l->throttle_backoff;
        if (e->attempts + 1 > l->throttle_retries) {
            char detail[200];
            snprintf(detail, sizeof detail, "sent to %s (session %llu, attempt %lld): %s", l->name,
                     (unsigned long long)sess_id(s), e->attempts + 1, pdu_status_name(status));
            rt_gwr_fwd__to_handler(e, "throttled", status, detail);
        } else {
            l->retried++;
            rt_gwr_fwd__retried++;
            note_retry(e, s, pdu_status_name(status), l->throttle_backoff);
            e->attempts++;
            e->due = now + l->throttle_backoff;
        }
    } else if (err == SESS_ETIMEOUT || err == SESS_ECLOSED || err == SESS_EBADRESP) {
        double d = err == SESS_ECLOSED ? rt_gw_conf.retry_min : backoff(e->attempts + 1);
        l->retried++;
        rt_gwr_fwd__retried++;
        note_retry(e, s, err == SESS_ECLOSED ? "connection lost before the answer" : sess_strerror(err), d);
        e->attempts++;
        e->due = now + d;
    } else {
        char detail[200];
        const char *name = pdu_status_name(status);
        snprintf(detail, sizeof detail, "sent to %s (session %llu, attempt %lld): %s%s", l->name,
                 (unsigned long long)sess_id(s), e->attempts + 1, err == SESS_ENACK ? "generic_nack " : "",
                 name ? name : "an unknown status");
        l->refused++;
        F.refused++;
        rt_gwr_fwd__to_handler(e, "refused", status ? status : SMPP_ESME_RSYSERR, detail);
    }
}

/* -- Sending -------------------------------------------------------------------------------- */

/* Send what is held and due, while a session has room. */
static void send_due(glink_t *g, double now)
{
    rt_link_t *l = g->l;
    ent_t *e, *next;
    pdu_error_t perr;
    sess_t *s;
    long seq;
    if (g->waiting) return;          /* Redis does not take this link's answers: their records first */
    for (e = g->head; e; e = next) {
        next = e->next;
        if (e->inflight || e->acking || e->deciding || e->due > now) continue;
        if (!isnan(e->expires) && e->expires <= now) {
            l->expired++;
            F.expired++;
            rt_gwr_fwd__to_handler(e, "expired", 0, "its validity ended before it was sent");
            continue;
        }
        /* unanswered: one at a time tries it (rt_gw_link_answer) */
        if (now < l->paused_until || !rt_gw_link_answering(l, now, 0, NULL) || !(s = pick(l))
            || !tb_take(g->ctb ? g->ctb : &l->tb, uv_now(rt.loop)))
            return;
        if (pdu_decode(&F.pdu, e->pdu, e->pdu_n, 0, &perr) != SMPP_ESME_ROK) {
            log_msg(LOG_ERROR, 0, "cluster store: the PDU of %s does not decode: %s; REJECTED", e->id, perr.msg);
            l->refused++;
            rt_gwr_fwd__finish(e, 8, SMPP_ESME_RSYSERR, now, "its PDU does not decode: REJECTED");
            continue;
        }
        seq = sess_send(s, &F.pdu, on_done, e, uv_now(rt.loop));
        if (seq == SESS_EINVAL) {
            log_msg(LOG_ERROR, 0, "cluster store: %s not sent to %s: %s; REJECTED", e->id, l->name, sess_last_error(s));
            l->refused++;
            rt_gwr_fwd__finish(e, 8, SMPP_ESME_RSYSERR, now, "not sent: the session refused it: REJECTED");
            continue;
        }
        if (seq < 0) return;
        net_touch(s);
        e->sent = rt_gw_stamp();
        e->inflight = 1;
        l->inflight++;
        l->sent++;
        F.sent++;
    }
}

/* -- Reading and claiming -------------------------------------------------------------------- */

static void on_group(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    glink_t *g = ud;
    (void)r;
    (void)reply;
    if (!err || strncmp(err, "BUSYGROUP", 9) == 0) g->group_ok = 1;
    else log_msg(LOG_WARN, 0, "cluster store: no consumer group on %s's queue: %s", g->l->name, err);
    rt_fwd_wake(g->l);
}

static void make_group(redis_t *r, glink_t *g)
{
    char q[200];
    size_t n = qkey(q, sizeof q, g->l);
    rt_gwr_make_group(r, on_group, g, GROUP, q, n);
}

static void take_entries(glink_t *g, const redisReply *list, uint64_t *count)
{
    double now = rt_time();
    size_t i;
    if (!list || list->type != REDIS_REPLY_ARRAY) return;
    for (i = 0; i < list->elements; i++)
        if (hold(g, list->element[i], now)) (*count)++;
}

uint64_t rt_gwr_fwd__take(glink_t *g, const redisReply *list)
{
    uint64_t before = F.read;
    take_entries(g, list, &F.read);
    return F.read - before;
}

static void on_read(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    glink_t *g = ud;
    (void)r;
    g->reading = 0;
    if (err) {
        if (strncmp(err, "NOGROUP", 7) == 0) g->group_ok = 0;     /* Redis lost it: made again */
        return;
    }
    /* [[key, [entries]]] or nil */
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0
        && reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2) {
        uint64_t before = F.read;
        take_entries(g, reply->element[0]->element[1], &F.read);
        if (F.read - before > 0) rt_fwd_wake(g->l);                /* more may wait */
    }
    send_due(g, rt_time());
}

static void on_claim(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    glink_t *g = ud;
    uint64_t before = F.claimed;
    (void)r;
    g->claiming = 0;
    if (err || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) return;
    /* [next cursor, [entries], [deleted ids]] */
    if (reply->element[0]->type == REDIS_REPLY_STRING)
        copy(g->cursor, sizeof g->cursor, reply->element[0]->str, reply->element[0]->len);
    if (reply->element[1]->type == REDIS_REPLY_ARRAY) {
        size_t i;
        ent_t *e;
        for (i = 0; i < reply->element[1]->elements; i++)
            if ((e = hold(g, reply->element[1]->element[i], rt_time()))) {
                F.claimed++;
                rt_gwr_fwd__claimed(e);      /* a move its node did not finish? (rt_gwr_move.c) */
            }
    }
    if (F.claimed > before) {
        log_msg(LOG_WARN, 0, "cluster store: took over %llu messages of %s pending longer than %g s on another node",
                (unsigned long long)(F.claimed - before), g->l->name, rt_gwr_conf.claim_after);
    }
    if (strcmp(g->cursor, "0-0") != 0) g->claim_at = 0;              /* more to look at: next turn */
    send_due(g, rt_time());
}

/* Our held entries are live: reset their idle time so that no other node
 * takes them over. */
static void touch(redis_t *r, glink_t *g)
{
    const char *ids[RT_GWR_TOUCH_MAX];
    char q[200];
    size_t qn;
    ent_t *e;
    int n = 0;
    if (!g->head) return;
    for (e = g->head; e && n < RT_GWR_TOUCH_MAX; e = e->next) ids[n++] = e->eid;
    qn = qkey(q, sizeof q, g->l);
    if (rt_gwr_touch(r, GROUP, q, qn, ids, n) == 0) F.touched++;
}

static void claim(redis_t *r, glink_t *g, double now)
{
    char q[200];
    if (g->claiming || now < g->claim_at) return;
    if (strcmp(g->cursor, "0-0") == 0) {
        g->claim_at = now + rt_gwr_conf.claim_after / 3;
        touch(r, g);
    }
    qkey(q, sizeof q, g->l);
    if (rt_gwr_autoclaim(r, on_claim, g, GROUP, q, g->cursor) == 0) g->claiming = 1;
}

void rt_gwr_run(rt_link_t *l)
{
    redis_t *r = rt_redis();
    glink_t *g = rt_gwr_fwd__glink(l);
    double now = rt_time();
    uint32_t slots;
    size_t waiting = 0;
    ent_t *e;
    char q[200];
    if (!g || !rt.net) return;
    if (l->tb.rate > 0) {           /* the limit holds across the nodes: tokens from Redis, in batches */
        char key[RT_GWR_KEY_MAX];
        rt_gwr_key_bucket(key, sizeof key, l->name, l->len);
        g->ctb = rt_cluster_bucket(key, l->tb.rate, l->tb.burst);
    } else {
        g->ctb = NULL;
    }
    send_due(g, now);
    if (!r || redis_state(r) != REDIS_UP || !rt_gwr_conf.consumer[0]) return;
    if (!g->group_ok) {
        make_group(r, g);
        return;
    }
    if (g->waiting) {                 /* answers wait for Redis: kept alive and written again, nothing read */
        if (now >= g->claim_at) {
            g->claim_at = now + rt_gwr_conf.claim_after / 3;
            touch(r, g);
        }
        rt_gwr_fwd__record_again(g, now);
        return;
    }
    if (l->silent_since && (!l->down_since || l->down_since > l->silent_since))
        l->down_since = l->silent_since;             /* unanswered: unable to send since it went silent */
    if (!l->nsess || now < l->paused_until || !rt_gw_link_answering(l, now, 0, NULL)) {
        rt_gwr_fwd__stall(g, now);    /* its queue may be offered to the handler (moved) */
        return;
    }
    if (!l->silent_since) l->down_since = 0;
    claim(r, g, now);
    for (e = g->head; e; e = e->next) waiting += !e->inflight && !e->acking && !e->deciding;
    slots = free_slots(l);
    if (l->silent_since && slots > 1) slots = 1;     /* a trial: one message */
    if (g->reading || slots <= waiting) return;
    slots -= (uint32_t)waiting;
    qkey(q, sizeof q, l);
    if (rt_gwr_read_group(r, on_read, g, GROUP, q, slots < READ_MAX ? slots : READ_MAX) == 0) g->reading = 1;
}

/* -- The tick ----------------------------------------------------------------------------------- */

/* Every link: one with binds reads its stream, one without looks whether
 * its queue is stalled. */
static void wake_link(rt_link_t *l, void *arg)
{
    (void)arg;
    rt_fwd_wake(l);
}

/* The queue's length across the cluster, for /stats and the accepting
 * check before Redis' (queued). */
static void on_sampled(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    glink_t *g = ud;
    (void)r;
    g->sampling = 0;
    if (!err && reply && reply->type == REDIS_REPLY_INTEGER) g->l->queued = reply->integer;
}

static void sample(rt_link_t *l, void *arg)
{
    redis_t *r = rt_redis();
    glink_t *g = rt_gwr_fwd__glink(l);
    char q[RT_GWR_KEY_MAX];
    const char *argv[2] = { "XLEN", q };
    size_t lens[2] = { 4, 0 };
    double now = rt_time();
    (void)arg;
    if (!g || !r || redis_state(r) != REDIS_UP) return;
    if (l->nsess && now >= l->paused_until && !l->silent_since) rt_gwr_fwd__live(g);   /* the cluster can send to it */
    if (now >= g->sweep_at && rt_gwr_rcpt_sweep(l, &g->sweeping) == 0)   /* early receipts left unfinished */
        g->sweep_at = now + rt_gwr_conf.claim_after / 3;
    if (g->sampling) return;
    lens[1] = qkey(q, sizeof q, l);
    if (redis_cmd(r, on_sampled, g, 2, argv, lens) == 0) g->sampling = 1;
}

void rt_gwr_fwd_tick(int sample_queues)
{
    rt_gw_foreach(wake_link, NULL);
    if (sample_queues) rt_gw_foreach(sample, NULL);
}

/* -- Statistics and the end -------------------------------------------------------------------- */


void rt_gwr_fwd_stats(lua_State *L)
{
    glink_t *g;
    size_t held = 0, waiting = 0;
    for (g = F.links; g; g = g->next) held += g->held, waiting += g->waiting;
    SET_NUM("read", F.read);
    SET_NUM("claimed", F.claimed);
    SET_NUM("sent", F.sent);
    SET_NUM("answered", F.answered);
    SET_NUM("retried", rt_gwr_fwd__retried);
    SET_NUM("refused", F.refused);
    SET_NUM("expired", F.expired);
    rt_gwr_answer_stats(L);
    SET_NUM("held", held);
    SET_NUM("answers_waiting", waiting);
    rt_gwr_move_stats(L);
}

void rt_gwr_fwd_close(void)
{
    glink_t *g;
    while ((g = F.links) != NULL) {
        F.links = g->next;
        while (g->head) {
            ent_t *e = g->head;
            g->head = e->next;
            free(e->answer);
            free(e->pdu);
            free(e);
        }
        free(g);
    }
    memset(&F, 0, sizeof F);
    rt_gwr_move_close();
    rt_gwr_answer_close();
}
