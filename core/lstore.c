/* lstore.c -- the Lua binding of the SQLite store: `require "smpp.store_sqlite"`
 * gives { open = fn, columns = {...} }; lua/smpp/store.lua is the interface
 * scripts use on top of it. Records are plain tables while Lua holds them.
 * This file: opening, argument helpers, the outbox, early receipts and the
 * store's own methods; the methods on messages are in lstore_msg.c.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lstore.h"
#include "lstore_int.h"

char lstore__cols_key;  /* registry: column name -> index */

/* -- Arguments ----------------------------------------------------------------- */

store_t *lstore__self(lua_State *L)
{
    lstore_box_t *b = luaL_checkudata(L, 1, LSTORE_MT);
    if (!b->s) luaL_error(L, "the store is closed");
    return b->s;
}

store_t *lstore_get(lua_State *L, int idx)
{
    lstore_box_t *b = luaL_testudata(L, idx, LSTORE_MT);
    return b ? b->s : NULL;
}

store_t *const *lstore_handle(lua_State *L, int idx)
{
    lstore_box_t *b = luaL_testudata(L, idx, LSTORE_MT);
    return b ? &b->s : NULL;
}

/* A string argument (numbers are not converted: an id is text). */
store_str_t lstore__str_arg(lua_State *L, int i)
{
    store_str_t v;
    if (lua_type(L, i) != LUA_TSTRING) luaL_typerror(L, i, "string");
    v.p = lua_tolstring(L, i, &v.n);
    return v;
}

store_str_t lstore__opt_str_arg(lua_State *L, int i)
{
    store_str_t v = { NULL, 0 };
    return lua_isnoneornil(L, i) ? v : lstore__str_arg(L, i);
}

/* d as an integer, raising "<what> must be an integer" unless it is one
 * that a double holds exactly (converting others would be undefined). */
long long lstore__whole(lua_State *L, double d, const char *what)
{
    if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) || d != floor(d))
        luaL_error(L, "%s must be an integer", what);
    return (long long)d;
}

/* A count argument: an integer in 0 .. STORE_BATCH_MAX (converting a huge
 * number to int would be undefined). */
int lstore__count_arg(lua_State *L, int i)
{
    double d = luaL_checknumber(L, i);
    if (!(d >= 0 && d <= STORE_BATCH_MAX) || d != floor(d))
        luaL_argerror(L, i, lua_pushfstring(L, "a count 0..%d expected", STORE_BATCH_MAX));
    return (int)d;
}

/* The string field k of the table at t, or NULL. */
store_str_t lstore__str_field(lua_State *L, int t, const char *k, const char *fn)
{
    store_str_t v = { NULL, 0 };
    lua_getfield(L, t, k);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: field '%s' must be a string, got %s", fn, k, luaL_typename(L, -1));
        v.p = lua_tolstring(L, -1, &v.n);       /* the table keeps it alive */
    }
    lua_pop(L, 1);
    return v;
}

double lstore__num_field(lua_State *L, int t, const char *k, double def, const char *fn)
{
    double v = def;
    lua_getfield(L, t, k);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "%s: field '%s' must be a number, got %s", fn, k, luaL_typename(L, -1));
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* The limit field of a query table: 100 when absent. */
int lstore__limit_of(lua_State *L, int t, const char *fn)
{
    double d = lstore__num_field(L, t, "limit", 100, fn);
    if (!(d >= 0 && d <= STORE_BATCH_MAX) || d != floor(d))
        luaL_error(L, "%s: limit must be an integer 0..%d", fn, STORE_BATCH_MAX);
    return (int)d;
}

/* Expected failures: nil, token [, detail]. A caller's mistake raises. */
int lstore__fail(lua_State *L, store_t *s, int rc)
{
    if (rc == STORE_EARG) return luaL_error(L, "%s", store_errmsg(s));
    lua_pushnil(L);
    if (rc == STORE_EIO) {
        lua_pushfstring(L, "io: %s", store_errmsg(s));
        return 2;
    }
    lua_pushstring(L, store_strerror(rc));
    lua_pushstring(L, store_errmsg(s));
    return 3;
}

/* -- Lists ---------------------------------------------------------------------- */

/* A new empty list on the stack, and the accumulator that fills it. */
lstore_acc_t lstore__new_list(lua_State *L)
{
    lstore_acc_t a;
    lua_newtable(L);
    a.L = L;
    a.n = 0;
    a.list = lua_gettop(L);
    return a;
}

/* An outbox item, an early receipt, or what expiry removed of either. */
static int add_item(const store_item_t *it, void *ud, const char *owner, const char *ref)
{
    lstore_acc_t *a = ud;
    lua_State *L = a->L;
    lua_createtable(L, 0, 8);
    if (it->rowid) { lua_pushnumber(L, (lua_Number)it->rowid); lua_setfield(L, -2, "rowid"); }
    if (it->owner.p) { lua_pushlstring(L, it->owner.p, it->owner.n); lua_setfield(L, -2, owner); }
    if (it->ref.p) { lua_pushlstring(L, it->ref.p, it->ref.n); lua_setfield(L, -2, ref); }
    if (it->pdu.p) { lua_pushlstring(L, it->pdu.p, it->pdu.n); lua_setfield(L, -2, "pdu"); }
    if (!isnan(it->due)) { lua_pushnumber(L, it->due); lua_setfield(L, -2, "due"); }
    if (!isnan(it->expires)) { lua_pushnumber(L, it->expires); lua_setfield(L, -2, "expires"); }
    if (!isnan(it->at)) { lua_pushnumber(L, it->at); lua_setfield(L, -2, "at"); }
    if (it->attempts) { lua_pushnumber(L, (lua_Number)it->attempts); lua_setfield(L, -2, "attempts"); }
    lua_rawseti(L, a->list, ++a->n);
    return 0;
}

static int add_outbox(const store_item_t *it, void *ud) { return add_item(it, ud, "account", "ref"); }
static int add_early(const store_item_t *it, void *ud) { return add_item(it, ud, "upstream", "key"); }

/* -- Outbox and early receipts -------------------------------------------------------- */

/* st:outbox_push(account, pdu [, { ref =, due =, expires = }]) -> rowid | nil, err */
static int l_outbox_push(lua_State *L)
{
    store_t *s = lstore__self(L);
    store_str_t account = lstore__str_arg(L, 2), pdu = lstore__str_arg(L, 3), ref = { NULL, 0 };
    double due = NAN, expires = NAN;
    long long rowid;
    if (!lua_isnoneornil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        ref = lstore__str_field(L, 4, "ref", "outbox_push");
        due = lstore__num_field(L, 4, "due", NAN, "outbox_push");
        expires = lstore__num_field(L, 4, "expires", NAN, "outbox_push");
    }
    rowid = store_outbox_push(s, account, pdu, ref, due, expires);
    if (rowid < 0) return lstore__fail(L, s, (int)rowid);
    lua_pushnumber(L, (lua_Number)rowid);
    return 1;
}

/* st:outbox_take(account, n, now [, lease]) -> { item, ... } */
static int l_outbox_take(lua_State *L)
{
    store_t *s = lstore__self(L);
    store_str_t account = lstore__str_arg(L, 2);
    int n = lstore__count_arg(L, 3);
    double now = luaL_checknumber(L, 4);
    double lease = lua_isnoneornil(L, 5) ? NAN : luaL_checknumber(L, 5);
    lstore_acc_t a;
    int rc;
    a = lstore__new_list(L);
    if ((rc = store_outbox_take(s, account, n, now, lease, add_outbox, &a)) < 0) return lstore__fail(L, s, rc);
    return 1;
}

/* st:outbox_ack(rowid) -> true (removed) | false (not there) */
static int l_outbox_ack(lua_State *L)
{
    store_t *s = lstore__self(L);
    int rc = store_outbox_ack(s, lstore__whole(L, luaL_checknumber(L, 2), "outbox_ack: rowid"));
    if (rc < 0) return lstore__fail(L, s, rc);
    lua_pushboolean(L, rc);
    return 1;
}

/* st:outbox_retry(rowid, due) -> true | false */
static int l_outbox_retry(lua_State *L)
{
    store_t *s = lstore__self(L);
    int rc = store_outbox_retry(s, lstore__whole(L, luaL_checknumber(L, 2), "outbox_retry: rowid"),
                                luaL_checknumber(L, 3));
    if (rc < 0) return lstore__fail(L, s, rc);
    lua_pushboolean(L, rc);
    return 1;
}

/* st:outbox_count(account) -> n */
static int l_outbox_count(lua_State *L)
{
    store_t *s = lstore__self(L);
    lua_pushnumber(L, (lua_Number)store_outbox_count(s, lstore__str_arg(L, 2)));
    return 1;
}

/* st:early_put(upstream, key, pdu, expires [, at]) -> true | nil, err */
static int l_early_put(lua_State *L)
{
    store_t *s = lstore__self(L);
    store_str_t up = lstore__str_arg(L, 2), key = lstore__str_arg(L, 3), pdu = lstore__str_arg(L, 4);
    double expires = luaL_checknumber(L, 5);
    double at = lua_isnoneornil(L, 6) ? NAN : luaL_checknumber(L, 6);
    long long rowid = store_early_put(s, up, key, pdu, expires, at);
    if (rowid < 0) return lstore__fail(L, s, (int)rowid);
    lua_pushboolean(L, 1);
    return 1;
}

/* st:early_take(upstream, key [, since]) -> { { pdu =, at =, expires = }, ... }
 * (since: only those that arrived at or after it) */
static int l_early_take(lua_State *L)
{
    store_t *s = lstore__self(L);
    store_str_t up = lstore__str_arg(L, 2), key = lstore__str_arg(L, 3);
    double since = lua_isnoneornil(L, 4) ? NAN : luaL_checknumber(L, 4);
    lstore_acc_t a;
    int rc;
    a = lstore__new_list(L);
    if ((rc = store_early_take(s, up, key, since, add_early, &a)) < 0) return lstore__fail(L, s, rc);
    return 1;
}

/* -- Sticky routes: the parts of one long message ------------------------------------------ */

static void got_sticky(store_str_t route, store_str_t upstream, void *ud)
{
    lua_State *L = ud;
    lua_pushlstring(L, route.p, route.n);
    if (upstream.p) lua_pushlstring(L, upstream.p, upstream.n);
    else lua_pushnil(L);
}

/* st:sticky_put(key, route, upstream, ttl, now) -> true (held) | false
 * (key holds a route already) | nil, err. upstream may be nil. A held
 * route is a hint: callers route without one when this fails. */
static int l_sticky_put(lua_State *L)
{
    store_t *s = lstore__self(L);
    store_str_t key = lstore__str_arg(L, 2), route = lstore__str_arg(L, 3), up = lstore__opt_str_arg(L, 4);
    double ttl = luaL_checknumber(L, 5), now = luaL_checknumber(L, 6);
    int rc;
    if (!(ttl > 0)) luaL_argerror(L, 5, "ttl must be > 0");
    if ((rc = store_sticky_put(s, key, route, up, now + ttl, now)) < 0) return lstore__fail(L, s, rc);
    lua_pushboolean(L, rc);
    return 1;
}

/* st:sticky_get(key, now) -> route, upstream (or nil) | nil | nil, err */
static int l_sticky_get(lua_State *L)
{
    store_t *s = lstore__self(L);
    store_str_t key = lstore__str_arg(L, 2);
    double now = luaL_checknumber(L, 3);
    int rc = store_sticky_get(s, key, now, got_sticky, L);
    if (rc < 0) return lstore__fail(L, s, rc);
    if (rc == 0) {
        lua_pushnil(L);
        return 1;
    }
    return 2;
}

/* -- The store ---------------------------------------------------------------------------- */

/* st:next_id(name) -> n | nil, err */
static int l_next_id(lua_State *L)
{
    store_t *s = lstore__self(L);
    long long v;
    int rc = store_next_id(s, luaL_checkstring(L, 2), &v);
    if (rc < 0) return lstore__fail(L, s, rc);
    lua_pushnumber(L, (lua_Number)v);
    return 1;
}

static int l_node_id(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)store_node_id(lstore__self(L)));
    return 1;
}

/* Expiry's lists: [0] messages not final, [1] outbox items, [2] early. */
static int exp_msg(const store_msg_t *m, void *ud)
{
    lstore_acc_t *a = &((lstore_acc_t *)ud)[0];
    lua_State *L = a->L;
    lua_createtable(L, 0, 5);
    if (m->id.p) {
        lua_pushlstring(L, m->id.p, m->id.n);
        lua_setfield(L, -2, "id");
    }
    lua_pushnumber(L, (lua_Number)m->key);
    lua_setfield(L, -2, "key");
    lua_pushnumber(L, (lua_Number)m->part);
    lua_setfield(L, -2, "part");
    if (m->account.p) {
        lua_pushlstring(L, m->account.p, m->account.n);
        lua_setfield(L, -2, "account");
    }
    lua_pushnumber(L, (lua_Number)m->state);
    lua_setfield(L, -2, "state");
    lua_rawseti(L, a->list, ++a->n);
    return 0;
}
static int exp_outbox(const store_item_t *it, void *ud) { return add_outbox(it, &((lstore_acc_t *)ud)[1]); }
static int exp_early(const store_item_t *it, void *ud) { return add_early(it, &((lstore_acc_t *)ud)[2]); }

/* st:expire(now, batch) -> { messages = n, unfinished = {...}, outbox = {...},
 * early = {...}, sticky = n, more = bool } */
static int l_expire(lua_State *L)
{
    store_t *s = lstore__self(L);
    double now = luaL_checknumber(L, 2);
    int batch = lstore__count_arg(L, 3), rc, k;
    lstore_acc_t e[3];
    store_expiry_t x;
    for (k = 0; k < 3; k++) e[k] = lstore__new_list(L);
    memset(&x, 0, sizeof x);
    x.on_message = exp_msg;
    x.on_outbox = exp_outbox;
    x.on_early = exp_early;
    x.ud = e;
    if ((rc = store_expire(s, now, batch, &x)) < 0) return lstore__fail(L, s, rc);
    lua_createtable(L, 0, 6);
    lua_pushnumber(L, (lua_Number)x.messages);
    lua_setfield(L, -2, "messages");
    lua_pushvalue(L, e[0].list);
    lua_setfield(L, -2, "unfinished");
    lua_pushvalue(L, e[1].list);
    lua_setfield(L, -2, "outbox");
    lua_pushvalue(L, e[2].list);
    lua_setfield(L, -2, "early");
    lua_pushnumber(L, (lua_Number)x.sticky);
    lua_setfield(L, -2, "sticky");
    lua_pushboolean(L, x.more);
    lua_setfield(L, -2, "more");
    return 1;
}

static void level(lua_State *L, const char *name, long long value, long long limit)
{
    lua_createtable(L, 0, 2);
    lua_pushnumber(L, (lua_Number)value);
    lua_setfield(L, -2, "value");
    if (limit > 0) {
        lua_pushnumber(L, (lua_Number)limit);
        lua_setfield(L, -2, "limit");
    }
    lua_setfield(L, -2, name);
}

static void counter(lua_State *L, const char *name, long long value)
{
    lua_pushnumber(L, (lua_Number)value);
    lua_setfield(L, -2, name);
}

/* st:stats() -> { messages = { value =, limit = }, outbox, early, sticky, bytes,
 * sticky_evicted =, commits =, commit_failures =, lost =, evicted =, expired =, txn_writes = } */
static int l_stats(lua_State *L)
{
    store_levels_t v;
    store_levels(lstore__self(L), &v);
    lua_createtable(L, 0, 10);
    level(L, "messages", v.messages, v.max_messages);
    level(L, "outbox", v.outbox, v.max_outbox);
    level(L, "early", v.early, v.max_early);
    level(L, "sticky", v.sticky, v.max_sticky);
    level(L, "bytes", v.bytes, v.max_bytes);
    counter(L, "sticky_evicted", v.sticky_evicted);
    counter(L, "txn_writes", v.txn_writes);
    counter(L, "commits", v.commits);
    counter(L, "commit_failures", v.commit_failures);
    counter(L, "lost", v.lost);
    counter(L, "evicted", v.evicted);
    counter(L, "expired", v.expired);
    return 1;
}

/* st:commit() -> writes committed | nil, "io: ...", writes lost */
static int l_commit(lua_State *L)
{
    store_t *s = lstore__self(L);
    long long lost = 0;
    int rc = store_commit(s, &lost);
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "io: %s", store_errmsg(s));
        lua_pushnumber(L, (lua_Number)lost);
        return 3;
    }
    lua_pushinteger(L, rc);
    return 1;
}

static int l_in_txn(lua_State *L)
{
    lua_pushboolean(L, store_in_txn(lstore__self(L)));
    return 1;
}

/* st:check() -> true | nil, "corrupt: ..." | nil, "io: ..." */
static int l_check(lua_State *L)
{
    store_t *s = lstore__self(L);
    char why[512];
    int rc = store_check(s, why, sizeof why);
    if (rc < 0) return lstore__fail(L, s, rc);
    if (rc > 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "corrupt: %s", why);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* st:close() -> what commit() returns; the store is closed either way. */
static int l_close(lua_State *L)
{
    lstore_box_t *b = luaL_checkudata(L, 1, LSTORE_MT);
    int n;
    if (!b->s) {
        lua_pushinteger(L, 0);
        return 1;
    }
    n = l_commit(L);
    store_close(b->s);
    b->s = NULL;
    return n;
}

/* Collected without close(): as a crash, the open transaction is lost. */
static int l_gc(lua_State *L)
{
    lstore_box_t *b = luaL_checkudata(L, 1, LSTORE_MT);
    store_close(b->s);
    b->s = NULL;
    return 0;
}

static int l_tostring(lua_State *L)
{
    lstore_box_t *b = luaL_checkudata(L, 1, LSTORE_MT);
    lua_pushfstring(L, "smpp.store (sqlite%s)", b->s ? "" : ", closed");
    return 1;
}

static const luaL_Reg methods[] = {
    {"outbox_push", l_outbox_push}, {"outbox_take", l_outbox_take}, {"outbox_ack", l_outbox_ack},
    {"outbox_retry", l_outbox_retry}, {"outbox_count", l_outbox_count},
    {"early_put", l_early_put}, {"early_take", l_early_take},
    {"sticky_put", l_sticky_put}, {"sticky_get", l_sticky_get},
    {"next_id", l_next_id}, {"node_id", l_node_id}, {"expire", l_expire}, {"stats", l_stats},
    {"commit", l_commit}, {"in_txn", l_in_txn}, {"check", l_check}, {"close", l_close},
    {NULL, NULL}
};

/* -- Opening ------------------------------------------------------------------------------ */

static long long limit_field(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "store.open: limits.%s must be a number", k);
    {
        long long v = lstore__whole(L, lua_tonumber(L, -1), k);
        lua_pop(L, 1);
        return v;
    }
}

static double need_num(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "store.open: %s must be a number", k);
    {
        double v = lua_tonumber(L, -1);
        lua_pop(L, 1);
        return v;
    }
}

/* open{ path =, sync =, busy_timeout =, trace_ttl =, lease =, limits = { messages =,
 * outbox =, outbox_per_account =, early =, sticky =, size_mb = }, quick_check =, lock = }
 * -> store | nil, message. Every key but quick_check is required: the
 * defaults are applied by lua/smpp/store.lua from the config schema. */
static int l_open(lua_State *L)
{
    static const char *const syncs[] = { "off", "normal", "full", NULL };
    store_opts_t o;
    char err[1024];
    lstore_box_t *b;
    int lim;
    memset(&o, 0, sizeof o);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "path");
    o.path = luaL_checkstring(L, -1);       /* kept on the stack until open returns */
    lua_getfield(L, 1, "sync");
    o.sync = luaL_checkoption(L, -1, NULL, syncs);
    lua_pop(L, 1);
    o.busy_timeout = need_num(L, 1, "busy_timeout");
    o.trace_ttl = need_num(L, 1, "trace_ttl");
    o.lease = need_num(L, 1, "lease");
    lua_getfield(L, 1, "limits");
    luaL_checktype(L, -1, LUA_TTABLE);
    lim = lua_gettop(L);
    o.max_messages = limit_field(L, lim, "messages");
    o.max_outbox = limit_field(L, lim, "outbox");
    o.max_outbox_account = limit_field(L, lim, "outbox_per_account");
    o.max_early = limit_field(L, lim, "early");
    o.max_sticky = limit_field(L, lim, "sticky");
    o.max_bytes = limit_field(L, lim, "size_mb") * 1024 * 1024;
    lua_pop(L, 1);
    lua_getfield(L, 1, "quick_check");
    o.quick_check = lua_type(L, -1) == LUA_TSTRING ? 2 : lua_toboolean(L, -1);   /* "small": run's */
    lua_pop(L, 1);
    lua_getfield(L, 1, "lock");
    o.lock = lua_toboolean(L, -1);
    lua_pop(L, 1);
    b = lua_newuserdata(L, sizeof *b);
    b->s = NULL;
    luaL_getmetatable(L, LSTORE_MT);
    lua_setmetatable(L, -2);
    if (!(b->s = store_open(&o, err, sizeof err))) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    return 1;
}

int luaopen_smpp_store_sqlite(lua_State *L)
{
    int i;
    lua_pushlightuserdata(L, &lstore__cols_key);
    lua_createtable(L, 0, STORE_NCOLS);
    for (i = 0; i < STORE_NCOLS; i++) {
        lua_pushinteger(L, i);
        lua_setfield(L, -2, store_cols[i].name);
    }
    lua_rawset(L, LUA_REGISTRYINDEX);

    if (luaL_newmetatable(L, LSTORE_MT)) {
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        luaL_setfuncs(L, lstore__msg_methods, 0);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushliteral(L, "locked");
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);

    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, l_open);
    lua_setfield(L, -2, "open");
    lua_createtable(L, STORE_NCOLS, 0);
    for (i = 0; i < STORE_NCOLS; i++) {
        lua_pushstring(L, store_cols[i].name);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "columns");
    return 1;
}
