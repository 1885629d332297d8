/* test_http.c -- the head of an HTTP answer (http_head.c): what a status
 * and a content type must be, and a head built whole or not at all (a
 * 256-octet buffer once sent as many octets as snprintf would have
 * written: stack memory after a long content type); where callbacks may
 * connect (http_nets.c); who a request is (http_auth.c): one credential,
 * the header's when there is one (a wrong header with an account's token
 * in the query once opened the admin's routes); how large a body a route
 * takes.
 */
#include <arpa/inet.h>
#include <math.h>
#include <string.h>

#include "http.h"
#include "http_int.h"
#include "test.h"

static void statuses(void)
{
    CHECK(http_answer_check(200, "text/plain", 10) == NULL);
    CHECK(http_answer_check(100, "text/plain", 10) != NULL);     /* a 1xx is never a final answer */
    CHECK(http_answer_check(199, "text/plain", 10) != NULL);
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

/* Would http_post connect to ip (IPv4 or IPv6 text)? cidrs NULL: the list in force. */
static long may_post(const char *ip, const char *const *cidrs, size_t n)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ss.ss_family = AF_INET;
    } else {
        CHECK_EQ(inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
        ss.ss_family = AF_INET6;
    }
    return http_nets_allowed((struct sockaddr *)&ss, cidrs, n);
}

static void callback_networks(void)
{
    static const char *const lan[] = {"10.0.0.0/8", "fd00::/8", "169.254.10.1"};
    static const char *const bad[] = {"10.0.0.0/8", "10.0.0.0/33"};
    /* the default: anywhere but link-local and 0.0.0.0/8, however it is spelt */
    CHECK_EQ(http_nets_set(NULL, 0), 0);
    CHECK_EQ(may_post("127.0.0.1", NULL, 0), 1);
    CHECK_EQ(may_post("203.0.113.7", NULL, 0), 1);
    CHECK_EQ(may_post("::1", NULL, 0), 1);
    CHECK_EQ(may_post("169.254.169.254", NULL, 0), 0);
    CHECK_EQ(may_post("169.254.0.1", NULL, 0), 0);
    CHECK_EQ(may_post("169.255.0.1", NULL, 0), 1);
    CHECK_EQ(may_post("0.0.0.0", NULL, 0), 0);
    CHECK_EQ(may_post("0.1.2.3", NULL, 0), 0);
    CHECK_EQ(may_post("::ffff:169.254.169.254", NULL, 0), 0);   /* mapped: the IPv4 address it is */
    CHECK_EQ(may_post("fe80::1", NULL, 0), 0);
    CHECK_EQ(may_post("febf::1", NULL, 0), 0);                  /* fe80::/10 ends at febf */
    CHECK_EQ(may_post("fec0::1", NULL, 0), 1);
    /* a list: only its networks (link-local too, when named) */
    CHECK_EQ(http_nets_set(lan, 3), 0);
    CHECK_EQ(may_post("10.1.2.3", NULL, 0), 1);
    CHECK_EQ(may_post("::ffff:10.1.2.3", NULL, 0), 1);
    CHECK_EQ(may_post("fd12::1", NULL, 0), 1);
    CHECK_EQ(may_post("169.254.10.1", NULL, 0), 1);
    CHECK_EQ(may_post("169.254.10.2", NULL, 0), 0);
    CHECK_EQ(may_post("127.0.0.1", NULL, 0), 0);
    CHECK_EQ(may_post("11.0.0.1", NULL, 0), 0);
    /* a bad entry changes nothing and names itself */
    CHECK_EQ(http_nets_set(bad, 2), 2);
    CHECK_EQ(may_post("10.1.2.3", NULL, 0), 1);
    CHECK_EQ(may_post("127.0.0.1", NULL, 0), 0);
    /* a list given for one question (a configuration being checked) */
    CHECK_EQ(may_post("127.0.0.1", lan, 0), 0);                 /* empty: nothing */
    CHECK_EQ(may_post("10.9.9.9", lan, 1), 1);
    CHECK_EQ(may_post("10.9.9.9", bad, 2), 1);                  /* the bad entry left out */
    CHECK_EQ(may_post("11.9.9.9", bad, 2), 0);
    CHECK_EQ(http_nets_set(NULL, 0), 0);
    CHECK_EQ(may_post("127.0.0.1", NULL, 0), 1);
}

/* Who a request with this Authorization header ("" none) and URL is. */
static int who(const char *admin, const char *auth, const char *url, char *account)
{
    return http__identify(admin, auth, strlen(auth), url, account, HTTP_ACCOUNT_MAX + 1);
}

static void identities(void)
{
    static const char *const tokens[] = {"acct1tok", "acct2tok"}, *const names[] = {"u1", "u2"};
    /* header: admin, account, junk, another scheme, none; query likewise, and two token parameters */
    static const char *const headers[] = {"Bearer admintok", "bearer  acct1tok", "Bearer junk", "Basic admintok", ""};
    static const int header_role[] = {HTTP_ADMIN, HTTP_ACCOUNT, HTTP_INVALID, HTTP_INVALID, -9};
    static const char *const queries[] = {"/stats?token=admintok", "/stats?a=1&token=acct1%74ok", "/stats?token=junk",
                                          "/stats?token=", "/stats", "/stats?token=acct1tok&token=admintok"};
    static const int query_role[] = {HTTP_ADMIN, HTTP_ACCOUNT, HTTP_INVALID, HTTP_INVALID, HTTP_INVALID,
                                     HTTP_INVALID};
    char account[HTTP_ACCOUNT_MAX + 1], long_tok[HTTP_TOKEN_MAX + 40];
    size_t h, q;
    int want, got;
    http_set_tokens(tokens, names, 2);
    for (h = 0; h < sizeof headers / sizeof *headers; h++) {
        for (q = 0; q < sizeof queries / sizeof *queries; q++) {
            want = header_role[h] != -9 ? header_role[h] : query_role[q];
            got = who("admintok", headers[h], queries[q], account);
            if (got != want) printf("  header \"%s\", url %s:\n", headers[h], queries[q]);
            CHECK_EQ(got, want);
            if (got == HTTP_ACCOUNT) CHECK_STR(account, strlen(account), "u1");
            else CHECK_EQ(account[0], '\0');
        }
    }
    CHECK_EQ(who("admintok", "Bearer acct2tok", "/", account), HTTP_ACCOUNT);
    CHECK_STR(account, strlen(account), "u2");
    CHECK_EQ(who("admintok", "Bearer acct1tokX", "/", account), HTTP_INVALID);
    CHECK_EQ(who("admintok", "Bearer acct1to", "/", account), HTTP_INVALID);
    CHECK_EQ(who("admintok", "Bearer ", "/?token=admintok", account), HTTP_INVALID);
    /* a query token longer than any token is never cut down to one */
    snprintf(long_tok, sizeof long_tok, "/?token=%0*d%s", HTTP_TOKEN_MAX, 0, "acct1tok");
    CHECK_EQ(who("admintok", "", long_tok, account), HTTP_INVALID);

    /* no admin token: no credential is anonymous, a wrong one is still refused */
    CHECK_EQ(who("", "", "/stats", account), HTTP_ANON);
    CHECK_EQ(who(NULL, "", "/stats", account), HTTP_ANON);
    CHECK_EQ(who("", "Bearer junk", "/stats?token=acct1tok", account), HTTP_INVALID);
    CHECK_EQ(who("", "", "/stats?token=junk", account), HTTP_INVALID);
    CHECK_EQ(who("", "Bearer acct1tok", "/stats?token=junk", account), HTTP_ACCOUNT);
    CHECK_EQ(who("", "Bearer admintok", "/stats", account), HTTP_INVALID);

    /* no token anywhere: the API is open and a credential is not looked at */
    http_set_tokens(NULL, NULL, 0);
    CHECK_EQ(who("", "Bearer junk", "/stats?token=junk", account), HTTP_ANON);
    CHECK_EQ(who("", "Bearer acct1tok", "/stats", account), HTTP_ANON);
    CHECK_EQ(who("admintok", "Bearer acct1tok", "/stats", account), HTTP_INVALID);
    CHECK_EQ(who("admintok", "", "/stats?token=admintok", account), HTTP_ADMIN);
}

/* How large a body a route takes (http_auth.c). */
static void route_bodies(void)
{
    static const char *const routes[] = {"POST /send", "GET /messages/*", "GET /stats"};
    static const size_t max[] = {262144, 1024, 1024};
    CHECK_EQ(http_set_route_bodies(routes, max, 3), 0);
    CHECK_EQ(http__body_limit("POST", "/send", 1048576), 262144);
    CHECK_EQ(http__body_limit("POST", "/send?token=x", 1048576), 262144);   /* the query is not the path */
    CHECK_EQ(http__body_limit("POST", "/send", 100000), 100000);            /* max_body is the ceiling */
    CHECK_EQ(http__body_limit("POST", "/sendx", 1048576), 1048576);         /* exact, unless a prefix */
    CHECK_EQ(http__body_limit("POST", "/sen", 1048576), 1048576);
    CHECK_EQ(http__body_limit("PUT", "/send", 1048576), 1048576);           /* the method counts */
    CHECK_EQ(http__body_limit("POS", "/send", 1048576), 1048576);
    CHECK_EQ(http__body_limit("GET", "/messages/abc", 1048576), 1024);
    CHECK_EQ(http__body_limit("GET", "/messages/", 1048576), 1024);
    CHECK_EQ(http__body_limit("GET", "/messages", 1048576), 1048576);
    CHECK_EQ(http__body_limit("GET", "/stats?sessions=1", 1048576), 1024);
    CHECK_EQ(http__body_limit("GET", "/echo", 1048576), 1048576);           /* a script's route */
    /* the path percent-decoded, as the routes are matched (lua/smpp/http.lua) */
    CHECK_EQ(http__body_limit("POST", "/sen%64", 1048576), 262144);
    CHECK_EQ(http__body_limit("POST", "/%73%65%6E%64?x=1", 1048576), 262144);
    CHECK_EQ(http__body_limit("GET", "/%6dessages/%2F", 1048576), 1024);
    CHECK_EQ(http__body_limit("GET", "/stat%73", 1048576), 1024);
    CHECK_EQ(http__body_limit("GET", "/stat%7", 1048576), 1048576);         /* malformed: refused later, 400 */
    CHECK_EQ(http__body_limit("GET", "/stat%", 1048576), 1048576);
    CHECK_EQ(http__body_limit("GET", "/stat%zz", 1048576), 1048576);
    CHECK_EQ(http__body_limit("POST", "/send%00", 1048576), 1048576);
    CHECK_EQ(http_set_route_bodies(NULL, NULL, 0), 0);
    CHECK_EQ(http__body_limit("POST", "/send", 1048576), 1048576);
}

/* Every status has its reason phrase (403 and 429 were sent as "403 Status"). */
static void reasons(void)
{
    static const struct { int status; const char *reason; } api[] = {
        {200, "OK"}, {202, "Accepted"}, {400, "Bad Request"}, {401, "Unauthorized"}, {403, "Forbidden"},
        {404, "Not Found"}, {405, "Method Not Allowed"}, {408, "Request Timeout"}, {409, "Conflict"},
        {413, "Payload Too Large"}, {414, "URI Too Long"}, {415, "Unsupported Media Type"},
        {422, "Unprocessable Entity"}, {429, "Too Many Requests"}, {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"}, {501, "Not Implemented"}, {502, "Bad Gateway"},
        {503, "Service Unavailable"}, {504, "Gateway Timeout"}};
    char head[HTTP_HEAD_MAX], want[64];
    size_t i;
    int st, n;
    for (i = 0; i < sizeof api / sizeof *api; i++) {
        n = http_head(head, sizeof head, api[i].status, "application/json", 2, 0);
        snprintf(want, sizeof want, "HTTP/1.1 %d %s\r\n", api[i].status, api[i].reason);
        CHECK(n > 0 && strncmp(head, want, strlen(want)) == 0);
        if (strncmp(head, want, strlen(want)) != 0) printf("  got: %.40s\n", head);
    }
    for (st = 200; st <= 599; st++) CHECK(strcmp(http_reason(st), "Status") != 0 && *http_reason(st));
    CHECK(strcmp(http_reason(299), "Success") == 0);
    CHECK(strcmp(http_reason(499), "Client Error") == 0);
    CHECK(strcmp(http_reason(599), "Server Error") == 0);
}

int main(void)
{
    TEST(statuses);
    TEST(content_types);
    TEST(heads);
    TEST(reasons);
    TEST(callback_networks);
    TEST(identities);
    TEST(route_bodies);
    return test_summary();
}
