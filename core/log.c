/* log.c -- log lines to standard error (text or JSON). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"

static log_level_t cur_level = LOG_INFO;
static int json_lines;
static const char *const names[] = {"error", "warn", "info", "debug"};

void log_set_level(log_level_t level) { cur_level = level; }
log_level_t log_get_level(void) { return cur_level; }
void log_set_json(int on) { json_lines = on; }

int log_level_parse(const char *name)
{
    int i;
    for (i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

/* Write s as a JSON string body (quotes added by the caller). */
static void json_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
}

void log_msg(log_level_t level, uint64_t session, const char *fmt, ...)
{
    char msg[1024], ts[32];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    if (level > cur_level) return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    if (json_lines) {
        fprintf(stderr, "{\"ts\":\"%s.%03dZ\",\"level\":\"%s\"", ts, (int)(tv.tv_usec / 1000),
                names[level]);
        if (session) fprintf(stderr, ",\"session\":%llu", (unsigned long long)session);
        fputs(",\"msg\":\"", stderr);
        json_escape(stderr, msg);
        fputs("\"}\n", stderr);
    } else if (session) {
        fprintf(stderr, "%s.%03dZ %-5s [s%llu] %s\n", ts, (int)(tv.tv_usec / 1000), names[level],
                (unsigned long long)session, msg);
    } else {
        fprintf(stderr, "%s.%03dZ %-5s %s\n", ts, (int)(tv.tv_usec / 1000), names[level], msg);
    }
}
