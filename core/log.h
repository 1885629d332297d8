/* log.h -- levelled log lines on standard error, human-readable by default
 * or one JSON object per line. Every line about a session names its id.
 * A line repeated within a short window is printed once, then counted.
 */
#ifndef SMPPGW_LOG_H
#define SMPPGW_LOG_H

#include <stdint.h>

typedef enum { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG } log_level_t;

/* Lines above `level` are dropped. Default LOG_INFO. */
void log_set_level(log_level_t level);
log_level_t log_get_level(void);
/* Parse "error", "warn", "info", "debug"; -1 if unknown. */
int log_level_parse(const char *name);
/* 1: JSON lines {"ts":..,"level":..,"session":..,"msg":..}; 0: text. */
void log_set_json(int on);

/* A worker's lines say which worker wrote them ("[w2] ", "worker":2);
 * 0 (the default): none. */
void log_set_worker(int n);

/* Repeats: a line equal to one printed less than `ms` ago (same level and
 * text, whatever its session; warnings and errors equal but for their runs
 * of digits) is counted instead of printed, and once that
 * window has passed the next log call prints the count as
 * "TEXT [... repeated N more times in S s]" (", M of them in other
 * sessions" when some were; JSON: "repeated": N, "repeated_other_sessions": M)
 * under the printed line's session.
 * One session prints at most 20 warnings and log_peer lines a window, and
 * all sessions together (and all lines about no session) 200 warnings,
 * errors and log_peer lines; the count of the rest comes out when the
 * window ends (log_tick).
 * 0 prints every line. Default 10000 ms. */
void log_set_repeat_window(unsigned ms);

/* Print the counts of every line still being counted (at exit, and when
 * the owner wants them out now). */
void log_flush(void);

/* A line; session 0 means "not about a session". printf-style. */
void log_msg(log_level_t level, uint64_t session, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A line about what a peer did (the engine's events: a refusal, a
 * timeout, a malformed PDU), whatever its level compared by shape (runs of
 * digits match) and counted against the session's 20 lines a window, as
 * warnings are: a peer drives one per PDU. */
void log_peer(log_level_t level, uint64_t session, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A line an outside party can make once per event, each naming its own
 * id or address (a receipt refused for each message of an account whose
 * outbox is full): the repeat window folds the lines of one `kind` (a
 * static name of the call site's), whatever their text, so the first is
 * printed and the rest counted: "TEXT [... N more of this kind in S s]"
 * (JSON: "repeated": N, "repeated_kind": true). Otherwise as log_msg. */
void log_kind(log_level_t level, uint64_t session, const char *kind, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* A change of state the program itself bounds (an upstream link that
 * goes unanswered and answers again: at most once per trial): never
 * folded nor held back, so the last such line is the state now. */
void log_state(log_level_t level, uint64_t session, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The same as log_kind, folded per kind and `who` (an account's system_id, a link's
 * name; copied, cut at 63 bytes): one party's flood does not hide the
 * first line of another's. */
void log_kind_for(log_level_t level, uint64_t session, const char *kind, const char *who, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* The last line before the process ends on its own (the watchdog's exit):
 * never held back, and every count held back is printed before it. */
void log_fatal(uint64_t session, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Print the counts of the windows that have ended (the owner calls it
 * about once a second, so a quiet process does not keep a count for
 * hours). */
void log_tick(void);

/* A PDU trace line at LOG_DEBUG (never held back as a repeat: each PDU is
 * one line). `json` (may be NULL): a JSON object written as the line's
 * "pdu" member in JSON mode. */
void log_pdu(uint64_t session, const char *text, const char *json);

#define log_enabled(level) ((level) <= log_get_level())

#endif /* SMPPGW_LOG_H */
