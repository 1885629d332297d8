/* store_mem.c -- SQLite's allocator in this process. Debian's SQLite is
 * built without lookaside (SQLITE_OMIT_LOOKASIDE), so every statement run
 * mallocs its cursors and record buffers in its registers and frees them
 * when it halts: about 19 malloc/free pairs a gateway message. Here a
 * freed block of up to MEM_SMALL octets goes on a free list of its size
 * class (MEM_STEP apart), MEM_KEEP at most a class, and the next request
 * of that class takes it; larger blocks and the lists' overflow are
 * malloc's. The lists belong to the thread that installed the allocator
 * (the loop's): a block freed on another thread (the checkpoint's) goes
 * back to malloc, so the lists need no lock. Each block keeps its usable
 * size in the 8 octets before it, as SQLite's own allocator does.
 */
#define _GNU_SOURCE                     /* dladdr, RTLD_NODELETE */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define MEM_STEP    64
#define MEM_CLASSES 16
#define MEM_SMALL   (MEM_STEP * MEM_CLASSES)
/* Under AddressSanitizer nothing is kept, so that it sees every free. */
#if defined(__SANITIZE_ADDRESS__)
#define MEM_KEEP 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEM_KEEP 0
#endif
#endif
#ifndef MEM_KEEP
#define MEM_KEEP 64
#endif

typedef struct mem_free_s {
    struct mem_free_s *next;
} mem_free_t;

static struct {
    mem_free_t *head[MEM_CLASSES];
    unsigned    n[MEM_CLASSES];
} mem;
static __thread int mem_owner;          /* this thread's are the lists (the installer) */

/* The size a request of n octets gets: its class's, or n to 8 octets. */
static int mem_roundup(int n)
{
    if (n <= 0) return MEM_STEP;
    if (n <= MEM_SMALL) return (n + MEM_STEP - 1) / MEM_STEP * MEM_STEP;
    return (n + 7) & ~7;
}

static void *mem_malloc(int n)
{
    uint64_t *h;
    unsigned sz = (unsigned)mem_roundup(n);
    if (sz <= MEM_SMALL && mem_owner) {
        unsigned c = sz / MEM_STEP - 1;
        mem_free_t *f = mem.head[c];
        if (f) {
            mem.head[c] = f->next;
            mem.n[c]--;
            return f;
        }
    }
    if (!(h = malloc((size_t)sz + 8))) return NULL;
    h[0] = (uint64_t)sz;
    return h + 1;
}

static void mem_free(void *p)
{
    uint64_t *h = (uint64_t *)p - 1;
    unsigned sz = (unsigned)h[0], c = sz / MEM_STEP - 1;
    if (sz <= MEM_SMALL && mem_owner && (int)mem.n[c] < MEM_KEEP) {
        mem_free_t *f = p;
        f->next = mem.head[c];
        mem.head[c] = f;
        mem.n[c]++;
        return;
    }
    free(h);
}

static int mem_size(void *p) { return p ? (int)((uint64_t *)p)[-1] : 0; }

/* n is rounded already (SQLite asks mem_roundup first); NULL leaves p. */
static void *mem_realloc(void *p, int n)
{
    int old = mem_size(p);
    void *q;
    if (mem_roundup(n) == old) return p;
    if (!(q = mem_malloc(n))) return NULL;
    memcpy(q, p, (size_t)(old < n ? old : n));
    mem_free(p);
    return q;
}

static int mem_init(void *ud) { (void)ud; return SQLITE_OK; }

/* The lists go back to malloc (the installing thread's call). */
static void mem_shutdown(void *ud)
{
    int c;
    (void)ud;
    if (!mem_owner) return;
    for (c = 0; c < MEM_CLASSES; c++) {
        while (mem.head[c]) {
            mem_free_t *f = mem.head[c];
            mem.head[c] = f->next;
            free((uint64_t *)f - 1);
        }
        mem.n[c] = 0;
    }
}

int store__mem_install(void)
{
    static const sqlite3_mem_methods methods = {
        mem_malloc, mem_free, mem_realloc, mem_size, mem_roundup, mem_init, mem_shutdown, NULL
    };
    Dl_info di;
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) != SQLITE_OK) return -1;
    mem_owner = 1;
    /* SQLite keeps these functions for the life of the process: the
     * object holding them (the program, or a Lua module of the store) is
     * never unloaded from now on */
    if (dladdr((void *)(uintptr_t)mem_malloc, &di) && di.dli_fname)
        (void)dlopen(di.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
    return 0;
}
