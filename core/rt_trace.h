/* rt_trace.h -- the PDU trace at log level debug (rt_trace.c).
 */
#ifndef SMPPGW_RT_TRACE_H
#define SMPPGW_RT_TRACE_H

/* Set or clear the engine's PDU trace hook for the log level now in force:
 * call after the level changes and after the net is made. */
void rt_trace_apply(void);

#endif
