/* fuzz_lbridge.c -- libFuzzer target for the Lua bridge's PDU checks:
 * whatever the bytes, a PDU that decodes is pushed as a Lua table
 * (lbridge_push_pdu), read back from that table (lbridge_check_pdu, which
 * must accept what the bridge itself produced) and encoded. The result must
 * be the bytes the decoded PDU encodes to directly, except where the table
 * form normalises a value the decoder tolerates (a C-Octet String TLV
 * without its NUL, an integer TLV wider than its value needs): then one
 * more trip through the table must change nothing.
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

static void check_one(const uint8_t *data, size_t size)
{
    static unsigned runs;
    long n1, n2, n3;
    int canonical;
    if (pdu_decode(&dec, data, size, 0, NULL) != SMPP_ESME_ROK) return;
    if ((n1 = pdu_encode(&dec, direct, sizeof direct, NULL)) < 0) abort();
    canonical = tlvs_canonical(&dec);
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
