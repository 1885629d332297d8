/* rt_budget.c -- the script budget of every run, the hook that enforces
 * it, the bound on the C stack a run may use, the heap ceiling and its
 * garbage collection, and the Lua functions that set them (see
 * rt_budget.h).
 */
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

#include <uv.h>

#include "log.h"
#include "lstring.h"
#include "rt.h"
#include "rt_budget.h"
#include "rt_heap.h"
#include "rt_watchdog.h"

#define MIB ((size_t)1 << 20)
#define MS  1000000ull

static struct {
    double          instr;          /* per run; 0 = no limit */
    double          ms;             /* per run; 0 until set_limits */
    uint64_t        budget_ns;
    double          soft_memory_kb; /* the ceiling checked by the hook (no hard allocator) */
    size_t          memory;         /* the ceiling in bytes (0: none) */
    size_t          near_at;        /* 3/4 of it: the heap is near past this */
    size_t          reserve_at;     /* it + 3/4 of the reserve: the runtime's own runs stop past this */
    int             hooked;
    int             step;           /* the hook's count now */
    int             deep;           /* the run in progress uses half its C stack */
    int             near;           /* the heap is past 3/4 of the ceiling in a run of script code */
    int             check_now;      /* a run of script code allocated past the ceiling */
    uintptr_t       cstack_base;    /* the C stack where the outermost run started */
    size_t          cstack_max;     /* what a run may use below it */
    lua_State      *L;              /* the state (for the hook, from the allocator) */
    int             nest;           /* core.nest levels in progress */
    rt_budget_run_t run;            /* the run in progress */
    int             depth;          /* runs nested */
    size_t          gc_mark;        /* heap in use after the last full collection (or less, since) */
    uint64_t        gc_next_ns;     /* no full collection that would free little before this */
    uint64_t        gc_log_ns;      /* the last "stays at its ceiling" line */
    int             gc_due;         /* heap_collect(gc_live) before the next run */
    int             gc_pause;       /* the collector's pause as last set (0: LuaJIT's default) */
    size_t          gc_step_seen;   /* the heap's size (64 KiB steps) when gc_pace last looked */
    int             coarse;         /* runs start on CLOCK_MONOTONIC_COARSE (run_clock) */
    int             hard;           /* the state counts its heap (rt_heap_used: LuaJIT's count, cheaper) */
    size_t          gc_live;
    uint64_t        stops;
    char            msg[160];       /* why the run in progress was stopped */
} budget;

static void budget_hook(lua_State *L, lua_Debug *ar);

/* The watchdog's poke came (a run is past its budget): the count hook was
 * set to 1 behind budget.step's back. */
static volatile sig_atomic_t poked;

/* -- The hook's step --------------------------------------------------------------- */

/* Count 1 while the run in progress is stopped (or its heap must be looked
 * at now), DEEP_STEP once it uses half its C stack or the heap is near the
 * ceiling (so that what grows fast is caught soon after it passes the
 * bound), else HOOK_STEP. Set again only when it changes: lua_sethook
 * aborts a trace being recorded. */
static inline __attribute__((always_inline)) void arm_hook(lua_State *L)
{
    int step = budget.run.stopped || budget.check_now ? 1
             : budget.deep || budget.near ? RT_BUDGET_DEEP_STEP : RT_BUDGET_HOOK_STEP;
    if (poked) {                        /* whatever the count is now, set it */
        poked = 0;
        budget.step = 0;
    }
    if (step == budget.step) return;
    budget.step = step;
    if (budget.hooked) lua_sethook(L, budget_hook, LUA_MASKCOUNT, step);
}

/* -- Stopping a run ------------------------------------------------------------ */

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
        arm_hook(L);
    }
    luaL_error(L, "%s", budget.msg);
}

/* The run has run out of time: its budget, or the watchdog interrupted it
 * (past the budget, or because a signal asked the process to stop). */
static void check_time(lua_State *L)
{
    int stop;
    if (!budget.budget_ns) return;
    if (rt_watchdog_interrupted() && (stop = rt_watchdog_stopping()) != 0)
        budget_stop(L, "script stopped: signal %d asked the process to stop", stop);
    if (rt_watchdog_interrupted() || uv_hrtime() - budget.run.start_ns > budget.budget_ns)
        budget_stop(L, "script budget exceeded: ran longer than %.0f ms without waiting", budget.ms);
    if (budget.run.limit_ns && uv_hrtime() - budget.run.start_ns > budget.run.limit_ns)
        budget_stop(L, "script budget exceeded: ran longer than %.0f ms, the limit of %s",
                    (double)budget.run.limit_ns / 1e6, budget.run.what);
}

/* The start of a run. Every request is a run, and reading the clock was
 * 2 % of a trivial script's round trip: when the budget is at least 100
 * times the coarse clock's resolution (a tick, 1-4 ms), the coarse clock
 * is read instead (the same timeline as uv_hrtime's, up to a tick behind:
 * a run is charged at most that much more, 1 % of its budget). */
static uint64_t run_clock(void)
{
    struct timespec ts;
    if (budget.coarse && clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) == 0)
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    return uv_hrtime();
}

/* Whether run_clock may read the coarse clock under budget_ns. */
static int coarse_enough(uint64_t budget_ns)
{
    struct timespec res;
    return clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0 && res.tv_sec == 0
        && (uint64_t)res.tv_nsec * 100 <= budget_ns;
}

/* -- The C stack ---------------------------------------------------------------- */

/* The bytes of C stack the run in progress uses now (0 outside runs). The
 * stack grows down on every platform smppgw builds for; the frame address
 * is the real stack even where a sanitizer moves locals elsewhere. */
static size_t cstack_used(void)
{
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    return budget.run.active && budget.cstack_max && budget.cstack_base > here ? budget.cstack_base - here : 0;
}

/* A Lua error, not a budget stop: the nesting unwinds, and a pcall below
 * it may go on. */
static void cstack_overflow(lua_State *L)
{
    luaL_error(L, "C stack overflow: script calls nested through coroutines, callbacks or metamethods "
               "use more than %d KiB of C stack", (int)(budget.cstack_max >> 10));
}

/* The bound: RT_BUDGET_CSTACK, or a quarter of the stack's rlimit when
 * that is smaller (the rest is for the loop below the run, the leaf calls
 * above it, and the hook's step). */
static size_t cstack_bound(void)
{
    struct rlimit rl;
    size_t max = RT_BUDGET_CSTACK;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 4 < max)
        max = (size_t)(rl.rlim_cur / 4);
    return max;
}

static void check_cstack(lua_State *L)
{
    size_t used = cstack_used();
    if (used > budget.cstack_max) cstack_overflow(L);
    if (used > budget.cstack_max / 2 && !budget.deep) {
        budget.deep = 1;
        arm_hook(L);
    }
}

/* -- The heap ceiling ------------------------------------------------------------- */

/* A full collection; returns the bytes it freed, sets gc_mark and *took
 * (nanoseconds). */
static size_t heap_gc(lua_State *L, uint64_t *took)
{
    uint64_t t0 = uv_hrtime();
    size_t before = rt_heap_used(), after;
    lua_gc(L, LUA_GCCOLLECT, 0);
    *took = uv_hrtime() - t0;
    budget.gc_mark = after = rt_heap_used();
    return before > after ? before - after : 0;
}

/* Collect garbage for a run of script code past the ceiling, or before
 * the run after one stopped there: a full collection when it is worth it
 * (an eighth of the ceiling more than `live`, what is believed to be in
 * use) or the last one paid off (it freed a byte for every 4 ns it took:
 * garbage, not what scripts keep, filled the heap), else not before
 * RT_BUDGET_GC_PACE times what the last one took. A heap that scripts
 * keep at the ceiling, where a full collection takes long and frees
 * little, then spends at most about 1/RT_BUDGET_GC_PACE of the loop's time
 * in full collections, not one per run; the log says so now and then. */
static void heap_collect(lua_State *L, size_t live)
{
    uint64_t took, now;
    size_t freed;
    if (rt_heap_used() < live + budget.memory / 8 && uv_hrtime() < budget.gc_next_ns) return;
    freed = heap_gc(L, &took);
    now = uv_hrtime();
    if ((uint64_t)freed * 4 >= took) {
        budget.gc_next_ns = 0;
        return;
    }
    budget.gc_next_ns = now + RT_BUDGET_GC_PACE * took;
    if (budget.gc_mark > budget.memory - budget.memory / 16
        && (!budget.gc_log_ns || now - budget.gc_log_ns > RT_BUDGET_GC_LOG_MS * MS)) {
        budget.gc_log_ns = now;
        log_msg(LOG_WARN, 0, "the Lua heap stays at its ceiling: %.1f MiB of scripts.memory_mb (%d MiB) in use "
                "after a full collection (%.1f ms); runs of script code that allocate are stopped until scripts "
                "let go of what they keep", (double)budget.gc_mark / MIB, (int)(budget.memory >> 20),
                (double)took / 1e6);
    }
}

/* The allocator: an allocation left the heap past the ceiling. In a run
 * of script code, the hook fires at the next instruction (check_heap).
 * Called from inside the allocator: flags and lua_sethook only (which
 * LuaJIT's own interpreter calls from a signal handler). */
static void heap_over(void)
{
    if (!budget.run.active || budget.run.stopped || budget.check_now || !budget.L) return;
    if (budget.run.reserve && rt_heap_used() <= budget.reserve_at) return;
    budget.check_now = 1;
    arm_hook(budget.L);
}

/* rt_heap_crowded's question, outside runs: the collection due at the
 * next run's start (rt_budget_leave), now. */
static void collect_due(void)
{
    if (!budget.gc_due || budget.depth || !budget.L) return;
    budget.gc_due = 0;
    heap_collect(budget.L, budget.gc_live);
}

/* The heap, in a run of the runtime's own code: past three quarters of
 * the reserve, garbage collected when heap_collect finds it worth it, then
 * the run is stopped if that was not enough. Lists of messages made by
 * many HTTP requests at once used the whole reserve, and the allocator's
 * refusal then came where nothing caught it (the process ended). */
static void check_reserve(lua_State *L)
{
    if (rt_heap_used() <= budget.reserve_at) return;
    heap_collect(L, budget.gc_mark);
    if (rt_heap_used() > budget.reserve_at) {
        budget.run.heap_stopped = 1;
        rt_heap_refuse();
        budget_stop(L, "not enough memory: the Lua heap is near the end of its reserve above scripts.memory_mb "
                    "(%d MiB); %s stopped", (int)(budget.memory >> 20), budget.run.what);
    }
}

/* The heap, in a run of script code: past the ceiling, garbage collected
 * when heap_collect finds it worth it, then the run is stopped if that was
 * not enough; near it, collected early (LuaJIT starts a cycle only when
 * the heap has doubled) and watched every DEEP_STEP instructions. */
static void check_heap(lua_State *L)
{
    size_t used;
    int near;
    if (!budget.memory) return;
    if (budget.run.reserve) {
        check_reserve(L);
        return;
    }
    used = rt_heap_used();
    if (used < budget.gc_mark) budget.gc_mark = used;
    if (used > budget.memory) {
        heap_collect(L, budget.gc_mark);
        if (rt_heap_used() > budget.memory) {
            budget.run.heap_stopped = 1;
            rt_heap_refuse();
            budget_stop(L, "script memory ceiling exceeded: the Lua heap reached scripts.memory_mb (%d MiB)",
                        (int)(budget.memory >> 20));
        }
    } else if (used > budget.near_at && used >= budget.gc_mark + budget.memory / 8) {
        uint64_t took;
        heap_gc(L, &took);
    }
    near = rt_heap_used() > budget.near_at;
    if (near != budget.near) {
        budget.near = near;
        arm_hook(L);
    }
}

/* -- The hook and the checks of C functions ------------------------------------------ */

/* The poke's handler (rt_watchdog.h), on the loop thread in a signal
 * handler: the next instruction calls the hook, which reads the watchdog's
 * flag. lua_sethook is safe there (luajit.c's SIGINT handler does this). */
static void budget_poke(void)
{
    if (!budget.hooked || !budget.L) return;
    lua_sethook(budget.L, budget_hook, LUA_MASKCOUNT, 1);
    poked = 1;
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    rt_budget_run_t *r = &budget.run;
    int counted = budget.step;
    (void)ar;
    if (poked) {                        /* one instruction since the poke, not a step */
        counted = 1;
        arm_hook(L);
    }
    if (!r->active) return;             /* not script code (start-up, the runtime's own Lua) */
    if (r->stopped) luaL_error(L, "%s", budget.msg);
    r->instr += counted;
    if (budget.check_now) {
        budget.check_now = 0;
        arm_hook(L);
    }
    if (budget.instr > 0 && r->instr > budget.instr)
        budget_stop(L, "script budget exceeded: more than %.0f instructions in one run", budget.instr);
    check_time(L);
    check_cstack(L);
    check_heap(L);
    if (budget.soft_memory_kb > 0 && lua_gc(L, LUA_GCCOUNT, 0) > budget.soft_memory_kb) {
        lua_gc(L, LUA_GCCOLLECT, 0);
        if (lua_gc(L, LUA_GCCOUNT, 0) > budget.soft_memory_kb)
            budget_stop(L, "script memory ceiling exceeded: Lua heap above %.0f KiB", budget.soft_memory_kb);
    }
}

void rt_budget_check(lua_State *L)
{
    if (!budget.run.active) return;
    if (budget.run.stopped) luaL_error(L, "%s", budget.msg);
    check_time(L);
    check_cstack(L);
    check_heap(L);
}

/* -- Runs --------------------------------------------------------------------- */

void rt_budget_enter(lua_State *L, const char *what, uint64_t sess_id, int reserve, rt_budget_run_t *saved)
{
    size_t used;
    if (budget.gc_due && budget.depth == 0) {
        budget.gc_due = 0;
        heap_collect(L, budget.gc_live);
    }
    used = budget.memory ? rt_heap_used() : 0;
    *saved = budget.run;
    budget.run.active = 1;
    budget.run.stopped = 0;
    budget.run.heap_stopped = 0;
    budget.run.reserve = reserve;
    budget.run.what = what;
    budget.run.sess_id = sess_id;
    budget.run.start_ns = run_clock();
    budget.run.instr = 0;
    budget.run.limit_ns = 0;
    budget.run.heap_start = used;
    if (budget.depth++ == 0) {
        budget.cstack_base = (uintptr_t)__builtin_frame_address(0);
        budget.nest = 0;
        rt_watchdog_begin(what, sess_id, budget.run.start_ns);
        rt_heap_in_run(1);
    }
    budget.deep = budget.check_now = 0;
    budget.near = !reserve && used > budget.near_at;
    arm_hook(L);
}

/* The collector's pace: each cycle marks everything in use, and a cycle
 * starts when the heap reaches `pause` percent of what the last one left.
 * Messages make garbage at a steady rate whatever the heap holds, so with
 * a small heap (the runtime alone: about 0.6 MiB) the default 200 runs a
 * cycle every few hundred messages, marking the same tables each time:
 * 15 % of a trivial script's round trip. Below RT_BUDGET_GC_SMALL_KB the
 * next cycle starts at RT_BUDGET_GC_SMALL_PAUSE, and not before the heap
 * grew by GC_ROOM_KB (an eighth of the ceiling at most) over what the
 * last one left: the runtime alone (0.6-1 MiB) waits for 3.5 MiB of
 * garbage, not 2-3 (whatever the heap, it grows by that room at most;
 * the pause is at most GC_MAX_PAUSE). The room stays under the allocator's free
 * lists (4 MiB, rt_heap.c): a cycle's garbage fits them, where a larger
 * room let blocks go back to the arena and cost more than the cycles it
 * saved. Above RT_BUDGET_GC_SMALL_KB, LuaJIT's default. Looked at as
 * each outermost run ends (the counting allocator's figure is LuaJIT's,
 * without a call into it): the pause a cycle ends with is the one set at
 * the last run end, its sweep having brought the heap down to nearly
 * what is in use, so a heap that is partly garbage then is given a
 * smaller pause, never a larger one. Set in steps of 50 and looked at
 * again only when the heap moved by 64 KiB: LuaJIT is called a few times
 * a cycle, not per run. */
#define GC_ROOM_KB   3584
#define GC_MAX_PAUSE 1000

static void gc_pace(lua_State *L)
{
    size_t kb = budget.hard ? rt_heap_used() >> 10 : (size_t)lua_gc(L, LUA_GCCOUNT, 0), room;
    int pause = 200;
    if (kb >> 6 == budget.gc_step_seen && budget.gc_pause) return;
    budget.gc_step_seen = kb >> 6;
    room = budget.memory && budget.memory / 8 >> 10 < GC_ROOM_KB ? budget.memory / 8 >> 10 : GC_ROOM_KB;
    if (kb < RT_BUDGET_GC_SMALL_KB) {
        pause = RT_BUDGET_GC_SMALL_PAUSE;
        if (kb * (GC_MAX_PAUSE - 100) < room * 100) pause = GC_MAX_PAUSE;
        else if (kb * (RT_BUDGET_GC_SMALL_PAUSE - 100) < room * 100) pause = (int)((kb + room) * 100 / kb / 50 * 50);
    }
    if (pause == budget.gc_pause) return;
    budget.gc_pause = pause;
    lua_gc(L, LUA_GCSETPAUSE, pause);
}

void rt_budget_leave(lua_State *L, const rt_budget_run_t *saved)
{
    int heap_stopped = budget.run.heap_stopped;
    size_t start = budget.run.heap_start;
    budget.run = *saved;
    if (--budget.depth == 0) {
        rt_watchdog_end();
        rt_heap_in_run(0);
        gc_pace(L);
    }
    budget.deep = budget.near = budget.check_now = 0;
    arm_hook(L);
    /* a run stopped at the ceiling (what it allocated is garbage once its
     * task is released: in use is at most what was there when it
     * started), or the runtime's own code in the reserve: room for the
     * next run, collected as it starts (the task that failed still holds
     * its stack now) */
    if (budget.memory && heap_stopped) {
        size_t live = start < budget.gc_mark ? start : budget.gc_mark;
        budget.gc_live = budget.gc_due && budget.gc_live < live ? budget.gc_live : live;
        budget.gc_due = 1;
    } else if (budget.memory && rt_heap_used() > budget.memory && !budget.gc_due) {
        budget.gc_live = budget.gc_mark;
        budget.gc_due = 1;
    }
}

int rt_budget_reserve(lua_State *L, int on)
{
    int was = budget.run.reserve;
    budget.run.reserve = on;
    if (on) budget.near = budget.check_now = 0;
    arm_hook(L);
    return was;
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
    budget.coarse = coarse_enough(budget.budget_ns);
    grace = budget.budget_ns > 1000000000ull ? budget.budget_ns : 1000000000ull;
    rt_watchdog_limits(budget.budget_ns, budget.budget_ns + grace);
    rt_heap_stats(&h);
    budget.hard = h.hard;
    budget.gc_pause = 0;                /* gc_pace looks again (the room depends on the ceiling) */
    budget.memory = h.hard && mb > 0 ? (size_t)(mb * MIB) : 0;
    budget.near_at = budget.memory / 4 * 3;
    budget.soft_memory_kb = h.hard ? 0 : mb * 1024;
    rt_heap_set_limit(budget.memory);
    rt_heap_stats(&h);
    budget.reserve_at = budget.memory ? budget.memory + h.reserve / 4 * 3 : SIZE_MAX;
    /* the state the allocator's hook is armed on: the main one, never a
     * task's coroutine (a reload calls this from one, and it is collected
     * when the task ends; LuaJIT's hook is the whole state's anyway) */
    if (lua_pushthread(L) || !budget.L) budget.L = L;
    lua_pop(L, 1);
    rt_heap_set_over(heap_over);
    rt_heap_set_collect(collect_due);
    lstring_set_limits(max_string > 0 ? (size_t)max_string : 0, rt_budget_check);
    budget.cstack_max = cstack_bound();
    budget.hooked = 1;
    budget.step = 0;                    /* set the hook whatever it was */
    arm_hook(L);
    rt_watchdog_set_poke(budget_poke);
    if ((rc = rt_watchdog_start()) != 0)
        log_msg(LOG_WARN, 0, "no script watchdog (thread: error %d): a run that cannot be interrupted would "
                "hang the process", rc);
    return 0;
}

/* fn(...) (at 2, what at 1) as a run of script code, within ms (0: the
 * budget). */
static int budget_call(lua_State *L, double ms)
{
    static char what[256];              /* the watchdog may read it: static */
    rt_budget_run_t saved;
    uint64_t outer = 0;
    int rc;
    snprintf(what, sizeof what, "%s", luaL_checkstring(L, 1));
    luaL_checktype(L, 2, LUA_TFUNCTION);
    rt_budget_enter(L, what, 0, 0, &saved);
    if (ms > 0) {
        budget.run.limit_ns = (uint64_t)(ms * 1e6);
        /* the watchdog pokes once it is past: a loop of short C calls
         * reaches the count hook too seldom to be stopped near the limit */
        outer = rt_watchdog_deadline(budget.run.start_ns + budget.run.limit_ns);
    }
    rc = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
    if (ms > 0) rt_watchdog_deadline(outer);
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

/* core.budget_call(what, fn, ...) -> true, fn's results | false, message:
 * fn(...) as a run of script code (the load of a script's main chunk). A
 * C call: fn cannot wait (smpp.sleep raises "cannot wait here"). */
static int l_budget_call(lua_State *L)
{
    return budget_call(L, 0);
}

/* core.budget_call_ms(what, ms, fn, ...): the same, the run stopped past
 * ms (or the budget, if less): a script's gauge, read inside /stats. */
static int l_budget_call_ms(lua_State *L)
{
    double ms = luaL_checknumber(L, 2);
    lua_remove(L, 2);
    return budget_call(L, ms > 0 ? ms : 0);
}

/* core.budget_ms() -> the budget of a run in ms, and how long the run in
 * progress has run (0 outside runs). */
static int l_budget_ms(lua_State *L)
{
    lua_pushnumber(L, budget.ms);
    lua_pushnumber(L, budget.run.active ? (double)(uv_hrtime() - budget.run.start_ns) / 1e6 : 0);
    return 2;
}

/* core.cstack_check(): raises "C stack overflow" when the run in progress
 * uses more C stack than its bound (the sandbox's table.sort asks first:
 * a comparator may sort). */
static int l_cstack_check(lua_State *L)
{
    if (cstack_used() > budget.cstack_max) cstack_overflow(L);
    return 0;
}

/* core.nest(fn, ...) -> fn(...): a call counted as one level of nesting
 * (the sandbox's coroutine.resume and the functions of coroutine.wrap go
 * through it: each resume is a C call of LuaJIT's that no Lua stack
 * bounds, every coroutine having its own). Past RT_BUDGET_NEST levels, or
 * the C stack bound, it raises instead. fn's error goes on as it came (the
 * count is undone first), without the position LuaJIT's wrap would add at
 * every level. */
static int l_nest(lua_State *L)
{
    int rc;
    luaL_checkany(L, 1);
    if (cstack_used() > budget.cstack_max) cstack_overflow(L);
    if (budget.run.active && budget.nest >= RT_BUDGET_NEST)
        return luaL_error(L, "C stack overflow: coroutines nested more than %d deep", RT_BUDGET_NEST);
    budget.nest++;
    rc = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    budget.nest--;
    if (rc != 0) return lua_error(L);
    return lua_gettop(L);
}

/* core.heap() -> {used =, peak =, limit =, reserve =, refused =, cached =,
 * hard =}: the Lua heap and its ceiling, in bytes (cached: free small
 * blocks the allocator keeps for reuse, not counted in used). */
static int l_heap(lua_State *L)
{
    rt_heap_stats_t h;
    rt_heap_stats(&h);
    if (!h.hard) h.used = (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024;
    lua_createtable(L, 0, 7);
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
    lua_pushnumber(L, (double)h.cached);
    lua_setfield(L, -2, "cached");
    lua_pushboolean(L, h.hard);
    lua_setfield(L, -2, "hard");
    return 1;
}

const luaL_Reg rt_budget_lib[] = {
    {"set_limits", l_set_limits},
    {"budget_call", l_budget_call},
    {"budget_call_ms", l_budget_call_ms},
    {"budget_ms", l_budget_ms},
    {"cstack_check", l_cstack_check},
    {"nest", l_nest},
    {"heap", l_heap},
    {NULL, NULL}
};
