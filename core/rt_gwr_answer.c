/* rt_gwr_answer.c -- the forwarders' answers on the Redis store: the
 * upstream's answer to an entry is written by one script call (the record,
 * the id mapping, the early receipts moved to the being-matched set, XACK,
 * XDEL: OUTCOME in rt_gwr_script.c). The call's words are kept with the
 * entry until Redis has taken it: a call Redis refuses (at its maxmemory
 * the first write fails), one whose reply the link lost, or one the link
 * could not send, is sent again (AGAIN_MIN doubling to AGAIN_MAX), and
 * meanwhile the entry's link reads, takes over and sends nothing more
 * (rt_gwr_fwd.c looks at glink_t.waiting), so the message is not sent to
 * the upstream a second time. Sending it again after Redis ran it is
 * harmless: the record gets the trace line twice, the mapping is set
 * again, XACK and XDEL find nothing.
 *
 * Who owns what: an answer (answer_t) is its entry's (ent_t.answer), made
 * here and freed with the entry (rt_gwr_fwd__drop).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rt.h"
#include "rt_gwr.h"
#include "rt_gwr_fwd_int.h"
#include "rt_store.h"

#define GROUP      "fwd"
#define ARGS_MAX   32
#define AGAIN_MIN  0.2          /* an answer Redis did not record: tried again after this, doubling */
#define AGAIN_MAX  2.0

/* An answer's call (the OUTCOME script's keys and arguments), copied. */
typedef struct answer_s {
    int    nkeys, argc;
    size_t kn;                  /* the mapping's key (kn octets, after the words in data), for the group's take */
    size_t lens[ARGS_MAX];
    const char *argv[ARGS_MAX];
    char   data[];
} answer_t;

static struct {
    uint64_t recorded, unrecorded, retried;
} A;

static void record(ent_t *e);

/* e's answer was not recorded (err: Redis' answer, or why the call was not
 * sent): it waits here and is tried again; its link reads nothing more
 * meanwhile. */
static void keep(ent_t *e, const char *err)
{
    glink_t *g = rt_gwr_fwd__glink(e->l);
    double d = AGAIN_MIN;
    int i;
    A.unrecorded++;
    if (!g) return;
    for (i = 0; i < e->tries && d < AGAIN_MAX; i++) d *= 2;
    e->tries++;
    e->retry_at = rt_time() + (d < AGAIN_MAX ? d : AGAIN_MAX);
    if (!e->waiting) {
        e->waiting = 1;
        g->waiting++;
    }
    if (!g->told && strcmp(err, "closed") != 0) {
        g->told = 1;
        log_msg(LOG_WARN, 0, "cluster store: Redis does not record the answers of %s (%s): they wait here and are "
                "written again; nothing more of %s is read until Redis takes them", e->l->name, err, e->l->name);
    }
}

/* The outcome script answered: the entry is acknowledged, and the
 * receipts that came before the mapping are applied; on an error the
 * answer waits here (keep). */
static void on_outcome(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    ent_t *e = ud;
    glink_t *g = rt_gwr_fwd__glink(e->l);
    (void)r;
    e->calling = 0;
    if (err) {
        keep(e, err);
        return;
    }
    A.recorded++;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0)
        rt_gwr_rcpt_early(e->l, e->id, e->acct, reply);
    if (e->l->sib && e->answer && e->answer->kn) {   /* a receipt group: those kept under the other entries */
        const answer_t *a = e->answer;
        rt_gwr_rcpt_group_take(e->l, a->argv[a->argc - 1] + a->lens[a->argc - 1], a->kn);
    }
    rt_gwr_fwd__drop(e);
    if (g && !g->waiting && g->told) {
        g->told = 0;
        log_msg(LOG_INFO, 0, "cluster store: Redis records the answers of %s again", g->l->name);
    }
}

/* Send e's answer's call (again). */
static void record(ent_t *e)
{
    answer_t *a = e->answer;
    int rc;
    e->calling = 1;
    rc = rt_gwr_eval(RT_GWR_OUTCOME, on_outcome, e, a->nkeys, a->argc, a->argv, a->lens);
    if (rc != 0) {
        e->calling = 0;
        keep(e, rc == REDIS_E_BUSY ? "busy" : rc == REDIS_E_NOMEM ? "no memory" : "closed");
    }
}

/* The answers of g's link that wait and are due: their calls again. */
void rt_gwr_fwd__record_again(glink_t *g, double now)
{
    ent_t *e;
    for (e = g->head; e; e = e->next) {
        if (!e->waiting || e->calling || e->retry_at > now) continue;
        A.retried++;
        record(e);
    }
}

/* One call: the message's record gets the fields (argv pairs), the trace
 * line and its TTL again, the mapping upstream key -> id when key is given,
 * then the entry is acknowledged and deleted. The call is kept with the
 * entry until Redis has answered it, and the entry released then. */
void rt_gwr_fwd__outcome(ent_t *e, int npairs, const char **pairs, const char *key, size_t kn, const char *line)
{
    char mkey[RT_GWR_KEY_MAX], q[RT_GWR_KEY_MAX], k[RT_GWR_KEY_MAX], ek[RT_GWR_KEY_MAX], pk[RT_GWR_KEY_MAX], ttl[32];
    char text[600], *p;
    const char *argv[ARGS_MAX];
    size_t lens[ARGS_MAX], total = 0;
    int n = 0, i, nkeys = key ? 5 : 2;
    rt_link_t *l = e->l;
    answer_t *a;
    e->acking = 1;
    snprintf(ttl, sizeof ttl, "%.0f", ceil(rt_gwr_conf.ttl));
    argv[n] = mkey, lens[n++] = rt_gwr_key_msg(mkey, sizeof mkey, l->name, l->len, e->id, strlen(e->id));
    argv[n] = q, lens[n++] = rt_gwr_key_queue(q, sizeof q, l->name, l->len);
    if (key) {
        argv[n] = k, lens[n++] = rt_gwr_key_map(k, sizeof k, l->name, l->len, key, kn);
        argv[n] = ek, lens[n++] = rt_gwr_key_early(ek, sizeof ek, l->name, l->len, key, kn);
        argv[n] = pk, lens[n++] = rt_gwr_key_pending(pk, sizeof pk, l->name, l->len);
    }
    argv[n] = ttl, lens[n++] = strlen(ttl);
    argv[n] = GROUP, lens[n++] = strlen(GROUP);
    argv[n] = e->eid, lens[n++] = strlen(e->eid);
    argv[n] = text, lens[n++] = rt_gwr_stamp(text, sizeof text, line);
    argv[n] = e->id, lens[n++] = strlen(e->id);
    for (i = 0; i < 2 * npairs && n < ARGS_MAX; i++) argv[n] = pairs[i], lens[n++] = strlen(pairs[i]);
    for (i = 0; i < n; i++) total += lens[i];
    if (!(a = malloc(sizeof *a + total + (key ? kn : 0) + 1))) {
        A.unrecorded++;               /* left pending: claimed and sent again after claim_after */
        rt_gwr_fwd__drop(e);
        return;
    }
    a->nkeys = nkeys;
    a->argc = n;
    for (i = 0, p = a->data; i < n; i++) {
        memcpy(p, argv[i], lens[i]);
        a->argv[i] = p;
        a->lens[i] = lens[i];
        p += lens[i];
    }
    a->kn = key ? kn : 0;
    if (key) memcpy(p, key, kn);
    e->answer = a;
    record(e);
}

void rt_gwr_answer_stats(lua_State *L)
{
    SET_NUM("acked", A.recorded);
    SET_NUM("unacked", A.unrecorded);
    SET_NUM("answers_retried", A.retried);
}

void rt_gwr_answer_close(void) { memset(&A, 0, sizeof A); }
