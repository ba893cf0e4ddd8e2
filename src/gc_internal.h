/*
 * gc_internal.h - the cycle collector's state and its hooks into allocation
 * and release (algorithm and invariants: gc.c).
 */
#ifndef SR_GC_INTERNAL_H
#define SR_GC_INTERNAL_H

#include "scriptrt.h"

struct sr__hdr;

/* Root-buffer size that asks for a collection at the next allocation (the
   floor; it grows when such collections free little). */
#define SR__GC_ROOTS_TRIGGER 10000u
/* The effective triggers stay below the larger of this multiple of the floor
   and SR__GC_PACE times the live objects. */
#define SR__GC_MAX_FACTOR    64u
/* After a low-yield run the next waits for this many allocations per object
   the run visited (and the live-object bound is this many times the live set). */
#define SR__GC_PACE          8u
/* After a low-yield run, an automatic collection also waits until heap_used
   has grown by 1/SR__GC_GROWTH of what the last collection left (new garbage
   takes memory; gc.c, sr__gc_gate_holds), for at most SR__GC_MAX_FACTOR times
   the trigger in further allocations. */
#define SR__GC_GROWTH        4u
/* Stress mode: at most this many objects traced per allocation, amortized. */
#define SR__GC_STRESS_BUDGET 16u

typedef struct sr__gc {
    size_t allocs_since;     /* allocation calls since the last collection */
    size_t trigger;          /* allocs_since that starts an automatic collection (effective) */
    size_t floor;            /* the configured gc_threshold */
    bool running;            /* a collection is in progress: never start another */
    bool enabled;
    bool stress;             /* collect before every allocation */
    bool overflow;           /* the work stack could not grow: PENDING marks in the heap */
    bool garbage_overflow;   /* the garbage array could not grow: GARBAGE marks are the set */
    bool weak_seen;          /* the garbage set has a member with weak references */
    bool finalizers_seen;    /* the garbage set has a member with a finalize to run */
    bool quiet;              /* the last automatic run freed little: the growth gate holds */
    size_t heap_after;       /* heap_used when the last collection ended */
    size_t deferred;         /* allocations the growth gate let pass since the last collection */
    /* possible roots: buffer[i]->aux == i + 1 */
    struct sr__hdr **roots;
    size_t nroots, roots_cap;
    size_t roots_trigger;    /* buffered roots that ask for a collection (effective) */
    size_t roots_floor;      /* max(SR__GC_ROOTS_TRIGGER, gc_threshold) */
    /* collector scratch (sys memory) */
    uintptr_t *stack;        /* header pointer | task tag (bit 0) */
    size_t sp, stack_cap;
    struct sr__hdr **garbage;
    size_t ngarbage, garbage_cap;
    /* statistics */
    uint64_t collections, collected, visited, emergencies, resurrected;
    uint64_t total_pause_ns, max_pause_ns;
    uint64_t buffer_failures, scratch_failures;
    size_t last_freed;
} sr__gc;

sr_status sr__gc_init(sr_runtime *rt);
void      sr__gc_fini(sr_runtime *rt);
void      sr__gc_teardown(sr_runtime *rt);       /* the collection at runtime teardown */
size_t    sr__gc_emergency(sr_runtime *rt);      /* before refusing at the limit; 0 if it cannot run */
void      sr__gc_auto(sr_runtime *rt);           /* the automatic collection */
void      sr__gc_stats(sr_runtime *rt, sr_stats *out);
/* Possible-root buffer: add a live object whose count dropped to non-zero
   (no-op for garbage being finalized, or when the buffer cannot grow);
   remove one (O(1), through its slot in aux). */
void      sr__gc_buffer(sr_runtime *rt, struct sr__hdr *h);
void      sr__gc_unbuffer(sr_runtime *rt, struct sr__hdr *h);

/* Called at the top of every allocating API call, before it allocates. */
#define sr__gc_alloc_tick(rt)                                                   \
    do {                                                                        \
        if (SR__UNLIKELY(++(rt)->gc.allocs_since > (rt)->gc.trigger)) sr__gc_auto(rt); \
    } while (0)

#endif
