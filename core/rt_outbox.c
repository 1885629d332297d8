/* rt_outbox.c -- receipts and MO delivered from the store: core.post and
 * the per-account deliverers (see rt_outbox.h for the contract).
 *
 * A deliverer runs at the end of a loop turn, after the commit, when it
 * was woken (post, a receiver bound, a window slot freed, a retry due). It
 * takes at most as many items as its receivers have free window slots
 * (leased in the store, so a crash offers them again), sends each to the
 * next receiver with a slot, and on the completion: a response removes the
 * item (a refusal too, logged and counted: the ESME has answered; only the
 * statuses that ask for a retry put it back); a timeout or a closed link
 * puts it back with a backoff. Items for an account without a receiver
 * stay in its outbox until one binds or their TTL ends (store expiry).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lbridge.h"
#include "rt.h"
#include "rt_gwr.h"
#include "rt_outbox.h"
#include "rt_store.h"

#define DELIVER_BATCH   500     /* items one deliverer takes in one turn at most */
#define RETRY_CLOSED_S  0.25    /* a link closed under the item: soon, on any receiver */
#define RETRY_MIN_S     2.0     /* a timeout or a "retry later" status: doubling from here */
#define RETRY_MAX_S     60.0
#define POLL_S          1.0     /* items not due yet (backoff, lease): look again then */
#define TICK_MS         250     /* the retry timer's period while something waits */
#define REFUSAL_LOG_S   10      /* one line about refusals per account this often */
#define REF_MAX         80      /* longest message id kept for the trace line */

/* A delivery in flight: the completion's argument. */
typedef struct flight_s {
    long long        rowid;
    long long        attempts;
    char             ref[REF_MAX + 1];   /* "" when the item names no message */
    struct flight_s *next;               /* the free list */
} flight_t;

/* What a take's callback decided for an item, done once the scan is over
 * (the store's take updates its rows after the scan). */
typedef struct after_s {
    long long rowid;
    double    due;                       /* NaN: remove it (undeliverable) */
} after_t;

static struct {
    pdu_t       pdu;                     /* scratch: post's encode, take's decode */
    uint8_t    *buf;                     /* post's encoding */
    size_t      cap;
    double      ttl;                     /* seconds a posted item may wait */
    flight_t   *free;                    /* pooled flight records */
    after_t     after[DELIVER_BATCH];
    int         nafter;
    uv_timer_t  timer;                   /* retries and items not due yet */
    int         timer_init, timer_on, waiting;
    uint64_t    posted, delivered, refused, retried, undeliverable, inflight;
    uint64_t    full;                    /* posts the full outbox refused (the poster keeps the item) */
    uint64_t    held_turns;              /* turns in which deliveries waited for failed commits */
} ob;

/* -- Waking -------------------------------------------------------------------------------- */

static void on_tick(uv_timer_t *t);

/* Look at a's outbox again at time `at` (rt_time). */
static void wake_at(rt_acct_t *a, double at)
{
    if (a->wake_at > 0 && a->wake_at <= at) return;
    if (a->wake_at <= 0) ob.waiting++;
    a->wake_at = at;
    if (ob.timer_init && !ob.timer_on && uv_timer_start(&ob.timer, on_tick, TICK_MS, TICK_MS) == 0)
        ob.timer_on = 1;
}

static void tick_one(rt_acct_t *a, void *arg)
{
    double now = *(double *)arg;
    if (a->wake_at > 0 && a->wake_at <= now) {
        a->wake_at = 0;
        ob.waiting--;
        rt_acct_wake(a);
    }
}

static void on_tick(uv_timer_t *t)
{
    double now = rt_time();
    (void)t;
    rt_acct_foreach(tick_one, &now);
    if (!ob.waiting && ob.timer_on) {
        uv_timer_stop(&ob.timer);
        ob.timer_on = 0;
    }
}

/* -- Completion ------------------------------------------------------------------------------ */

/* Statuses with which an ESME asks for the message again later. A
 * receiver that answers ESME_RINVBNDSTS is unbinding (or not bound to
 * receive): it said nothing about the message, another receiver takes it. */
static int temporary(uint32_t status)
{
    return status == SMPP_ESME_RTHROTTLED || status == SMPP_ESME_RMSGQFUL || status == SMPP_ESME_RX_T_APPN
        || status == SMPP_ESME_RINVBNDSTS;
}

static double backoff(long long attempts)
{
    double d = RETRY_MIN_S;
    while (--attempts > 0 && d < RETRY_MAX_S) d *= 2;
    return d < RETRY_MAX_S ? d : RETRY_MAX_S;
}

/* A trace line on the message the item was about (when it names one). */
static void trace(store_t *s, const flight_t *f, const char *line)
{
    store_change_t c;
    if (!f->ref[0]) return;
    memset(&c, 0, sizeof c);
    store_msg_clear(&c.v);
    c.part = -1;
    c.trace.p = line;
    c.trace.n = strlen(line);
    c.at = rt_time();
    store_update(s, (store_str_t){f->ref, strlen(f->ref)}, &c);
}

static void log_refusal(rt_acct_t *a, sess_t *s, const char *what)
{
    double now = rt_time();
    if (now - a->refusal_logged < REFUSAL_LOG_S) {
        a->refusals_unlogged++;
        return;
    }
    log_msg(LOG_WARN, sess_id(s), "%s refused a delivery: %s; removed from its outbox "
            "(%llu more refusals since the last line)", a->name, what,
            (unsigned long long)a->refusals_unlogged);
    a->refusal_logged = now;
    a->refusals_unlogged = 0;
}

static void on_delivered(sess_t *s, void *arg, const pdu_t *resp, int err)
{
    flight_t *f = arg;
    const char *name = sess_system_id(s);
    rt_acct_t *a = rt_acct_get(name, strlen(name), 0);
    store_t *st = rt_store();
    char line[160];
    if (a && a->inflight) a->inflight--;
    if (ob.inflight) ob.inflight--;
    if (st) {
        double now = rt_time();
        if (!err && resp->command_status == SMPP_ESME_ROK) {
            store_outbox_ack(st, f->rowid);
            ob.delivered++;
            if (a) a->delivered++;
            snprintf(line, sizeof line, "delivered to %s", name);
            trace(st, f, line);
        } else if ((!err && temporary(resp->command_status)) || err == SESS_ETIMEOUT || err == SESS_ECLOSED) {
            int soon = err == SESS_ECLOSED || (!err && resp->command_status == SMPP_ESME_RINVBNDSTS);
            double due = now + (soon ? RETRY_CLOSED_S : backoff(f->attempts));
            store_outbox_retry(st, f->rowid, due);
            ob.retried++;
            if (a) {
                a->retried++;
                wake_at(a, due);
            }
        } else {
            /* answered with an error, a generic_nack (resp is the nack) or
             * a response that would not decode */
            char what[64];
            const char *status = resp ? pdu_status_name(resp->command_status) : NULL;
            if (!resp) snprintf(what, sizeof what, "%s", sess_strerror(err));
            else if (status) snprintf(what, sizeof what, "%s%s", err ? "generic_nack " : "", status);
            else snprintf(what, sizeof what, "%s0x%08X", err ? "generic_nack " : "", resp->command_status);
            store_outbox_ack(st, f->rowid);
            ob.refused++;
            snprintf(line, sizeof line, "refused by %s: %s", name, what);
            trace(st, f, line);
            if (a) {
                a->refused++;
                log_refusal(a, s, what);
            }
        }
    }
    f->next = ob.free;
    ob.free = f;
    if (a) {
        rt_acct_wake(a);                  /* a window slot is free */
        rt_acct_release(a);
    }
}

/* -- Delivering ------------------------------------------------------------------------------- */

/* The session an item should go on (a receipt: the ESME session its
 * message came in on, so that it follows that message's answer there),
 * kept in memory by the item's rowid, direct-mapped: rowids come from one
 * counter, so the table holds the newest PREF_SLOTS items posted with
 * one, bounded. An item sent (or dropped as no PDU) leaves it; one that
 * expires unsent leaves it to a newer item. Not stored: after a restart
 * the items go to any receiver. */
#define PREF_SLOTS (1u << 14)
static struct {
    struct { long long rowid; uint64_t sess; } *slot;
    uint64_t used;                          /* slots in use (outbox_stats preferred) */
} pref;

static void prefer_put(long long rowid, uint64_t sess)
{
    unsigned long long i = (unsigned long long)rowid % PREF_SLOTS;
    if (!sess || rowid <= 0) return;
    if (!pref.slot && !(pref.slot = calloc(PREF_SLOTS, sizeof *pref.slot))) return;   /* no preference then */
    if (!pref.slot[i].rowid) pref.used++;
    pref.slot[i].rowid = rowid;
    pref.slot[i].sess = sess;
}

/* The session of item rowid (0: any); drop: it is no longer wanted. */
static uint64_t prefer_of(long long rowid, int drop)
{
    unsigned long long i = (unsigned long long)rowid % PREF_SLOTS;
    if (!pref.slot || rowid <= 0 || pref.slot[i].rowid != rowid) return 0;
    if (drop) {
        pref.slot[i].rowid = 0;
        pref.used--;
    }
    return pref.slot[i].sess;
}

typedef struct take_s {
    rt_acct_t *a;
    double     now;
} take_t;

static void after(long long rowid, double due)
{
    ob.after[ob.nafter].rowid = rowid;
    ob.after[ob.nafter].due = due;
    ob.nafter++;
}

static int on_item(const store_item_t *it, void *ud)
{
    take_t *tk = ud;
    rt_acct_t *a = tk->a;
    sess_t *s = rt_acct_pick_pref(a, prefer_of(it->rowid, 0));
    pdu_error_t perr;
    flight_t *f;
    long seq;
    if (!s) {                               /* every slot went meanwhile */
        after(it->rowid, tk->now);
        return 0;
    }
    if (pdu_decode(&ob.pdu, (const uint8_t *)it->pdu.p, it->pdu.n, 0, &perr) != SMPP_ESME_ROK) {
        log_msg(LOG_ERROR, 0, "outbox item %lld for %s is not a PDU (%s): removed", it->rowid, a->name, perr.msg);
        a->undeliverable++;
        ob.undeliverable++;
        prefer_of(it->rowid, 1);
        after(it->rowid, NAN);
        return 0;
    }
    if ((f = ob.free) != NULL) ob.free = f->next;
    else if (!(f = malloc(sizeof *f))) {
        after(it->rowid, tk->now + RETRY_CLOSED_S);
        return 0;
    }
    f->rowid = it->rowid;
    f->attempts = it->attempts;
    f->ref[0] = '\0';
    if (it->ref.p && it->ref.n <= REF_MAX) {
        memcpy(f->ref, it->ref.p, it->ref.n);
        f->ref[it->ref.n] = '\0';
    }
    seq = sess_send(s, &ob.pdu, on_delivered, f, uv_now(rt.loop));
    if (seq < 0) {                          /* output full, or no longer allowed: later */
        f->next = ob.free;
        ob.free = f;
        after(it->rowid, tk->now + backoff(it->attempts));
        return 0;
    }
    net_touch(s);
    prefer_of(it->rowid, 1);
    a->inflight++;
    ob.inflight++;
    return 0;
}

static void deliver(rt_acct_t *a, store_t *st)
{
    store_str_t name;
    take_t tk;
    uint32_t slots = rt_acct_free_slots(a);
    int n, got, i;
    name.p = a->name;
    name.n = a->len;
    if (!slots) {                           /* no receiver, or every window full: a bind or a response wakes it; */
        if (a->nrx && store_outbox_count(st, name) > (long long)a->inflight)
            wake_at(a, rt_time() + POLL_S);   /* one late to answer may have no response to come */
        return;
    }
    n = slots < DELIVER_BATCH ? (int)slots : DELIVER_BATCH;
    tk.a = a;
    tk.now = rt_time();
    ob.nafter = 0;
    got = store_outbox_take(st, name, n, tk.now, NAN, on_item, &tk);
    for (i = 0; i < ob.nafter; i++) {
        if (isnan(ob.after[i].due)) store_outbox_ack(st, ob.after[i].rowid);
        else store_outbox_retry(st, ob.after[i].rowid, ob.after[i].due);
    }
    if (got < 0) {
        log_msg(LOG_ERROR, 0, "outbox of %s: %s; trying again in %g s", a->name, store_errmsg(st), POLL_S);
        wake_at(a, tk.now + POLL_S);
    } else if (got == n) {
        rt_acct_wake(a);                  /* a full batch: more may be due */
    } else if (store_outbox_count(st, name) > (long long)a->inflight) {
        wake_at(a, tk.now + POLL_S);        /* some are not due yet */
    }
}

void rt_outbox_turn(void)
{
    store_t *st = rt_store();
    rt_acct_t *list = rt_acct_take_woken(), *a, *next;   /* wakes from now on: next turn */
    /* after failed commits (a full disk) the items they lost are due again
     * at once, some in flight or delivered: taking them every turn sent
     * the same receipts tens of thousands of times a second */
    double until = st && !rt_gwr_on() ? rt_store_wait_until() : 0;
    int hold = rt_time() < until;
    if (hold && list) ob.held_turns++;
    for (a = list; a; a = next) {
        next = a->run_next;
        a->queued = 0;
        if (rt_gwr_on()) rt_gwr_deliver(a);        /* the cluster's store: Redis */
        else if (hold) wake_at(a, until);
        else if (st && rt.net) deliver(a, st);
        rt_acct_release(a);
    }
    /* woken again meanwhile: the next turn must come without waiting for
     * input, so the timer fires at once */
    if (rt_acct_woken() && ob.timer_init) {
        uv_timer_start(&ob.timer, on_tick, 0, TICK_MS);
        ob.timer_on = 1;
    }
}

/* -- Serving ---------------------------------------------------------------------------------- */

void rt_outbox_start(lua_State *L, int serve_idx)
{
    ob.ttl = rt_opt_num(L, serve_idx, "outbox_ttl", 86400);
    if (uv_timer_init(rt.loop, &ob.timer) == 0) {
        ob.timer_init = 1;
        ob.timer.data = NULL;
    }
}

void rt_outbox_close(void)
{
    if (!ob.timer_init) return;
    ob.timer_init = ob.timer_on = 0;
    uv_close((uv_handle_t *)&ob.timer, NULL);
}

void rt_outbox_stop(void)
{
    flight_t *f;
    rt_outbox_close();
    while ((f = ob.free) != NULL) {
        ob.free = f->next;
        free(f);
    }
    free(ob.buf);
    ob.buf = NULL;
    ob.cap = 0;
    ob.waiting = 0;
    free(pref.slot);
    memset(&pref, 0, sizeof pref);
}

/* -- Lua functions ----------------------------------------------------------------------------- */

/* The encoding of the PDU in ob.pdu into ob.buf: its length, or a message. */
static long encode(const char **why)
{
    pdu_error_t perr;
    long n;
    if (!ob.buf && !(ob.buf = malloc(ob.cap = 4096))) return *why = "out of memory", -1;
    while ((n = pdu_encode(&ob.pdu, ob.buf, ob.cap, &perr)) == PDU_ENOSPC) {
        uint8_t *p = realloc(ob.buf, perr.need);
        if (!p) return *why = "out of memory", -1;
        ob.buf = p;
        ob.cap = perr.need;
    }
    if (n < 0) {
        static char msg[sizeof perr.msg];
        memcpy(msg, perr.msg, sizeof msg);
        *why = msg;
    }
    return n;
}

/* core.post(account, pdu [, { ref =, ttl =, delay = }]) -> true | nil,
 * "full", detail | nil, "io: ...". The PDU (deliver_sm or data_sm) goes to
 * the account's outbox in the store; the account's deliverer sends it
 * when a receiver has room. ref: the message it is about (a trace line is
 * added there when it is delivered or refused); ttl: seconds it may wait
 * (default serve{outbox_ttl}); delay: seconds before the first attempt. */
static int l_post(lua_State *L)
{
    size_t alen;
    const char *account = luaL_checklstring(L, 1, &alen), *why;
    store_t *st = rt_store();
    store_str_t bytes, ref = { NULL, 0 };
    double ttl = ob.ttl, delay = 0;
    long long rowid;
    long n;
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!st) return luaL_error(L, "smpp.post: no store in use (serve{store =})");
    if ((why = lbridge_check_pdu(L, 2, &ob.pdu, NULL)) != NULL) return luaL_error(L, "smpp.post: %s", why);
    if (ob.pdu.command_id != SMPP_DELIVER_SM && ob.pdu.command_id != SMPP_DATA_SM)
        return luaL_error(L, "smpp.post: only deliver_sm and data_sm go to an account's receivers, not %s",
                          ob.pdu.cmd ? ob.pdu.cmd->name : "this command");
    if (lua_istable(L, 3)) {
        lua_getfield(L, 3, "ref");
        if (!lua_isnil(L, -1)) ref.p = luaL_checklstring(L, -1, &ref.n);   /* kept by the table */
        lua_pop(L, 1);
        ttl = rt_opt_num(L, 3, "ttl", ttl);
        delay = rt_opt_num(L, 3, "delay", 0);
    } else if (!lua_isnoneornil(L, 3)) {
        return luaL_argerror(L, 3, "a table of options { ref =, ttl =, delay = }");
    }
    if ((n = encode(&why)) < 0) return luaL_error(L, "smpp.post: %s", why);
    bytes.p = (const char *)ob.buf;
    bytes.n = (size_t)n;
    if (rt_gwr_on()) return rt_gwr_post(L, account, alen, bytes);     /* the cluster's store: Redis */
    rowid = rt_outbox_post(account, alen, bytes, ref, delay, ttl, 0);
    if (rowid < 0) {
        lua_pushnil(L);
        if (rowid == STORE_EFULL) lua_pushliteral(L, "full");
        else lua_pushfstring(L, "%s: %s", store_strerror((int)rowid), store_errmsg(st));
        lua_pushstring(L, store_errmsg(st));
        return 3;
    }
    lua_pushboolean(L, 1);
    return 1;
}

long long rt_outbox_post(const char *account, size_t alen, store_str_t pdu, store_str_t ref, double delay, double ttl,
                         uint64_t prefer)
{
    store_t *st = rt_store();
    store_str_t acct;
    double now = rt_time();
    long long rowid;
    rt_acct_t *a;
    if (!st) return STORE_EIO;
    if (ttl < 0) ttl = ob.ttl;
    acct.p = account;
    acct.n = alen;
    rowid = store_outbox_push(st, acct, pdu, ref, now + delay, now + ttl);
    if (rowid == STORE_EFULL) {
        ob.full++;
        if ((a = rt_acct_get(account, alen, 0)) != NULL) a->full++;   /* only a live entry: no new one */
    }
    if (rowid < 0) return rowid;
    prefer_put(rowid, prefer);
    ob.posted++;
    if ((a = rt_acct_get(account, alen, 1)) != NULL) {
        a->posted++;
        if (delay > 0) wake_at(a, now + delay);
        else rt_acct_wake(a);
    }
    return rowid;
}

void rt_outbox_cancel(long long rowid)
{
    store_t *st = rt_store();
    prefer_of(rowid, 1);
    if (st && rowid > 0) store_outbox_ack(st, rowid);
}

/* core.outbox_stats() -> { posted =, full =, delivered =, refused =,
 * retried =, undeliverable =, inflight = } over every account since start
 * (full: posts the full outbox refused; refused: deliveries an ESME
 * refused). */
static int l_outbox_stats(lua_State *L)
{
    lua_createtable(L, 0, 8);
    SET_NUM("posted", ob.posted);
    SET_NUM("full", ob.full);
    SET_NUM("delivered", ob.delivered);
    SET_NUM("refused", ob.refused);
    SET_NUM("retried", ob.retried);
    SET_NUM("undeliverable", ob.undeliverable);
    SET_NUM("inflight", ob.inflight);
    SET_NUM("held_turns", ob.held_turns);
    SET_NUM("preferred", pref.used);
    return 1;
}

const luaL_Reg rt_outbox_lib[] = {
    {"post", l_post},
    {"outbox_stats", l_outbox_stats},
    {NULL, NULL}
};
