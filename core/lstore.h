/* lstore.h -- the `smpp.store_sqlite` Lua module: the SQLite store (store.h)
 * as a userdata with the methods lua/smpp/store.lua documents.
 */
#ifndef SMPPGW_LSTORE_H
#define SMPPGW_LSTORE_H

#include <lua.h>

#include "store.h"

/* Open the module: returns 1 with its table ({ open =, columns = }) on the
 * stack. Used by `require "smpp.store_sqlite"` and preloaded by smppgw. */
int luaopen_smpp_store_sqlite(lua_State *L);

/* The store_t of the store userdata at idx, or NULL (not a store, or
 * closed). Borrowed: the userdata owns it, so the runtime keeps a
 * reference to the userdata while it uses the pointer (for store_commit). */
store_t *lstore_get(lua_State *L, int idx);

/* Where the store userdata at idx keeps its store_t (NULL: not a store):
 * valid while the caller holds a reference to the userdata; the store_t
 * there is NULL once the store is closed. Read per request by the runtime,
 * which would otherwise look the userdata up each time. */
store_t *const *lstore_handle(lua_State *L, int idx);

/* A put asked to be withdrawn if its request fails (st:put(rec, true), a
 * putter's extra argument true): the runtime sets this to note the key
 * with the running request (rt_sess_answer.c), which removes the row
 * (store_remove) when that request is answered with an error. NULL
 * outside the runtime: the flag does nothing there. */
extern void (*lstore_withdraw_hook)(lua_State *L, store_t *s, long long key);

#endif /* SMPPGW_LSTORE_H */
