/* rt_gw_held.c -- the rows a link holds in memory: messages stored while
 * its queue has nothing else waiting, kept with their octets and facts in
 * the queue's order so that the forwarder (rt_fwd.c, run_held) sends them
 * after the commit without reading them back. Whatever else changes the
 * queue drops them (rt_fwd__held_drop), and the queue reader takes them.
 *
 * Who owns what: each held row (an rt_block.h block) is taken here and owned
 * by its link's list until sent (rt_fwd.c gives it back) or dropped. Also
 * here: which run stored which message this turn (a list grown as needed,
 * kept until serving ends, emptied each turn), so that a run that fails is
 * not followed by its message; and the messages of runs that wait (parked:
 * a record per run, malloc'd here, freed when the run or serving ends).
 */
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
    store_str_t out = { *at, v.p ? v.n : 0 };
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
        || !(h = rt_block_get(sizeof *h + m->id.n + m->account.n + m->route.n + m->pdu.n))) {
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
    h->r.checked = m->checked;
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
        rt_block_put(h);
    }
    l->held_tail = &l->held;
    l->nheld = 0;
}

/* -- What a run stored this turn ---------------------------------------------------------- */

/* The turn's list, in order: (co, key, link) for a message a run stored
 * (or, RELEASED, one a run that waited put back in its queue when it
 * ended; or, under no run, a parked one ended REJECTD: written again
 * should the commit fail), (co, 0, NULL) where co was taken from the pool
 * for another run or made (its entries before that mark are an earlier
 * run's, which ended well: a failed coroutine is not pooled). A failed
 * run's messages are its entries after its coroutine's last mark.
 * Appending is all the hot path does; the scan is the failure's, or the
 * wait's. Every run of a turn adds a mark and a row, so the list grows
 * (doubling, kept between turns) up to TURN_LIMIT; a store it has no room
 * for is refused (rt_fwd_room), never left untracked. */
#define TURN_FIRST 1024
#define TURN_LIMIT (1 << 21)           /* entries, 32 octets each: a million runs that store in one turn */
#define RELEASED (-1)
#define REJECTD  8                     /* message_state */

typedef struct turn_row_s {
    lua_State *co;
    long long  key;
    rt_link_t *l;
    int        kind;                  /* 0 stored, RELEASED, REJECTD */
} turn_row_t;

static struct {
    turn_row_t *v;
    int         n, cap;
    int         peak;                 /* the most entries a turn had (core.gw_stats turn_rows) */
    int         logged;               /* a refusal logged this turn */
} turn;

/* Room for need more entries (the list grown if it must): 1, else 0. */
static int turn_room(int need)
{
    turn_row_t *v;
    int cap;
    if (turn.n + need <= turn.cap) return 1;
    if (turn.n + need > TURN_LIMIT) return 0;
    for (cap = turn.cap ? turn.cap : TURN_FIRST; cap < turn.n + need; cap *= 2) {}
    if (cap > TURN_LIMIT) cap = TURN_LIMIT;
    if (!(v = realloc(turn.v, (size_t)cap * sizeof *v))) return 0;
    turn.v = v;
    turn.cap = cap;
    return 1;
}

/* Callers made room first (turn_room). */
static void note(lua_State *co, long long key, rt_link_t *l, int kind)
{
    turn_row_t *t = &turn.v[turn.n++];
    t->co = co;
    t->key = key;
    t->l = l;
    t->kind = kind;
    if (turn.n > turn.peak) turn.peak = turn.n;
}

static void reused(lua_State *co)
{
    int i;
    if (!turn.n) return;
    if (turn_room(1)) {
        note(co, 0, NULL, 0);
        return;
    }
    /* no room for the mark: co's entries (an earlier run's, which ended
     * well) are disowned instead, as the mark would have done */
    for (i = turn.n - 1; i >= 0; i--) {
        if (turn.v[i].co != co) continue;
        if (!turn.v[i].l) break;
        turn.v[i].co = NULL;
    }
}

static void on_wait(lua_State *co, int waits);

int rt_fwd_room(void)
{
    static int hooked;
    if (!hooked) {
        rt_task_set_reuse_hook(reused);
        rt_task_set_wait_hook(on_wait);
        hooked = 1;
    }
    if (turn_room(1)) return 1;
    if (!turn.logged) {
        log_msg(LOG_ERROR, 0, "gateway: %d messages stored this turn, no room to track more (%s): "
                "the rest of this turn's are refused (ESME_RMSGQFUL)", turn.n,
                turn.n + 1 > TURN_LIMIT ? "the list's limit" : "out of memory");
        turn.logged = 1;
    }
    return 0;
}

void rt_fwd_stored(lua_State *co, long long key, rt_link_t *l)
{
    if (!turn_room(1)) {                      /* rt_fwd_room made room: never */
        log_msg(LOG_ERROR, 0, "gateway: a stored message not tracked (no rt_fwd_room)");
        return;
    }
    note(co, key, l, 0);
}

void rt_fwd__turn_stats(lua_State *L)
{
    lua_pushnumber(L, (double)turn.peak);
    lua_setfield(L, -2, "turn_rows");
    lua_pushnumber(L, (double)turn.cap);
    lua_setfield(L, -2, "turn_rows_cap");
    rt_fwd__unrec_stats(L);                       /* unrecorded_held, unrecorded_holds */
}

/* -- Parked: the messages of runs that wait ----------------------------------------------- */

/* A run that waits with messages it stored, by coroutine (buckets by its
 * address). Each row is parked in the store (store_fwd_park): in its
 * queue, never taken, not in l->queued but in l->parked. */
#define PARK_BUCKETS 256

typedef struct park_row_s {
    long long  key;
    rt_link_t *l;
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

/* What a parked row becomes, whose write failed (the store refused it,
 * or a failed commit lost it): tried again from the forwarder's tick. The
 * row is still parked in the store, and still counted in l->parked. */
typedef struct settle_s {
    long long  key;
    rt_link_t *l;
    int        kind;                  /* RELEASED, REJECTD */
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
 * its run ended well, or answered ESME_ROK before it failed; co the
 * run's, noted in the turn's list so that an answer found bad after the
 * commit, rt_fwd_undo, still ends it) or ended (REJECTD: its run failed,
 * its request answered ESME_RSYSERR). Its validity is not looked at here:
 * once back in its queue, the forwarder ends it EXPIRED (with its receipt)
 * as any queued message whose validity ended. Noted in the turn's list: a
 * failed commit has it done again. When the store refuses the write (or
 * the list has no room for the note), it is tried again from the tick
 * (settle_later); 0 then, else 1. */
static int settle(store_t *st, lua_State *co, long long key, rt_link_t *l, int kind, int counted, int first)
{
    double now = rt_time();
    int room = turn_room(1), rc = -1;
    if (!room) {
        /* not written: tried again */
    } else if (kind == RELEASED) {
        rc = store_fwd_unpark(st, key, rt_fwd_due(l, now));
    } else {
        rc = store_fwd_state(st, key, kind, 1, SMPP_ESME_RSYSERR, now,
                             (store_str_t){failed_line, sizeof failed_line - 1});
    }
    if (rc < 0) {
        if (first)
            log_msg(LOG_ERROR, 0, "gateway: a parked message of %s not %s: %s (tried again)", l->name,
                    kind == RELEASED ? "put back in its queue" : "ended",
                    room ? store_errmsg(st) : "out of memory");
        if (first) settle_later(key, l, kind, counted);
        return 0;
    }
    l->parked--;
    if (rc > 0 && kind == RELEASED) {
        l->queued++;
        rt_fwd_wake(l);
    } else if (rc > 0 && !counted) {
        l->refused++;
    }
    if (rc > 0) note(kind == RELEASED ? co : NULL, key, l, kind);
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

/* An ESME_ROK lost by `lost` (store_txn_lost) becomes this, as for a failed commit. */
static uint32_t lost_status(int lost) { return lost == STORE_EFULL ? SMPP_ESME_RMSGQFUL : SMPP_ESME_RSYSERR; }

/* co's record, made if it has none (NULL: out of memory). */
static park_t *park_record(lua_State *co)
{
    park_t **pp = park_slot(co);
    if (!*pp && (*pp = calloc(1, sizeof **pp)) != NULL) {
        (*pp)->co = co;
        park.runs++;
    }
    return *pp;
}

/* co's run starts to wait: what it stored this turn (its entries after
 * its last mark) is parked under its record. */
static void park_run(lua_State *co)
{
    store_t *st = rt_store();
    park_t *p;
    int i, lost;
    if (!turn.n || !st || rt_gwr_on()) return;
    for (i = turn.n - 1; i >= 0; i--) {
        rt_link_t *l = turn.v[i].l;
        int rc;
        if (turn.v[i].co != co) continue;
        if (!l) break;                        /* co's mark: what comes before is an earlier run's */
        turn.v[i].co = NULL;                  /* the record's from here */
        if ((rc = store_fwd_park(st, turn.v[i].key)) <= 0) {
            if (rc < 0) log_msg(LOG_ERROR, 0, "gateway: a message not parked while its handler waits: %s",
                                store_errmsg(st));
            /* the transaction was lost, and the message with it: no ESME_ROK later */
            if (rc < 0 && (lost = store_txn_lost(st)) != 0 && (p = park_record(co)) != NULL) {
                p->lost = 1;
                p->lost_status = lost_status(lost);
            }
            continue;
        }
        if (!(p = park_record(co))) goto nomem;
        if (p->n == p->cap) {
            int cap = p->cap ? p->cap * 2 : 4;
            park_row_t *row = realloc(p->row, (size_t)cap * sizeof *row);
            if (!row) goto nomem;
            p->row = row;
            p->cap = cap;
        }
        p->row[p->n].key = turn.v[i].key;
        p->row[p->n].l = l;
        p->row[p->n].turn = park.turn;
        p->n++;
        park.rows++;
        rt_fwd__held_drop(l, NULL);           /* it may be held: not sent from memory */
        l->queued--;
        l->parked++;
        continue;
nomem:  /* no record: parked in the store, not forwarded before its run ends
         * (it could fail), queued again at the next start */
        log_msg(LOG_ERROR, 0, "gateway: out of memory; a parked message of %s waits for the next start", l->name);
        rt_fwd__held_drop(l, NULL);
        l->queued--;
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
 * tried again. A parked row's validity is not looked at: its fate is its
 * run's (the queue's expiry applies once it is put back). */
void rt_fwd__park_tick(void)
{
    store_t *st = rt_store();
    if (st && again.n) settle_again(st);
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
    free(turn.v);
    turn.v = NULL;
    turn.n = turn.cap = 0;
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

/* co's run wrote a message this turn (parked, or stored since its mark). */
static int stored_this_turn(lua_State *co, const park_t *p)
{
    int i;
    for (i = 0; p && i < p->n; i++)
        if (p->row[i].turn == park.turn) return 1;
    for (i = turn.n - 1; i >= 0; i--) {
        if (turn.v[i].co != co) continue;
        if (!turn.v[i].l) return 0;           /* co's mark: what comes before is an earlier run's */
        if (turn.v[i].kind == 0) return 1;
    }
    return 0;
}

int rt_fwd_lost(lua_State *co, uint32_t *status)
{
    park_t *p = park.runs ? *park_slot(co) : NULL;
    store_t *st = rt_store();
    int lost;
    if (p && p->lost) {
        *status = p->lost_status;
        return 1;
    }
    /* a write that failed earlier this turn lost the transaction (the
     * commit reports it, but an answer does not wait for a transaction no
     * longer open): a message co's run stored this turn is lost already */
    if (!st || !(lost = store_txn_lost(st)) || !stored_this_turn(co, p)) return 0;
    *status = lost_status(lost);
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
    for (i = turn.n - 1; i >= 0; i--) {
        rt_link_t *l = turn.v[i].l;
        if (turn.v[i].co != co) continue;
        if (!l) break;                        /* co's mark: what comes before is an earlier run's */
        if (turn.v[i].kind != RELEASED) continue;
        turn.v[i].kind = 0;                   /* not for park_commit_failed */
        l->queued--;
        l->parked++;
        settle_later(turn.v[i].key, l, REJECTD, 0);
    }
}

/* A failed commit lost this turn's writes: rows parked this turn were
 * lost with their messages; rows put back in their queues or ended this
 * turn are parked in the store again (or gone, if parked this turn too):
 * settled again from the tick, their outcome counted already. */
static void park_commit_failed(void)
{
    int b, i, n = turn.n;
    for (b = 0; b < PARK_BUCKETS && park.rows; b++) {
        park_t *p;
        for (p = park.bucket[b]; p; p = p->next)
            for (i = p->n - 1; i >= 0; i--)
                if (p->row[i].turn == park.turn) {
                    park_drop(p, i);
                    park_lost(p);
                }
    }
    turn.n = 0;
    for (i = 0; i < n; i++) {
        rt_link_t *l = turn.v[i].l;
        int kind = turn.v[i].kind;
        if (kind != RELEASED && kind != REJECTD) continue;
        if (kind == RELEASED) l->queued--;
        l->parked++;
        settle_later(turn.v[i].key, l, kind, 1);
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
    if (!committed && turn.n + park.rows > 0) park_commit_failed();
    turn.n = 0;
    turn.logged = 0;
    park.turn++;
}

void rt_fwd_undo(lua_State *co)
{
    store_t *st = rt_store();
    park_t *p;
    int i;
    if (!st || rt_gwr_on()) return;
    if ((p = park_take(co)) != NULL) park_settle(st, p, REJECTD);   /* what it stored in earlier turns */
    for (i = turn.n - 1; i >= 0; i--) {
        rt_link_t *l = turn.v[i].l;
        int rc;
        if (turn.v[i].co != co) continue;
        if (!l) break;                        /* co's mark: what comes before is an earlier run's */
        turn.v[i].co = NULL;
        turn.v[i].kind = 0;                   /* (a row put back this turn: not again) */
        rt_fwd__held_drop(l, NULL);           /* it may be held: the reader's now, which skips it */
        rc = store_fwd_state(st, turn.v[i].key, 8 /* REJECTD */, 1, SMPP_ESME_RSYSERR, rt_time(),
                             (store_str_t){failed_line, sizeof failed_line - 1});
        if (rc > 0) {
            l->queued--;
            l->refused++;
        } else if (rc < 0) {
            log_msg(LOG_ERROR, 0, "gateway: a message whose handler failed: %s", store_errmsg(st));
        }
    }
}
