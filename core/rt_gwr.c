/* rt_gwr.c -- the gateway's messages in Redis: settings, node id and id
 * blocks, the timer that keeps the forwarders and deliverers polling, and
 * core.gwr_start / core.gwr_stats / core.gwr_rx_key (see rt_gwr.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "log.h"
#include "rt.h"
#include "rt_gwr.h"
#include "rt_redis.h"
#include "rt_store.h"

#define ID_BLOCK   1000         /* keys taken from P{c}ids at a time */
#define TICK_MS    50           /* forwarders poll their streams this often */
#define RX_EVERY   4            /* ... and the accounts' deliverers every 4th tick (200 ms) */
#define SAMPLE_EVERY 20         /* the queues' lengths are read once a second */

rt_gwr_conf_t rt_gwr_conf;

static struct {
    long long  next, end;       /* the id block: keys next .. end - 1 are ours */
    long long  spare_next, spare_end;   /* the next block, taken ahead */
    int        asking_block, asking_node;
    long long  fixed_node;      /* cluster.node_id, 0: INCR */
    char       epoch[40];       /* the token of Redis' data this process joined ("": none yet) */
    long long  least_node, least_key;   /* the counters' least values at the next join (after a loss) */
    int        checking;
    uint64_t   checked_connects;   /* the link's connects count at the last check */
    int        tick_on;
    unsigned   ticks;
} G;

/* The poll timer lives outside G: rt_gwr_close clears G while the timer's
 * close is still under way, and libuv owns the handle until its close
 * callback (clearing it there aborted every stop). */
static uv_timer_t tick_;

/* -- Keys ------------------------------------------------------------------------------ */

static size_t key_of(char *buf, size_t cap, int n)
{
    return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

/* Every key names its hash tag: a message's keys and its upstream's queue
 * go together under {u:<upstream>}, an account's stream under
 * {a:<account>}, the counters under {c}; each script then touches one
 * slot of a Redis Cluster. */
size_t rt_gwr_key_msg(char *buf, size_t cap, const char *up, size_t upn, const char *id, size_t idn)
{
    return key_of(buf, cap, snprintf(buf, cap, "%s{u:%.*s}m:%.*s", rt_gwr_conf.prefix, (int)upn, up, (int)idn, id));
}

size_t rt_gwr_key_queue(char *buf, size_t cap, const char *up, size_t upn)
{
    return key_of(buf, cap, snprintf(buf, cap, "%s{u:%.*s}q", rt_gwr_conf.prefix, (int)upn, up));
}

size_t rt_gwr_key_map(char *buf, size_t cap, const char *up, size_t upn, const char *key, size_t kn)
{
    return key_of(buf, cap, snprintf(buf, cap, "%s{u:%.*s}k:%.*s", rt_gwr_conf.prefix, (int)upn, up, (int)kn, key));
}

size_t rt_gwr_key_early(char *buf, size_t cap, const char *up, size_t upn, const char *key, size_t kn)
{
    return key_of(buf, cap, snprintf(buf, cap, "%s{u:%.*s}e:%.*s", rt_gwr_conf.prefix, (int)upn, up, (int)kn, key));
}

size_t rt_gwr_key_pending(char *buf, size_t cap, const char *up, size_t upn)
{
    return key_of(buf, cap, snprintf(buf, cap, "%s{u:%.*s}p", rt_gwr_conf.prefix, (int)upn, up));
}

static size_t key_rx(char *buf, size_t cap, const char *prefix, const char *acct, size_t an)
{
    return key_of(buf, cap, snprintf(buf, cap, "%s{a:%.*s}r", prefix, (int)an, acct));
}

size_t rt_gwr_key_rx(char *buf, size_t cap, const char *acct, size_t an)
{
    return key_rx(buf, cap, rt_gwr_conf.prefix, acct, an);
}

size_t rt_gwr_key_counter(char *buf, size_t cap, const char *name)
{
    return key_of(buf, cap, snprintf(buf, cap, "%s{c}%s", rt_gwr_conf.prefix, name));
}

size_t rt_gwr_key_bucket(char *buf, size_t cap, const char *up, size_t upn)
{
    return key_of(buf, cap, snprintf(buf, cap, "%s{u:%.*s}tb", rt_gwr_conf.prefix, (int)upn, up));
}

size_t rt_gwr_key_live(char *buf, size_t cap, const char *up, size_t upn)
{
    return key_of(buf, cap, snprintf(buf, cap, "%s{u:%.*s}live", rt_gwr_conf.prefix, (int)upn, up));
}

int rt_gwr_read_group(redis_t *r, redis_reply_fn fn, void *ud, const char *group, const char *key, size_t count)
{
    char n[24];
    const char *argv[9] = { "XREADGROUP", "GROUP", group, rt_gwr_conf.consumer, "COUNT", n, "STREAMS", key, ">" };
    size_t lens[9];
    int i;
    snprintf(n, sizeof n, "%zu", count);
    for (i = 0; i < 9; i++) lens[i] = strlen(argv[i]);
    return redis_cmd(r, fn, ud, 9, argv, lens);
}

int rt_gwr_make_group(redis_t *r, redis_reply_fn fn, void *ud, const char *group, const char *key, size_t klen)
{
    const char *argv[6] = {"XGROUP", "CREATE", key, group, "0", "MKSTREAM"};
    size_t lens[6] = {6, 6, klen, strlen(group), 1, 8};
    return redis_cmd(r, fn, ud, 6, argv, lens);
}

int rt_gwr_autoclaim(redis_t *r, redis_reply_fn fn, void *ud, const char *group, const char *key,
                     const char *cursor)
{
    char idle[32], count[16];
    const char *argv[8] = {"XAUTOCLAIM", key, group, rt_gwr_conf.consumer, idle, cursor, "COUNT", count};
    size_t lens[8];
    int i;
    snprintf(idle, sizeof idle, "%.0f", rt_gwr_conf.claim_after * 1000);
    snprintf(count, sizeof count, "%d", RT_GWR_CLAIM_MAX);
    for (i = 0; i < 8; i++) lens[i] = strlen(argv[i]);
    return redis_cmd(r, fn, ud, 8, argv, lens);
}

int rt_gwr_touch(redis_t *r, const char *group, const char *key, size_t klen, const char *const *ids, int n)
{
    const char *argv[RT_GWR_TOUCH_MAX + 6];
    size_t lens[RT_GWR_TOUCH_MAX + 6];
    int i, c = 0;
    if (n > RT_GWR_TOUCH_MAX) n = RT_GWR_TOUCH_MAX;
    argv[c] = "XCLAIM", lens[c++] = 6;
    argv[c] = key, lens[c++] = klen;
    argv[c] = group, lens[c++] = strlen(group);
    argv[c] = rt_gwr_conf.consumer, lens[c++] = strlen(rt_gwr_conf.consumer);
    argv[c] = "0", lens[c++] = 1;
    for (i = 0; i < n; i++) argv[c] = ids[i], lens[c++] = strlen(ids[i]);
    argv[c] = "JUSTID", lens[c++] = 6;
    return redis_cmd(r, rt_gwr_logged, NULL, c, argv, lens);
}

/* The callback of a write whose answer nothing waits for: a failure is
 * logged (a link that closed says so once, elsewhere). */
void rt_gwr_logged(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    (void)r;
    (void)reply;
    (void)ud;
    if (err && strcmp(err, "closed") != 0) log_msg(LOG_WARN, 0, "cluster store: a write failed: %s", err);
}

size_t rt_gwr_stamp(char *buf, size_t cap, const char *line)
{
    char stamp[STORE_STAMP_MAX];
    size_t n = store_stamp(stamp, rt_time());
    return key_of(buf, cap, snprintf(buf, cap, "%.*s%s\n", (int)n, stamp, line));
}

/* -- Node id and id blocks --------------------------------------------------------------- */

static void on_join(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    const redisReply *e, *n;
    (void)r;
    (void)ud;
    G.asking_node = 0;
    if (err || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) {
        if (err && strcmp(err, "closed") != 0) log_msg(LOG_WARN, 0, "cluster store: joining Redis' data: %s", err);
        return;
    }
    e = reply->element[0];
    n = reply->element[1];
    if (e->type != REDIS_REPLY_STRING || n->type != REDIS_REPLY_INTEGER || e->len >= sizeof G.epoch) return;
    memcpy(G.epoch, e->str, e->len);
    G.epoch[e->len] = '\0';
    G.least_node = G.least_key = 0;
    if (!G.fixed_node && n->integer > 0) {
        rt_gwr_conf.node_id = (long long)((unsigned long long)n->integer % 4294967295ULL) + 1;
        snprintf(rt_gwr_conf.consumer, sizeof rt_gwr_conf.consumer, "n%lld", rt_gwr_conf.node_id);
        log_msg(LOG_INFO, 0, "cluster store: node id %lld (consumer %s)", rt_gwr_conf.node_id, rt_gwr_conf.consumer);
    }
    rt_gwr_ask_ids();                /* the first block, now that the counters are raised */
}

static void on_block(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    (void)r;
    (void)ud;
    G.asking_block = 0;
    if (err || !reply || reply->type != REDIS_REPLY_INTEGER || !G.epoch[0]) return;   /* none asked before a loss */
    G.spare_end = reply->integer + 1;
    G.spare_next = G.spare_end - ID_BLOCK;
    if (G.next >= G.end) {
        G.next = G.spare_next;
        G.end = G.spare_end;
        G.spare_next = G.spare_end = 0;
    }
}

/* The join: the epoch token (a new one, should Redis have none), this
 * process's node id unless cluster.node_id gives it, the counters raised
 * to what it held before a loss. */
static void join(void)
{
    unsigned char raw[16];
    char token[33], nodes[24], least_node[24], least_key[24], epoch[128], kn[128], ki[128];
    const char *argv[7];
    size_t lens[7];
    int i;
    if (RAND_bytes(raw, sizeof raw) != 1) return;
    for (i = 0; i < (int)sizeof raw; i++) snprintf(token + 2 * i, 3, "%02x", raw[i]);
    snprintf(nodes, sizeof nodes, "%s", G.fixed_node ? "" : "1");
    snprintf(least_node, sizeof least_node, "%lld", G.least_node);
    snprintf(least_key, sizeof least_key, "%lld", G.least_key);
    argv[0] = epoch, lens[0] = rt_gwr_key_counter(epoch, sizeof epoch, "epoch");
    argv[1] = kn, lens[1] = rt_gwr_key_counter(kn, sizeof kn, "nodes");
    argv[2] = ki, lens[2] = rt_gwr_key_counter(ki, sizeof ki, "ids");
    argv[3] = token, lens[3] = strlen(token);
    argv[4] = nodes, lens[4] = strlen(nodes);
    argv[5] = least_node, lens[5] = strlen(least_node);
    argv[6] = least_key, lens[6] = strlen(least_key);
    if (rt_gwr_eval(RT_GWR_JOIN, on_join, NULL, 3, 7, argv, lens) == 0) G.asking_node = 1;
}

/* Ask for what is missing: the join (epoch and node id), the next id
 * block once half the current one is used. */
void rt_gwr_ask_ids(void)
{
    redis_t *r = rt_redis();
    char key[128];
    const char *argv[3];
    size_t lens[3];
    if (!r || redis_state(r) != REDIS_UP) return;
    if (!G.epoch[0]) {
        if (!G.asking_node) join();
        return;
    }
    if (!G.asking_block && G.spare_end == 0 && G.end - G.next < ID_BLOCK / 2) {
        argv[0] = "INCRBY";
        argv[1] = key;
        argv[2] = "1000";
        lens[0] = 6;
        lens[1] = rt_gwr_key_counter(key, sizeof key, "ids");
        lens[2] = 4;
        if (redis_cmd(r, on_block, NULL, 3, argv, lens) == 0) G.asking_block = 1;
    }
}

/* -- Redis lost its data ------------------------------------------------------------------ */

/* The check's answer: [epoch, nodes, ids]. A token that is not ours, or a
 * counter below what Redis gave this process, means Redis lost its data
 * (FLUSHALL, a restart without its file, an older file): a process that
 * started since may hold this node id and keys of this block. The node id
 * (unless cluster.node_id) and the blocks are dropped and taken again,
 * the counters raised first to what this process held. */
static void on_check(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    const redisReply *e;
    long long nodes, ids, top = (G.spare_end > G.end ? G.spare_end : G.end) - 1;
    const char *why = NULL;
    (void)r;
    (void)ud;
    G.checking = 0;
    if (err || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 || !G.epoch[0]) return;
    e = reply->element[0];
    nodes = reply->element[1]->type == REDIS_REPLY_STRING ? strtoll(reply->element[1]->str, NULL, 10) : 0;
    ids = reply->element[2]->type == REDIS_REPLY_STRING ? strtoll(reply->element[2]->str, NULL, 10) : 0;
    if (e->type != REDIS_REPLY_STRING || e->len != strlen(G.epoch) || memcmp(e->str, G.epoch, e->len) != 0)
        why = "its epoch token is gone";
    else if (!G.fixed_node && rt_gwr_conf.node_id > 0 && nodes < rt_gwr_conf.node_id - 1)
        why = "its node counter went back";
    else if (top > 0 && ids < top)
        why = "its id counter went back";
    if (!why) return;
    log_msg(LOG_WARN, 0, "cluster store: Redis lost its data (%s): this node takes a new node id and id block "
            "(it was node %lld, keys up to %lld); ids made before the loss may be made again by others",
            why, rt_gwr_conf.node_id, top > 0 ? top : 0);
    G.least_node = G.fixed_node ? 0 : rt_gwr_conf.node_id - 1;
    G.least_key = top > 0 ? top : 0;
    G.epoch[0] = '\0';
    if (!G.fixed_node) {
        rt_gwr_conf.node_id = 0;
        rt_gwr_conf.consumer[0] = '\0';
    }
    G.next = G.end = G.spare_next = G.spare_end = 0;
    rt_gwr_ask_ids();
}

/* Once a second, and when the link has come up again: does Redis still
 * have the data this process joined? (MGET of the epoch and the
 * counters: one slot.) */
static void check(void)
{
    redis_t *r = rt_redis();
    redis_stats_t st;
    char k[3][128];
    const char *argv[4] = { "MGET", k[0], k[1], k[2] };
    size_t lens[4] = { 4, 0, 0, 0 };
    if (!r || redis_state(r) != REDIS_UP || !G.epoch[0] || G.checking || G.asking_node) return;
    redis_stats(r, &st);
    G.checked_connects = st.connects;
    lens[1] = rt_gwr_key_counter(k[0], sizeof k[0], "epoch");
    lens[2] = rt_gwr_key_counter(k[1], sizeof k[1], "nodes");
    lens[3] = rt_gwr_key_counter(k[2], sizeof k[2], "ids");
    if (redis_cmd(r, on_check, NULL, 4, argv, lens) == 0) G.checking = 1;
}

static int reconnected(void)
{
    redis_t *r = rt_redis();
    redis_stats_t st;
    if (!r) return 0;
    redis_stats(r, &st);
    return st.connects != G.checked_connects;
}

/* The next key, or 0 while none is at hand (Redis has not answered yet). */
long long rt_gwr_take_key(void)
{
    if (G.next >= G.end && G.spare_end) {
        G.next = G.spare_next;
        G.end = G.spare_end;
        G.spare_next = G.spare_end = 0;
    }
    if (G.next >= G.end) return 0;
    return G.next++;
}

/* -- The tick: forwarders poll, ids are asked for ---------------------------------------------- */

static void wake_receiving(rt_acct_t *a, void *arg)
{
    (void)arg;
    if (a->nrx && rt_acct_free_slots(a)) rt_acct_wake(a);
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
    rt_gwr_ask_ids();
    if (G.ticks % SAMPLE_EVERY == 0 || reconnected()) check();
    rt_gwr_fwd_tick(G.ticks % SAMPLE_EVERY == 0);
    /* receipts appended on this node wake its receivers at once; those of
     * other nodes are looked for less often (one read per account and
     * RX_EVERY ticks: idle accounts cost Redis little) */
    if (++G.ticks % RX_EVERY == 0) rt_acct_foreach(wake_receiving, NULL);
}

/* -- Lua ----------------------------------------------------------------------------------- */

/* core.gwr_start{ prefix =, claim_after =, ttl =, node_id = }: the gateway's
 * messages go to Redis from now on (the link is core.redis_open's). */
static int l_gwr_start(lua_State *L)
{
    const char *prefix;
    luaL_checktype(L, 1, LUA_TTABLE);
    prefix = rt_opt_str(L, 1, "prefix");
    snprintf(rt_gwr_conf.prefix, sizeof rt_gwr_conf.prefix, "%s", prefix ? prefix : "smppgw:");
    rt_gwr_conf.claim_after = rt_opt_num(L, 1, "claim_after", 30);
    rt_gwr_conf.ttl = rt_opt_num(L, 1, "ttl", 86400);
    G.fixed_node = (long long)rt_opt_num(L, 1, "node_id", 0);
    if (G.fixed_node > 0 && !rt_gwr_conf.node_id) {
        rt_gwr_conf.node_id = G.fixed_node;
        snprintf(rt_gwr_conf.consumer, sizeof rt_gwr_conf.consumer, "n%lld", rt_gwr_conf.node_id);
    }
    rt_gwr_conf.on = 1;
    rt_gwr_ask_ids();             /* when the link is up already; else on its way up (rt_redis.c) */
    if (!G.tick_on && rt.loop && uv_timer_init(rt.loop, &tick_) == 0) {
        G.tick_on = 1;
        uv_unref((uv_handle_t *)&tick_);
        uv_timer_start(&tick_, on_tick, TICK_MS, TICK_MS);
    }
    return 0;
}


/* core.gwr_stats() -> nil when off, else { node_id =, consumer =, accepted =,
 * refused_down =, refused_ids =, failed =, ids_left =, forwarders... } */
static int l_gwr_stats(lua_State *L)
{
    if (!rt_gwr_conf.on) return 0;
    lua_createtable(L, 0, 16);
    SET_NUM("node_id", rt_gwr_conf.node_id);
    rt_set_str(L, "consumer", rt_gwr_conf.consumer);
    rt_gwr_queue_stats(L);
    SET_NUM("ids_left", (G.end - G.next) + (G.spare_end - G.spare_next));
    SET_NUM("claim_after", rt_gwr_conf.claim_after);
    rt_gwr_fwd_stats(L);
    rt_gwr_rcpt_stats(L);
    rt_gwr_rx_stats(L);
    return 1;
}

/* core.gwr_rx_key(account [, prefix]) -> the key of the account's stream
 * of receipts and MO (rt_gwr_key_rx), for smpp.store's outbox_count on
 * Redis. prefix: the keys' (default: gwr_start's, else "smppgw:"), cut as
 * gwr_start cuts it. */
static int l_gwr_rx_key(lua_State *L)
{
    size_t an;
    const char *acct = luaL_checklstring(L, 1, &an);
    const char *p = luaL_optstring(L, 2, rt_gwr_conf.on ? rt_gwr_conf.prefix : "smppgw:");
    char prefix[sizeof rt_gwr_conf.prefix], key[RT_GWR_KEY_MAX];
    snprintf(prefix, sizeof prefix, "%s", p);
    lua_pushlstring(L, key, key_rx(key, sizeof key, prefix, acct, an));
    return 1;
}

const luaL_Reg rt_gwr_lib[] = {
    {"gwr_start", l_gwr_start},
    {"gwr_stats", l_gwr_stats},
    {"gwr_get", rt_gwr_get},
    {"gwr_rx_key", l_gwr_rx_key},
    {NULL, NULL}
};

void rt_gwr_close(void)
{
    if (G.tick_on) {
        G.tick_on = 0;
        uv_close((uv_handle_t *)&tick_, NULL);
    }
    rt_gwr_fwd_close();
    rt_gwr_rx_close();
    rt_gwr_queue_close();
    memset(&G, 0, sizeof G);
    memset(&rt_gwr_conf, 0, sizeof rt_gwr_conf);
}
