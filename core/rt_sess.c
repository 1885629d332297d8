/* rt_sess.c -- sessions as Lua tables: the engine's callbacks run the
 * script's handlers in tasks and answer requests with what they return.
 *
 * Who owns what: the transport owns every sess_t. A session's table lives
 * in registry[rt.sessions][id] from owner.opened to owner.closed; a task
 * answering a request owns nothing of it but its sequence number. The Lua
 * functions that act on sessions (send, connect, listen, unbind, close,
 * throttle, the session list) are rt_send.c's; they find a session
 * through rt_sess__arg (rt_sess_int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbridge.h"
#include "log.h"
#include "rt.h"
#include "rt_heap.h"
#include "rt_sess.h"
#include "rt_sess_int.h"
#include "rt_store.h"
#include "rt_task.h"

static pdu_t resp_pdu;   /* one loop thread: scratch PDU */

/* -- Helpers ---------------------------------------------------------------------- */

/* Session tables by registry ref, for the sessions whose id last took
 * each slot (id % SREF_SLOTS): one lookup for the table a request's
 * handler is given, where the sessions table cost three calls. The
 * sessions table stays the single record (a session not here is found
 * there); a slot's ref is made as its session opens and dropped as it
 * closes or another takes the slot. The runtime's one state, as the
 * handler cache's refs. */
#define SREF_SLOTS 1024
static struct {
    uint64_t id;                               /* 0: empty */
    int      ref;
} srefs[SREF_SLOTS];

void rt_sess_push(lua_State *L, uint64_t id)
{
    if (srefs[id % SREF_SLOTS].id == id && id) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, srefs[id % SREF_SLOTS].ref);
        return;
    }
    rt_registry_table(L, &rt.sessions);
    lua_rawgeti(L, -1, (int)id);
    lua_replace(L, -2);                        /* the sessions table gone, as a remove would, without its shift */
}

/* The session table on L's top takes id's slot (kept on the stack). */
static void sref_set(lua_State *L, uint64_t id)
{
    size_t i = id % SREF_SLOTS;
    if (srefs[i].id) luaL_unref(L, LUA_REGISTRYINDEX, srefs[i].ref);
    lua_pushvalue(L, -1);
    srefs[i].ref = luaL_ref(L, LUA_REGISTRYINDEX);
    srefs[i].id = srefs[i].ref == LUA_REFNIL || srefs[i].ref == LUA_NOREF ? 0 : id;
}

static void sref_drop(lua_State *L, uint64_t id)
{
    size_t i = id % SREF_SLOTS;
    if (srefs[i].id != id || !id) return;
    luaL_unref(L, LUA_REGISTRYINDEX, srefs[i].ref);
    srefs[i].id = 0;
}

/* A session as scripts see it is a view: an empty table but for one key
 * they cannot name (this lightuserdata), whose value is the table of its
 * fields; the view's metatable (session.lua's View) reads them and
 * refuses assignments. The engine writes the fields table. */
static char fields_key;

/* Push the fields table of session `id` (nil once it is gone). */
static void push_fields(lua_State *L, uint64_t id)
{
    rt_sess_push(L, id);
    if (lua_istable(L, -1)) {
        lua_pushlightuserdata(L, &fields_key);
        lua_rawget(L, -2);
        lua_remove(L, -2);
    }
}

static uint64_t check_id(lua_State *L, int idx)
{
    if (lua_istable(L, idx)) {
        lua_getfield(L, idx, "id");
        idx = -1;
    }
    return (uint64_t)luaL_checknumber(L, idx);
}

sess_t *rt_sess__arg(lua_State *L)
{
    uint64_t id = check_id(L, 1);
    return rt.net ? net_find(rt.net, id) : NULL;
}

const char *rt_sess_bind_type(sess_state_t st)
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

/* Push handlers[name]; 0 (nothing pushed) when there is none. */
static int push_handler(const char *name)
{
    lua_State *L = rt.L;
    rt_registry_table(L, &rt.handlers);
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
    if (lua_isfunction(L, -1)) return 1;
    lua_pop(L, 1);
    return 0;
}

/* -- Answering requests -------------------------------------------------------------- */

/* The response command of request command_id (the last one asked is
 * kept: two table searches per answer otherwise). */
static const pdu_cmd_t *resp_cmd(uint32_t command_id)
{
    static uint32_t id;
    static const pdu_cmd_t *resp;
    const pdu_cmd_t *req;
    if (resp && id == command_id) return resp;
    if (!(req = pdu_cmd_find(command_id))) return NULL;
    id = command_id;
    return resp = pdu_cmd_find(req->resp_id);
}

/* The run whose answer t gives: t's own, or (an smpp.respond's task,
 * whose arg is the handler's coroutine) the handler's. */
static lua_State *run_of(const rt_task_t *t)
{
    return t->arg ? (lua_State *)t->arg : t->co;
}

/* The response fields at stack index fields_idx of t->co, checked into
 * resp_pdu: 1; or 0, logged, and what the run stored ended, not
 * forwarded (it is answered ESME_RSYSERR). */
static int fields_check(rt_task_t *t, int fields_idx)
{
    const char *err = lbridge_check_pdu(t->co, fields_idx, &resp_pdu, resp_cmd(t->cmd_id));
    if (!err) return 1;
    log_msg(LOG_ERROR, t->sess_id, "%s returned a bad response: %s; answering ESME_RSYSERR", t->what, err);
    rt_store_undo(run_of(t));
    return 0;
}

/* Answer the task's request (if its session still lives) with `status`
 * and body (NULL: none). */
static void answer_with(rt_task_t *t, uint32_t status, pdu_t *body)
{
    sess_t *s;
    if (!t->seq || !rt.net || !(s = net_find(rt.net, t->sess_id))) return;
    sess_respond(s, t->seq, body, status, uv_now(rt.loop));
    t->seq = 0;
    net_touch(s);
}

/* The same with the response fields at stack index fields_idx of t->co
 * (0: none), checked now. */
static void answer(rt_task_t *t, uint32_t status, int fields_idx)
{
    pdu_t *body = NULL;
    if (!t->seq || !rt.net || !net_find(rt.net, t->sess_id)) return;
    if (fields_idx && fields_check(t, fields_idx)) body = &resp_pdu;
    else if (fields_idx) status = SMPP_ESME_RSYSERR;
    answer_with(t, status, body);
}

/* "table", or a string value quoted (shortened), for log lines. */
static const char *describe(lua_State *L, int idx, char *buf, size_t n)
{
    if (lua_type(L, idx) == LUA_TSTRING) {
        snprintf(buf, n, "\"%.40s\"", lua_tostring(L, idx));
        return buf;
    }
    if (lua_type(L, idx) == LUA_TNUMBER) {
        snprintf(buf, n, "%.14g", lua_tonumber(L, idx));
        return buf;
    }
    return luaL_typename(L, idx);
}

/* A handler's results: a status (an integer 0..0xFFFFFFFF or a status
 * name) and optionally a table of response fields; or the fields alone
 * (ESME_ROK); or nothing / nil (ESME_ROK, empty body). Anything else,
 * including a value after those (`return {}, "x"`, `return nil, err`), is
 * refused: NULL and *status, *fields set, or the reason (a static buffer). */
static const char *read_results(rt_task_t *t, int n, uint32_t *status_out, int *fields_out)
{
    static char msg[200];
    char a[48], b[48];
    lua_State *co = t->co;
    int fields = 0, next = 2, i, t1 = n >= 1 ? lua_type(co, 1) : LUA_TNONE;
    uint32_t status = SMPP_ESME_ROK;
    const char *why = NULL;
    if (t1 == LUA_TNUMBER) {
        double d = lua_tonumber(co, 1);
        if (d >= 0 && d <= 4294967295.0 && d == (double)(uint32_t)d) status = (uint32_t)d;
        else why = "a status is an integer 0..0xFFFFFFFF";
    } else if (t1 == LUA_TSTRING) {
        int found;
        status = status_by_name(lua_tostring(co, 1), &found);
        if (!found) why = "unknown status name";
    } else if (t1 == LUA_TTABLE) {
        fields = 1;
    } else if (n >= 1 && t1 != LUA_TNIL) {
        why = "expected a status and a table of fields";
    }
    if (t1 == LUA_TNUMBER || t1 == LUA_TSTRING) {
        next = 3;
        if (n >= 2 && lua_istable(co, 2)) fields = 2;
        else if (n >= 2 && !lua_isnil(co, 2) && !why) why = "the fields of the response must be a table";
    }
    for (i = next; !why && i <= n; i++)
        if (!lua_isnil(co, i)) why = "expected a status and a table of fields, and nothing after them";
    if (why) {
        snprintf(msg, sizeof msg, "bad return value (%s, %s%s): %s", n ? describe(co, 1, a, sizeof a) : "nothing",
                 n >= 2 ? describe(co, 2, b, sizeof b) : "nothing", n > 2 ? ", ..." : "", why);
        return msg;
    }
    *status_out = status;
    *fields_out = fields;
    return NULL;
}

/* The turn's commit is over: answer with the results still on the task's
 * stack; an ESME_ROK whose writes were lost becomes fail_status, without
 * the fields (an error response has no body), and what its run stored is
 * not forwarded (rt_store_refused). */
static void release_answer(rt_task_t *t, int ok, uint32_t fail_status)
{
    uint32_t status = SMPP_ESME_RSYSERR;
    int fields = 0;
    if (!read_results(t, lua_gettop(t->co), &status, &fields) && !ok && status == SMPP_ESME_ROK) {
        status = fail_status;
        fields = 0;
        if (t->seq) rt_store_refused(run_of(t));
    }
    answer(t, status, fields);
    rt_task_release(t);
}

/* Answer now, or (while the store holds writes of this turn) once they are
 * committed: an ESME_ROK is never sent for something not yet stored.
 * What the ESME is told decides what the run stored: an error answer
 * (a status, fields that do not check, or an ESME_ROK for rows a failed
 * commit lost while the run waited) ends it, not forwarded; the fields
 * are checked before the answer is held, so that a failed commit cannot
 * turn an answer that was to be ESME_RSYSERR into another. */
static const char *request_finish(rt_task_t *t, int n)
{
    uint32_t status;
    int fields;
    const char *why = read_results(t, n, &status, &fields);
    if (why) return why;
    if (!t->seq) return NULL;
    if (status == SMPP_ESME_ROK && rt_store_lost(run_of(t), &status)) {
        rt_store_undo(run_of(t));
        answer_with(t, status, NULL);                 /* an error: no need to wait for the commit */
        return NULL;
    }
    if (fields && !fields_check(t, fields)) {
        answer_with(t, SMPP_ESME_RSYSERR, NULL);
        return NULL;
    }
    if (status != SMPP_ESME_ROK) rt_store_undo(run_of(t));
    if (rt_store_hold(t, release_answer)) return RT_TASK_HELD;
    answer_with(t, status, fields ? &resp_pdu : NULL);
    return NULL;
}

static void request_fail(rt_task_t *t, const char *msg)
{
    log_msg(LOG_ERROR, t->sess_id, "%s failed: %s%s", t->what, msg,
            t->seq ? " (answered ESME_RSYSERR)" : "");
    if (t->seq) rt_store_undo(run_of(t));      /* what it stored is not forwarded */
    answer(t, SMPP_ESME_RSYSERR, 0);
}

static const rt_task_owner_t request_owner = {request_finish, request_fail};

/* The fields of smpp.respond(status, fields) on L as the encoder will see
 * them when the answer goes out (perhaps after the turn's commit): NULL,
 * or why they are refused (a static buffer), so respond raises while the
 * handler still runs and can react, as session:send does. */
static const char *respond_check(lua_State *L, int n, const rt_task_t *t)
{
    static char msg[200];
    uint8_t small[1024], *big = NULL;
    const pdu_cmd_t *req = pdu_cmd_find(t->cmd_id);
    pdu_error_t err;
    const char *why;
    long r;
    int idx = n >= 1 && lua_istable(L, 1) ? 1 : n >= 2 && lua_istable(L, 2) ? 2 : 0;
    if (!idx || !req) return NULL;                   /* no fields: read_results judges the rest */
    if ((why = lbridge_check_pdu(L, idx, &resp_pdu, pdu_cmd_find(req->resp_id))) != NULL) return why;
    resp_pdu.sequence_number = t->seq;
    r = pdu_encode(&resp_pdu, small, sizeof small, &err);
    if (r == PDU_ENOSPC && (big = malloc(err.need)) != NULL) r = pdu_encode(&resp_pdu, big, err.need, &err);
    free(big);
    if (r != PDU_EINVAL) return NULL;
    snprintf(msg, sizeof msg, "the encoder refuses the response: %s", err.msg);
    return msg;
}

/* core.respond([status [, fields]]) -> true: answer the request of the
 * running handler now (after the turn's commit, as a return would) and
 * go on running; what the handler returns later is not sent. Raises when
 * the task answers no request (a timer, an event, an answered request)
 * or for values a handler could not return, fields the encoder refuses
 * among them (checked now, not when the answer goes out). The answer is held by a task
 * of its own, so the handler's stack stays its own. */
static int l_respond(lua_State *L)
{
    rt_task_t *t = rt_task_of(L), *h;
    int n = lua_gettop(L);
    const char *why;
    if (!t || t->owner != &request_owner || !t->seq)
        return luaL_error(L, "smpp.respond: only a request's handler may answer, once "
                             "(this task answers no request, or answered already)");
    if ((why = respond_check(L, n, t)) != NULL) return luaL_error(L, "smpp.respond: %s", why);
    if (!(h = rt_task_new("answer", &request_owner))) return luaL_error(L, "smpp.respond: out of memory");
    h->sess_id = t->sess_id;
    h->seq = t->seq;
    h->cmd_id = t->cmd_id;
    h->arg = t->co;                        /* the run whose messages its answer decides */
    lua_xmove(L, h->co, n);
    why = request_finish(h, n);
    if (why != RT_TASK_HELD) {
        char msg[256];
        if (why) snprintf(msg, sizeof msg, "%s", why);
        rt_task_release(h);
        if (why) return luaL_error(L, "smpp.respond: %s", msg);
    }
    t->seq = 0;                            /* answered: the handler's results go nowhere */
    lua_pushboolean(L, 1);
    return 1;
}

int rt_sess_event(const char *name, const char *what)
{
    rt_task_t *t;
    if (!push_handler(name)) return 0;
    if (!(t = rt_task_new(what, NULL))) {
        lua_pop(rt.L, 1);
        return 0;
    }
    rt_task_start(t, 0);
    return 1;
}

/* Run the event handler on rt.L's top in a new task with the session
 * table of `s` and `nextra` more values from rt.L's top as arguments.
 * (Requests take their task in on_request.) */
static void spawn(const char *what, sess_t *s, int nextra)
{
    lua_State *L = rt.L;
    rt_task_t *t = rt_task_new(what, NULL);
    if (!t) {
        lua_pop(L, nextra + 1);
        return;
    }
    t->sess_id = sess_id(s);
    rt_sess_push(L, sess_id(s));               /* the session goes first */
    lua_insert(L, -1 - nextra);
    rt_task_start(t, nextra + 1);
}

/* -- Engine callbacks ----------------------------------------------------------------- */

static void on_opened(net_t *n, sess_t *s, void *ud)
{
    lua_State *L = rt.L;
    (void)n;
    (void)ud;
    rt_registry_table(L, &rt.sessions);
    lua_createtable(L, 0, 1);              /* the view */
    lua_pushlightuserdata(L, &fields_key);
    lua_createtable(L, 0, 8);              /* its fields */
    lua_pushnumber(L, (double)sess_id(s));
    lua_setfield(L, -2, "id");
    rt_set_str(L, "side", sess_side(s) == SESS_SMSC ? "server" : "client");
    rt_set_str(L, "remote", net_remote(s));
    rt_set_str(L, "local", net_local(s));
    rt_set_str(L, "state", sess_state_name(sess_state(s)));
    rt_set_str(L, "system_id", "");
    lua_newtable(L);
    lua_setfield(L, -2, "ctx");
    lua_rawset(L, -3);
    if (rt.session_mt != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, rt.session_mt);
        lua_setmetatable(L, -2);
    }
    sref_set(L, sess_id(s));
    lua_rawseti(L, -2, (int)sess_id(s));
    lua_pop(L, 1);
    if (push_handler("connect")) spawn("connect event", s, 0);
}

/* The request handlers by command, found by name once and kept until
 * the handler table is set again (rt.handlers_gen) or a function becomes
 * the runtime's own (rt_task_own_gen): ref[i] is a registry ref to the
 * handler of command index i, with kind[i] saying whether there is one and
 * whether it is the runtime's own. A lookup by name interned the command's
 * name for every request; a table of them cost two lookups more. */
#define HCACHE_CMDS 64
enum { H_UNKNOWN, H_NONE, H_SCRIPT, H_OWN };
static struct {
    int           ref[HCACHE_CMDS];
    unsigned char kind[HCACHE_CMDS];
    unsigned      gen, own_gen;
    int           valid;
} hcache;

static void hcache_reset(lua_State *L)
{
    int i;
    for (i = 0; i < HCACHE_CMDS; i++) {
        if (hcache.kind[i] == H_SCRIPT || hcache.kind[i] == H_OWN) luaL_unref(L, LUA_REGISTRYINDEX, hcache.ref[i]);
        hcache.kind[i] = H_UNKNOWN;
    }
    hcache.gen = rt.handlers_gen;
    hcache.own_gen = rt_task_own_gen();
    hcache.valid = 1;
}

/* Push the handler of req by name; 0 (nothing pushed) when there is none. */
static int is_bind(uint32_t id);

static int find_request_handler(const pdu_t *req)
{
    int found = push_handler(req->cmd->name);
    if (!found && is_bind(req->command_id))
        found = push_handler("bind");      /* one handler for the three binds */
    return found;
}

/* Push the handler of req onto `to` (rt.L or a task's coroutine); 0
 * (nothing pushed) when there is none. *own: whether it is the runtime's
 * own function. */
static int push_request_handler(lua_State *to, const pdu_t *req, int *own)
{
    lua_State *L = rt.L;
    int i = (int)pdu_cmd_index(req->cmd);
    if (i < 0 || i >= HCACHE_CMDS) {
        if (!find_request_handler(req)) return 0;
        *own = rt_task_is_own(L, -1);
        if (to != L) lua_xmove(L, to, 1);
        return 1;
    }
    if (!hcache.valid || hcache.gen != rt.handlers_gen || hcache.own_gen != rt_task_own_gen()) hcache_reset(L);
    switch (hcache.kind[i]) {
    case H_NONE:
        return 0;
    case H_SCRIPT: case H_OWN:
        lua_rawgeti(to, LUA_REGISTRYINDEX, hcache.ref[i]);
        *own = hcache.kind[i] == H_OWN;
        return 1;
    }
    if (!find_request_handler(req)) {
        hcache.kind[i] = H_NONE;
        return 0;
    }
    *own = rt_task_is_own(L, -1);
    hcache.ref[i] = luaL_ref(L, LUA_REGISTRYINDEX);
    hcache.kind[i] = *own ? H_OWN : H_SCRIPT;
    lua_rawgeti(to, LUA_REGISTRYINDEX, hcache.ref[i]);
    return 1;
}

/* The request whose handler runs until its first wait, and the address
 * of the table it was given as: its octets are valid for that long only
 * (they are the session's read buffer). */
static struct {
    const void  *table;
    const pdu_t *pdu;
} cur_req;

const pdu_t *rt_sess_request(lua_State *L, int idx)
{
    return cur_req.pdu && lua_istable(L, idx) && lua_topointer(L, idx) == cur_req.table ? cur_req.pdu : NULL;
}

static int is_bind(uint32_t id)
{
    return id == SMPP_BIND_TRANSMITTER || id == SMPP_BIND_RECEIVER || id == SMPP_BIND_TRANSCEIVER;
}

/* The heap is past its ceiling and half its reserve (rt_heap_crowded):
 * the request is answered ESME_RTHROTTLED before anything of it is made
 * in Lua; said once a second at most. Binds still run (few, and rate
 * limited by security.bind_rate): the rest of the reserve is theirs and
 * the runtime's. */
static void crowded_answer(sess_t *s, uint32_t seq)
{
    static uint64_t said;
    uint64_t now = uv_now(rt.loop);
    if (!said || now - said >= 1000) {
        said = now;
        log_msg(LOG_WARN, sess_id(s), "the Lua heap holds %.1f MiB, past scripts.memory_mb and half its reserve: "
                "requests are answered ESME_RTHROTTLED until it falls (requests waiting in handlers hold it)",
                (double)rt_heap_used() / 1048576.0);
    }
    sess_respond(s, seq, NULL, SMPP_ESME_RTHROTTLED, now);
}

/* A request runs its handler; without one the engine answers it. The
 * task is taken first and the handler, the session and the PDU's table
 * are pushed onto its coroutine: nothing is moved there from rt.L. */
static int on_request(net_t *n, sess_t *s, const pdu_t *req, void *ud)
{
    const char *name = req->cmd->name;
    const void *table = cur_req.table;
    const pdu_t *pdu = cur_req.pdu;
    uint32_t seq = req->cmd->resp_id ? req->sequence_number : 0;
    rt_task_t *t;
    lua_State *co;
    int own = 0;
    (void)n;
    (void)ud;
    if (seq && rt_heap_crowded() && !is_bind(req->command_id)) {
        crowded_answer(s, seq);
        return SESS_TAKEN;
    }
    t = rt_task_new(name, seq ? &request_owner : NULL);
    co = t ? t->co : rt.L;
    if (!push_request_handler(co, req, &own)) {
        if (t) rt_task_release(t);
        return SESS_DECLINED;
    }
    if (!t) {                                  /* no memory for a task: unanswered, as before */
        lua_pop(rt.L, 1);
        return SESS_TAKEN;
    }
    t->sess_id = sess_id(s);
    t->seq = seq;
    t->cmd_id = req->command_id;
    rt_sess_push(co, sess_id(s));
    lbridge_push_pdu(co, req);
    cur_req.table = lua_topointer(co, -1);
    cur_req.pdu = req->raw ? req : NULL;
    rt_task_run_here(t, 2, own);
    cur_req.table = table;
    cur_req.pdu = pdu;
    return SESS_TAKEN;
}

/* The session is over (state CLOSED; its socket may linger a moment):
 * mark its table and run down(session, reason) if it had been bound. */
static void session_down(sess_t *s)
{
    lua_State *L = rt.L;
    int was_up;
    push_fields(L, sess_id(s));
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    lua_pushliteral(L, "bind_type");       /* raw: no script code runs here */
    lua_rawget(L, -2);
    was_up = !lua_isnil(L, -1);
    lua_pop(L, 1);
    rt_set_str(L, "close_reason", sess_close_reason(s));
    lua_pushliteral(L, "closed");
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    if (was_up && push_handler("down")) {
        lua_pushstring(L, sess_close_reason(s));
        spawn("down event", s, 1);
    }
}

static void on_state(net_t *n, sess_t *s, sess_state_t old, void *ud)
{
    lua_State *L = rt.L;
    sess_state_t st = sess_state(s);
    (void)n;
    (void)ud;
    push_fields(L, sess_id(s));
    if (lua_istable(L, -1)) {
        rt_set_str(L, "state", sess_state_name(st));
        if (rt_sess_bind_type(st)) {
            rt_set_str(L, "bind_type", rt_sess_bind_type(st));
            rt_set_str(L, "system_id", sess_system_id(s));
        }
    }
    lua_pop(L, 1);
    if (rt_sess_bind_type(st) && !rt_sess_bind_type(old) && old != SESS_UNBINDING && push_handler("up"))
        spawn("up event", s, 0);
    if (st == SESS_CLOSED) session_down(s);
}

static void on_closed(net_t *n, sess_t *s, const char *reason, void *ud)
{
    lua_State *L = rt.L;
    (void)n;
    (void)ud;
    (void)reason;
    sref_drop(L, sess_id(s));
    rt_registry_table(L, &rt.sessions);
    lua_pushnil(L);
    lua_rawseti(L, -2, (int)sess_id(s));
    lua_pop(L, 1);
}

void rt_sess_owner(net_owner_t *o)
{
    memset(o, 0, sizeof *o);
    o->opened = on_opened;
    o->request = on_request;
    o->state = on_state;
    o->closed = on_closed;
}

/* core.set_handlers(table): the handlers of requests from now on; tasks
 * already running finish with the function they started with. */
static int l_set_handlers(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    rt_registry_set(L, &rt.handlers, 1);
    rt.handlers_gen++;
    if (hcache.valid) hcache_reset(L);     /* now: the old functions (and all they keep) can be collected */
    return 0;
}

/* core.session_key() -> the key of a session view's fields table (for
 * lua/smpp/session.lua's View; scripts cannot reach smpp.core). */
static int l_session_key(lua_State *L)
{
    lua_pushlightuserdata(L, &fields_key);
    return 1;
}

const luaL_Reg rt_sess_lib[] = {
    {"session_key", l_session_key},
    {"respond", l_respond},
    {"set_handlers", l_set_handlers},
    {NULL, NULL}
};
