/* rt_http.h -- the runtime's HTTP glue (rt_http.c).
 */
#ifndef SMPPGW_RT_HTTP_H
#define SMPPGW_RT_HTTP_H

/* Shutdown: close the HTTP listener and idle connections. */
void rt_http_close(void);

#endif /* SMPPGW_RT_HTTP_H */
