/* store_sticky.c -- the route and upstream the first part of a long message
 * took, held in the store so that its later parts follow it, also after a
 * restart. See store.h, "Sticky routes".
 *
 * One narrow row per long message (WITHOUT ROWID, keyed by the caller's
 * key), removed by store_expire() once its time is up. A held route is a
 * routing hint, not a message: when the table is full the row that expires
 * first makes room, and no failure here is a reason to refuse a message
 * (the caller then routes the part on its own). The statements are
 * prepared on first use; writes join the turn's transaction.
 */
#include <math.h>

#include "store_int.h"

static const char *const sticky_sql[STORE_STICKY_NSTMT] = {
    /* GET: ?1 key */
    "SELECT route, upstream, expires FROM sticky WHERE key = ?1",
    /* PUT: ?1 key, ?2 route, ?3 upstream, ?4 expires (an expired row of
     * the same key is replaced) */
    "INSERT OR REPLACE INTO sticky (key, route, upstream, expires) VALUES (?1, ?2, ?3, ?4)",
    /* EVICT: the row that expires first */
    "DELETE FROM sticky WHERE key = (SELECT key FROM sticky ORDER BY expires LIMIT 1) RETURNING expires",
    /* EXPIRE: ?1 now, ?2 batch */
    "DELETE FROM sticky WHERE key IN (SELECT key FROM sticky WHERE expires <= ?1 ORDER BY expires LIMIT ?2)",
    /* COUNT */
    "SELECT count(*) FROM sticky",
};

/* The statement `which`, prepared on first use and reset; NULL (the
 * failure recorded by store__fail) if it cannot be prepared. */
static sqlite3_stmt *sticky_stmt(store_t *s, int which)
{
    sqlite3_stmt *st = s->sticky[which];
    int rc;
    if (st) {
        sqlite3_reset(st);
        return st;
    }
    rc = sqlite3_prepare_v3(s->db, sticky_sql[which], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        store__fail(s, rc, "sticky");
        return NULL;
    }
    s->sticky[which] = st;
    return st;
}

/* Step a statement that returns no rows. */
static int run(store_t *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? 0 : store__fail(s, rc, what);
    sqlite3_reset(st);
    return rc;
}

/* -- Holding and finding ------------------------------------------------------------- */

int store_sticky_put(store_t *s, store_str_t key, store_str_t route, store_str_t upstream,
                     double expires, double now)
{
    sqlite3_stmt *st;
    int rc, held = 0;
    if (!key.p || !route.p || isnan(expires) || isnan(now))
        return store__err(s, STORE_EARG, "sticky_put: key, route, expires and now are required");
    if (key.n > STORE_VALUE_MAX || route.n > STORE_VALUE_MAX || upstream.n > STORE_VALUE_MAX)
        return store__err(s, STORE_EARG, "sticky_put: a value is longer than %d octets", STORE_VALUE_MAX);
    if ((rc = store__begin(s)) < 0) return rc;
    if (!(st = sticky_stmt(s, STORE_STICKY_GET))) return STORE_EIO;
    store__bind_blob(st, 1, key);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_double(st, 2) > now) {       /* the first part's choice stays */
            sqlite3_reset(st);
            return 0;
        }
        held = 1;                                       /* expired: replaced below */
    } else if (rc != SQLITE_DONE) {
        rc = store__fail(s, rc, "sticky_put");
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    if (!held && s->n_sticky >= s->o.max_sticky) {
        if (!(st = sticky_stmt(s, STORE_STICKY_EVICT))) return STORE_EIO;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            s->n_sticky--;
            if (sqlite3_column_double(st, 0) > now) s->sticky_evicted++;
            else s->expired++;
        }
        if (rc != SQLITE_DONE) {
            rc = store__fail(s, rc, "sticky_put");
            sqlite3_reset(st);
            return rc;
        }
        sqlite3_reset(st);
    }
    if (!(st = sticky_stmt(s, STORE_STICKY_PUT))) return STORE_EIO;
    store__bind_blob(st, 1, key);
    store__bind_text(st, 2, route);
    store__bind_text(st, 3, upstream);
    sqlite3_bind_double(st, 4, expires);
    if ((rc = run(s, st, "sticky_put")) < 0) return rc;
    if (!held) s->n_sticky++;
    store__wrote(s);
    return 1;
}

int store_sticky_get(store_t *s, store_str_t key, double now, store_sticky_fn fn, void *ud)
{
    sqlite3_stmt *st;
    int rc, found = 0;
    if (!key.p) return store__err(s, STORE_EARG, "sticky_get: key is required");
    if (s->n_sticky == 0) return 0;
    if (!(st = sticky_stmt(s, STORE_STICKY_GET))) return STORE_EIO;
    store__bind_blob(st, 1, key);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_double(st, 2) > now) {
            found = 1;
            if (fn) fn(store__col_text(st, 0), store__col_text(st, 1), ud);
        }
    } else if (rc != SQLITE_DONE) {
        found = store__fail(s, rc, "sticky_get");
    }
    sqlite3_reset(st);
    return found;
}

/* -- Levels, expiry, closing ------------------------------------------------------------ */

int store__sticky_recount(store_t *s)
{
    sqlite3_stmt *st = sticky_stmt(s, STORE_STICKY_COUNT);
    int rc;
    if (!st) return STORE_EIO;
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = store__fail(s, rc, "count");
        sqlite3_reset(st);
        return rc;
    }
    s->n_sticky = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

int store__expire_sticky(store_t *s, double now, int batch, store_expiry_t *x)
{
    sqlite3_stmt *st;
    int rc, n;
    x->sticky = 0;
    if (s->n_sticky == 0) return 0;
    if (!(st = sticky_stmt(s, STORE_STICKY_EXPIRE))) return STORE_EIO;
    sqlite3_bind_double(st, 1, now);
    sqlite3_bind_int(st, 2, batch);
    if ((rc = run(s, st, "expire")) < 0) return rc;
    n = sqlite3_changes(s->db);
    s->n_sticky -= n;
    x->sticky = n;
    if (n == batch) x->more = 1;
    return 0;
}

void store__sticky_free(store_t *s)
{
    int i;
    for (i = 0; i < STORE_STICKY_NSTMT; i++) {
        sqlite3_finalize(s->sticky[i]);
        s->sticky[i] = NULL;
    }
}
