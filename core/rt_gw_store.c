/* rt_gw_store.c -- the gateway's stored messages: core.gw_queue puts an
 * ESME's message in its upstream's queue, core.gw_record keeps one the
 * upstream accepted while the ESME waited.
 *
 * Who owns what: this file owns the scratch PDU and encode buffer of the
 * message being stored and the counters of what was stored or refused
 * (read by core.gw_stats through rt_gw_int.h). The store owns each stored
 * record; the links (rt_gw.c) own their counts. Trace lines, links,
 * events and statistics are rt_gw.c's.
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
#include "rt_sess.h"
#include "rt_store.h"

#define RECORD_PARTS 64         /* "upstream" ids: parts tried when an upstream reuses an id */

static struct {
    pdu_t          pdu;             /* scratch: the PDU core.gw_queue stores when it encodes one */
    const pdu_t   *src;             /* the PDU the record's fields are read from: pdu, or the request */
    uint8_t       *buf;
    size_t         cap;
    uint64_t       stored, refused_full, refused_io;
    uint64_t       as_received;     /* stored as the octets they came in (pdu_arg) */
} st_gw;

/* -- Storing messages -------------------------------------------------------------------- */

/* The PDU at stack index 1 encoded into st_gw.buf; its length, or raises. */
static size_t encode_arg(lua_State *L)
{
    pdu_error_t perr;
    const char *why;
    long n;
    if ((why = lbridge_check_pdu(L, 1, &st_gw.pdu, NULL)) != NULL) luaL_error(L, "gateway: %s", why);
    if (!st_gw.buf && !(st_gw.buf = malloc(st_gw.cap = 4096))) luaL_error(L, "out of memory");
    while ((n = pdu_encode(&st_gw.pdu, st_gw.buf, st_gw.cap, &perr)) == PDU_ENOSPC) {
        uint8_t *p = realloc(st_gw.buf, perr.need);
        if (!p) luaL_error(L, "out of memory");
        st_gw.buf = p;
        st_gw.cap = perr.need;
    }
    if (n < 0) luaL_error(L, "gateway: %s", perr.msg);
    if ((why = lbridge_check_length(L, 1, n)) != NULL) luaL_error(L, "gateway: %s", why);
    return (size_t)n;
}

/* The PDU at stack index 1 as octets for the store, its length; the
 * octets at *out. When it is the table the running handler was given for
 * its request and still says exactly what that request did (the common
 * case: the script chose a route and left the PDU alone), the octets it
 * came in (the request as the session decoded them, which stays so until
 * the handler first waits: rt_sess_request; compared with the table field
 * by field); otherwise the table encoded, as encode_arg does. The
 * sequence_number is the ESME's either way: the forwarder gives the PDU
 * its own when it sends it. *checked: 1 when the octets are the request's
 * and decoded as a message (rt_gw_store__bad has nothing to find). */
static size_t pdu_arg(lua_State *L, const uint8_t **out, int *checked)
{
    const pdu_t *req = rt_sess_request(L, 1);
    size_t n;
    uint32_t id;
    if (req && req->raw && req->command_length > 0 && lbridge_same_pdu(L, 1, req)) {
        st_gw.as_received++;
        st_gw.src = req;
        *out = req->raw;
        /* what rt_gw_store__bad asks of the octets before they are sent */
        id = req->command_id;
        *checked = id == SMPP_SUBMIT_SM || id == SMPP_DATA_SM || id == SMPP_SUBMIT_MULTI;
        return req->command_length;
    }
    *checked = 0;
    st_gw.src = &st_gw.pdu;
    n = encode_arg(L);
    *out = st_gw.buf;
    return n;
}

int rt_gw_store__bad(const store_fwd_row_t *r, const char *upstream, char *why, size_t n)
{
    pdu_error_t perr;
    uint32_t id;
    if (pdu_decode(&st_gw.pdu, (const uint8_t *)r->pdu.p, r->pdu.n, 0, &perr) != SMPP_ESME_ROK)
        snprintf(why, n, "the stored PDU does not decode: %s", perr.msg);
    else if ((id = st_gw.pdu.command_id) != SMPP_SUBMIT_SM && id != SMPP_DATA_SM && id != SMPP_SUBMIT_MULTI)
        snprintf(why, n, "the stored PDU is not a message but %s", st_gw.pdu.cmd ? st_gw.pdu.cmd->name : "?");
    else
        return 0;
    log_msg(LOG_ERROR, 0, "gateway: message %.*s for %s: %s; not sent, ended", (int)r->id.n, r->id.p ? r->id.p : "",
            upstream, why);
    return 1;
}

static store_str_t field_str(pdu_field_id_t f)
{
    const pdu_value_t *v = pdu_get(st_gw.src, f);
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

/* The fields of the record that come from the PDU at st_gw.src (its n
 * octets at raw). */
static void pdu_fields(store_msg_t *m, const uint8_t *raw, size_t n, double now)
{
    const pdu_t *p = st_gw.src;
    const pdu_value_t *rd = pdu_get(p, PDU_F_REGISTERED_DELIVERY);
    m->submitted = now;
    m->source = field_str(PDU_F_SOURCE_ADDR);
    m->dest = field_str(PDU_F_DESTINATION_ADDR);
    if (!pdu_get(p, PDU_F_DESTINATION_ADDR) && p->naddr > 0) {   /* submit_multi: its first */
        m->dest.p = (const char *)p->addr[0].addr;
        m->dest.n = p->addr[0].len;
    }
    m->service_type = field_str(PDU_F_SERVICE_TYPE);
    m->registered_delivery = rd ? rd->num : 0;
    m->pdu.p = (const char *)raw;
    m->pdu.n = n;
}

/* The record of the PDU at st_gw.src with the options at stack index 2:
 * account, upstream, route, expires, notify, trace. */
static void record(lua_State *L, store_msg_t *m, const uint8_t *raw, size_t n, double now, char *trace,
                   size_t tcap)
{
    store_str_t line = opt_str(L, 2, "trace");
    store_msg_clear(m);
    m->account = opt_str(L, 2, "account");
    m->upstream = opt_str(L, 2, "upstream");
    m->route = opt_str(L, 2, "route");
    m->notify = opt_str(L, 2, "notify");
    if (!m->account.p || !m->upstream.p) luaL_error(L, "gateway: account and upstream are required");
    m->expires = rt_opt_num(L, 2, "expires", NAN);
    pdu_fields(m, raw, n, now);
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

/* nil, "full" | "io: ...", detail for a store error. */
static int store_fail(lua_State *L, store_t *st, int rc)
{
    lua_pushnil(L);
    if (rc == STORE_EFULL) {
        st_gw.refused_full++;
        lua_pushliteral(L, "full");
    } else {
        st_gw.refused_io++;
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
    const uint8_t *raw;
    double now = rt_time(), due;
    size_t n;
    long long key, via = 0;
    const char *how = NULL;
    int idlen, rc, checked;
    rt_task_t *run = rt_task_of(L);
    if (!st) return luaL_error(L, "gateway: no store in use");
    if (run && run->refused) {             /* smpp.respond told the ESME an error: nothing to forward */
        lua_pushnil(L);
        lua_pushliteral(L, "refused");
        lua_pushliteral(L, "its request was answered with an error (smpp.respond): the message is not stored");
        return 3;
    }
    store_msg_clear(&m);
    m.account.p = luaL_checklstring(L, 2, &m.account.n);
    m.upstream.p = luaL_checklstring(L, 3, &m.upstream.n);
    m.route.p = luaL_checklstring(L, 4, &m.route.n);
    m.expires = luaL_checknumber(L, 5);
    if (lua_type(L, 6) == LUA_TNUMBER) {
        double v = lua_tonumber(L, 6);
        via = v >= 1 ? (long long)v : 0;
    } else {
        how = luaL_optstring(L, 6, "?");
    }
    if (!lua_isnoneornil(L, 7)) m.notify.p = luaL_checklstring(L, 7, &m.notify.n);
    n = pdu_arg(L, &raw, &checked);
    pdu_fields(&m, raw, n, now);
    if (!via || rt_gwr_on()) {
        /* the first line as text; an ESME's session is kept as via instead
         * (store_fwd_queue), the line written out when it is read */
        tl.p = trace;
        tl.cap = sizeof trace;
        tl.n = store_stamp(trace, now);
        tl.n += store_fwd_line_accepted(trace + tl.n, sizeof trace - tl.n, m.account, via, via ? NULL : how,
                                        m.route, m.upstream);
        rt_gw_line_put(&tl, "\n", 1);
        m.trace.p = trace;
        m.trace.n = tl.n;
        via = 0;
    }
    l = rt_gw_link(m.upstream.p, m.upstream.n, 1);
    if (!l) return luaL_error(L, "out of memory");
    if (l->max_queue > 0 && l->queued + l->parked >= l->max_queue) {
        st_gw.refused_full++;
        lua_pushnil(L);
        lua_pushliteral(L, "full");
        lua_pushfstring(L, "the queue of %s holds %d messages (upstreams[].max_queue)", l->name, (int)l->queued);
        return 3;
    }
    if (rt_gwr_on()) return rt_gwr_queue(L, l, &m);     /* the cluster's store: Redis */
    if (!rt_fwd_room()) {            /* not stored: its run's failure could not hold it back (logged) */
        st_gw.refused_full++;
        lua_pushnil(L);
        lua_pushliteral(L, "full");
        lua_pushliteral(L, "the gateway has no room to track more messages stored in this loop turn");
        return 3;
    }
    /* no text id: the id is made from the key, which the store hands out
     * (never twice) and reads back from the id (msgid.h) */
    m.id_format = rt_gw_conf.id_format;
    /* the record, written once; its place in the queue and what happens
     * to it from here on go into its narrow forwarding row (store_fwd.c) */
    if ((key = store_put(st, &m)) < 0) return store_fail(L, st, (int)key);
    due = rt_fwd_due(l, now);
    if ((rc = store_fwd_queue(st, key, m.upstream, due, via)) < 0) return store_fail(L, st, rc);
    rt_gw_origin_put(key, run ? run->sess_id : 0);     /* its receipts go back on that session */
    if ((idlen = msgid_keyed_make(rt_gw_conf.id_format, (unsigned long long)store_node_id(st),
                                  (unsigned long long)key, id, sizeof id)) < 0)
        return luaL_error(L, "gateway: no id for key %f", (double)key);
    {
        /* sent from these octets after the commit, if the queue lets it
         * (rt_fwd_hold), instead of its row read back */
        rt_fwd_fresh_t fr;
        fr.key = key;
        fr.rd = m.registered_delivery;
        fr.due = due;
        fr.expires = m.expires;
        fr.submitted = m.submitted;
        fr.id.p = id;
        fr.id.n = (size_t)idlen;
        fr.account = m.account;
        fr.route = m.route;
        fr.pdu = m.pdu;
        fr.checked = checked;
        rt_fwd_hold(l, &fr);
    }
    st_gw.stored++;
    l->queued++;
    l->queued_total++;
    rt_fwd_stored(L, key, l);     /* ended, not sent, if this run fails; parked while it waits */
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
    const uint8_t *raw;
    double now = rt_time();
    size_t n;
    long klen = -1;
    long long rc = STORE_EEXISTS;
    int part, checked;           /* checked: not used (no row held) */
    rt_task_t *run;
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!st) return luaL_error(L, "gateway: no store in use");
    if (rt_gwr_on()) return luaL_error(L, "gateway: message_id = \"upstream\" needs the SQLite store, not cluster.store");
    n = pdu_arg(L, &raw, &checked);
    record(L, &m, raw, n, now, trace, sizeof trace);
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
    if (rc < 0) return store_fail(L, st, (int)rc);
    rt_gw_origin_put(rc, (run = rt_task_of(L)) ? run->sess_id : 0);   /* its receipts go back on that session */
    st_gw.stored++;
    l->sent++;
    l->accepted++;
    if (klen >= 0) rt_gw_rcpt_early(l, st, m.upstream_key, rt_opt_num(L, 2, "sent", NAN));
    lua_pushlstring(L, uid.p, uid.n);
    return 1;
}

/* -- The gateway's hooks ------------------------------------------------------------------ */

void rt_gw_store__push_stats(lua_State *L)
{
    lua_pushnumber(L, (double)st_gw.stored);
    lua_setfield(L, -2, "stored");
    lua_pushnumber(L, (double)st_gw.refused_full);
    lua_setfield(L, -2, "refused_full");
    lua_pushnumber(L, (double)st_gw.refused_io);
    lua_setfield(L, -2, "refused_io");
    lua_pushnumber(L, (double)st_gw.as_received);
    lua_setfield(L, -2, "stored_as_received");
}

void rt_gw_store__free(void)
{
    free(st_gw.buf);
    st_gw.buf = NULL;
    st_gw.cap = 0;
}

const luaL_Reg rt_gw_store_lib[] = {
    {"gw_queue", l_gw_queue},
    {"gw_record", l_gw_record},
    {NULL, NULL}
};
