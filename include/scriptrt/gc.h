/*
 * scriptrt/gc.h - the cycle collector (synchronous trial deletion).
 */
#ifndef SCRIPTRT_GC_H
#define SCRIPTRT_GC_H

#include "scriptrt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Full synchronous collection; returns the objects this call freed, those that
   died because the garbage released them included. 0 with enable_gc == false,
   for a NULL rt, or when called from a finalizer during a release cascade or a
   collection (never re-entered). Runs finalizers; a finalizer's panic
   propagates once the collection finished. With sr_config.heap_trim_on_collect
   it then also runs sr_heap_trim (scriptrt/memory.h). See docs/gc.md. */
SR_API size_t sr_gc_collect(sr_runtime *rt);
/* true when an automatic collection is due: the effective threshold of
   allocations (gc_threshold, adapted: see gc_effective_threshold in sr_stats)
   passed since the last collection and, after a collection that freed little,
   the heap has grown since (docs/gc.md, "Tuning"). */
SR_API bool   sr_gc_should_collect(sr_runtime *rt);

#ifdef __cplusplus
}
#endif
#endif
