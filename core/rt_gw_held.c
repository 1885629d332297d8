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
    park_row_t    *row;
    struct park_s *next;
} park_t;

static struct {
    park_t   *bucket[PARK_BUCKETS];
    long long rows;                   /* parked rows in all */
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
    if (!park.rows) return NULL;
    pp = park_slot(co);
    if ((p = *pp) != NULL) *pp = p->next;
    return p;
}

static void park_free(park_t *p)
{
    free(p->row);
    free(p);
}

/* One row of p leaves it (released, ended): l->parked counted down. */
static void park_drop(park_t *p, int i)
{
    p->row[i].l->parked--;
    park.rows--;
    p->row[i] = p->row[--p->n];
}

static const char failed_line[] = "the handler failed after storing it (answered ESME_RSYSERR): not forwarded";
static const char expired_line[] = "its validity ended while the handler that stored it was still running: "
                                   "not forwarded";

/* End a parked row: its run failed (REJECTD) or its validity ended
 * (EXPIRED). Noted in the turn's list: written again if the commit fails
 * (else it would stay parked until the next start). Returns what
 * store_fwd_state does. */
static int park_end(store_t *st, long long key, rt_link_t *l, int state, double now)
{
    store_str_t line = state == REJECTD ? (store_str_t){failed_line, sizeof failed_line - 1}
                                        : (store_str_t){expired_line, sizeof expired_line - 1};
    int rc = store_fwd_state(st, key, state, 1, state == REJECTD ? SMPP_ESME_RSYSERR : 0, now, line);
    if (rc >= 0) note(NULL, key, l, NAN, state);
    return rc;
}

/* End every row of p REJECTED: its run failed (its request answered
 * ESME_RSYSERR), the ESME never got its id. */
static void park_reject(store_t *st, park_t *p)
{
    while (p->n > 0) {
        rt_link_t *l = p->row[p->n - 1].l;
        int rc = park_end(st, p->row[p->n - 1].key, l, REJECTD, rt_time());
        if (rc > 0) l->refused++;
        else if (rc < 0) log_msg(LOG_ERROR, 0, "gateway: a parked message whose handler failed: %s", store_errmsg(st));
        park_drop(p, p->n - 1);
    }
    park_free(p);
}

/* Put every row of p back in its queue: its run ended well. Noted in the
 * turn's list, so that an answer found bad after the commit (rt_fwd_undo)
 * still ends them. */
static void park_release(store_t *st, park_t *p)
{
    double now = rt_time();
    while (p->n > 0) {
        park_row_t r = p->row[p->n - 1];
        int rc = store_fwd_unpark(st, r.key, rt_fwd_due(r.l, now));
        park_drop(p, p->n - 1);
        if (rc > 0) {
            r.l->queued++;
            rt_fwd_wake(r.l);
            note(p->co, r.key, r.l, r.expires, RELEASED);
        } else if (rc < 0) {
            log_msg(LOG_ERROR, 0, "gateway: a parked message not put back in the queue of %s: %s "
                    "(forwarded after a restart)", r.l->name, store_errmsg(st));
        }
    }
    park_free(p);
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
        if ((st = rt_store()) != NULL) park_release(st, p);
        else {
            while (p->n > 0) park_drop(p, p->n - 1);
            park_free(p);
        }
    }
}

/* A parked row whose validity ended: EXPIRED, not forwarded (its ESME
 * has not been answered yet: no receipt). Looked at from the forwarder's
 * tick, only while rows are parked. */
void rt_fwd__park_expire(double now)
{
    store_t *st = rt_store();
    double next = HUGE_VAL;
    int b, i;
    if (!park.rows || now < park.next_expiry || !st) return;
    for (b = 0; b < PARK_BUCKETS; b++) {
        park_t *p;
        for (p = park.bucket[b]; p; p = p->next)
            for (i = p->n - 1; i >= 0; i--) {
                park_row_t *r = &p->row[i];
                int rc;
                if (!(r->expires <= now)) {
                    if (r->expires < next) next = r->expires;
                    continue;
                }
                rc = park_end(st, r->key, r->l, EXPIRED, now);
                if (rc < 0) {
                    log_msg(LOG_ERROR, 0, "gateway: a parked message's validity: %s", store_errmsg(st));
                    if (now + 1 < next) next = now + 1;     /* again in a second */
                    continue;
                }
                if (rc > 0) r->l->expired++;
                park_drop(p, i);
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
    park.rows = 0;
}

/* A failed commit lost this turn's writes: rows parked this turn were
 * lost with their messages, and rows put back in their queues or ended
 * are parked in the store still: put back or ended again. */
static void park_commit_failed(void)
{
    store_t *st = rt_store();
    int b, i, n = nturn;
    for (b = 0; b < PARK_BUCKETS && park.rows; b++) {
        park_t *p;
        for (p = park.bucket[b]; p; p = p->next)
            for (i = p->n - 1; i >= 0; i--)
                if (p->row[i].turn == park.turn) park_drop(p, i);
    }
    nturn = 0;
    for (i = 0; i < n && st; i++) {
        rt_link_t *l = turn_rows[i].l;
        int kind = turn_rows[i].kind;
        if (kind == REJECTD || kind == EXPIRED) {
            if (park_end(st, turn_rows[i].key, l, kind, rt_time()) < 0)
                log_msg(LOG_ERROR, 0, "gateway: a parked message not ended: %s", store_errmsg(st));
        } else if (kind == RELEASED && turn_rows[i].co) {     /* (not ended since by rt_fwd_undo) */
            if (store_fwd_unpark(st, turn_rows[i].key, rt_fwd_due(l, rt_time())) < 0)
                log_msg(LOG_ERROR, 0, "gateway: a message not put back in the queue of %s: %s "
                        "(forwarded after a restart)", l->name, store_errmsg(st));
            else note(turn_rows[i].co, turn_rows[i].key, l, turn_rows[i].expires, RELEASED);
        }
    }
}

void rt_fwd__turn_over(int committed)
{
    overflow = 0;
    if (!committed && nturn + park.rows > 0) park_commit_failed();     /* what it writes again is noted */
    else nturn = 0;
    park.turn++;
}

void rt_fwd_undo(lua_State *co)
{
    store_t *st = rt_store();
    park_t *p;
    int i;
    if (!st || rt_gwr_on()) return;
    if ((p = park_take(co)) != NULL) park_reject(st, p);   /* what it stored in earlier turns */
    if (overflow) return;
    for (i = nturn - 1; i >= 0; i--) {
        rt_link_t *l = turn_rows[i].l;
        int rc;
        if (turn_rows[i].co != co) continue;
        if (!l) break;                        /* co's mark: what comes before is an earlier run's */
        turn_rows[i].co = NULL;
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
