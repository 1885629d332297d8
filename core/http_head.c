/* http_head.c -- the head of an HTTP answer: what a status and a content
 * type must be before they are written (http_answer_check, the one gate
 * for what scripts give the HTTP layer), and the head itself, built whole
 * or not at all (see http.h and http_int.h).
 */
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "http_int.h"

/* -- Checks ---------------------------------------------------------------------- */

static int token_char(int ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
        || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

const char *http_ctype_check(const char *ctype, size_t len)
{
    size_t i = 0, t;
    if (!ctype || len == 0 || len > HTTP_MAX_CTYPE)
        return "the content type is empty or longer than 255 octets";
    for (t = i; i < len && token_char((unsigned char)ctype[i]); i++) {}
    if (i == t || i == len || ctype[i++] != '/') return "the content type is not type/subtype";
    for (t = i; i < len && token_char((unsigned char)ctype[i]); i++) {}
    if (i == t) return "the content type is not type/subtype";
    while (i < len && ctype[i] == ' ') i++;
    if (i < len && ctype[i] != ';') return "the content type is not type/subtype[; parameters]";
    for (; i < len; i++)                     /* parameters: printable ASCII only */
        if ((unsigned char)ctype[i] < 0x20 || (unsigned char)ctype[i] > 0x7E)
            return "the content type holds a control character or a non-ASCII octet";
    return NULL;
}

const char *http_answer_check(double status, const char *ctype, size_t len)
{
    if (!(status >= 200 && status <= 599) || status != (double)(int)status)
        return "the status is not a whole number 200..599 (a 1xx is never a final answer)";
    return http_ctype_check(ctype, len);
}

/* -- The head -------------------------------------------------------------------- */

/* The reason phrase of a status: the registered one (RFC 9110, 6585, 7725;
 * 413 and 422 under their RFC 7231 and 4918 names, which clients know),
 * else the name of its class. Any status 200..599 may come from a
 * script's route. */
const char *http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Entity";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 511: return "Network Authentication Required";
    default: break;
    }
    switch (status / 100) {
    case 2: return "Success";
    case 3: return "Redirection";
    case 4: return "Client Error";
    case 5: return "Server Error";
    default: return "Unknown";
    }
}

int http_head(char *head, size_t n, int status, const char *ctype, size_t len, int close_after)
{
    /* every 503 of ours is a refusal for now (busy, a limit, the heap or
     * the store short): the client may try again in a second */
    int k = snprintf(head, n,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n%s%s\r\n",
                     status, http_reason(status), ctype, len, status == 503 ? "Retry-After: 1\r\n" : "",
                     close_after ? "Connection: close\r\n" : "");
    return k < 0 || (size_t)k >= n ? -1 : k;
}
