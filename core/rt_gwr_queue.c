/* rt_gwr_queue.c -- accepting a message on the Redis store: its record and
 * its queue entry written, the task waiting for Redis' answer before the id
 * is returned (see rt_gwr.h).
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
#include "rt_task.h"

static struct {
    uint64_t accepted, refused_down, refused_ids, failed;
} G;

/* -- Accepting ---------------------------------------------------------------------------- */

/* An accepting task's wait: the answers still to come. */
typedef struct acc_s {
    rt_task_t *t;
    int        left, failed;
    char       err[120];
    char       id[MSGID_KEYED_MAX];
} acc_t;

static void on_accept_reply(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    acc_t *a = ud;
    (void)r;
    (void)reply;
    if (err && !a->failed) {
        a->failed = 1;
        snprintf(a->err, sizeof a->err, "%s", err);
    }
    if (--a->left > 0) return;
    if (a->failed) {
        G.failed++;
        lua_pushnil(a->t->co);
        lua_pushliteral(a->t->co, "full");
        lua_pushfstring(a->t->co, "not stored in Redis: %s", a->err);
        rt_task_wake(a->t, 3);
    } else {
        G.accepted++;
        lua_pushstring(a->t->co, a->id);
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
    char mkey[160], qkey[200], sub[32], rd[32], exp[32], ttl[32];
    const char *argv[24];
    size_t lens[24];
    long long key;
    int n = 0, sent = 0;
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
    rt_gwr_ask_ids();
#define W(s, len) (argv[n] = (s), lens[n] = (len), n++)
#define WS(s) W((s), strlen(s))
#define WV(v) W((v).p ? (v).p : "", (v).p ? (v).n : 0)
    /* the record */
    WS("HSET");
    W(mkey, rt_gwr_key(mkey, sizeof mkey, "m:", a->id, strlen(a->id)));
    WS("account"); WV(m->account);
    WS("upstream"); WV(m->upstream);
    WS("route"); WV(m->route);
    WS("state"); WS("0");
    WS("attempts"); WS("0");
    WS("submitted"); WS(NUM(sub, m->submitted));
    WS("rd"); WS(NUM(rd, m->registered_delivery));
    WS("source"); WV(m->source);
    WS("dest"); WV(m->dest);
    if (!isnan(m->expires)) {
        WS("expires");
        WS(NUM(exp, m->expires));
    }
    if (redis_cmd(r, on_accept_reply, a, n, argv, lens) == 0) sent++;
    /* kept ttl past its validity (or its submission) */
    keep = rt_gwr_conf.ttl + (!isnan(m->expires) && m->expires > m->submitted ? m->expires - m->submitted : 0);
    n = 0;
    WS("EXPIRE");
    W(mkey, strlen(mkey));
    WS(NUM(ttl, ceil(keep)));
    if (sent && redis_cmd(r, on_accept_reply, a, n, argv, lens) == 0) sent++;
    /* the queue entry */
    n = 0;
    WS("XADD");
    W(qkey, rt_gwr_key(qkey, sizeof qkey, "q:", l->name, l->len));
    WS("*");
    WS("id"); WS(a->id);
    WS("pdu"); WV(m->pdu);
    WS("acct"); WV(m->account);
    WS("rd"); WS(rd);
    WS("exp"); WS(isnan(m->expires) ? "" : exp);
    WS("att"); WS("0");
#undef W
#undef WS
#undef WV
    if (sent == 2 && redis_cmd(r, on_accept_reply, a, n, argv, lens) == 0) sent++;
    if (sent == 0) {
        free(a);
        G.refused_down++;
        return refuse(L, "Redis refused the command (link down or too many waiting)");
    }
    /* a command refused after others went: those answer, the last one
     * then reports the failure */
    a->left = sent;
    if (sent < 3) {
        a->failed = 1;
        snprintf(a->err, sizeof a->err, "a command was refused (link down or too many waiting)");
    }
    l->queued_total++;           /* queued counts what this node's forwarder holds (rt_gwr_fwd.c) */
    rt_fwd_wake(l);
    rt_task_wait(t, "redis");
    return lua_yield(L, 0);
}


void rt_gwr_queue_stats(lua_State *L)
{
    SET_NUM("accepted", G.accepted);
    SET_NUM("refused_down", G.refused_down);
    SET_NUM("refused_ids", G.refused_ids);
    SET_NUM("failed", G.failed);
}

void rt_gwr_queue_close(void)
{
    memset(&G, 0, sizeof G);
}
