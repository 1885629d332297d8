/* rt_route.c -- the per-route and per-account figures of the gateway:
 * latency histograms per route, receipts by stat, MO per account (rt_route.h).
 */
#include <stdlib.h>
#include <string.h>

#include "dlr.h"
#include "rt.h"
#include "rt_route.h"

#define SLOTS (RT_ROUTE_MAX * 2)   /* open addressing, at most half full */

/* One table of names: rows in creation order, a hash of them, the row of
 * names past the bound. Rows are allocated on first use. */
typedef struct table_s {
    rt_route_row_t *rows[RT_ROUTE_MAX];
    size_t          nrows;
    int16_t         slot[SLOTS];   /* index + 1 into rows; 0: free */
    rt_route_row_t *other;
} table_t;

static table_t routes, accounts;

/* -- Rows ---------------------------------------------------------------------------------- */

static uint32_t hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;     /* FNV-1a */
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static rt_route_row_t *row_new(const char *name, size_t n)
{
    rt_route_row_t *r = calloc(1, sizeof *r);
    if (r) memcpy(r->name, name, n);
    return r;
}

/* The row of name (cut to RT_ROUTE_NAME - 1 octets), created when new;
 * past the bound, the table's other row; NULL without memory. */
static rt_route_row_t *row_of(table_t *t, const char *name, size_t n)
{
    uint32_t i;
    rt_route_row_t *r;
    if (n > RT_ROUTE_NAME - 1) n = RT_ROUTE_NAME - 1;
    for (i = hash(name, n) % SLOTS; t->slot[i]; i = (i + 1) % SLOTS) {
        r = t->rows[t->slot[i] - 1];
        if (memcmp(r->name, name, n) == 0 && r->name[n] == '\0') return r;
    }
    if (t->nrows == RT_ROUTE_MAX) {
        if (!t->other) t->other = row_new(RT_ROUTE_OTHER, sizeof RT_ROUTE_OTHER - 1);
        return t->other;
    }
    if (!(r = row_new(name, n))) return NULL;
    t->rows[t->nrows++] = r;
    t->slot[i] = (int16_t)t->nrows;
    return r;
}

/* -- Counting ---------------------------------------------------------------------------------- */

void rt_route_latency(const char *name, size_t n, double seconds)
{
    rt_route_row_t *r;
    double ms = seconds > 0 ? seconds * 1000.0 : 0;
    size_t b = 0;
    if (!name || !(r = row_of(&routes, name, n))) return;
    while (b < SESS_RTT_BUCKETS - 1 && ms > sess_rtt_bounds_ms[b]) b++;
    r->lat_buckets[b]++;
    r->lat_sum_ms += ms;
}

void rt_route_receipt(const char *route, size_t n, const char *account, size_t an, int state)
{
    rt_route_row_t *r;
    int i = state >= 0 && state < RT_ROUTE_STATES ? state : RT_ROUTE_STATES;
    if (route && n && (r = row_of(&routes, route, n)) != NULL) r->receipts[i]++;
    if (account && an && (r = row_of(&accounts, account, an)) != NULL) r->receipts[i]++;
}

void rt_route_mo(const char *account, size_t an)
{
    rt_route_row_t *r;
    if (account && an && (r = row_of(&accounts, account, an)) != NULL) r->mo++;
}

const char *rt_route_state_name(int i)
{
    const char *w;
    if (i == 0) return "SCHEDULED";
    if (i == 9) return "SKIPPED";
    w = i > 0 && i < RT_ROUTE_STATES ? dlr_stat_of(i) : NULL;
    return w ? w : "other";
}

/* -- Lua ---------------------------------------------------------------------------------------- */


static void push_row(lua_State *L, const rt_route_row_t *r, int with_latency)
{
    int i;
    lua_newtable(L);
    if (with_latency) {
        uint64_t count = 0;
        lua_createtable(L, SESS_RTT_BUCKETS, 0);
        for (i = 0; i < SESS_RTT_BUCKETS; i++) {
            count += r->lat_buckets[i];
            lua_pushnumber(L, (double)r->lat_buckets[i]);
            lua_rawseti(L, -2, i + 1);
        }
        lua_setfield(L, -2, "latency_buckets");
        SET_NUM("latency_sum_ms", r->lat_sum_ms);
        SET_NUM("latency_count", count);
    } else {
        SET_NUM("mo", r->mo);
    }
    lua_newtable(L);
    for (i = 0; i <= RT_ROUTE_STATES; i++)
        if (r->receipts[i]) SET_NUM(rt_route_state_name(i), r->receipts[i]);
    lua_setfield(L, -2, "receipts");
    lua_setfield(L, -2, r->name);
}

static void push_table(lua_State *L, const table_t *t, int with_latency)
{
    size_t i;
    lua_newtable(L);
    for (i = 0; i < t->nrows; i++) push_row(L, t->rows[i], with_latency);
    if (t->other) push_row(L, t->other, with_latency);
}

/* core.route_stats() -> { routes = { name = { latency_buckets = {...},
 * latency_sum_ms, latency_count, receipts = { DELIVRD = n, ... } } },
 * accounts = { name = { mo, receipts } }, latency_bounds_ms = {...} }. */
static int l_route_stats(lua_State *L)
{
    int i;
    lua_newtable(L);
    push_table(L, &routes, 1);
    lua_setfield(L, -2, "routes");
    push_table(L, &accounts, 0);
    lua_setfield(L, -2, "accounts");
    lua_newtable(L);                        /* the last bucket has no bound: +Inf */
    for (i = 0; i + 1 < SESS_RTT_BUCKETS; i++) {
        lua_pushnumber(L, sess_rtt_bounds_ms[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "latency_bounds_ms");
    return 1;
}

/* core.route_latency(route, seconds): the ESME waited that long for the
 * upstream's answer on that route (message_id "upstream"). */
static int l_route_latency(lua_State *L)
{
    size_t n;
    const char *name = luaL_checklstring(L, 1, &n);
    rt_route_latency(name, n, luaL_checknumber(L, 2));
    return 0;
}

/* core.route_mo(account): one MO message queued for the account. */
static int l_route_mo(lua_State *L)
{
    size_t n;
    const char *name = luaL_checklstring(L, 1, &n);
    rt_route_mo(name, n);
    return 0;
}

const luaL_Reg rt_route_lib[] = {
    {"route_stats", l_route_stats},
    {"route_latency", l_route_latency},
    {"route_mo", l_route_mo},
    {NULL, NULL}
};
