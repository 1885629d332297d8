/* bench_store.c -- store micro-bench (make bench): message puts per second
 * by transaction size and sync mode, receipt matching (lookup by upstream
 * key + update), due scans, and expiry. Files go under the directory given
 * as the first argument and are removed after each case; a second argument
 * (puts, keyed, receipts, due, expire, gateway) runs one group; a third
 * the gateway cases' message count (default 100,000: fewer under callgrind).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

static const char *dir;
static char path[512];
static char err[1024];
static char pdu[120];

/* -- Helpers ---------------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds of this process (user + system): steadier than the wall
 * clock on a machine shared with other work. */
static double cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double cpu0;     /* cpu() when the case's timed part began */

static store_str_t S(const char *s)
{
    store_str_t v;
    v.p = s;
    v.n = strlen(s);
    return v;
}

static void remove_files(void)
{
    char p[600];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static store_t *open_store(const char *name, int sync)
{
    store_opts_t o;
    store_t *s;
    memset(&o, 0, sizeof o);
    if (strcmp(name, ":memory:") == 0) snprintf(path, sizeof path, ":memory:");
    else snprintf(path, sizeof path, "%s/%s", dir, name);
    if (path[0] != ':') remove_files();
    o.path = path;
    o.sync = sync;
    o.busy_timeout = 5;
    o.trace_ttl = 86400;
    o.lease = 60;
    o.max_messages = o.max_outbox = o.max_outbox_account = o.max_early = 100000000;
    o.max_sticky = 100000000;
    if (!(s = store_open(&o, err, sizeof err))) {
        fprintf(stderr, "bench_store: %s\n", err);
        exit(1);
    }
    return s;
}

static void close_store(store_t *s)
{
    store_close(s);
    if (path[0] != ':') remove_files();
}

/* What the reference SMSC stores for one submit_sm: a pending message with
 * its final state due later, and the PDU. */
static void message(store_msg_t *m, char *id, size_t idlen, long long n, double t)
{
    snprintf(id, idlen, "%08llx", n);
    store_msg_clear(m);
    m->id = S(id);
    m->account = S("smppclient1");
    m->source = S("447700900123");
    m->dest = S("447700900456");
    m->service_type = S("");
    m->submitted = t;
    m->expires = t + 172800;
    m->due = t + 1;
    m->registered_delivery = 1;
    m->pdu.p = pdu;
    m->pdu.n = sizeof pdu;
}

static void commit(store_t *s)
{
    if (store_commit(s, NULL) < 0) {
        fprintf(stderr, "bench_store: commit: %s\n", store_errmsg(s));
        exit(1);
    }
}

/* ops per wall second, and CPU microseconds per op since cpu0 */
static void report(const char *what, long long ops, double secs, const char *unit)
{
    printf("  %-50s %8.0f %s/s  %6.2f us CPU each  (%lld in %.2f s)\n", what, ops / secs, unit,
           (cpu() - cpu0) * 1e6 / ops, ops, secs);
}

/* -- Cases ----------------------------------------------------------------------- */

/* Puts, committed every n; at most max puts or about budget seconds. */
static void puts_case(const char *name, int sync, int n, long long max, double budget)
{
    static const char *const syncs[] = { "off", "normal", "full" };
    store_t *s = open_store(name, sync);
    store_msg_t m;
    char id[32], what[96];
    long long done = 0;
    double t0 = now(), t = t0;
    cpu0 = cpu();
    while (done < max && t - t0 < budget) {
        int i;
        for (i = 0; i < n; i++, done++) {
            message(&m, id, sizeof id, done, 1.7e9 + done * 1e-4);
            if (store_put(s, &m) < 0) {
                fprintf(stderr, "bench_store: put: %s\n", store_errmsg(s));
                exit(1);
            }
        }
        commit(s);
        t = now();
    }
    snprintf(what, sizeof what, "put, commit every %d, %s%s", n,
             strcmp(name, ":memory:") == 0 ? ":memory:" : "sync ",
             strcmp(name, ":memory:") == 0 ? "" : syncs[sync]);
    report(what, done, t - t0, "puts");
    close_store(s);
}

/* What the reference SMSC stores for a submit_sm that asks for no
 * receipt: a row keyed by its integer alone, final at a time ahead, with
 * nothing due (no index entry at all); with or without its PDU.
 * Committed every n (a loop turn's worth). */
static void keyed_case(int with_pdu, int n, double budget)
{
    store_t *s = open_store("keyed.db", STORE_SYNC_NORMAL);
    store_msg_t m;
    char what[96];
    long long done = 0;
    double t0 = now(), t = t0;
    cpu0 = cpu();
    while (t - t0 < budget) {
        int i;
        for (i = 0; i < n; i++, done++) {
            store_msg_clear(&m);
            m.account = S("smppclient1");
            m.source = S("447700900123");
            m.dest = S("447700900456");
            m.submitted = 1.7e9 + done * 1e-4;
            m.final = 1;
            m.state = 2;
            m.done = m.submitted + 1;
            if (with_pdu) {
                m.pdu.p = pdu;
                m.pdu.n = sizeof pdu;
            }
            if (store_put(s, &m) < 0) {
                fprintf(stderr, "bench_store: put: %s\n", store_errmsg(s));
                exit(1);
            }
        }
        commit(s);
        t = now();
    }
    snprintf(what, sizeof what, "put keyed, final, nothing due, %s, commit every %d",
             with_pdu ? "120-octet PDU" : "no PDU", n);
    report(what, done, t - t0, "puts");
    close_store(s);
}

typedef struct hit_s {
    char id[32];
    int  found;
} hit_t;

static int hit(const store_msg_t *m, void *ud)
{
    hit_t *h = ud;
    snprintf(h->id, sizeof h->id, "%.*s", (int)m->id.n, m->id.p);
    h->found = 1;
    return 0;
}

/* Receipt matching on the gateway: find the message by the upstream's id,
 * then record its final state with a trace line; commit every 1000.
 * Receipts come in submission order give or take 500 (shuffled: in any
 * order, the worst case for the page cache and the WAL). */
static void receipts_case(long long count, int shuffled)
{
    store_t *s = open_store("receipts.db", STORE_SYNC_NORMAL);
    store_msg_t m;
    store_change_t c;
    char id[32], key[32];
    long long i;
    double t0;
    for (i = 0; i < count; i++) {
        message(&m, id, sizeof id, i, 1.7e9);
        snprintf(key, sizeof key, "%012lld", i * 7919);
        m.upstream = S("smsc1");
        m.upstream_key = S(key);
        m.upstream_id = S(key);
        m.state = 1;
        m.due = NAN;
        store_put(s, &m);
        if (i % 1000 == 999) commit(s);
    }
    commit(s);
    memset(&c, 0, sizeof c);
    store_msg_clear(&c.v);
    c.part = -1;
    c.mask = STORE_BIT(state) | STORE_BIT(final) | STORE_BIT(done);
    c.v.state = 2;
    c.v.final = 1;
    c.v.done = 1.7e9 + 5;
    c.trace = S("receipt DELIVRD err 000");
    c.at = 1.7e9 + 5;
    t0 = now();
    cpu0 = cpu();
    for (i = 0; i < count; i++) {
        hit_t h;
        h.found = 0;
        long long n = shuffled ? (i * 40503) % count : (i / 1000) * 1000 + (i * 389) % 1000;
        snprintf(key, sizeof key, "%012lld", n * 7919);
        store_by_upstream(s, S("smsc1"), S(key), hit, &h);
        if (!h.found || store_update(s, S(h.id), &c) != 1) {
            fprintf(stderr, "bench_store: receipt %s not matched\n", key);
            exit(1);
        }
        if (i % 1000 == 999) commit(s);
    }
    commit(s);
    report(shuffled ? "receipt: by_upstream + update, any order" : "receipt: by_upstream + update, in order",
           count, now() - t0, "rcpts");
    close_store(s);
}

static int count_row(const store_msg_t *m, void *ud)
{
    (*(long long *)ud)++;
    return 0;
}

/* The forward queue: due rows of one upstream taken in batches of `batch`
 * with a lease (each batch one commit); due in the order of submission, or
 * shuffled. */
static void due_case(long long count, int batch, int shuffled)
{
    store_t *s = open_store("due.db", STORE_SYNC_NORMAL);
    store_msg_t m;
    char id[32], what[96];
    long long i, seen = 0;
    double t0;
    for (i = 0; i < count; i++) {
        message(&m, id, sizeof id, i, 1.7e9);
        m.upstream = S("smsc1");
        m.due = 1.7e9 + (double)(shuffled ? (i * 40503) % count : i) * 1e-3;
        store_put(s, &m);
        if (i % 1000 == 999) commit(s);
    }
    commit(s);
    t0 = now();
    cpu0 = cpu();
    for (;;) {
        long long before = seen;
        store_due(s, 2e9, batch, S("smsc1"), 1e9, count_row, &seen);
        commit(s);
        if (seen == before) break;
    }
    snprintf(what, sizeof what, "due + lease, batches of %d%s", batch, shuffled ? ", any order" : "");
    report(what, seen, now() - t0, "rows");
    if (seen != count) fprintf(stderr, "bench_store: due scan saw %lld of %lld\n", seen, count);
    close_store(s);
}

/* Expiry of finished messages in batches of 500. */
static void expire_case(long long count)
{
    store_t *s = open_store("expire.db", STORE_SYNC_NORMAL);
    store_msg_t m;
    store_expiry_t x;
    char id[32];
    long long i, removed = 0;
    double t0;
    for (i = 0; i < count; i++) {
        message(&m, id, sizeof id, i, 1.7e9 + i * 1e-3);
        m.final = 1;
        m.done = m.submitted;
        m.due = NAN;
        store_put(s, &m);
        if (i % 1000 == 999) commit(s);
    }
    commit(s);
    memset(&x, 0, sizeof x);
    t0 = now();
    cpu0 = cpu();
    do {
        store_expire(s, 3e9, 500, &x);
        commit(s);
        removed += x.messages;
    } while (x.more);
    report("expire, batches of 500", removed, now() - t0, "rows");
    close_store(s);
}


/* -- The gateway's cycle ----------------------------------------------------------- */

typedef struct taken_s {
    long long rowid[1000];
    int       n;
    double    due;
    long long last;
} taken_t;

static int take_row(const store_fwd_row_t *r, void *ud)
{
    taken_t *t = ud;
    t->rowid[t->n++] = r->rowid;
    t->due = r->due;
    t->last = r->rowid;
    return 0;
}

static int found_row(const store_fwd_row_t *r, void *ud)
{
    *(long long *)ud = r->rowid;
    return 1;
}

/* What the store-and-forward gateway writes per message, in loop turns of
 * `turn` messages: the message put into its upstream's queue (as
 * core.gw_queue puts it), taken from the queue by the forwarder's cursor,
 * the upstream's answer written (store_fwd_sent), one commit per turn; with
 * receipts, each message asks for one and its receipt is matched by the
 * upstream's key and its final state written (store_fwd_state) a turn
 * later. */
static void gateway_case(long long count, int turn, int receipts)
{
    store_t *s = open_store("gateway.db", STORE_SYNC_NORMAL);
    store_msg_t m;
    taken_t tk, answered;
    char key[32], what[96];
    long long i = 0, j, mkey;
    double t0 = now(), t = 1.7e9, due = NAN;
    long long cur = 0;
    memset(&answered, 0, sizeof answered);
    tk.n = 0;
    cpu0 = cpu();
    while (i < count) {
        /* the receipts of the messages answered a turn ago */
        for (j = 0; receipts && j < answered.n; j++) {
            long long rowid = 0;
            snprintf(key, sizeof key, "%lld", answered.rowid[j] * 7);
            if (store_fwd_by_key(s, S("smsc1"), S(key), 0, found_row, &rowid) != 1
                || store_fwd_receipt(s, rowid, 2, 0, t, 2, S("receipt from smsc1: stat:DELIVRD err:000; "
                                                             "delivered to smppclient1")) != 1) {
                fprintf(stderr, "bench_store: receipt %s: %s\n", key, store_errmsg(s));
                exit(1);
            }
        }
        answered.n = 0;
        /* this turn's messages */
        for (j = 0; j < turn; j++, i++) {
            store_msg_clear(&m);
            m.id_format = 2;                /* hex, made from the key (msgid.h) */
            m.account = S("smppclient1");
            m.source = S("Bench");
            m.dest = S("447700900123");
            m.service_type = S("");
            m.upstream = S("smsc1");
            m.route = S("all");
            m.submitted = t;
            m.expires = t + 172800;
            m.registered_delivery = receipts;
            m.pdu.p = pdu;
            m.pdu.n = 60;
            if ((mkey = store_put(s, &m)) < 0 || store_fwd_queue(s, mkey, m.upstream, t, 12) < 0) {
                fprintf(stderr, "bench_store: put: %s\n", store_errmsg(s));
                exit(1);
            }
        }
        /* the answers of the messages taken a turn ago */
        for (j = 0; j < tk.n && i > turn; j++) {
            char uid[32];
            snprintf(uid, sizeof uid, "%lld", tk.rowid[j] * 7);
            if (store_fwd_sent(s, tk.rowid[j], S(uid), receipts ? S(uid) : (store_str_t){ NULL, 0 }, !receipts, t, 3,
                               S("sent to smsc1 (session 3, attempt 1): accepted as 1234567")) != 1) {
                fprintf(stderr, "bench_store: sent: %s\n", store_errmsg(s));
                exit(1);
            }
            answered.rowid[answered.n++] = tk.rowid[j];
        }
        commit(s);
        /* the forwarder takes this turn's messages */
        tk.n = 0;
        if (store_fwd_take(s, S("smsc1"), due, cur, t + 1, turn, take_row, &tk) != turn) {
            fprintf(stderr, "bench_store: take: %s\n", store_errmsg(s));
            exit(1);
        }
        due = tk.due;
        cur = tk.last;
        t += 0.002;
    }
    snprintf(what, sizeof what, "gateway: put, take, answer%s, turns of %d", receipts ? ", receipt" : "", turn);
    report(what, count, now() - t0, "msgs");
    close_store(s);
}

static const char *only;    /* argv[2]: run one group of cases */

static int want(const char *group)
{
    return !only || strcmp(only, group) == 0;
}

int main(int argc, char **argv)
{
    char cmd[600];
    static const int sizes[] = { 1, 100, 1000 };
    int sync, i;
    dir = argc > 1 ? argv[1] : "build/bench-store";
    only = argc > 2 ? argv[2] : NULL;
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0) return 1;
    memset(pdu, 'x', sizeof pdu);
    printf("store: SQLite %s, %ld CPUs online, files in %s\n", sqlite3_libversion(),
           sysconf(_SC_NPROCESSORS_ONLN), dir);
    for (i = 0; i < 3 && want("puts"); i++) {
        for (sync = STORE_SYNC_OFF; sync <= STORE_SYNC_FULL; sync++)
            puts_case("puts.db", sync, sizes[i], 300000, 1.5);
        puts_case(":memory:", STORE_SYNC_OFF, sizes[i], 300000, 1.5);
    }
    if (want("keyed")) {
        keyed_case(0, 100, 1.5);
        keyed_case(1, 100, 1.5);
    }
    if (want("receipts")) {
        receipts_case(100000, 0);
        receipts_case(20000, 1);
    }
    if (want("due")) {
        due_case(100000, 100, 0);
        due_case(100000, 1000, 0);
        due_case(20000, 100, 1);
    }
    if (want("expire")) expire_case(100000);
    if (want("gateway")) {
        long long n = argc > 3 ? atoll(argv[3]) : 100000;
        gateway_case(n, 200, 0);
        gateway_case(n, 200, 1);
    }
    return 0;
}
