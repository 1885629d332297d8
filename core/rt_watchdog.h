/* rt_watchdog.h -- a thread that watches the runs of script code (as redis
 * watches its script timeout), for the cases the budget hook cannot see:
 * a C call that never checks the budget, a finalizer, compiled code.
 *
 * The loop thread publishes the outermost run in progress (begin/end);
 * the watchdog wakes every RT_WATCHDOG_TICK_MS. Past the budget it raises
 * the interrupt flag (rt_budget.c's hook and checks read it); past the
 * hard limit it writes one log line naming the run and exits the process
 * with RT_WATCHDOG_EXIT. Nothing else is shared with the thread.
 */
#ifndef SMPPGW_RT_WATCHDOG_H
#define SMPPGW_RT_WATCHDOG_H

#include <stdint.h>

#define RT_WATCHDOG_TICK_MS 20
#define RT_WATCHDOG_EXIT    3       /* exit status when a run cannot be stopped */

/* Start the thread (once; later calls do nothing). Returns 0, or an errno
 * value when the thread cannot be created (then runs are not watched). */
int rt_watchdog_start(void);

/* The budget and the hard limit of every run, in nanoseconds. */
void rt_watchdog_limits(uint64_t budget_ns, uint64_t hard_ns);

/* The outermost run starts or ends. `what` names it in the log line: text
 * that stays valid for the life of the process. */
void rt_watchdog_begin(const char *what, uint64_t sess_id, uint64_t start_ns);
void rt_watchdog_end(void);

/* Whether the watchdog interrupted the run in progress. */
int rt_watchdog_interrupted(void);

/* Interrupts raised so far. */
uint64_t rt_watchdog_interrupts(void);

#endif /* SMPPGW_RT_WATCHDOG_H */
