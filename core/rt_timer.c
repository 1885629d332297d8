/* rt_timer.c -- timers (core.after, core.cancel), sleep, and suspend/wake,
 * the primitive the Lua side builds its queues and semaphores on.
 *
 * Who owns what: every timer here (a function's, a sleep's, a suspend's)
 * owns its uv handle and sits on `timers.list` from its start until it is
 * released (fired, cancelled, or closed at the end), then is freed in the
 * handle's close callback. A sleeping or suspended task is the `task` of
 * its timer, which wakes it exactly once; a suspended task is also found
 * by its token in registry[timers.tokens] until core.wake or its timeout
 * takes it out.
 *
 * A wait of 0 (smpp.sleep(0), smpp.after(0, fn), a wake) is not a libuv
 * timer of 0 ms: libuv 1.44 runs a timer started from a timer callback
 * with a timeout of 0 in the same pass, so a chain of them (an after(0)
 * that re-arms itself, `while true do smpp.sleep(0) end`) never gave the
 * loop back: no I/O, and no close callback ever freed a released timer.
 * Such a timer goes on the ready queue instead, which a check handle runs
 * after the loop has polled for I/O (an idle handle keeps that poll from
 * blocking while the queue holds anything); what the queue's runs queue
 * again waits for the next turn. So a wait of 0 always lets I/O in.
 *
 * And the work of one turn is bounded: the timers' runs between two polls
 * (the ready queue's, and libuv's timer pass for waits of 1 ms or more)
 * take RT_TIMER_TURN_MS at most; the rest wait on the ready queue for the
 * next turn, in order. A timer that re-armed itself twice per run filled
 * the queue to its 100,000 and each turn ran them all: 1.4 s without I/O,
 * an enquire_link answered that late.
 */
#include <math.h>
#include <stdlib.h>

#include "log.h"
#include "rt.h"
#include "rt_task.h"
#include "rt_timer.h"

/* What the premature runs of the stop may take together: past it the
 * timers left are not run (counted in a log line), so that many pending
 * timers whose functions loop cannot stretch the stop without end (each
 * run that loops is interrupted by the stop, but each takes its time). */
#define PREMATURE_MS 1000

typedef enum { TM_AFTER, TM_SLEEP, TM_SUSPEND } tm_kind_t;

typedef struct ltimer_s {
    uv_timer_t  h;
    tm_kind_t   kind;
    uint64_t    id;         /* TM_AFTER: for core.cancel; TM_SUSPEND: the token */
    int         fn_ref;     /* TM_AFTER: the function */
    int         repeat;
    unsigned    gen;        /* TM_AFTER: the script generation of the task that made it, 0: the runtime's own */
    rt_task_t  *task;       /* TM_SLEEP, TM_SUSPEND: the task it wakes */
    int         woken;      /* TM_SUSPEND: core.wake came, the timer now resumes */
    int         nargs;      /* TM_SUSPEND: values core.wake moved to the task */
    int         registering; /* TM_SUSPEND: its register runs (a wake then keeps its values in fn_ref) */
    int         linked;     /* on timers.list */
    int         queued;     /* on the ready queue (a wait of 0) */
    int         held;       /* queued, and its handle is ref'd: the queue keeps the loop alive for it */
    unsigned    turn;       /* queued during this turn of the queue */
    struct ltimer_s *next, *prev;
    struct ltimer_s *rnext, *rprev;   /* the ready queue */
} ltimer_t;

static struct {
    ltimer_t *list;
    uint64_t  next_id, next_token;
    int       ids;          /* registry ref: timer id -> lightuserdata ltimer_t */
    int       tokens;       /* registry ref: token -> lightuserdata ltimer_t */
    int       closing;      /* the stop came: new timers do not keep the loop alive */
    unsigned  scripts;      /* pending timers of core.after made by scripts (gen != 0) */
} timers = {NULL, 0, 0, LUA_NOREF, LUA_NOREF, 0, 0};

/* The ready queue: waits of 0, run by `check` after the loop polled. */
static struct {
    uv_idle_t    idle;      /* active while the queue holds anything: the poll does not block */
    uv_check_t   check;     /* runs the queue; never keeps the loop alive itself */
    uv_prepare_t prepare;   /* just before each poll: a new turn's budget */
    int          on;        /* the handles are initialised (this serve) */
    int          held;      /* queued timers whose handle is ref'd */
    unsigned     turn;      /* bumped as each run of the queue starts */
    uint64_t     since;     /* when this turn's first timer ran (uv_hrtime), 0: none has */
    ltimer_t    *head, *tail;
} ready;

/* -- Life -------------------------------------------------------------------------- */

static void timer_closed(uv_handle_t *h)
{
    free(h->data);
}

/* registry[*ref][key] = tm (or nil) */
static void timer_map(int *ref, uint64_t key, ltimer_t *tm)
{
    lua_State *L = rt.L;
    rt_registry_table(L, ref);
    lua_pushnumber(L, (double)key);         /* not an int: ids pass 2^31 in a long life */
    if (tm) lua_pushlightuserdata(L, tm);
    else lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

static ltimer_t *timer_find(int *ref, uint64_t key)
{
    lua_State *L = rt.L;
    ltimer_t *tm;
    rt_registry_table(L, ref);
    lua_pushnumber(L, (double)key);
    lua_rawget(L, -2);
    tm = lua_touserdata(L, -1);
    lua_pop(L, 2);
    return tm;
}

/* -- The ready queue ----------------------------------------------------------------- */

static void on_timer(uv_timer_t *h);

static void on_idle(uv_idle_t *h) { (void)h; }

static void on_prepare(uv_prepare_t *h)
{
    (void)h;
    ready.since = 0;
}

/* May another timer run in this turn? The first always may (the turn's
 * clock starts with it); then while the turn's timers have run less than
 * RT_TIMER_TURN_MS. */
static int turn_has_room(void)
{
    uint64_t now = uv_hrtime();
    if (!ready.since) {
        ready.since = now;
        return 1;
    }
    return now - ready.since < (uint64_t)RT_TIMER_TURN_MS * 1000000;
}

/* Every timer queued before this run of the queue started, in order: one
 * that a run queues again (or queues anew) waits for the next turn. */
static void on_check(uv_check_t *h);

/* The handles follow the queue: started while it holds anything, the idle
 * one ref'd while a queued timer would keep the loop alive. */
static void ready_update(void)
{
    if (!ready.on) return;
    if (!ready.head) {
        uv_idle_stop(&ready.idle);
        uv_check_stop(&ready.check);
        return;
    }
    if (!uv_is_active((uv_handle_t *)&ready.idle)) uv_idle_start(&ready.idle, on_idle);
    if (!uv_is_active((uv_handle_t *)&ready.check)) uv_check_start(&ready.check, on_check);
    if (ready.held) uv_ref((uv_handle_t *)&ready.idle);
    else uv_unref((uv_handle_t *)&ready.idle);
}

static void ready_init(void)
{
    if (ready.on) return;
    uv_idle_init(rt.loop, &ready.idle);     /* cannot fail */
    uv_check_init(rt.loop, &ready.check);
    uv_unref((uv_handle_t *)&ready.check);
    uv_prepare_init(rt.loop, &ready.prepare);
    uv_unref((uv_handle_t *)&ready.prepare);
    uv_prepare_start(&ready.prepare, on_prepare);
    ready.since = 0;
    ready.on = 1;
}

static void ready_push(ltimer_t *tm)
{
    ready_init();
    tm->queued = 1;
    tm->turn = ready.turn;
    tm->held = uv_has_ref((uv_handle_t *)&tm->h);
    if (tm->held) ready.held++;
    tm->rnext = NULL;
    tm->rprev = ready.tail;
    if (ready.tail) ready.tail->rnext = tm;
    else ready.head = tm;
    ready.tail = tm;
    ready_update();
}

static void ready_unlink(ltimer_t *tm)
{
    if (!tm->queued) return;
    tm->queued = 0;
    if (tm->held) ready.held--;
    tm->held = 0;
    if (tm->rprev) tm->rprev->rnext = tm->rnext;
    else ready.head = tm->rnext;
    if (tm->rnext) tm->rnext->rprev = tm->rprev;
    else ready.tail = tm->rprev;
    tm->rnext = tm->rprev = NULL;
    ready_update();
}

static void timer_fire(ltimer_t *tm);

static void on_check(uv_check_t *h)
{
    ltimer_t *tm;
    (void)h;
    ready.turn++;                           /* what this run queues carries the new turn */
    while ((tm = ready.head) != NULL && tm->turn != ready.turn && turn_has_room()) {
        ready_unlink(tm);
        timer_fire(tm);
    }
}

/* The handle's ref follows the process's stop (timers.closing) and wakes. */
static void timer_ref(ltimer_t *tm, int on)
{
    if (on) uv_ref((uv_handle_t *)&tm->h);
    else uv_unref((uv_handle_t *)&tm->h);
    if (tm->queued && tm->held != on) {
        tm->held = on;
        ready.held += on ? 1 : -1;
        ready_update();
    }
}

/* Off the list and out of the maps; the handle closes and frees it. */
static void timer_release(ltimer_t *tm)
{
    if (!tm->linked) return;
    tm->linked = 0;
    ready_unlink(tm);
    if (tm->prev) tm->prev->next = tm->next;
    else timers.list = tm->next;
    if (tm->next) tm->next->prev = tm->prev;
    if (tm->kind == TM_AFTER) timer_map(&timers.ids, tm->id, NULL);
    if (tm->kind == TM_AFTER && tm->gen) timers.scripts--;
    if (tm->kind == TM_SUSPEND && !tm->woken) timer_map(&timers.tokens, tm->id, NULL);
    if (tm->fn_ref != LUA_NOREF) luaL_unref(rt.L, LUA_REGISTRYINDEX, tm->fn_ref);
    uv_close((uv_handle_t *)&tm->h, timer_closed);
}

/* A timer on the list, its handle ready but not started; NULL with *err
 * set (a libuv error) when there is no memory or libuv refuses. */
static ltimer_t *timer_new(tm_kind_t kind, int *err)
{
    ltimer_t *tm = calloc(1, sizeof *tm);
    if (!tm) {
        *err = UV_ENOMEM;
        return NULL;
    }
    if ((*err = uv_timer_init(rt.loop, &tm->h)) < 0) {
        free(tm);
        return NULL;
    }
    tm->h.data = tm;
    tm->kind = kind;
    tm->fn_ref = LUA_NOREF;
    tm->linked = 1;
    tm->next = timers.list;
    if (timers.list) timers.list->prev = tm;
    timers.list = tm;
    return tm;
}

/* Starts tm: a one-shot wait under 1 ms goes on the ready queue (the end
 * of this loop turn, after its poll), a period is at least 1 ms, and a
 * wait is at most RT_TIMER_MAX_MS (the caller checked it is a number, not
 * NaN and not negative: timer_ms). */
static int timer_start(ltimer_t *tm, double ms, int repeat)
{
    uint64_t delay;
    if (!(ms < RT_TIMER_MAX_MS)) ms = RT_TIMER_MAX_MS;
    delay = ms > 0 ? (uint64_t)ms : 0;
    if (repeat) {
        if (!delay) delay = 1;
        return uv_timer_start(&tm->h, on_timer, delay, delay);
    }
    if (!delay) {
        ready_push(tm);
        return 0;
    }
    return uv_timer_start(&tm->h, on_timer, delay, 0);
}

/* The duration at idx in ms, for `fn`: a number, neither NaN nor
 * negative nor infinite (raises naming fn); huge ones are clamped by
 * timer_start. The script-facing wrappers (lua/smpp/session.lua) check
 * the seconds first, with the script's line. */
static double timer_ms(lua_State *L, int idx, const char *fn)
{
    double ms = luaL_checknumber(L, idx);
    if (isnan(ms) || ms < 0 || isinf(ms))
        luaL_error(L, "%s: the duration must be a finite number of seconds, 0 or more (got %f)", fn, ms / 1000);
    return ms;
}

/* libuv's timer pass: the timer runs now, or, when this turn's timers
 * have had their time, waits on the ready queue for the next turn (a
 * repeating one that is there already is not queued twice: it runs once). */
static void on_timer(uv_timer_t *h)
{
    ltimer_t *tm = h->data;
    ready_init();
    if (tm->queued) return;
    if (!turn_has_room()) {                 /* the queue's next run comes after the poll */
        ready_push(tm);
        return;
    }
    timer_fire(tm);
}

static void timer_fire(ltimer_t *tm)
{
    rt_task_t *t = tm->task;
    switch (tm->kind) {
    case TM_AFTER:
        lua_rawgeti(rt.L, LUA_REGISTRYINDEX, tm->fn_ref);
        if (!tm->repeat) timer_release(tm);
        lua_pushboolean(rt.L, 0);          /* premature: no */
        if ((t = rt_task_new("timer", NULL)) != NULL) {
            t->gen = tm->gen;              /* its function's generation, not the newest */
            rt_task_start(t, 1);
        } else {
            lua_pop(rt.L, 2);
        }
        break;
    case TM_SLEEP:
        timer_release(tm);
        rt_task_wake(t, 0);
        break;
    case TM_SUSPEND:
        if (!tm->woken) {                  /* the timeout came first */
            lua_pushnil(t->co);
            lua_pushliteral(t->co, "timeout");
            tm->nargs = 2;
        }
        timer_release(tm);
        rt_task_wake(t, tm->nargs);
        break;
    }
}

/* Shutdown: every pending timer of core.after fires once more, at once,
 * with premature = true (a repeating one then ends), so a script can
 * finish what it was keeping for later; sleeps and suspends stay but no
 * longer keep the loop alive, and neither do timers, sleeps and suspends
 * made from now on (a premature timer that loops cannot hold the stop).
 * The runs share PREMATURE_MS: the timers left after it are not run. */
void rt_timer_close_all(void)
{
    ltimer_t *tm, *next;
    rt_task_t *t;
    int *refs = NULL, n = 0, cap = 0, i, skipped = 0;
    uint64_t t0;
    if (timers.closing) return;
    timers.closing = 1;
    for (tm = timers.list; tm; tm = next) {         /* first take them all off the list ... */
        next = tm->next;
        if (tm->kind != TM_AFTER) {
            timer_ref(tm, 0);
            continue;
        }
        if (n == cap) {
            int *p = realloc(refs, (size_t)(cap = cap ? cap * 2 : 64) * sizeof *refs);
            if (!p) {                               /* no memory: the rest are dropped, as before */
                timer_release(tm);
                continue;
            }
            refs = p;
        }
        refs[n++] = tm->fn_ref;                     /* the function's ref is now ours */
        tm->fn_ref = LUA_NOREF;
        timer_release(tm);
    }
    t0 = uv_hrtime();
    for (i = 0; i < n; i++) {                       /* ... then run them (they may make timers) */
        if (skipped || uv_hrtime() - t0 > (uint64_t)PREMATURE_MS * 1000000) {
            luaL_unref(rt.L, LUA_REGISTRYINDEX, refs[i]);
            skipped++;
            continue;
        }
        lua_rawgeti(rt.L, LUA_REGISTRYINDEX, refs[i]);
        luaL_unref(rt.L, LUA_REGISTRYINDEX, refs[i]);
        lua_pushboolean(rt.L, 1);
        if ((t = rt_task_new("timer (premature)", NULL)) != NULL) rt_task_start(t, 1);
        else lua_pop(rt.L, 2);
    }
    if (skipped)
        log_msg(LOG_WARN, 0, "stop: %d of %d pending timers not run prematurely: their runs took the "
                "%d ms the stop gives them", skipped, n, PREMATURE_MS);
    free(refs);
}

/* The loop has ended: close what is left (the tasks are released after). */
void rt_timer_free_all(void)
{
    while (timers.list) timer_release(timers.list);
    if (ready.on) {                        /* the queue is empty now */
        uv_close((uv_handle_t *)&ready.idle, NULL);
        uv_close((uv_handle_t *)&ready.check, NULL);
        uv_close((uv_handle_t *)&ready.prepare, NULL);
        ready.on = 0;
    }
    ready.head = ready.tail = NULL;
    ready.held = 0;
    timers.closing = 0;                    /* a later serve starts afresh */
}

/* -- Lua functions ----------------------------------------------------------------- */

/* core.sleep(ms): waits ms milliseconds. */
static int l_sleep(lua_State *L)
{
    double ms = timer_ms(L, 1, "smpp.sleep");
    rt_task_t *t = rt_task_current(L, "smpp.sleep");
    ltimer_t *tm;
    int err;
    if (!rt.loop) return luaL_error(L, "smpp.sleep: the runtime is not running");
    if (!(tm = timer_new(TM_SLEEP, &err))) return luaL_error(L, "smpp.sleep: %s", uv_strerror(err));
    if (timers.closing) uv_unref((uv_handle_t *)&tm->h);   /* a stop is never held up by a wait */
    if ((err = timer_start(tm, ms, 0)) < 0) {
        timer_release(tm);
        return luaL_error(L, "smpp.sleep: %s", uv_strerror(err));
    }
    tm->task = t;
    rt_task_wait(t, "sleep");
    return lua_yield(L, 0);
}

/* core.after(ms, fn [, repeat [, keep]]) -> timer id: fn runs in a task of
 * its own. A timer belongs to the script generation of the task that makes
 * it (its function's), unless keep is true (the runtime's own, which
 * reloads leave alone). A repeating timer made by code of a generation a
 * reload has replaced -> nil, "reloaded": it would run the old script's
 * code beside the new one's until the next reload. */
static int l_after(lua_State *L)
{
    double ms = timer_ms(L, 1, lua_toboolean(L, 3) ? "smpp.every" : "smpp.after");
    ltimer_t *tm;
    int err;
    rt_task_t *t = rt_task_of(L);
    unsigned gen = lua_toboolean(L, 4) ? 0 : t ? t->gen : rt.script_gen;
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (!rt.loop) return luaL_error(L, "smpp.after: the runtime is not running");
    if (lua_toboolean(L, 3) && gen != 0 && gen != rt.script_gen) {
        lua_pushnil(L);
        lua_pushliteral(L, "reloaded");
        return 2;
    }
    /* each timer is memory outside the Lua heap's count: bounded (the
     * runtime's own, gen 0, are not, so scripts cannot starve them) */
    if (gen && timers.scripts >= RT_TIMER_MAX_SCRIPT)
        return luaL_error(L, "%s: %d timers are pending already, the most scripts may keep",
                          lua_toboolean(L, 3) ? "smpp.every" : "smpp.after", RT_TIMER_MAX_SCRIPT);
    if (!(tm = timer_new(TM_AFTER, &err))) return luaL_error(L, "smpp.after: %s", uv_strerror(err));
    if (gen) timers.scripts++;
    tm->id = ++timers.next_id;
    lua_pushvalue(L, 2);
    tm->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    tm->repeat = lua_toboolean(L, 3);
    tm->gen = gen;
    timer_map(&timers.ids, tm->id, tm);
    if (timers.closing) uv_unref((uv_handle_t *)&tm->h);
    if ((err = timer_start(tm, ms, tm->repeat)) < 0) {
        timer_release(tm);
        return luaL_error(L, "smpp.after: %s", uv_strerror(err));
    }
    lua_pushnumber(L, (double)tm->id);
    return 1;
}

/* core.cancel(timer id) -> true if it was pending. */
static int l_cancel(lua_State *L)
{
    ltimer_t *tm = timer_find(&timers.ids, (uint64_t)luaL_checknumber(L, 1));
    if (tm) timer_release(tm);
    lua_pushboolean(L, tm != NULL);
    return 1;
}

/* core.timers_generation([gen]) -> the script generation (rt.script_gen);
 * with gen, it is set first, and so is the running task's: a reload sets
 * the next one before it loads the new script (whatever that script's
 * load and start make is the new one's), and the one before back when
 * the load fails. */
static int l_timers_generation(lua_State *L)
{
    if (!lua_isnoneornil(L, 1)) {
        rt_task_t *t = rt_task_of(L);
        rt.script_gen = (unsigned)luaL_checknumber(L, 1);
        if (t) t->gen = rt.script_gen;
    }
    lua_pushnumber(L, rt.script_gen);
    return 1;
}

/* core.timers_cancel(gen [, only]) -> how many: cancels every repeating
 * timer of a script generation other than gen (with only: of gen alone);
 * the runtime's own stay. A reload that worked calls it, so that the old
 * script's smpp.every timers neither run beside the new script's (which
 * its start makes again) nor keep the old script's heap alive; one that
 * failed, for what the failed load made. One-shot timers fire as set. */
static int l_timers_cancel(lua_State *L)
{
    unsigned gen = (unsigned)luaL_checknumber(L, 1);
    int only = lua_toboolean(L, 2), n = 0;
    ltimer_t *tm, *next;
    for (tm = timers.list; tm; tm = next) {
        next = tm->next;
        if (tm->kind == TM_AFTER && tm->repeat && tm->gen != 0 && (tm->gen == gen) == only) {
            timer_release(tm);
            n++;
        }
    }
    lua_pushinteger(L, n);
    return 1;
}

/* core.suspend([register [, timeout_ms]]) -> the values given to
 * core.wake(token, ...), or nil, "timeout". register(token) runs first, so
 * the caller can leave the token where a waker will find it (a queue of
 * waiters, a table of pending ids); then the task waits. The token is
 * live while register runs: a wake from it (the item was there already)
 * makes the wait return its values at once (it was lost: no one waited). */
static int l_suspend(lua_State *L)
{
    rt_task_t *t = rt_task_current(L, "smpp.wait");
    uint64_t token = ++timers.next_token;
    double timeout = lua_isnoneornil(L, 2) ? -1 : timer_ms(L, 2, "smpp.wait");
    ltimer_t *tm;
    int err, i, n;
    if (!rt.loop) return luaL_error(L, "smpp.wait: the runtime is not running");
    if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TFUNCTION);
    if (!(tm = timer_new(TM_SUSPEND, &err))) return luaL_error(L, "smpp.wait: %s", uv_strerror(err));
    if (timers.closing) uv_unref((uv_handle_t *)&tm->h);
    tm->id = token;
    tm->task = t;
    timer_map(&timers.tokens, token, tm);
    if (!lua_isnoneornil(L, 1)) {
        tm->registering = 1;
        lua_pushvalue(L, 1);
        lua_pushnumber(L, (double)token);
        err = lua_pcall(L, 1, 0, 0);
        tm->registering = 0;
        if (err) {
            timer_release(tm);
            return lua_error(L);
        }
        if (tm->woken) {                     /* woken by its own register */
            n = tm->nargs;
            lua_rawgeti(L, LUA_REGISTRYINDEX, tm->fn_ref);
            for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
            timer_release(tm);               /* (unrefs fn_ref) */
            return n;
        }
    }
    if (timeout >= 0 && (err = timer_start(tm, timeout, 0)) < 0) {
        timer_release(tm);
        return luaL_error(L, "smpp.wait: %s", uv_strerror(err));
    }
    rt_task_wait(t, "wait");
    return lua_yield(L, 0);
}

/* core.wake(token, ...) -> true if that task was suspended. It resumes at
 * the end of this loop turn, after the poll (never inside the caller),
 * with those values. */
static int l_wake(lua_State *L)
{
    ltimer_t *tm = timer_find(&timers.tokens, (uint64_t)luaL_checknumber(L, 1));
    int nargs = lua_gettop(L) - 1;
    if (!tm || tm->woken) {
        lua_pushboolean(L, 0);
        return 1;
    }
    timer_map(&timers.tokens, tm->id, NULL);
    tm->woken = 1;
    tm->nargs = nargs;
    if (tm->registering) {                   /* its task runs: the values wait in a table */
        int i;
        lua_createtable(L, nargs, 0);
        for (i = 1; i <= nargs; i++) {
            lua_pushvalue(L, i + 1);
            lua_rawseti(L, -2, i);
        }
        tm->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_xmove(L, tm->task->co, nargs);      /* the values the wait will return */
    timer_ref(tm, 1);                        /* a wake keeps the loop until it is delivered */
    if (!tm->queued) {                       /* (queued already: a timeout of 0) */
        uv_timer_stop(&tm->h);               /* the timeout's, if any */
        ready_push(tm);
    }
    lua_pushboolean(L, 1);
    return 1;
}

const luaL_Reg rt_timer_lib[] = {
    {"sleep", l_sleep},
    {"after", l_after},
    {"cancel", l_cancel},
    {"timers_generation", l_timers_generation},
    {"timers_cancel", l_timers_cancel},
    {"suspend", l_suspend},
    {"wake", l_wake},
    {NULL, NULL}
};

unsigned rt_timer_scripts(void) { return timers.scripts; }
