/* dlr.h -- delivery receipts (SMPP 3.4 Appendix B): which deliver_sm is
 * one, the states and their stat words, and how a receipt's text is split
 * into labelled fields. Pure C, no allocation. The one place for these
 * rules: the gateway's receipt matching (rt_gw_rcpt.c) reads receipts with
 * it, and smpp.receipt (Lua) reads the same tables and fields through
 * smpp.codec.
 */
#ifndef SMPPGW_DLR_H
#define SMPPGW_DLR_H

#include <stddef.h>
#include <stdint.h>

/* X(word, message_state, final): the stat words SMSCs write, the standard
 * 7-letter ones first (the word a state is written as), then the state
 * names some SMSCs write instead. UNKNOWN counts as final: an SMSC that
 * says it does not know will not say more later. */
#define DLR_STATE_MAP(X) \
    X("ENROUTE", 1, 0) \
    X("DELIVRD", 2, 1) \
    X("EXPIRED", 3, 1) \
    X("DELETED", 4, 1) \
    X("UNDELIV", 5, 1) \
    X("ACCEPTD", 6, 1) \
    X("UNKNOWN", 7, 1) \
    X("REJECTD", 8, 1) \
    X("SCHEDULED", 0, 0) \
    X("DELIVERED", 2, 1) \
    X("UNDELIVERABLE", 5, 1) \
    X("ACCEPTED", 6, 1) \
    X("REJECTED", 8, 1) \
    X("SKIPPED", 9, 1)
#define DLR_STAT_WORDS 8    /* the first rows: the word each state 1..8 is written as */

/* Is a deliver_sm / data_sm with this esm_class a receipt (message type
 * 0x04 SMSC delivery receipt, or 0x20 intermediate notification)? */
static inline int dlr_is_receipt(uint32_t esm_class)
{
    return (esm_class & 0x3C) == 0x04 || (esm_class & 0x3C) == 0x20;
}

/* The message_state a stat word (any case) names, or -1. */
int dlr_state_of(const char *word, size_t n);

/* The 7-letter stat word of a message_state, or NULL (0 and 9 have none). */
const char *dlr_stat_of(int state);

/* Whether no receipt is expected after this message_state. */
int dlr_is_final(int state);

/* The i-th row of DLR_STATE_MAP (word, state, final); 0 past the end. */
int dlr_state_at(size_t i, const char **word, int *state, int *final);

/* One "label:value" of a receipt text. label is lower case without '_'
 * or '-' ("submit date:" gives "submitdate"), NUL-terminated, in a buffer
 * valid during the call; value points into the text (value_at: its offset,
 * so a caller can rewrite it). Return non-zero to stop. */
typedef int (*dlr_field_fn)(const char *label, const char *value, size_t vlen, size_t value_at, void *ud);

/* Split the receipt text s[0..n) into its fields, in order, up to its
 * "text:" (dlr_text). The rules (tolerant: what SMSCs send varies): labels
 * in any case and order; a label is the part of a white-space-separated
 * word before its first ':'; "id: 123" (a space after the colon) takes the
 * next word when it has no ':'. Returns the number of fields. */
int dlr_fields(const char *s, size_t n, dlr_field_fn fn, void *ud);

/* The "text:" field: the last one, holding anything, colons included
 * (its label at the start or after white space). Returns 1 with where its
 * value starts and its length (trailing NULs left out), or 0. */
int dlr_text(const char *s, size_t n, size_t *start, size_t *len);

/* The first id, stat and err of a receipt text (absent: NULL / 0 length;
 * id_at is where the id's value starts). */
typedef struct dlr_text_s {
    const char *id, *stat, *err;
    size_t      id_len, stat_len, err_len, id_at;
} dlr_text_t;
void dlr_read(const char *s, size_t n, dlr_text_t *out);

#endif /* SMPPGW_DLR_H */
