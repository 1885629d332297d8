/* store.c -- the store at work: the group-commit transaction and what a
 * failure in it loses, statement helpers, levels, checks, id counters,
 * expiry. Opening is in store_open.c, messages in store_msg.c, the outbox
 * and early receipts in store_queue.c.
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_int.h"

#define STORE_CTR_MAX     64          /* counter names per store */
#define STORE_BLOCK_MIN   1000        /* ids reserved at once, at first */
#define STORE_BLOCK_MAX   (1 << 20)
#define STORE_ID_MAX      9007199254740992LL   /* 2^53: exact in a Lua number */

/* -- Errors ------------------------------------------------------------------- */

const char *store_strerror(int code)
{
    switch (code) {
#define X(name, c, token) case c: return token;
    STORE_ERRNO_MAP(X)
#undef X
    }
    return code >= 0 ? "ok" : "unknown error";
}

int store__err(store_t *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
    va_end(ap);
    return code;
}

const char *store_errmsg(const store_t *s)
{
    return s->errmsg;
}

/* -- The transaction ------------------------------------------------------------ */

/* Counters' reservations written in the transaction become their limit
 * when it commits, and are forgotten when it does not. */
static void ctrs_settle(store_t *s, int committed)
{
    int i;
    for (i = 0; i < s->nctrs; i++) {
        store_ctr_t *c = &s->ctrs[i];
        if (committed && c->pending > c->lim) c->lim = c->pending;
        c->pending = 0;
    }
}

void store__lost(store_t *s, const char *why, int full)
{
    if (!s->failed) {
        snprintf(s->failmsg, sizeof s->failmsg, "%s", why);
        s->failed_full = full;
    }
    s->failed = 1;
    s->last_lost = 1;
    s->lost += s->txn_writes;
    s->lost_total += s->txn_writes;
    s->commit_failures++;
    s->in_txn = 0;
    s->txn_writes = 0;
    store__unput(s);
    ctrs_settle(s, 0);
    store__recount(s);
}

int store__fail(store_t *s, int rc, const char *what)
{
    store__err(s, STORE_EIO, "%s: %s", what, sqlite3_errmsg(s->db));
    if (s->in_txn && sqlite3_get_autocommit(s->db)) {
        char why[sizeof s->errmsg];
        snprintf(why, sizeof why, "%s", s->errmsg);
        store__lost(s, why, store__temporary(rc));
        snprintf(s->errmsg, sizeof s->errmsg, "%s", why);
    }
    if (store__temporary(rc)) return STORE_EFULL;  /* the disk or limits.size_mb, a lock held: "full", not "io" */
    return (rc & 0xff) == SQLITE_CONSTRAINT ? STORE_EEXISTS : STORE_EIO;
}

sqlite3_stmt *store__stmt(store_t *s, int which)
{
    sqlite3_reset(s->st[which]);
    return s->st[which];
}

int store__begin(store_t *s)
{
    int rc;
    if (s->failed)
        return store__err(s, s->failed_full ? STORE_EFULL : STORE_EIO, "%s (a write of this transaction failed; "
                          "nothing is written until the failure is reported by a commit)", s->failmsg);
    if (s->in_txn) {
        if (!sqlite3_get_autocommit(s->db)) return 0;
        store__lost(s, "the transaction ended unexpectedly", 0);
        return store__err(s, STORE_EIO, "%s", s->failmsg);
    }
    rc = sqlite3_step(store__stmt(s, STORE_ST_BEGIN));
    if (rc != SQLITE_DONE) {
        rc = store__fail(s, rc, "begin");
        sqlite3_reset(s->st[STORE_ST_BEGIN]);
        return rc;
    }
    sqlite3_reset(s->st[STORE_ST_BEGIN]);
    s->in_txn = 1;
    return 0;
}

int store__commit_now(store_t *s)
{
    sqlite3_stmt *st;
    int rc, full;
    if (!s->in_txn) return 0;
    if (store__flush(s) < 0) return s->failed_full ? STORE_EFULL : STORE_EIO;   /* the turn is lost, and reported */
    st = store__stmt(s, STORE_ST_COMMIT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        s->in_txn = 0;
        s->last_lost = 0;
        s->commits++;
        s->committed += s->txn_writes;
        s->committed_total += s->txn_writes;
        s->txn_writes = 0;
        ctrs_settle(s, 1);
        return 0;
    }
    /* a full disk (or limits.size_mb), or a lock another process holds,
     * is "full", as for a write: it passes, and the caller of an early
     * commit (core.gw_queue) answers ESME_RMSGQFUL */
    full = store__temporary(rc);
    store__err(s, full ? STORE_EFULL : STORE_EIO, "commit: %s", sqlite3_errmsg(s->db));
    sqlite3_reset(st);
    if (!sqlite3_get_autocommit(s->db)) {
        sqlite3_step(store__stmt(s, STORE_ST_ROLLBACK));
        sqlite3_reset(s->st[STORE_ST_ROLLBACK]);
    }
    {
        char why[sizeof s->errmsg];
        snprintf(why, sizeof why, "%s", s->errmsg);
        store__lost(s, why, full);
    }
    return full ? STORE_EFULL : STORE_EIO;
}

int store_commit_full(const store_t *s)
{
    return s->last_full;
}

uint64_t store_writes_total;

long long store_commit_failures(const store_t *s)
{
    return s->commit_failures;
}

long long store_writes_committed(const store_t *s)
{
    return s->committed_total;
}

long long store_commits_ok(const store_t *s)
{
    return s->commits;
}

int store_txn_lost(const store_t *s)
{
    return !s->failed ? 0 : s->failed_full ? STORE_EFULL : STORE_EIO;
}

int store_in_txn(const store_t *s)
{
    return s->in_txn;
}

int store_commit(store_t *s, long long *lost)
{
    long long n;
    store__commit_now(s);
    if (s->failed) {
        if (lost) *lost = s->lost;
        store__err(s, STORE_EIO, "%s", s->failmsg);
        s->last_full = s->failed_full;
        s->failed = s->failed_full = 0;
        s->lost = 0;
        s->committed = 0;
        return STORE_EIO;
    }
    if (lost) *lost = 0;
    n = s->committed;
    s->committed = 0;
    return n > INT_MAX ? INT_MAX : (int)n;
}

/* -- Statement helpers -------------------------------------------------------------- */

int store__bind_text(sqlite3_stmt *st, int i, store_str_t v)
{
    if (!v.p) return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, v.p, (int)v.n, SQLITE_STATIC);
}

int store__bind_blob(sqlite3_stmt *st, int i, store_str_t v)
{
    if (!v.p) return sqlite3_bind_null(st, i);
    return sqlite3_bind_blob(st, i, v.n ? v.p : "", (int)v.n, SQLITE_STATIC);
}

int store__bind_real(sqlite3_stmt *st, int i, double v)
{
    if (isnan(v)) return sqlite3_bind_null(st, i);
    return sqlite3_bind_double(st, i, v);
}

store_str_t store__col_text(sqlite3_stmt *st, int i)
{
    store_str_t v;
    v.p = (const char *)sqlite3_column_text(st, i);
    v.n = v.p ? (size_t)sqlite3_column_bytes(st, i) : 0;
    return v;
}

store_str_t store__col_blob(sqlite3_stmt *st, int i)
{
    store_str_t v;
    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        v.p = NULL;
        v.n = 0;
        return v;
    }
    v.p = (const char *)sqlite3_column_blob(st, i);
    v.n = (size_t)sqlite3_column_bytes(st, i);
    if (!v.p) v.p = "";          /* an empty blob is not NULL */
    return v;
}

double store__col_real(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* -- Receipt keys ------------------------------------------------------------------ */

long long store__key_num(const store_t *s, store_str_t key)
{
    unsigned long long h = 0;
    size_t i;
    for (i = 0; i < key.n && i < 16; i++) {       /* up to 16 hex digits: their value */
        unsigned char c = (unsigned char)key.p[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a') + 10u
                   : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A') + 10u : 16u;
        if (d > 15) break;
        h = h << 4 | d;
    }
    if (i < key.n) {                               /* else FNV-1a, its top bit set */
        h = 14695981039346656037ULL;
        for (i = 0; i < key.n; i++) h = (h ^ (unsigned char)key.p[i]) * 1099511628211ULL;
        h |= 1ULL << 63;
    }
    return (long long)(h & s->key_mask);
}

static void key_num_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    store_str_t key;
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;          /* no key: NULL */
    key.p = (const char *)sqlite3_value_text(argv[0]);
    key.n = (size_t)sqlite3_value_bytes(argv[0]);
    sqlite3_result_int64(cx, store__key_num(sqlite3_user_data(cx), key));
}

int store__key_num_sql(store_t *s)
{
    return sqlite3_create_function(s->db, "smppgw_key_num", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, s,
                                   key_num_fn, NULL, NULL);
}

int store__rowids(store_t *s, size_t n)
{
    long long *p;
    if (n <= s->rowids_cap) return 0;
    p = realloc(s->rowids, n * sizeof *p);
    if (!p) return store__err(s, STORE_ENOMEM, "no memory for %zu rows", n);
    s->rowids = p;
    s->rowids_cap = n;
    return 0;
}

/* -- Checkpoints ------------------------------------------------------------------------ */

static int wal_hook(void *ud, sqlite3 *db, const char *name, int frames)
{
    (void)db;
    (void)name;
    ((store_t *)ud)->wal_frames = frames;
    return SQLITE_OK;
}

int store_wal_manual(store_t *s)
{
    sqlite3_wal_hook(s->db, wal_hook, s);   /* replaces SQLite's automatic checkpoint */
    return 0;
}

long long store_wal_frames(const store_t *s)
{
    return s->wal_frames;
}

const char *store_path(const store_t *s)
{
    return s->path;
}

long long store_checkpoint(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int rc, log = 0, done = 0;
    if (strcmp(path, ":memory:") == 0) return 0;
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 1000);
        /* a new connection learns the file is in WAL mode when it first reads it */
        rc = sqlite3_exec(db, "PRAGMA schema_version", NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (rc != SQLITE_OK || done < 0) {
        snprintf(err, errlen, "checkpoint of %s: %s", path,
                 rc != SQLITE_OK ? (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)) : "the file is not in WAL mode");
        sqlite3_close_v2(db);
        return -1;
    }
    /* the store's own connection stays open: this close neither checkpoints
     * again nor removes the log */
    sqlite3_close_v2(db);
    return done;
}

/* -- Levels ---------------------------------------------------------------------------- */

static int count_rows(store_t *s, int which, long long *out)
{
    sqlite3_stmt *st = store__stmt(s, which);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = store__fail(s, rc, "count");
        sqlite3_reset(st);
        return rc;
    }
    *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

int store__recount(store_t *s)
{
    int rc;
    if ((rc = count_rows(s, STORE_ST_COUNT_MSG, &s->n_messages)) < 0) return rc;
    if ((rc = count_rows(s, STORE_ST_COUNT_OUTBOX, &s->n_outbox)) < 0) return rc;
    if ((rc = count_rows(s, STORE_ST_COUNT_EARLY, &s->n_early)) < 0) return rc;
    if ((rc = store__sticky_recount(s)) < 0) return rc;
    return store__acct_recount(s);
}

void store_levels(store_t *s, store_levels_t *out)
{
    sqlite3_stmt *st = store__stmt(s, STORE_ST_PAGES);
    memset(out, 0, sizeof *out);
    if (sqlite3_step(st) == SQLITE_ROW)
        out->bytes = sqlite3_column_int64(st, 0) * s->page_size;
    sqlite3_reset(st);
    out->messages = s->n_messages;
    out->max_messages = s->o.max_messages;
    out->outbox = s->n_outbox;
    out->max_outbox = s->o.max_outbox;
    out->early = s->n_early;
    out->max_early = s->o.max_early;
    out->sticky = s->n_sticky;
    out->max_sticky = s->o.max_sticky;
    out->sticky_evicted = s->sticky_evicted;
    out->max_bytes = s->o.max_bytes;
    out->txn_writes = s->txn_writes;
    out->commits = s->commits;
    out->commit_failures = s->commit_failures;
    out->lost = s->lost_total;
    out->evicted = s->evicted;
    out->expired = s->expired;
}

int store_check(store_t *s, char *out, size_t outlen)
{
    sqlite3_stmt *st;
    int rc, bad = 0;
    size_t used = 0;
    if (outlen) out[0] = '\0';
    rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check(10)", -1, &st, NULL);
    if (rc != SQLITE_OK) return store__fail(s, rc, "quick_check");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 0);
        if (line && strcmp(line, "ok") == 0) continue;
        bad = 1;
        if (line && used + 2 < outlen) {
            size_t i, start = used;
            int n = snprintf(out + used, outlen - used, "%s%s", used ? "; " : "", line);
            if (n > 0) used += (size_t)n < outlen - used ? (size_t)n : outlen - used - 1;
            for (i = start; i < used; i++) if (out[i] == '\n') out[i] = ' ';   /* one line */
        }
    }
    if (rc != SQLITE_DONE) {
        /* quick_check itself stopped: the file is damaged beyond it */
        if (used == 0 && outlen) snprintf(out, outlen, "%s", sqlite3_errmsg(s->db));
        bad = 1;
    }
    sqlite3_finalize(st);
    return bad;
}

long long store_node_id(const store_t *s)
{
    return s->node_id;
}

/* -- Ids ----------------------------------------------------------------------------------- */

/* The counter `name`, loaded from the file on first use. */
static int ctr_find(store_t *s, const char *name, store_ctr_t **out)
{
    sqlite3_stmt *st;
    store_ctr_t *c;
    long long hw = 1;
    int i, rc;
    for (i = 0; i < s->nctrs; i++) {
        if (strcmp(s->ctrs[i].name, name) == 0) {
            *out = &s->ctrs[i];
            return 0;
        }
    }
    if (s->nctrs == STORE_CTR_MAX)
        return store__err(s, STORE_EARG, "next_id: more than %d counter names", STORE_CTR_MAX);
    if (!s->ctrs && !(s->ctrs = calloc(STORE_CTR_MAX, sizeof *s->ctrs)))
        return store__err(s, STORE_ENOMEM, "next_id: no memory");
    st = store__stmt(s, STORE_ST_CTR_GET);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) hw = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE) {
        rc = store__fail(s, rc, "next_id");
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    if (store__lock_floor(s, name) > hw) hw = store__lock_floor(s, name);   /* the WAL lost its end */
    c = &s->ctrs[s->nctrs];
    if (!(c->name = strdup(name))) return store__err(s, STORE_ENOMEM, "next_id: no memory");
    s->nctrs++;
    /* nothing is covered until a reservation commits: values below hw may
     * have been handed out before a crash */
    c->cur = c->lim = hw < 1 ? 1 : hw;
    c->pending = 0;
    c->block = STORE_BLOCK_MIN;
    *out = c;
    return 0;
}

/* Double c's block, up to STORE_BLOCK_MAX. */
static void ctr_grow(store_ctr_t *c)
{
    c->block = c->block * 2 < STORE_BLOCK_MAX ? c->block * 2 : STORE_BLOCK_MAX;
}

/* Write "values below from + block may be used" into the open
 * transaction. A counter that needs a block again within a second doubles
 * its block: each reservation also syncs the lock file (store__lock_save),
 * about 0.1-0.2 ms, so a busy counter syncs about once a second rather
 * than every thousand values (a crash then skips up to a block). */
static int ctr_reserve(store_t *s, store_ctr_t *c, long long from)
{
    struct timespec ts;
    sqlite3_stmt *st;
    long long upto;
    double now;
    int rc;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    if (c->reserved_at > 0 && now - c->reserved_at < 1.0) ctr_grow(c);
    c->reserved_at = now;
    upto = from + c->block;
    if (upto > STORE_ID_MAX) return store__err(s, STORE_EARG, "next_id: counter %s exhausted", c->name);
    if ((rc = store__begin(s)) < 0) return rc;
    st = store__stmt(s, STORE_ST_CTR_SET);
    sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, upto);
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        rc = store__fail(s, rc, "next_id");
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    c->pending = upto;
    return store__lock_save(s);
}

/* The next value of counter c. A message's key (store_put) is handed out
 * only with its row: the block's reservation rides in the row's own
 * transaction, stored or lost with it. A value of st:next_id (`out_now`)
 * may go out before the open transaction commits: its block must be
 * durable first. With the lock file (a serving process) it is: the
 * reservation is synced there before the value goes out
 * (store__lock_save) and the counter starts above it at the next open.
 * Without it (a store a script or a tool opened itself; ":memory:" has
 * nothing to lose) a block that runs out commits at once. So a serving
 * process never commits a turn in the middle of a run of rows. */
static int ctr_next(store_t *s, store_ctr_t *c, int out_now, long long *out)
{
    long long have = c->pending > c->lim ? c->pending : c->lim;
    int rc, crowded = s->in_txn && s->txn_writes > 0;
    if (c->cur >= have) {
        /* nothing covers the value (a lost transaction may have taken the
         * counter past its limit: the block starts at the value). A turn
         * that used up a block and its half-way successor asks for more. */
        if (crowded && c->pending) ctr_grow(c);
        if ((rc = ctr_reserve(s, c, c->cur)) < 0) return rc;
    } else if (!c->pending && c->lim - c->cur <= c->block / 2) {
        /* half used: the next block rides along with this turn's commit */
        if ((rc = ctr_reserve(s, c, c->lim)) < 0) return rc;
    }
    if (out_now && c->cur >= c->lim && s->lock_fd < 0 && strcmp(s->path, ":memory:") != 0) {
        /* no lock file: the block's end must be committed before the
         * value goes out, so commit now, with what the turn holds. After
         * a lost transaction (a full disk) a turn that has written does
         * not: the turn may be a script's run of rows (with st:next_id
         * between them) that its own commit could then lose in part. The
         * value is refused; the block rides along with the turn's commit. */
        if (crowded && s->last_lost)
            return store__err(s, STORE_EFULL, "next_id: counter %s: its next block is not stored yet "
                              "(the last commit failed; it goes with this turn's)", c->name);
        if ((rc = store__commit_now(s)) < 0) return rc;
        if (crowded) ctr_grow(c);   /* so that it stays rare */
    }
    *out = c->cur++;
    return 0;
}

int store_next_id(store_t *s, const char *name, long long *out)
{
    store_ctr_t *c = NULL;
    int rc;
    if (!name || !*name) return store__err(s, STORE_EARG, "next_id: a counter name is required");
    if ((rc = ctr_find(s, name, &c)) < 0) return rc;
    return ctr_next(s, c, 1, out);
}

/* Messages are keyed by a counter of their own, named like any other (a
 * caller asking next_id for the same name shares it, harmlessly: values
 * stay unique). It starts above every key in the file (a file of an older
 * schema had none of its own); its first block rides in the first put's
 * transaction, so opening writes nothing to the database (a store whose
 * writes fail opens, to refuse messages until there is room). */
#define KEY_COUNTER "messages.key"

int store__key_init(store_t *s)
{
    sqlite3_stmt *st = store__stmt(s, STORE_ST_MSG_MAX_KEY);
    store_ctr_t *c = NULL;
    long long max = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) max = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) return store__fail(s, rc, "open");
    if ((rc = ctr_find(s, KEY_COUNTER, &c)) < 0) return rc;
    s->key_ctr = (int)(c - s->ctrs);
    if (c->cur <= max) c->cur = c->lim = max + 1;
    return 0;
}

int store__next_key(store_t *s, long long *out)
{
    return ctr_next(s, &s->ctrs[s->key_ctr], 0, out);
}

/* -- Expiry ------------------------------------------------------------------------------- */

int store_expire(store_t *s, double now, int batch, store_expiry_t *x)
{
    long long total;
    int rc;
    x->messages = x->unfinished = x->outbox = x->early = x->sticky = 0;
    x->more = 0;
    if (batch < 1 || batch > STORE_BATCH_MAX)
        return store__err(s, STORE_EARG, "expire: batch must be 1..%d", STORE_BATCH_MAX);
    if ((rc = store__begin(s)) < 0) return rc;
    if ((rc = store__expire_messages(s, now, batch, x)) < 0) return rc;
    if ((rc = store__expire_queues(s, now, batch, x)) < 0) return rc;
    if ((rc = store__expire_sticky(s, now, batch, x)) < 0) return rc;
    total = x->messages + x->outbox + x->early + x->sticky;
    s->expired += total;
    if (total) store__wrote(s);
    return 0;
}
