/*
 * profiler_internal.h - the profiler's state (profiler.c) and its report
 * writers (report.c), and the hooks the heap and the runtime call.
 *
 * The data structures and their invariants are described at the top of
 * profiler.c. report.c reads the tables only through a "view" (sr__pview): a
 * self-contained copy of the per-type counters and the live stacks, which is
 * also what a public snapshot is, so a report and a snapshot render alike.
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

/* ---- shared between profiler.c and report.c ----------------------------------------- */

#define SR__PROF_RAW_SLOT    0u          /* category of raw blocks (sr_alloc) */
#define SR__PROF_MAX_FRAMES  40u         /* captured: the configured depth + allocator frames */
#define SR__PROF_EXTRA_FRAMES 8u         /* library frames captured beyond the configured depth */

/* Counters of one category: raw blocks or one object type. */
typedef struct sr__ptype {
    uint64_t allocations;
    size_t   bytes, peak;
    uint64_t frees;        /* live count = allocations - frees */
} sr__ptype;

/* One distinct (category, call stack) pair. */
typedef struct sr__pstack {
    uint64_t hash;
    uint32_t slot;         /* category */
    uint32_t depth;        /* frames, innermost first, at frame_pool[frames] */
    size_t   frames;
    uint64_t allocations;  /* sampled allocations recorded here */
    size_t   live_count;   /* sampled blocks alive now */
    size_t   live_bytes;   /* estimated bytes alive now (exact when every allocation is sampled) */
} sr__pstack;

/* Side record of one live block, keyed by its header address (0 = empty). */
typedef struct sr__pblock {
    uintptr_t key;
    uint32_t stack;        /* stack table index; 0 = no stack recorded */
    uint32_t epoch;        /* mark epoch at allocation */
} sr__pblock;

struct sr__profiler {
    /* categories: index 0 raw blocks, index = type id for objects */
    sr__ptype *types;
    uint32_t type_cap;         /* usable slots: <= type_alloc and < out_cap */
    size_t type_alloc;         /* slots allocated */
    bool types_frozen;         /* growth failed once: ids >= type_cap go to `other` for good */
    sr__ptype other;

    /* live blocks: open addressing, linear probing, backward-shift deletion */
    sr__pblock *blocks;
    size_t block_cap, block_count;   /* cap is a power of two */
    unsigned block_shift;            /* 64 - log2(block_cap) */
    uint64_t untracked;              /* blocks that got no side record (profiler out of memory) */
    size_t untracked_live;

    /* stack table: entries + hash index + frame pool; entry 0 is unused */
    sr__pstack *stacks;
    uint32_t stack_count, stack_cap;
    uint32_t *stack_index;
    uint32_t index_cap;              /* power of two */
    void **frame_pool;
    size_t frame_count, frame_cap;
    uint64_t stacks_dropped;         /* sampled allocations whose stack could not be stored */

    /* sampling */
    size_t depth;                    /* frames kept per site (after dropping library frames) */
    size_t sample_bytes;             /* 0 = every allocation */
    int64_t countdown;
    uint64_t rng;

    /* leak baseline */
    uint32_t epoch;
    size_t leak_count, leak_bytes;         /* objects since the mark, alive */
    size_t leak_raw_count, leak_raw_bytes; /* raw blocks since the mark, alive */

    /* sr_profiler_stats output (valid until the next profiler call) */
    sr_type_profile *out;
    size_t out_cap;                  /* > type_cap: never grown by sr_profiler_stats */

    size_t bytes;                    /* own memory, through sr__sys_* */
};

/* A self-contained copy of the profile (what a snapshot holds). Strings and
   frames are owned by the view; it outlives the runtime. */
typedef struct sr__vstack {
    size_t type;           /* index into types */
    size_t depth;
    void **frames;         /* innermost first, points into the view's frame array */
    uint64_t allocations;
    size_t count, bytes;
} sr__vstack;

struct sr_profiler_snapshot {
    uint64_t timestamp_ns;
    uint64_t total_allocations, total_frees;
    size_t current_memory, peak_memory, potential_leaks, potential_leak_bytes;
    size_t profiler_bytes, sample_bytes, stack_depth;
    uint64_t untracked;
    size_t type_count;
    sr_type_profile *types;          /* type_name points into names */
    size_t stack_count;
    sr__vstack *stacks;
    void **frames;
    char *names;
};

/* Builds a view of rt's profile (malloc'd; NULL when out of memory). */
sr_profiler_snapshot *sr__profiler_view(sr_runtime *rt);
/* Type name of a category: "<raw>", the registered name, or "<other types>". */
const char *sr__profiler_type_name(sr_runtime *rt, uint32_t slot);

/* report.c: the writers. Each returns a malloc'd string or NULL. `rt` may be
   NULL for a detached snapshot (no leak section then). */
char *sr__report_render(sr_runtime *rt, const sr_profiler_snapshot *v, sr_report_format fmt);
char *sr__report_leaks_at_exit(sr_runtime *rt);

#endif
