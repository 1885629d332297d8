/* rt_budget.h -- the script budget: a limit on one resume of a task
 * (instructions, milliseconds, Lua heap), enforced by a count hook.
 * Kept apart from the task core so that its enforcement can change alone.
 */
#ifndef SMPPGW_RT_BUDGET_H
#define SMPPGW_RT_BUDGET_H

#include <stdint.h>

#include <lua.h>

/* The budget state of the resume in progress, saved around a nested one
 * (a task can be resumed inside another task's C call). */
typedef struct rt_budget_run_s {
    lua_State *running;     /* the task's coroutine */
    uint64_t   start_ns;
    double     instr;
} rt_budget_run_t;

/* A resume of the task whose coroutine is co starts (the previous state
 * goes to *saved), or ends. */
void rt_budget_enter(lua_State *co, rt_budget_run_t *saved);
void rt_budget_leave(const rt_budget_run_t *saved);

/* Resumes stopped by the budget so far. */
uint64_t rt_budget_stops(void);

#endif /* SMPPGW_RT_BUDGET_H */
