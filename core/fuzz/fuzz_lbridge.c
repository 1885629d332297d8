/* fuzz_lbridge.c -- libFuzzer target for the Lua bridge's PDU checks:
 * whatever the bytes, a PDU that decodes is pushed as a Lua table
 * (lbridge_push_pdu), read back from that table (lbridge_check_pdu, which
 * must accept what the bridge itself produced) and encoded. The result must
 * be the bytes the decoded PDU encodes to directly, except where the table
 * form normalises a value the decoder tolerates (a C-Octet String TLV
 * without its NUL, an integer TLV wider than its value needs): then one
 * more trip through the table must change nothing. And the table says
 * the same as the PDU (lbridge_same_pdu) until one value in it changes.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lbridge.h"

static lua_State *L;
static pdu_t dec, back;
static uint8_t patched[PDU_DEFAULT_MAX_LEN], direct[2 * PDU_DEFAULT_MAX_LEN],
    via_lua[2 * PDU_DEFAULT_MAX_LEN], again[2 * PDU_DEFAULT_MAX_LEN];

/* Does every TLV of p come back from a table octet for octet? */
static int tlvs_canonical(const pdu_t *p)
{
    int i;
    for (i = 0; i < p->ntlv; i++) {
        const pdu_tlv_t *t = &p->tlv[i];
        const pdu_tlv_def_t *d = pdu_tlv_info(t->tag);
        if (!d) continue;                              /* unknown: raw bytes */
        if (d->type == PDU_TLV_CSTR && (t->len == 0 || t->val[t->len - 1] != 0
                                        || memchr(t->val, 0, t->len - 1u)))
            return 0;
        if (d->type == PDU_TLV_INT && t->len > d->min && !(t->num >> (8 * d->min)))
            return 0;
    }
    return 1;
}

/* Push p, read it back into `back` and encode that into out. */
static long through_lua(const pdu_t *p, uint8_t *out, size_t cap)
{
    const char *e;
    long n;
    lbridge_push_pdu(L, p);
    if ((e = lbridge_check_pdu(L, -1, &back, NULL)) != NULL) abort();   /* its own table refused */
    n = pdu_encode(&back, out, cap, NULL);            /* strings borrowed from the table: still on the stack */
    lua_settop(L, 0);
    return n;
}

/* The table of p agrees with p; with its sequence_number changed, or a
 * key added, it does not. (With TLVs or an address list it never does.) */
static void same_as_pushed(const pdu_t *p)
{
    int same, lists = 0, i;
    for (i = 0; i < p->cmd->nslots; i++)
        if (p->cmd->slots[i].kind == PDU_KIND_DESTS || p->cmd->slots[i].kind == PDU_KIND_UNSUCC) lists = 1;
    lbridge_push_pdu(L, p);
    same = lbridge_same_pdu(L, -1, p);
    if ((!p->ntlv && !lists && !same) || ((p->ntlv || p->naddr) && same)) abort();
    lua_pushnumber(L, (double)p->sequence_number + 1);
    lua_setfield(L, -2, "sequence_number");
    if (lbridge_same_pdu(L, -1, p)) abort();
    lua_pushnumber(L, (double)p->sequence_number);
    lua_setfield(L, -2, "sequence_number");
    if (lbridge_same_pdu(L, -1, p) != same) abort();
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "added");
    if (lbridge_same_pdu(L, -1, p)) abort();
    lua_settop(L, 0);
}

static void check_one(const uint8_t *data, size_t size)
{
    static unsigned runs;
    long n1, n2, n3;
    int canonical;
    if (pdu_decode(&dec, data, size, 0, NULL) != SMPP_ESME_ROK) return;
    if ((n1 = pdu_encode(&dec, direct, sizeof direct, NULL)) < 0) abort();
    canonical = tlvs_canonical(&dec);
    same_as_pushed(&dec);
    if ((n2 = through_lua(&dec, via_lua, sizeof via_lua)) < 0) abort();
    if (canonical && (n2 != n1 || memcmp(direct, via_lua, (size_t)n1) != 0)) abort();
    if (!canonical) {                                 /* normalised once, then stable */
        if (pdu_decode(&dec, via_lua, (size_t)n2, (uint32_t)sizeof via_lua, NULL) != SMPP_ESME_ROK) abort();
        if ((n3 = through_lua(&dec, again, sizeof again)) != n2 || memcmp(via_lua, again, (size_t)n2) != 0)
            abort();
    }
    if (++runs % 4096 == 0) lua_gc(L, LUA_GCCOLLECT, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!L) {
        if (!(L = luaL_newstate())) abort();
        luaopen_smpp_codec(L);                        /* builds the bridge's key cache */
        lua_settop(L, 0);
    }
    check_one(data, size);
    /* Most random inputs fail the command_length check; also try each one
     * with a consistent length so that the body and TLVs get exercised. */
    if (size >= 16 && size <= sizeof patched) {
        memcpy(patched, data, size);
        patched[0] = (uint8_t)(size >> 24);
        patched[1] = (uint8_t)(size >> 16);
        patched[2] = (uint8_t)(size >> 8);
        patched[3] = (uint8_t)size;
        check_one(patched, size);
    }
    return 0;
}
