/* pdu_tables.c -- the command, field, TLV and status tables, generated from
 * smpp.def, tlv.def and status.def, and the lookups over them.
 */
#include <string.h>

#include "pdu.h"

/* -- Fields ---------------------------------------------------------------- */

const pdu_field_t pdu__fields[PDU_F__COUNT] = {
#define FIELD(ID, name, kind, status) {#name, PDU_KIND_##kind, SMPP_##status},
#include "smpp.def"
#undef FIELD
};

/* present is a 64-bit mask: one bit per field id. */
typedef char fields_fit_in_present_mask[PDU_F__COUNT <= 64 ? 1 : -1];

/* Compile-time checks of the .def tables (a failing one names itself in
 * the compiler's message). */
#define CHECK_DEF(name, cond) typedef char name[(cond) ? 1 : -1]


/* -- Bodies ---------------------------------------------------------------- */

/* Each field's kind as a constant, so that body rows can carry it. */
enum {
#define FIELD(ID, name, kind, status) KIND_OF_##ID = PDU_KIND_##kind,
#include "smpp.def"
#undef FIELD
};

#define SLOT(ID, max) {PDU_F_##ID, max, KIND_OF_##ID},
#define BODY(B) static const pdu_slot_t body_##B[] = { SMPP_BODY_##B(SLOT) {0, 0, 0} };
SMPP_BODIES(BODY)
#undef BODY
#undef SLOT

/* The list fields' sizes are their largest entry's. */
#define ENTRY_SIZE(ID, max) + (max)
#define LIST_MAX(LIST, ID) enum { LIST_MAX_##ID = 0 SMPP_BODY_##LIST(LIST_SLOT_##ID) }
#define LIST_SLOT_DEST_ADDRESS(ID, max) + (PDU_F_##ID == PDU_F_DEST_ADDRESS ? (max) : 0)
#define LIST_SLOT_UNSUCCESS_SME(ID, max) + (PDU_F_##ID == PDU_F_UNSUCCESS_SME ? (max) : 0)
LIST_MAX(SUBMIT_MULTI, DEST_ADDRESS);
LIST_MAX(SUBMIT_MULTI_RESP, UNSUCCESS_SME);
CHECK_DEF(dest_address_is_its_largest_entry,
          LIST_MAX_DEST_ADDRESS == 0 SMPP_ENTRY_SME_ADDRESS(ENTRY_SIZE)
          && LIST_MAX_DEST_ADDRESS >= 0 SMPP_ENTRY_DL_NAME(ENTRY_SIZE));
CHECK_DEF(unsuccess_sme_is_its_entry, LIST_MAX_UNSUCCESS_SME == 0 SMPP_ENTRY_UNSUCCESS(ENTRY_SIZE));
#undef LIST_MAX
#undef ENTRY_SIZE

/* -- Commands -------------------------------------------------------------- */

#define ST_N    0
#define ST_O    PDU_ST_OPEN
#define ST_TX   (PDU_ST_BOUND_TX | PDU_ST_BOUND_TRX)
#define ST_RX   (PDU_ST_BOUND_RX | PDU_ST_BOUND_TRX)
#define ST_TRX  (PDU_ST_BOUND_TX | PDU_ST_BOUND_RX | PDU_ST_BOUND_TRX)
#define ST_OTRX (PDU_ST_OPEN | ST_TRX)

/* pdu.h spells each command id out (SMPP_SUBMIT_SM...) so that grep finds
 * it: each must be the row's, and a response is its request's id with the
 * response bit. */
#define COMMAND(ID, name, id, body, resp, e, s) \
    CHECK_DEF(pdu_h_id_of_##name, SMPP_##ID == (id)); \
    CHECK_DEF(response_id_of_##name, (resp) == 0 || (resp) == ((id) | SMPP_RESPONSE_BIT));
#include "smpp.def"
#undef COMMAND
#define SLOT_BIT(ID, max) | ((uint64_t)1 << PDU_F_##ID)
const pdu_cmd_t pdu__cmds[PDU_CMD__COUNT] = {
#define COMMAND(ID, name, id, body, resp, e, s) \
    {#name, id, resp, body_##body, \
     (uint8_t)(sizeof body_##body / sizeof body_##body[0] - 1), ST_##e, ST_##s, \
     0 SMPP_BODY_##body(SLOT_BIT)},
#include "smpp.def"
#undef COMMAND
};
#undef SLOT_BIT

const pdu_cmd_t *pdu_cmd_find(uint32_t command_id)
{
    switch (command_id) {
#define COMMAND(ID, name, id, body, resp, e, s) case id: return &pdu__cmds[PDU_CMD_##ID];
#include "smpp.def"
#undef COMMAND
    default: return NULL;
    }
}

const pdu_cmd_t *pdu_cmd_by_name(const char *name)
{
    size_t i;
    for (i = 0; i < PDU_CMD__COUNT; i++)
        if (strcmp(pdu__cmds[i].name, name) == 0) return &pdu__cmds[i];
    return NULL;
}

const pdu_cmd_t *pdu_cmd_at(size_t i)
{
    return i < PDU_CMD__COUNT ? &pdu__cmds[i] : NULL;
}

/* -- TLVs ------------------------------------------------------------------ */

enum {
#define TLV(name, tag, type, min, max) TLVI_##name,
#include "tlv.def"
#undef TLV
    TLVI__COUNT
};

static const pdu_tlv_def_t tlvs[TLVI__COUNT] = {
#define TLV(name, tag, type, min, max) {#name, tag, PDU_TLV_##type, min, max},
#include "tlv.def"
#undef TLV
};

const pdu_tlv_def_t *pdu_tlv_info(uint16_t tag)
{
    switch (tag) {
#define TLV(name, tag, type, min, max) case tag: return &tlvs[TLVI_##name];
#include "tlv.def"
#undef TLV
    default: return NULL;
    }
}

const pdu_tlv_def_t *pdu_tlv_at(size_t i)
{
    return i < TLVI__COUNT ? &tlvs[i] : NULL;
}

/* -- Statuses -------------------------------------------------------------- */

static const struct { uint32_t value; const char *name, *text; } statuses[] = {
#define STATUS(name, value, text) {value, #name, text},
#include "status.def"
#undef STATUS
};

#define NSTATUS (sizeof statuses / sizeof statuses[0])

const char *pdu_status_name(uint32_t status)
{
    switch (status) {
#define STATUS(name, value, text) case value: return #name;
#include "status.def"
#undef STATUS
    default: return NULL;
    }
}

const char *pdu_status_text(uint32_t status)
{
    size_t i;
    for (i = 0; i < NSTATUS; i++)
        if (statuses[i].value == status) return statuses[i].text;
    return NULL;
}

const char *pdu_status_at(size_t i, uint32_t *value)
{
    if (i >= NSTATUS) return NULL;
    if (value) *value = statuses[i].value;
    return statuses[i].name;
}
