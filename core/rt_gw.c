/* rt_gw.c -- the gateway's links, settings and ids, the answers held for
 * the commit, the events that go to Lua, trace lines, its statistics and
 * its Lua functions but storing (see rt_gw.h for the whole picture).
 *
 * Who owns what: this file owns the links, the held answers and the
 * events in their tasks; storing messages (core.gw_queue, gw_record) and
 * its scratch buffer and counters are rt_gw_store.c's, reached through
 * rt_gw_int.h.
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
#include "rt_gw_int.h"
#include "rt_gwr.h"
#include "rt_store.h"
#include "rt_task.h"

#define HELD_MAX    100000      /* receipt answers waiting for one commit (then answered now) */

rt_gw_conf_t rt_gw_conf = {0, 60, 86400, 2, 1, 60, MSGID_KEYED_HEX, LUA_NOREF};

typedef struct held_s {
    uint64_t sess_id;
    uint32_t seq, status;
} held_t;

static struct {
    rt_link_t     *links;
    held_t        *held;
    size_t         nheld, capheld;
    rt_gw_event_t *events;          /* in their tasks */
    uint64_t       events_failed;
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
    l->max_timeouts = 3;
    l->max_errors = 0;
    l->next = gw.links;
    gw.links = l;
    return l;
}

rt_link_t *rt_gw_link_of(sess_t *s)
{
    if (sess_side(s) != SESS_ESME) return NULL;      /* server sessions' slot is the accounts' */
    return (rt_link_t *)net_owner_data(s);
}

double rt_gw_stamp(void)
{
    static double last;
    double now = rt_time();
    /* 1 us steps: distinct for doubles near 2e9 s (spacing 0.24 us), and
     * far more events than the gateway handles in a millisecond */
    last = now > last ? now : last + 1e-6;
    return last;
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
    if (ev->decided && ev->link->deciding > 0) ev->link->deciding--;
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
    if (copy->decided) copy->link->deciding++;      /* its row stays queued until the decision */
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
    rt_store_set_undo(rt_fwd_undo);       /* a failed run's message is not forwarded (rt_gw_held.c) */
    rt_store_set_runs(rt_fwd_lost, rt_fwd_refused);   /* an error answer: not forwarded either */
    rt_gw_conf.early_ttl = rt_opt_num(L, 1, "early_ttl", rt_gw_conf.early_ttl);
    rt_gw_conf.queue_ttl = rt_opt_num(L, 1, "queue_ttl", rt_gw_conf.queue_ttl);
    rt_gw_conf.receipt_wait = rt_opt_num(L, 1, "receipt_wait", rt_gw_conf.receipt_wait);
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
 * wait =, max_timeouts =, max_queue =, id_format = { resp =, receipt =, tlv = },
 * receipts_for = name }): a configured link. */
static int l_gw_link(lua_State *L)
{
    rt_link_t *l = link_arg(L, 1);
    const char *rf;
    size_t rn = 0;
    double rate;
    luaL_checktype(L, 2, LUA_TTABLE);
    rate = rt_opt_num(L, 2, "throughput", 0);
    if (rate != l->tb.rate) tb_init(&l->tb, rate, 0, rt.loop ? uv_now(rt.loop) : 0);
    l->throttle_backoff = rt_opt_num(L, 2, "throttle_backoff", 1);
    l->throttle_retries = (int)rt_opt_num(L, 2, "throttle_retries", 3);
    l->wait = rt_opt_num(L, 2, "wait", 5);
    l->max_timeouts = (int)rt_opt_num(L, 2, "max_timeouts", 3);
    l->max_errors = (int)rt_opt_num(L, 2, "max_errors", 0);
    if (l->max_timeouts <= 0 && l->max_errors <= 0) l->silent_since = 0;   /* turned off: it counts as answering */
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
    /* a receiver link's receipts, matched as the transmitter link's */
    lua_getfield(L, 2, "receipts_for");
    rf = lua_isstring(L, -1) ? lua_tolstring(L, -1, &rn) : NULL;
    l->rcpt_for = rf && !(rn == l->len && memcmp(rf, l->name, rn) == 0) ? rt_gw_link(rf, rn, 1) : NULL;
    lua_pop(L, 1);
    l->configured = 1;
    rt_fwd_wake(l);
    return 0;
}

/* core.gw_groups({ { name, name, ... }, ... }, former): the receipt groups
 * (the upstream entries of one SMSC account, two or more each; every link
 * not named is alone), as the configuration now has them: a receipt from
 * any link of a group is matched among the messages of all. former: the
 * names a reload removed that upstream.lua keeps (at most its MAX_FORMER),
 * shown in the statistics while the others, idle, are not. */
static int l_gw_groups(lua_State *L)
{
    rt_link_t *l, *first, *prev;
    size_t i, j, n;
    luaL_checktype(L, 1, LUA_TTABLE);
    for (l = gw.links; l; l = l->next) l->sib = NULL, l->former = 0;
    for (i = 1; lua_istable(L, 2) && i <= lua_objlen(L, 2); i++) {
        const char *name;
        lua_rawgeti(L, 2, (int)i);
        if ((name = lua_tolstring(L, -1, &n)) != NULL && (l = rt_gw_link(name, n, 0)) != NULL) l->former = 1;
        lua_pop(L, 1);
    }
    for (i = 1; i <= lua_objlen(L, 1); i++) {
        lua_rawgeti(L, 1, (int)i);
        first = prev = NULL;
        for (j = 1; lua_istable(L, -1) && j <= lua_objlen(L, -1); j++) {
            const char *name;
            lua_rawgeti(L, -1, (int)j);
            name = lua_tolstring(L, -1, &n);
            if (name && (l = rt_gw_link(name, n, 1)) != NULL && !l->sib && l != first && l != prev) {
                if (prev) prev->sib = l;
                else first = l;
                prev = l;
            }
            lua_pop(L, 1);
        }
        if (prev && prev != first) prev->sib = first;    /* a ring of two or more */
        else if (first) first->sib = NULL;
        lua_pop(L, 1);
    }
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

/* core.gw_unlink(name): a reload removed that upstream. What its queue
 * holds is offered to the event handler once the link has not sent for
 * its `wait` (moved to another usable upstream of the message's route,
 * gateway.lua), else it waits until its validity ends. */
static int l_gw_unlink(lua_State *L)
{
    rt_link_t *l = link_arg(L, 1);
    l->configured = 0;
    if (l->queued > 0)
        log_msg(LOG_WARN, 0, "upstream %s removed with %lld messages queued: they move to another upstream of "
                "their route after %g s (its wait), else they wait until their validity ends", l->name, l->queued,
                l->wait);
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
    /* a name a reload removed that upstream.lua no longer keeps (past its
     * 256 newest), with nothing left on it and in no receipt group: not
     * shown, so that /stats does not grow with every name the process has
     * had (its record stays until a restart: docs/gateway.md) */
    if (!l->configured && !l->former && !l->sib && !l->nsess && !l->queued && !l->parked && !l->inflight) return;
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
    lua_pushboolean(L, l->silent_since != 0);
    lua_setfield(L, -2, "unanswered");                     /* rt_gw_link_answer */
    push_num(L, "unanswered_s", l->silent_since ? rt_time() - l->silent_since : 0);
    push_num(L, "timeouts_in_row", l->timeouts_row);
    push_num(L, "timeouts", (double)l->timeouts);
    push_num(L, "errors_in_row", l->errors_row);
    push_num(L, "link_errors", (double)l->link_errors);
    push_num(L, "late_answers", (double)l->late_answers);
    push_num(L, "unanswered_total", (double)l->unanswered);
    push_num(L, "queued_total", (double)l->queued_total);
    push_num(L, "sent", (double)l->sent);
    push_num(L, "sent_from_memory", (double)l->sent_memory);
    push_num(L, "held", (double)l->nheld);          /* in memory now, at most 10,000 (rt_gw_held.c) */
    push_num(L, "parked", (double)l->parked);       /* stored by runs that wait (rt_gw_held.c) */
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
    push_num(L, "receipts_repeated", (double)l->repeated);
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
    rt_gw_store__push_stats(L);
    rt_fwd__turn_stats(L);
    push_num(L, "events_failed", (double)gw.events_failed);
    push_num(L, "held", (double)gw.nheld);
    push_num(L, "origins", (double)rt_gw_origin_count());
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

/* core.gw_links([names]) -> the link records held (one per name the process
 * has had, kept until serving ends), and how many of the list names have none */
static int l_gw_links(lua_State *L)
{
    rt_link_t *l;
    lua_Integer n = 0, fresh = 0, i;
    size_t len;
    const char *name;
    for (l = gw.links; l; l = l->next) n++;
    for (i = 1; lua_istable(L, 1) && i <= (lua_Integer)lua_objlen(L, 1); i++, lua_pop(L, 1)) {
        lua_rawgeti(L, 1, (int)i);
        if ((name = lua_tolstring(L, -1, &len)) != NULL && !rt_gw_link(name, len, 0)) fresh++;
    }
    lua_pushinteger(L, n);
    lua_pushinteger(L, fresh);
    return 2;
}

const luaL_Reg rt_gw_lib[] = {
    {"gw_start", l_gw_start},
    {"gw_link", l_gw_link},
    {"gw_groups", l_gw_groups},
    {"gw_attach", l_gw_attach},
    {"gw_detach", l_gw_detach},
    {"gw_unlink", l_gw_unlink},
    {"gw_stats", l_gw_stats},
    {"gw_load", l_gw_load},
    {"gw_stamp", l_gw_stamp},
    {"gw_links", l_gw_links},
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

/* Rows parked when the process stopped (their runs, which never
 * answered their ESMEs, are gone) go back to their queues: forwarded, at
 * least once, as any message stored and not answered. They were counted
 * in the queue already. */
static void unpark_link(rt_link_t *l, void *arg)
{
    static const char line[] = "its handler had not ended when the gateway stopped: queued again at start "
                               "(forwarded at least once)";
    store_t *st = rt_store();
    long long n;
    (void)arg;
    if (!st || l->queued <= 0) return;
    n = store_fwd_unpark_all(st, (store_str_t){l->name, l->len}, rt_time(), rt_time(),
                             (store_str_t){line, sizeof line - 1});
    if (n < 0) log_msg(LOG_ERROR, 0, "gateway: the parked messages of %s: %s", l->name, store_errmsg(st));
    else if (n > 0)
        log_msg(LOG_WARN, 0, "gateway: %lld messages of %s stored by handlers that had not ended when the "
                "gateway stopped: queued again (forwarded at least once)", n, l->name);
}

/* Serving starts: the queues the store holds (from before a restart) get
 * their links and counts (parked rows queued again), and their forwarders
 * look at them. */
void rt_gw_start(void)
{
    store_t *st = rt_store();
    if (st && store_fwd_counts(st, count_queue, NULL) < 0)
        log_msg(LOG_ERROR, 0, "gateway: cannot count the forward queues: %s", store_errmsg(st));
    if (st && !rt_gwr_on()) rt_gw_foreach(unpark_link, NULL);
    rt_gw_wait_open();
    rt_fwd_start();
}

void rt_gw_turn(void)
{
    release_held();
    rt_gw_rcpt_turn();
    rt_fwd_turn();
}

void rt_gw_close(void)
{
    rt_gw_wait_close();
    rt_fwd_close();
}

void rt_gw_stop(void)
{
    rt_link_t *l;
    release_held();
    rt_gw_rcpt_drop();
    rt_fwd_stop();
    while (gw.events) event_free(gw.events);      /* their tasks are gone with the loop */
    while ((l = gw.links) != NULL) {
        gw.links = l->next;
        free(l->sess);
        free(l->name);
        free(l);
    }
    free(gw.held);
    rt_gw_store__free();
    rt_gw_origin_free();
    gw.held = NULL;
    gw.nheld = gw.capheld = 0;
    if (rt_gw_conf.on_event != LUA_NOREF) luaL_unref(rt.L, LUA_REGISTRYINDEX, rt_gw_conf.on_event);
    rt_gw_conf.on_event = LUA_NOREF;
    rt_gw_conf.on = 0;
}
