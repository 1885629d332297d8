/* rt_gwr_decide.c -- the gateway's Lua handler on the Redis store: an
 * entry the upstream refused, throttled past throttle_retries, or whose
 * validity ended is handed to the handler as the SQLite path hands a row
 * (rt_gw_event), and its decision (finish, retry, move) is applied here
 * (rt_fwd_decide turns to rt_gwr_decide on this store).
 */
#include <stdio.h>
#include <string.h>

#include "rt_gw.h"
#include "rt_gwr.h"
#include "rt_gwr_fwd_int.h"
#include "rt_store.h"

/* The gateway's Lua handler decides (core/rt_gw.c: rt_gw_event, as the
 * SQLite path asks it): the entry waits here until rt_gwr_decide. The
 * event's rowid is the message's key (unique in the cluster: P{c}ids). */
void rt_gwr_fwd__to_handler(ent_t *e, const char *kind, uint32_t status, const char *detail)
{
    rt_gw_event_t ev;
    unsigned long long node = 0, key = 0;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.link = e->l;
    if (msgid_keyed_read(rt_gw_conf.id_format, e->id, strlen(e->id), &node, &key) == 0) ev.rowid = (long long)key;
    ev.attempts = strcmp(kind, "stalled") == 0 ? e->attempts : e->attempts + 1;   /* stalled: not tried now */
    ev.rd = e->rd;
    ev.status = status;
    ev.decided = 1;
    snprintf(ev.id, sizeof ev.id, "%s", e->id);
    snprintf(ev.account, sizeof ev.account, "%s", e->acct);
    snprintf(ev.route, sizeof ev.route, "%s", e->route);
    snprintf(ev.detail, sizeof ev.detail, "%s", detail);
    e->deciding = 1;
    rt_gw_event(&ev);               /* without a handler it decides now (the defaults) */
}

const char *rt_gwr_decide(rt_gw_event_t *ev, const char *what, const char *upstream, double delay, int state,
                          long long err, const char *line)
{
    glink_t *g = rt_gwr_fwd__glink(ev->link);
    rt_link_t *l = ev->link;
    double now = rt_time();
    char buf[300];
    ent_t *e;
    if (!g) return NULL;
    for (e = g->head; e && !(e->deciding && strcmp(e->id, ev->id) == 0); e = e->next) {}
    if (!e) return NULL;              /* let go meanwhile (serving ends) */
    if (!what && strcmp(ev->kind, "stalled") == 0) {
        e->deciding = 0;              /* left in its queue: sent when its link can */
        return NULL;
    }
    if (!what) what = rt_fwd_default(ev, &delay, &state);
    if (!(delay >= 0)) delay = 0;
    if (strcmp(what, "retry") == 0) {
        snprintf(buf, sizeof buf, "%s%sagain on %s in %.1f s", ev->detail, ev->detail[0] ? ", " : "", l->name, delay);
        rt_gwr_note(e->rup, strlen(e->rup), e->id, line ? line : buf, 0, NULL);
        e->deciding = 0;
        e->attempts++;
        e->due = now + delay;
        l->retried++;
        rt_gwr_fwd__retried++;
        rt_fwd_wake(l);
        return NULL;
    }
    if (strcmp(what, "move") == 0) {
        rt_link_t *to;
        long long att = strcmp(ev->kind, "stalled") == 0 ? e->attempts : e->attempts + 1;
        if (!upstream || !*upstream) return "move needs an upstream";
        if (!(to = rt_gw_link(upstream, strlen(upstream), 1))) return "out of memory";
        e->deciding = 0;
        if (to == l) {                /* its own queue: sent again there */
            e->attempts = att;
            e->due = now + delay;
            rt_fwd_wake(l);
            return NULL;
        }
        if (!line) snprintf(buf, sizeof buf, "%s%smoved from %s to %s", ev->detail, ev->detail[0] ? "; " : "",
                            l->name, upstream);
        rt_gwr_fwd__move(e, to, now + delay, att, err, line ? line : buf);
        return NULL;
    }
    if (strcmp(what, "finish") != 0) return "the action is retry, move or finish";
    if (state < 0) state = 8;
    snprintf(buf, sizeof buf, "%s; %s", ev->detail, state == 3 ? "EXPIRED" : state == 8 ? "REJECTED" : "finished");
    e->deciding = 0;
    rt_gwr_fwd__finish(e, state, (uint32_t)err, now, line ? line : buf);
    return NULL;
}

