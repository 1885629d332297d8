/* lstore.c -- the Lua binding of the SQLite store: `require "smpp.store_sqlite"`
 * gives { open = fn, columns = {...} }; lua/smpp/store.lua is the interface
 * scripts use on top of it. Records are plain tables while Lua holds them.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lstore.h"
#include "store.h"

#define MT "smpp.store_sqlite"

typedef struct box_s {
    store_t *s;         /* NULL once closed */
} box_t;

static char cols_key;   /* registry: column name -> index */

/* -- Arguments ----------------------------------------------------------------- */

static store_t *self(lua_State *L)
{
    box_t *b = luaL_checkudata(L, 1, MT);
    if (!b->s) luaL_error(L, "the store is closed");
    return b->s;
}

store_t *lstore_get(lua_State *L, int idx)
{
    box_t *b = luaL_testudata(L, idx, MT);
    return b ? b->s : NULL;
}

/* A string argument (numbers are not converted: an id is text). */
static store_str_t str_arg(lua_State *L, int i)
{
    store_str_t v;
    if (lua_type(L, i) != LUA_TSTRING) luaL_typerror(L, i, "string");
    v.p = lua_tolstring(L, i, &v.n);
    return v;
}

static store_str_t opt_str_arg(lua_State *L, int i)
{
    store_str_t v = { NULL, 0 };
    return lua_isnoneornil(L, i) ? v : str_arg(L, i);
}

/* d as an integer, raising "<what> must be an integer" unless it is one
 * that a double holds exactly (converting others would be undefined). */
static long long whole(lua_State *L, double d, const char *what)
{
    if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) || d != floor(d))
        luaL_error(L, "%s must be an integer", what);
    return (long long)d;
}

/* A count argument: an integer in 0 .. STORE_BATCH_MAX (converting a huge
 * number to int would be undefined). */
static int count_arg(lua_State *L, int i)
{
    double d = luaL_checknumber(L, i);
    if (!(d >= 0 && d <= STORE_BATCH_MAX) || d != floor(d))
        luaL_argerror(L, i, lua_pushfstring(L, "a count 0..%d expected", STORE_BATCH_MAX));
    return (int)d;
}

/* The string field k of the table at t, or NULL. */
static store_str_t str_field(lua_State *L, int t, const char *k, const char *fn)
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

static double num_field(lua_State *L, int t, const char *k, double def, const char *fn)
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
static int limit_of(lua_State *L, int t, const char *fn)
{
    double d = num_field(L, t, "limit", 100, fn);
    if (!(d >= 0 && d <= STORE_BATCH_MAX) || d != floor(d))
        luaL_error(L, "%s: limit must be an integer 0..%d", fn, STORE_BATCH_MAX);
    return (int)d;
}

/* Expected failures: nil, token [, detail]. A caller's mistake raises. */
static int fail(lua_State *L, store_t *s, int rc)
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

/* -- Records ---------------------------------------------------------------------- */

static void set_col(lua_State *L, int v, int i, store_msg_t *m, const char *fn)
{
    const store_col_t *c = &store_cols[i];
    char *f = (char *)m + c->offset;
    int t = lua_type(L, v);
    switch (c->kind) {
    case STORE_TEXT:
    case STORE_BLOB:
        if (t != LUA_TSTRING) luaL_error(L, "%s: field '%s' must be a string, got %s", fn, c->name, lua_typename(L, t));
        ((store_str_t *)f)->p = lua_tolstring(L, v, &((store_str_t *)f)->n);
        break;
    case STORE_REAL:
        if (t != LUA_TNUMBER) luaL_error(L, "%s: field '%s' must be a number, got %s", fn, c->name, lua_typename(L, t));
        *(double *)f = lua_tonumber(L, v);
        break;
    case STORE_INT:
        if (c->flags & STORE_CF_BOOL) {
            if (t != LUA_TBOOLEAN)
                luaL_error(L, "%s: field '%s' must be a boolean, got %s", fn, c->name, lua_typename(L, t));
            *(long long *)f = lua_toboolean(L, v);
        } else {
            double d = lua_tonumber(L, v);
            if (t != LUA_TNUMBER || d != floor(d) || fabs(d) > 9007199254740992.0)
                luaL_error(L, "%s: field '%s' must be an integer, got %s", fn, c->name,
                           t == LUA_TNUMBER ? "another number" : lua_typename(L, t));
            *(long long *)f = (long long)d;
        }
        break;
    }
}

/* Read the record (put) or change (update) table at t. Unknown names raise.
 * For update, *mask gets the columns named, and "trace" / "at" go to c.
 * In a put, false is no value (as nil) for a column that is not a boolean:
 * a record table filled again for every put keeps its keys, where storing
 * nil would remove them and make LuaJIT rebuild the table each time. */
static void read_record(lua_State *L, int t, store_msg_t *m, store_change_t *c, const char *fn)
{
    int names;
    luaL_checktype(L, t, LUA_TTABLE);
    store_msg_clear(m);
    lua_pushlightuserdata(L, &cols_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    names = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        int i;
        lua_pushvalue(L, -2);
        lua_rawget(L, names);
        if (lua_isnil(L, -1)) {
            const char *k = lua_type(L, -3) == LUA_TSTRING ? lua_tostring(L, -3) : NULL;
            lua_pop(L, 1);
            if (c && k && strcmp(k, "at") == 0) {
                if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "%s: field 'at' must be a number", fn);
                c->at = lua_tonumber(L, -1);
            } else {
                luaL_error(L, "%s: unknown field '%s'", fn, k ? k : luaL_typename(L, -2));
            }
            lua_pop(L, 1);
            continue;
        }
        i = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (!c && lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1) && !(store_cols[i].flags & STORE_CF_BOOL)) {
            lua_pop(L, 1);
            continue;
        }
        if (store_cols[i].flags & STORE_CF_CALC) luaL_error(L, "%s: %s is computed by the store", fn, store_cols[i].name);
        if (c && (store_cols[i].flags & STORE_CF_KEY)) luaL_error(L, "%s: %s cannot be changed", fn, store_cols[i].name);
        if (c && (store_cols[i].flags & STORE_CF_APPEND)) {
            if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: field 'trace' must be a string", fn);
            c->trace.p = lua_tolstring(L, -1, &c->trace.n);
        } else {
            set_col(L, lua_gettop(L), i, m, fn);
            if (c) c->mask |= 1u << i;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static void push_msg(lua_State *L, const store_msg_t *m)
{
    int i;
    lua_createtable(L, 0, STORE_NCOLS);
    for (i = 0; i < STORE_NCOLS; i++) {
        const store_col_t *c = &store_cols[i];
        const char *f = (const char *)m + c->offset;
        switch (c->kind) {
        case STORE_TEXT:
        case STORE_BLOB:
            if (!((const store_str_t *)f)->p) continue;
            lua_pushlstring(L, ((const store_str_t *)f)->p, ((const store_str_t *)f)->n);
            break;
        case STORE_REAL:
            if (isnan(*(const double *)f)) continue;
            lua_pushnumber(L, *(const double *)f);
            break;
        case STORE_INT:
            if (c->flags & STORE_CF_BOOL) lua_pushboolean(L, *(const long long *)f != 0);
            else lua_pushnumber(L, (lua_Number)*(const long long *)f);
            break;
        }
        lua_setfield(L, -2, c->name);
    }
}

/* Callbacks: one record pushed on the stack, or appended to the list at
 * stack index `list`. */
typedef struct acc_s {
    lua_State *L;
    int        n;
    int        list;
} acc_t;

/* A new empty list on the stack, and the accumulator that fills it. */
static acc_t new_list(lua_State *L)
{
    acc_t a;
    lua_newtable(L);
    a.L = L;
    a.n = 0;
    a.list = lua_gettop(L);
    return a;
}

static int one_msg(const store_msg_t *m, void *ud)
{
    push_msg(((acc_t *)ud)->L, m);
    ((acc_t *)ud)->n++;
    return 1;
}

static int add_msg(const store_msg_t *m, void *ud)
{
    acc_t *a = ud;
    push_msg(a->L, m);
    lua_rawseti(a->L, a->list, ++a->n);
    return 0;
}

/* An outbox item, an early receipt, or what expiry removed of either. */
static int add_item(const store_item_t *it, void *ud, const char *owner, const char *ref)
{
    acc_t *a = ud;
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

/* -- Messages ----------------------------------------------------------------------- */

/* st:put(rec) -> key | nil, "full" | "exists" | "io: ...". rec.trace, if
 * given, is the first trace line, at rec.submitted. The key is the row's
 * integer key (a number, > 0). */
static int l_put(lua_State *L)
{
    store_t *s = self(L);
    store_msg_t m;
    long long rc;
    read_record(L, 2, &m, NULL, "put");
    if (m.trace.p && !isnan(m.submitted)) {
        char at[48];
        snprintf(at, sizeof at, "%.3f ", m.submitted);
        lua_pushstring(L, at);
        lua_pushlstring(L, m.trace.p, m.trace.n);
        lua_pushliteral(L, "\n");
        lua_concat(L, 3);               /* stays on the stack while put runs */
        m.trace.p = lua_tolstring(L, -1, &m.trace.n);
    }
    if ((rc = store_put(s, &m)) < 0) return fail(L, s, (int)rc);
    lua_pushnumber(L, (lua_Number)rc);
    return 1;
}

/* A putter's call: the values of its columns, in its order, as
 * arguments (nil, or false for a column that is not a boolean: no value).
 * Upvalues: the store userdata, the column indexes (a byte each, the
 * count first). */
static int l_put_positional(lua_State *L)
{
    box_t *b = lua_touserdata(L, lua_upvalueindex(1));
    const unsigned char *cols = lua_touserdata(L, lua_upvalueindex(2));
    store_msg_t m;
    long long rc;
    int k;
    if (!b->s) return luaL_error(L, "the store is closed");
    store_msg_clear(&m);
    for (k = 1; k <= cols[0]; k++) {
        int i = cols[k], t = lua_type(L, k);
        if (t == LUA_TNIL || (t == LUA_TBOOLEAN && !lua_toboolean(L, k) && !(store_cols[i].flags & STORE_CF_BOOL)))
            continue;
        set_col(L, k, i, &m, "put");
    }
    if ((rc = store_put(b->s, &m)) < 0) return fail(L, b->s, (int)rc);
    lua_pushnumber(L, (lua_Number)rc);
    return 1;
}

/* st:putter{ column, ... } -> function(value, ...) -> key | nil, err: a
 * put of those columns, their values given in that order, as put(rec)
 * with rec = { column = value, ... }; cheaper than a record table for a
 * caller that puts the same columns again and again (no table to read). */
static int l_putter(lua_State *L)
{
    unsigned char *cols;
    size_t n, k;
    self(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    n = lua_objlen(L, 2);
    if (n < 1 || n > STORE_NCOLS) return luaL_error(L, "putter: 1..%d column names expected", STORE_NCOLS);
    cols = lua_newuserdata(L, n + 1);
    cols[0] = (unsigned char)n;
    lua_pushlightuserdata(L, &cols_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    for (k = 1; k <= n; k++) {
        int i;
        lua_rawgeti(L, 2, (int)k);
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (lua_isnil(L, -1))
            return luaL_error(L, "putter: unknown field '%s'", lua_tostring(L, -2) ? lua_tostring(L, -2) : "?");
        i = (int)lua_tointeger(L, -1);
        if (store_cols[i].flags & (STORE_CF_CALC | STORE_CF_APPEND))
            return luaL_error(L, "putter: %s cannot be given to a putter", store_cols[i].name);
        cols[k] = (unsigned char)i;
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
    lua_pushvalue(L, 1);
    lua_insert(L, -2);
    lua_pushcclosure(L, l_put_positional, 2);
    return 1;
}

/* A message key argument: a whole number > 0. */
static long long key_arg(lua_State *L, int i, const char *fn)
{
    long long k = whole(L, lua_tonumber(L, i), fn);
    if (k <= 0) luaL_error(L, "%s must be > 0", fn);
    return k;
}

/* st:get(id [, part]) -> rec | nil; st:get(key) (a number) -> rec | nil */
static int l_get(lua_State *L)
{
    store_t *s = self(L);
    acc_t a = { L, 0, 0 };
    int rc;
    if (lua_type(L, 2) == LUA_TNUMBER) rc = store_get_key(s, key_arg(L, 2, "get: key"), one_msg, &a);
    else rc = store_get(s, str_arg(L, 2), whole(L, luaL_optnumber(L, 3, 0), "get: part"), one_msg, &a);
    if (rc < 0) return fail(L, s, rc);
    if (rc == 0) lua_pushnil(L);
    return 1;
}

/* st:parts(id) -> { rec, ... } in part order; st:parts(key): the parts of
 * the message whose part 0 has that key */
static int l_parts(lua_State *L)
{
    store_t *s = self(L);
    acc_t a;
    int rc;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        long long key = key_arg(L, 2, "parts: key");
        a = new_list(L);
        rc = store_parts_key(s, key, add_msg, &a);
    } else {
        store_str_t id = str_arg(L, 2);
        a = new_list(L);
        rc = store_parts(s, id, add_msg, &a);
    }
    if (rc < 0) return fail(L, s, rc);
    return 1;
}

/* st:update(id, changes [, where]) -> rows changed | nil, err.
 * where = { part = n, pending = true }: one part; only rows not final.
 * st:update(key, changes [, where]): the row with that key. */
static int l_update(lua_State *L)
{
    store_t *s = self(L);
    store_str_t id = { NULL, 0 };
    store_change_t c;
    int rc;
    memset(&c, 0, sizeof c);
    if (lua_type(L, 2) == LUA_TNUMBER) c.key = key_arg(L, 2, "update: key");
    else id = str_arg(L, 2);
    c.at = NAN;
    c.part = -1;
    read_record(L, 3, &c.v, &c, "update");
    if (!lua_isnoneornil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        c.part = whole(L, num_field(L, 4, "part", -1, "update"), "update: part");
        lua_getfield(L, 4, "pending");
        c.pending = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    if ((rc = store_update(s, id, &c)) < 0) return fail(L, s, rc);
    lua_pushinteger(L, rc);
    return 1;
}

/* st:find{ account =, source =, dest =, service_type =, limit = } ->
 * pending messages, oldest first */
static int l_find(lua_State *L)
{
    store_t *s = self(L);
    store_find_t q;
    acc_t a;
    int rc;
    luaL_checktype(L, 2, LUA_TTABLE);
    q.account = str_field(L, 2, "account", "find");
    q.source = str_field(L, 2, "source", "find");
    q.dest = str_field(L, 2, "dest", "find");
    q.service_type = str_field(L, 2, "service_type", "find");
    q.limit = limit_of(L, 2, "find");
    lua_getfield(L, 2, "pending");
    if (!lua_isnil(L, -1) && !lua_toboolean(L, -1))
        luaL_error(L, "find: only pending messages can be searched (use list)");
    lua_pop(L, 1);
    a = new_list(L);
    if ((rc = store_find(s, &q, add_msg, &a)) < 0) return fail(L, s, rc);
    return 1;
}

/* st:recent{ account =, source =, dest =, service_type =, since =, limit = }
 * -> messages submitted since `since`, newest first (final or not) */
static int l_recent(lua_State *L)
{
    store_t *s = self(L);
    store_recent_t q;
    acc_t a;
    int rc;
    luaL_checktype(L, 2, LUA_TTABLE);
    q.account = str_field(L, 2, "account", "recent");
    q.source = str_field(L, 2, "source", "recent");
    q.dest = str_field(L, 2, "dest", "recent");
    q.service_type = str_field(L, 2, "service_type", "recent");
    q.since = num_field(L, 2, "since", NAN, "recent");
    q.limit = limit_of(L, 2, "recent");
    a = new_list(L);
    if ((rc = store_recent(s, &q, add_msg, &a)) < 0) return fail(L, s, rc);
    return 1;
}

/* st:take_due(now, limit [, upstream]) -> messages due, earliest first;
 * their due is cleared */
static int l_take_due(lua_State *L)
{
    store_t *s = self(L);
    double now = luaL_checknumber(L, 2);
    int limit = count_arg(L, 3);
    store_str_t up = opt_str_arg(L, 4);
    acc_t a;
    int rc;
    a = new_list(L);
    if ((rc = store_take_due(s, now, limit, up, add_msg, &a)) < 0) return fail(L, s, rc);
    return 1;
}

/* st:next_due([upstream]) -> the earliest due time | nil */
static int l_next_due(lua_State *L)
{
    store_t *s = self(L);
    double t;
    int rc = store_next_due(s, opt_str_arg(L, 2), &t);
    if (rc < 0) return fail(L, s, rc);
    if (isnan(t)) lua_pushnil(L);
    else lua_pushnumber(L, t);
    return 1;
}

/* st:due(now, limit [, upstream [, lease]]) -> messages due, earliest first */
static int l_due(lua_State *L)
{
    store_t *s = self(L);
    double now = luaL_checknumber(L, 2);
    int limit = count_arg(L, 3);
    store_str_t up = opt_str_arg(L, 4);
    double lease = lua_isnoneornil(L, 5) ? NAN : luaL_checknumber(L, 5);
    acc_t a;
    int rc;
    a = new_list(L);
    if ((rc = store_due(s, now, limit, up, lease, add_msg, &a)) < 0) return fail(L, s, rc);
    return 1;
}

/* st:by_upstream(upstream, key) -> rec | nil */
static int l_by_upstream(lua_State *L)
{
    store_t *s = self(L);
    store_str_t up = str_arg(L, 2), key = str_arg(L, 3);
    acc_t a = { L, 0, 0 };
    int rc = store_by_upstream(s, up, key, one_msg, &a);
    if (rc < 0) return fail(L, s, rc);
    if (rc == 0) lua_pushnil(L);
    return 1;
}

/* st:list{ account =, state =, since =, until =, limit = } -> messages */
static int l_list(lua_State *L)
{
    store_t *s = self(L);
    store_list_t q;
    acc_t a;
    int rc;
    luaL_checktype(L, 2, LUA_TTABLE);
    q.account = str_field(L, 2, "account", "list");
    q.since = num_field(L, 2, "since", NAN, "list");
    q.until = num_field(L, 2, "until", NAN, "list");
    q.state = (int)whole(L, num_field(L, 2, "state", -1, "list"), "list: state");
    q.limit = limit_of(L, 2, "list");
    a = new_list(L);
    if ((rc = store_list(s, &q, add_msg, &a)) < 0) return fail(L, s, rc);
    return 1;
}

/* -- Outbox and early receipts -------------------------------------------------------- */

/* st:outbox_push(account, pdu [, { ref =, due =, expires = }]) -> rowid | nil, err */
static int l_outbox_push(lua_State *L)
{
    store_t *s = self(L);
    store_str_t account = str_arg(L, 2), pdu = str_arg(L, 3), ref = { NULL, 0 };
    double due = NAN, expires = NAN;
    long long rowid;
    if (!lua_isnoneornil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        ref = str_field(L, 4, "ref", "outbox_push");
        due = num_field(L, 4, "due", NAN, "outbox_push");
        expires = num_field(L, 4, "expires", NAN, "outbox_push");
    }
    rowid = store_outbox_push(s, account, pdu, ref, due, expires);
    if (rowid < 0) return fail(L, s, (int)rowid);
    lua_pushnumber(L, (lua_Number)rowid);
    return 1;
}

/* st:outbox_take(account, n, now [, lease]) -> { item, ... } */
static int l_outbox_take(lua_State *L)
{
    store_t *s = self(L);
    store_str_t account = str_arg(L, 2);
    int n = count_arg(L, 3);
    double now = luaL_checknumber(L, 4);
    double lease = lua_isnoneornil(L, 5) ? NAN : luaL_checknumber(L, 5);
    acc_t a;
    int rc;
    a = new_list(L);
    if ((rc = store_outbox_take(s, account, n, now, lease, add_outbox, &a)) < 0) return fail(L, s, rc);
    return 1;
}

/* st:outbox_ack(rowid) -> true (removed) | false (not there) */
static int l_outbox_ack(lua_State *L)
{
    store_t *s = self(L);
    int rc = store_outbox_ack(s, whole(L, luaL_checknumber(L, 2), "outbox_ack: rowid"));
    if (rc < 0) return fail(L, s, rc);
    lua_pushboolean(L, rc);
    return 1;
}

/* st:outbox_retry(rowid, due) -> true | false */
static int l_outbox_retry(lua_State *L)
{
    store_t *s = self(L);
    int rc = store_outbox_retry(s, whole(L, luaL_checknumber(L, 2), "outbox_retry: rowid"),
                                luaL_checknumber(L, 3));
    if (rc < 0) return fail(L, s, rc);
    lua_pushboolean(L, rc);
    return 1;
}

/* st:outbox_count(account) -> n */
static int l_outbox_count(lua_State *L)
{
    store_t *s = self(L);
    lua_pushnumber(L, (lua_Number)store_outbox_count(s, str_arg(L, 2)));
    return 1;
}

/* st:early_put(upstream, key, pdu, expires [, at]) -> true | nil, err */
static int l_early_put(lua_State *L)
{
    store_t *s = self(L);
    store_str_t up = str_arg(L, 2), key = str_arg(L, 3), pdu = str_arg(L, 4);
    double expires = luaL_checknumber(L, 5);
    double at = lua_isnoneornil(L, 6) ? NAN : luaL_checknumber(L, 6);
    long long rowid = store_early_put(s, up, key, pdu, expires, at);
    if (rowid < 0) return fail(L, s, (int)rowid);
    lua_pushboolean(L, 1);
    return 1;
}

/* st:early_take(upstream, key) -> { { pdu =, at =, expires = }, ... } */
static int l_early_take(lua_State *L)
{
    store_t *s = self(L);
    store_str_t up = str_arg(L, 2), key = str_arg(L, 3);
    acc_t a;
    int rc;
    a = new_list(L);
    if ((rc = store_early_take(s, up, key, add_early, &a)) < 0) return fail(L, s, rc);
    return 1;
}

/* -- The store ---------------------------------------------------------------------------- */

/* st:next_id(name) -> n | nil, err */
static int l_next_id(lua_State *L)
{
    store_t *s = self(L);
    long long v;
    int rc = store_next_id(s, luaL_checkstring(L, 2), &v);
    if (rc < 0) return fail(L, s, rc);
    lua_pushnumber(L, (lua_Number)v);
    return 1;
}

static int l_node_id(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)store_node_id(self(L)));
    return 1;
}

/* Expiry's lists: [0] messages not final, [1] outbox items, [2] early. */
static int exp_msg(const store_msg_t *m, void *ud)
{
    acc_t *a = &((acc_t *)ud)[0];
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
static int exp_outbox(const store_item_t *it, void *ud) { return add_outbox(it, &((acc_t *)ud)[1]); }
static int exp_early(const store_item_t *it, void *ud) { return add_early(it, &((acc_t *)ud)[2]); }

/* st:expire(now, batch) -> { messages = n, unfinished = {...}, outbox = {...},
 * early = {...}, more = bool } */
static int l_expire(lua_State *L)
{
    store_t *s = self(L);
    double now = luaL_checknumber(L, 2);
    int batch = count_arg(L, 3), rc, k;
    acc_t e[3];
    store_expiry_t x;
    for (k = 0; k < 3; k++) e[k] = new_list(L);
    memset(&x, 0, sizeof x);
    x.on_message = exp_msg;
    x.on_outbox = exp_outbox;
    x.on_early = exp_early;
    x.ud = e;
    if ((rc = store_expire(s, now, batch, &x)) < 0) return fail(L, s, rc);
    lua_createtable(L, 0, 5);
    lua_pushnumber(L, (lua_Number)x.messages);
    lua_setfield(L, -2, "messages");
    lua_pushvalue(L, e[0].list);
    lua_setfield(L, -2, "unfinished");
    lua_pushvalue(L, e[1].list);
    lua_setfield(L, -2, "outbox");
    lua_pushvalue(L, e[2].list);
    lua_setfield(L, -2, "early");
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

/* st:stats() -> { messages = { value =, limit = }, outbox, early, bytes,
 * commits =, commit_failures =, lost =, evicted =, expired =, txn_writes = } */
static int l_stats(lua_State *L)
{
    store_levels_t v;
    store_levels(self(L), &v);
    lua_createtable(L, 0, 10);
    level(L, "messages", v.messages, v.max_messages);
    level(L, "outbox", v.outbox, v.max_outbox);
    level(L, "early", v.early, v.max_early);
    level(L, "bytes", v.bytes, v.max_bytes);
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
    store_t *s = self(L);
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
    lua_pushboolean(L, store_in_txn(self(L)));
    return 1;
}

/* st:check() -> true | nil, "corrupt: ..." | nil, "io: ..." */
static int l_check(lua_State *L)
{
    store_t *s = self(L);
    char why[512];
    int rc = store_check(s, why, sizeof why);
    if (rc < 0) return fail(L, s, rc);
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
    box_t *b = luaL_checkudata(L, 1, MT);
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
    box_t *b = luaL_checkudata(L, 1, MT);
    store_close(b->s);
    b->s = NULL;
    return 0;
}

static int l_tostring(lua_State *L)
{
    box_t *b = luaL_checkudata(L, 1, MT);
    lua_pushfstring(L, "smpp.store (sqlite%s)", b->s ? "" : ", closed");
    return 1;
}

static const luaL_Reg methods[] = {
    {"put", l_put}, {"putter", l_putter}, {"get", l_get}, {"parts", l_parts}, {"update", l_update},
    {"find", l_find}, {"recent", l_recent}, {"due", l_due}, {"take_due", l_take_due},
    {"next_due", l_next_due}, {"by_upstream", l_by_upstream}, {"list", l_list},
    {"outbox_push", l_outbox_push}, {"outbox_take", l_outbox_take}, {"outbox_ack", l_outbox_ack},
    {"outbox_retry", l_outbox_retry}, {"outbox_count", l_outbox_count},
    {"early_put", l_early_put}, {"early_take", l_early_take},
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
        long long v = whole(L, lua_tonumber(L, -1), k);
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
 * outbox =, outbox_per_account =, early =, size_mb = }, quick_check = }
 * -> store | nil, message. Every key but quick_check is required: the
 * defaults are applied by lua/smpp/store.lua from the config schema. */
static int l_open(lua_State *L)
{
    static const char *const syncs[] = { "off", "normal", "full", NULL };
    store_opts_t o;
    char err[1024];
    box_t *b;
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
    o.max_bytes = limit_field(L, lim, "size_mb") * 1024 * 1024;
    lua_pop(L, 1);
    lua_getfield(L, 1, "quick_check");
    o.quick_check = lua_toboolean(L, -1);
    lua_pop(L, 1);
    b = lua_newuserdata(L, sizeof *b);
    b->s = NULL;
    luaL_getmetatable(L, MT);
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
    lua_pushlightuserdata(L, &cols_key);
    lua_createtable(L, 0, STORE_NCOLS);
    for (i = 0; i < STORE_NCOLS; i++) {
        lua_pushinteger(L, i);
        lua_setfield(L, -2, store_cols[i].name);
    }
    lua_rawset(L, LUA_REGISTRYINDEX);

    if (luaL_newmetatable(L, MT)) {
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
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
