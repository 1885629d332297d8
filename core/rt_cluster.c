/* rt_cluster.c -- account throughput across the nodes of a cluster: the
 * token bucket of an account lives in Redis (a hash refilled by a script
 * from Redis' own clock), and each node takes tokens from it in batches
 * into a local bucket that its sessions draw from as they do from
 * core.throttle's. One round trip per batch, never per message.
 *
 * A local bucket never refills by itself: a timer asks Redis for a batch
 * (about 1/20 s of the rate) whenever the bucket holds less than a batch
 * and no request is under way, so a node keeps up to two batches ahead. While Redis is unreachable nothing is granted
 * and the account's submits are throttled (ESME_RTHROTTLED): the limit is
 * never exceeded, at the cost of refusing. Tokens a node took and did not
 * use (at most two batches per node) are lost to the cluster.
 *
 * The same buckets hold an upstream's throughput across the nodes that
 * forward to it (rt_cluster_bucket, from the Redis store's forwarders).
 *
 * Who owns what: this file owns the buckets (for the life of serving,
 * sessions and forwarders only point at them) and the script's text; the link is
 * rt_redis.c's.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net.h"
#include "rt.h"
#include "rt_redis.h"

#define TICK_MS   25            /* how often the buckets are looked at */
#define BATCH_S   0.05          /* a batch: this many seconds of the rate */

typedef struct cbucket_s {
    char      key[160];         /* the Redis key of the account's bucket */
    tb_t      tb;               /* what this node holds; drawn from by the sessions */
    double    rate, burst;      /* the account's limit, given to the script */
    int       asking;           /* a request is under way */
    uint64_t  asks, granted, denied;
    struct cbucket_s *next;
} cbucket_t;

static struct {
    cbucket_t *list;
    uv_timer_t tick;
    int        tick_on;
    char      *body, sha[41];   /* the script (EVALSHA, or EVAL after NOSCRIPT) */
    size_t     body_len;
    int        use_eval;
} C;

static double batch_of(const cbucket_t *b)
{
    double n = ceil(b->rate * BATCH_S);
    return n < 1 ? 1 : n;
}

/* A local bucket: no refill of its own (a rate no clock makes a token
 * of), room for any batch, empty until Redis grants. */
static void local_init(cbucket_t *b)
{
    tb_init(&b->tb, 1e-12, 1e12, rt.loop ? uv_now(rt.loop) : 0);
    b->tb.tokens = 0;
}

static void on_granted(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    cbucket_t *b = ud;
    (void)r;
    b->asking = 0;
    if (err) {
        if (strncmp(err, "NOSCRIPT", 8) == 0) C.use_eval = 1;   /* Redis restarted: send the text */
        else if (strcmp(err, "closed") != 0) log_msg(LOG_WARN, 0, "cluster: throughput of %s: %s", b->key, err);
        return;
    }
    if (reply && reply->type == REDIS_REPLY_INTEGER) {
        if (reply->integer > 0) {
            b->tb.tokens += (double)reply->integer;
            b->granted += (uint64_t)reply->integer;
        } else {
            b->denied++;
        }
    }
}

static void ask(cbucket_t *b)
{
    char rate[32], burst[32], want[32];
    const char *argv[7];
    size_t lens[7];
    redis_t *r = rt_redis();
    int i;
    if (!r || redis_state(r) != REDIS_UP || !C.body) return;
    snprintf(rate, sizeof rate, "%.17g", b->rate);
    snprintf(burst, sizeof burst, "%.17g", b->burst);
    snprintf(want, sizeof want, "%.0f", batch_of(b));
    argv[0] = C.use_eval ? "EVAL" : "EVALSHA";
    argv[1] = C.use_eval ? C.body : C.sha;
    argv[2] = "1";
    argv[3] = b->key;
    argv[4] = rate;
    argv[5] = burst;
    argv[6] = want;
    for (i = 0; i < 7; i++) lens[i] = strlen(argv[i]);
    if (C.use_eval) lens[1] = C.body_len;
    if (redis_cmd(r, on_granted, b, 7, argv, lens) == 0) {
        b->asking = 1;
        b->asks++;
        C.use_eval = 0;                  /* EVAL loaded it again */
    }
}

static void on_tick(uv_timer_t *t)
{
    cbucket_t *b;
    (void)t;
    for (b = C.list; b; b = b->next)
        if (!b->asking && b->tb.tokens < batch_of(b)) ask(b);
}

/* -- Lua ------------------------------------------------------------------------------ */

/* core.cluster_script(sha1, text): the bucket script (lua/smpp/cluster.lua
 * holds its text and loads it). */
static int l_cluster_script(lua_State *L)
{
    size_t n, len;
    const char *sha = luaL_checklstring(L, 1, &n), *body = luaL_checklstring(L, 2, &len);
    char *copy;
    if (n != 40) return luaL_error(L, "cluster_script: a SHA1 in hex is 40 characters");
    if (!(copy = malloc(len + 1))) return luaL_error(L, "out of memory");
    memcpy(copy, body, len + 1);
    free(C.body);
    C.body = copy;
    C.body_len = len;
    memcpy(C.sha, sha, 41);
    return 0;
}

/* The bucket key, made the first time (empty until Redis grants), its
 * rate and burst set; the tick started; a batch asked for when it holds
 * less. NULL without memory. */
static cbucket_t *bucket(const char *key, double rate, double burst)
{
    cbucket_t *b;
    if (burst <= 0) burst = rate > 1 ? rate : 1;
    for (b = C.list; b && strcmp(b->key, key) != 0; b = b->next) {}
    if (!b) {
        if (!(b = calloc(1, sizeof *b))) return NULL;
        snprintf(b->key, sizeof b->key, "%s", key);
        local_init(b);
        b->next = C.list;
        C.list = b;
    }
    b->rate = rate;
    b->burst = burst;
    if (!C.tick_on && rt.loop) {
        uv_timer_init(rt.loop, &C.tick);
        uv_timer_start(&C.tick, on_tick, TICK_MS, TICK_MS);
        uv_unref((uv_handle_t *)&C.tick);
        C.tick_on = 1;
    }
    if (!b->asking && b->tb.tokens < batch_of(b)) ask(b);
    return b;
}

tb_t *rt_cluster_bucket(const char *key, double rate, double burst)
{
    cbucket_t *b;
    if (strlen(key) >= sizeof b->key || rate <= 0) return NULL;
    b = bucket(key, rate, burst);
    return b ? &b->tb : NULL;
}

/* core.cluster_throttle(session, key, rate, burst [, granted]): the
 * session's submit_sm, submit_multi and data_sm draw from the cluster's
 * bucket `key` (a Redis key), rate per second, holding at most burst;
 * granted: tokens the caller took from it already (the bind's first
 * batch, so that the first submit does not find the bucket empty). */
static int l_cluster_throttle(lua_State *L)
{
    uint64_t id;
    sess_t *s;
    const char *key = luaL_checkstring(L, 2);
    double rate = luaL_checknumber(L, 3), burst = luaL_optnumber(L, 4, 0);
    cbucket_t *b;
    if (lua_istable(L, 1)) {
        lua_getfield(L, 1, "id");
        id = (uint64_t)luaL_checknumber(L, -1);
        lua_pop(L, 1);
    } else {
        id = (uint64_t)luaL_checknumber(L, 1);
    }
    if (strlen(key) >= sizeof C.list->key) return luaL_error(L, "cluster_throttle: key too long");
    if (!(s = rt.net ? net_find(rt.net, id) : NULL)) return 0;
    if (rate <= 0) {
        sess_set_throttle(s, NULL);
        return 0;
    }
    if (!(b = bucket(key, rate, burst))) return luaL_error(L, "out of memory");
    if (lua_isnumber(L, 5) && lua_tonumber(L, 5) > 0) {
        b->tb.tokens += lua_tonumber(L, 5);
        b->granted += (uint64_t)lua_tonumber(L, 5);
    }
    sess_set_throttle(s, &b->tb);
    return 0;
}

/* core.cluster_held(key) -> the tokens this node holds of bucket key, or
 * nil when it has no such bucket. */
static int l_cluster_held(lua_State *L)
{
    const char *key = luaL_checkstring(L, 1);
    cbucket_t *b;
    for (b = C.list; b && strcmp(b->key, key) != 0; b = b->next) {}
    if (!b) return 0;
    lua_pushnumber(L, floor(b->tb.tokens));
    return 1;
}

/* core.cluster_stats() -> { [key] = { rate, burst, held, asks, granted,
 * denied } } */
static int l_cluster_stats(lua_State *L)
{
    cbucket_t *b;
    lua_newtable(L);
    for (b = C.list; b; b = b->next) {
        lua_createtable(L, 0, 6);
        lua_pushnumber(L, b->rate);
        lua_setfield(L, -2, "rate");
        lua_pushnumber(L, b->burst);
        lua_setfield(L, -2, "burst");
        lua_pushnumber(L, floor(b->tb.tokens));
        lua_setfield(L, -2, "held");
        lua_pushnumber(L, (double)b->asks);
        lua_setfield(L, -2, "asks");
        lua_pushnumber(L, (double)b->granted);
        lua_setfield(L, -2, "granted");
        lua_pushnumber(L, (double)b->denied);
        lua_setfield(L, -2, "denied");
        lua_setfield(L, -2, b->key);
    }
    return 1;
}

void rt_cluster_close(void)
{
    cbucket_t *b;
    if (C.tick_on) {
        uv_close((uv_handle_t *)&C.tick, NULL);
        C.tick_on = 0;
    }
    while ((b = C.list) != NULL) {        /* no session is left to point at one */
        C.list = b->next;
        free(b);
    }
}

const luaL_Reg rt_cluster_lib[] = {
    {"cluster_script", l_cluster_script},
    {"cluster_throttle", l_cluster_throttle},
    {"cluster_held", l_cluster_held},
    {"cluster_stats", l_cluster_stats},
    {NULL, NULL}
};
