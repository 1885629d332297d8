/* lbridge.h -- PDUs as Lua tables, and the `smpp.codec` Lua module.
 * The only place where pdu_t meets lua_State; depends on the codec alone.
 */
#ifndef SMPPGW_LBRIDGE_H
#define SMPPGW_LBRIDGE_H

#include <lua.h>

#include "pdu.h"

/* Open the codec module: returns 1 with a new table on the stack holding
 * decode, encode, frame, the tables (commands, tlvs, statuses), version and
 * default_max_len. `require "smpp.codec"` loads it (build/smpp/codec.so, or
 * preloaded by smppgw); the runtime module smpp.core starts from it. */
int luaopen_smpp_codec(lua_State *L);

/* Push `pdu` as a new table keyed by the specification's names (see docs/protocol.md,
 * "PDUs as Lua tables"). Strings are copied into Lua, so `pdu` and the
 * buffer it points into may go once this returns. The module must have
 * been opened in this state. */
void lbridge_push_pdu(lua_State *L, const pdu_t *pdu);

/* Read the PDU table at stack index `idx` into `pdu`. `cmd` fixes the
 * command (a response whose type the caller knows); NULL takes it from the
 * table's `command` or `command_id`. String values are borrowed from Lua:
 * keep the table on the stack until `pdu` is encoded. Returns NULL on
 * success, or a message naming the field at fault (a static buffer, valid
 * until the next call). */
const char *lbridge_check_pdu(lua_State *L, int idx, pdu_t *pdu, const pdu_cmd_t *cmd);

/* The same where the caller knows more: `idx` is an absolute index that
 * holds a table, and `cmd` is not NULL (a handler's response fields,
 * rt_sess_answer.c). Same results and messages. */
const char *lbridge_check_table(lua_State *L, int idx, pdu_t *pdu, const pdu_cmd_t *cmd);

/* The command_length the table at stack index `idx` gives, if any, must
 * be n, the length its PDU encodes to (the field is derived, but a value
 * given must agree, as for sm_length): NULL, or why not (a static buffer,
 * valid until the next check). */
const char *lbridge_check_length(lua_State *L, int idx, long n);

/* 1 when the table at stack index `idx` holds exactly the keys and values
 * lbridge_push_pdu made of `pdu` (nothing changed, added or removed), so
 * that the octets it came from stand for it; 0 otherwise, and always for
 * a PDU with TLVs or address lists (the caller then encodes the table).
 * Reads the table raw: no script code runs. */
int lbridge_same_pdu(lua_State *L, int idx, const pdu_t *pdu);

#endif /* SMPPGW_LBRIDGE_H */
