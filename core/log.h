/* log.h -- levelled log lines on standard error, human-readable by default
 * or one JSON object per line. Every line about a session names its id.
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

/* A line; session 0 means "not about a session". printf-style. */
void log_msg(log_level_t level, uint64_t session, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#define log_enabled(level) ((level) <= log_get_level())

#endif /* SMPPGW_LOG_H */
