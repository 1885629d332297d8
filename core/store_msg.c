/* store_msg.c -- the messages table: records, get, update (statements
 * cached by the set of columns they change), the lookups that have an
 * index each (or walk the keys), and the messages' part of expiry. Putting
 * messages is in store_put.c.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define TRACE_MAX STORE_TRACE_MAX

/* parameters of update statements after the columns' own ?1 .. ?NCOLS */
enum { P_ID = 41, P_PART, P_TRACE, P_TTL, P_KEY };

const store_col_t store_cols[STORE_NCOLS] = {
#define COL(name, kind, flags, ddl) { #name, STORE_##kind, STORE_CF_##flags, offsetof(store_msg_t, name) },
#include "store_msg.def"
#undef COL
};

/* -- Rows <-> records -------------------------------------------------------- */

static store_str_t get_TEXT(sqlite3_stmt *st, int i) { return store__col_text(st, i); }
static store_str_t get_BLOB(sqlite3_stmt *st, int i) { return store__col_blob(st, i); }
static long long get_INT(sqlite3_stmt *st, int i) { return sqlite3_column_int64(st, i); }
static double get_REAL(sqlite3_stmt *st, int i) { return store__col_real(st, i); }

/* A row whose first columns are those of store_msg.def. */
static void row(store_t *s, sqlite3_stmt *st, store_msg_t *m)
{
#define COL(name, kind, flags, ddl) m->name = get_##kind(st, STORE_COL_##name);
#include "store_msg.def"
#undef COL
    store__row_id(s, m);
    if (m->upstream.p) store__fwd_overlay(s, m);
}

/* -- Ids made from keys ------------------------------------------------------- */

void store__row_id(store_t *s, store_msg_t *m)
{
    int n;
    if (m->id.p || m->id_format <= 0) return;
    n = msgid_keyed_make((int)m->id_format, (unsigned long long)s->node_id,
                         (unsigned long long)(m->key - m->part), s->idbuf, sizeof s->idbuf);
    if (n > 0) {
        m->id.p = s->idbuf;
        m->id.n = (size_t)n;
    }
}

int store__keyed_id(const store_t *s, store_str_t id, long long *key, int *fmt)
{
    unsigned long long node, k;
    int f;
    if (!id.p) return 0;
    for (f = MSGID_KEYED_DECIMAL; f <= MSGID_KEYED_UUID; f++) {
        if (msgid_keyed_read(f, id.p, id.n, &node, &k) == 0 && node == (unsigned long long)s->node_id
            && k > 0 && k < (1ULL << 62)) {
            *key = (long long)k;
            *fmt = f;
            return 1;
        }
    }
    return 0;
}

/* Hands on the rows of one id made from a key: those of its format and
 * without a text id (another format's id, or a key stored under a text id,
 * is another message). */
typedef struct keyed_s {
    store_msg_fn fn;
    void        *ud;
    int          fmt, n;
    long long    part;          /* >= 0: that part only */
} keyed_t;

static int keyed_row(const store_msg_t *m, void *ud)
{
    keyed_t *k = ud;
    if (m->id_format != k->fmt || (k->part >= 0 && m->part != k->part)) return 1;
    k->n++;
    return k->fn ? k->fn(m, k->ud) : 0;
}

/* The empty record, written out from store_msg.def (NaN: a constant
 * expression of the compiler's): a copy clears a record, where a walk
 * of the column table cost every put some 340 instructions. */
#define EMPTY_TEXT { NULL, 0 }
#define EMPTY_BLOB { NULL, 0 }
#define EMPTY_INT  0
#define EMPTY_REAL NAN
static const store_msg_t empty_msg = {
#define COL(name, kind, flags, ddl) EMPTY_##kind,
#include "store_msg.def"
#undef COL
};

void store_msg_clear(store_msg_t *m)
{
    *m = empty_msg;
}

void store__bind_col(sqlite3_stmt *st, int param, int i, const store_msg_t *m)
{
    const char *f = (const char *)m + store_cols[i].offset;
    switch (store_cols[i].kind) {
    case STORE_TEXT: store__bind_text(st, param, *(const store_str_t *)f); break;
    case STORE_BLOB: store__bind_blob(st, param, *(const store_str_t *)f); break;
    case STORE_REAL: store__bind_real(st, param, *(const double *)f); break;
    case STORE_INT: {
        long long v = *(const long long *)f;
        sqlite3_bind_int64(st, param, (store_cols[i].flags & STORE_CF_BOOL) ? v != 0 : v);
        break;
    }
    }
}

const char *store__too_long(const store_msg_t *m, unsigned mask)
{
    int i;
    for (i = 0; i < STORE_NCOLS; i++) {
        const store_col_t *c = &store_cols[i];
        if ((c->kind == STORE_TEXT || c->kind == STORE_BLOB) && (!mask || (mask & (1u << i))) &&
            ((const store_str_t *)((const char *)m + c->offset))->n > STORE_VALUE_MAX)
            return c->name;
    }
    return NULL;
}

/* Step a SELECT of messages, handing each row to fn. Returns the count. */
static int each(store_t *s, sqlite3_stmt *st, store_msg_fn fn, void *ud, const char *what)
{
    store_msg_t m;
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row(s, st, &m);
        n++;
        if (fn && fn(&m, ud)) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) rc = store__fail(s, rc, what);
    else rc = n;
    sqlite3_reset(st);
    return rc;
}

/* -- Lookups -------------------------------------------------------------------------- */

int store_get(store_t *s, store_str_t id, long long part, store_msg_fn fn, void *ud)
{
    int flushed = store__flush(s);        /* rows put before are read too */
    long long key;
    keyed_t k;
    if (flushed < 0) return flushed;
    if (part >= 0 && store__keyed_id(s, id, &key, &k.fmt)) {
        int rc;
        k.fn = fn;
        k.ud = ud;
        k.n = 0;
        k.part = part;
        if ((rc = store_get_key(s, key + part, keyed_row, &k)) < 0) return rc;
        if (k.n) return k.n;
    }
    sqlite3_stmt *st = store__stmt(s, STORE_ST_MSG_GET);
    store__bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, part);
    return each(s, st, fn, ud, "get");
}

int store_get_key(store_t *s, long long key, store_msg_fn fn, void *ud)
{
    int flushed = store__flush(s);        /* rows put before are read too */
    if (flushed < 0) return flushed;
    sqlite3_stmt *st = store__stmt(s, STORE_ST_MSG_GET_KEY);
    sqlite3_bind_int64(st, 1, key);
    return each(s, st, fn, ud, "get");
}

int store_parts(store_t *s, store_str_t id, store_msg_fn fn, void *ud)
{
    int flushed = store__flush(s);        /* rows put before are read too */
    long long key;
    keyed_t k;
    if (flushed < 0) return flushed;
    if (store__keyed_id(s, id, &key, &k.fmt)) {
        int rc;
        k.fn = fn;
        k.ud = ud;
        k.n = 0;
        k.part = -1;
        if ((rc = store_parts_key(s, key, keyed_row, &k)) < 0) return rc;
        if (k.n) return k.n;
    }
    sqlite3_stmt *st = store__stmt(s, STORE_ST_MSG_PARTS);
    store__bind_text(st, 1, id);
    return each(s, st, fn, ud, "parts");
}

int store_parts_key(store_t *s, long long key, store_msg_fn fn, void *ud)
{
    int flushed = store__flush(s);        /* rows put before are read too */
    if (flushed < 0) return flushed;
    sqlite3_stmt *st = store__stmt(s, STORE_ST_MSG_PARTS_KEY);
    store_msg_t m;
    int rc, n = 0;
    sqlite3_bind_int64(st, 1, key);
    sqlite3_bind_int(st, 2, STORE_BATCH_MAX);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row(s, st, &m);
        if (m.part != n || m.key != key + n) break;     /* the next message */
        n++;
        if (fn && fn(&m, ud)) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) n = store__fail(s, rc, "parts");
    sqlite3_reset(st);
    return n;
}

int store_by_upstream(store_t *s, store_str_t upstream, store_str_t key, store_msg_fn fn, void *ud)
{
    int flushed = store__flush(s);        /* rows put before are read too */
    if (flushed < 0) return flushed;
    sqlite3_stmt *st = store__stmt(s, STORE_ST_MSG_BY_KEY);
    store__bind_text(st, 1, upstream);
    store__bind_text(st, 2, key);
    return each(s, st, fn, ud, "by_upstream");
}

int store_find(store_t *s, const store_find_t *q, store_msg_fn fn, void *ud)
{
    int flushed = store__flush(s);        /* rows put before are read too */
    if (flushed < 0) return flushed;
    sqlite3_stmt *st;
    if (!q->account.p || !q->source.p || !q->dest.p)
        return store__err(s, STORE_EARG, "find: account, source and dest are required");
    if (q->limit < 0 || q->limit > STORE_BATCH_MAX)
        return store__err(s, STORE_EARG, "find: limit must be 0..%d", STORE_BATCH_MAX);
    st = store__stmt(s, STORE_ST_MSG_FIND);
    store__bind_text(st, 1, q->account);
    store__bind_text(st, 2, q->dest);
    store__bind_text(st, 3, q->source);
    store__bind_text(st, 4, q->service_type);
    sqlite3_bind_int(st, 5, q->limit);
    return each(s, st, fn, ud, "find");
}

static int same(sqlite3_stmt *st, int i, store_str_t v)
{
    store_str_t c = store__col_text(st, i);
    return c.p && c.n == v.n && memcmp(c.p, v.p, v.n) == 0;
}

/* Hands a row on to the caller's fn, remembering whether it asked to stop. */
typedef struct relay_s {
    store_msg_fn fn;
    void        *ud;
    int          stop;
} relay_t;

static int relay(const store_msg_t *m, void *ud)
{
    relay_t *r = ud;
    if (r->fn && r->fn(m, r->ud)) r->stop = 1;
    return 1;
}

int store_recent(store_t *s, const store_recent_t *q, store_msg_fn fn, void *ud)
{
    int flushed = store__flush(s);        /* rows put before are read too */
    if (flushed < 0) return flushed;
    sqlite3_stmt *st;
    relay_t r;
    int rc, n = 0;
    if (!q->account.p || !q->source.p || !q->dest.p || isnan(q->since))
        return store__err(s, STORE_EARG, "recent: account, source, dest and since are required");
    if (q->limit < 0 || q->limit > STORE_BATCH_MAX)
        return store__err(s, STORE_EARG, "recent: limit must be 0..%d", STORE_BATCH_MAX);
    if (q->limit == 0) return 0;
    r.fn = fn;
    r.ud = ud;
    r.stop = 0;
    /* a narrow row per key; the whole record only for those that match */
    st = store__stmt(s, STORE_ST_MSG_RECENT);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int got;
        if (sqlite3_column_double(st, 1) < q->since) break;
        if (!same(st, 2, q->account) || !same(st, 3, q->source) || !same(st, 4, q->dest)) continue;
        if (q->service_type.p && !same(st, 5, q->service_type)) continue;
        if ((got = store_get_key(s, sqlite3_column_int64(st, 0), relay, &r)) < 0) {
            sqlite3_reset(st);
            return got;
        }
        n += got;
        if (r.stop || n >= q->limit) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) n = store__fail(s, rc, "recent");
    sqlite3_reset(st);
    return n;
}

/* The first key at or after `key`, with its submission time; 0 past the
 * last row. */
static int key_at(store_t *s, long long key, long long *found, double *submitted)
{
    sqlite3_stmt *st = store__stmt(s, STORE_ST_MSG_AT);
    int rc;
    sqlite3_bind_int64(st, 1, key);
    rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    *submitted = rc == SQLITE_ROW ? sqlite3_column_double(st, 1) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store__fail(s, rc, "list");
}

/* The last key before the first row submitted at `t` or later (bisection
 * over the keys: submission times grow with them). */
static int key_before(store_t *s, double t, long long *out)
{
    long long lo = 0, hi, k;
    double at;
    int rc;
    if ((rc = key_at(s, 1, &k, &at)) < 0) return rc;
    if (!k || at >= t) {
        *out = 0;
        return 0;
    }
    lo = k;                                      /* a row before t */
    hi = s->ctrs[s->key_ctr].cur;                /* above every key */
    while (hi - lo > 1) {
        long long mid = lo + (hi - lo) / 2;
        if ((rc = key_at(s, mid, &k, &at)) < 0) return rc;
        if (!k || at >= t) hi = mid;
        else lo = k;                             /* the row found is before t */
    }
    *out = lo;
    return 0;
}

int store_list(store_t *s, const store_list_t *q, store_msg_fn fn, void *ud, long long *next)
{
    int flushed = store__flush(s);        /* rows put before are read too */
    if (flushed < 0) return flushed;
    sqlite3_stmt *st;
    relay_t r;
    long long from = q->after, last = 0;
    double since = isnan(q->since) ? -HUGE_VAL : q->since, until = isnan(q->until) ? HUGE_VAL : q->until;
    int rc, n = 0, seen = 0, scan = q->scan > 0 ? q->scan : STORE_LIST_SCAN;
    *next = 0;
    if (!q->account.p) return store__err(s, STORE_EARG, "list: account is required");
    if (q->limit < 0 || q->limit > STORE_BATCH_MAX)
        return store__err(s, STORE_EARG, "list: limit must be 0..%d", STORE_BATCH_MAX);
    if (q->limit == 0) return 0;
    if (from <= 0 && since > -HUGE_VAL && (rc = key_before(s, since - STORE_ORDER_SLACK, &from)) < 0) return rc;
    r.fn = fn;
    r.ud = ud;
    r.stop = 0;
    /* a narrow row per key; the whole record only for those that match */
    st = store__stmt(s, STORE_ST_MSG_WALK);
    sqlite3_bind_int64(st, 1, from > 0 ? from : 0);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        double at = sqlite3_column_double(st, 1);
        int got;
        last = sqlite3_column_int64(st, 0);
        if (at >= until + STORE_ORDER_SLACK) break;
        if (++seen > scan) {
            *next = last - 1;                      /* this row not looked at yet */
            break;
        }
        if (at < since || at >= until || !same(st, 2, q->account)) continue;
        if (q->state >= 0 && sqlite3_column_int(st, 3) != q->state) continue;
        if ((got = store_get_key(s, last, relay, &r)) < 0) {
            sqlite3_reset(st);
            return got;
        }
        n += got;
        if (r.stop) break;
        if (n >= q->limit) {
            *next = last;                          /* more may follow */
            break;
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) n = store__fail(s, rc, "list");
    sqlite3_reset(st);
    return n;
}

enum { DUE_LOOK, DUE_LEASE, DUE_TAKE };

/* store_due and store_take_due: the rows, then (lease, take) their new due. */
static int due_rows(store_t *s, double now, int limit, store_str_t upstream, int mode, double lease,
                    store_msg_fn fn, void *ud)
{
    int flushed = store__flush(s);        /* rows put before are read too */
    if (flushed < 0) return flushed;
    sqlite3_stmt *st;
    store_msg_t m;
    int rc, i, n = 0;
    if (limit < 0 || limit > STORE_BATCH_MAX)
        return store__err(s, STORE_EARG, "due: limit must be 0..%d", STORE_BATCH_MAX);
    if (limit == 0) return 0;
    if (mode != DUE_LOOK && (rc = store__rowids(s, (size_t)limit)) < 0) return rc;
    st = store__stmt(s, upstream.p ? STORE_ST_MSG_DUE_UP : STORE_ST_MSG_DUE);
    sqlite3_bind_double(st, 1, now);
    sqlite3_bind_int(st, 2, limit);
    if (upstream.p) store__bind_text(st, 3, upstream);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row(s, st, &m);
        if (mode != DUE_LOOK) s->rowids[n] = m.key;
        if (mode == DUE_LEASE) m.due = now + lease;
        n++;
        if (fn && fn(&m, ud)) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        rc = store__fail(s, rc, "due");
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    if (mode == DUE_LOOK || n == 0) return n;
    /* second pass: changing due while stepping the due index would let
     * the scan meet the same rows again */
    if ((rc = store__begin(s)) < 0) return rc;
    st = s->st[STORE_ST_MSG_LEASE];
    for (i = 0; i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, s->rowids[i]);
        if (mode == DUE_LEASE) sqlite3_bind_double(st, 2, now + lease);
        else sqlite3_bind_null(st, 2);
        if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
            rc = store__fail(s, rc, "due");
            sqlite3_reset(st);
            return rc;
        }
    }
    sqlite3_reset(st);
    store__wrote(s);
    return n;
}

int store_due(store_t *s, double now, int limit, store_str_t upstream, double lease,
              store_msg_fn fn, void *ud)
{
    return due_rows(s, now, limit, upstream, isnan(lease) ? DUE_LOOK : DUE_LEASE, lease, fn, ud);
}

int store_take_due(store_t *s, double now, int limit, store_str_t upstream, store_msg_fn fn, void *ud)
{
    return due_rows(s, now, limit, upstream, DUE_TAKE, NAN, fn, ud);
}

int store_next_due(store_t *s, store_str_t upstream, double *out)
{
    int flushed = store__flush(s);        /* rows put before are read too */
    if (flushed < 0) return flushed;
    sqlite3_stmt *st = store__stmt(s, upstream.p ? STORE_ST_MSG_NEXT_DUE_UP : STORE_ST_MSG_NEXT_DUE);
    int rc;
    if (upstream.p) store__bind_text(st, 1, upstream);
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? store__col_real(st, 0) : NAN;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store__fail(s, rc, "next_due");
}

/* -- Update --------------------------------------------------------------------------- */

/* "?N" for a column the change sets, else the column's own name. */
static const char *val(char *buf, size_t n, unsigned mask, int col)
{
    if (mask & (1u << col)) snprintf(buf, n, "?%d", col + 1);
    else snprintf(buf, n, "%s", store_cols[col].name);
    return buf;
}

/* The UPDATE for this set of columns and conditions, prepared once. */
static sqlite3_stmt *upd_stmt(store_t *s, unsigned mask, int part, int pending, int trace, int by_key, int *keep)
{
    unsigned long long key = mask | (unsigned long long)part << 32 | (unsigned long long)pending << 33 |
                             (unsigned long long)trace << 34 | (unsigned long long)by_key << 36 | 1ull << 35;
    unsigned keep_cols = STORE_BIT(final) | STORE_BIT(done) | STORE_BIT(expires) | STORE_BIT(submitted);
    char sql[2048], f[16], d[16], e[16], sub[16], keep_sql[512];
    size_t n;
    int i, slot = -1, rc;
    const char *sep = "";
    sqlite3_stmt *st;
    *keep = (mask & keep_cols) != 0;
    for (i = 0; i < STORE_UPD_CACHE; i++) {
        if (s->upd[i].key == key) return s->upd[i].st;
        if (slot < 0 && s->upd[i].key == 0) slot = i;
    }
    n = (size_t)snprintf(sql, sizeof sql, "UPDATE messages SET ");
    for (i = 0; i < STORE_NCOLS; i++) {
        if (!(mask & (1u << i))) continue;
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s%s = ?%d", sep, store_cols[i].name, i + 1);
        sep = ", ";
    }
    if (trace) {
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%strace = substr(coalesce(trace, '') || ?%d, -%d)",
                              sep, P_TRACE, TRACE_MAX);
        sep = ", ";
    }
    if (*keep) {
        /* keep_until follows the row's new values (see keep_until()); a
         * row it takes out of the key order is found by the expiry walk
         * (lasting is the walk's to set) */
        val(f, sizeof f, mask, STORE_COL_final);
        val(d, sizeof d, mask, STORE_COL_done);
        val(e, sizeof e, mask, STORE_COL_expires);
        val(sub, sizeof sub, mask, STORE_COL_submitted);
        snprintf(keep_sql, sizeof keep_sql, "(CASE WHEN %s THEN coalesce(%s, %s) "
                 "ELSE max(coalesce(%s, %s), coalesce(%s, %s), %s) END + ?%d)",
                 f, d, sub, d, sub, e, sub, sub, P_TTL);
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%skeep_until = %s", sep, keep_sql);
    }
    if (by_key) {
        n += (size_t)snprintf(sql + n, sizeof sql - n, " WHERE key = ?%d", P_KEY);
    } else {
        n += (size_t)snprintf(sql + n, sizeof sql - n, " WHERE id = ?%d", P_ID);
        if (part) n += (size_t)snprintf(sql + n, sizeof sql - n, " AND part = ?%d", P_PART);
    }
    if (pending) snprintf(sql + n, sizeof sql - n, " AND final = 0");
    rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        store__fail(s, rc, "update");
        return NULL;
    }
    if (slot < 0) {                 /* full: replace the slots in turn */
        slot = (int)(s->upd_next++ % STORE_UPD_CACHE);
        sqlite3_finalize(s->upd[slot].st);
    }
    s->upd[slot].key = key;
    s->upd[slot].st = st;
    return st;
}

void store__upd_free(store_t *s)
{
    int i;
    for (i = 0; i < STORE_UPD_CACHE; i++) {
        sqlite3_finalize(s->upd[i].st);
        s->upd[i].st = NULL;
        s->upd[i].key = 0;
    }
}

/* The keys of the rows an update by an id made from a key changes. */
typedef struct keys_s {
    store_t *s;
    size_t   n;
} keys_t;

static int add_key(const store_msg_t *m, void *ud)
{
    keys_t *k = ud;
    if (k->n < k->s->rowids_cap) k->s->rowids[k->n++] = m->key;
    return 0;
}

int store_update(store_t *s, store_str_t id, const store_change_t *c)
{
    int flushed = store__flush(s);        /* rows put before are read too */
    if (flushed < 0) return flushed;
    unsigned fixed = 0;
    sqlite3_stmt *st;
    int i, rc, keep, n, fmt, written = 0;
    long long key;
    if (c->key <= 0 && store__keyed_id(s, id, &key, &fmt)) {
        /* an id made from a key: the row(s) by key, once the format is
         * checked; an id no such row has may still be a text id */
        keys_t k;
        store_change_t one = *c;
        size_t j;
        if ((rc = store__rowids(s, STORE_BATCH_MAX)) < 0) return rc;
        k.s = s;
        k.n = 0;
        rc = c->part >= 0 ? store_get(s, id, c->part, add_key, &k) : store_parts(s, id, add_key, &k);
        if (rc < 0) return rc;
        if (k.n) {
            for (j = 0, n = 0; j < k.n; j++) {
                one.key = s->rowids[j];
                if ((rc = store_update(s, id, &one)) < 0) return rc;
                n += rc;
            }
            return n;
        }
    }
    for (i = 0; i < STORE_NCOLS; i++)
        if (store_cols[i].flags & (STORE_CF_KEY | STORE_CF_CALC | STORE_CF_APPEND)) fixed |= 1u << i;
    if (!id.p && c->key <= 0) return store__err(s, STORE_EARG, "update: an id or a key is required");
    if (c->mask & fixed) {
        for (i = 0; !(c->mask & fixed & (1u << i)); i++) {}
        return store__err(s, STORE_EARG, "update: %s cannot be changed", store_cols[i].name);
    }
    if (!c->mask && !c->trace.p) return store__err(s, STORE_EARG, "update: nothing to change");
    if (c->trace.p && isnan(c->at)) return store__err(s, STORE_EARG, "update: a trace line needs its time (at)");
    if (store__too_long(&c->v, c->mask) || c->trace.n > STORE_VALUE_MAX || (c->key <= 0 && id.n > STORE_VALUE_MAX))
        return store__err(s, STORE_EARG, "update: a value is longer than %d octets", STORE_VALUE_MAX);
    if ((rc = store__begin(s)) < 0) return rc;
    if (c->key > 0) {                      /* a gateway's message: its fwd row first (store_int.h) */
        store_change_t *rest = &s->fwd_rest;
        int fw = store__fwd_update(s, c, rest);
        if (fw < 0) return fw;
        if (fw > 0 && !rest->mask) {
            store__wrote(s);
            return 1;
        }
        if (!rest->mask && !rest->trace.p) return 0;        /* pending only, and it is final */
        if (fw > 0) {
            c = rest;
            written = 1;
        }
    }
    if (!(st = upd_stmt(s, c->mask, c->key <= 0 && c->part >= 0, c->pending != 0, c->trace.p != NULL,
                        c->key > 0, &keep)))
        return STORE_EIO;
    sqlite3_reset(st);
    for (i = 0; i < STORE_NCOLS; i++)
        if (c->mask & (1u << i)) store__bind_col(st, i + 1, i, &c->v);
    if (c->key > 0) {
        sqlite3_bind_int64(st, P_KEY, c->key);
    } else {
        store__bind_text(st, P_ID, id);
        if (c->part >= 0) sqlite3_bind_int64(st, P_PART, c->part);
    }
    if (keep) sqlite3_bind_double(st, P_TTL, s->o.trace_ttl);
    if (c->trace.p) {
        char *line = sqlite3_mprintf("%.3f %.*s\n", c->at, (int)c->trace.n, c->trace.p);
        if (!line) return store__err(s, STORE_ENOMEM, "update: no memory");
        sqlite3_bind_text(st, P_TRACE, line, -1, sqlite3_free);
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        rc = store__fail(s, rc, "update");
        sqlite3_reset(st);
        return rc;
    }
    n = sqlite3_changes(s->db);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);     /* the trace line goes now, not at the next use */
    if (n > 0 || written) store__wrote(s);
    return n > 0 ? n : written;
}

/* -- Expiry ------------------------------------------------------------------------------ */

/* The walk in key order over the messages that are not lasting: remove
 * those whose keep_until has come, up to the first whose time has not
 * (see store_expire in store.h). A row met on the way that is kept past
 * the key order (keep_until more than STORE_ORDER_SLACK after submitted +
 * trace_ttl: a long validity still pending, a final state reached late)
 * becomes lasting here, and is left to its index from then on: only the
 * rows that really outlive their neighbours pay for that index, not every
 * row that might. s->swept remembers how far the walk got. */
static int expire_in_order(store_t *s, double now, int batch, store_expiry_t *x)
{
    sqlite3_stmt *st = store__stmt(s, STORE_ST_MSG_EXP_SCAN);
    store_msg_t m;
    long long last = s->swept;
    int rc, seen = 0, n = 0, blocked = 0, lasting = 0, i;
    if ((rc = store__rowids(s, (size_t)batch)) < 0) return rc;
    sqlite3_bind_int64(st, 1, s->swept);
    sqlite3_bind_int(st, 2, batch);
    sqlite3_bind_double(st, 3, s->o.trace_ttl);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        long long key = sqlite3_column_int64(st, 0);
        seen++;
        if (!sqlite3_column_int(st, 2)) {                   /* not lasting */
            double keep = sqlite3_column_double(st, 1);
            if (keep > sqlite3_column_double(st, 9) + s->o.trace_ttl + STORE_ORDER_SLACK) {
                s->rowids[lasting++] = key;                 /* out of key order: lasting from now */
            } else if (keep > now) {
                blocked = 1;
                break;
            } else {
                n++;
                if (!sqlite3_column_int(st, 3)) {           /* never final: reported */
                    store_msg_clear(&m);
                    m.key = key;
                    m.id = store__col_text(st, 4);
                    m.part = sqlite3_column_int64(st, 5);
                    m.account = store__col_text(st, 6);
                    m.state = sqlite3_column_int64(st, 7);
                    m.id_format = sqlite3_column_int64(st, 8);
                    store__row_id(s, &m);
                    x->unfinished++;
                    if (x->on_message) x->on_message(&m, x->ud);
                }
            }
        }
        last = key;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        rc = store__fail(s, rc, "expire");
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    /* second pass: no write while the walk is stepping the table */
    st = s->st[STORE_ST_MSG_SET_LASTING];
    for (i = 0; i < lasting; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, s->rowids[i]);
        sqlite3_bind_double(st, 2, s->o.trace_ttl);
        if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
            rc = store__fail(s, rc, "expire");
            sqlite3_reset(st);
            return rc;
        }
    }
    sqlite3_reset(st);
    if (n) {
        st = store__stmt(s, STORE_ST_MSG_EXP_RANGE);
        sqlite3_bind_int64(st, 1, s->swept);
        sqlite3_bind_int64(st, 2, last);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) return store__fail(s, rc, "expire");
        s->n_messages -= n;
        x->messages += n;
    }
    s->swept = last;
    if (seen == batch && !blocked) x->more = 1;
    return 0;
}

int store__expire_messages(store_t *s, double now, int batch, store_expiry_t *x)
{
    int flushed = store__flush(s);        /* rows put before are read too */
    if (flushed < 0) return flushed;
    sqlite3_stmt *st;
    store_msg_t m;
    int rc, n = 0, done = 0;
    if ((rc = expire_in_order(s, now, batch, x)) < 0) return rc;
    st = store__stmt(s, STORE_ST_MSG_EXP_DONE);
    sqlite3_bind_double(st, 1, now);
    sqlite3_bind_int(st, 2, batch);
    if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
        rc = store__fail(s, rc, "expire");
        sqlite3_reset(st);
        return rc;
    }
    n = sqlite3_changes(s->db);
    sqlite3_reset(st);
    s->n_messages -= n;
    x->messages += n;
    if (n == batch) x->more = 1;

    /* messages that never reached a final state: each one is reported */
    st = store__stmt(s, STORE_ST_MSG_EXP_LOST);
    sqlite3_bind_double(st, 1, now);
    sqlite3_bind_int(st, 2, batch);
    n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        n++;
        if (sqlite3_column_int(st, 6)) {        /* a gateway's message, final in its fwd row */
            done++;
            continue;
        }
        store_msg_clear(&m);
        m.id = store__col_text(st, 0);
        m.part = sqlite3_column_int64(st, 1);
        m.account = store__col_text(st, 2);
        m.state = sqlite3_column_int64(st, 3);
        m.key = sqlite3_column_int64(st, 4);
        m.id_format = sqlite3_column_int64(st, 5);
        store__row_id(s, &m);
        if (x->on_message) x->on_message(&m, x->ud);
    }
    if (rc != SQLITE_DONE) {
        rc = store__fail(s, rc, "expire");
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    s->n_messages -= n;
    x->messages += n;
    x->unfinished += n - done;
    if (n == batch) x->more = 1;
    return 0;
}
