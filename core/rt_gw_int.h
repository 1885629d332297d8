/* rt_gw_int.h -- what the files of the gateway's SQLite path share with
 * each other and with no other file: rt_gw_store.c with rt_gw.c; the
 * forwarder (rt_fwd.c) with its decisions (rt_gw_decide.c) and the rows
 * held in memory (rt_gw_held.c).
 */
#ifndef SMPPGW_RT_GW_INT_H
#define SMPPGW_RT_GW_INT_H

#include <lua.h>

#include "rt_block.h"
#include "rt_gw.h"

/* Set stored, refused_full and refused_io (the messages core.gw_queue and
 * core.gw_record stored or refused) in the table on top of L's stack. */
void rt_gw_store__push_stats(lua_State *L);

/* The stored octets of r go out as they are (sess_send_octets checks
 * only the header): 0 when they decode as a message to forward
 * (submit_sm, data_sm, submit_multi), as core.gw_queue stored them; else
 * 1, why (n octets) and a log line naming the message and upstream (a
 * store file changed from outside): the forwarder ends the message. */
int rt_gw_store__bad(const store_fwd_row_t *r, const char *upstream, char *why, size_t n);

/* Free the encode buffer of stored messages (serving ends; it is made
 * again on the next use). */
void rt_gw_store__free(void);

/* A row a link holds in memory (rt_gw_held.c): the row as the queue
 * reader would have read it, its strings in data. */
typedef struct rt_fwd_held_s {
    struct rt_fwd_held_s *next;
    store_fwd_row_t r;
    char data[1];
} rt_fwd_held_t;

/* The bound on sendings whose answers the store could not record
 * (rt_fwd_unrec.c): an answer taken for rowid this turn; those answers
 * lost (a write or the commit failed); the turn's end (writes: the
 * store's committed writes so far); whether row r is
 * held back (its link sends nothing from its queue; a write of r tries
 * whether the store takes writes again); the gw_stats fields
 * unrecorded_held (messages held back now) and unrecorded_holds (times a
 * link passed a held row over); memory freed. */
void rt_fwd__unrec_answered(long long rowid);
void rt_fwd__unrec_lost(void);
void rt_fwd__unrec_turn(long long writes);
int  rt_fwd__unrec_held(store_t *st, const store_fwd_row_t *r);
void rt_fwd__unrec_stats(lua_State *L);
void rt_fwd__unrec_free(void);

/* Drop every row l holds (arg unused: rt_gw_foreach's shape); the queue
 * reader takes them. */
void rt_fwd__held_drop(rt_link_t *l, void *arg);

/* Are the rows l holds all that waits in its queue (every other row in
 * flight or being decided)? */
int rt_fwd__held_whole(const rt_link_t *l);

/* Parked rows (rt_gw_held.c), from the forwarder's tick: settle again
 * what the store refused; forget every record (serving ends: the rows
 * stay parked in the store and go back to their queues at the next
 * start). */
void rt_fwd__park_tick(void);

/* Does l's count say its queue is empty while the store has a row due
 * there (parked ones never are)? Then the count lost it (seen after a
 * disk-full episode with parked runs) and the reader would never look:
 * said, 1. One indexed read of at most one row, for idle links only
 * (rt_gw_decide.c). */
int rt_fwd__count_lost(rt_link_t *l);

#define FWD_HORIZON 0.001       /* rows due within this are taken now (the loop clock has ms) */
void rt_fwd__park_free(void);

/* Set turn_rows (the most entries a loop turn's list of stored messages
 * had) and turn_rows_cap (its room now) in the table on top of L's stack
 * (rt_gw_held.c). */
void rt_fwd__turn_stats(lua_State *L);

/* A write of the forwarding path failed (log it, pause forwarding, read
 * the queues again once nothing is in flight: rt_fwd.c). */
void rt_fwd__write_failed(store_t *st, const char *what, const char *id);

#endif /* SMPPGW_RT_GW_INT_H */
