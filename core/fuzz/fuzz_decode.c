/* fuzz_decode.c -- libFuzzer target for the decoder: whatever the bytes,
 * decoding must not crash or read outside its input, and what decodes must
 * re-encode, decode again, and re-encode to the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "pdu.h"

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
