/* redis.h -- one link to a Redis server on a libuv loop (redis.c):
 * hiredis' asynchronous context with its libuv adapter, commands pipelined
 * (every command given in one loop turn leaves in one write), the
 * handshake (AUTH, SELECT), reconnection with backoff, and a watchdog that
 * drops a link whose server stopped answering.
 *
 * Knows nothing of Lua. Who owns what: the caller owns the redis_t (from
 * redis_new to redis_free); the link owns the hiredis context and its
 * timers. Every command accepted (redis_cmd returned 0) gets its callback
 * exactly once: with the reply, or with reply NULL and an error text
 * ("closed" when the link went down or was freed before the answer). The
 * reply is hiredis' and valid during the callback only.
 */
#ifndef SMPPGW_REDIS_H
#define SMPPGW_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <uv.h>

typedef struct redis_s redis_t;

enum { REDIS_DOWN = 0, REDIS_CONNECTING = 1, REDIS_UP = 2 };

/* Errors of redis_cmd (a command not accepted gets no callback). */
#define REDIS_E_DOWN  (-1)      /* the link is not up: "unavailable" */
#define REDIS_E_BUSY  (-2)      /* max_pending commands wait for answers already */
#define REDIS_E_NOMEM (-3)

typedef struct redis_opts_s {
    const char *host;           /* copied */
    int         port;
    const char *password;       /* NULL: no AUTH; copied */
    int         db;             /* SELECT when not 0 */
    double      timeout;        /* seconds: connect, and longest wait for an answer */
    double      backoff_min, backoff_max;  /* seconds between reconnection attempts */
    size_t      max_pending;    /* commands waiting for their answers, at most */
} redis_opts_t;

/* The link's state changed (up, or down with a reason): for the log and
 * for waking whoever waits for the link. */
typedef void (*redis_state_fn)(redis_t *r, int state, const char *why, void *ud);

/* Called once per accepted command. */
typedef void (*redis_reply_fn)(redis_t *r, redisReply *reply, const char *err, void *ud);

typedef struct redis_stats_s {
    int      state;
    uint64_t commands, replies, errors, refused;   /* errors: error replies and failed commands */
    uint64_t flushes;           /* pipelined writes: the round trips the commands took */
    uint64_t connects, disconnects;
    size_t   pending;
    double   down_since;        /* loop seconds; 0 while up */
    char     last_error[128];
} redis_stats_t;

/* A link that starts connecting now. NULL without memory. */
redis_t *redis_new(uv_loop_t *loop, const redis_opts_t *o, redis_state_fn on_state, void *ud);

/* Send a command (argv[i] of lens[i] octets). Returns 0 (fn will be
 * called) or REDIS_E_*. */
int redis_cmd(redis_t *r, redis_reply_fn fn, void *ud, int argc, const char **argv, const size_t *lens);

int redis_state(const redis_t *r);
void redis_stats(const redis_t *r, redis_stats_t *out);

/* Close the link: pending commands get "closed", the timers and the
 * context go (their handles close on the loop's next turn). */
void redis_free(redis_t *r);

#endif /* SMPPGW_REDIS_H */
