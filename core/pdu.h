/* pdu.h -- the SMPP 3.4 PDU codec: build, inspect, encode and decode PDUs.
 * Pure C99, no I/O, no allocation; usable without Lua or libuv.
 *
 * Build: compile core/pdu.c and core/pdu_tables.c (nothing else is needed)
 * and include this header. `make` also builds build/libsmppcodec.a.
 *
 * The model. A pdu_t holds one PDU: the four header integers, a pointer to
 * its command's table row, one slot per mandatory body field (indexed by
 * PDU_F_*; a bit in `present` says whether the slot is set), the
 * submit_multi address lists, and the TLVs as an ordered list.
 *
 * Ownership. A pdu_t never owns bytes. After pdu_decode() every string and
 * TLV value points INTO the input buffer, which must outlive every use of the
 * pdu_t (copy what you keep). When building a PDU, pdu_set_str() and
 * pdu_tlv_add() store the caller's pointers; those bytes must stay valid
 * until pdu_encode() returns. A pdu_t is large (about 7 KiB, for the
 * 254-entry address list of submit_multi): keep one per session or static,
 * not one per call on a small stack.
 *
 * Example, building and encoding a submit_sm:
 *
 *     static pdu_t p;
 *     pdu_error_t err;
 *     uint8_t out[512];
 *     pdu_init(&p, SMPP_SUBMIT_SM, 1);
 *     pdu_set_cstr(&p, PDU_F_SOURCE_ADDR, "INFO");
 *     pdu_set_cstr(&p, PDU_F_DESTINATION_ADDR, "447700900123");
 *     pdu_set_str(&p, PDU_F_SHORT_MESSAGE, (const uint8_t *)"Hello", 5);
 *     pdu_tlv_add_int(&p, SMPP_TLV_user_message_reference, 7);
 *     long n = pdu_encode(&p, out, sizeof out, &err);
 *     if (n < 0) fprintf(stderr, "%s\n", err.msg);   // names the field
 *
 * and decoding one:
 *
 *     uint32_t st = pdu_decode(&p, bytes, len, 0, &err);
 *     if (st != SMPP_ESME_ROK) ... st is the command_status to answer with
 *     const pdu_value_t *sm = pdu_get(&p, PDU_F_SHORT_MESSAGE);
 */
#ifndef SMPPGW_PDU_H
#define SMPPGW_PDU_H

#include <stddef.h>
#include <stdint.h>

/* -- Constants generated from the .def tables ---------------------------- */

/* command_status codes: SMPP_ESME_ROK, SMPP_ESME_RTHROTTLED, ... */
enum {
#define STATUS(name, value, text) SMPP_##name = value,
#include "status.def"
#undef STATUS
};

/* command ids: SMPP_SUBMIT_SM, SMPP_SUBMIT_SM_RESP, ... (spelled out here
 * so that grep finds them; pdu_tables.c checks each against its smpp.def
 * row when it compiles). */
#define SMPP_GENERIC_NACK          0x80000000u
#define SMPP_BIND_RECEIVER         0x00000001u
#define SMPP_BIND_RECEIVER_RESP    0x80000001u
#define SMPP_BIND_TRANSMITTER      0x00000002u
#define SMPP_BIND_TRANSMITTER_RESP 0x80000002u
#define SMPP_QUERY_SM              0x00000003u
#define SMPP_QUERY_SM_RESP         0x80000003u
#define SMPP_SUBMIT_SM             0x00000004u
#define SMPP_SUBMIT_SM_RESP        0x80000004u
#define SMPP_DELIVER_SM            0x00000005u
#define SMPP_DELIVER_SM_RESP       0x80000005u
#define SMPP_UNBIND                0x00000006u
#define SMPP_UNBIND_RESP           0x80000006u
#define SMPP_REPLACE_SM            0x00000007u
#define SMPP_REPLACE_SM_RESP       0x80000007u
#define SMPP_CANCEL_SM             0x00000008u
#define SMPP_CANCEL_SM_RESP        0x80000008u
#define SMPP_BIND_TRANSCEIVER      0x00000009u
#define SMPP_BIND_TRANSCEIVER_RESP 0x80000009u
#define SMPP_OUTBIND               0x0000000Bu
#define SMPP_ENQUIRE_LINK          0x00000015u
#define SMPP_ENQUIRE_LINK_RESP     0x80000015u
#define SMPP_SUBMIT_MULTI          0x00000021u
#define SMPP_SUBMIT_MULTI_RESP     0x80000021u
#define SMPP_ALERT_NOTIFICATION    0x00000102u
#define SMPP_DATA_SM               0x00000103u
#define SMPP_DATA_SM_RESP          0x80000103u
#define SMPP_RESPONSE_BIT          0x80000000u

/* Commands by their index in the table (pdu_cmd_at): PDU_CMD_SUBMIT_SM,
 * ...; PDU_CMD__COUNT rows. Per-command counters are arrays of that size. */
typedef enum {
#define COMMAND(ID, name, id, body, resp, e, s) PDU_CMD_##ID,
#include "smpp.def"
#undef COMMAND
    PDU_CMD__COUNT
} pdu_cmd_index_t;

/* One more than the largest command_status of status.def: a table indexed
 * by status covers every known one (the size of a union of char arrays
 * is its largest member's, so this needs no sorted rows). */
union pdu__status_span {
#define STATUS(name, value, text) char name[(value) + 1];
#include "status.def"
#undef STATUS
};
#define PDU_STATUS_SPAN (sizeof(union pdu__status_span))

/* Field ids, one per distinct body field name: PDU_F_SERVICE_TYPE, ... */
typedef enum {
#define FIELD(ID, name, kind, status) PDU_F_##ID,
#include "smpp.def"
#undef FIELD
    PDU_F__COUNT
} pdu_field_id_t;

/* TLV tags, under the spec name as tlv.def spells it: SMPP_TLV_message_payload. */
enum {
#define TLV(name, tag, type, min, max) SMPP_TLV_##name = tag,
#include "tlv.def"
#undef TLV
};

/* -- Limits --------------------------------------------------------------- */

#define PDU_HEADER_LEN        16
/* Default cap on command_length: a 64 KiB body plus the header. */
#define PDU_DEFAULT_MAX_LEN   (65536 + PDU_HEADER_LEN)
/* TLVs kept per PDU; real PDUs carry fewer than 20. More -> ESME_RINVOPTPARSTREAM. */
#define PDU_MAX_TLVS          64
/* Entries of submit_multi's dest_address or submit_multi_resp's
 * unsuccess_sme list (number_of_dests is 1..254 in SMPP 3.4). */
#define PDU_MAX_ADDRS         254
#define PDU_MAX_SHORT_MESSAGE 254

/* -- Table rows (read-only, from pdu_tables.c) --------------------------- */

typedef enum {
    PDU_KIND_INT1, PDU_KIND_INT4, PDU_KIND_CSTR, PDU_KIND_TIME,
    PDU_KIND_SMLEN, PDU_KIND_OSTR, PDU_KIND_COUNT, PDU_KIND_DESTS,
    PDU_KIND_UNSUCC
} pdu_kind_t;

typedef enum { PDU_TLV_INT, PDU_TLV_CSTR, PDU_TLV_OSTR, PDU_TLV_FLAG } pdu_tlv_type_t;

/* Bind-state bits used by pdu_cmd_t.esme_states / smsc_states. */
enum { PDU_ST_OPEN = 1, PDU_ST_BOUND_TX = 2, PDU_ST_BOUND_RX = 4, PDU_ST_BOUND_TRX = 8 };

typedef struct pdu_field_s {
    const char *name;       /* spec name, e.g. "source_addr" */
    pdu_kind_t  kind;
    uint32_t    status;     /* status when malformed on receipt */
} pdu_field_t;

typedef struct pdu_slot_s {  /* one mandatory field of one body */
    uint8_t  id;             /* pdu_field_id_t */
    uint8_t  max;            /* maximum size in octets, NUL included */
    uint8_t  kind;           /* pdu_kind_t of the field, copied for the hot loops */
} pdu_slot_t;

typedef struct pdu_cmd_s {
    const char       *name;      /* "submit_sm" */
    uint32_t          id;        /* command_id */
    uint32_t          resp_id;   /* response command_id, 0 if none is sent */
    const pdu_slot_t *slots;     /* mandatory fields in wire order */
    uint8_t           nslots;
    uint8_t           esme_states, smsc_states;  /* PDU_ST_* bits */
    uint64_t          body;      /* the slots' bits (as in pdu_t.present) */
} pdu_cmd_t;

typedef struct pdu_tlv_def_s {
    const char     *name;    /* "message_payload" */
    uint16_t        tag;
    pdu_tlv_type_t  type;
    uint16_t        min, max; /* allowed value length in octets */
} pdu_tlv_def_t;

/* -- The PDU --------------------------------------------------------------- */

/* A field value: integers in `num`; strings as (ptr, len) without the NUL. */
typedef struct pdu_value_s {
    const uint8_t *ptr;
    uint32_t       len;
    uint32_t       num;
} pdu_value_t;

/* One TLV in wire order. `val` points at `len` value octets; a TLV added
 * with pdu_tlv_add_int() has val == NULL and its value in `num`, written
 * big-endian in `len` octets. For INT TLVs decode also fills `num`. */
typedef struct pdu_tlv_s {
    const uint8_t *val;
    uint32_t       num;
    uint16_t       tag;
    uint16_t       len;
} pdu_tlv_t;

/* One submit_multi dest_address entry (dest_flag 1: ton/npi/addr is an SME
 * address; dest_flag 2: addr is a dl_name) or one unsuccess_sme entry
 * (dest_flag unused, ton/npi/addr and error_status_code). */
typedef struct pdu_addr_s {
    const uint8_t *addr;
    uint32_t       error_status_code;
    uint8_t        dest_flag, ton, npi, len;
} pdu_addr_t;

typedef struct pdu_s {
    uint32_t         command_length;  /* set by decode and by encode */
    uint32_t         command_id;
    uint32_t         command_status;
    uint32_t         sequence_number;
    const pdu_cmd_t *cmd;             /* NULL for an unknown command_id */
    uint64_t         present;         /* bit (1 << PDU_F_x): f[x] is set */
    pdu_value_t      f[PDU_F__COUNT];
    uint16_t         ntlv, naddr;
    pdu_tlv_t        tlv[PDU_MAX_TLVS];
    pdu_addr_t       addr[PDU_MAX_ADDRS];
    const uint8_t   *raw;             /* decode: the command_length octets it was read from
                                       * (borrowed, like the field pointers); NULL when built */
} pdu_t;

/* What went wrong, for both directions: `status` is the command_status a
 * receiver should answer with, `field` the field or TLV name at fault (or
 * NULL), `msg` one sentence naming it. `need` is set with PDU_ENOSPC. */
typedef struct pdu_error_s {
    uint32_t    status;
    const char *field;
    size_t      need;
    char        msg[128];
} pdu_error_t;

/* Negative returns of pdu_encode() and the setters. */
#define PDU_EINVAL  (-1)   /* a value breaks a bound; err says which */
#define PDU_ENOSPC  (-2)   /* output buffer too small; err->need says how big */
#define PDU_EFULL   (-3)   /* no room for another TLV or address entry */

/* -- Decoding ------------------------------------------------------------- */

/* Decode exactly one PDU of `len` octets (`len` must equal command_length).
 * max_len caps command_length (0 = PDU_DEFAULT_MAX_LEN).
 * Returns SMPP_ESME_ROK, or the command_status that describes the fault:
 *   ESME_RINVCMDLEN   fewer than 16 octets, command_length < 16, > max_len
 *                     or != len; body shorter than its mandatory fields; a
 *                     C-Octet String cut off by the end of the body; 1-3
 *                     stray non-zero octets after the last TLV
 *   ESME_RINVCMDID    unknown command_id (header fields are still set and
 *                     cmd is NULL: answer with generic_nack)
 *   a field's status  a C-Octet String with no NUL within its maximum size
 *                     (ESME_RINVSRCADR, ESME_RINVSYSID, ...); a time field
 *                     whose text is not 0 or 16 characters (ESME_RINVSCHED,
 *                     ESME_RINVEXPIRY; final_date also accepts 12)
 *   ESME_RINVMSGLEN   sm_length above 254 or past the body; short_message
 *                     and message_payload both carry data
 *   ESME_RINVNUMDESTS number_of_dests 0 or above 254
 *   ESME_RINVDESTFLAG a dest_flag other than 1 or 2
 *   ESME_RINVOPTPARSTREAM a TLV length past the body, or more than
 *                     PDU_MAX_TLVS TLVs
 *   ESME_RINVPARLEN   a known TLV whose length is outside its bounds
 * On any result the header fields of `pdu` hold what could be read (all
 * zero if fewer than 16 octets). A response with a non-zero status and no
 * body decodes with ROK and no field present. Zero octets after the
 * TLVs, however many, are padding and ignored (some SMSCs pad to 4 or 8:
 * never a TLV 0x0000); 1-3 other octets are refused. `err` may be NULL.
 * Borrowed: `data` must outlive the use of `pdu` (see Ownership above). */
uint32_t pdu_decode(pdu_t *pdu, const uint8_t *data, size_t len,
                    uint32_t max_len, pdu_error_t *err);

/* Framing helper for a byte stream: with `avail` octets buffered at `data`,
 * returns the command_length of the PDU that starts there (>= 16) when it
 * is whole, 0 when more octets are needed, or -1 when command_length is
 * below 16 or above max_len (0 = default): framing is lost. */
long pdu_frame(const uint8_t *data, size_t avail, uint32_t max_len);

/* -- Building ------------------------------------------------------------- */

/* Reset `pdu` to an empty PDU of command `command_id` (no field present,
 * no TLV). Returns 0, or PDU_EINVAL for an unknown command_id (the PDU is
 * still reset, with cmd NULL; pdu_encode refuses it, naming command_id). */
int pdu_init(pdu_t *pdu, uint32_t command_id, uint32_t sequence_number);

/* The same for a command whose row the caller holds (a row of the table,
 * not NULL): no lookup. */
static inline void pdu_init_cmd(pdu_t *pdu, const pdu_cmd_t *cmd, uint32_t sequence_number)
{
    pdu->command_length = 0;
    pdu->command_id = cmd->id;
    pdu->command_status = 0;
    pdu->sequence_number = sequence_number;
    pdu->cmd = cmd;
    pdu->present = 0;
    pdu->ntlv = pdu->naddr = 0;
    pdu->raw = NULL;
}

/* Set a field. Integers: pdu_set_int. Strings (CSTR/TIME/OSTR): the bytes are
 * borrowed, not copied. Field ids not in this command's body are refused
 * with PDU_EINVAL at encode time, not here. Each field takes the setter of
 * its kind (pdu_field_info(id)->kind): an integer set on a string field is
 * written as an empty string, a string on an integer field as 0. */
void pdu_set_int(pdu_t *pdu, pdu_field_id_t id, uint32_t value);
void pdu_set_str(pdu_t *pdu, pdu_field_id_t id, const uint8_t *ptr, size_t len);
void pdu_set_cstr(pdu_t *pdu, pdu_field_id_t id, const char *s);

/* Read a field: NULL when it is not present. */
const pdu_value_t *pdu_get(const pdu_t *pdu, pdu_field_id_t id);

/* Append a submit_multi address entry: dest_flag 1 (ton, npi, addr) or 2
 * (addr = dl_name); for submit_multi_resp pass dest_flag 0 and the
 * error_status_code. Borrowed bytes. Returns 0 or PDU_EFULL. */
int pdu_addr_add(pdu_t *pdu, uint8_t dest_flag, uint8_t ton, uint8_t npi,
                 const char *addr, uint32_t error_status_code);

/* Append a TLV with raw value bytes (borrowed), or an integer TLV written in
 * the length tlv.def gives its tag (1, 2 or 4 octets). A tag may be added
 * more than once; order is kept. Returns 0, PDU_EFULL, or PDU_EINVAL
 * (pdu_tlv_add with val NULL and len > 0; pdu_tlv_add_int with a tag that
 * is not an INT TLV). */
int pdu_tlv_add(pdu_t *pdu, uint16_t tag, const uint8_t *val, uint16_t len);
int pdu_tlv_add_int(pdu_t *pdu, uint16_t tag, uint32_t value);

/* First TLV with `tag`, or NULL. */
const pdu_tlv_t *pdu_tlv_find(const pdu_t *pdu, uint16_t tag);

/* -- Encoding ------------------------------------------------------------- */

/* Encode `pdu` into out[0..cap). Returns the number of octets written (also
 * stored in pdu->command_length; never more than cap), or
 *   PDU_EINVAL  a value breaks the table's bounds (a C-Octet String too long
 *               or holding a NUL, a time not 0/16 characters, an integer
 *               above 255 in a 1-octet field, short_message over 254
 *               octets, both short_message and message_payload, a count or
 *               derived length that disagrees with its list, a TLV length
 *               outside its bounds, a field not in this command's body, an
 *               unknown command_id): err->field and err->msg name it,
 *               err->status is the status a receiver would answer
 *   PDU_ENOSPC  cap is too small; err->need is the size required.
 * The sequence_number is written as it is, not checked: a stored copy or
 * template is encoded with 0 and sess_send numbers it (1..0x7FFFFFFF), and
 * a peer's request numbered above 0x7FFFFFFF is kept as it came (smppgw
 * encode, the tool, refuses a request's number outside 1..0x7FFFFFFF).
 * Absent fields are written as the spec's NULL (0, a single NUL, or no
 * octets). A response with a non-zero status and neither fields nor TLVs
 * is encoded header-only, as 3.4 says error responses are sent.
 * sm_length, number_of_dests and no_unsuccess are computed; if present
 * they must agree. `err` may be NULL. pdu->cmd is NULL or a row of the
 * table (pdu_init and pdu_decode set it; copies keep it): when it is
 * command_id's it is taken as it is, else command_id is looked up. */
long pdu_encode(pdu_t *pdu, uint8_t *out, size_t cap, pdu_error_t *err);

/* -- Tables and names ------------------------------------------------------ */

const pdu_cmd_t     *pdu_cmd_find(uint32_t command_id);  /* NULL if unknown */
const pdu_cmd_t     *pdu_cmd_by_name(const char *name);  /* NULL if unknown */
const pdu_cmd_t     *pdu_cmd_at(size_t i);               /* NULL past the end */
extern const pdu_cmd_t pdu__cmds[PDU_CMD__COUNT];
/* A row's index (PDU_CMD_*): per PDU, for counters and caches. */
static inline size_t pdu_cmd_index(const pdu_cmd_t *c) { return (size_t)(c - pdu__cmds); }
const pdu_tlv_def_t *pdu_tlv_info(uint16_t tag);         /* NULL if unknown */
const pdu_tlv_def_t *pdu_tlv_at(size_t i);               /* NULL past the end */
/* The row of a field id (name, kind, status); inline because the codec's
 * loops call it per field. */
extern const pdu_field_t pdu__fields[PDU_F__COUNT];
static inline const pdu_field_t *pdu_field_info(pdu_field_id_t id)
{
    return (unsigned)id < PDU_F__COUNT ? &pdu__fields[id] : NULL;
}
/* Name of a command_status ("ESME_RTHROTTLED"), or NULL if unknown. */
const char          *pdu_status_name(uint32_t status);
const char          *pdu_status_text(uint32_t status);
/* i-th status of the table: returns its name and sets *value, NULL past end. */
const char          *pdu_status_at(size_t i, uint32_t *value);

#endif /* SMPPGW_PDU_H */
