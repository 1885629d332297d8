/* ldlr.h -- message ids, their keys and receipt rules in the smpp.codec module
 * (ldlr.c): msgid_key, msgid_make, msgid_read, msgid_formats,
 * receipt_fields, receipt_states.
 */
#ifndef SMPPGW_LDLR_H
#define SMPPGW_LDLR_H

#include <lua.h>

/* Add the functions and tables to the module table at the stack top. */
void ldlr_register(lua_State *L);

#endif /* SMPPGW_LDLR_H */
