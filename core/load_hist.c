/* load_hist.c -- the latency histogram of `smppgw bench`: log-linear
 * buckets (load_hist.h), so recording is O(1) and the memory fixed.
 */
#include "load_hist.h"

/* Index of the slot that holds value v (microseconds). */
static unsigned load_hist_index(uint64_t v)
{
    unsigned bucket = 0;
    while ((v >> bucket) >= 2 * LOAD_HIST_SUB_HALF) bucket++;  /* at most 18 steps */
    if (bucket == 0) return (unsigned)v;                       /* 0..255 */
    return (bucket + 1) * LOAD_HIST_SUB_HALF + (unsigned)((v >> bucket) - LOAD_HIST_SUB_HALF);
}

/* Highest value that lands in slot i (what HdrHistogram reports). */
static uint64_t load_hist_value(unsigned i)
{
    unsigned bucket;
    if (i < 2 * LOAD_HIST_SUB_HALF) return i;
    bucket = i / LOAD_HIST_SUB_HALF - 1;
    return (((uint64_t)(i % LOAD_HIST_SUB_HALF + LOAD_HIST_SUB_HALF)) << bucket) + ((1ull << bucket) - 1);
}

void load_hist_record(load_hist_t *h, uint64_t us)
{
    if (us > LOAD_HIST_MAX_US) us = LOAD_HIST_MAX_US;
    h->counts[load_hist_index(us)]++;
    if (h->total == 0 || us < h->min) h->min = us;
    if (us > h->max) h->max = us;
    h->total++;
}

uint64_t load_hist_percentile(const load_hist_t *h, double p)
{
    uint64_t want, seen = 0;
    unsigned i;
    if (!h->total) return 0;
    want = (uint64_t)(p / 100.0 * (double)h->total + 0.999999);
    if (want < 1) want = 1;
    for (i = 0; i < LOAD_HIST_SLOTS; i++) {
        seen += h->counts[i];
        if (seen >= want) {
            uint64_t v = load_hist_value(i);
            return v > h->max ? h->max : v < h->min ? h->min : v;
        }
    }
    return h->max;
}
