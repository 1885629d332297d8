/* rt_gwr.h -- the gateway's messages in Redis (cluster.store = true): the
 * nodes of a cluster share one queue per upstream, so a message accepted
 * on one node is forwarded by whichever node holds a bind to its upstream.
 *
 * The keys (P is the store's prefix: store.prefix with store.redis,
 * cluster.prefix with cluster.store), each with its hash tag so that every
 * script call touches one slot of a Redis Cluster (docs/cluster.md):
 *   P{u:<up>}m:<id>   hash: the message record (account, upstream, route,
 *                     state, attempts, upstream_id, err, trace, ...), TTL
 *   P{u:<up>}q        stream: the queue; one entry per message carries what
 *                     sending needs (id, pdu, account, rd, expires, attempts);
 *                     consumer group "fwd", one consumer per process
 *   P{u:<up>}k:<key>  string: the upstream's id -> ours, for receipts
 *   P{u:<up>}e:<key>  list: receipts that came before their mapping
 *   P{u:<up>}p        sorted set: those receipts once the mapping is
 *                     written, until they are in the account's stream
 *                     (scored by when a node took them: rt_gwr_rcpt.c)
 *   P{a:<acct>}r      stream: receipts and MO for the account (rt_gwr_rx.c)
 *   P{c}ids           counter: keys are taken from it in blocks, so ids are
 *                     unique across nodes and restarts
 *   P{c}nodes         counter: a process's node id (unless cluster.node_id)
 *   P{c}epoch         string: a token set by the first process to find none;
 *                     one that changes (or counters that went back) says
 *                     Redis lost its data: each process then takes a new
 *                     node id and id block (rt_gwr.c)
 *   P{u:<up>}tb       hash: the upstream's throughput bucket (rt_cluster.c)
 *   P{u:<up>}live     string: set (TTL: the link's wait) while some node can
 *                     send to the upstream; its absence lets a node that
 *                     cannot send offer the queue to the handler (stalled)
 *
 * The guarantee of the group commit holds: core.gw_queue waits (the task
 * yields, the loop serves everyone else) until Redis has answered the
 * writes of the message, and only then returns its id, so ESME_ROK is
 * given only for what Redis holds. Redis unreachable: gw_queue answers
 * "full" (ESME_RMSGQFUL). A forwarder reads its upstream's stream with
 * XREADGROUP, records the upstream's answer, then XACKs (one script call,
 * rt_gwr_script.c); entries pending longer than cluster.claim_after on a
 * consumer that died are taken over with XAUTOCLAIM and sent again (at
 * least once).
 *
 * Who owns what: rt_gwr.c owns the settings and the id blocks;
 * rt_gwr_queue.c the waits of accepting tasks; rt_gwr_fwd.c owns the
 * entries read from the streams (from the read until their XACK is
 * answered) and each link's reading state; rt_gwr_answer.c the calls that
 * write their answers; rt_gwr_move.c a move to another upstream while it
 * is under way. The link itself is rt_gw.c's; the Redis link is
 * rt_redis.c's.
 */
#ifndef SMPPGW_RT_GWR_H
#define SMPPGW_RT_GWR_H

#include <lauxlib.h>
#include <lua.h>

#include "pdu.h"
#include "redis.h"
#include "rt_acct.h"
#include "sess.h"
#include "store.h"

struct rt_link_s;             /* rt_gw.h: an upstream link */

typedef struct rt_gwr_conf_s {
    int       on;               /* core.gwr_start was called */
    char      prefix[64];
    double    claim_after;      /* seconds an entry may be pending before another consumer takes it */
    double    ttl;              /* seconds message records and id mappings are kept */
    long long node_id;          /* 0 until known */
    char      consumer[32];     /* "n<node_id>" */
} rt_gwr_conf_t;
extern rt_gwr_conf_t rt_gwr_conf;

/* The Redis store is in use. */
static inline int rt_gwr_on(void) { return rt_gwr_conf.on; }

/* The keys (see the table above): each into buf (cap octets, at least
 * RT_GWR_KEY_MAX), returning its length. key_msg with an empty id is the
 * prefix the receipt script completes with the id it finds. */
#define RT_GWR_KEY_MAX 400
size_t rt_gwr_key_msg(char *buf, size_t cap, const char *up, size_t upn, const char *id, size_t idn);
size_t rt_gwr_key_queue(char *buf, size_t cap, const char *up, size_t upn);
size_t rt_gwr_key_map(char *buf, size_t cap, const char *up, size_t upn, const char *key, size_t kn);
size_t rt_gwr_key_early(char *buf, size_t cap, const char *up, size_t upn, const char *key, size_t kn);
size_t rt_gwr_key_pending(char *buf, size_t cap, const char *up, size_t upn);
size_t rt_gwr_key_rx(char *buf, size_t cap, const char *acct, size_t an);
size_t rt_gwr_key_counter(char *buf, size_t cap, const char *name);
size_t rt_gwr_key_bucket(char *buf, size_t cap, const char *up, size_t upn);
size_t rt_gwr_key_live(char *buf, size_t cap, const char *up, size_t upn);

/* XREADGROUP GROUP group <this node's consumer> COUNT count STREAMS key >:
 * the new entries of a stream for this consumer. Returns what redis_cmd
 * does. */
int rt_gwr_read_group(redis_t *r, redis_reply_fn fn, void *ud, const char *group, const char *key, size_t count);
/* XGROUP CREATE key group 0 MKSTREAM: the consumer group (and the stream)
 * made; BUSYGROUP in fn's err when it exists. Returns what redis_cmd does. */
int rt_gwr_make_group(redis_t *r, redis_reply_fn fn, void *ud, const char *group, const char *key, size_t klen);
/* XAUTOCLAIM key group <this node's consumer> <claim_after in ms> cursor
 * COUNT RT_GWR_CLAIM_MAX: entries another node has held for longer than
 * claim_after, taken over from cursor on. Returns what redis_cmd does. */
#define RT_GWR_CLAIM_MAX 100
int rt_gwr_autoclaim(redis_t *r, redis_reply_fn fn, void *ud, const char *group, const char *key,
                     const char *cursor);
/* XCLAIM key group <this node's consumer> 0 id... JUSTID: the idle time of
 * the n entries held here (at most RT_GWR_TOUCH_MAX) set to 0, so that no
 * other node takes them over. Returns what redis_cmd does. */
#define RT_GWR_TOUCH_MAX 500
int rt_gwr_touch(redis_t *r, const char *group, const char *key, size_t klen, const char *const *ids, int n);
/* the reply callback of a write nothing waits for: logs a failure */
void rt_gwr_logged(redis_t *r, redisReply *reply, const char *err, void *ud);

/* "<time> line\n" into buf (cap octets): a trace line as the SQLite store
 * stamps it. Returns its length. */
size_t rt_gwr_stamp(char *buf, size_t cap, const char *line);

/* The server-side scripts (rt_gwr_script.c): one call per step of a
 * message. */
enum { RT_GWR_ACCEPT, RT_GWR_OUTCOME, RT_GWR_MATCH, RT_GWR_NOTE, RT_GWR_ACK, RT_GWR_MOVE_MARK, RT_GWR_MOVE_IN,
       RT_GWR_MOVE_OUT, RT_GWR_RCPT_DONE, RT_GWR_SWEEP, RT_GWR_TAKE, RT_GWR_JOIN, RT_GWR_NSCRIPTS };

/* Call script which with nkeys keys then its arguments (argc words in all,
 * copied): EVALSHA, EVAL again after NOSCRIPT. Returns 0 (fn is called
 * once, as redis_cmd's callbacks are) or REDIS_E_*. */
int rt_gwr_eval(int which, redis_reply_fn fn, void *ud, int nkeys, int argc, const char **argv, const size_t *lens);

/* Load the scripts (SCRIPT LOAD, pipelined ahead of what follows) when
 * the link is up and has not had them since it (re)connected: the calls
 * after them find them (NOSCRIPT remains the fallback: a flush). */
void rt_gwr_scripts_load(void);

/* A trace line (and field/value pairs) on message id of upstream up, when
 * its record is still there; the answer is only logged. Returns what
 * rt_gwr_eval does. */
int rt_gwr_note(const char *up, size_t upn, const char *id, const char *line, int npairs, const char **pairs);

/* The node id's and id blocks' requests (rt_gwr.c); the next key of
 * the current block, or 0 while none is at hand. The process joins Redis'
 * data first (JOIN: its epoch and node id) and asks for blocks after that;
 * once a second, and when the link comes up again, it checks that Redis
 * still has them (the epoch token, counters not below what it was
 * given), else takes a new node id and block. */
void rt_gwr_ask_ids(void);
long long rt_gwr_take_key(void);

/* core.gw_queue on Redis: m is the record (account, upstream, route,
 * expires, pdu, ...), l its link. Waits for Redis, then leaves the id (or
 * nil, "full", detail) on L's stack: returns what a lua_CFunction does. */
int rt_gwr_queue(lua_State *L, struct rt_link_s *l, const store_msg_t *m);

/* core.gwr_get(id [, upstreams [, prefix]]) (rt_gwr_queue.c): a message's
 * record read from Redis; a lua_CFunction that waits. */
int rt_gwr_get(lua_State *L);

/* The forwarder of a woken link (rt_gwr_fwd.c), from rt_fwd_turn. */
void rt_gwr_run(struct rt_link_s *l);

/* A receipt from link l's session s (rt_gwr_rcpt.c): matched through the
 * id mapping, rewritten, appended to the account's stream; kept in Redis
 * when it came before the mapping. The upstream is answered once Redis
 * has it. Returns 1 (taken). */
int rt_gwr_receipt(struct rt_link_s *l, sess_t *s, const pdu_t *req);

/* The mapping upstream key -> id was written and Redis handed back the
 * receipts that came before it (encoded PDUs, reply elements): apply them
 * to message id of account. */
void rt_gwr_rcpt_early(struct rt_link_s *l, const char *id, const char *account, const redisReply *list);

/* Link l's answer wrote the mapping of key (kn octets): the early
 * receipts kept for it under the other entries of l's receipt group
 * (l->sib) are taken and matched (rt_gwr_rcpt.c). */
void rt_gwr_rcpt_group_take(struct rt_link_s *l, const char *key, size_t kn);

/* Early receipts of link l that no node passed on within claim_after
 * (their node died, lost Redis, or Redis refused the append) are taken
 * from the being-matched set and matched again (rt_gwr_rcpt_sweep.c).
 * *busy is set until Redis answered. Returns 0, or -1 when nothing was
 * sent (busy, link down). */
int rt_gwr_rcpt_sweep(struct rt_link_s *l, int *busy);
/* ... how many receipts the sweeps took again (rt_gwr_rcpt_sweep.c). */
uint64_t rt_gwr_rcpt_swept(void);

/* core.post on Redis (rt_gwr_rx.c): the PDU appended to the account's
 * stream; waits for Redis when L can yield. Returns what l_post does. */
int rt_gwr_post(lua_State *L, const char *account, size_t alen, store_str_t pdu);

/* Append an encoded deliver_sm for account to its stream (id and up: the
 * message it is a receipt of, for the trace; p NULL for MO; via: the ESME
 * session its message came in on, "<node>:<session>", n 0 for none);
 * fn(ud, ok) when Redis answered (fn may be NULL). Returns 0, or -1 when
 * it was not sent. */
int rt_gwr_append(const char *account, size_t alen, store_str_t pdu, store_str_t id, store_str_t up,
                  store_str_t via, void (*fn)(void *ud, int ok), void *ud);

/* The deliverer of a woken account (rt_gwr_rx.c), from rt_outbox_turn. */
void rt_gwr_deliver(rt_acct_t *a);

/* A decision of the gateway's handler on an event of the Redis path
 * (rt_fwd_decide's dispatch): what, upstream, delay, state, err, line as
 * there. Returns NULL, or what is wrong with it (the entry then waits for
 * the default). "move" copies the message to the other upstream's queue
 * and then takes it out of this one (rt_gwr_move.c). */
struct rt_gw_event_s;
const char *rt_gwr_decide(struct rt_gw_event_s *ev, const char *what, const char *upstream, double delay, int state,
                          long long err, const char *line);

/* Every tick: the links with binds look at their streams; with
 * sample_queues (once a second) every link's queued is read from Redis
 * (XLEN of its stream: the cluster's count) (rt_gwr_fwd.c). */
void rt_gwr_fwd_tick(int sample_queues);

/* Counters for core.gwr_stats (rt_gwr_queue.c, rt_gwr_fwd.c). */
void rt_gwr_queue_stats(lua_State *L);
void rt_gwr_queue_close(void);
void rt_gwr_fwd_stats(lua_State *L);
void rt_gwr_answer_stats(lua_State *L);
void rt_gwr_answer_close(void);
void rt_gwr_move_stats(lua_State *L);
void rt_gwr_move_close(void);

/* Serving ends: timers closed, entries and waits let go. */
void rt_gwr_close(void);
void rt_gwr_fwd_close(void);
void rt_gwr_rx_close(void);
void rt_gwr_rx_stats(lua_State *L);
void rt_gwr_rcpt_stats(lua_State *L);

extern const luaL_Reg rt_gwr_lib[];

#endif /* SMPPGW_RT_GWR_H */
