/* ldlr.c -- message ids and their keys (msgid.h) and the receipt rules
 * (dlr.h) in the smpp.codec Lua module, so that smpp.msgid, smpp.receipt
 * and the reference SMSC use the one C implementation the gateway uses.
 */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "dlr.h"
#include "ldlr.h"
#include "msgid.h"

/* msgid_key(id, format) -> key. id: a string, or a number (written in
 * decimal); format: "string" (nil), "decimal", "hex" or "normalized";
 * anything else raises. */
static int l_msgid_key(lua_State *L)
{
    size_t n;
    const char *id, *fname = luaL_optstring(L, 2, "string");
    int fmt = msgid_format(fname);
    char small[256], num[400], *out = small;
    long len;
    if (lua_type(L, 1) == LUA_TNUMBER) {
        snprintf(num, sizeof num, "%.0f", lua_tonumber(L, 1));
        id = num;
        n = strlen(num);
    } else if (lua_type(L, 1) == LUA_TSTRING) {
        id = lua_tolstring(L, 1, &n);
    } else {
        return luaL_error(L, "id must be a string or a number, got %s", luaL_typename(L, 1));
    }
    if (fmt < 0) return luaL_error(L, "unknown id format '%s'", fname);
    if (2 * n + 2 > sizeof small) out = lua_newuserdata(L, 2 * n + 2);
    len = msgid_key(id, n, fmt, out, 2 * n + 2);
    lua_pushlstring(L, out, len < 0 ? 0 : (size_t)len);
    return 1;
}

static int keyed_format_arg(lua_State *L, int idx)
{
    const char *name = luaL_checkstring(L, idx);
    int fmt = msgid_keyed_format(name);
    if (fmt < 0) return luaL_error(L, "unknown id format '%s' (decimal, hex or uuid)", name);
    return fmt;
}

/* msgid_make(format, node, key) -> id: the id we issue for a store's node
 * id (1 .. 2^32-1) and a message's key (an integer 0 .. 2^53-1) in format
 * "decimal", "hex" or "uuid" (msgid.h). Anything else raises. */
static int l_msgid_make(lua_State *L)
{
    int fmt = keyed_format_arg(L, 1);
    double node = luaL_checknumber(L, 2), key = luaL_checknumber(L, 3);
    char out[MSGID_KEYED_MAX];
    int n;
    if (!(node >= 1 && node <= 4294967295.0 && node == (double)(unsigned long long)node))
        return luaL_error(L, "node must be an integer 1 .. 2^32-1");
    if (!(key >= 0 && key < 9007199254740992.0 && key == (double)(unsigned long long)key))
        return luaL_error(L, "key must be an integer 0 .. 2^53-1");
    n = msgid_keyed_make(fmt, (unsigned long long)node, (unsigned long long)key, out, sizeof out);
    if (n < 0) return luaL_error(L, "cannot make an id");
    lua_pushlstring(L, out, (size_t)n);
    return 1;
}

/* msgid_read(format, id) -> node, key | nil: the node id and key of an id
 * msgid_make writes in that format (either case); nil for any other string
 * (and for a key past 2^53, which Lua cannot hold exactly). */
static int l_msgid_read(lua_State *L)
{
    int fmt = keyed_format_arg(L, 1);
    size_t n;
    const char *id = luaL_checklstring(L, 2, &n);
    unsigned long long node, key;
    if (msgid_keyed_read(fmt, id, n, &node, &key) < 0 || key >= (1ULL << 53)) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushnumber(L, (double)node);
    lua_pushnumber(L, (double)key);
    return 2;
}

static int add_field(const char *label, const char *value, size_t vlen, size_t value_at, void *ud)
{
    lua_State *L = ud;
    int n = (int)lua_objlen(L, -1);
    (void)value_at;
    lua_pushstring(L, label);
    lua_rawseti(L, -2, n + 1);
    lua_pushlstring(L, value, vlen);
    lua_rawseti(L, -2, n + 2);
    return 0;
}

/* receipt_fields(text) -> { label1, value1, label2, value2, ... } in the
 * order of the text (dlr_fields: labels lower case), and the value of its
 * "text:" field or nil (dlr_text). */
static int l_receipt_fields(lua_State *L)
{
    size_t n, start, len;
    const char *s = luaL_checklstring(L, 1, &n);
    lua_createtable(L, 16, 0);
    dlr_fields(s, n, add_field, L);
    if (dlr_text(s, n, &start, &len)) lua_pushlstring(L, s + start, len);
    else lua_pushnil(L);
    return 2;
}

/* receipt_is(esm_class) -> whether a deliver_sm or data_sm with this
 * esm_class is a receipt (dlr_is_receipt: message type 0x04, or 0x20 an
 * intermediate notification). */
static int l_receipt_is(lua_State *L)
{
    double esm = luaL_checknumber(L, 1);
    lua_pushboolean(L, esm >= 0 && esm <= 255 && dlr_is_receipt((uint32_t)esm));
    return 1;
}

void ldlr_register(lua_State *L)
{
    const char *word;
    int state, final;
    size_t i;
    lua_pushcfunction(L, l_msgid_key);
    lua_setfield(L, -2, "msgid_key");
    lua_pushcfunction(L, l_msgid_make);
    lua_setfield(L, -2, "msgid_make");
    lua_pushcfunction(L, l_msgid_read);
    lua_setfield(L, -2, "msgid_read");
    lua_createtable(L, 0, 3);              /* msgid_formats: name -> the store's id_format */
    for (i = MSGID_KEYED_DECIMAL; i <= MSGID_KEYED_UUID; i++) {
        lua_pushnumber(L, (lua_Number)i);
        lua_setfield(L, -2, msgid_keyed_name((int)i));
    }
    lua_setfield(L, -2, "msgid_formats");
    lua_pushcfunction(L, l_receipt_fields);
    lua_setfield(L, -2, "receipt_fields");
    lua_newtable(L);                       /* receipt_states: { {word, state, final, standard}... } */
    for (i = 0; dlr_state_at(i, &word, &state, &final); i++) {
        lua_createtable(L, 0, 4);
        lua_pushstring(L, word); lua_setfield(L, -2, "word");
        lua_pushnumber(L, state); lua_setfield(L, -2, "state");
        lua_pushboolean(L, final); lua_setfield(L, -2, "final");
        lua_pushboolean(L, i < DLR_STAT_WORDS); lua_setfield(L, -2, "standard");
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "receipt_states");
    lua_pushcfunction(L, l_receipt_is);
    lua_setfield(L, -2, "receipt_is");
}
