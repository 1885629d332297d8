/* rt_task.c -- tasks: coroutines created, resumed, pooled and released,
 * and their completion callbacks (see rt_task.h for the contract).
 */
#include <stdlib.h>

#include "log.h"
#include "rt.h"
#include "rt_budget.h"
#include "rt_heap.h"
#include "rt_task.h"

/* Finished coroutines are kept for reuse: a new thread, its registry ref
 * and its entry in the task map cost more than the handler itself. */
#define TASK_POOL 256

static struct {
    int        map;            /* registry ref: thread -> lightuserdata task */
    int        own;            /* registry ref: the runtime's functions (weak keys), core.heap_reserve */
    unsigned   own_gen;        /* bumped as a function is added to `own` */
    rt_task_t *pool[TASK_POOL];
    int        pooled;
    rt_task_t *live;           /* every task not in the pool */
    uint64_t   errors;
    uint64_t   runs;           /* serials given (rt_task_t.run) */
    rt_task_t *running;        /* the task being resumed (innermost), NULL: none */
} tasks = {LUA_NOREF, LUA_NOREF, 0, {NULL}, 0, NULL, 0, 0, NULL};

/* -- Life ------------------------------------------------------------------------ */

static void link_live(rt_task_t *t)
{
    t->prev = NULL;
    t->next = tasks.live;
    if (tasks.live) tasks.live->prev = t;
    tasks.live = t;
}

static void unlink_live(rt_task_t *t)
{
    if (t->prev) t->prev->next = t->next;
    else tasks.live = t->next;
    if (t->next) t->next->prev = t->prev;
    t->next = t->prev = NULL;
}

static void (*reuse_hook)(lua_State *co);
static void (*wait_hook)(lua_State *co, int waits);

void rt_task_set_reuse_hook(void (*fn)(lua_State *co)) { reuse_hook = fn; }
void rt_task_set_wait_hook(void (*fn)(lua_State *co, int waits)) { wait_hook = fn; }

static const uint64_t *write_count;
static void (*wrote)(rt_task_t *t);

void rt_task_set_write_hook(const uint64_t *count, void (*fn)(rt_task_t *t))
{
    write_count = count;
    wrote = fn;
}

rt_task_t *rt_task_new(const char *what, const rt_task_owner_t *owner)
{
    lua_State *L = rt.L;
    rt_task_t *t;
    if (tasks.pooled > 0) {
        t = tasks.pool[--tasks.pooled];
        if (reuse_hook) reuse_hook(t->co);
    } else {
        if (!(t = calloc(1, sizeof *t))) return NULL;
        t->co = lua_newthread(L);
        t->ref = luaL_ref(L, LUA_REGISTRYINDEX);   /* pops the thread */
        rt_registry_table(L, &tasks.map);
        lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
        lua_pushlightuserdata(L, t);
        lua_rawset(L, -3);
        lua_pop(L, 1);
        if (reuse_hook) reuse_hook(t->co);      /* a freed thread's address may come back */
    }
    t->what = what;
    t->owner = owner;
    t->sess_id = 0;
    t->arg = NULL;
    t->seq = t->cmd_id = 0;
    t->wait = NULL;
    t->orphan = 0;
    t->reserve = 0;
    t->gen = rt.script_gen;
    t->refused = 0;
    t->run = ++tasks.runs;
    t->for_run = 0;
    t->wrote = 0;
    t->nwithdraw = 0;
    link_live(t);
    return t;
}

static void task_free(rt_task_t *t)
{
    lua_State *L = rt.L;
    if (tasks.running == t) tasks.running = NULL;
    rt_registry_table(L, &tasks.map);
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
    free(t->withdraw);
    free(t);
}

/* The task's function is over. `reusable`: it returned normally, so the
 * coroutine can run another function. A task with a registered wait stays
 * until the wait ends (rt_task_wake releases it). */
static void task_done(rt_task_t *t, int reusable)
{
    if (t->wait) {
        t->orphan = 1;
        log_msg(LOG_ERROR, t->sess_id, "%s ended while a %s was registered; released when it ends",
                t->what, t->wait);
        return;
    }
    unlink_live(t);
    if (reusable && tasks.pooled < TASK_POOL && lua_status(t->co) == 0) {
        lua_settop(t->co, 0);
        tasks.pool[tasks.pooled++] = t;
        return;
    }
    task_free(t);
}

/* -- Completion ------------------------------------------------------------------- */

static void task_fail(rt_task_t *t, const char *msg)
{
    tasks.errors++;
    if (t->owner && t->owner->fail) t->owner->fail(t, msg);
    else log_msg(LOG_ERROR, t->sess_id, "%s failed: %s", t->what, msg);
    task_done(t, 0);
}

const char rt_task_held[] = "held";

static void task_finish(rt_task_t *t)
{
    const char *bad = NULL;
    if (t->owner && t->owner->finish) bad = t->owner->finish(t, lua_gettop(t->co));
    if (bad == RT_TASK_HELD) return;       /* rt_task_release() follows */
    if (bad) task_fail(t, bad);
    else task_done(t, 1);
}

void rt_task_release(rt_task_t *t)
{
    task_done(t, 1);
}

/* Resume t with the nargs values on top of its stack. Returns 1 when it
 * waits again, 0 when its run is over. */
static int task_resume(rt_task_t *t, int nargs)
{
    rt_budget_run_t saved;
    uint64_t writes = write_count ? *write_count : 0;
    rt_task_t *outer = tasks.running;
    int rc;
    rt_budget_enter(rt.L, t->what, t->sess_id, t->reserve, &saved);
    tasks.running = t;
    rc = lua_resume(t->co, nargs);
    tasks.running = outer;
    rt_budget_leave(rt.L, &saved);
    if (write_count && *write_count != writes) wrote(t);   /* before its answer looks */
    if (rc == LUA_YIELD) {
        if (!t->wait) {
            task_fail(t, "yielded outside an smpp wait (send, sleep, connect)");
            return 0;
        }
        lua_settop(t->co, 0);
        if (wait_hook) wait_hook(t->co, 1);
        return 1;
    }
    if (rc != 0) {
        const char *msg = lua_tostring(t->co, -1);
        rt_heap_stats_t h;
        rt_heap_stats(&h);
        if (rc == LUA_ERRMEM && h.limit)   /* the ceiling, not the machine, refused */
            msg = lua_pushfstring(t->co, "script memory ceiling exceeded: the Lua heap reached "
                                  "scripts.memory_mb (%d MiB)", (int)(h.limit >> 20));
        luaL_traceback(rt.L, t->co, msg ? msg : "error object is not a string", 0);
        task_fail(t, lua_tostring(rt.L, -1));
        lua_pop(rt.L, 1);
        return 0;
    }
    task_finish(t);
    return 0;
}

int rt_task_is_own(lua_State *L, int idx)
{
    int own;
    if (tasks.own == LUA_NOREF) return 0;
    if (idx < 0) idx = lua_gettop(L) + idx + 1;
    lua_rawgeti(L, LUA_REGISTRYINDEX, tasks.own);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    own = lua_toboolean(L, -1);
    lua_pop(L, 2);
    return own;
}

unsigned rt_task_own_gen(void) { return tasks.own_gen; }

void rt_task_run(rt_task_t *t, int nargs, int own)
{
    t->reserve = own;                     /* the runtime's own function: it may use the heap's reserve */
    lua_xmove(rt.L, t->co, nargs + 1);
    (void)task_resume(t, nargs);
}

void rt_task_run_here(rt_task_t *t, int nargs, int own)
{
    t->reserve = own;
    task_resume(t, nargs);
}

void rt_task_start(rt_task_t *t, int nargs)
{
    rt_task_run(t, nargs, rt_task_is_own(rt.L, -nargs - 1));
}

/* -- Waits ------------------------------------------------------------------------ */

rt_task_t *rt_task_current(lua_State *L, const char *fn)
{
    rt_task_t *t;
    if (lua_pushthread(L)) {
        lua_pop(L, 1);
        luaL_error(L, "smpp: %s must be called from a handler, timer or event task", fn);
    }
    rt_registry_table(L, &tasks.map);
    lua_pushvalue(L, -2);
    lua_rawget(L, -2);
    t = lua_touserdata(L, -1);
    lua_pop(L, 3);
    if (!t || t->co != L)
        luaL_error(L, "smpp: %s must be called from a handler, timer or event task, "
                      "not from a coroutine of your own", fn);
    /* Checked before anything is registered: a wait that cannot yield at
     * once must not exist. */
    if (!lua_isyieldable(L))
        luaL_error(L, "smpp: %s cannot wait here: it was called through a C function "
                      "(string.gsub, table.sort, a metamethod...)", fn);
    if (t->wait) luaL_error(L, "smpp: %s: this task already waits on a %s", fn, t->wait);
    return t;
}

rt_task_t *rt_task_of(lua_State *L)
{
    rt_task_t *t = tasks.running;
    if (t && t->co == L) return t;        /* the usual caller: the task being resumed, no map look-up */
    if (lua_pushthread(L)) {
        lua_pop(L, 1);
        return NULL;
    }
    rt_registry_table(L, &tasks.map);
    lua_pushvalue(L, -2);
    lua_rawget(L, -2);
    t = lua_touserdata(L, -1);
    lua_pop(L, 3);
    return t && t->co == L ? t : NULL;
}

void rt_task_wait(rt_task_t *t, const char *what)
{
    t->wait = what;
}

void rt_task_wake(rt_task_t *t, int nargs)
{
    lua_State *co = t->co;
    t->wait = NULL;
    if (t->orphan) {
        lua_settop(t->co, 0);
        unlink_live(t);
        task_free(t);
        return;
    }
    if (!task_resume(t, nargs) && wait_hook) wait_hook(co, 0);   /* co: a key only, t may be gone */
}

uint64_t rt_task_errors(void) { return tasks.errors; }

/* core.is_task(co) -> true when co is a task's coroutine: only the runtime
 * may resume it (the sandbox's coroutine.resume asks). */
static int l_is_task(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTHREAD);
    rt_registry_table(L, &tasks.map);
    lua_pushvalue(L, 1);
    lua_rawget(L, -2);
    lua_pushboolean(L, lua_touserdata(L, -1) != NULL);
    return 1;
}

/* core.heap_reserve(on) -> the previous setting: the task running in L
 * runs the runtime's own code from now on (true: the bind check, the HTTP
 * API's own routes), which the heap's ceiling does not stop, so that a
 * script that filled the heap leaves them working; false: script code
 * again. core.heap_reserve(fn) -> fn: a task that runs fn does so from
 * its start (before its first instruction, which a full heap would stop).
 * Not for scripts (they cannot reach smpp.core). */
static int l_heap_reserve(lua_State *L)
{
    int on = lua_toboolean(L, 1);
    rt_task_t *t = NULL;
    if (lua_isfunction(L, 1)) {
        if (tasks.own == LUA_NOREF) {
            lua_newtable(L);
            lua_newtable(L);
            lua_pushliteral(L, "k");
            lua_setfield(L, -2, "__mode");
            lua_setmetatable(L, -2);
            tasks.own = luaL_ref(L, LUA_REGISTRYINDEX);
        }
        lua_rawgeti(L, LUA_REGISTRYINDEX, tasks.own);
        lua_pushvalue(L, 1);
        lua_pushboolean(L, 1);
        lua_rawset(L, -3);
        tasks.own_gen++;
        lua_settop(L, 1);
        return 1;
    }
    if (!lua_pushthread(L)) {
        rt_registry_table(L, &tasks.map);
        lua_pushvalue(L, -2);
        lua_rawget(L, -2);
        t = lua_touserdata(L, -1);
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
    if (t && t->co == L) t->reserve = on;
    lua_pushboolean(L, rt_budget_reserve(L, on));
    return 1;
}

const luaL_Reg rt_task_lib[] = {
    {"is_task", l_is_task},
    {"heap_reserve", l_heap_reserve},
    {NULL, NULL}
};

void rt_task_release_all(void)
{
    while (tasks.live) {
        rt_task_t *t = tasks.live;
        unlink_live(t);
        task_free(t);
    }
    while (tasks.pooled > 0) task_free(tasks.pool[--tasks.pooled]);
}
