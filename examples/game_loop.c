/*
 * sr-game-loop - a host running a per-frame Scheme update under protected
 * execution, with a small gc_threshold so the cycle collector runs often.
 *
 *   sr-game-loop [FRAMES]        (default 600)
 *
 * The script keeps a world of entities; each entity is a closure over its own
 * state whose environment also points back at the entity list (a cycle), and
 * every frame spawns and drops some of them, so every frame leaves cyclic
 * garbage that only the collector reclaims. Every 50th frame the script fails
 * on purpose: the host reports the error and goes on with the next frame.
 * At the end it prints the frame-time and per-frame collection-pause
 * percentiles (p50, p99, max) and the heap before and after.
 */
#define _POSIX_C_SOURCE 200809L
#include "interp.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char sc__script[] =
    "(define world '())\n"
    "(define (make-entity id x dx)\n"
    "  (define self #f)\n"
    "  (define (step!) (set! x (+ x dx)) (when (or (< x 0) (> x 1000)) (set! dx (- dx))) x)\n"
    "  (set! self (lambda (msg) (cond ((eq? msg 'step) (step!)) ((eq? msg 'id) id) ((eq? msg 'self) self) (else x))))\n"
    "  self)\n"
    "(define (spawn! n frame)\n"
    "  (do ((i 0 (+ i 1))) ((= i n))\n"
    "    (set! world (cons (make-entity (+ (* frame 100) i) (* i 7) (- (modulo i 5) 2)) world))))\n"
    "(define (cull! keep)\n"
    "  (if (> (length world) keep) (set! world (list-tail world (- (length world) keep)))))\n"
    "(define (links es)\n"
    "  ; a doubly linked ring of the entities: vectors pointing at each other\n"
    "  (let ((nodes (map (lambda (e) (vector e #f #f)) es)))\n"
    "    (when (pair? nodes)\n"
    "      (let loop ((ns nodes) (prev (car (reverse nodes))))\n"
    "        (when (pair? ns)\n"
    "          (vector-set! (car ns) 1 prev) (vector-set! prev 2 (car ns))\n"
    "          (loop (cdr ns) (car ns)))))\n"
    "    (length nodes)))\n"
    "(define (update frame)\n"
    "  (spawn! 20 frame)\n"
    "  (for-each (lambda (e) (e 'step)) world)\n"
    "  (links world)\n"
    "  (cull! 200)\n"
    "  (if (= (modulo frame 50) 49) (error \"scripted failure in frame\" frame))\n"
    "  (length world))\n";

static uint64_t sc__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int sc__cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void sc__percentiles(const char *what, uint64_t *v, size_t n)
{
    qsort(v, n, sizeof v[0], sc__cmp_u64);
    size_t p50 = n / 2, p99 = (n * 99) / 100;
    if (p99 >= n) p99 = n - 1;
    printf("%-26s p50 %8.1f us   p99 %8.1f us   max %8.1f us\n", what, (double)v[p50] / 1e3,
           (double)v[p99] / 1e3, (double)v[n - 1] / 1e3);
}

int main(int argc, char **argv)
{
    long frames = argc > 1 ? strtol(argv[1], NULL, 10) : 600;
    if (frames <= 0 || frames > 10000000) {
        fprintf(stderr, "usage: sr-game-loop [FRAMES]\n");
        return 2;
    }
    sr_config cfg = sr_config_default();
    cfg.gc_threshold = 256;                 /* small: collections happen inside frames */
    cfg.max_heap_size = (size_t)64 << 20;
    cfg.enable_profiling = false;
    sr_runtime *rt;
    if (sr_runtime_new(&cfg, &rt) != SR_OK) { fprintf(stderr, "cannot create the runtime\n"); return 1; }
    sc_interp *I;
    if (sc_interp_new(rt, (size_t)1 << 16, &I) != SR_OK) { fprintf(stderr, "cannot create the interpreter\n"); return 1; }
    if (sc_run_source(I, "game.scm", sc__script, sizeof sc__script - 1, 1, SC_RUN_QUIET, NULL) != SR_OK) {
        sc_report_error(I, stderr);
        return 1;
    }
    sr_stats s0, s1;
    sr_runtime_stats(rt, &s0);
    uint64_t *ft = calloc((size_t)frames, sizeof *ft), *gp = calloc((size_t)frames, sizeof *gp);
    if (!ft || !gp) return 1;
    long errors = 0, entities = 0;
    for (long f = 0; f < frames; f++) {
        sr_stats a, b;
        sr_runtime_stats(rt, &a);
        uint64_t t0 = sc__now();
        val arg = sc_int(f), r;
        if (sc_call(I, "update", &arg, 1, &r) != SR_OK) {
            errors++;
            if (errors <= 2) sc_report_error(I, stdout);
        } else {
            if (r.tag == V_INT) entities = (long)r.u.i;
            sc_rel(I, r);
        }
        uint64_t t1 = sc__now();
        sr_runtime_stats(rt, &b);
        ft[f] = t1 - t0;
        gp[f] = b.gc_total_pause_ns - a.gc_total_pause_ns;
    }
    sr_runtime_stats(rt, &s1);
    printf("frames: %ld   script errors handled: %ld   entities alive: %ld\n", frames, errors, entities);
    sc__percentiles("frame time", ft, (size_t)frames);
    sc__percentiles("collection pause / frame", gp, (size_t)frames);
    printf("collections: %llu   objects collected: %llu   max single pause: %.1f us\n",
           (unsigned long long)(s1.gc_collections - s0.gc_collections),
           (unsigned long long)(s1.gc_objects_collected - s0.gc_objects_collected), (double)s1.gc_max_pause_ns / 1e3);
    printf("heap_used: %zu bytes after loading, %zu after %ld frames (peak %zu)\n", s0.heap_used, s1.heap_used,
           frames, s1.heap_peak);
    free(ft);
    free(gp);
    sc_interp_free(I);
    sr_runtime_free(rt);
    return 0;
}
