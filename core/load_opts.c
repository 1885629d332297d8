/* load_opts.c -- the command line of `smppgw bench`: usage, parsing with
 * every option named in one table, and the --to-range destinations.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "load_opts.h"
#include "pdu.h"

/* -- Usage ------------------------------------------------------------------ */

void load_opts_usage(FILE *f)
{
    fputs("usage: smppgw bench [options] [HOST:PORT]      (default 127.0.0.1:2775)\n"
          "Binds sessions and keeps submit_sm (or data_sm) outstanding on each.\n"
          "  --sessions N      sessions to bind (default 1)\n"
          "  --window W        submit_sm outstanding per session (default 10)\n"
          "  --duration S      seconds of sending (default 10; 0 = no limit)\n"
          "  --count M         stop after M submit_sm in total (no time limit unless\n"
          "                    --duration is also given)\n"
          "  --rate R          submit_sm per second over all sessions (default 0 =\n"
          "                    as fast as responses come back)\n"
          "  --size BYTES      message length, 0..254 (default 20)\n"
          "  --coding N        data_coding of the messages (default 0)\n"
          "  --data-sm         send data_sm (text in message_payload) instead of submit_sm\n"
          "  --from ADDR       source_addr (default Bench; TON 5 NPI 0 when it holds\n"
          "                    anything but digits, else TON 1 NPI 1)\n"
          "  --to ADDR         destination_addr (default 447700900123; TON 1 NPI 1)\n"
          "  --to-range FIRST-LAST\n"
          "                    destinations cycle through the numbers FIRST..LAST\n"
          "                    (at most 19 digits; zero-padded to FIRST's length)\n"
          "  --bind trx|tx     bind as transceiver (default) or transmitter\n"
          "  --dlr             ask for delivery receipts (needs trx), count them and\n"
          "                    their latency; waits up to 10 s for them at the end;\n"
          "                    a receipt before its answer is held 2 s for it\n"
          "  --quiet           no progress line on standard error\n"
          "  --idle N          only bind N sessions and hold them idle until\n"
          "                    SIGINT/SIGTERM or --duration; prints \"bound N of N\"\n"
          "  --timeout S       seconds to wait for each response, the bind's included\n"
          "                    (default 30); a request past it counts in timeouts\n"
          "  --system-id ID    bind system_id (default smppclient1)\n"
          "  --password PW     bind password (default password)\n"
          "  --json            print the results as one JSON object\n"
          "  --help            this text\n"
          "Results: sent; ok (ESME_ROK); failed (other statuses and errors such as\n"
          "\"closed\", by name); timeouts (no response in --timeout s); throughput in\n"
          "round trips/s from the first send to the last response; latency in\n"
          "microseconds from sess_send to the response (min, p50, p90, p99, p99.9,\n"
          "max).\n"
          "Exit code: 0 when every session bound and at least one message was\n"
          "acknowledged, 1 otherwise (saying how many bound), 2 for bad options.\n", f);
}

/* -- Values ----------------------------------------------------------------- */

/* Parse a number option into *out; 0 on success, -1 if it is not one. */
static int load_opts_num(const char *s, double min, double max, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v != v || v < min || v > max) return -1;
    *out = v;
    return 0;
}

/* HOST:PORT by the rules of lua/smpp/address.lua: HOST an IPv4 literal
 * or a name, or an IPv6 literal in brackets ([::1]:2775); a colon outside
 * brackets is refused rather than guessed at. */
static int load_opts_addr(const char *s, load_opts_t *o)
{
    const char *colon = strrchr(s, ':');
    double port;
    size_t hl, lit;
    if (!colon || colon == s || load_opts_num(colon + 1, 1, 65535, &port)) return -1;
    hl = (size_t)(colon - s);
    if (s[0] == '[') {
        if (hl < 3 || colon[-1] != ']' || !memchr(s + 1, ':', hl - 2)) return -1;
        s++;
        hl -= 2;
        lit = strspn(s, "0123456789abcdefABCDEF:.");
        if (lit < hl && (s[lit] != '%' || lit + 1 == hl)) return -1;     /* fe80::1%eth0: a zone */
    } else if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") < hl) {
        return -1;                                   /* a colon, a space...: no IPv4 address or name */
    }
    if (hl == 0 || hl >= sizeof o->host) return -1;
    memcpy(o->host, s, hl);
    o->host[hl] = '\0';
    o->port = (int)port;
    return 0;
}

/* Length of the run of digits at s (0 if none). */
static size_t load_opts_digits(const char *s)
{
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') n++;
    return n;
}

/* FIRST-LAST: two numbers of 1..19 digits, FIRST <= LAST. */
static int load_opts_range(const char *s, load_opts_t *o)
{
    size_t a = load_opts_digits(s), b;
    unsigned long long first, last;
    if (a == 0 || a > LOAD_OPTS_RANGE_DIGITS || s[a] != '-') return -1;
    b = load_opts_digits(s + a + 1);
    if (b == 0 || b > LOAD_OPTS_RANGE_DIGITS || s[a + 1 + b] != '\0') return -1;
    first = strtoull(s, NULL, 10);
    last = strtoull(s + a + 1, NULL, 10);
    if (last < first) return -1;
    o->to = s;
    o->to_range = 1;
    o->to_first = first;
    o->to_span = last - first + 1;
    o->to_width = (int)a;
    return 0;
}

const char *load_opts_dest(const load_opts_t *o, unsigned long long n, char *buf, size_t cap)
{
    if (!o->to_range) return o->to;
    snprintf(buf, cap, "%0*llu", o->to_width, o->to_first + n % o->to_span);
    return buf;
}

/* -- Parsing ---------------------------------------------------------------- */

/* The options that take a value; anything else starting with "-" that is
 * not a flag is an unknown option. */
static const char *const load_opts_valued[] = {
    "--sessions", "--window", "--duration", "--count", "--rate", "--size", "--coding", "--idle",
    "--bind", "--system-id", "--password", "--from", "--to", "--to-range", "--timeout", NULL,
};

static int load_opts_takes_value(const char *a)
{
    size_t i;
    for (i = 0; load_opts_valued[i]; i++)
        if (!strcmp(a, load_opts_valued[i])) return 1;
    return 0;
}

/* Say what is wrong on standard error; returns -1 for the caller to return. */
static int load_opts_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int load_opts_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("smppgw bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

int load_opts_parse(int argc, char **argv, load_opts_t *o)
{
    int i, have_duration = 0, have_to = 0;
    double v;
    memset(o, 0, sizeof *o);
    strcpy(o->host, "127.0.0.1");
    o->port = 2775;
    o->sessions = 1;
    o->window = 10;
    o->duration = 10;
    o->timeout = 30;
    o->size = 20;
    o->system_id = "smppclient1";
    o->password = "password";
    o->from = "Bench";
    o->to = "447700900123";
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *val;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return 1;
        if (!strcmp(a, "--json")) { o->json = 1; continue; }
        if (!strcmp(a, "--data-sm")) { o->data_sm = 1; continue; }
        if (!strcmp(a, "--dlr")) { o->dlr = 1; continue; }
        if (!strcmp(a, "--quiet")) { o->quiet = 1; continue; }
        if (a[0] != '-') {
            if (load_opts_addr(a, o)) return load_opts_fail("%s is not HOST:PORT", a);
            continue;
        }
        if (!load_opts_takes_value(a))
            return load_opts_fail("unknown option %s (smppgw bench --help lists them)", a);
        if (i + 1 >= argc) return load_opts_fail("%s needs a value", a);
        val = argv[++i];
        if (!strcmp(a, "--system-id")) o->system_id = val;
        else if (!strcmp(a, "--password")) o->password = val;
        else if (!strcmp(a, "--from")) o->from = val;
        else if (!strcmp(a, "--to")) {
            if (have_to++) return load_opts_fail("give one of --to and --to-range");
            o->to = val;
        } else if (!strcmp(a, "--to-range")) {
            if (have_to++) return load_opts_fail("give one of --to and --to-range");
            if (load_opts_range(val, o))
                return load_opts_fail("--to-range takes FIRST-LAST (numbers of up to 19 digits, "
                                      "FIRST <= LAST), not %s", val);
        } else if (!strcmp(a, "--bind")) {
            if (strcmp(val, "trx") && strcmp(val, "tx"))
                return load_opts_fail("--bind takes trx or tx, not %s", val);
            o->transmitter = !strcmp(val, "tx");
        }
        else if (!strcmp(a, "--sessions") && !load_opts_num(val, 1, 1000000, &v)) o->sessions = (unsigned)v;
        else if (!strcmp(a, "--window") && !load_opts_num(val, 1, 100000, &v)) o->window = (unsigned)v;
        else if (!strcmp(a, "--duration") && !load_opts_num(val, 0, 1e6, &v)) {
            o->duration = v;
            have_duration = 1;
        }
        else if (!strcmp(a, "--count") && !load_opts_num(val, 1, 1e15, &v)) o->count = (unsigned long long)v;
        else if (!strcmp(a, "--rate") && !load_opts_num(val, 0, 1e9, &v)) o->rate = v;
        else if (!strcmp(a, "--timeout") && !load_opts_num(val, 0.001, 86400, &v)) o->timeout = v;
        else if (!strcmp(a, "--size") && !load_opts_num(val, 0, PDU_MAX_SHORT_MESSAGE, &v)) o->size = (unsigned)v;
        else if (!strcmp(a, "--idle") && !load_opts_num(val, 1, 1000000, &v)) o->idle = (unsigned)v;
        else if (!strcmp(a, "--coding") && !load_opts_num(val, 0, 255, &v)) o->coding = (unsigned)v;
        else return load_opts_fail("bad value for %s: %s", a, val);
    }
    /* --count alone runs until the count is done; --idle holds until a signal. */
    if ((o->count || o->idle) && !have_duration) o->duration = 0;
    if (o->idle) o->sessions = o->idle;
    if (o->dlr && o->transmitter)
        return load_opts_fail("--dlr needs --bind trx (receipts arrive on the session)");
    return 0;
}
