/* pdu.c -- SMPP 3.4 PDU decoder and encoder, driven by the smpp.def tables.
 * No I/O, no allocation: decoded strings point into the caller's buffer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pdu.h"

#define BIT(id) ((uint64_t)1 << (id))

/* Sizes of the strings inside submit_multi's list entries, from their
 * rows in smpp.def (NUL included). */
#define PICK(ID, max) + (PDU_F_##ID == PICKED ? (max) : 0)
enum {
#define PICKED PDU_F_DESTINATION_ADDR
    SME_ADDR_MAX = 0 SMPP_ENTRY_SME_ADDRESS(PICK),
    UNSUCC_ADDR_MAX = 0 SMPP_ENTRY_UNSUCCESS(PICK),
#undef PICKED
#define PICKED PDU_F_DL_NAME
    DL_NAME_MAX = 0 SMPP_ENTRY_DL_NAME(PICK)
#undef PICKED
};
#undef PICK

/* -- Helpers ---------------------------------------------------------------- */

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* Only zero octets from b to end (padding after the last TLV). */
static int all_zero(const uint8_t *b, const uint8_t *end) { while (b < end && !*b) b++; return b == end; }

/* Store v big-endian at o (the compiler makes it one swapped store). */
static inline void be32_put(uint8_t *o, uint32_t v)
{
    o[0] = (uint8_t)(v >> 24);
    o[1] = (uint8_t)(v >> 16);
    o[2] = (uint8_t)(v >> 8);
    o[3] = (uint8_t)v;
}

/* Big-endian unsigned of 0..4 octets (TLV integers). */
static uint32_t be_n(const uint8_t *p, size_t n) { uint32_t v = 0; while (n--) v = v << 8 | *p++; return v; }

/* Record an error and return its status; every failure path goes through
 * here so that the message always names the field. */
static uint32_t fail(pdu_error_t *err, uint32_t status, const char *field,
                     const char *fmt, ...)
{
    va_list ap;
    err->status = status;
    err->field = field;
    err->need = 0;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return status;
}

static const char *tlv_label(uint16_t tag, char *buf, size_t n)
{
    const pdu_tlv_def_t *d = pdu_tlv_info(tag);
    if (d) return d->name;
    snprintf(buf, n, "0x%04X", tag);
    return buf;
}

/* -- Decoding --------------------------------------------------------------- */

long pdu_frame(const uint8_t *data, size_t avail, uint32_t max_len)
{
    uint32_t len;
    if (avail < 4) return 0;
    if (!max_len) max_len = PDU_DEFAULT_MAX_LEN;
    len = be32(data);
    if (len < PDU_HEADER_LEN || len > max_len) return -1;
    return avail >= len ? (long)len : 0;
}

enum { CSTR_OK, CSTR_SHORT, CSTR_NONUL };

/* The index of the first NUL in s[0..lim), or lim. No libc call: these
 * strings are short (max 65), and a call per field costs more than the
 * scan. Eight octets at a time while eight are left: the lowest octet
 * the test flags is the first NUL (a borrow flags only octets above one). */
static inline __attribute__((always_inline)) size_t nul_at(const uint8_t *s, size_t lim)
{
    size_t i = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; lim - i >= 8; i += 8) {
        uint64_t v, z;
        memcpy(&v, s + i, 8);
        if ((z = (v - 0x0101010101010101ull) & ~v & 0x8080808080808080ull) != 0)
            return i + ((size_t)__builtin_ctzll(z) >> 3);
    }
#endif
    while (i < lim && s[i]) i++;
    return i;
}

/* Take a C-Octet String of at most `max` octets (NUL included) at *b. */
static inline __attribute__((always_inline)) int
take_cstr(const uint8_t **b, const uint8_t *end, unsigned max, const uint8_t **ptr, uint32_t *len)
{
    size_t room = (size_t)(end - *b), lim = room < max ? room : max, i;
    const uint8_t *s = *b;
    if ((i = nul_at(s, lim)) == lim) return room < max ? CSTR_SHORT : CSTR_NONUL;
    *ptr = s;
    *len = (uint32_t)i;
    *b = s + i + 1;
    return CSTR_OK;
}

/* Decode one list entry string of at most `max` octets, mapping
 * take_cstr's result to a status. */
static uint32_t entry_cstr(const uint8_t **b, const uint8_t *end, pdu_field_id_t id, unsigned max,
                           pdu_addr_t *a, pdu_error_t *err)
{
    const pdu_field_t *fd = pdu_field_info(id);
    const uint8_t *ptr;
    uint32_t len;
    switch (take_cstr(b, end, max, &ptr, &len)) {
    case CSTR_SHORT:
        return fail(err, SMPP_ESME_RINVCMDLEN, fd->name, "body ends inside %s", fd->name);
    case CSTR_NONUL:
        return fail(err, fd->status, fd->name, "%s has no NUL within %u octets", fd->name, max);
    }
    a->addr = ptr;
    a->len = (uint8_t)len;
    return SMPP_ESME_ROK;
}

static uint32_t decode_dests(pdu_t *p, const uint8_t **b, const uint8_t *end,
                             uint32_t count, pdu_error_t *err)
{
    uint32_t i, st;
    if (count == 0 || count > PDU_MAX_ADDRS)
        return fail(err, SMPP_ESME_RINVNUMDESTS, "number_of_dests",
                    "number_of_dests is %u, must be 1..%d", count, PDU_MAX_ADDRS);
    for (i = 0; i < count; i++) {
        pdu_addr_t *a = &p->addr[i];
        if (end - *b < 2)
            return fail(err, SMPP_ESME_RINVCMDLEN, "dest_address", "body ends inside dest_address %u", i + 1);
        memset(a, 0, sizeof *a);
        a->dest_flag = *(*b)++;
        if (a->dest_flag == 1) {
            if (end - *b < 3)
                return fail(err, SMPP_ESME_RINVCMDLEN, "dest_address", "body ends inside dest_address %u", i + 1);
            a->ton = *(*b)++;
            a->npi = *(*b)++;
            if ((st = entry_cstr(b, end, PDU_F_DESTINATION_ADDR, SME_ADDR_MAX, a, err))) return st;
        } else if (a->dest_flag == 2) {
            if ((st = entry_cstr(b, end, PDU_F_DL_NAME, DL_NAME_MAX, a, err))) return st;
        } else {
            return fail(err, SMPP_ESME_RINVDESTFLAG, "dest_flag",
                        "dest_address %u has dest_flag %u, must be 1 or 2", i + 1, a->dest_flag);
        }
        p->naddr = (uint16_t)(i + 1);
    }
    return SMPP_ESME_ROK;
}

static uint32_t decode_unsucc(pdu_t *p, const uint8_t **b, const uint8_t *end,
                              uint32_t count, pdu_error_t *err)
{
    uint32_t i, st;
    if (count > PDU_MAX_ADDRS)
        return fail(err, SMPP_ESME_RINVCMDLEN, "no_unsuccess",
                    "no_unsuccess is %u, above %d", count, PDU_MAX_ADDRS);
    for (i = 0; i < count; i++) {
        pdu_addr_t *a = &p->addr[i];
        if (end - *b < 3)
            return fail(err, SMPP_ESME_RINVCMDLEN, "unsuccess_sme", "body ends inside unsuccess_sme %u", i + 1);
        memset(a, 0, sizeof *a);
        a->ton = *(*b)++;
        a->npi = *(*b)++;
        if ((st = entry_cstr(b, end, PDU_F_DESTINATION_ADDR, UNSUCC_ADDR_MAX, a, err))) return st;
        if (end - *b < 4)
            return fail(err, SMPP_ESME_RINVCMDLEN, "error_status_code", "body ends inside unsuccess_sme %u", i + 1);
        a->error_status_code = be32(*b);
        *b += 4;
        p->naddr = (uint16_t)(i + 1);
    }
    return SMPP_ESME_ROK;
}

/* A time field holds "" or 16 characters; final_date may also be the short
 * 12-character form some SMSCs report (reference section 8). */
static int time_len_ok(pdu_field_id_t id, uint32_t len)
{
    return len == 0 || len == 16 || (id == PDU_F_FINAL_DATE && len == 12);
}

/* The present bits of the slots before `upto` (a body refused there). */
static uint64_t slots_before(const pdu_slot_t *s, const pdu_slot_t *upto)
{
    uint64_t present = 0;
    for (; s < upto; s++) present |= BIT(s->id);
    return present;
}

/* Each field's kind as a constant, for the bodies decoded by name. */
enum {
#define FIELD(ID, name, kind, status) KIND_OF_##ID = PDU_KIND_##kind,
#include "smpp.def"
#undef FIELD
};

/* decode_slot's answer for a body that ends inside the field. */
#define SLOT_SHORT 0xFFFFFFFFu

/* One mandatory field (id, max, kind of its slot) at *bp: 0, or
 * SLOT_SHORT, or the status of a refusal (err set). *count is the last
 * length or count read (sm_length, number_of_dests...). Inlined in the
 * loop over any body's slots and, with constants, in the bodies decoded
 * by name (decode_sm): the same steps and refusals either way. */
static inline __attribute__((always_inline)) uint32_t
decode_slot(pdu_t *p, const uint8_t **bp, const uint8_t *end, unsigned id, unsigned max, unsigned kind,
            uint32_t *count, pdu_error_t *err)
{
    const pdu_field_t *fd;              /* for the messages of refusals only */
    pdu_value_t *v = &p->f[id];
    const uint8_t *b = *bp, *q = b;
    uint32_t st;
    switch (kind) {
    case PDU_KIND_INT1:
        if (b >= end) return SLOT_SHORT;
        v->num = *b++;
        break;
    case PDU_KIND_SMLEN:
    case PDU_KIND_COUNT:
        if (b >= end) return SLOT_SHORT;
        v->num = *count = *b++;
        break;
    case PDU_KIND_INT4:
        if (end - b < 4) return SLOT_SHORT;
        v->num = be32(b);
        b += 4;
        break;
    case PDU_KIND_CSTR:
    case PDU_KIND_TIME:
        switch (take_cstr(&b, end, max, &v->ptr, &v->len)) {
        case CSTR_SHORT: return SLOT_SHORT;
        case CSTR_NONUL:
            fd = pdu_field_info((pdu_field_id_t)id);
            return fail(err, fd->status, fd->name, "%s has no NUL within %u octets", fd->name, max);
        }
        if (kind == PDU_KIND_TIME && !time_len_ok((pdu_field_id_t)id, v->len)) {
            fd = pdu_field_info((pdu_field_id_t)id);
            return fail(err, fd->status, fd->name,
                        "%s must be empty or 16 characters, got %u", fd->name, v->len);
        }
        break;
    case PDU_KIND_OSTR:
        if (*count > max)
            return fail(err, SMPP_ESME_RINVMSGLEN, "sm_length", "sm_length %u is above %u", *count, max);
        if (*count > (uint32_t)(end - b))
            return fail(err, SMPP_ESME_RINVMSGLEN, "sm_length",
                        "sm_length %u runs past the body (%u octets left)", *count, (unsigned)(end - b));
        v->ptr = b;
        v->len = *count;
        b += *count;
        break;
    case PDU_KIND_DESTS:            /* (a copy of b: b's address is taken only here) */
        if ((st = decode_dests(p, &q, end, *count, err))) return st;
        b = q;
        break;
    case PDU_KIND_UNSUCC:
        if ((st = decode_unsucc(p, &q, end, *count, err))) return st;
        b = q;
        break;
    }
    *bp = b;
    return 0;
}

/* The slot of field id in cmd's body (a refusal's message). */
static const pdu_slot_t *slot_of(const pdu_cmd_t *cmd, unsigned id)
{
    const pdu_slot_t *s = cmd->slots;
    while (s < cmd->slots + cmd->nslots - 1 && s->id != id) s++;
    return s;
}

/* submit_sm's and deliver_sm's body, the fields named one after the
 * other (no loop over the slots, each kind known where it is read):
 * 0, or decode_slot's answer with *at the slot it refused. */
static uint32_t decode_sm(pdu_t *p, const uint8_t **bp, const uint8_t *end, pdu_error_t *err,
                          const pdu_slot_t **at)
{
    const uint8_t *b = *bp;
    uint32_t count = 0, st;
#define DECODE(ID, max) \
    if ((st = decode_slot(p, &b, end, PDU_F_##ID, max, KIND_OF_##ID, &count, err)) != 0) { \
        *at = slot_of(p->cmd, PDU_F_##ID); \
        return st; \
    }
    SMPP_BODY_SM(DECODE)
#undef DECODE
    *bp = b;
    return 0;
}

/* The mandatory fields. `b` is a local whose address only the inlined
 * decode_slot takes, so it stays in a register; the present bits are set
 * once, for the whole body, when it was all read. */
static uint32_t decode_body(pdu_t *p, const uint8_t *b, const uint8_t *end, pdu_error_t *err)
{
    const pdu_cmd_t *cmd = p->cmd;
    const pdu_slot_t *s = cmd->slots, *last = cmd->slots + cmd->nslots;
    uint32_t count = 0, st;

    if (cmd == &pdu__cmds[PDU_CMD_SUBMIT_SM] || cmd == &pdu__cmds[PDU_CMD_DELIVER_SM]) {
        if ((st = decode_sm(p, &b, end, err, &s)) != 0) goto refused;
    } else {
        for (; s < last; s++)
            if ((st = decode_slot(p, &b, end, s->id, s->max, s->kind, &count, err)) != 0) goto refused;
    }
    p->present = cmd->body;

    /* The TLV area: whatever follows the mandatory fields; zero octets to the end
     * are padding, however many (some SMSCs pad to 4 or 8), never a TLV 0x0000. */
    while (end - b >= 4 && !all_zero(b, end)) {
        uint16_t tag = (uint16_t)(b[0] << 8 | b[1]);
        uint16_t len = (uint16_t)(b[2] << 8 | b[3]);
        const pdu_tlv_def_t *def = pdu_tlv_info(tag);
        char label[8];
        pdu_tlv_t *t;
        b += 4;
        if (len > end - b)
            return fail(err, SMPP_ESME_RINVOPTPARSTREAM, def ? def->name : NULL,
                        "TLV %s length %u runs past the body (%u octets left)",
                        tlv_label(tag, label, sizeof label), len, (unsigned)(end - b));
        if (def && (len < def->min || len > def->max))
            return fail(err, SMPP_ESME_RINVPARLEN, def->name,
                        "TLV %s has length %u, allowed %u..%u", def->name, len, def->min, def->max);
        if (p->ntlv == PDU_MAX_TLVS)
            return fail(err, SMPP_ESME_RINVOPTPARSTREAM, NULL, "more than %d TLVs", PDU_MAX_TLVS);
        t = &p->tlv[p->ntlv++];
        t->tag = tag;
        t->len = len;
        t->val = b;
        t->num = def && def->type == PDU_TLV_INT ? be_n(b, len) : 0;
        b += len;
    }
    /* 1-3 octets too few for a TLV header, or zero padding: only zeros pass. */
    for (; b < end; b++)
        if (*b)
            return fail(err, SMPP_ESME_RINVCMDLEN, NULL,
                        "%u stray octets after the last field or TLV", (unsigned)(end - b));

    if ((p->present & BIT(PDU_F_SHORT_MESSAGE)) && p->f[PDU_F_SHORT_MESSAGE].len > 0
        && pdu_tlv_find(p, SMPP_TLV_message_payload))
        return fail(err, SMPP_ESME_RINVMSGLEN, "message_payload",
                    "short_message and message_payload both carry data");
    return SMPP_ESME_ROK;

refused:
    if (st == SLOT_SHORT)
        st = fail(err, SMPP_ESME_RINVCMDLEN, pdu_field_info((pdu_field_id_t)s->id)->name,
                  "body ends inside %s", pdu_field_info((pdu_field_id_t)s->id)->name);
    p->present = slots_before(cmd->slots, s);
    return st;
}

uint32_t pdu_decode(pdu_t *p, const uint8_t *data, size_t len, uint32_t max_len,
                    pdu_error_t *err)
{
    pdu_error_t scratch;
    if (!err) err = &scratch;
    err->status = SMPP_ESME_ROK;
    err->field = NULL;
    err->msg[0] = '\0';
    p->command_length = p->command_id = p->command_status = p->sequence_number = 0;
    p->cmd = NULL;
    p->present = 0;
    p->ntlv = p->naddr = 0;
    p->raw = data;
    if (!max_len) max_len = PDU_DEFAULT_MAX_LEN;

    if (len < PDU_HEADER_LEN)
        return fail(err, SMPP_ESME_RINVCMDLEN, "command_length",
                    "%u octets: a PDU header alone is 16", (unsigned)len);
    p->command_length = be32(data);
    p->command_id = be32(data + 4);
    p->command_status = be32(data + 8);
    p->sequence_number = be32(data + 12);
    if (p->command_length < PDU_HEADER_LEN || p->command_length > max_len)
        return fail(err, SMPP_ESME_RINVCMDLEN, "command_length",
                    "command_length %u is outside 16..%u", p->command_length, max_len);
    if (p->command_length != len)
        return fail(err, SMPP_ESME_RINVCMDLEN, "command_length",
                    "command_length %u but %u octets given", p->command_length, (unsigned)len);
    p->cmd = pdu_cmd_find(p->command_id);
    if (!p->cmd)
        return fail(err, SMPP_ESME_RINVCMDID, "command_id",
                    "unknown command_id 0x%08X", p->command_id);
    /* Responses may omit their body (3.4 does so on errors; some ESMEs send a
     * 16-octet deliver_sm_resp): no field present then. */
    if (len == PDU_HEADER_LEN && (p->command_id & SMPP_RESPONSE_BIT))
        return SMPP_ESME_ROK;
    return decode_body(p, data + PDU_HEADER_LEN, data + len, err);
}

/* -- Building --------------------------------------------------------------- */

int pdu_init(pdu_t *p, uint32_t command_id, uint32_t sequence_number)
{
    p->command_length = 0;
    p->command_id = command_id;
    p->command_status = 0;
    p->sequence_number = sequence_number;
    p->present = 0;
    p->ntlv = p->naddr = 0;
    p->raw = NULL;
    p->cmd = pdu_cmd_find(command_id);
    return p->cmd ? 0 : PDU_EINVAL;
}

void pdu_set_int(pdu_t *p, pdu_field_id_t id, uint32_t value)
{
    p->f[id].num = value;
    p->f[id].ptr = NULL;
    p->f[id].len = 0;
    p->present |= BIT(id);
}

void pdu_set_str(pdu_t *p, pdu_field_id_t id, const uint8_t *ptr, size_t len)
{
    p->f[id].ptr = ptr;
    p->f[id].len = (uint32_t)len;
    p->f[id].num = 0;
    p->present |= BIT(id);
}

void pdu_set_cstr(pdu_t *p, pdu_field_id_t id, const char *s)
{
    pdu_set_str(p, id, (const uint8_t *)s, strlen(s));
}

const pdu_value_t *pdu_get(const pdu_t *p, pdu_field_id_t id)
{
    return (unsigned)id < PDU_F__COUNT && (p->present & BIT(id)) ? &p->f[id] : NULL;
}

int pdu_addr_add(pdu_t *p, uint8_t dest_flag, uint8_t ton, uint8_t npi,
                 const char *addr, uint32_t error_status_code)
{
    pdu_addr_t *a;
    size_t n = strlen(addr);
    if (p->naddr >= PDU_MAX_ADDRS) return PDU_EFULL;
    if (n > 255) return PDU_EINVAL;
    a = &p->addr[p->naddr++];
    a->dest_flag = dest_flag;
    a->ton = ton;
    a->npi = npi;
    a->addr = (const uint8_t *)addr;
    a->len = (uint8_t)n;
    a->error_status_code = error_status_code;
    return 0;
}

int pdu_tlv_add(pdu_t *p, uint16_t tag, const uint8_t *val, uint16_t len)
{
    pdu_tlv_t *t;
    const pdu_tlv_def_t *def = pdu_tlv_info(tag);
    if (!val && len) return PDU_EINVAL;    /* no bytes to read len of */
    if (p->ntlv >= PDU_MAX_TLVS) return PDU_EFULL;
    t = &p->tlv[p->ntlv++];
    t->tag = tag;
    t->len = len;
    t->val = val ? val : (const uint8_t *)"";
    t->num = def && def->type == PDU_TLV_INT ? be_n(t->val, len > 4 ? 4 : len) : 0;
    return 0;
}

int pdu_tlv_add_int(pdu_t *p, uint16_t tag, uint32_t value)
{
    pdu_tlv_t *t;
    const pdu_tlv_def_t *def = pdu_tlv_info(tag);
    if (!def || def->type != PDU_TLV_INT) return PDU_EINVAL;
    if (p->ntlv >= PDU_MAX_TLVS) return PDU_EFULL;
    t = &p->tlv[p->ntlv++];
    t->tag = tag;
    t->val = NULL;
    t->num = value;
    /* The spec length, widened only where the table allows it and the value
     * needs it (source_telematics_id). */
    t->len = def->min;
    if (def->max > def->min && value >> (8 * def->min)) t->len = def->max;
    return 0;
}

const pdu_tlv_t *pdu_tlv_find(const pdu_t *p, uint16_t tag)
{
    uint16_t i;
    for (i = 0; i < p->ntlv; i++)
        if (p->tlv[i].tag == tag) return &p->tlv[i];
    return NULL;
}

/* -- Encoding --------------------------------------------------------------- */

/* A bounded writer: past `cap` it only counts, so one pass both sizes and
 * writes, and PDU_ENOSPC can say how much room was needed. */
typedef struct {
    uint8_t *out;
    size_t   cap, pos;
} wr_t;

static void put_u8(wr_t *w, uint32_t v)
{
    if (w->pos < w->cap) w->out[w->pos] = (uint8_t)v;
    w->pos++;
}

static void put_be(wr_t *w, uint32_t v, unsigned n)
{
    while (n--) put_u8(w, v >> (8 * n));
}

/* A 4-octet big-endian integer: stored at once where it fits (the header
 * and every INT4 field; put_be stored it octet by octet). */
static void put_u32(wr_t *w, uint32_t v)
{
    if (w->pos + 4 <= w->cap) {
        uint8_t *o = w->out + w->pos;
        o[0] = (uint8_t)(v >> 24);
        o[1] = (uint8_t)(v >> 16);
        o[2] = (uint8_t)(v >> 8);
        o[3] = (uint8_t)v;
        w->pos += 4;
        return;
    }
    put_be(w, v, 4);
}

static void put_bytes(wr_t *w, const uint8_t *p, size_t n)
{
    if (n && w->pos + n <= w->cap) memcpy(w->out + w->pos, p, n);
    w->pos += n;
}

/* Write a C-Octet String after checking its bound and that it holds no NUL
 * (inlined where a field is written: the call cost a third of it). */
static inline __attribute__((always_inline)) long
put_cstr(wr_t *w, const uint8_t *s, uint32_t len, unsigned max, const pdu_field_t *fd, pdu_error_t *err)
{
    if (len + 1 > max) {
        fail(err, fd->status, fd->name, "%s is %u characters, at most %u allowed",
             fd->name, len, max - 1);
        return PDU_EINVAL;
    }
    if (w->pos + len + 1 <= w->cap) {   /* copy and look for a NUL in one pass */
        uint8_t *o = w->out + w->pos;
        uint32_t i;
        for (i = 0; i < len; i++)
            if (!(o[i] = s[i])) break;
        if (i < len) goto nul;
        o[len] = 0;
        w->pos += len + 1;
        return 0;
    }
    if (len && memchr(s, 0, len)) goto nul;
    w->pos += len + 1;                   /* no room: only count */
    return 0;
nul:
    fail(err, fd->status, fd->name, "%s holds a NUL octet", fd->name);
    return PDU_EINVAL;
}

static long encode_int1(wr_t *w, const pdu_field_t *fd, uint32_t v, pdu_error_t *err)
{
    if (v > 255) {
        fail(err, fd->status, fd->name, "%s is %u, above 255", fd->name, v);
        return PDU_EINVAL;
    }
    put_u8(w, v);
    return 0;
}

static long encode_addrs(const pdu_t *p, wr_t *w, pdu_field_id_t list, pdu_error_t *err)
{
    const pdu_field_t *dst = pdu_field_info(PDU_F_DESTINATION_ADDR);
    uint16_t i;
    for (i = 0; i < p->naddr; i++) {
        const pdu_addr_t *a = &p->addr[i];
        long rc;
        if (list == PDU_F_UNSUCCESS_SME) {
            put_u8(w, a->ton);
            put_u8(w, a->npi);
            if ((rc = put_cstr(w, a->addr, a->len, UNSUCC_ADDR_MAX, dst, err))) return rc;
            put_be(w, a->error_status_code, 4);
        } else if (a->dest_flag == 1) {
            put_u8(w, 1);
            put_u8(w, a->ton);
            put_u8(w, a->npi);
            if ((rc = put_cstr(w, a->addr, a->len, SME_ADDR_MAX, dst, err))) return rc;
        } else if (a->dest_flag == 2) {
            put_u8(w, 2);
            if ((rc = put_cstr(w, a->addr, a->len, DL_NAME_MAX, pdu_field_info(PDU_F_DL_NAME), err)))
                return rc;
        } else {
            fail(err, SMPP_ESME_RINVDESTFLAG, "dest_flag",
                 "dest_address %u has dest_flag %u, must be 1 or 2", i + 1, a->dest_flag);
            return PDU_EINVAL;
        }
    }
    return 0;
}

static long encode_tlvs(const pdu_t *p, wr_t *w, pdu_error_t *err)
{
    uint16_t i;
    for (i = 0; i < p->ntlv; i++) {
        const pdu_tlv_t *t = &p->tlv[i];
        const pdu_tlv_def_t *def = pdu_tlv_info(t->tag);
        if (def && (t->len < def->min || t->len > def->max)) {
            fail(err, SMPP_ESME_RINVPARLEN, def->name, "TLV %s has length %u, allowed %u..%u",
                 def->name, t->len, def->min, def->max);
            return PDU_EINVAL;
        }
        if (!t->val && t->len < 4 && t->num >> (8 * t->len)) {
            fail(err, SMPP_ESME_RINVOPTPARAMVAL, def ? def->name : NULL,
                 "TLV %s value %u does not fit in %u octets", def ? def->name : "?",
                 t->num, t->len);
            return PDU_EINVAL;
        }
        put_be(w, t->tag, 2);
        put_be(w, t->len, 2);
        if (t->val) put_bytes(w, t->val, t->len);
        else put_be(w, t->num, t->len);
    }
    return 0;
}

/* One mandatory field (id, max, kind of its slot; next: the id of the
 * slot after it, which sm_length counts) written at w: 0 or PDU_EINVAL
 * (err set). Inlined in the loop over any body's slots and, with
 * constants, in the bodies encoded by name below: the same steps and
 * refusals either way. */
static inline __attribute__((always_inline)) long
encode_slot(const pdu_t *p, wr_t *w, unsigned id, unsigned max, unsigned kind, unsigned next, pdu_error_t *err)
{
    const pdu_field_t *fd;
    const pdu_value_t *v = &p->f[id];
    int have = (p->present & BIT(id)) != 0;
    uint32_t n;
    if (kind == PDU_KIND_INT1 && (!have || v->num <= 255)) {  /* the common case */
        put_u8(w, have ? v->num : 0);
        return 0;
    }
    fd = pdu_field_info((pdu_field_id_t)id);
    switch (kind) {
    case PDU_KIND_INT1:
        return encode_int1(w, fd, have ? v->num : 0, err);
    case PDU_KIND_INT4:
        put_u32(w, have ? v->num : 0);
        break;
    case PDU_KIND_SMLEN:
    case PDU_KIND_COUNT:
        /* Derived from what follows; a value given must agree. */
        n = kind == PDU_KIND_SMLEN ? ((p->present & BIT(next)) ? p->f[next].len : 0) : p->naddr;
        if (have && v->num != n) {
            fail(err, fd->status, fd->name, "%s is %u but %u %s follow", fd->name,
                 v->num, n, kind == PDU_KIND_SMLEN ? "octets" : "entries");
            return PDU_EINVAL;
        }
        if (id == PDU_F_NUMBER_OF_DESTS && (n == 0 || n > PDU_MAX_ADDRS)) {
            fail(err, SMPP_ESME_RINVNUMDESTS, "dest_address",
                 "dest_address has %u entries, must be 1..%d", n, PDU_MAX_ADDRS);
            return PDU_EINVAL;
        }
        put_u8(w, n);
        break;
    case PDU_KIND_CSTR:
    case PDU_KIND_TIME:
        if (!have) { put_u8(w, 0); break; }
        if (kind == PDU_KIND_TIME && !time_len_ok((pdu_field_id_t)id, v->len)) {
            fail(err, fd->status, fd->name, "%s must be empty or 16 characters, got %u",
                 fd->name, v->len);
            return PDU_EINVAL;
        }
        return put_cstr(w, v->ptr, v->len, max, fd, err);
    case PDU_KIND_OSTR:
        if (!have) break;
        if (v->len > max) {
            fail(err, SMPP_ESME_RINVMSGLEN, fd->name,
                 "%s is %u octets, above %u (use message_payload)", fd->name, v->len, max);
            return PDU_EINVAL;
        }
        put_bytes(w, v->ptr, v->len);
        break;
    case PDU_KIND_DESTS:
    case PDU_KIND_UNSUCC:
        return encode_addrs(p, w, (pdu_field_id_t)id, err);
    }
    return 0;
}

/* The bodies of submit_sm and deliver_sm (SMPP_BODY_SM) and of
 * submit_sm_resp (SMPP_BODY_MSGID), the fields named one after the other
 * (sm_length counts short_message, which follows it in every body of
 * smpp.def; test_pdu checks). */
#define ENCODE(ID, max) \
    if ((rc = encode_slot(p, w, PDU_F_##ID, max, KIND_OF_##ID, PDU_F_SHORT_MESSAGE, err)) != 0) return rc;
static long encode_sm(const pdu_t *p, wr_t *w, pdu_error_t *err) { long rc; SMPP_BODY_SM(ENCODE) return 0; }
static long encode_msgid(const pdu_t *p, wr_t *w, pdu_error_t *err) { long rc; SMPP_BODY_MSGID(ENCODE) return 0; }
#undef ENCODE

long pdu_encode(pdu_t *p, uint8_t *out, size_t cap, pdu_error_t *err)
{
    pdu_error_t scratch;
    const pdu_cmd_t *cmd;
    const pdu_slot_t *s;
    uint64_t body = 0;
    wr_t w = {out, cap, 0};
    long rc;

    if (!err) err = &scratch;
    err->status = SMPP_ESME_ROK;
    err->field = NULL;
    err->need = 0;
    err->msg[0] = '\0';
    /* the row pdu_init or decode found, if it is still the command_id's */
    cmd = p->cmd && p->cmd->id == p->command_id ? p->cmd : pdu_cmd_find(p->command_id);
    if (!cmd) {
        fail(err, SMPP_ESME_RINVCMDID, "command_id", "unknown command_id 0x%08X", p->command_id);
        return PDU_EINVAL;
    }
    p->cmd = cmd;

    if (cap >= PDU_HEADER_LEN) {           /* the header at once (command_length patched below) */
        be32_put(out, 0);
        be32_put(out + 4, p->command_id);
        be32_put(out + 8, p->command_status);
        be32_put(out + 12, p->sequence_number);
        w.pos = PDU_HEADER_LEN;
    } else {
        put_u32(&w, 0);
        put_u32(&w, p->command_id);
        put_u32(&w, p->command_status);
        put_u32(&w, p->sequence_number);
    }

    /* An error response with nothing in it goes out header-only (3.4 §4.1.2,
     * §4.4.2). */
    if ((p->command_id & SMPP_RESPONSE_BIT) && p->command_status != 0 && p->present == 0
        && p->ntlv == 0 && p->naddr == 0)
        goto done;

    if (cmd == &pdu__cmds[PDU_CMD_SUBMIT_SM_RESP]) {
        if ((rc = encode_msgid(p, &w, err))) return rc;
    } else if (cmd == &pdu__cmds[PDU_CMD_SUBMIT_SM] || cmd == &pdu__cmds[PDU_CMD_DELIVER_SM]) {
        if ((rc = encode_sm(p, &w, err))) return rc;
    } else {
        for (s = cmd->slots; s < cmd->slots + cmd->nslots; s++)
            if ((rc = encode_slot(p, &w, s->id, s->max, s->kind, s[1].id, err))) return rc;
    }
    body = cmd->body;
    if (p->present & ~body) {
        int id = 0;
        while (!((p->present & ~body) & BIT(id))) id++;
        fail(err, SMPP_ESME_RINVCMDLEN, pdu_field_info((pdu_field_id_t)id)->name,
             "%s is not a field of %s", pdu_field_info((pdu_field_id_t)id)->name, cmd->name);
        return PDU_EINVAL;
    }
    if ((p->present & BIT(PDU_F_SHORT_MESSAGE)) && p->f[PDU_F_SHORT_MESSAGE].len > 0
        && pdu_tlv_find(p, SMPP_TLV_message_payload)) {
        fail(err, SMPP_ESME_RINVMSGLEN, "message_payload",
             "short_message and message_payload both carry data");
        return PDU_EINVAL;
    }
    if ((rc = encode_tlvs(p, &w, err))) return rc;

done:
    /* what no peer with the default max_pdu (the codec's own decode) would
     * take: refused here, not found out by the peer that drops the session */
    if (w.pos > PDU_DEFAULT_MAX_LEN) {
        fail(err, SMPP_ESME_RINVMSGLEN, NULL, "the PDU would be %lu octets, above %u (the largest a peer takes)",
             (unsigned long)w.pos, (unsigned)PDU_DEFAULT_MAX_LEN);
        return PDU_EINVAL;
    }
    if (w.pos > cap) {
        fail(err, SMPP_ESME_RSYSERR, NULL, "output needs %u octets, %u available",
             (unsigned)w.pos, (unsigned)cap);
        err->need = w.pos;
        return PDU_ENOSPC;
    }
    p->command_length = (uint32_t)w.pos;
    out[0] = (uint8_t)(w.pos >> 24);
    out[1] = (uint8_t)(w.pos >> 16);
    out[2] = (uint8_t)(w.pos >> 8);
    out[3] = (uint8_t)w.pos;
    return (long)w.pos;
}
