/* rt_gwr_move.c -- moving a message of the Redis store to another upstream
 * (a refusal in the route's failover_on, an after_answer hook's
 * { upstream = }, the handler's "move"), and the queue of an upstream no
 * node can send to offered to the handler (event "stalled").
 *
 * A message's keys are under its upstream's hash tag, so a move touches
 * two slots: three calls, in an order that keeps at least once. The old
 * record is marked "moving" to the new upstream and read (MOVE_MARK); the
 * copy is written under the new upstream's tag with the new entry in its
 * queue (MOVE_IN: one script, one slot); only then is the old entry acked
 * and deleted with the old record (MOVE_OUT). A node that dies (or loses
 * Redis) in between leaves the old entry pending and marked: whoever
 * claims it finishes the same move (rt_gwr_fwd__claimed), and MOVE_IN
 * writes no second copy when the first is there, so the message is sent
 * to the new upstream only.
 *
 * Who owns what: a move (move_t) lives from rt_gwr_fwd__move until its
 * last answer; the entry stays rt_gwr_fwd.c's (held, marked acking, so
 * nothing sends it) and is let go at the end.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rt.h"
#include "rt_gw.h"
#include "rt_gwr.h"
#include "rt_gwr_fwd_int.h"
#include "rt_redis.h"
#include "rt_store.h"

#define GROUP        "fwd"
#define STALL_BATCH  100        /* entries a stalled link holds and offers at most */
#define STALL_EVERY  2.0        /* seconds between two looks at a stalled link */

static struct {
    uint64_t moved, move_failed, stalled;
} M;

/* -- Moving ------------------------------------------------------------------------------- */

typedef struct move_s {
    ent_t     *e;
    rt_link_t *to;
    double     due;
    long long  attempts, err;
    char       line[600];       /* the trace lines to add, stamped */
} move_t;

static void move_end(move_t *m, const char *what, const char *err)
{
    glink_t *g;
    if (what) {
        M.move_failed++;
        if (strcmp(err, "closed") != 0)
            log_msg(LOG_WARN, 0, "cluster store: moving %s to %s: %s: %s; left pending", m->e->id, m->to->name,
                    what, err);
    }
    if ((g = rt_gwr_fwd__glink(m->e->l)) != NULL && g->stall_again) rt_fwd_wake(m->e->l);  /* its next batch */
    rt_gwr_fwd__drop(m->e);
    free(m);
}

static void on_out(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    move_t *m = ud;
    (void)r;
    (void)reply;
    /* the copy is queued already: a failure here sends the message twice */
    move_end(m, err ? "taking it out of the old queue" : NULL, err);
}

static void on_in(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    move_t *m = ud;
    ent_t *e = m->e;
    rt_link_t *l = e->l;
    char mkey[RT_GWR_KEY_MAX], q[RT_GWR_KEY_MAX];
    const char *argv[4];
    size_t lens[4];
    (void)r;
    if (err) {
        move_end(m, "the copy", err);
        return;
    }
    if (!(reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 0)) {   /* 0: finished a move counted before */
        M.moved++;
        l->moved++;
    }
    rt_fwd_wake(m->to);
    argv[0] = mkey, lens[0] = rt_gwr_key_msg(mkey, sizeof mkey, e->rup, strlen(e->rup), e->id, strlen(e->id));
    argv[1] = q, lens[1] = rt_gwr_key_queue(q, sizeof q, l->name, l->len);
    argv[2] = GROUP, lens[2] = strlen(GROUP);
    argv[3] = e->eid, lens[3] = strlen(e->eid);
    if (rt_gwr_eval(RT_GWR_MOVE_OUT, on_out, m, 2, 4, argv, lens) != 0)
        move_end(m, "taking it out of the old queue", "Redis is unreachable");
}

/* "<len>:<octets>" onto buf (grown as needed); -1 without memory. */
static int put(char **buf, size_t *n, size_t *cap, const char *s, size_t len)
{
    char head[24];
    int hn = snprintf(head, sizeof head, "%zu:", len);
    if (*n + (size_t)hn + len + 1 > *cap) {
        size_t c = (*cap ? *cap * 2 : 1024) + (size_t)hn + len;
        char *p = realloc(*buf, c);
        if (!p) return -1;
        *buf = p;
        *cap = c;
    }
    memcpy(*buf + *n, head, (size_t)hn);
    memcpy(*buf + *n + hn, s, len);
    *n += (size_t)hn + len;
    return 0;
}

/* The fields the copy gets from the move itself, not from the old record. */
static int own_field(const redisReply *k)
{
    static const char *const own[] = { "trace", "upstream", "state", "attempts", "moves", "err", "moving", NULL };
    int i;
    for (i = 0; own[i]; i++)
        if (strlen(own[i]) == k->len && memcmp(own[i], k->str, k->len) == 0) return 1;
    return 0;
}

static void on_old(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    move_t *m = ud;
    ent_t *e = m->e;
    char mkey[RT_GWR_KEY_MAX], q[RT_GWR_KEY_MAX], ttl[32], att[24], moves[24], errs[24], rd[24], exp[40], sub[40],
        due[40];
    const char *argv[18], *trace = "";
    size_t lens[18], tn = 0, bn = 0, bcap = 0, i;
    char *blob = NULL;
    long long nmoves = 0;
    int n = 0, bad = 0;
    (void)r;
    if (err) {
        move_end(m, "reading its record", err);
        return;
    }
    for (i = 0; reply && reply->type == REDIS_REPLY_ARRAY && i + 1 < reply->elements; i += 2) {
        const redisReply *k = reply->element[i], *v = reply->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        if (k->len == 5 && memcmp(k->str, "trace", 5) == 0) trace = v->str, tn = v->len;
        else if (k->len == 5 && memcmp(k->str, "moves", 5) == 0) nmoves = strtoll(v->str, NULL, 10);
        if (own_field(k)) continue;
        bad |= put(&blob, &bn, &bcap, k->str, k->len) | put(&blob, &bn, &bcap, v->str, v->len);
    }
    if (bad) {
        free(blob);
        move_end(m, "copying its record", "out of memory");
        return;
    }
    snprintf(ttl, sizeof ttl, "%.0f", ceil(rt_gwr_conf.ttl));
    snprintf(att, sizeof att, "%lld", m->attempts);
    snprintf(moves, sizeof moves, "%lld", nmoves + 1);
    snprintf(errs, sizeof errs, "%lld", m->err);
    snprintf(rd, sizeof rd, "%lld", e->rd);
    if (isnan(e->expires)) exp[0] = '\0';
    else snprintf(exp, sizeof exp, "%.3f", e->expires);
    snprintf(sub, sizeof sub, "%.3f", e->submitted);
    snprintf(due, sizeof due, "%.3f", m->due);
#define A(s, len) (argv[n] = (s), lens[n] = (len), n++)
#define AS(s) A((s), strlen(s))
    A(mkey, rt_gwr_key_msg(mkey, sizeof mkey, m->to->name, m->to->len, e->id, strlen(e->id)));
    A(q, rt_gwr_key_queue(q, sizeof q, m->to->name, m->to->len));
    AS(ttl);
    A(blob ? blob : "", bn);
    A(trace, tn);
    AS(m->line);
    A(m->to->name, m->to->len);
    AS(att);
    AS(moves);
    AS(errs);
    AS(e->id);
    A((const char *)e->pdu, e->pdu_n);
    AS(e->acct);
    AS(rd);
    AS(exp);
    AS(e->route);
    AS(sub);
    AS(due);
#undef A
#undef AS
    if (rt_gwr_eval(RT_GWR_MOVE_IN, on_in, m, 2, n, argv, lens) != 0) move_end(m, "the copy", "Redis is unreachable");
    free(blob);                  /* the call copied it */
}

void rt_gwr_fwd__move(ent_t *e, rt_link_t *to, double due, long long attempts, long long err, const char *line)
{
    char key[RT_GWR_KEY_MAX], moved[200];
    const char *argv[2];
    size_t lens[2], n;
    move_t *m = calloc(1, sizeof *m);
    e->acking = 1;                    /* held, and sent by nobody, until the move is answered */
    if (!m) {
        M.move_failed++;
        rt_gwr_fwd__drop(e);
        return;
    }
    m->e = e;
    m->to = to;
    m->due = due;
    m->attempts = attempts;
    m->err = err;
    snprintf(moved, sizeof moved, "moved from %s to %s", e->l->name, to->name);
    n = rt_gwr_stamp(m->line, sizeof m->line, line ? line : moved);
    if (line && !strstr(line, moved)) rt_gwr_stamp(m->line + n, sizeof m->line - n, moved);
    argv[0] = key, lens[0] = rt_gwr_key_msg(key, sizeof key, e->rup, strlen(e->rup), e->id, strlen(e->id));
    argv[1] = to->name, lens[1] = to->len;
    if (rt_gwr_eval(RT_GWR_MOVE_MARK, on_old, m, 1, 2, argv, lens) != 0)
        move_end(m, "reading its record", "Redis is unreachable");
}

/* -- A move a node did not finish ------------------------------------------------------------ */

typedef struct claimed_s {
    ent_t *e;
} claimed_t;

static void on_mark(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    claimed_t *c = ud;
    ent_t *e = c->e;
    rt_link_t *to = NULL;
    char line[300];
    (void)r;
    free(c);
    if (err) {                           /* the link went (or serving ends: links may be gone) */
        e->deciding = 0;
        return;
    }
    /* [moving, err]: a move to `moving` was under way when its node died */
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2
        && reply->element[0]->type == REDIS_REPLY_STRING)
        to = rt_gw_link(reply->element[0]->str, reply->element[0]->len, 0);
    if (!to || to == e->l) {             /* none (or an upstream this node does not know): sent here */
        e->deciding = 0;
        rt_fwd_wake(e->l);
        return;
    }
    snprintf(line, sizeof line, "taken over: its move to %s finished", to->name);
    rt_gwr_fwd__move(e, to, rt_time(), e->attempts,
                     reply->element[1]->type == REDIS_REPLY_STRING ? strtoll(reply->element[1]->str, NULL, 10) : 0,
                     line);
}

void rt_gwr_fwd__claimed(ent_t *e)
{
    char key[RT_GWR_KEY_MAX];
    const char *argv[4] = { "HMGET", key, "moving", "err" };
    size_t lens[4] = { 5, 0, 6, 3 };
    claimed_t *c = malloc(sizeof *c);
    if (!c) return;                      /* sent here, as before moves were marked */
    c->e = e;
    e->deciding = 1;                     /* held, and sent by nobody, until the record has answered */
    lens[1] = rt_gwr_key_msg(key, sizeof key, e->rup, strlen(e->rup), e->id, strlen(e->id));
    if (!rt_redis() || redis_cmd(rt_redis(), on_mark, c, 4, argv, lens) != 0) {
        free(c);
        e->deciding = 0;
    }
}

/* -- A stalled link ------------------------------------------------------------------------- */

static void on_set(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    (void)r;
    (void)reply;
    (void)ud;
    if (err && strcmp(err, "closed") != 0) log_msg(LOG_WARN, 0, "cluster store: an upstream's live mark: %s", err);
}

void rt_gwr_fwd__live(glink_t *g)
{
    redis_t *r = rt_redis();
    char key[RT_GWR_KEY_MAX], ttl[24];
    const char *argv[5] = { "SET", key, "1", "EX", ttl };
    size_t lens[5] = { 3, 0, 1, 2, 0 };
    if (!r || redis_state(r) != REDIS_UP) return;
    lens[1] = rt_gwr_key_live(key, sizeof key, g->l->name, g->l->len);
    lens[4] = (size_t)snprintf(ttl, sizeof ttl, "%.0f", g->l->wait > 1 ? ceil(g->l->wait) : 1);
    redis_cmd(r, on_set, NULL, 5, argv, lens);
}

/* Every held entry nobody is working on goes to the handler: expired
 * ones to be finished, the others to be moved (or left). When none is
 * left (all are being moved or finished), the next look comes as soon as
 * they are done, not STALL_EVERY later: a long queue moves a batch at a
 * time as fast as Redis records the moves. */
static void offer(glink_t *g)
{
    rt_link_t *l = g->l;
    double now = rt_time();
    char detail[200];
    ent_t *e, *next;
    int offered = 0, left = 0;
    snprintf(detail, sizeof detail, l->silent_since ? "%s has answered nothing for %.0f s"
             : "%s has not been able to send for %.0f s", l->name, now - l->down_since);
    for (e = g->head; e; e = next) {
        next = e->next;
        if (e->inflight || e->acking || e->deciding) continue;
        if (!isnan(e->expires) && e->expires <= now) {
            l->expired++;
            rt_gwr_fwd__to_handler(e, "expired", 0, "its validity ended while its upstream could not send");
        } else {
            M.stalled++;
            rt_gwr_fwd__to_handler(e, "stalled", 0, detail);
        }
        offered++;
    }
    for (e = g->head; e; e = e->next) left += !e->inflight && !e->acking && !e->deciding;
    if (offered) g->stall_again = !left;
}

static void on_stall_read(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    glink_t *g = ud;
    (void)r;
    g->stalling = 0;
    if (!err && reply && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0
        && reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2)
        rt_gwr_fwd__take(g, reply->element[0]->element[1]);
    offer(g);
}

static void on_live(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    glink_t *g = ud;
    char q[RT_GWR_KEY_MAX];
    if (err || !reply || reply->type != REDIS_REPLY_INTEGER || reply->integer != 0
        || (g->l->nsess && !g->l->silent_since)) {
        g->stalling = 0;              /* another node sends to it (or this one does again) */
        return;
    }
    if (g->held >= STALL_BATCH) {
        g->stalling = 0;
        offer(g);
        return;
    }
    rt_gwr_key_queue(q, sizeof q, g->l->name, g->l->len);
    if (rt_gwr_read_group(r, on_stall_read, g, GROUP, q, STALL_BATCH - g->held) != 0) {
        g->stalling = 0;
        offer(g);
    }
}

void rt_gwr_fwd__stall(glink_t *g, double now)
{
    rt_link_t *l = g->l;
    redis_t *r = rt_redis();
    char key[RT_GWR_KEY_MAX];
    const char *argv[2] = { "EXISTS", key };
    size_t lens[2] = { 6, 0 };
    if (!l->down_since) l->down_since = now;
    if (l->inflight || g->stalling || now - l->down_since < l->wait) return;
    if (now < l->sweep_at && (!g->stall_again || g->held > STALL_BATCH / 2)) return;   /* (half its moves done) */
    if (!r || redis_state(r) != REDIS_UP) return;
    l->sweep_at = now + STALL_EVERY;
    lens[1] = rt_gwr_key_live(key, sizeof key, l->name, l->len);
    if (redis_cmd(r, on_live, g, 2, argv, lens) == 0) g->stalling = 1;
}

void rt_gwr_move_stats(lua_State *L)
{
    SET_NUM("moved", M.moved);
    SET_NUM("move_failed", M.move_failed);
    SET_NUM("stalled_offered", M.stalled);
}

void rt_gwr_move_close(void)
{
    memset(&M, 0, sizeof M);
}
