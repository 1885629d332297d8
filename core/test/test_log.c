/* test_log.c -- log.c's repeated lines: printed once per window, then
 * counted; other lines never held back; what a peer sends escaped. Standard error goes to a file that
 * each test reads back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "test.h"

static char path[] = "/tmp/test_log_XXXXXX";

/* Start capturing standard error afresh. */
static void capture(void)
{
    fflush(stderr);
    if (!freopen(path, "w", stderr)) abort();
}

/* Everything written since capture(), NUL-terminated (static buffer). */
static const char *captured(void)
{
    static char buf[1 << 16];
    FILE *f;
    size_t n;
    fflush(stderr);
    if (!(f = fopen(path, "r"))) return "";
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (; (text = strstr(text, needle)) != NULL; text += strlen(needle)) n++;
    return n;
}

static void identical_lines_are_counted(void)
{
    int i;
    log_set_repeat_window(60000);
    capture();
    for (i = 0; i < 1000; i++) log_msg(LOG_WARN, 0, "no receiver for %s", "acct");
    CHECK_EQ(count(captured(), "no receiver for acct"), 1);
    log_flush();
    CHECK_EQ(count(captured(), "no receiver for acct"), 2);
    CHECK_EQ(count(captured(), "no receiver for acct [... repeated 999 more times in 0 s]"), 1);
    log_flush();                                  /* nothing more to say */
    CHECK_EQ(count(captured(), "repeated"), 1);
}

static void other_lines_are_never_held_back(void)
{
    char msg[32];
    int i;
    log_set_repeat_window(60000);
    capture();
    log_msg(LOG_WARN, 1, "same text");
    log_msg(LOG_INFO, 1, "same text");            /* another level */
    log_msg(LOG_WARN, 1, "same text.");           /* another text */
    CHECK_EQ(count(captured(), "same text"), 3);
    for (i = 0; i < 500; i++) {                   /* more distinct lines than slots */
        snprintf(msg, sizeof msg, "line %d;", i);
        log_msg(LOG_INFO, 0, "%s", msg);
    }
    CHECK_EQ(count(captured(), "line "), 500);
    log_msg(LOG_WARN, 1, "same text");            /* its slot was taken over meanwhile, or counted */
    log_flush();
    CHECK_EQ(count(captured(), "[s1] same text"), 4);
}

/* Two recurring lines whose hashes share a set ("alternating line 5" and
 * "... 27" at info level fall in one of the 16 sets): alternating, each is
 * printed once and then counted, not printed every time. */
static void lines_sharing_a_set_do_not_push_each_other_out(void)
{
    int i;
    log_set_repeat_window(60000);
    capture();
    for (i = 0; i < 100; i++) {
        log_msg(LOG_INFO, 0, "alternating line 5");
        log_msg(LOG_INFO, 0, "alternating line 27");
    }
    CHECK_EQ(count(captured(), "alternating line 5"), 1);
    CHECK_EQ(count(captured(), "alternating line 27"), 1);
    log_flush();
    CHECK_EQ(count(captured(), "alternating line 5 [... repeated 99 more times"), 1);
    CHECK_EQ(count(captured(), "alternating line 27 [... repeated 99 more times"), 1);
}

/* A flood of connections, each its own session, each logging the same
 * refusal: one line, then its count (the session is not part of the key). */
static void a_flood_across_sessions_is_counted(void)
{
    uint64_t sess;
    log_set_repeat_window(60000);
    capture();
    for (sess = 100; sess < 300; sess++) {
        log_msg(LOG_INFO, sess, "connection from 127.0.0.1");
        log_msg(LOG_WARN, sess, "bind of 'x' from 127.0.0.1 refused: wrong password");
        log_msg(LOG_INFO, sess, "closing: peer closed the connection");
    }
    CHECK_EQ(count(captured(), "\n"), 3);
    CHECK_EQ(count(captured(), "[s100] bind of 'x' from 127.0.0.1 refused: wrong password\n"), 1);
    log_flush();
    CHECK_EQ(count(captured(), "\n"), 6);
    CHECK_EQ(count(captured(), "[s100] bind of 'x' from 127.0.0.1 refused: wrong password [... repeated 199 more "
                               "times in 0 s, 199 of them in other sessions]\n"), 1);
    CHECK_EQ(count(captured(), "[s100] closing: peer closed the connection [... repeated 199 more"), 1);
    log_set_json(1);
    capture();
    for (sess = 1; sess < 4; sess++) log_msg(LOG_INFO, sess == 3 ? 1 : sess, "connection from ::1");
    log_flush();
    log_set_json(0);
    CHECK_EQ(count(captured(), "\"repeated\":2,\"repeated_s\":0,\"repeated_other_sessions\":1,"), 1);
}

/* A peer that makes a warning per PDU, each with its own sequence_number:
 * warnings that differ only in their numbers standing alone (decimal, or
 * 0x hex) are copies of one line; numbers inside words (u1 and u2,
 * 127.0.0.1, script.lua:12) are not. Info lines are compared as they are
 * (a script printing each message). */
static void warnings_differing_in_numbers_are_copies(void)
{
    int i;
    log_set_repeat_window(60000);
    capture();
    for (i = 0; i < 1000; i++)
        log_msg(LOG_WARN, 5, "unknown command_id 0x%08x (sequence_number %d): generic_nack", 0x1234 + i % 7, i + 1);
    log_msg(LOG_WARN, 5, "unknown command_id 0x0000abcd (sequence_number 7): generic_nack");   /* hex letters */
    for (i = 0; i < 10; i++) log_msg(LOG_INFO, 5, "Got: message %d", i);
    CHECK_EQ(count(captured(), "unknown command_id"), 1);
    CHECK_EQ(count(captured(), "(sequence_number 1): generic_nack\n"), 1);
    CHECK_EQ(count(captured(), "Got: message "), 10);
    log_msg(LOG_WARN, 6, "bind of 'u1' from 127.0.0.1 refused: wrong password");
    log_msg(LOG_WARN, 6, "bind of 'u2' from 127.0.0.1 refused: wrong password");
    log_msg(LOG_WARN, 6, "bind of 'u1' from 127.0.9.9 refused: wrong password");
    log_msg(LOG_ERROR, 6, "submit_sm failed: script.lua:12: bad");
    log_msg(LOG_ERROR, 6, "submit_sm failed: script.lua:13: bad");
    CHECK_EQ(count(captured(), "refused: wrong password\n"), 3);
    CHECK_EQ(count(captured(), ": bad\n"), 2);
    for (i = 0; i < 5; i++) log_peer(LOG_WARN, 6, "submit_sm %d: no response within 500 ms", i + 2);
    CHECK_EQ(count(captured(), "no response within"), 1);
    log_flush();
    CHECK_EQ(count(captured(), "(sequence_number 1): generic_nack [... repeated 1000 more times"), 1);
}

/* Ids of a peer's choosing make a new line every time: past
 * LOG_SESSION_LINES (20) a window, a session's warnings are counted, then
 * the count is printed; other sessions and lines about no session are not
 * held back by it. */
static void a_session_prints_a_bounded_number_of_warnings(void)
{
    char id[8];
    int i;
    log_set_repeat_window(60000);
    capture();
    for (i = 0; i < 100; i++) {
        id[0] = (char)('a' + i % 26), id[1] = (char)('a' + i / 26), id[2] = '\0';
        log_msg(LOG_WARN, 7, "receipt for '%s' matches no message", id);
    }
    log_msg(LOG_WARN, 8, "receipt for 'zz' matches no message");
    log_msg(LOG_WARN, 0, "store: commit failed: disk full");
    CHECK_EQ(count(captured(), "[s7] receipt for"), 20);
    CHECK_EQ(count(captured(), "[s8] receipt for 'zz'"), 1);
    CHECK_EQ(count(captured(), "commit failed"), 1);
    log_flush();
    CHECK_EQ(count(captured(), "[s7] 80 more lines of this session not printed in 0 s"), 1);
    /* the engine's lines about a peer's PDUs: by shape and counted, info or not */
    capture();
    for (i = 0; i < 30; i++) {
        id[0] = (char)('a' + i % 26), id[1] = '\0';
        log_peer(LOG_INFO, 9, "submit_sm %d refused with ESME_RTHROTTLED: receive window %s", i + 2, id);
    }
    for (i = 0; i < 5; i++) log_msg(LOG_INFO, 9, "Got: message %d", i);   /* not held back by them */
    CHECK_EQ(count(captured(), "[s9] submit_sm"), 20);
    CHECK_EQ(count(captured(), "Got: message"), 5);
    log_flush();
    CHECK_EQ(count(captured(), "[s9] 10 more lines of this session not printed"), 1);
    capture();
    for (i = 0; i < 50; i++) log_peer(LOG_INFO, 10, "submit_sm %d refused with ESME_RTHROTTLED: rate limit", i + 2);
    CHECK_EQ(count(captured(), "[s10] submit_sm"), 1);   /* one shape: once, then counted */
    log_flush();
    CHECK_EQ(count(captured(), "[s10] submit_sm 2 refused with ESME_RTHROTTLED: rate limit [... repeated 49"), 1);
    log_set_repeat_window(0);                     /* no window: every line */
    capture();
    for (i = 0; i < 30; i++) log_msg(LOG_WARN, 7, "receipt for '%c' matches no message", 'a' + i % 26);
    CHECK_EQ(count(captured(), "[s7] receipt for"), 30);
}

/* Many sessions, each within its own 20: all of them together print at
 * most 200 lines by shape a window, and lines about no session as many
 * on their own; errors are not held by a session's 20; log_fatal is never
 * held, and prints the counts first. */
static void the_totals_bound_many_sessions(void)
{
    char id[4];
    uint64_t sess;
    int i;
    log_set_repeat_window(60000);
    capture();
    for (sess = 1000; sess < 1100; sess++)
        for (i = 0; i < 10; i++) {
            id[0] = (char)('a' + i), id[1] = (char)('a' + sess % 26), id[2] = (char)('a' + sess / 26 % 26), id[3] = 0;
            log_peer(LOG_WARN, sess, "unknown command_id in '%s'", id);
        }
    CHECK_EQ(count(captured(), "unknown command_id in"), 200);
    for (i = 0; i < 300; i++) {
        id[0] = (char)('a' + i % 26), id[1] = (char)('a' + i / 26), id[2] = 0;
        log_msg(LOG_WARN, 0, "receipt for unknown message '%s'", id);
    }
    CHECK_EQ(count(captured(), "receipt for unknown message"), 200);
    log_fatal(7, "script x has run 2002 ms and cannot be interrupted: exiting");
    CHECK_EQ(count(captured(), "800 more warnings and errors of sessions not printed in 0 s (at most 200"), 1);
    CHECK_EQ(count(captured(), "100 more warnings and errors about no session not printed"), 1);
    CHECK_EQ(count(captured(), "[s7] script x has run 2002 ms"), 1);
    capture();                                    /* a session's errors are not held by its 20 */
    for (i = 0; i < 25; i++) {
        id[0] = (char)('a' + i), id[1] = 0;
        log_msg(LOG_WARN, 8, "warning '%s'", id);
    }
    log_msg(LOG_ERROR, 8, "submit_sm failed: distinct script problem");
    CHECK_EQ(count(captured(), "[s8] warning"), 20);
    CHECK_EQ(count(captured(), "distinct script problem"), 1);
    log_flush();
}

/* A quiet process: log_tick prints the counts of windows that ended
 * without waiting for another line. */
static void log_tick_prints_ended_windows(void)
{
    struct timespec t0, t;
    log_set_repeat_window(5);
    capture();
    log_msg(LOG_WARN, 3, "held %s", "once");
    log_msg(LOG_WARN, 3, "held %s", "once");
    log_tick();
    CHECK_EQ(count(captured(), "repeated"), 0);      /* the window is still open */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do clock_gettime(CLOCK_MONOTONIC, &t);           /* until the window has ended */
    while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 10);
    log_tick();
    CHECK_EQ(count(captured(), "[s3] held once [... repeated 1 more times"), 1);
}

static void window_zero_prints_everything(void)
{
    int i;
    log_set_repeat_window(0);
    capture();
    for (i = 0; i < 20; i++) log_msg(LOG_ERROR, 7, "every one");
    log_flush();
    CHECK_EQ(count(captured(), "every one"), 20);
    CHECK_EQ(count(captured(), "repeated"), 0);
}

static void json_lines_carry_the_count(void)
{
    int i;
    log_set_repeat_window(60000);
    log_set_json(1);
    capture();
    for (i = 0; i < 5; i++) log_msg(LOG_WARN, 3, "json \"quoted\"");
    log_flush();
    log_set_json(0);
    CHECK_EQ(count(captured(), "\"msg\":\"json \\\"quoted\\\"\""), 2);
    CHECK_EQ(count(captured(), "\"repeated\":4,"), 1);
    CHECK_EQ(count(captured(), "\"session\":3"), 2);
}

/* A peer's bytes: a newline and terminal escapes that would forge a line,
 * bytes that are not UTF-8 (a lone 0xFF, an overlong '/', a surrogate),
 * and valid UTF-8 (e acute, an emoji) that stays as it is. */
static const char HOSTILE[] = "a\nFAKE\r\x1b[2J\t\x7f\xff\xc0\xaf\xed\xa0\x80 \xc3\xa9\xf0\x9f\x98\x80\"\\";

static void text_lines_escape_controls_and_bad_utf8(void)
{
    const char *out;
    log_set_repeat_window(0);
    capture();
    log_msg(LOG_WARN, 9, "bind of '%s' refused", HOSTILE);
    out = captured();
    CHECK_EQ(count(out, "\n"), 1);                       /* one line, whatever the peer sent */
    CHECK_EQ(count(out, "[s9] bind of 'a\\nFAKE\\r\\x1B[2J\\t\\x7F\\xFF\\xC0\\xAF\\xED\\xA0\\x80 "
                        "\xc3\xa9\xf0\x9f\x98\x80\"\\' refused\n"), 1);
    CHECK_EQ(count(out, "\x1b"), 0);
    CHECK_EQ(count(out, "\r"), 0);
}

static void json_lines_are_valid_utf8_json(void)
{
    const char *out;
    log_set_repeat_window(0);
    log_set_json(1);
    capture();
    log_msg(LOG_WARN, 9, "bind of '%s' refused", HOSTILE);
    log_set_json(0);
    out = captured();
    CHECK_EQ(count(out, "\n"), 1);
    CHECK_EQ(count(out, "\"msg\":\"bind of 'a\\nFAKE\\r\\u001b[2J\\t\\u007f\\\\xFF\\\\xC0\\\\xAF"
                        "\\\\xED\\\\xA0\\\\x80 \xc3\xa9\xf0\x9f\x98\x80\\\"\\\\' refused\"}\n"), 1);
    CHECK_EQ(count(out, "\xff"), 0);
    CHECK_EQ(count(out, "\xed\xa0"), 0);
}

/* A line per event naming ids with letters (the gateway's hex ids, an
 * upstream's), on session 0 (no session quota): folded by its kind, not
 * by its text; other kinds and plain lines are not held back by it. */
static void lines_of_one_kind_are_counted_whatever_their_ids(void)
{
    char id[32];
    int i;
    log_set_repeat_window(60000);
    capture();
    for (i = 0; i < 500; i++) {
        snprintf(id, sizeof id, "6CA66998%08X", 0xABCD00 + i);
        log_kind(LOG_WARN, 0, "receipt not queued", "receipt from U1 for %s not queued for esme1", id);
    }
    log_kind(LOG_WARN, 0, "another kind", "receipt from U1 for %s not queued for esme1", "6CA66998FFFFFFFF");
    log_msg(LOG_WARN, 0, "receipt from U1 for %s not queued for esme1", "6CA66998EEEEEEEE");
    CHECK_EQ(count(captured(), "not queued for esme1"), 3);
    log_flush();
    CHECK_EQ(count(captured(), "receipt from U1 for 6CA6699800ABCD00 not queued for esme1 "
                               "[... 499 more of this kind in 0 s]"), 1);
    CHECK_EQ(count(captured(), "more of this kind"), 1);
    log_set_json(1);
    capture();
    log_kind(LOG_WARN, 0, "receipt not queued", "receipt for %s", "AB");
    log_kind(LOG_WARN, 0, "receipt not queued", "receipt for %s", "CD");
    log_flush();
    log_set_json(0);
    CHECK_EQ(count(captured(), "\"repeated\":1,\"repeated_s\":0,\"repeated_kind\":true"), 1);
}

static void filtered_levels_are_not_counted(void)
{
    log_set_repeat_window(60000);
    log_set_level(LOG_WARN);
    capture();
    log_msg(LOG_DEBUG, 0, "hidden");
    log_msg(LOG_DEBUG, 0, "hidden");
    log_flush();
    log_set_level(LOG_INFO);
    CHECK_EQ(count(captured(), "hidden"), 0);
}

int main(void)
{
    int fd = mkstemp(path), rc;
    if (fd < 0) return 2;
    close(fd);
    TEST(identical_lines_are_counted);
    TEST(other_lines_are_never_held_back);
    TEST(lines_sharing_a_set_do_not_push_each_other_out);
    TEST(a_flood_across_sessions_is_counted);
    TEST(warnings_differing_in_numbers_are_copies);
    TEST(a_session_prints_a_bounded_number_of_warnings);
    TEST(the_totals_bound_many_sessions);
    TEST(log_tick_prints_ended_windows);
    TEST(window_zero_prints_everything);
    TEST(json_lines_carry_the_count);
    TEST(lines_of_one_kind_are_counted_whatever_their_ids);
    TEST(filtered_levels_are_not_counted);
    TEST(text_lines_escape_controls_and_bad_utf8);
    TEST(json_lines_are_valid_utf8_json);
    rc = test_summary();
    unlink(path);
    return rc;
}
