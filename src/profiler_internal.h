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
/* Called by the heap for every block while rt->prof != NULL (inline fast
   paths at the end of this header; these are the general paths).
   Both return h (so callers' slow paths are tail calls). */
struct sr__hdr *sr__profiler_alloc_slow(sr_runtime *rt, struct sr__hdr *h, size_t charge);
struct sr__hdr *sr__profiler_free_slow(sr_runtime *rt, struct sr__hdr *h, size_t charge);

/* ---- shared between profiler.c and report.c ----------------------------------------- */

#define SR__PROF_RAW_SLOT    0u          /* category of raw blocks (sr_alloc) */
#define SR__PROF_MAX_FRAMES  40u         /* captured: the configured depth + allocator frames */
#define SR__PROF_EXTRA_FRAMES 8u         /* library frames captured beyond the configured depth */

/* Counters of one category: raw blocks or one object type. */
/* Field order matters: counters updated together are never neighbours, so the
   compiler does not pair them into one 16-byte load right after two 8-byte
   stores of the previous call (a store-forwarding stall). */
typedef struct sr__ptype {
    uint64_t allocations;
    uint64_t frees;        /* live count = allocations - frees */
    size_t   peak;
    size_t   bytes;
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

/* Side record of one sampled live block, keyed by its header address (0 = empty). */
typedef struct sr__pblock {
    uintptr_t key;
    uint32_t stack;        /* stack table index (never 0: only blocks with a stack get a record) */
} sr__pblock;

/* The profiler's bits in sr__hdr.flags (the high byte, SR__FLAGS_PROF_MASK):
   the mark epoch the block was allocated in (1..SR__PROF_EPOCH_MAX; 0 = before
   the last renumbering) and whether the block table holds a record for it. */
#define SR__PROF_EPOCH_SHIFT 8u
#define SR__PROF_EPOCH_MASK  0x7f00u
#define SR__PROF_EPOCH_MAX   127u
#define SR__PROF_RECORD      0x8000u

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
    uint64_t untracked;              /* sampled blocks whose record could not be stored */

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
    uint32_t epoch;                  /* 1..SR__PROF_EPOCH_MAX */
    uint16_t tag;                    /* epoch << SR__PROF_EPOCH_SHIFT: what new blocks carry */
    /* Live blocks allocated since the mark, per class (index 0 objects, 1 raw
       blocks), are live now - (live at the mark - older blocks freed since):
       an allocation needs no leak bookkeeping, a free only when the block is
       older than the mark (sr__profiler_leaks does the sums). */
    size_t mark_count[2], mark_bytes[2];       /* live at the mark */
    size_t old_frees[2], old_free_bytes[2];    /* blocks from before the mark freed since */

    /* sr_profiler_stats output (valid until the next profiler call) */
    sr_type_profile *out;
    size_t out_cap;                  /* > type_cap: never grown by sr_profiler_stats */

    struct sr__bt_cache *bt_cache;   /* symbolization cache, made at the first report */
    size_t bytes;                    /* own memory, through sr__sys_* (the cache's included) */
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

/* A diff as allocated: the public part first. */
struct sr__diff_alloc {
    sr_profile_diff d;
    sr_profile_diff_entry *types, *stacks;
    size_t depth;          /* frames shown per stack (the newer snapshot's depth) */
};

/* Live blocks allocated since the mark: objects and raw blocks, counts and bytes. */
typedef struct sr__leaks { size_t objects, object_bytes, raw, raw_bytes; } sr__leaks;
sr__leaks sr__profiler_leaks(const sr__profiler *p);
/* The stack-table index of a live block's allocation stack; 0 when none was kept. */
uint32_t sr__profiler_stack_of(const sr__profiler *p, const struct sr__hdr *h);
/* Builds a view of rt's profile (malloc'd; NULL when out of memory). */
sr_profiler_snapshot *sr__profiler_view(sr_runtime *rt);
/* Type name of a category: "<raw>", the registered name, or "<other types>". */
const char *sr__profiler_type_name(sr_runtime *rt, uint32_t slot);

/* report.c: the writers. Each returns a malloc'd string or NULL. `rt` may be
   NULL for a detached snapshot (no leak section then). */
char *sr__report_render(sr_runtime *rt, const sr_profiler_snapshot *v, sr_report_format fmt);
char *sr__report_leaks_at_exit(sr_runtime *rt);

/* ---- the heap's hooks, inline ------------------------------------------------------- *
 * The common case of a profiled allocation — a known type, no stack to take
 * now (sampling) — and of a profiled free — a block without a side record —
 * is a few counter updates and the epoch in the header: no table, no call.
 * Everything else goes to the general paths in profiler.c. The macros take
 * rt->prof at the call site, where struct sr_runtime is complete. */

#define sr__profiler_on_alloc(rt, h, charge) sr__prof_alloc_hot((rt)->prof, (rt), (h), (charge))
#define sr__profiler_on_free(rt, h, charge)  sr__prof_free_hot((rt)->prof, (rt), (h), (charge))

static inline size_t sr__pb_home(const sr__profiler *p, uintptr_t key)
{
    return (size_t)(((uint64_t)(key >> 4) * 0x9E3779B97F4A7C15ull) >> p->block_shift);
}

static inline uint32_t sr__prof_slot_of(const struct sr__hdr *h)
{
    return (h->info & SR__KIND_MASK) == SR__KIND_OBJ ? h->info >> 8 : SR__PROF_RAW_SLOT;
}

/* A block is freed: if it is older than the mark, the leak baseline learns it. */
static inline void sr__prof_leak_free(sr__profiler *p, uint16_t flags, uint32_t slot, size_t charge)
{
    if ((flags & SR__PROF_EPOCH_MASK) != p->tag) {
        unsigned raw = slot == SR__PROF_RAW_SLOT;
        p->old_frees[raw]++;
        p->old_free_bytes[raw] += charge;
    }
}

static inline struct sr__hdr *sr__prof_alloc_hot(sr__profiler *p, sr_runtime *rt, struct sr__hdr *h, size_t charge)
{
    uint32_t slot = sr__prof_slot_of(h);
    /* countdown stays 0 when every allocation is sampled */
    if (__builtin_expect(slot >= p->type_cap || (uint64_t)charge >= (uint64_t)p->countdown, 0))
        return sr__profiler_alloc_slow(rt, h, charge);
    p->countdown -= (int64_t)charge;
    sr__ptype *t = &p->types[slot];
    t->allocations++;
    t->bytes += charge;
    if (t->bytes > t->peak) t->peak = t->bytes;
    h->flags = (uint16_t)((h->flags & SR__FLAGS_USER_MASK) | p->tag);
    return h;
}

static inline struct sr__hdr *sr__prof_free_hot(sr__profiler *p, sr_runtime *rt, struct sr__hdr *h, size_t charge)
{
    uint32_t slot = sr__prof_slot_of(h);
    uint16_t f = h->flags;
    if (__builtin_expect(slot >= p->type_cap || (f & SR__PROF_RECORD), 0))
        return sr__profiler_free_slow(rt, h, charge);
    sr__ptype *t = &p->types[slot];
    t->frees++;
    t->bytes -= charge;
    sr__prof_leak_free(p, f, slot, charge);
    return h;
}

#endif
