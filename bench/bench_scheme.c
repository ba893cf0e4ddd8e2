/*
 * bench_scheme - binary-trees (the Benchmarks Game workload) three ways, and
 * sr-scheme with the profiler on vs off.
 *
 *   1. C on malloc/free: a node is two child pointers.
 *   2. C on the scriptrt API: a registered type with two REF fields; the tree
 *      is dropped with one sr_rc_release (the runtime frees it iteratively).
 *   3. Scheme on sr-scheme (examples/scheme/binary_trees.scm), in process:
 *      trees of pairs, every value a scriptrt object.
 * Each way computes the sum of all checks; the sums must agree. Depth 16 is
 * the median of SR_BENCH_SCHEME_REPEATS runs (default 3), depth 18 one run.
 * Ratios are against C on malloc/free measured in the same process; the
 * collector's figures of the Scheme run follow (collections, objects visited
 * and freed, time paused). Times are
 * process CPU time (everything here is single-threaded), so other work on a
 * shared machine does not inflate them.
 *
 *   bench_scheme [MAX_DEPTH...]     (default: 16 18)
 */
#include "bench_util.h"
#include "interp.h"

#include <scriptrt.h>

#ifndef SR_SCHEME_BT
#error "SR_SCHEME_BT must name examples/scheme/binary_trees.scm"
#endif

static uint64_t cpu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- 1. malloc/free ------------------------------------------------------------------- */

typedef struct bt_node { struct bt_node *l, *r; } bt_node;

static bt_node *bt_make(int d)
{
    bt_node *n = malloc(sizeof *n);
    if (!n) abort();
    if (d > 0) { n->l = bt_make(d - 1); n->r = bt_make(d - 1); }
    else n->l = n->r = NULL;
    return n;
}
static long bt_check(const bt_node *n) { return n->l ? 1 + bt_check(n->l) + bt_check(n->r) : 1; }
static void bt_free(bt_node *n)
{
    if (n->l) { bt_free(n->l); bt_free(n->r); }
    free(n);
}

/* ---- 2. scriptrt objects --------------------------------------------------------------- */

typedef struct rc_node { struct rc_node *l, *r; } rc_node;

static rc_node *rc_make(sr_runtime *rt, sr_type_id t, int d)
{
    rc_node *n = sr_rc_new(rt, t);
    if (!n) abort();
    if (d > 0) { n->l = rc_make(rt, t, d - 1); n->r = rc_make(rt, t, d - 1); }
    return n;
}
static long rc_check(const rc_node *n) { return n->l ? 1 + rc_check(n->l) + rc_check(n->r) : 1; }

/* The workload, shared by ways 1 and 2 (mk/chk/drop over an opaque tree). */
typedef struct bt_ops {
    void *(*make)(void *ctx, int d);
    long (*check)(void *ctx, void *tree);
    void (*drop)(void *ctx, void *tree);
    void *ctx;
} bt_ops;

static long bt_run(const bt_ops *o, int n)
{
    int min_depth = 4, max_depth = n > min_depth + 2 ? n : min_depth + 2;
    void *t = o->make(o->ctx, max_depth + 1);
    long total = o->check(o->ctx, t);
    o->drop(o->ctx, t);
    void *long_lived = o->make(o->ctx, max_depth);
    for (int d = min_depth; d <= max_depth; d += 2) {
        long iterations = 1L << (max_depth - d + min_depth), sum = 0;
        for (long i = 0; i < iterations; i++) {
            t = o->make(o->ctx, d);
            sum += o->check(o->ctx, t);
            o->drop(o->ctx, t);
        }
        total += sum;
    }
    total += o->check(o->ctx, long_lived);
    o->drop(o->ctx, long_lived);
    return total;
}

static void *m_make(void *ctx, int d) { (void)ctx; return bt_make(d); }
static long m_check(void *ctx, void *t) { (void)ctx; return bt_check(t); }
static void m_drop(void *ctx, void *t) { (void)ctx; bt_free(t); }

typedef struct rc_ctx { sr_runtime *rt; sr_type_id t; } rc_ctx;
static void *r_make(void *ctx, int d) { rc_ctx *c = ctx; return rc_make(c->rt, c->t, d); }
static long r_check(void *ctx, void *t) { (void)ctx; return rc_check(t); }
static void r_drop(void *ctx, void *t) { rc_ctx *c = ctx; sr_rc_release(c->rt, t); }

static double run_malloc(int n, long *total)
{
    bt_ops o = { m_make, m_check, m_drop, NULL };
    uint64_t t0 = cpu_now_ns();
    *total = bt_run(&o, n);
    return (double)(cpu_now_ns() - t0) / 1e6;
}

static double run_scriptrt(int n, long *total)
{
    sr_config cfg = sr_config_default();
    cfg.enable_profiling = false;
    sr_runtime *rt;
    if (sr_runtime_new(&cfg, &rt) != SR_OK) abort();
    static const sr_field fields[] = {
        { "l", offsetof(rc_node, l), SR_FIELD_REF },
        { "r", offsetof(rc_node, r), SR_FIELD_REF },
    };
    sr_type ty = { "bench.node", sizeof(rc_node), fields, 2, NULL, NULL };
    rc_ctx c = { rt, SR_TYPE_NONE };
    if (sr_type_register(rt, &ty, &c.t) != SR_OK) abort();
    bt_ops o = { r_make, r_check, r_drop, &c };
    uint64_t t0 = cpu_now_ns();
    *total = bt_run(&o, n);
    double ms = (double)(cpu_now_ns() - t0) / 1e6;
    sr_runtime_free(rt);
    return ms;
}

/* ---- 3. Scheme --------------------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { perror(path); exit(1); }
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* The collector's figures of the last Scheme run without the profiler
   (loading the file and the benchmark together). */
static sr_stats g_scheme_stats;

static double run_scheme(int n, bool profile, long *total)
{
    static char *src;
    static size_t src_len;
    if (!src) src = read_file(SR_SCHEME_BT, &src_len);
    sr_config cfg = sr_config_default();
    cfg.enable_profiling = profile;
    sr_runtime *rt;
    if (sr_runtime_new(&cfg, &rt) != SR_OK) abort();
    sc_interp *I;
    if (sc_interp_new(rt, (size_t)1 << 16, &I) != SR_OK) abort();
    setenv("SR_SCHEME_NO_MAIN", "1", 1);
    if (sc_run_source(I, "binary_trees.scm", src, src_len, 1, SC_RUN_QUIET, NULL) != SR_OK) {
        sc_report_error(I, stderr);
        exit(1);
    }
    val args[2] = { sc_int(n), sc_bool(false) }, r;
    uint64_t t0 = cpu_now_ns();
    if (sc_call(I, "binary-trees", args, 2, &r) != SR_OK) {
        sc_report_error(I, stderr);
        exit(1);
    }
    double ms = (double)(cpu_now_ns() - t0) / 1e6;
    *total = r.tag == V_INT ? (long)r.u.i : -1;
    if (!profile) {
        sr_runtime_stats(rt, &g_scheme_stats);
    } else {
        char *rep = sr_profiler_report(rt, SR_REPORT_TEXT);
        free(rep);   /* produced as a real --profile run would, not printed */
    }
    sc_interp_free(I);
    sr_runtime_free(rt);
    return ms;
}

/* ---- driver ------------------------------------------------------------------------------ */

typedef double (*way_fn)(int n, long *total);
static double run_scheme_plain(int n, long *total) { return run_scheme(n, false, total); }
static double run_scheme_prof(int n, long *total) { return run_scheme(n, true, total); }

static double median_ms(way_fn fn, int n, int repeats, long *total)
{
    double v[16];
    if (repeats > 16) repeats = 16;
    for (int i = 0; i < repeats; i++) v[i] = fn(n, total);
    qsort(v, (size_t)repeats, sizeof v[0], bench_cmp_double);
    return v[repeats / 2];
}

int main(int argc, char **argv)
{
    int depths[8] = { 16, 18 }, nd = 2;
    if (argc > 1) {
        nd = 0;
        for (int i = 1; i < argc && nd < 8; i++) depths[nd++] = atoi(argv[i]);
    }
    const char *rep_env = getenv("SR_BENCH_SCHEME_REPEATS");
    int base_repeats = rep_env ? atoi(rep_env) : 3;
    if (base_repeats < 1) base_repeats = 1;
    printf("binary-trees: median CPU time in ms; ratio against C on malloc/free\n");
    int failures = 0;
    for (int k = 0; k < nd; k++) {
        int n = depths[k], repeats = n >= 18 ? 1 : base_repeats;
        long tm, tr, ts, tp;
        double m = median_ms(run_malloc, n, repeats, &tm);
        double r = median_ms(run_scriptrt, n, repeats, &tr);
        double s = median_ms(run_scheme_plain, n, repeats, &ts);
        double p = median_ms(run_scheme_prof, n, repeats, &tp);
        printf("depth %d (%d run%s, check sum %ld)\n", n, repeats, repeats > 1 ? "s" : "", tm);
        printf("  %-44s %10.1f ms %8.2fx\n", "C on malloc/free", m, 1.0);
        printf("  %-44s %10.1f ms %8.2fx\n", "C on the scriptrt API (sr_rc_new/release)", r, r / m);
        printf("  %-44s %10.1f ms %8.2fx\n", "Scheme on sr-scheme", s, s / m);
        printf("  %-44s %10.1f ms %8.2fx  (profile on / off: %.2fx)\n", "Scheme on sr-scheme with --profile", p, p / m, p / s);
        const sr_stats *g = &g_scheme_stats;
        printf("  Scheme collector: %llu collections, %llu objects visited, %llu freed, %.1f ms paused (%.1f%%)\n",
               (unsigned long long)g->gc_collections, (unsigned long long)g->gc_objects_visited,
               (unsigned long long)g->gc_objects_collected, (double)g->gc_total_pause_ns / 1e6,
               100.0 * (double)g->gc_total_pause_ns / 1e6 / s);
        if (tr != tm || ts != tm || tp != tm) {
            printf("  CHECK SUMS DIFFER: malloc %ld, scriptrt %ld, scheme %ld, scheme+profile %ld\n", tm, tr, ts, tp);
            failures++;
        }
    }
    return failures ? 1 : 0;
}
