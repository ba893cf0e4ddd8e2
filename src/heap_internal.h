/*
 * heap_internal.h - the heap-limited allocator shared by objects and raw blocks.
 *
 * Layout
 * ------
 * Every block the heap hands out starts with a 16-byte header (sr__hdr); the
 * caller's bytes follow it. Small blocks (header included, at most
 * SR__SMALL_MAX bytes) come from 64 KiB pages, one size class per page, carved
 * by a bump pointer and recycled through a per-class free list. Large blocks
 * are taken one by one from the underlying allocator behind a 32-byte link
 * record (sr__large) that keeps them on a doubly linked list.
 *
 *   small:  [page hdr 16][blk][blk][blk]...        blk = [sr__hdr 16][bytes]
 *   large:  [sr__large 32][sr__hdr 16][bytes]
 *
 * Accounting rule (docs/memory.md): a block is charged its size class for a
 * small block, and 32 + round_up(16 + size, 16) for a large block. heap_used is
 * the sum of the charges of the live blocks, nothing else: page headers, the
 * unused tail of a page and free blocks are "reserved", not "used".
 *
 * Invariants
 * ----------
 * H1  heap_used <= limit whenever limit != 0, before and after every call.
 * H2  heap_used == sum of charge(b) over live blocks b; it returns exactly to
 *     its earlier value once the blocks made since are freed.
 * H3  A free small block has kind SR__KIND_FREE and sits on exactly one free
 *     list (its class's); a live one has another kind and sits on none.
 * H4  Every page and every large block is on a list owned by the heap, so
 *     sr__heap_destroy returns every byte, whatever the host leaked.
 * H5  A refused allocation changes nothing but failed_allocations (and
 *     heap_reserved/heap_trimmed if the underlying allocator refused a page
 *     and sr_heap_trim's pass gave free pages back before the retry).
 *
 * Trimming (heap.c) frees pages whose carved blocks are all free, and keeps
 * H2-H4: their blocks leave the free lists, a class whose newest page goes
 * starts a new page at its next carve, heap_reserved drops by 64 KiB a page.
 * Nothing else points into a page with no live block.
 */
#ifndef SR_HEAP_INTERNAL_H
#define SR_HEAP_INTERNAL_H

#include "scriptrt.h"

/* kinds (sr__hdr.info bits 0-1) */
#define SR__KIND_FREE 0u
#define SR__KIND_RAW  1u
#define SR__KIND_OBJ  2u
#define SR__KIND_MASK 3u

typedef struct sr__hdr {
    uint32_t rc;      /* objects: reference count; other kinds: 0 */
    uint32_t info;    /* bits 0-1 kind; bits 2-7 owned by the object layer; bits 8-31 type id */
    uint32_t aux;     /* owned by the block's user (objects: root-buffer slot + 1) */
    uint16_t cls;     /* size class; SR__CLS_LARGE for a large block */
    uint16_t flags;   /* bits 0-7 owned by the block's user, bits 8-15 by the profiler */
} sr__hdr;

/* sr__hdr.flags: the low byte belongs to the block's user (the object layer's
   SR__OBJF_* bits; the weak-handle mark of a raw block), the high byte to the
   profiler (its mark epoch and whether it keeps a side record; 0 while
   profiling is off). Each side changes only its own bits. */
#define SR__FLAGS_USER_MASK   0x00ffu
#define SR__FLAGS_PROF_MASK   0xff00u
/* A RAW block that the runtime made for itself (a weak handle): sr_free and
   sr_realloc refuse it. User blocks never have it. */
#define SR__FLAGS_WEAK_HANDLE 0x0080u

#define SR__HDR_SIZE      16u
#define SR__PAGE_SIZE     (64u * 1024u)
#define SR__SMALL_MAX     2048u
#define SR__NUM_CLASSES   25u
#define SR__CLS_LARGE     0xffffu
#define SR__LARGE_EXTRA   32u

typedef struct sr__page {
    struct sr__page *next;
    uint16_t cls;
    uint16_t carved;        /* blocks carved so far (at most 4095) */
    uint32_t nfree;         /* sr_heap_trim's scratch: free blocks counted in this page */
} sr__page;

typedef struct sr__large {
    struct sr__large *prev, *next;
    size_t charge;
    size_t pad;
} sr__large;

typedef struct sr__free_block {  /* overlays a free small block */
    uint32_t rc;
    uint32_t info;          /* SR__KIND_FREE */
    struct sr__free_block *next;
} sr__free_block;

typedef struct sr__size_class {
    sr__free_block *free;   /* free list */
    char *bump, *end;       /* carving region in the newest page of this class */
    sr__page *newest;
    uint32_t size;          /* block size, header included */
    uint32_t pad;
} sr__size_class;

typedef struct sr__heap {
    /* Counters that one call updates together are kept apart: adjacent ones get
       merged into one 16-byte vector load/store, which stalls on the 8-byte
       stores the other path made (store-forwarding failure). */
    size_t used;
    uint64_t allocations;
    size_t peak;
    size_t live_objects;
    size_t limit;
    uint64_t frees;
    size_t reserved;                 /* bytes taken for pages and large blocks */
    size_t live_blocks;
    uint64_t failed;
    sr__size_class cls[SR__NUM_CLASSES];
    uint8_t cls_of[SR__SMALL_MAX / 8 + 1];  /* (size + 7) / 8 -> class */
    sr__page *pages;
    sr__large *large;
    uint64_t trimmed;                /* bytes sr_heap_trim gave back, ever */
    size_t trim_sparse;              /* sparse trim when free small blocks < carved / this (heap.c) */
} sr__heap;

static inline sr__hdr *sr__hdr_of(const void *payload) { return (sr__hdr *)((char *)(uintptr_t)payload - SR__HDR_SIZE); }
static inline void *sr__payload_of(sr__hdr *h) { return (char *)h + SR__HDR_SIZE; }
static inline uint32_t sr__kind(const sr__hdr *h) { return h->info & SR__KIND_MASK; }

void     sr__heap_init(sr_runtime *rt);
void     sr__heap_destroy(sr_runtime *rt);
/* A block of `total` bytes (header included) whose header gets `info`; rc, aux
   and flags are zero, the bytes after the header are NOT cleared. Tries an
   emergency collection once before refusing at the limit. NULL: refused
   (counted in failed_allocations). The entry point is sr__heap_alloc_inline
   (internal.h), which tries the free-list fast path first and then this. */
sr__hdr *sr__heap_alloc_slow(sr_runtime *rt, size_t total, uint32_t info);
/* Resizes a RAW block; NULL: refused, old block intact. */
sr__hdr *sr__heap_realloc(sr_runtime *rt, sr__hdr *h, size_t total);
void     sr__heap_free(sr_runtime *rt, sr__hdr *h);
size_t   sr__heap_charge_of(const sr_runtime *rt, const sr__hdr *h);
size_t   sr__heap_usable(const sr_runtime *rt, const sr__hdr *h);  /* bytes after the header */
/* Calls fn on every live block (any kind but FREE). fn must not allocate or free blocks. */
void     sr__heap_each_live(sr_runtime *rt, void (*fn)(sr__hdr *h, void *ctx), void *ctx);

#endif

/* ---- inline fast paths ------------------------------------------------------------ *
 * Small block, room under the limit, free list non-empty: a table lookup, one
 * compare against the limit, a pop, four counter updates and the header stores.
 * Everything else goes to sr__heap_alloc_slow (carving, new pages, large blocks,
 * emergency collection, refusal). The wrappers that also test the profiler
 * switch (sr__heap_alloc_inline, sr__heap_free_inline) are in internal.h. */
#ifndef NDEBUG
#  define SR__POISON_FREED 1
#else
#  define SR__POISON_FREED 0
#endif

static inline sr__hdr *sr__heap_alloc_fast(sr__heap *hp, size_t total, uint32_t info)
{
    if (total > SR__SMALL_MAX) return NULL;
    unsigned c = hp->cls_of[(total + 7) >> 3];
    sr__size_class *sc = &hp->cls[c];
    sr__free_block *b = sc->free;
    if (!b || (hp->limit && sc->size > hp->limit - hp->used)) return NULL;
    sc->free = b->next;
    hp->used += sc->size;
    if (hp->used > hp->peak) hp->peak = hp->used;
    hp->allocations++;
    if ((info & SR__KIND_MASK) == SR__KIND_OBJ) hp->live_objects++;
    else hp->live_blocks++;
    sr__hdr *h = (sr__hdr *)(void *)b;
    h->rc = 0;
    h->info = info;
    h->aux = 0;
    h->cls = (uint16_t)c;
    h->flags = 0;
    return h;
}

/* Frees a small block without profiler or poisoning (the caller checked). */
static inline void sr__heap_free_small(sr__heap *hp, sr__hdr *h)
{
    sr__size_class *sc = &hp->cls[h->cls];
    if ((h->info & SR__KIND_MASK) == SR__KIND_OBJ) hp->live_objects--;
    else hp->live_blocks--;
    hp->used -= sc->size;
    hp->frees++;
    sr__free_block *b = (sr__free_block *)(void *)h;
    b->rc = 0;
    b->info = SR__KIND_FREE;
    b->next = sc->free;
    sc->free = b;
}
