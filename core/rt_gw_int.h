/* rt_gw_int.h -- what rt_gw_store.c shares with rt_gw.c, and with no
 * other file: internal to the gateway's part of the runtime.
 */
#ifndef SMPPGW_RT_GW_INT_H
#define SMPPGW_RT_GW_INT_H

#include <lua.h>

/* Set stored, refused_full and refused_io (the messages core.gw_queue and
 * core.gw_record stored or refused) in the table on top of L's stack. */
void rt_gw_store__push_stats(lua_State *L);

/* Free the encode buffer of stored messages (serving ends; it is made
 * again on the next use). */
void rt_gw_store__free(void);

#endif /* SMPPGW_RT_GW_INT_H */
