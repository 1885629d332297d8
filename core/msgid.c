/* msgid.c -- message ids (see msgid.h): the ids we issue, made from a
 * node id and a key and read back; the keys of upstream ids: as written
 * (trimmed), normalised, or a declared decimal or hex id read as one
 * number, exact at any length.
 */
#include <string.h>

#include "msgid.h"

/* -- Ids we issue ------------------------------------------------------------- */

static const char *const keyed_names[] = { NULL, "decimal", "hex", "uuid" };

int msgid_keyed_format(const char *name)
{
    int i;
    for (i = MSGID_KEYED_DECIMAL; name && i <= MSGID_KEYED_UUID; i++)
        if (strcmp(name, keyed_names[i]) == 0) return i;
    return -1;
}

const char *msgid_keyed_name(int fmt)
{
    return fmt >= MSGID_KEYED_DECIMAL && fmt <= MSGID_KEYED_UUID ? keyed_names[fmt] : NULL;
}

/* v in `base` (10 or 16, upper case), at least `width` digits, at out;
 * the length. Each base by its own constant (a multiply and shifts, not
 * a division), decimal two digits a step. */
static int digits(char *out, unsigned long long v, unsigned base, int width)
{
    static const char dig[] = "0123456789ABCDEF";
    static const char pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    char tmp[24];
    int n = 24, k;
    if (base == 16) {
        do {
            tmp[--n] = dig[v & 15];
            v >>= 4;
        } while (v);
    } else {
        while (v >= 100) {
            unsigned r = (unsigned)(v % 100);
            v /= 100;
            tmp[--n] = pairs[2 * r + 1];
            tmp[--n] = pairs[2 * r];
        }
        if (v >= 10) {
            tmp[--n] = pairs[2 * v + 1];
            tmp[--n] = pairs[2 * v];
        } else {
            tmp[--n] = (char)('0' + v);
        }
    }
    k = 24 - n;
    if (k < width) {
        memset(out, '0', (size_t)(width - k));
        memcpy(out + width - k, tmp + n, (size_t)k);
        return width;
    }
    memcpy(out, tmp + n, (size_t)k);
    return k;
}

/* Runs for every message the SMSC and the gateway answer: written by hand,
 * snprintf costs ten times as much. */
int msgid_keyed_make(int fmt, unsigned long long node, unsigned long long key, char *out, size_t cap)
{
    int n = 0, i;
    if (node == 0 || node > 0xFFFFFFFFULL || cap < MSGID_KEYED_MAX) return -1;
    switch (fmt) {
    case MSGID_KEYED_DECIMAL:
        n = digits(out, node, 10, 10);
        n += digits(out + n, key, 10, 10);
        break;
    case MSGID_KEYED_HEX:
        n = digits(out, node, 16, 8);
        n += digits(out + n, key, 16, 8);
        break;
    case MSGID_KEYED_UUID:
        n = digits(out, node, 16, 8);
        out[n++] = '-';
        n += digits(out + n, key >> 48, 16, 4);
        memcpy(out + n, "-4000-8000-", 11);
        n += 11;
        n += digits(out + n, key & 0xFFFFFFFFFFFFULL, 16, 12);
        for (i = 0; i < n; i++)              /* lower case */
            if (out[i] >= 'A' && out[i] <= 'F') out[i] = (char)(out[i] - 'A' + 'a');
        break;
    default:
        return -1;
    }
    out[n] = '\0';
    return n;
}

/* The digits s[0..n) in base (10 or 16, either case) as a number; -1 for
 * anything else or past 2^64 - 1. */
static int number(const char *s, size_t n, int base, unsigned long long *out)
{
    unsigned long long v = 0;
    size_t i;
    if (n == 0) return -1;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int d = c >= '0' && c <= '9' ? c - '0'
              : base == 16 && c >= 'a' && c <= 'f' ? c - 'a' + 10
              : base == 16 && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0 || v > (~0ULL - (unsigned long long)d) / (unsigned long long)base) return -1;
        v = v * (unsigned long long)base + (unsigned long long)d;
    }
    *out = v;
    return 0;
}

int msgid_keyed_read(int fmt, const char *id, size_t n, unsigned long long *node, unsigned long long *key)
{
    char again[MSGID_KEYED_MAX];
    unsigned long long nd, k, hi;
    size_t i;
    switch (fmt) {
    case MSGID_KEYED_DECIMAL:
        if (n < 20 || number(id, 10, 10, &nd) < 0 || number(id + 10, n - 10, 10, &k) < 0) return -1;
        break;
    case MSGID_KEYED_HEX:
        if (n < 16 || number(id, 8, 16, &nd) < 0 || number(id + 8, n - 8, 16, &k) < 0) return -1;
        break;
    case MSGID_KEYED_UUID:
        if (n != 36 || id[8] != '-' || number(id, 8, 16, &nd) < 0 || number(id + 9, 4, 16, &hi) < 0
            || number(id + 24, 12, 16, &k) < 0)
            return -1;
        k |= hi << 48;
        break;
    default:
        return -1;
    }
    /* only what make writes: no other padding, separators or lengths */
    if (msgid_keyed_make(fmt, nd, k, again, sizeof again) != (int)n) return -1;
    for (i = 0; i < n; i++) {
        unsigned char a = (unsigned char)id[i], b = (unsigned char)again[i];
        if (a >= 'A' && a <= 'Z') a = (unsigned char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z') b = (unsigned char)(b - 'A' + 'a');
        if (a != b) return -1;
    }
    *node = nd;
    *key = k;
    return 0;
}

/* -- Keys of upstream ids ----------------------------------------------------- */

int msgid_format(const char *name)
{
    if (!name || strcmp(name, "string") == 0) return MSGID_STRING;
    if (strcmp(name, "decimal") == 0) return MSGID_DECIMAL;
    if (strcmp(name, "hex") == 0) return MSGID_HEX;
    if (strcmp(name, "normalized") == 0) return MSGID_NORMALIZED;
    return -1;
}

/* What trimming removes: white space and NUL octets (padding some SMSCs
 * leave in fixed-size fields). */
static int blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' || c == '\0';
}

static int digit(unsigned char c, int base)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (base == 16 && c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* The hex digits s[0..n) (lower case, no leading zero) in decimal into out;
 * its length. Little-endian base-10^9 limbs, so any length is exact. */
static long hex_to_decimal(const char *s, size_t n, char *out, size_t cap)
{
    unsigned long limb[MSGID_NUMBER_MAX / 7 + 2];    /* 16^256 < 10^(9 * 38) */
    size_t nl = 1, i, j, len = 0;
    limb[0] = 0;
    for (i = 0; i < n; i++) {
        unsigned long carry = (unsigned long)digit((unsigned char)s[i], 16);
        for (j = 0; j < nl; j++) {
            unsigned long v = limb[j] * 16 + carry;
            limb[j] = v % 1000000000UL;
            carry = v / 1000000000UL;
        }
        if (carry) limb[nl++] = carry;
    }
    /* the top limb without padding, the others with 9 digits each */
    for (j = nl; j-- > 0;) {
        char tmp[10];
        int k = 0;
        unsigned long v = limb[j];
        do {
            tmp[k++] = (char)('0' + v % 10);
            v /= 10;
        } while (v && k < 9);
        if (j + 1 < nl) while (k < 9) tmp[k++] = '0';
        if (len + (size_t)k + 1 > cap) return -1;
        while (k > 0) out[len++] = tmp[--k];
    }
    out[len] = '\0';
    return (long)len;
}

/* id[*a..*b) trimmed of blanks at both ends. */
static void trim(const char *id, size_t *a, size_t *b)
{
    while (*a < *b && blank((unsigned char)id[*a])) (*a)++;
    while (*b > *a && blank((unsigned char)id[*b - 1])) (*b)--;
}

/* id[a..b) is a number of the declared format's base (either case). */
static int is_number(const char *id, size_t a, size_t b, int fmt)
{
    int base = fmt == MSGID_HEX ? 16 : 10;
    size_t i;
    if ((fmt != MSGID_HEX && fmt != MSGID_DECIMAL) || a == b) return 0;
    for (i = a; i < b; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
        if (digit(c, base) < 0) return 0;
    }
    return 1;
}

int msgid_key_written(const char *id, size_t n, int fmt)
{
    size_t a = 0, b = n;
    if (fmt == MSGID_NORMALIZED) return 0;
    trim(id, &a, &b);
    return !is_number(id, a, b, fmt);
}

long msgid_key(const char *id, size_t n, int fmt, char *out, size_t cap)
{
    size_t a = 0, b = n, i, len = 0;
    int number;
    trim(id, &a, &b);
    number = is_number(id, a, b, fmt);
    if (!number && fmt != MSGID_NORMALIZED) {       /* as written */
        if (cap < b - a + 1) return -1;
        memcpy(out, id + a, b - a);
        out[b - a] = '\0';
        return (long)(b - a);
    }
    /* a number, or normalized: leading zeros dropped, lower case */
    if (a < b) {
        size_t z = a;
        while (z < b && id[z] == '0') z++;
        if (z == b) z = b - 1;                  /* "000" -> "0" */
        a = z;
    }
    if (cap < b - a + 1) return -1;
    for (i = a; i < b; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
        out[len++] = (char)c;
    }
    out[len] = '\0';
    /* decimal digits without leading zeros are their own decimal form */
    if (!number || fmt != MSGID_HEX || len == 0 || len > MSGID_NUMBER_MAX) return (long)len;
    {
        char digits[MSGID_NUMBER_MAX + 1];
        memcpy(digits, out, len);
        return hex_to_decimal(digits, len, out, cap);
    }
}
