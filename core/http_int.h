/* http_int.h -- what http.c and http_head.c share: the head of an answer
 * (not part of the API in http.h).
 */
#ifndef SMPPGW_HTTP_INT_H
#define SMPPGW_HTTP_INT_H

#include <stddef.h>

#include "http.h"

/* Room for any head http_head writes: the fixed text, the longest reason,
 * a content type of HTTP_MAX_CTYPE octets and a 20-digit length. */
#define HTTP_HEAD_MAX (160 + HTTP_MAX_CTYPE)

/* The head of an answer, written to head[0..n): its length, or -1 if it
 * does not fit (never a truncated or overlong copy). The status and the
 * content type must have passed http_answer_check. */
int http_head(char *head, size_t n, int status, const char *ctype, size_t len, int close_after);

#endif /* SMPPGW_HTTP_INT_H */
