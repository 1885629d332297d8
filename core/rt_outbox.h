/* rt_outbox.h -- receipts and MO delivered from the store (rt_outbox.c):
 * core.post puts a deliver_sm in the account's outbox and returns at once;
 * a deliverer per account, woken by a post, a bind of a receiver or a
 * freed window slot, takes batches sized to the free windows of the
 * account's receivers, sends them round robin, removes each on its
 * response and puts back with a backoff what failed for the link's sake.
 *
 * Who owns what: the outbox rows are the store's; a delivery in flight is
 * a small record from a pool, owned by the runtime from the send until its
 * completion (response, timeout or close), which the engine calls exactly
 * once. Nothing about a message is kept in Lua.
 */
#ifndef SMPPGW_RT_OUTBOX_H
#define SMPPGW_RT_OUTBOX_H

#include <lauxlib.h>
#include <lua.h>

#include "rt_acct.h"
#include "store.h"

/* Serving starts: serve{outbox_ttl =} (seconds, default one day) is how
 * long a posted item waits for a receiver. */
void rt_outbox_start(lua_State *L, int serve_idx);

/* The end of a loop turn, after the commit: run the woken deliverers. */
void rt_outbox_turn(void);

/* Shutdown: stop the retry timer. */
void rt_outbox_close(void);

/* Serving is over: free the pool. */
void rt_outbox_stop(void);

/* Item rowid is no longer wanted (the ESME took it another way): removed
 * from the outbox; one already taken and under way still arrives. */
void rt_outbox_cancel(long long rowid);

/* Put an encoded deliver_sm / data_sm (pdu) in the outbox of `account`
 * (core.post without Lua; ref: the message it is about, or NULL; delay:
 * seconds before the first attempt; ttl: seconds it may wait, < 0 for
 * the default; prefer: the session to deliver it on when it can take it,
 * 0 for any) and wake its deliverer. Returns the item's rowid, or a
 * store error (STORE_EFULL at a bound). */
long long rt_outbox_post(const char *account, size_t alen, store_str_t pdu, store_str_t ref, double delay, double ttl,
                         uint64_t prefer);

/* The Lua functions (post, outbox_stats). */
extern const luaL_Reg rt_outbox_lib[];

#endif /* SMPPGW_RT_OUTBOX_H */
