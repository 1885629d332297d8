/* rt_timer.c -- timers (core.after, core.cancel), sleep, and suspend/wake,
 * the primitive the Lua side builds its queues and semaphores on.
 *
 * Who owns what: a timer owns its uv handle and the registry ref of its
 * function; it is on `timers.list` from start until released (fired once,
 * cancelled, or closed at shutdown) and freed in the handle's close
 * callback. A sleeping task is the `sleeper` of its timer: the timer wakes
 * it exactly once. A suspended task sits in registry[timers.waiting][token]
 * until core.wake takes it out.
 */
#include <stdlib.h>

#include "log.h"
#include "rt.h"
#include "rt_timer.h"
#include "rt_task.h"

typedef struct ltimer_s {
    uv_timer_t  h;
    uint64_t    id;
    int         fn_ref;     /* LUA_NOREF for a sleep */
    rt_task_t  *sleeper;    /* the task a sleep resumes */
    int         repeat;
    int         linked;     /* on timers.list */
    struct ltimer_s *next, *prev;
} ltimer_t;

static struct {
    ltimer_t *list;
    uint64_t  next_id;
    int       ids;          /* registry ref: timer id -> lightuserdata ltimer_t, for cancel */
    int       waiting;      /* registry ref: token -> lightuserdata task, for suspend/wake */
    uint64_t  next_token;
} timers = {NULL, 0, LUA_NOREF, LUA_NOREF, 0};

/* -- Timers ----------------------------------------------------------------------- */

static void timer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void timer_unlink(ltimer_t *tm)
{
    if (!tm->linked) return;
    tm->linked = 0;
    if (tm->prev) tm->prev->next = tm->next;
    else timers.list = tm->next;
    if (tm->next) tm->next->prev = tm->prev;
    tm->next = tm->prev = NULL;
}

static void timer_map(ltimer_t *tm, int add)
{
    lua_State *L = rt.L;
    rt_registry_table(L, &timers.ids);
    if (add) lua_pushlightuserdata(L, tm);
    else lua_pushnil(L);
    lua_rawseti(L, -2, (int)tm->id);
    lua_pop(L, 1);
}

static void timer_release(ltimer_t *tm)
{
    if (tm->linked && !tm->sleeper) timer_map(tm, 0);
    timer_unlink(tm);
    if (tm->fn_ref != LUA_NOREF) luaL_unref(rt.L, LUA_REGISTRYINDEX, tm->fn_ref);
    uv_close((uv_handle_t *)&tm->h, timer_closed);
}

static void on_timer(uv_timer_t *h)
{
    ltimer_t *tm = h->data;
    rt_task_t *t;
    if (tm->sleeper) {
        t = tm->sleeper;
        timer_release(tm);
        rt_task_wake(t, 0);
        return;
    }
    lua_rawgeti(rt.L, LUA_REGISTRYINDEX, tm->fn_ref);
    if (!tm->repeat) timer_release(tm);
    if ((t = rt_task_new("timer", NULL)) != NULL) rt_task_start(t, 0);
    else lua_pop(rt.L, 1);
}

static ltimer_t *timer_new(double ms, int repeat)
{
    ltimer_t *tm = calloc(1, sizeof *tm);
    uint64_t delay = ms > 0 ? (uint64_t)ms : 0;
    if (!tm) return NULL;
    uv_timer_init(rt.loop, &tm->h);
    tm->h.data = tm;
    tm->id = ++timers.next_id;
    tm->fn_ref = LUA_NOREF;
    tm->repeat = repeat;
    tm->linked = 1;
    tm->next = timers.list;
    if (timers.list) timers.list->prev = tm;
    timers.list = tm;
    uv_timer_start(&tm->h, on_timer, delay, repeat ? (delay ? delay : 1) : 0);
    return tm;
}

/* core.sleep(ms): the caller yields at once; resumed after ms. */
static int l_sleep(lua_State *L)
{
    double ms = luaL_checknumber(L, 1);
    rt_task_t *t = rt_task_current(L, "smpp.sleep");
    ltimer_t *tm;
    if (!rt.loop) return luaL_error(L, "smpp.sleep: the runtime is not running");
    if (!(tm = timer_new(ms, 0))) return luaL_error(L, "out of memory");
    tm->sleeper = t;
    rt_task_wait(t, "sleep");
    return 0;
}

/* core.after(ms, fn [, repeat]) -> timer id: fn runs in a task of its own. */
static int l_after(lua_State *L)
{
    double ms = luaL_checknumber(L, 1);
    ltimer_t *tm;
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (!rt.loop) return luaL_error(L, "smpp.after: the runtime is not running");
    if (!(tm = timer_new(ms, lua_toboolean(L, 3)))) return luaL_error(L, "out of memory");
    lua_pushvalue(L, 2);
    tm->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    timer_map(tm, 1);
    lua_pushnumber(L, (double)tm->id);
    return 1;
}

/* core.cancel(timer id) -> true if it was pending. */
static int l_cancel(lua_State *L)
{
    int id = (int)luaL_checknumber(L, 1);
    ltimer_t *tm;
    rt_registry_table(L, &timers.ids);
    lua_rawgeti(L, -1, id);
    tm = lua_touserdata(L, -1);
    lua_pop(L, 2);
    if (tm) timer_release(tm);
    lua_pushboolean(L, tm != NULL);
    return 1;
}

void rt_timer_close_all(void)
{
    while (timers.list) {
        ltimer_t *tm = timers.list;
        if (tm->sleeper) {           /* let sleeping tasks finish */
            uv_unref((uv_handle_t *)&tm->h);
            timer_unlink(tm);
            continue;
        }
        timer_release(tm);
    }
}

/* -- Suspend and wake ------------------------------------------------------------- */

/* core.suspend() -> token: the caller yields at once and sleeps until
 * core.wake(token, ...) hands it those values (the Lua side builds queues
 * and semaphores on this). */
static int l_suspend(lua_State *L)
{
    rt_task_t *t = rt_task_current(L, "smpp.suspend");
    uint64_t token = ++timers.next_token;
    rt_registry_table(L, &timers.waiting);
    lua_pushlightuserdata(L, t);
    lua_rawseti(L, -2, (int)token);
    lua_pop(L, 1);
    rt_task_wait(t, "suspend");
    lua_pushnumber(L, (double)token);
    return 1;
}

typedef struct wake_s {
    uv_timer_t h;
    rt_task_t *t;
    int        nargs;
} wake_t;

static void on_wake(uv_timer_t *h)
{
    wake_t *w = h->data;
    rt_task_t *t = w->t;
    int nargs = w->nargs;
    uv_close((uv_handle_t *)h, timer_closed);
    rt_task_wake(t, nargs);
}

/* core.wake(token, ...) -> true if that task was suspended. It resumes on
 * the next loop turn (never inside the caller). */
static int l_wake(lua_State *L)
{
    int token = (int)luaL_checknumber(L, 1), nargs = lua_gettop(L) - 1;
    rt_task_t *t;
    wake_t *w;
    rt_registry_table(L, &timers.waiting);
    lua_rawgeti(L, -1, token);
    t = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!t || !(w = calloc(1, sizeof *w))) {
        lua_pop(L, 1);
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_pushnil(L);
    lua_rawseti(L, -2, token);
    lua_pop(L, 1);
    lua_xmove(L, t->co, nargs);        /* the values the yield will return */
    w->t = t;
    w->nargs = nargs;
    uv_timer_init(rt.loop, &w->h);
    w->h.data = w;
    uv_timer_start(&w->h, on_wake, 0, 0);
    lua_pushboolean(L, 1);
    return 1;
}

const luaL_Reg rt_timer_lib[] = {
    {"sleep", l_sleep},
    {"after", l_after},
    {"cancel", l_cancel},
    {"suspend", l_suspend},
    {"wake", l_wake},
    {NULL, NULL}
};
