/* rt_budget.c -- the script budget of one resume of a task.
 *
 * A count hook runs every HOOK_STEP VM instructions while a task runs and
 * raises an error in it once the resume used more than its budget of
 * instructions or milliseconds, or the Lua heap passed its ceiling. LuaJIT
 * does not run hooks inside compiled traces (without LUAJIT_ENABLE_CHECKHOOK),
 * so while a budget is set the JIT compiler is off (lua/smpp/server.lua
 * turns it off unless the config keeps it): then every loop is interpreted
 * and stopped. With scripts.jit = true a loop that the JIT compiled is not.
 */
#include <uv.h>

#include "rt.h"
#include "rt_budget.h"

#define HOOK_STEP 10000

static struct {
    double          instr, ms, memory_kb;   /* per resume; 0 = no limit */
    rt_budget_run_t run;                    /* the resume in progress */
    uint64_t        stops;
} budget;

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (budget.run.running != L) return;    /* not a task's code (loading, module init) */
    budget.run.instr += HOOK_STEP;
    if (budget.instr > 0 && budget.run.instr > budget.instr) {
        budget.stops++;
        luaL_error(L, "script budget exceeded: more than %.0f instructions in one run", budget.instr);
    }
    if (budget.ms > 0 && (double)(uv_hrtime() - budget.run.start_ns) / 1e6 > budget.ms) {
        budget.stops++;
        luaL_error(L, "script budget exceeded: ran longer than %.0f ms without waiting", budget.ms);
    }
    if (budget.memory_kb > 0 && lua_gc(L, LUA_GCCOUNT, 0) > budget.memory_kb) {
        lua_gc(L, LUA_GCCOLLECT, 0);
        if (lua_gc(L, LUA_GCCOUNT, 0) > budget.memory_kb) {
            budget.stops++;
            luaL_error(L, "script memory ceiling exceeded: Lua heap above %.0f KiB", budget.memory_kb);
        }
    }
}

void rt_budget_enter(lua_State *co, rt_budget_run_t *saved)
{
    *saved = budget.run;
    budget.run.running = co;
    budget.run.start_ns = uv_hrtime();
    budget.run.instr = 0;
}

void rt_budget_leave(const rt_budget_run_t *saved)
{
    budget.run = *saved;
}

uint64_t rt_budget_stops(void) { return budget.stops; }

/* core.set_budget(instructions, ms, memory_mb): per resume of a task; 0 = no limit. */
static int l_set_budget(lua_State *L)
{
    budget.instr = luaL_optnumber(L, 1, 0);
    budget.ms = luaL_optnumber(L, 2, 0);
    budget.memory_kb = luaL_optnumber(L, 3, 0) * 1024;
    if (budget.instr > 0 || budget.ms > 0 || budget.memory_kb > 0)
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, HOOK_STEP);
    else
        lua_sethook(L, NULL, 0, 0);
    return 0;
}

const luaL_Reg rt_budget_lib[] = {
    {"set_budget", l_set_budget},
    {NULL, NULL}
};
