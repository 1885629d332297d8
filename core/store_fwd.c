/* store_fwd.c -- what the store-and-forward gateway does to `messages`:
 * read an upstream's queue from a cursor (no write per row taken), record
 * the upstream's answer or a retry, the state a receipt brings, and find a
 * message by the key of its upstream id. Each write is one UPDATE by rowid
 * (no index lookup) with its trace line; the statements are prepared on
 * first use. See store.h, "Forward queues".
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "store_int.h"

/* The row columns of TAKE and BY_KEY, in this order (read by fwd_row). */
#define FWD_COLS "rowid, id, part, account, due, expires, submitted, registered_delivery, attempts, " \
                 "state, final, upstream, route, notify, pdu, id_format "

/* keep_until as store_msg.c computes it: a final row is kept trace_ttl
 * (:ttl) after done, others trace_ttl after their validity or submission */
#define FWD_KEEP(final, done) \
    "keep_until = CASE WHEN " final " THEN coalesce(" done ", submitted) + :ttl " \
    "ELSE max(coalesce(expires, submitted), submitted) + :ttl END"
/* the line appended, the trace cut to its last STORE_TRACE_MAX octets
 * (%d): only when it would grow past them (:room, the octets the trace
 * may have before the line goes on), since cutting counts every
 * character of the trace and appending alone does not */
#define FWD_TRACE "trace = CASE WHEN length(CAST(trace AS BLOB)) <= :room THEN trace || :line " \
                  "ELSE substr(coalesce(trace, '') || :line, -%d) END"

static const char *const fwd_sql[STORE_FWD_NSTMT] = {
    /* TAKE: ?1 upstream, (?2, ?3) the cursor, ?4 now, ?5 limit */
    "SELECT " FWD_COLS "FROM messages WHERE upstream = ?1 AND due IS NOT NULL "
    "AND (due, rowid) > (?2, ?3) AND due <= ?4 ORDER BY due, rowid LIMIT ?5",
    /* BY_KEY: ?1 upstream, ?2 key */
    "SELECT " FWD_COLS "FROM messages WHERE upstream = ?1 AND upstream_key = ?2 "
    "AND upstream_key IS NOT NULL ORDER BY rowid DESC LIMIT 1",
    /* SENT (final: no receipt expected): ?1 rowid, ?2 upstream_id, ?3 key, ?4 now
     * (keep_until: done + trace_ttl, as FWD_KEEP gives a final row) */
    "UPDATE messages SET state = 1, due = NULL, upstream_id = ?2, upstream_key = ?3, "
    "attempts = attempts + 1, final = 1, done = ?4, keep_until = ?4 + :ttl, " FWD_TRACE " WHERE rowid = ?1",
    /* SENT_OPEN (a receipt is expected): the same but still pending, and so
     * nothing that would move the row between the partial indexes of
     * pending and final messages (SQLite rewrites the index entries of
     * every column an UPDATE sets, changed or not) */
    "UPDATE messages SET state = 1, due = NULL, upstream_id = ?2, upstream_key = ?3, "
    "attempts = attempts + 1, " FWD_TRACE " WHERE rowid = ?1",
    /* RETRY: ?1 rowid, ?2 due, ?3 err */
    "UPDATE messages SET due = ?2, err = ?3, attempts = attempts + 1, " FWD_TRACE " WHERE rowid = ?1",
    /* STATE (final): ?1 rowid, ?2 state, ?4 now, ?5 err (keep_until as
     * FWD_KEEP gives a final row) */
    "UPDATE messages SET state = ?2, err = ?5, final = 1, due = NULL, done = ?4, keep_until = ?4 + :ttl, "
    FWD_TRACE " WHERE rowid = ?1",
    /* STATE_OPEN (not final: an intermediate notification): the same
     * parameters; due and done stay as they are (not set at all: SQLite
     * rewrites the index entries of every column an UPDATE sets) */
    "UPDATE messages SET state = ?2, err = ?5, final = 0, " FWD_KEEP("0", "?4") ", " FWD_TRACE " WHERE rowid = ?1",
    /* COUNTS */
    "SELECT upstream, count(*) FROM messages WHERE due IS NOT NULL AND upstream IS NOT NULL GROUP BY upstream",
};

/* The statement `which`, prepared on first use (":ttl" the trace_ttl and
 * ":line" the trace line: named parameters after the numbered ones). */
static sqlite3_stmt *fwd_stmt(store_t *s, int which)
{
    sqlite3_stmt *st = s->fwd[which];
    char sql[1024];
    int rc;
    if (store__flush(s) < 0) return NULL;      /* rows put before are read and written too */
    if (st) {
        sqlite3_reset(st);
        return st;
    }
    snprintf(sql, sizeof sql, fwd_sql[which], STORE_TRACE_MAX);
    rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        store__fail(s, rc, "forward queue");
        return NULL;
    }
    s->fwd[which] = st;
    s->fwd_ix[which][0] = (signed char)sqlite3_bind_parameter_index(st, ":line");   /* looked up once: */
    s->fwd_ix[which][1] = (signed char)sqlite3_bind_parameter_index(st, ":room");   /* by name it is a */
    s->fwd_ix[which][2] = (signed char)sqlite3_bind_parameter_index(st, ":ttl");    /* walk per call */
    return st;
}

const char *store__fwd_sql(store_t *s, int which)
{
    sqlite3_stmt *st = which >= 0 && which < STORE_FWD_NSTMT ? fwd_stmt(s, which) : NULL;
    return st ? sqlite3_sql(st) : NULL;
}

void store__fwd_free(store_t *s)
{
    int i;
    for (i = 0; i < STORE_FWD_NSTMT; i++) {
        sqlite3_finalize(s->fwd[i]);
        s->fwd[i] = NULL;
    }
}

static void fwd_row(store_t *s, sqlite3_stmt *st, store_fwd_row_t *r)
{
    store_msg_t m;
    r->rowid = sqlite3_column_int64(st, 0);
    r->id = store__col_text(st, 1);
    r->part = sqlite3_column_int64(st, 2);
    r->account = store__col_text(st, 3);
    r->due = store__col_real(st, 4);
    r->expires = store__col_real(st, 5);
    r->submitted = store__col_real(st, 6);
    r->registered_delivery = sqlite3_column_int64(st, 7);
    r->attempts = sqlite3_column_int64(st, 8);
    r->state = sqlite3_column_int64(st, 9);
    r->final = sqlite3_column_int(st, 10);
    r->upstream = store__col_text(st, 11);
    r->route = store__col_text(st, 12);
    r->notify = store__col_text(st, 13);
    r->pdu = store__col_blob(st, 14);
    if (!r->id.p) {                        /* an id made from the key */
        m.id = r->id;
        m.id_format = sqlite3_column_int64(st, 15);
        m.key = r->rowid;
        m.part = r->part;
        store__row_id(s, &m);
        r->id = m.id;
    }
}

static int fwd_each(store_t *s, sqlite3_stmt *st, store_fwd_fn fn, void *ud, const char *what)
{
    store_fwd_row_t r;
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fwd_row(s, st, &r);
        n++;
        if (fn && fn(&r, ud)) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) rc = store__fail(s, rc, what);
    else rc = n;
    sqlite3_reset(st);
    return rc;
}

/* -- Reading ------------------------------------------------------------------------ */

int store_fwd_take(store_t *s, store_str_t upstream, double after_due, long long after_rowid, double now,
                   int limit, store_fwd_fn fn, void *ud)
{
    sqlite3_stmt *st;
    if (!upstream.p) return store__err(s, STORE_EARG, "fwd_take: an upstream is required");
    if (limit < 0 || limit > STORE_BATCH_MAX)
        return store__err(s, STORE_EARG, "fwd_take: limit must be 0..%d", STORE_BATCH_MAX);
    if (limit == 0) return 0;
    if (!(st = fwd_stmt(s, STORE_FWD_TAKE))) return STORE_EIO;
    store__bind_text(st, 1, upstream);
    sqlite3_bind_double(st, 2, isnan(after_due) ? -HUGE_VAL : after_due);
    sqlite3_bind_int64(st, 3, after_rowid);
    sqlite3_bind_double(st, 4, now);
    sqlite3_bind_int(st, 5, limit);
    return fwd_each(s, st, fn, ud, "fwd_take");
}

int store_fwd_by_key(store_t *s, store_str_t upstream, store_str_t key, store_fwd_fn fn, void *ud)
{
    sqlite3_stmt *st;
    if (!upstream.p || !key.p) return store__err(s, STORE_EARG, "fwd_by_key: upstream and key are required");
    if (!(st = fwd_stmt(s, STORE_FWD_BY_KEY))) return STORE_EIO;
    store__bind_text(st, 1, upstream);
    store__bind_text(st, 2, key);
    return fwd_each(s, st, fn, ud, "fwd_by_key");
}

int store_fwd_counts(store_t *s, void (*fn)(store_str_t upstream, long long n, void *ud), void *ud)
{
    sqlite3_stmt *st;
    int rc, n = 0;
    if (!(st = fwd_stmt(s, STORE_FWD_COUNTS))) return STORE_EIO;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        n++;
        fn(store__col_text(st, 0), sqlite3_column_int64(st, 1), ud);
    }
    if (rc != SQLITE_DONE) rc = store__fail(s, rc, "fwd_counts");
    else rc = n;
    sqlite3_reset(st);
    return rc;
}

/* -- Writing ---------------------------------------------------------------------------- */

size_t store_stamp(char *buf, double t)
{
    long long ms;
    char digits[24];
    size_t n = 0, k = 0;
    if (!(t >= 0 && t < 1e15)) return (size_t)snprintf(buf, STORE_STAMP_MAX, "%.3f ", t);
    ms = (long long)(t * 1000.0 + 0.5);
    do {
        digits[k++] = (char)('0' + ms % 10);
        ms /= 10;
        if (k == 3) digits[k++] = '.';
    } while (ms > 0 || k < 5);
    while (k > 0) buf[n++] = digits[--k];
    buf[n++] = ' ';
    buf[n] = '\0';
    return n;
}

/* Bind the trace line "<at> <line>\n" (:line), the room the trace may
 * have before it (:room) and the trace_ttl (:ttl) where statement `which`
 * (prepared: fwd_stmt) has them. A usual line is built in `buf`
 * (LINE_BUF octets, bound static: the caller steps the statement and
 * clears its bindings before buf goes).
 * Returns 0 or STORE_ENOMEM. */
#define LINE_BUF 512
static int bind_common(store_t *s, int which, store_str_t line, double at, char *buf)
{
    sqlite3_stmt *st = s->fwd[which];
    int i = s->fwd_ix[which][0];
    size_t n = 0;
    if (i > 0) {
        char *text = buf;
        if (line.p) {
            size_t need = STORE_STAMP_MAX + line.n + 2;
            if (need > LINE_BUF && !(text = sqlite3_malloc64(need)))
                return store__err(s, STORE_ENOMEM, "fwd: no memory");
            n = store_stamp(text, at);
            memcpy(text + n, line.p, line.n);
            text[n + line.n] = '\n';
            n += line.n + 1;
            sqlite3_bind_text(st, i, text, (int)n, text == buf ? SQLITE_STATIC : sqlite3_free);
        } else {
            sqlite3_bind_text(st, i, "", 0, SQLITE_STATIC);
        }
    }
    if ((i = s->fwd_ix[which][1]) > 0) sqlite3_bind_int64(st, i, (long long)STORE_TRACE_MAX - (long long)n);
    if ((i = s->fwd_ix[which][2]) > 0) sqlite3_bind_double(st, i, s->o.trace_ttl);
    return 0;
}

/* Run an UPDATE of one row: 1 changed, 0 not there, or an error. */
static int fwd_write(store_t *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        rc = store__fail(s, rc, what);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return rc;
    }
    rc = sqlite3_changes(s->db) > 0;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);          /* the trace line goes now */
    if (rc) store__wrote(s);
    return rc;
}

static int check_line(store_t *s, store_str_t line, const char *what)
{
    if (line.n > STORE_VALUE_MAX) return store__err(s, STORE_EARG, "%s: the trace line is too long", what);
    return 0;
}

int store_fwd_sent(store_t *s, long long rowid, store_str_t upstream_id, store_str_t key, int final, double now,
                   store_str_t line)
{
    sqlite3_stmt *st;
    char buf[LINE_BUF];
    int rc, which;
    if (upstream_id.n > STORE_VALUE_MAX || key.n > STORE_VALUE_MAX || (rc = check_line(s, line, "fwd_sent")) < 0)
        return store__err(s, STORE_EARG, "fwd_sent: a value is too long");
    if ((rc = store__begin(s)) < 0) return rc;
    which = final ? STORE_FWD_SENT : STORE_FWD_SENT_OPEN;
    if (!(st = fwd_stmt(s, which))) return STORE_EIO;
    sqlite3_bind_int64(st, 1, rowid);
    store__bind_text(st, 2, upstream_id);
    store__bind_text(st, 3, key);
    if (final) sqlite3_bind_double(st, 4, now);
    if ((rc = bind_common(s, which, line, now, buf)) < 0) return rc;
    return fwd_write(s, st, "fwd_sent");
}

int store_fwd_retry(store_t *s, long long rowid, double due, long long err, double now, store_str_t line)
{
    sqlite3_stmt *st;
    char buf[LINE_BUF];
    int rc;
    if ((rc = check_line(s, line, "fwd_retry")) < 0) return rc;
    if (isnan(due)) return store__err(s, STORE_EARG, "fwd_retry: due is required");
    if ((rc = store__begin(s)) < 0) return rc;
    if (!(st = fwd_stmt(s, STORE_FWD_RETRY))) return STORE_EIO;
    sqlite3_bind_int64(st, 1, rowid);
    sqlite3_bind_double(st, 2, due);
    sqlite3_bind_int64(st, 3, err);
    if ((rc = bind_common(s, STORE_FWD_RETRY, line, now, buf)) < 0) return rc;
    return fwd_write(s, st, "fwd_retry");
}

int store_fwd_state(store_t *s, long long rowid, int state, int final, long long err, double now, store_str_t line)
{
    sqlite3_stmt *st;
    char buf[LINE_BUF];
    int rc, which;
    if ((rc = check_line(s, line, "fwd_state")) < 0) return rc;
    if ((rc = store__begin(s)) < 0) return rc;
    which = final ? STORE_FWD_STATE : STORE_FWD_STATE_OPEN;
    if (!(st = fwd_stmt(s, which))) return STORE_EIO;
    sqlite3_bind_int64(st, 1, rowid);
    sqlite3_bind_int(st, 2, state);
    sqlite3_bind_int(st, 3, final != 0);
    sqlite3_bind_double(st, 4, now);
    sqlite3_bind_int64(st, 5, err);
    if ((rc = bind_common(s, which, line, now, buf)) < 0) return rc;
    return fwd_write(s, st, "fwd_state");
}
