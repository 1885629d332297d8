/* rt_route.h -- the per-route and per-account figures the C side keeps
 * for the gateway (rt_route.c): latency histograms per route, receipts by
 * stat per route and per account, MO per account.
 *
 * Who owns what. The two tables (routes, accounts) belong to rt_route.c
 * and live until the process ends: counters never go back. Each holds at
 * most RT_ROUTE_MAX names; what comes past that is counted in one more
 * row named RT_ROUTE_OTHER, so a configuration (or a script) with many
 * route names cannot grow memory without bound. Names are copied (cut at
 * RT_ROUTE_NAME - 1 octets); callers keep theirs. One loop thread: no
 * locks. The latency buckets are the engine's (sess_rtt_bounds_ms), so
 * every histogram the process exports has the same bounds.
 */
#ifndef SMPPGW_RT_ROUTE_H
#define SMPPGW_RT_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "sess.h"

#define RT_ROUTE_MAX    512
#define RT_ROUTE_NAME   72
#define RT_ROUTE_OTHER  "(other)"
#define RT_ROUTE_STATES 10      /* message_state 0..9; anything else in the last row */

typedef struct rt_route_row_s {
    char     name[RT_ROUTE_NAME];
    uint64_t lat_buckets[SESS_RTT_BUCKETS];  /* not cumulative */
    double   lat_sum_ms;
    uint64_t receipts[RT_ROUTE_STATES + 1];  /* by message_state; [RT_ROUTE_STATES]: other */
    uint64_t mo;                             /* accounts only */
} rt_route_row_t;

/* The route `name` (n octets) waited `seconds` for its upstream's answer
 * (store and forward: from the message's acceptance; message_id
 * "upstream": the time the ESME waited). Negative times count as 0. */
void rt_route_latency(const char *name, size_t n, double seconds);

/* A receipt with message_state `state` was matched to a message of route
 * `route` (n octets; NULL or empty: none, not counted per route) and
 * account `account` (an; NULL or empty: not counted per account). */
void rt_route_receipt(const char *route, size_t n, const char *account, size_t an, int state);

/* An MO message was put in account's outbox. */
void rt_route_mo(const char *account, size_t an);

/* The name a receipts row of state i (0..RT_ROUTE_STATES) is shown as. */
const char *rt_route_state_name(int i);

/* The Lua functions (route_latency, route_mo, route_stats). */
extern const luaL_Reg rt_route_lib[];

#endif /* SMPPGW_RT_ROUTE_H */
