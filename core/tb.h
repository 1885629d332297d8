/* tb.h -- a token bucket: `rate` tokens per second, holding at most `burst`.
 * Shared by the sessions of one account (the owner counts references).
 */
#ifndef SMPPGW_TB_H
#define SMPPGW_TB_H

#include <stdint.h>

typedef struct tb_s {
    double   rate;      /* tokens per second; 0 = unlimited */
    double   burst;     /* capacity */
    double   tokens;
    uint64_t last_ms;
    int      refs;      /* owners holding this bucket */
} tb_t;

/* Set up a full bucket. burst <= 0 means max(1, rate). */
void tb_init(tb_t *b, double rate, double burst, uint64_t now_ms);

/* Take one token: 1 if there was one (or the bucket is unlimited), 0 if the
 * caller must be throttled. */
int tb_take(tb_t *b, uint64_t now_ms);

#endif /* SMPPGW_TB_H */
