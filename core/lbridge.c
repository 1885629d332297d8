/* lbridge.c -- PDU -> Lua table, driven by the same tables as the codec,
 * and the `smpp.codec` module (decode, encode, frame, the tables as
 * constants). Needs only the codec and Lua: build/smpp/codec.so loads in
 * plain luajit without libuv, OpenSSL or http-parser.
 *
 * A PDU table: command, command_id, command_status, sequence_number, then the
 * body fields and the TLVs by their specification names. Unknown TLVs sit
 * under their numeric tag as raw bytes. A repeated TLV holds an array of its
 * values. When the wire order of TLVs is not ascending by tag, `tlv_order`
 * lists the tags as they came, so encoding reproduces the same bytes.
 *
 * Who owns what: this file owns the key cache (a registry table both
 * directions read) and the scratch PDU and buffer of decode/encode; table
 * -> PDU (lbridge_check_pdu) is lbridge_check.c's, sharing the cache's key
 * codes through lbridge_int.h. The module's table is built here only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lbridge.h"
#include "lbridge_int.h"
#include "ldlr.h"
#include "sess.h"                          /* the engine's error tokens (a table, no code) */

#define SMPPGW_VERSION "0.1.0"

/* -- The key cache ------------------------------------------------------------
 * One table in the registry (under &cache_key) serves both directions:
 * integer slots hold the interned key strings we push (no re-hashing per
 * PDU), string slots map a key back to its code.
 */
static char cache_key;

/* For each TLV, the id of the body field with the same name, or -1
 * (message_state is both). Filled by cache_build. */
static int tlv_alias[128];

/* The shapes as registry refs by command index, for the state whose
 * registry is at `reg` (a lookup in the key cache, itself found in the
 * registry by a light userdata key, cost two hashed lookups per PDU).
 * The first state to push a PDU owns them; another state's PDU finds
 * another registry and takes the cache's way. A new key cache (a state
 * opening the module, perhaps where a closed one was) forgets them. */
#define SHAPE_REFS 64
static struct {
    const void *reg;
    int         ref[SHAPE_REFS];        /* 0: not made yet */
    int         fast[SHAPE_REFS];       /* the same for fast shapes (-1: none can be made) */
    int         same[SHAPE_REFS];       /* the same for fast comparers (lbridge__same_fast) */
    lua_State  *seen;                   /* the last thread found to be of the state at `reg` */
} shapes;

/* Whether L is a thread of the state whose registry is at shapes.reg:
 * the registry's address is the test (lua_topointer of the registry
 * pseudo-index, 40 instructions a PDU), asked again only when the thread
 * is not the last one that passed (the runtime's requests run on the
 * few threads of its task pool, rt_task.c, which it keeps). The answer
 * is forgotten with the shapes (a state opening the module, where a
 * closed one may have been). */
static int same_state(lua_State *L)
{
    if (L == shapes.seen && L) return 1;
    if (!shapes.reg || lua_topointer(L, LUA_REGISTRYINDEX) != shapes.reg) return 0;
    shapes.seen = L;
    return 1;
}

static const char *const header_keys[] = {
    "command", "command_id", "command_status", "sequence_number", "tlv_order", "command_length"
};

static void cache_build(lua_State *L)
{
    size_t i;
    const pdu_cmd_t *c;
    const pdu_tlv_def_t *t;
    lua_pushlightuserdata(L, &cache_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (!lua_isnil(L, -1)) {               /* built by an earlier open */
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    memset(&shapes, 0, sizeof shapes);     /* a new state's cache: refs of another registry */
    lbridge__keys_forget();                /* ... and other strings */
    lua_pushlightuserdata(L, &cache_key);
    lua_createtable(L, 400, 100);
#define KEY(code, name) do { \
        lua_pushstring(L, name); lua_pushvalue(L, -1); lua_rawseti(L, -3, code); \
        lua_pushinteger(L, code); lua_rawset(L, -3); } while (0)
    for (i = 0; i < PDU_F__COUNT; i++) KEY(K_FIELD + (int)i, pdu_field_info((pdu_field_id_t)i)->name);
    /* A TLV named like a field (message_state) keeps the field's code; the
     * check path falls back to the TLV when the command has no such field. */
    for (i = 0; (t = pdu_tlv_at(i)) != NULL; i++) {
        lua_pushstring(L, t->name);
        lua_rawseti(L, -2, K_TLV + (int)i);
        lua_getfield(L, -1, t->name);
        tlv_alias[i] = lua_isnil(L, -1) ? -1 : (int)lua_tointeger(L, -1) - K_FIELD;
        if (lua_isnil(L, -1)) { lua_pushinteger(L, K_TLV + (int)i); lua_setfield(L, -3, t->name); }
        lua_pop(L, 1);
    }
    for (i = 0; (c = pdu_cmd_at(i)) != NULL; i++) {
        lua_pushstring(L, c->name);
        lua_rawseti(L, -2, K_CMD + (int)i);
    }
    for (i = 0; i < sizeof header_keys / sizeof header_keys[0]; i++)
        KEY(K_COMMAND + (int)i, header_keys[i]);
#undef KEY
    lua_rawset(L, LUA_REGISTRYINDEX);
}

/* Push the cache table; returns its absolute stack index. */
int lbridge__cache_push(lua_State *L)
{
    lua_pushlightuserdata(L, &cache_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    return lua_gettop(L);
}

static size_t tlv_index(const pdu_tlv_def_t *d) { return (size_t)(d - pdu_tlv_at(0)); }
static size_t cmd_index(const pdu_cmd_t *c) { return pdu_cmd_index(c); }



/* -- PDU -> table -------------------------------------------------------------- */

/* Keys are pushed before their values (then lua_rawset): moving a key
 * under its value with lua_insert cost a memmove per field. */
#define KEY(code) lua_rawgeti(L, cache, (code))

static void set_num(lua_State *L, int t, int cache, int code, double v)
{
    KEY(code);
    lua_pushnumber(L, v);
    lua_rawset(L, t);
}

static void push_addrs(lua_State *L, const pdu_t *p, int cache, int unsucc)
{
    int i, e;
    lua_createtable(L, p->naddr, 0);
    for (i = 0; i < p->naddr; i++) {
        const pdu_addr_t *a = &p->addr[i];
        lua_createtable(L, 0, 4);
        e = lua_gettop(L);
        if (!unsucc) set_num(L, e, cache, K_FIELD + PDU_F_DEST_FLAG, a->dest_flag);
        if (unsucc || a->dest_flag == 1) {
            set_num(L, e, cache, K_FIELD + PDU_F_DEST_ADDR_TON, a->ton);
            set_num(L, e, cache, K_FIELD + PDU_F_DEST_ADDR_NPI, a->npi);
            KEY(K_FIELD + PDU_F_DESTINATION_ADDR);
            lua_pushlstring(L, (const char *)a->addr, a->len);
            lua_rawset(L, e);
        } else {
            KEY(K_FIELD + PDU_F_DL_NAME);
            lua_pushlstring(L, (const char *)a->addr, a->len);
            lua_rawset(L, e);
        }
        if (unsucc) set_num(L, e, cache, K_FIELD + PDU_F_ERROR_STATUS_CODE, a->error_status_code);
        lua_rawseti(L, -2, i + 1);
    }
}

static void push_tlv_value(lua_State *L, const pdu_tlv_t *t, const pdu_tlv_def_t *def)
{
    const void *nul;
    switch (def ? def->type : PDU_TLV_OSTR) {
    case PDU_TLV_OSTR:
        lua_pushlstring(L, (const char *)t->val, t->len);
        break;
    case PDU_TLV_INT:
        lua_pushnumber(L, t->num);
        break;
    case PDU_TLV_FLAG:      /* no value: true; SMPP 5.0's 1-octet level: a number */
        if (t->len == 0) lua_pushboolean(L, 1);
        else lua_pushnumber(L, t->val ? t->val[0] : t->num);
        break;
    case PDU_TLV_CSTR:      /* up to its NUL, tolerating a value sent without one */
        nul = memchr(t->val, 0, t->len);
        lua_pushlstring(L, (const char *)t->val,
                        nul ? (size_t)((const uint8_t *)nul - t->val) : t->len);
        break;
    }
}

/* -- Shapes ---------------------------------------------------------------------
 * A PDU without TLVs (nearly every one) is made by a Lua function of its
 * command, compiled once per state and kept in the key cache:
 *   return function(a1, ..., aN) return { command = "submit_sm",
 *       command_id = a1, command_status = a2, sequence_number = a3,
 *       service_type = a4, ... } end
 * LuaJIT builds such a constructor's table by copying a template that has
 * every key in place (one allocation of the right size, no key hashed or
 * inserted per PDU); the values go in by position. An absent field is
 * passed as nil: its key stays in the table without a value, which no
 * reader (t.k, pairs, next) can tell from a missing one. */

#define SHAPE_SRC 4096

/* Push the shape of cmd (a function), or nothing and 0 when it cannot be
 * made (the table is then built key by key): false in the cache when its
 * source does not fit, nothing when loading it failed (the heap's ceiling:
 * the next PDU tries again). */
static int shape_push(lua_State *L, int cache, const pdu_cmd_t *cmd)
{
    char src[SHAPE_SRC];
    size_t n = 0;
    int i, slot = K_SHAPE + (int)cmd_index(cmd);
    lua_rawgeti(L, cache, slot);
    if (lua_isfunction(L, -1)) return 1;
    if (!lua_isnil(L, -1)) {                   /* false: tried, failed */
        lua_pop(L, 1);
        return 0;
    }
    lua_pop(L, 1);
#define ADD(...) do { \
        int w_ = snprintf(src + n, sizeof src - n, __VA_ARGS__); \
        if (w_ < 0 || (size_t)w_ >= sizeof src - n) goto fail; \
        n += (size_t)w_; \
    } while (0)
    ADD("return function(h1, h2, h3");
    for (i = 0; i < cmd->nslots; i++) ADD(", a%d", i);
    ADD(") return { command = \"%s\", command_id = h1, command_status = h2, sequence_number = h3", cmd->name);
    for (i = 0; i < cmd->nslots; i++)
        ADD(", [\"%s\"] = a%d", pdu_field_info((pdu_field_id_t)cmd->slots[i].id)->name, i);
    ADD(" } end");
#undef ADD
    if (luaL_loadbuffer(L, src, n, "=pdu shape") != 0 || lua_pcall(L, 0, 1, 0) != 0
        || !lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    lua_pushvalue(L, -1);
    lua_rawseti(L, cache, slot);
    return 1;
fail:
    lua_pushboolean(L, 0);
    lua_rawseti(L, cache, slot);
    return 0;
}

/* Push the shape of cmd by its ref (made from the key cache's entry the
 * first time); 0, nothing pushed, when there is none. */
static int shape_ref_push(lua_State *L, const pdu_cmd_t *cmd)
{
    size_t i = cmd_index(cmd);
    const void *reg = lua_topointer(L, LUA_REGISTRYINDEX);
    int cache, ok;
    if (reg == shapes.reg && i < SHAPE_REFS && shapes.ref[i] > 0) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, shapes.ref[i]);
        return 1;
    }
    cache = lbridge__cache_push(L);
    ok = shape_push(L, cache, cmd);
    lua_remove(L, cache);
    if (!ok || i >= SHAPE_REFS || (shapes.reg && reg != shapes.reg)) return ok;
    shapes.reg = reg;
    lua_pushvalue(L, -1);
    shapes.ref[i] = luaL_ref(L, LUA_REGISTRYINDEX);
    return 1;
}

/* -- Fast shapes ----------------------------------------------------------------
 * The same constructor reading the fields itself: it gets the pdu_t's
 * address (a number) and takes each value at its offset with the FFI,
 * compiled with the rest of the function, where the C API cost a call per
 * field (twenty for a submit_sm: more than the table itself):
 *   local ffi = ...   -- package.loaded.ffi, from C
 *   local cast, str, rawget, next = ffi.cast, ffi.string, rawget, next
 *   local U, P = ffi.typeof("const uint32_t *"), ffi.typeof("const uint8_t *const *")
 *   return function(a) local u, q = cast(U, a), cast(P, a)
 *       local t = { command = "submit_sm", command_id = u[1], ...,
 *                   ["service_type"] = "", ... }
 *       do local n = u[10] if n ~= 0 then ... t["service_type"] = ... end end
 *       return t end
 * A string field is "" in the template and set only when the PDU's is
 * not empty (a test in the trace, where ffi.string was a call), to its
 * last string again when the octets are the same (fast_strings).
 * The offsets are written in by C from pdu.h's own layout (offsetof), so
 * the two cannot drift. Only for a PDU with every field of its body and
 * no TLVs or address lists (nearly every one): anything else, or a state
 * without the FFI, takes the shape above. The function and the address
 * never reach a script: the table it returns is the same, key for key
 * and value for value, as push_shaped's. */

#define U32_AT(off) ((unsigned)((off) / sizeof(uint32_t)))
#define PTR_AT(off) ((unsigned)((off) / sizeof(void *)))
typedef char pdu_layout_for_fast_shapes[
    offsetof(pdu_t, f) % sizeof(void *) == 0 && sizeof(pdu_value_t) % sizeof(void *) == 0
    && offsetof(pdu_value_t, ptr) % sizeof(void *) == 0 && offsetof(pdu_value_t, len) % 4 == 0
    && offsetof(pdu_value_t, num) % 4 == 0 && offsetof(pdu_t, command_id) % 4 == 0
    && sizeof(((pdu_value_t *)0)->len) == 4 && sizeof(((pdu_value_t *)0)->num) == 4 ? 1 : -1];

/* Push package.loaded.ffi (loading it as require would); 0, nothing
 * pushed, where there is none. */
static int ffi_push(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
    if (!lua_istable(L, -1)) { lua_pop(L, 1); return 0; }
    lua_getfield(L, -1, "ffi");
    if (lua_istable(L, -1)) { lua_remove(L, -2); return 1; }
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, "_PRELOAD");
    if (lua_istable(L, -1)) lua_getfield(L, -1, "ffi");
    else lua_pushnil(L);
    lua_remove(L, -2);
    if (!lua_isfunction(L, -1)) { lua_pop(L, 2); return 0; }
    lua_pushliteral(L, "ffi");
    if (lua_pcall(L, 1, 1, 0) != 0 || !lua_istable(L, -1)) { lua_pop(L, 2); return 0; }
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "ffi");
    lua_remove(L, -2);
    return 1;
}

/* Append printf-style text to src (n bytes used); 0 when it does not fit. */
static int src_add(char *src, size_t *n, const char *fmt, ...)
{
    va_list ap;
    int w;
    va_start(ap, fmt);
    w = vsnprintf(src + *n, SHAPE_SRC - *n, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= SHAPE_SRC - *n) return 0;
    *n += (size_t)w;
    return 1;
}

/* Append one term per field of cmd's body: str_fmt (name, pointer index,
 * length index) for a string, num_fmt (name, index) for a number; 0 for
 * a body with a list, or too long. */
static int src_fields(char *src, size_t *n, const pdu_cmd_t *cmd, const char *str_fmt, const char *num_fmt)
{
    int i;
    for (i = 0; i < cmd->nslots; i++) {
        int id = cmd->slots[i].id;
        size_t at = offsetof(pdu_t, f) + (size_t)id * sizeof(pdu_value_t);
        const char *name = pdu_field_info((pdu_field_id_t)id)->name;
        switch (cmd->slots[i].kind) {
        case PDU_KIND_CSTR: case PDU_KIND_TIME: case PDU_KIND_OSTR:
            if (!src_add(src, n, str_fmt, name, PTR_AT(at + offsetof(pdu_value_t, ptr)),
                         U32_AT(at + offsetof(pdu_value_t, len))))
                return 0;
            break;
        case PDU_KIND_DESTS: case PDU_KIND_UNSUCC:
            return 0;
        default:
            if (!src_add(src, n, num_fmt, name, U32_AT(at + offsetof(pdu_value_t, num)))) return 0;
            break;
        }
    }
    return 1;
}

/* Run src (a chunk that takes the ffi module and returns a function) and
 * push the function: 1; 0 and nothing pushed when it cannot be made now
 * (no room on the heap: the next PDU tries again); -1 without the FFI. */
static int src_load(lua_State *L, const char *src, size_t n, const char *name)
{
    if (!ffi_push(L)) return -1;
    if (luaL_loadbuffer(L, src, n, name) != 0) {
        lua_pop(L, 2);
        return 0;
    }
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 1, 0) != 0 || !lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

#define FFI_HEAD "local ffi = ...\nlocal cast, str, rawget, next = ffi.cast, ffi.string, rawget, next\n" \
    "local U, P = ffi.typeof(\"const uint32_t *\"), ffi.typeof(\"const uint8_t *const *\")\n"

/* A string field (not the password: a secret is not kept past its PDU) keeps
 * its last string (an upvalue, s_<name>): a PDU with the same octets (length,
 * then memcmp through the FFI under a name of our own; where it cannot be
 * declared, a string made and ==) takes it again, where ffi.string hashed them
 * and looked them up among the interned ones. decl: the upvalues; else the reads. */
#define FFI_SAME "pcall(ffi.cdef, \"int smppgw_same_memcmp(const void *, const void *, size_t)" \
    " __asm__(\\\"memcmp\\\");\")\nlocal C, same = ffi.C\nif pcall(function() return C.smppgw_same_memcmp end) then\n" \
    "  same = function(s, p, len) return C.smppgw_same_memcmp(s, p, len) == 0 end\n" \
    "else same = function(s, p, len) return s == str(p, len) end end\n"
static int fast_strings(char *src, size_t *n, const pdu_cmd_t *cmd, int decl)
{
    int i, ok = 1;
    for (i = 0; ok && i < cmd->nslots; i++) {
        int id = cmd->slots[i].id, k = cmd->slots[i].kind;
        size_t at = offsetof(pdu_t, f) + (size_t)id * sizeof(pdu_value_t);
        unsigned pi = PTR_AT(at + offsetof(pdu_value_t, ptr)), li = U32_AT(at + offsetof(pdu_value_t, len));
        const char *name = pdu_field_info((pdu_field_id_t)id)->name;
        if (k != PDU_KIND_CSTR && k != PDU_KIND_TIME && k != PDU_KIND_OSTR) continue;
        if (id == PDU_F_PASSWORD)
            ok = decl || src_add(src, n, "\nif u[%u] ~= 0 then t[\"%s\"] = str(q[%u], u[%u]) end", li, name, pi, li);
        else if (decl)
            ok = src_add(src, n, "local s_%s = \"\"\n", name);
        else
            ok = src_add(src, n, "\ndo local n = u[%u] if n ~= 0 then local p = q[%u]\n"
                         "  if n ~= #s_%s or not same(s_%s, p, n) then s_%s = str(p, n) end\n"
                         "  t[\"%s\"] = s_%s end end", li, pi, name, name, name, name, name);
    }
    return ok;
}

/* Make cmd's fast shape and push it: as src_load, and -1 when it never
 * can be made (a list field, a source too long). */
static int fast_make(lua_State *L, const pdu_cmd_t *cmd)
{
    char src[SHAPE_SRC];
    size_t n = 0;
    if (!src_add(src, &n, FFI_HEAD FFI_SAME) || !fast_strings(src, &n, cmd, 1)
        || !src_add(src, &n, "return function(a) local u, q = cast(U, a), cast(P, a)\n"
                    "local t = { command = \"%s\", command_id = u[%u], command_status = u[%u], sequence_number = u[%u]",
                    cmd->name, U32_AT(offsetof(pdu_t, command_id)), U32_AT(offsetof(pdu_t, command_status)),
                    U32_AT(offsetof(pdu_t, sequence_number)))
        || !src_fields(src, &n, cmd, ", [\"%s\"] = \"\"", ", [\"%s\"] = u[%u]") || !src_add(src, &n, " }")
        || !fast_strings(src, &n, cmd, 0) || !src_add(src, &n, "\nreturn t end"))
        return -1;
    return src_load(L, src, n, "=pdu shape");
}

/* The PDU's table by its fast shape: p has a command, every field of
 * its body and no TLVs, and L may call and has room. 0: not made. */
static int push_fast(lua_State *L, const pdu_t *p)
{
    const pdu_cmd_t *cmd = p->cmd;
    size_t i = cmd_index(cmd);
    int made;
    if (i >= SHAPE_REFS || shapes.fast[i] < 0 || !same_state(L)
        || (uintptr_t)p >> 53)              /* the address must be exact as a number */
        return 0;
    if (shapes.fast[i] > 0) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, shapes.fast[i]);
    } else {
        if ((made = fast_make(L, cmd)) <= 0) {
            if (made < 0) shapes.fast[i] = -1;
            return 0;
        }
        lua_pushvalue(L, -1);
        shapes.fast[i] = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_pushnumber(L, (double)(uintptr_t)p);
    lua_call(L, 1, 1);
    return 1;
}

/* The comparer of cmd's tables (lbridge__same_fast), made and pushed as
 * fast_make does its shape (same results). It reads the table raw and
 * compares each field with the PDU's, read at its offset; a string by
 * its length and octets (memcmp through the FFI: cheaper than a string
 * made of the PDU's octets, which hashes them and looks the result up
 * among the interned ones; declared under a name of its own, so that a
 * script's declaration of memcmp, first or later, changes nothing;
 * ffi.string and == where it cannot be declared):
 *   return function(t, a) local n = 0
 *       for _ in next, t do n = n + 1 end
 *       if n ~= 21 then return false end
 *       local u, q = cast(U, a), cast(P, a)
 *       return rawget(t, "command") == "submit_sm" and rawget(t, "command_id") == u[1]
 *           and ... and same(rawget(t, "service_type"), q[4], u[10]) and ... end
 * The loop comes first: a function's root trace cannot hold a loop, so
 * the loop is a trace of its own and what follows it a side trace of
 * that (the function's entry, interpreted, is two instructions). */
static int same_make(lua_State *L, const pdu_cmd_t *cmd)
{
    char src[SHAPE_SRC];
    size_t n = 0;
    if (!src_add(src, &n, FFI_HEAD "pcall(ffi.cdef, \"int smppgw_same_memcmp(const void *, const void *, size_t)"
                 " __asm__(\\\"memcmp\\\");\")\n"
                 "local C, same = ffi.C\n"
                 "if pcall(function() return C.smppgw_same_memcmp end) then\n"
                 "  same = function(s, p, len) return type(s) == \"string\" and #s == len"
                 " and (len == 0 or C.smppgw_same_memcmp(s, p, len) == 0) end\n"
                 "else same = function(s, p, len) return s == str(p, len) end end\n"
                 "return function(t, a) local n = 0\nfor _ in next, t do n = n + 1 end\n"
                 "if n ~= %d then return false end\nlocal u, q = cast(U, a), cast(P, a)\n"
                 "return rawget(t, \"command\") == \"%s\" and rawget(t, \"command_id\") == u[%u]"
                 " and rawget(t, \"command_status\") == u[%u] and rawget(t, \"sequence_number\") == u[%u]",
                 4 + cmd->nslots, cmd->name, U32_AT(offsetof(pdu_t, command_id)),
                 U32_AT(offsetof(pdu_t, command_status)), U32_AT(offsetof(pdu_t, sequence_number)))
        || !src_fields(src, &n, cmd, "\n and same(rawget(t, \"%s\"), q[%u], u[%u])", "\n and rawget(t, \"%s\") == u[%u]")
        || !src_add(src, &n, " end"))
        return -1;
    return src_load(L, src, n, "=pdu comparer");
}

int lbridge__same_fast(lua_State *L, int idx, const pdu_t *p)
{
    const pdu_cmd_t *cmd = p->cmd;
    size_t i = cmd_index(cmd);
    int made, same;
    if (i >= SHAPE_REFS || shapes.same[i] < 0 || !same_state(L)
        || (p->present & cmd->body) != cmd->body || lua_status(L) != 0 || !lua_checkstack(L, 4)
        || (uintptr_t)p >> 53)
        return -1;
    if (shapes.same[i] > 0) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, shapes.same[i]);
    } else {
        if ((made = same_make(L, cmd)) <= 0) {
            if (made < 0) shapes.same[i] = -1;
            return -1;
        }
        lua_pushvalue(L, -1);
        shapes.same[i] = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_pushvalue(L, idx);
    lua_pushnumber(L, (double)(uintptr_t)p);
    lua_call(L, 2, 1);
    same = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return same;
}

/* The PDU's table by its shape: p has a command and no TLVs, and L may
 * call (a coroutine suspended in a yield may not) and has room for the
 * arguments (more than the LUA_MINSTACK a C function is promised).
 * 0: not made. The key cache is pushed only for an address list. */
static int push_shaped(lua_State *L, const pdu_t *p)
{
    const pdu_cmd_t *cmd = p->cmd;
    const pdu_slot_t *slot, *last;
    uint64_t present = p->present;         /* in a register: the pushes are calls */
    int cache = 0;
    if (!cmd || p->ntlv || lua_status(L) != 0 || !lua_checkstack(L, cmd->nslots + 8))
        return 0;
    if ((present & cmd->body) == cmd->body && shapes.reg && push_fast(L, p)) return 1;
    if (present & (((uint64_t)1 << PDU_F_DEST_ADDRESS) | ((uint64_t)1 << PDU_F_UNSUCCESS_SME)))
        cache = lbridge__cache_push(L);
    if (!shape_ref_push(L, cmd)) {
        if (cache) lua_pop(L, 1);
        return 0;
    }
    lua_pushnumber(L, p->command_id);
    lua_pushnumber(L, p->command_status);
    lua_pushnumber(L, p->sequence_number);
    for (slot = cmd->slots, last = slot + cmd->nslots; slot < last; slot++) {
        const pdu_value_t *v = &p->f[slot->id];
        if (!(present & ((uint64_t)1 << slot->id))) {
            lua_pushnil(L);
            continue;
        }
        if (slot->kind == PDU_KIND_INT1) {     /* most fields: keep off the switch */
            lua_pushnumber(L, v->num);
            continue;
        }
        switch (slot->kind) {
        case PDU_KIND_CSTR: case PDU_KIND_TIME: case PDU_KIND_OSTR:
            lua_pushlstring(L, (const char *)v->ptr, v->len);
            break;
        case PDU_KIND_DESTS: push_addrs(L, p, cache, 0); break;
        case PDU_KIND_UNSUCC: push_addrs(L, p, cache, 1); break;
        default: lua_pushnumber(L, v->num); break;
        }
    }
    lua_call(L, cmd->nslots + 3, 1);
    if (cache) lua_remove(L, cache);
    return 1;
}

void lbridge_push_pdu(lua_State *L, const pdu_t *p)
{
    const pdu_cmd_t *cmd = p->cmd;
    int cache, t, i, ordered = 1;
    uint64_t fields;

    if (push_shaped(L, p)) return;
    cache = lbridge__cache_push(L);
    fields = cmd ? lbridge__body_mask(cmd) : 0;
    lua_createtable(L, 0, (cmd ? cmd->nslots : 0) + p->ntlv + 4);
    t = lua_gettop(L);
    if (cmd) {
        KEY(K_COMMAND);
        lua_rawgeti(L, cache, K_CMD + (int)cmd_index(cmd));
        lua_rawset(L, t);
    }
    set_num(L, t, cache, K_COMMAND_ID, p->command_id);
    set_num(L, t, cache, K_COMMAND_STATUS, p->command_status);
    set_num(L, t, cache, K_SEQUENCE_NUMBER, p->sequence_number);

    for (i = 0; cmd && i < cmd->nslots; i++) {
        int id = cmd->slots[i].id;
        const pdu_value_t *v = &p->f[id];
        if (!(p->present & ((uint64_t)1 << id))) continue;
        KEY(K_FIELD + id);
        switch (pdu_field_info((pdu_field_id_t)id)->kind) {
        case PDU_KIND_CSTR: case PDU_KIND_TIME: case PDU_KIND_OSTR:
            lua_pushlstring(L, (const char *)v->ptr, v->len);
            break;
        case PDU_KIND_DESTS: push_addrs(L, p, cache, 0); break;
        case PDU_KIND_UNSUCC: push_addrs(L, p, cache, 1); break;
        default: lua_pushnumber(L, v->num); break;
        }
        lua_rawset(L, t);
    }

    for (i = 0; i < p->ntlv; i++) {
        const pdu_tlv_t *tl = &p->tlv[i];
        const pdu_tlv_def_t *def = pdu_tlv_info(tl->tag);
        /* A known tag named like one of this command's fields goes under
         * its number, as raw bytes, so that it cannot hide the field. */
        if (def && tlv_alias[tlv_index(def)] >= 0
            && (fields & ((uint64_t)1 << tlv_alias[tlv_index(def)])))
            def = NULL;
        if (i && tl->tag <= p->tlv[i - 1].tag) ordered = 0;
        if (def) lua_rawgeti(L, cache, K_TLV + (int)tlv_index(def));
        else lua_pushnumber(L, tl->tag);
        lua_pushvalue(L, -1);
        lua_rawget(L, t);                  /* key, existing */
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            push_tlv_value(L, tl, def);
            lua_rawset(L, t);
        } else {                           /* repeated: make/extend an array */
            if (!lua_istable(L, -1)) {
                lua_createtable(L, 2, 0);
                lua_insert(L, -2);
                lua_rawseti(L, -2, 1);
            }
            push_tlv_value(L, tl, def);
            lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
            lua_rawset(L, t);
        }
    }
    if (!ordered) {
        KEY(K_TLV_ORDER);
        lua_createtable(L, p->ntlv, 0);
        for (i = 0; i < p->ntlv; i++) {
            lua_pushnumber(L, p->tlv[i].tag);
            lua_rawseti(L, -2, i + 1);
        }
        lua_rawset(L, t);
    }
    lua_remove(L, cache);
}

/* -- The module functions ----------------------------------------------------- */

static pdu_t scratch_pdu;           /* one Lua state, one thread: reused */
static uint8_t *enc_buf;
static size_t enc_cap;

/* decode(bytes [, max_len]) -> table | nil, status, message, header */
static int l_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    uint32_t max_len = opt_max_len(L, 2);           /* -1, NaN, 1e20 raise: no cap or the default by surprise */
    pdu_error_t err;
    uint32_t st = pdu_decode(&scratch_pdu, (const uint8_t *)s, len, max_len, &err);
    if (st == SMPP_ESME_ROK) {
        lbridge_push_pdu(L, &scratch_pdu);
        return 1;
    }
    lua_pushnil(L);
    lua_pushnumber(L, st);
    lua_pushstring(L, err.msg);
    /* What the header says, so the caller can answer (generic_nack or the
     * request's response with this status and sequence_number). */
    lua_createtable(L, 0, 4);
    if (scratch_pdu.cmd) { lua_pushstring(L, scratch_pdu.cmd->name); lua_setfield(L, -2, "command"); }
    lua_pushnumber(L, scratch_pdu.command_id); lua_setfield(L, -2, "command_id");
    lua_pushnumber(L, scratch_pdu.command_status); lua_setfield(L, -2, "command_status");
    lua_pushnumber(L, scratch_pdu.sequence_number); lua_setfield(L, -2, "sequence_number");
    if (err.field) { lua_pushstring(L, err.field); lua_setfield(L, -2, "field"); }
    return 4;
}

/* encode(table) -> bytes | nil, message */
static int l_encode(lua_State *L)
{
    pdu_error_t err;
    long n;
    const char *e = lbridge_check_pdu(L, 1, &scratch_pdu, NULL);
    if (e) {
        lua_pushnil(L);
        lua_pushstring(L, e);
        return 2;
    }
    for (;;) {
        n = pdu_encode(&scratch_pdu, enc_buf, enc_cap, &err);
        if (n != PDU_ENOSPC) break;
        free(enc_buf);
        enc_cap = err.need + 1024;
        if (!(enc_buf = malloc(enc_cap))) { enc_cap = 0; return luaL_error(L, "out of memory"); }
    }
    if (n < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err.msg);
        return 2;
    }
    if ((e = lbridge_check_length(L, 1, n)) != NULL) {
        lua_pushnil(L);
        lua_pushstring(L, e);
        return 2;
    }
    lua_pushlstring(L, (const char *)enc_buf, (size_t)n);
    return 1;
}

/* frame(bytes [, max_len]) -> length of the whole PDU at the start, 0 when
 * more octets are needed, or nil, message when framing is lost. */
static int l_frame(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    long n = pdu_frame((const uint8_t *)s, len, opt_max_len(L, 2));
    if (n < 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "command_length outside 16..max_len");
        return 2;
    }
    lua_pushnumber(L, (double)n);
    return 1;
}

/* -- Opening ------------------------------------------------------------------ */

static void push_tables(lua_State *L)
{
    size_t i;
    int k;
    uint32_t v;
    const char *name;
    const pdu_cmd_t *c;
    const pdu_tlv_def_t *t;
    static const char *const tlv_types[] = {"INT", "CSTR", "OSTR", "FLAG"};

    lua_createtable(L, 27, 0);             /* commands: array of rows */
    for (i = 0; (c = pdu_cmd_at(i)) != NULL; i++) {
        lua_createtable(L, 0, 6);
        lua_pushstring(L, c->name); lua_setfield(L, -2, "name");
        lua_pushnumber(L, c->id); lua_setfield(L, -2, "id");
        lua_pushnumber(L, c->resp_id); lua_setfield(L, -2, "resp_id");
        lua_pushnumber(L, c->esme_states); lua_setfield(L, -2, "esme_states");
        lua_pushnumber(L, c->smsc_states); lua_setfield(L, -2, "smsc_states");
        lua_createtable(L, c->nslots, 0);
        for (k = 0; k < c->nslots; k++) {
            lua_pushstring(L, pdu_field_info((pdu_field_id_t)c->slots[k].id)->name);
            lua_rawseti(L, -2, k + 1);
        }
        lua_setfield(L, -2, "fields");
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "commands");

    lua_createtable(L, 50, 0);             /* tlvs: array of rows */
    for (i = 0; (t = pdu_tlv_at(i)) != NULL; i++) {
        lua_createtable(L, 0, 5);
        lua_pushstring(L, t->name); lua_setfield(L, -2, "name");
        lua_pushnumber(L, t->tag); lua_setfield(L, -2, "tag");
        lua_pushstring(L, tlv_types[t->type]); lua_setfield(L, -2, "type");
        lua_pushnumber(L, t->min); lua_setfield(L, -2, "min");
        lua_pushnumber(L, t->max); lua_setfield(L, -2, "max");
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "tlvs");

    lua_createtable(L, 70, 0);             /* statuses: array of rows */
    for (i = 0; (name = pdu_status_at(i, &v)) != NULL; i++) {
        lua_createtable(L, 0, 3);
        lua_pushstring(L, name); lua_setfield(L, -2, "name");
        lua_pushnumber(L, v); lua_setfield(L, -2, "value");
        lua_pushstring(L, pdu_status_text(v)); lua_setfield(L, -2, "text");
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "statuses");

    lua_createtable(L, SESS_E_COUNT, 0);   /* errors: the engine's error tokens, by number */
#define PUSH_ERR(name, n, text) (lua_pushliteral(L, text), lua_rawseti(L, -2, n));
    SESS_ERRNO_MAP(PUSH_ERR)
#undef PUSH_ERR
    lua_setfield(L, -2, "errors");
}

static const luaL_Reg codec_funcs[] = {
    {"decode", l_decode},
    {"encode", l_encode},
    {"frame", l_frame},
    {NULL, NULL}
};

int luaopen_smpp_codec(lua_State *L)
{
    cache_build(L);
    lua_newtable(L);
    luaL_register(L, NULL, codec_funcs);
    push_tables(L);
    ldlr_register(L);                      /* message id keys, receipt rules */
    lua_pushliteral(L, SMPPGW_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushnumber(L, PDU_DEFAULT_MAX_LEN);
    lua_setfield(L, -2, "default_max_len");
    return 1;
}
