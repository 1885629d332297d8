/* lcrypto.c -- the few cryptographic primitives scripts and the runtime
 * need, from OpenSSL's libcrypto: password hashing (PBKDF2-HMAC-SHA256),
 * random salts, and a constant-time comparison.
 */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "lcrypto.h"

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

/* core.pbkdf2(password, salt, iterations) -> 64 hex digits (32 octets) */
static int l_pbkdf2(lua_State *L)
{
    size_t plen, slen;
    const char *pw = luaL_checklstring(L, 1, &plen);
    const char *salt = luaL_checklstring(L, 2, &slen);
    int iter = (int)luaL_checknumber(L, 3);
    unsigned char key[32];
    char hex[65];
    if (iter < 1 || iter > 10000000) return luaL_error(L, "pbkdf2: iterations out of range");
    if (!PKCS5_PBKDF2_HMAC(pw, (int)plen, (const unsigned char *)salt, (int)slen, iter, EVP_sha256(),
                           sizeof key, key))
        return luaL_error(L, "pbkdf2 failed");
    to_hex(key, sizeof key, hex);
    lua_pushstring(L, hex);
    return 1;
}

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
    {"random_hex", l_random_hex},
    {"same_secret", l_same_secret},
    {NULL, NULL}
};

void lcrypto_register(lua_State *L)
{
    luaL_register(L, NULL, funcs);
}
