/* test_dlr.c -- receipt texts read as the gateway reads them (dlr.c) and
 * message id keys (msgid.c): the cases the Lua specs check through
 * smpp.receipt and smpp.msgid, at the C level where the rules live.
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

static void test_keys(void)
{
    CHECK(strcmp(key("0001715004", MSGID_STRING), "1715004") == 0);
    CHECK(strcmp(key("  1A2B3C\n", MSGID_STRING), "1a2b3c") == 0);
    CHECK(strcmp(key("000", MSGID_HEX), "0") == 0);
    CHECK(strcmp(key("", MSGID_DECIMAL), "") == 0);
    CHECK(strcmp(key("1A2B3C", MSGID_HEX), "1715004") == 0);
    CHECK(strcmp(key("10", MSGID_HEX), "16") == 0);
    CHECK(strcmp(key("10", MSGID_DECIMAL), "10") == 0);
    CHECK(strcmp(key("ffffffffffffffff", MSGID_HEX), "18446744073709551615") == 0);
    CHECK(strcmp(key("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", MSGID_HEX),
                 "340282366920938463463374607431768211455") == 0);
    CHECK(strcmp(key("1000000000", MSGID_HEX), "68719476736") == 0);   /* a limb boundary */
    CHECK(strcmp(key("ABC-1", MSGID_HEX), "abc-1") == 0);            /* not hex: as written */
    CHECK(strcmp(key("1A", MSGID_DECIMAL), "1a") == 0);
    {
        char small[4];
        CHECK_EQ(msgid_key("123456", 6, MSGID_STRING, small, sizeof small), -1);
    }
    CHECK_EQ(msgid_format("hex"), MSGID_HEX);
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
    /* the first value of a label wins */
    dlr_read("id:1 id:2", 9, &t);
    CHECK_STR(t.id, t.id_len, "1");
    /* not a receipt text */
    dlr_read("hello world", 11, &t);
    CHECK(t.id == NULL && t.stat == NULL);
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
    TEST(test_keys);
    TEST(test_read);
    TEST(test_fields);
    TEST(test_states);
    return test_summary();
}
