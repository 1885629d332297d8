/* log.c -- log lines to standard error (text or JSON), with repeated
 * lines counted instead of printed (see log.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"

#define LOG_MSG_MAX 1024
/* A line (its stamp, level, session and the message escaped) stays under
 * PIPE_BUF (4096), which a pipe writes at once: the message's escaped
 * form is cut past LOG_LINE_ROOM octets, and says so. */
#define LOG_LINE_ROOM 3700

static log_level_t cur_level = LOG_INFO;
static int json_lines;
static const char *const names[] = {"error", "warn", "info", "debug"};

void log_set_level(log_level_t level) { cur_level = level; }
log_level_t log_get_level(void) { return cur_level; }
void log_set_json(int on) { json_lines = on; }

static int worker;

void log_set_worker(int n) { worker = n; }

int log_level_parse(const char *name)
{
    int i;
    for (i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

/* -- Output ---------------------------------------------------------------- */

/* The length of the valid UTF-8 sequence of two or more bytes at s, or
 * 0 (RFC 3629: no overlong form, no surrogate, nothing past U+10FFFF; the
 * string's NUL ends a sequence early). */
static int utf8_len(const unsigned char *s)
{
    unsigned cp, c = s[0];
    int n, i;
    if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07;
    else return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* Write a message whatever its bytes (a peer's system_id, a config's
 * names): it can neither start a line of its own nor drive a terminal.
 * Text: \n, \r, \t, other control characters (C0, DEL) as \xNN. JSON
 * (a string body, quotes added by the caller): " and \ escaped, control
 * characters as \n or \u00NN. Both: a byte that is not UTF-8 as the text
 * \xNN, so a JSON line is always valid JSON. */
static void put_escaped(FILE *f, const char *msg, int json)
{
    const unsigned char *s = (const unsigned char *)msg;
    long start = ftell(f);
    while (*s) {
        unsigned c = *s;
        int n;
        if (start >= 0 && ftell(f) - start > LOG_LINE_ROOM) {   /* the line stays one atomic write */
            fprintf(f, " [... %zu more bytes cut]", strlen((const char *)s));
            return;
        }
        if (c >= 0x80) {
            if ((n = utf8_len(s)) > 0) {
                fwrite(s, 1, (size_t)n, f);
                s += n;
                continue;
            }
            fprintf(f, json ? "\\\\x%02X" : "\\x%02X", c);   /* JSON: the text \\xNN */
        } else if (json && (c == '"' || c == '\\')) {
            fprintf(f, "\\%c", c);
        } else if (c == '\n') {
            fputs("\\n", f);
        } else if (c == '\r') {
            fputs("\\r", f);
        } else if (c == '\t') {
            fputs("\\t", f);
        } else if (c < 0x20 || c == 0x7F) {
            fprintf(f, json ? "\\u%04x" : "\\x%02X", c);
        } else {
            fputc((int)c, f);
        }
        s++;
    }
}

/* A line's count of held-back copies: `n` > 0 copies in `secs` seconds,
 * `others` of them from sessions other than the printed line's. */
typedef struct count_s {
    unsigned long n, others;
    double        secs;
    int           kind;         /* lines of one kind (log_kind), not copies of one line */
} count_t;

/* One line; `count` (may be NULL) marks the count of a repeated line;
 * `extra` (JSON mode): a member written as is. */
static void emit_with(int level, uint64_t session, const char *msg, const count_t *count, const char *extra);
static void emit(int level, uint64_t session, const char *msg, const count_t *count)
{
    emit_with(level, session, msg, count, NULL);
}

static void emit_with(int level, uint64_t session, const char *msg, const count_t *count, const char *extra)
{
    char ts[32], *line = NULL;
    size_t len = 0;
    struct timeval tv;
    struct tm tm;
    /* the line is made in memory and written at once: workers share the
     * parent's stderr, and stderr is unbuffered (a write per piece), so
     * their lines interleaved mid-line */
    FILE *f = open_memstream(&line, &len);
    if (!f) f = stderr;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    if (json_lines) {
        fprintf(f, "{\"ts\":\"%s.%03dZ\",\"level\":\"%s\"", ts, (int)(tv.tv_usec / 1000),
                names[level]);
        if (worker) fprintf(f, ",\"worker\":%d", worker);
        if (session) fprintf(f, ",\"session\":%llu", (unsigned long long)session);
        if (count) fprintf(f, ",\"repeated\":%lu,\"repeated_s\":%.0f", count->n, count->secs);
        if (count && count->kind) fputs(",\"repeated_kind\":true", f);
        if (count && count->others) fprintf(f, ",\"repeated_other_sessions\":%lu", count->others);
        fputs(",\"msg\":\"", f);
        put_escaped(f, msg, 1);
        fputc('"', f);
        if (extra) fprintf(f, ",%s", extra);
        fputs("}\n", f);
    } else {
        fprintf(f, "%s.%03dZ %-5s ", ts, (int)(tv.tv_usec / 1000), names[level]);
        if (worker) fprintf(f, "[w%d] ", worker);
        if (session) fprintf(f, "[s%llu] ", (unsigned long long)session);
        put_escaped(f, msg, 0);
        if (count) {
            if (count->kind) fprintf(f, " [... %lu more of this kind in %.0f s", count->n, count->secs);
            else fprintf(f, " [... repeated %lu more times in %.0f s", count->n, count->secs);
            if (count->others) fprintf(f, ", %lu of them in other sessions", count->others);
            fputc(']', f);
        }
        fputc('\n', f);
    }
    if (f != stderr) {
        fclose(f);
        if (line) fwrite(line, 1, len, stderr);
        free(line);
    }
}

/* -- Repeats -----------------------------------------------------------------
 * A small table of the lines printed lately, in sets of LOG_WAYS slots: a
 * line that finds itself in its set within the window is only counted. A
 * line not there takes a free slot of its set or the one printed longest
 * ago, so a few recurring lines that hash to one set do not push each
 * other out (with one slot per set, two of them alternating were printed
 * every time). A flood of different lines simply takes the slots over
 * (each is printed), so the table never grows and never hides a line that
 * was not printed before.
 * The session is not part of the key: what every new connection logs (a
 * flood of connects or failed binds, each its own session) is counted too,
 * and the count says how many copies came from other sessions. */

#define LOG_SLOTS 64
#define LOG_WAYS  4             /* slots per set: LOG_SLOTS / LOG_WAYS sets */

typedef struct repeat_s {
    uint64_t      hash, session;  /* session: the printed line's */
    const char   *kind;         /* log_kind's lines: matched by this, not by their text */
    char          who[64];      /* ... and this (log_kind_for; "" for log_kind) */
    uint64_t      start_ms;     /* when the printed line was printed */
    unsigned long count;        /* copies held back since */
    unsigned long others;       /* of them, from other sessions */
    int           level, shape, used;
    char          msg[LOG_MSG_MAX];
} repeat_t;

static repeat_t slots[LOG_SLOTS];
static unsigned window_ms = 10000;
static int flush_at_exit;

void log_set_repeat_window(unsigned ms) { window_ms = ms; }

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define IS_HEX(c)   (IS_DIGIT(c) || ((c) >= 'a' && (c) <= 'f') || ((c) >= 'A' && (c) <= 'F'))
#define IS_ALNUM(c) (IS_DIGIT(c) || ((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || (c) == '_')
#define IS_JOIN(c)  ((c) == '.' || (c) == ':')

/* The length of the number that starts at p (line starts at `line`): a
 * run of digits, or 0x and hex digits, standing alone; 0 when p starts
 * none. A number joined to a word (u1, 127.0.0.1, script.lua:12, 10:30,
 * an id with letters) is part of it: a letter, digit or _ beside it, or
 * a . or : with one of those beyond ("submit_sm 12: no response" stands
 * alone). */
static size_t number_at(const char *line, const char *p)
{
    const char *q = p;
    if (!IS_DIGIT(*p)) return 0;
    if (p > line && (IS_ALNUM(p[-1]) || (IS_JOIN(p[-1]) && p - 1 > line && IS_ALNUM(p[-2])))) return 0;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && IS_HEX(p[2])) {
        for (q = p + 2; IS_HEX(*q); q++) {}
    } else {
        while (IS_DIGIT(*q)) q++;
    }
    if (IS_ALNUM(*q) || (IS_JOIN(*q) && IS_ALNUM(q[1]))) return 0;
    return (size_t)(q - p);
}

/* Lines "by shape": warnings and errors, and every line of the engine
 * about what a peer sent (log_peer) are compared by shape: a number
 * standing alone (number_at: a sequence_number, a count, 0x0000AB71)
 * matches any other, so a peer that makes one per PDU makes copies of one
 * line, while names and addresses with digits in them (u1 and u2,
 * 127.0.0.1 and 127.0.9.9, script.lua:12) stay apart. Other info lines
 * are compared as they are (a script printing each message it got sees
 * each one). */
static uint64_t line_hash(int level, int shape, const char *msg)
{
    uint64_t h = 14695981039346656037ULL ^ (uint64_t)level ^ ((uint64_t)shape << 8);
    const char *p;
    size_t n;
    for (p = msg; *p; p++) {
        if (shape && (n = number_at(msg, p)) > 0) {
            p += n - 1;
            h = (h ^ '#') * 1099511628211ULL;
        } else {
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        }
    }
    return h;
}

static int line_same(int shape, const char *a, const char *b)
{
    const char *a0 = a, *b0 = b;
    size_t na, nb;
    if (!shape) return strcmp(a, b) == 0;
    while (*a && *b) {
        na = number_at(a0, a), nb = number_at(b0, b);
        if (na && nb) {
            a += na, b += nb;
        } else if (na || nb || *a++ != *b++) {
            return 0;
        }
    }
    return *a == *b;
}

/* Print the count of slot r (if it held anything back) and free it. */
static void slot_release(repeat_t *r, uint64_t now)
{
    count_t c;
    if (r->used && r->count) {
        c.n = r->count;
        c.others = r->others;
        c.secs = (double)(now - r->start_ms) / 1000.0;
        c.kind = r->kind != NULL;
        emit(r->level, r->session, r->msg, &c);
    }
    r->used = 0;
    r->count = r->others = 0;
}

/* -- A session's warnings, and everyone's -------------------------------------
 * Repeats aside, one session prints at most LOG_SESSION_LINES warnings and
 * lines of the engine about its peer a window (errors are not held back
 * by it): a peer can make a different line with every PDU (an unknown
 * command_id of its choosing, a receipt for an id that is not there), so
 * the count of what was held back comes out once the window ends instead.
 * Sets of LOG_WAYS slots as above; a session not there takes a free slot,
 * one whose window ended, or the one started longest ago (its count
 * printed first: with more sessions than slots a session may start a
 * window afresh, which the totals below bound). And all lines by shape
 * together, errors too, print at most LOG_TOTAL_LINES a window with a
 * session and as many without one (a flood from many connections, or an
 * HTTP route that warns with each request's id): past it they are
 * counted, and the count comes out as the window ends. log_fatal is
 * never held back. */

#define LOG_SESSION_LINES 20
#define LOG_TOTAL_LINES   200

typedef struct total_s {
    uint64_t      start_ms;
    unsigned      printed;
    unsigned long held;
} total_t;

static total_t totals[2];          /* [0]: lines about a session, [1]: about none */

static void total_release(int which, uint64_t now)
{
    total_t *t = &totals[which];
    char msg[200];
    if (t->held) {
        snprintf(msg, sizeof msg, "%lu more warnings and errors %s not printed in %.0f s (at most %d a window)",
                 t->held, which ? "about no session" : "of sessions", (double)(now - t->start_ms) / 1000.0,
                 LOG_TOTAL_LINES);
        emit(LOG_WARN, 0, msg, NULL);
    }
    memset(t, 0, sizeof *t);
}

/* 1 when the line (by shape, about `session` or none) is to be counted,
 * not printed: its total for this window is spent. */
static int total_hold(uint64_t session, uint64_t now)
{
    total_t *t = &totals[session ? 0 : 1];
    if (t->start_ms && now - t->start_ms >= window_ms) total_release(session ? 0 : 1, now);
    if (!t->start_ms) t->start_ms = now ? now : 1;
    if (t->printed >= LOG_TOTAL_LINES) {
        t->held++;
        return 1;
    }
    return 0;
}

typedef struct quota_s {
    uint64_t      session, start_ms;
    unsigned      printed;      /* lines printed in this window */
    unsigned long held;         /* lines held back since */
    int           used;
} quota_t;

static quota_t quotas[LOG_SLOTS];

static void quota_release(quota_t *q, uint64_t now)
{
    char msg[160];
    if (q->used && q->held) {
        snprintf(msg, sizeof msg, "%lu more lines of this session not printed in %.0f s (at most %d a window)",
                 q->held, (double)(now - q->start_ms) / 1000.0, LOG_SESSION_LINES);
        emit(LOG_WARN, q->session, msg, NULL);
    }
    memset(q, 0, sizeof *q);
}

/* The session's slot for a line by shape to print, NULL for a line that
 * is not counted against a session; *hold set when the session's lines
 * for this window are spent (the line is then counted). */
static quota_t *quota_of(int level, int shape, uint64_t session, uint64_t now, int *hold)
{
    quota_t *q = NULL, *set;
    size_t i;
    *hold = 0;
    if (!window_ms || !session || !shape || level == LOG_ERROR) return NULL;
    set = &quotas[(session % (LOG_SLOTS / LOG_WAYS)) * LOG_WAYS];
    for (i = 0; i < LOG_WAYS; i++) {
        quota_t *w = &set[i];
        if (w->used && now - w->start_ms >= window_ms) quota_release(w, now);
        if (w->used && w->session == session) {
            if (w->printed >= LOG_SESSION_LINES) {
                w->held++;
                *hold = 1;
            }
            return w;
        }
        if (!q || (q->used && (!w->used || w->start_ms < q->start_ms))) q = w;
    }
    quota_release(q, now);
    q->used = 1;
    q->session = session;
    q->start_ms = now;
    return q;
}

void log_flush(void)
{
    uint64_t now = now_ms();
    size_t i;
    for (i = 0; i < LOG_SLOTS; i++) slot_release(&slots[i], now);
    for (i = 0; i < LOG_SLOTS; i++) quota_release(&quotas[i], now);
    total_release(0, now);
    total_release(1, now);
}

void log_tick(void)
{
    uint64_t now = now_ms();
    size_t i;
    if (!window_ms) return;
    for (i = 0; i < LOG_SLOTS; i++) {
        if (slots[i].used && now - slots[i].start_ms >= window_ms) slot_release(&slots[i], now);
        if (quotas[i].used && now - quotas[i].start_ms >= window_ms) quota_release(&quotas[i], now);
    }
    for (i = 0; i < 2; i++)
        if (totals[i].start_ms && now - totals[i].start_ms >= window_ms) total_release((int)i, now);
}

/* Counts held back are printed at exit too. */
static void log_flush_at_exit(void)
{
    if (!flush_at_exit) {
        flush_at_exit = 1;
        atexit(log_flush);
    }
}

/* A kind's hash: its name's, apart from any line's. */
static uint64_t kind_hash(int level, const char *kind)
{
    return line_hash(level, 0, kind) ^ 0x9E3779B97F4A7C15ULL;
}

static int same_kind(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

/* 1 if this line is a repeat to hold back (counted), 0 to print it;
 * kind: log_kind's (matched by it), else NULL (matched by the text). */
static int repeat_check(int level, int shape, uint64_t session, const char *msg, const char *kind,
                        const char *who)
{
    uint64_t now, h;
    repeat_t *r, *set;
    size_t i;
    if (!window_ms) return 0;
    now = now_ms();
    for (i = 0; i < LOG_SLOTS; i++)       /* windows that ended: their counts */
        if (slots[i].used && now - slots[i].start_ms >= window_ms) slot_release(&slots[i], now);
    if (!who) who = "";
    h = kind ? kind_hash(level, kind) ^ line_hash(level, 0, who) : line_hash(level, shape, msg);
    set = &slots[(h % (LOG_SLOTS / LOG_WAYS)) * LOG_WAYS];
    for (i = 0, r = NULL; i < LOG_WAYS; i++) {
        repeat_t *w = &set[i];
        if (w->used && w->hash == h && w->level == level && same_kind(w->kind, kind)
            && (kind ? strncmp(w->who, who, sizeof w->who - 1) == 0
                     : (w->shape == shape && line_same(shape, w->msg, msg)))) {
            w->count++;
            if (session != w->session) w->others++;
            log_flush_at_exit();
            return 1;
        }
        /* the slot to take if the line is not there: a free one, else the oldest */
        if (!r || (r->used && (!w->used || w->start_ms < r->start_ms))) r = w;
    }
    slot_release(r, now);                 /* another line had the slot */
    r->used = 1;
    r->hash = h;
    r->kind = kind;
    snprintf(r->who, sizeof r->who, "%s", who);
    r->level = level;
    r->shape = shape;
    r->session = session;
    r->start_ms = now;
    snprintf(r->msg, sizeof r->msg, "%s", msg);
    return 0;
}

/* -- Lines ------------------------------------------------------------------- */

static void log_line(int level, int shape, uint64_t session, const char *kind, const char *who, const char *fmt,
                     va_list ap)
{
    char msg[LOG_MSG_MAX];
    quota_t *q;
    uint64_t now;
    int need, hold;
    need = vsnprintf(msg, sizeof msg, fmt, ap);
    if (need >= (int)sizeof msg)                /* said, not cut silently */
        snprintf(msg + sizeof msg - 40, 40, " [... %d more bytes cut]", need - (int)(sizeof msg - 40));
    now = now_ms();
    q = quota_of(level, shape, session, now, &hold);
    if (hold) {
        log_flush_at_exit();
        return;
    }
    if (repeat_check(level, shape, session, msg, kind, who)) return;
    if (shape && window_ms && total_hold(session, now)) {
        log_flush_at_exit();
        return;
    }
    if (shape && window_ms) totals[session ? 0 : 1].printed++;
    if (q) q->printed++;
    emit(level, session, msg, NULL);
}

void log_msg(log_level_t level, uint64_t session, const char *fmt, ...)
{
    va_list ap;
    if (level > cur_level) return;
    va_start(ap, fmt);
    log_line((int)level, level <= LOG_WARN, session, NULL, NULL, fmt, ap);
    va_end(ap);
}

void log_peer(log_level_t level, uint64_t session, const char *fmt, ...)
{
    va_list ap;
    if (level > cur_level) return;
    va_start(ap, fmt);
    log_line((int)level, 1, session, NULL, NULL, fmt, ap);
    va_end(ap);
}

void log_kind(log_level_t level, uint64_t session, const char *kind, const char *fmt, ...)
{
    va_list ap;
    if (level > cur_level) return;
    va_start(ap, fmt);
    log_line((int)level, level <= LOG_WARN, session, kind, NULL, fmt, ap);
    va_end(ap);
}

void log_kind_for(log_level_t level, uint64_t session, const char *kind, const char *who, const char *fmt, ...)
{
    va_list ap;
    if (level > cur_level) return;
    va_start(ap, fmt);
    log_line((int)level, level <= LOG_WARN, session, kind, who, fmt, ap);
    va_end(ap);
}

void log_pdu(uint64_t session, const char *text, const char *json)
{
    char member[LOG_MSG_MAX + 8];
    if (LOG_DEBUG > cur_level) return;
    if (json) snprintf(member, sizeof member, "\"pdu\":%s", json);
    emit_with(LOG_DEBUG, session, text, NULL, json ? member : NULL);
}

void log_state(log_level_t level, uint64_t session, const char *fmt, ...)
{
    char msg[LOG_MSG_MAX];
    va_list ap;
    if (level > cur_level) return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emit((int)level, session, msg, NULL);
}

void log_fatal(uint64_t session, const char *fmt, ...)
{
    char msg[LOG_MSG_MAX];
    va_list ap;
    log_flush();                    /* what was held back, before the last word */
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emit(LOG_ERROR, session, msg, NULL);
}
