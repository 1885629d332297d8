/* server.c -- example: an SMSC in C on core/ alone (no Lua). It accepts any
 * bind, answers each submit_sm with a new message_id and prints totals.
 *   build/example_server [PORT]      (0 or nothing: pick a free port)
 * Prints "listening on 127.0.0.1:PORT"; SIGINT/SIGTERM unbind and exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "net.h"

static net_t *net;
static unsigned long submits, next_id = 1;
static uv_signal_t sigint, sigterm;
static pdu_t resp;

static int on_request(net_t *n, sess_t *s, const pdu_t *req, void *ud)
{
    char id[16];
    (void)ud;
    switch (req->command_id) {
    case SMPP_BIND_TRANSMITTER:
    case SMPP_BIND_RECEIVER:
    case SMPP_BIND_TRANSCEIVER:
        pdu_init(&resp, req->cmd->resp_id, 0);
        pdu_set_cstr(&resp, PDU_F_SYSTEM_ID, "example");
        sess_respond(s, req->sequence_number, &resp, SMPP_ESME_ROK, net_now(n));
        break;
    case SMPP_SUBMIT_SM:
        submits++;
        snprintf(id, sizeof id, "%lu", next_id++);
        pdu_init(&resp, SMPP_SUBMIT_SM_RESP, 0);
        pdu_set_cstr(&resp, PDU_F_MESSAGE_ID, id);
        sess_respond(s, req->sequence_number, &resp, SMPP_ESME_ROK, net_now(n));
        break;
    default:   /* anything else this small SMSC does not offer: the engine answers */
        return SESS_DECLINED;
    }
    return SESS_TAKEN;
}

static void on_closed(net_t *n, sess_t *s, const char *reason, void *ud)
{
    (void)n;
    (void)ud;
    printf("session %llu closed (%s) after %llu PDUs in\n", (unsigned long long)sess_id(s),
           reason, (unsigned long long)sess_stats(s)->rx_pdus);
    fflush(stdout);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    uv_close((uv_handle_t *)&sigint, NULL);
    uv_close((uv_handle_t *)&sigterm, NULL);
    (void)h;
    net_shutdown(net);
}

int main(int argc, char **argv)
{
    static const net_owner_t owner = {NULL, on_request, NULL, on_closed, NULL, NULL, NULL};
    sess_config_t cfg;
    int port = argc > 1 ? atoi(argv[1]) : 0, rc;
    uv_loop_t *loop = uv_default_loop();

    log_set_level(LOG_WARN);
    sess_config_default(&cfg);
    net = net_new(loop, &owner, NULL);
    if ((rc = net_listen(net, "127.0.0.1", port, SESS_SMSC, &cfg, &port)) < 0) {
        fprintf(stderr, "listen: %s\n", uv_strerror(rc));
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    uv_signal_init(loop, &sigint);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    printf("answered %lu submit_sm\n", submits);
    net_free(net);
    return 0;
}
