/* test_pdu.c -- C unit tests of the codec: golden vectors from the reference
 * tables, every malformed case with its exact status, round trips of every
 * command, and the encoder's field-naming errors.
 */
#include <stdint.h>
#include <stdlib.h>

#include "pdu.h"
#include "test.h"

static pdu_t p, q;
static pdu_error_t err;
static uint8_t in[70000], out[70000];

/* -- Helpers ---------------------------------------------------------------- */

/* Hex (spaces allowed) to bytes; returns the byte count. */
static size_t unhex(const char *s, uint8_t *dst)
{
    size_t n = 0;
    while (*s) {
        unsigned v;
        if (*s == ' ') { s++; continue; }
        sscanf(s, "%2x", &v);
        dst[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

/* Build a PDU from a header (id, status, seq) and a body in hex, with the
 * command_length set to the real size. */
static size_t mk(uint8_t *dst, uint32_t id, uint32_t status, uint32_t seq, const char *body)
{
    size_t n = PDU_HEADER_LEN + unhex(body, dst + PDU_HEADER_LEN);
    uint32_t h[4] = {(uint32_t)n, id, status, seq};
    int i;
    for (i = 0; i < 16; i++) dst[i] = (uint8_t)(h[i / 4] >> (8 * (3 - i % 4)));
    return n;
}

static uint32_t dec(const uint8_t *d, size_t n)
{
    return pdu_decode(&p, d, n, 0, &err);
}

/* Decode, re-encode, and require the very same bytes. */
static int same_after_reencode(const uint8_t *d, size_t n)
{
    long m;
    if (pdu_decode(&p, d, n, 0, &err) != SMPP_ESME_ROK) return 0;
    m = pdu_encode(&p, out, sizeof out, &err);
    return m == (long)n && memcmp(out, d, n) == 0;
}

#define CHECK_FIELD(fid, s) CHECK_STR(p.f[fid].ptr, p.f[fid].len, s)

/* -- Golden vectors (reference 3.17, written by hand there) ----------------- */

static void golden_submit_sm(void)
{
    size_t n = unhex("00000036000000040000000000000002000500494E464F00010134343737303039"
                     "30303132330000000000000100000005 48656C6C6F", in);
    CHECK_EQ(dec(in, n), SMPP_ESME_ROK);
    CHECK(p.cmd && strcmp(p.cmd->name, "submit_sm") == 0);
    CHECK_EQ(p.sequence_number, 2);
    CHECK_FIELD(PDU_F_SERVICE_TYPE, "");
    CHECK_EQ(p.f[PDU_F_SOURCE_ADDR_TON].num, 5);
    CHECK_FIELD(PDU_F_SOURCE_ADDR, "INFO");
    CHECK_EQ(p.f[PDU_F_DEST_ADDR_NPI].num, 1);
    CHECK_FIELD(PDU_F_DESTINATION_ADDR, "447700900123");
    CHECK_EQ(p.f[PDU_F_REGISTERED_DELIVERY].num, 1);
    CHECK_EQ(p.f[PDU_F_SM_LENGTH].num, 5);
    CHECK_FIELD(PDU_F_SHORT_MESSAGE, "Hello");
    CHECK_EQ(p.ntlv, 0);
    CHECK(same_after_reencode(in, n));
}

static void golden_deliver_sm_receipt(void)
{
    const pdu_tlv_t *t;
    size_t n = unhex(
        "000000AC000000050000000000000009000101343437373030393030313233000500494E464F0004"
        "00000000000000006B69643A30303031373135303034207375623A30303120646C7672643A303031"
        "207375626D697420646174653A3235303133313132303020646F6E6520646174653A323530313331"
        "3132303120737461743A44454C49565244206572723A30303020746578743A48656C6C6F001E0007"
        "314132423343000427000102", in);
    CHECK_EQ(dec(in, n), SMPP_ESME_ROK);
    CHECK_EQ(p.f[PDU_F_ESM_CLASS].num, 4);
    CHECK_EQ(p.f[PDU_F_SM_LENGTH].num, 0x6B);
    CHECK(p.f[PDU_F_SHORT_MESSAGE].len == 0x6B
          && memcmp(p.f[PDU_F_SHORT_MESSAGE].ptr, "id:0001715004 sub:001", 21) == 0);
    CHECK_EQ(p.ntlv, 2);
    t = pdu_tlv_find(&p, SMPP_TLV_receipted_message_id);
    CHECK(t && t->len == 7 && memcmp(t->val, "1A2B3C", 7) == 0);
    t = pdu_tlv_find(&p, SMPP_TLV_message_state);
    CHECK(t && t->num == 2);
    CHECK(same_after_reencode(in, n));
}

static void golden_bind_transceiver(void)
{
    size_t n = unhex("0000002300000009000000000000000165736D65303100736563726574000034000000", in);
    CHECK_EQ(dec(in, n), SMPP_ESME_ROK);
    CHECK_FIELD(PDU_F_SYSTEM_ID, "esme01");
    CHECK_FIELD(PDU_F_PASSWORD, "secret");
    CHECK_FIELD(PDU_F_SYSTEM_TYPE, "");
    CHECK_EQ(p.f[PDU_F_INTERFACE_VERSION].num, 0x34);
    CHECK(same_after_reencode(in, n));

    n = unhex("0000001A800000090000000000000001534D5343000210000134", in);
    CHECK_EQ(dec(in, n), SMPP_ESME_ROK);
    CHECK_FIELD(PDU_F_SYSTEM_ID, "SMSC");
    CHECK(pdu_tlv_find(&p, SMPP_TLV_sc_interface_version)->num == 0x34);
    CHECK(same_after_reencode(in, n));
}

static void golden_error_response_without_body(void)
{
    size_t n = unhex("00000010800000090000000D00000001", in);
    CHECK_EQ(dec(in, n), SMPP_ESME_ROK);
    CHECK_EQ(p.command_status, SMPP_ESME_RBINDFAIL);
    CHECK_EQ(p.present, 0);
    CHECK(same_after_reencode(in, n));   /* error + nothing set -> header only */

    n = unhex("00000010800000040000005800000003", in);
    CHECK_EQ(dec(in, n), SMPP_ESME_ROK);
    CHECK_EQ(p.command_status, SMPP_ESME_RTHROTTLED);
    CHECK(pdu_get(&p, PDU_F_MESSAGE_ID) == NULL);
    CHECK(same_after_reencode(in, n));
}

static void golden_generic_nack(void)
{
    size_t n = unhex("00000010800000000000000300000007", in);
    CHECK_EQ(dec(in, n), SMPP_ESME_ROK);
    CHECK_EQ(p.command_status, SMPP_ESME_RINVCMDID);
    CHECK_EQ(p.sequence_number, 7);
    CHECK(same_after_reencode(in, n));
}

static void golden_submit_multi(void)
{
    /* 2 SME addresses and one distribution list, then the message. */
    size_t n = mk(in, SMPP_SUBMIT_MULTI, 0, 5,
                  "00 01 01 414243 00 03"
                  " 01 01 01 3131 00   01 02 08 3232 00   02 4C495354 00"
                  " 00 00 00 00 00 00 00 00 00 02 4869");
    CHECK_EQ(dec(in, n), SMPP_ESME_ROK);
    CHECK_EQ(p.f[PDU_F_NUMBER_OF_DESTS].num, 3);
    CHECK_EQ(p.naddr, 3);
    CHECK_EQ(p.addr[0].dest_flag, 1);
    CHECK_STR(p.addr[1].addr, p.addr[1].len, "22");
    CHECK_EQ(p.addr[1].npi, 8);
    CHECK_EQ(p.addr[2].dest_flag, 2);
    CHECK_STR(p.addr[2].addr, p.addr[2].len, "LIST");
    CHECK_FIELD(PDU_F_SHORT_MESSAGE, "Hi");
    CHECK(same_after_reencode(in, n));
}

static void golden_submit_multi_resp(void)
{
    size_t n = mk(in, SMPP_SUBMIT_MULTI_RESP, 0, 5,
                  "4D31 00 02  01 01 3131 00 0000000B  00 00 3232 00 00000045");
    CHECK_EQ(dec(in, n), SMPP_ESME_ROK);
    CHECK_FIELD(PDU_F_MESSAGE_ID, "M1");
    CHECK_EQ(p.naddr, 2);
    CHECK_EQ(p.addr[0].error_status_code, SMPP_ESME_RINVDSTADR);
    CHECK_EQ(p.addr[1].error_status_code, SMPP_ESME_RSUBMITFAIL);
    CHECK(same_after_reencode(in, n));
}

/* -- Malformed input: the exact status of each structural fault ------------- */

#define SM_HEAD "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00" /* all-NULL fields */

static void malformed_header(void)
{
    size_t n = unhex("00000010000000150000", in);
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVCMDLEN);         /* fewer than 16 octets */
    n = unhex("0000000F000000150000000000000001", in);
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVCMDLEN);         /* command_length 15 */
    n = mk(in, SMPP_ENQUIRE_LINK, 0, 1, "");
    in[3] = 0x20;
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVCMDLEN);         /* length != octets given */
    n = mk(in, SMPP_SUBMIT_SM, 0, 1, SM_HEAD);
    CHECK_EQ(pdu_decode(&p, in, n, 20, &err), SMPP_ESME_RINVCMDLEN); /* above the cap */
    CHECK(strstr(err.msg, "command_length") != NULL);
}

static void malformed_unknown_command(void)
{
    size_t n = mk(in, 0x00000099, 0, 42, "");
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVCMDID);
    CHECK(p.cmd == NULL);
    CHECK_EQ(p.sequence_number, 42);                    /* for the generic_nack */
    n = mk(in, 0x80000102, 0, 1, "");                   /* reserved response id */
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVCMDID);
}

static void malformed_short_body(void)
{
    size_t n = mk(in, SMPP_SUBMIT_SM, 0, 1, "00 01 01 414243 00 01 01");
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVCMDLEN);
    CHECK(strcmp(err.field, "destination_addr") == 0);
    n = mk(in, SMPP_BIND_TRANSMITTER, 0, 1, "4142 00 4142 00 00 34");
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVCMDLEN);
    CHECK(strcmp(err.field, "addr_ton") == 0);
}

static void malformed_cstr_without_nul(void)
{
    char body[400];
    size_t n;
    /* source_addr: 21 characters, no NUL within its 21 octets */
    snprintf(body, sizeof body, "00 01 01 %s 00 01 01 3131 00 %s", 
             "414141414141414141414141414141414141414141", SM_HEAD);
    n = mk(in, SMPP_SUBMIT_SM, 0, 1, body);
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVSRCADR);
    CHECK(strcmp(err.field, "source_addr") == 0);

    snprintf(body, sizeof body, "00 01 01 3131 00 01 01 %s 00 %s",
             "414141414141414141414141414141414141414141", SM_HEAD);
    n = mk(in, SMPP_SUBMIT_SM, 0, 1, body);
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVDSTADR);

    n = mk(in, SMPP_SUBMIT_SM, 0, 1, "414243444546 00" SM_HEAD); /* service_type > 5 chars */
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVSERTYP);

    n = mk(in, SMPP_BIND_TRANSCEIVER, 0, 1,
           "41414141414141414141414141414141 00 00 00 34 00 00 00");
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVSYSID);
    n = mk(in, SMPP_BIND_TRANSCEIVER, 0, 1, "41 00 50505050505050505050 00 00 34 00 00 00");
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVPASWD);
    n = mk(in, SMPP_BIND_TRANSCEIVER, 0, 1, "41 00 50 00 5353535353535353535353535353 00 34 00 00 00");
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVSYSTYP);
    n = mk(in, SMPP_QUERY_SM, 0, 1,
           "3131313131313131313131313131313131313131313131313131313131313131"
           "3131313131313131313131313131313131313131313131313131313131313131 31 00 00 00 00");
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVMSGID);
    /* address_range has no status of its own */
    n = mk(in, SMPP_BIND_TRANSCEIVER, 0, 1,
           "41 00 50 00 00 34 00 00"
           " 414141414141414141414141414141414141414141414141414141414141414141414141414141414141 00");
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVCMDLEN);
}

static void malformed_time(void)
{
    size_t n = mk(in, SMPP_SUBMIT_SM, 0, 1,
                  "00 00 00 00 00 00 00 00 00 00 3235303130 00 00 00 00 00 00 00");
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVSCHED);
    n = mk(in, SMPP_SUBMIT_SM, 0, 1,
           "00 00 00 00 00 00 00 00 00 00 00 3235303130 00 00 00 00 00 00");
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVEXPIRY);
    CHECK(strcmp(err.field, "validity_period") == 0);
    /* query_sm_resp may report the short 12-character final_date */
    n = mk(in, SMPP_QUERY_SM_RESP, 0, 1, "4D00 323530313331313230303030 00 02 00");
    CHECK_EQ(dec(in, n), SMPP_ESME_ROK);
}

static void malformed_sm_length(void)
{
    size_t n = mk(in, SMPP_SUBMIT_SM, 0, 1,
                  "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 C8 4869");
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVMSGLEN);         /* sm_length 200, 2 octets */
    CHECK(strcmp(err.field, "sm_length") == 0);
    n = mk(in, SMPP_SUBMIT_SM, 0, 1,
           "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 FF 4869");
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVMSGLEN);         /* above 254 */
    n = mk(in, SMPP_SUBMIT_SM, 0, 1,                    /* both short_message and payload */
           "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 02 4869  0424 0002 4869");
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVMSGLEN);
    CHECK(strcmp(err.field, "message_payload") == 0);
    n = mk(in, SMPP_SUBMIT_SM, 0, 1,                    /* payload alone is fine */
           "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  0424 0002 4869");
    CHECK_EQ(dec(in, n), SMPP_ESME_ROK);
}

static void malformed_tlvs(void)
{
    size_t n = mk(in, SMPP_SUBMIT_SM, 0, 1, SM_HEAD " 0204 0005 0001");
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVOPTPARSTREAM);   /* length past the body */
    n = mk(in, SMPP_DELIVER_SM, 0, 1, SM_HEAD " 0427 0002 0002");
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVPARLEN);         /* message_state is 1 octet */
    CHECK(strcmp(err.field, "message_state") == 0);
    n = mk(in, SMPP_SUBMIT_SM, 0, 1, SM_HEAD " 0204 0002 0001 1234");
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVCMDLEN);         /* 2 stray octets */
    n = mk(in, SMPP_SUBMIT_SM, 0, 1, SM_HEAD " 0204 0002 0001 0000");
    CHECK_EQ(dec(in, n), SMPP_ESME_ROK);                /* zero padding tolerated */
    CHECK_EQ(p.ntlv, 1);
}

static void malformed_submit_multi(void)
{
    size_t n = mk(in, SMPP_SUBMIT_MULTI, 0, 1, "00 00 00 00 00" SM_HEAD);
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVNUMDESTS);
    n = mk(in, SMPP_SUBMIT_MULTI, 0, 1, "00 00 00 00 01 03 00 00 3100" SM_HEAD);
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVDESTFLAG);
    n = mk(in, SMPP_SUBMIT_MULTI, 0, 1, "00 00 00 00 02 01 00 00 3100");
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVCMDLEN);         /* list cut short */
}

/* The strings inside list entries take the sizes of smpp.def's entry rows
 * (21 octets with the NUL), both ways. */
static void list_entry_sizes(void)
{
    static const char a20[] = "31323334353637383930313233343536373839" "30";   /* 20 digits */
    char body[400];
    size_t n;
    snprintf(body, sizeof body, "00 00 00 00 01 01 00 00 %s00" SM_HEAD, a20);
    n = mk(in, SMPP_SUBMIT_MULTI, 0, 1, body);
    CHECK_EQ(dec(in, n), SMPP_ESME_ROK);
    CHECK_EQ(p.addr[0].len, 20);
    snprintf(body, sizeof body, "00 00 00 00 01 01 00 00 %s3100" SM_HEAD, a20);   /* 21: no NUL within 21 */
    n = mk(in, SMPP_SUBMIT_MULTI, 0, 1, body);
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVDSTADR);
    snprintf(body, sizeof body, "00 00 00 00 01 02 %s3100" SM_HEAD, a20);
    n = mk(in, SMPP_SUBMIT_MULTI, 0, 1, body);
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVDLNAME);
    snprintf(body, sizeof body, "00 01 00 00 %s3100 00000008", a20);               /* unsuccess_sme */
    n = mk(in, SMPP_SUBMIT_MULTI_RESP, 0, 1, body);
    CHECK_EQ(dec(in, n), SMPP_ESME_RINVDSTADR);
    pdu_init(&p, SMPP_SUBMIT_MULTI, 1);
    CHECK_EQ(pdu_addr_add(&p, 1, 1, 1, "12345678901234567890", 0), 0);
    CHECK(pdu_encode(&p, out, sizeof out, &err) > 0);
    pdu_init(&p, SMPP_SUBMIT_MULTI, 1);
    CHECK_EQ(pdu_addr_add(&p, 1, 1, 1, "123456789012345678901", 0), 0);
    CHECK_EQ(pdu_encode(&p, out, sizeof out, &err), PDU_EINVAL);
    CHECK_EQ(err.status, SMPP_ESME_RINVDSTADR);
}

static void tlvs_kept_repeated_misplaced_unknown(void)
{
    /* callback_num twice, sc_interface_version (only listed for bind resps),
     * and a vendor tag, out of tag order: all kept, in order, byte exact. */
    size_t n = mk(in, SMPP_SUBMIT_SM, 0, 1, SM_HEAD
                  " 1401 0003 010203  0381 0004 00010131  0210 0001 34  0381 0004 00010132");
    CHECK_EQ(dec(in, n), SMPP_ESME_ROK);
    CHECK_EQ(p.ntlv, 4);
    CHECK_EQ(p.tlv[0].tag, 0x1401);
    CHECK_EQ(p.tlv[3].tag, 0x0381);
    CHECK_EQ(p.tlv[3].val[3], 0x32);
    CHECK(same_after_reencode(in, n));
}

static void response_bodies_accepted(void)
{
    size_t n = mk(in, SMPP_DELIVER_SM_RESP, 0, 3, "");  /* 16-octet deliver_sm_resp */
    CHECK_EQ(dec(in, n), SMPP_ESME_ROK);
    n = mk(in, SMPP_SUBMIT_SM_RESP, SMPP_ESME_RSYSERR, 3, "00");   /* error + empty id */
    CHECK_EQ(dec(in, n), SMPP_ESME_ROK);
    CHECK(pdu_get(&p, PDU_F_MESSAGE_ID) && p.f[PDU_F_MESSAGE_ID].len == 0);
    CHECK(same_after_reencode(in, n));
}

/* -- Round trip of every command in the table -------------------------------- */

/* Fill every field of `cmd` with a value that fits its kind and size. */
static void fill(pdu_t *x, const pdu_cmd_t *cmd)
{
    static const char *text =
        "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEF";
    const pdu_slot_t *s;
    pdu_init(x, cmd->id, 0x7FFFFFFF);
    for (s = cmd->slots; s < cmd->slots + cmd->nslots; s++) {
        switch (pdu_field_info((pdu_field_id_t)s->id)->kind) {
        case PDU_KIND_INT1: pdu_set_int(x, (pdu_field_id_t)s->id, s->id + 1); break;
        case PDU_KIND_INT4: pdu_set_int(x, (pdu_field_id_t)s->id, 0x01020304); break;
        case PDU_KIND_CSTR:
            pdu_set_str(x, (pdu_field_id_t)s->id, (const uint8_t *)text, s->max - 1u);
            break;
        case PDU_KIND_TIME: pdu_set_cstr(x, (pdu_field_id_t)s->id, "250131235959012+"); break;
        case PDU_KIND_OSTR:
            pdu_set_str(x, (pdu_field_id_t)s->id, (const uint8_t *)"\0\1\2\377 binary", 11);
            break;
        case PDU_KIND_DESTS:
            pdu_addr_add(x, 1, 1, 1, "447700900123", 0);
            pdu_addr_add(x, 2, 0, 0, "friends", 0);
            break;
        case PDU_KIND_UNSUCC:
            pdu_addr_add(x, 0, 1, 1, "447700900123", SMPP_ESME_RINVDSTADR);
            break;
        default: break;  /* derived counts */
        }
    }
    pdu_tlv_add_int(x, SMPP_TLV_user_message_reference, 0xBEEF);
    pdu_tlv_add(x, 0x1500, (const uint8_t *)"vendor", 6);
}

static void round_trip_every_command(void)
{
    size_t i;
    const pdu_cmd_t *cmd;
    for (i = 0; (cmd = pdu_cmd_at(i)) != NULL; i++) {
        long n;
        int j;
        fill(&q, cmd);
        n = pdu_encode(&q, in, sizeof in, &err);
        if (n < 0) { printf("  %s: %s\n", cmd->name, err.msg); CHECK(n > 0); continue; }
        CHECK_EQ(dec(in, (size_t)n), SMPP_ESME_ROK);
        CHECK(p.cmd == cmd);
        CHECK_EQ(p.sequence_number, 0x7FFFFFFF);
        CHECK_EQ(p.present, q.present | p.present);   /* every field came back */
        for (j = 0; j < cmd->nslots; j++) {
            pdu_field_id_t id = (pdu_field_id_t)cmd->slots[j].id;
            CHECK_EQ(p.f[id].len, q.present & ((uint64_t)1 << id) ? q.f[id].len : p.f[id].len);
            if (q.f[id].ptr && (q.present & ((uint64_t)1 << id)))
                CHECK(memcmp(p.f[id].ptr, q.f[id].ptr, q.f[id].len) == 0);
            else if (q.present & ((uint64_t)1 << id))
                CHECK_EQ(p.f[id].num, q.f[id].num);
        }
        CHECK_EQ(p.naddr, q.naddr);
        CHECK_EQ(p.ntlv, 2);
        CHECK_EQ(pdu_tlv_find(&p, SMPP_TLV_user_message_reference)->num, 0xBEEF);
        CHECK(same_after_reencode(in, (size_t)n));
    }
    CHECK_EQ(i, 27);
}

/* -- Encoder errors name the field -------------------------------------------- */

static void encode_errors_name_the_field(void)
{
    static const char long_addr[] = "123456789012345678901";   /* 21 characters */
    uint8_t big[300];
    memset(big, 'x', sizeof big);

    pdu_init(&q, SMPP_SUBMIT_SM, 1);
    pdu_set_cstr(&q, PDU_F_SOURCE_ADDR, long_addr);
    CHECK_EQ(pdu_encode(&q, out, sizeof out, &err), PDU_EINVAL);
    CHECK(err.field && strcmp(err.field, "source_addr") == 0);
    CHECK_EQ(err.status, SMPP_ESME_RINVSRCADR);

    pdu_init(&q, SMPP_SUBMIT_SM, 1);
    pdu_set_int(&q, PDU_F_ESM_CLASS, 300);
    CHECK_EQ(pdu_encode(&q, out, sizeof out, &err), PDU_EINVAL);
    CHECK(strcmp(err.field, "esm_class") == 0);

    pdu_init(&q, SMPP_SUBMIT_SM, 1);
    pdu_set_str(&q, PDU_F_SHORT_MESSAGE, big, 255);
    CHECK_EQ(pdu_encode(&q, out, sizeof out, &err), PDU_EINVAL);
    CHECK_EQ(err.status, SMPP_ESME_RINVMSGLEN);

    pdu_init(&q, SMPP_SUBMIT_SM, 1);
    pdu_set_cstr(&q, PDU_F_SCHEDULE_DELIVERY_TIME, "2501311200");
    CHECK_EQ(pdu_encode(&q, out, sizeof out, &err), PDU_EINVAL);
    CHECK_EQ(err.status, SMPP_ESME_RINVSCHED);

    pdu_init(&q, SMPP_SUBMIT_SM, 1);
    pdu_set_cstr(&q, PDU_F_SYSTEM_ID, "x");              /* not a submit_sm field */
    CHECK_EQ(pdu_encode(&q, out, sizeof out, &err), PDU_EINVAL);
    CHECK(strcmp(err.field, "system_id") == 0);

    pdu_init(&q, SMPP_SUBMIT_SM, 1);
    pdu_set_int(&q, PDU_F_SM_LENGTH, 9);                 /* disagrees with short_message */
    pdu_set_cstr(&q, PDU_F_SHORT_MESSAGE, "Hi");
    CHECK_EQ(pdu_encode(&q, out, sizeof out, &err), PDU_EINVAL);
    CHECK(strcmp(err.field, "sm_length") == 0);

    pdu_init(&q, SMPP_SUBMIT_MULTI, 1);                  /* no destination */
    CHECK_EQ(pdu_encode(&q, out, sizeof out, &err), PDU_EINVAL);
    CHECK_EQ(err.status, SMPP_ESME_RINVNUMDESTS);

    pdu_init(&q, SMPP_DELIVER_SM, 1);
    pdu_tlv_add(&q, SMPP_TLV_message_state, (const uint8_t *)"\0\2", 2);
    CHECK_EQ(pdu_encode(&q, out, sizeof out, &err), PDU_EINVAL);
    CHECK(strcmp(err.field, "message_state") == 0);

    pdu_init(&q, SMPP_SUBMIT_SM, 1);
    CHECK_EQ(pdu_encode(&q, out, 20, &err), PDU_ENOSPC);
    CHECK_EQ(err.need, 33);
    CHECK_EQ(pdu_encode(&q, out, 33, &err), 33);

    CHECK_EQ(pdu_init(&q, 0x77, 1), PDU_EINVAL);
    CHECK_EQ(pdu_encode(&q, out, sizeof out, &err), PDU_EINVAL);
}

/* No PDU the codec's own decoder (and a peer with the default max_pdu)
 * would refuse: a 65,535-octet message_payload in a deliver_sm makes
 * 65,572 octets, above 65,552, refused at encode whatever the room given.
 * A TLV with no bytes to read its length from is refused when added. */
static void encode_refuses_what_no_peer_takes(void)
{
    static uint8_t payload[65535], huge[70000];
    memset(payload, 'a', sizeof payload);
    pdu_init(&q, SMPP_DELIVER_SM, 1);
    CHECK_EQ(pdu_tlv_add(&q, SMPP_TLV_message_payload, payload, 65535), 0);
    CHECK_EQ(pdu_encode(&q, huge, sizeof huge, &err), PDU_EINVAL);
    CHECK_EQ(err.status, SMPP_ESME_RINVMSGLEN);
    CHECK(strstr(err.msg, "65572 octets, above 65552") != NULL);
    CHECK_EQ(pdu_encode(&q, out, sizeof out, &err), PDU_EINVAL);    /* not ENOSPC: no room would do */

    pdu_init(&q, SMPP_DELIVER_SM, 1);                   /* the largest that is taken */
    CHECK_EQ(pdu_tlv_add(&q, SMPP_TLV_message_payload, payload, 65500), 0);
    CHECK(pdu_encode(&q, huge, sizeof huge, &err) > 65500);
    CHECK_EQ(pdu_decode(&p, huge, q.command_length, 0, &err), SMPP_ESME_ROK);

    pdu_init(&q, SMPP_DELIVER_SM, 1);
    CHECK_EQ(pdu_tlv_add(&q, 0x1401, NULL, 100), PDU_EINVAL);
    CHECK_EQ(q.ntlv, 0);
    CHECK_EQ(pdu_tlv_add(&q, 0x1401, NULL, 0), 0);       /* an empty value is fine */
    CHECK(pdu_encode(&q, out, sizeof out, &err) > 0);
}

/* -- Framing and tables ------------------------------------------------------- */

static void framing(void)
{
    size_t n = mk(in, SMPP_ENQUIRE_LINK, 0, 1, "");
    CHECK_EQ(pdu_frame(in, 3, 0), 0);
    CHECK_EQ(pdu_frame(in, 15, 0), 0);
    CHECK_EQ(pdu_frame(in, n, 0), 16);
    CHECK_EQ(pdu_frame(in, n + 5, 0), 16);
    in[3] = 8;
    CHECK_EQ(pdu_frame(in, n, 0), -1);
    in[1] = 2;   /* 0x00020008 > 64 KiB + 16 */
    CHECK_EQ(pdu_frame(in, n, 0), -1);
}

static void tables(void)
{
    size_t i;
    uint32_t v, max = 0;
    const char *name;
    CHECK(pdu_cmd_find(SMPP_DATA_SM_RESP) == pdu_cmd_by_name("data_sm_resp"));
    CHECK_EQ(pdu_cmd_by_name("submit_sm")->resp_id, SMPP_SUBMIT_SM_RESP);
    CHECK_EQ(pdu_cmd_by_name("outbind")->resp_id, 0);
    CHECK(pdu_cmd_by_name("deliver_sm")->smsc_states & PDU_ST_BOUND_RX);
    CHECK(!(pdu_cmd_by_name("deliver_sm")->esme_states & PDU_ST_BOUND_RX));
    CHECK(strcmp(pdu_status_name(0x58), "ESME_RTHROTTLED") == 0);
    CHECK(pdu_status_name(0x09) == NULL);
    CHECK(strcmp(pdu_tlv_info(0x0424)->name, "message_payload") == 0);
    for (i = 0; (name = pdu_status_at(i, &v)) != NULL; i++) {
        CHECK(strcmp(pdu_status_name(v), name) == 0);
        CHECK(v < PDU_STATUS_SPAN);                /* the span covers every status... */
        if (v + 1 == PDU_STATUS_SPAN) max = v;     /* ...and ends right after the largest */
    }
    CHECK(i >= 48);
    CHECK_EQ(max + 1, PDU_STATUS_SPAN);
    for (i = 0; pdu_cmd_at(i); i++) {}
    CHECK_EQ(i, PDU_CMD__COUNT);
    CHECK_EQ(pdu_cmd_at(PDU_CMD_SUBMIT_SM)->id, SMPP_SUBMIT_SM);
    CHECK_EQ(pdu_cmd_at(PDU_CMD_DATA_SM_RESP)->id, SMPP_DATA_SM_RESP);
    /* the bodies encoded by name count short_message in sm_length: it
     * follows sm_length in every body */
    for (i = 0; pdu_cmd_at(i); i++) {
        const pdu_cmd_t *c = pdu_cmd_at(i);
        size_t k;
        for (k = 0; k < c->nslots; k++)
            if (c->slots[k].kind == PDU_KIND_SMLEN)
                CHECK(k + 1 < c->nslots && c->slots[k + 1].id == PDU_F_SHORT_MESSAGE);
    }
}

/* submit_sm and deliver_sm (their fields decoded by name) and data_sm
 * (the loop over its slots) cut after every octet of their body: the
 * field the cut falls in is refused, with the status a short body or a
 * short short_message gets, and exactly the fields before it present. */
static void cut_bodies_refuse_the_field_cut(void)
{
    static const struct { uint32_t id; const char *body; } cases[] = {
        {SMPP_SUBMIT_SM, "00 01 01 4142 00 01 01 4344 00 00 00 00 00 00 01 00 00 00 02 6869"},
        {SMPP_DELIVER_SM, "434D5400 05 00 4241 00 01 01 3132 00 04 00 00 00 00 00 00 03 00 01 61"},
        {SMPP_DATA_SM, "00 01 01 4142 00 01 01 4344 00 00 01 00"},
    };
    size_t c;
    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const pdu_cmd_t *cmd = pdu_cmd_find(cases[c].id);
        uint8_t body[256];
        size_t nbody = unhex(cases[c].body, body), cut, slot = 0, pos = 0, width;
        uint64_t before = 0;
        CHECK_EQ(dec(in, mk(in, cases[c].id, 0, 7, cases[c].body)), SMPP_ESME_ROK);
        CHECK_EQ(p.present, cmd->body);
        for (cut = 0; cut < nbody; cut++) {
            const pdu_slot_t *s;
            size_t n = PDU_HEADER_LEN + cut;
            /* the slot the cut falls in, and the octets of the slots before */
            for (;;) {
                s = &cmd->slots[slot];
                width = s->kind == PDU_KIND_OSTR ? p.f[s->id].len
                      : s->kind == PDU_KIND_CSTR || s->kind == PDU_KIND_TIME ? p.f[s->id].len + 1 : 1;
                if (cut < pos + width) break;
                before |= (uint64_t)1 << s->id;
                pos += width;
                slot++;
            }
            memcpy(out, in, n);
            out[0] = (uint8_t)(n >> 24); out[1] = (uint8_t)(n >> 16); out[2] = (uint8_t)(n >> 8); out[3] = (uint8_t)n;
            CHECK_EQ(pdu_decode(&q, out, n, 0, &err),
                     s->kind == PDU_KIND_OSTR ? SMPP_ESME_RINVMSGLEN : SMPP_ESME_RINVCMDLEN);
            CHECK(strcmp(err.field, s->kind == PDU_KIND_OSTR ? "sm_length" : pdu_field_info((pdu_field_id_t)s->id)->name) == 0);
            CHECK_EQ(q.present, before);
        }
        CHECK_EQ(slot, (size_t)cmd->nslots - 1);      /* the last cut was in the last field */
    }
}

int main(void)
{
    TEST(golden_submit_sm);
    TEST(golden_deliver_sm_receipt);
    TEST(golden_bind_transceiver);
    TEST(golden_error_response_without_body);
    TEST(golden_generic_nack);
    TEST(golden_submit_multi);
    TEST(golden_submit_multi_resp);
    TEST(malformed_header);
    TEST(malformed_unknown_command);
    TEST(malformed_short_body);
    TEST(malformed_cstr_without_nul);
    TEST(malformed_time);
    TEST(malformed_sm_length);
    TEST(cut_bodies_refuse_the_field_cut);
    TEST(malformed_tlvs);
    TEST(malformed_submit_multi);
    TEST(list_entry_sizes);
    TEST(tlvs_kept_repeated_misplaced_unknown);
    TEST(response_bodies_accepted);
    TEST(round_trip_every_command);
    TEST(encode_errors_name_the_field);
    TEST(encode_refuses_what_no_peer_takes);
    TEST(framing);
    TEST(tables);
    return test_summary();
}
