/*
 * runtime.c - configuration, lifecycle, the default runtime, statistics.
 *
 * Creation runs each module's init in order and unwinds with a goto ladder on
 * failure, so a runtime that cannot be built frees what it took. Teardown runs
 * in the order the API promises: collect cycles, report what is still alive,
 * finalize every live object, then return every byte.
 *
 * The default runtime is the one piece of process-wide mutable state: a pointer
 * guarded by a mutex for init/shutdown and read atomically by sr_runtime_get.
 */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const sr__status_text[] = {
#define SR__STATUS_TEXT(name, text) text,
    SR_STATUS_LIST(SR__STATUS_TEXT)
#undef SR__STATUS_TEXT
};
static const char *const sr__status_names[] = {
#define SR__STATUS_NAME(name, text) #name,
    SR_STATUS_LIST(SR__STATUS_NAME)
#undef SR__STATUS_NAME
};

const char *sr_status_str(sr_status s)
{
    if ((unsigned)s >= (unsigned)SR__STATUS_COUNT) return "unknown status";
    return sr__status_text[s];
}

const char *sr_status_name(sr_status s)
{
    if ((unsigned)s >= (unsigned)SR__STATUS_COUNT) return "SR_UNKNOWN";
    return sr__status_names[s];
}

const char *sr_version(void) { return SR_VERSION_STRING; }

uint64_t sr__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the underlying allocator ---------------------------------------------------- */

static void *sr__libc_malloc(size_t size, void *ud) { SR__UNUSED(ud); return malloc(size); }
static void *sr__libc_realloc(void *p, size_t size, void *ud) { SR__UNUSED(ud); return realloc(p, size); }
static void  sr__libc_free(void *p, void *ud) { SR__UNUSED(ud); free(p); }

void *sr__sys_alloc(sr_runtime *rt, size_t size)
{
    void *p = rt->sys.malloc(size ? size : 1, rt->sys.ud);
    if (p) rt->internal_bytes += size;
    return p;
}

void *sr__sys_calloc(sr_runtime *rt, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return NULL;
    void *p = sr__sys_alloc(rt, n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

void *sr__sys_realloc(sr_runtime *rt, void *ptr, size_t old_size, size_t new_size)
{
    if (!ptr) return sr__sys_alloc(rt, new_size);
    void *p = rt->sys.realloc(ptr, new_size ? new_size : 1, rt->sys.ud);
    if (p) rt->internal_bytes = rt->internal_bytes - old_size + new_size;
    return p;
}

void sr__sys_free(sr_runtime *rt, void *ptr, size_t size)
{
    if (!ptr) return;
    rt->sys.free(ptr, rt->sys.ud);
    rt->internal_bytes -= size;
}

/* ---- configuration ---------------------------------------------------------------- */

sr_config sr_config_default(void)
{
    sr_config c;
    memset(&c, 0, sizeof c);
    c.max_heap_size = 0;
#ifdef NDEBUG
    c.enable_profiling = false;
#else
    c.enable_profiling = true;
#endif
    c.enable_gc = true;
    c.gc_threshold = SR_DEFAULT_GC_THRESHOLD;
    c.enable_panic_handler = true;
    c.stack_size = SR_DEFAULT_STACK_SIZE;
    c.panic_history_size = SR_DEFAULT_PANIC_HISTORY;
    return c;
}

sr_status sr_config_validate(const sr_config *cfg)
{
    if (!cfg) return SR_ERR_INVALID;
    if (cfg->stack_size < SR_MIN_STACK_SIZE) return SR_ERR_INVALID;
    const sr_allocator *a = &cfg->allocator;
    int set = (a->malloc != NULL) + (a->realloc != NULL) + (a->free != NULL);
    if (set != 0 && set != 3) return SR_ERR_INVALID;
    if (cfg->profiler_stack_depth > 32) return SR_ERR_INVALID;
    if (cfg->max_heap_size != 0 && cfg->max_heap_size < SR__HDR_SIZE) return SR_ERR_INVALID;
    if (cfg->panic_history_size > 65536) return SR_ERR_INVALID;
    return SR_OK;
}

static sr_config sr__config_fill(const sr_config *cfg)
{
    sr_config c = cfg ? *cfg : sr_config_default();
    if (c.gc_threshold == 0) c.gc_threshold = SR_DEFAULT_GC_THRESHOLD;
    if (c.panic_history_size == 0) c.panic_history_size = SR_DEFAULT_PANIC_HISTORY;
    if (c.profiler_stack_depth == 0) c.profiler_stack_depth = 8;
    if (c.profiler_sample_bytes == 0) c.profiler_sample_bytes = SR_DEFAULT_PROFILER_SAMPLE_BYTES;
    return c;
}

/* ---- lifecycle -------------------------------------------------------------------- */

sr_status sr_runtime_new(const sr_config *cfg, sr_runtime **out)
{
    if (!out) return SR_ERR_INVALID;
    *out = NULL;
    sr_config c = sr__config_fill(cfg);
    sr_status st = sr_config_validate(&c);
    if (st != SR_OK) return st;

    sr_allocator sys = c.allocator;
    if (!sys.malloc) {
        sys.malloc = sr__libc_malloc;
        sys.realloc = sr__libc_realloc;
        sys.free = sr__libc_free;
        sys.ud = NULL;
    }
    sr_runtime *rt = sys.malloc(sizeof *rt, sys.ud);
    if (!rt) return SR_ERR_NOMEM;
    memset(rt, 0, sizeof *rt);
    rt->cfg = c;
    rt->sys = sys;
    rt->internal_bytes = sizeof *rt;
    rt->created_ns = sr__now_ns();
    sr__heap_init(rt);

    if ((st = sr__types_init(rt)) != SR_OK) goto fail_types;
    if ((st = sr__gc_init(rt)) != SR_OK) goto fail_gc;
    if ((st = sr__panic_init(rt)) != SR_OK) goto fail_panic;
    if ((st = sr__profiler_init(rt)) != SR_OK) goto fail_profiler;
    *out = rt;
    return SR_OK;

fail_profiler:
    sr__panic_fini(rt);
fail_panic:
    sr__gc_fini(rt);
fail_gc:
    sr__types_fini(rt);
fail_types:
    sr__heap_destroy(rt);
    sys.free(rt, sys.ud);
    return st;
}

static void sr__runtime_destroy(sr_runtime *rt)
{
    rt->tearing_down = true;
    /* 1. cycles die the normal way: finalizers see a consistent heap */
    sr__gc_teardown(rt);
    /* 2. what is still alive now is a leak the host may want to hear about */
    sr__profiler_teardown_report(rt);
    /* 3. finalize every object still alive, touching none after that */
    sr__objects_teardown(rt);
    /* 4. return every byte */
    sr__profiler_fini(rt);
    sr__panic_fini(rt);
    sr__gc_fini(rt);
    sr__types_fini(rt);
    sr__heap_destroy(rt);
    sr_allocator sys = rt->sys;
    sys.free(rt, sys.ud);
}

void sr_runtime_free(sr_runtime *rt)
{
    if (!rt || rt->is_default) return;
    sr__runtime_destroy(rt);
}

const sr_config *sr_runtime_config(const sr_runtime *rt) { return rt ? &rt->cfg : NULL; }

/* The default runtime. */
static pthread_mutex_t sr__default_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(sr_runtime *) sr__default_rt;

sr_status sr_runtime_init(const sr_config *cfg)
{
    pthread_mutex_lock(&sr__default_lock);
    sr_status st = SR_ERR_STATE;
    if (atomic_load_explicit(&sr__default_rt, memory_order_relaxed) == NULL) {
        sr_runtime *rt = NULL;
        st = sr_runtime_new(cfg, &rt);
        if (st == SR_OK) {
            rt->is_default = true;
            atomic_store_explicit(&sr__default_rt, rt, memory_order_release);
        }
    }
    pthread_mutex_unlock(&sr__default_lock);
    return st;
}

sr_runtime *sr_runtime_get(void)
{
    return atomic_load_explicit(&sr__default_rt, memory_order_acquire);
}

sr_status sr_runtime_shutdown(void)
{
    pthread_mutex_lock(&sr__default_lock);
    sr_runtime *rt = atomic_load_explicit(&sr__default_rt, memory_order_relaxed);
    if (rt) {
        atomic_store_explicit(&sr__default_rt, NULL, memory_order_release);
        sr__runtime_destroy(rt);
    }
    pthread_mutex_unlock(&sr__default_lock);
    return rt ? SR_OK : SR_ERR_STATE;
}

sr_status sr_runtime_set_heap_limit(sr_runtime *rt, size_t max_heap_size)
{
    if (!rt) return SR_ERR_INVALID;
    if (max_heap_size != 0 && rt->heap.used > max_heap_size) {
        sr__gc_emergency(rt);
        if (rt->heap.used > max_heap_size) return SR_ERR_NOMEM;
    }
    rt->heap.limit = max_heap_size;
    rt->cfg.max_heap_size = max_heap_size;
    return SR_OK;
}

void sr_runtime_stats(sr_runtime *rt, sr_stats *out)
{
    if (!rt || !out) return;
    memset(out, 0, sizeof *out);
    out->uptime_ns = sr__now_ns() - rt->created_ns;
    out->heap_used = rt->heap.used;
    out->heap_peak = rt->heap.peak;
    out->heap_limit = rt->heap.limit;
    out->allocations = rt->heap.allocations;
    out->frees = rt->heap.frees;
    out->live_objects = rt->heap.live_objects;
    out->live_blocks = rt->heap.live_blocks;
    out->failed_allocations = rt->heap.failed;
    out->heap_reserved = rt->heap.reserved;
    out->heap_trimmed = rt->heap.trimmed;
    out->internal_bytes = rt->internal_bytes;
    sr__gc_stats(rt, out);
    sr__panic_stats(rt, out);
    sr__profiler_fill_stats(rt, out);
}
