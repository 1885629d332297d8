/* rt_budget.c -- the script budget of every run, the hook that enforces
 * it, the heap ceiling's pacing, and the Lua functions that set them (see
 * rt_budget.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include <uv.h>

#include "log.h"
#include "lstring.h"
#include "rt.h"
#include "rt_budget.h"
#include "rt_heap.h"
#include "rt_watchdog.h"

#define MIB ((size_t)1 << 20)

static struct {
    double          instr;          /* per run; 0 = no limit */
    double          ms;             /* per run; 0 until set_limits */
    uint64_t        budget_ns;
    double          soft_memory_kb; /* the ceiling checked by the hook (no hard allocator) */
    size_t          memory;         /* the ceiling in bytes (0: none) */
    int             hooked;
    rt_budget_run_t run;            /* the run in progress */
    int             depth;          /* runs nested */
    size_t          gc_mark;        /* heap in use after the last collection we forced */
    uint64_t        stops;
    char            msg[160];       /* why the run in progress was stopped */
} budget;

static void budget_hook(lua_State *L, lua_Debug *ar);

/* -- Stopping a run ------------------------------------------------------------ */

/* Count 1 while the run in progress is stopped, else every HOOK_STEP. */
static void arm_hook(lua_State *L, int stopped)
{
    if (budget.hooked) lua_sethook(L, budget_hook, LUA_MASKCOUNT, stopped ? 1 : RT_BUDGET_HOOK_STEP);
}

/* The run has spent its budget: from now on every instruction of it, in
 * whatever coroutine and under whatever pcall, raises this error again. */
static void budget_stop(lua_State *L, const char *fmt, ...)
{
    va_list ap;
    if (!budget.run.stopped) {
        budget.run.stopped = 1;
        budget.stops++;
        va_start(ap, fmt);
        vsnprintf(budget.msg, sizeof budget.msg, fmt, ap);
        va_end(ap);
        arm_hook(L, 1);
    }
    luaL_error(L, "%s", budget.msg);
}

static int over_time(void)
{
    return budget.budget_ns && (rt_watchdog_interrupted() || uv_hrtime() - budget.run.start_ns > budget.budget_ns);
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    rt_budget_run_t *r = &budget.run;
    (void)ar;
    if (!r->active) return;             /* not script code (start-up, the runtime's own Lua) */
    if (r->stopped) luaL_error(L, "%s", budget.msg);
    r->instr += RT_BUDGET_HOOK_STEP;
    if (budget.instr > 0 && r->instr > budget.instr)
        budget_stop(L, "script budget exceeded: more than %.0f instructions in one run", budget.instr);
    if (over_time())
        budget_stop(L, "script budget exceeded: ran longer than %.0f ms without waiting", budget.ms);
    if (budget.memory) {
        /* LuaJIT collects when the heap doubles: near the ceiling, collect
         * sooner, so that garbage is not what makes an allocation fail */
        size_t used = rt_heap_used();
        if (used < budget.gc_mark) budget.gc_mark = used;
        if (used > budget.memory / 4 * 3 && used > budget.gc_mark + budget.memory / 8) {
            lua_gc(L, LUA_GCCOLLECT, 0);
            budget.gc_mark = rt_heap_used();
        }
    } else if (budget.soft_memory_kb > 0 && lua_gc(L, LUA_GCCOUNT, 0) > budget.soft_memory_kb) {
        lua_gc(L, LUA_GCCOLLECT, 0);
        if (lua_gc(L, LUA_GCCOUNT, 0) > budget.soft_memory_kb)
            budget_stop(L, "script memory ceiling exceeded: Lua heap above %.0f KiB", budget.soft_memory_kb);
    }
}

void rt_budget_check(lua_State *L)
{
    if (!budget.run.active) return;
    if (budget.run.stopped) luaL_error(L, "%s", budget.msg);
    if (over_time()) budget_stop(L, "script budget exceeded: ran longer than %.0f ms without waiting", budget.ms);
}

/* -- Runs --------------------------------------------------------------------- */

void rt_budget_enter(lua_State *L, const char *what, uint64_t sess_id, rt_budget_run_t *saved)
{
    *saved = budget.run;
    budget.run.active = 1;
    budget.run.stopped = 0;
    budget.run.what = what;
    budget.run.sess_id = sess_id;
    budget.run.start_ns = uv_hrtime();
    budget.run.instr = 0;
    budget.run.heap_strict = rt_heap_strict(1);
    budget.run.refused = rt_heap_refused();
    if (budget.depth++ == 0) rt_watchdog_begin(what, sess_id, budget.run.start_ns);
    if (saved->stopped) arm_hook(L, 0);
}

void rt_budget_leave(lua_State *L, const rt_budget_run_t *saved)
{
    int stopped = budget.run.stopped;
    uint64_t refused = budget.run.refused;
    rt_heap_strict(budget.run.heap_strict);
    budget.run = *saved;
    if (--budget.depth == 0) rt_watchdog_end();
    if (stopped != saved->stopped) arm_hook(L, saved->stopped);
    if (rt_heap_refused() != refused) {         /* the run hit the ceiling: room for the next */
        lua_gc(L, LUA_GCCOLLECT, 0);
        budget.gc_mark = rt_heap_used();
    }
}

uint64_t rt_budget_stops(void) { return budget.stops; }
uint64_t rt_budget_interrupts(void) { return rt_watchdog_interrupts(); }

/* -- Lua functions --------------------------------------------------------------- */

/* core.set_limits{budget_ms =, budget_instructions =, memory_mb =,
 * max_string =}: the limits of every run from now on (the config's
 * `scripts` section, defaults filled in). budget_ms 0, or above the
 * maximum, is RT_BUDGET_MAX_MS: a run always has a time limit. memory_mb 0
 * is no ceiling. Starts the watchdog. */
static int l_set_limits(lua_State *L)
{
    rt_heap_stats_t h;
    double ms, mb, max_string;
    uint64_t grace;
    int rc;
    luaL_checktype(L, 1, LUA_TTABLE);
    ms = rt_opt_num(L, 1, "budget_ms", 0);
    budget.instr = rt_opt_num(L, 1, "budget_instructions", 0);
    mb = rt_opt_num(L, 1, "memory_mb", 0);
    max_string = rt_opt_num(L, 1, "max_string", 0);
    budget.ms = ms > 0 && ms < RT_BUDGET_MAX_MS ? ms : RT_BUDGET_MAX_MS;
    budget.budget_ns = (uint64_t)(budget.ms * 1e6);
    grace = budget.budget_ns > 1000000000ull ? budget.budget_ns : 1000000000ull;
    rt_watchdog_limits(budget.budget_ns, budget.budget_ns + grace);
    rt_heap_stats(&h);
    budget.memory = h.hard && mb > 0 ? (size_t)(mb * MIB) : 0;
    budget.soft_memory_kb = h.hard ? 0 : mb * 1024;
    rt_heap_set_limit(budget.memory);
    lstring_set_limits(max_string > 0 ? (size_t)max_string : 0, rt_budget_check);
    budget.hooked = 1;
    arm_hook(L, budget.run.stopped);
    if ((rc = rt_watchdog_start()) != 0)
        log_msg(LOG_WARN, 0, "no script watchdog (thread: error %d): a run that cannot be interrupted would "
                "hang the process", rc);
    return 0;
}

/* core.budget_call(what, fn, ...) -> true, fn's results | false, message:
 * fn(...) as a run of script code (the load of a script's main chunk). */
static int l_budget_call(lua_State *L)
{
    static char what[256];              /* the watchdog may read it: static */
    rt_budget_run_t saved;
    int rc;
    snprintf(what, sizeof what, "%s", luaL_checkstring(L, 1));
    luaL_checktype(L, 2, LUA_TFUNCTION);
    rt_budget_enter(L, what, 0, &saved);
    rc = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
    rt_budget_leave(L, &saved);
    if (rc != 0) {
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushboolean(L, 1);
    lua_replace(L, 1);
    return lua_gettop(L);
}

/* core.heap() -> {used =, peak =, limit =, reserve =, refused =, hard =}:
 * the Lua heap and its ceiling, in bytes. */
static int l_heap(lua_State *L)
{
    rt_heap_stats_t h;
    rt_heap_stats(&h);
    if (!h.hard) h.used = (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024;
    lua_createtable(L, 0, 6);
    lua_pushnumber(L, (double)h.used);
    lua_setfield(L, -2, "used");
    lua_pushnumber(L, (double)h.peak);
    lua_setfield(L, -2, "peak");
    lua_pushnumber(L, h.hard ? (double)h.limit : budget.soft_memory_kb * 1024);
    lua_setfield(L, -2, "limit");
    lua_pushnumber(L, (double)h.reserve);
    lua_setfield(L, -2, "reserve");
    lua_pushnumber(L, (double)h.refused);
    lua_setfield(L, -2, "refused");
    lua_pushboolean(L, h.hard);
    lua_setfield(L, -2, "hard");
    return 1;
}

const luaL_Reg rt_budget_lib[] = {
    {"set_limits", l_set_limits},
    {"budget_call", l_budget_call},
    {"heap", l_heap},
    {NULL, NULL}
};
