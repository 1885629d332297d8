/* store.c -- the store's life: opening (directory, WAL, pragmas, schema,
 * statements), the group-commit transaction, levels, checks, id counters.
 * Messages are in store_msg.c, the outbox and early receipts in store_queue.c.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store_int.h"

#define STORE_SCHEMA      1           /* meta 'schema': the layout below */
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

static int recount(store_t *s);

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

/* The open transaction is gone (rolled back): remember what was lost for
 * store_commit() and bring the in-memory levels back to the file's. */
static void txn_lost(store_t *s, const char *why)
{
    if (!s->failed) snprintf(s->failmsg, sizeof s->failmsg, "%s", why);
    s->failed = 1;
    s->lost += s->txn_writes;
    s->lost_total += s->txn_writes;
    s->commit_failures++;
    s->in_txn = 0;
    s->txn_writes = 0;
    ctrs_settle(s, 0);
    recount(s);
}

int store__fail(store_t *s, int rc, const char *what)
{
    store__err(s, STORE_EIO, "%s: %s", what, sqlite3_errmsg(s->db));
    if (s->in_txn && sqlite3_get_autocommit(s->db)) {
        char why[sizeof s->errmsg];
        snprintf(why, sizeof why, "%s", s->errmsg);
        txn_lost(s, why);
        snprintf(s->errmsg, sizeof s->errmsg, "%s", why);
    }
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
        return store__err(s, STORE_EIO, "%s (a write of this transaction failed; "
                          "nothing is written until the failure is reported by a commit)", s->failmsg);
    if (s->in_txn) {
        if (!sqlite3_get_autocommit(s->db)) return 0;
        txn_lost(s, "the transaction ended unexpectedly");
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
    int rc;
    if (!s->in_txn) return 0;
    st = store__stmt(s, STORE_ST_COMMIT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        s->in_txn = 0;
        s->commits++;
        s->committed += s->txn_writes;
        s->txn_writes = 0;
        ctrs_settle(s, 1);
        return 0;
    }
    store__err(s, STORE_EIO, "commit: %s", sqlite3_errmsg(s->db));
    sqlite3_reset(st);
    if (!sqlite3_get_autocommit(s->db)) {
        sqlite3_step(store__stmt(s, STORE_ST_ROLLBACK));
        sqlite3_reset(s->st[STORE_ST_ROLLBACK]);
    }
    {
        char why[sizeof s->errmsg];
        snprintf(why, sizeof why, "%s", s->errmsg);
        txn_lost(s, why);
    }
    return STORE_EIO;
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
        s->failed = 0;
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

/* Counts from the file: at open, and after a transaction was lost. */
static int recount(store_t *s)
{
    int rc;
    if ((rc = count_rows(s, STORE_ST_COUNT_MSG, &s->n_messages)) < 0) return rc;
    if ((rc = count_rows(s, STORE_ST_COUNT_OUTBOX, &s->n_outbox)) < 0) return rc;
    if ((rc = count_rows(s, STORE_ST_COUNT_EARLY, &s->n_early)) < 0) return rc;
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

/* Write "values below upto may be used" into the open transaction. */
static int ctr_reserve(store_t *s, store_ctr_t *c, long long upto)
{
    sqlite3_stmt *st;
    int rc;
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
    return 0;
}

int store_next_id(store_t *s, const char *name, long long *out)
{
    store_ctr_t *c = NULL;
    int rc;
    if (!name || !*name) return store__err(s, STORE_EARG, "next_id: a counter name is required");
    if ((rc = ctr_find(s, name, &c)) < 0) return rc;
    if (c->cur >= c->lim) {
        /* the block is used up: its successor must be durable before any
         * value of it goes out, so commit now (with whatever else the
         * transaction holds, which is why blocks then grow) */
        int crowded = s->in_txn && s->txn_writes > 0;
        if (!c->pending && (rc = ctr_reserve(s, c, c->lim + c->block)) < 0) return rc;
        if ((rc = store__commit_now(s)) < 0) return rc;
        if (crowded && c->block < STORE_BLOCK_MAX) c->block *= 2;
    } else if (!c->pending && c->lim - c->cur <= c->block / 2) {
        /* half used: the next block rides along with this turn's commit */
        if ((rc = ctr_reserve(s, c, c->lim + c->block)) < 0) return rc;
    }
    *out = c->cur++;
    return 0;
}

/* -- Opening ------------------------------------------------------------------------------- */

/* What an SQLite result code means for someone starting the program. */
static const char *reason(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_NOTADB:   return "not an SQLite database";
    case SQLITE_CORRUPT:  return "corrupt";
    case SQLITE_READONLY: return "read-only";
    case SQLITE_CANTOPEN: return "cannot open";
    case SQLITE_PERM:     return "permission denied";
    case SQLITE_FULL:     return "disk full";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:   return "locked by another process";
    case SQLITE_IOERR:    return "I/O error";
    case SQLITE_NOMEM:    return "out of memory";
    }
    return "cannot use it";
}

/* "store PATH: REASON (sqlite's message[: the system's])" into err. */
static void open_error(const char *path, sqlite3 *db, int rc, const char *hint, char *err, size_t errlen)
{
    int sys = db ? sqlite3_system_errno(db) : 0;
    snprintf(err, errlen, "store %s: %s (%s%s%s)%s%s", path, reason(rc),
             db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), sys ? ": " : "", sys ? strerror(sys) : "",
             hint ? "; " : "", hint ? hint : "");
}

/* mkdir -p of the directory part of path. */
static int make_dirs(const char *path, char *err, size_t errlen)
{
    char dir[4096];
    char *p;
    size_t n = strlen(path);
    if (n >= sizeof dir) {
        snprintf(err, errlen, "store %s: path too long", path);
        return -1;
    }
    memcpy(dir, path, n + 1);
    if (!(p = strrchr(dir, '/')) || p == dir) return 0;
    *p = '\0';
    for (p = dir + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "store %s: cannot create directory %s: %s", path, dir, strerror(errno));
                return -1;
            }
            *p = c;
            if (c == '\0') break;
        }
    }
    return 0;
}

/* sql with "@C" / "@P" expanded (see STORE_STATEMENTS); malloc'd. */
static char *expand(const char *sql)
{
    char cols[1024], params[512];
    size_t n = 0, i, ncols = 0, nparams = 0;
    const char *q;
    char *out, *o;
#define COL(name, kind, flags, ddl) \
    ncols += (size_t)snprintf(cols + ncols, sizeof cols - ncols, "%s,", #name); \
    nparams += (size_t)snprintf(params + nparams, sizeof params - nparams, "?%d,", STORE_COL_##name + 1);
#include "store_msg.def"
#undef COL
    for (q = sql; *q; q++) n += (q[0] == '@' && (q[1] == 'C' || q[1] == 'P')) ? sizeof cols : 1;
    if (!(o = out = malloc(n + 1))) return NULL;
    for (q = sql; *q; q++) {
        if (q[0] == '@' && (q[1] == 'C' || q[1] == 'P')) {
            const char *src = q[1] == 'C' ? cols : params;
            for (i = 0; src[i]; i++) *o++ = src[i];
            q++;
        } else {
            *o++ = *q;
        }
    }
    *o = '\0';
    return out;
}

static const char *const statement_sql[STORE_NSTATEMENTS] = {
#define X(name, sql) sql,
    STORE_STATEMENTS(X)
#undef X
};

static const char schema_sql[] =
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    /* messages: see store_msg.def; one index per way of finding rows, partial
     * where only some rows need it, so each put touches few of them */
    "CREATE INDEX messages_due ON messages (due) WHERE due IS NOT NULL AND upstream IS NULL;"
    "CREATE INDEX messages_queue ON messages (upstream, due) "
    "  WHERE due IS NOT NULL AND upstream IS NOT NULL;"
    "CREATE INDEX messages_upstream_key ON messages (upstream, upstream_key) "
    "  WHERE upstream_key IS NOT NULL;"
    "CREATE INDEX messages_pending ON messages (account, dest, source) WHERE final = 0;"
    "CREATE INDEX messages_keep_done ON messages (keep_until) WHERE final = 1;"
    "CREATE INDEX messages_keep_pending ON messages (keep_until) WHERE final = 0;"
    "CREATE INDEX messages_account ON messages (account, submitted);"
    "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL,"
    "  due REAL NOT NULL, expires REAL, ref TEXT, attempts INTEGER NOT NULL DEFAULT 0,"
    "  pdu BLOB NOT NULL);"
    "CREATE INDEX outbox_due ON outbox (account, due);"
    "CREATE INDEX outbox_expires ON outbox (expires) WHERE expires IS NOT NULL;"
    "CREATE TABLE early (id INTEGER PRIMARY KEY, upstream TEXT NOT NULL, key TEXT NOT NULL,"
    "  at REAL, expires REAL NOT NULL, pdu BLOB NOT NULL);"
    "CREATE INDEX early_key ON early (upstream, key);"
    "CREATE INDEX early_expires ON early (expires);"
    "CREATE TABLE counters (name TEXT PRIMARY KEY, hw INTEGER NOT NULL) WITHOUT ROWID;";

/* Run sql (no rows expected); on failure describe it into err. */
static int exec(store_t *s, const char *sql, char *err, size_t errlen)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) open_error(s->o.path, s->db, rc, NULL, err, errlen);
    return rc;
}

/* The first column of the first row of sql as an integer (def if none). */
static int query_int(store_t *s, const char *sql, long long def, long long *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    *out = def;
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Create the tables in a new file, or check an existing file's version. */
static int schema(store_t *s, char *err, size_t errlen)
{
    long long objects, has_meta, version, node;
    char sql[2048];
    size_t n;
    int rc;
    if ((rc = query_int(s, "SELECT count(*) FROM sqlite_master", 0, &objects)) != SQLITE_OK ||
        (rc = query_int(s, "SELECT count(*) FROM sqlite_master WHERE name = 'meta'", 0, &has_meta)) != SQLITE_OK) {
        open_error(s->o.path, s->db, rc, NULL, err, errlen);
        return -1;
    }
    if (objects > 0) {
        if (has_meta && (rc = query_int(s, "SELECT value FROM meta WHERE key = 'schema'", 0, &version)) != SQLITE_OK) {
            open_error(s->o.path, s->db, rc, NULL, err, errlen);
            return -1;
        }
        if (!has_meta || version == 0) {
            snprintf(err, errlen, "store %s: an SQLite database but not a smppgw store (no schema version)",
                     s->o.path);
            return -1;
        }
        if (version > STORE_SCHEMA) {
            snprintf(err, errlen, "store %s: made by a newer smppgw (schema %lld; this one knows %d)",
                     s->o.path, version, STORE_SCHEMA);
            return -1;
        }
        if ((rc = query_int(s, "SELECT value FROM meta WHERE key = 'node_id'", 0, &s->node_id)) != SQLITE_OK) {
            open_error(s->o.path, s->db, rc, NULL, err, errlen);
            return -1;
        }
        return 0;
    }
    n = (size_t)snprintf(sql, sizeof sql, "CREATE TABLE messages (");
#define COL(name, kind, flags, ddl) \
    n += (size_t)snprintf(sql + n, sizeof sql - n, "%s %s %s, ", #name, \
                          STORE_##kind == STORE_INT ? "INTEGER" : #kind, ddl);
#include "store_msg.def"
#undef COL
    snprintf(sql + n, sizeof sql - n, "UNIQUE (id, part))");
    do {
        unsigned char r[4];
        sqlite3_randomness(sizeof r, r);
        node = (long long)((unsigned long)r[0] << 24 | (unsigned long)r[1] << 16 | r[2] << 8 | r[3]);
    } while (node == 0);
    s->node_id = node;
    if (exec(s, "BEGIN IMMEDIATE", err, errlen) != SQLITE_OK) return -1;
    if (exec(s, sql, err, errlen) != SQLITE_OK || exec(s, schema_sql, err, errlen) != SQLITE_OK) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    snprintf(sql, sizeof sql, "INSERT INTO meta VALUES ('schema', %d), ('node_id', %lld)", STORE_SCHEMA, node);
    if (exec(s, sql, err, errlen) != SQLITE_OK || exec(s, "COMMIT", err, errlen) != SQLITE_OK) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

static int check_opts(const store_opts_t *o, char *err, size_t errlen)
{
    const char *bad = NULL;
    if (!o->path || !*o->path) bad = "path is required";
    else if (o->sync < STORE_SYNC_OFF || o->sync > STORE_SYNC_FULL) bad = "sync must be off, normal or full";
    else if (!(o->busy_timeout >= 0)) bad = "busy_timeout must be >= 0";
    else if (!(o->trace_ttl >= 0)) bad = "trace_ttl must be >= 0";
    else if (!(o->lease > 0)) bad = "lease must be > 0";
    else if (o->max_messages < 1 || o->max_outbox < 1 || o->max_outbox_account < 1 || o->max_early < 1)
        bad = "limits.messages, limits.outbox, limits.outbox_per_account and limits.early must be >= 1";
    else if (o->max_bytes < 0) bad = "limits.size_mb must be >= 0";
    if (bad) snprintf(err, errlen, "store %s: %s", o->path ? o->path : "(no path)", bad);
    return bad ? -1 : 0;
}

/* Connection settings; journal_mode=WAL is checked (a file whose directory
 * is not writable cannot have its -wal beside it). */
static int configure(store_t *s, int memory, char *err, size_t errlen)
{
    static const char *const sync_names[] = { "OFF", "NORMAL", "FULL" };
    sqlite3_stmt *st;
    char sql[128];
    const char *mode;
    int rc;
    sqlite3_busy_timeout(s->db, (int)(s->o.busy_timeout * 1000));
    if ((rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL)) != SQLITE_OK) {
        open_error(s->o.path, s->db, rc, NULL, err, errlen);
        return -1;
    }
    rc = sqlite3_step(st);
    mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (rc != SQLITE_ROW) {
        open_error(s->o.path, s->db, rc, NULL, err, errlen);
        sqlite3_finalize(st);
        return -1;
    }
    if (!memory && (!mode || strcmp(mode, "wal") != 0)) {
        snprintf(err, errlen, "store %s: cannot use write-ahead logging (journal mode stays %s); "
                 "is the directory writable?", s->o.path, mode ? mode : "unknown");
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    snprintf(sql, sizeof sql, "PRAGMA synchronous = %s; PRAGMA temp_store = MEMORY; "
             "PRAGMA cache_size = -8192", sync_names[s->o.sync]);
    if (exec(s, sql, err, errlen) != SQLITE_OK) return -1;
    if (query_int(s, "PRAGMA page_size", 4096, &s->page_size) != SQLITE_OK || s->page_size <= 0)
        s->page_size = 4096;
    if (s->o.max_bytes > 0) {
        long long pages = s->o.max_bytes / s->page_size;
        snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", pages > 1 ? pages : 1);
        if (exec(s, sql, err, errlen) != SQLITE_OK) return -1;
    }
    return 0;
}

store_t *store_open(const store_opts_t *o, char *err, size_t errlen)
{
    store_t *s;
    int rc, i, memory;
    if (check_opts(o, err, errlen) < 0) return NULL;
    if (!(s = calloc(1, sizeof *s)) || !(s->path = strdup(o->path))) {
        free(s);
        snprintf(err, errlen, "store %s: out of memory", o->path);
        return NULL;
    }
    s->o = *o;
    s->o.path = s->path;
    memory = strcmp(o->path, ":memory:") == 0;
    if (!memory && make_dirs(o->path, err, errlen) < 0) goto fail;
    rc = sqlite3_open_v2(o->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        open_error(o->path, s->db, rc, NULL, err, errlen);
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    if (sqlite3_db_readonly(s->db, "main") == 1) {
        snprintf(err, errlen, "store %s: read-only (the file is not writable by this process)", o->path);
        goto fail;
    }
    if (configure(s, memory, err, errlen) < 0 || schema(s, err, errlen) < 0) goto fail;
    for (i = 0; i < STORE_NSTATEMENTS; i++) {
        char *sql = expand(statement_sql[i]);
        if (!sql) {
            snprintf(err, errlen, "store %s: out of memory", o->path);
            goto fail;
        }
        rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        free(sql);
        if (rc != SQLITE_OK) {
            open_error(o->path, s->db, rc, "its tables do not have the expected columns", err, errlen);
            goto fail;
        }
    }
    /* reading every table's pages also finds most damage early */
    if ((rc = recount(s)) < 0) {
        snprintf(err, errlen, "store %s: %s (%s)", o->path,
                 (sqlite3_errcode(s->db) & 0xff) == SQLITE_CORRUPT ? "corrupt" : "cannot read it", s->errmsg);
        goto fail;
    }
    if (o->quick_check) {
        char why[256];
        if ((rc = store_check(s, why, sizeof why)) != 0) {
            snprintf(err, errlen, "store %s: corrupt (quick_check: %s)", o->path,
                     rc > 0 ? why : s->errmsg);
            goto fail;
        }
    }
    return s;
fail:
    store_close(s);
    return NULL;
}

void store_close(store_t *s)
{
    int i;
    if (!s) return;
    for (i = 0; i < STORE_NSTATEMENTS; i++) sqlite3_finalize(s->st[i]);
    store__upd_free(s);
    if (s->db) {
        /* an open transaction is rolled back, as a crash would lose it */
        if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close_v2(s->db);
    }
    for (i = 0; i < s->nctrs; i++) free(s->ctrs[i].name);
    free(s->ctrs);
    store__acct_free(s);
    free(s->rowids);
    free(s->path);
    free(s);
}

/* -- Expiry ------------------------------------------------------------------------------- */

int store_expire(store_t *s, double now, int batch, store_expiry_t *x)
{
    long long total;
    int rc;
    x->messages = x->unfinished = x->outbox = x->early = 0;
    x->more = 0;
    if (batch < 1) return store__err(s, STORE_EARG, "expire: batch must be >= 1");
    if ((rc = store__begin(s)) < 0) return rc;
    if ((rc = store__expire_messages(s, now, batch, x)) < 0) return rc;
    if ((rc = store__expire_queues(s, now, batch, x)) < 0) return rc;
    total = x->messages + x->outbox + x->early;
    s->expired += total;
    if (total) store__wrote(s);
    return 0;
}
