/* lstore_int.h -- what the Lua binding's files share (lstore.c: opening,
 * the outbox, early receipts, the store's own methods; lstore_msg.c: the
 * messages): the userdata, argument helpers, the list accumulator. Not for
 * use outside core/lstore*.c.
 */
#ifndef SMPPGW_LSTORE_INT_H
#define SMPPGW_LSTORE_INT_H

#include <lauxlib.h>
#include <lua.h>

#include "store.h"

#define LSTORE_MT "smpp.store_sqlite"

/* The userdata of a store object. */
typedef struct lstore_box_s {
    store_t *s;         /* NULL once closed */
} lstore_box_t;

/* registry[&lstore__cols_key]: column name -> index in store_cols */
extern char lstore__cols_key;

/* Argument 1's store (raises when it is closed). */
store_t *lstore__self(lua_State *L);

/* A string argument (numbers are not converted: an id is text); the same,
 * or no string (p NULL) when nil or absent. */
store_str_t lstore__str_arg(lua_State *L, int i);
store_str_t lstore__opt_str_arg(lua_State *L, int i);

/* d as an integer, raising "<what> must be an integer" unless a double
 * holds it exactly. */
long long lstore__whole(lua_State *L, double d, const char *what);

/* A count argument: an integer 0 .. STORE_BATCH_MAX. */
int lstore__count_arg(lua_State *L, int i);

/* Field k of the table at t: a string (p NULL when nil), a number (def
 * when nil); raise naming fn and k on another type. */
store_str_t lstore__str_field(lua_State *L, int t, const char *k, const char *fn);
double lstore__num_field(lua_State *L, int t, const char *k, double def, const char *fn);

/* The limit field of a query table: 100 when absent. */
int lstore__limit_of(lua_State *L, int t, const char *fn);

/* Expected failures: nil, token [, detail]. A caller's mistake raises. */
int lstore__fail(lua_State *L, store_t *s, int rc);

/* Callbacks: one record pushed on the stack, or appended to the list at
 * stack index `list`. */
typedef struct lstore_acc_s {
    lua_State *L;
    int        n;
    int        list;
} lstore_acc_t;

/* A new empty list on the stack, and the accumulator that fills it. */
lstore_acc_t lstore__new_list(lua_State *L);

/* The methods on messages (lstore_msg.c). */
extern const luaL_Reg lstore__msg_methods[];

#endif /* SMPPGW_LSTORE_INT_H */
