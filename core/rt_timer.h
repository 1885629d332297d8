/* rt_timer.h -- timers, sleep and suspend/wake of the runtime (rt_timer.c).
 */
#ifndef SMPPGW_RT_TIMER_H
#define SMPPGW_RT_TIMER_H

/* The longest wait, in ms (10^9 s, about 31.7 years): a longer one is
 * this one (smpp.sleep, smpp.after, smpp.every, smpp.wait). */
#define RT_TIMER_MAX_MS 1e12

/* The most timers of smpp.after / smpp.every scripts may have pending at
 * once (each is some 300 octets outside the Lua heap's count); one more
 * raises. The runtime's own timers are not counted. */
#define RT_TIMER_MAX_SCRIPT 100000

/* The most time the timers' runs of one loop turn take together (the
 * ready queue's and libuv's timer pass), in ms; the rest run in the next
 * turn, after the loop has polled for I/O again. */
#define RT_TIMER_TURN_MS 10

/* Scripts' pending timers (/stats totals.script_timers). */
unsigned rt_timer_scripts(void);

/* Shutdown: release every timer of core.after (they will not fire), and
 * let sleeping and suspended tasks finish without keeping the loop alive. */
void rt_timer_close_all(void);

/* The loop has ended: close every timer left, without waking its task
 * (rt_task_release_all releases the tasks next). */
void rt_timer_free_all(void);

#endif /* SMPPGW_RT_TIMER_H */
