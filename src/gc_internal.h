/*
 * gc_internal.h - the cycle collector's state and its hooks into allocation.
 */
#ifndef SR_GC_INTERNAL_H
#define SR_GC_INTERNAL_H

#include "scriptrt.h"

typedef struct sr__gc {
    size_t allocs_since;     /* allocation calls since the last collection */
    size_t trigger;          /* allocs_since that starts an automatic collection */
    bool running;            /* a collection is in progress: never start another */
    uint64_t collections, collected, visited, emergencies;
    uint64_t total_pause_ns, max_pause_ns;
} sr__gc;

sr_status sr__gc_init(sr_runtime *rt);
void      sr__gc_fini(sr_runtime *rt);
void      sr__gc_teardown(sr_runtime *rt);       /* the collection at runtime teardown */
size_t    sr__gc_emergency(sr_runtime *rt);      /* before refusing at the limit; 0 if it cannot run */
void      sr__gc_auto(sr_runtime *rt);           /* the automatic collection */
void      sr__gc_stats(sr_runtime *rt, sr_stats *out);

/* Called at the top of every allocating API call, before it allocates. */
#define sr__gc_alloc_tick(rt)                                                   \
    do {                                                                        \
        if (SR__UNLIKELY(++(rt)->gc.allocs_since > (rt)->gc.trigger)) sr__gc_auto(rt); \
    } while (0)

#endif
