/* load.c -- `smppgw bench`: an SMPP load generator on the C session engine
 * (core/net.h + core/sess.h, no Lua): sessions, windows, rates, latency.
 *
 * It connects N sessions to HOST:PORT, binds each as a transceiver, then
 * keeps W submit_sm outstanding on each: every response immediately sends
 * the next request (or, with --rate, the next token of a timer-driven token
 * bucket does). At the end it prints the counts, the throughput in round
 * trips per second over the measured period (first send to last response,
 * bind time excluded) and the latency percentiles from a log-linear bucket
 * histogram. --idle N only binds N sessions and holds them (memory tests).
 *
 * With --dlr every message asks for a receipt; receipts (deliver_sm or
 * data_sm with esm_class 0x04) are answered, matched to their message by
 * receipted_message_id (or the text's id:) and their latency from the send
 * goes into a second histogram; one that comes before its answer is held
 * for it (load_dlr.c). While it runs, a progress line goes to
 * standard error (rewritten in place on a terminal, one line a second
 * otherwise), so that standard output holds only the result.
 *
 * Messages go from --from to --to, or to each number of --to-range in
 * turn (the n-th message sent to the n-th number, cycling), so a peer that
 * routes or limits by destination sees them spread as told.
 *
 *   build/smppgw bench [options] [HOST:PORT]      (see load_opts.c)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlr.h"
#include "load.h"
#include "load_dlr.h"
#include "load_hist.h"
#include "load_opts.h"
#include "log.h"
#include "net.h"

/* -- State ------------------------------------------------------------------- */

typedef struct load_conn_s load_conn_t;

/* One outstanding submit_sm: the completion callback's argument. */
typedef struct load_slot_s {
    load_conn_t        *conn;
    uint64_t            sent_ns;     /* uv_hrtime() at sess_send */
    struct load_slot_s *next_free;
} load_slot_t;

struct load_conn_s {
    sess_t      *sess;               /* NULL before connect and after close */
    load_slot_t *slots, *free_slots; /* W slots per session */
    unsigned     outstanding;
    int          bound;              /* bound and accepting our sends */
    int          live;               /* bound once and not yet closed */
};

#define LOAD_MAX_CONNECTING 256      /* connects + binds in progress at once */
#define LOAD_STATUS_OTHER   PDU_STATUS_SPAN  /* statuses above the table share a slot */
#define LOAD_NERR           SESS_E_COUNT   /* engine errors, by sess_err_index() */

static struct {
    load_opts_t  o;
    net_t       *net;
    uv_loop_t   *loop;
    load_conn_t *conns;
    pdu_t        sm;                  /* the submit_sm, encoded on each send */
    uint8_t      text[PDU_MAX_SHORT_MESSAGE];
    char         dest[LOAD_OPTS_RANGE_DIGITS + 1];   /* --to-range: this send's */
    /* connecting and binding */
    unsigned     next_connect, connecting, bound, bind_failed, live;
    uint64_t     bind_start_ns, bind_end_ns;
    /* sending */
    int          sending, stopping, finished;
    unsigned long long sent, ok, failed, timeouts, outstanding;
    unsigned long long responses;     /* round trips: ok + failed by a response */
    uint64_t     first_send_ns, last_done_ns;
    uint64_t     failed_status[LOAD_STATUS_OTHER + 1]; /* by command_status */
    uint64_t     failed_err[LOAD_NERR];                /* by sess_err_index() */
    load_hist_t  hist;
    int          dlr, dlr_waiting;   /* --dlr: its tables (load_dlr.c) are set up */
    uv_timer_t   dlr_timer, progress;
    uint64_t     start_ns, last_sent;
    int          tty;
    /* the token bucket of --rate */
    double       tokens, burst;
    uint64_t     tokens_ns;
    unsigned     rr;                  /* round-robin start for the bucket */
    uv_timer_t   tick, stop;
    uv_signal_t  sigint, sigterm;
    int          exit_code;
} L;

static void load_fill(load_conn_t *c);
static void load_stop(void);
static void load_finish(void);

static void load_on_dlr_timeout(uv_timer_t *t)
{
    (void)t;
    load_finish();
}

/* Finish once stopped (or every session is gone) and nothing is
 * outstanding; with --dlr, after the receipts are in (at most 10 s more). */
static void load_check_done(void)
{
    if (L.finished || !L.sending || !(L.stopping || !L.live) || L.outstanding) return;
    if (L.o.dlr && load_dlr.pending && L.live) {
        if (!L.dlr_waiting) {
            L.dlr_waiting = 1;
            uv_timer_start(&L.dlr_timer, load_on_dlr_timeout, 10000, 0);
        }
        return;
    }
    load_finish();
}

/* -- Receipts (--dlr) -------------------------------------------------------- */

/* A request from the peer: receipts are counted and matched; every
 * deliver_sm / data_sm is answered ESME_ROK, anything else ESME_RINVCMDID. */
static int load_on_request(net_t *n, sess_t *s, const pdu_t *req, void *ud)
{
    (void)ud;
    if (req->command_id == SMPP_DELIVER_SM || req->command_id == SMPP_DATA_SM) {
        const pdu_value_t *esm = pdu_get(req, PDU_F_ESM_CLASS);
        if (esm && dlr_is_receipt(esm->num)) {
            const pdu_tlv_t *t = pdu_tlv_find(req, SMPP_TLV_receipted_message_id);
            const char *id = NULL;
            size_t len = 0;
            if (t) {
                id = (const char *)t->val;
                len = t->len && t->val[t->len - 1] == 0 ? t->len - 1u : t->len;
            } else {
                const pdu_value_t *sm = pdu_get(req, PDU_F_SHORT_MESSAGE);
                const char *p = sm ? memchr(sm->ptr, ':', sm->len) : NULL;
                if (p && p - (const char *)sm->ptr == 2) {   /* "id:..." */
                    id = p + 1;
                    while (len < sm->len - 3 && id[len] != ' ') len++;
                }
            }
            if (L.dlr) load_dlr_receipt(id, len, sess_id(s), uv_hrtime());
            if (L.dlr_waiting && !load_dlr.pending) load_finish();
        }
    }
    if (req->command_id != SMPP_DELIVER_SM && req->command_id != SMPP_DATA_SM) return SESS_DECLINED;
    sess_respond(s, req->sequence_number, NULL, SMPP_ESME_ROK, net_now(n));
    return SESS_TAKEN;
}

/* -- Progress ------------------------------------------------------------------- */

static void load_on_progress(uv_timer_t *t)
{
    double elapsed = (double)(uv_hrtime() - L.start_ns) / 1e9;
    unsigned long long delta = L.sent - L.last_sent;
    (void)t;
    L.last_sent = L.sent;
    fprintf(stderr, "%s%6.1f s  sent %llu  rate %llu/s  outstanding %llu  failed %llu  timeouts %llu",
            L.tty ? "\r" : "", elapsed, L.sent, delta, L.outstanding, L.failed, L.timeouts);
    if (L.o.dlr) fprintf(stderr, "  receipts %llu", load_dlr.receipts);
    fprintf(stderr, "  from %s to %s", L.o.from, L.o.to);
    fputs(L.tty ? "\033[K" : "\n", stderr);
    fflush(stderr);
}

/* -- Sending ----------------------------------------------------------------- */

/* The submit_sm every send encodes (sess_send sets the sequence_number;
 * with --to-range load_fill sets the destination). Returns 0, or -1 after
 * saying which field the encoder refuses (an address too long...). */
static int load_build_pdu(void)
{
    static uint8_t out[PDU_MAX_SHORT_MESSAGE + 512];
    int alpha = L.o.from[strspn(L.o.from, "0123456789")] != '\0';   /* a sender name */
    pdu_error_t err;
    unsigned long long last[2] = {0, L.o.to_span ? L.o.to_span - 1 : 0};
    int i;
    memset(L.text, 'x', sizeof L.text);
    pdu_init(&L.sm, L.o.data_sm ? SMPP_DATA_SM : SMPP_SUBMIT_SM, 0);
    pdu_set_int(&L.sm, PDU_F_SOURCE_ADDR_TON, alpha ? 5 : 1);
    pdu_set_int(&L.sm, PDU_F_SOURCE_ADDR_NPI, alpha ? 0 : 1);
    pdu_set_cstr(&L.sm, PDU_F_SOURCE_ADDR, L.o.from);
    pdu_set_int(&L.sm, PDU_F_DEST_ADDR_TON, 1);
    pdu_set_int(&L.sm, PDU_F_DEST_ADDR_NPI, 1);
    pdu_set_int(&L.sm, PDU_F_DATA_CODING, L.o.coding);
    if (L.o.dlr) pdu_set_int(&L.sm, PDU_F_REGISTERED_DELIVERY, 1);
    if (L.o.data_sm) pdu_tlv_add(&L.sm, SMPP_TLV_message_payload, L.text, (uint16_t)L.o.size);
    else pdu_set_str(&L.sm, PDU_F_SHORT_MESSAGE, L.text, L.o.size);
    /* the first and the longest destination must encode, or nothing will */
    for (i = 0; i < 2; i++) {
        pdu_set_cstr(&L.sm, PDU_F_DESTINATION_ADDR, load_opts_dest(&L.o, last[i], L.dest, sizeof L.dest));
        if (pdu_encode(&L.sm, out, sizeof out, &err) < 0) {
            fprintf(stderr, "smppgw bench: cannot send that message: %s\n", err.msg);
            return -1;
        }
    }
    return 0;
}

/* Count a completed submit_sm by its outcome. */
static void load_count(const pdu_t *resp, int err)
{
    if (err == SESS_ETIMEOUT) L.timeouts++;
    else if (!err && resp->command_status == SMPP_ESME_ROK) L.ok++;
    else {
        L.failed++;
        if (!err) {
            uint32_t st = resp->command_status;
            L.failed_status[st < LOAD_STATUS_OTHER ? st : LOAD_STATUS_OTHER]++;
        } else if (sess_err_index(err) >= 0) {
            L.failed_err[sess_err_index(err)]++;
        }
    }
}

/* Completion of one submit_sm: record its latency, count it, refill. */
static void load_on_submit(sess_t *s, void *arg, const pdu_t *resp, int err)
{
    load_slot_t *slot = arg;
    load_conn_t *c = slot->conn;
    uint64_t now = uv_hrtime();
    load_count(resp, err);
    if (L.dlr && !err && resp->command_status == SMPP_ESME_ROK) {
        const pdu_value_t *id = pdu_get(resp, PDU_F_MESSAGE_ID);
        if (id) load_dlr_answer(id->ptr, id->len, slot->sent_ns, sess_id(s), now);
    }
    if (!err || err == SESS_ENACK) {                   /* a response came back */
        load_hist_record(&L.hist, (now - slot->sent_ns) / 1000);
        L.last_done_ns = now;
        L.responses++;
    }
    slot->next_free = c->free_slots;
    c->free_slots = slot;
    c->outstanding--;
    L.outstanding--;
    if (err != SESS_ECLOSED) load_fill(c);
    load_check_done();
}

/* Whether the budget (--count, --rate, stop) allows one more send. */
static int load_may_send(void)
{
    if (!L.sending || L.stopping) return 0;
    if (L.o.count && L.sent >= L.o.count) return 0;
    if (L.o.rate > 0 && L.tokens < 1) return 0;
    return 1;
}

/* Send submit_sm on c while its window has room and the budget allows. */
static void load_fill(load_conn_t *c)
{
    while (c->sess && c->bound && c->outstanding < L.o.window && load_may_send()) {
        load_slot_t *slot = c->free_slots;
        uint64_t t = uv_hrtime();
        long rc;
        slot->sent_ns = t;
        if (L.o.to_range)
            pdu_set_cstr(&L.sm, PDU_F_DESTINATION_ADDR, load_opts_dest(&L.o, L.sent, L.dest, sizeof L.dest));
        rc = sess_send(c->sess, &L.sm, load_on_submit, slot, net_now(L.net));
        if (rc < 0) {
            /* the window or output is full (the next completion retries),
             * or the session is closing */
            if (rc != SESS_EWINDOW && rc != SESS_EOUTPUT) c->bound = 0;
            break;
        }
        c->free_slots = slot->next_free;
        c->outstanding++;
        L.outstanding++;
        if (!L.sent) L.first_send_ns = t;
        L.sent++;
        if (L.o.rate > 0) L.tokens -= 1;
    }
    /* --count reached: stop once the last response is in */
    if (L.o.count && L.sent >= L.o.count && !L.stopping) {
        L.stopping = 1;
        load_check_done();
    }
}

/* --rate: every millisecond add rate * elapsed tokens (at most 10 ms worth,
 * so that a stall does not turn into a burst) and spend them round-robin. */
static void load_on_tick(uv_timer_t *t)
{
    uint64_t now = uv_hrtime();
    unsigned i, n = L.o.sessions;
    (void)t;
    L.tokens += L.o.rate * (double)(now - L.tokens_ns) / 1e9;
    if (L.tokens > L.burst) L.tokens = L.burst;
    L.tokens_ns = now;
    for (i = 0; i < n && L.tokens >= 1 && load_may_send(); i++) {
        load_conn_t *c = &L.conns[(L.rr + i) % n];
        if (!c->sess || !c->bound) continue;
        load_fill(c);
        net_touch(c->sess);                           /* sent outside a net callback */
    }
    L.rr = (L.rr + 1) % n;
}

static void load_on_stop_timer(uv_timer_t *t)
{
    (void)t;
    load_stop();
}

/* Every session has bound (or failed to): start the measured period. */
static void load_start(void)
{
    unsigned i;
    L.bind_end_ns = uv_hrtime();
    if (L.o.duration > 0)                             /* the sending (or holding) period */
        uv_timer_start(&L.stop, load_on_stop_timer, (uint64_t)(L.o.duration * 1000), 0);
    if (L.o.idle) {
        printf("bound %u of %u sessions in %.2f s\n", L.bound, L.o.sessions,
               (double)(L.bind_end_ns - L.bind_start_ns) / 1e9);
        fflush(stdout);
        if (!L.bound) load_finish();
        return;
    }
    if (!L.bound) {
        fprintf(stderr, "smppgw bench: no session bound\n");
        load_finish();
        return;
    }
    L.sending = 1;
    L.start_ns = uv_hrtime();
    if (!L.o.quiet) uv_timer_start(&L.progress, load_on_progress, 1000, 1000);
    if (L.o.rate > 0) {
        L.burst = L.o.rate / 100 > 1 ? L.o.rate / 100 : 1;
        L.tokens = 1;
        L.tokens_ns = uv_hrtime();
        uv_timer_start(&L.tick, load_on_tick, 1, 1);
    } else {
        for (i = 0; i < L.o.sessions; i++) {
            if (!L.conns[i].sess) continue;
            load_fill(&L.conns[i]);
            net_touch(L.conns[i].sess);
        }
    }
}

/* --duration elapsed or a signal came: no new sends; finish once the
 * outstanding responses are in (they time out after 30 s at worst). */
static void load_stop(void)
{
    if (L.finished) return;
    if (!L.sending) {                                 /* idle mode, or still binding */
        load_finish();
        return;
    }
    L.stopping = 1;
    load_check_done();
}

static void load_on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    if (L.stopping || L.finished) load_finish();      /* a second signal: stop waiting */
    else load_stop();
}

/* -- Connecting and binding ------------------------------------------------ */

static void load_connect_more(void);

static void load_bind_done(void)
{
    L.connecting--;
    load_connect_more();
    if (L.bound + L.bind_failed == L.o.sessions && !L.finished) load_start();
}

static void load_on_bound(sess_t *s, void *arg, const pdu_t *resp, int err)
{
    load_conn_t *c = arg;
    if (!err && resp->command_status == SMPP_ESME_ROK) {
        c->bound = c->live = 1;
        L.bound++;
        L.live++;
    } else {
        if (L.bind_failed++ < 5)
            fprintf(stderr, "smppgw bench: bind failed: %s\n",
                    err ? sess_strerror(err) : pdu_status_name(resp->command_status));
        if (!err) sess_close(s, "bind failed");
    }
    load_bind_done();
}

static void load_on_connect(net_t *n, sess_t *s, int status, void *arg)
{
    load_conn_t *c = arg;
    long rc;
    if (status < 0) {
        if (L.bind_failed++ < 5)
            fprintf(stderr, "smppgw bench: connect: %s\n", uv_strerror(status));
        load_bind_done();
        return;
    }
    c->sess = s;
    net_set_owner_data(s, (intptr_t)c);
    rc = sess_bind(s, L.o.transmitter ? SMPP_BIND_TRANSMITTER : SMPP_BIND_TRANSCEIVER,
                   L.o.system_id, L.o.password, "", load_on_bound, c, net_now(n));
    if (rc < 0) {
        L.bind_failed++;
        sess_close(s, "bind failed");
        load_bind_done();
    }
}

/* Keep up to LOAD_MAX_CONNECTING connects and binds in flight, so that
 * thousands of sessions do not overflow the peer's listen backlog. */
static void load_connect_more(void)
{
    sess_config_t cfg;
    sess_config_default(&cfg);
    cfg.window = L.o.window;
    cfg.response_timeout_ms = (uint32_t)(L.o.timeout * 1000 + 0.5);   /* --timeout; 30 s: a slow peer is measured */
    cfg.enquire_link_ms = 0;                  /* no traffic but ours */
    while (!L.finished && L.connecting < LOAD_MAX_CONNECTING && L.next_connect < L.o.sessions) {
        load_conn_t *c = &L.conns[L.next_connect++];
        int rc = net_connect(L.net, L.o.host, L.o.port, SESS_ESME, &cfg, load_on_connect, c);
        if (rc < 0) {
            if (L.bind_failed++ < 5) fprintf(stderr, "smppgw bench: connect: %s\n", uv_strerror(rc));
            if (L.bound + L.bind_failed == L.o.sessions) load_start();
            continue;
        }
        L.connecting++;
    }
}

/* The engine closed a session (the peer went away, or our shutdown). */
static void load_on_closed(net_t *n, sess_t *s, const char *reason, void *ud)
{
    load_conn_t *c = (load_conn_t *)net_owner_data(s);
    (void)n;
    (void)ud;
    if (!c) return;
    if (!L.finished && c->bound)
        fprintf(stderr, "smppgw bench: session %llu closed: %s\n",
                (unsigned long long)sess_id(s), reason);
    c->sess = NULL;
    c->bound = 0;
    if (c->live) {                                    /* it had bound: one fewer live */
        c->live = 0;
        L.live--;
        load_check_done();
    }
}

/* -- Report ------------------------------------------------------------------ */

/* The failures by name, as `"NAME": count` pairs (JSON) or `NAME count`. */
static void load_print_failures(int json)
{
    const char *sep = "";
    unsigned i;
    for (i = 0; i <= LOAD_STATUS_OTHER; i++) {
        const char *name = i < LOAD_STATUS_OTHER ? pdu_status_name(i) : NULL;
        char other[24];
        if (!L.failed_status[i]) continue;
        if (!name) {
            snprintf(other, sizeof other, "status_0x%X", i);
            name = i < LOAD_STATUS_OTHER ? other : "other_status";
        }
        printf(json ? "%s\"%s\":%llu" : "%s%s %llu", sep, name, (unsigned long long)L.failed_status[i]);
        sep = json ? "," : ", ";
    }
    for (i = 0; i < LOAD_NERR; i++) {
        if (!L.failed_err[i]) continue;
        printf(json ? "%s\"%s\":%llu" : "%s%s %llu", sep, sess_strerror(SESS_E_AT(i)),
               (unsigned long long)L.failed_err[i]);
        sep = json ? "," : ", ";
    }
}

/* s as a JSON string (addresses are the user's text: quotes and all). */
static void load_print_json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

/* How many destinations the messages went to: each number of the range
 * once the count reaches it. */
static unsigned long long load_destinations(void)
{
    if (!L.o.to_range) return L.sent ? 1 : 0;
    return L.sent < L.o.to_span ? L.sent : L.o.to_span;
}

static void load_report(void)
{
    const load_hist_t *h = &L.hist;
    double secs = L.last_done_ns > L.first_send_ns ? (double)(L.last_done_ns - L.first_send_ns) / 1e9 : 0;
    double bind_secs = L.bind_end_ns > L.bind_start_ns ? (double)(L.bind_end_ns - L.bind_start_ns) / 1e9 : 0;
    double tput = secs > 0 ? (double)L.responses / secs : 0;
    const load_hist_t *dh = &load_dlr.hist;
    load_dlr_expire(0);                   /* receipts still waiting for answers: unmatched */
    if (L.o.json) {
        printf("{\"sessions\":%u,\"bound\":%u,\"window\":%u,\"rate\":%g,\"size\":%u,"
               "\"bind_s\":%.3f,\"seconds\":%.3f,\"sent\":%llu,\"ok\":%llu,\"failed\":%llu,"
               "\"timeouts\":%llu,\"failed_by\":{",
               L.o.sessions, L.bound, L.o.window, L.o.rate, L.o.size, bind_secs, secs,
               L.sent, L.ok, L.failed, L.timeouts);
        load_print_failures(1);
        printf("},\"throughput\":%.0f,\"min_us\":%llu,\"p50_us\":%llu,\"p90_us\":%llu,"
               "\"p99_us\":%llu,\"p999_us\":%llu,\"max_us\":%llu,\"receipts\":%llu,"
               "\"receipts_unmatched\":%llu,\"receipt_p50_us\":%llu,\"receipt_p99_us\":%llu",
               tput, (unsigned long long)h->min, (unsigned long long)load_hist_percentile(h, 50),
               (unsigned long long)load_hist_percentile(h, 90),
               (unsigned long long)load_hist_percentile(h, 99),
               (unsigned long long)load_hist_percentile(h, 99.9), (unsigned long long)h->max,
               load_dlr.receipts, load_dlr.unmatched,
               (unsigned long long)load_hist_percentile(dh, 50), (unsigned long long)load_hist_percentile(dh, 99));
        printf(",\"receipts_missing\":%llu,\"receipt_max_us\":%llu", load_dlr.pending, (unsigned long long)dh->max);
        printf(",\"receipts_before_answer\":%llu,\"receipts_other_session\":%llu", load_dlr.early,
               load_dlr.other_sess);
        printf(",\"from\":");
        load_print_json_str(L.o.from);
        printf(",\"to\":");
        load_print_json_str(L.o.to);
        printf(",\"destinations\":%llu}\n", load_destinations());
        return;
    }
    printf("%u of %u sessions bound in %.2f s, window %u, %s:%d\n", L.bound, L.o.sessions,
           bind_secs, L.o.window, L.o.host, L.o.port);
    printf("from %s to %s (%llu destination%s)\n", L.o.from, L.o.to, load_destinations(),
           load_destinations() == 1 ? "" : "s");
    printf("sent %llu  ok %llu  failed %llu  timeouts %llu\n", L.sent, L.ok, L.failed, L.timeouts);
    if (L.failed) {
        printf("failed by status: ");
        load_print_failures(0);
        printf("\n");
    }
    printf("throughput %.0f round trips/s over %.3f s\n", tput, secs);
    printf("latency us: min %llu  p50 %llu  p90 %llu  p99 %llu  p99.9 %llu  max %llu\n",
           (unsigned long long)h->min, (unsigned long long)load_hist_percentile(h, 50),
           (unsigned long long)load_hist_percentile(h, 90),
           (unsigned long long)load_hist_percentile(h, 99),
           (unsigned long long)load_hist_percentile(h, 99.9), (unsigned long long)h->max);
    if (L.o.dlr) {
        printf("receipts %llu (%llu unmatched, %llu missing)  latency us: p50 %llu  p99 %llu  max %llu\n",
               load_dlr.receipts, load_dlr.unmatched, load_dlr.pending,
               (unsigned long long)load_hist_percentile(dh, 50), (unsigned long long)load_hist_percentile(dh, 99),
               (unsigned long long)dh->max);
        printf("receipts before their answer %llu (held, matched when it came), on another session than their "
               "answer %llu\n", load_dlr.early, load_dlr.other_sess);
    }
}

/* Report, then unbind every session and let the loop end. */
static void load_finish(void)
{
    if (L.finished) {                                 /* second call: give up waiting */
        uv_stop(L.loop);
        return;
    }
    L.finished = 1;
    L.stopping = 1;
    if (L.sending && !L.o.quiet) {
        load_on_progress(NULL);
        if (L.tty) fputc('\n', stderr);
    }
    if (L.o.idle) L.exit_code = L.bound == L.o.sessions ? 0 : 1;
    else {
        load_report();
        /* a session that did not bind (refused, max_per_address, --timeout) is a bench that did not run as asked */
        L.exit_code = L.bound == L.o.sessions && L.ok ? 0 : 1;
        if (L.bound && L.bound < L.o.sessions)
            fprintf(stderr, "smppgw bench: only %u of %u sessions bound\n", L.bound, L.o.sessions);
    }
    fflush(stdout);
    uv_timer_stop(&L.tick);
    uv_timer_stop(&L.stop);
    uv_timer_stop(&L.dlr_timer);
    uv_timer_stop(&L.progress);
    uv_unref((uv_handle_t *)&L.sigint);               /* a signal may still cut the unbinds short */
    uv_unref((uv_handle_t *)&L.sigterm);
    net_shutdown(L.net);
}

/* -- Main -------------------------------------------------------------------- */

int load_main(int argc, char **argv)
{
    static const net_owner_t owner = {NULL, load_on_request, NULL, load_on_closed, NULL, NULL, NULL};
    unsigned i, j;
    int rc = load_opts_parse(argc, argv, &L.o);
    if (rc) {
        load_opts_usage(rc > 0 ? stdout : stderr);
        return rc > 0 ? 0 : 2;
    }
    if (load_build_pdu() < 0) return 2;
    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_ERROR);
    L.loop = uv_default_loop();
    L.conns = calloc(L.o.sessions, sizeof *L.conns);
    if (!L.conns || !(L.net = net_new(L.loop, &owner, NULL))) {
        fprintf(stderr, "smppgw bench: out of memory\n");
        return 1;
    }
    if (!L.o.idle) {                                  /* W completion slots per session */
        for (i = 0; i < L.o.sessions; i++) {
            load_conn_t *c = &L.conns[i];
            if (!(c->slots = calloc(L.o.window, sizeof *c->slots))) {
                fprintf(stderr, "smppgw bench: out of memory\n");
                return 1;
            }
            for (j = 0; j < L.o.window; j++) {
                c->slots[j].conn = c;
                c->slots[j].next_free = j + 1 < L.o.window ? &c->slots[j + 1] : NULL;
            }
            c->free_slots = c->slots;
        }
    }
    if (L.o.dlr) {
        if (load_dlr_init() < 0) {
            fprintf(stderr, "smppgw bench: out of memory\n");
            return 1;
        }
        L.dlr = 1;
    }
    L.tty = isatty(STDERR_FILENO);
    uv_timer_init(L.loop, &L.dlr_timer);
    uv_timer_init(L.loop, &L.progress);
    uv_timer_init(L.loop, &L.tick);
    uv_timer_init(L.loop, &L.stop);
    uv_signal_init(L.loop, &L.sigint);
    uv_signal_init(L.loop, &L.sigterm);
    uv_signal_start(&L.sigint, load_on_signal, SIGINT);
    uv_signal_start(&L.sigterm, load_on_signal, SIGTERM);
    L.bind_start_ns = uv_hrtime();
    load_connect_more();
    uv_run(L.loop, UV_RUN_DEFAULT);

    uv_close((uv_handle_t *)&L.tick, NULL);
    uv_close((uv_handle_t *)&L.stop, NULL);
    uv_close((uv_handle_t *)&L.dlr_timer, NULL);
    uv_close((uv_handle_t *)&L.progress, NULL);
    uv_close((uv_handle_t *)&L.sigint, NULL);
    uv_close((uv_handle_t *)&L.sigterm, NULL);
    uv_run(L.loop, UV_RUN_NOWAIT);
    net_free(L.net);
    for (i = 0; i < L.o.sessions; i++) free(L.conns[i].slots);
    free(L.conns);
    load_dlr_free();
    return L.exit_code;
}
