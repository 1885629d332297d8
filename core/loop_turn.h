/* loop_turn.h -- "again in the next loop turn" for a libuv timer that
 * re-arms itself from its own callback: a batch of work (the store's
 * expiry) that found more to do lets I/O in before the next batch.
 * (The forwarder and the outbox run their batches at the turn's end, in
 * the prepare phase, where a timer started at 0 only keeps the poll from
 * blocking: they keep 0.)
 *
 * Why not uv_timer_start(t, cb, 0, ...): libuv before 1.45 (Debian 12 has
 * 1.44) runs every timer whose time has come in one pass, and a timer
 * started at 0 from its callback is due at once, so it ran again in the
 * same pass, batch after batch, until no work was left: the loop stopped
 * for hundreds of milliseconds behind a 100,000-message backlog. Due 1 ms
 * later it waits for the next turn's timer pass on every libuv, and the
 * poll of this turn waits at most that millisecond when there is no I/O.
 */
#ifndef SMPPGW_LOOP_TURN_H
#define SMPPGW_LOOP_TURN_H

#include <uv.h>

static inline int loop_turn_timer(uv_timer_t *t, uv_timer_cb cb, uint64_t repeat)
{
    return uv_timer_start(t, cb, 1, repeat);
}

#endif
