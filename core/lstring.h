/* lstring.h -- the string functions whose cost depends on their input's
 * shape or size, made safe for scripts: Lua patterns that ask the script
 * budget as they work, and results bounded by scripts.max_string.
 *
 * Lua's pattern functions are single C calls that can run for minutes
 * (`string.rep("a", 400):find(".-.-.-b")`); no count hook runs inside them.
 * The matcher here gives the same results as LuaJIT's (spec/lstring_spec.lua
 * compares both on a table of cases and on generated ones) and calls a check
 * function every LSTRING_CHECK_STEPS steps, which raises once the running
 * script's budget is spent.
 */
#ifndef SMPPGW_LSTRING_H
#define SMPPGW_LSTRING_H

#include <stddef.h>

#include <lua.h>

/* Steps (calls of the matcher, characters tried by a repetition) between
 * two budget checks: a check costs about one clock read. */
#define LSTRING_CHECK_STEPS 4096

/* Called every LSTRING_CHECK_STEPS steps, and before each call gsub makes
 * back into Lua (a replacement function, a table's __index: a script can
 * nest them without bound), with the state of the call; raises a Lua error
 * to stop it, or returns to let it go on. */
typedef void (*lstring_check_fn)(lua_State *L);

/* The bound of string.rep, table.concat and gsub results in bytes (0: no
 * bound), and the budget check (NULL: none). Process-wide (one Lua state). */
void lstring_set_limits(size_t max_string, lstring_check_fn check);

/* Push a new table {find, match, gmatch, gsub, rep, concat, find_steps} of the safe
 * functions (core.lstring; the sandbox builds scripts' string and table
 * libraries from it). */
void lstring_push(lua_State *L);

/* Put the safe pattern functions in the global `string` table (every Lua
 * caller in the state gets them, trusted library code included: scripts
 * hand it their patterns), and give the string metatable an __index of its
 * own: the string library without `dump` and with the bounded `rep`, so
 * that `s:find(...)` is the safe find and no string reaches string.dump.
 * Call once, right after the standard libraries are opened. */
void lstring_install(lua_State *L);

#endif /* SMPPGW_LSTRING_H */
