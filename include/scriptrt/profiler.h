/*
 * scriptrt/profiler.h - per-type statistics, allocation sites, leak reports.
 */
#ifndef SCRIPTRT_PROFILER_H
#define SCRIPTRT_PROFILER_H

#include "scriptrt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sr_type_profile {
    const char *type_name;
    uint64_t allocations, frees;
    size_t   current_count, current_bytes, peak_bytes;
} sr_type_profile;

typedef struct sr_profile {
    uint64_t total_allocations;
    size_t   current_memory, peak_memory;
    size_t   potential_leaks;    /* live objects allocated since the last mark */
    size_t   type_count;
    const sr_type_profile *types;/* valid until the next profiler call on rt */
} sr_profile;

SR_API bool  sr_profiler_stats(sr_runtime *rt, sr_profile *out); /* false when profiling is off */
SR_API void  sr_profiler_mark(sr_runtime *rt);                   /* new leak baseline; init is the first mark */
SR_API bool  sr_profiler_check_leaks(sr_runtime *rt);            /* collects cycles first; true if potential_leaks > 0;
                                                                    false when profiling is off */
typedef enum sr_report_format { SR_REPORT_TEXT, SR_REPORT_JSON, SR_REPORT_FOLDED } sr_report_format;
SR_API char *sr_profiler_report(sr_runtime *rt, sr_report_format fmt); /* malloc'd, caller free()s; NULL when off */

#ifdef __cplusplus
}
#endif
#endif
