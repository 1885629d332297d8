/* rt_gwr_queue.c -- accepting a message on the Redis store: its record and
 * its queue entry written by one script call (which refuses it when the
 * upstream's queue holds max_queue messages across the cluster), the task
 * waiting for Redis' answer before the id is returned (see rt_gwr.h).
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
    uint64_t accepted, refused_down, refused_ids, refused_full, failed;
} G;

/* -- Accepting ---------------------------------------------------------------------------- */

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
    char mkey[RT_GWR_KEY_MAX], qkey[RT_GWR_KEY_MAX], sub[32], rd[32], exp[32], ttl[32], maxq[32];
    const char *argv[32];
    size_t lens[32];
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
    /* the record's fields */
    WS("account"); WV(m->account);
    WS("upstream"); WV(m->upstream);
    WS("route"); WV(m->route);
    WS("state"); WS("0");
    WS("attempts"); WS("0");
    WS("submitted"); WS(NUM(sub, m->submitted));
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
#undef W
#undef WS
#undef WV
    if (rt_gwr_eval(RT_GWR_ACCEPT, on_accepted, a, 2, n, argv, lens) != 0) {
        free(a);
        G.refused_down++;
        return refuse(L, "Redis refused the command (link down or too many waiting)");
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
    SET_NUM("refused_full", G.refused_full);
    SET_NUM("failed", G.failed);
}

void rt_gwr_queue_close(void)
{
    memset(&G, 0, sizeof G);
}
