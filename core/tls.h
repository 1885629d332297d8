/* tls.h -- TLS for sessions with OpenSSL over memory BIOs: net.c feeds it
 * the ciphertext it reads and writes the ciphertext it produces, so libuv
 * keeps doing all the I/O. No sockets here.
 */
#ifndef SMPPGW_TLS_H
#define SMPPGW_TLS_H

#include <stddef.h>
#include <stdint.h>

typedef struct tls_ctx_s tls_ctx_t;     /* an SSL_CTX and its settings */
typedef struct tls_conn_s tls_conn_t;   /* one connection's SSL and BIOs */

typedef struct tls_opts_s {
    const char *cert, *key;      /* PEM files; required for a server */
    const char *ca;              /* PEM CA file: verifies the peer when set */
    int         verify_peer;     /* server: require a client certificate; client: verify the server */
    const char *min_version;     /* "TLSv1.2" (default) or "TLSv1.3" */
} tls_opts_t;

/* A context for the server or client side; NULL and a message in err on
 * failure (a missing file, a key that does not match...). */
tls_ctx_t *tls_ctx_new(int server, const tls_opts_t *o, char *err, size_t errlen);
void tls_ctx_free(tls_ctx_t *ctx);

/* A connection; `hostname` (client side) is checked against the server's
 * certificate when verification is on, and sent as SNI. */
tls_conn_t *tls_conn_new(tls_ctx_t *ctx, const char *hostname);
void tls_conn_free(tls_conn_t *c);

/* Ciphertext in; plaintext out through *plain (borrowed until the next
 * call), possibly none. Returns 0, or -1 with tls_error() set. */
int tls_feed(tls_conn_t *c, const uint8_t *in, size_t n, const uint8_t **plain, size_t *plain_len);

/* Plaintext to send (kept until the handshake is done). Returns 0 or -1. */
int tls_write(tls_conn_t *c, const uint8_t *plain, size_t n);

/* Whether the handshake has finished. */
int tls_handshake_done(const tls_conn_t *c);

/* Start the handshake (client side) or a close_notify. */
void tls_start(tls_conn_t *c);
void tls_shutdown(tls_conn_t *c);

/* The ciphertext waiting to go out: a malloc'd buffer the caller frees,
 * NULL when there is none. */
uint8_t *tls_take_output(tls_conn_t *c, size_t *len);

const char *tls_error(const tls_conn_t *c);

#endif /* SMPPGW_TLS_H */
