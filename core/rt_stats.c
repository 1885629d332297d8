/* rt_stats.c -- the statistics as Lua tables: core.stats() (totals over
 * the process), core.session_stats(session), and the closing totals line.
 * Read-only views of the counters the engine keeps (sess.h).
 */
#include <stdio.h>

#include "log.h"
#include "http.h"
#include "rt.h"
#include "rt_timer.h"
#include "rt_budget.h"
#include "rt_heap.h"
#include "rt_sess.h"
#include "rt_stats.h"
#include "rt_task.h"


/* The totals of the running net's sessions (zeros when not serving). */
static const sess_totals_t *totals(void)
{
    static const sess_totals_t none;
    return rt.net ? sess_ctx_totals(net_ctx(rt.net)) : &none;
}

static void push_counters(lua_State *L, const sess_stats_t *st)
{
    size_t i;
    const pdu_cmd_t *c;
    uint64_t failures = st->resp_error + st->timeouts + st->nacks_rx;
    uint64_t answered = st->resp_ok + st->resp_error + st->timeouts + st->nacks_rx;
    SET_NUM("rx_pdus", st->rx_pdus);
    SET_NUM("tx_pdus", st->tx_pdus);
    SET_NUM("rx_bytes", st->rx_bytes);
    SET_NUM("tx_bytes", st->tx_bytes);
    SET_NUM("rx_requests", st->rx_requests);
    SET_NUM("tx_requests", st->tx_requests);
    SET_NUM("resp_ok", st->resp_ok);
    SET_NUM("resp_error", st->resp_error);
    SET_NUM("sent_error", st->sent_error);
    SET_NUM("timeouts", st->timeouts);
    SET_NUM("nacks_rx", st->nacks_rx);
    SET_NUM("nacks_tx", st->nacks_tx);
    SET_NUM("unmatched", st->unmatched);
    SET_NUM("malformed", st->malformed);
    SET_NUM("throttled", st->throttled);
    SET_NUM("avg_response_ms", st->rtt_count ? (double)st->rtt_ms_sum / (double)st->rtt_count : 0);
    SET_NUM("failure_rate", answered ? (double)failures / (double)answered : 0);
    lua_newtable(L);
    for (i = 0; (c = pdu_cmd_at(i)) != NULL; i++) {
        if (!st->rx_cmd[i] && !st->tx_cmd[i]) continue;
        lua_createtable(L, 0, 2);
        SET_NUM("rx", st->rx_cmd[i]);
        SET_NUM("tx", st->tx_cmd[i]);
        lua_setfield(L, -2, c->name);
    }
    lua_setfield(L, -2, "commands");
}

/* Push the statistics table of one session. */
static void push_session(lua_State *L, sess_t *s)
{
    const sess_config_t *c = sess_config(s);
    lua_newtable(L);
    SET_NUM("id", sess_id(s));
    rt_set_str(L, "side", sess_side(s) == SESS_SMSC ? "server" : "client");
    rt_set_str(L, "state", sess_state_name(sess_state(s)));
    rt_set_str(L, "bind_type", rt_sess_bind_type(sess_state(s)));
    rt_set_str(L, "system_id", sess_system_id(s));
    rt_set_str(L, "remote", net_remote(s));
    SET_NUM("uptime_s", rt_clock() - (double)sess_stats(s)->started_ms / 1000.0);
    SET_NUM("window_used", sess_window_used(s));
    SET_NUM("window_size", c->window);
    SET_NUM("receive_window_used", sess_receive_window_used(s));
    SET_NUM("receive_window_size", c->receive_window);
    SET_NUM("output_pending", sess_output_pending(s));
    lua_pushboolean(L, net_is_paused(s));
    lua_setfield(L, -2, "input_paused");
    SET_NUM("input_pauses", net_pauses_of(s));
    push_counters(L, sess_stats(s));
}

/* core.session_stats(session) -> table, or nil if closed. */
static int l_session_stats(lua_State *L)
{
    sess_t *s;
    uint64_t id;
    if (lua_istable(L, 1)) lua_getfield(L, 1, "id");
    else lua_pushvalue(L, 1);
    id = (uint64_t)luaL_checknumber(L, -1);
    if (!rt.net || !(s = net_find(rt.net, id))) return 0;
    push_session(L, s);
    return 1;
}

static void page_cb(sess_t *s, void *arg)
{
    lua_State *L = arg;
    push_session(L, s);
    lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
}

/* core.sessions_page(offset, limit) -> { session stats, ... }, sessions in
 * all: a page of the live sessions (newest first) without a walk of the
 * others past it, so that a page costs the same however many there are. */
static int l_sessions_page(lua_State *L)
{
    double offset = luaL_optnumber(L, 1, 0), limit = luaL_optnumber(L, 2, 100);
    luaL_argcheck(L, offset >= 0, 1, "offset >= 0 expected");
    luaL_argcheck(L, limit >= 0 && limit <= 10000, 2, "limit 0..10000 expected");
    lua_createtable(L, (int)limit, 0);
    if (rt.net) net_page(rt.net, (size_t)offset, (size_t)limit, page_cb, L);
    lua_pushnumber(L, rt.net ? (double)net_count(rt.net) : 0);
    return 2;
}

/* statuses[name or "0x%08X"] = {rx =, tx =} on the table at the top. */
static void push_status(lua_State *L, uint32_t status, uint64_t rx, uint64_t tx)
{
    char code[16];
    const char *name = pdu_status_name(status);
    if (!name) {
        snprintf(code, sizeof code, "0x%08X", status);
        name = code;
    }
    lua_createtable(L, 0, 2);
    SET_NUM("rx", rx);
    SET_NUM("tx", tx);
    lua_setfield(L, -2, name);
}

/* The groups (accounts, upstreams) at the top of the stack as a list of
 * { name, side, counters..., statuses = {name = {rx, tx}},
 * response_time_buckets = {...} }. */
static void push_groups(lua_State *L, sess_ctx_t *ctx)
{
    const sess_group_t *g;
    size_t i, k;
    lua_newtable(L);
    for (i = 0; ctx && (g = sess_ctx_group_at(ctx, i)) != NULL; i++) {
        lua_newtable(L);
        rt_set_str(L, "name", g->name);
        rt_set_str(L, "side", g->side == SESS_SMSC ? "server" : "client");
        push_counters(L, &g->st);
        lua_newtable(L);
        for (k = 0; k < g->nstatus; k++) push_status(L, g->status[k].status, g->status[k].rx, g->status[k].tx);
        if (g->other_rx || g->other_tx) {
            lua_createtable(L, 0, 2);
            SET_NUM("rx", g->other_rx);
            SET_NUM("tx", g->other_tx);
            lua_setfield(L, -2, "other");
        }
        lua_setfield(L, -2, "statuses");
        lua_newtable(L);
        for (k = 0; k < SESS_RTT_BUCKETS; k++) {
            lua_pushnumber(L, (double)g->rtt_buckets[k]);
            lua_rawseti(L, -2, (int)k + 1);
        }
        lua_setfield(L, -2, "response_time_buckets");
        SET_NUM("response_time_sum_ms", g->st.rtt_ms_sum);
        lua_rawseti(L, -2, (int)i + 1);
    }
}

/* core.session_group(session, name): count the session's traffic under
 * `name` as well (an upstream's binds; an ESME's session is in its
 * account's group from its bind on). -> true | nil, "full" past the
 * bound of groups, nil, "closed" for a session gone. */
static int l_session_group(lua_State *L)
{
    sess_t *s;
    sess_group_t *g;
    uint64_t id;
    const char *name = luaL_checkstring(L, 2);
    if (lua_istable(L, 1)) lua_getfield(L, 1, "id");
    else lua_pushvalue(L, 1);
    id = (uint64_t)luaL_checknumber(L, -1);
    if (!rt.net || !(s = net_find(rt.net, id))) {
        lua_pushnil(L);
        lua_pushliteral(L, "closed");
        return 2;
    }
    g = sess_ctx_group((sess_ctx_t *)net_ctx(rt.net), sess_side(s), name);
    if (!g) {
        lua_pushnil(L);
        lua_pushliteral(L, "full");
        return 2;
    }
    sess_set_group(s, g);
    lua_pushboolean(L, 1);
    return 1;
}

/* core.stats() -> totals over the process. */
static int l_stats(lua_State *L)
{
    static const char *const sides[] = {"server", "client"};
    const sess_totals_t *tot = totals();
    int side, st;
    size_t i;
    uint32_t v;
    lua_newtable(L);
    SET_NUM("opened", tot->opened);
    SET_NUM("closed", tot->closed);
    SET_NUM("script_errors", rt_task_errors());
    SET_NUM("script_budget_stops", rt_budget_stops());
    SET_NUM("script_interrupts", rt_budget_interrupts());
    SET_NUM("script_timers", rt_timer_scripts());
    SET_NUM("script_timers_limit", RT_TIMER_MAX_SCRIPT);
    {                                       /* the Lua heap and its ceiling (scripts.memory_mb) */
        rt_heap_stats_t h;
        rt_heap_stats(&h);
        SET_NUM("lua_heap_bytes", h.hard ? (double)h.used : (double)lua_gc(L, LUA_GCCOUNT, 0) * 1024);
        SET_NUM("lua_heap_peak_bytes", h.peak);
        SET_NUM("lua_heap_limit_bytes", h.limit);
        SET_NUM("lua_heap_refused", h.refused);
        SET_NUM("lua_heap_throttled", h.crowded);      /* requests answered ESME_RTHROTTLED (rt_heap_crowded) */
        SET_NUM("lua_heap_cached_bytes", h.cached);    /* freed small blocks kept for reuse (rt_heap.c) */
        SET_NUM("lua_heap_cached_limit_bytes", h.cache_max);
    }
    SET_NUM("refused_connections", rt.net ? (double)net_refused(rt.net) : 0);
    {
        http_stats_t hs;
        http_get_stats(&hs);
        SET_NUM("http_connections", hs.open);
        SET_NUM("http_refused_connections", hs.refused);
        SET_NUM("http_evicted_connections", hs.evicted);
        SET_NUM("http_timeouts", hs.timeouts);
        SET_NUM("http_unauthorized", hs.unauthorized);
    }
    SET_NUM("input_pauses", rt.net ? (double)net_pauses(rt.net) : 0);
    SET_NUM("uptime_s", rt_uptime());
    lua_newtable(L);                        /* response times: counts per bucket */
    for (i = 0; i < SESS_RTT_BUCKETS; i++) {
        lua_pushnumber(L, (double)tot->rtt_buckets[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "response_time_buckets");
    lua_newtable(L);                        /* their upper bounds (the last bucket has none) */
    for (i = 0; i + 1 < SESS_RTT_BUCKETS; i++) {
        lua_pushnumber(L, sess_rtt_bounds_ms[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "response_time_bounds_ms");
    lua_newtable(L);
    for (side = 0; side < 2; side++) {
        lua_newtable(L);
        for (st = SESS_OPEN; st < SESS_CLOSED; st++)
            if (tot->open[side][st]) SET_NUM(sess_state_name((sess_state_t)st), tot->open[side][st]);
        lua_setfield(L, -2, sides[side]);
    }
    lua_setfield(L, -2, "open");
    lua_newtable(L);                        /* the counters by side: ESMEs bound to us, our binds */
    for (side = 0; side < 2; side++) {
        lua_newtable(L);
        push_counters(L, &tot->side[side]);
        lua_setfield(L, -2, sides[side]);
    }
    lua_setfield(L, -2, "sides");
    push_groups(L, rt.net ? (sess_ctx_t *)net_ctx(rt.net) : NULL);
    lua_setfield(L, -2, "groups");
    SET_NUM("groups_refused", rt.net ? (double)sess_ctx_groups_refused(net_ctx(rt.net)) : 0);
    push_counters(L, &tot->sum);
    lua_newtable(L);                        /* responses by status: name, or code in hex */
    for (v = 0; v < PDU_STATUS_SPAN; v++)
        if (tot->status_rx[v] || tot->status_tx[v]) push_status(L, v, tot->status_rx[v], tot->status_tx[v]);
    for (i = 0; i < tot->nother; i++)
        push_status(L, tot->other[i].status, tot->other[i].rx, tot->other[i].tx);
    if (tot->other_rx || tot->other_tx) {   /* codes past the bounded table */
        lua_createtable(L, 0, 2);
        SET_NUM("rx", tot->other_rx);
        SET_NUM("tx", tot->other_tx);
        lua_setfield(L, -2, "other");
    }
    lua_setfield(L, -2, "statuses");
    return 1;
}

void rt_stats_log_totals(void)
{
    const sess_totals_t *tot = totals();
    char line[2048];
    size_t i, n = 0;
    const pdu_cmd_t *c;
    for (i = 0; (c = pdu_cmd_at(i)) != NULL && n < sizeof line - 64; i++) {
        if (!tot->sum.rx_cmd[i] && !tot->sum.tx_cmd[i]) continue;
        n += (size_t)snprintf(line + n, sizeof line - n, " %s %u/%u", c->name,
                              tot->sum.rx_cmd[i], tot->sum.tx_cmd[i]);
    }
    line[n] = '\0';
    log_msg(LOG_INFO, 0, "totals: %llu sessions; PDUs in/out by command:%s",
            (unsigned long long)tot->opened, n ? line : " none");
}

const luaL_Reg rt_stats_lib[] = {
    {"stats", l_stats},
    {"session_stats", l_session_stats},
    {"session_group", l_session_group},
    {"sessions_page", l_sessions_page},
    {NULL, NULL}
};
