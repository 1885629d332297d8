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

/* White space as Lua's %s: the text is split into words on it. */
static int space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

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

static int read_field(const char *label, const char *value, size_t vlen, size_t value_at, void *ud)
{
    dlr_text_t *t = ud;
    if (!t->id && strcmp(label, "id") == 0) {
        t->id = value;
        t->id_len = vlen;
        t->id_at = value_at;
    } else if (!t->stat && strcmp(label, "stat") == 0) {
        t->stat = value;
        t->stat_len = vlen;
    } else if (!t->err && strcmp(label, "err") == 0) {
        t->err = value;
        t->err_len = vlen;
    }
    return 0;
}

void dlr_read(const char *s, size_t n, dlr_text_t *out)
{
    memset(out, 0, sizeof *out);
    dlr_fields(s, n, read_field, out);
}
