/* rt.h -- the Lua runtime's shared state and helpers, internal to the
 * core/rt_*.c files (nothing outside the runtime includes this).
 *
 * The runtime is the `smpp.core` module: one libuv loop and one Lua state
 * per process, sessions as Lua tables, one coroutine ("task", rt_task.h)
 * per request, timer or event. Its files, along its seams:
 *   rt.c         this state and the helpers below
 *   rt_task.c    tasks, their pool, resume, completion callbacks
 *   rt_budget.c  the script budget of every run (hook, checks, limits)
 *   rt_heap.c    the Lua state's allocator and its ceiling
 *   rt_watchdog.c  the thread that ends a run nothing else can stop
 *   rt_timer.c   timers (after/every/cancel), sleep, suspend/wake
 *   rt_sess.c    session tables, engine callbacks, answers to requests
 *   rt_send.c    send/connect/listen/unbind/close/throttle, the session list
 *   rt_stats.c   the stats tables (core.stats, core.session_stats, sessions_page)
 *   rt_http.c    the HTTP glue (a task per request, http_post)
 *   rt_store.c   the store in the loop: group commit, held answers, expiry,
 *                checkpoints, core.time, core.store_stats
 *   rt_acct.c    accounts: the bound sessions of each system_id
 *   rt_outbox.c  core.post and the per-account deliverers of the outbox
 *   rt_gw.c      the store-and-forward gateway: links, held answers, events, stats
 *   rt_gw_store.c ... its stored messages (core.gw_queue, gw_record)
 *   rt_fwd.c     ... the forwarder of each upstream link
 *   rt_fwd_unrec.c ... its bound on sendings whose answers the store could not record
 *   rt_gw_answer.c ... whether a link answers (an upstream that never does)
 *   rt_gw_rcpt.c ... receipts from upstreams matched and sent on
 *   rt_gw_rcpt_hold.c ... which of them wait as early (the holding rule)
 *   rt_serve.c   serve loop, signals, the module table
 *
 * Who owns what: `rt` below owns the registry refs it lists (each released
 * on one path, or kept for the life of the Lua state). Sessions are owned
 * by the transport (rt.net); scripts find them only through the session
 * table registry[rt.sessions][id], so no Lua value points at a freed one.
 */
#ifndef SMPPGW_RT_H
#define SMPPGW_RT_H

#include <lauxlib.h>
#include <lua.h>

#include "net.h"

typedef struct rt_s {
    lua_State    *L;          /* the main state: tasks are its coroutines */
    uv_loop_t    *loop;       /* set while serving, else NULL */
    net_t        *net;        /* the sessions, while serving */
    sess_config_t cfg;        /* session options of serve{session=} */
    int           handlers;   /* registry ref: the script's handler table */
    unsigned      handlers_gen; /* bumped whenever `handlers` is set (rt_sess.c caches lookups) */
    int           sessions;   /* registry ref: session id -> session table */
    int           session_mt; /* registry ref: metatable of session tables */
    int           serving;
    unsigned      script_gen; /* the script's generation: 1 at start, one more at each reload
                               * (core.timers_generation); tasks and timers carry theirs, 0
                               * is the runtime's own (rt_timer.c) */
} rt_t;

extern rt_t rt;

/* -- Helpers (rt.c) ------------------------------------------------------------ */

/* t.k = v for the table at the top of L's stack (the statistics tables of
 * every rt_*.c file are built with it). */
#define SET_NUM(k, v) (lua_pushnumber(L, (double)(v)), lua_setfield(L, -2, k))

/* The loop clock in seconds (0 when not serving): the one conversion of
 * uv_now's milliseconds. */
double rt_clock(void);

/* Seconds since the process opened the runtime module (at its start). */
double rt_uptime(void);
void rt_uptime_start(void);

/* Push the table registry[*ref], creating it on first use. */
void rt_registry_table(lua_State *L, int *ref);

/* Make *ref hold the value at idx, releasing what it held. */
void rt_registry_set(lua_State *L, int *ref, int idx);

/* t[k] = v (nil when v is NULL) on the table at the stack top, raw: the
 * runtime updates session tables outside any script run, where a
 * metamethod a script set must not run. */
void rt_set_str(lua_State *L, const char *k, const char *v);

/* The number tbl[key] of the table at idx, or dflt. */
double rt_opt_num(lua_State *L, int idx, const char *key, double dflt);

/* The string tbl[key] of the table at idx, or NULL (it stays alive in the
 * table). */
const char *rt_opt_str(lua_State *L, int idx, const char *key);

/* Session options from the table at idx over *c (seconds in the config,
 * milliseconds in the engine). */
void rt_read_session_config(lua_State *L, int idx, sess_config_t *c);

/* A TLS context from the table at idx {cert, key, ca, verify,
 * min_version}; NULL with a message pushed on failure. */
tls_ctx_t *rt_read_tls(lua_State *L, int idx, int server);

/* -- The Lua functions of each file, gathered by luaopen_smpp_core ------------ */

extern const luaL_Reg rt_task_lib[];
extern const luaL_Reg rt_budget_lib[];
extern const luaL_Reg rt_timer_lib[];
extern const luaL_Reg rt_sess_lib[];
extern const luaL_Reg rt_send_lib[];
extern const luaL_Reg rt_stats_lib[];
extern const luaL_Reg rt_http_lib[];

#endif /* SMPPGW_RT_H */
