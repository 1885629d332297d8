/* lstore_msg.c -- the Lua binding's methods on messages: records read
 * from tables and pushed as tables, put (and putters), get, parts, update,
 * and the lookups (see lstore.c for the rest of `smpp.store_sqlite`).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lstore_int.h"
#include "msgid.h"

void (*lstore_withdraw_hook)(lua_State *L, store_t *s, long long key);

/* -- Records ---------------------------------------------------------------------- */

/* Column i of m from the value at v, of Lua type t; a value of the
 * wrong type raises. */
static void set_col(lua_State *L, int v, int t, int i, store_msg_t *m, const char *fn)
{
    const store_col_t *c = &store_cols[i];
    char *f = (char *)m + c->offset;
    switch (c->kind) {
    case STORE_TEXT:
    case STORE_BLOB:
        if (t != LUA_TSTRING) luaL_error(L, "%s: field '%s' must be a string, got %s", fn, c->name, lua_typename(L, t));
        ((store_str_t *)f)->p = lua_tolstring(L, v, &((store_str_t *)f)->n);
        break;
    case STORE_REAL:
        if (t != LUA_TNUMBER) luaL_error(L, "%s: field '%s' must be a number, got %s", fn, c->name, lua_typename(L, t));
        *(double *)f = lua_tonumber(L, v);
        /* a time that is nan or infinite would be stored as NULL or never expire */
        if (!isfinite(*(double *)f))
            luaL_error(L, "%s: field '%s' must be a finite number, got %s", fn, c->name, lua_tostring(L, v));
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
    lua_pushlightuserdata(L, &lstore__cols_key);
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
                if (!isfinite(c->at))
                    luaL_error(L, "%s: field 'at' must be a finite number, got %s", fn, lua_tostring(L, -1));
            } else {
                luaL_error(L, "%s: unknown field '%s'", fn, k ? k : luaL_typename(L, -2));
            }
            lua_pop(L, 1);
            continue;
        }
        i = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1) && !(store_cols[i].flags & STORE_CF_BOOL)
            && (!c || (store_cols[i].kind == STORE_REAL && !(store_cols[i].flags & STORE_CF_CALC)))) {
            if (c) c->mask |= 1u << i;   /* an update's false clears a time (NULL: its NaN) */
            lua_pop(L, 1);
            continue;
        }
        if (store_cols[i].flags & STORE_CF_CALC) luaL_error(L, "%s: %s is computed by the store", fn, store_cols[i].name);
        if (c && (store_cols[i].flags & STORE_CF_KEY)) luaL_error(L, "%s: %s cannot be changed", fn, store_cols[i].name);
        if (c && (store_cols[i].flags & STORE_CF_APPEND)) {
            if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: field 'trace' must be a string", fn);
            c->trace.p = lua_tolstring(L, -1, &c->trace.n);
        } else {
            set_col(L, lua_gettop(L), lua_type(L, -1), i, m, fn);
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

static int one_msg(const store_msg_t *m, void *ud)
{
    push_msg(((lstore_acc_t *)ud)->L, m);
    ((lstore_acc_t *)ud)->n++;
    return 1;
}

static int add_msg(const store_msg_t *m, void *ud)
{
    lstore_acc_t *a = ud;
    push_msg(a->L, m);
    lua_rawseti(a->L, a->list, ++a->n);
    return 0;
}

/* -- Messages ----------------------------------------------------------------------- */

/* st:put(rec [, withdraw]) -> key | nil, "full" | "exists" | "io: ...".
 * rec.trace, if given, is the first trace line, at rec.submitted. The key
 * is the row's integer key (a number, > 0). withdraw: the row is removed
 * if the request the running handler answers is answered with an error
 * (lstore_withdraw_hook). */
static int l_put(lua_State *L)
{
    store_t *s = lstore__self(L);
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
    if ((rc = store_put(s, &m)) < 0) return lstore__fail(L, s, (int)rc);
    if (lstore_withdraw_hook && lua_toboolean(L, 3)) lstore_withdraw_hook(L, s, rc);
    lua_pushnumber(L, (lua_Number)rc);
    return 1;
}

/* A putter's call: the values of its columns, in its order, as
 * arguments (nil, or false for a column that is not a boolean: no value),
 * then optionally withdraw (as put's).
 * Answers the key and, for a part 0 row with an id_format and no text
 * id, the id made from the store's node id and its key, as get shows it
 * (a later part's is its part 0's, which the caller knows): a caller that answers with the id (the reference SMSC)
 * makes no second call. Upvalues: the store userdata, the column indexes
 * (a byte each, the count first). */
static int l_put_positional(lua_State *L)
{
    lstore_box_t *b = lua_touserdata(L, lua_upvalueindex(1));
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
        set_col(L, k, t, i, &m, "put");
    }
    if ((rc = store_put(b->s, &m)) < 0) return lstore__fail(L, b->s, (int)rc);
    if (lstore_withdraw_hook && lua_toboolean(L, cols[0] + 1)) lstore_withdraw_hook(L, b->s, rc);
    lua_pushnumber(L, (lua_Number)rc);
    if (m.id_format > 0 && !m.id.p && m.part == 0) {     /* a later part's id is its part 0's: the caller's */
        char id[MSGID_KEYED_MAX];
        int n = msgid_keyed_make((int)m.id_format, (unsigned long long)store_node_id(b->s),
                                 (unsigned long long)(rc - m.part), id, sizeof id);
        if (n > 0) {
            lua_pushlstring(L, id, (size_t)n);
            return 2;
        }
    }
    return 1;
}

/* st:putter{ column, ... } -> function(value, ...) -> key [, id] | nil,
 * err: a put of those columns, their values given in that order, as
 * put(rec) with rec = { column = value, ... }; cheaper than a record
 * table for a caller that puts the same columns again and again (no table
 * to read). id: see l_put_positional. */
static int l_putter(lua_State *L)
{
    unsigned char *cols;
    size_t n, k;
    lstore__self(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    n = lua_objlen(L, 2);
    if (n < 1 || n > STORE_NCOLS) return luaL_error(L, "putter: 1..%d column names expected", STORE_NCOLS);
    cols = lua_newuserdata(L, n + 1);
    cols[0] = (unsigned char)n;
    lua_pushlightuserdata(L, &lstore__cols_key);
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
    long long k = lstore__whole(L, lua_tonumber(L, i), fn);
    if (k <= 0) luaL_error(L, "%s must be > 0", fn);
    return k;
}

/* st:get(id [, part]) -> rec | nil; st:get(key) (a number) -> rec | nil */
static int l_get(lua_State *L)
{
    store_t *s = lstore__self(L);
    lstore_acc_t a = { L, 0, 0 };
    int rc;
    if (lua_type(L, 2) == LUA_TNUMBER) rc = store_get_key(s, key_arg(L, 2, "get: key"), one_msg, &a);
    else rc = store_get(s, lstore__str_arg(L, 2), lstore__whole(L, luaL_optnumber(L, 3, 0), "get: part"), one_msg, &a);
    if (rc < 0) return lstore__fail(L, s, rc);
    if (rc == 0) lua_pushnil(L);
    return 1;
}

/* st:parts(id) -> { rec, ... } in part order; st:parts(key): the parts of
 * the message whose part 0 has that key */
static int l_parts(lua_State *L)
{
    store_t *s = lstore__self(L);
    lstore_acc_t a;
    int rc;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        long long key = key_arg(L, 2, "parts: key");
        a = lstore__new_list(L);
        rc = store_parts_key(s, key, add_msg, &a);
    } else {
        store_str_t id = lstore__str_arg(L, 2);
        a = lstore__new_list(L);
        rc = store_parts(s, id, add_msg, &a);
    }
    if (rc < 0) return lstore__fail(L, s, rc);
    return 1;
}

/* st:update(id, changes [, where]) -> rows changed | nil, err.
 * where = { part = n, pending = true }: one part; only rows not final.
 * st:update(key, changes [, where]): the row with that key. */
static int l_update(lua_State *L)
{
    store_t *s = lstore__self(L);
    store_str_t id = { NULL, 0 };
    store_change_t c;
    int rc;
    memset(&c, 0, sizeof c);
    if (lua_type(L, 2) == LUA_TNUMBER) c.key = key_arg(L, 2, "update: key");
    else id = lstore__str_arg(L, 2);
    c.at = NAN;
    c.part = -1;
    read_record(L, 3, &c.v, &c, "update");
    if (!lua_isnoneornil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        c.part = lstore__whole(L, lstore__num_field(L, 4, "part", -1, "update"), "update: part");
        lua_getfield(L, 4, "pending");
        c.pending = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    if ((rc = store_update(s, id, &c)) < 0) return lstore__fail(L, s, rc);
    lua_pushinteger(L, rc);
    return 1;
}

/* st:find{ account =, source =, dest =, service_type =, limit = } ->
 * pending messages, oldest first */
static int l_find(lua_State *L)
{
    store_t *s = lstore__self(L);
    store_find_t q;
    lstore_acc_t a;
    int rc;
    luaL_checktype(L, 2, LUA_TTABLE);
    q.account = lstore__str_field(L, 2, "account", "find");
    q.source = lstore__str_field(L, 2, "source", "find");
    q.dest = lstore__str_field(L, 2, "dest", "find");
    q.service_type = lstore__str_field(L, 2, "service_type", "find");
    q.limit = lstore__limit_of(L, 2, "find");
    lua_getfield(L, 2, "pending");
    if (!lua_isnil(L, -1) && !lua_toboolean(L, -1))
        luaL_error(L, "find: only pending messages can be searched (use list)");
    lua_pop(L, 1);
    a = lstore__new_list(L);
    if ((rc = store_find(s, &q, add_msg, &a)) < 0) return lstore__fail(L, s, rc);
    return 1;
}

/* st:recent{ account =, source =, dest =, service_type =, since =, limit = }
 * -> messages submitted since `since`, newest first (final or not) */
static int l_recent(lua_State *L)
{
    store_t *s = lstore__self(L);
    store_recent_t q;
    lstore_acc_t a;
    int rc;
    luaL_checktype(L, 2, LUA_TTABLE);
    q.account = lstore__str_field(L, 2, "account", "recent");
    q.source = lstore__str_field(L, 2, "source", "recent");
    q.dest = lstore__str_field(L, 2, "dest", "recent");
    q.service_type = lstore__str_field(L, 2, "service_type", "recent");
    q.since = lstore__num_field(L, 2, "since", NAN, "recent");
    q.limit = lstore__limit_of(L, 2, "recent");
    a = lstore__new_list(L);
    if ((rc = store_recent(s, &q, add_msg, &a)) < 0) return lstore__fail(L, s, rc);
    return 1;
}

/* st:take_due(now, limit [, upstream]) -> messages due, earliest first;
 * their due is cleared */
static int l_take_due(lua_State *L)
{
    store_t *s = lstore__self(L);
    double now = luaL_checknumber(L, 2);
    int limit = lstore__count_arg(L, 3);
    store_str_t up = lstore__opt_str_arg(L, 4);
    lstore_acc_t a;
    int rc;
    a = lstore__new_list(L);
    if ((rc = store_take_due(s, now, limit, up, add_msg, &a)) < 0) return lstore__fail(L, s, rc);
    return 1;
}

/* st:next_due([upstream]) -> the earliest due time | nil */
static int l_next_due(lua_State *L)
{
    store_t *s = lstore__self(L);
    double t;
    int rc = store_next_due(s, lstore__opt_str_arg(L, 2), &t);
    if (rc < 0) return lstore__fail(L, s, rc);
    if (isnan(t)) lua_pushnil(L);
    else lua_pushnumber(L, t);
    return 1;
}

/* st:due(now, limit [, upstream [, lease]]) -> messages due, earliest first */
static int l_due(lua_State *L)
{
    store_t *s = lstore__self(L);
    double now = luaL_checknumber(L, 2);
    int limit = lstore__count_arg(L, 3);
    store_str_t up = lstore__opt_str_arg(L, 4);
    double lease = lua_isnoneornil(L, 5) ? NAN : luaL_checknumber(L, 5);
    lstore_acc_t a;
    int rc;
    a = lstore__new_list(L);
    if ((rc = store_due(s, now, limit, up, lease, add_msg, &a)) < 0) return lstore__fail(L, s, rc);
    return 1;
}

/* st:by_upstream(upstream, key) -> rec | nil */
static int l_by_upstream(lua_State *L)
{
    store_t *s = lstore__self(L);
    store_str_t up = lstore__str_arg(L, 2), key = lstore__str_arg(L, 3);
    lstore_acc_t a = { L, 0, 0 };
    int rc = store_by_upstream(s, up, key, one_msg, &a);
    if (rc < 0) return lstore__fail(L, s, rc);
    if (rc == 0) lua_pushnil(L);
    return 1;
}

/* st:list{ account =, state =, since =, until =, limit =, after =, scan = }
 * -> messages [, next]: next (a key) when the walk stopped before its end
 * (limit reached, or `scan` rows looked at): list again with after = next
 * for more (store_list). */
static int l_list(lua_State *L)
{
    store_t *s = lstore__self(L);
    store_list_t q;
    lstore_acc_t a;
    long long next;
    int rc;
    luaL_checktype(L, 2, LUA_TTABLE);
    q.account = lstore__str_field(L, 2, "account", "list");
    q.since = lstore__num_field(L, 2, "since", NAN, "list");
    q.until = lstore__num_field(L, 2, "until", NAN, "list");
    q.state = (int)lstore__whole(L, lstore__num_field(L, 2, "state", -1, "list"), "list: state");
    q.limit = lstore__limit_of(L, 2, "list");
    q.after = (long long)lstore__whole(L, lstore__num_field(L, 2, "after", 0, "list"), "list: after");
    q.scan = (int)lstore__whole(L, lstore__num_field(L, 2, "scan", 0, "list"), "list: scan");
    a = lstore__new_list(L);
    if ((rc = store_list(s, &q, add_msg, &a, &next)) < 0) return lstore__fail(L, s, rc);
    if (!next) return 1;
    lua_pushnumber(L, (lua_Number)next);
    return 2;
}

/* st:remove(key) -> 1 | 0 (no such row) | nil, err: the row gone for good */
static int l_remove(lua_State *L)
{
    store_t *s = lstore__self(L);
    int rc = store_remove(s, key_arg(L, 2, "remove: key"));
    if (rc < 0) return lstore__fail(L, s, rc);
    lua_pushinteger(L, rc);
    return 1;
}

const luaL_Reg lstore__msg_methods[] = {
    {"put", l_put}, {"putter", l_putter}, {"remove", l_remove}, {"get", l_get}, {"parts", l_parts}, {"update", l_update},
    {"find", l_find}, {"recent", l_recent}, {"due", l_due}, {"take_due", l_take_due},
    {"next_due", l_next_due}, {"by_upstream", l_by_upstream}, {"list", l_list},
    {NULL, NULL}
};
