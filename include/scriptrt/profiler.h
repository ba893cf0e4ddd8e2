/*
 * scriptrt/profiler.h - per-type statistics, allocation sites, leak reports,
 * snapshots and their differences.
 *
 * Profiling is chosen when a runtime is created (sr_config.enable_profiling,
 * on by default in debug builds). While it is off every call here returns
 * false or NULL and the heap pays one predictable branch per allocation.
 *
 * Byte figures use the accounting of heap_used (headers and size-class
 * rounding included): current_memory equals sr_stats.heap_used. The
 * profiler's own tables are not in heap_used; sr_stats.profiler_bytes and
 * sr_profile.profiler_bytes report them.
 *
 * Allocation stacks: up to sr_config.profiler_stack_depth frames (default 8)
 * of about one allocation per sr_config.profiler_sample_bytes = N bytes
 * allocated (default 512 KiB, as tcmalloc and jemalloc), or of every
 * allocation with N = SR_PROFILER_EVERY_ALLOCATION. Per-type counters and the
 * leak figures are exact either way; with sampling, stack byte figures are
 * estimates (each sampled block stands for max(its bytes, N) bytes). Frames
 * are symbolized only when a report is rendered. docs/profiling.md has a
 * worked example and the JSON schema.
 *
 * Thread rule: like the runtime, one thread at a time. None of these
 * functions panics of its own, except sr_profiler_check_leaks: its collection
 * runs finalizers, and a finalizer's panic reaches the caller's protected
 * execution (after the collection has finished). Snapshots and diffs are independent of the runtime once
 * taken (they may outlive it).
 */
#ifndef SCRIPTRT_PROFILER_H
#define SCRIPTRT_PROFILER_H

#include "scriptrt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sr_type_profile {
    const char *type_name;       /* "<raw>" for blocks from sr_alloc */
    uint64_t allocations, frees;
    size_t   current_count, current_bytes, peak_bytes;
} sr_type_profile;

typedef struct sr_profile {
    uint64_t total_allocations;  /* objects and raw blocks; a resized large block counts as a free and an allocation */
    size_t   current_memory, peak_memory;
    size_t   potential_leaks;    /* live objects allocated since the last mark */
    size_t   type_count;
    const sr_type_profile *types;/* valid until the next profiler call on rt */
    /* ---- appended fields ---- */
    uint64_t total_frees;
    size_t   potential_leak_bytes;   /* bytes of those objects */
    size_t   raw_leaks;              /* live raw blocks allocated since the last mark */
    size_t   raw_leak_bytes;
    size_t   profiler_bytes;         /* the profiler's own memory (not in current_memory) */
    uint64_t untracked_blocks;       /* sampled blocks whose stack could not be kept (the
                                        profiler's own memory ran out); they are still
                                        counted by type and in the leak check */
} sr_profile;

/* Fills *out. false (nothing written) when profiling is off or rt/out is NULL.
   out->types: one entry per category that ever allocated, raw blocks first,
   then object types by id; owned by rt, valid until the next profiler call. */
SR_API bool  sr_profiler_stats(sr_runtime *rt, sr_profile *out);
/* New leak baseline: potential leaks are what is allocated after this call and
   still alive. Runtime creation is the first mark. No-op when off. */
SR_API void  sr_profiler_mark(sr_runtime *rt);
/* Collects cycles first (sr_gc_collect: finalizers may run), then true if
   potential_leaks > 0. false when profiling is off or rt is NULL. */
SR_API bool  sr_profiler_check_leaks(sr_runtime *rt);

typedef enum sr_report_format { SR_REPORT_TEXT, SR_REPORT_JSON, SR_REPORT_FOLDED } sr_report_format;
/* The profile rendered in fmt: TEXT (types by current bytes, the top
   allocation stacks of live memory, potential leaks since the mark with a
   sample object each), JSON (schema in docs/profiling.md, "schema_version" 1)
   or FOLDED ("root;...;leaf bytes" per allocation stack of live memory, the
   type as the leaf frame, for flamegraph.pl, inferno and speedscope).
   malloc'd, the caller free()s it. NULL when profiling is off, rt is NULL, fmt
   is unknown or memory ran out. */
SR_API char *sr_profiler_report(sr_runtime *rt, sr_report_format fmt);

/* ---- snapshots (what grew between two moments) ------------------------------------ */

typedef struct sr_profiler_snapshot sr_profiler_snapshot;

/* A copy of the per-type counters and of the live allocation stacks (raw
   addresses, symbolized when rendered). Owned by the caller: free it with
   sr_profiler_snapshot_free; it does not refer to rt and may outlive it. NULL
   when profiling is off, rt is NULL or memory ran out (plain malloc). */
SR_API sr_profiler_snapshot *sr_profiler_snapshot_take(sr_runtime *rt);
SR_API void  sr_profiler_snapshot_free(sr_profiler_snapshot *snap);   /* NULL is a no-op */
/* The snapshot's figures as a sr_profile (types owned by snap, valid while it
   lives). false for a NULL argument. */
SR_API bool  sr_profiler_snapshot_stats(const sr_profiler_snapshot *snap, sr_profile *out);
/* The snapshot rendered like sr_profiler_report (without the leak section's
   sample objects). malloc'd, caller free()s; NULL for NULL snap, bad fmt or OOM. */
SR_API char *sr_profiler_snapshot_report(const sr_profiler_snapshot *snap, sr_report_format fmt);

typedef struct sr_profile_diff_entry {
    const char *type_name;
    void *const *frames;         /* by-stack entries: return addresses, innermost first; NULL for by-type */
    size_t   frame_count;
    int64_t  count_diff, bytes_diff;   /* newer minus older */
    size_t   count, bytes;             /* in the newer snapshot */
} sr_profile_diff_entry;

typedef struct sr_profile_diff {
    int64_t  memory_diff;              /* current_memory, newer minus older */
    int64_t  allocations_diff;         /* total_allocations, newer minus older */
    uint64_t elapsed_ns;               /* between the two snapshots */
    size_t   type_count;               /* entries whose count or bytes changed, */
    const sr_profile_diff_entry *types;/*   largest byte growth first */
    size_t   stack_count;
    const sr_profile_diff_entry *stacks;
} sr_profile_diff;

/* What changed from `older` to `newer`, by type and by allocation stack, in
   the order tracemalloc's compare_to uses (largest growth first; ties by
   count). The diff points into both snapshots' names and frames: free it
   before either. NULL for a NULL argument or OOM. */
SR_API sr_profile_diff *sr_profiler_snapshot_compare(const sr_profiler_snapshot *older,
                                                     const sr_profiler_snapshot *newer);
SR_API void  sr_profiler_diff_free(sr_profile_diff *diff);            /* NULL is a no-op */
/* TEXT, JSON (schema in docs/profiling.md) or FOLDED (only stacks that grew,
   their growth in bytes: a differential flame graph). malloc'd; caller free()s. */
SR_API char *sr_profiler_diff_report(const sr_profile_diff *diff, sr_report_format fmt);

#ifdef __cplusplus
}
#endif
#endif
