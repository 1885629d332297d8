/* rt_fwd.c -- the forwarder of each upstream link: at the end of a loop turn, after the commit, it takes
 * due messages from the link's queue in the store (from its cursor: nothing is written per row taken), as
 * many as its sessions have free window slots and its throughput allows, and sends each; on the completion
 * it writes the answer, a retry, or asks the gateway's Lua event handler to decide (see rt_gw.h; the
 * decision is applied in rt_gw_decide.c).
 *
 * Retries: ESME_RTHROTTLED and ESME_RMSGQFUL pause the link for its throttle_backoff, then the message goes
 * again (after throttle_retries the handler may move it); a timeout, a lost connection, ESME_RINVBNDSTS and
 * ESME_RSYSERR (the link's fault, not the message's) send it again after retry_min doubling to retry_max
 * (the upstream may have it twice: the trace says so). A message past its validity is not sent: the handler
 * finishes it (EXPIRED); a link that cannot send sweeps for them (SWEEP_S).
 *
 * From memory: while every row of a queue that is not in flight or being decided is one the gateway stored
 * since (the queue has nothing else waiting), the link holds those rows in memory as they are stored
 * (rt_fwd_hold, rt_gw_held.c: their octets and facts), in the queue's order, and its forwarder sends from
 * them after the commit instead of reading them back, moving the cursor past each as the reader would.
 * Anything else putting a row in the queue or deciding on one (a retry, a move, an event, a sweep, a failed
 * commit) drops what is held and the reader takes the rows. A row is in the queue (due set) until its answer
 * is written: a crash before that sends it again after restart.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "msgid.h"
#include "rt.h"
#include "rt_gw.h"
#include "rt_gw_int.h"
#include "rt_gwr.h"
#include "rt_route.h"
#include "rt_store.h"

#define FWD_BATCH    500        /* rows one forwarder takes in one turn at most */
#define CHECK_MS     5000       /* queues counted empty are checked against the store this often */
#define FWD_EPS      1e-6       /* a due written into a queue is after its cursor by at least this */
#define TICK_MS      100        /* looking again at queues with rows not due yet (retries, pauses) */
#define SWEEP_S      2.0        /* a link that cannot send looks for expired messages this often */
#define SWEEP_BATCH  500        /* rows one sweep looks at (one per turn while its queue moves) */

/* A message in flight: the completion's argument. */
typedef struct flight_s {
    rt_link_t *link;
    long long  rowid, part, attempts, rd;
    double     first, sent;              /* rt_gw_stamp()s: the upstream may have had it since; this sending */
    double     submitted;                /* rt_time() the ESME's message was accepted (per-route latency) */
    char       id[72], account[24], route[72];
    struct flight_s *next;               /* the free list */
} flight_t;

static struct {
    rt_link_t *woken;                    /* run list of the turn */
    flight_t  *free;
    uv_timer_t timer;
    int        timer_init, resync;
    int        failures, wrote;          /* store writes failed in a row; one succeeded this turn */
    double     paused_until;             /* no forwarder sends before (a store write failed) */
    double     started;                  /* rt_gw_stamp() when this process started forwarding */
} fwd;

/* -- Waking ---------------------------------------------------------------------------- */

void rt_fwd_wake(rt_link_t *l)
{
    if (l->woken) return;
    l->woken = 1;
    l->run_next = fwd.woken;
    fwd.woken = l;
}

static void wake_waiting(rt_link_t *l, void *arg)
{
    (void)arg;
    if (l->queued > (long long)l->inflight) rt_fwd_wake(l);
}

/* A queue whose count lost rows (rt_fwd__count_lost): every queue is
 * read again (the resync of a failed commit). */
static void check_link(rt_link_t *l, void *ud)
{
    if (!rt_fwd__count_lost(l)) return;
    *(int *)ud = 1;
    rt_fwd_wake(l);
}

/* Every TICK_MS: links with rows not in flight look again (retries come
 * due, pauses end, sweeps); every CHECK_MS the queues the counts say are
 * empty are checked against the store. The timer does not keep the loop
 * alive. */
static void on_tick(uv_timer_t *t)
{
    static uint64_t checked;
    store_t *st = rt_store();
    uint64_t now = uv_now(t->loop);
    rt_gw_foreach(wake_waiting, NULL);
    rt_fwd__park_tick();                     /* nothing to do unless the store refused a parked row's write */
    if (st && !fwd.resync && !rt_gwr_on() && now - checked >= CHECK_MS) {
        int lost = 0;
        checked = now;
        rt_gw_foreach(check_link, &lost);
        if (lost) fwd.resync = 1;
    }
}

/* A due at `t` or later after l's cursor (which cannot have passed it). */
static double due_after(rt_link_t *l, double t)
{
    return l->cur_set && t <= l->cur_due ? l->cur_due + FWD_EPS : t;
}

double rt_fwd_due(rt_link_t *l, double t) { return due_after(l, t); }

static double backoff(long long attempts)
{
    double d = rt_gw_conf.retry_min;
    while (--attempts > 0 && d < rt_gw_conf.retry_max) d *= 2;
    return d < rt_gw_conf.retry_max ? d : rt_gw_conf.retry_max;
}

/* -- Sessions ---------------------------------------------------------------------------- */

static int can_send(sess_t *s)
{
    sess_state_t st = sess_state(s);
    return (st == SESS_BOUND_TX || st == SESS_BOUND_TRX) && !sess_is_closing(s);
}

static uint32_t free_slots(rt_link_t *l)
{
    uint32_t i, n = 0;
    for (i = 0; i < l->nsess; i++) {
        sess_t *s = net_find(rt.net, l->sess[i]);
        if (s && can_send(s) && sess_window_used(s) < sess_config(s)->window)
            n += sess_config(s)->window - sess_window_used(s);
    }
    return rt_gw_cap_slots(l, n);
}

static sess_t *pick(rt_link_t *l)
{
    uint32_t k;
    if (!rt_gw_cap_slots(l, 1)) return NULL;            /* a slow link's window, shrunk */
    for (k = 0; k < l->nsess; k++) {
        uint32_t i = (l->rr + k) % l->nsess;
        sess_t *s = net_find(rt.net, l->sess[i]);
        if (s && can_send(s) && sess_window_used(s) < sess_config(s)->window) {
            l->rr = i + 1;
            return s;
        }
    }
    return NULL;
}

/* -- Events ------------------------------------------------------------------------------ */

static void copy_str(char *dst, size_t cap, store_str_t s)
{
    size_t n = s.p ? (s.n < cap ? s.n : cap - 1) : 0;
    if (n) memcpy(dst, s.p, n);
    dst[n] = '\0';
}

static void event_of_row(rt_gw_event_t *ev, const char *kind, rt_link_t *l, const store_fwd_row_t *r)
{
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ev->link = l;
    ev->rowid = r->rowid;
    ev->part = r->part;
    ev->attempts = r->attempts;
    ev->rd = r->registered_delivery;
    ev->decided = 1;
    copy_str(ev->id, sizeof ev->id, r->id);
    copy_str(ev->account, sizeof ev->account, r->account);
    copy_str(ev->route, sizeof ev->route, r->route);
}

static void event_of_flight(rt_gw_event_t *ev, const char *kind, const flight_t *f, uint32_t status)
{
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ev->link = f->link;
    ev->rowid = f->rowid;
    ev->part = f->part;
    ev->attempts = f->attempts + 1;
    ev->rd = f->rd;
    ev->status = status;
    ev->decided = 1;
    memcpy(ev->id, f->id, sizeof ev->id);
    memcpy(ev->account, f->account, sizeof ev->account);
    memcpy(ev->route, f->route, sizeof ev->route);
}

static store_str_t str(const char *s)
{
    store_str_t v;
    v.p = s;
    v.n = s ? strlen(s) : 0;
    return v;
}

/* A write of the forwarding path failed, or the commit holding it: what
 * an upstream answered is not recorded, so its message is still due. No
 * forwarder sends again before a backoff (retry_min doubling to retry_max
 * while writes keep failing), and the queues are then read again from
 * their start: a message is never sent again at once because the store
 * could not record its last sending. */
static void count_links(rt_link_t *l, void *arg)
{
    (void)l;
    (*(int *)arg)++;
}

static void store_failed(void)
{
    double now = rt_time();
    int links = 0;
    /* every failed commit, in a pause too: the rows it lost were counted
     * in their links' queues (read again from the store) and may be held
     * (never sent: their ESMEs were told ESME_RMSGQFUL) */
    fwd.resync = 1;
    rt_fwd__unrec_lost();                            /* the answers taken this turn (rt_fwd_unrec.c) */
    rt_gw_foreach(rt_fwd__held_drop, NULL);
    if (now < fwd.paused_until) return;              /* one step of the backoff per pause */
    fwd.failures++;
    fwd.paused_until = now + backoff(fwd.failures);
    rt_gw_foreach(count_links, &links);
    if (links)
        log_msg(LOG_WARN, 0, "gateway: the store does not take writes; forwarding paused for %.1f s",
                fwd.paused_until - now);
}

void rt_fwd__write_failed(store_t *st, const char *what, const char *id)
{
    log_kind(LOG_ERROR, 0, "forwarding write not stored", "gateway: %s of %s not stored: %s", what, id,
             store_errmsg(st));
    store_failed();
}

/* -- Completion ------------------------------------------------------------------------------ */

static void flight_free(flight_t *f)
{
    f->next = fwd.free;
    fwd.free = f;
}

/* taken: no answer came (the upstream may have it): f->first is kept for the row's later sendings */
static void retry(store_t *st, flight_t *f, double delay, uint32_t status, int taken, const char *line)
{
    rt_link_t *l = f->link;
    double now = rt_time();
    l->retried++;
    if (store_fwd_retry(st, f->rowid, due_after(l, now + delay), status, taken ? f->first : NAN, now, str(line)) < 0)
        rt_fwd__write_failed(st, "a retry", f->id);
    else fwd.wrote = 1;
}

static void accepted(store_t *st, flight_t *f, sess_t *s, const pdu_t *resp)
{
    rt_link_t *l = f->link;
    const pdu_value_t *mid = pdu_get(resp, PDU_F_MESSAGE_ID);
    store_str_t uid = { "", 0 }, key = { NULL, 0 };
    char kbuf[160], line[256];
    rt_line_t tl;
    double now = rt_time();
    int rc;
    rt_fwd__unrec_answered(f->rowid);                /* counted if the turn's commit fails */
    if (mid && mid->ptr) {
        uid.p = (const char *)mid->ptr;
        uid.n = mid->len;
    }
    if (rt_gw_wants_receipt(f->rd) && uid.n > 0 && uid.n < sizeof kbuf / 2 - 1) {
        long n = msgid_key(uid.p, uid.n, l->fmt_resp, kbuf, sizeof kbuf);
        if (n >= 0) {
            key.p = kbuf;
            key.n = (size_t)n;
        }
    }
    if (!resp->naddr) {                    /* the usual line: the store's to keep */
        rc = store_fwd_sent(st, f->rowid, uid, key, key.p == NULL, now, (long long)sess_id(s),
                            (store_str_t){ NULL, 0 });
    } else {
        tl.p = line;
        tl.cap = sizeof line;
        tl.n = store_fwd_line_sent(line, sizeof line, (store_str_t){ l->name, l->len }, (long long)sess_id(s),
                                   f->attempts + 1, uid);
        rt_gw_line_str(&tl, "; some destinations refused (unsuccess_sme)");
        rc = store_fwd_sent(st, f->rowid, uid, key, key.p == NULL, now, 0, (store_str_t){ line, tl.n });
    }
    if (rc < 0) {
        rt_fwd__write_failed(st, "an upstream's answer", f->id);
        return;
    }
    fwd.wrote = 1;
    if (rc > 0) {
        l->queued--;
        l->accepted++;
    }
    if (key.p) rt_gw_rcpt_early(l, st, key, f->first);
}

static void on_done(sess_t *s, void *arg, const pdu_t *resp, int err)
{
    flight_t *f = arg;
    rt_link_t *l = f->link;
    store_t *st = rt_store();
    rt_gw_event_t ev;
    char line[256];
    uint32_t status = resp ? resp->command_status : 0;
    if (l->inflight) l->inflight--;
    rt_fwd_wake(l);                                  /* a window slot is free */
    rt_gw_answer_count(l, err, status, f->sent);
    if (!st) {
        flight_free(f);
        return;
    }
    if (resp && status != SMPP_ESME_RTHROTTLED && status != SMPP_ESME_RMSGQFUL)   /* a final answer */
        rt_route_latency(f->route, strlen(f->route), rt_time() - f->submitted);
    if (!err && status == SMPP_ESME_ROK) {
        accepted(st, f, s, resp);
    } else if (!err && (status == SMPP_ESME_RTHROTTLED || status == SMPP_ESME_RMSGQFUL)) {
        l->throttled++;
        l->paused_until = rt_time() + l->throttle_backoff;
        if (f->attempts + 1 > l->throttle_retries) {
            event_of_flight(&ev, "throttled", f, status);
            snprintf(ev.detail, sizeof ev.detail, "sent to %s (session %llu, attempt %lld): %s", l->name,
                     (unsigned long long)sess_id(s), f->attempts + 1, pdu_status_name(status));
            rt_gw_event(&ev);
        } else {
            snprintf(line, sizeof line, "sent to %s (session %llu, attempt %lld): %s, again in %.1f s", l->name,
                     (unsigned long long)sess_id(s), f->attempts + 1, pdu_status_name(status), l->throttle_backoff);
            retry(st, f, l->throttle_backoff, status, 0, line);
        }
    } else if ((!err || err == SESS_ENACK) && (status == SMPP_ESME_RINVBNDSTS || status == SMPP_ESME_RSYSERR)) {
        /* the link's fault, not the message's: its session is going away
         * (the peer unbinds) or the upstream failed inside; sent again
         * over whichever bind has room, after retry_min, doubling for a
         * system error that lasts */
        double d = status == SMPP_ESME_RINVBNDSTS ? rt_gw_conf.retry_min : backoff(f->attempts + 1);
        snprintf(line, sizeof line, "sent to %s (session %llu, attempt %lld): %s; sent again in %.1f s", l->name,
                 (unsigned long long)sess_id(s), f->attempts + 1, pdu_status_name(status), d);
        retry(st, f, d, status, 0, line);
    } else if (err == SESS_ETIMEOUT || err == SESS_ECLOSED || err == SESS_EBADRESP) {
        double d = err == SESS_ECLOSED ? rt_gw_conf.retry_min : backoff(f->attempts + 1);
        snprintf(line, sizeof line, "sent to %s (session %llu, attempt %lld): %s; sent again in %.1f s "
                 "(the upstream may have it twice)", l->name, (unsigned long long)sess_id(s), f->attempts + 1,
                 err == SESS_ECLOSED ? "connection lost before the answer" : sess_strerror(err), d);
        retry(st, f, d, 0, 1, line);
    } else {
        /* refused: an error status, or generic_nack (resp is the nack) */
        event_of_flight(&ev, "refused", f, status);
        snprintf(ev.detail, sizeof ev.detail, "sent to %s (session %llu, attempt %lld): %s%s", l->name,
                 (unsigned long long)sess_id(s), f->attempts + 1, err == SESS_ENACK ? "generic_nack " : "",
                 pdu_status_name(status) ? pdu_status_name(status) : "an unknown status");
        rt_gw_event(&ev);
    }
    flight_free(f);
}

/* -- Taking and sending ----------------------------------------------------------------------- */

typedef struct take_s {
    rt_link_t *l;
    double     now;
    int        stopped;
} take_t;

static void advance(rt_link_t *l, const store_fwd_row_t *r)
{
    l->cur_due = r->due;
    l->cur_rowid = r->rowid;
    l->cur_set = 1;
}

static int on_row(const store_fwd_row_t *r, void *ud)
{
    take_t *tk = ud;
    rt_link_t *l = tk->l;
    rt_gw_event_t ev;
    char why[sizeof ev.detail];
    flight_t *f;
    sess_t *s;
    long seq;
    if (!isnan(r->expires) && r->expires <= tk->now) {
        advance(l, r);
        event_of_row(&ev, "expired", l, r);
        snprintf(ev.detail, sizeof ev.detail, "its validity ended before %s took it", l->name);
        rt_gw_event(&ev);
        return 0;
    }
    if (!r->checked && rt_gw_store__bad(r, l->name, why, sizeof why)) {
        advance(l, r);
        event_of_row(&ev, "refused", l, r);
        ev.status = SMPP_ESME_RSYSERR;
        memcpy(ev.detail, why, sizeof why);
        rt_gw_event(&ev);
        return 0;
    }
    if (rt_fwd__unrec_held(rt_store(), r) || !(s = pick(l)) || !tb_take(&l->tb, uv_now(rt.loop))) {
        tk->stopped = 1;                  /* the row stays ahead of the cursor (held back: rt_fwd_unrec.c) */
        return 1;
    }
    if ((f = fwd.free) != NULL) fwd.free = f->next;
    else if (!(f = malloc(sizeof *f))) {
        tk->stopped = 1;
        return 1;
    }
    f->link = l;
    f->rowid = r->rowid;
    f->part = r->part;
    f->attempts = r->attempts;
    f->rd = r->registered_delivery;
    copy_str(f->id, sizeof f->id, r->id);
    copy_str(f->account, sizeof f->account, r->account);
    copy_str(f->route, sizeof f->route, r->route);
    f->submitted = r->submitted;
    /* its first unanswered sending, else acceptance by a process before (which may have sent it, then died) */
    f->sent = rt_gw_stamp();
    f->first = r->first > 0 ? r->first : r->submitted < fwd.started ? r->submitted : f->sent;
    /* the stored octets are the request as it goes out (stored as it
     * came, or as the handler's table encoded): sent as they are, with
     * a sequence_number of this session's */
    seq = sess_send_octets(s, (const uint8_t *)r->pdu.p, r->pdu.n, on_done, f, uv_now(rt.loop));
    if (seq == SESS_EINVAL) {             /* not a request's octets: it never will take it */
        advance(l, r);
        event_of_flight(&ev, "refused", f, SMPP_ESME_RSYSERR);
        snprintf(ev.detail, sizeof ev.detail, "not sent to %s: %s", l->name, sess_last_error(s));
        flight_free(f);
        rt_gw_event(&ev);
        return 0;
    }
    if (seq < 0) {                        /* output full, or the session is going: next turn */
        flight_free(f);
        tk->stopped = 1;
        return 1;
    }
    advance(l, r);
    net_touch(s);
    l->inflight++;
    l->sent++;
    return 0;
}

/* A link that cannot send (no bind, paused, unanswered: rt_gw.h) looks through its due rows
 * (unanswered: all, retries to come too) SWEEP_BATCH at a time: those whose validity ended are
 * finished, and once it has not sent (or had an answer) for `wait` seconds the others are offered
 * to the event handler, which may move them to another upstream of their route; while a full
 * batch moved some, the next one goes in the next turn (else SWEEP_S later). */
static int on_sweep(const store_fwd_row_t *r, void *ud)
{
    take_t *tk = ud;
    rt_link_t *l = tk->l;
    rt_gw_event_t ev;
    l->sweep_due = r->due;
    l->sweep_rowid = r->rowid;
    if (!isnan(r->expires) && r->expires <= tk->now) {
        event_of_row(&ev, "expired", l, r);
        snprintf(ev.detail, sizeof ev.detail, "its validity ended while %s could not send", l->name);
        rt_gw_event(&ev);
    } else if (tk->stopped) {                /* stalled */
        event_of_row(&ev, "stalled", l, r);
        ev.decided = 0;
        snprintf(ev.detail, sizeof ev.detail, l->silent_since ? "%s has answered nothing for %.0f s"
                 : "%s has not been able to send for %.0f s", l->name, tk->now - l->down_since);
        rt_gw_event(&ev);
    }
    return 0;
}

static void sweep(store_t *st, rt_link_t *l, double now)
{
    take_t tk;
    long long moved = l->queued;                  /* what its events move (or finish) leaves the count */
    int got;
    if (!l->down_since) l->down_since = now;
    if (l->inflight || now < l->sweep_at || l->queued <= 0) return;
    l->sweep_at = now + SWEEP_S;
    rt_fwd__held_drop(l, NULL);                   /* its events may decide on held rows */
    tk.l = l;
    tk.now = now;
    tk.stopped = now - l->down_since >= l->wait;     /* here: whether its messages are stalled */
    got = store_fwd_take(st, (store_str_t){l->name, l->len}, l->sweep_rowid ? l->sweep_due : NAN, l->sweep_rowid,
                         now + (l->silent_since ? 1e9 : FWD_HORIZON), SWEEP_BATCH, on_sweep, &tk);
    if (got < SWEEP_BATCH) l->sweep_rowid = 0;       /* the end: from the start next time */
    else if (tk.stopped && l->queued < moved) {      /* moving its queue: the next batch in the next turn */
        l->sweep_at = now;
        rt_fwd_wake(l);
    }
}

static void resync(rt_link_t *l, void *arg)
{
    (void)arg;
    l->cur_set = 0;
    l->queued = 0;
}

static void recount(store_str_t upstream, long long n, void *ud)
{
    rt_link_t *l = rt_gw_link(upstream.p, upstream.n, 1);
    (void)ud;
    if (l) l->queued = n - l->parked;         /* parked rows are in the queue, never taken */
}

static void count_busy(rt_link_t *l, void *arg)
{
    *(int *)arg |= l->inflight != 0;
}

/* The rows l holds, sent from memory (run() calls it after the commit):
 * only while they are all that waits in the queue -- every other row is
 * in flight or being decided by the event handler, both behind the
 * cursor -- so that they are the rows the reader would take next, in its
 * order (each was put after the cursor, in (due, key) order), with the
 * same checks (validity, a free window slot, the throughput) and the
 * cursor moved past each. Returns 1 when the reader need not look this
 * turn: all went, or the link stopped (no slot, throttled) with the rest
 * still held; 0 when the reader must take them (then nothing is held). */
static int run_held(rt_link_t *l, take_t *tk)
{
    rt_fwd_held_t *h;
    uint64_t drops = l->held_drops;
    if (!l->held) return 0;
    if (!rt_fwd__held_whole(l)) {
        rt_fwd__held_drop(l, NULL);
        return 0;
    }
    while ((h = l->held) != NULL && !tk->stopped && h->r.due <= tk->now + FWD_HORIZON) {
        uint64_t sent = l->sent;
        /* out of the list before on_row: an event it raises (expired,
         * refused) runs the handler at once, and a decision drops what
         * is held */
        if (!(l->held = h->next)) l->held_tail = &l->held;
        l->nheld--;
        if (on_row(&h->r, tk)) {          /* no slot, throttled: it stays first (nothing ran) */
            if (!(h->next = l->held)) l->held_tail = &h->next;
            l->held = h;
            l->nheld++;
            break;
        }
        if (l->sent != sent) l->sent_memory++;
        rt_block_put(h);
    }
    if (l->held_drops != drops) return 0;          /* dropped on the way: the rest is the reader's */
    if (!l->held || tk->stopped) return 1;
    rt_fwd__held_drop(l, NULL);                           /* not due yet: the reader's */
    return 0;
}

static void run(store_t *st, rt_link_t *l)
{
    take_t tk;
    uint32_t slots;
    int n, got;
    tk.l = l;
    tk.now = rt_time();
    tk.stopped = 0;
    if (l->queued <= 0) return;
    slots = free_slots(l);
    /* unanswered (rt_gw.h): unable to send since it went silent; a trial (one row) now and then */
    if (l->silent_since && (!l->down_since || l->down_since > l->silent_since)) l->down_since = l->silent_since;
    if (!slots || tk.now < l->paused_until || !rt_gw_link_answering(l, tk.now, 0, NULL)) {
        sweep(st, l, tk.now);
        return;
    }
    if (l->silent_since) rt_fwd__held_drop(l, NULL);
    else l->down_since = 0;
    if (run_held(l, &tk)) return;
    n = l->silent_since ? 1 : slots < FWD_BATCH ? (int)slots : FWD_BATCH;
    got = store_fwd_take(st, (store_str_t){l->name, l->len}, l->cur_set ? l->cur_due : NAN, l->cur_rowid,
                         tk.now + FWD_HORIZON, n, on_row, &tk);
    if (got < 0) log_msg(LOG_ERROR, 0, "gateway: the queue of %s: %s", l->name, store_errmsg(st));
    else if (l->silent_since && !l->inflight) sweep(st, l, tk.now);     /* no trial went: its stall */
    else if (got == n && !tk.stopped) rt_fwd_wake(l);    /* a full batch: more may be due */
}

void rt_fwd_turn(void)
{
    store_t *st = rt_store();
    rt_link_t *list = fwd.woken, *l, *next;
    uint32_t fail;
    int paused, committed;
    fwd.woken = NULL;                     /* wakes from now on: the next turn */
    committed = rt_store_committed(&fail);
    rt_fwd__turn_over(committed);         /* the turn's runs can no longer take their messages back */
    if (!committed) store_failed();
    else if (fwd.wrote) fwd.failures = 0;                 /* a forwarding write committed */
    rt_fwd__unrec_turn(st ? store_writes_committed(st) : 0);     /* after: the failure counts this turn's */
    fwd.wrote = 0;
    paused = rt_time() < fwd.paused_until;
    /* a write after the commit (a release that ran Lua): what was held may
     * not be stored yet, and only stored messages are sent */
    if (st && store_in_txn(st)) rt_gw_foreach(rt_fwd__held_drop, NULL);
    if (fwd.resync && st) {
        /* a failed commit lost writes the forwarders counted on: once
         * nothing is in flight, every queue is read again from its start */
        int busy = 0;
        rt_gw_foreach(count_busy, &busy);
        if (!busy) {
            fwd.resync = 0;
            rt_gw_foreach(resync, NULL);
            store_fwd_counts(st, recount, NULL);
        }
    }
    for (l = list; l; l = next) {
        next = l->run_next;
        l->woken = 0;
        if (rt_gwr_on()) rt_gwr_run(l);      /* the cluster's store: Redis */
        else if (st && rt.net && !fwd.resync && !paused) run(st, l);
    }
    /* woken again meanwhile: the next turn must come without waiting for input */
    if (fwd.woken && fwd.timer_init) uv_timer_start(&fwd.timer, on_tick, 0, TICK_MS);
}

/* -- Serving ---------------------------------------------------------------------------------- */

void rt_fwd_start(void)
{
    fwd.started = rt_gw_stamp();
    if (uv_timer_init(rt.loop, &fwd.timer) == 0) {
        fwd.timer_init = 1;
        uv_unref((uv_handle_t *)&fwd.timer);
        uv_timer_start(&fwd.timer, on_tick, TICK_MS, TICK_MS);
    }
}

void rt_fwd_close(void)
{
    if (!fwd.timer_init) return;
    fwd.timer_init = 0;
    uv_close((uv_handle_t *)&fwd.timer, NULL);
}

void rt_fwd_stop(void)
{
    flight_t *f;
    rt_fwd_close();
    rt_gw_foreach(rt_fwd__held_drop, NULL);
    rt_fwd__park_free();
    rt_fwd__unrec_free();
    for (; (f = fwd.free) != NULL; free(f)) fwd.free = f->next;
    rt_block_free_all();                  /* kept for held rows and receipts (rt_gw_rcpt_drop was before) */
    fwd.woken = NULL;
    fwd.resync = fwd.failures = fwd.wrote = 0;
    fwd.paused_until = 0;
}
