/* rt_acct.c -- the accounts index: per system_id, the server sessions
 * bound under it, kept as the engine reports binds, unbinds and closes
 * (see rt_acct.h); and its Lua functions: receivers(), receiver(),
 * bound_sessions(), accounts().
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rt.h"
#include "rt_acct.h"
#include "rt_sess.h"
#include "rt_store.h"

/* What a session's owner slot (net_owner_data) says about it: joined
 * under its system_id, and with which bind type (+1: 0 means not joined). */
#define JOINED(s) ((int)net_owner_data(s))

static struct {
    rt_acct_t **buckets;        /* chains by hash */
    size_t      nbuckets, count;
    rt_acct_t  *woken;          /* deliverers to run at the end of the turn */
} idx;

/* -- The table ------------------------------------------------------------------------- */

static size_t hash(const char *p, size_t n)
{
    size_t h = 2166136261u, i;
    for (i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

static int grow(void)
{
    size_t cap = idx.nbuckets ? idx.nbuckets * 2 : 64, i;
    rt_acct_t **b = calloc(cap, sizeof *b);
    if (!b) return -1;
    for (i = 0; i < idx.nbuckets; i++) {
        rt_acct_t *a, *next;
        for (a = idx.buckets[i]; a; a = next) {
            size_t h = hash(a->name, a->len) & (cap - 1);
            next = a->next;
            a->next = b[h];
            b[h] = a;
        }
    }
    free(idx.buckets);
    idx.buckets = b;
    idx.nbuckets = cap;
    return 0;
}

rt_acct_t *rt_acct_get(const char *name, size_t len, int create)
{
    rt_acct_t *a;
    size_t h;
    if (idx.nbuckets) {
        for (a = idx.buckets[hash(name, len) & (idx.nbuckets - 1)]; a; a = a->next)
            if (a->len == len && memcmp(a->name, name, len) == 0) return a;
    }
    if (!create) return NULL;
    if ((idx.count + 1 > idx.nbuckets && grow() < 0) || !(a = calloc(1, sizeof *a))) return NULL;
    if (!(a->name = malloc(len + 1))) {
        free(a);
        return NULL;
    }
    memcpy(a->name, name, len);
    a->name[len] = '\0';
    a->len = len;
    h = hash(name, len) & (idx.nbuckets - 1);
    a->next = idx.buckets[h];
    idx.buckets[h] = a;
    idx.count++;
    return a;
}

static void acct_free(rt_acct_t *a)
{
    free(a->rx);
    free(a->tx);
    free(a->name);
    free(a);
}

void rt_acct_release(rt_acct_t *a)
{
    rt_acct_t **pp;
    if (a->nrx || a->ntx || a->inflight || a->queued || a->wake_at > 0) return;
    for (pp = &idx.buckets[hash(a->name, a->len) & (idx.nbuckets - 1)]; *pp; pp = &(*pp)->next) {
        if (*pp == a) {
            *pp = a->next;
            idx.count--;
            acct_free(a);
            return;
        }
    }
}

void rt_acct_wake(rt_acct_t *a)
{
    if (a->queued) return;
    a->queued = 1;
    a->run_next = idx.woken;
    idx.woken = a;
}

int rt_acct_woken(void)
{
    return idx.woken != NULL;
}

rt_acct_t *rt_acct_take_woken(void)
{
    rt_acct_t *list = idx.woken;
    idx.woken = NULL;
    return list;
}

void rt_acct_foreach(void (*fn)(rt_acct_t *a, void *arg), void *arg)
{
    size_t i;
    rt_acct_t *a;
    for (i = 0; i < idx.nbuckets; i++)
        for (a = idx.buckets[i]; a; a = a->next) fn(a, arg);
}

void rt_acct_free_all(void)
{
    size_t i;
    for (i = 0; i < idx.nbuckets; i++) {
        rt_acct_t *a, *next;
        for (a = idx.buckets[i]; a; a = next) {
            next = a->next;
            acct_free(a);
        }
    }
    free(idx.buckets);
    memset(&idx, 0, sizeof idx);
}

/* -- Sessions of an account -------------------------------------------------------------- */

static int list_add(uint64_t **list, uint32_t *n, uint32_t *cap, uint64_t id)
{
    if (*n == *cap) {
        uint32_t c = *cap ? *cap * 2 : 4;
        uint64_t *p = realloc(*list, c * sizeof *p);
        if (!p) return -1;
        *list = p;
        *cap = c;
    }
    (*list)[(*n)++] = id;
    return 0;
}

/* Remove id, keeping the order (round robin stays fair). */
static void list_del(uint64_t *list, uint32_t *n, uint64_t id)
{
    uint32_t i;
    for (i = 0; i < *n && list[i] != id; i++) {}
    if (i == *n) return;
    memmove(list + i, list + i + 1, (*n - i - 1) * sizeof *list);
    (*n)--;
}

static int bind_type(sess_state_t st)
{
    switch (st) {
    case SESS_BOUND_TX: return RT_BIND_TX;
    case SESS_BOUND_RX: return RT_BIND_RX;
    case SESS_BOUND_TRX: return RT_BIND_TRX;
    default: return -1;
    }
}

static void join(sess_t *s, int type)
{
    const char *name = sess_system_id(s);
    rt_acct_t *a = rt_acct_get(name, strlen(name), 1);
    int rc;
    if (!a) {
        log_msg(LOG_ERROR, sess_id(s), "out of memory: %s's deliveries will not use this session", name);
        return;
    }
    rc = type == RT_BIND_TX ? list_add(&a->tx, &a->ntx, &a->captx, sess_id(s))
                            : list_add(&a->rx, &a->nrx, &a->caprx, sess_id(s));
    if (rc < 0) {
        log_msg(LOG_ERROR, sess_id(s), "out of memory: %s's deliveries will not use this session", name);
        rt_acct_release(a);
        return;
    }
    a->bound[type]++;
    net_set_owner_data(s, type + 1);
    if (type != RT_BIND_TX) rt_acct_wake(a);     /* what waited for a receiver goes now */
}

static void leave(sess_t *s)
{
    const char *name = sess_system_id(s);
    int type = JOINED(s) - 1;
    rt_acct_t *a = rt_acct_get(name, strlen(name), 0);
    net_set_owner_data(s, 0);
    if (!a || type < 0) return;
    if (type == RT_BIND_TX) list_del(a->tx, &a->ntx, sess_id(s));
    else list_del(a->rx, &a->nrx, sess_id(s));
    a->bound[type]--;
    rt_acct_release(a);
}

void rt_acct_on_state(sess_t *s, sess_state_t old)
{
    int type = bind_type(sess_state(s));
    (void)old;
    if (sess_side(s) != SESS_SMSC) return;       /* our own binds to upstreams are not accounts */
    if (type >= 0 && !JOINED(s)) join(s, type);
    else if (type < 0 && JOINED(s)) leave(s);
}

void rt_acct_on_closed(sess_t *s)
{
    if (JOINED(s)) leave(s);
}

/* -- Picking a receiver -------------------------------------------------------------------- */

/* A receiver whose oldest request has waited longer than this for its
 * answer (1 s, or half its response_timeout when that is shorter) has
 * stopped answering: nothing more goes to it until it answers, so that
 * one stuck ESME session does not collect its account's receipts. */
#define LATE_MS 1000

static int has_slot(sess_t *s)
{
    uint64_t late = sess_config(s)->response_timeout_ms / 2;
    return !sess_is_closing(s) && sess_state(s) != SESS_UNBINDING
           && sess_window_used(s) < sess_config(s)->window
           && !sess_late(s, uv_now(rt.loop), late < LATE_MS ? late : LATE_MS);
}

sess_t *rt_acct_pick(rt_acct_t *a)
{
    uint32_t k;
    for (k = 0; k < a->nrx; k++) {
        uint32_t i = (a->rr + k) % a->nrx;
        sess_t *s = net_find(rt.net, a->rx[i]);
        if (s && has_slot(s)) {
            a->rr = i + 1;
            return s;
        }
    }
    return NULL;
}

sess_t *rt_acct_pick_pref(rt_acct_t *a, uint64_t id)
{
    uint32_t i;
    sess_t *s;
    /* a's list, not net_find alone: ids are not kept across restarts, so
     * one from before may name another account's session now */
    for (i = 0; id && i < a->nrx; i++) {
        if (a->rx[i] != id) continue;
        if ((s = net_find(rt.net, id)) != NULL && has_slot(s)) return s;
        break;
    }
    return rt_acct_pick(a);
}

uint32_t rt_acct_free_slots(rt_acct_t *a)
{
    uint32_t k, free_slots = 0;
    for (k = 0; k < a->nrx; k++) {
        sess_t *s = net_find(rt.net, a->rx[k]);
        if (s && has_slot(s)) free_slots += sess_config(s)->window - sess_window_used(s);
    }
    return free_slots;
}

/* -- Lua functions --------------------------------------------------------------------------- */

static rt_acct_t *arg_acct(lua_State *L)
{
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    return rt_acct_get(name, len, 0);
}

/* core.receivers(system_id) -> bound receivers and transceivers (server side). */
static int l_receivers(lua_State *L)
{
    rt_acct_t *a = arg_acct(L);
    lua_pushnumber(L, a ? a->nrx : 0);
    return 1;
}

/* core.receiver(system_id) -> the next receiver or transceiver of the
 * account with a free window slot (round robin), or nil, "no receiver",
 * or nil, "window full", a receiver to wait on (session:wait_slot). */
static int l_receiver(lua_State *L)
{
    rt_acct_t *a = arg_acct(L);
    sess_t *s;
    if (!a || !a->nrx || !rt.net) {
        lua_pushnil(L);
        lua_pushliteral(L, "no receiver");
        return 2;
    }
    if ((s = rt_acct_pick(a)) != NULL) {
        rt_sess_push(L, sess_id(s));
        return 1;
    }
    lua_pushnil(L);
    lua_pushliteral(L, "window full");
    rt_sess_push(L, a->rx[a->rr++ % a->nrx]);
    return 3;
}

static void push_ids(lua_State *L, const uint64_t *ids, uint32_t n)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        rt_sess_push(L, ids[i]);
        if (lua_istable(L, -1)) lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
        else lua_pop(L, 1);
    }
}

/* core.bound_sessions(system_id) -> the session tables of the server
 * sessions bound under system_id: receivers and transceivers first. */
static int l_bound_sessions(lua_State *L)
{
    rt_acct_t *a = arg_acct(L);
    lua_newtable(L);
    if (a) {
        push_ids(L, a->rx, a->nrx);
        push_ids(L, a->tx, a->ntx);
    }
    return 1;
}


static void push_acct(rt_acct_t *a, void *arg)
{
    lua_State *L = arg;
    store_t *s = rt_store();
    store_str_t name;
    name.p = a->name;
    name.n = a->len;
    lua_createtable(L, 0, 13);
    lua_createtable(L, 0, 3);
    SET_NUM("transmitter", a->bound[RT_BIND_TX]);
    SET_NUM("receiver", a->bound[RT_BIND_RX]);
    SET_NUM("transceiver", a->bound[RT_BIND_TRX]);
    lua_setfield(L, -2, "bound");
    SET_NUM("receivers", a->nrx);
    SET_NUM("outbox", s ? store_outbox_count(s, name) : 0);
    SET_NUM("inflight", a->inflight);
    SET_NUM("posted", a->posted);
    SET_NUM("full", a->full);
    SET_NUM("delivered", a->delivered);
    SET_NUM("refused", a->refused);
    SET_NUM("retried", a->retried);
    SET_NUM("undeliverable", a->undeliverable);
    lua_setfield(L, -2, a->name);
}

/* core.accounts() -> { [system_id] = { bound = { transmitter =, receiver =,
 * transceiver = }, receivers =, outbox =, inflight =, posted =, full =, delivered =,
 * refused =, retried =, undeliverable = } } for the accounts with bound
 * sessions or deliveries under way. */
static int l_accounts(lua_State *L)
{
    lua_createtable(L, 0, (int)idx.count);
    rt_acct_foreach(push_acct, L);
    return 1;
}

const luaL_Reg rt_acct_lib[] = {
    {"receivers", l_receivers},
    {"receiver", l_receiver},
    {"bound_sessions", l_bound_sessions},
    {"accounts", l_accounts},
    {NULL, NULL}
};
