/*
 * exec_bench.c - sr-http-exec-bench: the cost of running one small program in
 * each isolation mode, without HTTP in the way.
 *
 *   sr-http-exec-bench [ROUNDS]        (default 15 rounds of 2,000 programs)
 *
 * For RESET (one runtime and interpreter per worker, restored after each
 * program) and FRESH (a new runtime and interpreter per program) it runs the
 * same program through hs_worker_run with the server's default limits, and
 * prints the median over rounds of the thread CPU time per program, and the
 * ratio. Rounds alternate between the modes so that load on the machine hits
 * both alike.
 */
#define _GNU_SOURCE
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HS_BENCH_BATCH 2000

static const char hs__prog[] =
    "(define (sum n acc) (if (= n 0) acc (sum (- n 1) (+ acc n)))) (display (sum 100 0)) (newline)";

static double hs__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int hs__cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double hs__batch(hs_worker *w)
{
    double t0 = hs__now_ns();
    for (int i = 0; i < HS_BENCH_BATCH; i++) {
        hs_outcome o;
        hs_worker_run(w, hs__prog, sizeof hs__prog - 1, &o);
        if (o.kind != HS_KIND_OK || o.body.len != 5 || memcmp(o.body.data, "5050\n", 5)) {
            fprintf(stderr, "unexpected outcome: %s\n", o.body.data ? o.body.data : "(none)");
            exit(1);
        }
        hs_buf_free(&o.body);
    }
    return (hs__now_ns() - t0) / HS_BENCH_BATCH;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 15;
    if (rounds < 1 || rounds > 1000) rounds = 15;
    hs_limits lim = { (size_t)32 << 20, 1000, (size_t)8 << 20, (size_t)1 << 20 };
    const char *why = "?";
    hs_worker *reset = hs_worker_new(&lim, HS_MODE_RESET, &why);
    hs_worker *fresh = reset ? hs_worker_new(&lim, HS_MODE_FRESH, &why) : NULL;
    if (!fresh) { fprintf(stderr, "cannot create a worker: %s\n", why); hs_worker_free(reset); return 1; }
    double *tr = calloc((size_t)rounds, sizeof *tr), *tf = calloc((size_t)rounds, sizeof *tf);
    if (!tr || !tf) return 1;
    hs__batch(reset);   /* warm-up */
    hs__batch(fresh);
    for (int r = 0; r < rounds; r++) {
        tr[r] = hs__batch(reset);
        tf[r] = hs__batch(fresh);
    }
    qsort(tr, (size_t)rounds, sizeof *tr, hs__cmp);
    qsort(tf, (size_t)rounds, sizeof *tf, hs__cmp);
    double mr = tr[rounds / 2], mf = tf[rounds / 2];
    printf("program: %s\n", hs__prog);
    printf("reset (runtime kept, interpreter restored): %8.2f us/program (CPU, median of %d x %d)\n", mr / 1e3,
           rounds, HS_BENCH_BATCH);
    printf("fresh (new runtime + interpreter)          : %8.2f us/program\n", mf / 1e3);
    printf("fresh / reset                              : %8.2fx  (rebuilds during reset: %llu)\n", mf / mr,
           (unsigned long long)hs_worker_rebuilds(reset));
    free(tr);
    free(tf);
    hs_worker_free(reset);
    hs_worker_free(fresh);
    return 0;
}
