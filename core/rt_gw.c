/* rt_gw.c -- the gateway's links, settings, ids and stored messages, the
 * answers held for the commit, the events that go to Lua, its statistics
 * and its Lua functions (see rt_gw.h for the whole picture).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbridge.h"
#include "log.h"
#include "msgid.h"
#include "rt.h"
#include "rt_gw.h"
#include "rt_gwr.h"
#include "rt_store.h"
#include "rt_task.h"

#define HELD_MAX    100000      /* receipt answers waiting for one commit (then answered now) */
#define RECORD_PARTS 64         /* "upstream" ids: parts tried when an upstream reuses an id */

rt_gw_conf_t rt_gw_conf = {0, 60, 86400, 1, 60, MSGID_KEYED_HEX, LUA_NOREF};

typedef struct held_s {
    uint64_t sess_id;
    uint32_t seq, status;
} held_t;

static struct {
    rt_link_t     *links;
    held_t        *held;
    size_t         nheld, capheld;
    rt_gw_event_t *events;          /* in their tasks */
    pdu_t          pdu;             /* scratch: the PDU core.gw_queue stores */
    uint8_t       *buf;
    size_t         cap;
    uint64_t       stored, refused_full, refused_io, events_failed;
} gw;

/* -- Links ------------------------------------------------------------------------ */

rt_link_t *rt_gw_link(const char *name, size_t len, int create)
{
    rt_link_t *l;
    for (l = gw.links; l; l = l->next)
        if (l->len == len && memcmp(l->name, name, len) == 0) return l;
    if (!create || !(l = calloc(1, sizeof *l))) return NULL;
    if (!(l->name = malloc(len + 1))) {
        free(l);
        return NULL;
    }
    memcpy(l->name, name, len);
    l->name[len] = '\0';
    l->len = len;
    tb_init(&l->tb, 0, 0, 0);
    l->throttle_backoff = 1;
    l->throttle_retries = 3;
    l->wait = 5;
    l->next = gw.links;
    gw.links = l;
    return l;
}

rt_link_t *rt_gw_link_of(sess_t *s)
{
    if (sess_side(s) != SESS_ESME) return NULL;      /* server sessions' slot is the accounts' */
    return (rt_link_t *)net_owner_data(s);
}

void rt_gw_foreach(void (*fn)(rt_link_t *l, void *arg), void *arg)
{
    rt_link_t *l;
    for (l = gw.links; l; l = l->next) fn(l, arg);
}

static rt_link_t *link_arg(lua_State *L, int idx)
{
    size_t len;
    const char *name = luaL_checklstring(L, idx, &len);
    rt_link_t *l = rt_gw_link(name, len, 1);
    if (!l) luaL_error(L, "out of memory");
    return l;
}

/* -- Answers held for the commit ---------------------------------------------------- */

void rt_gw_hold_answer(uint64_t sess_id, uint32_t seq, uint32_t status)
{
    sess_t *s;
    if (gw.nheld == gw.capheld && gw.capheld < HELD_MAX) {
        size_t cap = gw.capheld ? gw.capheld * 2 : 256;
        held_t *h = realloc(gw.held, cap * sizeof *h);
        if (h) {
            gw.held = h;
            gw.capheld = cap;
        }
    }
    if (gw.nheld < gw.capheld) {
        gw.held[gw.nheld].sess_id = sess_id;
        gw.held[gw.nheld].seq = seq;
        gw.held[gw.nheld].status = status;
        gw.nheld++;
        return;
    }
    /* no room: ask the upstream to send it again rather than answer
     * before the commit */
    if (rt.net && (s = net_find(rt.net, sess_id)) != NULL) {
        sess_respond(s, seq, NULL, SMPP_ESME_RX_T_APPN, uv_now(rt.loop));
        net_touch(s);
    }
}

static void release_held(void)
{
    uint32_t fail = SMPP_ESME_RSYSERR;
    int ok = rt_store_committed(&fail);
    size_t i;
    for (i = 0; i < gw.nheld; i++) {
        held_t *h = &gw.held[i];
        sess_t *s = rt.net ? net_find(rt.net, h->sess_id) : NULL;
        if (!s) continue;
        sess_respond(s, h->seq, NULL, ok || h->status != SMPP_ESME_ROK ? h->status : fail, uv_now(rt.loop));
        net_touch(s);
    }
    gw.nheld = 0;
}

/* -- Events to Lua --------------------------------------------------------------------- */

static void event_free(rt_gw_event_t *ev)
{
    rt_gw_event_t **pp;
    for (pp = &gw.events; *pp; pp = &(*pp)->next) {
        if (*pp == ev) {
            *pp = ev->next;
            break;
        }
    }
    free(ev);
}

/* The handler's answer: nothing (the default), or a table { action =
 * "retry" | "move" | "finish", upstream =, delay =, state =, err =, line = }. */
static const char *event_finish(rt_task_t *t, int n)
{
    rt_gw_event_t *ev = t->arg;
    lua_State *co = t->co;
    const char *bad = NULL;
    if (n >= 1 && lua_istable(co, 1)) {
        lua_getfield(co, 1, "action");
        lua_getfield(co, 1, "upstream");
        lua_getfield(co, 1, "line");
        bad = rt_fwd_decide(ev, lua_tostring(co, -3), lua_tostring(co, -2), rt_opt_num(co, 1, "delay", 0),
                            (int)rt_opt_num(co, 1, "state", -1), (long long)rt_opt_num(co, 1, "err", ev->status),
                            lua_tostring(co, -1));
        lua_pop(co, 3);
    } else if (ev->decided) {
        bad = rt_fwd_decide(ev, NULL, NULL, 0, -1, ev->status, NULL);
    }
    if (bad) {
        log_msg(LOG_ERROR, 0, "gateway event %s for %s: %s; the default applies", ev->kind, ev->id, bad);
        rt_fwd_decide(ev, NULL, NULL, 0, -1, ev->status, NULL);
    }
    event_free(ev);
    return NULL;
}

static void event_fail(rt_task_t *t, const char *msg)
{
    rt_gw_event_t *ev = t->arg;
    gw.events_failed++;
    log_msg(LOG_ERROR, 0, "gateway event %s for %s failed: %s; the default applies", ev->kind, ev->id, msg);
    if (ev->decided) rt_fwd_decide(ev, NULL, NULL, 0, -1, ev->status, NULL);
    event_free(ev);
}

static const rt_task_owner_t event_owner = {event_finish, event_fail};

static void push_str(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static void push_num(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

void rt_gw_event(rt_gw_event_t *ev)
{
    lua_State *L = rt.L;
    rt_task_t *t;
    rt_gw_event_t *copy = malloc(sizeof *copy);
    if (copy) *copy = *ev;
    if (!copy || rt_gw_conf.on_event == LUA_NOREF || !(t = rt_task_new("gateway event", &event_owner))) {
        if (ev->decided) rt_fwd_decide(ev, NULL, NULL, 0, -1, ev->status, NULL);
        free(copy);
        return;
    }
    copy->next = gw.events;
    gw.events = copy;
    t->arg = copy;
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt_gw_conf.on_event);
    lua_createtable(L, 0, 12);
    push_str(L, "kind", copy->kind);
    push_str(L, "upstream", copy->link->name);
    push_num(L, "rowid", (double)copy->rowid);
    push_str(L, "id", copy->id);
    push_num(L, "part", (double)copy->part);
    push_str(L, "account", copy->account);
    push_str(L, "route", copy->route);
    push_num(L, "attempts", (double)copy->attempts);
    push_num(L, "registered_delivery", (double)copy->rd);
    push_num(L, "status", copy->status);
    if (copy->detail[0]) push_str(L, "detail", copy->detail);
    rt_task_start(t, 1);
}

/* -- Storing messages -------------------------------------------------------------------- */

/* The PDU at stack index 1 encoded into gw.buf; its length, or raises. */
static size_t encode_arg(lua_State *L)
{
    pdu_error_t perr;
    const char *why;
    long n;
    if ((why = lbridge_check_pdu(L, 1, &gw.pdu, NULL)) != NULL) luaL_error(L, "gateway: %s", why);
    if (!gw.buf && !(gw.buf = malloc(gw.cap = 4096))) luaL_error(L, "out of memory");
    while ((n = pdu_encode(&gw.pdu, gw.buf, gw.cap, &perr)) == PDU_ENOSPC) {
        uint8_t *p = realloc(gw.buf, perr.need);
        if (!p) luaL_error(L, "out of memory");
        gw.buf = p;
        gw.cap = perr.need;
    }
    if (n < 0) luaL_error(L, "gateway: %s", perr.msg);
    return (size_t)n;
}

static store_str_t field_str(pdu_field_id_t f)
{
    const pdu_value_t *v = pdu_get(&gw.pdu, f);
    store_str_t s = { "", 0 };
    if (v && v->ptr) {
        s.p = (const char *)v->ptr;
        s.n = v->len;
    }
    return s;
}

static store_str_t opt_str(lua_State *L, int idx, const char *k)
{
    store_str_t s = { NULL, 0 };
    lua_getfield(L, idx, k);
    if (!lua_isnil(L, -1)) s.p = luaL_checklstring(L, -1, &s.n);   /* the table keeps it */
    lua_pop(L, 1);
    return s;
}

/* The fields of the record that come from the PDU in gw.pdu (n octets in
 * gw.buf). */
static void pdu_fields(store_msg_t *m, size_t n, double now)
{
    const pdu_value_t *rd = pdu_get(&gw.pdu, PDU_F_REGISTERED_DELIVERY);
    m->submitted = now;
    m->source = field_str(PDU_F_SOURCE_ADDR);
    m->dest = field_str(PDU_F_DESTINATION_ADDR);
    if (!pdu_get(&gw.pdu, PDU_F_DESTINATION_ADDR) && gw.pdu.naddr > 0) {   /* submit_multi: its first */
        m->dest.p = (const char *)gw.pdu.addr[0].addr;
        m->dest.n = gw.pdu.addr[0].len;
    }
    m->service_type = field_str(PDU_F_SERVICE_TYPE);
    m->registered_delivery = rd ? rd->num : 0;
    m->pdu.p = (const char *)gw.buf;
    m->pdu.n = n;
}

/* The record of the PDU in gw.pdu with the options at stack index 2:
 * account, upstream, route, expires, notify, trace. */
static void record(lua_State *L, store_msg_t *m, size_t n, double now, char *trace, size_t tcap)
{
    store_str_t line = opt_str(L, 2, "trace");
    store_msg_clear(m);
    m->account = opt_str(L, 2, "account");
    m->upstream = opt_str(L, 2, "upstream");
    m->route = opt_str(L, 2, "route");
    m->notify = opt_str(L, 2, "notify");
    if (!m->account.p || !m->upstream.p) luaL_error(L, "gateway: account and upstream are required");
    m->expires = rt_opt_num(L, 2, "expires", NAN);
    pdu_fields(m, n, now);
    if (line.p) {
        rt_line_t tl;
        tl.p = trace;
        tl.cap = tcap;
        tl.n = store_stamp(trace, now);
        rt_gw_line_put(&tl, line.p, line.n);
        rt_gw_line_put(&tl, "\n", 1);
        m->trace.p = trace;
        m->trace.n = tl.n;
    }
}

/* -- Trace lines ------------------------------------------------------------------------ */

void rt_gw_line_put(rt_line_t *b, const char *s, size_t n)
{
    if (b->n + 1 >= b->cap) return;
    if (n > b->cap - 1 - b->n) n = b->cap - 1 - b->n;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void rt_gw_line_str(rt_line_t *b, const char *s)
{
    rt_gw_line_put(b, s, strlen(s));
}

void rt_gw_line_num(rt_line_t *b, unsigned long long v)
{
    char d[24];
    size_t k = sizeof d;
    do {
        d[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    rt_gw_line_put(b, d + k, sizeof d - k);
}

/* nil, "full" | "io: ...", detail for a store error. */
static int store_fail(lua_State *L, store_t *st, int rc)
{
    lua_pushnil(L);
    if (rc == STORE_EFULL) {
        gw.refused_full++;
        lua_pushliteral(L, "full");
    } else {
        gw.refused_io++;
        lua_pushfstring(L, "%s: %s", store_strerror(rc), store_errmsg(st));
    }
    lua_pushstring(L, store_errmsg(st));
    return 3;
}

/* core.gw_queue(pdu, account, upstream, route, expires, via [, notify]) ->
 * message id | nil, "full" | "io: ...", detail. The message goes into the
 * upstream's queue (store-and-forward): stored under the next key of the
 * store, its id made from that key, forwarded once the turn's commit has
 * stored it. via: the ESME's
 * session id (a number), or how it came (a string: "POST /send"); it and
 * the route are named in the first line of the trace. Positional, not a
 * table: this runs for every message. */
static int l_gw_queue(lua_State *L)
{
    store_t *st = rt_store();
    store_msg_t m;
    rt_link_t *l;
    char id[MSGID_KEYED_MAX], trace[512];
    rt_line_t tl;
    double now = rt_time();
    size_t n;
    long long key;
    int idlen;
    if (!st) return luaL_error(L, "gateway: no store in use");
    store_msg_clear(&m);
    m.account.p = luaL_checklstring(L, 2, &m.account.n);
    m.upstream.p = luaL_checklstring(L, 3, &m.upstream.n);
    m.route.p = luaL_checklstring(L, 4, &m.route.n);
    m.expires = luaL_checknumber(L, 5);
    tl.p = trace;
    tl.cap = sizeof trace;
    tl.n = store_stamp(trace, now);
    rt_gw_line_str(&tl, "accepted from ");
    rt_gw_line_put(&tl, m.account.p, m.account.n);
    if (lua_type(L, 6) == LUA_TNUMBER) {
        double via = lua_tonumber(L, 6);
        rt_gw_line_str(&tl, " (session ");
        rt_gw_line_num(&tl, via > 0 ? (unsigned long long)via : 0);
    } else {
        rt_gw_line_str(&tl, " (");
        rt_gw_line_str(&tl, luaL_optstring(L, 6, "?"));
    }
    rt_gw_line_str(&tl, "), route '");
    rt_gw_line_put(&tl, m.route.p, m.route.n);
    rt_gw_line_str(&tl, "', queued for ");
    rt_gw_line_put(&tl, m.upstream.p, m.upstream.n);
    rt_gw_line_put(&tl, "\n", 1);
    if (!lua_isnoneornil(L, 7)) m.notify.p = luaL_checklstring(L, 7, &m.notify.n);
    n = encode_arg(L);
    pdu_fields(&m, n, now);
    m.trace.p = trace;
    m.trace.n = tl.n;
    l = rt_gw_link(m.upstream.p, m.upstream.n, 1);
    if (!l) return luaL_error(L, "out of memory");
    if (l->max_queue > 0 && l->queued >= l->max_queue) {
        gw.refused_full++;
        lua_pushnil(L);
        lua_pushliteral(L, "full");
        lua_pushfstring(L, "the queue of %s holds %d messages (upstreams[].max_queue)", l->name, (int)l->queued);
        return 3;
    }
    if (rt_gwr_on()) return rt_gwr_queue(L, l, &m);     /* the cluster's store: Redis */
    /* no text id: the id is made from the key, which the store hands out
     * (never twice) and reads back from the id (msgid.h) */
    m.id_format = rt_gw_conf.id_format;
    m.due = rt_fwd_due(l, now);
    if ((key = store_put(st, &m)) < 0) return store_fail(L, st, (int)key);
    if ((idlen = msgid_keyed_make(rt_gw_conf.id_format, (unsigned long long)store_node_id(st),
                                  (unsigned long long)key, id, sizeof id)) < 0)
        return luaL_error(L, "gateway: no id for key %f", (double)key);
    gw.stored++;
    l->queued++;
    l->queued_total++;
    rt_fwd_wake(l);
    lua_pushlstring(L, id, (size_t)idlen);
    return 1;
}

/* core.gw_record(pdu, { account =, upstream =, route =, expires =, notify =,
 * trace =, upstream_id =, sent = }) -> message id | nil, err, detail. A
 * message the upstream accepted while the ESME waited (message_id
 * "upstream"): it is stored under the upstream's id (another part when an
 * upstream reused it), with the key its receipts are matched by; sent
 * (core.gw_stamp() before it went out) keeps receipts that arrived before
 * it from matching it. */
static int l_gw_record(lua_State *L)
{
    store_t *st = rt_store();
    store_msg_t m;
    store_str_t uid;
    rt_link_t *l;
    char key[160], trace[512];
    double now = rt_time();
    size_t n;
    long klen = -1;
    int rc = STORE_EEXISTS, part;
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!st) return luaL_error(L, "gateway: no store in use");
    if (rt_gwr_on()) return luaL_error(L, "gateway: message_id = \"upstream\" needs the SQLite store, not cluster.store");
    n = encode_arg(L);
    record(L, &m, n, now, trace, sizeof trace);
    uid = opt_str(L, 2, "upstream_id");
    if (!uid.p || uid.n == 0) return luaL_error(L, "gateway: upstream_id is required");
    l = rt_gw_link(m.upstream.p, m.upstream.n, 1);
    if (!l) return luaL_error(L, "out of memory");
    m.id = m.upstream_id = uid;
    m.state = 1;
    m.attempts = 1;
    if (rt_gw_wants_receipt(m.registered_delivery) && uid.n < sizeof key / 2 - 1
        && (klen = msgid_key(uid.p, uid.n, l->fmt_resp, key, sizeof key)) >= 0) {
        m.upstream_key.p = key;
        m.upstream_key.n = (size_t)klen;
    } else {
        m.final = 1;
        m.done = now;
    }
    for (part = 0; part < RECORD_PARTS && rc == STORE_EEXISTS; part++) {
        m.part = part;
        rc = store_put(st, &m);
    }
    if (rc < 0) return store_fail(L, st, rc);
    gw.stored++;
    l->sent++;
    l->accepted++;
    if (klen >= 0) rt_gw_rcpt_early(l, st, m.upstream_key, rt_opt_num(L, 2, "sent", NAN));
    lua_pushlstring(L, uid.p, uid.n);
    return 1;
}

/* -- Settings and sessions -------------------------------------------------------------- */

static int format_of(lua_State *L, int idx, const char *k, int dflt)
{
    const char *name = rt_opt_str(L, idx, k);
    int f = name ? msgid_format(name) : dflt;
    if (f < 0) luaL_error(L, "gateway: unknown id format '%s'", name);
    return f;
}

/* core.gw_start{ on_event = fn, early_ttl =, queue_ttl =, retry_min =,
 * retry_max =, id_format = "hex" | "decimal" | "uuid" }: the gateway's
 * settings (again on a reload). */
static int l_gw_start(lua_State *L)
{
    const char *f;
    luaL_checktype(L, 1, LUA_TTABLE);
    rt_gw_conf.early_ttl = rt_opt_num(L, 1, "early_ttl", rt_gw_conf.early_ttl);
    rt_gw_conf.queue_ttl = rt_opt_num(L, 1, "queue_ttl", rt_gw_conf.queue_ttl);
    rt_gw_conf.retry_min = rt_opt_num(L, 1, "retry_min", rt_gw_conf.retry_min);
    rt_gw_conf.retry_max = rt_opt_num(L, 1, "retry_max", rt_gw_conf.retry_max);
    f = rt_opt_str(L, 1, "id_format");
    if (f && (rt_gw_conf.id_format = msgid_keyed_format(f)) < 0) {
        rt_gw_conf.id_format = MSGID_KEYED_HEX;
        return luaL_error(L, "gateway: unknown id format '%s'", f);
    }
    lua_getfield(L, 1, "on_event");
    if (lua_isfunction(L, -1)) rt_registry_set(L, &rt_gw_conf.on_event, -1);
    lua_pop(L, 1);
    rt_gw_conf.on = 1;
    return 0;
}

/* core.gw_link(name, { throughput =, throttle_backoff =, throttle_retries =,
 * wait =, max_queue =, id_format = { resp =, receipt =, tlv = } }): a
 * configured link. */
static int l_gw_link(lua_State *L)
{
    rt_link_t *l = link_arg(L, 1);
    double rate;
    luaL_checktype(L, 2, LUA_TTABLE);
    rate = rt_opt_num(L, 2, "throughput", 0);
    if (rate != l->tb.rate) tb_init(&l->tb, rate, 0, rt.loop ? uv_now(rt.loop) : 0);
    l->throttle_backoff = rt_opt_num(L, 2, "throttle_backoff", 1);
    l->throttle_retries = (int)rt_opt_num(L, 2, "throttle_retries", 3);
    l->wait = rt_opt_num(L, 2, "wait", 5);
    l->max_queue = (long long)rt_opt_num(L, 2, "max_queue", 0);
    lua_getfield(L, 2, "id_format");
    l->fmt_resp = l->fmt_receipt = l->fmt_tlv = MSGID_STRING;
    if (lua_istable(L, -1)) {
        int t = lua_gettop(L);
        l->fmt_resp = format_of(L, t, "resp", MSGID_STRING);
        l->fmt_receipt = format_of(L, t, "receipt", l->fmt_resp);
        l->fmt_tlv = format_of(L, t, "tlv", l->fmt_resp);
    }
    lua_pop(L, 1);
    l->configured = 1;
    rt_fwd_wake(l);
    return 0;
}

static sess_t *sess_arg(lua_State *L, int idx)
{
    uint64_t id;
    if (lua_istable(L, idx)) {
        lua_getfield(L, idx, "id");
        id = (uint64_t)luaL_checknumber(L, -1);
        lua_pop(L, 1);
    } else {
        id = (uint64_t)luaL_checknumber(L, idx);
    }
    return rt.net ? net_find(rt.net, id) : NULL;
}

/* core.gw_attach(name, session): a bind of the link is up; the forwarder
 * sends through it and its receipts are matched here. */
static int l_gw_attach(lua_State *L)
{
    rt_link_t *l = link_arg(L, 1);
    sess_t *s = sess_arg(L, 2);
    if (!s || sess_side(s) != SESS_ESME) return 0;
    if (l->nsess == l->capsess) {
        uint32_t cap = l->capsess ? l->capsess * 2 : 4;
        uint64_t *p = realloc(l->sess, cap * sizeof *p);
        if (!p) return luaL_error(L, "out of memory");
        l->sess = p;
        l->capsess = cap;
    }
    l->sess[l->nsess++] = sess_id(s);
    net_set_owner_data(s, (intptr_t)l);
    rt_fwd_wake(l);
    return 0;
}

/* core.gw_detach(name, session): that bind is gone. */
static int l_gw_detach(lua_State *L)
{
    rt_link_t *l = link_arg(L, 1);
    uint64_t id;
    uint32_t i;
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "id");
        id = (uint64_t)luaL_checknumber(L, -1);
        lua_pop(L, 1);
    } else {
        id = (uint64_t)luaL_checknumber(L, 2);
    }
    for (i = 0; i < l->nsess && l->sess[i] != id; i++) {}
    if (i < l->nsess) {
        memmove(l->sess + i, l->sess + i + 1, (l->nsess - i - 1) * sizeof *l->sess);
        l->nsess--;
    }
    return 0;
}

/* core.gw_load(name) -> messages queued for the link and in flight on it
 * (least_outstanding picks the smallest). */
static int l_gw_load(lua_State *L)
{
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    rt_link_t *l = rt_gw_link(name, len, 0);
    lua_pushnumber(L, l ? (double)l->queued + l->inflight : 0);
    return 1;
}

/* -- Statistics ---------------------------------------------------------------------------- */

static void push_link(rt_link_t *l, void *arg)
{
    lua_State *L = arg;
    uint32_t i, up = 0;
    for (i = 0; i < l->nsess; i++) if (rt.net && net_find(rt.net, l->sess[i])) up++;
    lua_createtable(L, 0, 20);
    push_num(L, "queued", (double)l->queued);
    if (l->max_queue > 0) push_num(L, "max_queue", (double)l->max_queue);
    push_num(L, "inflight", l->inflight);
    push_num(L, "sessions", up);
    lua_pushboolean(L, rt_time() < l->paused_until);
    lua_setfield(L, -2, "paused");
    lua_pushboolean(L, l->configured);
    lua_setfield(L, -2, "configured");
    push_num(L, "queued_total", (double)l->queued_total);
    push_num(L, "sent", (double)l->sent);
    push_num(L, "accepted", (double)l->accepted);
    push_num(L, "retried", (double)l->retried);
    push_num(L, "throttled", (double)l->throttled);
    push_num(L, "refused", (double)l->refused);
    push_num(L, "expired", (double)l->expired);
    push_num(L, "moved", (double)l->moved);
    push_num(L, "receipts", (double)l->receipts);
    push_num(L, "receipts_early", (double)l->early);
    push_num(L, "receipts_early_matched", (double)l->early_matched);
    push_num(L, "receipts_unmatched", (double)l->unmatched);
    push_num(L, "receipts_refused", (double)l->receipts_refused);
    push_num(L, "receipts_relayed", (double)l->relayed);
    push_num(L, "answers_ok", (double)l->answers_ok);
    push_num(L, "answers_error", (double)l->answers_error);
    push_num(L, "answers_failed", (double)l->answers_failed);
    lua_setfield(L, -2, l->name);
}

/* core.gw_stats() -> { stored =, refused_full =, refused_io =, events_failed =,
 * held =, links = { [name] = { queued =, inflight =, sessions =, paused =,
 * sent =, accepted =, retried =, throttled =, refused =, expired =, moved =,
 * receipts =, receipts_early =, receipts_unmatched =, ..., answers_ok =,
 * answers_error =, answers_failed = (each send's outcome) } } } */
static int l_gw_stats(lua_State *L)
{
    lua_createtable(L, 0, 6);
    push_num(L, "stored", (double)gw.stored);
    push_num(L, "refused_full", (double)gw.refused_full);
    push_num(L, "refused_io", (double)gw.refused_io);
    push_num(L, "events_failed", (double)gw.events_failed);
    push_num(L, "held", (double)gw.nheld);
    lua_newtable(L);
    rt_gw_foreach(push_link, L);
    lua_setfield(L, -2, "links");
    return 1;
}

/* core.gw_stamp() -> the time of an event, ordered with the receipts'
 * (rt_gw_stamp). */
static int l_gw_stamp(lua_State *L)
{
    lua_pushnumber(L, rt_gw_stamp());
    return 1;
}

const luaL_Reg rt_gw_lib[] = {
    {"gw_start", l_gw_start},
    {"gw_link", l_gw_link},
    {"gw_attach", l_gw_attach},
    {"gw_detach", l_gw_detach},
    {"gw_queue", l_gw_queue},
    {"gw_record", l_gw_record},
    {"gw_stats", l_gw_stats},
    {"gw_load", l_gw_load},
    {"gw_stamp", l_gw_stamp},
    {NULL, NULL}
};

/* -- The runtime's hooks ----------------------------------------------------------------- */

static void count_queue(store_str_t upstream, long long n, void *ud)
{
    rt_link_t *l = rt_gw_link(upstream.p, upstream.n, 1);
    (void)ud;
    if (l) {
        l->queued = n;
        rt_fwd_wake(l);
    }
}

/* Serving starts: the queues the store holds (from before a restart) get
 * their links and counts, and their forwarders look at them. */
void rt_gw_start(void)
{
    store_t *st = rt_store();
    if (st && store_fwd_counts(st, count_queue, NULL) < 0)
        log_msg(LOG_ERROR, 0, "gateway: cannot count the forward queues: %s", store_errmsg(st));
    rt_fwd_start();
}

void rt_gw_turn(void)
{
    release_held();
    rt_fwd_turn();
}

void rt_gw_close(void)
{
    rt_fwd_close();
}

void rt_gw_stop(void)
{
    rt_link_t *l;
    release_held();
    rt_fwd_stop();
    while (gw.events) event_free(gw.events);      /* their tasks are gone with the loop */
    while ((l = gw.links) != NULL) {
        gw.links = l->next;
        free(l->sess);
        free(l->name);
        free(l);
    }
    free(gw.held);
    free(gw.buf);
    gw.held = NULL;
    gw.buf = NULL;
    gw.nheld = gw.capheld = gw.cap = 0;
    if (rt_gw_conf.on_event != LUA_NOREF) luaL_unref(rt.L, LUA_REGISTRYINDEX, rt_gw_conf.on_event);
    rt_gw_conf.on_event = LUA_NOREF;
    rt_gw_conf.on = 0;
}
