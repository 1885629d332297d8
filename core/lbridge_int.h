/* lbridge_int.h -- what lbridge.c (PDU -> table, the smpp.codec module)
 * shares with lbridge_check.c (table -> PDU), and with no other file.
 *
 * Who owns what: lbridge.c owns the key cache (one registry table, built
 * when the module opens); lbridge_check.c only reads it. The key codes
 * below index that cache in both directions.
 */
#ifndef SMPPGW_LBRIDGE_INT_H
#define SMPPGW_LBRIDGE_INT_H

#include <stdint.h>

#include <lua.h>

#include "pdu.h"

/* -- Key codes of the cache ------------------------------------------------- */

enum {
    K_FIELD = 1,        /* + field id */
    K_TLV = 100,        /* + index in tlv.def */
    K_CMD = 200,        /* + index in smpp.def */
    K_COMMAND = 300, K_COMMAND_ID, K_COMMAND_STATUS, K_SEQUENCE_NUMBER,
    K_TLV_ORDER, K_COMMAND_LENGTH,
    K_SHAPE = 400       /* + index in smpp.def: the command's table maker (false: none) */
};


/* lbridge_same_pdu by a compiled comparer of p's command (lbridge.c):
 * 1 or 0 as lbridge_same_pdu, for a PDU with every field of its body and
 * no TLVs or lists; -1 where it has none (the caller compares). */
int lbridge__same_fast(lua_State *L, int idx, const pdu_t *p);

/* Push the key cache; returns its (absolute) stack index. */
int lbridge__cache_push(lua_State *L);

/* Forget the key codes lbridge_check.c keeps by string address (a new
 * key cache: its strings are others). */
void lbridge__keys_forget(void);

/* -- Small helpers both directions use (inline: they run per field) --------- */

/* The bit of every body field of cmd. */
static inline uint64_t lbridge__body_mask(const pdu_cmd_t *cmd)
{
    return cmd->body;
}

/* The key at -1 of the cache (at `cache`) pushed, then t[key] of the table
 * at idx in its place: the interned string, not one hashed again. */
static inline void lbridge__raw_key(lua_State *L, int idx, int cache, int code)
{
    lua_rawgeti(L, cache, code);
    lua_rawget(L, idx);
}

/* An unsigned 32-bit integer at idx, or -1. */
static inline double lbridge__as_u32(lua_State *L, int idx)
{
    double d;
    if (lua_type(L, idx) != LUA_TNUMBER) return -1;
    d = lua_tonumber(L, idx);
    return d >= 0 && d <= 4294967295.0 && d == (double)(uint32_t)d ? d : -1;
}

/* decode's and frame's max_len at idx: nil, or a whole number
 * 0..0xFFFFFFFF (0: the default); anything else raises. */
static inline uint32_t opt_max_len(lua_State *L, int idx)
{
    double d = lua_isnoneornil(L, idx) ? 0 : lbridge__as_u32(L, idx);
    if (d < 0) luaL_argerror(L, idx, "max_len must be a whole number 0..0xFFFFFFFF (0: the default)");
    return (uint32_t)d;
}

#endif /* SMPPGW_LBRIDGE_INT_H */
