/* lrt.h -- the Lua runtime of smppgw: serve, sessions, tasks, timers
 * (core/rt_*.c, see rt.h for the map of its files).
 */
#ifndef SMPPGW_LRT_H
#define SMPPGW_LRT_H

#include <lua.h>

/* Add the runtime functions (serve, send, sleep, after, ...) to the table
 * on the top of the stack: luaopen_smpp_core calls it. */
void lrt_register(lua_State *L);

#endif /* SMPPGW_LRT_H */
