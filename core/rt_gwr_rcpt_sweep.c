/* rt_gwr_rcpt_sweep.c -- the sweep of the Redis store's early receipts
 * (rt_gwr_rcpt.c): each receipt an answer took from the early list waits
 * in the upstream's being-matched set (P{u:<up>}p, stamped with Redis'
 * clock) until a node has it in the account's stream. What a node did not
 * finish (it died, lost Redis, Redis refused the append, or the answer's
 * reply was lost) is taken again, every claim_after / 3 s, by a node that
 * asks for the receipts stamped claim_after ago or earlier (one call,
 * which stamps them again so one node at a time takes them), and matched
 * again as any early receipt: at least once, as the messages' take-over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rt.h"
#include "rt_gw.h"
#include "rt_gwr.h"
#include "rt_redis.h"

static uint64_t swept;          /* receipts taken again (receipts_early_swept) */

uint64_t rt_gwr_rcpt_swept(void)
{
    return swept;
}

typedef struct sweep_s {
    rt_link_t *l;
    int       *busy;
} sweep_t;

static void on_swept(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    sweep_t *w = ud;
    (void)r;
    *w->busy = 0;
    if (err) {
        if (strcmp(err, "closed") != 0) log_msg(LOG_WARN, 0, "cluster store: the early receipts of %s: %s", w->l->name, err);
    } else if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0) {
        swept += reply->elements;
        log_msg(LOG_WARN, 0, "cluster store: matched again %zu early receipts of %s that no node passed on within %g s",
                reply->elements, w->l->name, rt_gwr_conf.claim_after);
        rt_gwr_rcpt_early(w->l, "(taken again)", "", reply);
    }
    free(w);
}

int rt_gwr_rcpt_sweep(rt_link_t *l, int *busy)
{
    char pkey[RT_GWR_KEY_MAX], ms[32], count[16];
    const char *argv[3] = { pkey, ms, count };
    size_t lens[3];
    sweep_t *w;
    if (*busy || !(w = malloc(sizeof *w))) return -1;
    w->l = l;
    w->busy = busy;
    lens[0] = rt_gwr_key_pending(pkey, sizeof pkey, l->name, l->len);
    lens[1] = (size_t)snprintf(ms, sizeof ms, "%.0f", rt_gwr_conf.claim_after * 1000);
    lens[2] = (size_t)snprintf(count, sizeof count, "%d", RT_GWR_CLAIM_MAX);
    if (rt_gwr_eval(RT_GWR_SWEEP, on_swept, w, 1, 3, argv, lens) != 0) {
        free(w);
        return -1;
    }
    *busy = 1;
    return 0;
}
