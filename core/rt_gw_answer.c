/* rt_gw_answer.c -- whether an upstream link answers (rt_gw.h, "Unanswered
 * links"): its requests' answers and timeouts counted (the forwarders and
 * upstream.lua's link:send), the state that makes it unable to send after
 * max_timeouts in a row, its trials, and the Lua functions the strategies
 * ask (core.gw_answer, gw_answering, gw_room).
 *
 * Who owns what: nothing of its own; the state lives in each link
 * (rt_link_t, owned by rt_gw.c).
 */
#include <string.h>

#include "log.h"
#include "rt.h"
#include "rt_gw.h"
#include "rt_store.h"

/* The wait before the next trial of an unanswered link: retry_min, doubling
 * per trial that timed out, to retry_max. */
static double trial_delay(uint32_t trials)
{
    double d = rt_gw_conf.retry_min;
    while (trials-- > 0 && d < rt_gw_conf.retry_max) d *= 2;
    return d < rt_gw_conf.retry_max ? d : rt_gw_conf.retry_max;
}

/* A request of l timed out although l answered since it went out (or an
 * answer came late): it answers more slowly than its requests are sent.
 * What it may have in flight is halved (at most once per second, down to
 * 1) and grows by one per answer in time, so its backlog drains instead of
 * every request timing out behind it and being sent again. */
static void slow(rt_link_t *l, double now)
{
    uint32_t cur;
    if (now - l->cap_cut_at < 1.0) return;
    l->cap_cut_at = now;
    cur = l->win_cap ? l->win_cap : l->inflight + 1;
    if (cur > l->win_full) l->win_full = cur;
    l->win_cap = cur / 2 ? cur / 2 : 1;
}

void rt_gw_link_answer(rt_link_t *l, int answered, double sent)
{
    double now = rt_time();
    if (answered < 0 && l->max_errors <= 0) {
        /* an error the link is blamed for, yet an answer: one account's
         * messages may draw it on purpose (a destination the upstream
         * fails on), and must not take the link from the others */
        l->link_errors++;
        answered = 1;
    }
    if (answered > 0) {
        l->answered_at = rt_gw_stamp();
        l->timeouts_row = 0;
        if (l->win_cap && ++l->win_cap >= 2 * l->win_full) l->win_cap = 0;   /* answered in time: open again */
        l->errors_row = 0;
        if (l->silent_since) {
            log_state(LOG_WARN, 0, "upstream %s answers again after %.0f s %s (%u trials failed meanwhile): "
                    "it takes messages again", l->name, now - l->silent_since,
                    l->silent_errors ? "answering errors" : "unanswered", l->trials);
            l->silent_since = l->trial_at = 0;
            l->trials = 0;
            l->silent_errors = 0;
            rt_fwd_wake(l);
        }
        return;
    }
    if (answered < 0) {
        /* an error answer the link is blamed for (ESME_RSYSERR,
         * ESME_RINVBNDSTS): it answers, so it is not a timeout, but it
         * cannot take messages either */
        l->link_errors++;
        l->errors_row++;
    } else {
        l->timeouts++;
        /* the link answered something after this request went out: it is
         * slow (its answers come late, or a burst's last requests expire
         * together), not silent -- no part of a run */
        if (!l->silent_since && sent > 0 && sent < l->answered_at) {
            slow(l, now);
            return;
        }
        l->timeouts_row++;
    }
    if (l->silent_since) {
        if (sent >= l->silent_since) {                /* a trial (not one sent before): the next later */
            l->trials++;
            l->trial_at = now + trial_delay(l->trials);
        }
        return;
    }
    if (!(l->max_timeouts > 0 && l->timeouts_row >= (uint32_t)l->max_timeouts)
        && !(l->max_errors > 0 && l->errors_row >= (uint32_t)l->max_errors))
        return;
    l->silent_since = now;
    l->silent_errors = answered < 0;
    l->trials = 0;
    l->trial_at = now + trial_delay(0);
    l->unanswered++;
    if (l->errors_row && !l->timeouts_row)
        log_state(LOG_WARN, 0, "upstream %s: %u requests in a row answered %s: it counts as unable to send (new "
                "messages go to another upstream of their route, its queue moves after its wait, %g s); one message "
                "at a time tries it again, the first in %g s", l->name, l->errors_row,
                answered < 0 && l->last_error ? l->last_error : "an error of the link", l->wait, l->trial_at - now);
    else
        log_state(LOG_WARN, 0, "upstream %s: %u requests in a row unanswered%s: it counts as unable to send (new "
                "messages go to another upstream of their route, its queue moves after its wait, %g s); one message "
                "at a time tries it again, the first in %g s", l->name, l->timeouts_row + l->errors_row,
                l->errors_row ? " or answered an error of the link" : "", l->wait, l->trial_at - now);
}

void rt_gw_link_late(rt_link_t *l)
{
    l->late_answers++;
    l->answered_at = rt_gw_stamp();
    if (!l->silent_since) slow(l, rt_time());
    /* it answers: a run of timeouts ends; an unanswered link stays so
     * until a trial is answered in time (a late answer does not say it
     * can take a window's worth again) */
    if (!l->silent_since) l->timeouts_row = 0;
}

int rt_gw_link_answering(const rt_link_t *l, double now, unsigned outstanding, double *wait)
{
    if (!l->silent_since) return 1;
    if (now >= l->trial_at && !l->inflight && !l->deciding && !outstanding) return 1;
    if (wait) *wait = now < l->trial_at ? l->trial_at - now : 0.05;
    return 0;
}

/* core.gw_answer(name, answered, sent): a request of link:send (upstream.lua)
 * was answered (true), timed out (false) or answered an error the link is
 * blamed for ("ESME_RSYSERR", "ESME_RINVBNDSTS"); sent: core.gw_stamp()
 * before it went out. */
static int l_gw_answer(lua_State *L)
{
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    rt_link_t *l = rt_gw_link(name, len, 0);
    int answered = lua_toboolean(L, 2);
    if (lua_type(L, 2) == LUA_TSTRING) {          /* the name of an error status the link is blamed for */
        answered = -1;
        if (l) l->last_error = strcmp(lua_tostring(L, 2), "ESME_RINVBNDSTS") ? "ESME_RSYSERR" : "ESME_RINVBNDSTS";
    }
    if (l) rt_gw_link_answer(l, answered, luaL_optnumber(L, 3, 0));
    return 0;
}

/* core.gw_answering(name [, outstanding]) -> true | false, seconds: may a
 * request go to the link as to its answers (outstanding: link:send's
 * requests in flight on it)? A strategy's trial needs its queue empty (the
 * queue's first message is its forwarder's trial); false: the seconds until
 * a trial may go. */
static int l_gw_answering(lua_State *L)
{
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    rt_link_t *l = rt_gw_link(name, len, 0);
    double wait = 0.05;
    if (!l || (rt_gw_link_answering(l, rt_time(), (unsigned)luaL_optnumber(L, 2, 0), &wait)
               && (!l->silent_since || l->queued <= 0))) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    lua_pushnumber(L, wait);
    return 2;
}

/* core.gw_room(name) -> false while the link's queue holds its max_queue
 * (a strategy passes it over: the message would be refused). */
static int l_gw_room(lua_State *L)
{
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    rt_link_t *l = rt_gw_link(name, len, 0);
    lua_pushboolean(L, !l || l->max_queue <= 0 || l->queued + l->parked < l->max_queue);
    return 1;
}

const luaL_Reg rt_gw_answer_lib[] = {
    {"gw_answer", l_gw_answer},
    {"gw_answering", l_gw_answering},
    {"gw_room", l_gw_room},
    {NULL, NULL}
};
