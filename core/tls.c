/* tls.c -- OpenSSL over memory BIOs (see tls.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls.h"

struct tls_ctx_s {
    SSL_CTX *ctx;
    int      server, verify;
};

struct tls_conn_s {
    SSL     *ssl;
    BIO     *rbio, *wbio;        /* ciphertext in (we write), out (we read) */
    uint8_t *plain;              /* decrypted, for the caller */
    size_t   plain_cap;
    uint8_t *pending;            /* plaintext written before the handshake finished */
    size_t   pending_len;
    char     err[160];
};

static void last_error(char *out, size_t n, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[120] = "";
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    snprintf(out, n, "%s%s%s", what, e ? ": " : "", buf);
    ERR_clear_error();
}

tls_ctx_t *tls_ctx_new(int server, const tls_opts_t *o, char *err, size_t errlen)
{
    tls_ctx_t *t = calloc(1, sizeof *t);
    int minv = o->min_version && !strcmp(o->min_version, "TLSv1.3") ? TLS1_3_VERSION : TLS1_2_VERSION;
    if (!t) return NULL;
    t->server = server;
    t->verify = o->verify_peer;
    if (!(t->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()))) {
        last_error(err, errlen, "SSL_CTX_new");
        free(t);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(t->ctx, minv);
    if (o->cert && SSL_CTX_use_certificate_chain_file(t->ctx, o->cert) != 1) {
        last_error(err, errlen, o->cert);
        goto fail;
    }
    if (o->key && SSL_CTX_use_PrivateKey_file(t->ctx, o->key, SSL_FILETYPE_PEM) != 1) {
        last_error(err, errlen, o->key);
        goto fail;
    }
    if (o->cert && o->key && SSL_CTX_check_private_key(t->ctx) != 1) {
        last_error(err, errlen, "the key does not match the certificate");
        goto fail;
    }
    if (server && !o->cert) {
        snprintf(err, errlen, "a TLS listener needs cert and key");
        goto fail;
    }
    if (o->ca && SSL_CTX_load_verify_locations(t->ctx, o->ca, NULL) != 1) {
        last_error(err, errlen, o->ca);
        goto fail;
    }
    if (o->verify_peer)
        SSL_CTX_set_verify(t->ctx, server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER,
                           NULL);
    return t;
fail:
    SSL_CTX_free(t->ctx);
    free(t);
    return NULL;
}

void tls_ctx_free(tls_ctx_t *t)
{
    if (!t) return;
    SSL_CTX_free(t->ctx);
    free(t);
}

tls_conn_t *tls_conn_new(tls_ctx_t *t, const char *hostname)
{
    tls_conn_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->ssl = SSL_new(t->ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (!c->ssl || !c->rbio || !c->wbio) {
        tls_conn_free(c);
        return NULL;
    }
    SSL_set_bio(c->ssl, c->rbio, c->wbio);      /* the SSL owns the BIOs now */
    if (t->server) {
        SSL_set_accept_state(c->ssl);
    } else {
        SSL_set_connect_state(c->ssl);
        if (hostname && *hostname) {
            SSL_set_tlsext_host_name(c->ssl, hostname);
            if (t->verify) SSL_set1_host(c->ssl, hostname);
        }
    }
    return c;
}

void tls_conn_free(tls_conn_t *c)
{
    if (!c) return;
    if (c->ssl) SSL_free(c->ssl);
    else {
        if (c->rbio) BIO_free(c->rbio);
        if (c->wbio) BIO_free(c->wbio);
    }
    free(c->plain);
    free(c->pending);
    free(c);
}

/* Push plaintext written before the handshake finished. */
static int flush_pending(tls_conn_t *c)
{
    if (!c->pending_len || !SSL_is_init_finished(c->ssl)) return 0;
    if (SSL_write(c->ssl, c->pending, (int)c->pending_len) <= 0) {
        last_error(c->err, sizeof c->err, "TLS write");
        return -1;
    }
    c->pending_len = 0;
    return 0;
}

int tls_feed(tls_conn_t *c, const uint8_t *in, size_t n, const uint8_t **plain, size_t *plain_len)
{
    size_t got = 0;
    *plain = NULL;
    *plain_len = 0;
    if (n && BIO_write(c->rbio, in, (int)n) != (int)n) {
        snprintf(c->err, sizeof c->err, "TLS: out of memory");
        return -1;
    }
    if (!SSL_is_init_finished(c->ssl)) {
        int rc = SSL_do_handshake(c->ssl);
        if (rc <= 0) {
            int e = SSL_get_error(c->ssl, rc);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
            last_error(c->err, sizeof c->err, "TLS handshake failed");
            if (SSL_get_verify_result(c->ssl) != X509_V_OK)
                snprintf(c->err, sizeof c->err, "TLS handshake failed: certificate: %s",
                         X509_verify_cert_error_string(SSL_get_verify_result(c->ssl)));
            return -1;
        }
        if (flush_pending(c)) return -1;
    }
    for (;;) {
        int r;
        if (c->plain_cap - got < 16384) {
            uint8_t *p = realloc(c->plain, c->plain_cap + 16384);
            if (!p) return -1;
            c->plain = p;
            c->plain_cap += 16384;
        }
        r = SSL_read(c->ssl, c->plain + got, (int)(c->plain_cap - got));
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        r = SSL_get_error(c->ssl, r);
        if (r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE) break;
        if (r == SSL_ERROR_ZERO_RETURN) break;          /* close_notify: EOF follows */
        last_error(c->err, sizeof c->err, "TLS read");
        return -1;
    }
    *plain = c->plain;
    *plain_len = got;
    return 0;
}

int tls_write(tls_conn_t *c, const uint8_t *plain, size_t n)
{
    if (!SSL_is_init_finished(c->ssl)) {          /* keep it for after the handshake */
        uint8_t *p = realloc(c->pending, c->pending_len + n);
        if (!p) return -1;
        memcpy(p + c->pending_len, plain, n);
        c->pending = p;
        c->pending_len += n;
        return 0;
    }
    if (flush_pending(c)) return -1;
    if (n && SSL_write(c->ssl, plain, (int)n) <= 0) {
        last_error(c->err, sizeof c->err, "TLS write");
        return -1;
    }
    return 0;
}

int tls_handshake_done(const tls_conn_t *c)
{
    return SSL_is_init_finished(c->ssl);
}

void tls_start(tls_conn_t *c)
{
    SSL_do_handshake(c->ssl);                     /* the ClientHello goes to wbio */
}

void tls_shutdown(tls_conn_t *c)
{
    if (SSL_is_init_finished(c->ssl)) SSL_shutdown(c->ssl);
}

uint8_t *tls_take_output(tls_conn_t *c, size_t *len)
{
    size_t n = (size_t)BIO_ctrl_pending(c->wbio);
    uint8_t *buf;
    *len = 0;
    if (!n || !(buf = malloc(n))) return NULL;
    *len = (size_t)BIO_read(c->wbio, buf, (int)n);
    return buf;
}

const char *tls_error(const tls_conn_t *c)
{
    return c->err;
}
