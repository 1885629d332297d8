/* rt_gwr_queue.c -- accepting a message on the Redis store: its record and
 * its queue entry written by one script call (which refuses it when the
 * upstream's queue holds max_queue messages across the cluster), the task
 * waiting for Redis' answer before the id is returned (see rt_gwr.h); and
 * reading a record back by id (core.gwr_get).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msgid.h"
#include "rt.h"
#include "rt_gw.h"
#include "rt_gwr.h"
#include "rt_redis.h"
#include "rt_store.h"
#include "rt_task.h"

static struct {
    uint64_t accepted, refused_down, refused_ids, refused_full, failed;
} G;

/* -- Accepting ---------------------------------------------------------------------------- */

/* The SME destinations of a submit_multi (pdu, as the ESME sent it) into
 * buf as "\0<addr>\0<addr>\0" (the record's field dests): the match call
 * tells a receipt about one of them (its source_addr) from one about none
 * (rt_gwr_rcpt.c). -> its length, 0 when there are none. */
static size_t dests_of(store_str_t pdu, char *buf, size_t cap)
{
    static pdu_t p;
    pdu_error_t perr;
    size_t n = 0;
    int i;
    if (pdu_decode(&p, (const uint8_t *)pdu.p, pdu.n, 0, &perr) != SMPP_ESME_ROK) return 0;
    for (i = 0; i < p.naddr; i++) {
        const pdu_addr_t *a = &p.addr[i];
        if (a->dest_flag != 1 || !a->len || n + a->len + 2 > cap) continue;
        if (!n) buf[n++] = '\0';
        memcpy(buf + n, a->addr, a->len);
        n += a->len;
        buf[n++] = '\0';
    }
    return n;
}

/* An accepting task's wait for the accept script's answer. */
typedef struct acc_s {
    rt_task_t *t;
    rt_link_t *l;
    char       id[MSGID_KEYED_MAX];
} acc_t;

static void on_accepted(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    acc_t *a = ud;
    lua_State *co = a->t->co;
    (void)r;
    if (err || !reply || reply->type != REDIS_REPLY_INTEGER) {
        G.failed++;
        lua_pushnil(co);
        lua_pushliteral(co, "full");
        lua_pushfstring(co, "not stored in Redis: %s", err ? err : "an unexpected answer");
        rt_task_wake(a->t, 3);
    } else if (reply->integer >= 0) {           /* the queue is full across the cluster */
        G.refused_full++;
        a->l->queued_total--;
        lua_pushnil(co);
        lua_pushliteral(co, "full");
        lua_pushfstring(co, "the queue of %s holds %d messages (upstreams[].max_queue)", a->l->name,
                        (int)reply->integer);
        rt_task_wake(a->t, 3);
    } else {
        G.accepted++;
        a->l->queued++;               /* until the next sample of the queue (rt_gwr_fwd.c) */
        lua_pushstring(co, a->id);
        rt_task_wake(a->t, 1);
    }
    free(a);
}

static int refuse(lua_State *L, const char *why)
{
    lua_pushnil(L);
    lua_pushliteral(L, "full");
    lua_pushstring(L, why);
    return 3;
}

#define NUM(buf, v) (snprintf(buf, sizeof buf, "%.17g", (double)(v)), buf)

int rt_gwr_queue(lua_State *L, rt_link_t *l, const store_msg_t *m)
{
    redis_t *r = rt_redis();
    rt_task_t *t;
    acc_t *a;
    char mkey[RT_GWR_KEY_MAX], qkey[RT_GWR_KEY_MAX], sub[32], rd[32], exp[32], ttl[32], maxq[32], via[48];
    static char dests[PDU_MAX_ADDRS * 23];      /* copied by rt_gwr_eval */
    const char *argv[48];       /* 2 keys, 10 arguments, at most 14 field/value pairs */
    size_t lens[48], dn;
    long long key;
    int n = 0;
    double keep;
    if (!r || redis_state(r) != REDIS_UP) {
        G.refused_down++;
        return refuse(L, "Redis is unreachable");
    }
    if (!rt_gwr_conf.node_id || !(key = rt_gwr_take_key())) {
        G.refused_ids++;
        rt_gwr_ask_ids();
        return refuse(L, "no message id at hand yet (waiting for Redis)");
    }
    t = rt_task_current(L, "gw_queue");
    if (!(a = calloc(1, sizeof *a))) return luaL_error(L, "out of memory");
    if (msgid_keyed_make(rt_gw_conf.id_format, (unsigned long long)rt_gwr_conf.node_id, (unsigned long long)key,
                         a->id, sizeof a->id) < 0) {
        free(a);
        return luaL_error(L, "gateway: no id for key %f", (double)key);
    }
    a->t = t;
    a->l = l;
    rt_gwr_ask_ids();
    /* kept ttl past its validity (or its submission) */
    keep = rt_gwr_conf.ttl + (!isnan(m->expires) && m->expires > m->submitted ? m->expires - m->submitted : 0);
#define W(s, len) (argv[n] = (s), lens[n] = (len), n++)
#define WS(s) W((s), strlen(s))
#define WV(v) W((v).p ? (v).p : "", (v).p ? (v).n : 0)
    W(mkey, rt_gwr_key_msg(mkey, sizeof mkey, l->name, l->len, a->id, strlen(a->id)));
    W(qkey, rt_gwr_key_queue(qkey, sizeof qkey, l->name, l->len));
    WS(NUM(ttl, ceil(keep)));
    WS(NUM(maxq, l->max_queue > 0 ? l->max_queue : 0));
    WV(m->trace);
    WS(a->id);
    WV(m->pdu);
    WV(m->account);
    WS(NUM(rd, m->registered_delivery));
    WS(isnan(m->expires) ? "" : NUM(exp, m->expires));
    WV(m->route);
    WS(NUM(sub, m->submitted));
    /* the record's fields */
    WS("account"); WV(m->account);
    WS("upstream"); WV(m->upstream);
    WS("route"); WV(m->route);
    WS("state"); WS("0");
    WS("attempts"); WS("0");
    WS("submitted"); WS(sub);
    WS("rd"); WS(rd);
    WS("source"); WV(m->source);
    WS("dest"); WV(m->dest);
    if (m->notify.p) {
        WS("notify");
        WV(m->notify);
    }
    if (!isnan(m->expires)) {
        WS("expires");
        WS(exp);
    }
    if (m->pdu.p && m->pdu.n >= 8 && memcmp(m->pdu.p + 4, "\0\0\0\x21", 4) == 0) {
        /* a submit_multi (SMPP_SUBMIT_MULTI): a final receipt for each
         * destination under its one id (rt_gwr_rcpt.c): a destination's
         * final receipt after its final one is a repeat */
        WS("multi");
        WS("1");
        if ((dn = dests_of(m->pdu, dests, sizeof dests)) > 0) {
            WS("dests");
            W(dests, dn);
        }
    }
    if (t && t->sess_id) {
        /* the ESME session, "<node id>:<session id>": its receipts go back
         * on it when the node that reads them holds it (rt_gwr_rx.c) */
        snprintf(via, sizeof via, "%lld:%llu", rt_gwr_conf.node_id, (unsigned long long)t->sess_id);
        WS("via");
        WS(via);
    }
#undef W
#undef WS
#undef WV
    if (rt_gwr_eval(RT_GWR_ACCEPT, on_accepted, a, 2, n, argv, lens) != 0) {
        free(a);
        G.refused_down++;
        return refuse(L, "Redis refused the command (link down or too many waiting)");
    }
    l->queued_total++;
    rt_fwd_wake(l);
    rt_task_wait(t, "redis");
    return lua_yield(L, 0);
}


/* -- Reading a message's record ----------------------------------------------------------- */

/* A core.gwr_get under way: the HGETALLs still to answer. */
typedef struct get_s {
    rt_task_t *t;
    int        left, found, failed;
    long long  moves;           /* of the record found: a move that did not end leaves two, the newer has more */
    char       err[96];
} get_t;

/* The "moves" field of an HGETALL reply (0 without it). */
static long long moves_of(const redisReply *reply)
{
    size_t i;
    for (i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *k = reply->element[i], *v = reply->element[i + 1];
        if (k->str && v->str && k->len == 5 && memcmp(k->str, "moves", 5) == 0) return strtoll(v->str, NULL, 10);
    }
    return 0;
}

static void on_got(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    get_t *g = ud;
    lua_State *co = g->t->co;
    size_t i;
    (void)r;
    if (err && !g->failed) {
        g->failed = 1;
        snprintf(g->err, sizeof g->err, "%s", err);
    }
    if (!err && reply && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0
        && (!g->found || moves_of(reply) > g->moves)) {
        if (g->found) lua_pop(co, 1);          /* an older copy */
        g->found = 1;
        g->moves = moves_of(reply);
        lua_createtable(co, (int)reply->elements, 0);
        for (i = 0; i < reply->elements; i++) {
            const redisReply *e = reply->element[i];
            lua_pushlstring(co, e->str ? e->str : "", e->str ? e->len : 0);
            lua_rawseti(co, -2, (int)i + 1);
        }
    }
    if (--g->left > 0) return;
    if (g->found) {
        rt_task_wake(g->t, 1);
    } else if (g->failed) {
        lua_pushnil(co);
        lua_pushstring(co, g->err);
        rt_task_wake(g->t, 2);
    } else {
        lua_pushnil(co);
        rt_task_wake(g->t, 1);
    }
    free(g);
}

static int ask_one(get_t *g, const char *up, size_t upn, const char *id, size_t idn)
{
    char key[RT_GWR_KEY_MAX];
    const char *argv[2] = { "HGETALL", key };
    size_t lens[2] = { 7, 0 };
    lens[1] = rt_gwr_key_msg(key, sizeof key, up, upn, id, idn);
    if (redis_cmd(rt_redis(), on_got, g, 2, argv, lens) != 0) return 0;
    g->left++;
    return 1;
}

typedef struct get_arg_s {
    get_t      *g;
    const char *id;
    size_t      idn;
} get_arg_t;

static void ask_link(rt_link_t *l, void *arg)
{
    get_arg_t *a = arg;
    ask_one(a->g, l->name, l->len, a->id, a->idn);
}

/* core.gwr_get(id [, upstreams [, prefix]]) -> { field, value, ... } (as
 * HGETALL gives it) | nil (no such message) | nil, err. A record is kept
 * under its upstream's hash tag, which the id does not name: one HGETALL
 * per upstream (those named, else every link of this process), pipelined
 * in one round trip. prefix: the keys' (a process that did not call
 * gwr_start: `smppgw messages`). Waits. */
int rt_gwr_get(lua_State *L)
{
    size_t idn;
    const char *id = luaL_checklstring(L, 1, &idn);
    redis_t *r = rt_redis();
    rt_task_t *t = rt_task_current(L, "gwr_get");
    get_t *g;
    int i, n;
    if (lua_type(L, 3) == LUA_TSTRING && !rt_gwr_conf.on)
        snprintf(rt_gwr_conf.prefix, sizeof rt_gwr_conf.prefix, "%s", lua_tostring(L, 3));
    if (!r || redis_state(r) != REDIS_UP) {
        lua_pushnil(L);
        lua_pushliteral(L, "Redis is unreachable");
        return 2;
    }
    if (!(g = calloc(1, sizeof *g))) return luaL_error(L, "out of memory");
    g->t = t;
    if (lua_istable(L, 2)) {
        n = (int)lua_objlen(L, 2);
        for (i = 1; i <= n; i++) {
            size_t upn;
            const char *up;
            lua_rawgeti(L, 2, i);
            if ((up = lua_tolstring(L, -1, &upn)) != NULL) ask_one(g, up, upn, id, idn);
            lua_pop(L, 1);
        }
    } else {
        get_arg_t a = { g, id, idn };
        rt_gw_foreach(ask_link, &a);
    }
    if (g->left == 0) {
        free(g);
        lua_pushnil(L);
        return 1;
    }
    rt_task_wait(t, "redis");
    return lua_yield(L, 0);
}

void rt_gwr_queue_stats(lua_State *L)
{
    SET_NUM("accepted", G.accepted);
    SET_NUM("refused_down", G.refused_down);
    SET_NUM("refused_ids", G.refused_ids);
    SET_NUM("refused_full", G.refused_full);
    SET_NUM("failed", G.failed);
}

void rt_gwr_queue_close(void)
{
    memset(&G, 0, sizeof G);
}
