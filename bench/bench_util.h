/*
 * bench_util.h - timing helpers shared by the benchmarks.
 *
 * Every figure is the median of SR_BENCH_REPEATS runs; ratios compare against a
 * baseline measured in the same process, so a noisy shared machine moves both.
 */
#ifndef SR_BENCH_UTIL_H
#define SR_BENCH_UTIL_H

#include <scriptrt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef SR_BENCH_REPEATS
#define SR_BENCH_REPEATS 7
#endif

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of `repeats` runs of fn(ctx) in ns per operation (fn returns its op count). */
static inline double bench_median_ns(uint64_t (*fn)(void *ctx), void *ctx, int repeats)
{
    double v[64];
    if (repeats > 64) repeats = 64;
    for (int i = 0; i < repeats; i++) {
        uint64_t t0 = bench_now_ns();
        uint64_t ops = fn(ctx);
        uint64_t t1 = bench_now_ns();
        v[i] = ops ? (double)(t1 - t0) / (double)ops : 0.0;
    }
    qsort(v, (size_t)repeats, sizeof v[0], bench_cmp_double);
    return v[repeats / 2];
}

/* Keeps the compiler from deleting a computation. */
static inline void bench_escape(void *p) { __asm__ volatile("" : : "g"(p) : "memory"); }

/* The allocation loops the heap, object and profiler benchmarks share: a sliding
   window of BENCH_WINDOW live blocks, so an allocator cannot simply hand back the
   block it got a moment ago. Raw blocks vary their size by 0..28 bytes. */
enum { BENCH_WINDOW = 64 };

static inline uint64_t bench_window_blocks(sr_runtime *rt, unsigned n, size_t size)
{
    void *w[BENCH_WINDOW] = {0};
    for (unsigned i = 0; i < n; i++) {
        unsigned k = i % BENCH_WINDOW;
        sr_free(rt, w[k]);
        w[k] = sr_alloc(rt, size + (i & 7) * 4);
        bench_escape(w[k]);
    }
    for (unsigned k = 0; k < BENCH_WINDOW; k++) sr_free(rt, w[k]);
    return n;
}

static inline uint64_t bench_window_objects(sr_runtime *rt, unsigned n, sr_type_id type)
{
    void *w[BENCH_WINDOW] = {0};
    for (unsigned i = 0; i < n; i++) {
        unsigned k = i % BENCH_WINDOW;
        sr_rc_release(rt, w[k]);
        w[k] = sr_rc_new(rt, type);
        bench_escape(w[k]);
    }
    for (unsigned k = 0; k < BENCH_WINDOW; k++) sr_rc_release(rt, w[k]);
    return n;
}

static inline void bench_row(const char *name, double value, const char *unit, const char *goal)
{
    printf("  %-52s %10.2f %-6s %s\n", name, value, unit, goal ? goal : "");
}

#endif
