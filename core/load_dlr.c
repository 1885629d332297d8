/* load_dlr.c -- the receipts of `smppgw bench --dlr`. An ESME cannot
 * count on a receipt coming after the answer that gave it the message
 * id: an SMSC may send it on another session of the bind, which the ESME
 * reads in no order it controls, or send it first. So a receipt whose id
 * no answer has given yet is held (at most LOAD_DLR_HELD_MAX, for
 * LOAD_DLR_HOLD_NS) and matched when the answer comes, counted as
 * "before its answer" rather than unmatched; only one that no answer
 * claims in that time is unmatched. Which session brought the answer
 * and which the receipt is counted too (a gateway that sends receipts
 * on the submitting session keeps them in order).
 *
 * Who owns what: this file owns both tables and their entries.
 */
#include <stdlib.h>
#include <string.h>

#include "load_dlr.h"

#define BUCKETS 65536

typedef struct entry_s {
    struct entry_s *next;             /* hash chain */
    struct entry_s *fifo;             /* held receipts: arrival order */
    uint64_t        ns;               /* the send (an answered id) or the arrival (a held receipt) */
    uint64_t        sess;
    int             dead;             /* a held receipt matched: freed when the FIFO reaches it */
    char            id[66];
} entry_t;

load_dlr_t load_dlr;

static struct {
    entry_t **ids;                    /* answered ids awaiting their receipts */
    entry_t **held;                   /* receipts awaiting their answers */
    entry_t  *head, *tail;            /* held, oldest first (with the dead) */
    unsigned  nfifo;
} D;

static unsigned hash_of(const char *id, size_t len)
{
    unsigned h = 2166136261u;
    while (len--) h = (h ^ (unsigned char)*id++) * 16777619u;
    return h & (BUCKETS - 1);
}

/* The entry of id in table, out of it when `out`; NULL when none. */
static entry_t *find(entry_t **table, const char *id, size_t len, int out)
{
    entry_t **pp, *e;
    for (pp = &table[hash_of(id, len)]; (e = *pp) != NULL; pp = &e->next) {
        if (strlen(e->id) == len && memcmp(e->id, id, len) == 0) {
            if (out) *pp = e->next;
            return e;
        }
    }
    return NULL;
}

static entry_t *entry_new(const char *id, size_t len, uint64_t ns, uint64_t sess)
{
    entry_t *e;
    if (len >= sizeof e->id || !(e = calloc(1, sizeof *e))) return NULL;
    memcpy(e->id, id, len);
    e->ns = ns;
    e->sess = sess;
    return e;
}

int load_dlr_init(void)
{
    D.ids = calloc(BUCKETS, sizeof *D.ids);
    D.held = calloc(BUCKETS, sizeof *D.held);
    return D.ids && D.held ? 0 : -1;
}

/* The oldest held receipt out of the FIFO: unmatched unless it was. */
static void pop_oldest(void)
{
    entry_t *e = D.head;
    D.head = e->fifo;
    if (!D.head) D.tail = NULL;
    D.nfifo--;
    if (!e->dead) {
        find(D.held, e->id, strlen(e->id), 1);        /* e itself: an id is held once */
        load_dlr.unmatched++;
        load_dlr.held--;
    }
    free(e);
}

void load_dlr_expire(uint64_t now_ns)
{
    while (D.head && (!now_ns || now_ns - D.head->ns >= LOAD_DLR_HOLD_NS)) pop_oldest();
}

void load_dlr_answer(const uint8_t *id, size_t len, uint64_t sent_ns, uint64_t sess, uint64_t now_ns)
{
    entry_t *e;
    load_dlr_expire(now_ns);
    if (D.held && (e = find(D.held, (const char *)id, len, 1)) != NULL) {
        /* its receipt came first: matched now, its latency from the send
         * to when the receipt came */
        load_dlr.early++;
        load_dlr.held--;
        if (e->sess != sess) load_dlr.other_sess++;
        load_hist_record(&load_dlr.hist, e->ns > sent_ns ? (e->ns - sent_ns) / 1000 : 0);
        e->dead = 1;                  /* freed when the FIFO reaches it */
        return;
    }
    if (!D.ids || !(e = entry_new((const char *)id, len, sent_ns, sess))) return;
    e->next = D.ids[hash_of(e->id, len)];
    D.ids[hash_of(e->id, len)] = e;
    load_dlr.pending++;
}

void load_dlr_receipt(const char *id, size_t len, uint64_t sess, uint64_t now_ns)
{
    entry_t *e;
    load_dlr.receipts++;
    load_dlr_expire(now_ns);
    if (!id || !D.ids) {
        load_dlr.unmatched++;
        return;
    }
    if ((e = find(D.ids, id, len, 1)) != NULL) {
        load_dlr.pending--;
        if (e->sess != sess) load_dlr.other_sess++;
        load_hist_record(&load_dlr.hist, (now_ns - e->ns) / 1000);
        free(e);
        return;
    }
    /* no answer gave this id yet: held for it (a repeat of a held one,
     * or no room, is unmatched) */
    if (D.nfifo >= LOAD_DLR_HELD_MAX) pop_oldest();
    if (find(D.held, id, len, 0) != NULL || !(e = entry_new(id, len, now_ns, sess))) {
        load_dlr.unmatched++;
        return;
    }
    e->next = D.held[hash_of(id, len)];
    D.held[hash_of(id, len)] = e;
    if (D.tail) D.tail->fifo = e;
    else D.head = e;
    D.tail = e;
    D.nfifo++;
    load_dlr.held++;
}

void load_dlr_free(void)
{
    unsigned i;
    load_dlr_expire(0);
    for (i = 0; D.ids && i < BUCKETS; i++)
        while (D.ids[i]) {
            entry_t *e = D.ids[i];
            D.ids[i] = e->next;
            free(e);
        }
    free(D.ids);
    free(D.held);
    D.ids = D.held = NULL;
}
