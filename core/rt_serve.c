/* rt_serve.c -- the serve loop: reads the options (session, TLS, limits),
 * listens, handles signals (SIGINT/SIGTERM stop, SIGHUP reloads), runs the
 * loop until every session is gone, and opens the module (the codec's
 * table plus the runtime's functions). Also the small helpers the rt_*.c
 * files share.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "lbridge.h"
#include "lcrypto.h"
#include "lstring.h"
#include "lsys.h"
#include "log.h"
#include "lstore.h"
#include "rt.h"
#include "rt_serve.h"
#include "rt_http.h"
#include "rt_send.h"
#include "rt_sess.h"
#include "rt_stats.h"
#include "rt_acct.h"
#include "rt_gw.h"
#include "rt_route.h"
#include "rt_outbox.h"
#include "rt_gwr.h"
#include "rt_redis.h"
#include "rt_store.h"
#include "rt_task.h"
#include "rt_trace.h"
#include "rt_timer.h"
#include "rt_watchdog.h"
#include "rt_workers.h"

static struct {
    uv_signal_t sigint, sigterm, sighup;
    uv_timer_t  log_tick;   /* the log's counts of ended windows, once a second (log_tick) */
    int         on;
    int         reload;     /* registry ref of the reload function (SIGHUP) */
    struct sigaction uv_int, uv_term;   /* libuv's handlers, which ours call */
} sig = {.reload = LUA_NOREF};

/* -- Signals and shutdown --------------------------------------------------------- */

/* SIGINT and SIGTERM, in the signal handler itself, before libuv's (which
 * only wakes the loop: a script running on the loop would keep the stop
 * waiting for its budget). The watchdog then interrupts the run under way
 * (rt_watchdog.h). Async-signal-safe: an atomic store, then libuv's
 * handler as it was installed. */
static void on_stop_signal(int signum, siginfo_t *info, void *uctx)
{
    const struct sigaction *uv = signum == SIGINT ? &sig.uv_int : &sig.uv_term;
    rt_watchdog_stop(signum);
    if (uv->sa_flags & SA_SIGINFO) uv->sa_sigaction(signum, info, uctx);
    else if (uv->sa_handler != SIG_DFL && uv->sa_handler != SIG_IGN) uv->sa_handler(signum);
}

/* Put on_stop_signal in front of the handler libuv installed for signum;
 * libuv restores the default when its signal handle closes. Returns 0 or
 * an errno value. */
static int chain_stop_signal(int signum, struct sigaction *uv)
{
    struct sigaction sa, now;
    if (sigaction(signum, NULL, &now) != 0) return errno;
    if ((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == on_stop_signal) return 0;   /* chained already */
    *uv = now;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_stop_signal;
    sa.sa_flags = SA_SIGINFO | (uv->sa_flags & SA_RESTART);
    sigfillset(&sa.sa_mask);
    return sigaction(signum, &sa, NULL) == 0 ? 0 : errno;
}

static void on_sighup(uv_signal_t *h, int signum)
{
    rt_task_t *t;
    (void)h;
    log_msg(LOG_INFO, 0, "signal %d: reloading", signum);
    if (sig.reload == LUA_NOREF || !(t = rt_task_new("reload", NULL))) return;
    lua_rawgeti(rt.L, LUA_REGISTRYINDEX, sig.reload);
    rt_task_start(t, 0);
}

/* The stop begins: the script's `stop` event runs first (sessions are
 * still bound, the store open), then every session is unbound. */
static int stop_begun;                     /* core.stopping() is true from the stop event on */

static void stop_begin(void)
{
    if (!rt.net) return;
    if (!stop_begun && !net_is_shutting_down(rt.net)) {
        stop_begun = 1;
        rt_sess_event("stop", "stop event");
    }
    if (rt.net) net_shutdown(rt.net);      /* on_drained follows */
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    log_msg(LOG_INFO, 0, "signal %d: unbinding every session and stopping", signum);
    stop_begin();
}

static void signals_close(void)
{
    if (!sig.on) return;
    sig.on = 0;
    uv_close((uv_handle_t *)&sig.sigint, NULL);
    uv_close((uv_handle_t *)&sig.sigterm, NULL);
    uv_close((uv_handle_t *)&sig.sighup, NULL);
    uv_close((uv_handle_t *)&sig.log_tick, NULL);
}

static void on_log_tick(uv_timer_t *h)
{
    (void)h;
    log_tick();
}

/* The last connection of a shutdown is gone (a refused or never bound one
 * included): stop the timers, signals and the HTTP API so the loop can end. */
static void on_drained(net_t *n, void *ud)
{
    (void)n;
    (void)ud;
    rt_http_close();
    rt_timer_close_all();
    rt_store_close();
    rt_outbox_close();
    rt_gw_close();
    rt_redis_close();
    rt_gwr_close();          /* after the link: its last answers release the Redis store's entries */
    signals_close();
}

/* The engine's state changes and closes go to the accounts index first
 * (an `up` handler already finds its session among the account's), then
 * to the session tables and handlers (rt_sess.c). */
static net_owner_t sess_owner;

static void on_state(net_t *n, sess_t *s, sess_state_t old, void *ud)
{
    rt_acct_on_state(s, old);
    sess_owner.state(n, s, old, ud);
}

static void on_closed(net_t *n, sess_t *s, const char *reason, void *ud)
{
    rt_acct_on_closed(s);
    sess_owner.closed(n, s, reason, ud);
}

/* A late answer of an upstream's (its request timed out before it came)
 * shows the link answers: rt_gw_link_answer counts it. */
static void on_unmatched(net_t *n, sess_t *s, uint32_t command_id, void *ud)
{
    rt_link_t *l;
    (void)n, (void)ud;
    if (command_id != SMPP_SUBMIT_SM_RESP && command_id != SMPP_DATA_SM_RESP && command_id != SMPP_SUBMIT_MULTI_RESP)
        return;
    if ((l = rt_gw_link_of(s)) != NULL) rt_gw_link_late(l);
}

/* An upstream link's receipts are matched by the gateway in C; every
 * other request goes to the script's handlers. */
static int on_request(net_t *n, sess_t *s, const pdu_t *req, void *ud)
{
    if (rt_gw_request(s, req)) return SESS_TAKEN;
    return sess_owner.request(n, s, req, ud);
}

/* The end of every loop turn, before output is written: the turn's writes
 * are committed, then what the turn answered goes out, and the messages
 * the commit stored are forwarded and delivered. */
static void on_turn(net_t *n, void *ud)
{
    (void)n;
    (void)ud;
    rt_store_turn();
    rt_gw_turn();
    rt_outbox_turn();
}

/* Signals: SIGINT/SIGTERM stop, SIGHUP reloads; they alone do not keep the
 * loop running; SIGPIPE is ignored. With them, the log's tick. Returns 0
 * or a libuv error. */
static int signals_open(void)
{
    static const struct { uv_signal_t *h; uv_signal_cb cb; int signum; } table[] = {
        {&sig.sigint, on_signal, SIGINT}, {&sig.sigterm, on_signal, SIGTERM}, {&sig.sighup, on_sighup, SIGHUP},
    };
    size_t i;
    int rc;
    for (i = 0; i < sizeof table / sizeof table[0]; i++)
        if ((rc = uv_signal_init(rt.loop, table[i].h)) < 0) {
            while (i-- > 0) uv_close((uv_handle_t *)table[i].h, NULL);
            return rc;
        }
    uv_timer_init(rt.loop, &sig.log_tick);
    sig.on = 1;
    if (uv_timer_start(&sig.log_tick, on_log_tick, 1000, 1000) == 0) uv_unref((uv_handle_t *)&sig.log_tick);
    for (i = 0; i < sizeof table / sizeof table[0]; i++) {
        if ((rc = uv_signal_start(table[i].h, table[i].cb, table[i].signum)) < 0) {
            signals_close();
            return rc;
        }
        uv_unref((uv_handle_t *)table[i].h);
    }
    /* a peer that closed while we write is an EPIPE for its session, not
     * the end of the process */
    signal(SIGPIPE, SIG_IGN);
    rt_watchdog_stop(0);
    if ((rc = chain_stop_signal(SIGINT, &sig.uv_int)) != 0 || (rc = chain_stop_signal(SIGTERM, &sig.uv_term)) != 0)
        log_msg(LOG_WARN, 0, "a stop signal will wait for the script run under way (sigaction: %s)", strerror(rc));
    return 0;
}

/* -- The end of the loop ------------------------------------------------------------ */

static void log_open_handle(uv_handle_t *h, void *arg)
{
    if (uv_is_closing(h)) return;
    log_msg(LOG_WARN, 0, "at exit: a %s handle is still open; closing it", uv_handle_type_name(h->type));
    uv_close(h, NULL);
    (*(int *)arg)++;
}

/* Every handle must be closed by now: any still open is a leak worth a log
 * line (and is closed); then the loop must close. Returns 0 or the libuv
 * error of uv_loop_close. */
static int loop_close(uv_loop_t *loop)
{
    int open = 0, rc;
    uv_walk(loop, log_open_handle, &open);
    uv_run(loop, UV_RUN_DEFAULT);            /* their close callbacks, pending requests */
    if ((rc = uv_loop_close(loop)) < 0)
        log_msg(LOG_ERROR, 0, "the event loop did not close: %s", uv_strerror(rc));
    return rc;
}

/* -- Serving ------------------------------------------------------------------------ */

/* The metatable of session views (rt_sess.c): serve{session_class=}, or
 * the View of lua/smpp/session.lua (fields read-only, the Session class's
 * methods). Registered when serving starts, so that loading the Lua
 * library changes no runtime state. */
static void set_session_class(lua_State *L)
{
    lua_getfield(L, 1, "session_class");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_getglobal(L, "require");
        lua_pushliteral(L, "smpp.session");
        lua_call(L, 1, 1);
        lua_getfield(L, -1, "View");
        lua_remove(L, -2);
    }
    luaL_checktype(L, -1, LUA_TTABLE);
    rt_registry_set(L, &rt.session_mt, -1);
    lua_pop(L, 1);
}

/* core.serve{ handlers = {...}, listen = { {host=, port=, side=, tls=}... },
 *             session = {...}, limits = {...}, start = fn, reload = fn,
 *             reuseport = true (a worker: listen with SO_REUSEPORT),
 *             session_class = the views' metatable, store = an open smpp.store }
 * -> true | nil, error. Runs the loop until a signal or core.shutdown()
 * ends every session. */
static int l_serve(lua_State *L)
{
    net_owner_t owner;
    rt_task_t *t;
    int i, n, rc;
    luaL_checktype(L, 1, LUA_TTABLE);
    if (rt.serving) return luaL_error(L, "smpp: already serving");
    lua_getfield(L, 1, "store");
    if (!lua_isnil(L, -1) && !lstore_get(L, -1))
        return luaL_error(L, "smpp: serve{store =} must be an open store (smpp.store.open)");
    lua_pop(L, 1);
    rt.L = L;
    rt.loop = uv_default_loop();
    lua_getfield(L, 1, "handlers");
    luaL_checktype(L, -1, LUA_TTABLE);
    rt_registry_set(L, &rt.handlers, -1);
    rt.handlers_gen++;
    /* the caller's frame lives as long as the loop: the runtime alone
     * holds the handlers, which core.set_handlers can then let go */
    lua_pushnil(L);
    lua_setfield(L, 1, "handlers");
    lua_pop(L, 1);
    set_session_class(L);
    sess_config_default(&rt.cfg);
    lua_getfield(L, 1, "session");
    if (lua_istable(L, -1)) rt_read_session_config(L, lua_gettop(L), &rt.cfg);
    lua_pop(L, 1);
    rt_sess_owner(&sess_owner);
    owner = sess_owner;
    owner.state = on_state;
    owner.closed = on_closed;
    owner.request = on_request;
    owner.drained = on_drained;
    owner.turn = on_turn;
    owner.unmatched = on_unmatched;
    {
        static net_owner_t kept;           /* the transport keeps the pointer */
        kept = owner;
        if (!(rt.net = net_new(rt.loop, &kept, NULL))) return luaL_error(L, "out of memory");
        rt_trace_apply();
    }
    lua_getfield(L, 1, "reuseport");      /* workers share the listening ports */
    net_set_reuseport(rt.net, lua_toboolean(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, 1, "limits");
    if (lua_istable(L, -1))
        net_set_limits(rt.net, (size_t)rt_opt_num(L, -1, "max_connections", 0),
                       (size_t)rt_opt_num(L, -1, "max_per_address", 0));
    lua_pop(L, 1);

    lua_getfield(L, 1, "listen");
    n = lua_istable(L, -1) ? (int)lua_objlen(L, -1) : 0;
    for (i = 1; i <= n; i++) {
        const char *host, *side;
        lua_rawgeti(L, -1, i);
        lua_getfield(L, -1, "host");
        host = lua_isstring(L, -1) ? lua_tostring(L, -1) : "127.0.0.1";
        lua_getfield(L, -2, "side");
        side = lua_isstring(L, -1) ? lua_tostring(L, -1) : "server";
        lua_getfield(L, -3, "tls");
        if (rt_send_listen(L, host, (int)rt_opt_num(L, -4, "port", 2775), side,
                           lua_istable(L, -1) ? lua_gettop(L) : 0) == 2) {
            net_shutdown(rt.net);
            loop_close(rt.loop);
            net_free(rt.net);
            rt.net = NULL;
            return 2;
        }
        lua_setfield(L, -5, "bound");     /* the port it got (a reload finds its listener by it) */
        lua_pop(L, 4);
    }
    lua_pop(L, 1);

    if ((rc = signals_open()) < 0) {
        net_shutdown(rt.net);
        loop_close(rt.loop);
        net_free(rt.net);
        rt.net = NULL;
        lua_pushnil(L);
        lua_pushfstring(L, "cannot handle signals: %s", uv_strerror(rc));
        return 2;
    }
    lua_getfield(L, 1, "reload");
    if (lua_isfunction(L, -1)) rt_registry_set(L, &sig.reload, -1);
    lua_pop(L, 1);
    lua_getfield(L, 1, "store");           /* opened by the caller, before listening */
    rt_store_start(L, lua_gettop(L));
    lua_pop(L, 1);
    rt_outbox_start(L, 1);
    rt_gw_start();
    rt.serving = 1;

    lua_getfield(L, 1, "start");
    lua_pushnil(L);
    lua_setfield(L, 1, "start");           /* (the handlers' own: not kept in the caller's args either) */
    if (lua_isfunction(L, -1) && (t = rt_task_new("start", NULL)) != NULL) rt_task_start(t, 0);
    else lua_pop(L, 1);

    /* listeners keep the loop alive until a shutdown closes them */
    uv_run(rt.loop, UV_RUN_DEFAULT);
    rt_stats_log_totals();
    on_drained(rt.net, NULL);
    rt_store_stop();
    rt_outbox_stop();
    rt_gw_stop();
    rt_timer_free_all();
    rc = loop_close(rt.loop);
    rt_task_release_all();
    rt_acct_free_all();
    net_free(rt.net);
    rt.net = NULL;
    rt.loop = NULL;
    rt.serving = 0;
    stop_begun = 0;
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "the event loop did not close: %s", uv_strerror(rc));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_shutdown(lua_State *L)
{
    (void)L;
    stop_begin();
    return 0;
}

/* core.stopping() -> true once a signal or core.shutdown() started the
 * stop: loops that reconnect or wait for new work end instead (a new
 * connection is refused from then on, see net_shutdown). */
static int l_stopping(lua_State *L)
{
    lua_pushboolean(L, rt.net && (stop_begun || net_is_shutting_down(rt.net)));
    return 1;
}

/* core.log(level, message [, session]) */
static int l_log(lua_State *L)
{
    int level = log_level_parse(luaL_checkstring(L, 1));
    const char *msg = luaL_checkstring(L, 2);
    uint64_t id = 0;
    if (lua_istable(L, 3)) {
        lua_getfield(L, 3, "id");
        id = (uint64_t)luaL_checknumber(L, -1);
    } else if (!lua_isnoneornil(L, 3)) {
        id = (uint64_t)luaL_checknumber(L, 3);
    }
    if (level < 0) return luaL_error(L, "smpp.log: unknown level '%s'", lua_tostring(L, 1));
    log_msg((log_level_t)level, id, "%s", msg);
    return 0;
}

/* core.log_config(level, "text" | "json" [, repeat window in seconds]) */
static int l_log_config(lua_State *L)
{
    int level = log_level_parse(luaL_checkstring(L, 1));
    if (level < 0) return luaL_error(L, "unknown log level '%s'", lua_tostring(L, 1));
    log_set_level((log_level_t)level);
    log_set_json(strcmp(luaL_optstring(L, 2, "text"), "json") == 0);
    if (lua_isnumber(L, 3)) log_set_repeat_window((unsigned)(lua_tonumber(L, 3) * 1000));
    rt_trace_apply();
    return 0;
}

/* core.now() -> the loop clock in milliseconds; core.clock() -> in seconds. */
static int l_now(lua_State *L)
{
    lua_pushnumber(L, rt.loop ? (double)uv_now(rt.loop) : 0);
    return 1;
}

static int l_clock(lua_State *L)
{
    lua_pushnumber(L, rt_clock());
    return 1;
}

static const luaL_Reg serve_lib[] = {
    {"serve", l_serve},
    {"shutdown", l_shutdown},
    {"stopping", l_stopping},
    {"log", l_log},
    {"log_config", l_log_config},
    {"now", l_now},
    {"clock", l_clock},
    {NULL, NULL}
};

int luaopen_smpp_core(lua_State *L)
{
    rt_uptime_start();
    luaopen_smpp_codec(L);                 /* decode, encode, the tables... */
    luaL_register(L, NULL, serve_lib);
    luaL_register(L, NULL, rt_sess_lib);
    luaL_register(L, NULL, rt_send_lib);
    luaL_register(L, NULL, rt_timer_lib);
    luaL_register(L, NULL, rt_stats_lib);
    luaL_register(L, NULL, rt_http_lib);
    luaL_register(L, NULL, rt_task_lib);
    luaL_register(L, NULL, rt_budget_lib);
    luaL_register(L, NULL, rt_store_lib);
    luaL_register(L, NULL, rt_acct_lib);
    luaL_register(L, NULL, rt_outbox_lib);
    luaL_register(L, NULL, rt_gw_lib);
    luaL_register(L, NULL, rt_gw_store_lib);
    luaL_register(L, NULL, rt_gw_answer_lib);
    luaL_register(L, NULL, rt_route_lib);
    luaL_register(L, NULL, rt_workers_lib);
    luaL_register(L, NULL, rt_redis_lib);
    luaL_register(L, NULL, rt_cluster_lib);
    luaL_register(L, NULL, rt_gwr_lib);
    lcrypto_register(L);
    lsys_register(L);
    lstring_push(L);                       /* the safe string functions (core/lstring.h) */
    lua_setfield(L, -2, "lstring");
    return 1;
}
