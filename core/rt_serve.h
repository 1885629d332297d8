/* rt_serve.h -- the `smpp.core` Lua module: the runtime of smppgw (serve,
 * sessions, tasks, timers, HTTP; core/rt_*.c, mapped in rt.h) on top of
 * the codec module's functions and tables (lbridge.h).
 */
#ifndef SMPPGW_RT_SERVE_H
#define SMPPGW_RT_SERVE_H

#include <lua.h>

/* Open the module: returns 1 with the `smpp.core` table on the stack. Used
 * by `require "smpp.core"` (build/smpp/core.so) and preloaded by smppgw. */
int luaopen_smpp_core(lua_State *L);

#endif /* SMPPGW_RT_SERVE_H */
