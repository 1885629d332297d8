/* lsys.c -- facts about the process that the runtime's defaults are
 * derived from: how many files it may open, how many CPUs it may use.
 */
#include <sys/resource.h>

#include <lauxlib.h>
#include <lua.h>
#include <uv.h>

#include "lsys.h"

/* core.fd_limit() -> the soft RLIMIT_NOFILE (descriptors this process may
 * hold), or nil when unlimited or unknown. */
static int l_fd_limit(lua_State *L)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
    lua_pushnumber(L, (double)rl.rlim_cur);
    return 1;
}

/* core.cpu_count() -> CPUs this process may run on (at least 1). */
static int l_cpu_count(lua_State *L)
{
    lua_pushnumber(L, (double)uv_available_parallelism());
    return 1;
}

static const luaL_Reg funcs[] = {
    {"fd_limit", l_fd_limit},
    {"cpu_count", l_cpu_count},
    {NULL, NULL}
};

void lsys_register(lua_State *L)
{
    luaL_register(L, NULL, funcs);
}
