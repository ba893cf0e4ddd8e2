/*
 * bench_profiler.c - the cost of profiling on an alloc+free loop, measured in
 * one run against the same loop with profiling off: every allocation's stack
 * recorded, stacks sampled (about one per N bytes), and, for scale, the cost
 * of rendering the reports afterwards.
 *
 * Anchors measured on these machines for the same loop: CPython's tracemalloc
 * costs about 10x, valgrind's massif about 45x. Goal: <= 2x with sampling.
 */
#include "bench_util.h"

#include <scriptrt.h>

enum { N = 1000000, WINDOW = 64 };

typedef struct { sr_runtime *rt; size_t size; } ctx_t;

/* A sliding window of live blocks (the heap benchmark's loop). */
static __attribute__((noinline)) uint64_t run_loop(void *p)
{
    ctx_t *c = p;
    void *w[WINDOW] = {0};
    for (unsigned i = 0; i < N; i++) {
        unsigned k = i % WINDOW;
        sr_free(c->rt, w[k]);
        w[k] = sr_alloc(c->rt, c->size + (i & 7) * 4);
        bench_escape(w[k]);
    }
    for (unsigned k = 0; k < WINDOW; k++) sr_free(c->rt, w[k]);
    return N;
}

static sr_runtime *make(bool profiling, size_t sample_bytes)
{
    sr_config cfg = sr_config_default();
    cfg.enable_profiling = profiling;
    cfg.profiler_sample_bytes = sample_bytes;
    cfg.max_heap_size = 1u << 30;
    sr_runtime *rt = NULL;
    if (sr_runtime_new(&cfg, &rt) != SR_OK) exit(1);
    return rt;
}

int main(void)
{
    struct { const char *name; bool on; size_t sample; } modes[] = {
        { "profiling off", false, 0 },
        { "on, sampled every ~512 KiB (tcmalloc's default)", true, 512 * 1024 },
        { "on, sampled every ~64 KiB", true, 64 * 1024 },
        { "on, sampled every ~4 KiB", true, 4 * 1024 },
        { "on, every allocation's stack", true, 0 },
    };
    enum { M = sizeof modes / sizeof modes[0] };
    sr_runtime *rts[M];
    for (int m = 0; m < M; m++) rts[m] = make(modes[m].on, modes[m].sample);

    printf("profiler: sr_alloc+sr_free pairs, %d ops, median of %d runs (ns per pair)\n", N, SR_BENCH_REPEATS);
    const size_t sizes[] = { 16, 200 };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        printf(" size %zu..%zu bytes\n", sizes[s], sizes[s] + 28);
        double base = 0;
        for (int m = 0; m < M; m++) {
            ctx_t c = { rts[m], sizes[s] };
            double t = bench_median_ns(run_loop, &c, SR_BENCH_REPEATS);
            if (m == 0) base = t;
            bench_row(modes[m].name, t, "ns", "");
            if (m > 0) {
                char name[96];
                snprintf(name, sizeof name, "  ratio to off");
                bench_row(name, t / base, "x", modes[m].sample >= 4096 ? "(goal <= 2.0)" : "(tracemalloc ~10x)");
            }
        }
    }

    /* reports: what a host pays when it asks (live stacks are few here) */
    printf(" reports after the loops (ms)\n");
    sr_runtime *rt = rts[M - 1];
    void *keep[256];
    for (int i = 0; i < 256; i++) keep[i] = sr_alloc(rt, (size_t)i * 8);
    const char *fmt_names[] = { "TEXT", "JSON", "FOLDED" };
    for (int f = 0; f < 3; f++) {
        uint64_t t0 = bench_now_ns();
        char *r = sr_profiler_report(rt, (sr_report_format)f);
        uint64_t t1 = bench_now_ns();
        char name[64];
        snprintf(name, sizeof name, "sr_profiler_report %s (%zu bytes)", fmt_names[f], r ? strlen(r) : 0);
        bench_row(name, (double)(t1 - t0) / 1e6, "ms", "");
        free(r);
    }
    sr_stats st;
    sr_runtime_stats(rt, &st);
    bench_row("profiler memory (every stack, after the loops)", (double)st.profiler_bytes / 1024.0, "KiB", "");
    for (int i = 0; i < 256; i++) sr_free(rt, keep[i]);
    for (int m = 0; m < M; m++) sr_runtime_free(rts[m]);
    return 0;
}
