/* rt_heap.c -- the counting allocator of smppgw's Lua state and its
 * ceiling (see rt_heap.h).
 */
#include <stdint.h>
#include <stdlib.h>

#include <lauxlib.h>

#include "log.h"
#include "rt_heap.h"

#define MIB ((size_t)1 << 20)

/* -- Small blocks ---------------------------------------------------------------
 * Every message makes the same few small objects (its table and node array,
 * the response's, the id string: 5 blocks of 32 to 784 bytes) and the
 * collector frees them in bursts. LuaJIT's allocator spends about 120
 * instructions to free a block and 70 to make one; a free block kept on a
 * list per size class costs a tenth of that. A block of HEAP_SMALL bytes or
 * less is always taken from the arena at its class's size (a multiple of
 * HEAP_GRAIN), so any block of a class fits any request of that class. The
 * lists hold at most HEAP_CACHE bytes (a cycle's garbage at the collector's
 * small-heap pace): a heap that shrinks gives the rest back to the arena,
 * where it can serve blocks of every size. The heap's `used` counts what
 * Lua holds, as it did without the lists (the ceiling is unchanged); the
 * lists are given back when the state is closed (the last block freed) or
 * when the arena refuses. */
#define HEAP_GRAIN   16
#define HEAP_SMALL   1024
#define HEAP_CLASSES (HEAP_SMALL / HEAP_GRAIN + 1)
#define HEAP_CACHE   (4 * MIB)

static struct {
    size_t     used, peak, limit, reserve;
    size_t     most;                   /* most_run or most_out, as a run is in progress or not */
    size_t     most_run;               /* limit + reserve, or SIZE_MAX without a ceiling */
    size_t     most_out;               /* most_run + the glue (a quarter of the reserve) */
    int        in_run;
    size_t     over_at;                /* limit, or SIZE_MAX without a ceiling */
    size_t     crowded_at;             /* limit + half the reserve, or SIZE_MAX: rt_heap_crowded */
    uint64_t   crowded;                /* requests answered ESME_RTHROTTLED past it */
    size_t     cached;                 /* bytes on the free lists */
    uint64_t   refused;
    int        hard;
    void     (*over)(void);            /* called at an allocation past the ceiling */
    void     (*collect)(void);         /* collects what a stopped run left, if it is due */
    lua_State *arena;                  /* owns the allocator that does the work */
    lua_Alloc  arena_alloc;
    void      *arena_ud;
    void      *free[HEAP_CLASSES];     /* free[c]: blocks of c * HEAP_GRAIN bytes, linked through their first word */
} heap;

/* Give every listed block back to the arena. (Out of line, as the rest of
 * the slow paths: the allocator's quick ones then save no registers.) */
static __attribute__((noinline, cold)) void heap_drain(void)
{
    size_t c;
    for (c = 1; c < HEAP_CLASSES; c++) {
        while (heap.free[c]) {
            void *b = heap.free[c];
            heap.free[c] = *(void **)b;
            heap.arena_alloc(heap.arena_ud, b, c * HEAP_GRAIN, 0);
        }
    }
    heap.cached = 0;
}

/* ptr (osize bytes, from the arena or a list) given back: to its list
 * while the lists have room, else to the arena. */
static void heap_put(void *ptr, size_t osize)
{
    size_t c = (osize + HEAP_GRAIN - 1) / HEAP_GRAIN;
    if (osize - 1 < HEAP_SMALL && heap.cached + c * HEAP_GRAIN <= HEAP_CACHE) {
        *(void **)ptr = heap.free[c];
        heap.free[c] = ptr;
        heap.cached += c * HEAP_GRAIN;
        return;
    }
    heap.arena_alloc(heap.arena_ud, ptr, osize, 0);
}

/* A block of nsize bytes from the arena: ptr resized, or a new one (ptr
 * NULL); small sizes rounded up to their class; NULL when the arena has
 * no room even with the lists given back. */
static __attribute__((noinline)) void *heap_arena(void *ptr, size_t osize, size_t nsize)
{
    void *p;
    if (nsize <= HEAP_SMALL) nsize = (nsize + HEAP_GRAIN - 1) / HEAP_GRAIN * HEAP_GRAIN;
    p = heap.arena_alloc(heap.arena_ud, ptr, osize, nsize);
    if (!p && heap.cached) {
        heap_drain();
        p = heap.arena_alloc(heap.arena_ud, ptr, osize, nsize);
    }
    return p;
}

/* Refused at ceiling + reserve, or by the arena (NULL); or the old block
 * kept when it still holds nsize. */
static __attribute__((noinline, cold)) void *heap_refuse(void *ptr, size_t osize, size_t nsize)
{
    if (nsize <= osize && nsize) return ptr;
    heap.refused++;
    return NULL;
}

/* The allocator's slow paths: a block from or to the arena, a request
 * that takes the heap past the ceiling, the state's last block. */
static __attribute__((noinline)) void *heap_alloc_slow(void *ptr, size_t osize, size_t nsize)
{
    void *p;
    size_t c;
    if (nsize > osize && heap.used + (nsize - osize) > heap.most)
        return heap_refuse(ptr, osize, 0);
    c = (nsize + HEAP_GRAIN - 1) / HEAP_GRAIN;
    if (!ptr && nsize <= HEAP_SMALL && (p = heap.free[c]) != NULL) {
        heap.free[c] = *(void **)p;
        heap.cached -= c * HEAP_GRAIN;
    } else if ((p = heap_arena(ptr, osize, nsize)) == NULL) {
        return heap_refuse(ptr, osize, nsize);
    }
    heap.used = heap.used - osize + nsize;
    if (heap.used > heap.peak) heap.peak = heap.used;
    if (heap.used > heap.over_at && nsize > osize && heap.over) heap.over();
    return p;
}

static __attribute__((noinline)) void *heap_free_slow(void *ptr, size_t osize)
{
    if (ptr) heap_put(ptr, osize);
    if ((heap.used -= osize) == 0) heap_drain();   /* lua_close freed the state's last block */
    return NULL;
}

/* The allocator: every block of the Lua state passes here. A request
 * that would take the heap past ceiling + reserve (+ glue outside runs,
 * `most`) gets NULL, which LuaJIT
 * raises as "not enough memory" in the code that asked. The ceiling itself
 * is enforced on runs of script code by rt_budget.c, between instructions:
 * LuaJIT's build here raises an allocation failure inside a VM instruction
 * with a stack top it has not fixed, which can corrupt the coroutine's
 * stack (a crash at the next collection). The work is done by LuaJIT's
 * own allocator (far quicker than malloc for Lua's many small blocks),
 * small blocks by the lists above. Nearly every call is a small block
 * taken from its list below the ceiling, or one put back on a list with
 * room: those two are done here, with nothing to save for a call, the
 * rest by the slow paths (the same outcome: a block taken below the
 * ceiling needs no refusal and no call of `over`). */
static void *heap_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    void *p;
    size_t c;
    (void)ud;
    if (nsize == 0) {
        c = (osize + HEAP_GRAIN - 1) / HEAP_GRAIN;
        if (ptr && osize - 1 < HEAP_SMALL && heap.cached + c * HEAP_GRAIN <= HEAP_CACHE && heap.used > osize) {
            *(void **)ptr = heap.free[c];
            heap.free[c] = ptr;
            heap.cached += c * HEAP_GRAIN;
            heap.used -= osize;
            return NULL;
        }
        return heap_free_slow(ptr, osize);
    }
    c = (nsize + HEAP_GRAIN - 1) / HEAP_GRAIN;
    if (!ptr && !osize && nsize <= HEAP_SMALL && (p = heap.free[c]) != NULL && heap.used + nsize <= heap.over_at) {
        heap.free[c] = *(void **)p;
        heap.cached -= c * HEAP_GRAIN;
        heap.used += nsize;
        if (heap.used > heap.peak) heap.peak = heap.used;
        return p;
    }
    return heap_alloc_slow(ptr, osize, nsize);
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
    heap.most = heap.most_run = heap.most_out = SIZE_MAX;   /* no ceiling until rt_heap_set_limit */
    heap.over_at = heap.crowded_at = SIZE_MAX;
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
    heap.most_run = limit ? limit + heap.reserve : SIZE_MAX;
    heap.most_out = limit ? heap.most_run + heap.reserve / 4 : SIZE_MAX;
    heap.most = heap.in_run ? heap.most_run : heap.most_out;
    heap.over_at = limit ? limit : SIZE_MAX;
    heap.crowded_at = limit ? limit + heap.reserve / 2 : SIZE_MAX;
}

void rt_heap_in_run(int on)
{
    heap.in_run = on;
    heap.most = on ? heap.most_run : heap.most_out;
}

void rt_heap_set_collect(void (*fn)(void)) { heap.collect = fn; }

int rt_heap_crowded(void)
{
    if (heap.used <= heap.crowded_at) return 0;
    if (heap.collect) {                /* a stopped run's garbage is not what requests hold */
        heap.collect();
        if (heap.used <= heap.crowded_at) return 0;
    }
    heap.crowded++;
    return 1;
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
    out->crowded = heap.crowded;
    out->cached = heap.cached;
    out->cache_max = HEAP_CACHE;
    out->hard = heap.hard;
}
