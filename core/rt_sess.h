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

/* The request PDU (as decoded, with its octets in ->raw) when the value
 * at idx is the table its handler was given and that handler has not
 * waited yet (its octets are the session's read buffer, valid until
 * then); else NULL. Whether the table still says what the PDU does is
 * the caller's to check (lbridge_same_pdu). */
const pdu_t *rt_sess_request(lua_State *L, int idx);

/* "transmitter", "receiver", "transceiver" for a bound state, else NULL. */
const char *rt_sess_bind_type(sess_state_t st);

#endif /* SMPPGW_RT_SESS_H */
