/* redis.c -- one link to a Redis server on a libuv loop: hiredis'
 * asynchronous context and libuv adapter, handshake, reconnection with
 * backoff, and the watchdog of unanswered commands (see redis.h).
 *
 * The adapter's poll callback is replaced by this file's: hiredis 0.14's
 * returns without a word when libuv reports a poll error, which is how a
 * connection reset shows (a Redis that died with commands of ours unread
 * in its socket: under load, nearly always). The handle was stopped by
 * libuv then, so nothing else would ever read the socket and only the
 * watchdog noticed, after `timeout` seconds. Here an error drops the link
 * at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <hiredis/async.h>
#include <hiredis/adapters/libuv.h>

#include "log.h"
#include "redis.h"

#define WATCH_MS 100            /* how often the watchdog looks */

struct redis_s {
    uv_loop_t         *loop;
    redisAsyncContext *ac;      /* while live */
    int                live;    /* a context exists (connecting or connected) */
    int                state;
    int                freeing;
    int                dropping, state_before;   /* drop() under way, and the state it found */
    int                refused;  /* a handshake step (AUTH, SELECT) failed: this context never comes up */
    char              *host, *password;
    int                port, db;
    double             timeout, backoff_min, backoff_max, delay;
    size_t             max_pending;
    uv_timer_t         retry, watch;
    int                timers_open;
    uint64_t           started_ms, progress_ms;
    uint64_t           watched_ms;   /* the watchdog's last look: a late one means the loop was held */
    redis_state_fn     on_state;
    void              *ud;
    redis_stats_t      st;
    void             (*add_write)(void *);   /* the adapter's, wrapped to count flushes */
    void             (*del_write)(void *);
    void             (*add_read)(void *);    /* ... and to poll with on_poll */
    void             (*del_read)(void *);
    int                writing;  /* a write is armed: commands given now leave with it */
};

typedef struct cmd_s {
    redis_t       *r;
    redis_reply_fn fn;
    void          *ud;
} cmd_t;

static void connect_now(redis_t *r);

static double loop_s(redis_t *r) { return (double)uv_now(r->loop) / 1000.0; }

/* -- Up and down ------------------------------------------------------------------- */

static void on_retry(uv_timer_t *t)
{
    redis_t *r = t->data;
    if (!r->freeing && !r->live) connect_now(r);
}

/* The context is gone (or about to be): the link is down; try again after
 * the backoff. Idempotent. */
static void went_down(redis_t *r, const char *why)
{
    int was = r->dropping ? r->state_before : r->state;
    if (!r->live) return;
    r->live = 0;
    r->ac = NULL;
    r->state = REDIS_DOWN;
    if (why) snprintf(r->st.last_error, sizeof r->st.last_error, "%s", why);
    if (was == REDIS_UP) {
        r->st.disconnects++;
        r->st.down_since = loop_s(r);
    }
    if (r->freeing) return;
    if (was == REDIS_UP || r->st.connects == 0)
        log_msg(was == REDIS_UP ? LOG_ERROR : LOG_WARN, 0, "redis %s:%d: %s (%s); reconnecting, at most every %g s",
                r->host, r->port, was == REDIS_UP ? "link lost" : "cannot connect", r->st.last_error, r->backoff_max);
    if (r->on_state) r->on_state(r, REDIS_DOWN, r->st.last_error, r->ud);
    uv_timer_start(&r->retry, on_retry, (uint64_t)(r->delay * 1000), 0);
    r->delay = r->delay * 2 > r->backoff_max ? r->backoff_max : r->delay * 2;
}

/* Drop the context now (from outside hiredis' callbacks): its pending
 * commands are answered "closed" first. */
static void drop(redis_t *r, const char *why)
{
    redisAsyncContext *ac = r->ac;
    if (!r->live) return;
    r->state_before = r->state;          /* went_down tells a lost link from a failed connection */
    r->dropping = 1;
    r->state = REDIS_DOWN;               /* commands given from the callbacks below are refused */
    snprintf(r->st.last_error, sizeof r->st.last_error, "%s", why);
    r->ac = NULL;
    redisAsyncFree(ac);                  /* may call on_disconnect -> went_down */
    went_down(r, why);
    r->dropping = 0;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    redis_t *r = ac->data;
    char why[sizeof r->st.last_error];
    if (r->refused || r->dropping)       /* keep the step's answer (AUTH: WRONGPASS ...) or drop()'s reason, not "closed" */
        snprintf(why, sizeof why, "%s", r->st.last_error);
    else
        snprintf(why, sizeof why, "%s", status == REDIS_OK ? "closed" : (ac->errstr[0] ? ac->errstr : "connection lost"));
    went_down(r, why);
}

/* -- Commands ------------------------------------------------------------------------ */

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    cmd_t *c = priv;
    redis_t *r = c->r;
    redisReply *rep = reply;
    const char *err = NULL;
    (void)ac;
    r->st.pending--;
    r->progress_ms = uv_now(r->loop);
    if (!rep) {
        err = "closed";
        r->st.errors++;
    } else {
        r->st.replies++;
        if (rep->type == REDIS_REPLY_ERROR) {
            r->st.errors++;
            err = rep->str;
        }
    }
    c->fn(r, rep, err, c->ud);
    free(c);
}

static int send_cmd(redis_t *r, redis_reply_fn fn, void *ud, int argc, const char **argv, const size_t *lens)
{
    cmd_t *c;
    if (!r->live || !r->ac) return REDIS_E_DOWN;
    if (!(c = malloc(sizeof *c))) return REDIS_E_NOMEM;
    c->r = r;
    c->fn = fn;
    c->ud = ud;
    if (redisAsyncCommandArgv(r->ac, on_reply, c, argc, argv, lens) != REDIS_OK) {
        free(c);
        return REDIS_E_DOWN;
    }
    if (r->st.pending++ == 0) r->progress_ms = uv_now(r->loop);
    r->st.commands++;
    return 0;
}

/* -- Round trips: hiredis arms a write for every command and disarms it
 * when its buffer is empty; the commands given in between leave together.
 * Each arming is one pipelined write (a flush), so flushes count round
 * trips. ------------------------------------------------------------------------ */

static redis_t *of_events(void *priv)
{
    const redisLibuvEvents *p = priv;
    return p->context ? p->context->data : NULL;
}

/* The socket is readable, writable, or in error (status < 0: libuv has
 * stopped the handle): the adapter's work, and an error drops the link
 * (from outside hiredis' callbacks, as drop() needs). */
static void on_poll(uv_poll_t *h, int status, int events)
{
    redisLibuvEvents *p = h->data;
    redis_t *r = of_events(p);
    if (status < 0) {
        char why[96];
        int e = 0;
        socklen_t len = sizeof e;
        if (!r || !r->live || r->ac != p->context) return;
        if (getsockopt(r->ac->c.fd, SOL_SOCKET, SO_ERROR, &e, &len) == 0 && e)
            snprintf(why, sizeof why, "%s", strerror(e));
        else
            snprintf(why, sizeof why, "%s", uv_strerror(status));
        drop(r, why);
        return;
    }
    if (p->context && (events & UV_READABLE)) redisAsyncHandleRead(p->context);
    if (p->context && (events & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
}

/* After each of the adapter's changes of events: the same events, polled
 * by on_poll. */
static void repoll(void *priv)
{
    redisLibuvEvents *p = priv;
    if (p->events) uv_poll_start(&p->handle, p->events, on_poll);
}

static void on_add_read(void *priv)
{
    redis_t *r = of_events(priv);
    if (r) {
        r->add_read(priv);
        repoll(priv);
    }
}

static void on_del_read(void *priv)
{
    redis_t *r = of_events(priv);
    if (r) {
        r->del_read(priv);
        repoll(priv);
    }
}

static void on_add_write(void *priv)
{
    redis_t *r = of_events(priv);
    if (r && !r->writing) {
        r->writing = 1;
        r->st.flushes++;
    }
    if (r) {
        r->add_write(priv);
        repoll(priv);
    }
}

static void on_del_write(void *priv)
{
    redis_t *r = of_events(priv);
    if (r) {
        r->writing = 0;
        r->del_write(priv);
        repoll(priv);
    }
}

int redis_cmd(redis_t *r, redis_reply_fn fn, void *ud, int argc, const char **argv, const size_t *lens)
{
    int rc;
    if (r->state != REDIS_UP) rc = REDIS_E_DOWN;
    else if (r->st.pending >= r->max_pending) rc = REDIS_E_BUSY;
    else rc = send_cmd(r, fn, ud, argc, argv, lens);
    if (rc < 0) r->st.refused++;
    return rc;
}

/* -- Connecting: connect, AUTH, SELECT, PING -> up --------------------------------------- */

static void on_handshake(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    const char *step = ud;
    /* The link went down meanwhile (drop() frees the context and hiredis
     * answers its pending commands "closed" with r->ac already NULL), or
     * an earlier step failed: a PONG behind a failed AUTH or SELECT must
     * not mark the link up (it flapped up and down ten times a second). */
    if (!r->live || r->dropping || !r->ac || r->refused) return;
    if (err) {
        snprintf(r->st.last_error, sizeof r->st.last_error, "%s: %.100s", step, err);
        log_msg(LOG_ERROR, 0, "redis %s:%d: %s", r->host, r->port, r->st.last_error);
        r->refused = 1;
        redisAsyncDisconnect(r->ac);     /* -> on_disconnect after this callback */
        return;
    }
    if (strcmp(step, "PING") != 0 || !reply) return;
    r->state = REDIS_UP;
    r->delay = r->backoff_min;
    r->st.connects++;
    r->st.down_since = 0;
    r->st.last_error[0] = '\0';
    log_msg(LOG_INFO, 0, "redis %s:%d: up%s", r->host, r->port, r->st.connects > 1 ? " again" : "");
    if (r->on_state) r->on_state(r, REDIS_UP, NULL, r->ud);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    redis_t *r = ac->data;
    char db[16];
    const char *argv[2];
    size_t lens[2];
    if (status != REDIS_OK) {            /* hiredis frees the context after this */
        went_down(r, ac->errstr[0] ? ac->errstr : "cannot connect");
        return;
    }
    if (r->password) {
        argv[0] = "AUTH";
        argv[1] = r->password;
        lens[0] = 4;
        lens[1] = strlen(r->password);
        send_cmd(r, on_handshake, (void *)"AUTH", 2, argv, lens);
    }
    if (r->db) {
        snprintf(db, sizeof db, "%d", r->db);
        argv[0] = "SELECT";
        argv[1] = db;
        lens[0] = 6;
        lens[1] = strlen(db);
        send_cmd(r, on_handshake, (void *)"SELECT", 2, argv, lens);
    }
    argv[0] = "PING";
    lens[0] = 4;
    send_cmd(r, on_handshake, (void *)"PING", 1, argv, lens);
}

static void connect_now(redis_t *r)
{
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
    r->started_ms = uv_now(r->loop);
    r->refused = 0;
    if (!ac) {
        r->live = 1;
        went_down(r, "out of memory");
        return;
    }
    if (ac->err) {
        char why[128];
        snprintf(why, sizeof why, "%s", ac->errstr);
        redisAsyncFree(ac);
        r->live = 1;
        went_down(r, why);
        return;
    }
    ac->data = r;
    r->ac = ac;
    r->live = 1;
    r->state = REDIS_CONNECTING;
    if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
        drop(r, "cannot attach to the loop");
        return;
    }
    r->add_write = ac->ev.addWrite;
    r->del_write = ac->ev.delWrite;
    r->add_read = ac->ev.addRead;
    r->del_read = ac->ev.delRead;
    r->writing = 0;
    ac->ev.addWrite = on_add_write;
    ac->ev.delWrite = on_del_write;
    ac->ev.addRead = on_add_read;
    ac->ev.delRead = on_del_read;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

/* The watchdog: a connection that does not complete, or commands that get
 * no answer, within the timeout drop the link (their callers get "closed"
 * and new commands are refused until it is up again). */
static void on_watch(uv_timer_t *t)
{
    redis_t *r = t->data;
    uint64_t now = uv_now(r->loop), limit = (uint64_t)(r->timeout * 1000);
    char why[96];
    /* A look that comes late means the loop itself was held (a script ran
     * its whole budget, a long C call): Redis' answers may be sitting
     * unread in the socket, and timers run before the loop reads it. The
     * time the loop was away is not Redis' to answer for: the clocks start
     * again. (Dropping a healthy link here turned one slow handler into
     * ESME_RMSGQFUL for everyone and re-sent messages.) */
    if (now - r->watched_ms > 4 * WATCH_MS) {
        r->progress_ms = now;
        r->started_ms = now;
    }
    r->watched_ms = now;
    if (!r->live) return;
    /* a refused connect: libuv may report it as a poll error (on_poll
     * drops the link then) or not at all; the socket's pending error says
     * it at once */
    if (r->state == REDIS_CONNECTING && r->ac && r->ac->c.fd >= 0) {
        int e = 0;
        socklen_t len = sizeof e;
        if (getsockopt(r->ac->c.fd, SOL_SOCKET, SO_ERROR, &e, &len) == 0 && e) {
            snprintf(why, sizeof why, "%s", strerror(e));
            drop(r, why);
            return;
        }
    }
    if (r->state == REDIS_CONNECTING && now - r->started_ms > limit) {
        snprintf(why, sizeof why, "no connection within %g s", r->timeout);
        drop(r, why);
    } else if (r->st.pending > 0 && now - r->progress_ms > limit) {
        snprintf(why, sizeof why, "no answer for %g s", r->timeout);
        log_msg(LOG_ERROR, 0, "redis %s:%d: %s to %zu commands; dropping the link", r->host, r->port, why,
                r->st.pending);
        drop(r, why);
    }
}

/* -- The link ------------------------------------------------------------------------- */

redis_t *redis_new(uv_loop_t *loop, const redis_opts_t *o, redis_state_fn on_state, void *ud)
{
    redis_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->loop = loop;
    r->host = strdup(o->host);
    r->password = o->password ? strdup(o->password) : NULL;
    if (!r->host || (o->password && !r->password)) {
        free(r->host);
        free(r->password);
        free(r);
        return NULL;
    }
    r->port = o->port;
    r->db = o->db;
    r->timeout = o->timeout > 0 ? o->timeout : 2;
    r->backoff_min = o->backoff_min > 0 ? o->backoff_min : 0.1;
    r->backoff_max = o->backoff_max >= r->backoff_min ? o->backoff_max : r->backoff_min;
    r->delay = r->backoff_min;
    r->max_pending = o->max_pending ? o->max_pending : 100000;
    r->on_state = on_state;
    r->ud = ud;
    r->st.down_since = loop_s(r);
    uv_timer_init(loop, &r->retry);
    uv_timer_init(loop, &r->watch);
    r->retry.data = r->watch.data = r;
    r->timers_open = 2;
    r->watched_ms = uv_now(loop);
    uv_timer_start(&r->watch, on_watch, WATCH_MS, WATCH_MS);
    uv_unref((uv_handle_t *)&r->watch);   /* the link alone keeps no loop running */
    uv_unref((uv_handle_t *)&r->retry);
    connect_now(r);
    return r;
}

int redis_state(const redis_t *r) { return r->state; }

void redis_stats(const redis_t *r, redis_stats_t *out)
{
    *out = r->st;
    out->state = r->state;
}

static void on_timer_closed(uv_handle_t *h)
{
    redis_t *r = h->data;
    if (--r->timers_open > 0) return;
    free(r->host);
    free(r->password);
    free(r);
}

void redis_free(redis_t *r)
{
    if (!r) return;
    r->freeing = 1;
    r->on_state = NULL;
    drop(r, "closed");
    uv_close((uv_handle_t *)&r->retry, on_timer_closed);
    uv_close((uv_handle_t *)&r->watch, on_timer_closed);
}
