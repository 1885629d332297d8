/* http_nets.c -- where the gateway's own HTTP requests (a message's
 * callback_url, an account's webhook) may go: http.callback_networks.
 *
 * The rule is checked on the address http_post connects to, after
 * "localhost" and IPv4-mapped IPv6 are resolved to what they are, so no
 * spelling of an address gets past it. Without a list, any address but
 * link-local (169.254.0.0/16, fe80::/10: where cloud metadata services
 * answer) and 0.0.0.0/8 is allowed; with one, only its networks.
 *
 * Who owns what: the list is an array owned here, replaced as a whole by
 * http_nets_set (a reload) and freed by http_nets_set(NULL, 0). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* -- Networks ---------------------------------------------------------------------------- */

/* A network as 16 octets (IPv4 as ::ffff:a.b.c.d) and a prefix in bits. */
typedef struct hnet_s {
    uint8_t a[16];
    int     bits;
} hnet_t;

static hnet_t *nets;                  /* http.callback_networks; NULL: the default rule */
static size_t  nnets;

/* Refused by default: 0.0.0.0/8, 169.254.0.0/16, fe80::/10. */
static const hnet_t refused[] = {
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0}, 96 + 8},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 169, 254}, 96 + 16},
    {{0xfe, 0x80}, 10},
};

/* "address[/prefix]" -> *n; 0, or -1 when it is not one. */
static int parse(const char *cidr, hnet_t *n)
{
    char ip[64];
    const char *slash = strchr(cidr, '/');
    size_t len = slash ? (size_t)(slash - cidr) : strlen(cidr);
    int max, bits;
    char *end;
    uint8_t v4[4];
    if (len == 0 || len >= sizeof ip) return -1;
    memcpy(ip, cidr, len);
    ip[len] = '\0';
    memset(n, 0, sizeof *n);
    if (inet_pton(AF_INET, ip, v4) == 1) {
        n->a[10] = n->a[11] = 0xff;
        memcpy(n->a + 12, v4, 4);
        max = 32;
    } else if (inet_pton(AF_INET6, ip, n->a) == 1) {
        max = 128;
    } else {
        return -1;
    }
    bits = max;
    if (slash) {
        long b = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || b < 0 || b > max) return -1;
        bits = (int)b;
    }
    n->bits = bits + (128 - max);
    return 0;
}

/* Is a (16 octets) inside n? */
static int inside(const uint8_t *a, const hnet_t *n)
{
    int full = n->bits / 8, rest = n->bits % 8;
    if (memcmp(a, n->a, (size_t)full)) return 0;
    return !rest || ((a[full] ^ n->a[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* The 16 octets of a socket address (IPv4 mapped); 0, or -1 for another family. */
static int octets(const struct sockaddr *sa, uint8_t *out)
{
    memset(out, 0, 16);
    if (sa->sa_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return 0;
    }
    return -1;
}

static int allowed_by(const uint8_t *a, const hnet_t *list, size_t n)
{
    size_t i;
    if (!list) {
        for (i = 0; i < sizeof refused / sizeof refused[0]; i++)
            if (inside(a, &refused[i])) return 0;
        return 1;
    }
    for (i = 0; i < n; i++)
        if (inside(a, &list[i])) return 1;
    return 0;
}

/* -- The list ---------------------------------------------------------------------------- */

long http_nets_set(const char *const *cidrs, size_t n)
{
    hnet_t *list = NULL;
    size_t i;
    if (cidrs) {
        if (!(list = malloc((n ? n : 1) * sizeof *list))) return -1;
        for (i = 0; i < n; i++) {
            if (parse(cidrs[i], &list[i])) {
                free(list);
                return (long)i + 1;
            }
        }
    }
    free(nets);
    nets = list;
    nnets = n;
    return 0;
}

long http_nets_allowed(const struct sockaddr *sa, const char *const *cidrs, size_t n)
{
    uint8_t a[16];
    hnet_t *list;
    size_t i, good = 0;
    long ok;
    if (octets(sa, a)) return 0;
    if (!cidrs) return allowed_by(a, nets, nnets);
    if (!(list = malloc((n ? n : 1) * sizeof *list))) return -1;
    for (i = 0; i < n; i++)                 /* what is not a network is the checker's to name */
        if (!parse(cidrs[i], &list[good])) good++;
    ok = allowed_by(a, list, good);
    free(list);
    return ok;
}
