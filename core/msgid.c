/* msgid.c -- message id keys (see msgid.h): normalising, and reading a
 * declared decimal or hex id as one number, exact at any length.
 */
#include <string.h>

#include "msgid.h"

int msgid_format(const char *name)
{
    if (!name || strcmp(name, "string") == 0) return MSGID_STRING;
    if (strcmp(name, "decimal") == 0) return MSGID_DECIMAL;
    if (strcmp(name, "hex") == 0) return MSGID_HEX;
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

long msgid_key(const char *id, size_t n, int fmt, char *out, size_t cap)
{
    size_t a = 0, b = n, i, len = 0;
    int base = fmt == MSGID_HEX ? 16 : 10, number = fmt == MSGID_HEX || fmt == MSGID_DECIMAL;
    while (a < b && blank((unsigned char)id[a])) a++;
    while (b > a && blank((unsigned char)id[b - 1])) b--;
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
        if (number && digit(c, base) < 0) number = 0;
        out[len++] = (char)c;
    }
    out[len] = '\0';
    /* decimal digits without leading zeros are their own decimal form */
    if (!number || len == 0 || base == 10 || len > MSGID_NUMBER_MAX) return (long)len;
    {
        char digits[MSGID_NUMBER_MAX + 1];
        memcpy(digits, out, len);
        return hex_to_decimal(digits, len, out, cap);
    }
}
