/* rt_gw_decide.c -- what becomes of a queued row the gateway's event
 * handler (or the default) decided on: sent again later on its link,
 * moved to another upstream's queue, or finished in a final state; and
 * the queue counts that follow. The forwarder (rt_fwd.c) raises the
 * events; rt_gw.c runs the handler and calls rt_fwd_decide with its
 * answer. On the Redis store the decision is rt_gwr_decide's. Also the
 * check of an idle queue's count against the store (rt_fwd__count_lost).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dlr.h"
#include "log.h"
#include "rt.h"
#include "rt_gw.h"
#include "rt_gw_int.h"
#include "rt_gwr.h"
#include "rt_store.h"

static store_str_t str(const char *s)
{
    store_str_t v;
    v.p = s;
    v.n = s ? strlen(s) : 0;
    return v;
}

/* -- Decisions ------------------------------------------------------------------------------ */

const char *rt_fwd_default(const rt_gw_event_t *ev, double *delay, int *state)
{
    if (strcmp(ev->kind, "throttled") == 0) {
        *delay = ev->link->throttle_backoff;
        return "retry";
    }
    *state = strcmp(ev->kind, "expired") == 0 ? 3 : 8;
    return "finish";
}

const char *rt_fwd_decide(rt_gw_event_t *ev, const char *what, const char *upstream, double delay,
                          int state, long long err, const char *line)
{
    store_t *st = rt_store();
    rt_link_t *l = ev->link;
    double now = rt_time();
    char buf[256];
    int rc;
    if (rt_gwr_on()) return rt_gwr_decide(ev, what, upstream, delay, state, err, line);   /* the cluster's store: Redis */
    if (!st) return NULL;
    if (!what) what = rt_fwd_default(ev, &delay, &state);
    if (!(delay >= 0)) delay = 0;
    rt_fwd__held_drop(l, NULL);                   /* a row of its queue changes: the reader's order */
    /* a refusal answered a sending: moved or ended, that sending counts in
     * its attempts as a retry's does (the trace shows it) */
    if ((strcmp(what, "move") == 0 || strcmp(what, "finish") == 0)
        && (strcmp(ev->kind, "refused") == 0 || strcmp(ev->kind, "throttled") == 0)
        && store_fwd_attempted(st, ev->rowid) < 0)
        rt_fwd__write_failed(st, "an attempt", ev->id);
    if (strcmp(what, "retry") == 0) {
        snprintf(buf, sizeof buf, "%s%sagain on %s in %.1f s", ev->detail, ev->detail[0] ? ", " : "", l->name, delay);
        if ((rc = store_fwd_retry(st, ev->rowid, rt_fwd_due(l, now + delay), err, NAN, now,
                                  str(line ? line : buf))) < 0)
            rt_fwd__write_failed(st, "a retry", ev->id);
        l->retried++;
        return NULL;
    }
    if (strcmp(what, "move") == 0) {
        rt_link_t *to;
        if (!upstream || !*upstream) return "move needs an upstream";
        if (!(to = rt_gw_link(upstream, strlen(upstream), 1))) return "out of memory";
        snprintf(buf, sizeof buf, "%s%smoved from %s to %s", ev->detail, ev->detail[0] ? "; " : "", l->name,
                 upstream);
        if ((rc = store_fwd_move(st, ev->rowid, str(upstream), rt_fwd_due(to, now + delay), err, now,
                                 str(line ? line : buf))) < 0) {
            rt_fwd__write_failed(st, "a move", ev->id);
            return NULL;
        }
        if (rc > 0) rt_fwd_moved(l, to);
        return NULL;
    }
    if (strcmp(what, "finish") == 0) {
        if (!dlr_is_final(state)) return "finish needs a final message_state (2..9)";
        snprintf(buf, sizeof buf, "%s%s%s", ev->detail, ev->detail[0] ? "; " : "",
                 dlr_stat_of(state) ? dlr_stat_of(state) : "final");
        if ((rc = store_fwd_state(st, ev->rowid, state, 1, err, now, str(line ? line : buf))) < 0) {
            rt_fwd__write_failed(st, "a final state", ev->id);
            return NULL;
        }
        if (rc > 0) {
            l->queued--;
            if (state == 3) l->expired++;
            else l->refused++;
        }
        return NULL;
    }
    return "action must be retry, move or finish";
}

void rt_fwd_moved(rt_link_t *from, rt_link_t *to)
{
    rt_fwd__held_drop(from, NULL);
    rt_fwd__held_drop(to, NULL);
    from->queued--;
    from->moved++;
    to->queued++;
    to->queued_total++;
    rt_fwd_wake(to);
}

/* -- The count against the store ---------------------------------------------------------- */

static int found_row(const store_fwd_row_t *r, void *ud)
{
    (void)r;
    (*(int *)ud)++;
    return 0;
}

int rt_fwd__count_lost(rt_link_t *l)
{
    int found = 0;
    if (l->queued || l->inflight || l->deciding || l->nheld) return 0;
    if (store_fwd_take(rt_store(), (store_str_t){l->name, l->len}, NAN, 0, rt_time() + FWD_HORIZON, 1,
                       found_row, &found) <= 0 || !found)
        return 0;
    log_msg(LOG_WARN, 0, "gateway: the queue of %s holds messages its count had lost: read again from the store",
            l->name);
    return 1;
}
