/* rt_gwr_rx.c -- receipts and MO for an account on the Redis store: each
 * account has a stream (P{a:<account>}r, consumer group "rx", one consumer
 * per process) that receipts (rt_gwr_rcpt.c) and core.post append to. A
 * node that holds receivers (or transceivers) of the account reads as many
 * entries as their windows have room for, delivers each, and acknowledges
 * it (XACK, XDEL) once the ESME answered; what the ESME did not take now
 * waits here with a backoff. While no node holds a receiver the entries
 * wait in the stream. Entries pending past claim_after on a node that died
 * are taken over (XAUTOCLAIM), ours are kept alive (XCLAIM JUSTID), as the
 * forwarders do.
 *
 * Who owns what: an entry read is this file's from the read until its XACK
 * is answered; an account's reading state (gacct_t) lives until serving
 * ends, by name (the runtime's rt_acct_t comes and goes with binds).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rt.h"
#include "rt_gwr.h"
#include "rt_redis.h"
#include "rt_store.h"
#include "rt_task.h"

#define READ_MAX   500
#define GROUP      "rx"
#define RETRY_S    1.0          /* an item the ESME did not take now: first retry */
#define RETRY_MAX  30.0

typedef struct rent_s {
    struct gacct_s *g;
    char       eid[48];
    char       id[80], up[64];   /* a receipt's message and upstream ("": an MO), for its trace */
    uint8_t   *pdu;
    size_t     n;
    double     due;
    long long  attempts;
    uint64_t   via;             /* a receipt's ESME session when this node holds it (0: any receiver) */
    int        inflight, acking;
    struct rent_s *prev, *next;
} rent_t;

typedef struct gacct_s {
    char      *name;
    size_t     len;
    rent_t    *head, *tail;
    size_t     held;
    int        reading, claiming, group_ok;
    char       cursor[48];
    double     claim_at;
    struct gacct_s *next;
} gacct_t;

static struct {
    gacct_t *list;
    pdu_t    pdu;
    uint64_t appended, append_failed, read, claimed, delivered, refused, retried, acked, unacked;
} X;

/* -- Accounts and entries ---------------------------------------------------------------- */

static gacct_t *gacct(const char *name, size_t len)
{
    gacct_t *g;
    for (g = X.list; g; g = g->next)
        if (g->len == len && memcmp(g->name, name, len) == 0) return g;
    if (!(g = calloc(1, sizeof *g)) || !(g->name = malloc(len + 1))) {
        free(g);
        return NULL;
    }
    memcpy(g->name, name, len);
    g->name[len] = '\0';
    g->len = len;
    strcpy(g->cursor, "0-0");
    g->next = X.list;
    X.list = g;
    return g;
}

static size_t rkey(char *buf, size_t cap, const gacct_t *g) { return rt_gwr_key_rx(buf, cap, g->name, g->len); }

static void drop(rent_t *e)
{
    gacct_t *g = e->g;
    if (e->prev) e->prev->next = e->next;
    else g->head = e->next;
    if (e->next) e->next->prev = e->prev;
    else g->tail = e->prev;
    g->held--;
    free(e->pdu);
    free(e);
}

/* The session of a "<node>:<session>" via when the node is this one (a
 * receipt goes back on the session its message came in on), else 0. */
static uint64_t via_here(const char *via)
{
    char *end;
    long long node = strtoll(via, &end, 10);
    if (*end != ':' || node <= 0 || node != rt_gwr_conf.node_id) return 0;
    return strtoull(end + 1, NULL, 10);
}

static rent_t *hold(gacct_t *g, const redisReply *it, double now)
{
    const redisReply *f;
    rent_t *e;
    size_t i;
    if (it->type != REDIS_REPLY_ARRAY || it->elements < 2 || it->element[0]->type != REDIS_REPLY_STRING) return NULL;
    for (e = g->head; e; e = e->next)
        if (strlen(e->eid) == it->element[0]->len && memcmp(e->eid, it->element[0]->str, it->element[0]->len) == 0)
            return NULL;
    f = it->element[1];
    if (f->type != REDIS_REPLY_ARRAY || !(e = calloc(1, sizeof *e))) return NULL;
    e->g = g;
    e->due = now;
    snprintf(e->eid, sizeof e->eid, "%.*s", (int)it->element[0]->len, it->element[0]->str);
    for (i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        if (strcmp(k->str, "pdu") == 0 && !e->pdu && (e->pdu = malloc(v->len ? v->len : 1))) {
            memcpy(e->pdu, v->str, v->len);
            e->n = v->len;
        } else if (strcmp(k->str, "id") == 0) {
            snprintf(e->id, sizeof e->id, "%.*s", (int)v->len, v->str);
        } else if (strcmp(k->str, "up") == 0) {
            snprintf(e->up, sizeof e->up, "%.*s", (int)v->len, v->str);
        } else if (strcmp(k->str, "via") == 0) {
            e->via = via_here(v->str);
        }
    }
    if (!e->pdu) {
        free(e);
        return NULL;
    }
    e->prev = g->tail;
    if (g->tail) g->tail->next = e;
    else g->head = e;
    g->tail = e;
    g->held++;
    return e;
}

/* -- Appending ---------------------------------------------------------------------------- */

typedef struct app_s {
    void (*fn)(void *ud, int ok);
    void *ud;
} app_t;

static void on_appended(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    app_t *a = ud;
    (void)r;
    (void)reply;
    if (err) {
        X.append_failed++;
        if (strcmp(err, "closed") != 0) log_msg(LOG_WARN, 0, "cluster store: a receipt or MO not stored: %s", err);
    } else {
        X.appended++;
    }
    if (a->fn) a->fn(a->ud, !err);
    free(a);
}

int rt_gwr_append(const char *account, size_t alen, store_str_t pdu, store_str_t id, store_str_t up,
                  store_str_t via, void (*fn)(void *ud, int ok), void *ud)
{
    redis_t *r = rt_redis();
    char key[RT_GWR_KEY_MAX];
    const char *argv[11];
    size_t lens[11];
    int n = 0;
    app_t *a;
    rt_acct_t *acct;
    if (!r || redis_state(r) != REDIS_UP || !(a = malloc(sizeof *a))) return -1;
    a->fn = fn;
    a->ud = ud;
    argv[n] = "XADD", lens[n++] = 4;
    argv[n] = key, lens[n++] = rt_gwr_key_rx(key, sizeof key, account, alen);
    argv[n] = "*", lens[n++] = 1;
    argv[n] = "pdu", lens[n++] = 3;
    argv[n] = pdu.p, lens[n++] = pdu.n;
    if (id.p) {
        argv[n] = "id", lens[n++] = 2;
        argv[n] = id.p, lens[n++] = id.n;
    }
    if (up.p) {
        argv[n] = "up", lens[n++] = 2;
        argv[n] = up.p, lens[n++] = up.n;
    }
    if (via.p && via.n) {
        argv[n] = "via", lens[n++] = 3;
        argv[n] = via.p, lens[n++] = via.n;
    }
    if (redis_cmd(r, on_appended, a, n, argv, lens) != 0) {
        free(a);
        return -1;
    }
    if ((acct = rt_acct_get(account, alen, 0)) != NULL) rt_acct_wake(acct);   /* a receiver here reads it */
    return 0;
}

static void on_posted(void *ud, int ok)
{
    rt_task_t *t = ud;
    if (ok) {
        lua_pushboolean(t->co, 1);
        rt_task_wake(t, 1);
        return;
    }
    lua_pushnil(t->co);
    lua_pushliteral(t->co, "full");
    lua_pushliteral(t->co, "not stored in Redis");
    rt_task_wake(t, 3);
}

int rt_gwr_post(lua_State *L, const char *account, size_t alen, store_str_t pdu)
{
    rt_task_t *t = lua_isyieldable(L) ? rt_task_current(L, "smpp.post") : NULL;
    store_str_t none = { NULL, 0 };
    if (rt_gwr_append(account, alen, pdu, none, none, none, t ? on_posted : NULL, t) < 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "full");
        lua_pushliteral(L, "Redis is unreachable");
        return 3;
    }
    if (!t) {                       /* no task to wait in: Redis' answer is only logged */
        lua_pushboolean(L, 1);
        return 1;
    }
    rt_task_wait(t, "redis");
    return lua_yield(L, 0);
}

/* -- Acknowledging -------------------------------------------------------------------------- */

static void on_acked(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    (void)r;
    (void)reply;
    if (err) X.unacked++;
    else X.acked++;
    drop(ud);
}

/* One call acknowledges and deletes the entry; a receipt's delivery is
 * noted on its message (another call in the same pipeline: the record is
 * in its upstream's hash slot, the stream in the account's). */
static void ack(rent_t *e, const char *line)
{
    char key[RT_GWR_KEY_MAX];
    const char *argv[3];
    size_t lens[3];
    e->acking = 1;
    if (line && e->id[0] && e->up[0]) rt_gwr_note(e->up, strlen(e->up), e->id, line, 0, NULL);
    argv[0] = key, lens[0] = rkey(key, sizeof key, e->g);
    argv[1] = GROUP, lens[1] = strlen(GROUP);
    argv[2] = e->eid, lens[2] = strlen(e->eid);
    if (rt_gwr_eval(RT_GWR_ACK, on_acked, e, 1, 3, argv, lens) != 0) {
        X.unacked++;                 /* pending still: delivered again after claim_after (at least once) */
        drop(e);
    }
}

/* -- Delivering ------------------------------------------------------------------------------ */

static int temporary(uint32_t status)
{
    return status == SMPP_ESME_RTHROTTLED || status == SMPP_ESME_RMSGQFUL || status == SMPP_ESME_RX_T_APPN;
}

static void on_delivered(sess_t *s, void *arg, const pdu_t *resp, int err)
{
    rent_t *e = arg;
    gacct_t *g = e->g;
    rt_acct_t *a = rt_acct_get(g->name, g->len, 0);
    uint32_t status = resp ? resp->command_status : 0;
    char line[200];
    e->inflight = 0;
    if (a && a->inflight) a->inflight--;
    if (!err && status == SMPP_ESME_ROK) {
        X.delivered++;
        if (a) a->delivered++;
        snprintf(line, sizeof line, "delivered to %s (session %llu)", g->name, (unsigned long long)sess_id(s));
        ack(e, line);
    } else if (err || temporary(status)) {
        double d = RETRY_S;
        long long i;
        for (i = 1; i < e->attempts && d < RETRY_MAX; i++) d *= 2;
        X.retried++;
        if (a) a->retried++;
        e->due = rt_time() + (d < RETRY_MAX ? d : RETRY_MAX);
    } else {
        X.refused++;                 /* the ESME refused it for good: it has answered */
        if (a) a->refused++;
        snprintf(line, sizeof line, "%s refused it (%s): not delivered", g->name,
                 pdu_status_name(status) ? pdu_status_name(status) : "an unknown status");
        ack(e, line);
    }
    if (a) {
        rt_acct_wake(a);
        rt_acct_release(a);
    }
}

static void send_due(gacct_t *g, double now)
{
    rt_acct_t *a = rt_acct_get(g->name, g->len, 0);
    rent_t *e, *next;
    sess_t *s;
    long seq;
    if (!a || !rt.net) return;
    for (e = g->head; e; e = next) {
        next = e->next;
        if (e->inflight || e->acking || e->due > now) continue;
        if (!(s = rt_acct_pick_pref(a, e->via))) return;
        if (pdu_decode(&X.pdu, e->pdu, e->n, 0, NULL) != SMPP_ESME_ROK) {
            log_msg(LOG_ERROR, 0, "cluster store: an item for %s is not a PDU: removed", g->name);
            ack(e, NULL);
            continue;
        }
        seq = sess_send(s, &X.pdu, on_delivered, e, uv_now(rt.loop));
        if (seq < 0) {
            e->due = now + RETRY_S;
            continue;
        }
        net_touch(s);
        e->inflight = 1;
        e->attempts++;
        a->inflight++;
    }
}

static void take(gacct_t *g, const redisReply *list, uint64_t *count)
{
    double now = rt_time();
    size_t i;
    if (!list || list->type != REDIS_REPLY_ARRAY) return;
    for (i = 0; i < list->elements; i++)
        if (hold(g, list->element[i], now)) (*count)++;
}

static void wake(gacct_t *g)
{
    rt_acct_t *a = rt_acct_get(g->name, g->len, 0);
    if (a) rt_acct_wake(a);
}

static void on_read(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    gacct_t *g = ud;
    uint64_t before = X.read;
    (void)r;
    g->reading = 0;
    if (err) {
        if (strncmp(err, "NOGROUP", 7) == 0) g->group_ok = 0;
        return;
    }
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0
        && reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2)
        take(g, reply->element[0]->element[1], &X.read);
    send_due(g, rt_time());
    if (X.read > before) wake(g);
}

static void on_claim(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    gacct_t *g = ud;
    uint64_t before = X.claimed;
    (void)r;
    g->claiming = 0;
    if (err || !reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) return;
    if (reply->element[0]->type == REDIS_REPLY_STRING)
        snprintf(g->cursor, sizeof g->cursor, "%.*s", (int)reply->element[0]->len, reply->element[0]->str);
    take(g, reply->element[1], &X.claimed);
    if (X.claimed > before)
        log_msg(LOG_WARN, 0, "cluster store: took over %llu receipts/MO for %s pending longer than %g s on another node",
                (unsigned long long)(X.claimed - before), g->name, rt_gwr_conf.claim_after);
    if (strcmp(g->cursor, "0-0") != 0) g->claim_at = 0;
    send_due(g, rt_time());
}

static void on_group(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    gacct_t *g = ud;
    (void)r;
    (void)reply;
    if (!err || strncmp(err, "BUSYGROUP", 9) == 0) g->group_ok = 1;
    wake(g);
}

static void claim(redis_t *r, gacct_t *g, double now)
{
    const char *ids[RT_GWR_TOUCH_MAX];
    char key[200];
    size_t kn;
    rent_t *e;
    int n = 0;
    if (g->claiming || now < g->claim_at) return;
    kn = rkey(key, sizeof key, g);
    if (strcmp(g->cursor, "0-0") == 0) {
        g->claim_at = now + rt_gwr_conf.claim_after / 3;
        for (e = g->head; e && n < RT_GWR_TOUCH_MAX; e = e->next) ids[n++] = e->eid;
        if (n) rt_gwr_touch(r, GROUP, key, kn, ids, n);      /* ours are live */
    }
    if (rt_gwr_autoclaim(r, on_claim, g, GROUP, key, g->cursor) == 0) g->claiming = 1;
}

void rt_gwr_deliver(rt_acct_t *a)
{
    redis_t *r = rt_redis();
    gacct_t *g;
    uint32_t slots;
    size_t waiting = 0;
    rent_t *e;
    double now = rt_time();
    char key[200];
    if (!a->nrx || !(g = gacct(a->name, a->len))) return;    /* no receiver here: others may have one */
    send_due(g, now);
    if (!r || redis_state(r) != REDIS_UP || !rt_gwr_conf.consumer[0]) return;
    if (!g->group_ok) {
        size_t kn = rkey(key, sizeof key, g);
        rt_gwr_make_group(r, on_group, g, GROUP, key, kn);
        return;
    }
    claim(r, g, now);
    for (e = g->head; e; e = e->next) waiting += !e->inflight && !e->acking;
    slots = rt_acct_free_slots(a);
    if (g->reading || slots <= waiting) return;
    slots -= (uint32_t)waiting;
    rkey(key, sizeof key, g);
    if (rt_gwr_read_group(r, on_read, g, GROUP, key, slots < READ_MAX ? slots : READ_MAX) == 0) g->reading = 1;
}

/* -- Statistics and the end -------------------------------------------------------------------- */


void rt_gwr_rx_stats(lua_State *L)
{
    gacct_t *g;
    size_t held = 0;
    for (g = X.list; g; g = g->next) held += g->held;
    SET_NUM("rx_appended", X.appended);
    SET_NUM("rx_append_failed", X.append_failed);
    SET_NUM("rx_read", X.read);
    SET_NUM("rx_claimed", X.claimed);
    SET_NUM("rx_delivered", X.delivered);
    SET_NUM("rx_refused", X.refused);
    SET_NUM("rx_retried", X.retried);
    SET_NUM("rx_acked", X.acked);
    SET_NUM("rx_unacked", X.unacked);
    SET_NUM("rx_held", held);
}

void rt_gwr_rx_close(void)
{
    gacct_t *g;
    while ((g = X.list) != NULL) {
        X.list = g->next;
        while (g->head) {
            rent_t *e = g->head;
            g->head = e->next;
            free(e->pdu);
            free(e);
        }
        free(g->name);
        free(g);
    }
    memset(&X, 0, sizeof X);
}
