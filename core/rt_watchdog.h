/* rt_watchdog.h -- a thread that watches the runs of script code (as redis
 * watches its script timeout), for the cases the budget hook cannot see:
 * a C call that never checks the budget, a finalizer, compiled code.
 *
 * The loop thread publishes the outermost run in progress (begin/end);
 * the watchdog wakes every RT_WATCHDOG_TICK_MS. Past the budget it raises
 * the interrupt flag (rt_budget.c's hook and checks read it); past the
 * hard limit it writes one log line naming the run and exits the process
 * with RT_WATCHDOG_EXIT.
 *
 * The flag alone is read at the hook's next count, RT_BUDGET_HOOK_STEP
 * instructions on: a loop of short C calls (table.sort of 100,000 entries,
 * s:upper() of 16 MiB) runs thousands of them before that. So while a run
 * is past its budget the watchdog also pokes the loop thread at each tick
 * (RT_WATCHDOG_POKE_SIGNAL, a handler of ours), and the handler calls the
 * poke function the budget gave (rt_watchdog_set_poke), which sets the
 * count hook to fire at the next instruction: lua_sethook is the one Lua
 * API call meant to be safe asynchronously, from a signal handler (as
 * luajit.c's and lua.c's SIGINT handlers use it), never from another
 * thread. Only a single C call that runs past the hard limit (budget +
 * max(1 s, budget)) still ends the process.
 *
 * A stop signal (SIGINT, SIGTERM) reaches it through rt_watchdog_stop,
 * which the signal handler calls before libuv's own: the run under way is
 * interrupted at the next tick instead of after its budget, a run that
 * starts during the shutdown may last RT_WATCHDOG_STOP_MS, and the hard
 * limit becomes RT_WATCHDOG_STOP_GRACE_MS past those. Nothing else is
 * shared with the thread.
 */
#ifndef SMPPGW_RT_WATCHDOG_H
#define SMPPGW_RT_WATCHDOG_H

#include <signal.h>
#include <stdint.h>

#define RT_WATCHDOG_TICK_MS 20
#define RT_WATCHDOG_EXIT    3       /* exit status when a run cannot be stopped */
#define RT_WATCHDOG_STOP_MS 250     /* a run's budget once the process is stopping */
#define RT_WATCHDOG_STOP_GRACE_MS 1000  /* then the hard limit */
#define RT_WATCHDOG_POKE_SIGNAL SIGURG  /* to the loop thread: a run is past its budget */

/* The function the poke signal's handler calls on the loop thread (in
 * the handler: async-signal-safe work only). Before rt_watchdog_start. */
void rt_watchdog_set_poke(void (*fn)(void));

/* Start the thread (once; later calls do nothing), from the loop thread:
 * the one the poke goes to. Returns 0, or an errno
 * value when the thread cannot be created (then runs are not watched). */
int rt_watchdog_start(void);

/* The budget and the hard limit of every run, in nanoseconds. */
void rt_watchdog_limits(uint64_t budget_ns, uint64_t hard_ns);

/* The outermost run starts or ends. `what` names it in the log line: text
 * that stays valid for the life of the process. */
void rt_watchdog_begin(const char *what, uint64_t sess_id, uint64_t start_ns);
void rt_watchdog_end(void);

/* A run nested in the outermost one with a time limit of its own (a
 * script's gauge inside /stats: core.budget_call_ms) is past it at
 * deadline_ns (uv_hrtime's timeline; 0: none). From then on the watchdog
 * pokes the loop thread at each tick, so that the hook checks the nested
 * run's limit at its next instruction, as it does the budget's: a loop of
 * short C calls in a gauge went on until the outer run's budget, and that
 * ended /stats too. The outer run is not interrupted for it. Returns the
 * deadline it replaces (to be given back as the nested run ends). */
uint64_t rt_watchdog_deadline(uint64_t deadline_ns);

/* Whether the watchdog interrupted the run in progress. */
int rt_watchdog_interrupted(void);

/* Interrupts raised so far. */
uint64_t rt_watchdog_interrupts(void);

/* A signal asked the process to stop (signum; 0 takes the request back,
 * for a new serve). Async-signal-safe: an atomic store. */
void rt_watchdog_stop(int signum);

/* The stop signal that came, or 0. */
int rt_watchdog_stopping(void);

#endif /* SMPPGW_RT_WATCHDOG_H */
