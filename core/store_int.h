/* store_int.h -- what the store's C files share: the store_t structure,
 * the table of prepared statements and the transaction helpers.
 * Not for use outside core/store*.c.
 */
#ifndef SMPPGW_STORE_INT_H
#define SMPPGW_STORE_INT_H

#include <sqlite3.h>

#include "msgid.h"
#include "store.h"

/* A message's trace keeps its last STORE_TRACE_MAX octets. */
#define STORE_TRACE_MAX 4096

/* -- Prepared statements ---------------------------------------------------- */

/* X(name, sql): prepared once at open, reused with reset + bind. At
 * preparation "@C" becomes the columns of store_msg.def, comma-separated,
 * and "@P" one parameter per column (?1 is the first column ...). SQL
 * selecting whole messages reads the columns in that order. */
#define STORE_MSG_SELECT "SELECT @C FROM messages "
#define STORE_STATEMENTS(X) \
    X(BEGIN,        "BEGIN IMMEDIATE") \
    X(COMMIT,       "COMMIT") \
    X(ROLLBACK,     "ROLLBACK") \
    X(PAGES,        "PRAGMA page_count") \
    X(FREE_PAGES,   "PRAGMA freelist_count") \
    X(COUNT_MSG,    "SELECT count(*) FROM messages") \
    X(COUNT_OUTBOX, "SELECT count(*) FROM outbox") \
    X(COUNT_EARLY,  "SELECT count(*) FROM early") \
    X(COUNT_ACCTS,  "SELECT account, count(*) FROM outbox GROUP BY account") \
    X(CTR_GET,      "SELECT hw FROM counters WHERE name = ?1") \
    X(CTR_SET,      "INSERT INTO counters (name, hw) VALUES (?1, ?2) " \
                    "ON CONFLICT (name) DO UPDATE SET hw = max(hw, excluded.hw)") \
    X(MSG_MAX_KEY,  "SELECT max(key) FROM messages") \
    X(MSG_EVICT_OLD, "SELECT key FROM (SELECT key, " STORE_FWD_FINAL("messages") " AS final, due, lasting " \
                    "FROM messages WHERE key > ?1 " \
                    "ORDER BY key LIMIT 64) WHERE final = 1 AND due IS NULL AND lasting = 0 LIMIT 1") \
    X(MSG_EVICT_LASTING, "SELECT key FROM messages WHERE lasting = 1 AND final = 1 AND due IS NULL " \
                    "ORDER BY keep_until LIMIT 1") \
    X(MSG_EVICT_FWD, "SELECT key FROM (SELECT key, final FROM fwd ORDER BY key LIMIT 64) WHERE final = 1 LIMIT 1") \
    X(MSG_FWD_GET,  "SELECT upstream, due, upstream_id, upstream_key, state, final, done, err, attempts, trace, " \
                    "sent, sess, rcpt, via FROM fwd WHERE key = ?1") \
    X(MSG_DELETE,   "DELETE FROM messages WHERE key = ?1") \
    X(MSG_GET,      STORE_MSG_SELECT "WHERE id = ?1 AND part = ?2") \
    X(MSG_GET_KEY,  STORE_MSG_SELECT "WHERE key = ?1") \
    X(MSG_PARTS,    STORE_MSG_SELECT "WHERE id = ?1 ORDER BY part") \
    X(MSG_PARTS_KEY, STORE_MSG_SELECT "WHERE key >= ?1 ORDER BY key LIMIT ?2") \
    X(MSG_FIND,     STORE_MSG_SELECT "WHERE account = ?1 AND dest = ?2 AND source = ?3 " \
                    "AND final = 0 AND upstream IS NULL AND (?4 IS NULL OR service_type = ?4) " \
                    "ORDER BY key LIMIT ?5") \
    X(MSG_RECENT,   "SELECT key, submitted, account, source, dest, service_type FROM messages " \
                    "ORDER BY key DESC") \
    X(MSG_DUE,      STORE_MSG_SELECT "WHERE upstream IS NULL AND due IS NOT NULL AND due <= ?1 " \
                    "ORDER BY due LIMIT ?2") \
    X(MSG_DUE_UP,   STORE_MSG_SELECT "WHERE upstream = ?3 AND due IS NOT NULL AND due <= ?1 " \
                    "ORDER BY due LIMIT ?2") \
    X(MSG_NEXT_DUE, "SELECT min(due) FROM messages WHERE upstream IS NULL AND due IS NOT NULL") \
    X(MSG_NEXT_DUE_UP, "SELECT min(due) FROM messages WHERE upstream = ?1 AND due IS NOT NULL") \
    X(MSG_LEASE,    "UPDATE messages SET due = ?2 WHERE key = ?1") \
    X(MSG_BY_KEY,   STORE_MSG_SELECT "WHERE upstream = ?1 AND upstream_key = ?2 " \
                    "AND upstream_key IS NOT NULL ORDER BY key DESC LIMIT 1") \
    X(MSG_WALK,     "SELECT key, submitted, account, " STORE_FWD_STATE("messages") " FROM messages " \
                    "WHERE key > ?1 ORDER BY key") \
    X(MSG_AT,       "SELECT key, submitted FROM messages WHERE key >= ?1 ORDER BY key LIMIT 1") \
    X(MSG_EXP_SCAN, "SELECT key, " STORE_FWD_KEEP("messages", "?3") ", lasting, " STORE_FWD_FINAL("messages") \
                    ", id, part, account, " \
                    STORE_FWD_STATE("messages") ", id_format, submitted FROM messages " \
                    "WHERE key > ?1 ORDER BY key LIMIT ?2") \
    X(MSG_SET_LASTING, "UPDATE messages SET lasting = 1, keep_until = " STORE_FWD_KEEP("messages", "?2") \
                    " WHERE key = ?1") \
    X(MSG_EXP_RANGE, "DELETE FROM messages WHERE key > ?1 AND key <= ?2 AND lasting = 0") \
    X(MSG_EXP_DONE, "DELETE FROM messages WHERE key IN (SELECT key FROM messages " \
                    "WHERE lasting = 1 AND final = 1 AND keep_until <= ?1 ORDER BY keep_until LIMIT ?2)") \
    X(MSG_EXP_LOST, "DELETE FROM messages WHERE key IN (SELECT key FROM messages " \
                    "WHERE lasting = 1 AND final = 0 AND keep_until <= ?1 ORDER BY keep_until LIMIT ?2) " \
                    "RETURNING id, part, account, " STORE_FWD_STATE("messages") ", key, id_format, " \
                    STORE_FWD_FINAL("messages")) \
    X(OB_PUSH,      "INSERT INTO outbox (account, due, expires, ref, pdu) VALUES (?1, ?2, ?3, ?4, ?5)") \
    X(OB_TAKE,      "SELECT rowid, account, due, expires, ref, attempts, pdu FROM outbox " \
                    "WHERE account = ?1 AND due <= ?2 ORDER BY due, rowid LIMIT ?3") \
    X(OB_LEASE,     "UPDATE outbox SET due = ?2, attempts = attempts + 1 WHERE rowid = ?1") \
    X(OB_ACK,       "DELETE FROM outbox WHERE rowid = ?1 RETURNING account") \
    X(OB_RETRY,     "UPDATE outbox SET due = ?2 WHERE rowid = ?1") \
    X(OB_EXPIRE,    "DELETE FROM outbox WHERE rowid IN (SELECT rowid FROM outbox " \
                    "WHERE expires <= ?1 ORDER BY expires LIMIT ?2) RETURNING rowid, account, ref") \
    X(EA_PUT,       "INSERT INTO early (upstream, key, at, expires, pdu) VALUES (?1, ?2, ?3, ?4, ?5)") \
    X(EA_TAKE,      "SELECT rowid, upstream, key, at, expires, pdu FROM early " \
                    "WHERE upstream = ?1 AND key = ?2 AND (at IS NULL OR at >= ?3) ORDER BY rowid") \
    X(EA_DEL,       "DELETE FROM early WHERE upstream = ?1 AND key = ?2 AND (at IS NULL OR at >= ?3)") \
    X(EA_EXPIRE,    "DELETE FROM early WHERE rowid IN (SELECT rowid FROM early " \
                    "WHERE expires <= ?1 ORDER BY expires LIMIT ?2) RETURNING rowid, upstream, key")

enum {
#define X(name, sql) STORE_ST_##name,
    STORE_STATEMENTS(X)
#undef X
    STORE_NSTATEMENTS
};

/* The forward queue's statements (store_fwd.c), prepared on first use;
 * the _OLD ones write `messages` (a row without a fwd row: stored under
 * the upstream's id, or before schema 6). */
enum { STORE_FWD_TAKE, STORE_FWD_BY_KEY, STORE_FWD_BY_KEY_OLD, STORE_FWD_SENT, STORE_FWD_SENT_OPEN,
       STORE_FWD_RETRY, STORE_FWD_STATE, STORE_FWD_STATE_OPEN, STORE_FWD_STATE_OLD, STORE_FWD_STATE_OPEN_OLD,
       STORE_FWD_COUNTS, STORE_FWD_QUEUE, STORE_FWD_MOVE, STORE_FWD_STATE_SENT, STORE_FWD_ATTEMPT,
       STORE_FWD_SENT_COL, STORE_FWD_SENT_OPEN_COL, STORE_FWD_RCPT_COL, STORE_FWD_LINES, STORE_FWD_LINES_OUT,
       STORE_FWD_FIRST, STORE_FWD_FIRST_OUT, STORE_FWD_VIA_OUT, STORE_FWD_ROW_OF, STORE_FWD_NSTMT };

/* The forwarding state of the store-and-forward gateway's messages: one
 * narrow row per message (by its key) that the forwarder writes, so that
 * the wide `messages` row is written once, when the message is accepted.
 * A `messages` row with an upstream may have one; where it has, its
 * upstream, due, upstream_id, upstream_key, state, final, done, err and
 * attempts are these, and its trace goes on with this trace. Deleting
 * the message deletes it (the trigger). The usual lines of its life are
 * not written as text: "accepted from ..." is via (the ESME's session)
 * with the record's account, route, upstream and submitted (the record
 * then has no trace of its own); "sent to ... accepted as ..." is sent
 * (its time) and sess (the upstream session) with the row's upstream,
 * attempts and upstream_id; the receipt's line is rcpt (1: "receipt from
 * ...", 2: the same "; delivered to <account>") with its state, err and
 * done. sent and rcpt are set only while trace is NULL; the lines read
 * in that order, before the record's trace and this one (store_lines.c
 * writes them out as text before a write changes what they are made
 * of). key_num is store__key_num(upstream_key), NULL without a key:
 * receipts find their row by it, first in their index, where two keys
 * that share one are told apart by the upstream and the key beside it;
 * q is store__key_num(upstream), the queue's number: its index is (q,
 * due), and the reads of a queue check upstream on the row (two names
 * may share a number). first_sent is the gateway's stamp of the first
 * sending to this upstream that went unanswered (a timeout, a lost link:
 * the upstream may have taken it), kept by a retry (schema 9): a receipt
 * that came after it may be about the message (its early receipts). */
#define STORE_FWD_SQL \
    "CREATE TABLE IF NOT EXISTS fwd (key INTEGER PRIMARY KEY, upstream TEXT NOT NULL, due REAL," \
    "  upstream_id TEXT, upstream_key TEXT, state INTEGER NOT NULL DEFAULT 0, final INTEGER NOT NULL DEFAULT 0," \
    "  done REAL, err INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, trace TEXT," \
    "  sent REAL, sess INTEGER, rcpt INTEGER, via INTEGER, key_num INTEGER, q INTEGER, first_sent REAL);" \
    "CREATE INDEX IF NOT EXISTS fwd_queue ON fwd (q, due) WHERE due IS NOT NULL;" \
    "CREATE INDEX IF NOT EXISTS fwd_key ON fwd (key_num, upstream, upstream_key) WHERE key_num IS NOT NULL;" \
    "CREATE TRIGGER IF NOT EXISTS fwd_gone AFTER DELETE ON messages WHEN old.upstream IS NOT NULL" \
    "  BEGIN DELETE FROM fwd WHERE key = old.key; END;"

/* A message's final and state as a query must see them: its fwd row's
 * where it has one (t: the messages table's name in the query). */
#define STORE_FWD_FINAL(t) "CASE WHEN " t ".upstream IS NULL THEN " t ".final ELSE coalesce(" \
    "(SELECT fwd.final FROM fwd WHERE fwd.key = " t ".key), " t ".final) END"
/* ... and its keep_until: a gateway's record is written once, so that of
 * one with a fwd row follows from it as store_put computes it (ttl: the
 * trace_ttl's parameter) */
#define STORE_FWD_KEEP(t, ttl) "CASE WHEN " t ".upstream IS NULL THEN " t ".keep_until ELSE coalesce(" \
    "(SELECT CASE WHEN fwd.final THEN coalesce(fwd.done, " t ".submitted) + " ttl " " \
    "ELSE max(coalesce(" t ".expires, " t ".submitted), " t ".submitted) + " ttl " END " \
    "FROM fwd WHERE fwd.key = " t ".key), " t ".keep_until) END"
#define STORE_FWD_STATE(t) "CASE WHEN " t ".upstream IS NULL THEN " t ".state ELSE coalesce(" \
    "(SELECT fwd.state FROM fwd WHERE fwd.key = " t ".key), " t ".state) END"

/* The sticky table's statements (store_sticky.c), prepared on first use. */
enum { STORE_STICKY_GET, STORE_STICKY_PUT, STORE_STICKY_EVICT, STORE_STICKY_EXPIRE, STORE_STICKY_COUNT,
       STORE_STICKY_NSTMT };

/* The sticky table, created with a new file and by the upgrade to the
 * schema that added it; IF NOT EXISTS so that the step can run at any
 * place in the upgrade's order. The key is a BLOB: it holds NULs. */
#define STORE_STICKY_SQL \
    "CREATE TABLE IF NOT EXISTS sticky (key BLOB PRIMARY KEY, route TEXT NOT NULL, upstream TEXT," \
    "  expires REAL NOT NULL) WITHOUT ROWID;" \
    "CREATE INDEX IF NOT EXISTS sticky_expires ON sticky (expires);"

/* -- The store ------------------------------------------------------------------ */

/* Rows put and not yet inserted: each INSERT statement has a cost of its
 * own (opening and closing its cursor, its start and end) about that of
 * storing a row, so the rows that cannot fail (no text id, hence no
 * unique index) wait here, with copies of their strings, and go in
 * together, STORE_PUT_BATCH per statement, before any other statement on
 * messages and before the commit. */
#define STORE_PUT_BATCH  32
#define STORE_PUT_ROOM   512      /* string octets of a row that may wait */
typedef struct store_waiting_s {
    int          n;
    unsigned     mask;                              /* the columns they hold */
    store_msg_t  rows[STORE_PUT_BATCH];
    char         strings[STORE_PUT_BATCH][STORE_PUT_ROOM];
} store_waiting_t;

/* Forward queue rows (store_fwd_queue) waiting the same way: inserted
 * STORE_PUT_BATCH a statement, and the rest with the rows of messages
 * before any read of the queue and before the commit (store__flush). */
typedef struct store_fwd_wait_s {
    int         n;
    long long   key[STORE_PUT_BATCH];
    double      due[STORE_PUT_BATCH];
    long long   via[STORE_PUT_BATCH];    /* 0: NULL */
    size_t      len[STORE_PUT_BATCH];
    char        upstream[STORE_PUT_BATCH][STORE_PUT_ROOM];
} store_fwd_wait_t;

/* A counter's block: values cur .. lim-1 are covered by a committed high
 * water mark; pending (0: none) is a higher one written in the open
 * transaction. */
typedef struct store_ctr_s {
    char     *name;
    long long cur, lim, pending, block;
    long long synced;           /* the mark last written into the lock file (store__lock_save) */
    double    reserved_at;      /* CLOCK_MONOTONIC of the last reservation (ctr_reserve) */
} store_ctr_t;

/* Outbox items per account (open addressing; keys owned). */
typedef struct store_acct_s {
    char     *name;     /* NULL: free slot */
    size_t    len;
    long long count;
} store_acct_t;

/* insert and update statements by the set of columns they write */
#define STORE_UPD_CACHE 32
typedef struct store_upd_s {
    unsigned long long key;     /* mask | flags << 32; 0 = free */
    sqlite3_stmt      *st;
} store_upd_t;

struct store_s {
    sqlite3       *db;
    store_opts_t   o;                 /* o.path points at path below */
    char          *path;
    sqlite3_stmt  *st[STORE_NSTATEMENTS];
    store_upd_t    upd[STORE_UPD_CACHE];
    sqlite3_stmt  *fwd[STORE_FWD_NSTMT];  /* store_fwd.c's, NULL until used */
    signed char    fwd_ix[STORE_FWD_NSTMT][3];  /* their :line, :room, :ttl parameters (0: none) */
    store_change_t fwd_rest;          /* store_update: what is left for messages */
    int            fwd_rows;          /* fwd holds rows: 0 not known yet, 1 no, 2 yes (store_fwd.c) */
    char          *fwd_buf;           /* a row's strings from fwd, its trace joined (store_fwd.c) */
    size_t         fwd_cap;
    sqlite3_stmt  *sticky[STORE_STICKY_NSTMT];  /* store_sticky.c's, NULL until used */
    unsigned       upd_next;          /* slot replaced when the cache is full */
    long long      node_id;
    long long      page_size;
    long long      soft_pages;        /* limits.size_mb less its headroom: no new message past it (0: none) */
    long long      room_at;           /* commits when the pages in use were last counted (store_put.c) */
    int            room_puts;         /* puts since */
    int            room_short;        /* they were past soft_pages */
    int            lock_fd;           /* PATH-lock, flock'd while open (opts.lock); -1 */
    char          *lock_text;         /* its counter lines as read at open (store_open.c) */
    long long      wal_frames;        /* after the last commit, once store_wal_manual() */

    /* the transaction */
    int            in_txn;
    long long      txn_writes;        /* writes in the open transaction */
    long long      committed;         /* writes made durable since the last store_commit */
    int            failed;            /* a transaction was lost since the last store_commit */
    int            failed_full;       /* ... for a reason that passes (store__temporary): the disk or
                                       * limits.size_mb full, the database locked by another process;
                                       * the runtime answers ESME_RMSGQFUL, not ESME_RSYSERR */
    int            last_full;         /* what store_commit() last reported: store_commit_full() */
    int            last_lost;         /* the last transaction was lost, not committed (ctr_next) */
    long long      lost;              /* its writes */
    char           failmsg[256];

    /* levels, kept in memory */
    long long      n_messages, n_outbox, n_early;
    store_acct_t  *accts;
    size_t         accts_cap, accts_used;
    long long      commits, commit_failures, lost_total, evicted, expired;
    long long      committed_total;   /* writes committed since open */
    long long      n_sticky, sticky_evicted;

    store_ctr_t   *ctrs;
    int            nctrs;
    int            key_ctr;           /* index in ctrs of the counter that keys messages */
    int            keys_named;        /* every row names its key (store_put.c: a higher key seen in the file) */
    long long      swept;             /* expiry walked the keys up to here (see store_expire) */

    store_waiting_t waiting;          /* rows put, inserted together (store_put.c) */
    store_fwd_wait_t fwd_wait;        /* their forward queue rows (store_fwd.c) */
    sqlite3_stmt  *fwd_batch;         /* INSERT of STORE_PUT_BATCH of those, NULL until used */

    unsigned long long key_mask;      /* of store__key_num: all bits but in tests (store_open.c) */
    long long      exact_from;        /* messages keyed from here on have exact receipt keys (store_open.c) */

    char           idbuf[MSGID_KEYED_MAX];   /* the id of a row read, made from its key */
    long long     *rowids;            /* scratch for two-pass updates */
    size_t         rowids_cap;
    char           errmsg[512];
};

/* -- Helpers shared by store*.c ---------------------------------------------------- */

/* Format s->errmsg; returns code. */
/* SQLite's allocator: small blocks kept on free lists for the calling
 * thread (store_mem.c); before SQLite's first use in the process, else
 * refused (-1), harmlessly. */
int store__mem_install(void);

int store__err(store_t *s, int code, const char *fmt, ...);

/* After SQLite failed with rc on a statement: set errmsg ("what: message")
 * and, if SQLite rolled the open transaction back, record it as lost.
 * Returns STORE_EEXISTS for a constraint violation, else STORE_EIO. */
int store__fail(store_t *s, int rc, const char *what);

/* Open the transaction if none is (every write calls this first). Returns
 * 0, or STORE_EIO while a lost transaction awaits store_commit(). */
int store__begin(store_t *s);

/* A receipt key as the integer fwd.key_num: its value when it is up to
 * 16 hex digits (an upstream's increasing ids stay in order, so its rows
 * go in at the index's end, and keys compare as integers), else a hash
 * (FNV-1a) with the top bit set; the same for every process and version
 * of the file; masked by s->key_mask. store.c; the SQL function
 * smppgw_key_num(key) is the same (NULL without a key), registered on
 * the store's connection by store__key_num_sql (0 or SQLite's error). */
long long store__key_num(const store_t *s, store_str_t key);
int store__key_num_sql(store_t *s);

/* Count one successful write of a caller. */
static inline void store__wrote(store_t *s)
{
    s->txn_writes++;
    store_writes_total++;
}

/* The open transaction is gone (rolled back): remember what was lost for
 * store_commit() and bring the in-memory levels back to the file's. */
void store__lost(store_t *s, const char *why, int full);

/* Whether SQLite's rc is a failure that passes (a full disk, a lock held
 * by another process): store__lost's `full`. */
static inline int store__temporary(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_FULL || rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

/* Commit now (store_commit, and store_next_id when a block runs out). */
int store__commit_now(store_t *s);

/* A prepared statement, reset and with its bindings cleared. */
sqlite3_stmt *store__stmt(store_t *s, int which);

/* Bind a (pointer, length) as TEXT / BLOB, NULL when p is NULL. */
int store__bind_text(sqlite3_stmt *st, int i, store_str_t v);
int store__bind_blob(sqlite3_stmt *st, int i, store_str_t v);
/* Bind a REAL, NULL when NaN. */
int store__bind_real(sqlite3_stmt *st, int i, double v);
/* A column as (pointer, length), p NULL when NULL; a REAL, NaN when NULL. */
store_str_t store__col_text(sqlite3_stmt *st, int i);
store_str_t store__col_blob(sqlite3_stmt *st, int i);
double store__col_real(sqlite3_stmt *st, int i);

/* The forwarding state of a gateway's message from its fwd row, if it has
 * one: those columns of m replaced, its trace continued and cut to its
 * last STORE_TRACE_MAX octets (store_fwd.c). The strings are copied into
 * s->fwd_buf (valid until the next row read). Returns 0 or an error (m is
 * then as the messages row has it). */
int store__fwd_overlay(store_t *s, store_msg_t *m);

/* What the usual lines kept as columns of a fwd row are made of
 * (store_int.h, fwd), and the text they make (store_lines.c): both lines,
 * each "<at> <line>\n", in buf (cap octets with the NUL; at most
 * 2 * (STORE_LINE_MAX + STORE_STAMP_MAX)). Returns its length. */
#define STORE_LINE_MAX 512
/* A line appended to a fwd row's trace, which starts empty (NULL): the
 * trace cut to its last STORE_TRACE_MAX octets (%d) only when it would
 * grow past them (:room, the octets it may have before the line goes on;
 * :line, the stamped line). store_fwd.c and store_fwd_park.c. */
#define FWD_TRACE_NEW "trace = CASE WHEN trace IS NULL THEN :line " \
                      "WHEN length(CAST(trace AS BLOB)) <= :room THEN trace || :line " \
                      "ELSE substr(trace || :line, -%d) END"
typedef struct store_fwd_lines_s {
    store_str_t upstream, upstream_id, account;
    double      sent, done;     /* sent NaN: no sent line */
    long long   sess, attempts, state, err;
    int         rcpt;           /* 0: no receipt line, 1, 2: "; delivered to <account>" */
} store_fwd_lines_t;

/* The "accepted from ..." line of a record whose fwd row has via (> 0),
 * "<submitted> <line>\n", into buf (as store__fwd_lines). */
size_t store__fwd_line_accepted(char *buf, size_t cap, const store_msg_t *m, long long via);

/* The "accepted from ..." line of the record `key` written out as text at
 * the start of its trace, its fwd row's via cleared (before a change of
 * the record's account, route or submitted). Returns 1, 0 when it has
 * none, or an error. */
int store__fwd_accepted_out(store_t *s, long long key);
size_t store__fwd_lines(char *buf, size_t cap, const store_fwd_lines_t *k);

/* The lines kept as columns of the fwd row `key` written out as text,
 * before its trace, the columns cleared (before a write that changes what
 * they are made of). Returns 1, 0 when it has none, or an error. */
int store__fwd_lines_out(store_t *s, long long key);

/* The usual line a caller left to the store (line.p NULL) for a write
 * that keeps it as text after all, made from the row `rowid` (its
 * upstream, attempts before the write and account): the sent line (sent:
 * sess, uid) or a final receipt's (state, err, rcpt), in buf
 * (store_lines.c). */
store_str_t store__fwd_usual_line(store_t *s, long long rowid, int sent, long long sess, store_str_t uid, int state,
                                  long long err, int rcpt, char *buf, size_t cap);

/* Forward statement `which` (STORE_FWD_*), prepared, reset (store_fwd.c). */
sqlite3_stmt *store__fwd_stmt(store_t *s, int which);

/* r's id when the row has none: made from its key (msgid.h), in the
 * format the row was stored with (store_fwd.c). */
void store__fwd_row_id(store_t *s, store_fwd_row_t *r, long long id_format);

/* Insert the forward queue rows that wait (s->fwd_wait). Returns 0 or an
 * error; on an error the open transaction is lost, as with store__flush. */
int store__fwd_flush(store_t *s);

/* The columns of a message that its fwd row holds, as STORE_BIT()s. */
#define STORE_FWD_MASK (STORE_BIT(upstream) | STORE_BIT(due) | STORE_BIT(upstream_id) | STORE_BIT(upstream_key) \
                        | STORE_BIT(state) | STORE_BIT(final) | STORE_BIT(done) | STORE_BIT(err) | STORE_BIT(attempts))

/* store_update of the row c->key, for what its fwd row holds: the
 * columns of STORE_FWD_MASK in c and the trace line, written there.
 * Returns 1 (written; *rest is what is left for messages), 0 when the
 * row has no fwd row (or, c->pending, its fwd row is final: *rest
 * empty), or an error. */
int store__fwd_update(store_t *s, const store_change_t *c, store_change_t *rest);

/* Counts from the file: at open, and after a transaction was lost. Returns
 * 0 or an error. */
int store__recount(store_t *s);

/* Room for n rowids in s->rowids. Returns 0 or STORE_ENOMEM. */
int store__rowids(store_t *s, size_t n);

/* Outbox per-account counts: add delta (may be negative), rebuild all. */
int store__acct_add(store_t *s, store_str_t account, long long delta);
long long store__acct_get(const store_t *s, store_str_t account);
int store__acct_recount(store_t *s);
void store__acct_free(store_t *s);

/* The lock file keeps each counter's reservation too, written and synced
 * when it is made, outside the WAL: a WAL that loses its last frames (a
 * power loss under sync normal, a damaged file) then cannot roll a
 * counter back. store__lock_floor: the value it holds for name (0: none);
 * store__lock_save: write every counter's reservation into it. Both are
 * no-ops on a store opened without the lock (store_open.c). */
long long store__lock_floor(const store_t *s, const char *name);
int store__lock_save(store_t *s);

/* Open-time setup of the message key counter (store.c); the next key. */
int store__key_init(store_t *s);
int store__next_key(store_t *s, long long *out);

/* A row read whose id is made from its key (id_format set, no text id)
 * gets that id, in s->idbuf: valid until the next row is read. */
void store__row_id(store_t *s, store_msg_t *m);

/* id, if it is an id this store made from a key (of this store's node, in
 * any format): 1 with *key and *fmt set, else 0. */
int store__keyed_id(const store_t *s, store_str_t id, long long *key, int *fmt);

/* Bind column i of m to parameter param. */
void store__bind_col(sqlite3_stmt *st, int param, int i, const store_msg_t *m);

/* The name of a string column of m (those in mask; all when mask is 0)
 * longer than STORE_VALUE_MAX, or NULL. */
const char *store__too_long(const store_msg_t *m, unsigned mask);

/* Write the rows put and not yet inserted (store_put.c); every statement
 * on messages other than a put runs after it. Returns 0, or STORE_EIO
 * with the transaction lost. store__unput forgets them (the transaction
 * is gone). */
/* limits.size_mb: the file is at its soft limit, no new message, outbox
 * item or early receipt (store_put.c) */
int store__room_short(store_t *s);
int store__flush(store_t *s);
void store__unput(store_t *s);
void store__put_free(store_t *s);

/* Per-file parts of store_expire and of closing. */
int store__expire_messages(store_t *s, double now, int batch, store_expiry_t *x);
int store__expire_queues(store_t *s, double now, int batch, store_expiry_t *x);
void store__upd_free(store_t *s);
void store__fwd_free(store_t *s);

/* The sticky table (store_sticky.c): its rows counted into s->n_sticky,
 * up to batch expired rows removed (their number in x->sticky), its
 * statements finalized. */
int store__sticky_recount(store_t *s);
int store__expire_sticky(store_t *s, double now, int batch, store_expiry_t *x);
void store__sticky_free(store_t *s);

/* The SQL of forward statement `which` (STORE_FWD_*), prepared if it was
 * not: for tests that look at its query plan. NULL on failure. */
const char *store__fwd_sql(store_t *s, int which);

#endif /* SMPPGW_STORE_INT_H */
