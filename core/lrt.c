/* lrt.c -- the Lua runtime: sessions as Lua tables, one coroutine ("task")
 * per incoming request, timer or event, waits (send, sleep, connect) that
 * yield the task until the loop resumes it, and the serve loop itself.
 *
 * Who owns what: the runtime owns every task (a registry ref to its
 * coroutine, freed on exactly one path: task_done). A task waiting on a send
 * is the `arg` of that window entry; the engine completes it exactly once
 * (response, timeout, nack or close), so the task outlives its waits.
 * Session tables are referenced from registry[sessions][id] while the
 * session lives; scripts find sessions only through that table, by id, so
 * no Lua value ever points at a freed session.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lbridge.h"
#include "http.h"
#include "lrt.h"
#include "log.h"
#include "net.h"

typedef struct task_s {
    lua_State  *co;
    int         ref;        /* registry ref of the coroutine */
    uint64_t    sess_id;    /* whose request this answers (0: none) */
    uint32_t    seq;        /* request sequence_number to answer (0: none) */
    uint32_t    cmd_id;     /* request command_id */
    const char *what;       /* for log lines: "submit_sm handler", "timer" */
    int         waiting;    /* a wait was registered during this resume */
    void       *http;       /* the HTTP request it answers (http.h), or NULL */
} task_t;

typedef struct ltimer_s {
    uv_timer_t  h;
    uint64_t    id;
    int         fn_ref;     /* LUA_NOREF for a sleep */
    task_t     *sleeper;    /* the task a sleep resumes */
    int         repeat;
    int         linked;     /* on rt.timers */
    struct ltimer_s *next, *prev;
} ltimer_t;

typedef struct bucket_s {
    char        key[64];
    tb_t        tb;
    struct bucket_s *next;
} bucket_t;

static struct {
    lua_State  *L;
    net_t      *net;
    uv_loop_t  *loop;
    int         handlers;   /* registry refs */
    int         sessions;
    int         tasks;      /* thread -> lightuserdata task_t */
    int         session_mt;
    sess_config_t cfg;
    uv_signal_t sigint, sigterm, sighup;
    int         signals_on;
    int         reload;     /* registry ref of the reload function (SIGHUP) */
    int         timer_ids;  /* timer id -> lightuserdata ltimer_t, for cancel */
    int         http_fn;    /* registry ref of the HTTP request handler */
    uint64_t    script_errors;
    /* the budget of one resume of a task (0 = none), and its state */
    double      budget_instr, budget_ms, memory_kb;
    task_t     *running;
    uint64_t    resume_ns;
    double      resume_instr;
    uint64_t    budget_stops;
    int         waiting;    /* token -> lightuserdata task_t, for suspend/wake */
    uint64_t    next_token;
    ltimer_t   *timers;
    uint64_t    next_timer_id;
    bucket_t   *buckets;
    int         serving;
} rt;

static pdu_t send_pdu, resp_pdu;

/* -- Helpers --------------------------------------------------------------------- */

static void registry_table(lua_State *L, int *ref)
{
    if (*ref == LUA_NOREF) {
        lua_newtable(L);
        *ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, *ref);
}

/* Make *ref point at the value at idx, releasing what it held: the
 * runtime's single slots (handlers, session class, HTTP handler). */
static void registry_set(lua_State *L, int *ref, int idx)
{
    if (*ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, *ref);
    lua_pushvalue(L, idx);
    *ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Push the session table of id `id` (nil if gone). */
static void push_session(lua_State *L, uint64_t id)
{
    registry_table(L, &rt.sessions);
    lua_rawgeti(L, -1, (int)id);
    lua_remove(L, -2);
}

static uint64_t check_id(lua_State *L, int idx)
{
    if (lua_istable(L, idx)) {
        lua_getfield(L, idx, "id");
        idx = -1;
    }
    return (uint64_t)luaL_checknumber(L, idx);
}

/* The session of argument 1 (a session table or an id), or NULL. */
static sess_t *arg_session(lua_State *L)
{
    uint64_t id = check_id(L, 1);
    return rt.net ? net_find(rt.net, id) : NULL;
}

static const char *bind_type_name(sess_state_t st)
{
    switch (st) {
    case SESS_BOUND_TX: return "transmitter";
    case SESS_BOUND_RX: return "receiver";
    case SESS_BOUND_TRX: return "transceiver";
    default: return NULL;
    }
}

static uint32_t status_by_name(const char *name, int *found)
{
    size_t i;
    uint32_t v;
    const char *n;
    for (i = 0; (n = pdu_status_at(i, &v)) != NULL; i++)
        if (strcmp(n, name) == 0) { *found = 1; return v; }
    *found = 0;
    return SMPP_ESME_RSYSERR;
}

/* -- Tasks ------------------------------------------------------------------------ */

/* Finished coroutines are kept for reuse: a new thread, its registry ref
 * and its entry in the task map cost more than the handler itself. */
#define TASK_POOL 256
static task_t *task_pool[TASK_POOL];
static int task_pooled;

/* A new task whose coroutine has nothing on its stack yet. */
static task_t *task_new(const char *what)
{
    lua_State *L = rt.L;
    task_t *t;
    if (task_pooled > 0) {
        t = task_pool[--task_pooled];
        t->what = what;
        t->sess_id = 0;
        t->seq = t->cmd_id = 0;
        t->waiting = 0;
        t->http = NULL;
        return t;
    }
    if (!(t = calloc(1, sizeof *t))) return NULL;
    t->co = lua_newthread(L);
    t->ref = luaL_ref(L, LUA_REGISTRYINDEX);   /* pops the thread */
    t->what = what;
    registry_table(L, &rt.tasks);
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
    lua_pushlightuserdata(L, t);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    return t;
}

/* The task is over. `reusable`: its function returned normally, so the
 * coroutine can run another function. */
static void task_done(task_t *t, int reusable)
{
    lua_State *L = rt.L;
    if (reusable && task_pooled < TASK_POOL && lua_status(t->co) == 0) {
        lua_settop(t->co, 0);
        task_pool[task_pooled++] = t;
        return;
    }
    registry_table(L, &rt.tasks);
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
    free(t);
}

/* Answer the task's request (if it has one and its session still lives). */
static void task_answer(task_t *t, uint32_t status, int fields_idx)
{
    sess_t *s;
    pdu_t *body = NULL;
    if (!t->seq || !rt.net || !(s = net_find(rt.net, t->sess_id))) return;
    if (fields_idx) {
        const pdu_cmd_t *req = pdu_cmd_find(t->cmd_id);
        const char *err = lbridge_check_pdu(t->co, fields_idx, &resp_pdu, pdu_cmd_find(req->resp_id));
        if (err) {
            log_msg(LOG_ERROR, t->sess_id, "%s returned a bad response: %s; answering ESME_RSYSERR",
                    t->what, err);
            status = SMPP_ESME_RSYSERR;
        } else {
            body = &resp_pdu;
        }
    }
    sess_respond(s, t->seq, body, status, uv_now(rt.loop));
    t->seq = 0;
    net_touch(s);
}

static void task_fail(task_t *t, const char *msg)
{
    rt.script_errors++;
    log_msg(LOG_ERROR, t->sess_id, "%s failed: %s%s", t->what, msg,
            t->seq ? " (answered ESME_RSYSERR)" : "");
    task_answer(t, SMPP_ESME_RSYSERR, 0);
    if (t->http) {
        static const char body[] = "{\"error\":\"internal error (see the log)\"}";
        http_respond(t->http, 500, "application/json", body, sizeof body - 1);
        t->http = NULL;
    }
    task_done(t, 0);
}

/* The task's function returned: its results are the answer. */
static void task_finish(task_t *t)
{
    lua_State *co = t->co;
    int n = lua_gettop(co), fields = 0, found = 1;
    uint32_t status = SMPP_ESME_ROK;
    if (t->http) {                      /* status, content type, body */
        size_t len = 0;
        const char *body = n >= 3 ? lua_tolstring(co, 3, &len) : NULL;
        http_respond(t->http, n >= 1 && lua_isnumber(co, 1) ? (int)lua_tonumber(co, 1) : 500,
                     n >= 2 && lua_isstring(co, 2) ? lua_tostring(co, 2) : "text/plain",
                     body ? body : "", body ? len : 0);
        t->http = NULL;
        task_done(t, 1);
        return;
    }
    if (t->seq) {
        if (n >= 1 && lua_type(co, 1) == LUA_TNUMBER) {
            status = (uint32_t)lua_tonumber(co, 1);
            if (n >= 2 && lua_istable(co, 2)) fields = 2;
            else if (n >= 2 && !lua_isnil(co, 2)) found = 0;
        } else if (n >= 1 && lua_type(co, 1) == LUA_TSTRING) {
            status = status_by_name(lua_tostring(co, 1), &found);
            if (n >= 2 && lua_istable(co, 2)) fields = 2;
        } else if (n >= 1 && lua_istable(co, 1)) {
            fields = 1;
        } else if (n >= 1 && !lua_isnil(co, 1)) {
            found = 0;
        }
        if (!found) {
            char msg[128];
            snprintf(msg, sizeof msg, "bad return value (%s, %s): expected a status and a table of fields",
                     luaL_typename(co, 1), n >= 2 ? luaL_typename(co, 2) : "nothing");
            task_fail(t, msg);
            return;
        }
        task_answer(t, status, fields);
    }
    task_done(t, 1);
}

/* -- Script budget -------------------------------------------------------------
 * A count hook runs every HOOK_STEP VM instructions while a task runs and
 * raises an error in it once the resume used more than its budget of
 * instructions or milliseconds, or the Lua heap passed its ceiling. LuaJIT
 * does not run hooks inside compiled traces (without LUAJIT_ENABLE_CHECKHOOK),
 * so while a budget is set the JIT compiler is off (lua/smpp/server.lua
 * turns it off unless the config keeps it): then every loop is interpreted
 * and stopped. With scripts.jit = true a loop that the JIT compiled is not. */
#define HOOK_STEP 10000

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    task_t *t = rt.running;
    (void)ar;
    if (!t || t->co != L) return;              /* not a task's code (loading, module init) */
    rt.resume_instr += HOOK_STEP;
    if (rt.budget_instr > 0 && rt.resume_instr > rt.budget_instr) {
        rt.budget_stops++;
        luaL_error(L, "script budget exceeded: more than %.0f instructions in one run", rt.budget_instr);
    }
    if (rt.budget_ms > 0 && (double)(uv_hrtime() - rt.resume_ns) / 1e6 > rt.budget_ms) {
        rt.budget_stops++;
        luaL_error(L, "script budget exceeded: ran longer than %.0f ms without waiting", rt.budget_ms);
    }
    if (rt.memory_kb > 0 && lua_gc(L, LUA_GCCOUNT, 0) > rt.memory_kb) {
        lua_gc(L, LUA_GCCOLLECT, 0);
        if (lua_gc(L, LUA_GCCOUNT, 0) > rt.memory_kb) {
            rt.budget_stops++;
            luaL_error(L, "script memory ceiling exceeded: Lua heap above %.0f KiB", rt.memory_kb);
        }
    }
}

/* core.set_budget(instructions, ms, memory_mb): per resume of a task; 0 = no limit. */
static int l_set_budget(lua_State *L)
{
    rt.budget_instr = luaL_optnumber(L, 1, 0);
    rt.budget_ms = luaL_optnumber(L, 2, 0);
    rt.memory_kb = luaL_optnumber(L, 3, 0) * 1024;
    if (rt.budget_instr > 0 || rt.budget_ms > 0 || rt.memory_kb > 0)
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, HOOK_STEP);
    else
        lua_sethook(L, NULL, 0, 0);
    return 0;
}

/* Resume `t` with the `nargs` values on top of its stack. */
static void task_resume(task_t *t, int nargs)
{
    int rc;
    task_t *outer = rt.running;                /* a resume may happen inside another's C call */
    uint64_t outer_ns = rt.resume_ns;
    double outer_instr = rt.resume_instr;
    t->waiting = 0;
    rt.running = t;
    rt.resume_ns = uv_hrtime();
    rt.resume_instr = 0;
    rc = lua_resume(t->co, nargs);
    rt.running = outer;
    rt.resume_ns = outer_ns;
    rt.resume_instr = outer_instr;
    if (rc == LUA_YIELD) {
        if (!t->waiting) task_fail(t, "yielded outside an smpp wait (send, sleep, connect)");
        else lua_settop(t->co, 0);
        return;
    }
    if (rc != 0) {
        const char *msg = lua_tostring(t->co, -1);
        luaL_traceback(rt.L, t->co, msg ? msg : "error object is not a string", 0);
        task_fail(t, lua_tostring(rt.L, -1));
        lua_pop(rt.L, 1);
        return;
    }
    task_finish(t);
}

/* The task running in L, or a Lua error: waits need one. */
static task_t *current_task(lua_State *L, const char *fn)
{
    task_t *t;
    if (lua_pushthread(L)) {
        lua_pop(L, 1);
        luaL_error(L, "smpp: %s must be called from a handler, timer or event task", fn);
    }
    registry_table(L, &rt.tasks);
    lua_pushvalue(L, -2);
    lua_rawget(L, -2);
    t = lua_touserdata(L, -1);
    lua_pop(L, 3);
    if (!t || t->co != L)
        luaL_error(L, "smpp: %s must be called from a handler, timer or event task, "
                      "not from a coroutine of your own", fn);
    return t;
}

/* Run `handler` (on rt.L's top) in a new task with the session of `s` and
 * `nextra` more values from rt.L's top as arguments. */
static void spawn(const char *what, sess_t *s, int nextra, uint32_t seq, uint32_t cmd_id)
{
    lua_State *L = rt.L;
    task_t *t = task_new(what);
    int nargs = 0;
    if (!t) {
        lua_pop(L, nextra + 1);
        return;
    }
    t->sess_id = s ? sess_id(s) : 0;
    t->seq = seq;
    t->cmd_id = cmd_id;
    lua_xmove(L, t->co, nextra + 1);           /* the handler, then the extras */
    if (s) {
        push_session(t->co, sess_id(s));
        lua_insert(t->co, 2);
        nargs++;
    }
    task_resume(t, nargs + nextra);
}

/* Push handlers[name] (or nil). */
static int push_handler(const char *name)
{
    registry_table(rt.L, &rt.handlers);
    lua_getfield(rt.L, -1, name);
    lua_remove(rt.L, -2);
    if (lua_isfunction(rt.L, -1)) return 1;
    lua_pop(rt.L, 1);
    return 0;
}

/* -- Engine callbacks ------------------------------------------------------------- */

static void set_field_str(lua_State *L, const char *k, const char *v)
{
    if (v) lua_pushstring(L, v);
    else lua_pushnil(L);
    lua_setfield(L, -2, k);
}

static void on_opened(net_t *n, sess_t *s, void *ud)
{
    lua_State *L = rt.L;
    (void)n;
    (void)ud;
    registry_table(L, &rt.sessions);
    lua_createtable(L, 0, 8);
    lua_pushnumber(L, (double)sess_id(s));
    lua_setfield(L, -2, "id");
    set_field_str(L, "side", sess_side(s) == SESS_SMSC ? "server" : "client");
    set_field_str(L, "remote", net_remote(s));
    set_field_str(L, "local", net_local(s));
    set_field_str(L, "state", sess_state_name(sess_state(s)));
    set_field_str(L, "system_id", "");
    lua_newtable(L);
    lua_setfield(L, -2, "ctx");
    if (rt.session_mt != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, rt.session_mt);
        lua_setmetatable(L, -2);
    }
    lua_rawseti(L, -2, (int)sess_id(s));
    lua_pop(L, 1);
    if (push_handler("connect")) spawn("connect event", s, 0, 0, 0);
}

static void on_request(net_t *n, sess_t *s, const pdu_t *req, void *ud)
{
    lua_State *L = rt.L;
    const char *name = req->cmd->name;
    int found = push_handler(name);
    (void)n;
    (void)ud;
    if (!found && (req->command_id == SMPP_BIND_TRANSMITTER || req->command_id == SMPP_BIND_RECEIVER
                   || req->command_id == SMPP_BIND_TRANSCEIVER))
        found = push_handler("bind");      /* one handler for the three binds */
    if (!found) {
        if (req->cmd->resp_id) {
            log_msg(LOG_INFO, sess_id(s), "no handler for %s: ESME_RINVCMDID", name);
            sess_respond(s, req->sequence_number, NULL, SMPP_ESME_RINVCMDID, uv_now(rt.loop));
        } else if (req->command_id == SMPP_OUTBIND) {
            sess_close(s, "outbind refused: no outbind handler");
        }
        return;
    }
    lbridge_push_pdu(L, req);
    spawn(name, s, 1, req->cmd->resp_id ? req->sequence_number : 0, req->command_id);
}

static void session_down(sess_t *s);

static void on_state(net_t *n, sess_t *s, sess_state_t old, void *ud)
{
    lua_State *L = rt.L;
    sess_state_t st = sess_state(s);
    (void)n;
    (void)ud;
    push_session(L, sess_id(s));
    if (lua_istable(L, -1)) {
        set_field_str(L, "state", sess_state_name(st));
        if (bind_type_name(st)) {
            set_field_str(L, "bind_type", bind_type_name(st));
            set_field_str(L, "system_id", sess_system_id(s));
        }
    }
    lua_pop(L, 1);
    if (bind_type_name(st) && !bind_type_name(old) && old != SESS_UNBINDING && push_handler("up"))
        spawn("up event", s, 0, 0, 0);
    if (st == SESS_CLOSED) session_down(s);
}

static void close_timers(void);

/* The session is over (state CLOSED; its socket may linger a moment):
 * mark its table and run down(session, reason) if it had been bound. */
static void session_down(sess_t *s)
{
    lua_State *L = rt.L;
    int was_up;
    push_session(L, sess_id(s));
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    lua_getfield(L, -1, "bind_type");
    was_up = !lua_isnil(L, -1);
    lua_pop(L, 1);
    set_field_str(L, "close_reason", sess_close_reason(s));
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "closed");
    if (was_up && push_handler("down")) {
        task_t *t = task_new("down event");
        if (t) {
            lua_xmove(L, t->co, 1);                /* handler */
            lua_pushvalue(L, -1);
            lua_xmove(L, t->co, 1);                /* session */
            lua_pushstring(t->co, sess_close_reason(s));
            task_resume(t, 2);
        }
    }
    lua_pop(L, 1);
}

static void on_closed(net_t *n, sess_t *s, const char *reason, void *ud)
{
    lua_State *L = rt.L;
    (void)ud;
    (void)reason;
    registry_table(L, &rt.sessions);
    lua_pushnil(L);
    lua_rawseti(L, -2, (int)sess_id(s));
    lua_pop(L, 1);
}

/* The last connection of a shutdown is gone (a refused or never bound one
 * included): stop the timers and the HTTP API so the loop can end. */
static void on_drained(net_t *n, void *ud)
{
    (void)n;
    (void)ud;
    close_timers();
}

static const net_owner_t owner = {on_opened, on_request, on_state, on_closed, on_drained};

/* -- Waits ---------------------------------------------------------------------------- */

/* A send completed: resume its task with the response or nil, token[, status]. */
static void on_send_done(sess_t *s, void *arg, const pdu_t *resp, int err)
{
    task_t *t = arg;
    (void)s;
    if (!err) {
        lbridge_push_pdu(t->co, resp);
        task_resume(t, 1);
        return;
    }
    lua_pushnil(t->co);
    lua_pushstring(t->co, sess_strerror(err));
    if (err == SESS_ENACK && resp) {
        lua_pushnumber(t->co, resp->command_status);
        task_resume(t, 3);
    } else {
        task_resume(t, 2);
    }
}

/* core.send(session, pdu) -> seq | nil, err. On success the caller must
 * yield at once (lua/smpp/session.lua does): the task resumes with the
 * response table, or nil, "timeout" | "closed" | "nack", status. PDUs
 * without a response (generic_nack, outbind, alert_notification) do not
 * wait: pass wait=false, as the wrapper does. */
static int l_send(lua_State *L)
{
    sess_t *s = arg_session(L);
    int wait = lua_isnone(L, 3) || lua_toboolean(L, 3);
    task_t *t = NULL;
    const char *err;
    long seq;
    if ((err = lbridge_check_pdu(L, 2, &send_pdu, NULL)) != NULL)
        return luaL_error(L, "smpp: send: %s", err);
    if (!send_pdu.cmd->resp_id) wait = 0;     /* nothing will answer it */
    if (wait) t = current_task(L, "session:send");
    if (!s) {
        lua_pushnil(L);
        lua_pushliteral(L, "closed");
        return 2;
    }
    seq = sess_send(s, &send_pdu, wait ? on_send_done : NULL, t, uv_now(rt.loop));
    net_touch(s);
    if (seq < 0) {
        lua_pushnil(L);
        lua_pushstring(L, seq == SESS_EINVAL ? sess_last_error(s) : sess_strerror((int)seq));
        return 2;
    }
    if (t) t->waiting = 1;
    lua_pushnumber(L, (double)seq);
    lua_pushboolean(L, wait);
    return 2;
}

static void timer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void timer_unlink(ltimer_t *tm)
{
    if (!tm->linked) return;
    tm->linked = 0;
    if (tm->prev) tm->prev->next = tm->next;
    else rt.timers = tm->next;
    if (tm->next) tm->next->prev = tm->prev;
    tm->next = tm->prev = NULL;
}

static void timer_map(ltimer_t *tm, int add)
{
    registry_table(rt.L, &rt.timer_ids);
    if (add) lua_pushlightuserdata(rt.L, tm);
    else lua_pushnil(rt.L);
    lua_rawseti(rt.L, -2, (int)tm->id);
    lua_pop(rt.L, 1);
}

static void timer_release(ltimer_t *tm)
{
    if (tm->linked && !tm->sleeper) timer_map(tm, 0);
    timer_unlink(tm);
    if (tm->fn_ref != LUA_NOREF) luaL_unref(rt.L, LUA_REGISTRYINDEX, tm->fn_ref);
    uv_close((uv_handle_t *)&tm->h, timer_closed);
}

static void on_timer(uv_timer_t *h)
{
    ltimer_t *tm = h->data;
    if (tm->sleeper) {
        task_t *t = tm->sleeper;
        timer_release(tm);
        task_resume(t, 0);
        return;
    }
    lua_rawgeti(rt.L, LUA_REGISTRYINDEX, tm->fn_ref);
    if (!tm->repeat) {
        timer_release(tm);
    }
    spawn("timer", NULL, 0, 0, 0);
}

static ltimer_t *timer_new(double ms, int repeat)
{
    ltimer_t *tm = calloc(1, sizeof *tm);
    uint64_t delay = ms > 0 ? (uint64_t)ms : 0;
    if (!tm) return NULL;
    uv_timer_init(rt.loop, &tm->h);
    tm->h.data = tm;
    tm->id = ++rt.next_timer_id;
    tm->fn_ref = LUA_NOREF;
    tm->repeat = repeat;
    tm->linked = 1;
    tm->next = rt.timers;
    if (rt.timers) rt.timers->prev = tm;
    rt.timers = tm;
    uv_timer_start(&tm->h, on_timer, delay, repeat ? (delay ? delay : 1) : 0);
    return tm;
}

/* core.sleep(ms): the caller yields at once; resumed after ms. */
static int l_sleep(lua_State *L)
{
    double ms = luaL_checknumber(L, 1);
    task_t *t = current_task(L, "smpp.sleep");
    ltimer_t *tm;
    if (!rt.loop) return luaL_error(L, "smpp.sleep: the runtime is not running");
    if (!(tm = timer_new(ms, 0))) return luaL_error(L, "out of memory");
    tm->sleeper = t;
    t->waiting = 1;
    return 0;
}

/* core.after(ms, fn [, repeat]) -> timer id: fn runs in a task of its own. */
static int l_after(lua_State *L)
{
    double ms = luaL_checknumber(L, 1);
    ltimer_t *tm;
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (!rt.loop) return luaL_error(L, "smpp.after: the runtime is not running");
    if (!(tm = timer_new(ms, lua_toboolean(L, 3)))) return luaL_error(L, "out of memory");
    lua_pushvalue(L, 2);
    tm->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    timer_map(tm, 1);
    lua_pushnumber(L, (double)tm->id);
    return 1;
}

/* core.cancel(timer id) -> true if it was pending. */
static int l_cancel(lua_State *L)
{
    int id = (int)luaL_checknumber(L, 1);
    ltimer_t *tm;
    registry_table(L, &rt.timer_ids);
    lua_rawgeti(L, -1, id);
    tm = lua_touserdata(L, -1);
    lua_pop(L, 2);
    if (tm) timer_release(tm);
    lua_pushboolean(L, tm != NULL);
    return 1;
}

static void close_timers(void)
{
    http_close_all();
    while (rt.timers) {
        ltimer_t *tm = rt.timers;
        if (tm->sleeper) {           /* let sleeping tasks finish */
            uv_unref((uv_handle_t *)&tm->h);
            timer_unlink(tm);
            continue;
        }
        timer_release(tm);
    }
    if (rt.signals_on) {
        rt.signals_on = 0;
        uv_close((uv_handle_t *)&rt.sigint, NULL);
        uv_close((uv_handle_t *)&rt.sigterm, NULL);
        uv_close((uv_handle_t *)&rt.sighup, NULL);
    }
}

/* core.suspend() -> token: the caller yields at once and sleeps until
 * core.wake(token, ...) hands it those values (the Lua side builds queues
 * and semaphores on this). */
static int l_suspend(lua_State *L)
{
    task_t *t = current_task(L, "smpp.suspend");
    uint64_t token = ++rt.next_token;
    registry_table(L, &rt.waiting);
    lua_pushlightuserdata(L, t);
    lua_rawseti(L, -2, (int)token);
    lua_pop(L, 1);
    t->waiting = 1;
    lua_pushnumber(L, (double)token);
    return 1;
}

typedef struct wake_s {
    uv_timer_t h;
    task_t    *t;
    int        nargs;
} wake_t;

static void on_wake(uv_timer_t *h)
{
    wake_t *w = h->data;
    task_t *t = w->t;
    int nargs = w->nargs;
    uv_close((uv_handle_t *)h, timer_closed);
    task_resume(t, nargs);
}

/* core.wake(token, ...) -> true if that task was suspended. It resumes on
 * the next loop turn (never inside the caller). */
static int l_wake(lua_State *L)
{
    int token = (int)luaL_checknumber(L, 1), nargs = lua_gettop(L) - 1;
    task_t *t;
    wake_t *w;
    registry_table(L, &rt.waiting);
    lua_rawgeti(L, -1, token);
    t = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!t || !(w = calloc(1, sizeof *w))) {
        lua_pop(L, 1);
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_pushnil(L);
    lua_rawseti(L, -2, token);
    lua_pop(L, 1);
    lua_xmove(L, t->co, nargs);        /* the values the yield will return */
    w->t = t;
    w->nargs = nargs;
    uv_timer_init(rt.loop, &w->h);
    w->h.data = w;
    uv_timer_start(&w->h, on_wake, 0, 0);
    lua_pushboolean(L, 1);
    return 1;
}

/* core.set_handlers(table): the handlers of requests from now on; tasks
 * already running finish with the function they started with. */
static int l_set_handlers(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    registry_set(L, &rt.handlers, 1);
    return 0;
}

static tls_ctx_t *read_tls(lua_State *L, int idx, int server);

/* Listen and log; pushes the bound port, or nil and the error. With a
 * TLS table at tls_idx (0: none) the listener speaks TLS. */
static int listen_one(lua_State *L, const char *host, int port, const char *side, int tls_idx)
{
    int bound = 0, outbind = strcmp(side, "outbind") == 0, rc;
    tls_ctx_t *ctx = NULL;
    if (tls_idx && !(ctx = read_tls(L, tls_idx, 1))) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    rc = net_listen_tls(rt.net, host, port, outbind ? SESS_ESME : SESS_SMSC, &rt.cfg, ctx, &bound);
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
        return 2;
    }
    log_msg(LOG_INFO, 0, "listening on %s:%d%s%s", host, bound, outbind ? " for outbind" : "",
            ctx ? " (TLS)" : "");
    lua_pushnumber(L, bound);
    return 1;
}

/* core.listen(host, port [, side]) -> bound port | nil, err */
static int l_listen(lua_State *L)
{
    if (!rt.net) return luaL_error(L, "smpp: the runtime is not running");
    return listen_one(L, luaL_checkstring(L, 1), (int)luaL_checknumber(L, 2),
                      luaL_optstring(L, 3, "server"), lua_istable(L, 4) ? 4 : 0);
}

/* core.unlisten(host, port) -> true | nil, err */
static int l_unlisten(lua_State *L)
{
    const char *host = luaL_checkstring(L, 1);
    int port = (int)luaL_checknumber(L, 2);
    if (!rt.net || net_unlisten(rt.net, host, port) < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "not listening on %s:%d", host, port);
        return 2;
    }
    log_msg(LOG_INFO, 0, "stopped listening on %s:%d", host, port);
    lua_pushboolean(L, 1);
    return 1;
}

/* -- HTTP ----------------------------------------------------------------------------------- */

/* A request arrived: handler(method, url, body, content_type, authorization)
 * runs in a task and returns status, content type, body. */
static void on_http(const http_req_t *req, void *ud)
{
    lua_State *L = rt.L;
    task_t *t;
    (void)ud;
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt.http_fn);
    if (!(t = task_new("HTTP handler"))) {
        lua_pop(L, 1);
        http_respond(req->conn, 503, "application/json", "{\"error\":\"busy\"}", 16);
        return;
    }
    t->http = req->conn;
    lua_xmove(L, t->co, 1);
    lua_pushstring(t->co, req->method);
    lua_pushstring(t->co, req->url);
    lua_pushlstring(t->co, req->body, req->body_len);
    lua_pushstring(t->co, req->content_type);
    lua_pushstring(t->co, req->authorization);
    task_resume(t, 5);
}

static void on_posted(int status, void *arg)
{
    task_t *t = arg;
    if (status > 0) {
        lua_pushnumber(t->co, status);
        task_resume(t, 1);
    } else {
        lua_pushnil(t->co);
        lua_pushstring(t->co, uv_strerror(status));
        task_resume(t, 2);
    }
}

/* core.http_post(host, port, path, content_type, body): the caller yields;
 * resumed with the answer's HTTP status, or nil, error. */
static int l_http_post(lua_State *L)
{
    size_t len;
    const char *host = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 3);
    const char *ctype = luaL_checkstring(L, 4), *body = luaL_checklstring(L, 5, &len);
    int port = (int)luaL_checknumber(L, 2), rc;
    task_t *t = current_task(L, "http_post");
    if ((rc = http_post(rt.loop, host, port, path, ctype, body, len, on_posted, t)) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, uv_strerror(rc));
        return 2;
    }
    t->waiting = 1;
    lua_pushboolean(L, 1);
    return 1;
}

static double opt_num(lua_State *L, int idx, const char *key, double dflt);

/* The http section's limits (seconds in the config, ms here) and token
 * from the table at idx over *o. */
static void read_http_opts(lua_State *L, int idx, http_opts_t *o)
{
    o->max_connections = (size_t)opt_num(L, idx, "max_connections", (double)o->max_connections);
    o->max_per_address = (size_t)opt_num(L, idx, "max_per_address", (double)o->max_per_address);
    o->max_body = (size_t)opt_num(L, idx, "max_body", (double)o->max_body);
    o->header_timeout_ms = (unsigned)(opt_num(L, idx, "header_timeout", o->header_timeout_ms / 1000.0) * 1000);
    o->body_timeout_ms = (unsigned)(opt_num(L, idx, "body_timeout", o->body_timeout_ms / 1000.0) * 1000);
    o->idle_timeout_ms = (unsigned)(opt_num(L, idx, "idle_timeout", o->idle_timeout_ms / 1000.0) * 1000);
    lua_getfield(L, idx, "token");
    o->token = lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL;   /* http_listen copies it */
    lua_pop(L, 1);
}

/* core.http_listen(host, port, handler [, http options]) -> bound port | nil, err */
static int l_http_listen(lua_State *L)
{
    const char *host = luaL_checkstring(L, 1);
    int port = (int)luaL_checknumber(L, 2), bound = 0, rc;
    http_opts_t o;
    luaL_checktype(L, 3, LUA_TFUNCTION);
    if (!rt.loop) return luaL_error(L, "smpp: the runtime is not running");
    registry_set(L, &rt.http_fn, 3);
    http_opts_default(&o);
    if (lua_istable(L, 4)) read_http_opts(L, 4, &o);
    if ((rc = http_listen(rt.loop, host, port, &o, on_http, NULL, &bound)) < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot listen for HTTP on %s:%d: %s", host, port, uv_strerror(rc));
        return 2;
    }
    log_msg(LOG_INFO, 0, "HTTP API and dashboard on http://%s:%d/", host, bound);
    lua_pushnumber(L, bound);
    return 1;
}

/* -- Client side: connect --------------------------------------------------------------- */

static void on_connected(net_t *n, sess_t *s, int status, void *arg)
{
    task_t *t = arg;
    (void)n;
    if (status < 0 || !s) {
        lua_pushnil(t->co);
        lua_pushstring(t->co, uv_strerror(status));
        task_resume(t, 2);
        return;
    }
    push_session(t->co, sess_id(s));
    task_resume(t, 1);
}

static void read_config_over(lua_State *L, int idx, sess_config_t *c);

static const char *opt_str(lua_State *L, int idx, const char *key)
{
    const char *v;
    lua_getfield(L, idx, key);
    v = lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL;
    lua_pop(L, 1);                      /* the string stays alive in the table */
    return v;
}

/* A TLS context from a Lua table {cert, key, ca, verify, min_version};
 * NULL and a Lua error message pushed on failure. */
static tls_ctx_t *read_tls(lua_State *L, int idx, int server)
{
    tls_opts_t o;
    char err[200];
    tls_ctx_t *ctx;
    if (idx < 0) idx = lua_gettop(L) + idx + 1;
    o.cert = opt_str(L, idx, "cert");
    o.key = opt_str(L, idx, "key");
    o.ca = opt_str(L, idx, "ca");
    o.min_version = opt_str(L, idx, "min_version");
    lua_getfield(L, idx, "verify");
    o.verify_peer = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (!(ctx = tls_ctx_new(server, &o, err, sizeof err))) lua_pushfstring(L, "TLS: %s", err);
    return ctx;
}

/* core.connect(host, port [, side [, session options [, tls options]]]): the caller yields; resumed with the
 * session table (state OPEN) or nil, error. side "client" (default) is an
 * ESME connecting to an SMSC; "server" is the SMSC side opening a
 * connection to send outbind. */
static int l_connect(lua_State *L)
{
    const char *host = luaL_checkstring(L, 1);
    int port = (int)luaL_checknumber(L, 2);
    const char *side = luaL_optstring(L, 3, "client");
    task_t *t = current_task(L, "smpp.connect");
    sess_config_t cfg = rt.cfg;
    int rc;
    if (!rt.net) return luaL_error(L, "smpp.connect: the runtime is not running");
    if (lua_istable(L, 4)) read_config_over(L, 4, &cfg);
    if (lua_istable(L, 5)) {             /* TLS: the SSL keeps its own reference to the context */
        tls_ctx_t *ctx = read_tls(L, 5, 0);
        const char *name = opt_str(L, 5, "host");
        if (!ctx) {
            lua_pushnil(L);
            lua_insert(L, -2);
            return 2;
        }
        rc = net_connect_tls(rt.net, host, port, strcmp(side, "server") == 0 ? SESS_SMSC : SESS_ESME,
                             &cfg, ctx, name ? name : host, on_connected, t);
        tls_ctx_free(ctx);
    } else {
        rc = net_connect(rt.net, host, port, strcmp(side, "server") == 0 ? SESS_SMSC : SESS_ESME,
                         &cfg, on_connected, t);
    }
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushstring(L, uv_strerror(rc));
        return 2;
    }
    t->waiting = 1;
    lua_pushboolean(L, 1);
    return 1;
}

/* -- Sessions ----------------------------------------------------------------------------- */

static int l_unbind(lua_State *L)
{
    sess_t *s = arg_session(L);
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
    sess_t *s = arg_session(L);
    if (!s) { lua_pushnil(L); lua_pushliteral(L, "closed"); return 2; }
    sess_close(s, "closed by the script");
    net_touch(s);
    lua_pushboolean(L, 1);
    return 1;
}

static void push_sessions_cb(sess_t *s, void *arg)
{
    lua_State *L = arg;
    push_session(L, sess_id(s));
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
    push_session(L, (uint64_t)luaL_checknumber(L, 1));
    return 1;
}

/* core.throttle(session, key, rate, burst): the session's submit_sm,
 * submit_multi and data_sm share the token bucket named `key`. */
static int l_throttle(lua_State *L)
{
    sess_t *s = arg_session(L);
    const char *key = luaL_checkstring(L, 2);
    double rate = luaL_optnumber(L, 3, 0), burst = luaL_optnumber(L, 4, 0);
    bucket_t *b;
    if (!s) return 0;
    for (b = rt.buckets; b && strcmp(b->key, key) != 0; b = b->next) {}
    if (!b) {
        if (!(b = calloc(1, sizeof *b))) return luaL_error(L, "out of memory");
        snprintf(b->key, sizeof b->key, "%s", key);
        b->next = rt.buckets;
        rt.buckets = b;
        tb_init(&b->tb, rate, burst, uv_now(rt.loop));
    } else if (b->tb.rate != rate || (burst > 0 && b->tb.burst != burst)) {
        tb_init(&b->tb, rate, burst, uv_now(rt.loop));
    }
    sess_set_throttle(s, rate > 0 ? &b->tb : NULL);
    return 0;
}

#define SET_NUM(k, v) (lua_pushnumber(L, (double)(v)), lua_setfield(L, -2, k))

static void push_counters(lua_State *L, const sess_stats_t *st)
{
    size_t i;
    const pdu_cmd_t *c;
    uint64_t failures = st->resp_error + st->timeouts + st->nacks_rx;
    uint64_t answered = st->resp_ok + st->resp_error + st->timeouts + st->nacks_rx;
    SET_NUM("rx_pdus", st->rx_pdus);
    SET_NUM("tx_pdus", st->tx_pdus);
    SET_NUM("rx_bytes", st->rx_bytes);
    SET_NUM("tx_bytes", st->tx_bytes);
    SET_NUM("rx_requests", st->rx_requests);
    SET_NUM("tx_requests", st->tx_requests);
    SET_NUM("resp_ok", st->resp_ok);
    SET_NUM("resp_error", st->resp_error);
    SET_NUM("sent_error", st->sent_error);
    SET_NUM("timeouts", st->timeouts);
    SET_NUM("nacks_rx", st->nacks_rx);
    SET_NUM("nacks_tx", st->nacks_tx);
    SET_NUM("unmatched", st->unmatched);
    SET_NUM("malformed", st->malformed);
    SET_NUM("throttled", st->throttled);
    SET_NUM("avg_response_ms", st->rtt_count ? (double)st->rtt_ms_sum / (double)st->rtt_count : 0);
    SET_NUM("failure_rate", answered ? (double)failures / (double)answered : 0);
    lua_newtable(L);
    for (i = 0; (c = pdu_cmd_at(i)) != NULL; i++) {
        if (!st->rx_cmd[i] && !st->tx_cmd[i]) continue;
        lua_createtable(L, 0, 2);
        SET_NUM("rx", st->rx_cmd[i]);
        SET_NUM("tx", st->tx_cmd[i]);
        lua_setfield(L, -2, c->name);
    }
    lua_setfield(L, -2, "commands");
}

/* core.session_stats(session) -> table, or nil if closed. */
static int l_session_stats(lua_State *L)
{
    sess_t *s = arg_session(L);
    const sess_config_t *c;
    if (!s) return 0;
    c = sess_config(s);
    lua_newtable(L);
    SET_NUM("id", sess_id(s));
    set_field_str(L, "side", sess_side(s) == SESS_SMSC ? "server" : "client");
    set_field_str(L, "state", sess_state_name(sess_state(s)));
    set_field_str(L, "bind_type", bind_type_name(sess_state(s)));
    set_field_str(L, "system_id", sess_system_id(s));
    set_field_str(L, "remote", net_remote(s));
    SET_NUM("uptime_s", (double)(uv_now(rt.loop) - sess_stats(s)->started_ms) / 1000.0);
    SET_NUM("window_used", sess_window_used(s));
    SET_NUM("window_size", c->window);
    SET_NUM("receive_window_used", sess_receive_window_used(s));
    SET_NUM("receive_window_size", c->receive_window);
    push_counters(L, sess_stats(s));
    return 1;
}

/* core.stats() -> totals over the process. */
static int l_stats(lua_State *L)
{
    static const char *const sides[] = {"server", "client"};
    int side, st;
    size_t i;
    uint32_t v;
    const char *name;
    lua_newtable(L);
    SET_NUM("opened", sess_totals.opened);
    SET_NUM("closed", sess_totals.closed);
    SET_NUM("script_errors", rt.script_errors);
    SET_NUM("script_budget_stops", rt.budget_stops);
    SET_NUM("refused_connections", rt.net ? (double)net_refused(rt.net) : 0);
    {
        http_stats_t hs;
        http_get_stats(&hs);
        SET_NUM("http_connections", hs.open);
        SET_NUM("http_refused_connections", hs.refused);
        SET_NUM("http_timeouts", hs.timeouts);
        SET_NUM("http_unauthorized", hs.unauthorized);
    }
    SET_NUM("uptime_s", rt.loop ? (double)uv_now(rt.loop) / 1000.0 : 0);
    lua_newtable(L);                        /* response times: cumulative buckets */
    for (i = 0; i < SESS_RTT_BUCKETS; i++) {
        lua_pushnumber(L, (double)sess_totals.rtt_buckets[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "response_time_buckets");
    lua_newtable(L);
    for (side = 0; side < 2; side++) {
        lua_newtable(L);
        for (st = SESS_OPEN; st < SESS_CLOSED; st++)
            if (sess_totals.open[side][st]) SET_NUM(sess_state_name((sess_state_t)st), sess_totals.open[side][st]);
        lua_setfield(L, -2, sides[side]);
    }
    lua_setfield(L, -2, "open");
    push_counters(L, &sess_totals.sum);
    lua_newtable(L);
    for (i = 0; (name = pdu_status_at(i, &v)) != NULL; i++) {
        if (v >= 0x113 || (!sess_totals.status_rx[v] && !sess_totals.status_tx[v])) continue;
        lua_createtable(L, 0, 2);
        SET_NUM("rx", sess_totals.status_rx[v]);
        SET_NUM("tx", sess_totals.status_tx[v]);
        lua_setfield(L, -2, name);
    }
    lua_setfield(L, -2, "statuses");
    return 1;
}

/* core.log(level, message [, session]) */
static int l_log(lua_State *L)
{
    int level = log_level_parse(luaL_checkstring(L, 1));
    const char *msg = luaL_checkstring(L, 2);
    uint64_t id = lua_isnoneornil(L, 3) ? 0 : check_id(L, 3);
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
    return 0;
}

static int l_now(lua_State *L)
{
    lua_pushnumber(L, rt.loop ? (double)uv_now(rt.loop) : 0);
    return 1;
}

static int l_shutdown(lua_State *L)
{
    (void)L;
    if (rt.net) net_shutdown(rt.net);      /* on_drained follows */
    return 0;
}

/* core.set_session_class(metatable): the metatable of every session table. */
static int l_set_session_class(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    registry_set(L, &rt.session_mt, 1);
    return 0;
}

/* -- Serving ------------------------------------------------------------------------------ */

static void on_sighup(uv_signal_t *h, int signum)
{
    (void)h;
    log_msg(LOG_INFO, 0, "signal %d: reloading", signum);
    if (rt.reload == LUA_NOREF) return;
    lua_rawgeti(rt.L, LUA_REGISTRYINDEX, rt.reload);
    spawn("reload", NULL, 0, 0, 0);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    log_msg(LOG_INFO, 0, "signal %d: unbinding every session and stopping", signum);
    net_shutdown(rt.net);                  /* on_drained follows */
}

static double opt_num(lua_State *L, int idx, const char *key, double dflt)
{
    double v;
    lua_getfield(L, idx, key);
    v = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : dflt;
    lua_pop(L, 1);
    return v;
}

/* Read session options over *c (seconds in the config, ms in the engine). */
static void read_config_over(lua_State *L, int idx, sess_config_t *c)
{
    c->window = (uint32_t)opt_num(L, idx, "window", c->window);
    c->receive_window = (uint32_t)opt_num(L, idx, "receive_window", c->receive_window);
    c->response_timeout_ms = (uint32_t)(opt_num(L, idx, "response_timeout", c->response_timeout_ms / 1000.0) * 1000);
    c->enquire_link_ms = (uint32_t)(opt_num(L, idx, "enquire_link_interval", c->enquire_link_ms / 1000.0) * 1000);
    c->enquire_link_misses = (uint32_t)opt_num(L, idx, "enquire_link_misses", c->enquire_link_misses);
    c->init_timeout_ms = (uint32_t)(opt_num(L, idx, "init_timeout", c->init_timeout_ms / 1000.0) * 1000);
    c->inactivity_ms = (uint32_t)(opt_num(L, idx, "inactivity_timeout", c->inactivity_ms / 1000.0) * 1000);
    c->unbind_timeout_ms = (uint32_t)(opt_num(L, idx, "unbind_timeout", c->unbind_timeout_ms / 1000.0) * 1000);
    c->max_pdu = (uint32_t)opt_num(L, idx, "max_pdu", c->max_pdu);
    c->max_output = (uint32_t)opt_num(L, idx, "max_output", c->max_output);
}

static void read_config(lua_State *L, int idx, sess_config_t *c)
{
    sess_config_default(c);
    if (lua_istable(L, idx)) read_config_over(L, idx, c);
}

/* One line with the process totals, when serving ends: what came in and
 * went out, by command (operators and the specs compare both sides). */
static void log_totals(void)
{
    char line[2048];
    size_t i, n = 0;
    const pdu_cmd_t *c;
    for (i = 0; (c = pdu_cmd_at(i)) != NULL && n < sizeof line - 64; i++) {
        if (!sess_totals.sum.rx_cmd[i] && !sess_totals.sum.tx_cmd[i]) continue;
        n += (size_t)snprintf(line + n, sizeof line - n, " %s %u/%u", c->name,
                              sess_totals.sum.rx_cmd[i], sess_totals.sum.tx_cmd[i]);
    }
    line[n] = '\0';
    log_msg(LOG_INFO, 0, "totals: %llu sessions; PDUs in/out by command:%s",
            (unsigned long long)sess_totals.opened, n ? line : " none");
}

/* core.serve{ handlers = {...}, listen = { {host=, port=, side=}... },
 *             session = {...}, start = function } -> true | nil, error
 * Runs the loop until a signal or core.shutdown() ends every session. */
static int l_serve(lua_State *L)
{
    int i, n;
    luaL_checktype(L, 1, LUA_TTABLE);
    if (rt.serving) return luaL_error(L, "smpp: already serving");
    rt.L = L;
    rt.loop = uv_default_loop();
    lua_getfield(L, 1, "handlers");
    luaL_checktype(L, -1, LUA_TTABLE);
    registry_set(L, &rt.handlers, -1);
    lua_pop(L, 1);
    lua_getfield(L, 1, "session");
    read_config(L, lua_gettop(L), &rt.cfg);
    lua_pop(L, 1);
    if (!(rt.net = net_new(rt.loop, &owner, NULL))) return luaL_error(L, "out of memory");
    lua_getfield(L, 1, "limits");
    if (lua_istable(L, -1))
        net_set_limits(rt.net, (size_t)opt_num(L, -1, "max_connections", 0),
                       (size_t)opt_num(L, -1, "max_per_address", 0));
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
        if (listen_one(L, host, (int)opt_num(L, -4, "port", 2775), side,
                       lua_istable(L, -1) ? lua_gettop(L) : 0) == 2) {
            net_shutdown(rt.net);
            uv_run(rt.loop, UV_RUN_NOWAIT);
            return 2;
        }
        lua_pop(L, 5);
    }
    lua_pop(L, 1);

    uv_signal_init(rt.loop, &rt.sigint);
    uv_signal_init(rt.loop, &rt.sigterm);
    uv_signal_start(&rt.sigint, on_signal, SIGINT);
    uv_signal_start(&rt.sigterm, on_signal, SIGTERM);
    uv_signal_init(rt.loop, &rt.sighup);
    uv_signal_start(&rt.sighup, on_sighup, SIGHUP);
    uv_unref((uv_handle_t *)&rt.sigint);      /* signals alone do not keep us running */
    uv_unref((uv_handle_t *)&rt.sigterm);
    uv_unref((uv_handle_t *)&rt.sighup);
    lua_getfield(L, 1, "reload");
    if (lua_isfunction(L, -1)) rt.reload = luaL_ref(L, LUA_REGISTRYINDEX);
    else lua_pop(L, 1);
    rt.signals_on = 1;
    rt.serving = 1;

    lua_getfield(L, 1, "start");
    if (lua_isfunction(L, -1)) spawn("start", NULL, 0, 0, 0);
    else lua_pop(L, 1);

    /* listeners keep the loop alive until a shutdown closes them */
    uv_run(rt.loop, UV_RUN_DEFAULT);
    log_totals();
    close_timers();
    uv_run(rt.loop, UV_RUN_NOWAIT);
    net_free(rt.net);
    rt.net = NULL;
    rt.serving = 0;
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg funcs[] = {
    {"serve", l_serve},
    {"send", l_send},
    {"sleep", l_sleep},
    {"after", l_after},
    {"cancel", l_cancel},
    {"connect", l_connect},
    {"unbind", l_unbind},
    {"close", l_close},
    {"sessions", l_sessions},
    {"session", l_session},
    {"session_stats", l_session_stats},
    {"stats", l_stats},
    {"throttle", l_throttle},
    {"log", l_log},
    {"log_config", l_log_config},
    {"now", l_now},
    {"shutdown", l_shutdown},
    {"set_session_class", l_set_session_class},
    {"suspend", l_suspend},
    {"wake", l_wake},
    {"set_handlers", l_set_handlers},
    {"listen", l_listen},
    {"unlisten", l_unlisten},
    {"http_listen", l_http_listen},
    {"http_post", l_http_post},
    {"set_budget", l_set_budget},
    {NULL, NULL}
};

void lrt_register(lua_State *L)
{
    static int ready;
    if (!ready) {               /* registry refs start empty (0 is a valid ref) */
        ready = 1;
        rt.handlers = rt.sessions = rt.tasks = rt.session_mt = LUA_NOREF;
        rt.reload = rt.waiting = rt.timer_ids = rt.http_fn = LUA_NOREF;
    }
    luaL_register(L, NULL, funcs);
}
