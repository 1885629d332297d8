/* rt_gw_held.c -- the rows a link holds in memory: messages stored while
 * its queue has nothing else waiting, kept with their octets and facts in
 * the queue's order so that the forwarder (rt_fwd.c, run_held) sends them
 * after the commit without reading them back. Whatever else changes the
 * queue drops them (rt_fwd__held_drop), and the queue reader takes them.
 *
 * Who owns what: each held row is malloc'd here and owned by its link's
 * list until it is sent (rt_fwd.c frees it) or dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "rt_gw.h"
#include "rt_gw_int.h"

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
