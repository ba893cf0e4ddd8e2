/*
 * gc.c - the possible-root buffer and the synchronous cycle collector
 * (trial deletion after Bacon and Rajan, "Concurrent Cycle Collection in
 * Reference Counted Systems", 2001, synchronous variant).
 *
 * Data structures
 * ---------------
 * roots    possible cycle roots: live objects whose count dropped to a
 *          non-zero value. roots[i]->aux == i + 1 and the object has
 *          BUFFERED; a buffered object that dies leaves in O(1) (the last
 *          entry moves into its slot). Acyclic objects never enter. A root
 *          stays until the next collection even if it is retained meanwhile
 *          (no "black on increment"): references also move into fields
 *          without a count change, so a retain does not show that the object
 *          cannot be the entry of a garbage cycle (docs/gc.md).
 * stack    the work stack of every phase (sys memory, grows by doubling).
 *          Entries are header pointers with a task tag in bit 0. If it cannot
 *          grow, the object is marked PENDING / PENDING1 in its header
 *          instead and a heap walk later pushes the marked objects again: a
 *          collection never fails for want of scratch memory, it only slows.
 * garbage  the objects Scan turned white, filtered by CollectRoots into the
 *          garbage set (sys memory). If it cannot grow, the WHITE colour in
 *          the headers defines the set (a heap walk marks it GARBAGE) and the
 *          phases that follow walk the heap for it.
 *
 * Colours (header info bits 2-3): BLACK (in use or not looked at; every
 * object is BLACK outside a collection), GRAY (trial-decremented: possible
 * member of garbage), WHITE (garbage after Scan).
 *
 * A collection
 * ------------
 *  1. MarkRoots: every buffered root leaves the buffer and is greyed; MarkGray
 *     subtracts, for every edge from a grey object to a (non-acyclic) child,
 *     one count from the child and greys it. Only what is reachable from the
 *     roots is touched: a big live heap nobody released into costs nothing;
 *     a big live structure below a root is walked in full by every
 *     collection that finds the root buffered (only the walk can show that
 *     no edge in it leads back to the root), which is why low-yield runs
 *     pace the next one and wait for the heap to grow (sr__gc_adapt).
 *  2. ScanRoots: a grey object with a count left is referenced from outside:
 *     ScanBlack blackens it and everything grey or white it reaches, adding
 *     the subtracted counts back. A grey object with count 0 turns white.
 *  3. CollectRoots: the objects still white form the garbage set (GARBAGE
 *     mark, `garbage` array): Scan remembered each white as it turned white,
 *     and a white's Scan parent is white too (blackening the parent would
 *     have blackened it), so no third walk of the graph is needed. The root
 *     buffer is empty now.
 *  -- graph analysis complete; no user code has run (trace must be pure) --
 *  4. Weak references to members are cleared.
 *  5. If no member has a finalize, no user code can run before the free:
 *     members keep their trial counts (0) and black children of members
 *     already lost one count per edge in MarkGray, so only acyclic children
 *     (never trial-decremented) are released now. Otherwise the counts are
 *     first restored (each edge from a member adds one back to its child),
 *     every member's finalize runs once, and a second trial deletion inside
 *     the set finds members a finalizer made reachable again (count > edges
 *     from members): they and what they reach in the set are kept (resurrected,
 *     BLACK, never finalized again); the rest lose their edges normally.
 *  6. Every child outside the set loses one count per edge (a child reaching
 *     zero goes to the release work list; non-zero buffers it), then every
 *     member is freed (without finalizers: in the same pass, large blocks
 *     last), then the release work list is drained.
 *  Afterwards the triggers adapt to the run's yield (sr__gc_adapt), and after
 *  a run that freed little the next automatic one also waits for the heap to
 *  grow (sr__gc_gate_holds): a big live structure below busy roots is not
 *  walked again while no garbage can be piling up.
 *
 * Invariants
 * ----------
 * G1  Outside a collection every object is BLACK, no object has GARBAGE,
 *     PENDING or PENDING1, the work stack is empty.
 * G2  No user code (finalize) runs between the first trial decrement and the
 *     end of restoration: user code sees true counts only.
 * G3  The collector is never re-entered: `running` blocks auto, emergency and
 *     manual collections, and so does an active release drain or teardown.
 * G4  Every member's finalize runs before any member's memory is freed; a
 *     finalize panic under protection is recorded, the collection completes,
 *     then the panic propagates (object.c, O3).
 * G5  The root buffer is only iterated by index, and only in steps 1-3 when
 *     nothing can add to it or remove from it.
 */
#include "internal.h"

#include <string.h>

#define SR__GC_STACK_INIT   1024u
#define SR__GC_GARBAGE_INIT 1024u
#define SR__GC_ROOTS_INIT   256u

/* Stress mode: the build option or the runtime switch. */
#if defined(SR_GC_STRESS) && SR_GC_STRESS
#  define SR__GC_STRESS_BUILD 1
#else
#  define SR__GC_STRESS_BUILD 0
#endif

static inline uint32_t sr__colour(const sr__hdr *h) { return h->info & SR__OBJ_COLOUR_MASK; }
static inline void sr__set_colour(sr__hdr *h, uint32_t c) { h->info = (h->info & ~SR__OBJ_COLOUR_MASK) | c; }
static inline bool sr__acyclic(const sr__hdr *h) { return (h->info & SR__OBJ_ACYCLIC) != 0; }

sr_status sr__gc_init(sr_runtime *rt)
{
    sr__gc *gc = &rt->gc;
    memset(gc, 0, sizeof *gc);
    gc->enabled = rt->cfg.enable_gc;
    gc->stress = rt->cfg.gc_stress || SR__GC_STRESS_BUILD;
    gc->floor = rt->cfg.gc_threshold ? rt->cfg.gc_threshold : SR_DEFAULT_GC_THRESHOLD;
    gc->trigger = !gc->enabled ? SIZE_MAX : gc->stress ? 0 : gc->floor;
    gc->roots_floor = gc->floor > SR__GC_ROOTS_TRIGGER ? gc->floor : SR__GC_ROOTS_TRIGGER;
    gc->roots_trigger = gc->roots_floor;
    if (!gc->enabled) return SR_OK;
    gc->stack = sr__sys_alloc(rt, SR__GC_STACK_INIT * sizeof *gc->stack);
    gc->garbage = sr__sys_alloc(rt, SR__GC_GARBAGE_INIT * sizeof *gc->garbage);
    gc->roots = sr__sys_alloc(rt, SR__GC_ROOTS_INIT * sizeof *gc->roots);
    if (!gc->stack || !gc->garbage || !gc->roots) {
        sr__gc_fini(rt);
        return SR_ERR_NOMEM;
    }
    gc->stack_cap = SR__GC_STACK_INIT;
    gc->garbage_cap = SR__GC_GARBAGE_INIT;
    gc->roots_cap = SR__GC_ROOTS_INIT;
    return SR_OK;
}

void sr__gc_fini(sr_runtime *rt)
{
    sr__gc *gc = &rt->gc;
    sr__sys_free(rt, gc->stack, gc->stack_cap * sizeof *gc->stack);
    sr__sys_free(rt, gc->garbage, gc->garbage_cap * sizeof *gc->garbage);
    sr__sys_free(rt, gc->roots, gc->roots_cap * sizeof *gc->roots);
    gc->stack = NULL;
    gc->garbage = NULL;
    gc->roots = NULL;
    gc->stack_cap = gc->garbage_cap = gc->roots_cap = 0;
    gc->sp = gc->ngarbage = gc->nroots = 0;
}

/* ---- the root buffer ----------------------------------------------------------------------- */

void sr__gc_buffer(sr_runtime *rt, sr__hdr *h)
{
    if (SR__UNLIKELY(!rt)) return;               /* sr_rc_release(NULL, obj): nothing to buffer into */
    sr__gc *gc = &rt->gc;
    if (h->flags & SR__OBJF_GARBAGE) return;     /* being finalized by the collector */
    if (SR__UNLIKELY(gc->nroots == gc->roots_cap)) {
        size_t ncap = gc->roots_cap ? gc->roots_cap * 2 : SR__GC_ROOTS_INIT;
        sr__hdr **n = sr__sys_realloc(rt, gc->roots, gc->roots_cap * sizeof *n, ncap * sizeof *n);
        if (!n) {
            /* Not buffered: if h is part of a garbage cycle, the cycle stays until
               another release buffers one of its members, or until teardown. */
            gc->buffer_failures++;
            return;
        }
        gc->roots = n;
        gc->roots_cap = ncap;
    }
    gc->roots[gc->nroots++] = h;
    h->aux = (uint32_t)gc->nroots;
    h->info |= SR__OBJ_BUFFERED;
    if (SR__UNLIKELY(gc->nroots >= gc->roots_trigger) && gc->allocs_since < gc->trigger)
        gc->allocs_since = gc->trigger;          /* collect at the next allocation */
}

void sr__gc_unbuffer(sr_runtime *rt, sr__hdr *h)
{
    sr__gc *gc = &rt->gc;
    size_t i = (size_t)h->aux - 1;
    sr__hdr *last = gc->roots[--gc->nroots];
    gc->roots[i] = last;
    last->aux = (uint32_t)(i + 1);
    h->aux = 0;
    h->info &= ~SR__OBJ_BUFFERED;
}

/* ---- the work stack ------------------------------------------------------------------------ */

#define SR__TASK1 ((uintptr_t)1)

static SR__NOINLINE void sr__gc_push_slow(sr_runtime *rt, sr__hdr *h, uintptr_t tag)
{
    sr__gc *gc = &rt->gc;
    size_t ncap = gc->stack_cap * 2;
    uintptr_t *n = ncap ? sr__sys_realloc(rt, gc->stack, gc->stack_cap * sizeof *n, ncap * sizeof *n) : NULL;
    if (!n) {
        gc->scratch_failures++;
        h->flags |= tag ? SR__OBJF_PENDING1 : SR__OBJF_PENDING;
        gc->overflow = true;
        return;
    }
    gc->stack = n;
    gc->stack_cap = ncap;
    gc->stack[gc->sp++] = (uintptr_t)h | tag;
}

static inline void sr__gc_push(sr_runtime *rt, sr__hdr *h, uintptr_t tag)
{
    sr__gc *gc = &rt->gc;
    if (SR__LIKELY(gc->sp < gc->stack_cap)) gc->stack[gc->sp++] = (uintptr_t)h | tag;
    else sr__gc_push_slow(rt, h, tag);
}

/* Heap walk after an overflow: push again what was marked instead of pushed. */
static void sr__gc_refill(sr__hdr *h, void *ctx)
{
    sr_runtime *rt = ctx;
    if (sr__kind(h) != SR__KIND_OBJ) return;
    uint16_t f = h->flags;
    if (f & SR__OBJF_PENDING) {
        h->flags &= (uint16_t)~SR__OBJF_PENDING;
        sr__gc_push(rt, h, 0);
    }
    if (f & SR__OBJF_PENDING1) {
        h->flags &= (uint16_t)~SR__OBJF_PENDING1;
        sr__gc_push(rt, h, SR__TASK1);
    }
}

/* ---- the garbage set ----------------------------------------------------------------------- */

/* Scan turned h white: remember it as a candidate (the set is filtered after
   Scan, when whites that turned black again are known). */
static inline void sr__gc_note_white(sr_runtime *rt, sr__hdr *h)
{
    sr__gc *gc = &rt->gc;
    if (SR__LIKELY(gc->ngarbage < gc->garbage_cap)) {
        gc->garbage[gc->ngarbage++] = h;
        return;
    }
    if (gc->garbage_overflow) return;
    size_t ncap = gc->garbage_cap * 2;
    sr__hdr **n = ncap ? sr__sys_realloc(rt, gc->garbage, gc->garbage_cap * sizeof *n, ncap * sizeof *n) : NULL;
    if (!n) {
        gc->scratch_failures++;
        gc->garbage_overflow = true;    /* the WHITE colour in the heap defines the set */
        return;
    }
    gc->garbage = n;
    gc->garbage_cap = ncap;
    gc->garbage[gc->ngarbage++] = h;
}

/* h is garbage: mark it and note what the later steps will have to do. */
static inline void sr__gc_mark_member(sr_runtime *rt, sr__hdr *h)
{
    sr__gc *gc = &rt->gc;
    h->flags |= SR__OBJF_GARBAGE;
    if (h->flags & SR__OBJF_HAS_WEAK) gc->weak_seen = true;
    if (!(h->info & SR__OBJ_FINALIZED) && SR__TYPE_ENTRY(rt, SR__OBJ_TYPE(h))->t.finalize) gc->finalizers_seen = true;
}

static void sr__gc_mark_white_walk(sr__hdr *h, void *ctx)
{
    if (sr__kind(h) == SR__KIND_OBJ && sr__colour(h) == SR__OBJ_WHITE) sr__gc_mark_member(ctx, h);
}

/* Calls fn on every member (GARBAGE mark set). fn must not free blocks. */
typedef struct sr__gc_each { sr_runtime *rt; void (*fn)(sr_runtime *, sr__hdr *); } sr__gc_each;

static void sr__gc_each_marked(sr__hdr *h, void *ctx)
{
    sr__gc_each *e = ctx;
    if (sr__kind(h) == SR__KIND_OBJ && (h->flags & SR__OBJF_GARBAGE)) e->fn(e->rt, h);
}

static void sr__gc_for_garbage(sr_runtime *rt, void (*fn)(sr_runtime *, sr__hdr *))
{
    sr__gc *gc = &rt->gc;
    if (!gc->garbage_overflow) {
        for (size_t i = 0; i < gc->ngarbage; i++)
            if (gc->garbage[i]->flags & SR__OBJF_GARBAGE) fn(rt, gc->garbage[i]);
        return;
    }
    sr__gc_each e = { rt, fn };
    sr__heap_each_live(rt, sr__gc_each_marked, &e);
}

/* ---- child visitors ------------------------------------------------------------------------ */

/* Visits the children of h: REF fields inline, trace through its callback. */
#define SR__GC_EACH_CHILD(rt, h, step)                                                  \
    do {                                                                                \
        sr__type_entry *e_ = SR__TYPE_ENTRY((rt), SR__OBJ_TYPE(h));                     \
        char *p_ = sr__payload_of(h);                                                   \
        for (uint32_t i_ = 0; i_ < e_->nrefs; i_++) {                                   \
            void *c_;                                                                   \
            memcpy(&c_, p_ + e_->refs[i_], sizeof c_);                                  \
            if (c_) step((rt), sr__hdr_of(c_));                                         \
        }                                                                               \
        if (e_->t.trace) e_->t.trace(p_, step##_slot, (rt));                            \
    } while (0)

#define SR__GC_SLOT_FN(step)                                                            \
    static void step##_slot(void **slot, void *ctx)                                     \
    {                                                                                   \
        if (*slot) step((sr_runtime *)ctx, sr__hdr_of(*slot));                          \
    }

/* MarkGray: one trial decrement per edge; grey and queue the child once. */
static inline void sr__gc_mark_child(sr_runtime *rt, sr__hdr *c)
{
    if (sr__acyclic(c)) return;
    c->rc--;
    if (sr__colour(c) != SR__OBJ_GRAY) {
        sr__set_colour(c, SR__OBJ_GRAY);
        rt->gc.visited++;
        sr__gc_push(rt, c, 0);
    }
}
SR__GC_SLOT_FN(sr__gc_mark_child)

/* Scan: queue grey children of a white object. */
static inline void sr__gc_scan_child(sr_runtime *rt, sr__hdr *c)
{
    if (!sr__acyclic(c) && sr__colour(c) == SR__OBJ_GRAY) sr__gc_push(rt, c, 0);
}
SR__GC_SLOT_FN(sr__gc_scan_child)

/* ScanBlack: give the count back, blacken and queue once. */
static inline void sr__gc_black_child(sr_runtime *rt, sr__hdr *c)
{
    if (sr__acyclic(c)) return;
    c->rc++;
    if (sr__colour(c) != SR__OBJ_BLACK) {
        sr__set_colour(c, SR__OBJ_BLACK);
        sr__gc_push(rt, c, SR__TASK1);
    }
}
SR__GC_SLOT_FN(sr__gc_black_child)

/* Restoration: each edge from a member gives its child one count back. */
static inline void sr__gc_restore_child(sr_runtime *rt, sr__hdr *c)
{
    SR__UNUSED(rt);
    if (!sr__acyclic(c)) c->rc++;
}
SR__GC_SLOT_FN(sr__gc_restore_child)

/* Resurrection check: count edges between members in aux. */
static inline void sr__gc_indegree_child(sr_runtime *rt, sr__hdr *c)
{
    SR__UNUSED(rt);
    if (sr__kind(c) == SR__KIND_OBJ && (c->flags & SR__OBJF_GARBAGE)) c->aux++;
}
SR__GC_SLOT_FN(sr__gc_indegree_child)

/* Resurrection: what a kept member reaches in the set is kept too. */
static inline void sr__gc_keep_child(sr_runtime *rt, sr__hdr *c)
{
    if (sr__kind(c) != SR__KIND_OBJ || !(c->flags & SR__OBJF_GARBAGE)) return;
    c->flags &= (uint16_t)~SR__OBJF_GARBAGE;
    sr__set_colour(c, SR__OBJ_BLACK);
    rt->gc.resurrected++;
    sr__gc_push(rt, c, 0);
}
SR__GC_SLOT_FN(sr__gc_keep_child)

/* Freeing, fast path: only acyclic children were never trial-decremented. */
static inline void sr__gc_drop_acyclic_child(sr_runtime *rt, sr__hdr *c)
{
    if (sr__acyclic(c)) sr__obj_release_child(rt, c);
}
SR__GC_SLOT_FN(sr__gc_drop_acyclic_child)

/* Freeing after restoration: every edge to a non-member loses its count. */
static inline void sr__gc_drop_child(sr_runtime *rt, sr__hdr *c)
{
    if (sr__kind(c) == SR__KIND_OBJ && (c->flags & SR__OBJF_GARBAGE)) return;
    sr__obj_release_child(rt, c);
}
SR__GC_SLOT_FN(sr__gc_drop_child)

/* Before finalizers: a member's children outside the set are released and
   their slots cleared (edges between members stay for the resurrection
   check). */
static void sr__gc_release_outside_slot(void **slot, void *ctx)
{
    sr__hdr *c = *slot ? sr__hdr_of(*slot) : NULL;
    if (!c || (sr__kind(c) == SR__KIND_OBJ && (c->flags & SR__OBJF_GARBAGE))) return;
    *slot = NULL;
    sr__obj_release_child(ctx, c);
}

/* ---- phases -------------------------------------------------------------------------------- */

enum { SR__PH_MARK, SR__PH_SCAN, SR__PH_KEEP };

static void sr__gc_run(sr_runtime *rt, int phase)
{
    sr__gc *gc = &rt->gc;
    for (;;) {
        while (gc->sp > 0) {
            uintptr_t v = gc->stack[--gc->sp];
            sr__hdr *h = (sr__hdr *)(v & ~SR__TASK1);
            switch (phase) {
            case SR__PH_MARK:
                SR__GC_EACH_CHILD(rt, h, sr__gc_mark_child);
                break;
            case SR__PH_SCAN:
                if (v & SR__TASK1) {                     /* ScanBlack step */
                    SR__GC_EACH_CHILD(rt, h, sr__gc_black_child);
                } else if (sr__colour(h) == SR__OBJ_GRAY) {
                    if (h->rc > 0) {
                        sr__set_colour(h, SR__OBJ_BLACK);
                        sr__gc_push(rt, h, SR__TASK1);
                    } else {
                        sr__set_colour(h, SR__OBJ_WHITE);
                        sr__gc_note_white(rt, h);
                        SR__GC_EACH_CHILD(rt, h, sr__gc_scan_child);
                    }
                }
                break;
            case SR__PH_KEEP:
                SR__GC_EACH_CHILD(rt, h, sr__gc_keep_child);
                break;
            }
        }
        if (!gc->overflow) return;
        gc->overflow = false;
        sr__heap_each_live(rt, sr__gc_refill, rt);
    }
}

static void sr__gc_clear_weak(sr_runtime *rt, sr__hdr *h)
{
    if (h->flags & SR__OBJF_HAS_WEAK) sr__weak_clear(rt, h);
}

static void sr__gc_restore(sr_runtime *rt, sr__hdr *h) { SR__GC_EACH_CHILD(rt, h, sr__gc_restore_child); }
static void sr__gc_zero_aux(sr_runtime *rt, sr__hdr *h) { SR__UNUSED(rt); h->aux = 0; }
static void sr__gc_indegree(sr_runtime *rt, sr__hdr *h) { SR__GC_EACH_CHILD(rt, h, sr__gc_indegree_child); }
static void sr__gc_check_kept(sr_runtime *rt, sr__hdr *h)
{
    if (h->rc > h->aux) {                 /* referenced from outside the set: resurrected */
        h->flags &= (uint16_t)~SR__OBJF_GARBAGE;
        sr__set_colour(h, SR__OBJ_BLACK);
        rt->gc.resurrected++;
        sr__gc_push(rt, h, 0);
    }
}
static void sr__gc_drop_fast(sr_runtime *rt, sr__hdr *h) { SR__GC_EACH_CHILD(rt, h, sr__gc_drop_acyclic_child); }
static void sr__gc_drop(sr_runtime *rt, sr__hdr *h) { SR__GC_EACH_CHILD(rt, h, sr__gc_drop_child); }
static void sr__gc_release_outside(sr_runtime *rt, sr__hdr *h)
{
    sr__obj_each_child(rt, h, sr__gc_release_outside_slot, rt);
}

/* Runs finalizers of members in chunks gathered by a heap walk (overflow mode:
   user code must not run inside the walk). */
typedef struct sr__gc_chunk { sr__hdr *v[256]; size_t n; bool want_finalize; } sr__gc_chunk;

static void sr__gc_chunk_collect(sr__hdr *h, void *ctx)
{
    sr__gc_chunk *c = ctx;
    if (c->n == 256 || sr__kind(h) != SR__KIND_OBJ || !(h->flags & SR__OBJF_GARBAGE)) return;
    if (c->want_finalize && (h->info & SR__OBJ_FINALIZED)) return;
    c->v[c->n++] = h;
}

static void sr__gc_finalize_all(sr_runtime *rt)
{
    sr__gc *gc = &rt->gc;
    if (!gc->garbage_overflow) {
        /* the array does not change while finalizers run (additions stopped) */
        for (size_t i = 0; i < gc->ngarbage; i++) sr__obj_finalize(rt, gc->garbage[i]);
        return;
    }
    sr__gc_chunk c;
    c.want_finalize = true;
    do {
        c.n = 0;
        sr__heap_each_live(rt, sr__gc_chunk_collect, &c);
        for (size_t i = 0; i < c.n; i++) sr__obj_finalize(rt, c.v[i]);
    } while (c.n);
}

static void sr__gc_free_all(sr_runtime *rt)
{
    sr__gc *gc = &rt->gc;
    if (!gc->garbage_overflow) {
        for (size_t i = 0; i < gc->ngarbage; i++) {
            sr__hdr *h = gc->garbage[i];
            if (!(h->flags & SR__OBJF_GARBAGE)) continue;   /* resurrected */
            h->flags &= (uint16_t)~SR__OBJF_GARBAGE;
            if (h->flags & SR__OBJF_HAS_WEAK) sr__weak_clear(rt, h);   /* made by a finalizer */
            sr__obj_free(rt, h);
        }
        return;
    }
    sr__gc_chunk c;
    c.want_finalize = false;
    do {
        c.n = 0;
        sr__heap_each_live(rt, sr__gc_chunk_collect, &c);
        for (size_t i = 0; i < c.n; i++) {
            c.v[i]->flags &= (uint16_t)~SR__OBJF_GARBAGE;
            if (c.v[i]->flags & SR__OBJF_HAS_WEAK) sr__weak_clear(rt, c.v[i]);
            sr__obj_free(rt, c.v[i]);
        }
    } while (c.n);
}

static bool sr__gc_blocked(sr_runtime *rt)
{
    return !rt->gc.enabled || rt->gc.running || rt->types.draining || rt->types.teardown;
}

/* One full collection; returns the objects it freed. */
static size_t sr__gc_collect(sr_runtime *rt)
{
    sr__gc *gc = &rt->gc;
    if (sr__gc_blocked(rt)) return 0;
    gc->running = true;
    uint64_t t0 = sr__now_ns();
    uint64_t freed0 = rt->types.objects_freed;
    size_t nroots = gc->nroots;

    /* 1. MarkRoots. Roots go on the stack last first, so they come off in
       buffer order: a program's objects are traversed in about the order it
       made them, one direction through memory (a per-root sawtooth defeats
       the hardware prefetcher: twice the time for 1M objects in rings). */
    for (size_t i = nroots; i-- > 0;) {
        sr__hdr *r = gc->roots[i];
        r->info &= ~SR__OBJ_BUFFERED;
        r->aux = 0;
        if (sr__colour(r) != SR__OBJ_GRAY) {
            sr__set_colour(r, SR__OBJ_GRAY);
            gc->visited++;
            sr__gc_push(rt, r, 0);
        }
    }
    sr__gc_run(rt, SR__PH_MARK);
    /* 2. ScanRoots (whites are remembered as candidates as they turn white) */
    gc->ngarbage = 0;
    gc->garbage_overflow = false;
    gc->weak_seen = false;
    gc->finalizers_seen = false;
    for (size_t i = nroots; i-- > 0;) sr__gc_push(rt, gc->roots[i], 0);
    sr__gc_run(rt, SR__PH_SCAN);
    /* 3. CollectRoots. Every object still white is garbage, and every white
       was reached from a root through whites: the parent through which Scan
       reached a white would have blackened it on turning black. So the set is
       the candidates still white; no third walk of the graph is needed. */
    if (!gc->garbage_overflow) {
        size_t j = 0;
        for (size_t i = 0; i < gc->ngarbage; i++) {
            sr__hdr *h = gc->garbage[i];
            if (sr__colour(h) != SR__OBJ_WHITE) continue;
            sr__gc_mark_member(rt, h);
            gc->garbage[j++] = h;
        }
        gc->ngarbage = j;
    } else {
        sr__heap_each_live(rt, sr__gc_mark_white_walk, rt);
    }
    gc->nroots = 0;
    bool any = gc->ngarbage > 0 || gc->garbage_overflow;

    if (any) {
        /* 4. weak references to members die first */
        if (gc->weak_seen) sr__gc_for_garbage(rt, sr__gc_clear_weak);
        /* 5. children outside the set are released first (what dies with them
           is finalized and freed now), then the members' finalizers run on
           true counts, then the resurrection check */
        if (gc->finalizers_seen) {
            sr__gc_for_garbage(rt, sr__gc_restore);
            sr__gc_for_garbage(rt, sr__gc_release_outside);
            sr__obj_drain(rt);
            sr__gc_finalize_all(rt);
            sr__gc_for_garbage(rt, sr__gc_zero_aux);
            sr__gc_for_garbage(rt, sr__gc_indegree);
            sr__gc_for_garbage(rt, sr__gc_check_kept);
            sr__gc_run(rt, SR__PH_KEEP);
            sr__gc_for_garbage(rt, sr__gc_zero_aux);
            /* 6. edges to kept members, and children a finalizer stored, lose
               their counts; then the rest of the set is freed */
            sr__gc_for_garbage(rt, sr__gc_drop);
            sr__gc_free_all(rt);
        } else if (!gc->garbage_overflow) {
            /* 6. no user code ran: one pass drops acyclic children and frees. A
               small member freed earlier in the pass still reads as kind FREE
               (info 0, never ACYCLIC: its page stays and nothing allocates in
               between); a large one goes back to the system, so large members
               are freed after the pass. */
            size_t nlarge = 0;
            for (size_t i = 0; i < gc->ngarbage; i++) {
                sr__hdr *h = gc->garbage[i];
                SR__GC_EACH_CHILD(rt, h, sr__gc_drop_acyclic_child);
                h->flags &= (uint16_t)~SR__OBJF_GARBAGE;
                if (h->cls == SR__CLS_LARGE) gc->garbage[nlarge++] = h;
                else sr__obj_free(rt, h);
            }
            for (size_t i = 0; i < nlarge; i++) sr__obj_free(rt, gc->garbage[i]);
        } else {
            sr__gc_for_garbage(rt, sr__gc_drop_fast);
            sr__gc_free_all(rt);
        }
        gc->ngarbage = 0;
        gc->garbage_overflow = false;
        /* what died because the garbage released it */
        sr__obj_drain(rt);
    }

    size_t freed = (size_t)(rt->types.objects_freed - freed0);
    uint64_t pause = sr__now_ns() - t0;
    gc->collections++;
    gc->collected += freed;
    gc->total_pause_ns += pause;
    if (pause > gc->max_pause_ns) gc->max_pause_ns = pause;
    gc->last_freed = freed;
    gc->allocs_since = 0;
    gc->deferred = 0;
    gc->heap_after = rt->heap.used;
    gc->running = false;
    return freed;
}

/* Adapts the effective triggers to the yield of the run that just ended.
 *
 * A run that freed little (under 1/16 of what it visited) means a large live
 * graph hangs off the buffered roots: running again soon would trace it again
 * for nothing (the quadratic behaviour of PHP before 7.3, php-src #17131). The
 * next run is then put off until the mutator has done work in proportion to
 * what this run traced: both triggers become SR__GC_PACE times the objects
 * visited, so the collector's work stays a bounded fraction of the mutator's.
 * Both stay within the larger of SR__GC_MAX_FACTOR x the configured floor and
 * SR__GC_PACE x the live objects, and such a run also closes the growth gate
 * (`quiet`, sr__gc_gate_holds). A productive run (it freed at least half as
 * many objects as the trigger) halves the allocation trigger back towards the
 * floor and resets the root trigger to its floor. */
static void sr__gc_adapt(sr_runtime *rt, size_t freed, size_t visited)
{
    sr__gc *gc = &rt->gc;
    if (gc->stress) {
        /* Collect before every allocation, except that a run which traced V
           objects lets the next V / SR__GC_STRESS_BUDGET allocations pass:
           small graphs are still collected at every allocation, and a long
           live list hanging off the roots does not make the stress build
           quadratic (at most SR__GC_STRESS_BUDGET visits per allocation). */
        gc->trigger = visited / SR__GC_STRESS_BUDGET;
        gc->quiet = false;
        return;
    }
    size_t live = rt->heap.live_objects;
    size_t cap = gc->floor > SIZE_MAX / SR__GC_MAX_FACTOR ? SIZE_MAX : gc->floor * SR__GC_MAX_FACTOR;
    if (live < SIZE_MAX / SR__GC_PACE && cap < SR__GC_PACE * live) cap = SR__GC_PACE * live;
    gc->quiet = freed < visited / 16;
    if (gc->quiet) {
        size_t want = visited > SIZE_MAX / SR__GC_PACE ? SIZE_MAX : SR__GC_PACE * visited;
        if (want < gc->trigger * 2 && gc->trigger <= SIZE_MAX / 2) want = gc->trigger * 2;
        gc->trigger = want > cap ? cap : want < gc->floor ? gc->floor : want;
        if (want > gc->roots_trigger) gc->roots_trigger = want > cap ? (cap > gc->roots_floor ? cap : gc->roots_floor) : want;
    } else if (freed >= gc->trigger / 2) {
        gc->trigger = gc->trigger / 2 < gc->floor ? gc->floor : gc->trigger / 2;
        gc->roots_trigger = gc->roots_floor;
    }
}

/* The growth gate. After a low-yield run the live graph below the roots is
 * large, and what another run could free is garbage made since. New garbage
 * takes memory: while heap_used has not grown by 1/SR__GC_GROWTH of what the
 * last collection left, running again would mostly walk the same live graph
 * for nothing (CPython waits likewise before collecting its oldest
 * generation). What waits meanwhile are cycles formed from objects that were
 * alive at the last collection (they take no new memory: the heap stays below
 * 1 + 1/SR__GC_GROWTH times its size after it), for at most SR__GC_MAX_FACTOR
 * x trigger allocations; then the run happens anyway. Emergency collections
 * at the heap limit do not ask the gate. */
static bool sr__gc_gate_holds(const sr_runtime *rt)
{
    const sr__gc *gc = &rt->gc;
    if (!gc->quiet) return false;
    if (rt->heap.used >= gc->heap_after && rt->heap.used - gc->heap_after >= gc->heap_after / SR__GC_GROWTH)
        return false;
    size_t limit = gc->trigger > SIZE_MAX / SR__GC_MAX_FACTOR ? SIZE_MAX : gc->trigger * SR__GC_MAX_FACTOR;
    return gc->deferred < limit;
}

size_t sr_gc_collect(sr_runtime *rt)
{
    if (!rt || !rt->gc.enabled) return 0;
    size_t freed = sr__gc_collect(rt);
    if (rt->cfg.heap_trim_on_collect) sr_heap_trim(rt);   /* no-op when called from a finalizer */
    sr__obj_rethrow_pending(rt);
    return freed;
}

bool sr_gc_should_collect(sr_runtime *rt)
{
    if (!rt || !rt->gc.enabled) return false;
    return rt->gc.allocs_since >= rt->gc.trigger && !sr__gc_gate_holds(rt);
}

void sr__gc_auto(sr_runtime *rt)
{
    if (sr__gc_blocked(rt)) return;   /* allocs_since stays high: retried at the next allocation */
    sr__gc *gc = &rt->gc;
    if (sr__gc_gate_holds(rt)) {
        /* not yet: look again after another floor's worth of allocations (and
           let the root buffer grow instead of asking at every allocation) */
        size_t step = gc->floor < gc->allocs_since ? gc->floor : gc->allocs_since;
        gc->allocs_since -= step;
        gc->deferred += step;
        if (gc->nroots >= gc->roots_trigger) gc->roots_trigger = gc->nroots > SIZE_MAX / 2 ? SIZE_MAX : gc->nroots * 2;
        return;
    }
    uint64_t visited0 = gc->visited;
    size_t freed = sr__gc_collect(rt);
    sr__gc_adapt(rt, freed, (size_t)(gc->visited - visited0));
    sr__obj_rethrow_pending(rt);
}

size_t sr__gc_emergency(sr_runtime *rt)
{
    if (sr__gc_blocked(rt)) return 0;
    rt->gc.emergencies++;
    size_t freed = sr__gc_collect(rt);
    sr__obj_rethrow_pending(rt);
    return freed;
}

void sr__gc_teardown(sr_runtime *rt)
{
    rt->types.panic_no_rethrow = true;    /* panics in finalizers are recorded, never raised */
    if (rt->gc.enabled) sr__gc_collect(rt);
    rt->types.panic_pending = false;
}

void sr__gc_stats(sr_runtime *rt, sr_stats *out)
{
    sr__gc *gc = &rt->gc;
    out->gc_collections = gc->collections;
    out->gc_objects_collected = gc->collected;
    out->gc_total_pause_ns = gc->total_pause_ns;
    out->gc_max_pause_ns = gc->max_pause_ns;
    out->gc_objects_visited = gc->visited;
    out->gc_roots_buffered = gc->nroots;
    out->gc_effective_threshold = gc->enabled ? gc->trigger : 0;
    out->gc_emergency_collections = gc->emergencies;
}
