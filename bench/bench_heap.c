/*
 * bench_heap.c - allocate+free pairs of small blocks: scriptrt's heap against
 * glibc malloc (and mimalloc when libmimalloc-dev is installed), same run; and
 * sr_heap_trim after a 256 MiB peak (SR_BENCH_TRIM_MIB=1024 for the figures in
 * docs/memory.md; 0 skips).
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

/* ---- trimming after a peak ------------------------------------------------------------ */

/* malloc/realloc/free that can be told to refuse the next call: the trim's
   scratch table, to time the path that scans the pages instead. */
typedef struct { int refuse_next; } trim_sys;
static void *trim_malloc(size_t n, void *ud)
{
    trim_sys *t = ud;
    if (t->refuse_next) { t->refuse_next = 0; return NULL; }
    return malloc(n);
}
static void *trim_realloc(void *p, size_t n, void *ud) { (void)ud; return realloc(p, n); }
static void trim_free(void *p, void *ud) { (void)ud; free(p); }

static uint64_t trim_rand(uint64_t *s)
{
    *s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

/* Fills `bytes` of heap with blocks of 48..304 bytes (several classes), frees
   them all but the oldest `keep_permille` per mille (in allocation order, or shuffled),
   then trims; prints reserved before/after and the trim's time. */
static void trim_case(size_t bytes, unsigned keep_permille, int shuffled, int scan)
{
    trim_sys ts = {0};
    sr_config cfg = sr_config_default();
    cfg.enable_profiling = false;
    cfg.allocator = (sr_allocator){ trim_malloc, trim_realloc, trim_free, &ts };
    sr_runtime *rt = NULL;
    if (sr_runtime_new(&cfg, &rt) != SR_OK) return;
    size_t cap = bytes / 48 + 1, n = 0, used = 0;
    void **ps = malloc(cap * sizeof *ps);
    size_t *order = malloc(cap * sizeof *order);
    if (!ps || !order) { free(ps); free(order); sr_runtime_free(rt); return; }
    uint64_t seed = 88172645463325252ull;
    while (used < bytes && n < cap) {
        size_t sz = 48 + (size_t)(trim_rand(&seed) % 9) * 32;
        ps[n] = sr_alloc(rt, sz);
        if (!ps[n]) break;
        used += sr_alloc_charge(sz);
        n++;
    }
    size_t keep = n / 1000 * keep_permille;
    size_t m = 0;
    for (size_t i = keep; i < n; i++) order[m++] = i;
    if (shuffled)
        for (size_t i = m; i > 1; i--) {
            size_t j = (size_t)(trim_rand(&seed) % i);
            size_t t = order[i - 1]; order[i - 1] = order[j]; order[j] = t;
        }
    for (size_t i = 0; i < m; i++) sr_free(rt, ps[order[i]]);
    sr_stats a, b;
    sr_runtime_stats(rt, &a);
    ts.refuse_next = scan;
    uint64_t t0 = bench_now_ns();
    size_t released = sr_heap_trim(rt);
    uint64_t t1 = bench_now_ns();
    sr_runtime_stats(rt, &b);
    double ms = (double)(t1 - t0) / 1e6;
    printf(" keep %5.1f%%, frees %-9s %-10s: reserved %7.1f -> %7.1f MiB (used %6.1f MiB), released %7.1f MiB"
           " in %7.2f ms = %5.0f ns/page, %4.1f ns/free block\n",
           keep_permille / 10.0, shuffled ? "shuffled" : "in order", scan ? "no scratch" : "auto",
           (double)a.heap_reserved / 1048576.0, (double)b.heap_reserved / 1048576.0,
           (double)b.heap_used / 1048576.0, (double)released / 1048576.0, ms,
           (double)(t1 - t0) / (double)(a.heap_reserved / 65536),
           (double)(t1 - t0) / (double)(m ? m : 1));
    for (size_t i = 0; i < keep; i++) sr_free(rt, ps[i]);
    free(ps);
    free(order);
    sr_runtime_free(rt);
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

    const char *mib = getenv("SR_BENCH_TRIM_MIB");
    size_t trim_bytes = (mib ? (size_t)strtoul(mib, NULL, 10) : 256u) << 20;
    if (trim_bytes) {
        printf("heap: sr_heap_trim after a %zu MiB peak of 48..304-byte blocks (one run each)\n", trim_bytes >> 20);
        for (int shuffled = 0; shuffled < 2; shuffled++)
            for (int scan = 0; scan < 2; scan++) {
                trim_case(trim_bytes, 0, shuffled, scan);
                trim_case(trim_bytes, 100, shuffled, scan);
                trim_case(trim_bytes, 950, shuffled, scan);
                trim_case(trim_bytes, 996, shuffled, scan);   /* few free blocks: the sparse count */
            }
    }
    return 0;
}
