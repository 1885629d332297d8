/* rt_gw_origin.c -- the ESME session each stored message came in on, so
 * that its receipts go back on that session when it can take them: an
 * ESME reads its sockets in no order we know, and the answer that gave
 * it a message id went out on that session; a receipt on another one
 * can be read first (docs/gateway.md, "An answer before its receipt").
 *
 * A preference, not state: nothing is stored or replicated, a restart
 * forgets it (the receipt then goes to any receiver, as before). The
 * table is direct-mapped by the message's store key: keys come from one
 * counter, so the table holds the last ORIGIN_SLOTS messages stored and
 * a newer message simply takes an older one's slot (bounded memory, no
 * eviction work). A final receipt frees its slot (rt_gw_origin_drop).
 * `origins` in core.gw_stats is the number of slots in use.
 *
 * Who owns what: this file owns the table (allocated on first use, freed
 * at the stop). Sessions are kept by id, never by pointer.
 */
#include <stdlib.h>

#include "rt_acct.h"
#include "rt_gw.h"

#define ORIGIN_SLOTS (1u << 17)     /* 2 MB: at 5,000 messages/s, 26 s of receipts */

typedef struct {
    long long key;                  /* the message's store key (0: free) */
    uint64_t  sess;                 /* the ESME session it came in on */
} origin_t;

static struct {
    origin_t *slot;
    uint64_t  used;                 /* slots in use: the gauge */
} og;

void rt_gw_origin_put(long long key, uint64_t sess)
{
    origin_t *o;
    if (key <= 0 || !sess) return;
    if (!og.slot && !(og.slot = calloc(ORIGIN_SLOTS, sizeof *og.slot))) return;   /* no preference then */
    o = &og.slot[(unsigned long long)key % ORIGIN_SLOTS];
    if (!o->key) og.used++;
    o->key = key;
    o->sess = sess;
}

static origin_t *slot_of(long long key)
{
    origin_t *o = og.slot && key > 0 ? &og.slot[(unsigned long long)key % ORIGIN_SLOTS] : NULL;
    return o && o->key == key ? o : NULL;
}

uint64_t rt_gw_origin_sess(long long key)
{
    origin_t *o = slot_of(key);
    return o ? o->sess : 0;
}

sess_t *rt_gw_origin_pick(rt_acct_t *a, long long key)
{
    return rt_acct_pick_pref(a, rt_gw_origin_sess(key));
}

void rt_gw_origin_drop(long long key)
{
    origin_t *o = slot_of(key);
    if (!o) return;
    o->key = 0;
    og.used--;
}

uint64_t rt_gw_origin_count(void)
{
    return og.used;
}

void rt_gw_origin_free(void)
{
    free(og.slot);
    og.slot = NULL;
    og.used = 0;
}
