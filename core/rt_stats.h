/* rt_stats.h -- the runtime's statistics (rt_stats.c).
 */
#ifndef SMPPGW_RT_STATS_H
#define SMPPGW_RT_STATS_H

/* One log line with the process totals (when serving ends): what came in
 * and went out, by command. */
void rt_stats_log_totals(void);

#endif /* SMPPGW_RT_STATS_H */
