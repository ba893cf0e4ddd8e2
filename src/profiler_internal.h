/*
 * profiler_internal.h - the profiler's hooks into the heap.
 */
#ifndef SR_PROFILER_INTERNAL_H
#define SR_PROFILER_INTERNAL_H

#include "scriptrt.h"

struct sr__hdr;
typedef struct sr__profiler sr__profiler;

sr_status sr__profiler_init(sr_runtime *rt);
void      sr__profiler_fini(sr_runtime *rt);
void      sr__profiler_teardown_report(sr_runtime *rt);
void      sr__profiler_fill_stats(sr_runtime *rt, sr_stats *out);
/* Called by the heap for every block while rt->prof != NULL. */
void      sr__profiler_on_alloc(sr_runtime *rt, struct sr__hdr *h, size_t charge);
void      sr__profiler_on_free(sr_runtime *rt, struct sr__hdr *h, size_t charge);

#endif
