/* dlr.c -- delivery receipts: the stat words, and the receipt text split
 * into labelled fields (see dlr.h for the rules).
 */
#include <string.h>

#include "dlr.h"

/* -- States ------------------------------------------------------------------------ */

static const struct {
    const char *word;
    int         state, final;
} states[] = {
#define X(word, state, final) {word, state, final},
    DLR_STATE_MAP(X)
#undef X
};
#define NSTATES (sizeof states / sizeof states[0])

static unsigned char upper(unsigned char c) { return c >= 'a' && c <= 'z' ? (unsigned char)(c - 32) : c; }
static unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c; }

int dlr_state_of(const char *word, size_t n)
{
    size_t i, k;
    for (i = 0; i < NSTATES; i++) {
        const char *w = states[i].word;
        if (strlen(w) != n) continue;
        for (k = 0; k < n && upper((unsigned char)word[k]) == (unsigned char)w[k]; k++) {}
        if (k == n) return states[i].state;
    }
    return -1;
}

const char *dlr_stat_of(int state)
{
    size_t i;
    for (i = 0; i < DLR_STAT_WORDS; i++)
        if (states[i].state == state) return states[i].word;
    return NULL;
}

int dlr_is_final(int state)
{
    size_t i;
    for (i = 0; i < NSTATES; i++)
        if (states[i].state == state) return states[i].final;
    return 0;
}

int dlr_state_at(size_t i, const char **word, int *state, int *final)
{
    if (i >= NSTATES) return 0;
    *word = states[i].word;
    *state = states[i].state;
    *final = states[i].final;
    return 1;
}

/* -- Fields --------------------------------------------------------------------------- */

/* White space as Lua's %s: the text is split into words on it (a table:
 * one load per octet of the walk over a receipt's words). */
static const unsigned char spaces[256] = { ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1, [' '] = 1,
                                           [':'] = 2 };     /* 2: the colon, which dlr_read stops at too */
static int space(unsigned char c) { return spaces[c] == 1; }

/* Where "text:" starts (at the start, or after white space), or n: the
 * first colon that ends such a label (found with memchr, not a test at
 * every octet: the text before it holds a few labels). */
static size_t text_label(const char *s, size_t n)
{
    const char *c = s, *end = s + n;
    while (c < end && (c = memchr(c, ':', (size_t)(end - c))) != NULL) {
        size_t i = (size_t)(c - s);
        if (i >= 4 && (i == 4 || space((unsigned char)s[i - 5])) && lower((unsigned char)s[i - 4]) == 't'
            && lower((unsigned char)s[i - 3]) == 'e' && lower((unsigned char)s[i - 2]) == 'x'
            && lower((unsigned char)s[i - 1]) == 't')
            return i - 4;
        c++;
    }
    return n;
}

/* The next word of s[*pos..end): its start and length, 0 at the end. */
static size_t next_word(const char *s, size_t end, size_t *pos, size_t *start)
{
    size_t i = *pos, j;
    while (i < end && space((unsigned char)s[i])) i++;
    for (j = i; j < end && !space((unsigned char)s[j]); j++) {}
    *start = i;
    *pos = j;
    return j - i;
}

int dlr_fields(const char *s, size_t n, dlr_field_fn fn, void *ud)
{
    size_t head = text_label(s, n), pos = 0, at, len;
    char label[256], prev[8];
    int count = 0, stop = 0;
    prev[0] = '\0';
    while (!stop && (len = next_word(s, head, &pos, &at)) > 0) {
        const char *w = s + at, *colon = memchr(w, ':', len);
        const char *value;
        size_t vlen, value_at, k, l = 0;
        if (!colon) {
            /* a word without a label: remembered for "submit date:" */
            for (k = 0; k < len && k + 1 < sizeof prev; k++) prev[k] = (char)lower((unsigned char)w[k]);
            prev[k < len ? 0 : k] = '\0';
            continue;
        }
        for (k = 0; w + k < colon && l + 1 < sizeof label; k++)
            if (w[k] != '_' && w[k] != '-') label[l++] = (char)lower((unsigned char)w[k]);
        label[l] = '\0';
        if (strcmp(label, "date") == 0 && (strcmp(prev, "submit") == 0 || strcmp(prev, "done") == 0)) {
            memmove(label + strlen(prev), label, l + 1);
            memcpy(label, prev, strlen(prev));
        }
        prev[0] = '\0';
        value = colon + 1;
        vlen = len - (size_t)(value - w);
        value_at = (size_t)(value - s);
        if (vlen == 0) {
            /* "id: 123": the next word, unless it is a label of its own */
            size_t p2 = pos, at2, len2 = next_word(s, head, &p2, &at2);
            if (len2 > 0 && !memchr(s + at2, ':', len2)) {
                value = s + at2;
                vlen = len2;
                value_at = at2;
                pos = p2;
            }
        }
        if (l == 0) continue;
        count++;
        stop = fn && fn(label, value, vlen, value_at, ud);
    }
    return count;
}

int dlr_text(const char *s, size_t n, size_t *start, size_t *len)
{
    size_t at = text_label(s, n), end = n;
    if (at == n) return 0;
    *start = at + 5;
    while (end > *start && s[end - 1] == '\0') end--;
    *len = end - *start;
    return 1;
}

/* Whether the label w[0..len) reads as `want` (lower case) once made as
 * dlr_fields makes labels: any case, '_' and '-' left out, and ended by
 * a NUL (dlr_fields' label is a C string: "err\0\0:5" is err's). */
static int label_is(const char *w, size_t len, const char *want)
{
    size_t k;
    for (k = 0; k < len; k++) {
        unsigned char c = (unsigned char)w[k];
        if (c == '\0') break;                                  /* never past want's end */
        if (c == '_' || c == '-') continue;
        if (lower(c) != (unsigned char)*want) return 0;        /* also past want's end (c != 0) */
        want++;
    }
    return *want == '\0';
}

/* dlr_fields' walk with its rules, for the three fields a receipt is
 * matched and rewritten by: no label copied, no call per field, done once
 * all three are found (the first of each counts). A label "submit date"
 * makes ("submitdate") is none of them, so the words before are not kept.
 * Only words with a colon count, so the walk goes from colon to colon
 * (memchr): a colon is its word's first when the octets before it back to
 * white space (or the start) hold no other; the word ends at white space.
 * A word "text:" (the label "text" in any case) ends the walk; "id: 123"
 * takes the next word when it has no colon (only the three's values are
 * read: taking a word without a colon changes nothing for the others). */
void dlr_read(const char *s, size_t n, dlr_text_t *out)
{
    const char *end = s + n, *c = s, *w, *value, *e;
    size_t ll, vlen;
    unsigned char c0;
    int k;
    memset(out, 0, sizeof *out);
    while (c < end && (c = memchr(c, ':', (size_t)(end - c))) != NULL) {
        for (w = c; w > s && spaces[(unsigned char)w[-1]] == 0; w--) {}
        if (w > s && w[-1] == ':') {                      /* in a value: not a label */
            c++;
            continue;
        }
        ll = (size_t)(c - w);
        if (ll == 4 && lower((unsigned char)w[0]) == 't' && lower((unsigned char)w[1]) == 'e'
            && lower((unsigned char)w[2]) == 'x' && lower((unsigned char)w[3]) == 't')
            break;
        /* which of the three it may be: its first octet tells, but for
         * '_' and '-' (left out of labels); the others' values are not
         * walked (a colon in one is found in a value above) */
        c0 = ll ? lower((unsigned char)w[0]) : 0;
        k = 0;
        if ((c0 == 'i' || c0 == '_' || c0 == '-') && !out->id && label_is(w, ll, "id")) k = 1;
        else if ((c0 == 's' || c0 == '_' || c0 == '-') && !out->stat && label_is(w, ll, "stat")) k = 2;
        else if ((c0 == 'e' || c0 == '_' || c0 == '-') && !out->err && label_is(w, ll, "err")) k = 3;
        value = c + 1;
        c = value;
        if (!k) continue;
        for (e = value; e < end && spaces[(unsigned char)*e] != 1; e++) {}   /* to the word's end */
        vlen = (size_t)(e - value);
        c = e;
        if (vlen == 0) {
            /* "id: 123": the next word, unless it is a label of its own */
            const char *b = e, *f;
            while (b < end && spaces[(unsigned char)*b] == 1) b++;
            for (f = b; f < end && spaces[(unsigned char)*f] == 0; f++) {}
            if (f > b && (f == end || spaces[(unsigned char)*f] == 1)) {
                value = b;
                vlen = (size_t)(f - b);
                c = f;
            }
        }
        if (k == 1) {
            out->id = value;
            out->id_len = vlen;
            out->id_at = (size_t)(value - s);
        } else if (k == 2) {
            out->stat = value;
            out->stat_len = vlen;
        } else {
            out->err = value;
            out->err_len = vlen;
        }
        if (out->id && out->stat && out->err) break;
    }
}
