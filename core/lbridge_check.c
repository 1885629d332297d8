/* lbridge_check.c -- table -> PDU: lbridge_check_pdu reads a PDU table
 * into a pdu_t, driven by the same tables as the codec; lbridge_same_pdu
 * tells whether a table still says what a decoded PDU does.
 *
 * Who owns what: the caller owns the pdu_t; string values in it are
 * borrowed from the Lua table, which must stay on the stack until the PDU
 * is encoded. The key cache is lbridge.c's (read here through
 * lbridge_int.h); this file owns only the message of the last refusal and
 * a cache of key-string addresses. PDU -> table and the smpp.codec module
 * table are lbridge.c's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lbridge.h"
#include "lbridge_int.h"

/* -- Key codes ------------------------------------------------------------------ */

/* Push the interned key string of a code (the cache is at `cache`). */
#define KEY(code) lua_rawgeti(L, cache, (code))

/* The codes of key strings lbridge_check_pdu met, by the address of the
 * interned string (lua_topointer: the string object itself), so that a
 * table's keys are not looked up in the cache table one by one (a PDU
 * table's keys are the interned strings the cache pushed). Every string
 * with a code is a key of the cache table, which the registry keeps for
 * the state's life: at its address there is no other object while the
 * state lives, and an entry of a string without a code (0), whose
 * address a collected string may pass to another object, can only give
 * 0 (the strings with a code were all made when the cache was). A key of
 * another type has another address (a table's, a function's), a place
 * inside its object (a userdata's, a cdata's), or none (a number, a
 * boolean: NULL, never an entry's); only C code makes light userdata,
 * and the runtime's are static addresses, never a Lua string's. A new
 * cache (a state opening the module, where a closed one may have been)
 * forgets the entries (lbridge__keys_forget). */
typedef struct key_hit_s {
    const void *p;
    long        code;
} key_hit_t;
static key_hit_t key_hits[256];

void lbridge__keys_forget(void)
{
    memset(key_hits, 0, sizeof key_hits);
}

#define KEY_HIT(p) (&key_hits[((uintptr_t)(p) >> 4) & 255])

/* The code of the string key at -2 (0: none); *name its text. */
static long key_code(lua_State *L, int cache, const char **name)
{
    const void *p = lua_topointer(L, -2);
    key_hit_t *e = KEY_HIT(p);
    long code;
    *name = lua_tostring(L, -2);
    if (e->p == p && p) return e->code;
    lua_pushvalue(L, -2);
    lua_rawget(L, cache);
    code = (long)lua_tointeger(L, -1);
    lua_pop(L, 1);
    e->p = p;
    e->code = code;
    return code;
}

/* The code of the key at -2, of any type, when key_code has met it
 * already as a string (0: not known here). One call: no type test, no
 * string made of a number key. No cache needed. */
static long key_known(lua_State *L)
{
    const void *p = lua_topointer(L, -2);
    const key_hit_t *e = KEY_HIT(p);
    return e->p == p && p ? e->code : 0;
}

/* -- Table -> PDU -------------------------------------------------------------- */

/* The common answer of a handler: a table of a few body fields of the
 * expected command (`{ message_id = id }`), no header key, no TLV. Read
 * with one lua_next per key (and the last one, that ends), each key known
 * by its string's address: 1 when p holds the PDU; 0, stack as it was,
 * for anything else (a key not met before, a header key, a TLV, a value
 * of the wrong type, an address list), which the full check reads again
 * from the start, with its errors. */
static int check_fields(lua_State *L, int idx, int top, pdu_t *p, const pdu_cmd_t *cmd)
{
    uint64_t fields = lbridge__body_mask(cmd);
    pdu_init_cmd(p, cmd, 0);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        long code = key_known(L);
        pdu_field_id_t id = (pdu_field_id_t)(code - K_FIELD);
        int kind;
        double d;
        if (code < K_FIELD || code >= K_TLV || !(fields & ((uint64_t)1 << id))) break;
        kind = pdu_field_info(id)->kind;
        if (kind == PDU_KIND_CSTR || kind == PDU_KIND_TIME || kind == PDU_KIND_OSTR) {
            size_t len;
            const char *str;
            if (lua_type(L, -1) != LUA_TSTRING) break;
            str = lua_tolstring(L, -1, &len);
            pdu_set_str(p, id, (const uint8_t *)str, len);
        } else if (kind == PDU_KIND_DESTS || kind == PDU_KIND_UNSUCC || (d = lbridge__as_u32(L, -1)) < 0) {
            break;
        } else {
            pdu_set_int(p, id, (uint32_t)d);
        }
        lua_pop(L, 1);
    }
    if (lua_gettop(L) == top) return 1;    /* lua_next ended: every key was read */
    lua_settop(L, top);
    return 0;
}

static char check_msg[200];

#define CHECK_FAIL(...) do { snprintf(check_msg, sizeof check_msg, __VA_ARGS__); goto fail; } while (0)

/* Append one TLV value (stack top) of tag/def; NULL or an error message. */
static const char *add_tlv(lua_State *L, pdu_t *p, uint16_t tag, const pdu_tlv_def_t *def)
{
    pdu_tlv_t *t;
    size_t len;
    if (p->ntlv >= PDU_MAX_TLVS) return "too many TLVs";
    t = &p->tlv[p->ntlv];
    t->tag = tag;
    t->val = NULL;
    t->num = 0;
    if (!def || def->type == PDU_TLV_OSTR || def->type == PDU_TLV_CSTR) {
        if (lua_type(L, -1) != LUA_TSTRING) return "a string";
        t->val = (const uint8_t *)lua_tolstring(L, -1, &len);
        /* Lua strings end in a NUL in memory: a C-Octet String TLV takes it. */
        if (def && def->type == PDU_TLV_CSTR) {
            if (memchr(t->val, 0, len)) return "a string without NUL octets";
            len++;
        }
        if (len > 65535) return "at most 65535 octets";
        t->len = (uint16_t)len;
    } else if (def->type == PDU_TLV_FLAG && lua_type(L, -1) == LUA_TBOOLEAN) {
        if (!lua_toboolean(L, -1)) return NULL;    /* false: leave it out */
        t->val = (const uint8_t *)"";
        t->len = 0;
    } else {
        double d = lbridge__as_u32(L, -1);
        if (d < 0) return def->type == PDU_TLV_FLAG ? "true or a number" : "an integer >= 0";
        t->num = (uint32_t)d;
        t->len = def->min ? def->min : 1;
        if (def->max > t->len && def->max <= 4 && t->num >> (8 * t->len)) t->len = def->max;
    }
    p->ntlv++;
    return NULL;
}

/* Read one dest_address / unsuccess_sme entry table at the stack top. */
static const char *check_addr(lua_State *L, pdu_t *p, int unsucc, int n)
{
    static const char *const keys[] = {"dest_flag", "dest_addr_ton", "dest_addr_npi",
                                       "destination_addr", "dl_name", "error_status_code"};
    double v[6] = {-2, 0, 0, 0, 0, 0};
    const char *addr = NULL;
    size_t i, len = 0;
    pdu_addr_t *a;
    if (!lua_istable(L, -1)) {
        snprintf(check_msg, sizeof check_msg, "%s[%d] must be a table",
                 unsucc ? "unsuccess_sme" : "dest_address", n);
        return check_msg;
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
        for (i = 0; i < 6 && strcmp(k, keys[i]) != 0; i++) {}
        if (i == 6 || (unsucc && (i == 0 || i == 4)) || (!unsucc && i == 5)) {
            snprintf(check_msg, sizeof check_msg, "unknown field '%s' in %s[%d]",
                     lua_type(L, -2) == LUA_TSTRING ? k : "?",
                     unsucc ? "unsuccess_sme" : "dest_address", n);
            lua_pop(L, 2);
            return check_msg;
        }
        if (i == 3 || i == 4) {
            if (lua_type(L, -1) != LUA_TSTRING) {
                snprintf(check_msg, sizeof check_msg, "%s in entry %d must be a string", keys[i], n);
                lua_pop(L, 2);
                return check_msg;
            }
            if (addr) {                 /* one entry is an address or a list, never both */
                snprintf(check_msg, sizeof check_msg, "dest_address[%d] has both destination_addr and dl_name "
                         "(an entry is one or the other)", n);
                lua_pop(L, 2);
                return check_msg;
            }
            addr = lua_tolstring(L, -1, &len);
            if (i == 4 && v[0] == -2) v[0] = 2;
        } else if ((v[i] = lbridge__as_u32(L, -1)) < 0 || (i < 3 && v[i] > 255)) {
            snprintf(check_msg, sizeof check_msg, "%s in entry %d must be an integer%s",
                     keys[i], n, i < 3 ? " 0..255" : " >= 0");
            lua_pop(L, 2);
            return check_msg;
        }
        lua_pop(L, 1);
    }
    if (v[0] == -2) v[0] = unsucc ? 0 : 1;
    if (p->naddr >= PDU_MAX_ADDRS) return "more than 254 entries";
    if (len > 255) len = 255;   /* the encoder reports the real bound */
    a = &p->addr[p->naddr++];
    a->dest_flag = (uint8_t)v[0];
    a->ton = (uint8_t)v[1];
    a->npi = (uint8_t)v[2];
    a->addr = (const uint8_t *)(addr ? addr : "");
    a->len = (uint8_t)len;
    a->error_status_code = (uint32_t)v[5];
    return NULL;
}

/* Numeric TLV keys: a number, or a string of digits ("5120", "0x1400", as
 * JSON turns numeric keys into strings). Returns the tag or -1. */
static long tag_of_key(lua_State *L, int idx)
{
    double d;
    if (lua_type(L, idx) == LUA_TNUMBER) d = lua_tonumber(L, idx);
    else {
        const char *s = lua_tostring(L, idx);
        char *end;
        if (!s || !*s || !((s[0] >= '0' && s[0] <= '9'))) return -1;
        d = (double)strtol(s, &end, 0);
        if (*end) return -1;
    }
    return d >= 0 && d <= 65535 && d == (double)(long)d ? (long)d : -1;
}

/* Stable sort of the TLVs by tag (few entries: insertion sort). */
static void sort_tlvs(pdu_t *p)
{
    int i, j;
    for (i = 1; i < p->ntlv; i++) {
        pdu_tlv_t t = p->tlv[i];
        for (j = i; j > 0 && p->tlv[j - 1].tag > t.tag; j--) p->tlv[j] = p->tlv[j - 1];
        p->tlv[j] = t;
    }
}

/* Put the TLVs in the order of the tlv_order array at `idx`. */
static const char *apply_order(lua_State *L, int idx, pdu_t *p)
{
    static pdu_tlv_t sorted[PDU_MAX_TLVS];
    char used[PDU_MAX_TLVS] = {0};
    int n = 0, i, k, len = (int)lua_objlen(L, idx);
    memcpy(sorted, p->tlv, p->ntlv * sizeof *sorted);
    for (k = 1; k <= len; k++) {
        long tag;
        lua_rawgeti(L, idx, k);
        tag = tag_of_key(L, -1);
        lua_pop(L, 1);
        for (i = 0; i < p->ntlv && (used[i] || sorted[i].tag != tag); i++) {}
        if (tag < 0 || i == p->ntlv) {
            snprintf(check_msg, sizeof check_msg,
                     "tlv_order[%d] names a TLV the table does not carry", k);
            return check_msg;
        }
        used[i] = 1;
        p->tlv[n++] = sorted[i];
    }
    for (i = 0; i < p->ntlv; i++)
        if (!used[i]) p->tlv[n++] = sorted[i];
    return NULL;
}

/* The table at the absolute index idx read key by key, with every
 * refusal (the stack's top was `top`). */
static const char *check_full(lua_State *L, int idx, int top, pdu_t *p, const pdu_cmd_t *cmd)
{
    const pdu_cmd_t *given = NULL;
    uint64_t fields;
    double d;
    int cache;
    const char *name = NULL, *e;

    cache = lbridge__cache_push(L);

    lbridge__raw_key(L, idx, cache, K_COMMAND);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING || !(given = pdu_cmd_by_name(lua_tostring(L, -1))))
            CHECK_FAIL("unknown command '%s'", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
    }
    lbridge__raw_key(L, idx, cache, K_COMMAND_ID);
    if (!lua_isnil(L, -1)) {
        const pdu_cmd_t *byid;
        if ((d = lbridge__as_u32(L, -1)) < 0) CHECK_FAIL("command_id must be an integer");
        byid = pdu_cmd_find((uint32_t)d);
        if (!byid) CHECK_FAIL("unknown command_id 0x%08X", (uint32_t)d);
        if (given && given != byid)
            CHECK_FAIL("command '%s' and command_id 0x%08X disagree", given->name, (uint32_t)d);
        given = byid;
    }
    if (cmd && given && given != cmd)
        CHECK_FAIL("command '%s' given where %s is expected", given->name, cmd->name);
    if (!cmd) cmd = given;
    if (!cmd) CHECK_FAIL("command (or command_id) is missing");
    lua_pop(L, 2);
    pdu_init(p, cmd->id, 0);
    fields = lbridge__body_mask(cmd);

    lua_pushnil(L);
    while (lua_next(L, idx)) {
        long code = 0, tag;
        const pdu_tlv_def_t *def = NULL;
        if (lua_type(L, -2) == LUA_TSTRING) {
            code = key_code(L, cache, &name);
        } else {
            name = "?";
        }
        if (code >= K_FIELD && code < K_TLV && !(fields & ((uint64_t)1 << (code - K_FIELD)))) {
            /* Not this command's field: maybe the TLV of the same name. */
            size_t i;
            const pdu_tlv_def_t *t;
            for (i = 0; (t = pdu_tlv_at(i)) != NULL && strcmp(t->name, name) != 0; i++) {}
            if (!t) CHECK_FAIL("%s is not a field of %s", name, cmd->name);
            code = K_TLV + (long)i;
        }
        if (code >= K_FIELD && code < K_TLV) {
            pdu_field_id_t id = (pdu_field_id_t)(code - K_FIELD);
            switch (pdu_field_info(id)->kind) {
            case PDU_KIND_CSTR: case PDU_KIND_TIME: case PDU_KIND_OSTR: {
                size_t len;
                const char *s;
                if (lua_type(L, -1) != LUA_TSTRING) CHECK_FAIL("%s must be a string", name);
                s = lua_tolstring(L, -1, &len);
                pdu_set_str(p, id, (const uint8_t *)s, len);
                break;
            }
            case PDU_KIND_DESTS: case PDU_KIND_UNSUCC: {
                int n, k;
                if (!lua_istable(L, -1)) CHECK_FAIL("%s must be an array of tables", name);
                n = (int)lua_objlen(L, -1);
                for (k = 1; k <= n; k++) {
                    lua_rawgeti(L, -1, k);
                    e = check_addr(L, p, pdu_field_info(id)->kind == PDU_KIND_UNSUCC, k);
                    lua_pop(L, 1);
                    if (e) { if (e != check_msg) snprintf(check_msg, sizeof check_msg, "%.60s: %.100s", name, e); goto fail; }
                }
                break;
            }
            default:
                if ((d = lbridge__as_u32(L, -1)) < 0) CHECK_FAIL("%s must be an integer >= 0", name);
                pdu_set_int(p, id, (uint32_t)d);
                break;
            }
        } else if (code >= K_TLV && code < K_CMD) {
            def = pdu_tlv_at((size_t)(code - K_TLV));
            tag = def->tag;
            goto tlv;
        } else if (code == K_COMMAND || code == K_COMMAND_ID || code == K_COMMAND_LENGTH) {
            /* command/command_id read above; command_length is computed. */
        } else if (code == K_COMMAND_STATUS || code == K_SEQUENCE_NUMBER) {
            if ((d = lbridge__as_u32(L, -1)) < 0) CHECK_FAIL("%s must be an integer 0..0xFFFFFFFF", name);
            if (code == K_COMMAND_STATUS) p->command_status = (uint32_t)d;
            else p->sequence_number = (uint32_t)d;
        } else if (code == K_TLV_ORDER) {
            if (!lua_istable(L, -1)) CHECK_FAIL("tlv_order must be an array of tags");
        } else if ((tag = tag_of_key(L, -2)) >= 0) {
            /* A numeric key is always raw bytes, known tag or not. */
            name = NULL;
            goto tlv;
        } else {
            CHECK_FAIL("unknown field '%s' in %s", lua_type(L, -2) == LUA_TSTRING ? name : "(non-string key)", cmd->name);
        }
        lua_pop(L, 1);
        continue;
tlv:
        if (lua_istable(L, -1)) {      /* repeated TLV: its values in order */
            int k, n = (int)lua_objlen(L, -1);
            for (k = 1; k <= n; k++) {
                lua_rawgeti(L, -1, k);
                e = add_tlv(L, p, (uint16_t)tag, name ? def : NULL);
                lua_pop(L, 1);
                if (e) goto tlv_fail;
            }
        } else if ((e = add_tlv(L, p, (uint16_t)tag, name ? def : NULL)) != NULL) {
            goto tlv_fail;
        }
        lua_pop(L, 1);
        continue;
tlv_fail:
        if (p->ntlv >= PDU_MAX_TLVS) CHECK_FAIL("more than %d TLVs", PDU_MAX_TLVS);
        if (name) CHECK_FAIL("TLV %s must be %s", name, e);
        CHECK_FAIL("TLV 0x%04lX must be %s", tag, e);
    }
    sort_tlvs(p);
    KEY(K_TLV_ORDER);
    lua_rawget(L, idx);
    if (lua_istable(L, -1) && (e = apply_order(L, lua_gettop(L), p)) != NULL) goto fail;
    lua_settop(L, top);
    return NULL;

fail:
    lua_settop(L, top);
    return check_msg;
}

const char *lbridge_check_pdu(lua_State *L, int idx, pdu_t *p, const pdu_cmd_t *cmd)
{
    int top = lua_gettop(L);
    if (idx < 0) idx = top + idx + 1;
    if (!lua_istable(L, idx)) {
        snprintf(check_msg, sizeof check_msg, "a PDU must be a table");
        return check_msg;
    }
    if (cmd && check_fields(L, idx, top, p, cmd)) return NULL;
    return check_full(L, idx, top, p, cmd);
}

const char *lbridge_check_table(lua_State *L, int idx, pdu_t *p, const pdu_cmd_t *cmd)
{
    int top = lua_gettop(L);
    return check_fields(L, idx, top, p, cmd) ? NULL : check_full(L, idx, top, p, cmd);
}

/* -- Table == PDU ---------------------------------------------------------------- */

/* The codes of the header and field keys by the address of their
 * interned strings, which the key cache holds (so no other string can
 * have that address while the cache lives). Made for one cache: the
 * cache is marked with the map's generation, and a cache without that
 * mark (another Lua state's) has the map made again. */
#define SAME_SLOTS 256
static struct {
    const char *p[SAME_SLOTS];
    long        code[SAME_SLOTS];
    void       *mark;
} same_map;
static char same_marks[2];                 /* the mark alternates between these addresses */

static void same_add(lua_State *L, int cache, long code)
{
    size_t len, i;
    const char *p;
    lua_rawgeti(L, cache, (int)code);
    p = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    lua_pop(L, 1);
    if (!p) return;
    for (i = ((uintptr_t)p >> 4) % SAME_SLOTS; same_map.p[i]; i = (i + 1) % SAME_SLOTS) {}
    same_map.p[i] = p;
    same_map.code[i] = code;
}

/* The map for the cache at `cache`, made if it is not this cache's. */
static void same_ready(lua_State *L, int cache)
{
    long c;
    lua_pushlightuserdata(L, same_marks);
    lua_rawget(L, cache);
    if (same_map.mark && lua_touserdata(L, -1) == same_map.mark) {
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    memset(&same_map, 0, sizeof same_map);
    same_map.mark = same_map.mark == &same_marks[0] ? &same_marks[1] : &same_marks[0];
    for (c = K_FIELD; c < K_FIELD + PDU_F__COUNT; c++) same_add(L, cache, c);
    for (c = K_COMMAND; c <= K_SEQUENCE_NUMBER; c++) same_add(L, cache, c);
    lua_pushlightuserdata(L, same_marks);
    lua_pushlightuserdata(L, same_map.mark);
    lua_rawset(L, cache);
}

static long same_code(const char *p)
{
    size_t i;
    for (i = ((uintptr_t)p >> 4) % SAME_SLOTS; same_map.p[i]; i = (i + 1) % SAME_SLOTS)
        if (same_map.p[i] == p) return same_map.code[i];
    return 0;
}

int lbridge_same_pdu(lua_State *L, int idx, const pdu_t *p)
{
    const pdu_cmd_t *cmd = p->cmd;
    uint64_t fields;
    int cache, top = lua_gettop(L), n = 0, same = 1, want;
    if (!cmd || p->ntlv || p->naddr || !lua_istable(L, idx)) return 0;
    if (idx < 0) idx = top + idx + 1;
    if ((same = lbridge__same_fast(L, idx, p)) >= 0) return same;
    same = 1;
    fields = lbridge__body_mask(cmd) & p->present;
    want = 4 + __builtin_popcountll(fields);       /* command, command_id, _status, sequence_number */
    cache = lbridge__cache_push(L);
    same_ready(L, cache);
    lua_pushnil(L);
    while (same && lua_next(L, idx)) {
        long code = lua_type(L, -2) == LUA_TSTRING ? same_code(lua_tostring(L, -2)) : 0;
        int vt = lua_type(L, -1);
        n++;
        if (code >= K_FIELD && code < K_TLV && (fields & ((uint64_t)1 << (code - K_FIELD)))) {
            const pdu_value_t *v = &p->f[code - K_FIELD];
            switch (pdu_field_info((pdu_field_id_t)(code - K_FIELD))->kind) {
            case PDU_KIND_CSTR: case PDU_KIND_TIME: case PDU_KIND_OSTR: {
                size_t len;
                const char *str = vt == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
                same = str && len == v->len && (len == 0 || memcmp(str, v->ptr, len) == 0);
                break;
            }
            case PDU_KIND_DESTS: case PDU_KIND_UNSUCC:
                same = 0;
                break;
            default:
                same = vt == LUA_TNUMBER && lua_tonumber(L, -1) == (double)v->num;
                break;
            }
        } else if (code == K_COMMAND) {
            same = vt == LUA_TSTRING && strcmp(lua_tostring(L, -1), cmd->name) == 0;
        } else if (code == K_COMMAND_ID) {
            same = vt == LUA_TNUMBER && lua_tonumber(L, -1) == (double)p->command_id;
        } else if (code == K_COMMAND_STATUS) {
            same = vt == LUA_TNUMBER && lua_tonumber(L, -1) == (double)p->command_status;
        } else if (code == K_SEQUENCE_NUMBER) {
            same = vt == LUA_TNUMBER && lua_tonumber(L, -1) == (double)p->sequence_number;
        } else {
            same = 0;                               /* a key the PDU's table does not have */
        }
        lua_pop(L, 1);
    }
    lua_settop(L, top);
    return same && n == want;
}

const char *lbridge_check_length(lua_State *L, int idx, long n)
{
    double d;
    const char *why = NULL;
    if (idx < 0) idx = lua_gettop(L) + idx + 1;
    lua_pushliteral(L, "command_length");
    lua_rawget(L, idx);
    if (!lua_isnil(L, -1) && (d = lbridge__as_u32(L, -1)) != (double)n) {
        snprintf(check_msg, sizeof check_msg, "command_length is %s but the PDU encodes to %ld octets",
                 lua_tostring(L, -1) ? lua_tostring(L, -1) : luaL_typename(L, -1), n);
        why = check_msg;
    }
    lua_pop(L, 1);
    return why;
}
