/* rt_budget.h -- the script budget: a limit on every run of script code
 * (one resume of a task, or the load of a script), in milliseconds and
 * optionally in VM instructions, that holds wherever the code goes.
 *
 * - A count hook runs every RT_BUDGET_HOOK_STEP instructions. lua_sethook
 *   is global to the Lua state, so it also fires in coroutines the script
 *   made: the count goes to the run in progress, whatever coroutine runs.
 * - Once a run's budget is spent, the hook is re-armed with a count of 1
 *   and raises at every instruction, so a pcall, xpcall or coroutine.resume
 *   that catches the error cannot keep the run going: the next instruction
 *   raises again, until the run has unwound out of the script.
 * - Long C calls check the budget themselves (the pattern functions of
 *   lstring.c call rt_budget_check).
 * - A watchdog thread watches every run: past the budget it raises an
 *   interrupt flag the hook and the checks read, and pokes the loop thread
 *   (a signal whose handler sets the hook's count to 1, rt_watchdog.h) so
 *   the hook runs at the next instruction; past the hard grace
 *   (budget + the larger of 1 s and the budget) the run is one that nothing
 *   can stop (a C call that never checks, a finalizer, compiled code) and
 *   the process logs it and exits with status RT_WATCHDOG_EXIT, for the
 *   supervisor to restart it. Never a silent hang.
 * - The C stack: a script can nest C calls that the Lua stack does not
 *   bound (a coroutine resumed inside a coroutine..., each with a Lua stack
 *   of its own) or bounds only past what the C stack holds (string.gsub's
 *   callback calling gsub). A run may use RT_BUDGET_CSTACK bytes of C stack
 *   below the frame where the outermost run started (a quarter of the
 *   stack's rlimit when that is less); past it "C stack overflow" is an
 *   ordinary Lua error that unwinds the nesting. Checked by the hook (every
 *   RT_BUDGET_DEEP_STEP instructions once half of it is used), by
 *   rt_budget_check (the matcher, before each gsub callback), and by the
 *   sandbox's coroutine.resume, coroutine.wrap and table.sort. Coroutines
 *   resumed one inside another are also counted (core.nest): at most
 *   RT_BUDGET_NEST, as PUC Lua bounds nested C calls, since each level
 *   costs little C stack but an error unwinding through LuaJIT's
 *   coroutine.wrap grows its message at every level.
 * - The heap ceiling (scripts.memory_mb, rt_heap.h): a run of script code
 *   that allocates with the heap past it is stopped at its next
 *   instruction ("script memory ceiling exceeded"; the allocator arms the
 *   hook), after a full collection if one is worth it; a run that does
 *   not allocate goes on. Near the ceiling the heap is watched every
 *   DEEP_STEP instructions. The runtime's own runs (rt_budget_reserve) may
 *   use the reserve above it. Full collections that free little are
 *   paced (heap_collect): a heap that scripts keep at the ceiling spends
 *   at most about 1/RT_BUDGET_GC_PACE of the time in them, not one per
 *   run.
 * - No hook runs in compiled traces: script chunks are loaded with the JIT
 *   off for every function they define (lua/smpp/sandbox.lua); library code
 *   stays compiled, and LuaJIT never records a trace into a function whose
 *   JIT is off (it checks on calls and on returns).
 */
#ifndef SMPPGW_RT_BUDGET_H
#define SMPPGW_RT_BUDGET_H

#include <stdint.h>

#include <lua.h>

#define RT_BUDGET_HOOK_STEP   10000     /* instructions between two hook calls */
#define RT_BUDGET_DEEP_STEP   100       /* the same once a run uses half its C stack */
#define RT_BUDGET_CSTACK      (1024 * 1024)  /* C stack a run may use, in bytes */
#define RT_BUDGET_NEST        200       /* coroutines resumed one inside another */
#define RT_BUDGET_GC_PACE     10        /* a full collection that frees little waits this many times its length */
#define RT_BUDGET_GC_LOG_MS   10000     /* the least time between two "stays at its ceiling" lines */
#define RT_BUDGET_GC_SMALL_KB 8192      /* a heap below this starts its next cycle at RT_BUDGET_GC_SMALL_PAUSE */
#define RT_BUDGET_GC_SMALL_PAUSE 400    /* (LuaJIT's default 200: the cycle starts when the heap doubled) */
#define RT_BUDGET_MAX_MS      60000     /* the longest budget; scripts.budget_ms = 0 means it */

/* A run of script code in progress. Runs nest (a session closed by a
 * script runs its down event at once): each saves the one it interrupts. */
typedef struct rt_budget_run_s {
    int         active;
    int         stopped;        /* spent: every instruction raises */
    int         heap_stopped;   /* stopped at the heap's ceiling */
    int         reserve;        /* the runtime's own code: may use the heap's reserve */
    const char *what;           /* "submit_sm", "timer", "load of PATH" (static) */
    uint64_t    sess_id;        /* the session it serves, 0: none */
    uint64_t    start_ns;
    uint64_t    limit_ns;       /* its own time limit (core.budget_call_ms), 0: the budget */
    double      instr;          /* instructions counted so far */
    size_t      heap_start;     /* the heap in use when it started */
} rt_budget_run_t;

/* A run starts in L's state (the previous one goes to *saved); `what`
 * must stay valid for the life of the process (a literal or a table's).
 * reserve: the run is the runtime's own code (the bind check, the HTTP
 * API's own routes), which the heap's ceiling does not stop. */
void rt_budget_enter(lua_State *L, const char *what, uint64_t sess_id, int reserve, rt_budget_run_t *saved);

/* The run ends: the saved one continues. After a run stopped at the
 * ceiling, or one of the runtime's that left the heap above it, garbage is
 * collected as the next run starts (its task released by then; unless a
 * full collection was recent and would free little). */
void rt_budget_leave(lua_State *L, const rt_budget_run_t *saved);

/* The run in progress is the runtime's own code from now on (on = 1) or
 * script code again (0). Returns the previous setting. */
int rt_budget_reserve(lua_State *L, int on);

/* For C functions that can run long or call back into Lua: raises in L
 * when the run in progress has spent its budget (or the watchdog
 * interrupted it) or uses more C stack than its bound; else returns. */
void rt_budget_check(lua_State *L);

/* Runs stopped by the budget, and interrupts raised by the watchdog. */
uint64_t rt_budget_stops(void);
uint64_t rt_budget_interrupts(void);

#endif /* SMPPGW_RT_BUDGET_H */
