/* rt_gw_held.c -- the rows a link holds in memory: messages stored while
 * its queue has nothing else waiting, kept with their octets and facts in
 * the queue's order so that the forwarder (rt_fwd.c, run_held) sends them
 * after the commit without reading them back. Whatever else changes the
 * queue drops them (rt_fwd__held_drop), and the queue reader takes them.
 *
 * Who owns what: each held row is malloc'd here and owned by its link's
 * list until it is sent (rt_fwd.c frees it) or dropped. Also here: which
 * run stored which message this turn (a fixed table, forgotten at the
 * turn's end), so that a run that fails is not followed by its message;
 * and the messages of runs that wait (parked: a record per run, malloc'd
 * here, freed when the run ends or serving does).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rt.h"
#include "rt_gw.h"
#include "rt_gw_int.h"
#include "rt_gwr.h"
#include "rt_store.h"
#include "rt_task.h"

#define HELD_MAX 10000          /* rows a link holds at most (then: the reader's), ~300 octets each */

static store_str_t held_copy(char **at, store_str_t v)
{
    store_str_t out;
    out.p = *at;
    out.n = v.p ? v.n : 0;
    if (out.n) memcpy(*at, v.p, out.n);
    *at += out.n;
    return out;
}

/* Do the rows l holds make up all that waits in its queue (every other
 * row in flight or being decided)? */
int rt_fwd__held_whole(const rt_link_t *l)
{
    return l->queued - (long long)l->inflight - l->deciding == l->nheld;
}

void rt_fwd_hold(rt_link_t *l, const rt_fwd_fresh_t *m)
{
    rt_fwd_held_t *h;
    char *at;
    /* called before the row is counted in l->queued */
    if (!rt_fwd__held_whole(l) || l->nheld >= HELD_MAX
        || !(h = malloc(sizeof *h + m->id.n + m->account.n + m->route.n + m->pdu.n))) {
        rt_fwd__held_drop(l, NULL);                       /* the reader's from here */
        return;
    }
    memset(&h->r, 0, sizeof h->r);
    at = h->data;
    h->r.rowid = m->key;
    h->r.registered_delivery = m->rd;
    h->r.due = m->due;
    h->r.expires = m->expires;
    h->r.submitted = m->submitted;
    h->r.upstream.p = l->name;
    h->r.upstream.n = l->len;
    h->r.id = held_copy(&at, m->id);
    h->r.account = held_copy(&at, m->account);
    h->r.route = held_copy(&at, m->route);
    h->r.pdu = held_copy(&at, m->pdu);
    h->next = NULL;
    if (!l->held) l->held_tail = &l->held;
    *l->held_tail = h;
    l->held_tail = &h->next;
    l->nheld++;
}

void rt_fwd__held_drop(rt_link_t *l, void *arg)
{
    rt_fwd_held_t *h;
    (void)arg;
    if (l->held) l->held_drops++;
    while ((h = l->held) != NULL) {
        l->held = h->next;
        free(h);
    }
    l->held_tail = &l->held;
    l->nheld = 0;
}

/* -- What a run stored this turn ---------------------------------------------------------- */

/* The turn's list, in order: (co, key, link) for a message a run stored
 * (or, RELEASED, one a run that waited put back in its queue when it
 * ended; or, under no run, a parked one ended REJECTD / EXPIRED: written
 * again should the commit fail), (co, 0, NULL) where co was taken from the pool for another run
 * or made (its entries before that mark are an earlier run's, which ended
 * well: a failed coroutine is not pooled). A failed run's messages are
 * its entries after its coroutine's last mark. Appending is all the hot
 * path does; the scan is the failure's, or the wait's. */
#define TURN_MAX 8192
#define RELEASED (-1)
#define REJECTD  8                     /* message_state */
#define EXPIRED  3

static struct {
    lua_State *co;
    long long  key;
    rt_link_t *l;
    double     expires;
    int        kind;                  /* 0 stored, RELEASED, REJECTD, EXPIRED */
} turn_rows[TURN_MAX];
static int nturn, overflow;        /* overflow: a mark was lost this turn, nothing is undone */

static void note(lua_State *co, long long key, rt_link_t *l, double expires, int kind)
{
    if (nturn == TURN_MAX) {
        overflow = 1;
        return;
    }
    turn_rows[nturn].co = co;
    turn_rows[nturn].key = key;
    turn_rows[nturn].l = l;
    turn_rows[nturn].expires = expires;
    turn_rows[nturn].kind = kind;
    nturn++;
}

static void reused(lua_State *co)
{
    if (nturn) note(co, 0, NULL, 0, 0);
}

static void on_wait(lua_State *co, int waits);

void rt_fwd_stored(lua_State *co, long long key, rt_link_t *l, double expires)
{
    static int hooked;
    if (!hooked) {
        rt_task_set_reuse_hook(reused);
        rt_task_set_wait_hook(on_wait);
        hooked = 1;
    }
    note(co, key, l, expires, 0);
}

/* -- Parked: the messages of runs that wait ----------------------------------------------- */

/* A run that waits with messages it stored, by coroutine (buckets by its
 * address). Each row is parked in the store (store_fwd_park): in its
 * queue, never taken, not in l->queued but in l->parked. */
#define PARK_BUCKETS 256

typedef struct park_row_s {
    long long  key;
    rt_link_t *l;
    double     expires;               /* NaN: none */
    uint64_t   turn;                  /* parked in this turn (park.turn) */
} park_row_t;

typedef struct park_s {
    lua_State     *co;
    int            n, cap;
    int            lost;              /* a failed commit lost rows it parked (park_lost) ... */
    uint32_t       lost_status;       /* ... and what its ESME_ROK becomes */
    park_row_t    *row;
    struct park_s *next;
} park_t;

static struct {
    park_t   *bucket[PARK_BUCKETS];
    long long runs, rows;             /* records, parked rows in all */
    uint64_t  turn;                   /* turns so far */
    double    next_expiry;            /* no parked row's validity ends before */
} park;

static park_t **park_slot(lua_State *co)
{
    park_t **pp = &park.bucket[((uintptr_t)co >> 4) % PARK_BUCKETS];
    while (*pp && (*pp)->co != co) pp = &(*pp)->next;
    return pp;
}

/* co's record, taken out of the table (NULL: none). */
static park_t *park_take(lua_State *co)
{
    park_t **pp, *p;
    if (!park.runs) return NULL;      /* the usual case: no run waits with messages */
    pp = park_slot(co);
    if ((p = *pp) != NULL) {
        *pp = p->next;
        park.runs--;
    }
    return p;
}

static void park_free(park_t *p)
{
    free(p->row);
    free(p);
}

/* Row i leaves p (to be settled); park_drop: forgotten, l->parked
 * counted down. */
static void park_remove(park_t *p, int i)
{
    park.rows--;
    p->row[i] = p->row[--p->n];
}

static void park_drop(park_t *p, int i)
{
    p->row[i].l->parked--;
    park_remove(p, i);
}

static const char failed_line[] = "the handler failed after storing it (answered ESME_RSYSERR): not forwarded";
static const char expired_line[] = "its validity ended while the handler that stored it was still running: "
                                   "not forwarded";

/* What a parked row becomes, whose write failed (the store refused it,
 * or a failed commit lost it): tried again from the forwarder's tick. The
 * row is still parked in the store, and still counted in l->parked. */
typedef struct settle_s {
    long long  key;
    rt_link_t *l;
    int        kind;                  /* RELEASED, REJECTD, EXPIRED */
    int        counted;               /* its outcome is counted already (l->refused...) */
} settle_t;

#define AGAIN_BATCH   256            /* settlements tried in one turn: a transaction that can fit */
#define AGAIN_WAIT_MAX 5.0           /* s between tries at most while their commits fail */

static struct {
    settle_t *v;
    size_t    n, cap;
    uint64_t  turn;                   /* a batch was written in this turn (wrote) ... */
    int       wrote;
    double    next, wait;             /* ... no batch before next; wait: the back-off */
} again;

static void settle_later(long long key, rt_link_t *l, int kind, int counted)
{
    if (again.n == again.cap) {
        size_t cap = again.cap ? again.cap * 2 : 16;
        settle_t *v = realloc(again.v, cap * sizeof *v);
        if (!v) {                         /* it stays parked in the store: queued again at the next start */
            log_msg(LOG_ERROR, 0, "gateway: out of memory; a parked message waits for the next start");
            l->parked--;
            return;
        }
        again.v = v;
        again.cap = cap;
    }
    again.v[again.n].key = key;
    again.v[again.n].l = l;
    again.v[again.n].kind = kind;
    again.v[again.n].counted = counted;
    again.n++;
}

/* A parked row (counted in l->parked) put back in its queue (RELEASED:
 * its run ended well; co the run's, noted in the turn's list so that an
 * answer found bad after the commit, rt_fwd_undo, still ends it) or ended
 * (REJECTD: its run failed, its request answered ESME_RSYSERR; EXPIRED:
 * its validity ended first). Noted in the turn's list: a failed commit
 * has it done again. When the store refuses the write, it is tried again
 * from the tick (settle_later); 0 then, else 1. */
static int settle(store_t *st, lua_State *co, long long key, rt_link_t *l, int kind, int counted, int first)
{
    double now = rt_time();
    int rc;
    if (kind == RELEASED) {
        rc = store_fwd_unpark(st, key, rt_fwd_due(l, now));
    } else {
        store_str_t line = kind == REJECTD ? (store_str_t){failed_line, sizeof failed_line - 1}
                                           : (store_str_t){expired_line, sizeof expired_line - 1};
        rc = store_fwd_state(st, key, kind, 1, kind == REJECTD ? SMPP_ESME_RSYSERR : 0, now, line);
    }
    if (rc < 0) {
        if (first)
            log_msg(LOG_ERROR, 0, "gateway: a parked message of %s not %s: %s (tried again)", l->name,
                    kind == RELEASED ? "put back in its queue" : "ended", store_errmsg(st));
        if (first) settle_later(key, l, kind, counted);
        return 0;
    }
    l->parked--;
    if (rc > 0 && kind == RELEASED) {
        l->queued++;
        rt_fwd_wake(l);
    } else if (rc > 0 && !counted) {
        if (kind == REJECTD) l->refused++;
        else l->expired++;
    }
    if (rc > 0) note(kind == RELEASED ? co : NULL, key, l, NAN, kind);
    return 1;
}

/* Every row of p, settled as kind; p is freed. */
static void park_settle(store_t *st, park_t *p, int kind)
{
    while (p->n > 0) {
        park_row_t r = p->row[p->n - 1];
        park_remove(p, p->n - 1);
        settle(st, p->co, r.key, r.l, kind, 0, 1);
    }
    park_free(p);
}

/* The tick: the settlements the store refused, tried again, at most
 * AGAIN_BATCH in a turn, and after a turn whose commit lost them not
 * before again.next (again_commit). */
static void settle_again(store_t *st)
{
    size_t i, n = again.n < AGAIN_BATCH ? again.n : AGAIN_BATCH;
    if (again.next > 0 && rt_time() < again.next) return;
    again.wrote = 1;
    again.turn = park.turn;
    for (i = 0; i < n; i++) {
        settle_t a = again.v[i];
        if (!settle(st, NULL, a.key, a.l, a.kind, a.counted, 0)) break;      /* refused still: later */
        again.v[i].l = NULL;
    }
    n = 0;
    for (i = 0; i < again.n; i++)
        if (again.v[i].l) again.v[n++] = again.v[i];
    again.n = n;
}

/* co's run starts to wait: what it stored this turn (its entries after
 * its last mark) is parked under its record. */
static void park_run(lua_State *co)
{
    store_t *st = rt_store();
    park_t **pp, *p;
    int i;
    if (!nturn || overflow || !st || rt_gwr_on()) return;
    for (i = nturn - 1; i >= 0; i--) {
        rt_link_t *l = turn_rows[i].l;
        int rc;
        if (turn_rows[i].co != co) continue;
        if (!l) break;                        /* co's mark: what comes before is an earlier run's */
        turn_rows[i].co = NULL;               /* the record's from here */
        if ((rc = store_fwd_park(st, turn_rows[i].key)) <= 0) {
            if (rc < 0) log_msg(LOG_ERROR, 0, "gateway: a message not parked while its handler waits: %s",
                                store_errmsg(st));
            continue;
        }
        if (!*(pp = park_slot(co))) {
            if (!(p = calloc(1, sizeof *p))) goto nomem;
            p->co = co;
            *pp = p;
            park.runs++;
        }
        p = *pp;
        if (p->n == p->cap) {
            int cap = p->cap ? p->cap * 2 : 4;
            park_row_t *row = realloc(p->row, (size_t)cap * sizeof *row);
            if (!row) goto nomem;
            p->row = row;
            p->cap = cap;
        }
        p->row[p->n].key = turn_rows[i].key;
        p->row[p->n].l = l;
        p->row[p->n].expires = turn_rows[i].expires;
        p->row[p->n].turn = park.turn;
        p->n++;
        park.rows++;
        if (turn_rows[i].expires < park.next_expiry || park.rows == 1) park.next_expiry = turn_rows[i].expires;
        rt_fwd__held_drop(l, NULL);           /* it may be held: not sent from memory */
        l->queued--;
        l->parked++;
        continue;
nomem:  /* not parked after all: queued again (forwarded, as before parking existed) */
        if (store_fwd_unpark(st, turn_rows[i].key, rt_fwd_due(l, rt_time())) < 0)
            log_msg(LOG_ERROR, 0, "gateway: a message not put back in its queue: %s", store_errmsg(st));
    }
}

static void on_wait(lua_State *co, int waits)
{
    store_t *st;
    park_t *p;
    if (waits) park_run(co);
    else if ((p = park_take(co)) != NULL) {   /* ended without failing (a failure took its record) */
        if ((st = rt_store()) != NULL) park_settle(st, p, RELEASED);
        else {
            while (p->n > 0) park_drop(p, p->n - 1);
            park_free(p);
        }
    }
}

/* The tick (every 100 ms, rt_fwd.c): settlements the store refused are
 * tried again, and a parked row whose validity ended is ended EXPIRED,
 * not forwarded (its ESME has not been answered yet: no receipt). Only
 * while rows are parked or waiting to be settled. */
void rt_fwd__park_tick(double now)
{
    store_t *st = rt_store();
    double next = HUGE_VAL;
    int b, i;
    if (!st) return;
    if (again.n) settle_again(st);
    if (!park.rows || now < park.next_expiry) return;
    for (b = 0; b < PARK_BUCKETS; b++) {
        park_t *p;
        for (p = park.bucket[b]; p; p = p->next)
            for (i = p->n - 1; i >= 0; i--) {
                park_row_t r = p->row[i];
                if (!(r.expires <= now)) {
                    if (r.expires < next) next = r.expires;
                    continue;
                }
                park_remove(p, i);
                settle(st, NULL, r.key, r.l, EXPIRED, 0, 1);
            }
    }
    park.next_expiry = next;
}

/* Serving ends: the records go (the rows stay parked in the store and
 * are put back in their queues at the next start). */
void rt_fwd__park_free(void)
{
    int b;
    for (b = 0; b < PARK_BUCKETS; b++) {
        park_t *p;
        while ((p = park.bucket[b]) != NULL) {
            park.bucket[b] = p->next;
            while (p->n > 0) park_drop(p, p->n - 1);
            park_free(p);
        }
    }
    park.runs = park.rows = 0;
    while (again.n > 0) again.v[--again.n].l->parked--;
    free(again.v);
    again.v = NULL;
    again.cap = 0;
    again.wrote = 0;
    again.next = again.wait = 0;
}

/* -- What the run's ESME is told decides its messages ------------------------------------ */

/* p's run lost rows it parked to the turn's failed commit: it must not
 * answer ESME_ROK for them (rt_fwd_lost). */
static void park_lost(park_t *p)
{
    uint32_t fail = SMPP_ESME_RSYSERR;
    rt_store_committed(&fail);
    p->lost = 1;
    p->lost_status = fail;
}

int rt_fwd_lost(lua_State *co, uint32_t *status)
{
    park_t *p;
    if (!park.runs || !(p = *park_slot(co)) || !p->lost) return 0;
    *status = p->lost_status;
    return 1;
}

/* Called while the held answers of a turn whose commit failed are given
 * (before rt_fwd__turn_over): the run of co was to answer ESME_ROK and
 * answers an error. Its rows parked in earlier turns, and those it put
 * back in their queues this turn (the failed commit lost that: they are
 * parked in the store still), are ended REJECTED from the tick instead of
 * queued; what it stored this turn is gone with the commit. Rows it
 * parked this turn are left to park_commit_failed (its record may be a
 * new run's, should co have been taken again this turn). */
void rt_fwd_refused(lua_State *co)
{
    park_t *p;
    int i;
    if (!rt_store() || rt_gwr_on()) return;
    if (rt_store_committed(NULL)) {           /* (not called so): an error answer after a commit */
        rt_fwd_undo(co);
        return;
    }
    if (park.runs && (p = *park_slot(co)) != NULL)
        for (i = p->n - 1; i >= 0; i--) {
            park_row_t r = p->row[i];
            if (r.turn == park.turn) continue;
            park_remove(p, i);
            settle_later(r.key, r.l, REJECTD, 0);
        }
    if (overflow) return;
    for (i = nturn - 1; i >= 0; i--) {
        rt_link_t *l = turn_rows[i].l;
        if (turn_rows[i].co != co) continue;
        if (!l) break;                        /* co's mark: what comes before is an earlier run's */
        if (turn_rows[i].kind != RELEASED) continue;
        turn_rows[i].kind = 0;                /* not for park_commit_failed */
        l->queued--;
        l->parked++;
        settle_later(turn_rows[i].key, l, REJECTD, 0);
    }
}

/* A failed commit lost this turn's writes: rows parked this turn were
 * lost with their messages; rows put back in their queues or ended this
 * turn are parked in the store again (or gone, if parked this turn too):
 * settled again from the tick, their outcome counted already. */
static void park_commit_failed(void)
{
    int b, i, n = nturn;
    for (b = 0; b < PARK_BUCKETS && park.rows; b++) {
        park_t *p;
        for (p = park.bucket[b]; p; p = p->next)
            for (i = p->n - 1; i >= 0; i--)
                if (p->row[i].turn == park.turn) {
                    park_drop(p, i);
                    park_lost(p);
                }
    }
    nturn = 0;
    for (i = 0; i < n; i++) {
        rt_link_t *l = turn_rows[i].l;
        int kind = turn_rows[i].kind;
        if (kind != RELEASED && kind != REJECTD && kind != EXPIRED) continue;
        if (kind == RELEASED) l->queued--;
        l->parked++;
        settle_later(turn_rows[i].key, l, kind, 1);
    }
}

/* The turn's commit is over: a batch of settlements it lost is tried
 * again after a wait that doubles (0.2 s .. AGAIN_WAIT_MAX) while commits
 * fail, so that a store short of space is not kept full by the same large
 * transaction every 100 ms; one that commits, at the next tick. */
static void again_commit(int committed)
{
    if (!again.wrote || again.turn != park.turn) return;
    again.wrote = 0;
    if (committed) {
        again.wait = again.next = 0;
        return;
    }
    again.wait = again.wait > 0 ? again.wait * 2 : 0.2;
    if (again.wait > AGAIN_WAIT_MAX) again.wait = AGAIN_WAIT_MAX;
    again.next = rt_time() + again.wait;
}

void rt_fwd__turn_over(int committed)
{
    again_commit(committed);
    if (!committed && nturn + park.rows > 0) park_commit_failed();
    nturn = overflow = 0;
    park.turn++;
}

void rt_fwd_undo(lua_State *co)
{
    store_t *st = rt_store();
    park_t *p;
    int i;
    if (!st || rt_gwr_on()) return;
    if ((p = park_take(co)) != NULL) park_settle(st, p, REJECTD);   /* what it stored in earlier turns */
    if (overflow) return;
    for (i = nturn - 1; i >= 0; i--) {
        rt_link_t *l = turn_rows[i].l;
        int rc;
        if (turn_rows[i].co != co) continue;
        if (!l) break;                        /* co's mark: what comes before is an earlier run's */
        turn_rows[i].co = NULL;
        turn_rows[i].kind = 0;                /* (a row put back this turn: not again) */
        rt_fwd__held_drop(l, NULL);           /* it may be held: the reader's now, which skips it */
        rc = store_fwd_state(st, turn_rows[i].key, 8 /* REJECTD */, 1, SMPP_ESME_RSYSERR, rt_time(),
                             (store_str_t){failed_line, sizeof failed_line - 1});
        if (rc > 0) {
            l->queued--;
            l->refused++;
        } else if (rc < 0) {
            log_msg(LOG_ERROR, 0, "gateway: a message whose handler failed: %s", store_errmsg(st));
        }
    }
}
