/* rt_workers.h -- workers on one machine (rt_workers.c): the parent's
 * supervisor (spawn N workers, restart a dead one with backoff, forward
 * SIGTERM/SIGINT/SIGHUP, read their statistics) and the worker's side
 * (publish its statistics in its slot of the shared region).
 *
 * Who owns what: the parent owns the region and the worker table for the
 * life of the process; a worker writes only its own slot.
 */
#ifndef SMPPGW_RT_WORKERS_H
#define SMPPGW_RT_WORKERS_H

#include <lauxlib.h>
#include <lua.h>

extern const luaL_Reg rt_workers_lib[];

#endif /* SMPPGW_RT_WORKERS_H */
