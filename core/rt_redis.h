/* rt_redis.h -- the runtime's Redis link (rt_redis.c) and what the nodes
 * of a cluster share through it (rt_cluster.c): account throughput as
 * token buckets kept in Redis, handed to each node in batches.
 *
 * Who owns what: rt_redis.c owns the process's one link, rt_cluster.c
 * its buckets; both go when serving ends (rt_redis_close, from the
 * serve loop's shutdown). Sessions only point at a bucket.
 */
#ifndef SMPPGW_RT_REDIS_H
#define SMPPGW_RT_REDIS_H

#include <lauxlib.h>
#include <lua.h>

#include "redis.h"
#include "tb.h"

/* The link, or NULL when none is open. */
redis_t *rt_redis(void);

/* Serving ends: the buckets, then the link (pending commands answered
 * "closed"). */
void rt_redis_close(void);

/* The local bucket of the cluster's bucket key (a Redis key) with rate
 * (per second, > 0) and burst, made the first time and refilled from
 * Redis in batches (rt_cluster.c): draw from it with tb_take. NULL when
 * rate is 0, the key too long, or no memory. Owned by rt_cluster.c until
 * serving ends. */
tb_t *rt_cluster_bucket(const char *key, double rate, double burst);

/* The buckets go (rt_redis_close calls it). */
void rt_cluster_close(void);

extern const luaL_Reg rt_redis_lib[];
extern const luaL_Reg rt_cluster_lib[];

#endif /* SMPPGW_RT_REDIS_H */
