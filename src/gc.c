/*
 * gc.c - the cycle collector.
 */
#include "internal.h"

sr_status sr__gc_init(sr_runtime *rt)
{
    rt->gc.trigger = rt->cfg.enable_gc ? rt->cfg.gc_threshold : SIZE_MAX;
    return SR_OK;
}
void sr__gc_fini(sr_runtime *rt) { SR__UNUSED(rt); }
void sr__gc_teardown(sr_runtime *rt) { SR__UNUSED(rt); }
size_t sr__gc_emergency(sr_runtime *rt) { SR__UNUSED(rt); return 0; }
void sr__gc_auto(sr_runtime *rt) { rt->gc.allocs_since = 0; }
void sr__gc_stats(sr_runtime *rt, sr_stats *out) { out->gc_effective_threshold = rt->gc.trigger; }
