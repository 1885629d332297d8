/* rt_gw_wait.c -- the relay deadline of receipts (gateway key
 * `receipt_wait`): a receipt relayed straight to an ESME keeps its
 * upstream's deliver_sm unanswered until the ESME answers; one that the
 * ESME has not answered within receipt_wait seconds is put in the
 * account's outbox and the upstream answered then (rt_gw_rcpt_due), so
 * one slow ESME session never holds the upstream's receive window, and so
 * every other account's receipts on it.
 *
 * The waits are a list in deadline order (appended, receipt_wait being
 * one value; a reload that shortens it puts a new one before the later
 * ones), under one timer set for the first. Who owns what: the caller
 * owns each rt_gw_wait_t (inside its relay record) and takes it off with
 * rt_gw_wait_del before freeing it; this file owns the list and the timer.
 */
#include "rt.h"
#include "rt_gw.h"

static struct {
    rt_gw_wait_t *head, *tail;
    uv_timer_t    timer;
    int           init, closed;
} wt;

static void on_timer(uv_timer_t *t);

static void arm(void)
{
    uint64_t now;
    if (wt.closed || !rt.loop) return;
    if (!wt.init) {
        if (uv_timer_init(rt.loop, &wt.timer) != 0) return;
        wt.init = 1;
    }
    if (!wt.head) {
        uv_timer_stop(&wt.timer);
        return;
    }
    now = uv_now(rt.loop);
    uv_timer_start(&wt.timer, on_timer, wt.head->due > now ? wt.head->due - now : 0, 0);
}

static void unlink_one(rt_gw_wait_t *w)
{
    if (w->prev) w->prev->next = w->next;
    else wt.head = w->next;
    if (w->next) w->next->prev = w->prev;
    else wt.tail = w->prev;
    w->prev = w->next = NULL;
    w->on = 0;
}

static void on_timer(uv_timer_t *t)
{
    uint64_t now = uv_now(rt.loop);
    rt_gw_wait_t *w;
    (void)t;
    while ((w = wt.head) != NULL && w->due <= now) {
        unlink_one(w);
        rt_gw_rcpt_due(w);
    }
    arm();
}

void rt_gw_wait_add(rt_gw_wait_t *w)
{
    rt_gw_wait_t *at = wt.tail;
    w->on = 0;
    if (rt_gw_conf.receipt_wait <= 0 || wt.closed || !rt.loop) return;   /* 0: wait for the ESME */
    w->due = uv_now(rt.loop) + (uint64_t)(rt_gw_conf.receipt_wait * 1000);
    while (at && at->due > w->due) at = at->prev;
    w->prev = at;
    w->next = at ? at->next : wt.head;
    if (w->next) w->next->prev = w;
    else wt.tail = w;
    if (at) at->next = w;
    else wt.head = w;
    w->on = 1;
    if (wt.head == w) arm();
}

void rt_gw_wait_del(rt_gw_wait_t *w)
{
    if (!w->on) return;
    unlink_one(w);
    if (!wt.head) arm();
}

void rt_gw_wait_open(void)
{
    wt.closed = 0;
}

void rt_gw_wait_close(void)
{
    while (wt.head) unlink_one(wt.head);
    wt.closed = 1;
    if (wt.init) uv_close((uv_handle_t *)&wt.timer, NULL);
    wt.init = 0;
}
