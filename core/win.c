/* win.c -- outstanding-request window: linear probing with backward-shift
 * deletion (no tombstones), at most half full so probes stay short. The
 * table starts small and doubles as the window fills, so that an idle
 * session with a large configured window costs little memory.
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
    w->slots = calloc(8, sizeof *w->slots);
    if (!w->slots) return -1;
    w->mask = 7;
    w->count = 0;
    w->limit = limit ? limit : 1;
    return 0;
}

/* Double the table (entries move: pointers into it become invalid). */
static int grow(win_t *w)
{
    uint32_t i, cap = (w->mask + 1) * 2;
    win_entry_t *old = w->slots;
    uint32_t old_cap = w->mask + 1;
    win_entry_t *slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    w->slots = slots;
    w->mask = cap - 1;
    for (i = 0; i < old_cap; i++) {
        uint32_t j;
        if (!old[i].seq) continue;
        for (j = hash(old[i].seq) & w->mask; slots[j].seq; j = (j + 1) & w->mask) {}
        slots[j] = old[i];
    }
    free(old);
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
    if ((w->count + 1) * 2 > w->mask + 1 && grow(w)) return NULL;
    for (i = hash(seq) & w->mask; w->slots[i].seq; i = (i + 1) & w->mask)
        if (w->slots[i].seq == seq) return NULL;   /* present: one probe where a win_get first made two */
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
