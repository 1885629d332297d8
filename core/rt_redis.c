/* rt_redis.c -- the runtime's Redis link (core/redis.h) for Lua: open it,
 * send commands from a task, which waits for the answer while the loop
 * serves everyone else (commands of one loop turn leave pipelined in one
 * write), fire-and-forget commands, the link's state and statistics.
 *
 * Who owns what: this file owns the process's one link from
 * core.redis_open until serving ends (rt_redis_close) or core.redis_close.
 * A waiting task is the task core's; the link's callback wakes it exactly
 * once (with the answer, or nil and "closed" when the link goes first).
 */
#include <string.h>

#include "log.h"
#include "redis.h"
#include "rt.h"
#include "rt_redis.h"
#include "rt_task.h"

#define MAX_ARGS 1024

static redis_t *link_;

redis_t *rt_redis(void) { return link_; }

static const char *state_name(int s)
{
    return s == REDIS_UP ? "up" : s == REDIS_CONNECTING ? "connecting" : "down";
}

static const char *refusal(int rc)
{
    return rc == REDIS_E_BUSY ? "busy" : rc == REDIS_E_NOMEM ? "no memory" : "unavailable";
}

/* -- Replies as Lua values ------------------------------------------------------------ */

/* Push reply: a string (status and bulk), a number (integer), a table
 * (array; nil elements become false), nil (nil bulk), or for an error
 * reply false (the caller returns it as nil, text). */
static void push_reply(lua_State *L, const redisReply *r, int depth)
{
    size_t i;
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        lua_pushlstring(L, r->str, r->len);
        break;
    case REDIS_REPLY_INTEGER:
        lua_pushnumber(L, (double)r->integer);
        break;
    case REDIS_REPLY_ARRAY:
        if (depth > 8) {
            lua_pushboolean(L, 0);
            break;
        }
        lua_createtable(L, (int)r->elements, 0);
        for (i = 0; i < r->elements; i++) {
            if (r->element[i]->type == REDIS_REPLY_NIL) lua_pushboolean(L, 0);
            else push_reply(L, r->element[i], depth + 1);
            lua_rawseti(L, -2, (int)i + 1);
        }
        break;
    case REDIS_REPLY_NIL:
        lua_pushnil(L);
        break;
    default:
        lua_pushboolean(L, 0);
    }
}

/* The command's words from the Lua arguments from..top (strings or
 * numbers). Returns the count, or raises. */
static int words(lua_State *L, int from, const char **argv, size_t *lens)
{
    int top = lua_gettop(L), n = 0, i;
    if (top < from) luaL_error(L, "redis: a command is needed");
    if (top - from + 1 > MAX_ARGS) luaL_error(L, "redis: more than %d words in one command", MAX_ARGS);
    for (i = from; i <= top; i++) {
        if (lua_type(L, i) != LUA_TSTRING && lua_type(L, i) != LUA_TNUMBER)
            luaL_error(L, "redis: word %d is a %s, not a string or number", i - from + 1, luaL_typename(L, i));
        argv[n] = lua_tolstring(L, i, &lens[n]);
        n++;
    }
    return n;
}

/* -- Lua ------------------------------------------------------------------------------ */

static void on_task_reply(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    rt_task_t *t = ud;
    (void)r;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        lua_pushnil(t->co);
        lua_pushstring(t->co, err ? err : "closed");
        rt_task_wake(t, 2);
        return;
    }
    push_reply(t->co, reply, 0);
    rt_task_wake(t, 1);
}

/* core.redis(word, ...) -> the answer | nil, error ("unavailable" while
 * the link is down, "busy", "closed", or Redis' error text). Waits. */
static int l_redis(lua_State *L)
{
    const char *argv[MAX_ARGS];
    size_t lens[MAX_ARGS];
    rt_task_t *t = rt_task_current(L, "redis");
    int n = words(L, 1, argv, lens), rc;
    if (!link_) {
        lua_pushnil(L);
        lua_pushliteral(L, "unavailable");
        return 2;
    }
    if ((rc = redis_cmd(link_, on_task_reply, t, n, argv, lens)) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, refusal(rc));
        return 2;
    }
    rt_task_wait(t, "redis");
    return lua_yield(L, 0);
}

static void on_sent(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    (void)r;
    (void)reply;
    (void)ud;
    if (err && strcmp(err, "closed") != 0) log_msg(LOG_WARN, 0, "redis: a command failed: %s", err);
}

/* core.redis_send(word, ...) -> true | nil, error: send without waiting
 * for the answer (an error answer is logged). */
static int l_redis_send(lua_State *L)
{
    const char *argv[MAX_ARGS];
    size_t lens[MAX_ARGS];
    int n = words(L, 1, argv, lens), rc = REDIS_E_DOWN;
    if (!link_ || (rc = redis_cmd(link_, on_sent, NULL, n, argv, lens)) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, refusal(rc));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int state_fn = LUA_NOREF;   /* registry ref: core.redis_open{on_state =} */

static void on_state(redis_t *r, int state, const char *why, void *ud)
{
    rt_task_t *t;
    (void)r;
    (void)ud;
    if (state_fn == LUA_NOREF || !rt.L || !(t = rt_task_new("redis state", NULL))) return;
    lua_rawgeti(rt.L, LUA_REGISTRYINDEX, state_fn);
    lua_pushstring(rt.L, state_name(state));
    if (why) lua_pushstring(rt.L, why);
    else lua_pushnil(rt.L);
    rt_task_start(t, 2);
}

/* core.redis_open{ host =, port =, password =, db =, timeout =,
 * backoff_min =, backoff_max =, max_pending =, on_state = fn(state, why) }:
 * the link starts connecting (on the default loop) and keeps
 * reconnecting until serving ends. on_state runs in a task of its own. */
static int l_redis_open(lua_State *L)
{
    redis_opts_t o;
    luaL_checktype(L, 1, LUA_TTABLE);
    if (link_) return luaL_error(L, "redis_open: the link is open already");
    memset(&o, 0, sizeof o);
    o.host = rt_opt_str(L, 1, "host");
    if (!o.host) return luaL_error(L, "redis_open: host is required");
    o.port = (int)rt_opt_num(L, 1, "port", 6379);
    o.password = rt_opt_str(L, 1, "password");
    o.db = (int)rt_opt_num(L, 1, "db", 0);
    o.timeout = rt_opt_num(L, 1, "timeout", 2);
    o.backoff_min = rt_opt_num(L, 1, "backoff_min", 0.1);
    o.backoff_max = rt_opt_num(L, 1, "backoff_max", 5);
    o.max_pending = (size_t)rt_opt_num(L, 1, "max_pending", 100000);
    lua_getfield(L, 1, "on_state");
    if (lua_isfunction(L, -1)) rt_registry_set(L, &state_fn, -1);
    lua_pop(L, 1);
    if (!(link_ = redis_new(rt.loop ? rt.loop : uv_default_loop(), &o, on_state, NULL)))
        return luaL_error(L, "out of memory");
    lua_pushboolean(L, 1);
    return 1;
}

void rt_redis_close(void)
{
    redis_t *r = link_;
    link_ = NULL;
    redis_free(r);                       /* pending bucket requests are answered "closed" first */
    rt_cluster_close();
    if (!r) return;
    if (state_fn != LUA_NOREF && rt.L) luaL_unref(rt.L, LUA_REGISTRYINDEX, state_fn);
    state_fn = LUA_NOREF;
}

static int l_redis_close(lua_State *L)
{
    (void)L;
    rt_redis_close();
    return 0;
}

/* core.redis_stats() -> { state, commands, round_trips (pipelined
 * writes), replies, errors, refused, connects, disconnects, pending,
 * down_s, last_error } or nil when no link
 * is open. */
static int l_redis_stats(lua_State *L)
{
    redis_stats_t st;
    if (!link_) return 0;
    redis_stats(link_, &st);
    lua_createtable(L, 0, 10);
    lua_pushstring(L, state_name(st.state));
    lua_setfield(L, -2, "state");
#define F(name) lua_pushnumber(L, (double)st.name), lua_setfield(L, -2, #name)
    F(commands);
    F(replies);
    F(errors);
    F(refused);
    F(connects);
    F(disconnects);
    F(pending);
#undef F
    lua_pushnumber(L, (double)st.flushes);
    lua_setfield(L, -2, "round_trips");
    lua_pushnumber(L, st.state == REDIS_UP ? 0 : (double)uv_now(rt.loop ? rt.loop : uv_default_loop()) / 1000.0
                                                   - st.down_since);
    lua_setfield(L, -2, "down_s");
    lua_pushstring(L, st.last_error);
    lua_setfield(L, -2, "last_error");
    return 1;
}

/* core.redis_state() -> "up" | "connecting" | "down" ("down" without a link). */
static int l_redis_state(lua_State *L)
{
    lua_pushstring(L, state_name(link_ ? redis_state(link_) : REDIS_DOWN));
    return 1;
}

const luaL_Reg rt_redis_lib[] = {
    {"redis_open", l_redis_open},
    {"redis_close", l_redis_close},
    {"redis", l_redis},
    {"redis_send", l_redis_send},
    {"redis_stats", l_redis_stats},
    {"redis_state", l_redis_state},
    {NULL, NULL}
};
