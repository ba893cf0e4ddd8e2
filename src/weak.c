/*
 * weak.c - weak references.
 *
 * Data structures
 * ---------------
 * A handle (struct sr_weak) is a raw heap block (so weak handles count against
 * the heap limit like anything else a script can make in bulk) holding the
 * runtime, the target's header and links to the other handles of the same
 * target. The weak table (sys memory, open addressing with linear probing and
 * backward-shift deletion) maps a target header to the first of its handles.
 * A target with handles has SR__OBJF_HAS_WEAK in its header flags, so an
 * object without weak references dies without a table lookup.
 *
 * Invariants
 * ----------
 * W1  h has HAS_WEAK  <=>  the table has an entry for h  <=>  h has >= 1 handle
 *     whose obj == h.
 * W2  Weak references are cleared (obj = NULL, entry removed) when the target
 *     dies, before its finalize runs: in the release cascade and, for a cycle,
 *     before any member of the garbage set is finalized.
 * W3  A handle whose target died stays valid until sr_weak_free.
 */
#include "internal.h"

#include <string.h>

struct sr_weak {
    sr_runtime *rt;
    sr__hdr *obj;               /* NULL once the target died */
    struct sr_weak *prev, *next;/* the target's handles */
};

#define SR__WEAK_MARK SR__FLAGS_WEAK_HANDLE   /* header flag of a handle block */

static inline size_t sr__weak_hash(const sr__hdr *h, size_t mask)
{
    uint64_t x = (uint64_t)(uintptr_t)h;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x & mask;
}

static sr__weak_slot *sr__weak_find(sr__types *ty, const sr__hdr *h)
{
    if (!ty->weak_cap) return NULL;
    size_t mask = ty->weak_cap - 1;
    for (size_t i = sr__weak_hash(h, mask);; i = (i + 1) & mask) {
        if (ty->weak[i].obj == h) return &ty->weak[i];
        if (ty->weak[i].obj == NULL) return NULL;
    }
}

static sr__weak_slot *sr__weak_insert_slot(sr__types *ty, const sr__hdr *h)
{
    size_t mask = ty->weak_cap - 1;
    for (size_t i = sr__weak_hash(h, mask);; i = (i + 1) & mask)
        if (ty->weak[i].obj == NULL || ty->weak[i].obj == h) return &ty->weak[i];
}

static bool sr__weak_reserve(sr_runtime *rt)
{
    sr__types *ty = &rt->types;
    if ((ty->weak_count + 1) * 2 <= ty->weak_cap) return true;
    size_t ncap = ty->weak_cap ? ty->weak_cap * 2 : 16;
    sr__weak_slot *n = sr__sys_calloc(rt, ncap, sizeof *n);
    if (!n) return false;
    sr__weak_slot *old = ty->weak;
    size_t ocap = ty->weak_cap;
    ty->weak = n;
    ty->weak_cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].obj) *sr__weak_insert_slot(ty, old[i].obj) = old[i];
    sr__sys_free(rt, old, ocap * sizeof *old);
    return true;
}

static void sr__weak_remove(sr__types *ty, sr__weak_slot *s)
{
    size_t mask = ty->weak_cap - 1;
    size_t i = (size_t)(s - ty->weak);
    ty->weak[i].obj = NULL;
    ty->weak[i].head = NULL;
    ty->weak_count--;
    /* backward shift: move later entries of the probe run into the hole */
    for (size_t j = (i + 1) & mask; ty->weak[j].obj; j = (j + 1) & mask) {
        size_t home = sr__weak_hash(ty->weak[j].obj, mask);
        bool movable = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            ty->weak[i] = ty->weak[j];
            ty->weak[j].obj = NULL;
            ty->weak[j].head = NULL;
            i = j;
        }
    }
}

sr_weak *sr_weak_new(sr_runtime *rt, void *obj)
{
    if (!rt || !obj) return NULL;
    sr__hdr *h = sr__hdr_of(obj);
    if (sr__kind(h) != SR__KIND_OBJ || (h->info & SR__OBJ_DEAD) || h->rc == 0) return NULL;
    if (rt->types.teardown) return NULL;    /* every weak reference is cleared already */
    sr__gc_alloc_tick(rt);    /* may collect: obj is held by the caller, so it survives */
    if (!sr__weak_reserve(rt)) { rt->heap.failed++; return NULL; }
    sr__hdr *wb = sr__heap_alloc_inline(rt, SR__HDR_SIZE + sizeof(sr_weak), SR__KIND_RAW);
    if (!wb) return NULL;
    wb->flags |= SR__WEAK_MARK;
    sr_weak *w = sr__payload_of(wb);
    sr__types *ty = &rt->types;
    sr__weak_slot *s = sr__weak_insert_slot(ty, h);
    if (s->obj == NULL) {
        s->obj = h;
        s->head = NULL;
        ty->weak_count++;
        h->flags |= SR__OBJF_HAS_WEAK;
    }
    w->rt = rt;
    w->obj = h;
    w->prev = NULL;
    w->next = s->head;
    if (s->head) s->head->prev = w;
    s->head = w;
    return w;
}

void *sr_weak_upgrade(sr_weak *w)
{
    if (!w || !w->obj) return NULL;
    /* an object waiting on the release work list is dead already (its weak
       references are cleared when it is queued; this is the second guard) */
    if ((w->obj->info & SR__OBJ_DEAD) || w->obj->rc == 0) return NULL;
    return sr_rc_retain(sr__payload_of(w->obj));
}

void sr_weak_free(sr_runtime *rt, sr_weak *w)
{
    if (!rt || !w) return;
    sr__hdr *wb = sr__hdr_of(w);
    if (sr__kind(wb) != SR__KIND_RAW || !(wb->flags & SR__WEAK_MARK))
        sr_panic(rt, "sr_weak_free(%p): not a live weak reference", (void *)w);
    if (w->obj) {
        sr__types *ty = &rt->types;
        if (w->prev) w->prev->next = w->next;
        if (w->next) w->next->prev = w->prev;
        sr__weak_slot *s = sr__weak_find(ty, w->obj);
        if (s && s->head == w) s->head = w->next;
        if (s && !s->head) {
            w->obj->flags &= (uint16_t)~SR__OBJF_HAS_WEAK;
            sr__weak_remove(ty, s);
        }
    }
    wb->flags = 0;
    sr__heap_free(rt, wb);
}

void sr__weak_clear(sr_runtime *rt, sr__hdr *h)
{
    sr__types *ty = &rt->types;
    sr__weak_slot *s = sr__weak_find(ty, h);
    h->flags &= (uint16_t)~SR__OBJF_HAS_WEAK;
    if (!s) return;
    for (sr_weak *w = s->head, *next; w; w = next) {
        next = w->next;
        w->obj = NULL;
        w->prev = w->next = NULL;
    }
    sr__weak_remove(ty, s);
}

void sr__weak_fini(sr_runtime *rt)
{
    sr__types *ty = &rt->types;
    if (ty->weak) sr__sys_free(rt, ty->weak, ty->weak_cap * sizeof *ty->weak);
    ty->weak = NULL;
    ty->weak_cap = ty->weak_count = 0;
}
