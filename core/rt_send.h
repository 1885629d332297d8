/* rt_send.h -- the Lua functions that act on sessions (rt_send.c):
 * send, connect, listen, unbind, close, throttle, the session list.
 */
#ifndef SMPPGW_RT_SEND_H
#define SMPPGW_RT_SEND_H

#include "net.h"

/* Listen and log; pushes the bound port, or nil and the error, and
 * returns the number of values pushed. With a TLS table at tls_idx (0:
 * none) the listener speaks TLS. */
int rt_send_listen(lua_State *L, const char *host, int port, const char *side, int tls_idx);

#endif /* SMPPGW_RT_SEND_H */
