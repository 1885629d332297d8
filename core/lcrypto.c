/* lcrypto.c -- the few cryptographic primitives scripts and the runtime
 * need, from OpenSSL's libcrypto: password hashing (PBKDF2-HMAC-SHA256),
 * also on libuv's thread pool so that the event loop never waits for it,
 * random salts, a per-process keyed tag of a secret, and a constant-time
 * comparison.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <lauxlib.h>
#include <lua.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <uv.h>

#include "lcrypto.h"
#include "log.h"

#define PBKDF2_MAX_ITER 10000000
#define PBKDF2_MAX_INPUT 1024          /* password or salt octets */

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The password, salt and iterations at 1..3 (strings and a number, or a
 * Lua error): NULL when they are in range, else why not. */
static const char *pbkdf2_args(lua_State *L, const char **pw, size_t *plen, const char **salt,
                               size_t *slen, int *iter)
{
    double n;
    *pw = luaL_checklstring(L, 1, plen);
    *salt = luaL_checklstring(L, 2, slen);
    n = luaL_checknumber(L, 3);
    *iter = 0;
    if (!(n >= 1 && n <= PBKDF2_MAX_ITER) || n != (double)(int)n)
        return "pbkdf2: iterations not a whole number 1..10000000";
    *iter = (int)n;
    if (*plen > PBKDF2_MAX_INPUT || *slen > PBKDF2_MAX_INPUT)
        return "pbkdf2: password or salt longer than 1024 octets";
    return NULL;
}

/* core.pbkdf2(password, salt, iterations) -> 64 hex digits (32 octets), on
 * the calling thread (the CLI's `passwd`, tests). */
static int l_pbkdf2(lua_State *L)
{
    size_t plen, slen;
    const char *pw, *salt;
    int iter;
    unsigned char key[32];
    char hex[65];
    const char *why = pbkdf2_args(L, &pw, &plen, &salt, &slen, &iter);
    if (why) return luaL_error(L, "%s", why);
    if (!PKCS5_PBKDF2_HMAC(pw, (int)plen, (const unsigned char *)salt, (int)slen, iter, EVP_sha256(),
                           sizeof key, key))
        return luaL_error(L, "pbkdf2 failed");
    to_hex(key, sizeof key, hex);
    lua_pushstring(L, hex);
    return 1;
}

/* -- Hashing on the thread pool ---------------------------------------------------
 * A job owns a copy of the password (wiped when done) and a registry ref to
 * the callback; the callback runs on the loop's thread, in a Lua thread of
 * our own (the task that queued the job is suspended by then). */

typedef struct pbkdf2_job_s {
    uv_work_t     req;
    int           fn_ref, iter, ok, lower;
    size_t        plen, slen;
    unsigned char key[32];
    char          data[1];             /* password, then salt */
} pbkdf2_job_t;

static lua_State *cb_thread;           /* anchored by cb_ref */
static int cb_ref = LUA_NOREF;

/* A hash is CPU work that only its bind waits for, so while it runs its
 * thread is niced (HASH_NICE more): on a busy machine the event loop then
 * gets a CPU back from it at once, and every session's answer times do not
 * follow the binds. On Linux the nice value is per thread; the pool's
 * threads are libuv's and serve other work too, so the value is put back
 * after each hash, which an unprivileged process may not do everywhere
 * (RLIMIT_NICE, CAP_SYS_NICE): a throwaway thread tries it once, and where
 * it fails hashes run at normal priority. */
#define HASH_NICE 10

static int lower_state;                /* 0 not known yet, 1 may lower, -1 may not */

#ifdef __linux__
static void probe_lower(void *arg)
{
    int *ok = arg, prev;
    errno = 0;
    prev = getpriority(PRIO_PROCESS, 0);
    *ok = errno == 0 && setpriority(PRIO_PROCESS, 0, prev + 1) == 0
          && setpriority(PRIO_PROCESS, 0, prev) == 0;
}
#endif

static int may_lower(void)
{
#ifdef __linux__
    uv_thread_t t;
    int ok = 0;
    if (!lower_state) {
        if (uv_thread_create(&t, probe_lower, &ok) == 0) uv_thread_join(&t);
        lower_state = ok ? 1 : -1;
    }
#else
    lower_state = -1;
#endif
    return lower_state > 0;
}

static void pbkdf2_work(uv_work_t *req)
{
    pbkdf2_job_t *j = req->data;
    int prev = 0;
    if (j->lower) {
        errno = 0;
        prev = getpriority(PRIO_PROCESS, 0);
        if (errno == 0) setpriority(PRIO_PROCESS, 0, prev + HASH_NICE > 19 ? 19 : prev + HASH_NICE);
        else j->lower = 0;
    }
    j->ok = PKCS5_PBKDF2_HMAC(j->data, (int)j->plen, (const unsigned char *)j->data + j->plen,
                              (int)j->slen, j->iter, EVP_sha256(), sizeof j->key, j->key) == 1;
    if (j->lower) setpriority(PRIO_PROCESS, 0, prev);
}

static void pbkdf2_done(uv_work_t *req, int status)
{
    pbkdf2_job_t *j = req->data;
    lua_State *L = cb_thread;
    char hex[65];
    lua_rawgeti(L, LUA_REGISTRYINDEX, j->fn_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, j->fn_ref);
    if (status == 0 && j->ok) {
        to_hex(j->key, sizeof j->key, hex);
        lua_pushstring(L, hex);
        lua_pushnil(L);
    } else {
        lua_pushnil(L);
        lua_pushstring(L, status ? uv_strerror(status) : "pbkdf2 failed");
    }
    OPENSSL_cleanse(j->data, j->plen + j->slen);
    OPENSSL_cleanse(j->key, sizeof j->key);
    free(j);
    if (lua_pcall(L, 2, 0, 0) != 0) {
        log_msg(LOG_ERROR, 0, "password hash callback failed: %s", lua_tostring(L, -1));
        lua_settop(L, 0);
    }
}

/* core.pbkdf2_queue(password, salt, iterations, fn) -> true | nil, err:
 * hash on libuv's thread pool; fn(hex) or fn(nil, err) runs on the loop
 * later, exactly once, when true was returned. Arguments out of range are
 * an `err`, not a Lua error: the caller holds a hash slot it must give
 * back either way (lua/smpp/security.lua bounds how many it queues). */
static int l_pbkdf2_queue(lua_State *L)
{
    size_t plen, slen;
    const char *pw, *salt, *why;
    int iter, rc;
    pbkdf2_job_t *j;
    why = pbkdf2_args(L, &pw, &plen, &salt, &slen, &iter);
    luaL_checktype(L, 4, LUA_TFUNCTION);
    if (why) {
        lua_pushnil(L);
        lua_pushstring(L, why);
        return 2;
    }
    if (!cb_thread) {
        cb_thread = lua_newthread(L);
        cb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    if (!(j = malloc(sizeof *j + plen + slen))) {
        lua_pushnil(L);
        lua_pushliteral(L, "out of memory");
        return 2;
    }
    memcpy(j->data, pw, plen);
    memcpy(j->data + plen, salt, slen);
    j->plen = plen;
    j->slen = slen;
    j->iter = iter;
    j->ok = 0;
    j->lower = may_lower();
    j->req.data = j;
    lua_pushvalue(L, 4);
    j->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if ((rc = uv_queue_work(uv_default_loop(), &j->req, pbkdf2_work, pbkdf2_done)) < 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, j->fn_ref);
        OPENSSL_cleanse(j->data, plen + slen);
        free(j);
        lua_pushnil(L);
        lua_pushstring(L, uv_strerror(rc));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* -- Other primitives ----------------------------------------------------------- */

/* core.random_hex(n) -> 2n hex digits from the system's CSPRNG */
static int l_random_hex(lua_State *L)
{
    unsigned char buf[64];
    char hex[129];
    int n = (int)luaL_checknumber(L, 1);
    if (n < 1 || n > 64) return luaL_error(L, "random_hex: 1..64 octets");
    if (RAND_bytes(buf, n) != 1) return luaL_error(L, "random_hex: no randomness");
    to_hex(buf, (size_t)n, hex);
    lua_pushstring(L, hex);
    return 1;
}

/* core.secret_tag(s) -> 64 hex digits: HMAC-SHA256 of s under a key drawn
 * at random once per process and never shown. Equal tags mean equal
 * secrets; a tag tells nothing about its secret outside this process
 * (the cache of verified passwords is keyed by it). */
static int l_secret_tag(lua_State *L)
{
    static unsigned char key[32];
    static int have_key;
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    unsigned char mac[32];
    unsigned int maclen = sizeof mac;
    char hex[65];
    if (!have_key) {
        if (RAND_bytes(key, sizeof key) != 1) return luaL_error(L, "secret_tag: no randomness");
        have_key = 1;
    }
    if (!HMAC(EVP_sha256(), key, (int)sizeof key, (const unsigned char *)s, len, mac, &maclen))
        return luaL_error(L, "secret_tag: HMAC failed");
    to_hex(mac, maclen, hex);
    lua_pushstring(L, hex);
    return 1;
}

/* core.same_secret(a, b) -> true if equal, in time that depends only on
 * the lengths (no early exit on the first differing octet). */
static int l_same_secret(lua_State *L)
{
    size_t la, lb;
    const char *a = luaL_checklstring(L, 1, &la);
    const char *b = luaL_checklstring(L, 2, &lb);
    lua_pushboolean(L, la == lb && CRYPTO_memcmp(a, b, la) == 0);
    return 1;
}

static const luaL_Reg funcs[] = {
    {"pbkdf2", l_pbkdf2},
    {"pbkdf2_queue", l_pbkdf2_queue},
    {"random_hex", l_random_hex},
    {"secret_tag", l_secret_tag},
    {"same_secret", l_same_secret},
    {NULL, NULL}
};

void lcrypto_register(lua_State *L)
{
    luaL_register(L, NULL, funcs);
    lua_pushnumber(L, PBKDF2_MAX_ITER);     /* the configuration check reads the limit here */
    lua_setfield(L, -2, "pbkdf2_max_iterations");
    lua_pushnumber(L, PBKDF2_MAX_INPUT);    /* smppgw passwd's longest password */
    lua_setfield(L, -2, "pbkdf2_max_input");
}
