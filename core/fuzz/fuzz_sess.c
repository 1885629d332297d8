/* fuzz_sess.c -- libFuzzer target for the session engine: the input is a
 * byte stream from a hostile peer, fed to an SMSC-side session in chunks
 * whose sizes (and the clock steps between them) come from the input too.
 * Whatever the bytes, the engine must not crash, and everything it writes
 * must be whole, decodable PDUs.
 */
#include <stdlib.h>
#include <string.h>

#include "sess.h"

static int closed;
static uint64_t now;
static pdu_t check;
static sess_ctx_t *ctx;

static int on_request(sess_t *s, const pdu_t *req, void *ud)
{
    (void)ud;
    /* accept binds, answer everything at once (half of it with an error),
     * decline a few (the engine answers those) */
    if (req->sequence_number % 7 == 3) return SESS_DECLINED;
    if (req->cmd->resp_id)
        sess_respond(s, req->sequence_number, NULL,
                     req->sequence_number & 1 ? SMPP_ESME_RSYSERR : SMPP_ESME_ROK, now);
    return SESS_TAKEN;
}

/* Every event must render as a line. */
static void on_event(sess_t *s, const sess_event_t *ev, void *ud)
{
    char line[512];
    (void)ud;
    if (!sess_event_format(s, ev, line, sizeof line)[0]) abort();
}

static void on_close(sess_t *s, const char *reason, void *ud)
{
    (void)s;
    (void)reason;
    (void)ud;
    closed = 1;
}

static const sess_handler_t handler = {on_request, NULL, NULL, on_close, on_event};

/* Every octet the session writes must frame and decode as whole PDUs. */
static void drain(sess_t *s)
{
    size_t len, pos = 0;
    const uint8_t *out = sess_output_take(s, &len);
    while (out && pos < len) {
        long n = pdu_frame(out + pos, len - pos, 0);
        if (n <= 0 || pdu_decode(&check, out + pos, (size_t)n, 0, NULL) != SMPP_ESME_ROK) abort();
        pos += (size_t)n;
    }
    sess_output_release(s, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sess_config_t cfg;
    sess_t *s;
    size_t pos = 0;
    if (!ctx && !(ctx = sess_ctx_new())) return 0;
    sess_config_default(&cfg);
    cfg.window = 4;
    cfg.receive_window = 8;
    cfg.response_timeout_ms = 50;
    cfg.enquire_link_ms = 30;
    cfg.init_timeout_ms = 1000;
    cfg.max_pdu = 4096;
    closed = 0;
    now = 1000;
    if (!(s = sess_new(ctx, SESS_SMSC, &cfg, &handler, NULL, now))) return 0;
    while (pos < size && !closed) {
        /* one control octet: chunk size 1..32, clock step 0..7 * 10 ms */
        uint8_t ctl = data[pos++];
        size_t chunk = (size_t)(ctl & 31) + 1;
        if (chunk > size - pos) chunk = size - pos;
        sess_feed(s, data + pos, chunk, now);
        pos += chunk;
        drain(s);
        now += (uint64_t)(ctl >> 5) * 10;
        if (sess_next_deadline(s) && sess_next_deadline(s) <= now) sess_tick(s, now);
        drain(s);
        /* now and then the session itself sends something */
        if ((ctl & 0xE0) == 0xE0 && sess_state(s) == SESS_BOUND_TRX) {
            static pdu_t p;
            pdu_init(&p, SMPP_DELIVER_SM, 0);
            pdu_set_cstr(&p, PDU_F_SHORT_MESSAGE, "fuzz");
            sess_send(s, &p, NULL, NULL, now);
            drain(s);
        }
        /* or octets of its own as a request encoded before (the header's
         * command_length made right half the time). Only the header is
         * the session's to check: a body is the caller's to have encoded
         * right (sess.h), so octets with a right length go in only when
         * they decode, and the copy sent must decode too (drain) */
        if ((ctl & 0xE0) == 0xC0 && sess_state(s) == SESS_BOUND_TRX && size - pos >= 16) {
            uint8_t raw[64];
            size_t n = size - pos < sizeof raw ? size - pos : sizeof raw;
            memcpy(raw, data + pos, n);
            if (raw[0] & 1) {
                raw[0] = raw[1] = raw[2] = 0;
                raw[3] = (uint8_t)n;
            }
            if (pdu_frame(raw, n, 0) != (long)n || pdu_decode(&check, raw, n, 0, NULL) == SMPP_ESME_ROK) {
                sess_send_octets(s, raw, n, NULL, NULL, now);
                drain(s);
            }
        }
    }
    sess_free(s);
    return 0;
}
