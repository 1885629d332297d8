/* store_queue.c -- the outbox (deliver_sm PDUs waiting for an account's
 * receiver: take leases, ack removes, retry offers again) with its counts
 * per account kept in memory, early receipts, and their part of expiry.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* -- Counts per account ------------------------------------------------------ */

static size_t hash(store_str_t k)
{
    size_t h = 2166136261u, i;
    for (i = 0; i < k.n; i++) h = (h ^ (unsigned char)k.p[i]) * 16777619u;
    return h;
}

static store_acct_t *acct_slot(const store_t *s, store_str_t k)
{
    size_t i, mask = s->accts_cap - 1;
    if (!s->accts_cap) return NULL;
    for (i = hash(k) & mask; s->accts[i].name; i = (i + 1) & mask)
        if (s->accts[i].len == k.n && memcmp(s->accts[i].name, k.p, k.n) == 0) return &s->accts[i];
    return &s->accts[i];
}

static int acct_grow(store_t *s)
{
    store_acct_t *old = s->accts;
    size_t i, old_cap = s->accts_cap, cap = old_cap ? old_cap * 2 : 16;
    if (!(s->accts = calloc(cap, sizeof *s->accts))) {
        s->accts = old;
        return store__err(s, STORE_ENOMEM, "outbox: no memory");
    }
    s->accts_cap = cap;
    for (i = 0; i < old_cap; i++) {
        store_str_t k;
        if (!old[i].name) continue;
        k.p = old[i].name;
        k.n = old[i].len;
        *acct_slot(s, k) = old[i];
    }
    free(old);
    return 0;
}

int store__acct_add(store_t *s, store_str_t account, long long delta)
{
    store_acct_t *a;
    int rc;
    if ((s->accts_used + 1) * 2 > s->accts_cap && (rc = acct_grow(s)) < 0) return rc;
    a = acct_slot(s, account);
    if (!a->name) {
        if (!(a->name = malloc(account.n + 1))) return store__err(s, STORE_ENOMEM, "outbox: no memory");
        memcpy(a->name, account.p, account.n);
        a->name[account.n] = '\0';
        a->len = account.n;
        a->count = 0;
        s->accts_used++;
    }
    a->count += delta;
    return 0;
}

long long store__acct_get(const store_t *s, store_str_t account)
{
    store_acct_t *a = account.p ? acct_slot(s, account) : NULL;
    return a && a->name ? a->count : 0;
}

void store__acct_free(store_t *s)
{
    size_t i;
    for (i = 0; i < s->accts_cap; i++) free(s->accts[i].name);
    free(s->accts);
    s->accts = NULL;
    s->accts_cap = s->accts_used = 0;
}

int store__acct_recount(store_t *s)
{
    sqlite3_stmt *st;
    int rc;
    store__acct_free(s);
    st = store__stmt(s, STORE_ST_COUNT_ACCTS);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = store__acct_add(s, store__col_text(st, 0), sqlite3_column_int64(st, 1))) < 0) {
            sqlite3_reset(st);
            return rc;
        }
    }
    if (rc != SQLITE_DONE) rc = store__fail(s, rc, "count");
    else rc = 0;
    sqlite3_reset(st);
    return rc;
}

long long store_outbox_count(store_t *s, store_str_t account)
{
    return store__acct_get(s, account);
}

/* -- Outbox ---------------------------------------------------------------------------- */

/* Step a statement that returns no rows. */
static int run(store_t *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) rc = store__fail(s, rc, what);
    else rc = 0;
    sqlite3_reset(st);
    return rc;
}

long long store_outbox_push(store_t *s, store_str_t account, store_str_t pdu, store_str_t ref,
                            double due, double expires)
{
    sqlite3_stmt *st;
    long long rowid;
    int rc;
    if (!account.p || !pdu.p) return store__err(s, STORE_EARG, "outbox_push: account and pdu are required");
    if (account.n > STORE_VALUE_MAX || pdu.n > STORE_VALUE_MAX || ref.n > STORE_VALUE_MAX)
        return store__err(s, STORE_EARG, "outbox_push: a value is longer than %d octets", STORE_VALUE_MAX);
    if (s->n_outbox >= s->o.max_outbox)
        return store__err(s, STORE_EFULL, "outbox: %lld items (limits.outbox)", s->n_outbox);
    if (store__acct_get(s, account) >= s->o.max_outbox_account)
        return store__err(s, STORE_EFULL, "outbox: %lld items for %.*s (limits.outbox_per_account)",
                          store__acct_get(s, account), (int)account.n, account.p);
    if ((rc = store__begin(s)) < 0) return rc;
    if (store__room_short(s)) return store__err(s, STORE_EFULL, "outbox_push: the file is at its soft limit "
                                                "(limits.size_mb less the room kept for answers and expiry)");
    st = store__stmt(s, STORE_ST_OB_PUSH);
    store__bind_text(st, 1, account);
    sqlite3_bind_double(st, 2, isnan(due) ? 0 : due);
    store__bind_real(st, 3, expires);
    store__bind_text(st, 4, ref);
    store__bind_blob(st, 5, pdu);
    if ((rc = run(s, st, "outbox_push")) < 0) return rc;
    rowid = sqlite3_last_insert_rowid(s->db);
    if ((rc = store__acct_add(s, account, 1)) < 0) return rc;
    s->n_outbox++;
    store__wrote(s);
    return rowid;
}

int store_outbox_take(store_t *s, store_str_t account, int n, double now, double lease,
                      store_item_fn fn, void *ud)
{
    sqlite3_stmt *st;
    store_item_t it;
    int rc, i, got = 0;
    if (!account.p) return store__err(s, STORE_EARG, "outbox_take: account is required");
    if (n < 0 || n > STORE_BATCH_MAX)
        return store__err(s, STORE_EARG, "outbox_take: n must be 0..%d", STORE_BATCH_MAX);
    if (n == 0) return 0;
    if (isnan(lease)) lease = s->o.lease;
    if ((rc = store__rowids(s, (size_t)n)) < 0) return rc;
    st = store__stmt(s, STORE_ST_OB_TAKE);
    store__bind_text(st, 1, account);
    sqlite3_bind_double(st, 2, now);
    sqlite3_bind_int(st, 3, n);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&it, 0, sizeof it);
        it.rowid = sqlite3_column_int64(st, 0);
        it.owner = store__col_text(st, 1);
        it.due = now + lease;
        it.expires = store__col_real(st, 3);
        it.ref = store__col_text(st, 4);
        it.attempts = sqlite3_column_int64(st, 5) + 1;
        it.pdu = store__col_blob(st, 6);
        it.at = NAN;
        s->rowids[got++] = it.rowid;
        if (fn && fn(&it, ud)) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        rc = store__fail(s, rc, "outbox_take");
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    if (got == 0) return 0;
    /* the leases, after the scan (see store_due) */
    if ((rc = store__begin(s)) < 0) return rc;
    for (i = 0; i < got; i++) {
        st = store__stmt(s, STORE_ST_OB_LEASE);
        sqlite3_bind_int64(st, 1, s->rowids[i]);
        sqlite3_bind_double(st, 2, now + lease);
        if ((rc = run(s, st, "outbox_take")) < 0) return rc;
    }
    store__wrote(s);
    return got;
}

int store_outbox_ack(store_t *s, long long rowid)
{
    sqlite3_stmt *st;
    int rc, found = 0;
    if ((rc = store__begin(s)) < 0) return rc;
    st = store__stmt(s, STORE_ST_OB_ACK);
    sqlite3_bind_int64(st, 1, rowid);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        found = 1;
        if ((rc = store__acct_add(s, store__col_text(st, 0), -1)) < 0) {
            sqlite3_reset(st);
            return rc;
        }
    }
    if (rc != SQLITE_DONE) {
        rc = store__fail(s, rc, "outbox_ack");
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    if (found) {
        s->n_outbox--;
        store__wrote(s);
    }
    return found;
}

int store_outbox_retry(store_t *s, long long rowid, double due)
{
    sqlite3_stmt *st;
    int rc;
    if (isnan(due)) return store__err(s, STORE_EARG, "outbox_retry: due is required");
    if ((rc = store__begin(s)) < 0) return rc;
    st = store__stmt(s, STORE_ST_OB_RETRY);
    sqlite3_bind_int64(st, 1, rowid);
    sqlite3_bind_double(st, 2, due);
    if ((rc = run(s, st, "outbox_retry")) < 0) return rc;
    if (sqlite3_changes(s->db) == 0) return 0;
    store__wrote(s);
    return 1;
}

/* -- Early receipts ------------------------------------------------------------------------ */

long long store_early_put(store_t *s, store_str_t upstream, store_str_t key, store_str_t pdu,
                          double expires, double at)
{
    sqlite3_stmt *st;
    int rc;
    if (!upstream.p || !key.p || !pdu.p || isnan(expires))
        return store__err(s, STORE_EARG, "early_put: upstream, key, pdu and expires are required");
    if (upstream.n > STORE_VALUE_MAX || key.n > STORE_VALUE_MAX || pdu.n > STORE_VALUE_MAX)
        return store__err(s, STORE_EARG, "early_put: a value is longer than %d octets", STORE_VALUE_MAX);
    if (s->n_early >= s->o.max_early)
        return store__err(s, STORE_EFULL, "early: %lld receipts (limits.early)", s->n_early);
    if ((rc = store__begin(s)) < 0) return rc;
    if (store__room_short(s)) return store__err(s, STORE_EFULL, "early_put: the file is at its soft limit "
                                                "(limits.size_mb less the room kept for answers and expiry)");
    st = store__stmt(s, STORE_ST_EA_PUT);
    store__bind_text(st, 1, upstream);
    store__bind_text(st, 2, key);
    store__bind_real(st, 3, at);
    sqlite3_bind_double(st, 4, expires);
    store__bind_blob(st, 5, pdu);
    if ((rc = run(s, st, "early_put")) < 0) return rc;
    s->n_early++;
    store__wrote(s);
    return sqlite3_last_insert_rowid(s->db);
}

int store_early_take(store_t *s, store_str_t upstream, store_str_t key, double since,
                     store_item_fn fn, void *ud)
{
    sqlite3_stmt *st;
    store_item_t it;
    int rc, n = 0;
    if (!upstream.p || !key.p) return store__err(s, STORE_EARG, "early_take: upstream and key are required");
    if (s->n_early == 0) return 0;
    if (isnan(since)) since = -HUGE_VAL;
    st = store__stmt(s, STORE_ST_EA_TAKE);
    store__bind_text(st, 1, upstream);
    store__bind_text(st, 2, key);
    sqlite3_bind_double(st, 3, since);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&it, 0, sizeof it);
        it.rowid = sqlite3_column_int64(st, 0);
        it.owner = store__col_text(st, 1);
        it.ref = store__col_text(st, 2);
        it.at = store__col_real(st, 3);
        it.expires = store__col_real(st, 4);
        it.pdu = store__col_blob(st, 5);
        it.due = NAN;
        n++;
        if (fn) fn(&it, ud);
    }
    if (rc != SQLITE_DONE) {
        rc = store__fail(s, rc, "early_take");
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    if (n == 0) return 0;
    if ((rc = store__begin(s)) < 0) return rc;
    st = store__stmt(s, STORE_ST_EA_DEL);
    store__bind_text(st, 1, upstream);
    store__bind_text(st, 2, key);
    sqlite3_bind_double(st, 3, since);
    if ((rc = run(s, st, "early_take")) < 0) return rc;
    s->n_early -= sqlite3_changes(s->db);
    store__wrote(s);
    return n;
}

/* -- Expiry -------------------------------------------------------------------------------- */

/* One DELETE ... RETURNING rowid, owner, ref: each removed row to fn. */
static int expire_rows(store_t *s, int which, double now, int batch, store_item_fn fn, void *ud,
                       int per_account, long long *count)
{
    sqlite3_stmt *st = store__stmt(s, which);
    store_item_t it;
    int rc;
    long long n = 0;
    sqlite3_bind_double(st, 1, now);
    sqlite3_bind_int(st, 2, batch);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&it, 0, sizeof it);
        it.rowid = sqlite3_column_int64(st, 0);
        it.owner = store__col_text(st, 1);
        it.ref = store__col_text(st, 2);
        it.due = it.expires = it.at = NAN;
        n++;
        if (per_account && it.owner.p && (rc = store__acct_add(s, it.owner, -1)) < 0) {
            sqlite3_reset(st);
            return rc;
        }
        if (fn) fn(&it, ud);
    }
    if (rc != SQLITE_DONE) {
        rc = store__fail(s, rc, "expire");
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    *count = n;
    return 0;
}

int store__expire_queues(store_t *s, double now, int batch, store_expiry_t *x)
{
    long long n;
    int rc;
    if ((rc = expire_rows(s, STORE_ST_OB_EXPIRE, now, batch, x->on_outbox, x->ud, 1, &n)) < 0) return rc;
    s->n_outbox -= n;
    x->outbox = n;
    if (n == batch) x->more = 1;
    if ((rc = expire_rows(s, STORE_ST_EA_EXPIRE, now, batch, x->on_early, x->ud, 0, &n)) < 0) return rc;
    s->n_early -= n;
    x->early = n;
    if (n == batch) x->more = 1;
    return 0;
}
