/* test_store.c -- C unit tests of the store: records and lookups, bounds,
 * expiry batches, id counters across reopen and crash, group commit and its
 * failures, and the files it refuses (corrupt, not a database, read-only).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "msgid.h"
#include "store.h"
#include "store_int.h"         /* the statements, for their query plans */
#include "test.h"

static char dir[64];
static char err[1024];

/* -- Helpers -------------------------------------------------------------------- */

static store_str_t S(const char *s)
{
    store_str_t v;
    v.p = s;
    v.n = s ? strlen(s) : 0;
    return v;
}

static store_opts_t opts(const char *path)
{
    store_opts_t o;
    memset(&o, 0, sizeof o);
    o.path = path;
    o.sync = STORE_SYNC_OFF;
    o.busy_timeout = 1;
    o.trace_ttl = 100;
    o.lease = 30;
    o.max_messages = o.max_outbox = o.max_outbox_account = o.max_early = 1000;
    o.max_sticky = 1000;
    return o;
}

static const char *file(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static store_t *open_at(const char *path)
{
    store_opts_t o = opts(path);
    store_t *s = store_open(&o, err, sizeof err);
    if (!s) printf("  open %s: %s\n", path, err);
    return s;
}

/* A pending message to dest from "src" of account "acct". */
static long long put(store_t *s, const char *id, long long part, double submitted)
{
    store_msg_t m;
    store_msg_clear(&m);
    m.id = S(id);
    m.part = part;
    m.account = S("acct");
    m.source = S("src");
    m.dest = S("4477");
    m.submitted = submitted;
    m.pdu = S("pdu");
    return store_put(s, &m);
}

/* Callbacks that copy what tests look at. */
typedef struct seen_s {
    int    n;
    char   ids[64][48];
    long long parts[64];
    double due[64];
    long long state[64];
    char   trace[512];
    double keep;
    int    final;
} seen_t;

static int see(const store_msg_t *m, void *ud)
{
    seen_t *v = ud;
    if (v->n < 64) {
        snprintf(v->ids[v->n], sizeof v->ids[0], "%.*s", (int)m->id.n, m->id.p ? m->id.p : "");
        v->parts[v->n] = m->part;
        v->due[v->n] = m->due;
        v->state[v->n] = m->state;
    }
    snprintf(v->trace, sizeof v->trace, "%.*s", m->trace.p ? (int)m->trace.n : 0, m->trace.p ? m->trace.p : "");
    v->keep = m->keep_until;
    v->final = (int)m->final;
    v->n++;
    return 0;
}

static int see_item(const store_item_t *it, void *ud)
{
    seen_t *v = ud;
    if (v->n < 64) {
        snprintf(v->ids[v->n], sizeof v->ids[0], "%.*s", (int)it->ref.n, it->ref.p ? it->ref.p : "");
        v->parts[v->n] = it->rowid;
        v->due[v->n] = it->due;
        v->state[v->n] = it->attempts;
    }
    v->n++;
    return 0;
}

static long long count_messages(store_t *s)
{
    store_levels_t l;
    store_levels(s, &l);
    return l.messages;
}

/* -- SQLite's allocator (store_mem.c) ---------------------------------------------- */

static void *other_thread_frees(void *p)
{
    sqlite3_free(p);                         /* back to malloc: the lists are not this thread's */
    return NULL;
}

static void sqlite_allocator(void)
{
    store_t *s = open_at(":memory:");        /* the first open installs it */
    char *a, *b, *c;
    pthread_t t;
    int i;
    CHECK(s);
    a = sqlite3_malloc(100);
    CHECK(a != NULL);
    CHECK_EQ(sqlite3_msize(a), 128);         /* its size class */
    for (i = 0; i < 100; i++) a[i] = (char)i;
    b = sqlite3_realloc(a, 120);             /* the same class: the same block */
    CHECK(b == a);
    c = sqlite3_realloc(b, 3000);            /* past the classes: malloc's, the octets moved */
    CHECK(c != NULL);
    CHECK_EQ(sqlite3_msize(c), 3000);
    for (i = 0; i < 100 && c[i] == (char)i; i++) {}
    CHECK_EQ(i, 100);
    sqlite3_free(c);
    a = sqlite3_malloc(200);
    sqlite3_free(a);
    b = sqlite3_malloc(256);                 /* the block of its class freed last */
#if !defined(__SANITIZE_ADDRESS__)
    CHECK(b == a);
#endif
    CHECK_EQ(sqlite3_msize(b), 256);
    CHECK(pthread_create(&t, NULL, other_thread_frees, b) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    a = sqlite3_malloc(1);
    CHECK_EQ(sqlite3_msize(a), 64);
    sqlite3_free(a);
    if (s) store_close(s);
}

/* -- Records ---------------------------------------------------------------------- */

static void record_round_trip(void)
{
    store_t *s = open_at(":memory:");
    store_msg_t m;
    seen_t v;
    static const char pdu[] = { 0, 1, 2, 0, 3 };
    CHECK(s);
    if (!s) return;
    store_msg_clear(&m);
    m.id = S("id1");
    m.account = S("acct");
    m.submitted = 1000.5;
    m.registered_delivery = 1;
    m.pdu.p = pdu;
    m.pdu.n = sizeof pdu;
    CHECK(store_put(s, &m) > 0);
    CHECK_EQ(store_put(s, &m), STORE_EEXISTS);
    CHECK(strstr(store_errmsg(s), "id1") != NULL);
    m.part = 1;
    CHECK(store_put(s, &m) > 0);
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_get(s, S("id1"), 0, see, &v), 1);
    CHECK_EQ(store_get(s, S("nope"), 0, see, &v), 0);
    CHECK_EQ(store_parts(s, S("id1"), see, &v), 2);
    CHECK_EQ(v.parts[2], 1);
    /* keep_until of a pending message: its submission (no validity) + ttl */
    CHECK(fabs(v.keep - 1100.5) < 1e-9);
    CHECK(isnan(v.due[0]));
    m.id.n = 0;
    CHECK_EQ(store_put(s, &m), STORE_EARG);
    CHECK_EQ(store_commit(s, NULL), 2);
    CHECK_EQ(store_commit(s, NULL), 0);
    store_close(s);
}

static int same_pdu(const store_msg_t *m, void *ud)
{
    *(int *)ud = m->pdu.n == 5 && memcmp(m->pdu.p, "\0\1\2\0\3", 5) == 0 && !m->source.p &&
                 m->registered_delivery == 1 && m->submitted == 1000.5 && m->final == 0;
    return 0;
}

static void record_fields_survive(void)
{
    store_t *s = open_at(file("fields.db"));
    store_msg_t m;
    int ok = 0;
    CHECK(s);
    if (!s) return;
    store_msg_clear(&m);
    m.id = S("x");
    m.submitted = 1000.5;
    m.registered_delivery = 1;
    m.pdu.p = "\0\1\2\0\3";
    m.pdu.n = 5;
    CHECK(store_put(s, &m) > 0);
    CHECK_EQ(store_commit(s, NULL), 1);
    store_close(s);
    s = open_at(file("fields.db"));
    CHECK(s);
    if (!s) return;
    CHECK_EQ(store_get(s, S("x"), 0, same_pdu, &ok), 1);
    CHECK(ok);
    store_close(s);
}

static void update_masks_and_trace(void)
{
    store_t *s = open_at(":memory:");
    store_change_t c;
    seen_t v;
    CHECK(s);
    if (!s) return;
    CHECK(put(s, "m", 0, 100) > 0);
    CHECK(put(s, "m", 1, 100) > 0);
    memset(&c, 0, sizeof c);
    store_msg_clear(&c.v);
    c.part = -1;
    c.mask = STORE_BIT(state);
    c.v.state = 1;
    c.trace = S("forwarded up1");
    c.at = 101;
    CHECK_EQ(store_update(s, S("m"), &c), 2);                /* every part */
    c.mask = STORE_BIT(final) | STORE_BIT(done) | STORE_BIT(state);
    c.v.final = 1;
    c.v.done = 150;
    c.v.state = 2;
    c.part = 1;
    c.trace = S("receipt DELIVRD");
    c.at = 150;
    CHECK_EQ(store_update(s, S("m"), &c), 1);                /* one part */
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_get(s, S("m"), 1, see, &v), 1);
    CHECK(strcmp(v.trace, "101.000 forwarded up1\n150.000 receipt DELIVRD\n") == 0);
    CHECK(fabs(v.keep - 250) < 1e-9);                        /* done + ttl */
    CHECK_EQ(v.final, 1);
    /* pending only: part 1 is final now, part 0 is not */
    c.mask = STORE_BIT(state);
    c.v.state = 4;
    c.part = -1;
    c.pending = 1;
    c.trace.p = NULL;
    CHECK_EQ(store_update(s, S("m"), &c), 1);
    memset(&v, 0, sizeof v);
    store_parts(s, S("m"), see, &v);
    CHECK_EQ(v.state[0], 4);
    CHECK_EQ(v.state[1], 2);
    /* validity later than submission moves keep_until */
    c.mask = STORE_BIT(expires);
    c.v.expires = 500;
    c.part = 0;
    c.pending = 0;
    CHECK_EQ(store_update(s, S("m"), &c), 1);
    memset(&v, 0, sizeof v);
    store_get(s, S("m"), 0, see, &v);
    CHECK(fabs(v.keep - 600) < 1e-9);
    /* a caller's mistakes */
    c.mask = STORE_BIT(id);
    CHECK_EQ(store_update(s, S("m"), &c), STORE_EARG);
    c.mask = 0;
    CHECK_EQ(store_update(s, S("m"), &c), STORE_EARG);
    c.trace = S("no time");
    c.at = NAN;
    CHECK_EQ(store_update(s, S("m"), &c), STORE_EARG);
    c.mask = STORE_BIT(state);
    c.trace.p = NULL;
    CHECK_EQ(store_update(s, S("absent"), &c), 0);
    store_close(s);
}

static void lookups(void)
{
    store_t *s = open_at(":memory:");
    store_change_t c;
    store_find_t q;
    store_list_t l;
    seen_t v;
    long long next;
    int i;
    CHECK(s);
    if (!s) return;
    for (i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "f%d", i);
        CHECK(put(s, id, 0, 100 + i) > 0);
    }
    memset(&c, 0, sizeof c);
    store_msg_clear(&c.v);
    c.part = -1;
    c.mask = STORE_BIT(final) | STORE_BIT(done);
    c.v.final = 1;
    c.v.done = 200;
    store_update(s, S("f1"), &c);
    c.mask = STORE_BIT(upstream) | STORE_BIT(upstream_key);
    c.v.upstream = S("up1");
    c.v.upstream_key = S("abc");
    store_update(s, S("f3"), &c);
    memset(&q, 0, sizeof q);
    q.account = S("acct");
    q.source = S("src");
    q.dest = S("4477");
    q.limit = 10;
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_find(s, &q, see, &v), 3);                 /* f1 is final; f3 a gateway's (an upstream) */
    CHECK(strcmp(v.ids[0], "f0") == 0 && strcmp(v.ids[1], "f2") == 0 && strcmp(v.ids[2], "f4") == 0);
    q.service_type = S("CMT");
    CHECK_EQ(store_find(s, &q, NULL, NULL), 0);
    q.service_type.p = NULL;
    q.dest = S("other");
    CHECK_EQ(store_find(s, &q, NULL, NULL), 0);
    q.source.p = NULL;
    CHECK_EQ(store_find(s, &q, NULL, NULL), STORE_EARG);
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_by_upstream(s, S("up1"), S("abc"), see, &v), 1);
    CHECK(strcmp(v.ids[0], "f3") == 0);
    CHECK_EQ(store_by_upstream(s, S("up2"), S("abc"), see, &v), 0);
    memset(&l, 0, sizeof l);
    l.account = S("acct");
    l.since = 101;
    l.until = NAN;
    l.state = -1;
    l.limit = 2;
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_list(s, &l, see, &v, &next), 2);
    CHECK(strcmp(v.ids[0], "f1") == 0 && strcmp(v.ids[1], "f2") == 0);
    CHECK(next > 0);                                         /* the limit: more may follow */
    l.until = 103;
    l.limit = 10;
    CHECK_EQ(store_list(s, &l, NULL, NULL, &next), 2);
    CHECK_EQ(next, 0);
    store_close(s);
}

/* Ids made from keys: the rows hold none, the store makes them (in the
 * row's format, with its node id) and reads them back; an id of another
 * format, node or key finds nothing. */
static int see_fwd(const store_fwd_row_t *r, void *ud)
{
    seen_t *v = ud;
    if (v->n < 64) snprintf(v->ids[v->n], sizeof v->ids[0], "%.*s", (int)r->id.n, r->id.p ? r->id.p : "");
    v->n++;
    return 0;
}

static void ids_made_from_keys(void)
{
    store_t *s = open_at(":memory:");
    store_msg_t m;
    store_change_t c;
    store_expiry_t x;
    seen_t v;
    char id[3][64], other[64];
    long long key[3], node;
    int f;
    CHECK(s);
    if (!s) return;
    node = store_node_id(s);
    for (f = MSGID_KEYED_DECIMAL; f <= MSGID_KEYED_UUID; f++) {
        store_msg_clear(&m);
        m.account = S("acct");
        m.submitted = 100;
        m.upstream = S("up");
        m.id_format = f;
        key[f - 1] = store_put(s, &m);
        CHECK(key[f - 1] > 0);
        CHECK_EQ(store_fwd_queue(s, key[f - 1], S("up"), 100, 0), 1);
        CHECK(msgid_keyed_make(f, (unsigned long long)node, (unsigned long long)key[f - 1], id[f - 1],
                               sizeof id[0]) > 0);
    }
    for (f = 0; f < 3; f++) {
        memset(&v, 0, sizeof v);
        CHECK_EQ(store_get(s, S(id[f]), 0, see, &v), 1);              /* by the id: the row */
        CHECK(strcmp(v.ids[0], id[f]) == 0);                          /* which reads with it */
        memset(&v, 0, sizeof v);
        CHECK_EQ(store_get_key(s, key[f], see, &v), 1);
        CHECK(strcmp(v.ids[0], id[f]) == 0);
        CHECK_EQ(store_parts(s, S(id[f]), NULL, NULL), 1);
        CHECK_EQ(store_get(s, S(id[f]), 1, NULL, NULL), 0);          /* no part 1 */
    }
    /* the key of the hex row written in decimal: not that row's id */
    msgid_keyed_make(MSGID_KEYED_DECIMAL, (unsigned long long)node, (unsigned long long)key[1], other, sizeof other);
    CHECK_EQ(store_get(s, S(other), 0, NULL, NULL), 0);
    /* another node's id, and a key not stored */
    msgid_keyed_make(MSGID_KEYED_HEX, (unsigned long long)(node == 1 ? 2 : node - 1), (unsigned long long)key[1],
                     other, sizeof other);
    CHECK_EQ(store_get(s, S(other), 0, NULL, NULL), 0);
    msgid_keyed_make(MSGID_KEYED_HEX, (unsigned long long)node, 999999, other, sizeof other);
    CHECK_EQ(store_get(s, S(other), 0, NULL, NULL), 0);
    /* an update by the id reaches the row; the forward queue reads the id */
    memset(&c, 0, sizeof c);
    store_msg_clear(&c.v);
    c.part = -1;
    c.trace = S("looked at");
    c.at = 150;
    CHECK_EQ(store_update(s, S(id[2]), &c), 1);
    CHECK_EQ(store_update(s, S(other), &c), 0);
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_get(s, S(id[2]), 0, see, &v), 1);
    CHECK(strstr(v.trace, "150.000 looked at") != NULL);
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_fwd_take(s, S("up"), NAN, 0, 200, 10, see_fwd, &v), 3);
    CHECK(strcmp(v.ids[0], id[0]) == 0 && strcmp(v.ids[2], id[2]) == 0);
    /* expiry names a message that never reached a final state by its id */
    memset(&x, 0, sizeof x);
    x.on_message = NULL;
    CHECK_EQ(store_expire(s, 1e12, 100, &x), 0);
    CHECK_EQ(x.unfinished, 3);
    store_close(s);
}

/* list walks the keys: from the first submitted at since (bisection),
 * rows of every kind (text ids, ids made from keys), a bounded number per
 * call with a `next` to go on from. */
static void list_walks_keys(void)
{
    store_t *s = open_at(":memory:");
    store_msg_t m;
    store_list_t l;
    seen_t v;
    long long next, total;
    int i;
    CHECK(s);
    if (!s) return;
    for (i = 0; i < 900; i++) {
        char id[16];
        store_msg_clear(&m);
        snprintf(id, sizeof id, "t%d", i);
        if (i % 2) m.id = S(id);
        else m.id_format = MSGID_KEYED_HEX;
        m.account = S(i % 3 ? "other" : "acct");
        m.submitted = 1000 + i;        /* 1000 .. 1899 */
        m.state = i % 5 == 0 ? 2 : 1;
        CHECK(store_put(s, &m) > 0);
    }
    memset(&l, 0, sizeof l);
    l.account = S("acct");
    l.since = 1500;            /* i = 500 .. */
    l.until = 1530;            /* .. 529: 10 of acct */
    l.state = -1;
    l.limit = 100;
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_list(s, &l, see, &v, &next), 10);
    CHECK_EQ(next, 0);
    CHECK(strcmp(v.ids[0], "t501") == 0);
    l.state = 2;                                       /* i % 15 == 0: 510, 525 */
    CHECK_EQ(store_list(s, &l, NULL, NULL, &next), 2);
    /* a small scan: pages, each going on after the last */
    l.state = -1;
    l.since = NAN;
    l.until = NAN;
    l.scan = 200;
    total = 0;
    next = 0;
    do {
        int got;
        l.after = next;
        got = store_list(s, &l, NULL, NULL, &next);
        CHECK(got >= 0 && got <= 200 / 3 + 1);
        total += got;
    } while (next > 0 && total < 5000);
    CHECK_EQ(total, 300);
    l.account = S("nobody");
    l.scan = 0;
    l.after = 0;
    CHECK_EQ(store_list(s, &l, NULL, NULL, &next), 0);
    store_close(s);
}

static void due_and_lease(void)
{
    store_t *s = open_at(":memory:");
    store_change_t c;
    seen_t v;
    const char *ids[] = { "d0", "d1", "d2", "d3" };
    double dues[] = { 30, 10, 20, 5 };
    int i;
    CHECK(s);
    if (!s) return;
    memset(&c, 0, sizeof c);
    store_msg_clear(&c.v);
    c.part = -1;
    for (i = 0; i < 4; i++) {
        put(s, ids[i], 0, 1);
        c.mask = STORE_BIT(due) | (i == 3 ? STORE_BIT(upstream) : 0);
        c.v.due = dues[i];
        c.v.upstream = S("up1");
        CHECK_EQ(store_update(s, S(ids[i]), &c), 1);
    }
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_due(s, 25, 10, S(NULL), NAN, see, &v), 2);   /* local ones, earliest first */
    CHECK(strcmp(v.ids[0], "d1") == 0 && strcmp(v.ids[1], "d2") == 0);
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_due(s, 25, 10, S("up1"), NAN, see, &v), 1);
    CHECK(strcmp(v.ids[0], "d3") == 0);
    /* a lease hides rows until it ends */
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_due(s, 100, 2, S(NULL), 50, see, &v), 2);
    CHECK(v.due[0] == 150);
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_due(s, 100, 10, S(NULL), 50, see, &v), 1);   /* d0 only */
    CHECK(strcmp(v.ids[0], "d0") == 0);
    CHECK_EQ(store_due(s, 149, 10, S(NULL), NAN, NULL, NULL), 0);
    CHECK_EQ(store_due(s, 150, 10, S(NULL), NAN, NULL, NULL), 3);
    CHECK_EQ(store_due(s, 150, STORE_BATCH_MAX + 1, S(NULL), NAN, NULL, NULL), STORE_EARG);
    CHECK_EQ(store_outbox_take(s, S("A"), STORE_BATCH_MAX + 1, 150, NAN, NULL, NULL), STORE_EARG);
    store_close(s);
}

/* -- Forward queues -------------------------------------------------------------------- */

typedef struct fseen_s {
    int       n;
    long long rowid[16];
    char      ids[16][16];
    double    due[16], first[16];
    int       final[16];
} fseen_t;

static int fsee(const store_fwd_row_t *r, void *ud)
{
    fseen_t *v = ud;
    if (v->n < 16) {
        v->rowid[v->n] = r->rowid;
        v->due[v->n] = r->due;
        v->final[v->n] = r->final;
        v->first[v->n] = r->first;
        snprintf(v->ids[v->n], sizeof v->ids[0], "%.*s", (int)r->id.n, r->id.p);
    }
    v->n++;
    return 0;
}

static void count_queue(store_str_t up, long long n, void *ud)
{
    if (up.n == 2 && memcmp(up.p, "up", 2) == 0) *(long long *)ud = n;
}

/* A message queued for `up` from `due`. */
/* A gateway's message: its record (with the upstream), then its place in
 * the upstream's queue (the fwd row). Two writes. */
static void queue(store_t *s, const char *id, const char *up, double due)
{
    store_msg_t m;
    long long key;
    store_msg_clear(&m);
    m.id = S(id);
    m.account = S("acct");
    m.source = S("src");
    m.dest = S("4477");
    m.submitted = 1;
    m.upstream = S(up);
    m.pdu = S("pdu");
    key = store_put(s, &m);
    CHECK(key > 0);
    CHECK_EQ(store_fwd_queue(s, key, S(up), due, 0), 1);
}

/* The same as the gateway stores an ESME's message: no trace in the
 * record, its first line kept as via (the session). */
static long long queue_via(store_t *s, const char *id, const char *up, double due, long long via)
{
    store_msg_t m;
    long long key;
    store_msg_clear(&m);
    m.id = S(id);
    m.account = S("acct");
    m.source = S("src");
    m.dest = S("4477");
    m.submitted = 1;
    m.upstream = S(up);
    m.route = S("all");
    m.pdu = S("pdu");
    key = store_put(s, &m);
    CHECK(key > 0);
    CHECK_EQ(store_fwd_queue(s, key, S(up), due, via), 1);
    return key;
}

static void stamp_as_printf(void)
{
    static const double t[] = { 0, 0.0005, 1.25, 21, 1733067864.588, 1733067864.0004, 99999.9999, -1, 1e16 };
    char a[STORE_STAMP_MAX], b[64];
    size_t i, n;
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        n = store_stamp(a, t[i]);
        snprintf(b, sizeof b, "%.3f ", t[i]);
        CHECK_EQ(n, strlen(a));
        if (strcmp(a, b) != 0) printf("  stamp %.6f: \"%s\" vs \"%s\"\n", t[i], a, b);
        CHECK(strcmp(a, b) == 0);
    }
}

static void forward_queue_by_cursor(void)
{
    store_t *s = open_at(":memory:");
    fseen_t v;
    seen_t m;
    long long queued = 0;
    CHECK(s);
    if (!s) return;
    queue(s, "q1", "up", 10);
    queue(s, "q2", "up", 10);          /* the same due: rowid decides */
    queue(s, "q3", "up", 5);
    queue(s, "q4", "other", 1);
    queue(s, "q5", "up", 50);          /* not due yet */
    CHECK_EQ(store_commit(s, NULL), 10);
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_fwd_take(s, S("up"), NAN, 0, 20, 2, fsee, &v), 2);
    CHECK(strcmp(v.ids[0], "q3") == 0 && strcmp(v.ids[1], "q1") == 0);
    /* taking wrote nothing: the next take goes on from the cursor */
    CHECK(!store_in_txn(s));
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_fwd_take(s, S("up"), 10, 1, 20, 10, fsee, &v), 1);
    CHECK(strcmp(v.ids[0], "q2") == 0);
    CHECK_EQ(store_fwd_counts(s, count_queue, &queued), 2);
    CHECK_EQ(queued, 4);
    /* the answer takes q1 out of the queue; a retry puts q3 after the cursor */
    CHECK_EQ(store_fwd_sent(s, 1, S("U-7"), S("7"), 0, 21, 0, S("sent to up, accepted as U-7")), 1);
    CHECK_EQ(store_fwd_retry(s, 3, 30, 0x58, NAN, 21, S("up answered ESME_RTHROTTLED")), 1);
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_fwd_take(s, S("up"), NAN, 0, 40, 10, fsee, &v), 2);
    CHECK(strcmp(v.ids[0], "q2") == 0 && strcmp(v.ids[1], "q3") == 0);
    CHECK(v.due[1] == 30);
    CHECK(isnan(v.first[0]) && isnan(v.first[1]));
    /* a sending that went unanswered: its stamp is kept, the first one's */
    CHECK_EQ(store_fwd_retry(s, 3, 31, 0, 20.75, 22, S("no answer")), 1);
    CHECK_EQ(store_fwd_retry(s, 3, 32, 0, 31.5, 32, S("no answer")), 1);
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_fwd_take(s, S("up"), NAN, 0, 40, 10, fsee, &v), 2);
    CHECK(strcmp(v.ids[1], "q3") == 0 && v.first[1] == 20.75 && v.due[1] == 32);
    /* moved to another upstream: not sent to that one yet */
    CHECK_EQ(store_fwd_move(s, 3, S("other"), 33, 0, 33, S("moved")), 1);
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_fwd_take(s, S("other"), NAN, 0, 40, 10, fsee, &v), 2);
    CHECK(strcmp(v.ids[1], "q3") == 0 && isnan(v.first[1]));
    CHECK_EQ(store_fwd_move(s, 3, S("up"), 30, 0, 34, S("moved back")), 1);
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_fwd_by_key(s, S("up"), S("7"), 0, fsee, &v), 1);
    CHECK(strcmp(v.ids[0], "q1") == 0 && !v.final[0]);
    CHECK_EQ(store_fwd_by_key(s, S("other"), S("7"), 0, NULL, NULL), 0);
    memset(&m, 0, sizeof m);
    CHECK_EQ(store_get(s, S("q1"), 0, see, &m), 1);
    CHECK_EQ(m.state[0], 1);
    CHECK(isnan(m.due[0]));
    CHECK(strstr(m.trace, "21.000 sent to up, accepted as U-7\n") != NULL);
    CHECK(!m.final);
    /* a final state, done; the record is kept as when it was put
     * (trace_ttl, 100, after it was submitted: it is not written again) */
    CHECK_EQ(store_fwd_state(s, 1, 2, 1, 0, 60, S("receipt DELIVRD")), 1);
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_fwd_by_key(s, S("up"), S("7"), 0, fsee, &v), 1);
    CHECK(strcmp(v.ids[0], "q1") == 0 && v.final[0]);       /* a receipt's lookup says it is final */
    memset(&m, 0, sizeof m);
    CHECK_EQ(store_get(s, S("q1"), 0, see, &m), 1);
    CHECK(m.final && m.keep == 101);
    CHECK_EQ(m.state[0], 2);
    CHECK(strstr(m.trace, "60.000 receipt DELIVRD") != NULL);
    memset(&m, 0, sizeof m);
    CHECK_EQ(store_get(s, S("q3"), 0, see, &m), 1);
    CHECK(strstr(m.trace, "up answered ESME_RTHROTTLED") != NULL);
    CHECK_EQ(store_fwd_sent(s, 999, S("x"), S(NULL), 1, 1, 0, S("gone")), 0);
    CHECK_EQ(store_fwd_take(s, S("up"), NAN, 0, 1, STORE_BATCH_MAX + 1, NULL, NULL), STORE_EARG);
    CHECK_EQ(store_commit(s, NULL), 7);            /* sent, 3 retries, 2 moves, state; the miss wrote nothing */
    store_close(s);
}

/* The usual lines (sent, a receipt delivered) kept as columns read back
 * as the text they stand for, in their place; a second receipt, which
 * changes what the first one's line is made of, writes them out first. */
static void forward_usual_lines_as_text(void)
{
    store_t *s = open_at(":memory:");
    store_change_t c;
    seen_t m;
    char line[STORE_LINE_MAX], want[1024];
    size_t n;
    CHECK(s);
    if (!s) return;
    queue_via(s, "q1", "up", 10, 7);
    queue(s, "q2", "up", 10);
    queue(s, "q3", "up", 10);
    CHECK_EQ(store_commit(s, NULL), 6);
    n = store_fwd_line_accepted(line, sizeof line, S("acct"), 7, NULL, S("all"), S("up"));
    CHECK(strcmp(line, "accepted from acct (session 7), route 'all', queued for up") == 0);
    n = store_fwd_line_sent(line, sizeof line, S("up"), 3, 1, S("U-7"));
    CHECK(strcmp(line, "sent to up (session 3, attempt 1): accepted as U-7") == 0);
    CHECK_EQ(store_fwd_sent(s, 1, S("U-7"), S("7"), 0, 21, 3, (store_str_t){ line, n }), 1);
    /* q2: retried first, so its sent line follows text and is text too */
    CHECK_EQ(store_fwd_retry(s, 2, 11, 0x58, NAN, 20.5, S("up answered ESME_RTHROTTLED")), 1);
    /* (the usual line left to the store: made from the row, as text here) */
    CHECK_EQ(store_fwd_sent(s, 2, S("U-8"), S("8"), 0, 22, 4, S(NULL)), 1);
    n = store_fwd_line_receipt(line, sizeof line, S("up"), 2, 0, 1, S("delivered to acct"));
    CHECK(strcmp(line, "receipt from up: stat:DELIVRD err:000; delivered to acct") == 0);
    CHECK_EQ(store_fwd_receipt(s, 1, 2, 0, 60, 2, (store_str_t){ line, n }), 1);
    CHECK_EQ(store_fwd_receipt(s, 2, 2, 0, 61, 2, (store_str_t){ line, n }), 1);
    memset(&m, 0, sizeof m);
    CHECK_EQ(store_get(s, S("q1"), 0, see, &m), 1);
    CHECK(m.final && m.state[0] == 2);
    CHECK(strcmp(m.trace, "1.000 accepted from acct (session 7), route 'all', queued for up\n"
                          "21.000 sent to up (session 3, attempt 1): accepted as U-7\n"
                          "60.000 receipt from up: stat:DELIVRD err:000; delivered to acct\n") == 0);
    memset(&m, 0, sizeof m);
    CHECK_EQ(store_get(s, S("q2"), 0, see, &m), 1);
    CHECK(strcmp(m.trace, "20.500 up answered ESME_RTHROTTLED\n"
                          "22.000 sent to up (session 4, attempt 2): accepted as U-8\n"
                          "61.000 receipt from up: stat:DELIVRD err:000; delivered to acct\n") == 0);
    /* the same receipt again, another state: the first line stays as it was */
    CHECK_EQ(store_fwd_receipt(s, 1, 5, 1, 70, 1, S(NULL)), 1);
    /* a line of the script's, after them */
    memset(&c, 0, sizeof c);
    store_msg_clear(&c.v);
    c.part = -1;
    c.key = 1;                             /* by key, as the gateway's own ids go */
    c.trace = S("a note");
    c.at = 80;
    CHECK_EQ(store_update(s, S("q1"), &c), 1);
    memset(&m, 0, sizeof m);
    CHECK_EQ(store_get(s, S("q1"), 0, see, &m), 1);
    snprintf(want, sizeof want, "%s", "1.000 accepted from acct (session 7), route 'all', queued for up\n"
             "21.000 sent to up (session 3, attempt 1): accepted as U-7\n"
             "60.000 receipt from up: stat:DELIVRD err:000; delivered to acct\n"
             "70.000 receipt from up: stat:UNDELIV err:001\n80.000 a note\n");
    CHECK(strcmp(m.trace, want) == 0);
    CHECK_EQ(m.state[0], 5);
    /* another route for the record: its first line stays as it was */
    memset(&c, 0, sizeof c);
    store_msg_clear(&c.v);
    c.part = -1;
    c.key = 1;
    c.mask = STORE_BIT(route);
    c.v.route = S("other");
    CHECK_EQ(store_update(s, S("q1"), &c), 1);
    memset(&m, 0, sizeof m);
    CHECK_EQ(store_get(s, S("q1"), 0, see, &m), 1);
    CHECK(strcmp(m.trace, want) == 0);
    /* a change of attempts (a script's) writes the sent line out first too */
    n = store_fwd_line_sent(line, sizeof line, S("up"), 5, 1, S("U-9"));
    CHECK_EQ(store_fwd_sent(s, 3, S("U-9"), S("9"), 0, 23, 5, (store_str_t){ line, n }), 1);
    memset(&c, 0, sizeof c);
    store_msg_clear(&c.v);
    c.part = -1;
    c.key = 3;
    c.mask = STORE_BIT(attempts);
    c.v.attempts = 9;
    CHECK_EQ(store_update(s, S("q3"), &c), 1);
    memset(&m, 0, sizeof m);
    CHECK_EQ(store_get(s, S("q3"), 0, see, &m), 1);
    CHECK(strcmp(m.trace, "23.000 sent to up (session 5, attempt 1): accepted as U-9\n") == 0);
    store_close(s);
}

/* -- Bounds ---------------------------------------------------------------------------- */

static void bound_messages_evicts_final_only(void)
{
    store_opts_t o = opts(":memory:");
    store_levels_t l;
    store_change_t c;
    store_t *s;
    o.max_messages = 3;
    s = store_open(&o, err, sizeof err);
    CHECK(s);
    if (!s) return;
    CHECK(put(s, "b1", 0, 1) > 0);
    CHECK(put(s, "b2", 0, 2) > 0);
    CHECK(put(s, "b3", 0, 3) > 0);
    CHECK_EQ(put(s, "b4", 0, 4), STORE_EFULL);          /* nothing final to drop */
    CHECK(strstr(store_errmsg(s), "limits.messages") != NULL);
    memset(&c, 0, sizeof c);
    store_msg_clear(&c.v);
    c.part = -1;
    c.mask = STORE_BIT(final) | STORE_BIT(done);
    c.v.final = 1;
    c.v.done = 5;
    store_update(s, S("b2"), &c);
    CHECK(put(s, "b4", 0, 4) > 0);                    /* b2's room */
    CHECK_EQ(store_get(s, S("b2"), 0, NULL, NULL), 0);
    store_levels(s, &l);
    CHECK_EQ(l.messages, 3);
    CHECK_EQ(l.max_messages, 3);
    CHECK_EQ(l.evicted, 1);
    store_close(s);
}

static void bound_outbox_and_early(void)
{
    store_opts_t o = opts(":memory:");
    store_levels_t l;
    store_t *s;
    long long r1;
    o.max_outbox = 3;
    o.max_outbox_account = 2;
    o.max_early = 1;
    s = store_open(&o, err, sizeof err);
    CHECK(s);
    if (!s) return;
    r1 = store_outbox_push(s, S("A"), S("p1"), S("m1"), NAN, NAN);
    CHECK(r1 > 0);
    CHECK(store_outbox_push(s, S("A"), S("p2"), S("m2"), NAN, NAN) > r1);
    CHECK_EQ(store_outbox_push(s, S("A"), S("p3"), S("m3"), NAN, NAN), STORE_EFULL);
    CHECK(strstr(store_errmsg(s), "outbox_per_account") != NULL);
    CHECK(store_outbox_push(s, S("B"), S("p4"), S(NULL), NAN, NAN) > 0);
    CHECK_EQ(store_outbox_push(s, S("C"), S("p5"), S(NULL), NAN, NAN), STORE_EFULL);
    CHECK_EQ(store_outbox_count(s, S("A")), 2);
    CHECK_EQ(store_outbox_count(s, S("B")), 1);
    CHECK_EQ(store_outbox_count(s, S("C")), 0);
    CHECK_EQ(store_outbox_ack(s, r1), 1);
    CHECK_EQ(store_outbox_ack(s, r1), 0);
    CHECK_EQ(store_outbox_count(s, S("A")), 1);
    CHECK(store_outbox_push(s, S("C"), S("p5"), S(NULL), NAN, NAN) > 0);
    CHECK(store_early_put(s, S("up"), S("k"), S("r"), 10, 1) > 0);
    CHECK_EQ(store_early_put(s, S("up"), S("k2"), S("r"), 10, 1), STORE_EFULL);
    store_levels(s, &l);
    CHECK_EQ(l.outbox, 3);
    CHECK_EQ(l.early, 1);
    store_close(s);
}

static void outbox_take_ack_retry(void)
{
    store_t *s = open_at(":memory:");
    seen_t v;
    long long a, b;
    CHECK(s);
    if (!s) return;
    a = store_outbox_push(s, S("A"), S("p1"), S("m1"), NAN, NAN);
    b = store_outbox_push(s, S("A"), S("p2"), S("m2"), 50, NAN);
    store_outbox_push(s, S("B"), S("p3"), S("m3"), NAN, NAN);
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_outbox_take(s, S("A"), 10, 10, 30, see_item, &v), 1);  /* p2 not due yet */
    CHECK_EQ(v.parts[0], a);
    CHECK(v.due[0] == 40);
    CHECK_EQ(v.state[0], 1);                                  /* attempts */
    CHECK_EQ(store_outbox_take(s, S("A"), 10, 20, 30, NULL, NULL), 0); /* leased */
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_outbox_take(s, S("A"), 10, 60, NAN, see_item, &v), 2);
    CHECK_EQ(v.parts[0], a);                                  /* lease over: again */
    CHECK_EQ(v.state[0], 2);
    CHECK(v.due[0] == 90);                                    /* the store's lease */
    CHECK_EQ(store_outbox_retry(s, b, 70), 1);
    CHECK_EQ(store_outbox_retry(s, 9999, 70), 0);
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_outbox_take(s, S("A"), 10, 70, 30, see_item, &v), 1);
    CHECK_EQ(v.parts[0], b);
    CHECK_EQ(store_outbox_ack(s, b), 1);
    CHECK_EQ(store_outbox_count(s, S("A")), 1);
    store_close(s);
}

static void early_take_removes(void)
{
    store_t *s = open_at(":memory:");
    seen_t v;
    CHECK(s);
    if (!s) return;
    store_early_put(s, S("up"), S("k1"), S("first"), 100, 1);
    store_early_put(s, S("up"), S("k1"), S("second"), 100, 2);
    store_early_put(s, S("up"), S("k2"), S("other"), 100, 3);
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_early_take(s, S("up"), S("k1"), NAN, see_item, &v), 2);
    CHECK(strcmp(v.ids[0], "k1") == 0);
    CHECK(v.parts[0] < v.parts[1]);                           /* oldest first */
    CHECK_EQ(store_early_take(s, S("up"), S("k1"), NAN, NULL, NULL), 0);
    CHECK_EQ(store_early_take(s, S("other"), S("k2"), NAN, NULL, NULL), 0);
    CHECK_EQ(store_early_take(s, S("up"), S("k2"), NAN, NULL, NULL), 1);
    store_close(s);
}

/* A receipt that arrived before its candidate message was sent is not
 * about it: it stays for another (or expires). */
static void early_take_since(void)
{
    store_t *s = open_at(":memory:");
    store_levels_t lv;
    seen_t v;
    CHECK(s);
    if (!s) return;
    store_early_put(s, S("up"), S("k"), S("before"), 100, 10.5);
    store_early_put(s, S("up"), S("k"), S("after"), 100, 12.0);
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_early_take(s, S("up"), S("k"), 11.0, see_item, &v), 1);
    CHECK_EQ(v.n, 1);
    CHECK_EQ(store_early_take(s, S("up"), S("k"), 11.0, NULL, NULL), 0);
    store_levels(s, &lv);
    CHECK_EQ(lv.early, 1);                                   /* "before" is kept */
    CHECK_EQ(store_early_take(s, S("up"), S("k"), 10.5, NULL, NULL), 1);   /* at the same time: taken */
    store_levels(s, &lv);
    CHECK_EQ(lv.early, 0);
    store_close(s);
}

/* -- Expiry ----------------------------------------------------------------------------- */

static void expiry_in_batches(void)
{
    store_t *s = open_at(":memory:");
    store_change_t c;
    store_expiry_t x;
    seen_t lost, items;
    int i;
    CHECK(s);
    if (!s) return;
    memset(&c, 0, sizeof c);
    store_msg_clear(&c.v);
    c.part = -1;
    c.mask = STORE_BIT(final) | STORE_BIT(done);
    c.v.final = 1;
    for (i = 0; i < 7; i++) {               /* final at 10..16: kept until 110..116, in key order */
        char id[16];
        snprintf(id, sizeof id, "e%d", i);
        put(s, id, 0, 1);
        c.v.done = 10 + i;
        store_update(s, S(id), &c);
    }
    put(s, "pending", 0, 1);                /* never final: kept until 1 + 100 */
    put(s, "long", 0, 1);                   /* valid until 500: kept until 600, lasting */
    c.mask = STORE_BIT(expires);
    c.v.expires = 500;
    store_update(s, S("long"), &c);
    put(s, "longdone", 0, 1);               /* final at 300: kept until 400, lasting */
    c.mask = STORE_BIT(final) | STORE_BIT(done);
    c.v.done = 300;
    store_update(s, S("longdone"), &c);
    store_outbox_push(s, S("A"), S("p"), S("m9"), NAN, 105);
    store_outbox_push(s, S("A"), S("p"), S("m10"), NAN, NAN);   /* no expiry */
    store_early_put(s, S("up"), S("k"), S("r"), 105, 1);
    memset(&x, 0, sizeof x);
    memset(&lost, 0, sizeof lost);
    memset(&items, 0, sizeof items);
    x.on_message = see;
    x.ud = &lost;
    CHECK_EQ(store_expire(s, 100, 3, &x), 0);
    CHECK_EQ(x.messages, 0);
    CHECK_EQ(x.more, 0);
    CHECK_EQ(store_expire(s, 113, 3, &x), 0);       /* e0..e3 due: 3 now */
    CHECK_EQ(x.messages, 3);
    CHECK_EQ(x.unfinished, 0);
    CHECK_EQ(x.outbox, 1);
    CHECK_EQ(x.early, 1);
    CHECK_EQ(x.more, 1);
    CHECK_EQ(store_expire(s, 113, 3, &x), 0);       /* e3; e4 is not due and stops the walk */
    CHECK_EQ(x.messages, 1);
    CHECK_EQ(x.more, 0);
    CHECK_EQ(count_messages(s), 6);
    CHECK_EQ(store_get(s, S("pending"), 0, NULL, NULL), 1);  /* behind e4: late, never early */
    CHECK_EQ(store_expire(s, 116, 100, &x), 0);     /* e4..e6 and the pending one; lasting ones skipped */
    CHECK_EQ(x.messages, 4);
    CHECK_EQ(x.unfinished, 1);
    CHECK_EQ(lost.n, 1);
    CHECK(strcmp(lost.ids[0], "pending") == 0);
    CHECK_EQ(x.more, 0);
    CHECK_EQ(store_expire(s, 450, 100, &x), 0);     /* lasting, by their index */
    CHECK_EQ(x.messages, 1);
    CHECK_EQ(x.unfinished, 0);
    CHECK_EQ(store_get(s, S("longdone"), 0, NULL, NULL), 0);
    CHECK_EQ(store_outbox_count(s, S("A")), 1);
    x.on_message = NULL;
    x.on_outbox = see_item;
    x.ud = &items;
    CHECK_EQ(store_expire(s, 1e12, 100, &x), 0);
    CHECK_EQ(x.messages, 1);
    CHECK_EQ(x.unfinished, 1);                      /* "long" never reached a final state */
    CHECK_EQ(x.outbox, 0);                          /* the one without expiry stays */
    CHECK_EQ(items.n, 0);
    CHECK_EQ(count_messages(s), 0);
    /* rows put after the walk has passed are walked too */
    put(s, "late", 0, 2000);
    CHECK_EQ(store_expire(s, 2099, 100, &x), 0);
    CHECK_EQ(x.messages, 0);
    CHECK_EQ(store_expire(s, 2100, 100, &x), 0);
    CHECK_EQ(x.messages, 1);
    CHECK_EQ(store_expire(s, 1e12, 0, &x), STORE_EARG);
    store_close(s);
}

/* -- Messages keyed by their integer ------------------------------------------------------ */

/* A message without a text id, as the reference SMSC keeps them. */
static long long put_keyed(store_t *s, long long part, double submitted, double done, double due)
{
    store_msg_t m;
    store_msg_clear(&m);
    m.part = part;
    m.account = S("acct");
    m.source = S("src");
    m.dest = S("4477");
    m.submitted = submitted;
    m.final = 1;
    m.state = 2;
    m.done = done;
    m.due = due;
    return store_put(s, &m);
}

static void keyed_messages(void)
{
    store_t *s = open_at(":memory:");
    store_change_t c;
    store_recent_t q;
    seen_t v;
    long long k1, k2, k3, k4;
    double t;
    CHECK(s);
    if (!s) return;
    k1 = put_keyed(s, 0, 100, 101, NAN);
    CHECK(k1 > 0);
    k2 = put_keyed(s, 0, 101, 102, NAN);            /* a submit_multi of three */
    k3 = put_keyed(s, 1, 101, 102, NAN);
    CHECK_EQ(put_keyed(s, 2, 101, 102, NAN), k2 + 2);
    k4 = put_keyed(s, 0, 102, 103, NAN);
    CHECK_EQ(k2, k1 + 1);
    CHECK_EQ(k3, k2 + 1);
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_get_key(s, k1, see, &v), 1);
    CHECK_EQ(v.ids[0][0], '\0');                    /* no text id */
    CHECK(fabs(v.keep - 201) < 1e-9);               /* final: done + ttl */
    CHECK_EQ(store_get_key(s, 999999, NULL, NULL), 0);
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_parts_key(s, k2, see, &v), 3);
    CHECK_EQ(v.parts[2], 2);
    CHECK_EQ(store_parts_key(s, k4, NULL, NULL), 1);
    CHECK_EQ(store_parts_key(s, k3, NULL, NULL), 0);  /* not a part 0 */
    /* update by key: one row */
    memset(&c, 0, sizeof c);
    store_msg_clear(&c.v);
    c.key = k3;
    c.mask = STORE_BIT(state);
    c.v.state = 4;
    CHECK_EQ(store_update(s, S(NULL), &c), 1);
    memset(&v, 0, sizeof v);
    store_parts_key(s, k2, see, &v);
    CHECK_EQ(v.state[0], 2);
    CHECK_EQ(v.state[1], 4);
    c.key = 0;
    CHECK_EQ(store_update(s, S(NULL), &c), STORE_EARG);
    /* recent: newest first, only since `since` */
    memset(&q, 0, sizeof q);
    q.account = S("acct");
    q.source = S("src");
    q.dest = S("4477");
    q.since = 101;
    q.limit = 10;
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_recent(s, &q, see, &v), 4);
    CHECK_EQ(v.state[3], 2);
    CHECK_EQ(v.parts[0], 0);                        /* k4 first */
    q.limit = 2;
    CHECK_EQ(store_recent(s, &q, NULL, NULL), 2);
    q.limit = 10;
    q.dest = S("other");
    CHECK_EQ(store_recent(s, &q, NULL, NULL), 0);
    q.dest = S("4477");
    q.service_type = S("CMT");
    CHECK_EQ(store_recent(s, &q, NULL, NULL), 0);
    q.service_type.p = NULL;
    q.since = NAN;
    CHECK_EQ(store_recent(s, &q, NULL, NULL), STORE_EARG);
    /* take_due: due rows come once, their due cleared; next_due */
    CHECK_EQ(store_next_due(s, S(NULL), &t), 0);
    CHECK(isnan(t));
    put_keyed(s, 0, 103, 110, 110);
    put_keyed(s, 0, 103, 105, 105);
    CHECK_EQ(store_next_due(s, S(NULL), &t), 0);
    CHECK(t == 105);
    CHECK_EQ(store_next_due(s, S("up1"), &t), 0);
    CHECK(isnan(t));
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_take_due(s, 106, 10, S(NULL), see, &v), 1);
    CHECK(v.due[0] == 105);
    CHECK_EQ(store_take_due(s, 106, 10, S(NULL), NULL, NULL), 0);
    CHECK_EQ(store_next_due(s, S(NULL), &t), 0);
    CHECK(t == 110);
    CHECK_EQ(store_take_due(s, 200, 10, S(NULL), NULL, NULL), 1);
    CHECK_EQ(store_next_due(s, S(NULL), &t), 0);
    CHECK(isnan(t));
    store_close(s);
}

/* Keys go on growing across a reopen, and after a crash skip what the
 * lost transaction may have handed out. */
static void keys_never_come_back(void)
{
    const char *path = file("keys.db");
    store_t *s = open_at(path);
    long long k, max = 0;
    int i;
    CHECK(s);
    if (!s) return;
    for (i = 0; i < 3; i++) max = put_keyed(s, 0, 1, 2, NAN);
    store_commit(s, NULL);
    for (i = 0; i < 700; i++) max = put_keyed(s, 0, 1, 2, NAN);
    store_close(s);                         /* no commit: a crash */
    s = open_at(path);
    CHECK(s);
    if (!s) return;
    CHECK_EQ(count_messages(s), 3);
    k = put_keyed(s, 0, 1, 2, NAN);
    CHECK(k > max);
    store_close(s);
}

/* A full table makes room by the oldest final message with nothing due:
 * one whose receipt is still to go stays. */
static void bound_keeps_what_is_due(void)
{
    store_opts_t o = opts(":memory:");
    store_t *s;
    long long k1;
    o.max_messages = 2;
    s = store_open(&o, err, sizeof err);
    CHECK(s);
    if (!s) return;
    k1 = put_keyed(s, 0, 1, 2, 2);          /* final, receipt due */
    CHECK(put_keyed(s, 0, 1, 2, NAN) > 0);
    CHECK(put_keyed(s, 0, 1, 2, NAN) > 0);  /* the second one's room */
    CHECK_EQ(store_get_key(s, k1, NULL, NULL), 1);
    CHECK_EQ(store_get_key(s, k1 + 1, NULL, NULL), 0);
    store_close(s);
}

/* -- Ids --------------------------------------------------------------------------------- */

static void ids_across_reopen_and_crash(void)
{
    const char *path = file("ids.db");
    store_t *s = open_at(path);
    long long id = 0, max = 0, node;
    int i;
    CHECK(s);
    if (!s) return;
    node = store_node_id(s);
    CHECK(node > 0);
    for (i = 0; i < 5; i++) {
        CHECK_EQ(store_next_id(s, "msg", &id), 0);
        CHECK_EQ(id, i + 1);
    }
    CHECK_EQ(store_next_id(s, "other", &id), 0);
    CHECK_EQ(id, 1);
    store_commit(s, NULL);
    store_close(s);

    s = open_at(path);
    CHECK(s);
    if (!s) return;
    CHECK_EQ(store_node_id(s), node);
    CHECK_EQ(store_next_id(s, "msg", &id), 0);
    CHECK(id > 5);
    /* a crash: values handed out, nothing committed by the caller */
    for (i = 0; i < 700; i++) {
        CHECK_EQ(store_next_id(s, "msg", &id), 0);
        if (id <= max) CHECK(id > max);
        max = id;
    }
    store_close(s);                         /* no commit: rolled back */
    s = open_at(path);
    CHECK(s);
    if (!s) return;
    CHECK_EQ(store_next_id(s, "msg", &id), 0);
    CHECK(id > max);
    store_close(s);
}

static void ids_block_runs_out_inside_a_transaction(void)
{
    const char *path = file("ids2.db");
    store_t *s = open_at(path);
    store_levels_t l;
    long long id = 0, max = 0, first;
    int i, bad = 0;
    CHECK(s);
    if (!s) return;
    store_next_id(s, "msg", &first);
    store_commit(s, NULL);
    CHECK(put(s, "held", 0, 1) > 0);      /* the caller's write, uncommitted */
    for (i = 0; i < 5000; i++) {
        if (store_next_id(s, "msg", &id) != 0 || id <= max) bad++;
        max = id;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(max, first + 5000);
    store_levels(s, &l);
    CHECK(l.commits >= 2);                  /* blocks ran out: committed early */
    CHECK_EQ(store_commit(s, NULL), 1);     /* the put, made durable early, is reported once */
    store_close(s);
    s = open_at(path);
    CHECK(s);
    if (!s) return;
    CHECK_EQ(store_get(s, S("held"), 0, NULL, NULL), 1);
    CHECK_EQ(store_next_id(s, "msg", &id), 0);
    CHECK(id > max);
    store_close(s);
}

static void node_ids_differ(void)
{
    store_t *a = open_at(file("node_a.db")), *b = open_at(file("node_b.db"));
    CHECK(a && b);
    if (a && b) CHECK(store_node_id(a) != store_node_id(b));
    store_close(a);
    store_close(b);
}

/* A store opened with the lock refuses a second opener with it (flock:
 * also within one process), not one without it; closing frees it. */
static void lock_refuses_a_second_holder(void)
{
    store_opts_t o = opts(file("locked.db"));
    store_t *a, *b, *c;
    o.lock = 1;
    a = store_open(&o, err, sizeof err);
    CHECK(a);
    b = store_open(&o, err, sizeof err);
    CHECK(b == NULL);
    CHECK(strstr(err, "locked by another process (pid ") != NULL);
    store_close(b);
    o.lock = 0;
    c = store_open(&o, err, sizeof err);                  /* a reader (check, messages) */
    CHECK(c);
    store_close(c);
    store_close(a);
    o.lock = 1;
    b = store_open(&o, err, sizeof err);
    CHECK(b);
    store_close(b);
}

/* -- Group commit ---------------------------------------------------------------------------- */

static void close_without_commit_loses_the_turn(void)
{
    const char *path = file("crash.db");
    store_t *s = open_at(path);
    CHECK(s);
    if (!s) return;
    CHECK_EQ(store_in_txn(s), 0);
    put(s, "kept", 0, 1);
    CHECK_EQ(store_in_txn(s), 1);
    CHECK_EQ(store_commit(s, NULL), 1);
    CHECK_EQ(store_in_txn(s), 0);
    put(s, "lost", 0, 1);
    store_outbox_push(s, S("A"), S("p"), S(NULL), NAN, NAN);
    store_close(s);
    s = open_at(path);
    CHECK(s);
    if (!s) return;
    CHECK_EQ(store_get(s, S("kept"), 0, NULL, NULL), 1);
    CHECK_EQ(store_get(s, S("lost"), 0, NULL, NULL), 0);
    CHECK_EQ(count_messages(s), 1);
    CHECK_EQ(store_outbox_count(s, S("A")), 0);
    store_close(s);
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* The disk refuses the commit (a file size limit stands in for a full
 * disk): the turn's writes are reported lost, the levels go back, and the
 * store works again once there is room. */
static void commit_failure_reports_lost_writes(void)
{
    const char *path = file("full.db");
    char wal[300];
    store_t *s = open_at(path);
    struct rlimit old, lim;
    long long lost = -1;
    int i, rc;
    CHECK(s);
    if (!s) return;
    snprintf(wal, sizeof wal, "%s-wal", path);
    put(s, "before", 0, 1);
    CHECK_EQ(store_commit(s, NULL), 1);
    for (i = 0; i < 50; i++) {
        char id[16];
        snprintf(id, sizeof id, "turn%d", i);
        put(s, id, 0, 1);
    }
    store_outbox_push(s, S("A"), S("p"), S(NULL), NAN, NAN);
    CHECK_EQ(count_messages(s), 51);
    signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)file_size(wal);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    rc = store_commit(s, &lost);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK_EQ(rc, STORE_EIO);
    CHECK_EQ(lost, 51);
    CHECK(strstr(store_errmsg(s), "commit") != NULL);
    CHECK_EQ(store_in_txn(s), 0);
    CHECK_EQ(count_messages(s), 1);
    CHECK_EQ(store_outbox_count(s, S("A")), 0);
    CHECK_EQ(store_get(s, S("turn0"), 0, NULL, NULL), 0);
    put(s, "after", 0, 1);
    CHECK_EQ(store_commit(s, &lost), 1);
    CHECK_EQ(lost, 0);
    store_close(s);
    s = open_at(path);
    CHECK(s);
    if (!s) return;
    CHECK_EQ(count_messages(s), 2);
    store_close(s);
}

/* Rows without a text id wait to be inserted together (store_waiting_t):
 * reads see them, and a failure when they go in loses the whole turn,
 * reported by the commit like any other. */
static void waiting_rows_are_read_and_fail_whole(void)
{
    const char *path = file("waiting.db");
    char wal[300];
    store_t *s = open_at(path);
    struct rlimit old, lim;
    long long lost = -1, first = 0, k = 0;
    int i, rc;
    CHECK(s);
    if (!s) return;
    snprintf(wal, sizeof wal, "%s-wal", path);
    for (i = 0; i < 5; i++) k = put_keyed(s, 0, 1, 2, NAN);
    CHECK_EQ(store_get_key(s, k, NULL, NULL), 1);          /* read before its commit */
    CHECK_EQ(store_commit(s, NULL), 5);
    for (i = 0; i < 100; i++) {
        k = put_keyed(s, 0, 1, 2, NAN);
        if (!first) first = k;
    }
    CHECK_EQ(count_messages(s), 105);
    signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)file_size(wal);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    rc = store_commit(s, &lost);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK_EQ(rc, STORE_EIO);
    CHECK_EQ(lost, 100);
    CHECK_EQ(count_messages(s), 5);
    CHECK_EQ(store_get_key(s, first, NULL, NULL), 0);
    CHECK_EQ(store_get_key(s, k, NULL, NULL), 0);
    CHECK(put_keyed(s, 0, 1, 2, NAN) > k);
    CHECK_EQ(store_commit(s, &lost), 1);
    store_close(s);
}

/* A write that hits limits.size_mb fails alone; whatever SQLite did with
 * the rest of the transaction, store_commit() tells the truth about it. */
static void size_limit_fails_writes_not_silently(void)
{
    store_opts_t o = opts(file("small.db"));
    store_levels_t l;
    store_msg_t m;
    store_t *s;
    static char big[8192];
    long long lost = 0, rc = 1;
    int i, ok = 0, n;
    o.max_bytes = 256 * 1024;
    s = store_open(&o, err, sizeof err);
    CHECK(s);
    if (!s) return;
    memset(big, 'x', sizeof big);
    store_msg_clear(&m);
    m.submitted = 1;
    m.pdu.p = big;
    m.pdu.n = sizeof big;
    for (i = 0; i < 100 && rc > 0; i++) {
        char id[16];
        snprintf(id, sizeof id, "big%d", i);
        m.id = S(id);
        if ((rc = store_put(s, &m)) > 0) ok++;
    }
    CHECK_EQ(rc, STORE_EFULL);                 /* "full": the callers answer ESME_RMSGQFUL */
    CHECK(strstr(store_errmsg(s), "full") != NULL);
    n = store_commit(s, &lost);
    if (n >= 0) CHECK_EQ(n, ok);
    else CHECK_EQ(lost, ok);
    store_levels(s, &l);
    CHECK_EQ(l.messages, n >= 0 ? ok : 0);
    store_close(s);
}

static void writes_refused_after_a_lost_transaction(void)
{
    const char *path = file("refuse.db");
    char wal[300];
    store_t *s = open_at(path);
    struct rlimit old, lim;
    long long lost = 0, id;
    int rc;
    CHECK(s);
    if (!s) return;
    snprintf(wal, sizeof wal, "%s-wal", path);
    put(s, "a", 0, 1);
    store_commit(s, NULL);
    /* a block of ids that must be committed at once, on a full disk */
    signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)file_size(wal);
    put(s, "b", 0, 1);
    setrlimit(RLIMIT_FSIZE, &lim);
    rc = store_next_id(s, "msg", &id);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK_EQ(rc, STORE_EIO);
    CHECK_EQ(put(s, "c", 0, 1), STORE_EIO);     /* until the loss is reported */
    CHECK(strstr(store_errmsg(s), "report") != NULL);
    CHECK_EQ(store_commit(s, &lost), STORE_EIO);
    CHECK_EQ(lost, 1);
    CHECK(put(s, "c", 0, 1) > 0);
    /* a block is not committed early in a turn that wrote, until a commit
     * succeeded again: it goes with the turn's commit */
    CHECK_EQ(store_next_id(s, "msg", &id), STORE_EFULL);
    CHECK(strstr(store_errmsg(s), "not stored yet") != NULL);
    CHECK_EQ(store_commit(s, &lost), 1);
    CHECK_EQ(store_next_id(s, "msg", &id), 0);
    CHECK_EQ(store_commit(s, &lost), 0);
    store_close(s);
}

/* -- Files it refuses -------------------------------------------------------------------- */

static void write_file(const char *path, long off, const void *data, size_t n)
{
    FILE *f = fopen(path, off < 0 ? "wb" : "r+b");
    if (!f) return;
    if (off > 0) fseek(f, off, SEEK_SET);
    fwrite(data, 1, n, f);
    fclose(f);
}

static void refuses_not_a_database(void)
{
    const char *path = file("text.db");
    store_opts_t o = opts(path);
    static const char text[] = "this is a text file, long enough to be more than a header of one hundred "
                               "octets that SQLite would read first from it";
    write_file(path, -1, text, sizeof text);
    CHECK(store_open(&o, err, sizeof err) == NULL);
    CHECK(strstr(err, path) != NULL);
    CHECK(strstr(err, "not an SQLite database") != NULL);
}

static void refuses_a_corrupt_file(void)
{
    const char *path = file("corrupt.db");
    store_opts_t o = opts(path);
    char junk[4096];
    store_t *s = open_at(path);
    int i;
    CHECK(s);
    if (!s) return;
    for (i = 0; i < 300; i++) {
        char id[16];
        snprintf(id, sizeof id, "c%d", i);
        put(s, id, 0, i);
    }
    store_commit(s, NULL);
    store_close(s);                         /* checkpointed into the file */
    memset(junk, 0xA5, sizeof junk);
    write_file(path, 4096 * 2, junk, sizeof junk);   /* a page of a table or index */
    write_file(path, 4096 * 5, junk, sizeof junk);
    o.quick_check = 1;
    CHECK(store_open(&o, err, sizeof err) == NULL);
    CHECK(strstr(err, path) != NULL);
    CHECK(strstr(err, "corrupt") != NULL || strstr(err, "malformed") != NULL);
}

/* Run sql on the file at path with SQLite itself. */
static int sql_on(const char *path, const char *sql)
{
    sqlite3 *db;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static void refuses_foreign_and_newer(void)
{
    const char *path = file("newer.db");
    store_opts_t o = opts(path);
    store_t *s = open_at(path);
    CHECK(s);
    if (!s) return;
    store_close(s);
    /* the schema version lives in meta: a newer one is refused */
    CHECK_EQ(sql_on(path, "UPDATE meta SET value = 99 WHERE key = 'schema'"), SQLITE_OK);
    CHECK(store_open(&o, err, sizeof err) == NULL);
    CHECK(strstr(err, "newer") != NULL);
    CHECK_EQ(sql_on(file("foreign.db"), "CREATE TABLE t(x)"), SQLITE_OK);
    o.path = file("foreign.db");
    CHECK(store_open(&o, err, sizeof err) == NULL);
    CHECK(strstr(err, "not a smppgw store") != NULL);
}

/* The tables of a schema 2 file, as that release made them. */
static const char schema2_sql[] =
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE messages (id TEXT NOT NULL, part INTEGER NOT NULL DEFAULT 0, account TEXT, source TEXT,"
    "  dest TEXT, service_type TEXT, state INTEGER NOT NULL DEFAULT 0, final INTEGER NOT NULL DEFAULT 0,"
    "  due REAL, expires REAL, submitted REAL NOT NULL, done REAL, err INTEGER NOT NULL DEFAULT 0,"
    "  registered_delivery INTEGER NOT NULL DEFAULT 0, upstream TEXT, upstream_id TEXT, upstream_key TEXT,"
    "  attempts INTEGER NOT NULL DEFAULT 0, route TEXT, pdu BLOB, trace TEXT, keep_until REAL NOT NULL,"
    "  notify TEXT, UNIQUE (id, part));"
    "CREATE INDEX messages_due ON messages (due) WHERE due IS NOT NULL AND upstream IS NULL;"
    "CREATE INDEX messages_pending ON messages (account, dest, source) WHERE final = 0;"
    "CREATE INDEX messages_keep_done ON messages (keep_until) WHERE final = 1;"
    "CREATE INDEX messages_keep_pending ON messages (keep_until) WHERE final = 0;"
    "CREATE INDEX messages_account ON messages (account, submitted);"
    "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL,"
    "  due REAL NOT NULL, expires REAL, ref TEXT, attempts INTEGER NOT NULL DEFAULT 0, pdu BLOB NOT NULL);"
    "CREATE INDEX outbox_due ON outbox (account, due);"
    "CREATE INDEX outbox_expires ON outbox (expires) WHERE expires IS NOT NULL;"
    "CREATE TABLE early (id INTEGER PRIMARY KEY, upstream TEXT NOT NULL, key TEXT NOT NULL,"
    "  at REAL, expires REAL NOT NULL, pdu BLOB NOT NULL);"
    "CREATE INDEX early_key ON early (upstream, key);"
    "CREATE INDEX early_expires ON early (expires);"
    "CREATE TABLE counters (name TEXT PRIMARY KEY, hw INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO meta VALUES ('schema', 2), ('node_id', 77);"
    "INSERT INTO messages (rowid, id, account, submitted, keep_until, final, done, notify) "
    "  VALUES (5, 'old', 'acct', 1, 101, 1, 1, 'http://x/');"
    "INSERT INTO messages (rowid, id, account, submitted, keep_until, expires) "
    "  VALUES (9, 'pending', 'acct', 1, 600, 500);";

/* Files of schema 1 (no messages.notify) and 2 (rows keyed by a hidden
 * rowid) are brought up to date when they open, their rows kept under
 * their old rowids as keys; a failing commit reports whether the disk was
 * full (the runtime answers ESME_RMSGQFUL then). */
static void upgrades_older_schemas(void)
{
    int version;
    for (version = 1; version <= 2; version++) {
        const char *path = file(version == 1 ? "schema1.db" : "schema2.db");
        store_opts_t o = opts(path);
        store_expiry_t x;
        store_msg_t m;
        seen_t v;
        store_t *s;
        CHECK_EQ(sql_on(path, schema2_sql), SQLITE_OK);
        if (version == 1)
            CHECK_EQ(sql_on(path, "ALTER TABLE messages DROP COLUMN notify; "
                                  "UPDATE meta SET value = 1 WHERE key = 'schema'"), SQLITE_OK);
        s = store_open(&o, err, sizeof err);
        CHECK(s);
        if (!s) {
            printf("  %s\n", err);
            continue;
        }
        CHECK_EQ(store_node_id(s), 77);
        memset(&v, 0, sizeof v);
        CHECK_EQ(store_get(s, S("old"), 0, see, &v), 1);
        CHECK_EQ(store_get_key(s, 5, NULL, NULL), 1);
        CHECK_EQ(store_get_key(s, 9, NULL, NULL), 1);
        store_msg_clear(&m);
        m.id = S("new");
        m.submitted = 2;
        m.notify = S("http://127.0.0.1:1/x");
        CHECK(store_put(s, &m) > 9);                /* keys go on past the old rowids */
        CHECK_EQ(store_put(s, &m), STORE_EEXISTS);  /* (id, part) still unique */
        CHECK_EQ(store_commit(s, NULL), 1);
        CHECK_EQ(store_commit_full(s), 0);
        memset(&x, 0, sizeof x);
        CHECK_EQ(store_expire(s, 590, 100, &x), 0);
        CHECK_EQ(x.messages, 2);                    /* "old" in key order, "new" too */
        CHECK_EQ(store_expire(s, 600, 100, &x), 0);
        CHECK_EQ(x.unfinished, 1);                  /* "pending" was lasting: its index */
        store_close(s);
        CHECK_EQ(sql_on(path, "SELECT notify, key, lasting FROM messages"), SQLITE_OK);
    }
}

/* -- What the gateway's statements and rows cost ---------------------------- */

/* EXPLAIN QUERY PLAN of sql on the file at path, its lines joined by "; "
 * into out. */
static void plan_of(sqlite3 *db, const char *sql, char *out, size_t cap)
{
    char q[4096];
    sqlite3_stmt *st;
    size_t n = 0;
    out[0] = '\0';
    snprintf(q, sizeof q, "EXPLAIN QUERY PLAN %s", sql);
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) {
        snprintf(out, cap, "(does not prepare: %s)", sqlite3_errmsg(db));
        return;
    }
    while (sqlite3_step(st) == SQLITE_ROW && n + 2 < cap)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "; " : "", (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
}

/* A plan reads no table whole: every SEARCH or SCAN of a table goes by an
 * index or the integer key. */
static int indexed(const char *plan)
{
    const char *p = plan;
    while ((p = strstr(p, "SCAN ")) != NULL) {
        const char *end = strchr(p, ';');
        const char *using = strstr(p, " USING ");
        if (!using || (end && using > end)) return 0;
        p += 5;
    }
    return plan[0] != '\0' && plan[0] != '(';
}

/* Every statement the gateway runs on its hot path (and at start, for
 * queue counts) goes by an index that exists: the one named, where it
 * matters. */
static void gateway_statements_use_indexes(void)
{
    static const struct { int fwd; int which; const char *index; } cases[] = {
        { 1, STORE_FWD_TAKE, "fwd_queue" },
        { 1, STORE_FWD_BY_KEY, "fwd_key" },
        { 1, STORE_FWD_BY_KEY_OLD, "messages_upstream_key" },
        { 1, STORE_FWD_SENT, "INTEGER PRIMARY KEY" },
        { 1, STORE_FWD_SENT_OPEN, "INTEGER PRIMARY KEY" },
        { 1, STORE_FWD_RETRY, "INTEGER PRIMARY KEY" },
        { 1, STORE_FWD_STATE, "INTEGER PRIMARY KEY" },
        { 1, STORE_FWD_STATE_OPEN, "INTEGER PRIMARY KEY" },
        { 1, STORE_FWD_STATE_OLD, "INTEGER PRIMARY KEY" },
        { 1, STORE_FWD_STATE_OPEN_OLD, "INTEGER PRIMARY KEY" },
        { 1, STORE_FWD_MOVE, "INTEGER PRIMARY KEY" },
        { 1, STORE_FWD_COUNTS, "fwd_queue" },
        { 0, STORE_ST_MSG_FWD_GET, "INTEGER PRIMARY KEY" },
        { 0, STORE_ST_MSG_GET_KEY, "INTEGER PRIMARY KEY" },
        { 0, STORE_ST_MSG_GET, "messages_id" },
        { 0, STORE_ST_MSG_BY_KEY, "messages_upstream_key" },
        { 0, STORE_ST_MSG_FIND, "messages_pending" },
        { 0, STORE_ST_MSG_WALK, "INTEGER PRIMARY KEY" },
        { 0, STORE_ST_MSG_AT, "INTEGER PRIMARY KEY" },
        { 0, STORE_ST_MSG_EXP_SCAN, "INTEGER PRIMARY KEY" },
        { 0, STORE_ST_MSG_EXP_RANGE, "INTEGER PRIMARY KEY" },
        { 0, STORE_ST_MSG_EXP_DONE, "messages_lasting" },
        { 0, STORE_ST_MSG_EXP_LOST, "messages_lasting" },
        { 0, STORE_ST_EA_TAKE, "early_key" },
        { 0, STORE_ST_EA_DEL, "early_key" },
        { 0, STORE_ST_EA_EXPIRE, "early_expires" },
        { 0, STORE_ST_OB_TAKE, "outbox_due" },
        { 0, STORE_ST_OB_ACK, "INTEGER PRIMARY KEY" },
        { 0, STORE_ST_OB_LEASE, "INTEGER PRIMARY KEY" },
        { 0, STORE_ST_OB_EXPIRE, "outbox_expires" },
    };
    const char *path = file("plans.db");
    store_t *s = open_at(path);
    sqlite3 *db;
    char plan[1024];
    size_t i;
    CHECK(s);
    if (!s) return;
    CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
    for (i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *sql = cases[i].fwd ? store__fwd_sql(s, cases[i].which) : sqlite3_sql(s->st[cases[i].which]);
        CHECK(sql != NULL);
        if (!sql) continue;
        plan_of(cases[i].fwd ? s->db : db, sql, plan, sizeof plan);   /* the store's: its SQL functions */
        if (!indexed(plan) || !strstr(plan, cases[i].index)) {
            printf("  %s\n    -> %s (expected %s)\n", sql, plan, cases[i].index);
            CHECK(0);
        }
    }
    sqlite3_close(db);
    store_close(s);
}

/* The indexes (of table, messages or fwd) a row is in: their names, by
 * their partial conditions evaluated on the row. */
static void indexes_in(const char *path, const char *table, long long key, char *out, size_t cap)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char q0[256];
    size_t n = 0;
    out[0] = '\0';
    if (sqlite3_open(path, &db) != SQLITE_OK) return;
    snprintf(q0, sizeof q0, "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = '%s' "
                            "AND sql IS NOT NULL ORDER BY name", table);
    if (sqlite3_prepare_v2(db, q0, -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 0), *sql = (const char *)sqlite3_column_text(st, 1);
            const char *where = strstr(sql, " WHERE ");
            char q[1024];
            sqlite3_stmt *c;
            snprintf(q, sizeof q, "SELECT count(*) FROM %s WHERE key = %lld AND (%s)", table, key,
                     where ? where + 7 : "1");
            if (sqlite3_prepare_v2(db, q, -1, &c, NULL) == SQLITE_OK) {
                if (sqlite3_step(c) == SQLITE_ROW && sqlite3_column_int(c, 0))
                    n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? " " : "", name);
                sqlite3_finalize(c);
            }
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
}

static void indexes_of(const char *path, long long key, char *out, size_t cap)
{
    indexes_in(path, "messages", key, out, cap);
}

/* A gateway's message is in the indexes it is found by, no other: its
 * record in none of messages' (written once), its forwarding row while
 * queued in the queue's; once answered, in none (no receipt asked) or the
 * upstream key's (a receipt expected), where it stays once final. */
static void gateway_rows_pay_for_their_indexes_only(void)
{
    const char *path = file("gwrows.db");
    store_t *s = open_at(path);
    store_msg_t m;
    char in[256];
    long long plain = 0, rcpt = 0;
    int i;
    CHECK(s);
    if (!s) return;
    for (i = 0; i < 2; i++) {
        store_msg_clear(&m);
        m.account = S("acct");
        m.source = S("src");
        m.dest = S("4477");
        m.upstream = S("up");
        m.route = S("all");
        m.submitted = 100;
        m.expires = 100 + 172800;       /* the default validity: two days */
        m.registered_delivery = i;
        m.id_format = MSGID_KEYED_HEX;
        m.trace = S("100.000 accepted\n");
        m.pdu = S("pdu");
        if (i) CHECK_EQ(store_fwd_queue(s, rcpt = store_put(s, &m), S("up"), 100, 0), 1);
        else CHECK_EQ(store_fwd_queue(s, plain = store_put(s, &m), S("up"), 100, 0), 1);
    }
    CHECK(store_commit(s, NULL) > 0);
    indexes_of(path, plain, in, sizeof in);
    CHECK_STR(in, strlen(in), "");
    indexes_in(path, "fwd", plain, in, sizeof in);
    CHECK_STR(in, strlen(in), "fwd_queue");
    indexes_in(path, "fwd", rcpt, in, sizeof in);
    CHECK_STR(in, strlen(in), "fwd_queue");
    CHECK_EQ(store_fwd_sent(s, plain, S("u1"), (store_str_t){ NULL, 0 }, 1, 101, 0, S("sent")), 1);
    CHECK_EQ(store_fwd_sent(s, rcpt, S("u2"), S("u2"), 0, 101, 0, S("sent")), 1);
    CHECK(store_commit(s, NULL) > 0);
    indexes_in(path, "fwd", plain, in, sizeof in);
    CHECK_STR(in, strlen(in), "");
    indexes_in(path, "fwd", rcpt, in, sizeof in);
    CHECK_STR(in, strlen(in), "fwd_key");
    CHECK_EQ(store_fwd_state(s, rcpt, 2, 1, 0, 102, S("receipt")), 1);
    CHECK(store_commit(s, NULL) > 0);
    indexes_in(path, "fwd", rcpt, in, sizeof in);
    CHECK_STR(in, strlen(in), "fwd_key");         /* a receipt sent again still finds it */
    indexes_of(path, rcpt, in, sizeof in);
    CHECK_STR(in, strlen(in), "");                         /* the record was never written again */
    store_close(s);
}

/* The value of a query's first column as text into out. */
static void sql_text(const char *path, const char *sql, char *out, size_t cap)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    out[0] = '\0';
    if (sqlite3_open(path, &db) != SQLITE_OK) return;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
}

/* The id of the message upstream's receipt under key (written: the key
 * is the id as written) reaches, "" for none. */
static const char *by_key_id(store_t *s, const char *key, int written)
{
    static fseen_t v;
    memset(&v, 0, sizeof v);
    if (store_fwd_by_key(s, S("up"), S(key), written, fsee, &v) != 1) return "";
    return v.ids[0];
}

/* Schema 8 keyed receipts of id_format "string" by the normalised id
 * ("MSG1" and "msg1" both "msg1", "01" and "1" both "1"); from 9 the key
 * is the id as written. Messages waiting for receipts across the upgrade
 * keep their keys and still get their own receipts: a receipt whose key
 * is its id as written matches such a row only when the row's upstream id
 * is that id. */
static void receipt_keys_before_schema_9(void)
{
    const char *path = file("keys8.db");
    char text[64];
    store_t *s = open_at(path);
    static const char *const ids[] = { "a", "b", "c", "d" }, *const uids[] = { "msg1", "MSG1", "01", " 1" },
                             *const old[] = { "msg1", "msg1", "1", "1" };
    long long e, f;
    int i;
    CHECK(s);
    if (!s) return;
    for (i = 0; i < 4; i++) queue(s, ids[i], "up", 10);
    CHECK_EQ(store_commit(s, NULL), 8);
    for (i = 0; i < 4; i++) CHECK_EQ(store_fwd_sent(s, i + 1, S(uids[i]), S(old[i]), 0, 11, 0, S("sent")), 1);
    CHECK(store_commit(s, NULL) > 0);
    store_close(s);
    CHECK_EQ(sql_on(path, "UPDATE meta SET value = 8 WHERE key = 'schema'; ALTER TABLE fwd DROP COLUMN first_sent; "
                          "DELETE FROM meta WHERE key = 'exact_keys_from'"), SQLITE_OK);
    s = open_at(path);
    CHECK(s);
    if (!s) return;
    sql_text(path, "SELECT value FROM meta WHERE key = 'schema'", text, sizeof text);
    CHECK(strcmp(text, "9") == 0);
    sql_text(path, "SELECT value FROM meta WHERE key = 'exact_keys_from'", text, sizeof text);
    CHECK(strcmp(text, "5") == 0);
    CHECK(strcmp(by_key_id(s, "msg1", 1), "a") == 0);       /* not b, the newer of that key */
    CHECK(strcmp(by_key_id(s, "MSG1", 1), "b") == 0);       /* under its old key */
    CHECK(strcmp(by_key_id(s, "01", 1), "c") == 0);
    CHECK(strcmp(by_key_id(s, "1", 1), "d") == 0);
    CHECK(strcmp(by_key_id(s, "Msg1", 1), "") == 0);        /* no message has that id */
    CHECK(strcmp(by_key_id(s, "001", 1), "") == 0);
    CHECK(strcmp(by_key_id(s, "1", 0), "d") == 0);          /* a number: the newest of that key */
    /* messages answered after the upgrade: keyed as written */
    e = queue_via(s, "e", "up", 10, 0);
    f = queue_via(s, "f", "up", 10, 0);
    CHECK(store_commit(s, NULL) > 0);
    CHECK_EQ(store_fwd_sent(s, e, S("MSG1"), S("MSG1"), 0, 12, 0, S("sent")), 1);
    CHECK_EQ(store_fwd_sent(s, f, S("01"), S("01"), 0, 12, 0, S("sent")), 1);
    CHECK(store_commit(s, NULL) > 0);
    CHECK(strcmp(by_key_id(s, "MSG1", 1), "e") == 0);
    CHECK(strcmp(by_key_id(s, "msg1", 1), "a") == 0);
    CHECK(strcmp(by_key_id(s, "01", 1), "f") == 0);
    CHECK(strcmp(by_key_id(s, "1", 1), "d") == 0);
    store_close(s);
    /* a file made by this version has no such rows */
    s = open_at(file("keys9.db"));
    CHECK(s);
    if (!s) return;
    store_close(s);
    sql_text(file("keys9.db"), "SELECT count(*) FROM meta WHERE key = 'exact_keys_from'", text, sizeof text);
    CHECK(strcmp(text, "0") == 0);
}

/* Schema 5 -> 6: a gateway's message waiting in a forward queue moves
 * its forwarding state into fwd (the forwarder takes it from there, and
 * it is in messages' queue no more); one already answered stays in
 * messages, where its receipt still finds it and writes its state. */
static void upgrades_schema_5(void)
{
    const char *path = file("schema5.db");
    store_opts_t o = opts(path);
    store_t *s = open_at(path);
    store_msg_t m;
    fseen_t v;
    seen_t r;
    char text[512];
    long long waiting, sent;
    CHECK(s);
    if (!s) return;
    store_msg_clear(&m);
    m.id = S("waiting");
    m.account = S("acct");
    m.upstream = S("up");
    m.submitted = 10;
    m.pdu = S("pdu");
    CHECK((waiting = store_put(s, &m)) > 0);
    m.id = S("sent");
    CHECK((sent = store_put(s, &m)) > 0);
    CHECK_EQ(store_commit(s, NULL), 2);
    store_close(s);
    /* as schema 5 kept them: the queue and the answer in messages */
    snprintf(text, sizeof text, "DROP TRIGGER fwd_gone; DROP TABLE fwd; "
             "UPDATE messages SET due = 20, attempts = 1, err = 88 WHERE key = %lld; "
             "UPDATE messages SET state = 1, attempts = 1, upstream_id = 'U9', upstream_key = '9' WHERE key = %lld; "
             "UPDATE meta SET value = 5 WHERE key = 'schema'", waiting, sent);
    CHECK_EQ(sql_on(path, text), SQLITE_OK);
    s = store_open(&o, err, sizeof err);
    CHECK(s);
    if (!s) {
        printf("  %s\n", err);
        return;
    }
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_fwd_take(s, S("up"), NAN, 0, 30, 10, fsee, &v), 1);
    CHECK(strcmp(v.ids[0], "waiting") == 0 && v.due[0] == 20);
    memset(&r, 0, sizeof r);
    CHECK_EQ(store_get(s, S("waiting"), 0, see, &r), 1);
    CHECK(r.due[0] == 20);
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_fwd_by_key(s, S("up"), S("9"), 0, fsee, &v), 1);
    CHECK(strcmp(v.ids[0], "sent") == 0);
    CHECK_EQ(store_fwd_state(s, sent, 2, 1, 0, 30, S("receipt DELIVRD")), 1);
    CHECK_EQ(store_fwd_sent(s, waiting, S("U10"), S("10"), 0, 31, 0, S("accepted as U10")), 1);
    CHECK_EQ(store_commit(s, NULL), 2);
    memset(&r, 0, sizeof r);
    CHECK_EQ(store_get(s, S("sent"), 0, see, &r), 1);
    CHECK(r.final && r.state[0] == 2);
    CHECK(strstr(r.trace, "receipt DELIVRD") != NULL);
    memset(&r, 0, sizeof r);
    CHECK_EQ(store_get(s, S("waiting"), 0, see, &r), 1);
    CHECK(!r.final && r.state[0] == 1 && isnan(r.due[0]));
    store_close(s);
    sql_text(path, "SELECT value FROM meta WHERE key = 'schema'", text, sizeof text);
    CHECK(strcmp(text, "9") == 0);
    sql_text(path, "SELECT count(*) FROM messages WHERE due IS NOT NULL", text, sizeof text);
    CHECK(strcmp(text, "0") == 0);
}

/* Schema 3 -> 4: id_format added, the (account, submitted) index gone, the
 * pending index without rows that have an upstream, and keys above every
 * value of the gateway's old id counter (its ids and those made from keys
 * share a layout). */
static void upgrades_schema_3(void)
{
    const char *path = file("schema3.db");
    store_opts_t o = opts(path);
    store_t *s = open_at(path);
    char text[512];
    long long key;
    CHECK(s);
    if (!s) return;
    CHECK(put(s, "old", 0, 1) > 0);
    CHECK_EQ(store_commit(s, NULL), 1);
    store_close(s);
    CHECK_EQ(sql_on(path, "ALTER TABLE messages DROP COLUMN id_format; DROP INDEX messages_pending; "
                          "CREATE INDEX messages_pending ON messages (account, dest, source) WHERE final = 0; "
                          "CREATE INDEX messages_account ON messages (account, submitted) WHERE id IS NOT NULL; "
                          "INSERT INTO counters VALUES ('gateway', 5000); "
                          "UPDATE meta SET value = 3 WHERE key = 'schema'"), SQLITE_OK);
    s = store_open(&o, err, sizeof err);
    CHECK(s);
    if (!s) {
        printf("  %s\n", err);
        return;
    }
    CHECK_EQ(store_get(s, S("old"), 0, NULL, NULL), 1);
    key = put(s, "new", 0, 2);
    CHECK(key >= 5000);
    CHECK_EQ(store_commit(s, NULL), 1);
    store_close(s);
    sql_text(path, "SELECT value FROM meta WHERE key = 'schema'", text, sizeof text);
    CHECK(strcmp(text, "9") == 0);
    sql_text(path, "SELECT count(*) FROM sqlite_master WHERE name = 'messages_account'", text, sizeof text);
    CHECK(strcmp(text, "0") == 0);
    sql_text(path, "SELECT sql FROM sqlite_master WHERE name = 'messages_pending'", text, sizeof text);
    CHECK(strstr(text, "upstream IS NULL") != NULL);
    sql_text(path, "SELECT count(id_format) FROM messages", text, sizeof text);
    CHECK(strcmp(text, "2") == 0);
}

/* With checkpoints left to the caller, commits only grow the log; a
 * checkpoint through a connection of its own copies it, and the next
 * write starts the log over. */
static void checkpoints_by_the_caller(void)
{
    const char *path = file("ckpt.db");
    char why[256];
    store_t *s = open_at(path);
    long long copied, before;
    int i;
    CHECK(s);
    if (!s) return;
    CHECK_EQ(store_wal_manual(s), 0);
    CHECK(strcmp(store_path(s), path) == 0);
    for (i = 0; i < 300; i++) {
        char id[16];
        snprintf(id, sizeof id, "c%d", i);
        put(s, id, 0, 1);
        CHECK_EQ(store_commit(s, NULL), 1);
    }
    before = store_wal_frames(s);
    CHECK(before >= 300);                   /* no automatic checkpoint shortened it */
    copied = store_checkpoint(path, why, sizeof why);
    CHECK_EQ(copied, before);
    put(s, "after", 0, 1);
    CHECK_EQ(store_commit(s, NULL), 1);
    CHECK(store_wal_frames(s) < 10);        /* the log started over */
    CHECK_EQ(store_get(s, S("c299"), 0, NULL, NULL), 1);
    CHECK_EQ(store_checkpoint(file("nosuch/x.db"), why, sizeof why), -1);
    CHECK(strstr(why, "nosuch") != NULL);
    store_close(s);
}

/* Root may write anything, so the open runs as nobody in a child. */
static void refuses_a_read_only_file(void)
{
    const char *path = file("ro/store.db");
    store_t *s = open_at(path);
    int fds[2], status = 0;
    char msg[1024] = "";
    ssize_t n;
    pid_t pid;
    CHECK(s);
    if (!s) return;
    store_close(s);
    CHECK(chmod(path, 0444) == 0);
    CHECK(chmod(dir, 0755) == 0);
    CHECK(pipe(fds) == 0);
    if ((pid = fork()) == 0) {
        store_opts_t o = opts(path);
        close(fds[0]);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(2);
        s = store_open(&o, err, sizeof err);
        if (write(fds[1], s ? "opened" : err, strlen(s ? "opened" : err)) < 0) _exit(3);
        _exit(0);
    }
    close(fds[1]);
    n = read(fds[0], msg, sizeof msg - 1);
    if (n > 0) msg[n] = '\0';
    close(fds[0]);
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(strstr(msg, path) != NULL);
    CHECK(strstr(msg, "read-only") != NULL);
    if (!strstr(msg, "read-only")) printf("  got: %s\n", msg);
    chmod(dir, 0700);
}

static void creates_missing_directories(void)
{
    char path[300], blocker[300];
    store_opts_t o;
    store_t *s;
    snprintf(path, sizeof path, "%s/a/b/c/store.db", dir);
    s = open_at(path);
    CHECK(s);
    store_close(s);
    CHECK(file_size(path) > 0);
    snprintf(blocker, sizeof blocker, "%s/plain", dir);
    write_file(blocker, -1, "x", 1);
    snprintf(path, sizeof path, "%s/plain/sub/store.db", dir);
    o = opts(path);
    CHECK(store_open(&o, err, sizeof err) == NULL);
    CHECK(strstr(err, "cannot create directory") != NULL);
    CHECK(strstr(err, path) != NULL);
}

static void sync_modes_and_bad_options(void)
{
    int mode;
    for (mode = STORE_SYNC_OFF; mode <= STORE_SYNC_FULL; mode++) {
        store_opts_t o = opts(file("sync.db"));
        store_t *s;
        o.sync = mode;
        s = store_open(&o, err, sizeof err);
        CHECK(s);
        if (!s) continue;
        CHECK(put(s, mode == 0 ? "s0" : mode == 1 ? "s1" : "s2", 0, 1) > 0);
        CHECK_EQ(store_commit(s, NULL), 1);
        store_close(s);
    }
    {
        store_opts_t o = opts(file("bad.db"));
        o.max_outbox = 0;
        CHECK(store_open(&o, err, sizeof err) == NULL);
        CHECK(strstr(err, "limits.outbox") != NULL);
        o = opts(NULL);
        CHECK(store_open(&o, err, sizeof err) == NULL);
        CHECK(strstr(err, "path") != NULL);
    }
}

/* -- Sticky routes ------------------------------------------------------------------ */

/* What store_sticky_get handed out. */
typedef struct got_s {
    char route[32], upstream[32];
    int  calls, no_upstream;
} got_t;

static void got_route(store_str_t route, store_str_t upstream, void *ud)
{
    got_t *g = ud;
    g->calls++;
    snprintf(g->route, sizeof g->route, "%.*s", (int)route.n, route.p);
    g->no_upstream = upstream.p == NULL;
    snprintf(g->upstream, sizeof g->upstream, "%.*s", upstream.p ? (int)upstream.n : 0, upstream.p ? upstream.p : "");
}

static store_str_t B(const char *p, size_t n)
{
    store_str_t v;
    v.p = p;
    v.n = n;
    return v;
}

/* The first part's choice is held until it expires; a second put keeps
 * it; keys that differ after a NUL are different keys; expiry removes the
 * row in store_expire's batch and the level follows. */
static void sticky_put_get_expire(void)
{
    store_t *s = open_at(":memory:");
    store_levels_t lv;
    store_expiry_t x;
    got_t g;
    CHECK(s);
    if (!s) return;
    memset(&g, 0, sizeof g);
    CHECK_EQ(store_sticky_get(s, B("a\0b", 3), 100, got_route, &g), 0);     /* empty table */
    CHECK_EQ(store_sticky_put(s, B("a\0b", 3), S("rr"), S("B"), 110, 100), 1);
    CHECK_EQ(store_sticky_put(s, B("a\0b", 3), S("other"), S("A"), 120, 101), 0);
    CHECK_EQ(store_sticky_get(s, B("a\0b", 3), 105, got_route, &g), 1);
    CHECK(strcmp(g.route, "rr") == 0 && strcmp(g.upstream, "B") == 0);
    CHECK_EQ(store_sticky_get(s, B("a\0c", 3), 105, got_route, &g), 0);
    CHECK_EQ(store_sticky_get(s, B("a", 1), 105, got_route, &g), 0);
    CHECK_EQ(g.calls, 1);
    CHECK_EQ(store_sticky_get(s, B("a\0b", 3), 110, got_route, &g), 0);     /* its time is up */
    /* an expired row not yet removed is replaced, not counted twice */
    CHECK_EQ(store_sticky_put(s, B("a\0b", 3), S("later"), S(NULL), 130, 111), 1);
    CHECK_EQ(store_sticky_get(s, B("a\0b", 3), 112, got_route, &g), 1);
    CHECK(strcmp(g.route, "later") == 0 && g.no_upstream);
    CHECK_EQ(store_sticky_put(s, S("k2"), S("uk"), S("A"), 200, 111), 1);
    store_levels(s, &lv);
    CHECK_EQ(lv.sticky, 2);
    CHECK_EQ(lv.max_sticky, 1000);
    CHECK_EQ(store_commit(s, NULL), 3);     /* the put that kept the first choice wrote nothing */
    memset(&x, 0, sizeof x);
    CHECK_EQ(store_expire(s, 150, 10, &x), 0);
    CHECK_EQ(x.sticky, 1);
    CHECK_EQ(x.more, 0);
    store_levels(s, &lv);
    CHECK_EQ(lv.sticky, 1);
    CHECK_EQ(store_sticky_get(s, S("k2"), 150, got_route, &g), 1);
    CHECK_EQ(store_expire(s, 300, 1, &x), 0);
    CHECK_EQ(x.sticky, 1);
    CHECK_EQ(x.more, 1);                    /* a full batch: there may be more */
    store_levels(s, &lv);
    CHECK_EQ(lv.sticky, 0);
    CHECK_EQ(store_sticky_put(s, S(NULL), S("r"), S("A"), 1, 0), STORE_EARG);
    CHECK_EQ(store_sticky_put(s, S("k"), S(NULL), S("A"), 1, 0), STORE_EARG);
    CHECK_EQ(store_sticky_put(s, S("k"), S("r"), S("A"), NAN, 0), STORE_EARG);
    CHECK_EQ(store_sticky_get(s, S(NULL), 0, NULL, NULL), STORE_EARG);
    store_close(s);
}

/* At limits.sticky the row that expires first makes room (a hint: a new
 * long message is never refused for it), counted apart. */
static void sticky_bound_evicts_first_to_expire(void)
{
    store_opts_t o = opts(":memory:");
    store_levels_t lv;
    store_t *s;
    char key[8];
    int i;
    o.max_sticky = 3;
    s = store_open(&o, err, sizeof err);
    CHECK(s);
    if (!s) return;
    for (i = 1; i <= 3; i++) {
        snprintf(key, sizeof key, "k%d", i);
        CHECK_EQ(store_sticky_put(s, S(key), S("r"), S("A"), 100 + (i == 1 ? 50 : i), 10), 1);
    }
    CHECK_EQ(store_sticky_put(s, S("k4"), S("r"), S("B"), 104, 10), 1);
    store_levels(s, &lv);
    CHECK_EQ(lv.sticky, 3);
    CHECK_EQ(lv.sticky_evicted, 1);
    CHECK_EQ(store_sticky_get(s, S("k2"), 10, NULL, NULL), 0);     /* expired first: k1 lives longer */
    CHECK_EQ(store_sticky_get(s, S("k1"), 10, NULL, NULL), 1);
    CHECK_EQ(store_sticky_get(s, S("k3"), 10, NULL, NULL), 1);
    CHECK_EQ(store_sticky_get(s, S("k4"), 10, NULL, NULL), 1);
    /* a key held already takes no room */
    CHECK_EQ(store_sticky_put(s, S("k4"), S("r"), S("A"), 104, 11), 0);
    store_levels(s, &lv);
    CHECK_EQ(lv.sticky_evicted, 1);
    store_close(s);
    o.max_sticky = 0;
    CHECK(store_open(&o, err, sizeof err) == NULL);
    CHECK(strstr(err, "limits.sticky") != NULL);
}

/* Held routes are written in the turn's transaction: committed they
 * survive a reopen (a restart), not committed they are lost with the
 * turn, as a crash loses it; the level is read back from the file. */
static void sticky_survives_reopen_with_the_turn(void)
{
    const char *path = file("sticky.db");
    store_levels_t lv;
    store_t *s = open_at(path);
    got_t g;
    CHECK(s);
    if (!s) return;
    memset(&g, 0, sizeof g);
    CHECK_EQ(store_sticky_put(s, S("kept"), S("rr"), S("B"), 1000, 1), 1);
    CHECK_EQ(store_in_txn(s), 1);
    CHECK_EQ(store_commit(s, NULL), 1);
    CHECK_EQ(store_sticky_put(s, S("lost"), S("rr"), S("A"), 1000, 1), 1);
    store_close(s);
    s = open_at(path);
    CHECK(s);
    if (!s) return;
    store_levels(s, &lv);
    CHECK_EQ(lv.sticky, 1);
    CHECK_EQ(store_sticky_get(s, S("kept"), 2, got_route, &g), 1);
    CHECK(strcmp(g.upstream, "B") == 0);
    CHECK_EQ(store_sticky_get(s, S("lost"), 2, got_route, &g), 0);
    store_close(s);
}

/* The sticky table's statements go by its key or its expires index (the
 * count, at open only, reads it whole). */
static void sticky_statements_use_indexes(void)
{
    static const struct { int which; const char *index; } cases[] = {
        { STORE_STICKY_GET, "PRIMARY KEY" },
        { STORE_STICKY_PUT, "" },
        { STORE_STICKY_EVICT, "sticky_expires" },
        { STORE_STICKY_EXPIRE, "sticky_expires" },
    };
    const char *path = file("sticky_plans.db");
    store_opts_t o = opts(path);
    store_t *s;
    sqlite3 *db;
    char plan[1024];
    size_t i;
    o.max_sticky = 1;
    s = store_open(&o, err, sizeof err);
    CHECK(s);
    if (!s) return;
    /* every statement prepared: a put, a put that evicts, a get, an expiry */
    store_sticky_put(s, S("a"), S("r"), S("A"), 10, 1);
    store_sticky_put(s, S("b"), S("r"), S("A"), 10, 1);
    store_sticky_get(s, S("b"), 1, NULL, NULL);
    {
        store_expiry_t x;
        memset(&x, 0, sizeof x);
        CHECK_EQ(store_expire(s, 20, 10, &x), 0);
    }
    CHECK_EQ(store_commit(s, NULL), 3);
    CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
    for (i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *sql = s->sticky[cases[i].which] ? sqlite3_sql(s->sticky[cases[i].which]) : NULL;
        CHECK(sql != NULL);
        if (!sql) continue;
        plan_of(db, sql, plan, sizeof plan);
        if (cases[i].index[0] && (!indexed(plan) || !strstr(plan, cases[i].index))) {
            printf("  %s\n    -> %s (expected %s)\n", sql, plan, cases[i].index);
            CHECK(0);
        }
    }
    sqlite3_close(db);
    store_close(s);
}

/* Schema 4 -> 5: the sticky table is added to a file that lacks it, and
 * the file's messages stay. */
static void upgrades_schema_4(void)
{
    const char *path = file("schema4.db");
    store_opts_t o = opts(path);
    store_t *s = open_at(path);
    char text[64];
    CHECK(s);
    if (!s) return;
    CHECK(put(s, "old", 0, 1) > 0);
    CHECK_EQ(store_commit(s, NULL), 1);
    store_close(s);
    CHECK_EQ(sql_on(path, "DROP TABLE sticky; UPDATE meta SET value = 4 WHERE key = 'schema'"), SQLITE_OK);
    s = store_open(&o, err, sizeof err);
    CHECK(s);
    if (!s) {
        printf("  %s\n", err);
        return;
    }
    CHECK_EQ(store_get(s, S("old"), 0, NULL, NULL), 1);
    CHECK_EQ(store_sticky_put(s, S("k"), S("r"), S("A"), 100, 1), 1);
    CHECK_EQ(store_commit(s, NULL), 1);
    store_close(s);
    sql_text(path, "SELECT count(*) FROM sqlite_master WHERE name IN ('sticky', 'sticky_expires')",
             text, sizeof text);
    CHECK(strcmp(text, "2") == 0);
}

/* Parked rows (a run that stored them waits): in the queue, counted,
 * never taken; put back one by one, or every one of an upstream with a trace line. */
static void forward_queue_parks(void)
{
    store_t *s = open_at(":memory:");
    fseen_t v;
    seen_t m;
    long long queued = 0;
    CHECK(s);
    if (!s) return;
    queue(s, "p1", "up", 10);
    queue(s, "p2", "up", 10);
    queue(s, "p3", "up", 10);
    CHECK_EQ(store_fwd_park(s, 1), 1);
    CHECK_EQ(store_commit(s, NULL) > 0, 1);
    CHECK_EQ(store_fwd_park(s, 2), 1);         /* inserted: an UPDATE */
    CHECK_EQ(store_fwd_park(s, 2), 0);         /* parked already */
    CHECK_EQ(store_commit(s, NULL) > 0, 1);
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_fwd_take(s, S("up"), NAN, 0, 1e12, 10, fsee, &v), 1);
    CHECK(strcmp(v.ids[0], "p3") == 0);
    CHECK_EQ(store_fwd_counts(s, count_queue, &queued), 1);
    CHECK_EQ(queued, 3);                       /* the parked too: the gateway counts them apart */
    CHECK_EQ(store_fwd_unpark(s, 1, 20), 1);
    CHECK_EQ(store_fwd_unpark(s, 3, 20), 0);   /* not parked */
    memset(&v, 0, sizeof v);
    CHECK_EQ(store_fwd_take(s, S("up"), 10, 3, 30, 10, fsee, &v), 1);
    CHECK(strcmp(v.ids[0], "p1") == 0 && v.due[0] == 20);
    CHECK_EQ(store_fwd_unpark_all(s, S("other"), 40, 40, S("back")), 0);
    CHECK_EQ(store_fwd_unpark_all(s, S("up"), 40, 40, S("back in the queue")), 1);
    CHECK_EQ(store_fwd_unpark_all(s, S("up"), 41, 41, S("back in the queue")), 0);
    memset(&m, 0, sizeof m);
    CHECK_EQ(store_get(s, S("p2"), 0, see, &m), 1);
    CHECK(m.due[0] == 40);
    CHECK(strstr(m.trace, "40.000 back in the queue\n") != NULL);
    /* a parked row ended (its run failed): out of the queue */
    CHECK_EQ(store_fwd_park(s, 2), 1);
    CHECK_EQ(store_fwd_state(s, 2, 8, 1, 8, 50, S("failed")), 1);
    CHECK_EQ(store_fwd_unpark(s, 2, 60), 0);
    CHECK_EQ(store_commit(s, NULL) > 0, 1);
    store_close(s);
}

int main(void)
{
    char cmd[128];
    snprintf(dir, sizeof dir, "/tmp/test_store.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    TEST(sqlite_allocator);
    TEST(record_round_trip);
    TEST(record_fields_survive);
    TEST(update_masks_and_trace);
    TEST(lookups);
    TEST(ids_made_from_keys);
    TEST(list_walks_keys);
    TEST(due_and_lease);
    TEST(forward_queue_by_cursor);
    TEST(forward_queue_parks);
    TEST(forward_usual_lines_as_text);
    TEST(stamp_as_printf);
    TEST(bound_messages_evicts_final_only);
    TEST(bound_outbox_and_early);
    TEST(outbox_take_ack_retry);
    TEST(early_take_removes);
    TEST(early_take_since);
    TEST(expiry_in_batches);
    TEST(keyed_messages);
    TEST(keys_never_come_back);
    TEST(bound_keeps_what_is_due);
    TEST(ids_across_reopen_and_crash);
    TEST(ids_block_runs_out_inside_a_transaction);
    TEST(node_ids_differ);
    TEST(close_without_commit_loses_the_turn);
    TEST(commit_failure_reports_lost_writes);
    TEST(waiting_rows_are_read_and_fail_whole);
    TEST(lock_refuses_a_second_holder);
    TEST(size_limit_fails_writes_not_silently);
    TEST(writes_refused_after_a_lost_transaction);
    TEST(refuses_not_a_database);
    TEST(refuses_a_corrupt_file);
    TEST(refuses_foreign_and_newer);
    TEST(upgrades_older_schemas);
    TEST(upgrades_schema_3);
    TEST(upgrades_schema_5);
    TEST(receipt_keys_before_schema_9);
    TEST(gateway_statements_use_indexes);
    TEST(gateway_rows_pay_for_their_indexes_only);
    TEST(checkpoints_by_the_caller);
    TEST(refuses_a_read_only_file);
    TEST(creates_missing_directories);
    TEST(sync_modes_and_bad_options);
    TEST(sticky_put_get_expire);
    TEST(sticky_bound_evicts_first_to_expire);
    TEST(sticky_survives_reopen_with_the_turn);
    TEST(sticky_statements_use_indexes);
    TEST(upgrades_schema_4);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("could not remove %s\n", dir);
    return test_summary();
}
