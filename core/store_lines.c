/* store_lines.c -- the usual lines of a gateway message's trace:
 * "accepted from ...", "sent to ... accepted as ..." and a receipt's line
 * are kept as columns of its fwd row and its record (store_int.h), not
 * appended as text, and made into text here when the message is read, or
 * before a write changes what they are made of.
 * The same functions build those lines for the forwarder and the receipt
 * path, so a line reads the same whichever way it was kept.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dlr.h"
#include "store_int.h"

/* -- Building a line ---------------------------------------------------------------------- */

typedef struct out_s {
    char  *p;
    size_t n, cap;              /* cap: with the NUL */
} out_t;

static void put(out_t *o, const char *s, size_t n)
{
    if (!o->cap || o->n + 1 >= o->cap) return;
    if (n > o->cap - 1 - o->n) n = o->cap - 1 - o->n;
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = '\0';
}

static void put_str(out_t *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_num(out_t *o, unsigned long long v)
{
    char d[24];
    size_t k = sizeof d;
    do {
        d[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(o, d + k, sizeof d - k);
}

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

size_t store_fwd_line_accepted(char *buf, size_t cap, store_str_t account, long long sess, const char *how,
                               store_str_t route, store_str_t upstream)
{
    out_t o = { buf, 0, cap };
    if (cap) buf[0] = '\0';
    put_str(&o, "accepted from ");
    put(&o, account.p, account.n);
    if (how) {
        put_str(&o, " (");
        put_str(&o, how);
    } else {
        put_str(&o, " (session ");
        put_num(&o, (unsigned long long)(sess < 0 ? 0 : sess));
    }
    put_str(&o, "), route '");
    put(&o, route.p, route.n);
    put_str(&o, "', queued for ");
    put(&o, upstream.p, upstream.n);
    return o.n;
}

size_t store_fwd_line_sent(char *buf, size_t cap, store_str_t upstream, long long sess, long long attempt,
                           store_str_t upstream_id)
{
    out_t o = { buf, 0, cap };
    if (cap) buf[0] = '\0';
    put_str(&o, "sent to ");
    put(&o, upstream.p, upstream.n);
    put_str(&o, " (session ");
    put_num(&o, (unsigned long long)(sess < 0 ? 0 : sess));
    put_str(&o, ", attempt ");
    put_num(&o, (unsigned long long)(attempt < 0 ? 0 : attempt));
    put_str(&o, "): accepted as ");
    put(&o, upstream_id.p, upstream_id.n);
    return o.n;
}

size_t store_fwd_line_receipt(char *buf, size_t cap, store_str_t upstream, int state, long long err, int final,
                              store_str_t what)
{
    out_t o = { buf, 0, cap };
    const char *stat = dlr_stat_of(state);
    if (cap) buf[0] = '\0';
    put_str(&o, "receipt from ");
    put(&o, upstream.p, upstream.n);
    put_str(&o, ": stat:");
    put_str(&o, stat ? stat : "?");
    put_str(&o, " err:");
    if (err >= 0 && err < 100) put(&o, err < 10 ? "00" : "0", err < 10 ? 2 : 1);
    if (err < 0) put(&o, "-", 1);
    put_num(&o, (unsigned long long)(err < 0 ? -err : err));
    if (!final) put_str(&o, " (not final)");
    if (what.p) {
        put_str(&o, "; ");
        put(&o, what.p, what.n);
    }
    return o.n;
}

/* The usual line a caller left to the store (line.p NULL) for a write
 * that keeps it as text after all, made from the row (its upstream,
 * attempts before this write and account): the sent line (sent: sess,
 * uid) or a final receipt's (state, err, rcpt), in buf. */
store_str_t store__fwd_usual_line(store_t *s, long long rowid, int sent, long long sess, store_str_t uid, int state,
                                  long long err, int rcpt, char *buf, size_t cap)
{
    sqlite3_stmt *st = store__fwd_stmt(s, STORE_FWD_ROW_OF);
    char up[128], what[128 + 16] = "delivered to ";
    store_str_t u = { up, 0 }, w = { NULL, 0 }, out = { buf, 0 };
    long long attempts = 0;
    if (!st) return out;
    sqlite3_bind_int64(st, 1, rowid);
    if (sqlite3_step(st) == SQLITE_ROW) {
        store_str_t a = store__col_text(st, 0), acct = store__col_text(st, 2);
        u.n = a.n < sizeof up ? a.n : sizeof up;
        if (u.n) memcpy(up, a.p, u.n);
        attempts = sqlite3_column_int64(st, 1);
        if (rcpt == 2) {
            size_t k = strlen(what), n = acct.n < sizeof what - k ? acct.n : sizeof what - k;
            if (n) memcpy(what + k, acct.p, n);
            w.p = what;
            w.n = k + n;
        }
    }
    sqlite3_reset(st);
    out.n = sent ? store_fwd_line_sent(buf, cap, u, sess, attempts + 1, uid)
                 : store_fwd_line_receipt(buf, cap, u, state, err, 1, w);
    return out;
}

/* -- The lines kept as columns, as text ---------------------------------------------------- */

/* buf's n octets followed by the trace tr (when it fits): the new length. */
static size_t then_trace(char *buf, size_t cap, size_t n, store_str_t tr)
{
    if (tr.p && tr.n <= cap - n) {
        memcpy(buf + n, tr.p, tr.n);
        n += tr.n;
    }
    return n;
}

/* The lines written out as the row's trace (its last STORE_TRACE_MAX
 * octets) by statement which (?1 the key, ?2 the text): 1, or an error. */
static int write_out(store_t *s, int which, long long key, const char *buf, size_t n)
{
    sqlite3_stmt *up = store__fwd_stmt(s, which);
    int rc;
    if (!up) return STORE_EIO;
    sqlite3_bind_int64(up, 1, key);
    if (n > STORE_TRACE_MAX) sqlite3_bind_text(up, 2, buf + n - STORE_TRACE_MAX, STORE_TRACE_MAX, SQLITE_STATIC);
    else sqlite3_bind_text(up, 2, buf, (int)n, SQLITE_STATIC);
    rc = sqlite3_step(up);
    sqlite3_reset(up);
    sqlite3_clear_bindings(up);
    return rc == SQLITE_DONE ? 1 : store__fail(s, rc, "trace");
}

/* One line "<at> <text>\n" at the end of o. */
static void put_line(out_t *o, double at, const char *text, size_t n)
{
    char stamp[STORE_STAMP_MAX];
    put(o, stamp, store_stamp(stamp, at));
    put(o, text, n);
    put(o, "\n", 1);
}

size_t store__fwd_line_accepted(char *buf, size_t cap, const store_msg_t *m, long long via)
{
    out_t o = { buf, 0, cap };
    char line[STORE_LINE_MAX];
    size_t n = store_fwd_line_accepted(line, sizeof line, m->account, via, NULL, m->route, m->upstream);
    if (cap) buf[0] = '\0';
    put_line(&o, m->submitted, line, n);
    return o.n;
}

size_t store__fwd_lines(char *buf, size_t cap, const store_fwd_lines_t *k)
{
    out_t o = { buf, 0, cap };
    char line[STORE_LINE_MAX];
    size_t n;
    if (cap) buf[0] = '\0';
    if (!isnan(k->sent)) {
        n = store_fwd_line_sent(line, sizeof line, k->upstream, k->sess, k->attempts, k->upstream_id);
        put_line(&o, k->sent, line, n);
    }
    if (k->rcpt > 0) {
        char what[STORE_LINE_MAX];
        out_t w = { what, 0, sizeof what };
        store_str_t wh = { NULL, 0 };
        if (k->rcpt == 2) {
            put_str(&w, "delivered to ");
            put(&w, k->account.p, k->account.n);
            wh.p = what;
            wh.n = w.n;
        }
        n = store_fwd_line_receipt(line, sizeof line, k->upstream, (int)k->state, k->err, 1, wh);
        put_line(&o, k->done, line, n);
    }
    return o.n;
}

int store__fwd_lines_out(store_t *s, long long key)
{
    sqlite3_stmt *st = store__fwd_stmt(s, STORE_FWD_LINES);
    store_fwd_lines_t k;
    store_str_t tr;
    char buf[2 * STORE_LINE_MAX + STORE_TRACE_MAX + 2 * STORE_STAMP_MAX];
    size_t n;
    int rc;
    if (!st) return STORE_EIO;
    sqlite3_bind_int64(st, 1, key);
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : store__fail(s, rc, "trace");
    }
    k.upstream = store__col_text(st, 0);
    k.sent = store__col_real(st, 1);
    k.sess = sqlite3_column_int64(st, 2);
    k.attempts = sqlite3_column_int64(st, 3);
    k.upstream_id = store__col_text(st, 4);
    k.rcpt = sqlite3_column_int(st, 5);
    k.state = sqlite3_column_int64(st, 6);
    k.err = sqlite3_column_int64(st, 7);
    k.done = store__col_real(st, 8);
    k.account = store__col_text(st, 9);
    tr = store__col_text(st, 10);
    n = store__fwd_lines(buf, sizeof buf, &k);
    n = then_trace(buf, sizeof buf, n, tr);
    sqlite3_reset(st);
    return write_out(s, STORE_FWD_LINES_OUT, key, buf, n);
}

int store__fwd_accepted_out(store_t *s, long long key)
{
    sqlite3_stmt *st = store__fwd_stmt(s, STORE_FWD_FIRST), *up;
    store_msg_t m;
    store_str_t tr;
    char buf[STORE_LINE_MAX + STORE_STAMP_MAX + STORE_TRACE_MAX];
    size_t n;
    long long via;
    int rc;
    if (!st) return STORE_EIO;
    sqlite3_bind_int64(st, 1, key);
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : store__fail(s, rc, "trace");
    }
    store_msg_clear(&m);
    via = sqlite3_column_int64(st, 0);
    m.account = store__col_text(st, 1);
    m.route = store__col_text(st, 2);
    m.upstream = store__col_text(st, 3);
    m.submitted = store__col_real(st, 4);
    tr = store__col_text(st, 5);
    n = store__fwd_line_accepted(buf, sizeof buf, &m, via);
    n = then_trace(buf, sizeof buf, n, tr);
    sqlite3_reset(st);
    if ((rc = write_out(s, STORE_FWD_FIRST_OUT, key, buf, n)) < 0) return rc;
    if (!(up = store__fwd_stmt(s, STORE_FWD_VIA_OUT))) return STORE_EIO;
    sqlite3_bind_int64(up, 1, key);
    rc = sqlite3_step(up);
    sqlite3_reset(up);
    if (rc != SQLITE_DONE) return store__fail(s, rc, "trace");
    return 1;
}
