/* test_http.c -- the head of an HTTP answer (http_head.c): what a status
 * and a content type must be, and a head built whole or not at all (a
 * 256-octet buffer once sent as many octets as snprintf would have
 * written: stack memory after a long content type).
 */
#include <math.h>
#include <string.h>

#include "http.h"
#include "http_int.h"
#include "test.h"

static void statuses(void)
{
    CHECK(http_answer_check(200, "text/plain", 10) == NULL);
    CHECK(http_answer_check(100, "text/plain", 10) == NULL);
    CHECK(http_answer_check(599, "text/plain", 10) == NULL);
    CHECK(http_answer_check(99, "text/plain", 10) != NULL);
    CHECK(http_answer_check(600, "text/plain", 10) != NULL);
    CHECK(http_answer_check(200.5, "text/plain", 10) != NULL);
    CHECK(http_answer_check(1e10, "text/plain", 10) != NULL);
    CHECK(http_answer_check(-1e10, "text/plain", 10) != NULL);
    CHECK(http_answer_check(NAN, "text/plain", 10) != NULL);
    CHECK(http_answer_check(INFINITY, "text/plain", 10) != NULL);
}

static int ctype_ok(const char *s) { return http_ctype_check(s, strlen(s)) == NULL; }

static void content_types(void)
{
    char long_one[HTTP_MAX_CTYPE + 2];
    CHECK(ctype_ok("application/json"));
    CHECK(ctype_ok("text/plain; charset=utf-8"));
    CHECK(ctype_ok("text/plain; version=0.0.4"));
    CHECK(ctype_ok("application/vnd.x+json"));
    CHECK(!ctype_ok(""));
    CHECK(!ctype_ok("textplain"));
    CHECK(!ctype_ok("text/"));
    CHECK(!ctype_ok("/plain"));
    CHECK(!ctype_ok("text/plain\r\nSet-Cookie: a=b"));
    CHECK(!ctype_ok("text/plain; a=\r\nX: 1"));
    CHECK(!ctype_ok("text/plain; a=\n"));
    CHECK(!ctype_ok("text/plain; name=\xe9"));
    CHECK(!ctype_ok("text/pl ain"));
    CHECK(http_ctype_check("text/plain\0junk", 15) != NULL);   /* the length counts, not the NUL */
    memset(long_one, 'a', sizeof long_one);
    memcpy(long_one, "text/", 5);
    long_one[HTTP_MAX_CTYPE] = '\0';
    CHECK(ctype_ok(long_one));                                 /* 255 octets */
    long_one[HTTP_MAX_CTYPE] = 'a';
    long_one[HTTP_MAX_CTYPE + 1] = '\0';
    CHECK(!ctype_ok(long_one));                                /* 256 */
}

static void heads(void)
{
    char head[HTTP_HEAD_MAX], ctype[HTTP_MAX_CTYPE + 1], small[64];
    int n;
    n = http_head(head, sizeof head, 200, "text/plain", 5, 0);
    CHECK_STR(head, n, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
                       "Cache-Control: no-store\r\n\r\n");
    /* the longest head there is fits HTTP_HEAD_MAX */
    memset(ctype, 'b', sizeof ctype - 1);
    memcpy(ctype, "application/", 12);
    ctype[sizeof ctype - 1] = '\0';
    n = http_head(head, sizeof head, 431, ctype, (size_t)-1, 1);
    CHECK(n > 0 && (size_t)n < sizeof head);
    CHECK_EQ(strlen(head), n);
    /* one that does not fit is refused, never cut or overrun */
    memset(small, 'x', sizeof small);
    CHECK_EQ(http_head(small, 40, 200, "text/plain", 5, 0), -1);
    CHECK_EQ(small[40], 'x');
}

int main(void)
{
    TEST(statuses);
    TEST(content_types);
    TEST(heads);
    return test_summary();
}
