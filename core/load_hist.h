/* load_hist.h -- the latency histogram of `smppgw bench` (load.c): fixed
 * memory, O(1) recording, percentiles with two significant digits.
 */
#ifndef SMPPGW_LOAD_HIST_H
#define SMPPGW_LOAD_HIST_H

#include <stdint.h>

/* HdrHistogram-style log-linear buckets over 0..60 s in microseconds with 2
 * significant digits: bucket b >= 1 covers [128 << b, 256 << b) in 128 equal
 * steps of 1 << b (relative error below 1/128); bucket 0 covers 0..255 in
 * steps of 1. */
#define LOAD_HIST_SUB_BITS  7                           /* 128 sub-buckets per half */
#define LOAD_HIST_SUB_HALF  (1u << LOAD_HIST_SUB_BITS)
#define LOAD_HIST_MAX_US    60000000ull                 /* 60 s */
#define LOAD_HIST_BUCKETS   19                          /* 256 << 18 > 60 s */
#define LOAD_HIST_SLOTS     ((LOAD_HIST_BUCKETS + 1) * LOAD_HIST_SUB_HALF)

/* Zeroed memory is an empty histogram; the owner embeds it (about 20 KB). */
typedef struct load_hist_s {
    uint64_t counts[LOAD_HIST_SLOTS];
    uint64_t total, min, max;
} load_hist_t;

/* Count one value in microseconds (above 60 s counts as 60 s). */
void load_hist_record(load_hist_t *h, uint64_t us);

/* The value at percentile p (0..100): the highest value of the smallest
 * slot whose cumulative count reaches ceil(p% of total), never above the
 * exact maximum nor below the minimum; 0 for an empty histogram. */
uint64_t load_hist_percentile(const load_hist_t *h, double p);

#endif /* SMPPGW_LOAD_HIST_H */
