/* store_put.c -- putting messages: keys, keep_until, room
 * made by eviction, INSERT statements by the set of columns a row holds,
 * and the rows that wait to be inserted together (store_waiting_t).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "store_int.h"

/* -- What the store computes ------------------------------------------------ */

static double keep_until(const store_t *s, int final, double done, double expires, double submitted)
{
    double t = submitted;
    if (final) return (isnan(done) ? submitted : done) + s->o.trace_ttl;
    if (!isnan(done) && done > t) t = done;
    if (!isnan(expires) && expires > t) t = expires;
    return t + s->o.trace_ttl;
}

/* The columns of m that hold a value (a string, a time, an integer other
 * than its default 0: lasting 0 too, its default), with those the store
 * computes; *octets gets the length of its strings, and the name of one
 * longer than STORE_VALUE_MAX goes to *big. Written out column by column
 * from store_msg.def: it runs per put. */
#define SET_TEXT(name) \
    if (m->name.p) { \
        if (m->name.n > STORE_VALUE_MAX) *big = #name; \
        total += m->name.n; \
        mask |= STORE_BIT(name); \
    }
#define SET_BLOB(name) SET_TEXT(name)
#define SET_REAL(name) if (!isnan(m->name)) mask |= STORE_BIT(name);
#define SET_INT(name)  if (m->name != 0) mask |= STORE_BIT(name);
static unsigned set_columns(const store_msg_t *m, size_t *octets, const char **big)
{
    unsigned mask = STORE_BIT(key) | STORE_BIT(submitted) | STORE_BIT(keep_until);
    size_t total = 0;
#define COL(name, kind, flags, ddl) SET_##kind(name)
#include "store_msg.def"
#undef COL
    *octets = total;
    return mask;
}

/* Bind column i of m, which holds a value (set_columns), to param. */
static void bind_set(sqlite3_stmt *st, int param, int i, const store_msg_t *m)
{
    const char *f = (const char *)m + store_cols[i].offset;
    switch (store_cols[i].kind) {
    case STORE_TEXT:
        sqlite3_bind_text(st, param, ((const store_str_t *)f)->p, (int)((const store_str_t *)f)->n, SQLITE_STATIC);
        break;
    case STORE_BLOB:
        sqlite3_bind_blob(st, param, ((const store_str_t *)f)->p, (int)((const store_str_t *)f)->n, SQLITE_STATIC);
        break;
    case STORE_REAL: sqlite3_bind_double(st, param, *(const double *)f); break;
    case STORE_INT:
        sqlite3_bind_int64(st, param, (store_cols[i].flags & STORE_CF_BOOL) ? 1 : *(const long long *)f);
        break;
    }
}

/* -- Statements -------------------------------------------------------------- */

/* The INSERT of `rows` rows of the columns in mask (the others take their
 * defaults: binding and storing fewer values is much of a lean row's
 * cost), prepared once per shape and kept with the update statements;
 * parameter r * STORE_NCOLS + i + 1 is column i of row r. With `follow`,
 * the rows after the first name no key (NULL): SQLite gives each the
 * table's last key + 1 from the end of the table it just wrote, where a
 * key given must first be looked for from the table's root (about 900
 * instructions a row); see insert(). */
static sqlite3_stmt *insert_stmt(store_t *s, unsigned mask, int rows, int follow)
{
    unsigned long long key = mask | 1ull << 37 | (unsigned long long)follow << 39 | (unsigned long long)rows << 40;
    char sql[16384];
    size_t n, v;
    int i, r, slot = -1, rc;
    sqlite3_stmt *st;
    for (i = 0; i < STORE_UPD_CACHE; i++) {
        if (s->upd[i].key == key) return s->upd[i].st;
        if (slot < 0 && s->upd[i].key == 0) slot = i;
    }
    n = (size_t)snprintf(sql, sizeof sql, "INSERT INTO messages (");
    for (i = 0, v = 0; i < STORE_NCOLS; i++) {
        if (!(mask & (1u << i))) continue;
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s%s", v++ ? ", " : "", store_cols[i].name);
    }
    n += (size_t)snprintf(sql + n, sizeof sql - n, ") VALUES ");
    for (r = 0; r < rows; r++) {
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s(", r ? ", " : "");
        for (i = 0, v = 0; i < STORE_NCOLS; i++) {
            if (!(mask & (1u << i))) continue;
            if (follow && r > 0 && i == STORE_COL_key)
                n += (size_t)snprintf(sql + n, sizeof sql - n, "%sNULL", v++ ? ", " : "");
            else
                n += (size_t)snprintf(sql + n, sizeof sql - n, "%s?%d", v++ ? ", " : "", r * STORE_NCOLS + i + 1);
        }
        n += (size_t)snprintf(sql + n, sizeof sql - n, ")");
    }
    rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        store__fail(s, rc, "put");
        return NULL;
    }
    if (slot < 0) {
        slot = (int)(s->upd_next++ % STORE_UPD_CACHE);
        sqlite3_finalize(s->upd[slot].st);
    }
    s->upd[slot].key = key;
    s->upd[slot].st = st;
    return st;
}

/* Do the keys of rows[0 .. n-1] follow one another (k, k + 1, ...)? */
static int keys_follow(const store_msg_t *rows, int n)
{
    int r;
    for (r = 1; r < n; r++)
        if (rows[r].key != rows[0].key + r) return 0;
    return n > 1;
}

/* Insert rows[0 .. n-1] (n at most STORE_PUT_BATCH), all of mask. Keys
 * that follow one another, the usual (consecutive puts), go in as the
 * first row's key and then the table's last key + 1 each: the same keys
 * while the first row's is the highest in the table, which the key
 * counter sees to (it starts above every key in the file). Should
 * another writer of the file have put a higher one, the rows would get
 * other keys than their callers were given: the last row's key tells,
 * and the rows' turn is then lost (flush_rows), never stored under keys
 * that name other messages. */
static int insert(store_t *s, unsigned mask, const store_msg_t *rows, int n)
{
    int follow = !s->keys_named && keys_follow(rows, n);
    sqlite3_stmt *st = insert_stmt(s, mask, n, follow);
    int i, r, rc;
    if (!st) return STORE_EIO;
    sqlite3_reset(st);
    for (r = 0; r < n; r++) {
        unsigned left = follow && r > 0 ? mask & ~STORE_BIT(key) : mask;
        for (; left; left &= left - 1) {
            i = __builtin_ctz(left);
            bind_set(st, r * STORE_NCOLS + i + 1, i, &rows[r]);
        }
    }
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return store__fail(s, rc, "put");
    if (follow && sqlite3_last_insert_rowid(s->db) != rows[n - 1].key)
        return store__err(s, STORE_EIO, "put: keys %lld .. %lld went in as others (a higher key in the file)",
                          rows[0].key, rows[n - 1].key);
    return 0;
}

/* -- Rows that wait ------------------------------------------------------------ */

/* A copy of m (its strings `octets` long) among the waiting rows, its
 * strings in the row's room. Returns 0, or -1 when they do not fit (the
 * caller inserts it alone). */
static int wait_row(store_t *s, const store_msg_t *m, unsigned mask, size_t octets)
{
    store_waiting_t *w = &s->waiting;
    store_msg_t *copy = &w->rows[w->n];
    char *room = w->strings[w->n];
    size_t used = 0;
    if (octets > STORE_PUT_ROOM) return -1;
    *copy = *m;
#define ROOM_TEXT(name) \
    if (copy->name.p) { \
        memcpy(room + used, copy->name.p, copy->name.n); \
        copy->name.p = room + used; \
        used += copy->name.n; \
    }
#define ROOM_BLOB(name) ROOM_TEXT(name)
#define ROOM_REAL(name)
#define ROOM_INT(name)
#define COL(name, kind, flags, ddl) ROOM_##kind(name)
#include "store_msg.def"
#undef COL
    w->mask = mask;
    w->n++;
    return 0;
}

/* After rows went in under keys other than theirs (insert: a higher key
 * in the file than the counter's, another writer's), every later row
 * names its key, as before this store took SQLite's last key + 1: the
 * counter's keys stay the rows' whatever the file's highest key is (up to
 * the largest, where SQLite's would be taken at random). */
static void keys_past_file(store_t *s)
{
    s->keys_named = 1;
}

/* The rows of messages that wait, alone. */
static int flush_rows(store_t *s)
{
    store_waiting_t *w = &s->waiting;
    int rc = 0, i, k;
    if (!w->n) return 0;
    /* the turn's last rows (fewer than a batch) in statements of 16, 8,
     * 4, 2 and 1 rows: each statement costs about what storing a row
     * does, and each shape is prepared once */
    for (i = 0; i < w->n && rc == 0; i += k) {
        k = STORE_PUT_BATCH;
        while (k > w->n - i) k >>= 1;
        rc = insert(s, w->mask, &w->rows[i], k);
    }
    w->n = 0;
    if (rc < 0) {
        /* rows whose puts succeeded are not in the table: the whole turn
         * is lost and reported so (store_commit), never half of it */
        char why[sizeof s->errmsg];
        int full = store__temporary(sqlite3_errcode(s->db));
        snprintf(why, sizeof why, "%s", store_errmsg(s));
        if (s->in_txn) {                  /* SQLite has not rolled it back itself */
            sqlite3_step(store__stmt(s, STORE_ST_ROLLBACK));
            sqlite3_reset(s->st[STORE_ST_ROLLBACK]);
            store__lost(s, why, full);
        }
        keys_past_file(s);
        return store__err(s, full ? STORE_EFULL : STORE_EIO, "%s", why);
    }
    return 0;
}

int store__flush(store_t *s)
{
    int rc = flush_rows(s);
    if (rc < 0) return rc;
    return s->fwd_wait.n ? store__fwd_flush(s) : 0;     /* and the forward queue rows */
}

void store__unput(store_t *s)
{
    s->waiting.n = 0;
    s->fwd_wait.n = 0;
}

/* -- Eviction ---------------------------------------------------------------- */

/* Room for one more message: drop the oldest final one with nothing due
 * (those in key order first, looking at a few keys past the expiry walk;
 * then the lasting ones by keep_until; then a gateway's message final in
 * its fwd row, among the 64 oldest). Returns 0 or an error. */
static int evict(store_t *s)
{
    sqlite3_stmt *st;
    long long key = 0;
    int rc;
    if ((rc = store__flush(s)) < 0) return rc;
    st = store__stmt(s, STORE_ST_MSG_EVICT_OLD);
    sqlite3_bind_int64(st, 1, s->swept);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) key = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        st = store__stmt(s, STORE_ST_MSG_EVICT_LASTING);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) key = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    if (rc == SQLITE_DONE) {              /* a gateway's message, final in its fwd row (store_int.h) */
        st = store__stmt(s, STORE_ST_MSG_EVICT_FWD);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) key = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return store__fail(s, rc, "put");
    if (!key)
        return store__err(s, STORE_EFULL, "messages: %lld stored, none final with nothing due (limits.messages)",
                          s->n_messages);
    st = store__stmt(s, STORE_ST_MSG_DELETE);
    sqlite3_bind_int64(st, 1, key);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return store__fail(s, rc, "put");
    s->n_messages--;
    s->evicted++;
    return 0;
}

/* -- Room ---------------------------------------------------------------------- */

/* With limits.size_mb: is the file past its soft limit (soft_pages, its
 * pages in use: the free list is room)? Counted once per transaction and
 * every STORE_PUT_BATCH puts in it. A new message is then refused "full"
 * (and so are receipts for the outbox and early ones: store_queue.c)
 * while what is written for those stored (answers, retries, expiry, the
 * queue's rows) still has room: a full store drains on its own. */
int store__room_short(store_t *s)
{
    long long pages = 0, unused = 0;
    sqlite3_stmt *st;
    if (s->soft_pages <= 0) return 0;
    if (s->room_at == s->commits && ++s->room_puts < STORE_PUT_BATCH) return s->room_short;
    s->room_at = s->commits;
    s->room_puts = 0;
    st = store__stmt(s, STORE_ST_PAGES);
    if (sqlite3_step(st) == SQLITE_ROW) pages = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    st = store__stmt(s, STORE_ST_FREE_PAGES);
    if (sqlite3_step(st) == SQLITE_ROW) unused = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    s->room_short = pages - unused >= s->soft_pages;
    return s->room_short;
}

/* -- Put ---------------------------------------------------------------------- */

long long store_put(store_t *s, const store_msg_t *m)
{
    store_msg_t row;
    long long key;
    unsigned mask;
    size_t octets;
    int rc;
    const char *big = NULL;
    if (isnan(m->submitted)) return store__err(s, STORE_EARG, "put: submitted is required");
    if (m->id.p && m->id.n == 0) return store__err(s, STORE_EARG, "put: an id cannot be empty");
    row = *m;
    row.keep_until = keep_until(s, m->final != 0, m->done, m->expires, m->submitted);
    row.lasting = 0;            /* the expiry walk's to set, for rows that really outlive the key order */
    mask = set_columns(&row, &octets, &big);
    if (big) return store__err(s, STORE_EARG, "put: %s is longer than %d octets", big, STORE_VALUE_MAX);
    if ((rc = store__begin(s)) < 0) return rc;
    if (store__room_short(s))
        return store__err(s, STORE_EFULL, "put: the file is at its soft limit (limits.size_mb %lld MiB less "
                          "%lld KiB kept for answers and expiry)", s->o.max_bytes >> 20,
                          (s->o.max_bytes / s->page_size - s->soft_pages) * s->page_size >> 10);
    if (s->n_messages >= s->o.max_messages && (rc = evict(s)) < 0) return rc;
    /* a new block of keys rides in this transaction (ctr_next): no early commit */
    if ((rc = store__next_key(s, &row.key)) < 0) return rc;
    key = row.key;
    if (s->waiting.n && s->waiting.mask != mask && (rc = flush_rows(s)) < 0) return rc;
    if (row.id.p || wait_row(s, &row, mask, octets) < 0) {
        /* a text id may exist already: inserted now, to answer so */
        if ((rc = store__flush(s)) < 0) return rc;
        if ((rc = insert(s, mask, &row, 1)) < 0) {
            if (rc == STORE_EEXISTS)
                store__err(s, rc, "put: message %.*s part %lld exists", (int)m->id.n, m->id.p, m->part);
            return rc;
        }
    } else if (s->waiting.n == STORE_PUT_BATCH && (rc = flush_rows(s)) < 0) {
        return rc;
    }
    s->n_messages++;
    store__wrote(s);
    return key;
}

int store_remove(store_t *s, long long key)
{
    sqlite3_stmt *st;
    int rc;
    if ((rc = store__flush(s)) < 0) return rc;       /* a row put this turn may still wait */
    if ((rc = store__begin(s)) < 0) return rc;
    st = store__stmt(s, STORE_ST_MSG_DELETE);
    sqlite3_bind_int64(st, 1, key);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return store__fail(s, rc, "remove");
    if (sqlite3_changes(s->db) == 0) return 0;
    s->n_messages--;
    store__wrote(s);
    return 1;
}

void store__put_free(store_t *s)
{
    s->waiting.n = 0;
    s->fwd_wait.n = 0;
}
