/*
 * profiler.c - the memory profiler.
 */
#include "internal.h"

sr_status sr__profiler_init(sr_runtime *rt) { rt->prof = NULL; return SR_OK; }
void sr__profiler_fini(sr_runtime *rt) { SR__UNUSED(rt); }
void sr__profiler_teardown_report(sr_runtime *rt) { SR__UNUSED(rt); }
void sr__profiler_fill_stats(sr_runtime *rt, sr_stats *out) { SR__UNUSED(rt); SR__UNUSED(out); }
void sr__profiler_on_alloc(sr_runtime *rt, sr__hdr *h, size_t charge) { SR__UNUSED(rt); SR__UNUSED(h); SR__UNUSED(charge); }
void sr__profiler_on_free(sr_runtime *rt, sr__hdr *h, size_t charge) { SR__UNUSED(rt); SR__UNUSED(h); SR__UNUSED(charge); }
