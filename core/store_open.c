/* store_open.c -- opening a store: its directory, the connection and its
 * settings (WAL, sync, busy timeout, size limit), the schema of a new file
 * or the version check of an old one, the prepared statements; closing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"

/* meta 'schema': the layout below. 2 added messages.notify; 3 keyed
 * messages by an integer (key), made id optional and added lasting, with
 * fewer, partial indexes; 4 added id_format (ids made from keys, read back
 * by the store); 5 added sticky (store_sticky.c); 6 added fwd, the
 * gateway's forwarding state beside its messages (store_int.h); 7 added
 * fwd's via, sent, sess and rcpt (the usual trace lines as columns); 8
 * found receipts and queues by integers first in their indexes (fwd's
 * key_num and q; upstream, upstream_key and upstream, due before); 9
 * keyed receipts of id_format "string" by the id as written (before: in
 * lower case, leading zeros dropped): the messages keyed before it
 * (below meta exact_keys_from) keep their keys, and a receipt matches one
 * only when its upstream_id is the receipt's id (store_fwd_by_key); and
 * added fwd's first_sent. */
#define STORE_SCHEMA 9

/* What an SQLite result code means for someone starting the program. */
static const char *reason(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_NOTADB:   return "not an SQLite database";
    case SQLITE_CORRUPT:  return "corrupt";
    case SQLITE_READONLY: return "read-only";
    case SQLITE_CANTOPEN: return "cannot open";
    case SQLITE_PERM:     return "permission denied";
    case SQLITE_FULL:     return "disk full";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:   return "locked by another process";
    case SQLITE_IOERR:    return "I/O error";
    case SQLITE_NOMEM:    return "out of memory";
    }
    return "cannot use it";
}

/* "store PATH: REASON (sqlite's message[: the system's])" into err. */
static void open_error(const char *path, sqlite3 *db, int rc, const char *hint, char *err, size_t errlen)
{
    int sys = db ? sqlite3_system_errno(db) : 0;
    if ((rc & 0xff) == SQLITE_READONLY && strcmp(path, ":memory:") != 0 && access(path, W_OK) == 0) {
        /* the file is writable: its -wal and -shm beside it cannot be made */
        snprintf(err, errlen, "store %s: cannot use write-ahead logging (%s); is the directory writable?",
                 path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        return;
    }
    snprintf(err, errlen, "store %s: %s (%s%s%s)%s%s", path, sys == ENOSPC ? "disk full" : reason(rc),
             db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), sys ? ": " : "", sys ? strerror(sys) : "",
             hint ? "; " : "", hint ? hint : "");
}

/* -- The lock file ---------------------------------------------------------------- */

/* PATH-lock beside the file, held (flock) for the life of a process that
 * serves from the store: SQLite locks one transaction at a time, and two
 * such processes, each with its own blocks of ids and queue cursors in
 * memory, would issue the same ids and send the same messages. Readers
 * (check, messages) do not take it. The holder's pid is written in it for
 * the next one's message; the file stays (removing it would race). */
static int read_counters(store_t *s, const char *lpath, char *err, size_t errlen);

static int take_lock(store_t *s, char *err, size_t errlen)
{
    char lpath[4096], pid[32];
    ssize_t n;
    int fd, e;
    snprintf(lpath, sizeof lpath, "%s-lock", s->path);
    if ((fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
        snprintf(err, errlen, "store %s: cannot open its lock file %s: %s", s->path, lpath, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        e = errno;
        n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (e == EWOULDBLOCK)
            snprintf(err, errlen, "store %s: locked by another process%s%s%s (%s)", s->path,
                     *pid ? " (pid " : "", pid, *pid ? ")" : "", lpath);
        else
            snprintf(err, errlen, "store %s: cannot lock %s: %s", s->path, lpath, strerror(e));
        close(fd);
        return -1;
    }
    s->lock_fd = fd;
    return read_counters(s, lpath, err, errlen) < 0 || store__lock_save(s) < 0 ? -1 : 0;
}

/* The counter lines ("counter NAME HW") of the lock file, kept for
 * store__lock_floor and for names this process does not load. */
static int read_counters(store_t *s, const char *lpath, char *err, size_t errlen)
{
    struct stat sb;
    ssize_t n;
    if (fstat(s->lock_fd, &sb) != 0 || sb.st_size > 1 << 20 || !(s->lock_text = malloc((size_t)sb.st_size + 1))) {
        snprintf(err, errlen, "store %s: cannot read its lock file %s", s->path, lpath);
        return -1;
    }
    n = pread(s->lock_fd, s->lock_text, (size_t)sb.st_size, 0);
    s->lock_text[n > 0 ? n : 0] = '\0';
    return 0;
}

long long store__lock_floor(const store_t *s, const char *name)
{
    const char *p = s->lock_text;
    size_t len = strlen(name);
    long long v, best = 0;
    while (p && (p = strstr(p, "counter ")) != NULL) {
        p += 8;
        if (strncmp(p, name, len) == 0 && p[len] == ' ' && sscanf(p + len + 1, "%lld", &v) == 1 && v > best)
            best = v;
    }
    return best;
}

/* The lock file: this process's pid, its counters' marks, then the marks
 * of names it has not used (from the file as it found it) as long as they
 * fit: the names of the latest runs come first, so the oldest are the ones
 * left out (a name used once a day filled a smaller, strict file in
 * months, and then every reservation failed). */
int store__lock_save(store_t *s)
{
    char buf[16384], name[128];
    const char *p;
    size_t n;
    long long v;
    int i, known, len;
    if (s->lock_fd < 0) return 0;
    n = (size_t)snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    for (i = 0; i < s->nctrs && n < sizeof buf; i++) {
        store_ctr_t *c = &s->ctrs[i];
        if (strlen(c->name) > 100 || strpbrk(c->name, " \t\r\n")) continue;   /* not one word: not kept here */
        /* never lower than a mark written before: values of a reservation
         * whose transaction was then lost may be out (st:next_id's) */
        if (c->pending > c->synced) c->synced = c->pending;
        if (c->lim > c->synced) c->synced = c->lim;
        n += (size_t)snprintf(buf + n, sizeof buf - n, "counter %s %lld\n", c->name, c->synced);
    }
    for (p = s->lock_text; p && (p = strstr(p, "counter ")) != NULL && n < sizeof buf; p += 8) {
        if (sscanf(p + 8, "%127s %lld", name, &v) != 2) continue;
        for (i = 0, known = 0; i < s->nctrs; i++) known |= strcmp(s->ctrs[i].name, name) == 0;
        if (known) continue;
        len = snprintf(buf + n, sizeof buf - n, "counter %s %lld\n", name, v);
        if (len < 0 || (size_t)len >= sizeof buf - n) {
            buf[n] = '\0';                                /* does not fit: left out, and those after it */
            break;
        }
        n += (size_t)len;
    }
    /* this process's own (at most STORE_CTR_MAX short lines) always fit */
    if (n >= sizeof buf) return store__err(s, STORE_EIO, "next_id: too many counters for the lock file");
    /* synced before any value of the block goes out (sync off: not even then) */
    if (pwrite(s->lock_fd, buf, n, 0) != (ssize_t)n || ftruncate(s->lock_fd, (off_t)n) != 0
        || (s->o.sync != STORE_SYNC_OFF && fdatasync(s->lock_fd) != 0))
        return store__err(s, STORE_EIO, "next_id: writing the lock file %s-lock: %s", s->path, strerror(errno));
    return 0;
}

/* A new file whose directory this process cannot write: the reason
 * (SQLite would say "unable to open database file"). 1 with err set. */
static int cannot_create(const char *path, char *err, size_t errlen)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n >= sizeof dir) return 0;
    if (slash && n == 0) n = 1;                  /* "/x.db" */
    memcpy(dir, slash ? path : ".", slash ? n : 1);
    dir[slash ? n : 1] = '\0';
    if (access(dir, W_OK | X_OK) == 0) return 0;
    snprintf(err, errlen, "store %s: cannot create it in %s: %s", path, dir, strerror(errno));
    return 1;
}

/* mkdir -p of the directory part of path. */
static int make_dirs(const char *path, char *err, size_t errlen)
{
    char dir[4096];
    char *p;
    size_t n = strlen(path);
    if (n >= sizeof dir) {
        snprintf(err, errlen, "store %s: path too long", path);
        return -1;
    }
    memcpy(dir, path, n + 1);
    if (!(p = strrchr(dir, '/')) || p == dir) return 0;
    *p = '\0';
    for (p = dir + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "store %s: cannot create directory %s: %s", path, dir, strerror(errno));
                return -1;
            }
            *p = c;
            if (c == '\0') break;
        }
    }
    return 0;
}

/* sql with "@C" / "@P" expanded (see STORE_STATEMENTS); malloc'd. */
static char *expand(const char *sql)
{
    char cols[1024], params[512];
    size_t n = 0, i, ncols = 0, nparams = 0;
    const char *q;
    char *out, *o;
#define COL(name, kind, flags, ddl) \
    ncols += (size_t)snprintf(cols + ncols, sizeof cols - ncols, "%s%s", ncols ? ", " : "", #name); \
    nparams += (size_t)snprintf(params + nparams, sizeof params - nparams, "%s?%d", nparams ? ", " : "", \
                                STORE_COL_##name + 1);
#include "store_msg.def"
#undef COL
    for (q = sql; *q; q++) n += (q[0] == '@' && (q[1] == 'C' || q[1] == 'P')) ? sizeof cols : 1;
    if (!(o = out = malloc(n + 1))) return NULL;
    for (q = sql; *q; q++) {
        if (q[0] == '@' && (q[1] == 'C' || q[1] == 'P')) {
            const char *src = q[1] == 'C' ? cols : params;
            for (i = 0; src[i]; i++) *o++ = src[i];
            q++;
        } else {
            *o++ = *q;
        }
    }
    *o = '\0';
    return out;
}

static const char *const statement_sql[STORE_NSTATEMENTS] = {
#define X(name, sql) sql,
    STORE_STATEMENTS(X)
#undef X
};

/* find (cancel_sm by address, replace_if_present): the SMSC's messages
 * alone; a gateway's message (it has an upstream) is never looked up so */
#define MESSAGES_PENDING_SQL \
    "CREATE INDEX messages_pending ON messages (account, dest, source) WHERE final = 0 AND upstream IS NULL;"

/* messages: see store_msg.def; one index per way of finding rows, partial
 * where only some rows need it, so that each put touches few of them: a
 * message keyed by its integer alone (no text id), final, with nothing due
 * and expiring in key order touches none. */
static const char message_indexes_sql[] =
    "CREATE UNIQUE INDEX messages_id ON messages (id, part) WHERE id IS NOT NULL;"
    "CREATE INDEX messages_due ON messages (due) WHERE due IS NOT NULL AND upstream IS NULL;"
    "CREATE INDEX messages_queue ON messages (upstream, due) "
    "  WHERE due IS NOT NULL AND upstream IS NOT NULL;"
    "CREATE INDEX messages_upstream_key ON messages (upstream, upstream_key) "
    "  WHERE upstream_key IS NOT NULL;"
    MESSAGES_PENDING_SQL
    "CREATE INDEX messages_lasting ON messages (final, keep_until) WHERE lasting = 1;";

static const char schema_sql[] =
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL,"
    "  due REAL NOT NULL, expires REAL, ref TEXT, attempts INTEGER NOT NULL DEFAULT 0,"
    "  pdu BLOB NOT NULL);"
    "CREATE INDEX outbox_due ON outbox (account, due);"
    "CREATE INDEX outbox_expires ON outbox (expires) WHERE expires IS NOT NULL;"
    "CREATE TABLE early (id INTEGER PRIMARY KEY, upstream TEXT NOT NULL, key TEXT NOT NULL,"
    "  at REAL, expires REAL NOT NULL, pdu BLOB NOT NULL);"
    "CREATE INDEX early_key ON early (upstream, key);"
    "CREATE INDEX early_expires ON early (expires);"
    "CREATE TABLE counters (name TEXT PRIMARY KEY, hw INTEGER NOT NULL) WITHOUT ROWID;"
    STORE_STICKY_SQL
    STORE_FWD_SQL;

/* Run sql (no rows expected); on failure describe it into err. */
static int exec(store_t *s, const char *sql, char *err, size_t errlen)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) open_error(s->o.path, s->db, rc, NULL, err, errlen);
    return rc;
}

/* The first column of the first row of sql as an integer (def if none). */
static int query_int(store_t *s, const char *sql, long long def, long long *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    *out = def;
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* CREATE TABLE messages from store_msg.def into sql. */
static void messages_table_sql(char *sql, size_t size)
{
    size_t n = (size_t)snprintf(sql, size, "CREATE TABLE messages (");
#define COL(name, kind, flags, ddl) \
    n += (size_t)snprintf(sql + n, size - n, "%s%s %s %s", STORE_COL_##name ? ", " : "", #name, \
                          STORE_##kind == STORE_INT ? "INTEGER" : #kind, ddl);
#include "store_msg.def"
#undef COL
    snprintf(sql + n, size - n, ");");
}

/* Bring a file of an older schema up to this one, in one transaction. */
/* The bits of a receipt key's number (fwd.key_num, store__key_num) for a
 * file made or upgraded now: all 64, or in tests SMPPGW_STORE_KEY_BITS
 * (digits, 0 .. 63: fewer bits make keys share a number). The file keeps
 * its value in meta (key_bits), and every later open reads it from
 * there: a number written under one mask is looked up under the same. */
static int key_bits_env(void)
{
    const char *v = getenv("SMPPGW_STORE_KEY_BITS");
    if (!v || !*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 2 || atoi(v) > 63) return 64;
    return atoi(v);
}

static void key_bits_set(store_t *s, long long bits)
{
    s->key_mask = bits >= 0 && bits < 64 ? (1ULL << bits) - 1 : ~0ULL;
}

static int upgrade(store_t *s, long long version, char *err, size_t errlen)
{
    char sql[4096], cols[1024];
    size_t n = 0;
    if (exec(s, "BEGIN IMMEDIATE", err, errlen) != SQLITE_OK) return -1;
    /* 1 -> 2: messages.notify */
    if (version < 2 && exec(s, "ALTER TABLE messages ADD COLUMN notify TEXT", err, errlen) != SQLITE_OK) goto fail;
    /* 2 -> 3: messages rebuilt with an integer key (the old rowid) and
     * lasting (from keep_until, as store_put computes it); old indexes go */
    if (version < 3) {
        cols[0] = '\0';
#define COL(name, kind, flags, ddl) \
        if (STORE_COL_##name != STORE_COL_key && STORE_COL_##name != STORE_COL_lasting \
            && STORE_COL_##name != STORE_COL_id_format) \
            n += (size_t)snprintf(cols + n, sizeof cols - n, ", %s", #name);
#include "store_msg.def"
#undef COL
        if (exec(s, "ALTER TABLE messages RENAME TO messages_v2; "
                    "DROP INDEX IF EXISTS messages_due; DROP INDEX IF EXISTS messages_queue; "
                    "DROP INDEX IF EXISTS messages_upstream_key; DROP INDEX IF EXISTS messages_pending; "
                    "DROP INDEX IF EXISTS messages_keep_done; DROP INDEX IF EXISTS messages_keep_pending; "
                    "DROP INDEX IF EXISTS messages_account", err, errlen) != SQLITE_OK)
            goto fail;
        messages_table_sql(sql, sizeof sql);
        if (exec(s, sql, err, errlen) != SQLITE_OK) goto fail;
        snprintf(sql, sizeof sql, "INSERT INTO messages (key, lasting%s) SELECT rowid, "
                 "keep_until > submitted + %.17g + %d%s FROM messages_v2 ORDER BY rowid; DROP TABLE messages_v2",
                 cols, s->o.trace_ttl, STORE_ORDER_SLACK, cols);
        if (exec(s, sql, err, errlen) != SQLITE_OK || exec(s, message_indexes_sql, err, errlen) != SQLITE_OK)
            goto fail;
    }
    /* 3 -> 4: messages.id_format; no (account, submitted) index (list
     * walks the keys), the pending index without the gateway's rows. The
     * gateway made its ids from a counter
     * of its own ("gateway") and now makes them from keys, in the same
     * layout: keys start above every value that counter handed out, so no
     * id comes back */
    if (version < 4) {
        if (version == 3 && exec(s, "ALTER TABLE messages ADD COLUMN id_format INTEGER NOT NULL DEFAULT 0",
                                 err, errlen) != SQLITE_OK)
            goto fail;
        if (version == 3 && exec(s, "DROP INDEX messages_account; DROP INDEX messages_pending; "
                                    MESSAGES_PENDING_SQL, err, errlen) != SQLITE_OK)
            goto fail;
        if (exec(s, "INSERT INTO counters (name, hw) SELECT 'messages.key', hw FROM counters WHERE name = 'gateway' "
                    "ON CONFLICT (name) DO UPDATE SET hw = max(hw, excluded.hw)", err, errlen) != SQLITE_OK)
            goto fail;
    }
    /* 4 -> 5: sticky, the routes of long messages (no other change, and
     * IF NOT EXISTS: the step does not depend on its place) */
    if (version < 5 && exec(s, STORE_STICKY_SQL, err, errlen) != SQLITE_OK) goto fail;
    /* 5 -> 6: fwd; the messages waiting in a forward queue move their
     * forwarding state there (the others keep theirs in messages, where
     * the forwarder's receipts still find them) */
    if (version < 6
        && (exec(s, STORE_FWD_SQL, err, errlen) != SQLITE_OK
            || exec(s, "INSERT INTO fwd (key, upstream, due, upstream_id, upstream_key, state, final, done, err, "
                       "attempts) SELECT key, upstream, due, upstream_id, upstream_key, state, final, done, err, "
                       "attempts FROM messages WHERE upstream IS NOT NULL AND due IS NOT NULL; "
                       "UPDATE messages SET due = NULL WHERE upstream IS NOT NULL AND due IS NOT NULL",
                    err, errlen) != SQLITE_OK))
        goto fail;
    /* 6 -> 7: fwd's usual trace lines as columns (a table made above has
     * them); the rows there keep their lines as text, which still reads
     * the same */
    if (version == 6
        && exec(s, "ALTER TABLE fwd ADD COLUMN sent REAL; ALTER TABLE fwd ADD COLUMN sess INTEGER; "
                   "ALTER TABLE fwd ADD COLUMN rcpt INTEGER; ALTER TABLE fwd ADD COLUMN via INTEGER",
                   err, errlen) != SQLITE_OK)
        goto fail;
    /* 7 -> 8: receipts found by key_num, queues by q (a table made above
     * has them); every row gets its numbers, the old indexes go */
    if ((version == 6 || version == 7)
        && exec(s, "ALTER TABLE fwd ADD COLUMN key_num INTEGER; ALTER TABLE fwd ADD COLUMN q INTEGER",
                err, errlen) != SQLITE_OK)
        goto fail;
    if (version < 8
        && (exec(s, "UPDATE fwd SET key_num = smppgw_key_num(upstream_key), q = smppgw_key_num(upstream); "
                    "DROP INDEX IF EXISTS fwd_upstream_key; DROP INDEX IF EXISTS fwd_queue", err, errlen) != SQLITE_OK
            || exec(s, STORE_FWD_SQL, err, errlen) != SQLITE_OK))
        goto fail;
    if (version < 8) {
        snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO meta VALUES ('key_bits', %d)", key_bits_env());
        if (exec(s, sql, err, errlen) != SQLITE_OK) goto fail;
    }
    /* 8 -> 9: fwd's first_sent (a table made above has it) */
    if (version >= 6 && version <= 8
        && exec(s, "ALTER TABLE fwd ADD COLUMN first_sent REAL", err, errlen) != SQLITE_OK)
        goto fail;
    /* and receipt keys as written for id_format "string": the rows
     * keyed until now keep theirs (the normalised id), and which they are
     * is kept (their message keys are below exact_keys_from) */
    if (exec(s, "INSERT OR REPLACE INTO meta VALUES ('exact_keys_from', "
                "(SELECT coalesce(max(key), 0) + 1 FROM messages))", err, errlen) != SQLITE_OK)
        goto fail;
    snprintf(sql, sizeof sql, "UPDATE meta SET value = %d WHERE key = 'schema'", STORE_SCHEMA);
    if (exec(s, sql, err, errlen) != SQLITE_OK || exec(s, "COMMIT", err, errlen) != SQLITE_OK
        || query_int(s, "SELECT value FROM meta WHERE key = 'exact_keys_from'", 0, &s->exact_from) != SQLITE_OK)
        goto fail;
    return 0;
fail:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* Create the tables in a new file, or check an existing file's version. */
/* An upgrade rewrites rows that an older smppgw still serving the file
 * would go on writing its own way (schema 8's key_num and q would stay
 * empty in its rows: messages never forwarded, receipts never matched),
 * so it runs only under the lock: a reader (check, messages) takes it
 * for the upgrade and lets it go after, and refuses a store another
 * process serves. */
static int upgrade_locked(store_t *s, long long version, char *err, size_t errlen)
{
    char why[512];
    long long now = version, bits = 64;
    int rc, had = s->lock_fd >= 0;
    if (!had && take_lock(s, why, sizeof why) < 0) {
        snprintf(err, errlen, "store %s: made by an older smppgw (schema %lld; this one knows %d) and not "
                 "upgraded: %s; if an older smppgw serves it, stop that one and start this version on it; "
                 "if this version is upgrading it, try again when that is done",
                 s->o.path, version, STORE_SCHEMA, why);
        return -1;
    }
    /* another process may have upgraded it before the lock was ours */
    if (!had && (query_int(s, "SELECT value FROM meta WHERE key = 'schema'", version, &now) != SQLITE_OK
                 || now == STORE_SCHEMA)) {
        query_int(s, "SELECT value FROM meta WHERE key = 'key_bits'", 64, &bits);
        key_bits_set(s, bits);
        query_int(s, "SELECT value FROM meta WHERE key = 'exact_keys_from'", 0, &s->exact_from);
        rc = now == STORE_SCHEMA ? 0 : -1;
        if (rc < 0) open_error(s->o.path, s->db, SQLITE_ERROR, NULL, err, errlen);
    } else {
        rc = upgrade(s, version, err, errlen);
    }
    if (!had && s->lock_fd >= 0) {
        close(s->lock_fd);
        s->lock_fd = -1;
        free(s->lock_text);
        s->lock_text = NULL;
    }
    return rc;
}

static int schema(store_t *s, char *err, size_t errlen)
{
    long long objects, has_meta, version, node, bits;
    char sql[4096];
    int rc;
    if ((rc = query_int(s, "SELECT count(*) FROM sqlite_master", 0, &objects)) != SQLITE_OK ||
        (rc = query_int(s, "SELECT count(*) FROM sqlite_master WHERE name = 'meta'", 0, &has_meta)) != SQLITE_OK) {
        open_error(s->o.path, s->db, rc, NULL, err, errlen);
        return -1;
    }
    if (objects > 0) {
        if (has_meta && (rc = query_int(s, "SELECT value FROM meta WHERE key = 'schema'", 0, &version)) != SQLITE_OK) {
            open_error(s->o.path, s->db, rc, NULL, err, errlen);
            return -1;
        }
        if (!has_meta || version == 0) {
            /* with tables of ours it is a smppgw store, damaged: not the wrong file */
            long long ours = 0;
            char why[200];
            query_int(s, "SELECT count(*) FROM sqlite_master WHERE name IN ('messages', 'outbox', 'early', "
                         "'counters', 'meta')", 0, &ours);
            if (ours > 0) {
                if (store_check(s, why, sizeof why) == 0) snprintf(why, sizeof why, "no schema version in meta");
                snprintf(err, errlen, "store %s: corrupt (%s)", s->o.path, why);
                return -1;
            }
            snprintf(err, errlen, "store %s: an SQLite database but not a smppgw store (no schema version)",
                     s->o.path);
            return -1;
        }
        if (version > STORE_SCHEMA) {
            snprintf(err, errlen, "store %s: made by a newer smppgw (schema %lld; this one knows %d)",
                     s->o.path, version, STORE_SCHEMA);
            return -1;
        }
        if ((rc = query_int(s, "SELECT value FROM meta WHERE key = 'node_id'", 0, &s->node_id)) != SQLITE_OK
            || (rc = query_int(s, "SELECT value FROM meta WHERE key = 'key_bits'", 64, &bits)) != SQLITE_OK) {
            open_error(s->o.path, s->db, rc, NULL, err, errlen);
            return -1;
        }
        if (version == STORE_SCHEMA) {
            key_bits_set(s, bits);
            if ((rc = query_int(s, "SELECT value FROM meta WHERE key = 'exact_keys_from'", 0, &s->exact_from))
                != SQLITE_OK) {
                open_error(s->o.path, s->db, rc, NULL, err, errlen);
                return -1;
            }
            return 0;
        }
        /* from 8 on the numbers in the file are the file's own */
        key_bits_set(s, version >= 8 ? bits : key_bits_env());
        return upgrade_locked(s, version, err, errlen);
    }
    key_bits_set(s, key_bits_env());
    do {
        unsigned char r[4];
        sqlite3_randomness(sizeof r, r);
        node = (long long)((unsigned long)r[0] << 24 | (unsigned long)r[1] << 16 | r[2] << 8 | r[3]);
    } while (node == 0);
    s->node_id = node;
    if (exec(s, "BEGIN IMMEDIATE", err, errlen) != SQLITE_OK) return -1;
    messages_table_sql(sql, sizeof sql);
    if (exec(s, sql, err, errlen) != SQLITE_OK || exec(s, message_indexes_sql, err, errlen) != SQLITE_OK
        || exec(s, schema_sql, err, errlen) != SQLITE_OK) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    snprintf(sql, sizeof sql, "INSERT INTO meta VALUES ('schema', %d), ('node_id', %lld), ('key_bits', %d)",
             STORE_SCHEMA, node, key_bits_env());
    if (exec(s, sql, err, errlen) != SQLITE_OK || exec(s, "COMMIT", err, errlen) != SQLITE_OK) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

static int check_opts(const store_opts_t *o, char *err, size_t errlen)
{
    const char *bad = NULL;
    if (!o->path || !*o->path) bad = "path is required";
    else if (o->sync < STORE_SYNC_OFF || o->sync > STORE_SYNC_FULL) bad = "sync must be off, normal or full";
    else if (!(o->busy_timeout >= 0)) bad = "busy_timeout must be >= 0";
    else if (!(o->trace_ttl >= 0)) bad = "trace_ttl must be >= 0";
    else if (!(o->lease > 0)) bad = "lease must be > 0";
    else if (o->max_messages < 1 || o->max_outbox < 1 || o->max_outbox_account < 1 || o->max_early < 1)
        bad = "limits.messages, limits.outbox, limits.outbox_per_account and limits.early must be >= 1";
    else if (o->max_sticky < 1) bad = "limits.sticky must be >= 1";
    else if (o->max_bytes < 0) bad = "limits.size_mb must be >= 0";
    if (bad) snprintf(err, errlen, "store %s: %s", o->path ? o->path : "(no path)", bad);
    return bad ? -1 : 0;
}

/* Connection settings; journal_mode=WAL is checked (a file whose directory
 * is not writable cannot have its -wal beside it). */
static int configure(store_t *s, int memory, char *err, size_t errlen)
{
    static const char *const sync_names[] = { "OFF", "NORMAL", "FULL" };
    sqlite3_stmt *st;
    char sql[128];
    const char *mode;
    int rc;
    sqlite3_busy_timeout(s->db, (int)(s->o.busy_timeout * 1000));
    if ((rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL)) != SQLITE_OK) {
        open_error(s->o.path, s->db, rc, NULL, err, errlen);
        return -1;
    }
    rc = sqlite3_step(st);
    mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (rc != SQLITE_ROW) {
        open_error(s->o.path, s->db, rc, NULL, err, errlen);
        sqlite3_finalize(st);
        return -1;
    }
    if (!memory && (!mode || strcmp(mode, "wal") != 0)) {
        snprintf(err, errlen, "store %s: cannot use write-ahead logging (journal mode stays %s); "
                 "is the directory writable?", s->o.path, mode ? mode : "unknown");
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    /* secure_delete off: Debian's SQLite turns it on, and then every
     * UPDATE that moves a row's cell zeroes the octets it leaves (a
     * memset per write) and every deleted row is overwritten; whoever
     * can read the freed octets can read the live rows beside them */
    snprintf(sql, sizeof sql, "PRAGMA synchronous = %s; PRAGMA temp_store = MEMORY; "
             "PRAGMA cache_size = -8192; PRAGMA secure_delete = OFF", sync_names[s->o.sync]);
    if (exec(s, sql, err, errlen) != SQLITE_OK) return -1;
    if (query_int(s, "PRAGMA page_size", 4096, &s->page_size) != SQLITE_OK || s->page_size <= 0)
        s->page_size = 4096;
    if (s->o.max_bytes > 0) {
        long long pages = s->o.max_bytes / s->page_size, room = 1024 * 1024 / s->page_size;
        snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", pages > 1 ? pages : 1);
        if (exec(s, sql, err, errlen) != SQLITE_OK) return -1;
        /* new messages stop at the soft limit, short of it by a tenth, at
         * least 1 MiB (at most a quarter): the room left takes what frees
         * room or must be written (answers, expiry, the queue's rows) */
        if (room > pages / 4) room = pages / 4;
        if (room < pages / 10) room = pages / 10;
        s->soft_pages = pages - room > 1 ? pages - room : 1;
        /* the log file goes back to a quarter of the limit each time it
         * starts over (the runtime checkpoints it at that size) */
        snprintf(sql, sizeof sql, "PRAGMA journal_size_limit = %lld", s->o.max_bytes / 4);
        if (exec(s, sql, err, errlen) != SQLITE_OK) return -1;
    }
    return 0;
}

static long long pages_bytes(store_t *s)
{
    sqlite3_stmt *st = store__stmt(s, STORE_ST_PAGES);
    long long n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return n * s->page_size;
}

store_t *store_open(const store_opts_t *o, char *err, size_t errlen)
{
    static int configured;
    store_t *s;
    int rc, i, memory;
    if (check_opts(o, err, errlen) < 0) return NULL;
    if (!configured) {
        /* no allocation statistics: they take a global mutex on every
         * malloc and free of SQLite's (about a tenth of the store's time
         * per message); allowed only before SQLite's first use in the
         * process, else harmlessly refused, so tried at the first open
         * alone, before any other thread uses SQLite; and the allocator
         * that keeps SQLite's small blocks for reuse (store_mem.c) */
        configured = 1;
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
        store__mem_install();
    }
    if (!(s = calloc(1, sizeof *s)) || !(s->path = strdup(o->path))) {
        free(s);
        snprintf(err, errlen, "store %s: out of memory", o->path);
        return NULL;
    }
    s->o = *o;
    s->o.path = s->path;
    s->lock_fd = -1;
    memory = strcmp(o->path, ":memory:") == 0;
    if (!memory && make_dirs(o->path, err, errlen) < 0) goto fail;
    if (!memory && access(o->path, F_OK) != 0 && errno == ENOENT && cannot_create(o->path, err, errlen)) goto fail;
    rc = sqlite3_open_v2(o->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        open_error(o->path, s->db, rc, NULL, err, errlen);
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    if (sqlite3_db_readonly(s->db, "main") == 1) {
        snprintf(err, errlen, "store %s: read-only (the file is not writable by this process)", o->path);
        goto fail;
    }
    s->key_mask = ~0ULL;                /* schema() sets the file's (key_bits_env) */
    if ((rc = store__key_num_sql(s)) != SQLITE_OK) {
        open_error(o->path, s->db, rc, NULL, err, errlen);
        goto fail;
    }
    /* the lock before the first write, after the checks whose messages say more */
    if (configure(s, memory, err, errlen) < 0 || (!memory && o->lock && take_lock(s, err, errlen) < 0)
        || schema(s, err, errlen) < 0)
        goto fail;
    for (i = 0; i < STORE_NSTATEMENTS; i++) {
        char *sql = expand(statement_sql[i]);
        if (!sql) {
            snprintf(err, errlen, "store %s: out of memory", o->path);
            goto fail;
        }
        rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        free(sql);
        if (rc != SQLITE_OK) {
            open_error(o->path, s->db, rc, "its tables do not have the expected columns", err, errlen);
            goto fail;
        }
    }
    /* reading every table's pages also finds most damage early */
    if ((rc = store__recount(s)) < 0 || (rc = store__key_init(s)) < 0) {
        snprintf(err, errlen, "store %s: %s (%s)", o->path,
                 (sqlite3_errcode(s->db) & 0xff) == SQLITE_CORRUPT ? "corrupt" : "cannot read it", s->errmsg);
        goto fail;
    }
    /* quick_check 2 (`run`): a file of at most STORE_QUICK_AT_OPEN octets
     * only, whose pages take a fraction of a second to read */
    if (o->quick_check == 1 || (o->quick_check == 2 && pages_bytes(s) <= STORE_QUICK_AT_OPEN)) {
        char why[256];
        if ((rc = store_check(s, why, sizeof why)) != 0) {
            snprintf(err, errlen, "store %s: corrupt (quick_check: %s)", o->path,
                     rc > 0 ? why : s->errmsg);
            goto fail;
        }
    }
    return s;
fail:
    store_close(s);
    return NULL;
}

void store_close(store_t *s)
{
    int i;
    if (!s) return;
    for (i = 0; i < STORE_NSTATEMENTS; i++) sqlite3_finalize(s->st[i]);
    store__upd_free(s);
    store__fwd_free(s);
    store__sticky_free(s);
    if (s->db) {
        /* an open transaction is rolled back, as a crash would lose it */
        if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close_v2(s->db);
    }
    for (i = 0; i < s->nctrs; i++) free(s->ctrs[i].name);
    free(s->ctrs);
    store__acct_free(s);
    free(s->rowids);
    free(s->path);
    if (s->lock_fd >= 0) close(s->lock_fd);      /* after SQLite's close: the lock goes last */
    free(s->lock_text);
    free(s);
}
