/* client.c -- example: an ESME in C on core/ alone (no Lua). It binds as a
 * transceiver, submits COUNT messages with up to 10 outstanding, prints each
 * message_id, unbinds and exits 0 if every submit succeeded.
 *   build/example_client HOST PORT [COUNT] [SYSTEM_ID PASSWORD]
 */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "net.h"

static net_t *net;
static int count = 3, sent, ok, failed;
static pdu_t sm;

static void submit_more(sess_t *s);

static void on_submit(sess_t *s, void *arg, const pdu_t *resp, int err)
{
    const pdu_value_t *id;
    (void)arg;
    if (err || resp->command_status) {
        printf("submit failed: %s\n", err ? sess_strerror(err) : pdu_status_name(resp->command_status));
        failed++;
    } else {
        id = pdu_get(resp, PDU_F_MESSAGE_ID);
        printf("message_id %.*s\n", id ? (int)id->len : 0, id ? (const char *)id->ptr : "");
        ok++;
    }
    if (ok + failed == count) sess_unbind(s, net_now(net));
    else submit_more(s);
    net_touch(s);
}

static void submit_more(sess_t *s)
{
    while (sent < count) {
        long rc;
        pdu_init(&sm, SMPP_SUBMIT_SM, 0);
        pdu_set_cstr(&sm, PDU_F_SOURCE_ADDR, "Example");
        pdu_set_int(&sm, PDU_F_DEST_ADDR_TON, 1);
        pdu_set_int(&sm, PDU_F_DEST_ADDR_NPI, 1);
        pdu_set_cstr(&sm, PDU_F_DESTINATION_ADDR, "447700900123");
        pdu_set_cstr(&sm, PDU_F_SHORT_MESSAGE, "Hello from core/");
        rc = sess_send(s, &sm, on_submit, NULL, net_now(net));
        if (rc == SESS_EWINDOW) break;          /* more when a response frees a slot */
        if (rc < 0) {
            printf("send: %s\n", sess_strerror((int)rc));
            failed += count - sent;
            sent = count;
            sess_close(s, "send failed");
            break;
        }
        sent++;
    }
}

static void on_bound(sess_t *s, void *arg, const pdu_t *resp, int err)
{
    (void)arg;
    if (err || resp->command_status) {
        printf("bind failed: %s\n", err ? sess_strerror(err) : pdu_status_name(resp->command_status));
        failed = count;
        sess_close(s, "bind failed");
        return;
    }
    printf("bound\n");
    submit_more(s);
}

static const char *system_id = "smppclient1", *password = "password";

static void on_connect(net_t *n, sess_t *s, int status, void *arg)
{
    (void)arg;
    if (status < 0) {
        printf("connect: %s\n", uv_strerror(status));
        failed = count;
        return;
    }
    sess_bind(s, SMPP_BIND_TRANSCEIVER, system_id, password, "", on_bound, NULL, net_now(n));
}

int main(int argc, char **argv)
{
    static const net_owner_t owner = {NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    sess_config_t cfg;
    int rc;
    if (argc < 3) {
        fprintf(stderr, "usage: %s HOST PORT [COUNT] [SYSTEM_ID PASSWORD]\n", argv[0]);
        return 2;
    }
    if (argc > 3) count = atoi(argv[3]);
    if (argc > 5) { system_id = argv[4]; password = argv[5]; }
    log_set_level(LOG_WARN);
    sess_config_default(&cfg);
    cfg.response_timeout_ms = 5000;
    net = net_new(uv_default_loop(), &owner, NULL);
    if ((rc = net_connect(net, argv[1], atoi(argv[2]), SESS_ESME, &cfg, on_connect, NULL)) < 0) {
        fprintf(stderr, "connect: %s\n", uv_strerror(rc));
        return 1;
    }
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    printf("%d ok, %d failed\n", ok, failed);
    net_free(net);
    return failed || ok != count ? 1 : 0;
}
