/* store_fwd_park.c -- parked rows of the gateway's forward queues: a
 * message stored by a handler run that then waits stays in its queue with
 * due STORE_FWD_PARKED (never taken, never swept) until the run ends
 * (rt_gw_held.c: put back, or ended), and a start puts back what a stop or
 * a crash left parked. Rare, so each statement is prepared at its use.
 * See store.h, "Forward queues".
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "store_int.h"

/* The slot of rowid among the queue rows waiting to be inserted, or -1. */
static int fwd_waiting(store_t *s, long long rowid)
{
    int i;
    for (i = s->fwd_wait.n - 1; i >= 0; i--)
        if (s->fwd_wait.key[i] == rowid) return i;
    return -1;
}

/* Run sql (?1 rowid, ?2 due, ?3 STORE_FWD_PARKED): 1 changed, 0 not, or
 * an error. */
static int fwd_set_due(store_t *s, const char *sql, long long rowid, double due, const char *what)
{
    sqlite3_stmt *st;
    int rc;
    if ((rc = store__begin(s)) < 0) return rc;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store__fail(s, sqlite3_errcode(s->db), what);
    sqlite3_bind_int64(st, 1, rowid);
    sqlite3_bind_double(st, 2, due);
    sqlite3_bind_double(st, 3, STORE_FWD_PARKED);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return store__fail(s, rc, what);
    if (!(rc = sqlite3_changes(s->db) > 0)) return 0;
    store__wrote(s);
    return 1;
}

int store_fwd_park(store_t *s, long long rowid)
{
    int i = fwd_waiting(s, rowid);
    if (i >= 0) {
        s->fwd_wait.due[i] = STORE_FWD_PARKED;
        return 1;
    }
    return fwd_set_due(s, "UPDATE fwd SET due = ?3 WHERE key = ?1 AND due < ?3 AND final = 0", rowid, 0,
                       "fwd_park");
}

int store_fwd_unpark(store_t *s, long long rowid, double due)
{
    int i = fwd_waiting(s, rowid);
    if (isnan(due) || due >= STORE_FWD_PARKED) return store__err(s, STORE_EARG, "fwd_unpark: a due is required");
    if (i >= 0) {
        if (s->fwd_wait.due[i] < STORE_FWD_PARKED) return 0;
        s->fwd_wait.due[i] = due;
        return 1;
    }
    return fwd_set_due(s, "UPDATE fwd SET due = ?2 WHERE key = ?1 AND due >= ?3", rowid, due, "fwd_unpark");
}

long long store_fwd_unpark_all(store_t *s, store_str_t upstream, double due, double now, store_str_t line)
{
    sqlite3_stmt *st;
    char sql[512], text[STORE_LINE_MAX];
    size_t n;
    int rc;
    if (!upstream.p || isnan(due) || due >= STORE_FWD_PARKED || line.n > sizeof text - STORE_STAMP_MAX - 2)
        return store__err(s, STORE_EARG, "fwd_unpark_all: an upstream, a due and a short line are required");
    if ((rc = store__flush(s)) < 0 || (rc = store__begin(s)) < 0) return rc;
    /* (q, due >= ...): the queue index, parked rows at its end;
     * by name, all of them (a numbered one after :line would share its
     * index) */
    snprintf(sql, sizeof sql, "UPDATE fwd SET due = :due, " FWD_TRACE_NEW " WHERE q = :q AND upstream = :up "
             "AND due >= :parked", STORE_TRACE_MAX);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store__fail(s, sqlite3_errcode(s->db), "fwd_unpark_all");
    n = store_stamp(text, now);
    memcpy(text + n, line.p, line.n);
    text[n + line.n] = '\n';
    n += line.n + 1;
    store__bind_text(st, sqlite3_bind_parameter_index(st, ":up"), upstream);
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":q"), store__key_num(s, upstream));
    sqlite3_bind_double(st, sqlite3_bind_parameter_index(st, ":due"), due);
    sqlite3_bind_double(st, sqlite3_bind_parameter_index(st, ":parked"), STORE_FWD_PARKED);
    sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":line"), text, (int)n, SQLITE_STATIC);
    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":room"), (long long)STORE_TRACE_MAX - (long long)n);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return store__fail(s, rc, "fwd_unpark_all");
    if (sqlite3_changes(s->db) > 0) store__wrote(s);
    return sqlite3_changes(s->db);
}
