/* test.h -- a minimal test harness: CHECK macros print both values and
 * file:line, and test_summary() prints the closing "N passed, N failed".
 */
#ifndef SMPPGW_TEST_H
#define SMPPGW_TEST_H

#include <stdio.h>
#include <string.h>

static int test_passed, test_failed, test_current_failed;
static const char *test_current;

#define TEST(fn) do { \
        test_current = #fn; test_current_failed = 0; fn(); \
        if (test_current_failed) { test_failed++; printf("not ok - %s\n", #fn); } \
        else { test_passed++; printf("ok - %s\n", #fn); } \
    } while (0)

#define CHECK(cond) do { if (!(cond)) { \
        printf("  %s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__, test_current, #cond); \
        test_current_failed = 1; } } while (0)

#define CHECK_EQ(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
        if (a_ != b_) { printf("  %s:%d: %s: %s == %lld, expected %s == %lld\n", \
            __FILE__, __LINE__, test_current, #a, a_, #b, b_); test_current_failed = 1; } } while (0)

#define CHECK_STR(ptr, len, s) do { const char *s_ = (s); size_t l_ = strlen(s_); \
        if ((size_t)(len) != l_ || memcmp((ptr), s_, l_) != 0) { \
            printf("  %s:%d: %s: %s is \"%.*s\", expected \"%s\"\n", __FILE__, __LINE__, \
                   test_current, #ptr, (int)(len), (const char *)(ptr), s_); \
            test_current_failed = 1; } } while (0)

static int test_summary(void)
{
    printf("%d passed, %d failed\n", test_passed, test_failed);
    return test_failed ? 1 : 0;
}

#endif
