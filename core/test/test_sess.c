/* test_sess.c -- the session engine without sockets: an ESME-side and an
 * SMSC-side session wired back to back (or fed hand-made bytes), a fake
 * clock, and checks on states, bytes and callbacks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sess.h"
#include "test.h"

void sess__set_next_seq(sess_t *s, uint32_t seq);

/* -- Harness ------------------------------------------------------------------ */

typedef struct peer_s {
    sess_t  *s;
    int      closed;
    const char *reason;
    int      requests;
    uint32_t last_seq, last_cmd;
    int      auto_answer;       /* respond ROK at once to every request */
    uint32_t answer_status;
} peer_t;

static uint64_t now = 1000;
static peer_t esme, smsc;
static pdu_t tmp;
static sess_ctx_t *ctx;

static int on_request(sess_t *s, const pdu_t *req, void *ud)
{
    peer_t *p = ud;
    p->requests++;
    p->last_seq = req->sequence_number;
    p->last_cmd = req->command_id;
    if (p->auto_answer && req->cmd->resp_id)
        sess_respond(s, req->sequence_number, NULL, p->answer_status, now);
    return SESS_TAKEN;
}

static void on_close(sess_t *s, const char *reason, void *ud)
{
    peer_t *p = ud;
    (void)s;
    p->closed = 1;
    p->reason = reason;
}

/* Events recorded: the last one, as its log line. */
static int events[SESS_EV__COUNT];
static sess_event_kind_t last_event;
static char last_line[256], framing_line[256];
static void on_event(sess_t *s, const sess_event_t *ev, void *ud)
{
    (void)ud;
    events[ev->kind]++;
    last_event = ev->kind;
    sess_event_format(s, ev, last_line, sizeof last_line);
    if (ev->kind == SESS_EV_FRAMING_LOST) memcpy(framing_line, last_line, sizeof framing_line);
}

static const sess_handler_t handler = {on_request, NULL, NULL, on_close, on_event};

static sess_config_t cfg(void)
{
    sess_config_t c;
    sess_config_default(&c);
    c.window = 4;
    c.receive_window = 4;
    c.response_timeout_ms = 1000;
    c.enquire_link_ms = 0;
    c.init_timeout_ms = 0;
    return c;
}

static void setup_with(sess_config_t c)
{
    memset(&esme, 0, sizeof esme);
    memset(&smsc, 0, sizeof smsc);
    esme.s = sess_new(ctx, SESS_ESME, &c, &handler, &esme, now);
    smsc.s = sess_new(ctx, SESS_SMSC, &c, &handler, &smsc, now);
    smsc.auto_answer = 1;
}

static void setup(void) { setup_with(cfg()); }

static void teardown(void)
{
    sess_free(esme.s);
    sess_free(smsc.s);
}

/* Move output both ways until quiet. */
static void pump(void)
{
    int moved = 1;
    while (moved) {
        const uint8_t *b;
        size_t n;
        moved = 0;
        if ((b = sess_output_take(esme.s, &n)) != NULL) {
            sess_feed(smsc.s, b, n, now);
            sess_output_release(esme.s, b);
            moved = 1;
        }
        if ((b = sess_output_take(smsc.s, &n)) != NULL) {
            sess_feed(esme.s, b, n, now);
            sess_output_release(smsc.s, b);
            moved = 1;
        }
    }
}

/* Completion recorder. */
static int done_calls, done_err;
static uint32_t done_status, done_cmd;
static void on_done(sess_t *s, void *arg, const pdu_t *resp, int err)
{
    (void)s;
    (void)arg;
    done_calls++;
    done_err = err;
    done_status = resp ? resp->command_status : 0;
    done_cmd = resp ? resp->command_id : 0;
}

static void bind_trx(void)
{
    sess_bind(esme.s, SMPP_BIND_TRANSCEIVER, "smppclient1", "password", "", on_done, NULL, now);
    pump();
}

static long submit(sess_t *s)
{
    pdu_init(&tmp, SMPP_SUBMIT_SM, 0);
    pdu_set_cstr(&tmp, PDU_F_DESTINATION_ADDR, "447700900123");
    pdu_set_cstr(&tmp, PDU_F_SHORT_MESSAGE, "hi");
    return sess_send(s, &tmp, on_done, NULL, now);
}

/* Decode the next PDU in `s`'s output (one at a time). */
static uint8_t outbuf[4096];
static size_t outlen, outpos;
static const pdu_t *next_out(sess_t *s)
{
    static pdu_t p;
    long n;
    if (outpos >= outlen) {
        const uint8_t *b = sess_output_take(s, &outlen);
        outpos = 0;
        if (!b) { outlen = 0; return NULL; }
        memcpy(outbuf, b, outlen);
        sess_output_release(s, b);
    }
    n = pdu_frame(outbuf + outpos, outlen - outpos, 0);
    if (n <= 0) return NULL;
    pdu_decode(&p, outbuf + outpos, (size_t)n, 0, NULL);
    outpos += (size_t)n;
    return &p;
}

static void feed_pdu(sess_t *s, pdu_t *p)
{
    uint8_t b[512];
    long n = pdu_encode(p, b, sizeof b, NULL);
    sess_feed(s, b, (size_t)n, now);
}

/* -- Tests ---------------------------------------------------------------------- */

static void bind_each_type(void)
{
    static const uint32_t ids[] = {SMPP_BIND_TRANSMITTER, SMPP_BIND_RECEIVER, SMPP_BIND_TRANSCEIVER};
    static const sess_state_t want[] = {SESS_BOUND_TX, SESS_BOUND_RX, SESS_BOUND_TRX};
    int i;
    for (i = 0; i < 3; i++) {
        setup();
        done_calls = 0;
        CHECK(sess_bind(esme.s, ids[i], "smppclient1", "password", "", on_done, NULL, now) == 1);
        CHECK_EQ(sess_state(esme.s), SESS_OPEN);
        pump();
        CHECK_EQ(done_calls, 1);
        CHECK_EQ(done_err, 0);
        CHECK_EQ(smsc.last_cmd, ids[i]);
        CHECK_EQ(sess_state(esme.s), want[i]);
        CHECK_EQ(sess_state(smsc.s), want[i]);
        CHECK(strcmp(sess_system_id(smsc.s), "smppclient1") == 0);
        teardown();
    }
}

static void bind_refused_stays_open(void)
{
    setup();
    smsc.answer_status = SMPP_ESME_RINVPASWD;
    bind_trx();
    CHECK_EQ(done_status, SMPP_ESME_RINVPASWD);
    CHECK_EQ(sess_state(esme.s), SESS_OPEN);
    CHECK_EQ(sess_state(smsc.s), SESS_OPEN);
    teardown();
}

static void state_violations(void)
{
    const pdu_t *r;
    setup();
    /* submit_sm while OPEN -> submit_sm_resp ESME_RINVBNDSTS, same seq */
    pdu_init(&tmp, SMPP_SUBMIT_SM, 77);
    feed_pdu(smsc.s, &tmp);
    r = next_out(smsc.s);
    CHECK(r && r->command_id == SMPP_SUBMIT_SM_RESP);
    CHECK(r && r->command_status == SMPP_ESME_RINVBNDSTS && r->sequence_number == 77);
    CHECK_EQ(smsc.requests, 0);
    /* the ESME side may not send it either */
    CHECK_EQ(submit(esme.s), SESS_ESTATE);
    teardown();

    setup();
    esme.auto_answer = 1;
    sess_bind(esme.s, SMPP_BIND_RECEIVER, "a", "b", "", on_done, NULL, now);
    pump();
    /* BOUND_RX: submit_sm from the ESME is not allowed */
    pdu_init(&tmp, SMPP_SUBMIT_SM, 5);
    feed_pdu(smsc.s, &tmp);
    r = next_out(smsc.s);
    CHECK(r && r->command_status == SMPP_ESME_RINVBNDSTS);
    /* deliver_sm to a transmitter-only ESME is refused by the ESME side */
    teardown();

    setup();
    sess_bind(esme.s, SMPP_BIND_TRANSMITTER, "a", "b", "", on_done, NULL, now);
    pump();
    pdu_init(&tmp, SMPP_DELIVER_SM, 9);
    feed_pdu(esme.s, &tmp);
    r = next_out(esme.s);
    CHECK(r && r->command_id == SMPP_DELIVER_SM_RESP && r->command_status == SMPP_ESME_RINVBNDSTS);
    /* a second bind -> ESME_RALYBND */
    pdu_init(&tmp, SMPP_BIND_TRANSCEIVER, 10);
    feed_pdu(smsc.s, &tmp);
    r = next_out(smsc.s);
    CHECK(r && r->command_id == SMPP_BIND_TRANSCEIVER_RESP && r->command_status == SMPP_ESME_RALYBND);
    /* alert_notification (no response) in a TX session -> generic_nack */
    pdu_init(&tmp, SMPP_ALERT_NOTIFICATION, 11);
    feed_pdu(esme.s, &tmp);
    r = next_out(esme.s);
    CHECK(r && r->command_id == SMPP_GENERIC_NACK && r->command_status == SMPP_ESME_RINVBNDSTS);
    teardown();
}

/* Binds pipelined on one connection: while the owner checks one (a hashed
 * password takes a while), another is ESME_RALYBND, as after a bind that
 * succeeded (three once all got ESME_ROK and the state flipped TRX, TX,
 * RX); a refused bind lets the peer try again. */
static void one_bind_at_a_time(void)
{
    const pdu_t *r;
    static const uint32_t ids[] = {SMPP_BIND_TRANSCEIVER, SMPP_BIND_TRANSMITTER, SMPP_BIND_RECEIVER};
    uint32_t seq;
    setup();
    smsc.auto_answer = 0;                    /* the owner takes its time */
    for (seq = 1; seq <= 3; seq++) {
        pdu_init(&tmp, ids[seq - 1], seq);
        pdu_set_cstr(&tmp, PDU_F_SYSTEM_ID, seq == 1 ? "first" : "other");
        feed_pdu(smsc.s, &tmp);
    }
    CHECK_EQ(smsc.requests, 1);              /* only the first reached the owner */
    CHECK(strcmp(sess_system_id(smsc.s), "first") == 0);
    r = next_out(smsc.s);
    CHECK(r && r->command_id == SMPP_BIND_TRANSMITTER_RESP && r->command_status == SMPP_ESME_RALYBND);
    CHECK(r && r->sequence_number == 2);
    r = next_out(smsc.s);
    CHECK(r && r->command_id == SMPP_BIND_RECEIVER_RESP && r->command_status == SMPP_ESME_RALYBND);
    CHECK(r && r->sequence_number == 3);
    /* the first is refused: the peer may bind again, and that one is checked */
    CHECK_EQ(sess_respond(smsc.s, 1, NULL, SMPP_ESME_RINVPASWD, now), 0);
    CHECK_EQ(sess_state(smsc.s), SESS_OPEN);
    pdu_init(&tmp, SMPP_BIND_RECEIVER, 4);
    feed_pdu(smsc.s, &tmp);
    CHECK_EQ(smsc.requests, 2);
    pdu_init(&tmp, SMPP_BIND_TRANSMITTER, 5);
    feed_pdu(smsc.s, &tmp);
    CHECK_EQ(smsc.requests, 2);
    /* it succeeds: bound as it asked, and a later bind is ESME_RALYBND as before */
    CHECK_EQ(sess_respond(smsc.s, 4, NULL, SMPP_ESME_ROK, now), 0);
    CHECK_EQ(sess_state(smsc.s), SESS_BOUND_RX);
    pdu_init(&tmp, SMPP_BIND_TRANSCEIVER, 6);
    feed_pdu(smsc.s, &tmp);
    CHECK_EQ(smsc.requests, 2);
    CHECK_EQ(sess_state(smsc.s), SESS_BOUND_RX);
    teardown();
}

static void unknown_and_malformed(void)
{
    const pdu_t *r;
    uint8_t bad[] = {0, 0, 0, 16, 0, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 42};
    uint8_t shortbody[] = {0, 0, 0, 20, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 43, 0, 1, 1, 0x41};
    uint8_t badaddr[16 + 40];
    setup();
    bind_trx();
    sess_feed(smsc.s, bad, sizeof bad, now);
    r = next_out(smsc.s);
    CHECK(r && r->command_id == SMPP_GENERIC_NACK && r->command_status == SMPP_ESME_RINVCMDID);
    CHECK(r && r->sequence_number == 42);
    sess_feed(smsc.s, shortbody, sizeof shortbody, now);
    r = next_out(smsc.s);
    CHECK(r && r->command_id == SMPP_GENERIC_NACK && r->command_status == SMPP_ESME_RINVCMDLEN);
    CHECK(r && r->sequence_number == 43);
    /* a source_addr with no NUL in 21 octets -> submit_sm_resp ESME_RINVSRCADR */
    memset(badaddr, 'A', sizeof badaddr);
    memcpy(badaddr, "\0\0\0\x38\0\0\0\x04\0\0\0\0\0\0\0\x2c\0\x01\x01", 19);
    sess_feed(smsc.s, badaddr, sizeof badaddr, now);
    r = next_out(smsc.s);
    CHECK(r && r->command_id == SMPP_SUBMIT_SM_RESP && r->command_status == SMPP_ESME_RINVSRCADR);
    CHECK(!sess_is_closing(smsc.s));        /* framing intact: the session goes on */
    CHECK_EQ(sess_stats(smsc.s)->malformed, 3);
    teardown();
}

static void framing_lost_closes_after_nack(void)
{
    const pdu_t *r;
    uint8_t bad[] = {0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 5};
    setup();
    CHECK_EQ(sess_feed(smsc.s, bad, sizeof bad, now), -1);
    CHECK(smsc.closed);
    r = next_out(smsc.s);
    CHECK(r && r->command_id == SMPP_GENERIC_NACK && r->command_status == SMPP_ESME_RINVCMDLEN);
    CHECK(r && r->sequence_number == 5);
    teardown();
}

/* Before a bind, a command_length above SESS_UNBOUND_MAX_PDU loses the
 * framing (3,000 unbound connections each sending most of a 65 KB PDU
 * once held 210 MB); bound, max_pdu holds again. */
static void unbound_max_pdu(void)
{
    const pdu_t *r;
    uint8_t head[16] = {0, 0, 0x04, 0x01, 0, 0, 0, 0x09, 0, 0, 0, 0, 0, 0, 0, 7};   /* 1025, bind_transceiver */
    static uint8_t big[4096];
    long n;
    size_t k;
    setup();
    CHECK_EQ(sess_feed(smsc.s, head, sizeof head, now), -1);
    CHECK(smsc.closed);
    r = next_out(smsc.s);
    CHECK(r && r->command_id == SMPP_GENERIC_NACK && r->command_status == SMPP_ESME_RINVCMDLEN);
    CHECK(r && r->sequence_number == 7);
    CHECK(strstr(framing_line, "command_length 1025 outside 16..1024") != NULL);
    teardown();

    /* 1024 itself is taken: waited for, not refused */
    setup();
    head[2] = 0x04;
    head[3] = 0x00;
    CHECK_EQ(sess_feed(smsc.s, head, sizeof head, now), 0);
    CHECK(!smsc.closed);
    teardown();

    /* bound: a 2,000-octet submit_sm is one PDU as before */
    setup();
    bind_trx();
    pdu_init(&tmp, SMPP_SUBMIT_SM, 50);
    memset(big, 'a', 1900);
    pdu_tlv_add(&tmp, SMPP_TLV_message_payload, big, 1900);
    n = pdu_encode(&tmp, big, sizeof big, NULL);
    CHECK(n > 1900);
    smsc.requests = 0;
    CHECK_EQ(sess_feed(smsc.s, big, (size_t)n, now), 0);
    CHECK_EQ(smsc.requests, 1);
    CHECK(!smsc.closed);
    teardown();

    /* the ESME side: a bind_resp and a large deliver_sm in one read; the
     * deliver_sm is framed once the bind_resp has bound the session */
    setup();
    smsc.auto_answer = 0;
    sess_bind(esme.s, SMPP_BIND_TRANSCEIVER, "smppclient1", "password", "", on_done, NULL, now);
    pump();
    pdu_init(&tmp, SMPP_BIND_TRANSCEIVER_RESP, smsc.last_seq);
    pdu_set_cstr(&tmp, PDU_F_SYSTEM_ID, "smsc");
    k = (size_t)pdu_encode(&tmp, big, sizeof big, NULL);
    pdu_init(&tmp, SMPP_DELIVER_SM, 9);
    {
        static uint8_t payload[1900];
        memset(payload, 'b', sizeof payload);
        pdu_tlv_add(&tmp, SMPP_TLV_message_payload, payload, sizeof payload);
    }
    n = pdu_encode(&tmp, big + k, sizeof big - k, NULL);
    CHECK(n > 1900);
    esme.requests = 0;
    CHECK_EQ(sess_feed(esme.s, big, k + (size_t)n, now), 0);
    CHECK_EQ(sess_state(esme.s), SESS_BOUND_TRX);
    CHECK_EQ(esme.requests, 1);
    CHECK(!esme.closed);
    teardown();
}

static void chunking(void)
{
    static uint8_t big[100 * 64];
    size_t n = 0, i;
    int k;
    setup();
    bind_trx();
    /* one PDU in 1-octet pieces */
    pdu_init(&tmp, SMPP_SUBMIT_SM, 100);
    pdu_set_cstr(&tmp, PDU_F_SHORT_MESSAGE, "split into single octets");
    n = (size_t)pdu_encode(&tmp, big, sizeof big, NULL);
    smsc.requests = 0;
    for (i = 0; i < n; i++) sess_feed(smsc.s, big + i, 1, now);
    CHECK_EQ(smsc.requests, 1);
    CHECK_EQ(smsc.last_seq, 100);
    /* 100 PDUs in one buffer (receive window raised for it) */
    teardown();
    {
        sess_config_t c = cfg();
        c.receive_window = 200;
        setup_with(c);
    }
    bind_trx();
    smsc.requests = 0;
    for (n = 0, k = 0; k < 100; k++) {
        pdu_init(&tmp, SMPP_SUBMIT_SM, (uint32_t)(k + 1));
        n += (size_t)pdu_encode(&tmp, big + n, sizeof big - n, NULL);
    }
    sess_feed(smsc.s, big, n, now);
    CHECK_EQ(smsc.requests, 100);
    /* and the same 100 split at odd places */
    smsc.requests = 0;
    for (i = 0; i < n; i += 7) sess_feed(smsc.s, big + i, n - i < 7 ? n - i : 7, now);
    CHECK_EQ(smsc.requests, 100);
    teardown();
}

static void window_full_and_timeout(void)
{
    int k;
    setup();
    bind_trx();
    smsc.auto_answer = 0;
    done_calls = 0;
    for (k = 0; k < 4; k++) CHECK(submit(esme.s) > 0);
    CHECK_EQ(submit(esme.s), SESS_EWINDOW);
    CHECK_EQ(sess_window_used(esme.s), 4);
    pump();
    CHECK_EQ(smsc.requests, 5);                  /* bind + 4 */
    now += 999;
    sess_tick(esme.s, now);
    CHECK_EQ(done_calls, 0);
    now += 2;
    CHECK(sess_next_deadline(esme.s) <= now);
    sess_tick(esme.s, now);
    CHECK_EQ(done_calls, 4);
    CHECK_EQ(done_err, SESS_ETIMEOUT);
    CHECK_EQ(sess_window_used(esme.s), 0);
    CHECK(submit(esme.s) > 0);                   /* slots freed */
    /* a late answer matches nothing: counted, not fatal */
    sess_respond(smsc.s, smsc.last_seq - 1, NULL, 0, now);
    pump();
    CHECK_EQ(sess_stats(esme.s)->unmatched, 1);
    CHECK(!sess_is_closing(esme.s));
    teardown();
}

static void sequence_numbers(void)
{
    long a, b;
    setup();
    bind_trx();
    smsc.auto_answer = 0;
    sess__set_next_seq(esme.s, 0x7FFFFFFF);
    a = submit(esme.s);
    b = submit(esme.s);
    CHECK_EQ(a, 0x7FFFFFFF);
    CHECK_EQ(b, 1);                              /* wraps, never 0 */
    sess__set_next_seq(esme.s, 0x7FFFFFFF);
    CHECK_EQ(submit(esme.s), 2);                 /* 0x7FFFFFFF and 1 are in use */
    teardown();
}

/* A request encoded before goes out as it is but for its header's
 * sequence_number (the session's) and command_status (0); the answer
 * completes it as a sess_send would. */
static void send_octets(void)
{
    uint8_t raw[512], bad[512];
    const uint8_t *b;
    size_t n;
    long len, seq;
    setup();
    pdu_init(&tmp, SMPP_SUBMIT_SM, 0);
    pdu_set_cstr(&tmp, PDU_F_DESTINATION_ADDR, "447700900123");
    pdu_set_cstr(&tmp, PDU_F_SHORT_MESSAGE, "stored");
    tmp.sequence_number = 77;
    tmp.command_status = 5;
    len = pdu_encode(&tmp, raw, sizeof raw, NULL);
    CHECK(len > 16);
    CHECK_EQ(sess_send_octets(esme.s, raw, (size_t)len, on_done, NULL, now), SESS_ESTATE);   /* not bound */
    bind_trx();
    smsc.auto_answer = 0;
    done_calls = 0;
    sess__set_next_seq(esme.s, 4000);
    seq = sess_send_octets(esme.s, raw, (size_t)len, on_done, NULL, now);
    CHECK_EQ(seq, 4000);
    CHECK_EQ(sess_window_used(esme.s), 1);
    b = sess_output_take(esme.s, &n);
    CHECK(b != NULL);
    CHECK_EQ(n, (size_t)len);
    CHECK(memcmp(b, raw, 8) == 0);                             /* length, command_id */
    CHECK(b[8] == 0 && b[9] == 0 && b[10] == 0 && b[11] == 0);  /* command_status */
    CHECK(b[12] == 0 && b[13] == 0 && b[14] == 0x0F && b[15] == 0xA0);   /* 4000 */
    CHECK(memcmp(b + 16, raw + 16, (size_t)len - 16) == 0);    /* the body as it was */
    sess_feed(smsc.s, b, n, now);
    sess_output_release(esme.s, b);
    CHECK_EQ(smsc.last_cmd, SMPP_SUBMIT_SM);
    CHECK_EQ(smsc.last_seq, 4000);
    CHECK_EQ(sess_stats(esme.s)->tx_requests, 2);              /* the bind and this */
    sess_respond(smsc.s, 4000, NULL, 0, now);
    pump();
    CHECK_EQ(done_calls, 1);
    CHECK_EQ(done_cmd, SMPP_SUBMIT_SM_RESP);
    CHECK_EQ(sess_window_used(esme.s), 0);
    /* the header is checked: a length not its own, a response, an
     * unknown command; nothing sent, no window slot taken */
    CHECK_EQ(sess_send_octets(esme.s, raw, (size_t)len - 1, on_done, NULL, now), SESS_EINVAL);
    CHECK_EQ(sess_send_octets(esme.s, raw, 12, on_done, NULL, now), SESS_EINVAL);
    memcpy(bad, raw, (size_t)len);
    bad[4] = 0x80;
    CHECK_EQ(sess_send_octets(esme.s, bad, (size_t)len, on_done, NULL, now), SESS_EINVAL);
    CHECK(strstr(sess_last_error(esme.s), "not a request") != NULL);
    bad[4] = 0;
    bad[7] = 0x77;
    CHECK_EQ(sess_send_octets(esme.s, bad, (size_t)len, on_done, NULL, now), SESS_EINVAL);
    CHECK_EQ(sess_window_used(esme.s), 0);
    CHECK(sess_output_take(esme.s, &n) == NULL);
    teardown();
}

static void receive_window_and_throttle(void)
{
    const pdu_t *r;
    tb_t bucket;
    int k;
    setup();
    bind_trx();
    smsc.auto_answer = 0;
    for (k = 0; k < 3; k++) { pdu_init(&tmp, SMPP_SUBMIT_SM, (uint32_t)(50 + k)); feed_pdu(smsc.s, &tmp); }
    /* a sequence_number in use by a request in progress: the first one stays, and the
     * duplicates' refusals follow its answer, never before it (a peer matching answers
     * by sequence_number would take a refusal for the first's answer) */
    pdu_init(&tmp, SMPP_SUBMIT_SM, 51);
    feed_pdu(smsc.s, &tmp);
    pdu_init(&tmp, SMPP_QUERY_SM, 51);
    feed_pdu(smsc.s, &tmp);
    CHECK(next_out(smsc.s) == NULL);
    CHECK_EQ(sess_receive_window_used(smsc.s), 3);
    CHECK_EQ(sess_respond(smsc.s, 51, NULL, 0, now), 0);
    r = next_out(smsc.s);
    CHECK(r && r->command_id == SMPP_SUBMIT_SM_RESP && r->command_status == 0 && r->sequence_number == 51);
    for (k = 0; k < 2; k++) {
        r = next_out(smsc.s);
        CHECK(r && r->command_id == SMPP_QUERY_SM_RESP && r->command_status == SMPP_ESME_RSYSERR
              && r->sequence_number == 51);
    }
    CHECK(next_out(smsc.s) == NULL);
    pdu_init(&tmp, SMPP_SUBMIT_SM, 51);                         /* free again: taken */
    feed_pdu(smsc.s, &tmp);
    CHECK(next_out(smsc.s) == NULL);
    CHECK_EQ(sess_receive_window_used(smsc.s), 3);
    pdu_init(&tmp, SMPP_SUBMIT_SM, 53);
    feed_pdu(smsc.s, &tmp);
    CHECK_EQ(sess_receive_window_used(smsc.s), 4);
    CHECK(next_out(smsc.s) == NULL);
    pdu_init(&tmp, SMPP_SUBMIT_SM, 60);
    feed_pdu(smsc.s, &tmp);
    r = next_out(smsc.s);
    CHECK(r && r->command_status == SMPP_ESME_RTHROTTLED && r->sequence_number == 60);
    /* enquire_link is still answered */
    pdu_init(&tmp, SMPP_ENQUIRE_LINK, 61);
    feed_pdu(smsc.s, &tmp);
    r = next_out(smsc.s);
    CHECK(r && r->command_id == SMPP_ENQUIRE_LINK_RESP && r->sequence_number == 61);
    for (k = 0; k < 4; k++) CHECK_EQ(sess_respond(smsc.s, (uint32_t)(50 + k), NULL, 0, now), 0);
    CHECK_EQ(sess_respond(smsc.s, 50, NULL, 0, now), SESS_ENOREQ);
    teardown();

    setup();
    bind_trx();
    tb_init(&bucket, 2, 2, now);
    sess_set_throttle(smsc.s, &bucket);
    done_calls = 0;
    for (k = 0; k < 3; k++) { submit(esme.s); pump(); }
    CHECK_EQ(done_calls, 3);
    CHECK_EQ(done_status, SMPP_ESME_RTHROTTLED);   /* the third in the same instant */
    now += 500;                                    /* one token back */
    submit(esme.s);
    pump();
    CHECK_EQ(done_status, SMPP_ESME_ROK);
    CHECK_EQ(sess_stats(smsc.s)->throttled, 1);
    teardown();
}

static void enquire_link_and_dead_peer(void)
{
    const pdu_t *r;
    sess_config_t c = cfg();
    c.enquire_link_ms = 5000;
    c.enquire_link_misses = 2;
    setup_with(c);
    bind_trx();
    now += 5000;
    sess_tick(esme.s, now);
    pump();                                        /* answered by the SMSC side */
    CHECK_EQ(sess_stats(esme.s)->tx_cmd[20], 1);   /* enquire_link is row 20 */
    CHECK_EQ(sess_window_used(esme.s), 0);
    /* now the peer stops answering */
    now += 5000;
    sess_tick(esme.s, now);
    r = next_out(esme.s);
    CHECK(r && r->command_id == SMPP_ENQUIRE_LINK);
    now += 1000;
    sess_tick(esme.s, now);                        /* first miss */
    CHECK(!esme.closed);
    now += 5000;
    sess_tick(esme.s, now);
    next_out(esme.s);
    now += 1000;
    sess_tick(esme.s, now);                        /* second miss: dead */
    CHECK(esme.closed);
    CHECK(esme.reason && strstr(esme.reason, "enquire_link") != NULL);
    teardown();
}

static void init_and_inactivity_timers(void)
{
    sess_config_t c = cfg();
    c.init_timeout_ms = 3000;
    setup_with(c);
    now += 2999;
    sess_tick(smsc.s, now);
    CHECK(!smsc.closed);
    now += 1;
    sess_tick(smsc.s, now);
    CHECK(smsc.closed);
    teardown();

    c = cfg();
    c.inactivity_ms = 4000;
    setup_with(c);
    bind_trx();
    now += 3000;
    submit(esme.s);
    pump();
    now += 3000;
    sess_tick(smsc.s, now);
    CHECK(!smsc.closed);                           /* traffic reset the timer */
    now += 1000;
    sess_tick(smsc.s, now);
    CHECK(smsc.closed);
    teardown();
}

static void unbind_with_requests_in_flight(void)
{
    const pdu_t *r;
    uint32_t pending;
    setup();
    bind_trx();
    smsc.auto_answer = 0;
    done_calls = 0;
    submit(esme.s);
    pump();
    pending = smsc.last_seq;
    CHECK_EQ(sess_unbind(esme.s, now), 0);
    CHECK_EQ(sess_state(esme.s), SESS_UNBINDING);
    CHECK_EQ(submit(esme.s), SESS_ESTATE);          /* no new requests */
    r = next_out(esme.s);
    CHECK(r == NULL);                               /* unbind waits for the submit */
    sess_respond(smsc.s, pending, NULL, 0, now);
    pump();
    CHECK_EQ(done_calls, 1);
    CHECK_EQ(done_err, 0);
    CHECK(esme.closed && smsc.closed);              /* unbind, unbind_resp, close */
    CHECK(strcmp(smsc.reason, "unbind") == 0);
    teardown();

    /* the peer unbinds while the SMSC still handles a request: the
     * unbind_resp comes after that request's response */
    setup();
    bind_trx();
    smsc.auto_answer = 0;
    submit(esme.s);
    pump();
    pending = smsc.last_seq;
    pdu_init(&tmp, SMPP_UNBIND, 900);
    feed_pdu(smsc.s, &tmp);
    CHECK(next_out(smsc.s) == NULL);
    pdu_init(&tmp, SMPP_SUBMIT_SM, 901);            /* new requests are refused */
    feed_pdu(smsc.s, &tmp);
    r = next_out(smsc.s);
    CHECK(r && r->sequence_number == 901 && r->command_status == SMPP_ESME_RINVBNDSTS);
    sess_respond(smsc.s, pending, NULL, 0, now);
    r = next_out(smsc.s);
    CHECK(r && r->command_id == SMPP_SUBMIT_SM_RESP && r->sequence_number == pending);
    r = next_out(smsc.s);
    CHECK(r && r->command_id == SMPP_UNBIND_RESP && r->sequence_number == 900);
    CHECK(smsc.closed);
    teardown();
}

static void close_fails_outstanding(void)
{
    setup();
    bind_trx();
    smsc.auto_answer = 0;
    done_calls = 0;
    submit(esme.s);
    submit(esme.s);
    sess_close(esme.s, "test");
    CHECK_EQ(submit(esme.s), SESS_ECLOSED);
    sess_free(esme.s);
    esme.s = sess_new(ctx, SESS_ESME, sess_config(smsc.s), &handler, &esme, now);
    CHECK_EQ(done_calls, 2);
    CHECK_EQ(done_err, SESS_ECLOSED);
    teardown();
}

static void generic_nack_completes_request(void)
{
    setup();
    bind_trx();
    smsc.auto_answer = 0;
    done_calls = 0;
    submit(esme.s);
    pump();
    pdu_init(&tmp, SMPP_GENERIC_NACK, smsc.last_seq);
    tmp.command_status = SMPP_ESME_RSYSERR;
    feed_pdu(esme.s, &tmp);
    CHECK_EQ(done_calls, 1);
    CHECK_EQ(done_err, SESS_ENACK);
    CHECK_EQ(done_status, SMPP_ESME_RSYSERR);
    teardown();
}

static void outbind(void)
{
    setup();
    esme.auto_answer = 0;
    CHECK(sess_outbind(smsc.s, "smsc", "pw", now) > 0);
    pump();
    CHECK_EQ(esme.last_cmd, SMPP_OUTBIND);
    CHECK_EQ(sess_state(esme.s), SESS_OUTBOUND);
    sess_bind(esme.s, SMPP_BIND_RECEIVER, "esme", "pw", "", on_done, NULL, now);
    pump();
    CHECK_EQ(sess_state(esme.s), SESS_BOUND_RX);
    CHECK_EQ(sess_state(smsc.s), SESS_BOUND_RX);
    teardown();
}

/* -- The engine as a library ------------------------------------------------------ */

static void error_codes(void)
{
    static const int codes[] = {SESS_EWINDOW, SESS_ETIMEOUT, SESS_ECLOSED, SESS_ENACK, SESS_ESTATE,
                                SESS_EINVAL, SESS_EOUTPUT, SESS_EBADRESP, SESS_ENOMEM, SESS_ENOREQ,
                                SESS_ECONNREFUSED, SESS_ERESOLVE, SESS_EUNREACH, SESS_ECONNECT};
    size_t i, j;
    CHECK_EQ(SESS_E_COUNT, sizeof codes / sizeof codes[0]);
    for (i = 0; i < SESS_E_COUNT; i++) {
        /* clear of errno values and libuv's codes (-1..-4095) */
        CHECK(codes[i] <= -20001 && codes[i] >= -20099);
        CHECK_EQ(sess_err_index(SESS_E_AT(i)), i);
        CHECK(strcmp(sess_strerror(SESS_E_AT(i)), "unknown error") != 0);
        for (j = 0; j < i; j++) CHECK(codes[i] != codes[j]);
    }
    CHECK_STR(sess_strerror(SESS_EWINDOW), strlen(sess_strerror(SESS_EWINDOW)), "window full");
    CHECK_STR(sess_strerror(SESS_ETIMEOUT), strlen(sess_strerror(SESS_ETIMEOUT)), "timeout");
    CHECK_STR(sess_strerror(SESS_ECONNREFUSED), strlen(sess_strerror(SESS_ECONNREFUSED)), "connect refused");
    CHECK_STR(sess_strerror(SESS_ERESOLVE), strlen(sess_strerror(SESS_ERESOLVE)), "resolve");
    CHECK_EQ(sess_err_index(-11), -1);        /* an errno value is not an engine error */
    CHECK_EQ(sess_err_index(-4095), -1);
    CHECK_STR(sess_strerror(-11), strlen(sess_strerror(-11)), "unknown error");
}

static int outputs;
static void count_output(sess_t *s, void *ud) { (void)s; (void)ud; outputs++; }

static void output_is_lent(void)
{
    static const sess_handler_t h = {on_request, NULL, count_output, on_close, on_event};
    sess_config_t c = cfg();
    sess_t *s = sess_new(ctx, SESS_ESME, &c, &h, &esme, now);
    const uint8_t *a, *b;
    size_t n, m;
    outputs = 0;
    CHECK(sess_bind(s, SMPP_BIND_TRANSCEIVER, "u", "p", "", NULL, NULL, now) > 0);
    CHECK_EQ(outputs, 1);                     /* output is waiting */
    a = sess_output_take(s, &n);
    CHECK(a != NULL);
    CHECK(n > 16);
    CHECK_EQ(sess_output_pending(s), n);      /* lent octets still count */
    CHECK(sess_output_take(s, &m) == NULL);   /* one buffer lent at a time */
    pdu_init(&tmp, SMPP_ENQUIRE_LINK, 0);
    CHECK(sess_send(s, &tmp, NULL, NULL, now) > 0);
    CHECK_EQ(sess_output_queued(s), 16);
    CHECK(sess_output_take(s, &m) == NULL);   /* queued behind the lent one */
    CHECK_EQ(sess_output_pending(s), n + 16);
    outputs = 0;
    sess_output_release(s, a);
    CHECK_EQ(outputs, 1);                     /* the queued output can go now */
    b = sess_output_take(s, &m);
    CHECK(b != NULL);
    CHECK_EQ(m, 16);
    CHECK(b != a);                            /* two buffers, swapped */
    sess_output_release(s, b);
    CHECK_EQ(sess_output_pending(s), 0);
    pdu_init(&tmp, SMPP_ENQUIRE_LINK, 0);
    CHECK(sess_send(s, &tmp, NULL, NULL, now) > 0);
    CHECK((b = sess_output_take(s, &m)) == a); /* the spare buffer is reused */
    sess_output_release(s, b);
    CHECK(sess_output_take(s, &m) == NULL);
    sess_free(s);
}

static int declining;
static int decline_all(sess_t *s, const pdu_t *req, void *ud)
{
    (void)s;
    (void)req;
    (void)ud;
    declining++;
    return SESS_DECLINED;
}

static void declined_requests(void)
{
    static const sess_handler_t h = {decline_all, NULL, NULL, on_close, on_event};
    const pdu_t *p;
    setup();
    bind_trx();
    sess_free(smsc.s);
    smsc.s = sess_new(ctx, SESS_SMSC, sess_config(esme.s), &h, &smsc, now);
    sess_free(esme.s);
    memset(&esme, 0, sizeof esme);
    esme.s = sess_new(ctx, SESS_ESME, sess_config(smsc.s), &handler, &esme, now);
    declining = 0;
    memset(events, 0, sizeof events);
    sess_bind(esme.s, SMPP_BIND_TRANSCEIVER, "u", "p", "", on_done, NULL, now);
    pump();
    CHECK_EQ(declining, 1);                   /* the bind itself, declined: ESME_RINVCMDID */
    CHECK_EQ(done_status, SMPP_ESME_RINVCMDID);
    CHECK_EQ(sess_state(smsc.s), SESS_OPEN);
    CHECK_EQ(events[SESS_EV_DECLINED], 1);
    CHECK_EQ(events[SESS_EV_BIND_REJECTED], 1);
    /* an ESME-side session declining outbind closes */
    teardown();
    setup();
    sess_free(esme.s);
    esme.s = sess_new(ctx, SESS_ESME, sess_config(smsc.s), &h, &esme, now);
    CHECK(sess_outbind(smsc.s, "smsc", "pw", now) > 0);
    pump();
    CHECK(esme.closed);
    CHECK_STR(esme.reason, strlen(esme.reason), "outbind refused: no outbind handler");
    teardown();
    /* a handler table with no request callback declines too */
    {
        static const sess_handler_t none = {NULL, NULL, NULL, on_close, on_event};
        setup();
        sess_free(smsc.s);
        smsc.s = sess_new(ctx, SESS_SMSC, sess_config(esme.s), &none, &smsc, now);
        pdu_init(&tmp, SMPP_BIND_TRANSMITTER, 1);
        pdu_set_cstr(&tmp, PDU_F_SYSTEM_ID, "u");
        feed_pdu(smsc.s, &tmp);
        p = next_out(smsc.s);
        CHECK(p != NULL);
        if (p) {
            CHECK_EQ(p->command_id, SMPP_BIND_TRANSMITTER_RESP);
            CHECK_EQ(p->command_status, SMPP_ESME_RINVCMDID);
        }
        teardown();
    }
}

static void events_are_the_log_lines(void)
{
    setup();
    bind_trx();
    CHECK_EQ(last_event, SESS_EV_BOUND_TO_SMSC);
    CHECK_STR(last_line, strlen(last_line), "bound to the SMSC as BOUND_TRX");
    smsc.auto_answer = 0;
    CHECK(submit(esme.s) > 0);
    pump();
    now += 1001;
    sess_tick(esme.s, now);
    CHECK_EQ(last_event, SESS_EV_TIMEOUT);
    CHECK_STR(last_line, strlen(last_line), "submit_sm 2: no response within 1000 ms");
    sess_close(esme.s, "test over");
    CHECK_EQ(last_event, SESS_EV_CLOSING);
    CHECK_STR(last_line, strlen(last_line), "closing: test over");
    teardown();
}

/* Statuses beyond status.def's span are counted by code, in a bounded
 * table; past it they share one counter. */
static void other_statuses_bounded(void)
{
    sess_ctx_t *shared = ctx;
    const sess_totals_t *t;
    uint32_t i, n = SESS_OTHER_STATUSES + 8;
    ctx = sess_ctx_new();                             /* totals of this case alone */
    t = sess_ctx_totals(ctx);
    setup();
    bind_trx();
    smsc.auto_answer = 0;
    for (i = 0; i < n; i++) {
        CHECK(submit(esme.s) > 0);
        pump();
        CHECK_EQ(sess_respond(smsc.s, smsc.last_seq, NULL, 0x400 + i, now), 0);
        pump();
    }
    CHECK_EQ(t->status_tx[SMPP_ESME_ROK], 1);        /* the bind */
    CHECK_EQ(t->nother, SESS_OTHER_STATUSES);
    for (i = 0; i < SESS_OTHER_STATUSES; i++) {
        CHECK_EQ(t->other[i].status, 0x400 + i);
        CHECK_EQ(t->other[i].tx, 1);                  /* the SMSC sent it */
        CHECK_EQ(t->other[i].rx, 1);                  /* the ESME received it */
    }
    CHECK_EQ(t->other_tx, 8);
    CHECK_EQ(t->other_rx, 8);
    CHECK(submit(esme.s) > 0);                        /* a code already in the table */
    pump();
    sess_respond(smsc.s, smsc.last_seq, NULL, 0x401, now);
    pump();
    CHECK_EQ(t->other[1].tx, 2);
    CHECK_EQ(t->other_tx, 8);
    teardown();
    sess_ctx_free(ctx);
    ctx = shared;
}

static void contexts_are_separate(void)
{
    sess_ctx_t *a = sess_ctx_new(), *b = sess_ctx_new();
    sess_config_t c = cfg();
    sess_t *s1 = sess_new(a, SESS_SMSC, &c, &handler, &smsc, now);
    sess_t *s2 = sess_new(a, SESS_SMSC, &c, &handler, &smsc, now);
    sess_t *s3 = sess_new(b, SESS_SMSC, &c, &handler, &smsc, now);
    CHECK_EQ(sess_id(s1), 1);
    CHECK_EQ(sess_id(s2), 2);
    CHECK_EQ(sess_id(s3), 1);                 /* ids count per context */
    CHECK_EQ(sess_ctx_totals(a)->opened, 2);
    CHECK_EQ(sess_ctx_totals(b)->opened, 1);
    CHECK_EQ(sess_ctx_totals(a)->open[SESS_SMSC][SESS_OPEN], 2);
    sess_free(s1);
    sess_free(s2);
    sess_free(s3);
    CHECK_EQ(sess_ctx_totals(a)->closed, 2);
    CHECK_EQ(sess_ctx_totals(b)->closed, 1);
    CHECK_EQ(sess_ctx_totals(a)->open[SESS_SMSC][SESS_OPEN], 0);   /* sessions now, by state */
    CHECK_EQ(sess_ctx_totals(a)->open[SESS_SMSC][SESS_CLOSED], 0);
    sess_ctx_free(a);
    sess_ctx_free(b);
}

/* Sides and groups: the SMSC side's session is in its account's group from
 * its bind on, the ESME side's in the group its owner names; each counts its
 * own PDUs, statuses and response times, and the totals keep the sides apart. */
static void sides_and_groups(void)
{
    sess_ctx_t *shared = ctx;
    const sess_totals_t *t;
    const sess_group_t *acct, *up;
    ctx = sess_ctx_new();
    t = sess_ctx_totals(ctx);
    setup();
    sess_set_group(esme.s, sess_ctx_group(ctx, SESS_ESME, "smscA"));
    bind_trx();
    CHECK(submit(esme.s) > 0);
    pump();
    CHECK(submit(esme.s) > 0);
    pump();
    acct = sess_ctx_group_at(ctx, 1);
    up = sess_ctx_group_at(ctx, 0);
    CHECK(acct != NULL && up != NULL);
    CHECK_EQ(strcmp(acct->name, "smppclient1"), 0);
    CHECK_EQ(acct->side, SESS_SMSC);
    CHECK_EQ(strcmp(up->name, "smscA"), 0);
    CHECK(sess_ctx_group_at(ctx, 2) == NULL);
    CHECK(sess_ctx_group(ctx, SESS_ESME, "smscA") == up);     /* found, not made again */
    CHECK_EQ(up->st.tx_cmd[1], 0);                             /* generic_nack: none */
    CHECK_EQ(acct->st.rx_requests, 2);                         /* the bind came before its group */
    CHECK_EQ(up->st.tx_requests, 3);                           /* bind and two submits */
    CHECK_EQ(up->st.rtt_count, 3);
    CHECK_EQ(up->nstatus, 1);
    CHECK_EQ(up->status[0].rx, 3);
    CHECK_EQ(acct->status[0].tx, 2);
    {
        uint64_t b = 0;
        size_t i;
        for (i = 0; i < SESS_RTT_BUCKETS; i++) b += up->rtt_buckets[i];
        CHECK_EQ(b, 3);
    }
    CHECK_EQ(t->side[SESS_SMSC].rx_requests, 3);
    CHECK_EQ(t->side[SESS_ESME].rx_requests, 0);
    CHECK_EQ(t->side[SESS_ESME].tx_requests, 3);
    CHECK_EQ(t->sum.tx_requests, 3);
    teardown();
    sess_ctx_free(ctx);
    ctx = shared;
}

static void groups_bounded(void)
{
    sess_ctx_t *c = sess_ctx_new();
    char name[16];
    int i;
    for (i = 0; i < SESS_MAX_GROUPS; i++) {
        snprintf(name, sizeof name, "g%d", i);
        CHECK(sess_ctx_group(c, SESS_SMSC, name) != NULL);
    }
    CHECK(sess_ctx_group(c, SESS_SMSC, "one more") == NULL);
    CHECK(sess_ctx_group(c, SESS_SMSC, "g7") != NULL);         /* the known ones still found */
    CHECK_EQ(sess_ctx_groups_refused(c), 1);
    sess_ctx_free(c);
}

/* The trace hook: every PDU decoded and encoded, none once unset. */
static int traced_in, traced_out;
static uint32_t traced_cmd;
static void trace_fn(const sess_t *s, const pdu_t *p, int rx, uint32_t status)
{
    (void)s;
    (void)status;
    if (rx) traced_in++;
    else traced_out++;
    traced_cmd = p->command_id;
    CHECK(p->cmd != NULL);
}

static void trace_hook(void)
{
    setup();
    sess_ctx_set_trace(ctx, trace_fn);
    bind_trx();                                  /* bind and bind_resp, each out and in */
    CHECK_EQ(traced_in, 2);
    CHECK_EQ(traced_out, 2);
    {                                            /* octets sent as they are: traced decoded */
        uint8_t raw[256];
        long n;
        pdu_init(&tmp, SMPP_SUBMIT_SM, 0);
        pdu_set_cstr(&tmp, PDU_F_DESTINATION_ADDR, "447700900123");
        n = pdu_encode(&tmp, raw, sizeof raw, NULL);
        CHECK(sess_send_octets(esme.s, raw, (size_t)n, NULL, NULL, now) > 0);
        CHECK_EQ(traced_out, 3);
        CHECK_EQ(traced_cmd, SMPP_SUBMIT_SM);
        pump();
        traced_in = traced_out = 2;
    }
    sess_ctx_set_trace(ctx, NULL);
    CHECK(submit(esme.s) > 0);
    pump();
    CHECK_EQ(traced_in + traced_out, 4);
    teardown();
}

int main(void)
{
    ctx = sess_ctx_new();
    TEST(bind_each_type);
    TEST(bind_refused_stays_open);
    TEST(state_violations);
    TEST(one_bind_at_a_time);
    TEST(unknown_and_malformed);
    TEST(framing_lost_closes_after_nack);
    TEST(unbound_max_pdu);
    TEST(chunking);
    TEST(window_full_and_timeout);
    TEST(sequence_numbers);
    TEST(send_octets);
    TEST(receive_window_and_throttle);
    TEST(enquire_link_and_dead_peer);
    TEST(init_and_inactivity_timers);
    TEST(unbind_with_requests_in_flight);
    TEST(close_fails_outstanding);
    TEST(generic_nack_completes_request);
    TEST(outbind);
    TEST(error_codes);
    TEST(output_is_lent);
    TEST(declined_requests);
    TEST(events_are_the_log_lines);
    TEST(other_statuses_bounded);
    TEST(contexts_are_separate);
    TEST(sides_and_groups);
    TEST(groups_bounded);
    TEST(trace_hook);
    sess_ctx_free(ctx);
    return test_summary();
}
