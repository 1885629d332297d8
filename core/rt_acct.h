/* rt_acct.h -- accounts in the runtime (rt_acct.c): per system_id, the
 * server sessions bound under it (receivers and transceivers apart, for
 * round-robin delivery), counts by bind type, and the state of the
 * account's outbox deliverer (rt_outbox.c). Finding the receivers of an
 * account costs O(1) in the number of sessions.
 *
 * Who owns what: the index owns every rt_acct_t and its name; an entry
 * lives while the account has bound sessions or deliveries under way, and
 * goes (rt_acct_release) once it has neither. Sessions are listed by id,
 * never by pointer: net_find() says whether one still lives.
 */
#ifndef SMPPGW_RT_ACCT_H
#define SMPPGW_RT_ACCT_H

#include <stddef.h>
#include <stdint.h>

#include <lauxlib.h>

#include "net.h"

enum { RT_BIND_TX, RT_BIND_RX, RT_BIND_TRX, RT_BIND_TYPES };

typedef struct rt_acct_s {
    char      *name;            /* system_id, NUL-terminated (owned) */
    size_t     len;
    uint64_t  *rx;              /* bound receivers and transceivers, in bind order */
    uint32_t   nrx, caprx, rr;  /* ... their count, room, round-robin position */
    uint64_t  *tx;              /* bound transmitters */
    uint32_t   ntx, captx;
    uint32_t   bound[RT_BIND_TYPES];
    /* the deliverer (rt_outbox.c) */
    uint32_t   inflight;        /* deliver_sm sent, response awaited */
    int        queued;          /* on the deliverer's run list */
    double     wake_at;         /* rt_time() to look at the outbox again, 0: none */
    uint64_t   posted, delivered, refused, retried, undeliverable;
    uint64_t   full;            /* posts its full outbox refused */
    uint64_t   refusals_unlogged;
    double     refusal_logged;
    struct rt_acct_s *run_next; /* the deliverer's run list */
    struct rt_acct_s *next;     /* hash chain */
} rt_acct_t;

/* The account named (name, len); created when `create` (NULL without
 * memory), else NULL when there is none. */
rt_acct_t *rt_acct_get(const char *name, size_t len, int create);

/* Free the entry if it has nothing left: no bound session, no delivery in
 * flight, not waiting to be run (a later rt_acct_get makes a new one). */
void rt_acct_release(rt_acct_t *a);

/* The next receiver of a (round robin) with a free window slot that is
 * answering (none of its requests waiting over 1 s, or half its
 * response_timeout when shorter), or NULL. */
sess_t *rt_acct_pick(rt_acct_t *a);

/* Session `id` when it is one of a's receivers (bound, receiver or
 * transceiver) with a free window slot; else rt_acct_pick(a). Receipts
 * prefer the session their message came in on (rt_gw_origin.c). */
sess_t *rt_acct_pick_pref(rt_acct_t *a, uint64_t id);

/* Free window slots over a's receivers. */
uint32_t rt_acct_free_slots(rt_acct_t *a);

/* Something may be deliverable for a: its deliverer runs at the end of
 * this turn (rt_outbox_turn takes the woken ones). */
void rt_acct_wake(rt_acct_t *a);

/* The accounts woken since the last call, as a list through run_next
 * (each still marked queued until its deliverer ran). */
rt_acct_t *rt_acct_take_woken(void);
int rt_acct_woken(void);      /* 1 when some are woken */

/* Call fn for every account (fn must not release accounts). */
void rt_acct_foreach(void (*fn)(rt_acct_t *a, void *arg), void *arg);

/* The engine's state changes and closes, from rt_sess.c: a server
 * session bound under a system_id joins its account, and leaves it when
 * it unbinds or closes. */
void rt_acct_on_state(sess_t *s, sess_state_t old);
void rt_acct_on_closed(sess_t *s);

/* Serving is over: free every entry. */
void rt_acct_free_all(void);

/* The Lua functions (receivers, receiver, bound_sessions, accounts). */
extern const luaL_Reg rt_acct_lib[];

#endif /* SMPPGW_RT_ACCT_H */
