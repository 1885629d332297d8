/* load_opts.h -- the command line of `smppgw bench` (load.c): the options
 * as one struct, their parser and usage text, and the destinations that
 * --to-range cycles through.
 */
#ifndef SMPPGW_LOAD_OPTS_H
#define SMPPGW_LOAD_OPTS_H

#include <stdio.h>

/* Longest address --to-range can make: 19 digits fit an unsigned long long. */
#define LOAD_OPTS_RANGE_DIGITS 19

/* The strings point into argv (or at literals): the struct borrows them. */
typedef struct load_opts_s {
    char        host[256];
    int         port;
    unsigned    sessions;       /* --sessions N */
    unsigned    window;         /* --window W: outstanding submit_sm per session */
    double      duration;       /* --duration S (0 = no time limit) */
    double      timeout;        /* --timeout S: each response's, the bind's included (default 30) */
    unsigned long long count;   /* --count M: total submit_sm (0 = no limit) */
    double      rate;           /* --rate R: submit_sm/s over all sessions (0 = max) */
    unsigned    size;           /* --size BYTES of short_message */
    unsigned    idle;           /* --idle N: bind N sessions and hold them */
    const char *system_id, *password;
    const char *from;           /* --from: source_addr */
    const char *to;             /* --to, or the --to-range argument as given */
    int         to_range;       /* --to-range: destinations cycle through a range */
    unsigned long long to_first, to_span;   /* the range's first number and size */
    int         to_width;       /* digits of FIRST: numbers are zero-padded to it */
    int         json;
    int         transmitter;    /* --bind tx (default trx) */
    unsigned    coding;         /* --coding N: data_coding */
    int         data_sm;        /* --data-sm: data_sm with message_payload */
    int         dlr;            /* --dlr: ask for receipts and count them */
    int         quiet;          /* --quiet: no progress line */
} load_opts_t;

/* Fill *o from argv (argv[0] is "bench"). Returns 0, 1 for --help, or -1
 * after printing what is wrong to standard error (an unknown option is
 * named as such, whatever follows it). */
int load_opts_parse(int argc, char **argv, load_opts_t *o);

/* The usage text, to f. */
void load_opts_usage(FILE *f);

/* The destination_addr of the n-th message (n from 0): --to, or the
 * range's numbers in turn, starting again after the last. Writes into
 * buf (cap >= LOAD_OPTS_RANGE_DIGITS + 1) when it has to and returns the
 * address, borrowed from buf or from *o. */
const char *load_opts_dest(const load_opts_t *o, unsigned long long n, char *buf, size_t cap);

#endif /* SMPPGW_LOAD_OPTS_H */
