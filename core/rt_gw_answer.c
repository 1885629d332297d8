/* rt_gw_answer.c -- whether an upstream link answers (rt_gw.h, "Unanswered
 * links"): its requests' answers and timeouts counted (the forwarders and
 * upstream.lua's link:send), the state that makes it unable to send after
 * max_timeouts in a row, its trials, and the Lua functions the strategies
 * ask (core.gw_answer, gw_answering, gw_room).
 *
 * Who owns what: nothing of its own; the state lives in each link
 * (rt_link_t, owned by rt_gw.c).
 */
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

void rt_gw_link_answer(rt_link_t *l, int answered, double sent)
{
    double now = rt_time();
    if (answered) {
        l->timeouts_row = 0;
        if (l->silent_since) {
            log_msg(LOG_WARN, 0, "upstream %s answers again after %.0f s unanswered (%u trials timed out meanwhile): "
                    "it takes messages again", l->name, now - l->silent_since, l->trials);
            l->silent_since = l->trial_at = 0;
            l->trials = 0;
            rt_fwd_wake(l);
        }
        return;
    }
    l->timeouts++;
    l->timeouts_row++;
    if (l->silent_since) {
        if (sent >= l->silent_since) {                /* a trial (not one sent before): the next later */
            l->trials++;
            l->trial_at = now + trial_delay(l->trials);
        }
        return;
    }
    if (l->max_timeouts <= 0 || l->timeouts_row < (uint32_t)l->max_timeouts) return;
    l->silent_since = now;
    l->trials = 0;
    l->trial_at = now + trial_delay(0);
    l->unanswered++;
    log_msg(LOG_WARN, 0, "upstream %s: %u requests in a row unanswered: it counts as unable to send (new messages go "
            "to another upstream of their route, its queue moves after its wait, %g s); one message at a time tries "
            "it again, the first in %g s", l->name, l->timeouts_row, l->wait, l->trial_at - now);
}

int rt_gw_link_answering(const rt_link_t *l, double now, unsigned outstanding, double *wait)
{
    if (!l->silent_since) return 1;
    if (now >= l->trial_at && !l->inflight && !l->deciding && !outstanding) return 1;
    if (wait) *wait = now < l->trial_at ? l->trial_at - now : 0.05;
    return 0;
}

/* core.gw_answer(name, answered, sent): a request of link:send (upstream.lua)
 * was answered (true) or timed out (false); sent: core.gw_stamp() before it
 * went out. */
static int l_gw_answer(lua_State *L)
{
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    rt_link_t *l = rt_gw_link(name, len, 0);
    if (l) rt_gw_link_answer(l, lua_toboolean(L, 2), luaL_optnumber(L, 3, 0));
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
