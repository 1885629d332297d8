/* store_fwd.c -- what the store-and-forward gateway does to its messages:
 * put one in an upstream's queue, read the queue from a cursor (no write
 * per row taken), record the upstream's answer or a retry, the state a
 * receipt brings, and find a message by the key of its upstream id. The
 * forwarding state is in the narrow `fwd` table (store_int.h), so the wide
 * `messages` row is written once, at acceptance; each write here is one
 * UPDATE of a fwd row by its key, with its trace line (a usual line kept
 * as columns instead: store_lines.c). A message stored without a fwd row
 * (under the upstream's id, or before schema 6) is found and written in
 * `messages` as before. The statements are prepared on first use. See
 * store.h, "Forward queues".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* The row columns of TAKE (f: fwd, m: messages), in this order (read by
 * fwd_row). */
#define FWD_COLS "f.key, m.id, m.part, m.account, f.due, m.expires, m.submitted, m.registered_delivery, " \
                 "f.attempts, f.state, f.final, f.upstream, m.route, m.notify, m.pdu, m.id_format, f.first_sent "
/* What a receipt's match needs (read by key_row): BY_KEY finds it in the
 * receipt-key index (the fwd row's key is the index's rowid) and reads
 * the record by that key (and its PDU, whose command_id says whether it
 * is a submit_multi: read in C, not by substr() per row), and whether the fwd row is final (its state is read only
 * when a receipt carries none, store_fwd_state_of); BY_KEY_OLD (messages
 * alone) has final, then the state as its last columns. Keys
 * written before schema 9 (messages keyed below exact_from, ?4) were the
 * normalised id whatever the format: where the receipt's key is its id
 * as written (?5), such a row is its message only when its upstream_id,
 * trimmed, is that id (SQLite reads upstream_id only for those rows). */
#define KEY_COLS "m.id, m.part, m.account, m.registered_delivery, m.route, m.notify, m.id_format, m.pdu"
#define BLANKS "' ' || char(9, 10, 11, 12, 13)"
#define KEY_EXACT(tbl) " AND (" tbl ".key >= ?4 OR ?5 IS NULL OR trim(" tbl ".upstream_id, " BLANKS ") = ?5)"
#define FWD_JOIN "FROM fwd f CROSS JOIN messages m ON m.key = f.key "

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

/* a write that changes what the lines kept as columns are made of: only
 * where none is kept (store_int.h); NO_RCPT where only the receipt's is */
#define NO_LINES " AND sent IS NULL AND rcpt IS NULL"
#define NO_RCPT  " AND rcpt IS NULL"

static const char *const fwd_sql[STORE_FWD_NSTMT] = {
    /* TAKE: ?1 upstream, (?2, ?3) the cursor, ?4 now, ?5 limit, ?6 its
     * number (fwd first: its queue index gives the order) */
    "SELECT " FWD_COLS FWD_JOIN "WHERE f.q = ?6 AND f.upstream = ?1 AND f.due IS NOT NULL "
    "AND (f.due, f.key) > (?2, ?3) AND f.due <= ?4 ORDER BY f.due, f.key LIMIT ?5",
    /* BY_KEY: ?1 upstream, ?2 key, ?3 its number (store__key_num: the
     * index holds all three) */
    "SELECT f.key, " KEY_COLS ", f.final " FWD_JOIN "WHERE f.key_num = ?3 AND f.key_num IS NOT NULL "
    "AND f.upstream = ?1 AND f.upstream_key = ?2" KEY_EXACT("f") " ORDER BY f.key DESC LIMIT 1",
    /* BY_KEY_OLD: the same in messages */
    "SELECT m.key, " KEY_COLS ", m.final, m.state FROM messages m WHERE upstream = ?1 AND upstream_key = ?2 "
    "AND upstream_key IS NOT NULL" KEY_EXACT("m") " ORDER BY rowid DESC LIMIT 1",
    /* SENT (final: no receipt expected): ?1 key, ?2 upstream_id, ?3 key, ?4
     * now, ?7 its number (store__key_num). Here and below, a write that
     * changes what a usual line kept as columns is made of (store_int.h)
     * changes no row while one is kept (NO_LINES): they are written out
     * as text first (lines_out) */
    "UPDATE fwd SET state = 1, due = NULL, upstream_id = ?2, upstream_key = ?3, key_num = ?7, err = 0, "
    "attempts = attempts + 1, final = 1, done = ?4, " FWD_TRACE_NEW " WHERE key = ?1" NO_LINES,
    /* SENT_OPEN (a receipt is expected): the same but still pending */
    "UPDATE fwd SET state = 1, due = NULL, upstream_id = ?2, upstream_key = ?3, key_num = ?7, err = 0, "
    "attempts = attempts + 1, " FWD_TRACE_NEW " WHERE key = ?1" NO_LINES,
    /* RETRY: ?1 key, ?2 due, ?3 err, ?4 the stamp of a sending the
     * upstream may have taken (NULL: none), kept when it is the first */
    "UPDATE fwd SET due = ?2, err = ?3, attempts = attempts + 1, first_sent = coalesce(first_sent, ?4), "
    FWD_TRACE_NEW " WHERE key = ?1" NO_LINES,
    /* STATE (final): ?1 key, ?2 state, ?4 now, ?5 err (the sent line is
     * not made of what these change: only a receipt's line is written out) */
    "UPDATE fwd SET state = ?2, err = ?5, final = 1, due = NULL, done = ?4, " FWD_TRACE_NEW " WHERE key = ?1"
    NO_RCPT,
    /* STATE_OPEN (not final: an intermediate notification) */
    "UPDATE fwd SET state = ?2, err = ?5, final = 0, " FWD_TRACE_NEW " WHERE key = ?1" NO_RCPT,
    /* STATE_OLD (final, a row without fwd): ?1 rowid, ?2 state, ?4 now, ?5
     * err (keep_until as FWD_KEEP gives a final row) */
    "UPDATE messages SET state = ?2, err = ?5, final = 1, due = NULL, done = ?4, keep_until = ?4 + :ttl, "
    FWD_TRACE " WHERE rowid = ?1",
    /* STATE_OPEN_OLD: the same parameters; due and done stay as they are
     * (not set at all: SQLite rewrites the index entries of every column
     * an UPDATE sets) */
    "UPDATE messages SET state = ?2, err = ?5, final = 0, " FWD_KEEP("0", "?4") ", " FWD_TRACE " WHERE rowid = ?1",
    /* COUNTS (by the queue index, in its order) */
    "SELECT upstream, count(*) FROM fwd WHERE q IS NOT NULL AND due IS NOT NULL GROUP BY q, upstream",
    /* QUEUE: ?1 key, ?2 upstream, ?3 due, ?4 via, ?5 the upstream's number */
    "INSERT INTO fwd (key, upstream, due, via, q) VALUES (?1, ?2, ?3, ?4, ?5)",
    /* MOVE: ?1 key, ?2 upstream, ?3 due, ?4 err, ?5 the upstream's number
     * (not sent to that one yet) */
    "UPDATE fwd SET upstream = ?2, q = ?5, due = ?3, err = ?4, first_sent = NULL, " FWD_TRACE_NEW
    " WHERE key = ?1" NO_LINES,
    /* STATE_SENT (final, a row out of its queue: a receipt's message,
     * its answer stored): as STATE, but due is not set (SQLite looks at
     * the queue index for every column an UPDATE sets); no row changed
     * when it is queued, and STATE writes it */
    "UPDATE fwd SET state = ?2, err = ?5, final = 1, done = ?4, " FWD_TRACE_NEW " WHERE key = ?1 AND due IS NULL"
    NO_RCPT,
    /* ATTEMPT: ?1 key: a sending the upstream answered with a refusal that
     * moves or ends the message (a retry counts its own) */
    "UPDATE fwd SET attempts = attempts + 1 WHERE key = ?1" NO_LINES,
    /* SENT_COL, SENT_OPEN_COL: SENT and SENT_OPEN with the usual line kept
     * as columns (?6 the session), while the row has no line yet */
    "UPDATE fwd SET state = 1, due = NULL, upstream_id = ?2, upstream_key = ?3, key_num = ?7, err = 0, "
    "attempts = attempts + 1, final = 1, done = ?4, sent = ?4, sess = ?6 WHERE key = ?1 AND trace IS NULL" NO_LINES,
    "UPDATE fwd SET state = 1, due = NULL, upstream_id = ?2, upstream_key = ?3, key_num = ?7, err = 0, "
    "attempts = attempts + 1, sent = ?4, sess = ?6 WHERE key = ?1 AND trace IS NULL" NO_LINES,
    /* RCPT_COL: STATE_SENT with a receipt's usual line kept as rcpt (?6) */
    "UPDATE fwd SET state = ?2, err = ?5, final = 1, done = ?4, rcpt = ?6 "
    "WHERE key = ?1 AND due IS NULL AND trace IS NULL" NO_RCPT,
    /* LINES: what the lines kept as columns are made of (fwd_lines) */
    "SELECT f.upstream, f.sent, f.sess, f.attempts, f.upstream_id, f.rcpt, f.state, f.err, f.done, m.account, "
    "f.trace FROM fwd f CROSS JOIN messages m ON m.key = f.key "
    "WHERE f.key = ?1 AND (f.sent IS NOT NULL OR f.rcpt IS NOT NULL)",
    /* LINES_OUT: ?1 key, ?2 the trace with those lines written out */
    "UPDATE fwd SET trace = ?2, sent = NULL, sess = NULL, rcpt = NULL WHERE key = ?1",
    /* FIRST: what the "accepted from ..." line of via is made of
     * (store__fwd_line_accepted), and the record's trace */
    "SELECT f.via, m.account, m.route, m.upstream, m.submitted, m.trace FROM fwd f "
    "CROSS JOIN messages m ON m.key = f.key WHERE f.key = ?1 AND f.via IS NOT NULL",
    /* FIRST_OUT: ?1 key, ?2 the record's trace with that line written out
     * (two statements: fwd's via goes in store__fwd_accepted_out) */
    "UPDATE messages SET trace = ?2 WHERE key = ?1",
    /* VIA_OUT: ?1 key */
    "UPDATE fwd SET via = NULL WHERE key = ?1",
    /* ROW_OF: what a usual line left to the store is made of (usual_line) */
    "SELECT coalesce(f.upstream, m.upstream), f.attempts, m.account FROM messages m "
    "LEFT JOIN fwd f ON f.key = m.key WHERE m.key = ?1",
};

/* The statement `which`, prepared on first use (":ttl" the trace_ttl and
 * ":line" the trace line: named parameters after the numbered ones). */
static sqlite3_stmt *fwd_stmt(store_t *s, int which)
{
    sqlite3_stmt *st = s->fwd[which];
    char sql[1024];
    int rc;
    /* rows put before are read and written too by those that reach
     * messages; the fwd writes leave them waiting (store_put.c), and so
     * do a receipt's lookups: the rows they find have an upstream key,
     * written after a commit stored them, and a keyed record (stored
     * under the upstream's id) is not one that waits */
    if (which != STORE_FWD_QUEUE && which != STORE_FWD_SENT && which != STORE_FWD_SENT_OPEN
        && which != STORE_FWD_RETRY && which != STORE_FWD_STATE && which != STORE_FWD_STATE_OPEN
        && which != STORE_FWD_MOVE && which != STORE_FWD_STATE_SENT && which != STORE_FWD_BY_KEY
        && which != STORE_FWD_BY_KEY_OLD && which != STORE_FWD_SENT_COL && which != STORE_FWD_SENT_OPEN_COL
        && which != STORE_FWD_RCPT_COL && which != STORE_FWD_LINES && which != STORE_FWD_LINES_OUT) {
        if (store__flush(s) < 0) return NULL;
    } else if (which != STORE_FWD_QUEUE && s->fwd_wait.n && store__fwd_flush(s) < 0) {
        return NULL;
    }
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

sqlite3_stmt *store__fwd_stmt(store_t *s, int which)
{
    return fwd_stmt(s, which);
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
    sqlite3_finalize(s->fwd_batch);
    s->fwd_batch = NULL;
    free(s->fwd_buf);
    s->fwd_buf = NULL;
    s->fwd_cap = 0;
}

void store__fwd_row_id(store_t *s, store_fwd_row_t *r, long long id_format)
{
    store_msg_t m;
    m.id = r->id;
    m.id_format = id_format;
    m.key = r->rowid;
    m.part = r->part;
    store__row_id(s, &m);
    r->id = m.id;
}

static void fwd_row(store_t *s, sqlite3_stmt *st, store_fwd_row_t *r)
{
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
    r->first = store__col_real(st, 16);
    r->checked = 0;
    if (!r->id.p) store__fwd_row_id(s, r, sqlite3_column_int64(st, 15));
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

/* Copy v into s->fwd_buf at *at (room checked by the caller). */
static store_str_t fwd_copy(store_t *s, size_t *at, store_str_t v)
{
    store_str_t out = { NULL, 0 };
    if (!v.p) return out;
    out.p = s->fwd_buf + *at;
    out.n = v.n;
    memcpy(s->fwd_buf + *at, v.p, v.n);
    *at += v.n;
    return out;
}

int store__fwd_overlay(store_t *s, store_msg_t *m)
{
    sqlite3_stmt *st = s->st[STORE_ST_MSG_FWD_GET];
    store_str_t up, uid, ukey, tr;
    store_fwd_lines_t k;
    char lines[2 * (STORE_LINE_MAX + STORE_STAMP_MAX)], first[STORE_LINE_MAX + STORE_STAMP_MAX];
    size_t need, at = 0, nl = 0, n1 = 0;
    long long via;
    int rc;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, m->key);
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : store__fail(s, rc, "get");
    }
    up = store__col_text(st, 0);
    uid = store__col_text(st, 2);
    ukey = store__col_text(st, 3);
    tr = store__col_text(st, 9);
    k.sent = store__col_real(st, 10);
    k.rcpt = sqlite3_column_int(st, 12);
    if ((via = sqlite3_column_int64(st, 13)) > 0)       /* "accepted from ...": the record's own */
        n1 = store__fwd_line_accepted(first, sizeof first, m, via);
    if (!isnan(k.sent) || k.rcpt > 0) {            /* the usual lines, kept as columns */
        k.upstream = up;
        k.upstream_id = uid;
        k.account = m->account;
        k.sess = sqlite3_column_int64(st, 11);
        k.attempts = sqlite3_column_int64(st, 8);
        k.state = sqlite3_column_int64(st, 4);
        k.err = sqlite3_column_int64(st, 7);
        k.done = store__col_real(st, 6);
        nl = store__fwd_lines(lines, sizeof lines, &k);
    }
    need = up.n + uid.n + ukey.n + n1 + m->trace.n + nl + tr.n + 1;
    if (need > s->fwd_cap) {
        char *p = realloc(s->fwd_buf, need);
        if (!p) {
            sqlite3_reset(st);
            return store__err(s, STORE_ENOMEM, "get: no memory");
        }
        s->fwd_buf = p;
        s->fwd_cap = need;
    }
    m->upstream = fwd_copy(s, &at, up);
    m->due = store__col_real(st, 1);
    m->upstream_id = fwd_copy(s, &at, uid);
    m->upstream_key = fwd_copy(s, &at, ukey);
    m->state = sqlite3_column_int64(st, 4);
    m->final = sqlite3_column_int(st, 5);
    m->done = store__col_real(st, 6);
    m->err = sqlite3_column_int64(st, 7);
    m->attempts = sqlite3_column_int64(st, 8);
    if (tr.p || nl || n1) {      /* the first line(s) in messages, then the usual ones, the rest here */
        store_str_t whole;
        size_t start = at;
        fwd_copy(s, &at, (store_str_t){ first, n1 });
        if (m->trace.p) fwd_copy(s, &at, m->trace);
        fwd_copy(s, &at, (store_str_t){ lines, nl });
        fwd_copy(s, &at, tr);
        whole.p = s->fwd_buf + start;
        whole.n = at - start;
        if (whole.n > STORE_TRACE_MAX) {
            whole.p += whole.n - STORE_TRACE_MAX;
            whole.n = STORE_TRACE_MAX;
        }
        m->trace = whole;
    }
    sqlite3_reset(st);
    return 0;
}


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
    sqlite3_bind_int64(st, 6, store__key_num(s, upstream));
    return fwd_each(s, st, fn, ud, "fwd_take");
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

/* After a write `rc` that changed no row: when the row keeps usual lines
 * as columns (a write that changes what they are made of leaves it
 * alone), they are written out as text; AGAIN then (write it again),
 * else rc or an error. */
#define AGAIN 2
static int lines_out(store_t *s, long long rowid, int rc)
{
    if (rc != 0) return rc;
    if ((rc = store__fwd_lines_out(s, rowid)) <= 0) return rc;
    return AGAIN;
}

int store_fwd_sent(store_t *s, long long rowid, store_str_t upstream_id, store_str_t key, int final, double now,
                   long long sess, store_str_t line)
{
    char usual[STORE_LINE_MAX];
    sqlite3_stmt *st;
    char buf[LINE_BUF];
    int rc, which, pass;
    if (upstream_id.n > STORE_VALUE_MAX || key.n > STORE_VALUE_MAX || (rc = check_line(s, line, "fwd_sent")) < 0)
        return store__err(s, STORE_EARG, "fwd_sent: a value is too long");
    if ((rc = store__begin(s)) < 0) return rc;
    for (pass = sess > 0 ? 0 : 1;; pass++) {
        int col = pass == 0;               /* the usual line, kept as columns while it is the first */
        which = col ? (final ? STORE_FWD_SENT_COL : STORE_FWD_SENT_OPEN_COL)
                    : (final ? STORE_FWD_SENT : STORE_FWD_SENT_OPEN);
        if (!col && !line.p && sess > 0)   /* kept as text after all: made from the row */
            line = store__fwd_usual_line(s, rowid, 1, sess, upstream_id, 0, 0, 0, usual, sizeof usual);
        if (!(st = fwd_stmt(s, which))) return STORE_EIO;
        sqlite3_bind_int64(st, 1, rowid);
        store__bind_text(st, 2, upstream_id);
        store__bind_text(st, 3, key);
        if (key.p) sqlite3_bind_int64(st, 7, store__key_num(s, key));
        if (final || col) sqlite3_bind_double(st, 4, now);
        if (col) sqlite3_bind_int64(st, 6, sess);
        else if ((rc = bind_common(s, which, line, now, buf)) < 0) return rc;
        rc = fwd_write(s, st, "fwd_sent");
        if (col && rc == 0) continue;
        if (pass > 1 || (rc = lines_out(s, rowid, rc)) != AGAIN) return rc;
    }
}

int store_fwd_retry(store_t *s, long long rowid, double due, long long err, double first, double now,
                    store_str_t line)
{
    sqlite3_stmt *st;
    char buf[LINE_BUF];
    int rc, pass;
    if ((rc = check_line(s, line, "fwd_retry")) < 0) return rc;
    if (isnan(due)) return store__err(s, STORE_EARG, "fwd_retry: due is required");
    if ((rc = store__begin(s)) < 0) return rc;
    for (pass = 0;; pass++) {
        if (!(st = fwd_stmt(s, STORE_FWD_RETRY))) return STORE_EIO;
        sqlite3_bind_int64(st, 1, rowid);
        sqlite3_bind_double(st, 2, due);
        sqlite3_bind_int64(st, 3, err);
        store__bind_real(st, 4, first);
        if ((rc = bind_common(s, STORE_FWD_RETRY, line, now, buf)) < 0) return rc;
        rc = fwd_write(s, st, "fwd_retry");
        if (pass || (rc = lines_out(s, rowid, rc)) != AGAIN) return rc;
    }
}

/* A new state: rcpt > 0 a final receipt's usual line (store_int.h), kept
 * as a column when the row is out of its queue and has no line after its
 * sent line; else `line`. */
static int fwd_state(store_t *s, long long rowid, int state, int final, long long err, double now, int rcpt,
                     store_str_t line)
{
    sqlite3_stmt *st;
    char buf[LINE_BUF], usual[STORE_LINE_MAX];
    int rc, which, pass;
    if ((rc = check_line(s, line, "fwd_state")) < 0) return rc;
    if ((rc = store__begin(s)) < 0) return rc;
    if (final && rcpt > 0) {               /* a receipt, its usual line: most often */
        if (!(st = fwd_stmt(s, STORE_FWD_RCPT_COL))) return STORE_EIO;
        sqlite3_bind_int64(st, 1, rowid);
        sqlite3_bind_int(st, 2, state);
        sqlite3_bind_double(st, 4, now);
        sqlite3_bind_int64(st, 5, err);
        sqlite3_bind_int(st, 6, rcpt);
        if ((rc = fwd_write(s, st, "fwd_state")) != 0) return rc;
        if (!line.p)                       /* kept as text after all: made from the row */
            line = store__fwd_usual_line(s, rowid, 0, 0, line, state, err, rcpt, usual, sizeof usual);
    }
    for (pass = 0; pass < 2; pass++) {
        if (final) {                       /* most often a receipt's: out of its queue */
            if (!(st = fwd_stmt(s, STORE_FWD_STATE_SENT))) return STORE_EIO;
            sqlite3_bind_int64(st, 1, rowid);
            sqlite3_bind_int(st, 2, state);
            sqlite3_bind_double(st, 4, now);
            sqlite3_bind_int64(st, 5, err);
            if ((rc = bind_common(s, STORE_FWD_STATE_SENT, line, now, buf)) < 0) return rc;
            if ((rc = fwd_write(s, st, "fwd_state")) != 0) return rc;
        }
        which = final ? STORE_FWD_STATE : STORE_FWD_STATE_OPEN;
        if (!(st = fwd_stmt(s, which))) return STORE_EIO;
        sqlite3_bind_int64(st, 1, rowid);
        sqlite3_bind_int(st, 2, state);
        sqlite3_bind_double(st, 4, now);
        sqlite3_bind_int64(st, 5, err);
        if ((rc = bind_common(s, which, line, now, buf)) < 0) return rc;
        if ((rc = fwd_write(s, st, "fwd_state")) != 0) return rc;
        if (pass || (rc = lines_out(s, rowid, rc)) != AGAIN) break;
    }
    if (rc != 0) return rc;
    /* no fwd row: stored under the upstream's id, or before schema 6 */
    which = final ? STORE_FWD_STATE_OLD : STORE_FWD_STATE_OPEN_OLD;
    if (!(st = fwd_stmt(s, which))) return STORE_EIO;
    sqlite3_bind_int64(st, 1, rowid);
    sqlite3_bind_int(st, 2, state);
    sqlite3_bind_int(st, 3, final != 0);
    sqlite3_bind_double(st, 4, now);
    sqlite3_bind_int64(st, 5, err);
    if ((rc = bind_common(s, which, line, now, buf)) < 0) return rc;
    return fwd_write(s, st, "fwd_state");
}

int store_fwd_state(store_t *s, long long rowid, int state, int final, long long err, double now, store_str_t line)
{
    return fwd_state(s, rowid, state, final, err, now, 0, line);
}

int store_fwd_receipt(store_t *s, long long rowid, int state, long long err, double now, int rcpt, store_str_t line)
{
    return fwd_state(s, rowid, state, 1, err, now, rcpt, line);
}

/* One row of a fwd INSERT, its parameters from p. */
static void bind_queued(store_t *s, sqlite3_stmt *st, int p, long long key, store_str_t upstream, double due,
                        long long via)
{
    sqlite3_bind_int64(st, p + 4, store__key_num(s, upstream));
    sqlite3_bind_int64(st, p, key);
    store__bind_text(st, p + 1, upstream);
    store__bind_real(st, p + 2, due);
    if (via > 0) sqlite3_bind_int64(st, p + 3, via);
    else sqlite3_bind_null(st, p + 3);
}

int store__fwd_flush(store_t *s)
{
    store_fwd_wait_t *w = &s->fwd_wait;
    sqlite3_stmt *st;
    int i, n = w->n, rc = SQLITE_DONE;
    w->n = 0;
    if (n == STORE_PUT_BATCH) {            /* one statement: its cost is about a row's */
        if (!s->fwd_batch) {
            char sql[64 + STORE_PUT_BATCH * 16];
            size_t k = (size_t)snprintf(sql, sizeof sql, "INSERT INTO fwd (key, upstream, due, via, q) VALUES ");
            for (i = 0; i < STORE_PUT_BATCH; i++)
                k += (size_t)snprintf(sql + k, sizeof sql - k, "%s(?,?,?,?,?)", i ? "," : "");
            rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->fwd_batch, NULL);
            if (rc != SQLITE_OK) {
                s->fwd_batch = NULL;
                goto fail;
            }
        }
        st = s->fwd_batch;
        for (i = 0; i < n; i++)
            bind_queued(s, st, 5 * i + 1, w->key[i], (store_str_t){ w->upstream[i], w->len[i] }, w->due[i], w->via[i]);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
    } else {
        for (i = 0; i < n && rc == SQLITE_DONE; i++) {
            if (!(st = s->fwd[STORE_FWD_QUEUE])) {
                if (!(st = fwd_stmt(s, STORE_FWD_QUEUE))) return STORE_EIO;
            }
            sqlite3_reset(st);
            bind_queued(s, st, 1, w->key[i], (store_str_t){ w->upstream[i], w->len[i] }, w->due[i], w->via[i]);
            rc = sqlite3_step(st);
            sqlite3_reset(st);
        }
    }
    if (rc == SQLITE_DONE) return 0;
fail:
    {
        char why[sizeof s->errmsg];
        int full = store__temporary(rc);
        store__fail(s, rc, "fwd_queue");
        snprintf(why, sizeof why, "%s", store_errmsg(s));
        if (s->in_txn) {                  /* SQLite has not rolled it back itself */
            sqlite3_step(store__stmt(s, STORE_ST_ROLLBACK));
            sqlite3_reset(s->st[STORE_ST_ROLLBACK]);
            store__lost(s, why, full);
        }
        return store__err(s, full ? STORE_EFULL : STORE_EIO, "%s", why);
    }
}

int store_fwd_queue(store_t *s, long long key, store_str_t upstream, double due, long long via)
{
    store_fwd_wait_t *w = &s->fwd_wait;
    sqlite3_stmt *st;
    int rc;
    if (!upstream.p || upstream.n > STORE_VALUE_MAX) return store__err(s, STORE_EARG, "fwd_queue: an upstream is required");
    if ((rc = store__begin(s)) < 0) return rc;
    if (upstream.n <= STORE_PUT_ROOM) {    /* waits, and goes in with others (store__fwd_flush) */
        w->key[w->n] = key;
        w->due[w->n] = due;
        w->via[w->n] = via;
        w->len[w->n] = upstream.n;
        memcpy(w->upstream[w->n], upstream.p, upstream.n);
        if (++w->n == STORE_PUT_BATCH && (rc = store__fwd_flush(s)) < 0) return rc;
        store__wrote(s);
        s->fwd_rows = 2;
        return 1;
    }
    if ((rc = store__flush(s)) < 0) return rc;
    if (!(st = fwd_stmt(s, STORE_FWD_QUEUE))) return STORE_EIO;
    bind_queued(s, st, 1, key, upstream, due, via);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) return store__fail(s, rc, "fwd_queue");
    store__wrote(s);
    s->fwd_rows = 2;
    return 1;
}

int store_fwd_attempted(store_t *s, long long rowid)
{
    sqlite3_stmt *st;
    int rc, pass;
    if ((rc = store__begin(s)) < 0) return rc;
    for (pass = 0;; pass++) {
        if (!(st = fwd_stmt(s, STORE_FWD_ATTEMPT))) return STORE_EIO;
        sqlite3_bind_int64(st, 1, rowid);
        rc = fwd_write(s, st, "fwd_attempted");
        if (pass || (rc = lines_out(s, rowid, rc)) != AGAIN) return rc;
    }
}

int store_fwd_move(store_t *s, long long rowid, store_str_t upstream, double due, long long err, double now,
                   store_str_t line)
{
    sqlite3_stmt *st;
    char buf[LINE_BUF];
    int rc, pass;
    if ((rc = check_line(s, line, "fwd_move")) < 0) return rc;
    if (!upstream.p || upstream.n > STORE_VALUE_MAX) return store__err(s, STORE_EARG, "fwd_move: an upstream is required");
    if ((rc = store__begin(s)) < 0) return rc;
    for (pass = 0;; pass++) {
        if (!(st = fwd_stmt(s, STORE_FWD_MOVE))) return STORE_EIO;
        sqlite3_bind_int64(st, 1, rowid);
        store__bind_text(st, 2, upstream);
        store__bind_real(st, 3, due);
        sqlite3_bind_int64(st, 4, err);
        sqlite3_bind_int64(st, 5, store__key_num(s, upstream));
        if ((rc = bind_common(s, STORE_FWD_MOVE, line, now, buf)) < 0) return rc;
        rc = fwd_write(s, st, "fwd_move");
        if (pass || (rc = lines_out(s, rowid, rc)) != AGAIN) return rc;
    }
}

/* -- store_update on a gateway's message ---------------------------------------------- */

int store__fwd_update(store_t *s, const store_change_t *c, store_change_t *rest)
{
    sqlite3_stmt *st;
    char sql[1024], *line = NULL;
    size_t n;
    unsigned mask = c->mask & STORE_FWD_MASK;
    /* what the "accepted from ..." line of via is made of, in the record */
    unsigned first = c->mask & (STORE_BIT(account) | STORE_BIT(route) | STORE_BIT(submitted));
    int i, p = 0, rc, final = 0, lines = 0, via = 0;
    *rest = *c;
    if (s->fwd_rows == 0) {                 /* once per open: does fwd hold anything? */
        if (sqlite3_prepare_v2(s->db, "SELECT EXISTS (SELECT 1 FROM fwd)", -1, &st, NULL) != SQLITE_OK)
            return store__fail(s, sqlite3_errcode(s->db), "update");
        rc = sqlite3_step(st);
        s->fwd_rows = rc == SQLITE_ROW && sqlite3_column_int(st, 0) ? 2 : 1;
        sqlite3_finalize(st);
    }
    if (s->fwd_rows != 2 || (!mask && !c->trace.p && !first)) return 0;
    /* is there one, is it final, does it keep usual lines as columns? */
    if (sqlite3_prepare_v2(s->db, "SELECT final, sent IS NOT NULL OR rcpt IS NOT NULL, via IS NOT NULL "
                           "FROM fwd WHERE key = ?1", -1, &st, NULL) != SQLITE_OK)
        return store__fail(s, sqlite3_errcode(s->db), "update");
    sqlite3_bind_int64(st, 1, c->key);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        final = sqlite3_column_int(st, 0);
        lines = sqlite3_column_int(st, 1);
        via = sqlite3_column_int(st, 2);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return rc == SQLITE_DONE ? 0 : store__fail(s, rc, "update");
    if (c->pending && final) {
        rest->mask = 0;
        rest->trace.p = NULL;
        return 0;
    }
    /* a column they are made of changes: they go before as text */
    if (via && first && (rc = store__fwd_accepted_out(s, c->key)) < 0) return rc;
    if (!mask && !c->trace.p) return 0;     /* the rest is the record's */
    if (lines && mask && (rc = store__fwd_lines_out(s, c->key)) < 0) return rc;
    n = (size_t)snprintf(sql, sizeof sql, "UPDATE fwd SET ");
    for (i = 0; i < STORE_NCOLS; i++)
        if (mask & (1u << i)) n += (size_t)snprintf(sql + n, sizeof sql - n, "%s%s = ?%d", p++ ? ", " : "",
                                                   store_cols[i].name, i + 1);
    if (mask & STORE_BIT(upstream_key))     /* the numbers it is found by */
        n += (size_t)snprintf(sql + n, sizeof sql - n, ", key_num = smppgw_key_num(?%d)", STORE_COL_upstream_key + 1);
    if (mask & STORE_BIT(upstream))
        n += (size_t)snprintf(sql + n, sizeof sql - n, ", q = smppgw_key_num(?%d)", STORE_COL_upstream + 1);
    if (c->trace.p)
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s" FWD_TRACE_NEW, p ? ", " : "", STORE_TRACE_MAX);
    snprintf(sql + n, sizeof sql - n, " WHERE key = :key");
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store__fail(s, sqlite3_errcode(s->db), "update");
    for (i = 0; i < STORE_NCOLS; i++)
        if (mask & (1u << i)) store__bind_col(st, i + 1, i, &c->v);
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":key"), c->key);
    if (c->trace.p) {
        line = sqlite3_mprintf("%.3f %.*s\n", c->at, (int)c->trace.n, c->trace.p);
        if (!line) {
            sqlite3_finalize(st);
            return store__err(s, STORE_ENOMEM, "update: no memory");
        }
        sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":line"), line, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":room"),
                           (long long)STORE_TRACE_MAX - (long long)strlen(line));
    }
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    sqlite3_free(line);
    if (rc != SQLITE_DONE) return store__fail(s, rc, "update");
    rest->mask &= ~STORE_FWD_MASK;
    rest->trace.p = NULL;
    return 1;
}
