/* rt_sess_int.h -- what rt_sess.c shares with rt_send.c and
 * rt_sess_answer.c, and with no other file: internal to the sessions'
 * part of the runtime.
 */
#ifndef SMPPGW_RT_SESS_INT_H
#define SMPPGW_RT_SESS_INT_H

#include "net.h"

/* The session of argument 1 of the running Lua function (a session table
 * or an id), or NULL when it is gone or the runtime is not serving.
 * Borrowed: valid until the function returns to the loop; never stored. */
sess_t *rt_sess__arg(lua_State *L);

/* The owner of a task that answers a request (rt_sess_answer.c), and
 * core.respond, registered with rt_sess.c's functions. */
#include "rt_task.h"
extern const rt_task_owner_t rt_sess__request_owner;
int rt_sess__respond(lua_State *L);

/* lstore_withdraw_hook while serving (rt_sess_answer.c). */
#include "store.h"
void rt_sess__note_withdraw(lua_State *L, store_t *s, long long key);

#endif /* SMPPGW_RT_SESS_INT_H */
