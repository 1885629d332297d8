/* rt_watchdog.c -- the watchdog thread of script runs (see rt_watchdog.h).
 *
 * Shared with the thread, through atomics only: `seq` (odd while a run is
 * on; the loop thread bumps it at each begin and end), the run's start,
 * session and name, the limits, a nested run's deadline, `interrupted` (the seq of the run the
 * watchdog interrupted) and `stop` (the signal that asked the process to
 * stop, set by a signal handler). The thread reads a run's fields after an
 * acquire load of seq and checks seq again before acting, so it never acts
 * on a run that has ended.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "log.h"
#include "rt_watchdog.h"

#define LOAD(x)      __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v)  __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

static struct {
    int        started;
    uint64_t   seq;
    uint64_t   start_ns, sess_id;
    const char *what;                  /* static text (rt_watchdog_begin) */
    uint64_t   budget_ns, hard_ns;
    uint64_t   deadline_ns;            /* a nested run's own limit (rt_watchdog_deadline), 0: none */
    uint64_t   interrupted;            /* the seq it interrupted */
    uint64_t   interrupts;
    int        stop;                   /* the stop signal, 0 while none came */
    int        poke_on;                /* the poke's handler is installed */
    pthread_t  loop;                   /* the thread the poke goes to */
} wd;

static void (*poke_fn)(void);
static __thread int on_loop_thread;    /* a poke sent to the process goes nowhere else */

/* -- The poke ----------------------------------------------------------------- */

static void on_poke(int signum)
{
    int saved = errno;
    (void)signum;
    if (on_loop_thread && poke_fn) poke_fn();
    errno = saved;
}

void rt_watchdog_set_poke(void (*fn)(void)) { poke_fn = fn; }

/* The handler, on the calling (loop) thread; 0 or an errno value. */
static int poke_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_poke;
    sa.sa_flags = SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (sigaction(RT_WATCHDOG_POKE_SIGNAL, &sa, NULL) != 0) return errno;
    wd.loop = pthread_self();
    on_loop_thread = 1;
    return 0;
}

/* -- The thread ----------------------------------------------------------------- */

/* The run has passed the hard limit: it holds the loop and nothing stops
 * it. One line, then exit without running anything of the stuck process. */
static void watchdog_exit(uint64_t seq, uint64_t ms, int stop)
{
    const char *what = LOAD(wd.what);
    uint64_t sess = LOAD(wd.sess_id);
    if (LOAD(wd.seq) != seq) return;        /* it ended meanwhile */
    if (stop)
        log_fatal(sess, "script %s has run %llu ms, still runs after signal %d asked the process to "
                "stop, and cannot be interrupted: exiting", what, (unsigned long long)ms, stop);
    else
        log_fatal(sess, "script %s has run %llu ms and cannot be interrupted: exiting so the supervisor "
                "restarts it", what, (unsigned long long)ms);
    _exit(RT_WATCHDOG_EXIT);
}

/* After a stop signal a run may last RT_WATCHDOG_STOP_MS from the later of
 * its start and the moment the watchdog saw the signal (a run under way
 * then is interrupted at once), and the hard limit is RT_WATCHDOG_STOP_GRACE_MS
 * past that. */
static void watchdog_limits(uint64_t start, uint64_t stop_seen, uint64_t *budget, uint64_t *hard)
{
    const uint64_t ms = 1000000ull;
    uint64_t from = start > stop_seen ? start : stop_seen;
    uint64_t run = start < stop_seen ? 0 : RT_WATCHDOG_STOP_MS * ms;
    if (from - start + run < *budget) *budget = from - start + run;
    if (!*hard || from - start + run + RT_WATCHDOG_STOP_GRACE_MS * ms < *hard)
        *hard = from - start + run + RT_WATCHDOG_STOP_GRACE_MS * ms;
}

static void *watchdog_main(void *arg)
{
    const struct timespec tick = {0, RT_WATCHDOG_TICK_MS * 1000000L};
    uint64_t stop_seen = 0;
    (void)arg;
    for (;;) {
        uint64_t seq, start, now, budget, hard;
        int stop;
        nanosleep(&tick, NULL);
        now = uv_hrtime();
        stop = LOAD(wd.stop);
        if (!stop) stop_seen = 0;
        else if (!stop_seen) stop_seen = now;
        seq = LOAD(wd.seq);
        if (!(seq & 1)) continue;           /* no run */
        start = LOAD(wd.start_ns);
        budget = LOAD(wd.budget_ns);
        hard = LOAD(wd.hard_ns);
        if (!budget || now < start) continue;
        if (stop) watchdog_limits(start, stop_seen, &budget, &hard);
        if (now - start >= budget && LOAD(wd.seq) == seq) {
            if (LOAD(wd.interrupted) != seq) {
                STORE(wd.interrupted, seq);
                __atomic_add_fetch(&wd.interrupts, 1, __ATOMIC_RELAXED);
            }
            /* at every tick until the run ends: the count the poke sets
             * may be overwritten as the loop thread re-arms its hook */
            if (wd.poke_on) pthread_kill(wd.loop, RT_WATCHDOG_POKE_SIGNAL);
        }
        else {                              /* a nested run past its own limit: its hook, not the run's flag */
            uint64_t deadline = LOAD(wd.deadline_ns);
            if (deadline && now >= deadline && wd.poke_on && LOAD(wd.seq) == seq)
                pthread_kill(wd.loop, RT_WATCHDOG_POKE_SIGNAL);
        }
        if (hard && now - start > hard) watchdog_exit(seq, (now - start) / 1000000, stop);
    }
    return NULL;
}

int rt_watchdog_start(void)
{
    pthread_attr_t attr;
    pthread_t thread;
    int rc;
    if (wd.started) return 0;
    if (poke_install() == 0) wd.poke_on = 1;     /* else the flag alone, at the hook's next count */
    if ((rc = pthread_attr_init(&attr)) != 0) return rc;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&thread, &attr, watchdog_main, NULL);
    pthread_attr_destroy(&attr);
    if (rc == 0) wd.started = 1;
    return rc;
}

/* -- The loop thread's side ------------------------------------------------------- */

void rt_watchdog_limits(uint64_t budget_ns, uint64_t hard_ns)
{
    STORE(wd.budget_ns, budget_ns);
    STORE(wd.hard_ns, hard_ns);
}

void rt_watchdog_begin(const char *what, uint64_t sess_id, uint64_t start_ns)
{
    STORE(wd.what, what);
    STORE(wd.sess_id, sess_id);
    STORE(wd.start_ns, start_ns);
    STORE(wd.seq, wd.seq + 1);              /* odd: on */
}

void rt_watchdog_end(void)
{
    STORE(wd.deadline_ns, 0);
    STORE(wd.seq, wd.seq + 1);              /* even: off */
}

uint64_t rt_watchdog_deadline(uint64_t deadline_ns)
{
    uint64_t was = LOAD(wd.deadline_ns);
    STORE(wd.deadline_ns, deadline_ns);
    return was;
}

int rt_watchdog_interrupted(void)
{
    uint64_t seq = LOAD(wd.seq);
    return (seq & 1) && LOAD(wd.interrupted) == seq;
}

uint64_t rt_watchdog_interrupts(void) { return LOAD(wd.interrupts); }

/* -- Stop signals ---------------------------------------------------------------- */

void rt_watchdog_stop(int signum)
{
    STORE(wd.stop, signum);                 /* an atomic store: async-signal-safe */
}

int rt_watchdog_stopping(void) { return LOAD(wd.stop); }
