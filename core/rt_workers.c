/* rt_workers.c -- workers on one machine: the parent spawns N copies of
 * this program, restarts one that dies, forwards signals, and reads the
 * statistics each worker publishes in a shared memory region.
 *
 * Who owns what: the parent owns the region (a memfd mapped once, passed
 * to every worker as descriptor 3), the worker table, each worker's
 * process handle and restart timer, and the signal handles it adds beside
 * rt_serve.c's. A worker maps the region and writes only its own slot;
 * the parent only reads the slots (and clears one whose worker died).
 * Each worker is a fresh exec of the program: its own loop and Lua state,
 * listening with SO_REUSEPORT (serve{reuseport = true}).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "log.h"
#include "rt.h"
#include "rt_workers.h"

extern char **environ;

/* One slot of the region: a sequence lock (odd while the worker writes),
 * the length of the text, the text (the worker's /stats as JSON). */
typedef struct {
    uint32_t seq;
    uint32_t len;
    char     data[];
} slot_t;

#define SLOT_SIZE   (4u << 20)      /* pages are only backed once written */
#define WORKER_FD   3
#define BACKOFF_MIN 100             /* ms before the first restart */
#define BACKOFF_MAX 10000           /* ms: the longest wait between restarts */
#define STABLE_MS   10000           /* a worker that lived this long restarts at once again */

typedef struct {
    uv_process_t proc;
    uv_timer_t   restart;
    int          index;             /* 1..n */
    int          running;           /* the process handle is live */
    int          closing;           /* its handle is closing */
    int          pid;
    unsigned     spawns, restarts;  /* restarts: spawns after the first */
    unsigned     delay_ms;          /* the next restart's backoff */
    uint64_t     started_ms;        /* loop time of the last spawn */
    int          last_status, last_signal;
} worker_t;

static struct {
    worker_t    *w;
    int          n;
    char       **argv;              /* owned copy of the workers' command line */
    int          fd;                /* the region's memfd (parent) */
    char        *region;            /* n slots of SLOT_SIZE */
    size_t       region_size;
    int          stopping;
    int          sig_on;
    uv_signal_t  sigterm, sigint, sighup;
    int          me;                /* in a worker: its index, else 0 */
} W = {.fd = -1};

static slot_t *slot_of(int index) { return (slot_t *)(W.region + (size_t)(index - 1) * SLOT_SIZE); }

/* -- The region: one writer per slot (sequence lock) ----------------------------- */

static void slot_write(slot_t *s, const char *p, size_t len)
{
    uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
    __atomic_store_n(&s->seq, seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    memcpy(s->data, p, len);
    __atomic_store_n(&s->len, (uint32_t)len, __ATOMIC_RELAXED);
    __atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
}

/* Push the slot's text, or nil when empty or never stable (a worker that
 * writes without pause, which it does not: it writes once a second). */
static void slot_push(lua_State *L, slot_t *s)
{
    size_t cap = SLOT_SIZE - sizeof(slot_t);
    char *buf;
    int tries;
    for (tries = 0; tries < 100; tries++) {
        uint32_t a = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE), b;
        size_t len = __atomic_load_n(&s->len, __ATOMIC_RELAXED);
        if (a & 1) continue;
        if (len == 0 || len > cap) break;
        if (!(buf = malloc(len))) break;
        memcpy(buf, s->data, len);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        b = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
        if (a == b) {
            lua_pushlstring(L, buf, len);
            free(buf);
            return;
        }
        free(buf);
    }
    lua_pushnil(L);
}

/* -- Parent: spawn, exit, restart ------------------------------------------------ */

static void spawn(worker_t *w);

static void signals_close(void)
{
    if (!W.sig_on) return;
    W.sig_on = 0;
    uv_close((uv_handle_t *)&W.sigterm, NULL);
    uv_close((uv_handle_t *)&W.sigint, NULL);
    uv_close((uv_handle_t *)&W.sighup, NULL);
}

/* Once stopping and every worker's handles are closed, nothing of ours
 * keeps the loop. */
static void maybe_done(void)
{
    int i;
    if (!W.stopping) return;
    for (i = 0; i < W.n; i++)
        if (W.w[i].running || W.w[i].closing) return;
    signals_close();
}

static void on_proc_closed(uv_handle_t *h)
{
    worker_t *w = h->data;
    w->closing = 0;
    maybe_done();
}

static void on_timer_closed(uv_handle_t *h) { (void)h; }

static void on_restart(uv_timer_t *t)
{
    worker_t *w = t->data;
    if (W.stopping) return;
    if (w->closing) {                     /* its last handle is not closed yet */
        uv_timer_start(&w->restart, on_restart, 10, 0);
        return;
    }
    spawn(w);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
    worker_t *w = p->data;
    double lived = (double)(uv_now(p->loop) - w->started_ms) / 1000.0;
    w->running = 0;
    w->closing = 1;
    w->last_status = (int)status;
    w->last_signal = term_signal;
    uv_close((uv_handle_t *)p, on_proc_closed);
    slot_write(slot_of(w->index), "", 0);  /* its counters went with it */
    if (W.stopping) {
        log_msg(LOG_INFO, 0, "worker %d (pid %d) stopped (exit status %d%s%s)", w->index, w->pid, (int)status,
                term_signal ? ", signal " : "", term_signal ? strsignal(term_signal) : "");
        return;
    }
    if (lived * 1000 >= STABLE_MS) w->delay_ms = BACKOFF_MIN;
    else w->delay_ms = w->delay_ms ? (w->delay_ms * 2 > BACKOFF_MAX ? BACKOFF_MAX : w->delay_ms * 2) : BACKOFF_MIN;
    log_msg(LOG_WARN, 0, "worker %d (pid %d) exited after %.1f s (exit status %d%s%s); restarting it in %u ms",
            w->index, w->pid, lived, (int)status, term_signal ? ", signal " : "",
            term_signal ? strsignal(term_signal) : "", w->delay_ms);
    uv_timer_start(&w->restart, on_restart, w->delay_ms, 0);
}

/* The workers' environment: ours, plus who they are and where the region is. */
static char **worker_env(int index)
{
    size_t n = 0, i, k = 0;
    char **env;
    while (environ[n]) n++;
    if (!(env = calloc(n + 4, sizeof *env))) return NULL;
    for (i = 0; i < n; i++)
        if (strncmp(environ[i], "SMPPGW_WORKER", 13) != 0) env[k++] = environ[i];
    env[k] = malloc(32);
    env[k + 1] = malloc(32);
    env[k + 2] = malloc(48);
    if (!env[k] || !env[k + 1] || !env[k + 2]) {
        free(env[k]);
        free(env[k + 1]);
        free(env[k + 2]);
        free(env);
        return NULL;
    }
    snprintf(env[k], 32, "SMPPGW_WORKER=%d", index);
    snprintf(env[k + 1], 32, "SMPPGW_WORKER_FD=%d", WORKER_FD);
    snprintf(env[k + 2], 48, "SMPPGW_WORKER_PARENT=%ld", (long)getpid());
    return env;
}

static void env_free(char **env)
{
    size_t n = 0;
    while (env[n]) n++;
    free(env[n - 3]);
    free(env[n - 2]);
    free(env[n - 1]);
    free(env);
}

static void spawn(worker_t *w)
{
    uv_process_options_t o;
    uv_stdio_container_t io[WORKER_FD + 1];
    char **env = worker_env(w->index);
    int i, rc;
    if (!env) {
        log_msg(LOG_ERROR, 0, "worker %d: out of memory; trying again in %d ms", w->index, BACKOFF_MAX);
        uv_timer_start(&w->restart, on_restart, BACKOFF_MAX, 0);
        return;
    }
    memset(&o, 0, sizeof o);
    for (i = 0; i < WORKER_FD; i++) {
        io[i].flags = UV_INHERIT_FD;
        io[i].data.fd = i;
    }
    io[WORKER_FD].flags = UV_INHERIT_FD;
    io[WORKER_FD].data.fd = W.fd;
    o.file = W.argv[0];
    o.args = W.argv;
    o.env = env;
    o.stdio = io;
    o.stdio_count = WORKER_FD + 1;
    o.exit_cb = on_exit_cb;
    w->proc.data = w;
    w->started_ms = uv_now(uv_default_loop());
    rc = uv_spawn(uv_default_loop(), &w->proc, &o);
    env_free(env);
    if (rc < 0) {
        /* libuv wants the handle closed even when the spawn failed */
        w->closing = 1;
        uv_close((uv_handle_t *)&w->proc, on_proc_closed);
        w->delay_ms = w->delay_ms ? (w->delay_ms * 2 > BACKOFF_MAX ? BACKOFF_MAX : w->delay_ms * 2) : BACKOFF_MIN;
        log_msg(LOG_ERROR, 0, "worker %d: cannot start %s: %s; trying again in %u ms", w->index, W.argv[0],
                uv_strerror(rc), w->delay_ms);
        uv_timer_start(&w->restart, on_restart, w->delay_ms, 0);
        return;
    }
    w->running = 1;
    w->pid = w->proc.pid;
    if (w->spawns++ > 0) w->restarts++;
    log_msg(LOG_INFO, 0, "worker %d started (pid %d)", w->index, w->pid);
}

/* Send signum to every running worker. */
static void signal_all(int signum)
{
    int i;
    for (i = 0; i < W.n; i++)
        if (W.w[i].running) uv_process_kill(&W.w[i].proc, signum);
}

static void stop_all(int signum)
{
    int i;
    if (!W.stopping) {
        W.stopping = 1;
        for (i = 0; i < W.n; i++) uv_close((uv_handle_t *)&W.w[i].restart, on_timer_closed);
    }
    signal_all(signum);
    maybe_done();
}

static void on_stop_signal(uv_signal_t *h, int signum)
{
    (void)h;
    log_msg(LOG_INFO, 0, "signal %d: stopping the %d workers", signum, W.n);
    stop_all(signum);
}

static void on_hup(uv_signal_t *h, int signum)
{
    (void)h;
    log_msg(LOG_INFO, 0, "signal %d: the workers reload", signum);
    signal_all(signum);
}

/* -- Lua: the parent's side ---------------------------------------------------------- */

/* core.workers_start{ args = {args...}, workers = n } -> true | nil, err:
 * map the region, spawn n workers running this program with args (on the
 * default loop, which core.serve then runs) and take SIGTERM/SIGINT/SIGHUP
 * to forward them. */
static int l_workers_start(lua_State *L)
{
    uv_loop_t *loop = uv_default_loop();
    char exe[4096];
    size_t exe_len = sizeof exe;
    int n, argc, i, rc;
    luaL_checktype(L, 1, LUA_TTABLE);
    if (W.w) return luaL_error(L, "workers_start: already started");
    n = (int)rt_opt_num(L, 1, "workers", 0);
    if (n < 1 || n > 1024) return luaL_error(L, "workers_start: workers must be 1..1024");
    lua_getfield(L, 1, "args");
    luaL_checktype(L, -1, LUA_TTABLE);
    argc = (int)lua_objlen(L, -1);
    if ((rc = uv_exepath(exe, &exe_len)) < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "workers: cannot find this program's path: %s", uv_strerror(rc));
        return 2;
    }
    W.region_size = (size_t)n * SLOT_SIZE;
    if ((W.fd = memfd_create("smppgw-workers", MFD_CLOEXEC)) < 0 || ftruncate(W.fd, (off_t)W.region_size) != 0
        || (W.region = mmap(NULL, W.region_size, PROT_READ | PROT_WRITE, MAP_SHARED, W.fd, 0)) == MAP_FAILED) {
        int e = errno;
        if (W.fd >= 0) close(W.fd);
        W.fd = -1;
        W.region = NULL;
        lua_pushnil(L);
        lua_pushfstring(L, "workers: cannot make the shared statistics region: %s", strerror(e));
        return 2;
    }
    if (!(W.argv = calloc((size_t)argc + 2, sizeof *W.argv)) || !(W.w = calloc((size_t)n, sizeof *W.w))
        || !(W.argv[0] = strdup(exe)))
        return luaL_error(L, "out of memory");
    for (i = 1; i <= argc; i++) {
        lua_rawgeti(L, -1, i);
        if (!(W.argv[i] = strdup(luaL_checkstring(L, -1)))) return luaL_error(L, "out of memory");
        lua_pop(L, 1);
    }
    W.n = n;
    uv_signal_init(loop, &W.sigterm);
    uv_signal_init(loop, &W.sigint);
    uv_signal_init(loop, &W.sighup);
    uv_signal_start(&W.sigterm, on_stop_signal, SIGTERM);
    uv_signal_start(&W.sigint, on_stop_signal, SIGINT);
    uv_signal_start(&W.sighup, on_hup, SIGHUP);
    uv_unref((uv_handle_t *)&W.sigterm);
    uv_unref((uv_handle_t *)&W.sigint);
    uv_unref((uv_handle_t *)&W.sighup);
    W.sig_on = 1;
    for (i = 0; i < n; i++) {
        W.w[i].index = i + 1;
        uv_timer_init(loop, &W.w[i].restart);
        W.w[i].restart.data = &W.w[i];
        spawn(&W.w[i]);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* core.workers_stop([signal name]) : stop restarting and send every worker
 * SIGTERM (or "INT"); the loop ends once all have exited. */
static int l_workers_stop(lua_State *L)
{
    const char *s = luaL_optstring(L, 1, "TERM");
    if (W.w) stop_all(strcmp(s, "INT") == 0 ? SIGINT : SIGTERM);
    return 0;
}

/* core.workers_reload(): SIGHUP to every worker. */
static int l_workers_reload(lua_State *L)
{
    (void)L;
    if (W.w) signal_all(SIGHUP);
    return 0;
}

/* core.workers() -> { {index=, pid=, running=, restarts=, stats = JSON text
 * or nil}, ... } (empty when this process supervises none). */
static int l_workers(lua_State *L)
{
    int i;
    lua_createtable(L, W.n, 0);
    for (i = 0; i < W.n; i++) {
        worker_t *w = &W.w[i];
        lua_createtable(L, 0, 6);
        lua_pushinteger(L, w->index);
        lua_setfield(L, -2, "index");
        lua_pushinteger(L, w->pid);
        lua_setfield(L, -2, "pid");
        lua_pushboolean(L, w->running);
        lua_setfield(L, -2, "running");
        lua_pushinteger(L, (lua_Integer)w->restarts);
        lua_setfield(L, -2, "restarts");
        slot_push(L, slot_of(w->index));
        lua_setfield(L, -2, "stats");
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* -- Lua: the worker's side ------------------------------------------------------ */

/* core.worker() -> this worker's index, or nil in a process that is no
 * worker. The first call maps the region, and asks the kernel for a
 * SIGTERM should the parent die (a worker never outlives it). Errors
 * (no region, parent gone) are raised: the worker cannot run without. */
static int l_worker(lua_State *L)
{
    const char *idx = getenv("SMPPGW_WORKER"), *fds = getenv("SMPPGW_WORKER_FD"),
               *parent = getenv("SMPPGW_WORKER_PARENT");
    struct stat st;
    int fd;
    if (W.me) {
        lua_pushinteger(L, W.me);
        return 1;
    }
    if (!idx || !fds || !parent) return 0;
    fd = atoi(fds);
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
    if ((long)getppid() != atol(parent)) return luaL_error(L, "worker %s: the parent process is gone", idx);
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)SLOT_SIZE * atoi(idx))
        return luaL_error(L, "worker %s: no statistics region on descriptor %d", idx, fd);
    W.region_size = (size_t)st.st_size;
    if ((W.region = mmap(NULL, W.region_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
        W.region = NULL;
        return luaL_error(L, "worker %s: cannot map the statistics region: %s", idx, strerror(errno));
    }
    close(fd);
    W.me = atoi(idx);
    log_set_worker(W.me);
    lua_pushinteger(L, W.me);
    return 1;
}

/* core.worker_publish(text) -> true | nil, "too large": this worker's
 * statistics for the parent. */
static int l_worker_publish(lua_State *L)
{
    size_t len;
    const char *p = luaL_checklstring(L, 1, &len);
    if (!W.me || !W.region) return luaL_error(L, "worker_publish: not a worker");
    if (len > SLOT_SIZE - sizeof(slot_t)) {
        lua_pushnil(L);
        lua_pushliteral(L, "too large");
        return 2;
    }
    slot_write(slot_of(W.me), p, len);
    lua_pushboolean(L, 1);
    return 1;
}

const luaL_Reg rt_workers_lib[] = {
    {"workers_start", l_workers_start},
    {"workers_stop", l_workers_stop},
    {"workers_reload", l_workers_reload},
    {"workers", l_workers},
    {"worker", l_worker},
    {"worker_publish", l_worker_publish},
    {NULL, NULL}
};
