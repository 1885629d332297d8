/* rt.c -- the runtime's shared state and the helpers the rt_*.c files
 * share (registry slots, option tables). See rt.h.
 */
#include "rt.h"

rt_t rt = {NULL, NULL, NULL, {0}, LUA_NOREF, 0, LUA_NOREF, LUA_NOREF, 0, 1};

/* -- Helpers ------------------------------------------------------------------- */

static uint64_t started_ns;

double rt_clock(void)
{
    return rt.loop ? (double)uv_now(rt.loop) / 1000.0 : 0;
}

void rt_uptime_start(void)
{
    if (!started_ns) started_ns = uv_hrtime();
}

double rt_uptime(void)
{
    return started_ns ? (double)(uv_hrtime() - started_ns) / 1e9 : 0;
}

void rt_registry_table(lua_State *L, int *ref)
{
    if (*ref == LUA_NOREF) {
        lua_newtable(L);
        *ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, *ref);
}

void rt_registry_set(lua_State *L, int *ref, int idx)
{
    if (*ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, *ref);
    lua_pushvalue(L, idx);
    *ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

void rt_set_str(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, k);
    if (v) lua_pushstring(L, v);
    else lua_pushnil(L);
    lua_rawset(L, -3);
}

double rt_opt_num(lua_State *L, int idx, const char *key, double dflt)
{
    double v;
    lua_getfield(L, idx, key);
    v = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : dflt;
    lua_pop(L, 1);
    return v;
}

const char *rt_opt_str(lua_State *L, int idx, const char *key)
{
    const char *v;
    lua_getfield(L, idx, key);
    v = lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL;
    lua_pop(L, 1);                      /* the string stays alive in the table */
    return v;
}

void rt_read_session_config(lua_State *L, int idx, sess_config_t *c)
{
#define READ_OPTION(key, field, scale) \
    c->field = (uint32_t)(rt_opt_num(L, idx, #key, c->field / (double)(scale)) * (scale));
    SESS_CONFIG_MAP(READ_OPTION)
#undef READ_OPTION
}

tls_ctx_t *rt_read_tls(lua_State *L, int idx, int server)
{
    tls_opts_t o;
    char err[200];
    tls_ctx_t *ctx;
    if (idx < 0) idx = lua_gettop(L) + idx + 1;
    o.cert = rt_opt_str(L, idx, "cert");
    o.key = rt_opt_str(L, idx, "key");
    o.ca = rt_opt_str(L, idx, "ca");
    o.min_version = rt_opt_str(L, idx, "min_version");
    lua_getfield(L, idx, "verify");
    o.verify_peer = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (!(ctx = tls_ctx_new(server, &o, err, sizeof err))) lua_pushfstring(L, "TLS: %s", err);
    return ctx;
}

