/* rt_store.h -- the store in the serve loop (rt_store.c): the runtime
 * holds the configuration's store, commits once per loop turn (group
 * commit), answers what a turn stored only after that commit, and expires
 * old rows from a timer.
 *
 * Who owns what: Lua opens the store (lua/smpp/server.lua) and hands it to
 * core.serve{store =}; the runtime keeps a registry reference to it while
 * serving and looks its store_t up at each use (a script that closed it
 * leaves the runtime without one, never with a dangling pointer). A held
 * task stays the task core's; the runtime only remembers it until the
 * commit, then calls its release function exactly once.
 */
#ifndef SMPPGW_RT_STORE_H
#define SMPPGW_RT_STORE_H

#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "rt_task.h"
#include "store.h"

/* Seconds since the epoch: the time every stored row is stamped with and
 * expired by (core.time). The wall clock read when the runtime started,
 * advanced by the loop's monotonic clock, plus $SMPPGW_TIME_OFFSET
 * (seconds, for tests that need the future; never set in production). */
double rt_time(void);

/* Serving starts with the store at stack index idx (0: none); returns 0,
 * or a Lua error for something that is not an open store. */
int rt_store_start(lua_State *L, int idx);

/* The store in use, or NULL (none configured, or closed by a script). */
store_t *rt_store(void);

/* How a held answer is given once the turn's commit is over: ok is 1 when
 * the commit stored the turn, 0 when it failed, and then fail_status is
 * the SMPP status to answer instead of ESME_ROK (ESME_RMSGQFUL when the
 * disk or the store's size limit is full, else ESME_RSYSERR). The function
 * answers and calls rt_task_release(t). */
typedef void (*rt_store_release_fn)(rt_task_t *t, int ok, uint32_t fail_status);

/* Did a failed commit, or a write that failed this turn, lose a write of
 * t's run (t NULL: no)? Then its ESME_ROK must become *status. Writes
 * made in turns whose commits succeeded and failed alike (a run that
 * writes, waits and writes again) count as lost. */
int rt_store_run_lost(const rt_task_t *t, uint32_t *status);

/* A task answers now: returns 1 when the store holds writes not yet
 * committed, after remembering t until the turn's commit (its finish then
 * returns RT_TASK_HELD); 0 when it may answer at once. */
int rt_store_hold(rt_task_t *t, rt_store_release_fn release);

/* A run that failed after it stored something this turn (its request is
 * answered ESME_RSYSERR): the owner of what it stored (the gateway's
 * queue, rt_gw_held.c) takes it back, so that an error answer is not
 * followed by a forwarded message. co: the failed run's coroutine. */
typedef void (*rt_store_undo_fn)(lua_State *co);
void rt_store_set_undo(rt_store_undo_fn fn);
void rt_store_undo(lua_State *co);

/* What a run's ESME (or HTTP client) is told decides its messages
 * (rt_gw_held.c). rt_store_lost: before a run of co answers ESME_ROK,
 * whether a failed commit lost what it stored before it waited (1, and
 * *status what to answer instead: ESME_RMSGQFUL for a full store, else
 * ESME_RSYSERR; the owner then calls rt_store_undo for the rest).
 * rt_store_refused: a held success of the run of co went out as an error
 * because the turn's commit failed; what it stored is ended, not
 * forwarded. Both cost nothing while no run waits with messages. */
typedef int (*rt_store_lost_fn)(lua_State *co, uint32_t *status);
void rt_store_set_runs(rt_store_lost_fn lost, rt_store_undo_fn refused);
int rt_store_lost(lua_State *co, uint32_t *status);
void rt_store_refused(lua_State *co);

/* The end of a loop turn: commit, then release the held answers in the
 * order they were given. */
void rt_store_turn(void);

/* Whether answers wait for this turn's commit (what is sent after them
 * to the same peers must wait for it too, to come after them). */
int rt_store_holding(void);

/* Whether the last rt_store_turn() stored its turn (1; also when nothing
 * was written), or failed (0; *fail_status then says what to answer
 * instead of ESME_ROK, as for held answers). */
int rt_store_committed(uint32_t *fail_status);

/* Until when (rt_time) whoever would take again work that failed commits
 * lost waits: its takes and acks went with them, so it is due again at
 * once, and taking it every turn resent it every turn (the outbox; the
 * reference SMSC's scheduler through core.store_wait). 0.1 s after a
 * failed commit, doubling to 5 s while they fail; 0 once a commit stores
 * writes again. */
double rt_store_wait_until(void);

/* Shutdown: stop the expiry timer. */
void rt_store_close(void);

/* Serving is over: a last commit, the held answers released, the store
 * let go. */
void rt_store_stop(void);

/* The Lua functions (store_stats, store_wait, time). */
extern const luaL_Reg rt_store_lib[];

#endif /* SMPPGW_RT_STORE_H */
