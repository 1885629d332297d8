/* http_client.c -- the HTTP client that POSTs to callback URLs (receipts
 * of messages sent through /send): one connection per post, the status
 * line is all it reads, 10 s at most (see http_post in http.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* -- Client: POST to a callback URL ----------------------------------------------------- */

typedef struct hpost_s {
    uv_tcp_t      tcp;
    uv_timer_t    timer;
    uv_connect_t  connect;
    uv_write_t    write;
    http_post_fn  cb;
    void         *arg;
    char          answer[64];      /* the status line is all we read */
    size_t        answer_len;
    int           done, handles;
    size_t        len;
    char          data[1];         /* the whole request */
} hpost_t;

static void post_closed(uv_handle_t *h)
{
    hpost_t *p = h->data;
    if (--p->handles == 0) free(p);
}

static void post_finish(hpost_t *p, int status)
{
    if (p->done) return;
    p->done = 1;
    p->cb(status, p->arg);
    uv_close((uv_handle_t *)&p->tcp, post_closed);
    uv_close((uv_handle_t *)&p->timer, post_closed);
}

static void post_timeout(uv_timer_t *t)
{
    post_finish(t->data, UV_ETIMEDOUT);
}

static void post_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    hpost_t *p = h->data;
    (void)hint;
    if (p->answer_len >= sizeof p->answer - 1) {
        static char sink[4096];             /* past the status line: dropped */
        *buf = uv_buf_init(sink, sizeof sink);
        return;
    }
    *buf = uv_buf_init(p->answer + p->answer_len, (unsigned)(sizeof p->answer - 1 - p->answer_len));
}

static void post_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    hpost_t *p = st->data;
    int code;
    if (nread > 0 && buf->base == p->answer + p->answer_len) p->answer_len += (size_t)nread;
    p->answer[p->answer_len] = '\0';
    if (sscanf(p->answer, "HTTP/%*d.%*d %d", &code) == 1 && strchr(p->answer, '\n')) {
        post_finish(p, code >= 100 && code <= 599 ? code : UV_EPROTO);
        return;
    }
    if (nread < 0) post_finish(p, nread == UV_EOF ? UV_EPROTO : (int)nread);
}

static void post_written(uv_write_t *req, int status)
{
    hpost_t *p = req->data;
    if (status < 0) post_finish(p, status);
    else uv_read_start((uv_stream_t *)&p->tcp, post_alloc, post_read);
}

static void post_connected(uv_connect_t *req, int status)
{
    hpost_t *p = req->data;
    uv_buf_t buf;
    if (status < 0) {
        post_finish(p, status);
        return;
    }
    buf = uv_buf_init(p->data, (unsigned)p->len);
    p->write.data = p;
    if ((status = uv_write(&p->write, (uv_stream_t *)&p->tcp, &buf, 1, post_written)) < 0)
        post_finish(p, status);
}

/* path starts with "/" and holds printable ASCII, no space: it cannot end
 * the request line */
static int path_ok(const char *path)
{
    size_t i, n = strlen(path);
    if (n == 0 || n > HTTP_MAX_URL || path[0] != '/') return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)path[i] <= 0x20 || (unsigned char)path[i] > 0x7E) return 0;
    return 1;
}

int http_post(uv_loop_t *loop, const char *host, int port, const char *path,
              const char *content_type, const char *body, size_t len, http_post_fn cb, void *arg)
{
    struct sockaddr_storage ss;
    hpost_t *p;
    char head[HTTP_MAX_URL + 512];
    int n, rc, v6 = 0;
    if (!strcmp(host, "localhost")) host = "127.0.0.1";
    if (port < 1 || port > 65535 || !path_ok(path) || http_ctype_check(content_type, strlen(content_type)))
        return UV_EINVAL;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss)) {
        if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)) return UV_EINVAL;
        v6 = 1;
    }
    if (http_nets_allowed((struct sockaddr *)&ss, NULL, 0) != 1) return UV_EACCES;
    n = snprintf(head, sizeof head,
                 "POST %s HTTP/1.1\r\nHost: %s%s%s:%d\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n", path, v6 ? "[" : "", host, v6 ? "]" : "", port, content_type, len);
    if (n < 0 || (size_t)n >= sizeof head || len > UINT32_MAX - (size_t)n) return UV_EINVAL;
    if (!(p = calloc(1, sizeof *p + (size_t)n + len))) return UV_ENOMEM;
    memcpy(p->data, head, (size_t)n);
    memcpy(p->data + n, body, len);
    p->len = (size_t)n + len;
    p->cb = cb;
    p->arg = arg;
    uv_tcp_init(loop, &p->tcp);
    uv_timer_init(loop, &p->timer);
    p->tcp.data = p->timer.data = p->connect.data = p;
    p->handles = 2;
    uv_timer_start(&p->timer, post_timeout, 10000, 0);
    if ((rc = uv_tcp_connect(&p->connect, &p->tcp, (struct sockaddr *)&ss, post_connected)) < 0) {
        p->done = 1;
        uv_close((uv_handle_t *)&p->tcp, post_closed);
        uv_close((uv_handle_t *)&p->timer, post_closed);
        return rc;
    }
    return 0;
}
