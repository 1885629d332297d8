/* test_dlr.c -- receipt texts read as the gateway reads them (dlr.c),
 * message id keys and the ids we issue (msgid.c): the cases the Lua specs
 * check through smpp.receipt and smpp.msgid, at the C level where the
 * rules live.
 */
#include <string.h>

#include "dlr.h"
#include "msgid.h"
#include "test.h"

static const char *key(const char *id, int fmt)
{
    static char out[1024];
    long n = msgid_key(id, strlen(id), fmt, out, sizeof out);
    return n < 0 ? "(error)" : out;
}

/* make, then read back; returns the id */
static const char *keyed(int fmt, unsigned long long node, unsigned long long key)
{
    static char out[MSGID_KEYED_MAX];
    unsigned long long n2 = 0, k2 = 0;
    int n = msgid_keyed_make(fmt, node, key, out, sizeof out);
    CHECK(n > 0);
    CHECK_EQ(msgid_keyed_read(fmt, out, (size_t)n, &n2, &k2), 0);
    CHECK_EQ(n2, node);
    CHECK(k2 == key);
    return out;
}

static int reads(int fmt, const char *id)
{
    unsigned long long n, k;
    return msgid_keyed_read(fmt, id, strlen(id), &n, &k) == 0;
}

static void test_keyed_ids(void)
{
    static const unsigned long long keys[] = { 0, 1, 42, 999, 2147483655ULL, 4294967295ULL, 4294967296ULL,
                                               9999999999ULL, 10000000000ULL, 1ULL << 48, (1ULL << 53) + 1,
                                               ~0ULL >> 1 };
    size_t i;
    int f;
    CHECK(strcmp(keyed(MSGID_KEYED_DECIMAL, 4000000001ULL, 42), "40000000010000000042") == 0);
    CHECK(strcmp(keyed(MSGID_KEYED_HEX, 4000000001ULL, 42), "EE6B28010000002A") == 0);
    CHECK(strcmp(keyed(MSGID_KEYED_UUID, 4000000001ULL, 42), "ee6b2801-0000-4000-8000-00000000002a") == 0);
    CHECK(strcmp(keyed(MSGID_KEYED_UUID, 1, (1ULL << 48) + 5), "00000001-0001-4000-8000-000000000005") == 0);
    CHECK(strcmp(keyed(MSGID_KEYED_DECIMAL, 1, 10000000000ULL), "000000000110000000000") == 0);
    CHECK(strcmp(keyed(MSGID_KEYED_HEX, 1, 1ULL << 32), "00000001100000000") == 0);
    CHECK(strcmp(keyed(MSGID_KEYED_DECIMAL, 7, 123456789012345ULL), "0000000007123456789012345") == 0);
    CHECK(strcmp(keyed(MSGID_KEYED_DECIMAL, 4294967295ULL, ~0ULL >> 1), "42949672959223372036854775807") == 0);
    CHECK(strcmp(keyed(MSGID_KEYED_DECIMAL, 10, 5), "00000000100000000005") == 0);
    for (f = MSGID_KEYED_DECIMAL; f <= MSGID_KEYED_UUID; f++)
        for (i = 0; i < sizeof keys / sizeof *keys; i++) {
            size_t len = strlen(keyed(f, 0xFFFFFFFFULL, keys[i]));
            CHECK(len < MSGID_KEYED_MAX && len <= 65);          /* a message_id holds 65 octets */
        }
    /* either case reads; nothing else make would not write */
    CHECK(reads(MSGID_KEYED_HEX, "ee6b28010000002a"));
    CHECK(reads(MSGID_KEYED_UUID, "EE6B2801-0000-4000-8000-00000000002A"));
    CHECK(!reads(MSGID_KEYED_HEX, "EE6B28010000002"));           /* short */
    CHECK(!reads(MSGID_KEYED_HEX, "EE6B2801000000002A"));        /* a key padded past 8 digits */
    CHECK(!reads(MSGID_KEYED_DECIMAL, "4000000001000000004"));   /* 19 digits */
    CHECK(!reads(MSGID_KEYED_DECIMAL, "400000000100000000042")); /* padded past 10 */
    CHECK(!reads(MSGID_KEYED_DECIMAL, "99999999990000000042"));  /* node past 2^32 - 1 */
    CHECK(!reads(MSGID_KEYED_DECIMAL, "00000000000000000042"));  /* node 0 */
    CHECK(!reads(MSGID_KEYED_DECIMAL, " 4000000001000000042"));
    CHECK(!reads(MSGID_KEYED_UUID, "ee6b2801-0000-4001-8000-00000000002a"));
    CHECK(!reads(MSGID_KEYED_UUID, "ee6b2801-0000-4000-8000-00000000002a0"));
    CHECK(!reads(MSGID_KEYED_HEX, "EE6B2801-0000002A"));
    CHECK(!reads(7, "EE6B28010000002A"));
    CHECK(!reads(0, "EE6B28010000002A"));
    /* no id of one format reads as another's: decimal digits are hex
     * digits, but a node written in decimal never reads as itself in hex */
    {
        unsigned long long n, k, node = 305419896ULL;   /* 0x12345678 */
        char id[MSGID_KEYED_MAX];
        int len = msgid_keyed_make(MSGID_KEYED_DECIMAL, node, 7, id, sizeof id);
        CHECK(msgid_keyed_read(MSGID_KEYED_HEX, id, (size_t)len, &n, &k) != 0 || n != node);
        len = msgid_keyed_make(MSGID_KEYED_HEX, node, 7, id, sizeof id);
        CHECK(msgid_keyed_read(MSGID_KEYED_DECIMAL, id, (size_t)len, &n, &k) != 0);
    }
    CHECK_EQ(msgid_keyed_make(MSGID_KEYED_HEX, 0, 1, (char[MSGID_KEYED_MAX]){0}, MSGID_KEYED_MAX), -1);
    CHECK_EQ(msgid_keyed_make(MSGID_KEYED_HEX, 1ULL << 32, 1, (char[MSGID_KEYED_MAX]){0}, MSGID_KEYED_MAX), -1);
    CHECK_EQ(msgid_keyed_format("uuid"), MSGID_KEYED_UUID);
    CHECK_EQ(msgid_keyed_format("base64"), -1);
    CHECK(strcmp(msgid_keyed_name(MSGID_KEYED_HEX), "hex") == 0);
}

static void test_keys(void)
{
    CHECK(strcmp(key("0001715004", MSGID_STRING), "0001715004") == 0);    /* as written */
    CHECK(strcmp(key("  1A2B3C\n", MSGID_STRING), "1A2B3C") == 0);
    CHECK(strcmp(key("0001715004", MSGID_NORMALIZED), "1715004") == 0);
    CHECK(strcmp(key("  1A2B3C\n", MSGID_NORMALIZED), "1a2b3c") == 0);
    CHECK(strcmp(key("0001715004", MSGID_DECIMAL), "1715004") == 0);
    CHECK(msgid_key_written("MSG1", 4, MSGID_STRING) && msgid_key_written("01", 2, MSGID_STRING));
    CHECK(!msgid_key_written("01", 2, MSGID_DECIMAL) && msgid_key_written("1A", 2, MSGID_DECIMAL));
    CHECK(!msgid_key_written("1A", 2, MSGID_HEX) && !msgid_key_written("x", 1, MSGID_NORMALIZED));
    CHECK(strcmp(key("000", MSGID_HEX), "0") == 0);
    CHECK(strcmp(key("", MSGID_DECIMAL), "") == 0);
    CHECK(strcmp(key("1A2B3C", MSGID_HEX), "1715004") == 0);
    CHECK(strcmp(key("10", MSGID_HEX), "16") == 0);
    CHECK(strcmp(key("10", MSGID_DECIMAL), "10") == 0);
    CHECK(strcmp(key("ffffffffffffffff", MSGID_HEX), "18446744073709551615") == 0);
    CHECK(strcmp(key("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", MSGID_HEX),
                 "340282366920938463463374607431768211455") == 0);
    CHECK(strcmp(key("1000000000", MSGID_HEX), "68719476736") == 0);   /* a limb boundary */
    CHECK(strcmp(key("ABC-1", MSGID_HEX), "ABC-1") == 0);            /* not hex: as written */
    CHECK(strcmp(key("1A", MSGID_DECIMAL), "1A") == 0);
    {
        char small[4];
        CHECK_EQ(msgid_key("123456", 6, MSGID_STRING, small, sizeof small), -1);
    }
    CHECK_EQ(msgid_format("hex"), MSGID_HEX);
    CHECK_EQ(msgid_format("normalized"), MSGID_NORMALIZED);
    CHECK_EQ(msgid_format("octal"), -1);
}

static void test_read(void)
{
    static const char txt[] = "id:0123 sub:001 dlvrd:001 submit date:2501311200 done date:2501311201 "
                              "stat:DELIVRD err:000 text:id:x stat:no";
    dlr_text_t t;
    size_t start, len;
    dlr_read(txt, sizeof txt - 1, &t);
    CHECK_STR(t.id, t.id_len, "0123");
    CHECK_EQ(t.id_at, 3);
    CHECK_STR(t.stat, t.stat_len, "DELIVRD");
    CHECK_STR(t.err, t.err_len, "000");
    CHECK(dlr_text(txt, sizeof txt - 1, &start, &len));
    CHECK_STR(txt + start, len, "id:x stat:no");
    /* "id: 123", labels in any case, '_' and '-' ignored, no text field */
    dlr_read("Stat:undeliv ID: 77 Err:5", 25, &t);
    CHECK_STR(t.id, t.id_len, "77");
    CHECK_EQ(t.id_at, 17);
    CHECK_STR(t.stat, t.stat_len, "undeliv");
    CHECK(!dlr_text("Stat:undeliv ID: 77 Err:5", 25, &start, &len));
    /* "text:" in any case, at the start or after white space only */
    CHECK(dlr_text("Text:hi", 7, &start, &len));
    CHECK_EQ(start, 5);
    CHECK(dlr_text("id:1 context:y TEXT:z", 21, &start, &len));
    CHECK_STR("id:1 context:y TEXT:z" + start, len, "z");
    CHECK(dlr_text("id:1\ttext:a:b", 14, &start, &len));
    CHECK_STR("id:1\ttext:a:b" + start, len, "a:b");
    CHECK(!dlr_text("ext:1 context:2 text", 20, &start, &len));
    /* the first value of a label wins */
    dlr_read("id:1 id:2", 9, &t);
    CHECK_STR(t.id, t.id_len, "1");
    /* not a receipt text */
    dlr_read("hello world", 11, &t);
    CHECK(t.id == NULL && t.stat == NULL);
    /* labels as dlr_fields makes them ('_' and '-' left out, any case);
     * the words end at "text:" in any case, not at "context:" or "text" */
    dlr_read("I-D:9 S_T_A_T:ok context:x text e_r_R:7 TEXT:stat:late err:1", 61, &t);
    CHECK_STR(t.id, t.id_len, "9");
    CHECK_STR(t.stat, t.stat_len, "ok");
    CHECK_STR(t.err, t.err_len, "7");
    dlr_read("stat:a TeXt:id:1 err:2", 22, &t);
    CHECK(t.id == NULL && t.err == NULL);
    CHECK_STR(t.stat, t.stat_len, "a");
    /* "id:" then a label: no value; then a word without one: its value */
    dlr_read("id: err:3 stat: X", 17, &t);
    CHECK(t.id != NULL && t.id_len == 0);
    CHECK_STR(t.err, t.err_len, "3");
    CHECK_STR(t.stat, t.stat_len, "X");
    CHECK_EQ(t.id_at, 3);
    /* a NUL ends a label, as it ends dlr_fields' copy of it: "err\0\0:5"
     * is err's, "\0id:1" and "e\0rr:2" nobody's (and nothing is read past
     * the label compared with) */
    {
        static const char nul[] = "id\0:42 stat:DELIVRD err\0\0\0\0:5 \0id:1 e\0rr:2";
        dlr_read(nul, sizeof nul - 1, &t);
        CHECK_STR(t.id, t.id_len, "42");
        CHECK_STR(t.stat, t.stat_len, "DELIVRD");
        CHECK_STR(t.err, t.err_len, "5");
        dlr_read(nul + 29, sizeof nul - 30, &t);
        CHECK(t.id == NULL && t.err == NULL);
    }
}

static int saw_submitdate;
static int field(const char *label, const char *value, size_t vlen, size_t at, void *ud)
{
    (void)value; (void)vlen; (void)at; (void)ud;
    if (strcmp(label, "submitdate") == 0) saw_submitdate++;
    return 0;
}

static void test_fields(void)
{
    CHECK_EQ(dlr_fields("id:1 Submit Date:2501311200 done_date:1", 39, field, NULL), 3);
    CHECK_EQ(saw_submitdate, 1);
}

static void test_states(void)
{
    CHECK_EQ(dlr_state_of("delivrd", 7), 2);
    CHECK_EQ(dlr_state_of("REJECTED", 8), 8);
    CHECK_EQ(dlr_state_of("NOPE", 4), -1);
    CHECK(strcmp(dlr_stat_of(5), "UNDELIV") == 0);
    CHECK(dlr_stat_of(9) == NULL && dlr_stat_of(0) == NULL);
    CHECK(dlr_is_final(7) && !dlr_is_final(1) && !dlr_is_final(0));
    CHECK(dlr_is_receipt(0x04) && dlr_is_receipt(0x44) && dlr_is_receipt(0x20) && !dlr_is_receipt(0x40));
}

int main(void)
{
    TEST(test_keyed_ids);
    TEST(test_keys);
    TEST(test_read);
    TEST(test_fields);
    TEST(test_states);
    return test_summary();
}
