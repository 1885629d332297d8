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

#endif /* SMPPGW_LSTORE_H */
