/* rt_gw_held.c -- the rows a link holds in memory: messages stored while
 * its queue has nothing else waiting, kept with their octets and facts in
 * the queue's order so that the forwarder (rt_fwd.c, run_held) sends them
 * after the commit without reading them back. Whatever else changes the
 * queue drops them (rt_fwd__held_drop), and the queue reader takes them.
 *
 * Who owns what: each held row is malloc'd here and owned by its link's
 * list until it is sent (rt_fwd.c frees it) or dropped. Also here: which
 * run stored which message this turn (a fixed table, forgotten at the
 * turn's end), so that a run that fails is not followed by its message.
 */
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

/* The turn's list, in order: (co, key, link) for a message a run stored,
 * (co, 0, NULL) where co was taken from the pool for another run (its
 * entries before that mark are an earlier run's, which ended well: a
 * failed coroutine is not pooled). A failed run's messages are its
 * entries after its coroutine's last mark. Appending is all the hot path
 * does; the scan is the failure's. */
#define TURN_MAX 8192

static struct {
    lua_State *co;
    long long  key;
    rt_link_t *l;
} turn_rows[TURN_MAX];
static int nturn, overflow;        /* overflow: a mark was lost this turn, nothing is undone */

static void note(lua_State *co, long long key, rt_link_t *l)
{
    if (nturn == TURN_MAX) {
        overflow = 1;
        return;
    }
    turn_rows[nturn].co = co;
    turn_rows[nturn].key = key;
    turn_rows[nturn].l = l;
    nturn++;
}

static void reused(lua_State *co)
{
    if (nturn) note(co, 0, NULL);
}

void rt_fwd_stored(lua_State *co, long long key, rt_link_t *l)
{
    static int hooked;
    if (!hooked) {
        rt_task_set_reuse_hook(reused);
        hooked = 1;
    }
    note(co, key, l);
}

void rt_fwd__turn_over(void) { nturn = overflow = 0; }

void rt_fwd_undo(lua_State *co)
{
    store_t *st = rt_store();
    int i;
    if (!st || rt_gwr_on() || overflow) return;
    for (i = nturn - 1; i >= 0; i--) {
        static const char line[] = "the handler failed after storing it (answered ESME_RSYSERR): not forwarded";
        rt_link_t *l = turn_rows[i].l;
        int rc;
        if (turn_rows[i].co != co) continue;
        if (!l) break;                        /* co's mark: what comes before is an earlier run's */
        turn_rows[i].co = NULL;
        rt_fwd__held_drop(l, NULL);           /* it may be held: the reader's now, which skips it */
        rc = store_fwd_state(st, turn_rows[i].key, 8 /* REJECTD */, 1, SMPP_ESME_RSYSERR, rt_time(),
                             (store_str_t){line, sizeof line - 1});
        if (rc > 0) {
            l->queued--;
            l->refused++;
        } else if (rc < 0) {
            log_msg(LOG_ERROR, 0, "gateway: a message whose handler failed: %s", store_errmsg(st));
        }
    }
}
