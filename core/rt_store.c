/* rt_store.c -- the store in the serve loop: group commit once per loop
 * turn with the answers of that turn held until it is done, the commit's
 * count and latency, expiry from a timer in bounded batches, checkpoints
 * on the thread pool, the clock stored rows are stamped with, and
 * core.store_stats (see rt_store.h).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "lstore.h"
#include "loop_turn.h"
#include "rt.h"
#include "rt_store.h"

#define EXPIRE_EVERY_MS 1000    /* how often expiry looks for rows whose time has come */
#define EXPIRE_BATCH    500     /* rows per table and batch: a batch costs about 2 ms */
#define EXPIRY_LOG_S    10      /* at most one line about lost rows this often */
#define CHECKPOINT_AT   1000    /* pages in the write-ahead log that start a checkpoint ... */
#define CHECKPOINT_MORE 250     /* ... when that many are new since the last one started */
#define CHECKPOINT_HERE 8000    /* pages past which the loop checkpoints itself (see ckpt_maybe) */

/* Upper bounds (ms) of the commit-time buckets; the last bucket has none. */
#define COMMIT_BUCKETS 12
#define FAILED_TURNS 64          /* failed commits remembered for runs that wait (rt_store_run_lost) */
#define WAIT_MIN_S   0.1         /* after a failed commit: retakes wait this long, doubling ... */
#define WAIT_MAX_S   5.0         /* ... up to this (rt_store_wait_until) */
static const double commit_bounds_ms[COMMIT_BUCKETS - 1] = {
    0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250,
};

typedef struct held_s {
    rt_task_t           *t;
    rt_store_release_fn  release;
    long long            commits;   /* store_commits_ok when held: a commit after it stored its writes */
} held_t;

/* What expiry removed before it was finished, since the last log line:
 * the first of each kind is named in the line. */
typedef struct lost_s {
    uint64_t messages, outbox, early;
    char     first_message[160], first_outbox[160], first_early[160];
} lost_t;

static struct {
    int        ref;             /* registry ref of the store userdata, or LUA_NOREF */
    store_t *const *handle;     /* its store pointer (the ref keeps it; NULL once closed) */
    double     epoch;           /* rt_time() - uv_now() / 1000 */
    uv_loop_t *epoch_loop;      /* the loop epoch was read for */
    held_t    *held;            /* answers waiting for the commit, in order */
    size_t     nheld, capheld;
    uv_timer_t expiry;
    int        expiry_on;
    /* counters since start */
    uint64_t   commits, failures, lost_writes, held_total, held_failed;
    uint64_t   commit_buckets[COMMIT_BUCKETS];
    double     commit_ms_sum, commit_ms_max;
    uint64_t   expired_messages, expired_unfinished, expired_outbox, expired_early, expiry_runs;
    uint64_t   expired_sticky;
    lost_t     lost;            /* since the last log line */
    double     lost_logged;     /* rt_time() of that line */
    char       last_error[256];
    int        last_failed;     /* the last turn's commit failed ... */
    uint32_t   last_fail_status;/* ... and what a held ESME_ROK became */
    uint64_t   turn;            /* loop turns so far (rt_store_turn) */
    struct { uint64_t turn; uint32_t status; } failed[FAILED_TURNS];  /* the last commits that failed */
    uint64_t   nfailed;         /* all commits that failed (failed[] keeps the last FAILED_TURNS) */
    double     wait_s, wait_until; /* after failed commits: retakes wait (rt_store_wait_until) */
    long long  losses_at_turn;  /* store_commit_failures() when this turn began */
    /* the checkpoint running on libuv's thread pool */
    uv_work_t  ckpt;
    int        ckpt_busy;
    char      *ckpt_path;
    long long  ckpt_pages;      /* its result: pages copied, or -1 */
    char       ckpt_err[256];
    double     ckpt_retry_at;   /* after a failure, rt_time() of the next try */
    double     ckpt_logged;     /* rt_time() of the last failure's log line */
    uint64_t   ckpt_started, checkpoints, checkpoint_failures, checkpoints_in_loop;
    long long  ckpt_seen;       /* the log's pages when the last one started */
    long long  ckpt_here;       /* CHECKPOINT_HERE, or less under limits.size_mb (rt_store_start) */
    double     ckpt_ms_max;
} st = {.ref = LUA_NOREF};

/* -- The clock ------------------------------------------------------------------------ */

static void clock_start(void);

double rt_time(void)
{
    struct timespec ts;
    if (rt.loop) {
        if (st.epoch_loop != rt.loop) clock_start();
        return (double)uv_now(rt.loop) / 1000.0 + st.epoch;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The offset of the loop's clock from the epoch, read once: the loop clock
 * is monotonic, so stored times never go backwards when the wall clock is
 * set back. */
static void clock_start(void)
{
    struct timespec ts;
    const char *offset = getenv("SMPPGW_TIME_OFFSET");
    clock_gettime(CLOCK_REALTIME, &ts);
    st.epoch_loop = rt.loop;
    st.epoch = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - (double)uv_now(rt.loop) / 1000.0;
    if (offset && *offset) {
        st.epoch += strtod(offset, NULL);
        log_msg(LOG_WARN, 0, "SMPPGW_TIME_OFFSET=%s: stored times are shifted (a test setting)", offset);
    }
}

/* -- The store in use ------------------------------------------------------------------ */

store_t *rt_store(void)
{
    return st.ref == LUA_NOREF || !rt.L || !st.handle ? NULL : *st.handle;
}

/* -- Expiry --------------------------------------------------------------------------- */

static int on_lost_message(const store_msg_t *m, void *ud)
{
    (void)ud;
    st.lost.messages++;
    st.expired_unfinished++;
    if (st.lost.messages == 1 && m->id.p)
        snprintf(st.lost.first_message, sizeof st.lost.first_message, "%.*s of %.*s", (int)m->id.n,
                 m->id.p, (int)m->account.n, m->account.p ? m->account.p : "?");
    else if (st.lost.messages == 1)       /* a message known by its key alone */
        snprintf(st.lost.first_message, sizeof st.lost.first_message, "key %lld of %.*s", m->key,
                 (int)m->account.n, m->account.p ? m->account.p : "?");
    return 0;
}

static int on_lost_outbox(const store_item_t *it, void *ud)
{
    (void)ud;
    st.lost.outbox++;
    if (st.lost.outbox == 1)
        snprintf(st.lost.first_outbox, sizeof st.lost.first_outbox, "for %.*s%s%.*s", (int)it->owner.n,
                 it->owner.p ? it->owner.p : "?", it->ref.p ? ", message " : "", (int)it->ref.n,
                 it->ref.p ? it->ref.p : "");
    return 0;
}

static int on_lost_early(const store_item_t *it, void *ud)
{
    (void)ud;
    st.lost.early++;
    if (st.lost.early == 1)
        snprintf(st.lost.first_early, sizeof st.lost.first_early, "from %.*s for id %.*s", (int)it->owner.n,
                 it->owner.p ? it->owner.p : "?", (int)it->ref.n, it->ref.p ? it->ref.p : "");
    return 0;
}

/* One line for what expiry lost since the last one, at most every
 * EXPIRY_LOG_S seconds however much it was. */
static void log_lost(double now)
{
    lost_t *l = &st.lost;
    if (!l->messages && !l->outbox && !l->early) return;
    if (now - st.lost_logged < EXPIRY_LOG_S) return;
    st.lost_logged = now;
    log_msg(LOG_WARN, 0, "store expiry: %llu messages never reached a final state%s%s%s, "
            "%llu receipts/MO were never delivered%s%s%s, %llu early receipts never matched%s%s%s",
            (unsigned long long)l->messages, l->messages ? " (first: " : "", l->first_message,
            l->messages ? ")" : "", (unsigned long long)l->outbox, l->outbox ? " (first: " : "",
            l->first_outbox, l->outbox ? ")" : "", (unsigned long long)l->early, l->early ? " (first: " : "",
            l->first_early, l->early ? ")" : "");
    memset(l, 0, sizeof *l);
}

/* One batch; when a table had a full batch, the next one follows on the
 * next loop turn (loop_turn.h), so other work runs between. */
static void on_expiry(uv_timer_t *t)
{
    store_t *s = rt_store();
    store_expiry_t x;
    double now = rt_time();
    int rc;
    (void)t;
    if (!s) return;
    memset(&x, 0, sizeof x);
    x.on_message = on_lost_message;
    x.on_outbox = on_lost_outbox;
    x.on_early = on_lost_early;
    st.expiry_runs++;
    if ((rc = store_expire(s, now, EXPIRE_BATCH, &x)) < 0) {
        log_msg(LOG_ERROR, 0, "store expiry: %s", store_errmsg(s));
        return;
    }
    st.expired_messages += (uint64_t)x.messages;
    st.expired_outbox += (uint64_t)x.outbox;
    st.expired_early += (uint64_t)x.early;
    st.expired_sticky += (uint64_t)x.sticky;
    log_lost(now);
    if (x.more) loop_turn_timer(&st.expiry, on_expiry, EXPIRE_EVERY_MS);   /* the next batch: next turn */
}

/* -- Checkpoints ------------------------------------------------------------------------
 * Left to SQLite, a commit that finds the log past 1,000 pages copies it
 * into the file and fsyncs it: milliseconds with the loop stopped. The
 * runtime takes checkpoints over (store_wal_manual) and runs them on the
 * thread pool with a connection of their own, while the loop goes on. */

static void ckpt_work(uv_work_t *w)
{
    (void)w;
    st.ckpt_pages = store_checkpoint(st.ckpt_path, st.ckpt_err, sizeof st.ckpt_err);
}

static void ckpt_done(uv_work_t *w, int status)
{
    double ms = (double)(uv_hrtime() - st.ckpt_started) / 1e6;
    (void)w;
    st.ckpt_busy = 0;
    if (status < 0 || st.ckpt_pages < 0) {
        double now = rt_time();
        st.checkpoint_failures++;
        st.ckpt_retry_at = now + 1;
        if (now - st.ckpt_logged >= EXPIRY_LOG_S) {
            st.ckpt_logged = now;
            log_msg(LOG_ERROR, 0, "store: %s (%llu failed checkpoints so far; the log grows meanwhile)",
                    status < 0 ? uv_strerror(status) : st.ckpt_err, (unsigned long long)st.checkpoint_failures);
        }
        return;
    }
    st.checkpoints++;
    if (ms > st.ckpt_ms_max) st.ckpt_ms_max = ms;
}

/* After a commit: a long log starts a checkpoint unless one runs. The
 * log starts over only when a writer finds it wholly copied, which under
 * steady load a checkpoint beside the writer seldom leaves it; so once it
 * passes CHECKPOINT_HERE pages the loop checkpoints in place, as SQLite
 * would have done at 1,000, to keep it bounded. */
static void ckpt_maybe(store_t *s)
{
    long long frames = store_wal_frames(s);
    if (!st.ckpt_path || frames < (CHECKPOINT_AT < st.ckpt_here ? CHECKPOINT_AT : st.ckpt_here) || !rt.loop) return;
    if (st.ckpt_retry_at > 0 && rt_time() < st.ckpt_retry_at) return;
    if (frames >= st.ckpt_here && !st.ckpt_busy) {
        st.ckpt_started = uv_hrtime();
        ckpt_work(&st.ckpt);
        ckpt_done(&st.ckpt, 0);
        st.checkpoints_in_loop++;
        st.ckpt_seen = 0;
        return;
    }
    if (st.ckpt_busy || (frames >= st.ckpt_seen && frames - st.ckpt_seen < CHECKPOINT_MORE)) return;
    st.ckpt_seen = frames;
    st.ckpt_started = uv_hrtime();
    if (uv_queue_work(rt.loop, &st.ckpt, ckpt_work, ckpt_done) == 0) st.ckpt_busy = 1;
}

/* -- Serving ------------------------------------------------------------------------ */

/* t's run wrote in this loop turn (rt_task.c, seeing store_writes_total
 * move around a resume: rt_task_set_write_hook). */
static void run_wrote(rt_task_t *t)
{
    if (!t->wrote) t->first_write = st.turn;
    t->wrote = 1;
    t->last_write = st.turn;
}

int rt_store_start(lua_State *L, int idx)
{
    if (st.epoch_loop != rt.loop) clock_start();
    st.ref = LUA_NOREF;
    st.handle = NULL;
    if (!idx || lua_isnoneornil(L, idx)) return 0;
    if (!lstore_get(L, idx)) return luaL_error(L, "smpp: serve{store =} must be an open store (smpp.store.open)");
    rt_registry_set(L, &st.ref, idx);
    st.handle = lstore_handle(L, idx);
    if (strcmp(store_path(lstore_get(L, idx)), ":memory:") != 0
        && (st.ckpt_path = strdup(store_path(lstore_get(L, idx)))) != NULL)
        store_wal_manual(lstore_get(L, idx));
    {
        /* limits.size_mb: the log beside the file gets a quarter of it
         * (the store truncates the log file back to that at each reset),
         * so the loop checkpoints itself once the log passes that */
        store_levels_t lv;
        store_levels(lstore_get(L, idx), &lv);
        st.ckpt_here = CHECKPOINT_HERE;
        if (lv.max_bytes > 0 && lv.max_bytes / 4 / (4096 + 24) < st.ckpt_here)
            st.ckpt_here = lv.max_bytes / 4 / (4096 + 24) > 16 ? lv.max_bytes / 4 / (4096 + 24) : 16;
    }
    rt_task_set_write_hook(&store_writes_total, run_wrote);
    st.losses_at_turn = store_commit_failures(lstore_get(L, idx));
    if (uv_timer_init(rt.loop, &st.expiry) == 0) {
        st.expiry_on = 1;
        uv_unref((uv_handle_t *)&st.expiry);
        uv_timer_start(&st.expiry, on_expiry, EXPIRE_EVERY_MS, EXPIRE_EVERY_MS);
    }
    return 0;
}

static rt_store_undo_fn undo_fn;

void rt_store_set_undo(rt_store_undo_fn fn) { undo_fn = fn; }

void rt_store_undo(lua_State *co)
{
    if (undo_fn) undo_fn(co);
}

static rt_store_lost_fn lost_fn;
static rt_store_undo_fn refused_fn;

void rt_store_set_runs(rt_store_lost_fn lost, rt_store_undo_fn refused)
{
    lost_fn = lost;
    refused_fn = refused;
}

int rt_store_lost(lua_State *co, uint32_t *status)
{
    return lost_fn ? lost_fn(co, status) : 0;
}

void rt_store_refused(lua_State *co)
{
    if (refused_fn) refused_fn(co);
}

int rt_store_run_lost(const rt_task_t *t, uint32_t *status)
{
    store_t *s = rt_store();
    uint64_t i, n = st.nfailed < FAILED_TURNS ? st.nfailed : FAILED_TURNS;
    int lost;
    if (!t || !t->wrote) return 0;
    if (s && t->last_write == st.turn) {      /* lost this turn: by a write, or a script's commit */
        if ((lost = store_txn_lost(s)) == 0 && store_commit_failures(s) != st.losses_at_turn)
            lost = store_commit_full(s) ? STORE_EFULL : STORE_EIO;
        if (lost) {
            *status = lost == STORE_EFULL ? SMPP_ESME_RMSGQFUL : SMPP_ESME_RSYSERR;
            return 1;
        }
    }
    for (i = 1; i <= n; i++) {                /* newest first */
        const uint64_t f = st.failed[(st.nfailed - i) % FAILED_TURNS].turn;
        if (f < t->first_write) return 0;
        if (f <= t->last_write) {
            *status = st.failed[(st.nfailed - i) % FAILED_TURNS].status;
            return 1;
        }
    }
    if (st.nfailed > FAILED_TURNS) {          /* older failures forgotten: one may be the run's */
        *status = SMPP_ESME_RSYSERR;
        return 1;
    }
    return 0;
}

int rt_store_hold(rt_task_t *t, rt_store_release_fn release)
{
    store_t *s = rt_store();
    if (!s || !store_in_txn(s)) return 0;
    if (st.nheld == st.capheld) {
        size_t cap = st.capheld ? st.capheld * 2 : 256;
        held_t *h = realloc(st.held, cap * sizeof *h);
        if (!h) {
            /* no room to hold it: commit now, so the answer is still true */
            rt_store_turn();
            return 0;
        }
        st.held = h;
        st.capheld = cap;
    }
    st.held[st.nheld].t = t;
    st.held[st.nheld].release = release;
    st.held[st.nheld].commits = store_commits_ok(s);
    st.nheld++;
    st.held_total++;
    return 1;
}

static void count_commit(double ms)
{
    size_t i;
    for (i = 0; i + 1 < COMMIT_BUCKETS && ms > commit_bounds_ms[i]; i++) {}
    st.commit_buckets[i]++;
    st.commit_ms_sum += ms;
    if (ms > st.commit_ms_max) st.commit_ms_max = ms;
    st.commits++;
}

void rt_store_turn(void)
{
    store_t *s = rt_store();
    long long lost = 0, commits;
    uint32_t fail_status = SMPP_ESME_RSYSERR;
    size_t i, n;
    int ok = 1, had_writes = 0;
    st.last_failed = 0;
    if (s) {
        /* called every turn even without a transaction: a commit that had
         * to happen early (a block of ids) may have failed, and writes are
         * refused until store_commit() has reported that */
        int had = store_in_txn(s);
        had_writes = had;
        uint64_t t0 = had ? uv_hrtime() : 0;
        int rc = store_commit(s, &lost);
        if (had) {
            count_commit((double)(uv_hrtime() - t0) / 1e6);
            ckpt_maybe(s);
        }
        /* a script's own st:commit() that failed this turn was told so
         * and cleared the failure: what the turn wrote before it is lost
         * all the same, so the turn counts as failed */
        if (rc >= 0 && store_commit_failures(s) != st.losses_at_turn) rc = STORE_EIO;
        st.losses_at_turn = store_commit_failures(s);
        if (rc < 0) {
            ok = 0;
            if (store_commit_full(s)) fail_status = SMPP_ESME_RMSGQFUL;
            st.failed[st.nfailed % FAILED_TURNS].turn = st.turn;
            st.failed[st.nfailed % FAILED_TURNS].status = fail_status;
            st.nfailed++;
            st.last_failed = 1;
            st.last_fail_status = fail_status;
            st.failures++;
            st.lost_writes += (uint64_t)lost;
            for (i = 0, n = 0; i < st.nheld; i++) n += store_commits_ok(s) <= st.held[i].commits;
            st.held_failed += n;
            snprintf(st.last_error, sizeof st.last_error, "%s", store_errmsg(s));
            log_msg(LOG_ERROR, 0, "store commit failed: %s; %lld writes lost, %zu answers given as %s",
                    store_errmsg(s), lost, n, fail_status == SMPP_ESME_RMSGQFUL
                    ? "ESME_RMSGQFUL (if ESME_ROK)" : "ESME_RSYSERR (if ESME_ROK)");
        }
    }
    /* work a failed commit lost (an outbox's take, the scheduler's due
     * rows) is due again at once: those who would take it again wait,
     * 0.1 s doubling to 5 s while commits fail; a commit that stores
     * writes ends the wait */
    if (!ok) {
        st.wait_s = st.wait_s > 0 ? (st.wait_s * 2 < WAIT_MAX_S ? st.wait_s * 2 : WAIT_MAX_S) : WAIT_MIN_S;
        st.wait_until = rt_time() + st.wait_s;
    } else if (had_writes) {
        st.wait_s = 0;
        st.wait_until = 0;
    }
    st.turn++;                 /* writes from here on are the next commit's */
    /* a release may run Lua that writes and holds again: those wait for
     * the next turn's commit. An answer held before a commit earlier in
     * this turn (a script's own store.commit()) that succeeded is stored,
     * all its run's writes being before it, even when the turn's own commit
     * then fails: it goes out as it is (never an error for a stored
     * message, whose receipt would then come under an id never given) */
    n = st.nheld;
    commits = s ? store_commits_ok(s) : 0;
    for (i = 0; i < n; i++) st.held[i].release(st.held[i].t, ok || commits > st.held[i].commits, fail_status);
    if (st.nheld > n) memmove(st.held, st.held + n, (st.nheld - n) * sizeof *st.held);
    st.nheld -= n;
}

double rt_store_wait_until(void)
{
    return st.wait_until;
}

/* core.store_wait() -> seconds to wait before taking again what failed
 * commits lost (0: none) */
static int l_store_wait(lua_State *L)
{
    double left = st.wait_until - rt_time();
    lua_pushnumber(L, left > 0 ? left : 0);
    return 1;
}

int rt_store_holding(void) { return st.nheld > 0; }

int rt_store_committed(uint32_t *fail_status)
{
    if (st.last_failed && fail_status) *fail_status = st.last_fail_status;
    return !st.last_failed;
}

void rt_store_close(void)
{
    if (st.expiry_on) {
        st.expiry_on = 0;
        uv_close((uv_handle_t *)&st.expiry, NULL);
    }
}

void rt_store_stop(void)
{
    rt_store_turn();
    rt_store_turn();           /* what the releases wrote */
    rt_store_close();
    if (st.ref != LUA_NOREF) luaL_unref(rt.L, LUA_REGISTRYINDEX, st.ref);
    st.ref = LUA_NOREF;
    st.handle = NULL;
    free(st.ckpt_path);            /* the loop has ended: no checkpoint runs */
    st.ckpt_path = NULL;
    free(st.held);
    st.held = NULL;
    st.nheld = st.capheld = 0;
}

/* -- Lua functions ----------------------------------------------------------------------- */

#define SET_NUM(k, v) (lua_pushnumber(L, (double)(v)), lua_setfield(L, -2, k))

static void level(lua_State *L, const char *name, long long value, long long limit)
{
    lua_createtable(L, 0, 2);
    SET_NUM("value", value);
    SET_NUM("limit", limit);
    lua_setfield(L, -2, name);
}

/* core.store_stats() -> nil when serving without a store, else { path?,
 * messages|outbox|early|sticky|bytes = { value =, limit = }, sticky_evicted =, commits =,
 * commit_failures =, lost_writes =, held_answers =, held_failed =,
 * commit_ms = { avg =, max =, buckets = {...}, bounds = {...} },
 * expired = { messages =, unfinished =, outbox =, early =, sticky = }, evicted =,
 * txn_writes =, last_error = } */
static int l_store_stats(lua_State *L)
{
    store_t *s = rt_store();
    store_levels_t v;
    size_t i;
    if (!s) return 0;
    store_levels(s, &v);
    lua_createtable(L, 0, 16);
    level(L, "messages", v.messages, v.max_messages);
    level(L, "outbox", v.outbox, v.max_outbox);
    level(L, "early", v.early, v.max_early);
    level(L, "sticky", v.sticky, v.max_sticky);
    level(L, "bytes", v.bytes, v.max_bytes);
    SET_NUM("sticky_evicted", v.sticky_evicted);
    SET_NUM("txn_writes", v.txn_writes);
    SET_NUM("commits", st.commits);
    SET_NUM("commit_failures", st.failures);
    SET_NUM("lost_writes", st.lost_writes);
    SET_NUM("held_answers", st.held_total);
    SET_NUM("held_failed", st.held_failed);
    SET_NUM("evicted", v.evicted);
    SET_NUM("checkpoints", st.checkpoints);
    SET_NUM("checkpoint_failures", st.checkpoint_failures);
    SET_NUM("checkpoints_in_loop", st.checkpoints_in_loop);
    SET_NUM("checkpoint_ms_max", st.ckpt_ms_max);
    SET_NUM("wal_pages", store_wal_frames(s));
    if (st.last_error[0]) rt_set_str(L, "last_error", st.last_error);
    lua_createtable(L, 0, 4);
    SET_NUM("avg", st.commits ? st.commit_ms_sum / (double)st.commits : 0);
    SET_NUM("max", st.commit_ms_max);
    SET_NUM("sum", st.commit_ms_sum);
    lua_createtable(L, COMMIT_BUCKETS, 0);
    for (i = 0; i < COMMIT_BUCKETS; i++) {
        lua_pushnumber(L, (double)st.commit_buckets[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "buckets");
    lua_createtable(L, COMMIT_BUCKETS - 1, 0);
    for (i = 0; i + 1 < COMMIT_BUCKETS; i++) {
        lua_pushnumber(L, commit_bounds_ms[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "bounds");
    lua_setfield(L, -2, "commit_ms");
    lua_createtable(L, 0, 5);
    SET_NUM("messages", st.expired_messages);
    SET_NUM("unfinished", st.expired_unfinished);
    SET_NUM("outbox", st.expired_outbox);
    SET_NUM("early", st.expired_early);
    SET_NUM("sticky", st.expired_sticky);
    SET_NUM("runs", st.expiry_runs);
    lua_setfield(L, -2, "expired");
    return 1;
}

/* core.time() -> seconds since the epoch (rt_time). */
static int l_time(lua_State *L)
{
    lua_pushnumber(L, rt_time());
    return 1;
}

const luaL_Reg rt_store_lib[] = {
    {"store_stats", l_store_stats},
    {"store_wait", l_store_wait},
    {"time", l_time},
    {NULL, NULL}
};
