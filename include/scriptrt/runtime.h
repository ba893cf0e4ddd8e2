/*
 * scriptrt/runtime.h - configuration, lifecycle and statistics.
 */
#ifndef SCRIPTRT_RUNTIME_H
#define SCRIPTRT_RUNTIME_H

#include "scriptrt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The underlying allocator a runtime takes all of its memory from: object and
 * block pages, large blocks and its own bookkeeping. All three functions set, or
 * all three NULL for the C library's malloc/realloc/free. `realloc` follows C
 * semantics (on failure it returns NULL and leaves the old block intact); the
 * runtime never calls it with size 0. `free` may receive NULL. The runtime
 * returns every byte it took before sr_runtime_free/sr_runtime_shutdown returns.
 */
typedef struct sr_allocator {
    void *(*malloc)(size_t size, void *ud);
    void *(*realloc)(void *ptr, size_t size, void *ud);
    void  (*free)(void *ptr, void *ud);
    void  *ud;
} sr_allocator;

/* Where the profiler's shutdown leak report goes (NULL in the config = stderr). */
typedef void (*sr_report_sink)(sr_runtime *rt, const char *report, void *ud);

typedef struct sr_config {
    size_t max_heap_size;       /* bytes; 0 = unlimited */
    bool   enable_profiling;    /* per-type stats, allocation sites, leak reports */
    bool   enable_gc;           /* cycle collection (automatic and manual) */
    size_t gc_threshold;        /* allocations between automatic collections; 0 = the default */
    bool   enable_panic_handler;/* backtraces, hooks and history on panic */
    size_t stack_size;          /* stack budget of protected execution, bytes (>= SR_MIN_STACK_SIZE) */
    /* ---- appended fields ---- */
    sr_allocator allocator;     /* all NULL = malloc/realloc/free */
    size_t panic_history_size;  /* panic records kept, newest first; 0 = 16 */
    bool   gc_stress;           /* collect before every allocation (tests: flushes out missed edges) */
    size_t profiler_stack_depth;/* frames recorded per allocation site; 0 = 8, at most 32 */
    size_t profiler_sample_bytes;/* a stack for about one allocation per N bytes; 0 = the default
                                    (SR_DEFAULT_PROFILER_SAMPLE_BYTES); SR_PROFILER_EVERY_ALLOCATION
                                    (1) = every allocation's stack */
    sr_report_sink leak_sink;   /* shutdown leak report destination; NULL = stderr */
    void  *leak_sink_ud;
    bool   heap_trim_on_collect;/* sr_gc_collect also runs sr_heap_trim (off by default) */
} sr_config;

#define SR_DEFAULT_GC_THRESHOLD  1000u
#define SR_DEFAULT_STACK_SIZE    (2u * 1024u * 1024u)
#define SR_MIN_STACK_SIZE        (64u * 1024u)
#define SR_DEFAULT_PANIC_HISTORY 16u
/* Stack sampling of the profiler: tcmalloc's and jemalloc's default interval. */
#define SR_DEFAULT_PROFILER_SAMPLE_BYTES (512u * 1024u)
#define SR_PROFILER_EVERY_ALLOCATION     1u

/* Unlimited heap, gc on, threshold 1000, panic handler on, stack 2 MiB, the C
   library allocator, profiling on in debug builds of the library (NDEBUG unset)
   and off otherwise. */
SR_API sr_config sr_config_default(void);

/* Checks a configuration without creating anything: SR_OK or SR_ERR_INVALID
   (stack_size below SR_MIN_STACK_SIZE, a partly set allocator, a stack depth
   above 32, a non-zero max_heap_size too small to hold anything). */
SR_API sr_status sr_config_validate(const sr_config *cfg);

/* The process-wide default runtime. Thread rule: init, get and shutdown may be
   called from any thread; they are serialized with each other, but the runtime
   itself is then used by one thread at a time like any other. */
SR_API sr_status   sr_runtime_init(const sr_config *cfg);  /* NULL = defaults; SR_ERR_STATE if already initialized;
                                                              SR_ERR_INVALID for a bad config; SR_ERR_NOMEM */
SR_API sr_runtime *sr_runtime_get(void);                   /* NULL when not initialized */
SR_API sr_status   sr_runtime_shutdown(void);              /* SR_ERR_STATE if not initialized; init works again afterwards */

/* Isolated instances: any number per process, each used by one thread at a time.
   Creation that fails part-way frees what it took (*out is then NULL). */
SR_API sr_status   sr_runtime_new(const sr_config *cfg, sr_runtime **out);  /* NULL cfg = defaults; NULL out -> SR_ERR_INVALID */
/* Collects cycles, reports what is still alive (profiler), finalizes every
   object still alive and returns every byte to the underlying allocator.
   NULL is a no-op. Never call it on the default runtime (use shutdown); that
   call is ignored. */
SR_API void        sr_runtime_free(sr_runtime *rt);

/* The configuration the runtime was created with (defaults filled in). */
SR_API const sr_config *sr_runtime_config(const sr_runtime *rt);

/* Changes the heap limit (0 = unlimited). A limit below the bytes in use now is
   refused with SR_ERR_NOMEM after one collection has tried to make room (that
   collection runs finalizers; a finalizer's panic reaches the caller's
   protected execution); NULL rt -> SR_ERR_INVALID. */
SR_API sr_status sr_runtime_set_heap_limit(sr_runtime *rt, size_t max_heap_size);

typedef struct sr_stats {
    uint64_t uptime_ns;
    size_t   heap_used;          /* bytes live now: objects (headers included) and raw blocks */
    size_t   heap_peak;
    size_t   heap_limit;         /* max_heap_size, 0 = unlimited */
    uint64_t allocations;        /* objects and raw blocks ever allocated */
    uint64_t frees;
    size_t   live_objects;
    uint64_t failed_allocations; /* refused at the limit or by the system */
    uint64_t gc_collections;
    uint64_t gc_objects_collected;
    uint64_t gc_total_pause_ns, gc_max_pause_ns;
    uint64_t panics;
    /* ---- appended fields ---- */
    size_t   live_blocks;        /* raw blocks (sr_alloc) live now */
    size_t   heap_reserved;      /* bytes taken from the underlying allocator for pages and large blocks */
    size_t   internal_bytes;     /* the runtime's own bookkeeping (not in heap_used) */
    uint64_t gc_objects_visited; /* objects the collector looked at, over all collections */
    size_t   gc_roots_buffered;  /* possible cycle roots buffered now */
    size_t   gc_effective_threshold; /* allocations that trigger the next automatic collection */
    uint64_t gc_emergency_collections; /* collections run because an allocation hit the limit */
    size_t   profiler_bytes;     /* the profiler's own memory (part of internal_bytes) */
    uint64_t heap_trimmed;       /* bytes of pages sr_heap_trim gave back, ever */
} sr_stats;

/* Fills *out; NULL rt or out leaves nothing written. */
SR_API void sr_runtime_stats(sr_runtime *rt, sr_stats *out);

#ifdef __cplusplus
}
#endif
#endif
