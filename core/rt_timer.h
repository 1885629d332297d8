/* rt_timer.h -- timers, sleep and suspend/wake of the runtime (rt_timer.c).
 */
#ifndef SMPPGW_RT_TIMER_H
#define SMPPGW_RT_TIMER_H

/* Shutdown: release every timer of core.after (they will not fire), and
 * let sleeping tasks finish without keeping the loop alive. */
void rt_timer_close_all(void);

#endif /* SMPPGW_RT_TIMER_H */
