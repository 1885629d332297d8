/* rt_trace.c -- the PDU trace: at log level debug, one line per PDU a
 * session reads or writes (its session, direction, command, sequence
 * number, status and key fields); in JSON log lines the fields are also a
 * "pdu" object. Above debug the engine's hook is unset: one branch per PDU.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "rt.h"
#include "rt_trace.h"

/* The fields a trace line shows when the PDU has them, in this order. */
static const struct { pdu_field_id_t id; const char *name; int text; } shown[] = {
    {PDU_F_SYSTEM_ID, "system_id", 1},
    {PDU_F_SOURCE_ADDR, "source_addr", 1},
    {PDU_F_DESTINATION_ADDR, "destination_addr", 1},
    {PDU_F_MESSAGE_ID, "message_id", 1},
    {PDU_F_ESM_CLASS, "esm_class", 0},
    {PDU_F_DATA_CODING, "data_coding", 0},
    {PDU_F_REGISTERED_DELIVERY, "registered_delivery", 0},
    {PDU_F_SHORT_MESSAGE, "sm_length", 2},
};

/* Append to buf at *n (bounded): printf-style. */
static void put(char *buf, size_t cap, size_t *n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static void put(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
    va_list ap;
    int k;
    if (*n >= cap) return;
    va_start(ap, fmt);
    k = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (k > 0) *n += (size_t)k < cap - *n ? (size_t)k : cap - *n - 1;
}

/* A C-Octet String field as printable ASCII (anything else as '?'). */
static void put_text(char *buf, size_t cap, size_t *n, const pdu_value_t *v)
{
    uint32_t i;
    for (i = 0; i < v->len && i < 64 && v->ptr[i]; i++) {
        unsigned char c = v->ptr[i];
        put(buf, cap, n, "%c", c >= 0x20 && c < 0x7F && c != '"' && c != '\\' ? c : '?');
    }
}

static void trace(const sess_t *s, const pdu_t *p, int rx, uint32_t status)
{
    char text[512], json[768], code[16];
    size_t tn = 0, jn = 0, i;
    const char *cmd = p->cmd ? p->cmd->name : "unknown";
    const char *st = pdu_status_name(status);
    if (!st) {
        snprintf(code, sizeof code, "0x%08X", status);
        st = code;
    }
    put(text, sizeof text, &tn, "pdu %s %s seq=%u status=%s", rx ? "in" : "out", cmd, p->sequence_number, st);
    put(json, sizeof json, &jn, "{\"direction\":\"%s\",\"command\":\"%s\",\"command_id\":\"0x%08X\","
        "\"sequence_number\":%u,\"status\":\"%s\"", rx ? "in" : "out", cmd, p->command_id, p->sequence_number, st);
    for (i = 0; i < sizeof shown / sizeof shown[0]; i++) {
        const pdu_value_t *v = pdu_get(p, shown[i].id);
        if (!v) continue;
        if (shown[i].text == 1) {
            put(text, sizeof text, &tn, " %s=\"", shown[i].name);
            put_text(text, sizeof text, &tn, v);
            put(text, sizeof text, &tn, "\"");
            put(json, sizeof json, &jn, ",\"%s\":\"", shown[i].name);
            put_text(json, sizeof json, &jn, v);
            put(json, sizeof json, &jn, "\"");
        } else {
            uint32_t num = shown[i].text == 2 ? v->len : v->num;
            put(text, sizeof text, &tn, " %s=%u", shown[i].name, num);
            put(json, sizeof json, &jn, ",\"%s\":%u", shown[i].name, num);
        }
    }
    put(json, sizeof json, &jn, "}");
    log_pdu(sess_id(s), text, jn < sizeof json - 1 ? json : NULL);
}

void rt_trace_apply(void)
{
    /* the net's context is the runtime's to configure (net.h hands it out read-only) */
    if (rt.net) sess_ctx_set_trace((sess_ctx_t *)net_ctx(rt.net), log_enabled(LOG_DEBUG) ? trace : NULL);
}
