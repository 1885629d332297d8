/* tb.c -- token bucket refilled lazily from the elapsed time. */
#include "tb.h"

void tb_init(tb_t *b, double rate, double burst, uint64_t now_ms)
{
    b->rate = rate > 0 ? rate : 0;
    b->burst = burst > 0 ? burst : (rate > 1 ? rate : 1);
    b->tokens = b->burst;
    b->last_ms = now_ms;
    b->refs = 0;
}

int tb_take(tb_t *b, uint64_t now_ms)
{
    if (b->rate <= 0) return 1;
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
        if (b->tokens > b->burst) b->tokens = b->burst;
        b->last_ms = now_ms;
    }
    if (b->tokens < 1.0) return 0;
    b->tokens -= 1.0;
    return 1;
}
