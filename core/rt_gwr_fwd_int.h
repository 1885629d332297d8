/* rt_gwr_fwd_int.h -- what the forwarder of the Redis store shares between
 * its files: the entries it holds and their links (rt_gwr_fwd.c), the
 * gateway handler's decisions on them (rt_gwr_decide.c), and moving them
 * to another upstream's queue (rt_gwr_move.c).
 *
 * Who owns what: rt_gwr_fwd.c owns every entry and link record; the
 * decisions only find one (by link and message id) and hand it back.
 */
#ifndef SMPPGW_RT_GWR_FWD_INT_H
#define SMPPGW_RT_GWR_FWD_INT_H

#include <stdint.h>

#include "msgid.h"
#include "redis.h"
#include "rt_gw.h"
#include "tb.h"

struct answer_s;               /* rt_gwr_fwd.c: an answer's call, kept until Redis records it */

typedef struct ent_s {
    rt_link_t *l;
    char       eid[48], id[MSGID_KEYED_MAX + 8], acct[24], route[72];
    char       rup[64];         /* the upstream whose hash tag its record is under: the link's */
    long long  rd, attempts;
    double     expires, due, submitted;
    double     sent;            /* rt_gw_stamp() of its last sending (rt_gw_link_answer) */
    uint8_t   *pdu;
    size_t     pdu_n;
    int        inflight, acking, deciding;   /* deciding: the gateway's handler has it */
    struct answer_s *answer;    /* its answer's call (acking), kept until Redis has recorded it */
    int        calling, waiting; /* that call is under way; it failed and is tried again at retry_at */
    int        tries;
    double     retry_at;
    struct ent_s *prev, *next;
} ent_t;

typedef struct glink_s {
    rt_link_t *l;
    ent_t     *head, *tail;     /* entries held here */
    size_t     held;
    int        reading, claiming, group_ok;
    char       cursor[48];      /* XAUTOCLAIM's */
    tb_t      *ctb;             /* the upstream's throughput across the cluster (rt_cluster.c), or NULL */
    int        sampling;        /* an XLEN of the queue is under way */
    int        stalling;        /* a look at a stalled queue is under way (rt_gwr_move.c) */
    int        stall_again;     /* its last look moved all it offered: the next one once they are moved */
    int        sweeping;        /* a sweep of its early receipts is under way (rt_gwr_rcpt_sweep.c) */
    size_t     waiting;         /* entries whose answer Redis has not recorded yet: nothing more is read or sent */
    int        told;            /* the log says Redis refuses them */
    double     claim_at, sweep_at;
    struct glink_s *next;
} glink_t;

/* The link record of l (made the first time), or NULL without memory. */
glink_t *rt_gwr_fwd__glink(rt_link_t *l);

/* Write e's final state, status and trace line, then acknowledge it (the
 * entry goes when Redis answers). */
void rt_gwr_fwd__finish(ent_t *e, int state, uint32_t status, double now, const char *line);

/* The upstream's answer to e (rt_gwr_answer.c): the record gets the
 * fields (pairs), the trace line and its TTL again, the mapping upstream
 * key -> id when key is given, then the entry is acknowledged and deleted,
 * in one call kept with e until Redis has taken it; e is released then. */
void rt_gwr_fwd__outcome(ent_t *e, int npairs, const char **pairs, const char *key, size_t kn, const char *line);

/* The answers of g's link that wait for Redis and are due: sent again. */
void rt_gwr_fwd__record_again(glink_t *g, double now);

/* Entries sent again (the retried counter of core.gwr_stats). */
extern uint64_t rt_gwr_fwd__retried;

/* Hand e to the gateway's handler (rt_gwr_decide.c): it waits, skipped by
 * the sending, until the decision. */
void rt_gwr_fwd__to_handler(ent_t *e, const char *kind, uint32_t status, const char *detail);

/* Let go of e (its Redis entry is left as it is). */
void rt_gwr_fwd__drop(ent_t *e);

/* Hold the entries of a stream reply (XREADGROUP's list); returns how many
 * were taken. */
uint64_t rt_gwr_fwd__take(glink_t *g, const redisReply *list);

/* Move e to link to's queue (rt_gwr_move.c): its record copied under to's
 * tag and a new entry added there (due at due, attempts carried), then
 * e's entry and old record taken out of its queue. line: the trace line
 * of the decision. The entry is let go when Redis has answered. */
void rt_gwr_fwd__move(ent_t *e, rt_link_t *to, double due, long long attempts, long long err, const char *line);

/* e was taken over from a node that stopped answering for it: held until
 * its record says whether a move was under way, which is then finished
 * (the copy is not written twice) instead of sending e here. */
void rt_gwr_fwd__claimed(ent_t *e);

/* Link g cannot send (no bind, paused, or unanswered: rt_gw_link_answer):
 * once neither this node nor any
 * other has sent to it for its `wait`, its entries are offered to the
 * handler (event "stalled"), in batches (rt_gwr_move.c). */
void rt_gwr_fwd__stall(glink_t *g, double now);

/* This node can send on g's link: the cluster is told (once a second). */
void rt_gwr_fwd__live(glink_t *g);

#endif /* SMPPGW_RT_GWR_FWD_INT_H */
