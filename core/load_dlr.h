/* load_dlr.h -- the receipts of `smppgw bench --dlr` (load_dlr.c): each
 * message id an answer gave, matched by its receipt; a receipt for an id
 * no answer has given yet held a while for that answer.
 */
#ifndef SMPPGW_LOAD_DLR_H
#define SMPPGW_LOAD_DLR_H

#include <stddef.h>
#include <stdint.h>

#include "load_hist.h"

#define LOAD_DLR_HOLD_NS  2000000000ull  /* a receipt waits this long for its answer */
#define LOAD_DLR_HELD_MAX 65536          /* receipts waiting at most; the oldest goes unmatched */

typedef struct load_dlr_s {
    unsigned long long pending;       /* answered, receipt awaited */
    unsigned long long receipts;      /* every receipt that came */
    unsigned long long unmatched;     /* no answer gave its id (in time) */
    unsigned long long early;         /* came before its answer, matched when it came */
    unsigned long long other_sess;    /* came on another session than its answer */
    unsigned long long held;          /* waiting for their answers now */
    load_hist_t        hist;          /* latency from the send, microseconds */
} load_dlr_t;

extern load_dlr_t load_dlr;

/* 0, or -1 without memory. */
int load_dlr_init(void);

/* An answer on session `sess` gave message id (len octets), sent at
 * sent_ns: a held receipt with that id is matched now, else the id waits
 * for its receipt. */
void load_dlr_answer(const uint8_t *id, size_t len, uint64_t sent_ns, uint64_t sess, uint64_t now_ns);

/* A receipt for id came on session `sess`: matched, or held for its
 * answer. */
void load_dlr_receipt(const char *id, size_t len, uint64_t sess, uint64_t now_ns);

/* Held receipts older than LOAD_DLR_HOLD_NS (all with now_ns 0) counted
 * unmatched. */
void load_dlr_expire(uint64_t now_ns);

void load_dlr_free(void);

#endif /* SMPPGW_LOAD_DLR_H */
