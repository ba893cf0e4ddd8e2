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

enum { N = 1000000, REPEATS = 9 };

typedef struct { sr_runtime *rt; size_t size; sr_type_id type; } ctx_t;

/* A sliding window of live blocks (the heap benchmark's loop). */
static __attribute__((noinline)) uint64_t run_loop(void *p)
{
    ctx_t *c = p;
    return bench_window_blocks(c->rt, N, c->size);
}

/* The same window with objects: sr_rc_new + sr_rc_release. */
static __attribute__((noinline)) uint64_t run_objects(void *p)
{
    ctx_t *c = p;
    return bench_window_objects(c->rt, N, c->type);
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
        { "on (default: a stack per ~512 KiB, as tcmalloc)", true, 0 },
        { "on, sampled every ~64 KiB", true, 64 * 1024 },
        { "on, sampled every ~4 KiB", true, 4 * 1024 },
        { "on, every allocation's stack", true, SR_PROFILER_EVERY_ALLOCATION },
    };
    enum { M = sizeof modes / sizeof modes[0] };
    sr_runtime *rts[M];
    for (int m = 0; m < M; m++) rts[m] = make(modes[m].on, modes[m].sample);

    printf("profiler: alloc+free pairs, %d ops, median of %d interleaved runs (ns per pair)\n", N, REPEATS);
    sr_type_id types[M];
    for (int m = 0; m < M; m++) {
        sr_type t = { "Bench", 24, NULL, 0, NULL, NULL };
        if (sr_type_register(rts[m], &t, &types[m]) != SR_OK) return 1;
    }
    const size_t sizes[] = { 16, 200, 0 };   /* 0: objects of a 24-byte type */
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        if (sizes[s]) printf(" sr_alloc+sr_free, size %zu..%zu bytes\n", sizes[s], sizes[s] + 28);
        else printf(" sr_rc_new+sr_rc_release, 24-byte payload\n");
        /* the modes take turns in every repeat, so a noisy neighbour slows all alike */
        double t[M][REPEATS];
        for (int r = 0; r < REPEATS; r++) {
            for (int m = 0; m < M; m++) {
                ctx_t c = { rts[m], sizes[s], types[m] };
                uint64_t t0 = bench_now_ns();
                uint64_t ops = sizes[s] ? run_loop(&c) : run_objects(&c);
                t[m][r] = (double)(bench_now_ns() - t0) / (double)ops;
            }
        }
        double base = 0;
        for (int m = 0; m < M; m++) {
            qsort(t[m], REPEATS, sizeof t[m][0], bench_cmp_double);
            double v = t[m][REPEATS / 2];
            if (m == 0) base = v;
            bench_row(modes[m].name, v, "ns", "");
            if (m > 0)
                bench_row("  ratio to off", v / base, "x", modes[m].sample != SR_PROFILER_EVERY_ALLOCATION ? "(goal <= 2.0)" : "(tracemalloc ~10x)");
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
