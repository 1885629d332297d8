/* rt_send.c -- the Lua functions that act on sessions: send, connect,
 * listen, unlisten, unbind, close, the session list and token buckets.
 *
 * Who owns what: the transport owns every sess_t; these functions find one
 * by id (rt_sess__arg) and never keep the pointer. A task waiting on a send
 * is the `arg` of its window entry, which the engine completes exactly once
 * (response, timeout, nack or close); a task waiting on a connect is held
 * by its connecting_t until on_connected. Token buckets (core.throttle)
 * live as long as the runtime: sessions only point at them. Waits register
 * and yield in one step (rt_task.h). Session tables, the engine callbacks
 * and answers to requests are rt_sess.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbridge.h"
#include "log.h"
#include "rt.h"
#include "rt_send.h"
#include "rt_sess.h"
#include "rt_sess_int.h"
#include "rt_task.h"

typedef struct bucket_s {
    char        key[64];
    tb_t        tb;
    struct bucket_s *next;
} bucket_t;

static bucket_t *buckets;
static pdu_t send_pdu;   /* one loop thread: scratch PDU */

/* -- Sending ---------------------------------------------------------------------------- */

/* A send completed: resume its task with the response or nil, token[, status]. */
static void on_send_done(sess_t *s, void *arg, const pdu_t *resp, int err)
{
    rt_task_t *t = arg;
    (void)s;
    if (!err) {
        lbridge_push_pdu(t->co, resp);
        rt_task_wake(t, 1);
        return;
    }
    lua_pushnil(t->co);
    lua_pushstring(t->co, sess_strerror(err));
    if (err == SESS_ENACK && resp) {
        lua_pushnumber(t->co, resp->command_status);
        rt_task_wake(t, 3);
    } else {
        rt_task_wake(t, 2);
    }
}

/* core.send(session, pdu) -> response | nil, err [, status]. A request
 * waits for its response: the task yields here and resumes with the
 * response table, or nil, "timeout" | "closed" | "nack" (status: the
 * generic_nack's) | "bad response". What fails at once for the
 * session's sake (window full, not allowed in this state, output full)
 * returns nil, err without waiting; a PDU the encoder refuses (a bad
 * field, a response command) is the caller's mistake and raises. A PDU
 * with no response (generic_nack, outbind, alert_notification) returns
 * true once queued. */
static int l_send(lua_State *L)
{
    sess_t *s = rt_sess__arg(L);
    rt_task_t *t = NULL;
    const char *err;
    long seq;
    if ((err = lbridge_check_pdu(L, 2, &send_pdu, NULL)) != NULL)
        return luaL_error(L, "smpp: send: %s", err);
    if (send_pdu.cmd->resp_id) t = rt_task_current(L, "session:send");
    if (!s) {
        lua_pushnil(L);
        lua_pushliteral(L, "closed");
        return 2;
    }
    seq = sess_send(s, &send_pdu, t ? on_send_done : NULL, t, uv_now(rt.loop));
    net_touch(s);
    if (seq == SESS_EINVAL) return luaL_error(L, "smpp: send: %s", sess_last_error(s));   /* misuse: raise */
    if (seq < 0) {
        lua_pushnil(L);
        lua_pushstring(L, sess_strerror((int)seq));
        return 2;
    }
    if (!t) {
        lua_pushboolean(L, 1);
        return 1;
    }
    rt_task_wait(t, "send");
    return lua_yield(L, 0);
}

/* -- Connecting and listening ------------------------------------------------------------ */

/* A connect in progress: the waiting task, and the host for the error. */
typedef struct connecting_s {
    rt_task_t *t;
    char       host[256];
} connecting_t;

/* nil, token, prose for a connection that failed with libuv's `status`:
 * the token from SESS_ERRNO_MAP (smpp.E), the prose for people. */
static int push_connect_error(lua_State *L, int status, const char *host)
{
    int resolver = strncmp(uv_err_name(status), "EAI_", 4) == 0;
    int code = resolver ? SESS_ERESOLVE
             : status == UV_ECONNREFUSED ? SESS_ECONNREFUSED
             : status == UV_ETIMEDOUT ? SESS_ETIMEOUT
             : status == UV_ENETUNREACH || status == UV_EHOSTUNREACH ? SESS_EUNREACH
             : sess_err_index(status) >= 0 ? status : SESS_ECONNECT;
    lua_pushnil(L);
    lua_pushstring(L, sess_strerror(code));
    if (resolver) lua_pushfstring(L, "cannot resolve host '%s': %s", host, uv_strerror(status));
    else if (sess_err_index(status) >= 0) lua_pushstring(L, sess_strerror(status));
    else lua_pushstring(L, uv_strerror(status));
    return 3;
}

static void on_connected(net_t *n, sess_t *s, int status, void *arg)
{
    connecting_t *w = arg;
    rt_task_t *t = w->t;
    (void)n;
    if (status == NET_ETLS) {           /* nil, "tls" (smpp.E.TLS), why */
        lua_pushnil(t->co);
        lua_pushstring(t->co, "tls");
        lua_pushstring(t->co, net_tls_detail());
        free(w);
        rt_task_wake(t, 3);
        return;
    }
    if (status < 0 || !s) {
        int nres = push_connect_error(t->co, status < 0 ? status : SESS_ECONNECT, w->host);
        free(w);
        rt_task_wake(t, nres);
        return;
    }
    free(w);
    rt_sess_push(t->co, sess_id(s));
    rt_task_wake(t, 1);
}

/* core.connect(host, port [, side [, session options [, tls options]]])
 * -> session table (state OPEN) | nil, token, prose: waits for the
 * connection (with TLS, for its handshake and the server's verification);
 * the token is one of SESS_ERRNO_MAP's (connect refused, resolve, timeout,
 * unreachable, connect failed) or "tls" (the TLS files did not load, the
 * handshake failed), the prose for people. side "client" (default) is an ESME connecting to an SMSC;
 * "server" is the SMSC side opening a connection to send outbind. */
static int l_connect(lua_State *L)
{
    const char *host = luaL_checkstring(L, 1);
    int port = (int)luaL_checknumber(L, 2);
    const char *side = luaL_optstring(L, 3, "client");
    rt_task_t *t = rt_task_current(L, "smpp.connect");
    sess_config_t cfg = rt.cfg;
    connecting_t *w;
    int rc;
    if (!rt.net) return luaL_error(L, "smpp.connect: the runtime is not running");
    if (!(w = malloc(sizeof *w))) return luaL_error(L, "smpp.connect: out of memory");
    w->t = t;
    snprintf(w->host, sizeof w->host, "%s", host);
    if (lua_istable(L, 4)) rt_read_session_config(L, 4, &cfg);
    if (lua_istable(L, 5)) {             /* TLS: the SSL keeps its own reference to the context */
        tls_ctx_t *ctx = rt_read_tls(L, 5, 0);
        const char *name = rt_opt_str(L, 5, "host");
        if (!ctx) {                      /* nil, "tls", why: a CA, cert or key that did not load */
            free(w);
            lua_pushnil(L);
            lua_insert(L, -2);
            lua_pushstring(L, "tls");
            lua_insert(L, -2);
            return 3;
        }
        rc = net_connect_tls(rt.net, host, port, strcmp(side, "server") == 0 ? SESS_SMSC : SESS_ESME,
                             &cfg, ctx, name ? name : host, on_connected, w);
        tls_ctx_free(ctx);
    } else {
        rc = net_connect(rt.net, host, port, strcmp(side, "server") == 0 ? SESS_SMSC : SESS_ESME,
                         &cfg, on_connected, w);
    }
    if (rc < 0) {
        free(w);
        return push_connect_error(L, rc, host);
    }
    rt_task_wait(t, "connect");
    return lua_yield(L, 0);
}

int rt_send_listen(lua_State *L, const char *host, int port, const char *side, int tls_idx)
{
    int bound = 0, outbind = strcmp(side, "outbind") == 0, rc;
    tls_ctx_t *ctx = NULL;
    char name[300];
    if (tls_idx && !(ctx = rt_read_tls(L, tls_idx, 1))) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    rc = net_listen_tls(rt.net, host, port, outbind ? SESS_ESME : SESS_SMSC, &rt.cfg, ctx, &bound);
    if (rc < 0) {
        net_addr_format(name, sizeof name, host, port);
        lua_pushnil(L);
        lua_pushfstring(L, "cannot listen on %s: %s", name, uv_strerror(rc));
        return 2;
    }
    net_addr_format(name, sizeof name, host, bound);
    log_msg(LOG_INFO, 0, "listening on %s%s%s", name, outbind ? " for outbind" : "", ctx ? " (TLS)" : "");
    lua_pushnumber(L, bound);
    return 1;
}

/* core.listen(host, port [, side [, tls]]) -> bound port | nil, err */
static int l_listen(lua_State *L)
{
    if (!rt.net) return luaL_error(L, "smpp: the runtime is not running");
    return rt_send_listen(L, luaL_checkstring(L, 1), (int)luaL_checknumber(L, 2),
                          luaL_optstring(L, 3, "server"), lua_istable(L, 4) ? 4 : 0);
}

/* core.unlisten(host, port) -> true | nil, err */
static int l_unlisten(lua_State *L)
{
    const char *host = luaL_checkstring(L, 1);
    int port = (int)luaL_checknumber(L, 2);
    char name[300];
    net_addr_format(name, sizeof name, host, port);
    if (!rt.net || net_unlisten(rt.net, host, port) < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "not listening on %s", name);
        return 2;
    }
    log_msg(LOG_INFO, 0, "stopped listening on %s", name);
    lua_pushboolean(L, 1);
    return 1;
}

/* core.tls_check(tls [, client]) -> true | nil, err: the TLS files load as
 * a listener's (or, client, an upstream link's) context would; needs no
 * running runtime (smppgw check). */
static int l_tls_check(lua_State *L)
{
    tls_ctx_t *ctx;
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!(ctx = rt_read_tls(L, 1, !lua_toboolean(L, 2)))) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    tls_ctx_free(ctx);
    lua_pushboolean(L, 1);
    return 1;
}

/* core.listen_tls(host, port, tls) -> true | nil, err: the TLS listener on
 * host:port takes a context made from tls now (a certificate rotated by a
 * reload); the connections it accepted keep theirs. */
static int l_listen_tls(lua_State *L)
{
    const char *host = luaL_checkstring(L, 1);
    int port = (int)luaL_checknumber(L, 2);
    tls_ctx_t *ctx;
    char name[300];
    luaL_checktype(L, 3, LUA_TTABLE);
    if (!rt.net) return luaL_error(L, "smpp: the runtime is not running");
    if (!(ctx = rt_read_tls(L, 3, 1))) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    net_addr_format(name, sizeof name, host, port);
    if (net_listen_set_tls(rt.net, host, port, ctx) < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "no TLS listener on %s", name);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* -- Sessions ----------------------------------------------------------------------------- */

static int l_unbind(lua_State *L)
{
    sess_t *s = rt_sess__arg(L);
    int rc;
    if (!s) { lua_pushnil(L); lua_pushliteral(L, "closed"); return 2; }
    rc = sess_unbind(s, uv_now(rt.loop));
    net_touch(s);
    if (rc) { lua_pushnil(L); lua_pushstring(L, sess_strerror(rc)); return 2; }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_close(lua_State *L)
{
    sess_t *s = rt_sess__arg(L);
    if (!s) { lua_pushnil(L); lua_pushliteral(L, "closed"); return 2; }
    sess_close(s, "closed by the script");
    net_touch(s);
    lua_pushboolean(L, 1);
    return 1;
}

static void push_sessions_cb(sess_t *s, void *arg)
{
    lua_State *L = arg;
    rt_sess_push(L, sess_id(s));
    if (lua_istable(L, -1)) lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
    else lua_pop(L, 1);
}

/* core.sessions() -> array of the live session tables. */
static int l_sessions(lua_State *L)
{
    lua_newtable(L);
    if (rt.net) net_foreach(rt.net, push_sessions_cb, L);
    return 1;
}

static int l_session(lua_State *L)
{
    rt_sess_push(L, (uint64_t)luaL_checknumber(L, 1));
    return 1;
}

/* The token bucket named key, set to (rate, burst): made on first use,
 * set up again when the account's limits changed (NULL without memory). */
static bucket_t *bucket_get(const char *key, double rate, double burst)
{
    bucket_t *b;
    for (b = buckets; b && strcmp(b->key, key) != 0; b = b->next) {}
    if (!b) {
        if (!(b = calloc(1, sizeof *b))) return NULL;
        snprintf(b->key, sizeof b->key, "%s", key);
        b->next = buckets;
        buckets = b;
        tb_init(&b->tb, rate, burst, uv_now(rt.loop));
    } else if (b->tb.rate != rate || (burst > 0 && b->tb.burst != burst)) {
        tb_init(&b->tb, rate, burst, uv_now(rt.loop));
    }
    return b;
}

/* core.throttle(session, key, rate, burst): the session's submit_sm,
 * submit_multi and data_sm share the token bucket named `key`. */
static int l_throttle(lua_State *L)
{
    sess_t *s = rt_sess__arg(L);
    const char *key = luaL_checkstring(L, 2);
    double rate = luaL_optnumber(L, 3, 0), burst = luaL_optnumber(L, 4, 0);
    bucket_t *b;
    if (!s) return 0;
    if (!(b = bucket_get(key, rate, burst))) return luaL_error(L, "out of memory");
    sess_set_throttle(s, rate > 0 ? &b->tb : NULL);
    return 0;
}

/* core.throttle_take(key, rate, burst) -> true | false: one token from
 * the bucket named key (the one core.throttle gives an account's
 * sessions), for messages that come another way (POST /send). */
static int l_throttle_take(lua_State *L)
{
    const char *key = luaL_checkstring(L, 1);
    double rate = luaL_optnumber(L, 2, 0), burst = luaL_optnumber(L, 3, 0);
    bucket_t *b;
    if (!rt.loop) return luaL_error(L, "smpp: the runtime is not running");
    if (rate <= 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    if (!(b = bucket_get(key, rate, burst))) return luaL_error(L, "out of memory");
    lua_pushboolean(L, tb_take(&b->tb, uv_now(rt.loop)));
    return 1;
}

const luaL_Reg rt_send_lib[] = {
    {"send", l_send},
    {"connect", l_connect},
    {"listen", l_listen},
    {"unlisten", l_unlisten},
    {"listen_tls", l_listen_tls},
    {"tls_check", l_tls_check},
    {"unbind", l_unbind},
    {"close", l_close},
    {"sessions", l_sessions},
    {"session", l_session},
    {"throttle", l_throttle},
    {"throttle_take", l_throttle_take},
    {NULL, NULL}
};
