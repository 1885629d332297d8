/* win.h -- a window of outstanding requests keyed by sequence_number: an
 * open-addressing hash table with room for a fixed number of entries.
 * Pure C, no clock of its own: deadlines are numbers the caller compares.
 */
#ifndef SMPPGW_WIN_H
#define SMPPGW_WIN_H

#include <stddef.h>
#include <stdint.h>

/* One outstanding request. `seq` 0 marks a free slot (0 is never a valid
 * request sequence_number). The owner fills what it needs after win_put. */
typedef struct win_entry_s {
    uint32_t seq;
    uint32_t command_id;   /* of the request */
    uint64_t sent_ms;      /* when it was sent or received */
    uint64_t deadline_ms;  /* 0 = none */
    void    *cb;           /* owner's completion callback (cast by the owner) */
    void    *arg;          /* owner's argument */
    uint32_t dups;         /* requests received with this seq meanwhile (sess.c answers them after it) */
    uint32_t dup_id;       /* the command_id of the last of them */
} win_entry_t;

typedef struct win_s {
    win_entry_t *slots;
    uint32_t     mask;     /* capacity - 1, capacity a power of two */
    uint32_t     count;
    uint32_t     limit;    /* most entries allowed at once */
} win_t;

/* A window of at most `limit` entries (>= 1); the table grows as needed.
 * Returns 0 or -1 (no memory). */
int win_init(win_t *w, uint32_t limit);
void win_free(win_t *w);

/* Insert `seq` (non-zero). Returns the entry to fill (valid until the
 * next win_put or win_del), or NULL when `seq` is present already, the
 * window is full or memory ran out. */
win_entry_t *win_put(win_t *w, uint32_t seq);

/* The entry of `seq`, or NULL. */
win_entry_t *win_get(win_t *w, uint32_t seq);

/* Remove `seq`, copying its entry to *out when out is not NULL. Returns 1
 * if it was present, 0 if not. Other entries' addresses may change. */
int win_del(win_t *w, uint32_t seq, win_entry_t *out);

/* The i-th slot for iteration (0 <= i <= mask); check e->seq != 0. */
static inline win_entry_t *win_slot(win_t *w, uint32_t i) { return &w->slots[i]; }

#endif /* SMPPGW_WIN_H */
