/*
 * internal.h - struct sr_runtime and what the modules share.
 *
 * A runtime is one allocation from the underlying allocator holding the state of
 * every module by value (the profiler's tables hang off a pointer, NULL while
 * profiling is off). Modules reach each other only through the sr__<module>_*
 * functions declared in their *_internal.h headers.
 *
 * Memory the runtime takes for itself (this struct, the type table, the root
 * buffer, panic records, profiler tables) goes through sr__sys_* and is counted
 * in internal_bytes, never in heap_used: a script cannot exhaust it and the
 * heap limit cannot make bookkeeping fail.
 */
#ifndef SR_INTERNAL_H
#define SR_INTERNAL_H

#include "scriptrt.h"
#include "heap_internal.h"
#include "object_internal.h"
#include "gc_internal.h"
#include "panic_internal.h"
#include "profiler_internal.h"

#define SR__UNUSED(x) ((void)(x))
#if defined(__GNUC__)
#  define SR__LIKELY(x)   __builtin_expect(!!(x), 1)
#  define SR__UNLIKELY(x) __builtin_expect(!!(x), 0)
#  define SR__NOINLINE    __attribute__((noinline))
#else
#  define SR__LIKELY(x)   (x)
#  define SR__UNLIKELY(x) (x)
#  define SR__NOINLINE
#endif

struct sr_runtime {
    sr_config cfg;               /* as created, defaults filled in */
    sr_allocator sys;            /* the underlying allocator (never NULL members) */
    size_t internal_bytes;       /* bookkeeping taken through sr__sys_* */
    uint64_t created_ns;
    bool is_default;             /* sr_runtime_free refuses it */
    bool tearing_down;           /* inside sr_runtime_free / shutdown */
    sr__heap heap;
    sr__types types;
    sr__gc gc;
    sr__panic panic;
    sr__profiler *prof;          /* NULL while profiling is off */
};

/* Bookkeeping memory: from the underlying allocator, counted in internal_bytes. */
void *sr__sys_alloc(sr_runtime *rt, size_t size);
void *sr__sys_calloc(sr_runtime *rt, size_t n, size_t size);
void *sr__sys_realloc(sr_runtime *rt, void *ptr, size_t old_size, size_t new_size);
void  sr__sys_free(sr_runtime *rt, void *ptr, size_t size);

uint64_t sr__now_ns(void);

/* Heap fast paths that also test the profiler switch, inline at every call
   site. The profiler's record is out of line here (the object layer's paths
   keep a smaller frame that way); sr_alloc and sr_free, which have no frame
   to keep, inline its common case (heap.c). The record returns h, so a caller
   need not keep h in a register saved across the call. */
sr__hdr *sr__heap_profile_alloc(sr_runtime *rt, sr__hdr *h);
sr__hdr *sr__heap_profile_free(sr_runtime *rt, sr__hdr *h);

static inline sr__hdr *sr__heap_alloc_inline(sr_runtime *rt, size_t total, uint32_t info)
{
    sr__hdr *h = sr__heap_alloc_fast(&rt->heap, total, info);
    if (SR__LIKELY(h != NULL)) {
        if (SR__UNLIKELY(rt->prof != NULL)) h = sr__heap_profile_alloc(rt, h);
        return h;
    }
    return sr__heap_alloc_slow(rt, total, info);
}

/* record_inline: the profiler's common case inlined (for a caller without a
   stack frame of its own, sr_free); a constant at every call site. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void sr__heap_free_with(sr_runtime *rt, sr__hdr *h, bool record_inline)
{
    if (SR__LIKELY(h->cls != SR__CLS_LARGE && !SR__POISON_FREED)) {
        if (SR__UNLIKELY(rt->prof != NULL))
            h = record_inline ? sr__profiler_on_free(rt, h, rt->heap.cls[h->cls].size) : sr__heap_profile_free(rt, h);
        sr__heap_free_small(&rt->heap, h);
    } else {
        sr__heap_free(rt, h);
    }
}

static inline void sr__heap_free_inline(sr_runtime *rt, sr__hdr *h) { sr__heap_free_with(rt, h, false); }

#endif
