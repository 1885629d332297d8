/* rt_heap.c -- the counting allocator of smppgw's Lua state and its
 * ceiling (see rt_heap.h).
 */
#include <stdlib.h>

#include <lauxlib.h>

#include "log.h"
#include "rt_heap.h"

#define MIB ((size_t)1 << 20)

static struct {
    size_t     used, peak, limit, reserve;
    uint64_t   refused;
    int        hard;
    void     (*over)(void);            /* called at an allocation past the ceiling */
    lua_State *arena;                  /* owns the allocator that does the work */
    lua_Alloc  arena_alloc;
    void      *arena_ud;
} heap;

/* The allocator: every block of the Lua state passes here. A request
 * that would take the heap past ceiling + reserve gets NULL, which LuaJIT
 * raises as "not enough memory" in the code that asked. The ceiling itself
 * is enforced on runs of script code by rt_budget.c, between instructions:
 * LuaJIT's build here raises an allocation failure inside a VM instruction
 * with a stack top it has not fixed, which can corrupt the coroutine's
 * stack (a crash at the next collection). The work is done by LuaJIT's
 * own allocator (far quicker than malloc for Lua's many small blocks). */
static void *heap_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    void *p;
    (void)ud;
    if (nsize == 0) {
        heap.arena_alloc(heap.arena_ud, ptr, osize, 0);
        heap.used -= osize;
        return NULL;
    }
    if (nsize > osize && heap.limit && heap.used + (nsize - osize) > heap.limit + heap.reserve) {
        heap.refused++;
        return NULL;
    }
    p = heap.arena_alloc(heap.arena_ud, ptr, osize, nsize);
    if (!p) {
        if (nsize <= osize) return ptr;        /* the old block still fits */
        heap.refused++;
        return NULL;
    }
    heap.used = heap.used - osize + nsize;
    if (heap.used > heap.peak) heap.peak = heap.used;
    if (nsize > osize && heap.limit && heap.used > heap.limit && heap.over) heap.over();
    return p;
}

/* An error no protected call caught: nothing can go on safely. */
static int heap_panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    log_msg(LOG_ERROR, 0, "Lua error outside any protected call: %s (Lua heap %.1f MiB, ceiling %.0f MiB "
            "+ reserve %.0f MiB); exiting so the supervisor restarts the process",
            msg ? msg : "(not a string)", (double)heap.used / MIB, (double)heap.limit / MIB,
            (double)heap.reserve / MIB);
    exit(1);
    return 0;
}

/* LuaJIT's allocator is internal: a state made by luaL_newstate hands it
 * out (lua_getallocf) with its arena. That state is kept, unused, for the
 * life of the process, so that the arena lives as long as ours. */
lua_State *rt_heap_newstate(void)
{
    lua_State *L;
    if (!(heap.arena = luaL_newstate())) return NULL;
    heap.arena_alloc = lua_getallocf(heap.arena, &heap.arena_ud);
    L = lua_newstate(heap_alloc, NULL);
    heap.hard = L != NULL;
    if (!L) {                         /* a build that refuses custom allocators */
        L = heap.arena;
        heap.arena = NULL;
    }
    lua_atpanic(L, heap_panic);
    return L;
}

void rt_heap_set_over(void (*fn)(void)) { heap.over = fn; }

void rt_heap_set_limit(size_t limit)
{
    heap.limit = limit;
    heap.reserve = limit / 8 > 32 * MIB ? limit / 8 : 32 * MIB;
}

void rt_heap_refuse(void) { heap.refused++; }

size_t rt_heap_used(void) { return heap.used; }
uint64_t rt_heap_refused(void) { return heap.refused; }

void rt_heap_stats(rt_heap_stats_t *out)
{
    out->used = heap.used;
    out->peak = heap.peak;
    out->limit = heap.hard ? heap.limit : 0;
    out->reserve = heap.hard && heap.limit ? heap.reserve : 0;
    out->refused = heap.refused;
    out->hard = heap.hard;
}
