/* msgid.h -- message ids: the ids this program issues, made from a
 * store's node id and a message's key and read back into them (one set of
 * formats for the reference SMSC and the gateway), and the key an
 * upstream's message id is matched by, in the format the upstream
 * declares (upstreams[].id_format): "string" (the default) is the id as
 * written, trimmed and nothing else ("msg1" and "MSG1", "01" and "1" are
 * four ids); "decimal" and "hex" read an id that is a number of that base
 * as that number, written in decimal, so that "00123", decimal "123" and
 * hex "7B" share the key "123" (an id that is no such number is matched
 * as written); "normalized" is the id trimmed, in lower case, leading
 * zeros dropped (what "string" was before schema 9 of the store). Nothing
 * is ever guessed between bases: only the declared format is read. Pure
 * C; the gateway's receipt matching (rt_gw_rcpt.c) and smpp.msgid.key
 * (Lua, through smpp.codec) both use it, so the rule lives here only.
 */
#ifndef SMPPGW_MSGID_H
#define SMPPGW_MSGID_H

#include <stddef.h>

/* -- Ids we issue: node id and key ------------------------------------------ */

/* The formats of the ids we issue (gateway.own_id_format, smsc.message_id).
 * Each is made from a store's node id (1 .. 2^32-1, random, made with the
 * store) and a message's key (the store's counter, never handed out
 * twice), and reads back into both without an index:
 *
 *   decimal  20 digits and more: the node in 10 digits, then the key in
 *            10 (more past 9,999,999,999), e.g. 40000000010000000042
 *   hex      16 upper-case hex digits and more: the node in 8, then the
 *            key in 8 (more past 2^32), e.g. EE6B28010000002A
 *   uuid     36 characters, lower case, the version 4 layout: the node in
 *            the first 8 hex digits, bits 48-63 of the key in the next 4,
 *            then 4000-8000, then bits 0-47 of the key in the last 12,
 *            e.g. ee6b2801-0000-4000-8000-00000000002a
 *
 * Reading accepts upper and lower case and nothing that make would not
 * write (so one id is never read two ways). The node leads in a fixed
 * width, so the ids of two stores never meet; ids of one format never read
 * as another's of the same node. */
enum { MSGID_KEYED_DECIMAL = 1, MSGID_KEYED_HEX = 2, MSGID_KEYED_UUID = 3 };   /* 0: none */

/* The longest id make writes (uuid 36, decimal 10 + 19), and room for it. */
#define MSGID_KEYED_MAX 40

/* The format named "decimal", "hex" or "uuid", or -1. */
int msgid_keyed_format(const char *name);

/* Its name. */
const char *msgid_keyed_name(int fmt);

/* The id of (node, key) in fmt into out (cap >= MSGID_KEYED_MAX octets,
 * NUL-terminated). Returns its length, or -1 for a bad format or node
 * (0 or >= 2^32). */
int msgid_keyed_make(int fmt, unsigned long long node, unsigned long long key, char *out, size_t cap);

/* Read id[0..n) in fmt: 0 with *node and *key set, or -1 when it is no id
 * make writes in that format. */
int msgid_keyed_read(int fmt, const char *id, size_t n, unsigned long long *node, unsigned long long *key);

/* -- Keys of upstream ids ---------------------------------------------------- */

enum { MSGID_STRING = 0, MSGID_DECIMAL = 1, MSGID_HEX = 2, MSGID_NORMALIZED = 3 };

/* The format named "string", "decimal", "hex" or "normalized", or -1. */
int msgid_format(const char *name);

/* The longest id read as a number (longer ones keep their normalised form:
 * no upstream issues ids of 256 digits). */
#define MSGID_NUMBER_MAX 256

/* The key of id[0..n) in `fmt` into out (cap octets, NUL-terminated).
 * cap >= 2 * n + 2 always suffices. Returns the key's length, or -1 when
 * cap is too small. */
long msgid_key(const char *id, size_t n, int fmt, char *out, size_t cap);

/* 1 when the key of id[0..n) in fmt is the id as written (trimmed):
 * "string", or an id that is no number of a declared base; 0 when it is
 * a number's canonical form or normalized. */
int msgid_key_written(const char *id, size_t n, int fmt);

#endif /* SMPPGW_MSGID_H */
