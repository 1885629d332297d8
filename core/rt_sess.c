/* rt_sess.c -- sessions as Lua tables: the engine's callbacks run the
 * script's handlers in tasks (their answers: rt_sess_answer.c).
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
#include "lstore.h"
#include "rt.h"
#include "rt_heap.h"
#include "rt_sess.h"
#include "rt_sess_int.h"
#include "rt_store.h"
#include "rt_task.h"

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
    t = rt_task_new(name, seq ? &rt_sess__request_owner : NULL);
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
    lstore_withdraw_hook = rt_sess__note_withdraw;     /* st:put(rec, true) while serving */
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
    {"respond", rt_sess__respond},
    {"set_handlers", l_set_handlers},
    {NULL, NULL}
};
