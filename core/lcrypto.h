/* lcrypto.h -- password hashing and friends for the smpp.core module. */
#ifndef SMPPGW_LCRYPTO_H
#define SMPPGW_LCRYPTO_H

#include <lua.h>

/* Add pbkdf2, pbkdf2_queue (on libuv's thread pool), random_hex,
 * secret_tag and same_secret to the table on top of the stack, and
 * pbkdf2_max_iterations (the most iterations either hashes with). */
void lcrypto_register(lua_State *L);

#endif /* SMPPGW_LCRYPTO_H */
