/* store_fwd_key.c -- the gateway's receipts find their messages: the
 * newest message of an upstream under a receipt key (its fwd row by the
 * receipt-key index, else a message stored without one: under the
 * upstream's id, or before schema 6), with what matching needs, and the
 * state of one. The statements are store_fwd.c's (BY_KEY, BY_KEY_OLD:
 * their SQL says what they read). See store.h, "Forward queues".
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "store_int.h"

/* A row of BY_KEY / BY_KEY_OLD: what a receipt's match needs; the rest
 * of r unknown (state -1 when BY_KEY did not read it). */
/* Whether the stored PDU (column i, a blob) is a submit_multi: its
 * command_id, octets 4..7. */
static int is_multi(sqlite3_stmt *st, int i)
{
    const unsigned char *b = sqlite3_column_blob(st, i);
    return b && sqlite3_column_bytes(st, i) >= 8 && b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] == 0x21;
}

static void key_row(store_t *s, sqlite3_stmt *st, store_fwd_row_t *r)
{
    memset(r, 0, sizeof *r);
    r->rowid = sqlite3_column_int64(st, 0);
    r->id = store__col_text(st, 1);
    r->part = sqlite3_column_int64(st, 2);
    r->account = store__col_text(st, 3);
    r->registered_delivery = sqlite3_column_int64(st, 4);
    r->route = store__col_text(st, 5);
    r->notify = store__col_text(st, 6);
    r->multi = is_multi(st, 8);
    r->final = sqlite3_column_int(st, 9) != 0;
    r->state = sqlite3_column_count(st) > 10 ? sqlite3_column_int64(st, 10) : -1;
    r->due = r->expires = r->submitted = r->first = NAN;
    if (!r->id.p) store__fwd_row_id(s, r, sqlite3_column_int64(st, 7));
}

/* The newest message of upstream under key (fwd, then messages); rows
 * keyed below exact_from need their upstream_id to be `written` when it
 * is not NULL. */
static int by_key(store_t *s, store_str_t upstream, store_str_t key, long long exact_from, const store_str_t *written,
                  store_fwd_fn fn, void *ud)
{
    static const int which[2] = { STORE_FWD_BY_KEY, STORE_FWD_BY_KEY_OLD };
    store_fwd_row_t r;
    sqlite3_stmt *st;
    int i, rc;
    for (i = 0; i < 2; i++) {
        if (!(st = store__fwd_stmt(s, which[i]))) return STORE_EIO;
        store__bind_text(st, 1, upstream);
        store__bind_text(st, 2, key);
        if (i == 0) sqlite3_bind_int64(st, 3, store__key_num(s, key));
        sqlite3_bind_int64(st, 4, exact_from);
        if (written) store__bind_text(st, 5, *written);
        else sqlite3_bind_null(st, 5);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW) {          /* LIMIT 1 */
            key_row(s, st, &r);
            if (fn) fn(&r, ud);
            sqlite3_reset(st);
            return 1;
        }
        if (rc != SQLITE_DONE) rc = store__fail(s, rc, "fwd_by_key");
        sqlite3_reset(st);
        if (rc < 0) return rc;
    }
    return 0;
}

int store_fwd_by_key(store_t *s, store_str_t upstream, store_str_t key, int written, store_fwd_fn fn, void *ud)
{
    char old[256];
    long n;
    int rc;
    if (!upstream.p || !key.p) return store__err(s, STORE_EARG, "fwd_by_key: upstream and key are required");
    if ((rc = by_key(s, upstream, key, s->exact_from, written ? &key : NULL, fn, ud)) != 0 || !written
        || s->exact_from <= 0 || key.n >= sizeof old / 2 - 1)
        return rc;
    /* a message keyed before schema 9 under the normalised id, its own
     * id (as written) the receipt's */
    n = msgid_key(key.p, key.n, MSGID_NORMALIZED, old, sizeof old);
    if (n < 0 || ((size_t)n == key.n && memcmp(old, key.p, key.n) == 0)) return 0;
    return by_key(s, upstream, (store_str_t){ old, (size_t)n }, LLONG_MAX, &key, fn, ud);
}

int store_fwd_state_of(store_t *s, long long rowid, long long *state)
{
    sqlite3_stmt *st;
    int rc;
    if (store__flush(s) < 0) return STORE_EIO;
    st = store__stmt(s, STORE_ST_MSG_FWD_GET);
    sqlite3_bind_int64(st, 1, rowid);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *state = sqlite3_column_int64(st, 4);
        rc = 1;
    } else {
        rc = rc == SQLITE_DONE ? 0 : store__fail(s, rc, "fwd_state_of");
    }
    sqlite3_reset(st);
    return rc;
}

