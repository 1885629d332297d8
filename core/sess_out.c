/* sess_out.c -- a session's output: PDUs encoded into a buffer the
 * transport borrows (sess_output_take) and gives back when written
 * (sess_output_release). Two buffers per session, swapped: a steady flow
 * allocates nothing, and a released buffer above SESS_OUT_KEEP is freed
 * rather than kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sess_int.h"

static int out_reserve(sess_t *s, size_t need)
{
    size_t cap;
    uint8_t *p;
    if (!s->out && s->spare) {          /* output starts again in the spare buffer */
        s->out = s->spare;
        s->out_cap = s->spare_cap;
        s->spare = NULL;
        s->spare_cap = 0;
    }
    cap = s->out_cap ? s->out_cap : 512;
    while (cap < s->out_len + need) cap *= 2;
    if (cap == s->out_cap) return 0;
    if (!(p = realloc(s->out, cap))) return SESS_ENOMEM;
    s->out = p;
    s->out_cap = cap;
    return 0;
}

long sess__out_pdu(sess_t *s, pdu_t *p)
{
    pdu_error_t err;
    long n;
    int was_empty = s->out_len == 0;
    if (out_reserve(s, 256)) return SESS_ENOMEM;
    while ((n = pdu_encode(p, s->out + s->out_len, s->out_cap - s->out_len, &err)) == PDU_ENOSPC)
        if (out_reserve(s, err.need)) return SESS_ENOMEM;
    if (n < 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "%s", err.msg);
        return SESS_EINVAL;
    }
    s->out_len += (size_t)n;
    COUNT(s, tx_pdus);
    s->st.tx_bytes += (uint64_t)n;
    s->ctx->totals.sum.tx_bytes += (uint64_t)n;
    s->ctx->totals.side[s->side].tx_bytes += (uint64_t)n;
    COUNT(s, tx_cmd[pdu_cmd_index(p->cmd)]);
    if (s->ctx->trace) s->ctx->trace(s, p, 0, p->command_status);
    if (was_empty && s->h->output) s->h->output(s, s->ud);
    return n;
}

/* The request raw[0..len) (its header checked by the caller: cmd is its
 * command) as it is,
 * with sequence_number seq and command_status 0: what was encoded once
 * is not decoded and encoded again. The trace, when one is set, sees it
 * decoded. */
long sess__out_octets(sess_t *s, const pdu_cmd_t *cmd, const uint8_t *raw, size_t len, uint32_t seq)
{
    static pdu_t traced;
    uint8_t *o;
    int was_empty = s->out_len == 0;
    if (out_reserve(s, len)) return SESS_ENOMEM;
    o = s->out + s->out_len;
    memcpy(o, raw, len);
    memset(o + 8, 0, 4);
    o[12] = (uint8_t)(seq >> 24);
    o[13] = (uint8_t)(seq >> 16);
    o[14] = (uint8_t)(seq >> 8);
    o[15] = (uint8_t)seq;
    s->out_len += len;
    COUNT(s, tx_pdus);
    s->st.tx_bytes += (uint64_t)len;
    s->ctx->totals.sum.tx_bytes += (uint64_t)len;
    s->ctx->totals.side[s->side].tx_bytes += (uint64_t)len;
    COUNT(s, tx_cmd[pdu_cmd_index(cmd)]);
    if (s->ctx->trace) {
        pdu_error_t err;
        if (pdu_decode(&traced, o, len, 0, &err) == SMPP_ESME_ROK) s->ctx->trace(s, &traced, 0, 0);
    }
    if (was_empty && s->h->output) s->h->output(s, s->ud);
    return (long)len;
}

const uint8_t *sess_output_take(sess_t *s, size_t *len)
{
    *len = 0;
    if (s->lent || !s->out_len) return NULL;
    s->lent = s->out;
    s->lent_len = *len = s->out_len;
    s->lent_cap = s->out_cap;
    s->out = NULL;
    s->out_len = s->out_cap = 0;
    return s->lent;
}

void sess_output_release(sess_t *s, const uint8_t *buf)
{
    if (!buf || buf != s->lent) return;
    if (!s->spare && s->lent_cap <= SESS_OUT_KEEP) {
        s->spare = s->lent;
        s->spare_cap = s->lent_cap;
    } else {
        free(s->lent);
    }
    s->lent = NULL;
    s->lent_len = s->lent_cap = 0;
    /* what was queued meanwhile can go now */
    if (s->out_len && s->h->output) s->h->output(s, s->ud);
}

void sess_set_inflight(sess_t *s, size_t octets) { s->inflight = octets; }
size_t sess_output_pending(const sess_t *s) { return s->out_len + s->lent_len + s->inflight; }
size_t sess_output_queued(const sess_t *s) { return s->out_len; }
