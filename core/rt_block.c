/* rt_block.c -- small blocks kept for reuse (rt_block.h). Each block has
 * a header before it with its size: RT_BLOCK for the list's, the octets
 * asked for otherwise. */
#include <stdlib.h>

#include "rt_block.h"

#if defined(__SANITIZE_ADDRESS__)
#define RT_BLOCK_KEEP 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RT_BLOCK_KEEP 0
#endif
#endif
#ifndef RT_BLOCK_KEEP
#define RT_BLOCK_KEEP 512               /* 384 KiB at most */
#endif

typedef union head_u {
    size_t      size;
    long double align_ld;               /* the block after it aligned as malloc's */
    long long   align_ll;
    void       *align_p;
} head_t;

typedef struct kept_s {
    struct kept_s *next;
} kept_t;

static struct {
    kept_t  *head;
    unsigned n;
} blocks;

void *rt_block_get(size_t n)
{
    head_t *h;
    if (n <= RT_BLOCK && blocks.head) {
        kept_t *k = blocks.head;
        blocks.head = k->next;
        blocks.n--;
        return k;
    }
    if (n <= RT_BLOCK) n = RT_BLOCK;
    if (n > (size_t)-1 - sizeof *h || !(h = malloc(sizeof *h + n))) return NULL;
    h->size = n;
    return h + 1;
}

void rt_block_put(void *p)
{
    head_t *h = p ? (head_t *)p - 1 : NULL;
    if (!h) return;
    if (h->size == RT_BLOCK && (int)blocks.n < RT_BLOCK_KEEP) {
        kept_t *k = p;
        k->next = blocks.head;
        blocks.head = k;
        blocks.n++;
        return;
    }
    free(h);
}

void rt_block_free_all(void)
{
    kept_t *k;
    while ((k = blocks.head) != NULL) {
        blocks.head = k->next;
        free((head_t *)(void *)k - 1);
    }
    blocks.n = 0;
}
