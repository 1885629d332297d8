/* store.h -- the embedded message store: one SQLite file (WAL) holding the
 * messages, the per-account outbox, early receipts and id counters.
 *
 * Pure C on libsqlite3; knows nothing of Lua or libuv. One store_t is one
 * connection; a process opens one. Writes join a transaction that the first
 * write of a loop turn opens and store_commit() closes (group commit), so
 * the runtime answers what a turn accepted only once store_commit() says it
 * is stored. Times are seconds since the epoch given by the caller: the
 * store has no clock of its own. Strings are (pointer, length) pairs,
 * borrowed for the duration of the call unless a function says otherwise.
 */
#ifndef SMPPGW_STORE_H
#define SMPPGW_STORE_H

#include <stddef.h>
#include <stdint.h>

/* -- Errors ----------------------------------------------------------------- */

/* X(name, code, token): every function returns >= 0 on success or one of
 * these. The token is what the Lua side returns ("full", "io: ..."). */
#define STORE_ERRNO_MAP(X) \
    X(FULL,   -1, "full")          /* a bound (limits.*) is reached, or the disk */ \
    X(EXISTS, -2, "exists")        /* put of an id and part already stored */ \
    X(IO,     -3, "io")            /* SQLite failed: store_errmsg() says how */ \
    X(NOMEM,  -4, "no memory") \
    X(ARG,    -5, "bad argument")  /* a caller's mistake: store_errmsg() names it */

enum {
#define X(name, code, token) STORE_E##name = code,
    STORE_ERRNO_MAP(X)
#undef X
};

/* The token of an error code ("full", "io", ...); "ok" for codes >= 0. */
const char *store_strerror(int code);

/* The most rows one call hands out or removes (limit, n, batch): a call
 * asking for more is a caller's mistake (STORE_EARG), so that no single
 * call holds the loop for long. */
#define STORE_BATCH_MAX 10000

/* The longest string or PDU one field holds (a PDU is at most 16 MiB by
 * the session's max_pdu): longer is a caller's mistake (STORE_EARG). */
#define STORE_VALUE_MAX (16 << 20)

/* Seconds a message's keep_until may lie past submitted + trace_ttl and
 * still expire in key order (store_expire). */
#define STORE_ORDER_SLACK 60

/* -- Records -------------------------------------------------------------------- */

/* Octets with a length; p == NULL is SQL NULL (absent). */
typedef struct store_str_s {
    const char *p;
    size_t      n;
} store_str_t;

#define STORE_KIND_TEXT store_str_t
#define STORE_KIND_BLOB store_str_t
#define STORE_KIND_INT  long long
#define STORE_KIND_REAL double

/* One row of `messages` (columns in store_msg.def). A REAL field that is
 * NaN is NULL. */
typedef struct store_msg_s {
#define COL(name, kind, flags, ddl) STORE_KIND_##kind name;
#include "store_msg.def"
#undef COL
} store_msg_t;

enum {
#define COL(name, kind, flags, ddl) STORE_COL_##name,
#include "store_msg.def"
#undef COL
    STORE_NCOLS
};
#define STORE_BIT(name) (1u << STORE_COL_##name)

/* Column descriptions for generic code (the Lua binding). */
enum { STORE_TEXT, STORE_INT, STORE_REAL, STORE_BLOB };
enum { STORE_CF_0 = 0, STORE_CF_KEY = 1, STORE_CF_BOOL = 2, STORE_CF_APPEND = 4, STORE_CF_CALC = 8,
       STORE_CF_KEY_CALC = 9, STORE_CF_BOOL_CALC = 10 };
typedef struct store_col_s {
    const char *name;
    int         kind;     /* STORE_TEXT ... */
    int         flags;    /* STORE_CF_* */
    size_t      offset;   /* of the field in store_msg_t */
} store_col_t;
extern const store_col_t store_cols[STORE_NCOLS];

/* A record with every field empty: NULL strings, 0 integers, NaN times. */
void store_msg_clear(store_msg_t *m);

/* -- Opening and closing ----------------------------------------------------------- */

typedef struct store_s store_t;

enum { STORE_SYNC_OFF = 0, STORE_SYNC_NORMAL = 1, STORE_SYNC_FULL = 2 };

/* quick_check 2: the largest file checked (PRAGMA quick_check reads every page) */
#define STORE_QUICK_AT_OPEN (64LL << 20)

/* Every field is required: the defaults live in the config schema
 * (lua/smpp/config.lua), not here. Limits must be >= 1. */
typedef struct store_opts_s {
    const char *path;               /* a file (its directory is created), or ":memory:" */
    int         sync;               /* STORE_SYNC_*: what a commit survives */
    double      busy_timeout;       /* seconds to wait for another process's lock */
    double      trace_ttl;          /* seconds a final message is kept */
    double      lease;              /* seconds a taken outbox item stays hidden */
    long long   max_messages;       /* rows in messages */
    long long   max_outbox;         /* rows in outbox */
    long long   max_outbox_account; /* rows in outbox for one account */
    long long   max_early;          /* rows in early */
    long long   max_sticky;         /* rows in sticky (long messages' routes) */
    long long   max_bytes;          /* size of the database file, 0 = no limit */
    int         quick_check;        /* run PRAGMA quick_check while opening (2: only on a file of at most
                                     * STORE_QUICK_AT_OPEN octets, as `run` does) */
    int         lock;               /* hold PATH-lock while open: another holder is refused */
} store_opts_t;

/* Open (create if missing) the store at o->path. Returns the store, or NULL
 * with a message naming the path and the reason in err (cannot open,
 * read-only, not a database, corrupt, disk full, newer schema, ...). */
store_t *store_open(const store_opts_t *o, char *err, size_t errlen);

/* Close. An open transaction is rolled back, as a crash would lose it:
 * callers commit first. NULL is a no-op. */
void store_close(store_t *s);

/* The text of the last failure (after a negative return); owned by s, valid
 * until the next call. */
const char *store_errmsg(const store_t *s);

/* A random number (1 .. 2^32-1) made when the store was created; two
 * stores hand out different ids by putting it in them. */
long long store_node_id(const store_t *s);

/* -- Group commit ---------------------------------------------------------------- */

/* 1 while writes wait for store_commit(). */
int store_in_txn(const store_t *s);

/* Writes made by every store of the process so far (a caller counts its
 * own by the difference around them: rt_task.c, rt_task_set_write_hook). */
extern uint64_t store_writes_total;

/* Transactions lost since the store was opened: commits that failed, and
 * writes that failed and took their transaction with them. */
long long store_commit_failures(const store_t *s);

/* Commits that succeeded since the store was opened (early ones in the
 * middle of a turn too: rt_store.c tells by it that an answer held before
 * one is stored, whatever the turn's own commit does). */
long long store_writes_committed(const store_t *s);   /* writes committed since open */
long long store_commits_ok(const store_t *s);

/* A write failed since the last store_commit(): it lost the open
 * transaction (store_in_txn is 0 again), which the next store_commit()
 * reports; STORE_EFULL (a full disk or store) or STORE_EIO; else 0. */
int store_txn_lost(const store_t *s);

/* Commit the open transaction. Returns the number of writes (calls that
 * changed the store) made durable since the previous store_commit(), 0 if
 * none; or STORE_EIO when a commit failed since then (this one, or one
 * store_next_id() had to make early): the transaction was rolled back,
 * *lost (if not NULL) gets the number of writes lost, and store_errmsg()
 * says why. The runtime answers those writes' requests with an error. After
 * a failure in the middle of a transaction, every write returns STORE_EIO
 * until this is called. */
int store_commit(store_t *s, long long *lost);

/* After store_commit() returned STORE_EIO: 1 when the writes were lost
 * because the disk or limits.size_mb was full (the runtime then answers
 * ESME_RMSGQFUL rather than ESME_RSYSERR), else 0. */
int store_commit_full(const store_t *s);

/* -- Checkpoints ------------------------------------------------------------------- */
/* Commits append to the write-ahead log; a checkpoint copies the log into
 * the database file (an fsync: milliseconds). By default SQLite does it
 * inside the commit that finds the log past 1,000 pages, on the caller's
 * thread. A program with an event loop takes that over: after
 * store_wal_manual(s), commits never checkpoint, store_wal_frames(s) says
 * how long the log is, and store_checkpoint() runs on another thread. */

/* Checkpoints are the caller's from now on. Returns 0. */
int store_wal_manual(store_t *s);

/* Pages in the write-ahead log after the last commit (0 for ":memory:"). */
long long store_wal_frames(const store_t *s);

/* The file the store was opened on (as given). */
const char *store_path(const store_t *s);

/* Copy what the log of the store at path holds into the database file
 * (PASSIVE: it never waits for the writer, which goes on meanwhile). It
 * opens a connection of its own and shares nothing with any store_t, so
 * it may run on any thread. Returns the pages copied, or -1 with the
 * reason in err. */
long long store_checkpoint(const char *path, char *err, size_t errlen);

/* -- Levels ------------------------------------------------------------------------ */

typedef struct store_levels_s {
    long long messages, max_messages;
    long long outbox, max_outbox;
    long long early, max_early;
    long long sticky, max_sticky;   /* long messages whose route is held */
    long long sticky_evicted;       /* held routes dropped early to make room */
    long long bytes, max_bytes;     /* database file size (pages x page size) */
    long long txn_writes;           /* writes waiting for the commit */
    long long commits, commit_failures, lost;  /* since open */
    long long evicted;              /* final messages dropped early to make room */
    long long expired;              /* rows removed by store_expire() */
} store_levels_t;

/* Fill *out; counts are kept in memory, no query except the file size. */
void store_levels(store_t *s, store_levels_t *out);

/* PRAGMA quick_check. Returns 0 when the file is sound, 1 when it is not
 * (the first problems in out), or a negative error. */
int store_check(store_t *s, char *out, size_t outlen);

/* -- Ids ------------------------------------------------------------------------------- */

/* The next value (1, 2, ...) of the counter `name`, unique across restarts:
 * values are handed out from blocks whose end is committed before any of
 * them is used, so a crash skips the rest of a block and never reissues a
 * value. Exhausting a block in the middle of a transaction commits that
 * transaction early (rare: blocks grow when that happens). Returns 0 with
 * *out set, or a negative error. */
int store_next_id(store_t *s, const char *name, long long *out);

/* -- Messages ------------------------------------------------------------------------ */

/* Called once per row; m and its strings are valid during the call only.
 * Return non-zero to stop early. */
typedef int (*store_msg_fn)(const store_msg_t *m, void *ud);

/* Store a new message (submitted required; id optional). The store gives
 * the row its key: the next value of a counter of its own, so keys only
 * grow and are never handed out twice, across restarts and crashes
 * (store_next_id). The rows of one submit_multi put one after the other
 * get consecutive keys (part 0, 1, ...). keep_until is computed: final ?
 * done + trace_ttl : max(done, expires, submitted) + trace_ttl; so is
 * lasting (see store_expire). Returns the key (> 0). When the table is
 * full, the oldest final message with nothing due is dropped to make room
 * (counted in `evicted`); if there is none, STORE_EFULL. Also
 * STORE_EEXISTS (id and part stored already), STORE_EIO, STORE_EARG. */
long long store_put(store_t *s, const store_msg_t *m);

/* Remove the message with that key for good (its forwarding row goes
 * with it): a row put that was never accepted (a withdrawn destination,
 * a request answered with an error after its put). Returns 1, 0 when
 * there is none, or an error. */
int store_remove(store_t *s, long long key);

/* Hand the message (id, part) to fn. Returns 1, 0 when there is none, or a
 * negative error. */
int store_get(store_t *s, store_str_t id, long long part, store_msg_fn fn, void *ud);

/* The same for the message whose key is key. */
int store_get_key(store_t *s, long long key, store_msg_fn fn, void *ud);

/* Every part of id, in part order. Returns the number of rows or an error. */
int store_parts(store_t *s, store_str_t id, store_msg_fn fn, void *ud);

/* The parts of the message whose part 0 has key `key`: the rows from key
 * on whose part counts 0, 1, 2 ... (at most STORE_BATCH_MAX). Returns the
 * number of rows (0 when key is not a part 0) or an error. */
int store_parts_key(store_t *s, long long key, store_msg_fn fn, void *ud);

/* A change to one message or to every part of one. */
typedef struct store_change_s {
    store_msg_t  v;        /* new values of the columns in mask */
    unsigned     mask;     /* STORE_BIT(state) | ...; no KEY or CALC column */
    store_str_t  trace;    /* if p: "<at> <trace>\n" is appended to trace */
    double       at;       /* time of the trace line (required with trace) */
    long long    part;     /* this part only, or -1: every part of the id */
    int          pending;  /* 1: only rows that are not final */
    long long    key;      /* > 0: the row with this key (id and part are then not looked at) */
} store_change_t;

/* Apply c to the message id (or to the row c->key). Returns the number of
 * rows changed (0: none matched) or a negative error. */
int store_update(store_t *s, store_str_t id, const store_change_t *c);

/* Pending (not final) messages of account from source to dest, optionally
 * of service_type (p NULL: any), oldest first, at most limit. */
typedef struct store_find_s {
    store_str_t account, source, dest, service_type;
    int         limit;
} store_find_t;
int store_find(store_t *s, const store_find_t *q, store_msg_fn fn, void *ud);

/* Messages submitted since `since` (submitted >= since) from account's
 * source to dest (of service_type, when p is not NULL), newest first, at
 * most limit, final or not. Found without an index, by walking the keys
 * down from the newest until a message older than since: the cost is
 * every message stored since then (about 0.1 us each). Returns the count
 * or an error. */
typedef struct store_recent_s {
    store_str_t account, source, dest, service_type;
    double      since;
    int         limit;
} store_recent_t;
int store_recent(store_t *s, const store_recent_t *q, store_msg_fn fn, void *ud);

/* Messages whose due <= now, earliest first, at most limit: those of
 * upstream's queue, or (upstream.p NULL) those without an upstream. With a
 * lease (not NaN) each returned row's due becomes now + lease, so that a
 * second call does not return it while it is being worked on, and a crash
 * lets it come back. Returns the number of rows or an error. */
int store_due(store_t *s, double now, int limit, store_str_t upstream, double lease,
              store_msg_fn fn, void *ud);

/* The same, taking them: each returned row's due becomes NULL (fn sees
 * the due it had). What the caller does about them belongs in the same
 * transaction, so a crash loses both or neither. */
int store_take_due(store_t *s, double now, int limit, store_str_t upstream, store_msg_fn fn, void *ud);

/* The earliest due time of upstream's queue, or (upstream.p NULL) of the
 * messages without an upstream, into *out (NaN: nothing is due). Returns
 * 0 or an error. */
int store_next_due(store_t *s, store_str_t upstream, double *out);

/* Hand the newest message of upstream whose upstream_key is key (receipt
 * matching) to fn. Returns 1, 0 when there is none, or an error. */
int store_by_upstream(store_t *s, store_str_t upstream, store_str_t key, store_msg_fn fn, void *ud);

/* Messages of account submitted in [since, until), in key order (that of
 * submission), of one state (state < 0: any), at most limit. Found without
 * an index: keys grow with the submission time (give or take
 * STORE_ORDER_SLACK, a clock that stepped back), so the first key at since
 * is found by bisection and the keys are walked from there, each a narrow
 * row, until; the whole record is read only for the rows that match. One
 * call looks at no more than `scan` rows (0: STORE_LIST_SCAN, a few
 * milliseconds): when it stops there, *next is the key to continue after
 * (pass it as `after`), else 0. after > 0: from the key after it (since
 * is then not looked for). Returns the count or an error. */
#define STORE_LIST_SCAN 20000
typedef struct store_list_s {
    store_str_t account;
    double      since, until;
    int         state;
    int         limit;
    long long   after;      /* > 0: continue after this key (a previous call's *next) */
    int         scan;       /* rows one call looks at, at most (0: STORE_LIST_SCAN) */
} store_list_t;
int store_list(store_t *s, const store_list_t *q, store_msg_fn fn, void *ud, long long *next);

/* -- Outbox: deliver_sm PDUs waiting for an account's receiver ------------------------ */

typedef struct store_item_s {
    long long   rowid;      /* opaque handle, never reused */
    store_str_t owner;      /* outbox: account; early: upstream */
    store_str_t ref;        /* outbox: message id (may be NULL); early: key */
    store_str_t pdu;
    double      due;        /* outbox: when it may be taken */
    double      expires;    /* removed by store_expire() after this */
    double      at;         /* early: when the receipt arrived */
    long long   attempts;   /* outbox: times taken */
} store_item_t;
typedef int (*store_item_fn)(const store_item_t *it, void *ud);

/* Queue pdu for account, takeable from due (NaN: now), removed at expires
 * (NaN: never, while the bound allows). Returns the rowid (> 0) or
 * STORE_EFULL (limits.outbox or limits.outbox_per_account) or an error. */
long long store_outbox_push(store_t *s, store_str_t account, store_str_t pdu, store_str_t ref,
                            double due, double expires);

/* Up to n items of account with due <= now, oldest first; each is leased:
 * due = now + lease (NaN: the store's lease), attempts + 1 (the values fn
 * sees). Returns the count or an error. */
int store_outbox_take(store_t *s, store_str_t account, int n, double now, double lease,
                      store_item_fn fn, void *ud);

/* Remove an item (delivered). Returns 1, 0 if it was not there, or an error. */
int store_outbox_ack(store_t *s, long long rowid);

/* Offer an item again from due. Returns 1, 0 if it was not there, or an error. */
int store_outbox_retry(store_t *s, long long rowid, double due);

/* Items queued for account (kept in memory). */
long long store_outbox_count(store_t *s, store_str_t account);

/* -- Early receipts: arrived before the submit_sm_resp that names them --------------- */

/* Keep a receipt for (upstream, key) until expires. Returns the rowid or
 * STORE_EFULL or an error. */
long long store_early_put(store_t *s, store_str_t upstream, store_str_t key, store_str_t pdu,
                          double expires, double at);

/* Hand every receipt kept for (upstream, key) that arrived at or after
 * `since` (its `at`; NAN: whenever) to fn, oldest first, and remove them.
 * A receipt can only be about a message sent before it arrived: the
 * gateway passes the message's send time, and a receipt that came before
 * stays for another message (or expires). Returns the count or an error. */
int store_early_take(store_t *s, store_str_t upstream, store_str_t key, double since,
                     store_item_fn fn, void *ud);

/* -- Forward queues (store_fwd.c): the store-and-forward gateway ------------------------ */
/* A message put with store_put (no due) and then store_fwd_queue has its
 * forwarding state (upstream, due, upstream_id, upstream_key, state,
 * final, done, err, attempts, the trace after its first line) in a narrow
 * row of its own beside the wide record, which is then never written
 * again: every read of the record (store_get ... store_list, expiry,
 * eviction) sees the narrow row's values. A message waits in the queue of `upstream` while its due is set; the
 * gateway's forwarder reads the queue in (due, rowid) order from a cursor
 * it keeps, so taking a row writes nothing: rows it has sent stay behind
 * the cursor until the answer (store_fwd_sent: due cleared) or a retry
 * (store_fwd_retry: a later due, after the cursor) is written. After a
 * restart the cursor starts over, and what was sent but not answered is
 * sent again (at least once). Writes are by rowid, each with one trace
 * line "<now> <line>" appended as store_update() does. */

/* The time of a trace line as "%.3f " writes it, faster, into buf (at
 * least STORE_STAMP_MAX octets): its length. */
#define STORE_STAMP_MAX 40
size_t store_stamp(char *buf, double t);

/* Put the message `key` (just stored with store_put, its upstream set and
 * no due) in the queue of upstream from due. via > 0: the ESME session it
 * came from, the record stored without a trace: its first line is the
 * usual store_fwd_line_accepted(account, via, NULL, route, upstream) at
 * submitted, kept as via and written out when it is read (0: the record
 * has its own first line). Returns 1 or an error. */
int store_fwd_queue(store_t *s, long long key, store_str_t upstream, double due, long long via);

/* Count a sending of the message the upstream refused (the refusal then
 * moves or ends it; a retry counts its own). Returns 1, 0 when it has no
 * forwarding row, or an error. */
int store_fwd_attempted(store_t *s, long long rowid);

/* Move a queued message to another upstream's queue, from due, err = the
 * status that made it move. Returns 1, 0 when it has no forwarding row,
 * or an error. */
int store_fwd_move(store_t *s, long long rowid, store_str_t upstream, double due, long long err, double now,
                   store_str_t line);

/* Parked: a queued message whose storing run has not ended (the gateway
 * forwards it only once that run ends well). Its due is
 * STORE_FWD_PARKED, after any time the forwarder asks for, so it stays
 * in its queue (and in store_fwd_counts) but is never taken. Park it
 * (a row still waiting to be inserted is changed in memory: no write),
 * put it back in the queue from due, or put back every parked row of
 * upstream (at start: their runs are gone), each with a trace line.
 * Return 1 / the count, 0 when it was not queued / not parked, or an
 * error. */
#define STORE_FWD_PARKED 1e15
int store_fwd_park(store_t *s, long long rowid);
int store_fwd_unpark(store_t *s, long long rowid, double due);
long long store_fwd_unpark_all(store_t *s, store_str_t upstream, double due, double now, store_str_t line);

typedef struct store_fwd_row_s {
    long long   rowid;
    store_str_t id, account, upstream, route, notify, pdu;
    long long   part, registered_delivery, attempts, state;
    int         final;
    int         multi;          /* store_fwd_by_key: the message is a submit_multi */
    double      due, expires, submitted;
    double      first;          /* store_fwd_retry's first stamp of a sending not answered (NaN, 0: none) */
    int         checked;        /* pdu decodes as a message: decoded so by this process when it stored
                                 * it (a row held in memory, rt_gw_held.c); 0 for a row read back */
} store_fwd_row_t;
typedef int (*store_fwd_fn)(const store_fwd_row_t *r, void *ud);

/* Rows of upstream's queue with due <= now after the cursor (after_due,
 * after_rowid; after_due NaN: from the start), in (due, rowid) order, at
 * most limit. Returns the count or an error. */
int store_fwd_take(store_t *s, store_str_t upstream, double after_due, long long after_rowid, double now,
                   int limit, store_fwd_fn fn, void *ud);

/* The newest message of upstream whose upstream_key is key (a receipt's
 * message), with what matching a receipt needs: rowid, id, part,
 * account, registered_delivery, route, notify, final, multi; state is -1 when
 * it was not read (store_fwd_state_of), due, expires and submitted NaN,
 * the rest zero. written: key is the receipt's id as written (id_format
 * "string", or no number of its declared base): a message whose key was
 * written before schema 9 (the normalised id, whatever the format) is
 * taken only when its upstream_id, trimmed, is that id, and is found
 * under its old key too. Returns 1, 0 when there is none, or an error. */
int store_fwd_by_key(store_t *s, store_str_t upstream, store_str_t key, int written, store_fwd_fn fn, void *ud);

/* The state of the message with a forwarding row `rowid` into *state.
 * Returns 1, 0 when it has none, or an error. */
int store_fwd_state_of(store_t *s, long long rowid, long long *state);

/* fn(upstream, rows) for every queue that holds rows. Returns the number
 * of queues or an error. */
int store_fwd_counts(store_t *s, void (*fn)(store_str_t upstream, long long n, void *ud), void *ud);

/* The upstream accepted it: state ENROUTE, out of the queue, attempts + 1,
 * its upstream_id and key (key NULL: no receipt expected, none matched),
 * final (and done = now) when nothing more is expected. sess > 0 with
 * line.p NULL: the line is the usual one, store_fwd_line_sent(its
 * upstream, sess, its attempts, upstream_id), which the store keeps as
 * columns, written out when the message is read (or as text, made from
 * the row, where it does not follow the row's first lines); else `line`
 * is the text. Returns 1, 0 when the row is gone, or an error. */
int store_fwd_sent(store_t *s, long long rowid, store_str_t upstream_id, store_str_t key, int final, double now,
                   long long sess, store_str_t line);

/* Send it again from due (after the cursor: due > the time it was taken),
 * attempts + 1, err = the status that made it wait. first: the caller's
 * stamp of this sending when the upstream may have taken it (no answer;
 * NaN: it did not), kept as the row's `first` (store_fwd_take) unless
 * one is kept already; a move to another upstream clears it. Returns 1,
 * 0, or an error. */
int store_fwd_retry(store_t *s, long long rowid, double due, long long err, double first, double now,
                    store_str_t line);

/* A new message_state (a receipt, or the gateway's own verdict); when
 * final, out of the queue, done = now. Returns 1, 0, or an error. */
int store_fwd_state(store_t *s, long long rowid, int state, int final, long long err, double now, store_str_t line);

/* A final receipt's state, as store_fwd_state with final set; rcpt > 0
 * with line.p NULL: the line is the usual one, store_fwd_line_receipt(its
 * upstream, state, err, final, what) with `what` none (1) or "delivered
 * to <its account>" (2), kept as a column like store_fwd_sent's; else
 * `line` is the text. */
int store_fwd_receipt(store_t *s, long long rowid, int state, long long err, double now, int rcpt, store_str_t line);

/* The usual trace lines, as the store writes them out (store_lines.c) and
 * the gateway builds them, into buf (cap octets with the NUL, cut there):
 * "accepted from <account> (session <sess>), route '<route>', queued for
 * <upstream>" (how: "(<how>)" instead of the session), "sent to
 * <upstream> (session <sess>, attempt <attempt>): accepted as
 * <upstream_id>" and "receipt from <upstream>: stat:<word> err:<000>[ (not
 * final)][; <what>]" (what.p NULL: none). Return the length. */
size_t store_fwd_line_accepted(char *buf, size_t cap, store_str_t account, long long sess, const char *how,
                               store_str_t route, store_str_t upstream);
size_t store_fwd_line_sent(char *buf, size_t cap, store_str_t upstream, long long sess, long long attempt,
                           store_str_t upstream_id);
size_t store_fwd_line_receipt(char *buf, size_t cap, store_str_t upstream, int state, long long err, int final,
                              store_str_t what);

/* -- Expiry ------------------------------------------------------------------------------ */

/* What store_expire() removed. The callbacks (each may be NULL) see the
 * rows that were lost rather than finished: messages not final, outbox
 * items never delivered, early receipts never matched. */
typedef struct store_expiry_s {
    store_msg_fn  on_message;   /* id, part, account, state, final filled */
    store_item_fn on_outbox;    /* rowid, owner (account), ref */
    store_item_fn on_early;     /* rowid, owner (upstream), ref (key) */
    void         *ud;
    long long     messages;     /* rows removed (final or not) */
    long long     unfinished;   /* of which not final */
    long long     outbox, early;
    long long     sticky;       /* held routes of long messages removed */
    int           more;         /* a table had more than batch rows due */
} store_expiry_t;

/* Remove up to batch rows per table whose time is <= now: messages by
 * keep_until, outbox, early and sticky by expires. The counts in *x are reset
 * first. Returns 0 or an error.
 *
 * Messages expire in key order where they can: a message whose keep_until
 * is at most STORE_ORDER_SLACK past submitted + trace_ttl is removed by a
 * walk over the keys, which needs no index and stops at the first such
 * message whose time has not come (so a message may go up to that slack
 * late, never early). The others ("lasting": kept longer, as a pending
 * message with a long validity, or one that reached its final state long
 * after it was submitted) are in an index on keep_until, and stay there
 * once in it. */
int store_expire(store_t *s, double now, int batch, store_expiry_t *x);

/* -- Sticky routes (store_sticky.c): the parts of one long message -------------------- */
/* The route and upstream the first part of a long message took, under a
 * key the caller makes (account, addresses, the message's reference), so
 * that its later parts follow it, also after a restart. A held route is a
 * hint: a caller that cannot store or find one routes the part on its
 * own, and never refuses the message for it. */

/* Hold route and upstream under key until expires, unless key holds a
 * route already that is still valid at now (the first part's choice
 * stays). When limits.sticky rows are held, the one that expires first
 * makes room (counted in sticky_evicted): a new long message matters
 * more than the oldest one. Returns 1 (held), 0 (key held already), or
 * STORE_EARG, STORE_EIO. */
int store_sticky_put(store_t *s, store_str_t key, store_str_t route, store_str_t upstream,
                     double expires, double now);

/* The route and upstream held under key, valid at now: fn(route,
 * upstream, ud) is called with them (borrowed for the call). Returns 1,
 * 0 when none is held, or an error. */
typedef void (*store_sticky_fn)(store_str_t route, store_str_t upstream, void *ud);
int store_sticky_get(store_t *s, store_str_t key, double now, store_sticky_fn fn, void *ud);

#endif /* SMPPGW_STORE_H */
