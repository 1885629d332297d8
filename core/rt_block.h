/* rt_block.h -- small blocks of the loop thread, kept for reuse. A
 * message held for the forwarder (rt_gw_held.c) and a receipt on its way
 * to its ESME (rt_gw_rcpt.c) each took a malloc and a free per message:
 * about 400 instructions of glibc's where a free list's pop and push cost
 * a few dozen. A request of up to RT_BLOCK octets gets a block of that
 * size, from the list or else from malloc; a larger one is malloc's
 * alone. rt_block_put gives either back: a block goes on the list while
 * it holds fewer than RT_BLOCK_KEEP (none under AddressSanitizer, so that
 * it sees every free), anything else to free(). The loop thread's only:
 * no lock. */
#ifndef SMPPGW_RT_BLOCK_H
#define SMPPGW_RT_BLOCK_H

#include <stddef.h>

#define RT_BLOCK 768

/* A block of at least n octets (aligned as malloc's), or NULL. */
void *rt_block_get(size_t n);

/* Give back p (rt_block_get's; NULL: nothing). */
void rt_block_put(void *p);

/* Free the kept blocks (serving ends). */
void rt_block_free_all(void);

#endif /* SMPPGW_RT_BLOCK_H */
