/*
 * bench_heap.c - allocate+free pairs of small blocks: scriptrt's heap against
 * glibc malloc (and mimalloc when libmimalloc-dev is installed), same run.
 */
#include "bench_util.h"

#include <scriptrt.h>

#include <dlfcn.h>

/* mimalloc (libmimalloc-dev), loaded locally so it does not replace malloc. */
static void *(*mi_malloc_fn)(size_t);
static void (*mi_free_fn)(void *);

enum { N = 1000000 };

typedef struct { sr_runtime *rt; size_t size; } ctx_t;

/* A sliding window of live blocks, so the allocator cannot just hand back the
   block it got a moment ago every time. */
static uint64_t run_sr(void *p)
{
    ctx_t *c = p;
    return bench_window_blocks(c->rt, N, c->size);
}

static uint64_t run_malloc(void *p)
{
    ctx_t *c = p;
    void *w[BENCH_WINDOW] = {0};
    for (unsigned i = 0; i < N; i++) {
        unsigned k = i % BENCH_WINDOW;
        free(w[k]);
        w[k] = malloc(c->size + (i & 7) * 4);
        bench_escape(w[k]);
    }
    for (unsigned k = 0; k < BENCH_WINDOW; k++) free(w[k]);
    return N;
}

static uint64_t run_mimalloc(void *p)
{
    ctx_t *c = p;
    void *w[BENCH_WINDOW] = {0};
    for (unsigned i = 0; i < N; i++) {
        unsigned k = i % BENCH_WINDOW;
        mi_free_fn(w[k]);
        w[k] = mi_malloc_fn(c->size + (i & 7) * 4);
        bench_escape(w[k]);
    }
    for (unsigned k = 0; k < BENCH_WINDOW; k++) mi_free_fn(w[k]);
    return N;
}

int main(void)
{
    sr_config cfg = sr_config_default();
    cfg.enable_profiling = false;
    cfg.max_heap_size = 1u << 30;      /* a limit in force: the check is on the path */
    sr_runtime *rt = NULL;
    if (sr_runtime_new(&cfg, &rt) != SR_OK) return 1;
    void *mi = dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!mi) mi = dlopen("libmimalloc.so", RTLD_NOW | RTLD_LOCAL);
    if (mi) {
        *(void **)&mi_malloc_fn = dlsym(mi, "mi_malloc");
        *(void **)&mi_free_fn = dlsym(mi, "mi_free");
    }
    printf("heap: alloc+free pairs, %d ops, median of %d runs (ns per pair)\n", N, SR_BENCH_REPEATS);
    const size_t sizes[] = { 16, 48, 200 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        ctx_t c = { rt, sizes[i] };
        double sr = bench_median_ns(run_sr, &c, SR_BENCH_REPEATS);
        double gl = bench_median_ns(run_malloc, &c, SR_BENCH_REPEATS);
        printf(" size %zu..%zu bytes\n", sizes[i], sizes[i] + 28);
        bench_row("glibc malloc+free", gl, "ns", "");
        bench_row("sr_alloc+sr_free", sr, "ns", "");
        bench_row("ratio sr / glibc", sr / gl, "x", "(goal <= 1.0)");
        if (mi_malloc_fn && mi_free_fn) {
            double mn = bench_median_ns(run_mimalloc, &c, SR_BENCH_REPEATS);
            bench_row("mi_malloc+mi_free (dlopen'd)", mn, "ns", "");
            bench_row("ratio sr / mimalloc", sr / mn, "x", "");
        }
    }
    sr_runtime_free(rt);
    return 0;
}
