/* msgid.h -- the key an upstream's message id is matched by: the id
 * normalised (trimmed, lower case, leading zeros dropped) and, when the
 * upstream declares its ids decimal or hex (upstreams[].id_format), read as
 * a number in that base and written in decimal, so that "00123", decimal
 * "123" and hex "7B" share the key "123". Nothing is ever guessed between
 * bases: only the declared format is read. Pure C; the gateway's receipt
 * matching (rt_gw_rcpt.c) and smpp.msgid.key (Lua, through smpp.codec)
 * both use it, so the rule lives here only.
 */
#ifndef SMPPGW_MSGID_H
#define SMPPGW_MSGID_H

#include <stddef.h>

enum { MSGID_STRING = 0, MSGID_DECIMAL = 1, MSGID_HEX = 2 };

/* The format named "string", "decimal" or "hex", or -1. */
int msgid_format(const char *name);

/* The longest id read as a number (longer ones keep their normalised form:
 * no upstream issues ids of 256 digits). */
#define MSGID_NUMBER_MAX 256

/* The key of id[0..n) in `fmt` into out (cap octets, NUL-terminated).
 * cap >= 2 * n + 2 always suffices. Returns the key's length, or -1 when
 * cap is too small. An id that is not a number of its declared base keeps
 * its normalised form (it can still match itself exactly). */
long msgid_key(const char *id, size_t n, int fmt, char *out, size_t cap);

#endif /* SMPPGW_MSGID_H */
