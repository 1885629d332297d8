/* lsys.h -- facts about the process that the runtime's defaults are
 * derived from (open-files limit, CPUs), for the smpp.core module. */
#ifndef SMPPGW_LSYS_H
#define SMPPGW_LSYS_H

#include <lua.h>

/* Add fd_limit and cpu_count to the table on top of the stack. */
void lsys_register(lua_State *L);

#endif /* SMPPGW_LSYS_H */
