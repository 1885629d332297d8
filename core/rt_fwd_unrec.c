/* rt_fwd_unrec.c -- a bound on the sendings of one message whose answers the store could not record
 * (a full disk: limits.size_mb keeps room for them, see store_put.c). Such an answer leaves the message
 * due, and after each pause the forwarders read their queues again from the start and send it again:
 * without a bound, once per retry_max for as long as the disk stays full. The rows answered in a turn
 * are remembered until its commit; a failed commit counts a lost answer for each. A message with
 * UNREC_MAX lost answers is held back: its link sends nothing from its queue (logged once per message)
 * until the store commits writes again (a new message, a receipt, expiry, or the row's own trace line
 * written to try: the disk has room), when every count is forgotten and it goes once more. Memory only:
 * a restart sends it again. A turn's answered rows are kept by rowid alone: the id that names a held
 * message in the log is read from the store then (no copy of every answered id, every turn).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rt_store.h"
#include "rt_gw_int.h"

#define UNREC_MAX  3             /* lost answers of one message before it is held back */
#define UNREC_CAP  8192          /* messages counted (a power of 2); past it none is held back */
#define UNREC_CLEAR_S 5.0        /* seconds without a lost answer after which every count is forgotten */

static struct {
    long long  keys[UNREC_CAP];  /* rowid + 1 (0: empty); counts beside */
    int        counts[UNREC_CAP];
    int        used;
    long long *turn;             /* rowids of the rows answered this turn */
    int        nturn, capturn;
    long long  writes;           /* the store's committed writes when last seen */
    double     probe_at;         /* the next write that tries whether the store takes writes again */
    long long  probe;            /* the row it wrote this turn (0: none) */
    unsigned long long holds;    /* rows a link passed over because they are held back, since start */
    int        lost;             /* an answer was lost this turn */
    double     lost_at;          /* rt_time() of the last one */
} un;

static int slot(long long rowid, int add)
{
    unsigned i = (unsigned)((unsigned long long)rowid * 0x9E3779B97F4A7C15ull >> 40) & (UNREC_CAP - 1);
    while (un.keys[i] && un.keys[i] != rowid + 1) i = (i + 1) & (UNREC_CAP - 1);
    if (!un.keys[i]) {
        if (!add || un.used >= UNREC_CAP / 2) return -1;
        un.keys[i] = rowid + 1;
        un.counts[i] = 0;
        un.used++;
    }
    return (int)i;
}

void rt_fwd__unrec_answered(long long rowid)
{
    if (un.nturn == un.capturn) {
        int cap = un.capturn ? un.capturn * 2 : 256;
        void *p = realloc(un.turn, (size_t)cap * sizeof *un.turn);
        if (!p) return;
        un.turn = p;
        un.capturn = cap;
    }
    un.turn[un.nturn++] = rowid;
}

/* The id of a held message for the log (its text id, or the one made from its node id and key, as
 * get shows it), read from the store: its row was stored in an earlier turn; "row N" if it is not. */
typedef struct { char id[72]; } name_t;

static int named(const store_msg_t *m, void *ud)
{
    name_t *n = ud;
    if (m->id.p) snprintf(n->id, sizeof n->id, "%.*s", (int)m->id.n, m->id.p);
    return 1;
}

static const char *name_of(long long rowid, name_t *n)
{
    store_t *st = rt_store();
    n->id[0] = '\0';
    if (st) store_get_key(st, rowid, named, n);
    if (!n->id[0]) snprintf(n->id, sizeof n->id, "row %lld", rowid);
    return n->id;
}

void rt_fwd__unrec_lost(void)
{
    name_t n;
    int i, k;
    for (i = 0; i < un.nturn; i++) {
        if ((k = slot(un.turn[i], 1)) < 0) continue;
        if (++un.counts[k] == UNREC_MAX)
            log_kind(LOG_ERROR, 0, "answer not recorded", "gateway: message %s reached its upstream %d times "
                     "and the store could record none of its answers; held back until the store takes "
                     "writes", name_of(un.turn[i], &n), un.counts[k]);
    }
    un.nturn = 0;
    un.lost = 1;
    un.lost_at = rt_time();
}

void rt_fwd__unrec_turn(long long writes)
{
    int k;
    /* the probe committed (no write of the turn failed): that row goes once more, and is held back
     * again if its answer is lost again */
    if (un.probe && !un.lost && writes != un.writes && (k = slot(un.probe, 0)) >= 0) un.counts[k] = UNREC_MAX - 1;
    /* answers of this turn recorded: every held row goes once more (held again at its next lost one) */
    if (un.used && !un.lost && un.nturn > 0)
        for (k = 0; k < UNREC_CAP; k++)
            if (un.keys[k] && un.counts[k] >= UNREC_MAX) un.counts[k] = UNREC_MAX - 1;
    /* no answer lost for UNREC_CLEAR_S: the store takes writes again, every count is forgotten */
    if (un.used && !un.lost && rt_time() - un.lost_at >= UNREC_CLEAR_S) {
        memset(un.keys, 0, sizeof un.keys);
        un.used = 0;
    }
    un.probe = 0;
    un.lost = 0;
    un.writes = writes;
    un.nturn = 0;
}

int rt_fwd__unrec_held(store_t *st, const store_fwd_row_t *r)
{
    static const char line[] = "held back: the store could not record its last answers; sent again once it "
                               "takes writes";
    double now;
    int k = un.used ? slot(r->rowid, 0) : -1;
    if (k < 0 || un.counts[k] < UNREC_MAX) return 0;
    un.holds++;
    /* the probe: a write of the row itself (its due unchanged, attempts + 1, a trace line), at most
     * once a second; once it commits, this row goes once more (rt_fwd__unrec_turn) */
    if (st && (now = rt_time()) >= un.probe_at) {
        un.probe_at = now + 1.0;
        if (store_fwd_retry(st, r->rowid, r->due, 0, NAN, now, (store_str_t){ line, sizeof line - 1 }) > 0)
            un.probe = r->rowid;
    }
    return 1;
}

void rt_fwd__unrec_stats(lua_State *L)
{
    int k, held = 0;
    for (k = 0; un.used && k < UNREC_CAP; k++)
        if (un.keys[k] && un.counts[k] >= UNREC_MAX) held++;
    lua_pushnumber(L, (double)held);
    lua_setfield(L, -2, "unrecorded_held");
    lua_pushnumber(L, (double)un.holds);
    lua_setfield(L, -2, "unrecorded_holds");
}

void rt_fwd__unrec_free(void)
{
    free(un.turn);
    memset(&un, 0, sizeof un);
}
