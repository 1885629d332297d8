/* rt_sess.h -- sessions as Lua tables and the engine's callbacks (rt_sess.c).
 */
#ifndef SMPPGW_RT_SESS_H
#define SMPPGW_RT_SESS_H

#include "net.h"

/* The runtime's callbacks for the transport (owner.drained is left to the
 * serve loop). */
void rt_sess_owner(net_owner_t *o);

/* Push the session table of `id` (nil once it is gone). */
void rt_sess_push(lua_State *L, uint64_t id);

/* Run the script's handler `name` (an event without arguments: "stop")
 * in a task named `what` (static text). Returns 1 if there was one. */
int rt_sess_event(const char *name, const char *what);

/* "transmitter", "receiver", "transceiver" for a bound state, else NULL. */
const char *rt_sess_bind_type(sess_state_t st);

#endif /* SMPPGW_RT_SESS_H */
