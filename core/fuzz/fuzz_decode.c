/* fuzz_decode.c -- libFuzzer target for the decoder: whatever the bytes,
 * decoding must not crash or read outside its input, and what decodes must
 * re-encode, decode again, and re-encode to the same bytes. The text of a
 * decoded PDU is also read as a receipt and its id keyed (dlr.c, msgid.c:
 * the gateway reads every upstream's receipts with them).
 */
#include <stdlib.h>
#include <string.h>

#include "dlr.h"
#include "msgid.h"
#include "pdu.h"

/* What the gateway does with an upstream's receipt text. */
static void read_receipt(const pdu_t *pdu)
{
    static char key[2 * 65536 + 2];
    const pdu_value_t *sm = pdu_get(pdu, PDU_F_SHORT_MESSAGE);
    dlr_text_t t;
    size_t start, len;
    if (!sm || !sm->ptr) return;
    dlr_read((const char *)sm->ptr, sm->len, &t);
    if (t.id && (t.id_at + t.id_len > sm->len || t.id != (const char *)sm->ptr + t.id_at)) abort();
    if (t.id && msgid_key(t.id, t.id_len, MSGID_HEX, key, sizeof key) < 0) abort();
    if (t.stat) (void)dlr_state_of(t.stat, t.stat_len);
    if (dlr_text((const char *)sm->ptr, sm->len, &start, &len) && start + len > sm->len) abort();
}

static pdu_t p;
static uint8_t patched[PDU_DEFAULT_MAX_LEN], out1[2 * PDU_DEFAULT_MAX_LEN],
    out2[2 * PDU_DEFAULT_MAX_LEN];

static void check_one(const uint8_t *data, size_t size)
{
    long n1, n2;
    pdu_error_t err;
    if (pdu_decode(&p, data, size, 0, &err) != SMPP_ESME_ROK) {
        if (err.msg[0] == '\0') abort();     /* every failure says why */
        return;
    }
    read_receipt(&p);
    n1 = pdu_encode(&p, out1, sizeof out1, &err);
    if (n1 < 0) abort();                     /* decoded PDUs re-encode */
    if (pdu_decode(&p, out1, (size_t)n1, (uint32_t)sizeof out1, &err) != SMPP_ESME_ROK) abort();
    n2 = pdu_encode(&p, out2, sizeof out2, &err);
    if (n2 != n1 || memcmp(out1, out2, (size_t)n1) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)pdu_frame(data, size, 0);
    check_one(data, size);
    /* Most random inputs fail the command_length check; also try each one
     * with a consistent length so that the body decoder gets exercised. */
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
