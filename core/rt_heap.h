/* rt_heap.h -- the Lua heap of smppgw: its Lua state is created with an
 * allocator that counts every byte, so that a script cannot grow the
 * process past a ceiling (scripts.memory_mb).
 *
 * Two levels: a run of script code that takes the heap past the ceiling
 * is stopped ("script memory ceiling exceeded": the handler is answered
 * ESME_RSYSERR) by rt_budget.c, at its next check (between instructions,
 * where LuaJIT raises errors safely). The runtime's own code (a PDU pushed
 * as a table, a session's table, the bind check, /stats) may go a reserve
 * above it, so that a heap a script filled to the ceiling cannot make the
 * runtime fail; a run of it that takes the heap past three quarters of
 * the reserve is stopped in the same way (rt_budget.c), so that the
 * reserve is not used up by one. Past ceiling + reserve the allocator
 * refuses (NULL: "not enough memory" where it was asked) inside runs,
 * where the run's protected call (its task's resume) catches it. Outside
 * runs, the runtime's C code between them (the arguments it pushes for
 * a task, the message of a task that failed) may go a further `glue`
 * above: an error there has no protected call below it but the main
 * one, and it ended the process (an HTTP request's failure when a run
 * had used the whole reserve). Where even that is not enough, the error
 * ends in the main protected call or lua_atpanic as a last resort: a log
 * line and exit status 1.
 *
 * Debian's LuaJIT is a GC64 build, where lua_newstate takes a custom
 * allocator (ours counts and delegates to LuaJIT's own, keeping freed
 * small blocks on bounded lists per size for reuse); where it refuses
 * one (older x86-64 builds),
 * rt_heap_newstate falls back to luaL_newstate and the ceiling is only
 * checked between instructions by the budget hook (rt_heap_stats().hard
 * is 0 then).
 */
#ifndef SMPPGW_RT_HEAP_H
#define SMPPGW_RT_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

typedef struct rt_heap_stats_s {
    size_t   used;       /* bytes the Lua state holds now */
    size_t   peak;       /* the most it held */
    size_t   limit;      /* the ceiling (0: none) */
    size_t   reserve;    /* what the runtime may use above it */
    uint64_t refused;    /* allocations refused, and runs stopped, at the ceiling */
    uint64_t crowded;    /* requests answered ESME_RTHROTTLED by rt_heap_crowded */
    size_t   cached;     /* free small blocks kept for reuse (not in `used`; at most cache_max) */
    size_t   cache_max;  /* the bound of cached (4 MiB) */
    int      hard;       /* 1: the state uses this allocator */
} rt_heap_stats_t;

/* A new Lua state on the counting allocator (no ceiling yet), with a
 * panic function that logs and exits; NULL without memory. */
lua_State *rt_heap_newstate(void);

/* The ceiling in bytes (0: none). The reserve above it is the larger of
 * 32 MiB and an eighth of it; the glue above that (outside runs) a
 * quarter of the reserve. */
void rt_heap_set_limit(size_t limit);

/* A run of Lua code is in progress (1: the allocator refuses past
 * ceiling + reserve) or none is (0: past ceiling + reserve + glue). Set
 * by rt_budget.c as the outermost run starts and ends. */
void rt_heap_in_run(int on);

/* fn() is called after every allocation that leaves the heap past the
 * ceiling (from inside the allocator: it may only set flags and the hook,
 * lua_sethook being safe there as in a signal handler). NULL: none. */
void rt_heap_set_over(void (*fn)(void));

/* fn() collects the garbage a run stopped at the ceiling or near the end
 * of the reserve left, when that is due (rt_budget.c; outside runs only).
 * rt_heap_crowded calls it before it says yes: the run of the runtime's
 * own code stopped near the reserve's end left the heap past the
 * crowded mark, and every request was refused with nothing left to run
 * the collection that was due at the next run's start. */
void rt_heap_set_collect(void (*fn)(void));

/* Count a run stopped at the ceiling among the refusals. */
void rt_heap_refuse(void);

/* Is the heap past its ceiling and half its reserve? Then a new request
 * is answered ESME_RTHROTTLED without running Lua (rt_sess.c; counted
 * here): requests that wait in their handlers hold the runtime's part of
 * them (a coroutine, the PDU's table) in the reserve, and enough of them
 * would exhaust it where no protected call catches the refusal. */
int rt_heap_crowded(void);

/* Bytes in use now; refusals so far. */
size_t rt_heap_used(void);
uint64_t rt_heap_refused(void);

void rt_heap_stats(rt_heap_stats_t *out);

#endif /* SMPPGW_RT_HEAP_H */
