/*
 * object.c - reference-counted objects: creation, retain/release, the
 * iterative release cascade, finalization and the teardown of live objects.
 *
 * Header layout: object_internal.h. Objects are payload pointers; the 16-byte
 * heap header sits right before the payload.
 *
 * The release work list
 * ---------------------
 * An object whose count reaches zero is marked DEAD, leaves the root buffer
 * (O(1) through its slot in aux) and is pushed on `rt->types.pending`, an
 * intrusive LIFO whose link is kept in the dead object's rc and aux words (a
 * dead object needs neither). The drain loop pops one object at a time and
 * releases each of its children, setting the slot to NULL (a child reaching
 * zero is pushed, never recursed into). An object without finalize is then
 * freed; one with finalize is first pushed back under its children, marked
 * RELEASED, so it comes off again once every child that died with it is
 * finalized and freed: finalize runs after the children are released, as the
 * API says, and sees NULL where they were. So a list of any length is
 * released with a constant amount of C stack (the list lives in the dying
 * objects). A dying acyclic object without finalize or weak references (no
 * children, nothing to run) is freed at once, without the list.
 *
 * Invariants
 * ----------
 * O1  An object is in exactly one state: live (rc > 0, not DEAD), pending
 *     (DEAD, on the work list; RELEASED once its children are), being
 *     destroyed (DEAD, popped, inside the drain loop), or freed (heap kind
 *     FREE). Only live objects are buffered.
 * O2  At most one drain loop is active: a release reaching zero inside a
 *     finalize only pushes; the active loop frees it before the outermost
 *     sr_rc_release returns. Collections do not start while a drain runs.
 * O3  No panic leaves a drain loop half done. Under protection each finalize
 *     runs inside its own sr_execute_protected: a panic is recorded, the
 *     object is still freed (finalize is never retried), the cascade finishes,
 *     and the panic is re-raised to the caller's protection once every
 *     structure is consistent. Without protection a panic aborts the process
 *     (nothing to keep consistent).
 * O4  At teardown (sr__objects_teardown) releases never free: every object
 *     alive when it starts is finalized at most once and touched by nothing
 *     after that; the heap then returns every page.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* ---- the release work list ------------------------------------------------------------ */

static inline void sr__pend_push(sr__types *ty, sr__hdr *h)
{
    uint64_t n = (uint64_t)(uintptr_t)ty->pending;
    h->rc = (uint32_t)n;
    h->aux = (uint32_t)(n >> 32);
    ty->pending = h;
}

static inline sr__hdr *sr__pend_pop(sr__types *ty)
{
    sr__hdr *h = ty->pending;
    if (h) {
        uint64_t n = (uint64_t)h->rc | ((uint64_t)h->aux << 32);
        ty->pending = (sr__hdr *)(uintptr_t)n;
        h->rc = 0;
        h->aux = 0;
    }
    return h;
}

/* ---- panics inside the object layer ------------------------------------------------------ */

typedef struct sr__fin_call { void (*fn)(sr_runtime *, void *); void *obj; } sr__fin_call;

static void sr__fin_trampoline(sr_runtime *rt, void *arg)
{
    sr__fin_call *c = arg;
    c->fn(rt, c->obj);
}

void sr__obj_finalize(sr_runtime *rt, sr__hdr *h)
{
    if (h->info & SR__OBJ_FINALIZED) return;
    h->info |= SR__OBJ_FINALIZED;
    sr__type_entry *e = SR__TYPE_ENTRY(rt, SR__OBJ_TYPE(h));
    if (!e->t.finalize) return;
    if (!rt->panic.top && !rt->types.panic_no_rethrow) {
        e->t.finalize(rt, sr__payload_of(h));   /* a panic here aborts: nothing to keep */
        return;
    }
    sr__fin_call c = { e->t.finalize, sr__payload_of(h) };
    if (sr_execute_protected(rt, sr__fin_trampoline, &c) != SR_OK) {
        rt->types.finalizer_panics++;
        if (!rt->types.panic_no_rethrow) {
            rt->types.panic_pending = true;
            rt->types.pending_panic = rt->panic.last_seq;   /* the finalizer's, not one it caught */
        }
    }
}

/* Continues unwinding to the caller's protection after a finalizer panic was
   caught and every structure was put back in order. The panic is already
   recorded (message, location, history, hook): only the jump remains. */
void sr__obj_rethrow_pending(sr_runtime *rt)
{
    if (SR__LIKELY(!rt->types.panic_pending)) return;
    rt->types.panic_pending = false;
    sr__panic_deliver(rt, rt->types.pending_panic);   /* returns only outside protection */
    const sr_panic_info *last = sr_panic_last(rt);
    sr__panic_kind(rt, last ? last->kind : SR_PANIC_ERROR, "%s", last ? last->message : "finalizer panicked");
}

typedef struct sr__misuse { const char *msg; } sr__misuse;

static void sr__misuse_raise(sr_runtime *rt, void *arg)
{
    sr_panic(rt, "%s", ((sr__misuse *)arg)->msg);
}

/* A misuse found in the middle of a cascade or a collection: recorded now,
   raised once the structures are consistent (see O3). */
static SR__NOINLINE void sr__obj_misuse_deferred(sr_runtime *rt, const char *msg)
{
    if (!rt->panic.top && !rt->types.panic_no_rethrow) sr_panic(rt, "%s", msg);
    sr__misuse m = { msg };
    sr_execute_protected(rt, sr__misuse_raise, &m);
    if (!rt->types.panic_no_rethrow) {
        rt->types.panic_pending = true;
        rt->types.pending_panic = rt->panic.last_seq;
    }
}

/* ---- creation ---------------------------------------------------------------------------- */

static inline void *sr__rc_make(sr_runtime *rt, sr__type_entry *e, size_t size)
{
    sr__gc_alloc_tick(rt);
    uint32_t info = SR__KIND_OBJ | ((uint32_t)e->id << SR__OBJ_TYPE_SHIFT)
                  | (e->acyclic || !rt->cfg.enable_gc ? SR__OBJ_ACYCLIC : 0u);
    /* the heap's inline fast path (a free-list pop); everything else out of line */
    sr__hdr *h = sr__heap_alloc_inline(rt, SR__HDR_SIZE + size, info);
    if (SR__UNLIKELY(!h)) return NULL;
    h->rc = 1;
    char *p = sr__payload_of(h);
    if (size <= 32) {
        /* the block holds round_up(size, 8) bytes: clear them by words */
        static const uint64_t zero = 0;
        for (size_t i = 0; i < size; i += 8) memcpy(p + i, &zero, 8);
    } else {
        memset(p, 0, size);
    }
    return p;
}

void *sr_rc_new(sr_runtime *rt, sr_type_id type)
{
    if (SR__UNLIKELY(!rt || type == SR_TYPE_NONE || type > rt->types.count)) return NULL;
    sr__type_entry *e = rt->types.entries[type];
    return sr__rc_make(rt, e, e->t.size);
}

void *sr_rc_new_sized(sr_runtime *rt, sr_type_id type, size_t size)
{
    if (!rt || type == SR_TYPE_NONE || type > rt->types.count) return NULL;
    sr__type_entry *e = rt->types.entries[type];
    if (size < e->t.size) return NULL;
    if (size > ((size_t)1 << 40)) { rt->heap.failed++; return NULL; }   /* refused like any too-large request */
    return sr__rc_make(rt, e, size);
}

void *sr_rc_new_sized_or_panic(sr_runtime *rt, sr_type_id type, size_t size)
{
    if (!rt) sr__panic_kind(rt, SR_PANIC_ERROR, "sr_rc_new_or_panic: NULL runtime");
    if (type == SR_TYPE_NONE || type > rt->types.count)
        sr__panic_kind(rt, SR_PANIC_ERROR, "sr_rc_new_or_panic: unknown type id %u", (unsigned)type);
    const sr_type *t = &rt->types.entries[type]->t;
    if (size < t->size)
        sr__panic_kind(rt, SR_PANIC_ERROR, "sr_rc_new_sized_or_panic: %zu bytes is below the size of %s (%zu)",
                       size, t->name, t->size);
    void *p = sr_rc_new_sized(rt, type, size);
    if (!p)
        sr__panic_kind(rt, SR_PANIC_NOMEM, "out of memory: cannot allocate a %s (%zu-byte payload; heap %zu of %zu bytes used)",
                       t->name, size, rt->heap.used, rt->heap.limit);
    return p;
}

void *sr_rc_new_or_panic(sr_runtime *rt, sr_type_id type)
{
    if (!rt) sr__panic_kind(rt, SR_PANIC_ERROR, "sr_rc_new_or_panic: NULL runtime");
    if (type == SR_TYPE_NONE || type > rt->types.count)
        sr__panic_kind(rt, SR_PANIC_ERROR, "sr_rc_new_or_panic: unknown type id %u", (unsigned)type);
    return sr_rc_new_sized_or_panic(rt, type, rt->types.entries[type]->t.size);
}

/* ---- retain / release -------------------------------------------------------------------- */

static SR__NOINLINE void sr__rc_overflow(const void *obj)
{
    /* retain has no runtime to panic on: say why, then the panic core's
       no-runtime path reports the location and aborts */
    fprintf(stderr, "scriptrt panic: sr_rc_retain(%p): reference count overflow (UINT32_MAX)\n", obj);
    sr__panic_kind(NULL, SR_PANIC_ERROR, "sr_rc_retain(%p): reference count overflow (UINT32_MAX)", obj);
}

void *sr_rc_retain(void *obj)
{
    if (!obj) return NULL;
    sr__hdr *h = sr__hdr_of(obj);
    if (SR__UNLIKELY(h->rc == UINT32_MAX)) sr__rc_overflow(obj);
    h->rc++;
    return obj;
}

static SR__NOINLINE void sr__rc_bad_release(sr_runtime *rt, sr__hdr *h)
{
    void *obj = sr__payload_of(h);
    if (sr__kind(h) == SR__KIND_FREE)
        sr_panic(rt, "sr_rc_release(%p): object freed already (released once too often)", obj);
    if (sr__kind(h) != SR__KIND_OBJ)
        sr_panic(rt, "sr_rc_release(%p): not an object (a raw block or a foreign pointer)", obj);
    if (h->info & SR__OBJ_DEAD)
        sr_panic(rt, "sr_rc_release(%p): object is being destroyed (count reached zero already)", obj);
    sr_panic(rt, "sr_rc_release(%p): count is zero", obj);
}

/* rc is 1 (or 0: misuse) and the object is valid. */
static SR__NOINLINE void sr__rc_release_last(sr_runtime *rt, sr__hdr *h)
{
    if (SR__UNLIKELY(!rt)) {
        fprintf(stderr, "scriptrt panic: sr_rc_release(NULL, %p): the last reference needs its runtime\n",
                sr__payload_of(h));
        sr__panic_kind(NULL, SR_PANIC_ERROR, "sr_rc_release with a NULL runtime");
    }
    sr__types *ty = &rt->types;
    if (SR__UNLIKELY(h->rc == 0)) {
        if (h->flags & SR__OBJF_GARBAGE) return;   /* already trial-deleted by the collector */
        sr__rc_bad_release(rt, h);
    }
    h->rc = 0;
    if (SR__UNLIKELY(ty->teardown)) return;          /* O4 */
    if (SR__UNLIKELY(h->flags & (SR__OBJF_GARBAGE | SR__OBJF_HAS_WEAK)) || ty->draining) goto general;
    sr__type_entry *e = SR__TYPE_ENTRY(rt, SR__OBJ_TYPE(h));
    if (e->acyclic && !e->t.finalize) {
        /* a leaf with nothing to run: no work list needed (never buffered) */
        sr__obj_free(rt, h);
        return;
    }
general:
    if (SR__UNLIKELY(h->flags & SR__OBJF_GARBAGE)) return;  /* the collector frees it */
    if (h->info & SR__OBJ_BUFFERED) sr__gc_unbuffer(rt, h);
    if (h->flags & SR__OBJF_HAS_WEAK) sr__weak_clear(rt, h);   /* dead from now on: no upgrade */
    h->info |= SR__OBJ_DEAD;
    sr__pend_push(ty, h);
    if (ty->draining) return;                        /* O2: the active loop frees it */
    sr__obj_drain(rt);
    sr__obj_rethrow_pending(rt);
}

void sr_rc_release(sr_runtime *rt, void *obj)
{
    if (!obj) return;
    sr__hdr *h = sr__hdr_of(obj);
    uint32_t info = h->info;
    if (SR__UNLIKELY((info & (SR__KIND_MASK | SR__OBJ_DEAD)) != SR__KIND_OBJ)) sr__rc_bad_release(rt, h);
    if (SR__LIKELY(h->rc > 1)) {
        h->rc--;
        if (!(info & (SR__OBJ_ACYCLIC | SR__OBJ_BUFFERED))) sr__gc_buffer(rt, h);
        return;
    }
    sr__rc_release_last(rt, h);
}

size_t sr_rc_count(const void *obj)
{
    if (!obj) return 0;
    const sr__hdr *h = sr__hdr_of(obj);
    if (sr__kind(h) != SR__KIND_OBJ || (h->info & SR__OBJ_DEAD)) return 0;
    return h->rc;
}

sr_type_id sr_rc_type(const void *obj)
{
    if (!obj) return SR_TYPE_NONE;
    const sr__hdr *h = sr__hdr_of(obj);
    if (sr__kind(h) != SR__KIND_OBJ) return SR_TYPE_NONE;
    return SR__OBJ_TYPE(h);
}

/* ---- the cascade ------------------------------------------------------------------------- */

void sr__obj_each_child(sr_runtime *rt, sr__hdr *h, sr_visit_fn visit, void *ctx)
{
    sr__type_entry *e = SR__TYPE_ENTRY(rt, SR__OBJ_TYPE(h));
    char *p = sr__payload_of(h);
    for (uint32_t i = 0; i < e->nrefs; i++) visit((void **)(void *)(p + e->refs[i]), ctx);
    if (e->t.trace) e->t.trace(p, visit, ctx);
}

void sr__obj_release_child(sr_runtime *rt, sr__hdr *h)
{
    uint32_t info = h->info;
    if (SR__UNLIKELY((info & (SR__KIND_MASK | SR__OBJ_DEAD)) != SR__KIND_OBJ || h->rc == 0)) {
        if (sr__kind(h) == SR__KIND_OBJ && (h->flags & SR__OBJF_GARBAGE)) return;
        char msg[160];
        snprintf(msg, sizeof msg, "release cascade: child %p of a dying object is %s", sr__payload_of(h),
                 sr__kind(h) == SR__KIND_FREE ? "freed already" :
                 sr__kind(h) != SR__KIND_OBJ ? "not an object" : "dead already (over-released)");
        sr__obj_misuse_deferred(rt, msg);
        return;
    }
    if (h->rc > 1) {
        h->rc--;
        if (!(info & (SR__OBJ_ACYCLIC | SR__OBJ_BUFFERED))) sr__gc_buffer(rt, h);
        return;
    }
    h->rc = 0;
    if (rt->types.teardown || (h->flags & SR__OBJF_GARBAGE)) return;
    if (info & SR__OBJ_BUFFERED) sr__gc_unbuffer(rt, h);
    if (h->flags & SR__OBJF_HAS_WEAK) sr__weak_clear(rt, h);   /* dead from now on: no upgrade */
    h->info |= SR__OBJ_DEAD;
    sr__pend_push(&rt->types, h);
}

/* Releases a dying object's child and clears the slot that held it. */
static void sr__release_child_visit(void **slot, void *ctx)
{
    void *c = *slot;
    if (!c) return;
    *slot = NULL;
    sr__obj_release_child(ctx, sr__hdr_of(c));
}

void sr__obj_release_children(sr_runtime *rt, sr__hdr *h)
{
    sr__type_entry *e = SR__TYPE_ENTRY(rt, SR__OBJ_TYPE(h));
    char *p = sr__payload_of(h);
    for (uint32_t i = 0; i < e->nrefs; i++) sr__release_child_visit((void **)(void *)(p + e->refs[i]), rt);
    if (e->t.trace) e->t.trace(p, sr__release_child_visit, rt);
}

void sr__obj_free(sr_runtime *rt, sr__hdr *h)
{
    /* never free a buffered object without clearing its slot (every path
       unbuffers before; this keeps the buffer free of dangling pointers) */
    if (SR__UNLIKELY(h->info & SR__OBJ_BUFFERED)) sr__gc_unbuffer(rt, h);
    rt->types.objects_freed++;
    sr__heap_free_inline(rt, h);
}

void sr__obj_drain(sr_runtime *rt)
{
    sr__types *ty = &rt->types;
    if (ty->draining) return;
    ty->draining = true;
    sr__hdr *h;
    while ((h = sr__pend_pop(ty)) != NULL) {
        sr__type_entry *e = SR__TYPE_ENTRY(rt, SR__OBJ_TYPE(h));
        if (h->flags & SR__OBJF_HAS_WEAK) sr__weak_clear(rt, h);
        if (!(h->flags & SR__OBJF_RELEASED)) {
            if (e->t.finalize) {
                /* back on the list under its children: finalized once they are done */
                h->flags |= SR__OBJF_RELEASED;
                sr__pend_push(ty, h);
            }
            sr__obj_release_children(rt, h);
            if (e->t.finalize) continue;
        } else {
            h->flags &= (uint16_t)~SR__OBJF_RELEASED;
            sr__obj_finalize(rt, h);
            if (SR__UNLIKELY(h->rc != 0)) {
                /* its finalizer stored a new reference to it: it lives on,
                   finalized (finalize never runs twice), its children released */
                h->info &= ~SR__OBJ_DEAD;
                if (!(h->info & (SR__OBJ_ACYCLIC | SR__OBJ_BUFFERED))) sr__gc_buffer(rt, h);
                continue;
            }
        }
        sr__obj_free(rt, h);
    }
    ty->draining = false;
}

/* ---- teardown ---------------------------------------------------------------------------- */

typedef struct sr__snap { sr__hdr **v; size_t n, cap, skipped; } sr__snap;

static void sr__snap_collect(sr__hdr *h, void *ctx)
{
    sr__snap *s = ctx;
    if (sr__kind(h) != SR__KIND_OBJ || (h->info & SR__OBJ_FINALIZED)) return;
    if (s->n < s->cap) s->v[s->n++] = h;
    else s->skipped++;
}

static void sr__snap_count(sr__hdr *h, void *ctx)
{
    if (sr__kind(h) == SR__KIND_OBJ && !(h->info & SR__OBJ_FINALIZED)) ++*(size_t *)ctx;
}

static void sr__teardown_clear_weak(sr__hdr *h, void *ctx)
{
    if (sr__kind(h) == SR__KIND_OBJ && (h->flags & SR__OBJF_HAS_WEAK)) sr__weak_clear(ctx, h);
}

void sr__objects_teardown(sr_runtime *rt)
{
    sr__types *ty = &rt->types;
    sr__obj_drain(rt);                 /* nothing is pending normally; be sure */
    ty->teardown = true;
    /* weak references are cleared before any finalizer runs (sr_weak_new
       refuses from here on) */
    sr__heap_each_live(rt, sr__teardown_clear_weak, rt);
    ty->panic_no_rethrow = true;
    /* Finalizers may create objects: repeat until a pass finds none. Bounded:
       16 rounds, plus the chunks of the 64-entry fallback when the snapshot
       array cannot be had. */
    size_t budget = 16;
    for (size_t round = 0; round < budget; round++) {
        size_t want = 0;
        sr__heap_each_live(rt, sr__snap_count, &want);
        if (want == 0) break;
        if (round == 0) budget += want / 64 + 1;
        sr__hdr *local[64];
        sr__snap s = { local, 0, 64, 0 };
        sr__hdr **big = sr__sys_alloc(rt, want * sizeof *big);
        if (big) {
            s.v = big;
            s.cap = want;
        }
        /* snapshot first: finalizers may free raw blocks and make new ones */
        sr__heap_each_live(rt, sr__snap_collect, &s);
        for (size_t i = 0; i < s.n; i++) sr__obj_finalize(rt, s.v[i]);
        if (big) sr__sys_free(rt, big, want * sizeof *big);
    }
    ty->panic_pending = false;
}

