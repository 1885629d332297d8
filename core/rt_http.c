/* rt_http.c -- the runtime's HTTP glue: every request of the HTTP API runs
 * its Lua handler in a task whose completion writes the HTTP answer, and
 * core.http_post waits for a POST to a callback URL.
 *
 * Who owns what: http.c owns connections and requests; a task holds its
 * request's connection (t->arg) until its completion answers it, exactly
 * once. The handler function is registry[http_fn], replaced by each
 * core.http_listen.
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "rt.h"
#include "rt_http.h"
#include "rt_store.h"
#include "rt_task.h"

static int http_fn = LUA_NOREF;

/* -- Requests --------------------------------------------------------------------- */

/* The handler's answer on the task's stack: status, content type, body
 * and the name of the route that made it (smpp.http's dispatch). NULL when
 * they are fit to send (filled in), else why not: a script's values never
 * reach the head unchecked (a status of 1e10 is no int; a content type
 * with CR LF would add headers). */
typedef struct answer_s {
    double      status;
    const char *ctype, *body, *route;
    size_t      body_len;
} answer_t;

static const char *answer_of(lua_State *co, answer_t *a)
{
    int n = lua_gettop(co);
    size_t clen;
    a->status = 500;
    a->ctype = "text/plain";
    a->body = "";
    a->body_len = 0;
    a->route = n >= 4 && lua_type(co, 4) == LUA_TSTRING ? lua_tostring(co, 4) : "?";
    if (n < 1 || lua_type(co, 1) != LUA_TNUMBER) return "the status is not a number";
    a->status = lua_tonumber(co, 1);
    if (n >= 2 && !lua_isnil(co, 2)) {
        if (lua_type(co, 2) != LUA_TSTRING) return "the content type is not a string";
        a->ctype = lua_tolstring(co, 2, &clen);
        if (clen != strlen(a->ctype)) return "the content type holds a NUL octet";
    }
    if (n >= 3 && !lua_isnil(co, 3)) {
        if (lua_type(co, 3) != LUA_TSTRING) return "the body is not a string (nor a table, sent as JSON)";
        a->body = lua_tolstring(co, 3, &a->body_len);
    }
    return http_answer_check(a->status, a->ctype, strlen(a->ctype));
}

/* Write the answer the handler returned, or a 500 naming the route in
 * the log when it is not fit to send. */
static void respond(rt_task_t *t)
{
    static const char bad[] = "{\"error\":\"internal error: the route's answer is invalid (see the log)\"}";
    answer_t a;
    const char *why = answer_of(t->co, &a);
    if (why) {
        log_msg(LOG_ERROR, t->sess_id, "HTTP route %s: answer refused: %s", a.route, why);
        http_respond(t->arg, 500, "application/json", bad, sizeof bad - 1);
        return;
    }
    http_respond(t->arg, (int)a.status, a.ctype, a.body, a.body_len);
}

static const char lost_body[] = "{\"error\":\"the store could not keep this request's changes (see the log)\"}";

/* The turn's commit is over: a success whose writes were lost becomes
 * 503, and what the run stored is not forwarded (rt_store_refused). A run
 * that wrote nothing lost nothing: GET /stats or /metrics answers as it is
 * while the disk is full, when an operator needs them most. */
static void release_answer(rt_task_t *t, int ok, uint32_t fail_status)
{
    answer_t a;
    int fine = answer_of(t->co, &a) == NULL;
    (void)fail_status;
    if (!ok && t->wrote && fine && a.status >= 200 && a.status < 300) {
        rt_store_refused(t->co);
        http_respond(t->arg, 503, "application/json", lost_body, sizeof lost_body - 1);
    } else {
        respond(t);
    }
    rt_task_release(t);
}

/* The handler returned: answer now, or after the turn's commit when it
 * stored something. What the client is told decides what the run stored
 * (as for SMPP, rt_sess.c): an answer other than 2xx, or a 2xx for rows a
 * failed commit lost while the run waited (503 then), ends it. */
static const char *request_finish(rt_task_t *t, int n)
{
    answer_t a;
    uint32_t fail;
    (void)n;
    if (answer_of(t->co, &a) != NULL || a.status < 200 || a.status >= 300) {
        rt_store_undo(t->co);
    } else if (rt_store_lost(t->co, &fail) || rt_store_run_lost(t, &fail)) {
        rt_store_undo(t->co);
        http_respond(t->arg, 503, "application/json", lost_body, sizeof lost_body - 1);
        return NULL;
    }
    if (rt_store_hold(t, release_answer)) return RT_TASK_HELD;
    respond(t);
    return NULL;
}

/* A handler that raised: 500, or 503 (try again: Retry-After) when it was
 * stopped because the Lua heap was full (at the ceiling for a script's
 * route, near the end of the reserve for the API's own). */
static void request_fail(rt_task_t *t, const char *msg)
{
    static const char body[] = "{\"error\":\"internal error (see the log)\"}";
    static const char full[] = "{\"error\":\"not enough memory for this request now (the Lua heap is full); "
                               "try again in a moment\"}";
    int no_memory = strstr(msg, "not enough memory") || strstr(msg, "memory ceiling exceeded");
    log_msg(LOG_ERROR, t->sess_id, "%s failed: %s", t->what, msg);
    rt_store_undo(t->co);                  /* a POST /send whose message was stored: not forwarded */
    if (no_memory) http_respond(t->arg, 503, "application/json", full, sizeof full - 1);
    else http_respond(t->arg, 500, "application/json", body, sizeof body - 1);
}

static const rt_task_owner_t request_owner = {request_finish, request_fail};

/* A request arrived: handler(method, url, body, content_type, authorization,
 * remote address, role, account) runs in a task and returns status,
 * content type, body. role is "admin", "account" (account: the system_id
 * whose token it carries) or "" (no credential, where none is needed):
 * decided once, in http_auth.c. */
static void on_http(const http_req_t *req, void *ud)
{
    lua_State *L = rt.L;
    rt_task_t *t;
    (void)ud;
    if (!(t = rt_task_new("HTTP handler", &request_owner))) {
        http_respond(req->conn, 503, "application/json", "{\"error\":\"busy\"}", 16);
        return;
    }
    t->arg = req->conn;
    lua_rawgeti(L, LUA_REGISTRYINDEX, http_fn);
    lua_pushstring(L, req->method);
    lua_pushstring(L, req->url);
    lua_pushlstring(L, req->body, req->body_len);
    lua_pushstring(L, req->content_type);
    lua_pushstring(L, req->authorization);
    lua_pushstring(L, req->remote ? req->remote : "");
    lua_pushstring(L, req->role == HTTP_ADMIN ? "admin" : req->role == HTTP_ACCOUNT ? "account" : "");
    lua_pushstring(L, req->account ? req->account : "");
    rt_task_start(t, 8);
}

/* v within lo..hi (lo for NaN): config values are cast to integers only
 * once they fit */
static double clamp(double v, double lo, double hi)
{
    return !(v >= lo) ? lo : v > hi ? hi : v;
}

/* The http section's limits (seconds in the config, ms here) and token
 * from the table at idx over *o. */
static void read_http_opts(lua_State *L, int idx, http_opts_t *o)
{
#define COUNT(key, field) o->field = (size_t)clamp(rt_opt_num(L, idx, key, (double)o->field), 0, 1e12)
#define MS(key, field) o->field = (unsigned)(clamp(rt_opt_num(L, idx, key, o->field / 1000.0), 0, 4e6) * 1000)
    COUNT("max_connections", max_connections);
    COUNT("max_per_address", max_per_address);
    COUNT("max_body", max_body);
    MS("header_timeout", header_timeout_ms);
    MS("body_timeout", body_timeout_ms);
    MS("idle_timeout", idle_timeout_ms);
#undef COUNT
#undef MS
    o->token = rt_opt_str(L, idx, "token");      /* http_listen copies it */
}

/* A port argument 0..65535 (0: any), or -1. */
static int port_arg(lua_State *L, int idx)
{
    double p = luaL_checknumber(L, idx);
    return p >= 0 && p <= 65535 && p == (double)(int)p ? (int)p : -1;
}

/* core.http_listen(host, port, handler [, http options]) -> bound port | nil, err */
static int l_http_listen(lua_State *L)
{
    const char *host = luaL_checkstring(L, 1);
    int port = port_arg(L, 2), bound = 0, rc;
    http_opts_t o;
    char name[300];
    luaL_checktype(L, 3, LUA_TFUNCTION);
    if (!rt.loop) return luaL_error(L, "smpp: the runtime is not running");
    if (port < 0) return luaL_error(L, "http_listen: the port is not a whole number 0..65535");
    rt_registry_set(L, &http_fn, 3);
    http_opts_default(&o);
    if (lua_istable(L, 4)) read_http_opts(L, 4, &o);
    if ((rc = http_listen(rt.loop, host, port, &o, on_http, NULL, &bound)) < 0) {
        net_addr_format(name, sizeof name, host, port);
        lua_pushnil(L);
        lua_pushfstring(L, "cannot listen for HTTP on %s: %s", name, uv_strerror(rc));
        return 2;
    }
    net_addr_format(name, sizeof name, host, bound);
    log_msg(LOG_INFO, 0, "HTTP API and dashboard on http://%s/", name);
    lua_pushnumber(L, bound);
    return 1;
}

void rt_http_close(void)
{
    http_close_all();
}

/* -- Callbacks out ------------------------------------------------------------------ */

static void on_posted(int status, void *arg)
{
    rt_task_t *t = arg;
    if (status > 0) {
        lua_pushnumber(t->co, status);
        rt_task_wake(t, 1);
    } else {
        lua_pushnil(t->co);
        lua_pushstring(t->co, uv_strerror(status));
        rt_task_wake(t, 2);
    }
}

/* core.http_post(host, port, path, content_type, body) -> the answer's
 * HTTP status | nil, error: waits for the answer. */
static int l_http_post(lua_State *L)
{
    size_t len;
    const char *host = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 3);
    const char *ctype = luaL_checkstring(L, 4), *body = luaL_checklstring(L, 5, &len);
    int port = port_arg(L, 2), rc;
    rt_task_t *t = rt_task_current(L, "http_post");
    if (port < 1) {
        lua_pushnil(L);
        lua_pushliteral(L, "the port is not a whole number 1..65535");
        return 2;
    }
    if ((rc = http_post(rt.loop, host, port, path, ctype, body, len, on_posted, t)) < 0) {
        lua_pushnil(L);
        if (rc == UV_EACCES)
            lua_pushfstring(L, "%s is not among http.callback_networks (by default any address but "
                               "link-local and 0.0.0.0/8)", host);
        else
            lua_pushstring(L, uv_strerror(rc));
        return 2;
    }
    rt_task_wait(t, "http_post");
    return lua_yield(L, 0);
}

/* core.http_tokens({ token, ... }, { system_id, ... }): the accounts'
 * tokens, each of which lets a request through as its account
 * (http_set_tokens); replaces the previous list. */
static int l_http_tokens(lua_State *L)
{
    const char **list, **names;
    size_t n = 0;
    int i, len;
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    len = (int)lua_objlen(L, 1);
    list = malloc((size_t)(len > 0 ? len : 1) * sizeof *list);
    names = malloc((size_t)(len > 0 ? len : 1) * sizeof *names);
    if (!list || !names) {
        free(list);
        free(names);
        return luaL_error(L, "out of memory");
    }
    for (i = 1; i <= len; i++) {
        lua_rawgeti(L, 1, i);
        lua_rawgeti(L, 2, i);
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {   /* kept by the tables */
            list[n] = lua_tostring(L, -2);
            names[n++] = lua_tostring(L, -1);
        }
        lua_pop(L, 2);
    }
    http_set_tokens(list, names, n);       /* copies them */
    free(list);
    free(names);
    return 0;
}

/* core.http_route_bodies({ ["METHOD /path"] = octets, ["METHOD /prefix*"] = octets, ... }):
 * the most body each of the API's own routes takes (http_set_route_bodies);
 * replaces the previous list. */
static int l_http_route_bodies(lua_State *L)
{
    const char **routes;
    size_t *max, n = 0, cap = 0;
    int rc;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        cap++;
        lua_pop(L, 1);
    }
    routes = malloc((cap ? cap : 1) * sizeof *routes);
    max = malloc((cap ? cap : 1) * sizeof *max);
    if (!routes || !max) {
        free(routes);
        free(max);
        return luaL_error(L, "out of memory");
    }
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        if (n < cap && lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TNUMBER) {
            routes[n] = lua_tostring(L, -2);   /* kept by the table */
            max[n++] = (size_t)clamp(lua_tonumber(L, -1), 0, 1e12);
        }
        lua_pop(L, 1);
    }
    rc = http_set_route_bodies(routes, max, n);
    free(routes);
    free(max);
    if (rc < 0) return luaL_error(L, "out of memory");
    return 0;
}

/* The strings of the list at idx, in an array the caller frees (the
 * strings stay the table's); NULL and *n = 0 for nil. Non-strings are
 * skipped: the configuration check names them. Raises without memory. */
static const char **str_list(lua_State *L, int idx, size_t *n)
{
    const char **list;
    int i, len;
    *n = 0;
    if (lua_isnoneornil(L, idx)) return NULL;
    luaL_checktype(L, idx, LUA_TTABLE);
    len = (int)lua_objlen(L, idx);
    if (!(list = malloc((size_t)(len > 0 ? len : 1) * sizeof *list))) luaL_error(L, "out of memory");
    for (i = 1; i <= len; i++) {
        lua_rawgeti(L, idx, i);
        if (lua_type(L, -1) == LUA_TSTRING) list[(*n)++] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    return list;
}

/* core.http_callback_networks(list | nil) -> true | nil, why: where
 * callbacks and webhooks may connect (http_nets_set; nil: the default
 * rule). A list with an entry that is not a network changes nothing. */
static int l_http_callback_networks(lua_State *L)
{
    size_t n;
    const char **list = str_list(L, 1, &n);
    long rc = http_nets_set(list, n);
    free(list);
    if (rc == 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushnil(L);
    if (rc > 0) lua_pushfstring(L, "http.callback_networks[%d] is not an address[/prefix]", (int)rc);
    else lua_pushliteral(L, "out of memory");
    return 2;
}

/* core.http_callback_allowed(host [, list]) -> whether http_post may
 * connect to host (an IP address or "localhost", as a callback URL names
 * it): by the networks in force, or by `list` (a configuration being
 * checked). false for a host that is not an address. */
static int l_http_callback_allowed(lua_State *L)
{
    const char *host = luaL_checkstring(L, 1);
    struct sockaddr_storage ss;
    size_t n;
    const char **list;
    long ok;
    if (!strcmp(host, "localhost")) host = "127.0.0.1";
    if (uv_ip4_addr(host, 0, (struct sockaddr_in *)&ss) && uv_ip6_addr(host, 0, (struct sockaddr_in6 *)&ss)) {
        lua_pushboolean(L, 0);
        return 1;
    }
    list = str_list(L, 2, &n);
    ok = http_nets_allowed((struct sockaddr *)&ss, lua_isnoneornil(L, 2) ? NULL : list, n);
    free(list);
    lua_pushboolean(L, ok == 1);
    return 1;
}

const luaL_Reg rt_http_lib[] = {
    {"http_tokens", l_http_tokens},
    {"http_route_bodies", l_http_route_bodies},
    {"http_callback_networks", l_http_callback_networks},
    {"http_callback_allowed", l_http_callback_allowed},
    {"http_listen", l_http_listen},
    {"http_post", l_http_post},
    {NULL, NULL}
};
