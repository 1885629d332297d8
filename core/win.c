/* win.c -- outstanding-request window: linear probing with backward-shift
 * deletion (no tombstones), at most half full so probes stay short.
 */
#include <stdlib.h>
#include <string.h>

#include "win.h"

static uint32_t hash(uint32_t seq)
{
    return seq * 2654435761u;   /* Knuth: sequence numbers are consecutive */
}

int win_init(win_t *w, uint32_t limit)
{
    uint32_t cap = 8;
    if (limit == 0) limit = 1;
    while (cap < limit * 2) cap <<= 1;
    w->slots = calloc(cap, sizeof *w->slots);
    if (!w->slots) return -1;
    w->mask = cap - 1;
    w->count = 0;
    w->limit = limit;
    return 0;
}

void win_free(win_t *w)
{
    free(w->slots);
    w->slots = NULL;
    w->count = 0;
}

win_entry_t *win_put(win_t *w, uint32_t seq)
{
    uint32_t i;
    if (w->count >= w->limit || seq == 0) return NULL;
    for (i = hash(seq) & w->mask; w->slots[i].seq; i = (i + 1) & w->mask) {}
    memset(&w->slots[i], 0, sizeof w->slots[i]);
    w->slots[i].seq = seq;
    w->count++;
    return &w->slots[i];
}

win_entry_t *win_get(win_t *w, uint32_t seq)
{
    uint32_t i;
    if (seq == 0) return NULL;
    for (i = hash(seq) & w->mask; w->slots[i].seq; i = (i + 1) & w->mask)
        if (w->slots[i].seq == seq) return &w->slots[i];
    return NULL;
}

int win_del(win_t *w, uint32_t seq, win_entry_t *out)
{
    uint32_t i, j;
    win_entry_t *e = win_get(w, seq);
    if (!e) return 0;
    if (out) *out = *e;
    i = (uint32_t)(e - w->slots);
    /* Backward shift: move later entries of the probe run into the hole
     * when their home slot is not between the hole and themselves. */
    for (j = (i + 1) & w->mask; w->slots[j].seq; j = (j + 1) & w->mask) {
        uint32_t home = hash(w->slots[j].seq) & w->mask;
        if (((j - home) & w->mask) >= ((j - i) & w->mask)) {
            w->slots[i] = w->slots[j];
            i = j;
        }
    }
    w->slots[i].seq = 0;
    w->count--;
    return 1;
}
