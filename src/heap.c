/*
 * heap.c - the heap-limited allocator (layout and invariants: heap_internal.h).
 *
 * The fast path (heap_internal.h) pops a free list. This file has the rest:
 * carving pages, large blocks, the limit check with one emergency collection,
 * resizing raw blocks, freeing, and walking every live block for teardown and
 * the profiler, and trimming: sr_heap_trim gives back to the underlying
 * allocator every page whose carved blocks are all free (nothing else returns
 * a page before the runtime dies; docs/memory.md).
 */
#include "internal.h"

#include <string.h>

static const uint16_t sr__class_sizes[SR__NUM_CLASSES] = {
    16, 24, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256,
    320, 384, 448, 512, 640, 768, 896, 1024, 1280, 1536, 1792, 2048,
};

/* sr_heap_trim counts through the free lists when fewer than 1/SR__TRIM_SPARSE
   of the carved small blocks are free (see "trimming" below). */
#define SR__TRIM_SPARSE 128u

static inline size_t sr__round16(size_t n) { return (n + 15u) & ~(size_t)15u; }

static size_t sr__heap_trim(sr_runtime *rt, bool may_scratch);

/* The underlying allocator's malloc for a page or a large block. When it
   refuses, the pages that are all free go back (without scratch memory: this
   is the out-of-memory path) and, if any did, it is asked once more. */
static void *sr__heap_sys_malloc(sr_runtime *rt, size_t size)
{
    void *p = rt->sys.malloc(size, rt->sys.ud);
    if (SR__UNLIKELY(!p) && sr__heap_trim(rt, false) > 0) p = rt->sys.malloc(size, rt->sys.ud);
    return p;
}

void sr__heap_init(sr_runtime *rt)
{
    sr__heap *hp = &rt->heap;
    memset(hp, 0, sizeof *hp);
    hp->limit = rt->cfg.max_heap_size;
    hp->trim_sparse = SR__TRIM_SPARSE;
    unsigned c = 0;
    for (unsigned i = 0; i < SR__NUM_CLASSES; i++) hp->cls[i].size = sr__class_sizes[i];
    for (unsigned q = 0; q <= SR__SMALL_MAX / 8; q++) {
        while (sr__class_sizes[c] < q * 8u) c++;
        hp->cls_of[q] = (uint8_t)c;
    }
}

void sr__heap_destroy(sr_runtime *rt)
{
    sr__heap *hp = &rt->heap;
    for (sr__page *p = hp->pages, *next; p; p = next) {
        next = p->next;
        rt->sys.free(p, rt->sys.ud);
    }
    for (sr__large *l = hp->large, *next; l; l = next) {
        next = l->next;
        rt->sys.free(l, rt->sys.ud);
    }
    hp->pages = NULL;
    hp->large = NULL;
    hp->reserved = 0;
}

static size_t sr__charge_for(const sr__heap *hp, size_t total)
{
    if (total <= SR__SMALL_MAX) return hp->cls[hp->cls_of[(total + 7) >> 3]].size;
    return SR__LARGE_EXTRA + sr__round16(total);
}

size_t sr__heap_charge_of(const sr_runtime *rt, const sr__hdr *h)
{
    if (h->cls != SR__CLS_LARGE) return rt->heap.cls[h->cls].size;
    const sr__large *l = (const sr__large *)(const void *)((const char *)h - SR__LARGE_EXTRA);
    return l->charge;
}

size_t sr__heap_usable(const sr_runtime *rt, const sr__hdr *h)
{
    return sr__heap_charge_of(rt, h) - SR__HDR_SIZE - (h->cls == SR__CLS_LARGE ? SR__LARGE_EXTRA : 0);
}

static void sr__account_alloc(sr__heap *hp, size_t charge, uint32_t info)
{
    hp->used += charge;
    if (hp->used > hp->peak) hp->peak = hp->used;
    hp->allocations++;
    if ((info & SR__KIND_MASK) == SR__KIND_OBJ) hp->live_objects++;
    else hp->live_blocks++;
}

/* One attempt, no collection. */
static sr__hdr *sr__heap_try(sr_runtime *rt, size_t total, uint32_t info)
{
    sr__heap *hp = &rt->heap;
    size_t charge = sr__charge_for(hp, total);
    if (hp->limit && charge > hp->limit - hp->used) return NULL;
    sr__hdr *h;
    if (total <= SR__SMALL_MAX) {
        unsigned c = hp->cls_of[(total + 7) >> 3];
        sr__size_class *sc = &hp->cls[c];
        sr__free_block *b = sc->free;
        if (b) {
            sc->free = b->next;
        } else {
            if (sc->bump == NULL || (size_t)(sc->end - sc->bump) < sc->size) {
                sr__page *pg = sr__heap_sys_malloc(rt, SR__PAGE_SIZE);
                if (!pg) return NULL;
                pg->next = hp->pages;
                pg->cls = (uint16_t)c;
                pg->carved = 0;
                pg->nfree = 0;
                hp->pages = pg;
                hp->reserved += SR__PAGE_SIZE;
                sc->newest = pg;
                sc->bump = (char *)pg + sizeof(sr__page);
                sc->end = (char *)pg + SR__PAGE_SIZE;
            }
            b = (sr__free_block *)(void *)sc->bump;
            sc->bump += sc->size;
            sc->newest->carved = (uint16_t)(sc->newest->carved + 1u);
        }
        h = (sr__hdr *)(void *)b;
        h->cls = (uint16_t)c;
    } else {
        if (total > SIZE_MAX - 2 * SR__LARGE_EXTRA) return NULL;
        sr__large *l = sr__heap_sys_malloc(rt, charge);
        if (!l) return NULL;
        l->prev = NULL;
        l->next = hp->large;
        if (hp->large) hp->large->prev = l;
        hp->large = l;
        l->charge = charge;
        l->pad = 0;
        hp->reserved += charge;
        h = (sr__hdr *)(void *)((char *)l + SR__LARGE_EXTRA);
        h->cls = SR__CLS_LARGE;
    }
    h->rc = 0;
    h->info = info;
    h->aux = 0;
    h->flags = 0;
    sr__account_alloc(hp, charge, info);
    return h;
}

sr__hdr *sr__heap_alloc_slow(sr_runtime *rt, size_t total, uint32_t info)
{
    sr__hdr *h = sr__heap_try(rt, total, info);
    if (SR__UNLIKELY(!h)) {
        /* At the limit or out of system memory: one emergency collection, one retry. */
        if (sr__gc_emergency(rt) > 0) h = sr__heap_try(rt, total, info);
        if (!h) {
            rt->heap.failed++;
            return NULL;
        }
    }
    if (SR__UNLIKELY(rt->prof != NULL)) sr__profiler_on_alloc(rt, h, sr__heap_charge_of(rt, h));
    return h;
}

SR__NOINLINE sr__hdr *sr__heap_profile_alloc(sr_runtime *rt, sr__hdr *h)
{
    return sr__profiler_on_alloc(rt, h, rt->heap.cls[h->cls].size);
}

SR__NOINLINE sr__hdr *sr__heap_profile_free(sr_runtime *rt, sr__hdr *h)
{
    return sr__profiler_on_free(rt, h, rt->heap.cls[h->cls].size);
}

void sr__heap_free(sr_runtime *rt, sr__hdr *h)
{
    sr__heap *hp = &rt->heap;
    size_t charge = sr__heap_charge_of(rt, h);
    if (SR__UNLIKELY(rt->prof != NULL)) sr__profiler_on_free(rt, h, charge);
    if ((h->info & SR__KIND_MASK) == SR__KIND_OBJ) hp->live_objects--;
    else hp->live_blocks--;
    hp->used -= charge;
    hp->frees++;
    if (h->cls != SR__CLS_LARGE) {
        sr__size_class *sc = &hp->cls[h->cls];
        if (SR__POISON_FREED && sc->size > sizeof(sr__free_block))
            memset((char *)h + sizeof(sr__free_block), 0xdd, sc->size - sizeof(sr__free_block));
        sr__free_block *b = (sr__free_block *)(void *)h;
        b->rc = 0;
        b->info = SR__KIND_FREE;
        b->next = sc->free;
        sc->free = b;
    } else {
        sr__large *l = (sr__large *)(void *)((char *)h - SR__LARGE_EXTRA);
        if (l->prev) l->prev->next = l->next;
        else hp->large = l->next;
        if (l->next) l->next->prev = l->prev;
        hp->reserved -= charge;
        rt->sys.free(l, rt->sys.ud);
    }
}

sr__hdr *sr__heap_realloc(sr_runtime *rt, sr__hdr *h, size_t total)
{
    sr__heap *hp = &rt->heap;
    size_t old_charge = sr__heap_charge_of(rt, h);
    if (h->cls != SR__CLS_LARGE) {
        /* Small blocks shrink in place and grow in place within their class. */
        if (total <= old_charge) return h;
    } else {
        /* Large blocks stay large: a new large block of the new size, the bytes
           copied, the old one freed. Nothing changes until the new block is in
           hand, so a refusal leaves block, counters and profiler as they were. */
        if (total > SIZE_MAX - 2 * SR__LARGE_EXTRA) { hp->failed++; return NULL; }
        size_t new_charge = SR__LARGE_EXTRA + sr__round16(total);
        if (new_charge == old_charge) return h;
        if (new_charge > old_charge && hp->limit && new_charge - old_charge > hp->limit - hp->used) {
            sr__gc_emergency(rt);   /* may run finalizers: the counters are true here */
            if (new_charge - old_charge > hp->limit - hp->used) { hp->failed++; return NULL; }
        }
        sr__large *l = (sr__large *)(void *)((char *)h - SR__LARGE_EXTRA);
        sr__large *n = sr__heap_sys_malloc(rt, new_charge);
        if (!n) { hp->failed++; return NULL; }
        size_t keep = (old_charge < new_charge ? old_charge : new_charge) - SR__LARGE_EXTRA;
        memcpy((char *)n + SR__LARGE_EXTRA, h, keep);
        if (SR__UNLIKELY(rt->prof != NULL)) sr__profiler_on_free(rt, h, old_charge);
        n->prev = l->prev;
        n->next = l->next;
        if (n->prev) n->prev->next = n;
        else hp->large = n;
        if (n->next) n->next->prev = n;
        n->charge = new_charge;
        n->pad = 0;
        rt->sys.free(l, rt->sys.ud);
        hp->reserved = hp->reserved - old_charge + new_charge;
        hp->used = hp->used - old_charge + new_charge;
        if (hp->used > hp->peak) hp->peak = hp->used;
        sr__hdr *nh = (sr__hdr *)(void *)((char *)n + SR__LARGE_EXTRA);
        if (SR__UNLIKELY(rt->prof != NULL)) sr__profiler_on_alloc(rt, nh, new_charge);
        return nh;
    }
    /* Moving a small block: the new block is checked against the limit as if the old one were
       already gone (it is, a moment later), so a block can grow into the room it
       frees, and heap_used and the peak never see both at once. The emergency
       collection runs with the true heap_used: finalizers that allocate during
       it are checked against everything in use, the old block included. */
    hp->used -= old_charge;
    sr__hdr *n = sr__heap_try(rt, total, h->info);
    hp->used += old_charge;
    if (!n) {
        if (sr__gc_emergency(rt) > 0) {
            hp->used -= old_charge;
            n = sr__heap_try(rt, total, h->info);
            hp->used += old_charge;
        }
        if (!n) {
            hp->failed++;
            return NULL;
        }
    }
    size_t keep = sr__heap_usable(rt, h);
    if (keep > total - SR__HDR_SIZE) keep = total - SR__HDR_SIZE;
    memcpy(sr__payload_of(n), sr__payload_of(h), keep);
    n->aux = h->aux;
    n->flags = (uint16_t)(h->flags & SR__FLAGS_USER_MASK);
    if (SR__UNLIKELY(rt->prof != NULL)) sr__profiler_on_alloc(rt, n, sr__heap_charge_of(rt, n));
    sr__heap_free(rt, h);
    return n;
}

void sr__heap_each_live(sr_runtime *rt, void (*fn)(sr__hdr *h, void *ctx), void *ctx)
{
    sr__heap *hp = &rt->heap;
    for (sr__page *p = hp->pages; p; p = p->next) {
        size_t size = hp->cls[p->cls].size;
        char *b = (char *)p + sizeof(sr__page);
        for (uint32_t i = 0; i < p->carved; i++, b += size) {
            sr__hdr *h = (sr__hdr *)(void *)b;
            if (sr__kind(h) != SR__KIND_FREE) fn(h, ctx);
        }
    }
    for (sr__large *l = hp->large, *next; l; l = next) {
        next = l->next;
        fn((sr__hdr *)(void *)((char *)l + SR__LARGE_EXTRA), ctx);
    }
}

/* ---- trimming ----------------------------------------------------------------------- *
 * A page can go back when every block carved from it is free. Nothing on the
 * allocation or free paths keeps per-page counts (that would cost the fast
 * paths a page lookup), so sr_heap_trim counts when it runs, in one of two
 * ways chosen by how many small blocks are free (F) against how many were
 * carved (C); both are known in O(pages + large blocks) from the counters:
 *
 * sparse (F < C / SR__TRIM_SPARSE): few free blocks in a big live heap. Walk
 *   the free lists, finding each block's page in a scratch table, and count;
 *   tag the blocks of the pages that go (all free, so at most F) DOOMED and
 *   filter them out of their lists. O(pages + F) and 16-32 bytes of scratch
 *   per page; if the underlying allocator refuses the scratch, dense instead.
 * dense (otherwise): read every carved header, page by page, and count; then
 *   rebuild the free list of each class that lost a page from the headers of
 *   its remaining pages. O(pages + C), no memory, and sequential: reading a
 *   header in address order costs ~2 ns, following a free list in a shuffled
 *   order ~100-300 ns a block (a cache miss; bench_heap), hence the ratio.
 *   The rebuilt lists hand out the free blocks of one page after another,
 *   which keeps later allocations together and lets more pages empty out.
 *
 * Pages come from the underlying allocator, so they are not aligned; but two
 * pages never overlap, so at most one page starts in any 64 KiB-aligned window
 * of addresses, and the page of a block at address a starts in window a >> 16
 * or in the window before. The scratch table maps a window to the page that
 * starts in it (open addressing, at least twice as many slots as pages). */

#define SR__TRIM_DOOMED (1u << 2)   /* info bit of a FREE block in a page being released */

static size_t sr__trim_slot(uintptr_t window, size_t mask)
{
    return (size_t)(((uint64_t)window * UINT64_C(0x9E3779B97F4A7C15)) >> 29) & mask;
}

static sr__page *sr__trim_find(sr__page **map, size_t mask, uintptr_t window)
{
    for (size_t i = sr__trim_slot(window, mask);; i = (i + 1) & mask) {
        sr__page *p = map[i];
        if (!p || ((uintptr_t)p >> 16) == window) return p;
    }
}

static sr__page *sr__trim_page_of(sr__page **map, size_t mask, const void *block)
{
    uintptr_t a = (uintptr_t)block;
    sr__page *p = sr__trim_find(map, mask, a >> 16);
    if (p && (uintptr_t)p <= a) return p;
    return sr__trim_find(map, mask, (a >> 16) - 1);
}

/* Sparse counting; false when the scratch table could not be had (nothing changed). */
static bool sr__trim_count_sparse(sr_runtime *rt, size_t npages)
{
    sr__heap *hp = &rt->heap;
    size_t cap = 16;
    while (cap < 2 * npages) cap *= 2;
    sr__page **map = sr__sys_calloc(rt, cap, sizeof *map);
    if (!map) return false;
    size_t mask = cap - 1;
    for (sr__page *p = hp->pages; p; p = p->next) {
        size_t i = sr__trim_slot((uintptr_t)p >> 16, mask);
        while (map[i]) i = (i + 1) & mask;
        map[i] = p;
    }
    for (unsigned c = 0; c < SR__NUM_CLASSES; c++)
        for (sr__free_block *b = hp->cls[c].free; b; b = b->next) sr__trim_page_of(map, mask, b)->nfree++;
    sr__sys_free(rt, map, cap * sizeof *map);
    return true;
}

/* Dense counting: read every carved header. */
static void sr__trim_count_dense(sr__heap *hp)
{
    for (sr__page *p = hp->pages; p; p = p->next) {
        size_t size = hp->cls[p->cls].size;
        char *b = (char *)p + sizeof(sr__page);
        uint32_t n = 0;
        for (uint32_t i = 0; i < p->carved; i++, b += size)
            n += sr__kind((sr__hdr *)(void *)b) == SR__KIND_FREE;
        p->nfree = n;
    }
}

/* may_scratch false: never the sparse count (the out-of-memory path: it takes no memory). */
static size_t sr__heap_trim(sr_runtime *rt, bool may_scratch)
{
    /* Inside a collection, a release cascade or teardown a walk over the pages
       may be under way (a finalizer called us): leave the pages alone. */
    if (rt->gc.running || rt->types.draining || rt->tearing_down) return 0;
    sr__heap *hp = &rt->heap;
    size_t npages = 0, carved = 0, live_small = hp->live_objects + hp->live_blocks;
    for (sr__page *p = hp->pages; p; p = p->next) {
        p->nfree = 0;
        npages++;
        carved += p->carved;
    }
    if (npages == 0) return 0;
    for (sr__large *l = hp->large; l; l = l->next) live_small--;
    if (live_small >= carved) return 0;   /* no free small block */
    size_t nfree = carved - live_small;
    bool sparse = may_scratch && nfree < carved / hp->trim_sparse && sr__trim_count_sparse(rt, npages);
    if (!sparse) sr__trim_count_dense(hp);

    sr__page *doomed = NULL;
    uint32_t classes = 0;   /* classes that lose a page */
    for (sr__page **pp = &hp->pages; *pp;) {
        sr__page *p = *pp;
        if (p->nfree != p->carved) { pp = &p->next; continue; }
        *pp = p->next;
        sr__size_class *sc = &hp->cls[p->cls];
        if (sc->newest == p) {   /* the next block of this class starts a new page */
            sc->newest = NULL;
            sc->bump = sc->end = NULL;
        }
        if (sparse) {
            char *b = (char *)p + sizeof(sr__page);
            for (uint32_t i = 0; i < p->carved; i++, b += sc->size) ((sr__hdr *)(void *)b)->info |= SR__TRIM_DOOMED;
        }
        classes |= 1u << p->cls;
        p->next = doomed;
        doomed = p;
    }
    if (sparse) {
        for (unsigned c = 0; c < SR__NUM_CLASSES; c++) {
            if (!(classes & (1u << c))) continue;
            sr__free_block **bp = &hp->cls[c].free;
            while (*bp) {
                if ((*bp)->info & SR__TRIM_DOOMED) *bp = (*bp)->next;
                else bp = &(*bp)->next;
            }
        }
    } else if (classes) {
        /* Rebuild: the lists end up holding each page's free blocks in a row,
           pages in list order, blocks in address order. */
        sr__free_block **tail[SR__NUM_CLASSES];
        for (unsigned c = 0; c < SR__NUM_CLASSES; c++) tail[c] = &hp->cls[c].free;
        for (sr__page *p = hp->pages; p; p = p->next) {
            if (!(classes & (1u << p->cls)) || p->nfree == 0) continue;
            size_t size = hp->cls[p->cls].size;
            sr__free_block **t = tail[p->cls];
            char *b = (char *)p + sizeof(sr__page);
            for (uint32_t i = 0; i < p->carved; i++, b += size) {
                sr__free_block *f = (sr__free_block *)(void *)b;
                if ((f->info & SR__KIND_MASK) != SR__KIND_FREE) continue;
                *t = f;
                t = &f->next;
            }
            tail[p->cls] = t;
        }
        for (unsigned c = 0; c < SR__NUM_CLASSES; c++)
            if (classes & (1u << c)) *tail[c] = NULL;
    }
    size_t released = 0;
    for (sr__page *p = doomed, *next; p; p = next) {
        next = p->next;
        rt->sys.free(p, rt->sys.ud);
        released += SR__PAGE_SIZE;
    }
    hp->reserved -= released;
    hp->trimmed += released;
    return released;
}

size_t sr_heap_trim(sr_runtime *rt)
{
    return rt ? sr__heap_trim(rt, true) : 0;
}

/* ---- public raw-block API ---------------------------------------------------------- */

static inline size_t sr__raw_total(size_t size) { return SR__HDR_SIZE + sr__round16(size); }

size_t sr_alloc_charge(size_t size)
{
    if (size > SIZE_MAX - 4 * SR__LARGE_EXTRA) return 0;
    size_t total = sr__raw_total(size);
    if (total <= SR__SMALL_MAX) {
        for (unsigned i = 0; i < SR__NUM_CLASSES; i++)
            if (sr__class_sizes[i] >= total) return sr__class_sizes[i];
    }
    return SR__LARGE_EXTRA + total;
}

/* sr_alloc's general path: the collector's allocation tick, then the heap's
   fast and general paths (the fast path below did not apply or failed). */
static SR__NOINLINE void *sr__alloc_slow(sr_runtime *rt, size_t size)
{
    sr__gc_alloc_tick(rt);
    if (size > SIZE_MAX - 4 * SR__LARGE_EXTRA) { rt->heap.failed++; return NULL; }
    sr__hdr *h = sr__heap_alloc_inline(rt, sr__raw_total(size), SR__KIND_RAW);
    return h ? sr__payload_of(h) : NULL;
}

/* The fast path makes no call but the profiler's record, so it needs no stack
   frame: a small block from a free list, no collection due (the collector's
   tick is taken only once the block is in hand; everything else, the tick
   that starts a collection included, is sr__alloc_slow's). */
void *sr_alloc(sr_runtime *rt, size_t size)
{
    if (SR__UNLIKELY(!rt)) return NULL;
    if (SR__LIKELY(size <= SR__SMALL_MAX - SR__HDR_SIZE && rt->gc.allocs_since < rt->gc.trigger)) {
        sr__hdr *h = sr__heap_alloc_fast(&rt->heap, sr__raw_total(size), SR__KIND_RAW);
        if (SR__LIKELY(h != NULL)) {
            rt->gc.allocs_since++;
            if (SR__UNLIKELY(rt->prof != NULL)) h = sr__profiler_on_alloc(rt, h, rt->heap.cls[h->cls].size);
            return sr__payload_of(h);
        }
    }
    return sr__alloc_slow(rt, size);
}

void *sr_calloc(sr_runtime *rt, size_t n, size_t size)
{
    if (!rt) return NULL;
    if (size && n > SIZE_MAX / size) { rt->heap.failed++; return NULL; }
    void *p = sr_alloc(rt, n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

static sr__hdr *sr__raw_hdr_checked(sr_runtime *rt, const void *ptr, const char *what)
{
    sr__hdr *h = sr__hdr_of(ptr);
    if (SR__UNLIKELY(sr__kind(h) != SR__KIND_RAW || (h->flags & SR__FLAGS_WEAK_HANDLE)))
        sr_panic_at(rt, __FILE__, __LINE__, what, "%s(%p): not a live block of this runtime%s", what, ptr,
                    sr__kind(h) == SR__KIND_FREE ? " (freed already)" : "");
    return h;
}

void *sr_realloc(sr_runtime *rt, void *ptr, size_t size)
{
    if (!rt) return NULL;
    if (!ptr) return sr_alloc(rt, size);
    sr__hdr *h = sr__raw_hdr_checked(rt, ptr, "sr_realloc");
    if (size == 0) {
        sr__heap_free(rt, h);
        return NULL;
    }
    if (size > SIZE_MAX - 4 * SR__LARGE_EXTRA) { rt->heap.failed++; return NULL; }
    sr__gc_alloc_tick(rt);
    sr__hdr *n = sr__heap_realloc(rt, h, sr__raw_total(size));
    return n ? sr__payload_of(n) : NULL;
}

void sr_free(sr_runtime *rt, void *ptr)
{
    if (!rt || !ptr) return;
    sr__heap_free_with(rt, sr__raw_hdr_checked(rt, ptr, "sr_free"), true);
}

size_t sr_alloc_usable_size(sr_runtime *rt, const void *ptr)
{
    if (!rt || !ptr) return 0;
    return sr__heap_usable(rt, sr__raw_hdr_checked(rt, ptr, "sr_alloc_usable_size"));
}
