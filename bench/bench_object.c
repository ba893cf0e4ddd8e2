/*
 * bench_object.c - the object layer: retain+release pairs, object alloc+free
 * against malloc+free, and heap_used per object with an 8-byte payload.
 * Medians of SR_BENCH_REPEATS runs; ratios against baselines of the same run.
 */
#include "bench_util.h"

#include <scriptrt.h>

enum { PAIRS = 20000000, ALLOCS = 2000000 };

typedef struct ctx { sr_runtime *rt; void *obj; sr_type_id type; } ctx;

/* A baseline that does what retain+release must at least do: one increment
   and one decrement of a counter in memory, through an opaque pointer. */
static __attribute__((noinline)) uint64_t run_baseline(void *p)
{
    ctx *c = p;
    uint32_t *cnt = c->obj;
    for (unsigned i = 0; i < PAIRS; i++) {
        bench_escape(cnt);
        ++*cnt;
        bench_escape(cnt);
        --*cnt;
    }
    return PAIRS;
}

static uint64_t run_retain_release(void *p)
{
    ctx *c = p;
    void *o = c->obj;
    for (unsigned i = 0; i < PAIRS; i++) {
        bench_escape(o);
        sr_rc_retain(o);
        bench_escape(o);
        sr_rc_release(c->rt, o);
    }
    return PAIRS;
}

static uint64_t run_obj_alloc(void *p)
{
    ctx *c = p;
    return bench_window_objects(c->rt, ALLOCS, c->type);
}

/* glibc's own entry points: the bench links mimalloc when it is installed,
   and mimalloc then interposes malloc/calloc/free process-wide. */
extern void *__libc_calloc(size_t n, size_t size);
extern void __libc_free(void *p);

static uint64_t run_glibc(void *p)
{
    (void)p;
    void *w[BENCH_WINDOW] = { 0 };
    for (unsigned i = 0; i < ALLOCS; i++) {
        unsigned k = i % BENCH_WINDOW;
        __libc_free(w[k]);
        w[k] = __libc_calloc(1, 8);     /* an 8-byte zeroed payload, like sr_rc_new */
        bench_escape(w[k]);
    }
    for (unsigned k = 0; k < BENCH_WINDOW; k++) __libc_free(w[k]);
    return ALLOCS;
}

static uint64_t run_malloc(void *p)
{
    (void)p;
    void *w[BENCH_WINDOW] = { 0 };
    for (unsigned i = 0; i < ALLOCS; i++) {
        unsigned k = i % BENCH_WINDOW;
        free(w[k]);
        w[k] = calloc(1, 8);
        bench_escape(w[k]);
    }
    for (unsigned k = 0; k < BENCH_WINDOW; k++) free(w[k]);
    return ALLOCS;
}

int main(void)
{
    sr_config cfg = sr_config_default();
    cfg.enable_profiling = false;
    sr_runtime *rt = NULL;
    if (sr_runtime_new(&cfg, &rt) != SR_OK) return 1;
    sr_field ref[] = { { "ref", 0, SR_FIELD_REF } };
    sr_field num[] = { { "n", 0, SR_FIELD_I64 } };
    sr_type tbox = { "Box", 8, ref, 1, NULL, NULL };
    sr_type tnum = { "Num", 8, num, 1, NULL, NULL };
    sr_type_id box, numt;
    if (sr_type_register(rt, &tbox, &box) != SR_OK || sr_type_register(rt, &tnum, &numt) != SR_OK) return 1;

    printf("objects: median of %d runs\n", SR_BENCH_REPEATS);
    uint32_t counter = 1;
    ctx base = { rt, &counter, 0 };
    double b = bench_median_ns(run_baseline, &base, SR_BENCH_REPEATS);

    void *cyc = sr_rc_new(rt, box);      /* can hold references: buffered once */
    void *acyc = sr_rc_new(rt, numt);    /* acyclic: never buffered */
    sr_rc_retain(cyc);
    sr_rc_retain(acyc);
    ctx c1 = { rt, cyc, box }, c2 = { rt, acyc, numt };
    double rr_cyc = bench_median_ns(run_retain_release, &c1, SR_BENCH_REPEATS);
    double rr_acyc = bench_median_ns(run_retain_release, &c2, SR_BENCH_REPEATS);
    printf(" retain+release pair, %d pairs\n", PAIRS);
    bench_row("baseline ++/-- of a counter in memory", b, "ns", "");
    bench_row("sr_rc_retain+sr_rc_release (cyclic type)", rr_cyc, "ns", "(goal <= 3 ns)");
    bench_row("sr_rc_retain+sr_rc_release (acyclic type)", rr_acyc, "ns", "(goal <= 3 ns)");
    bench_row("ratio cyclic / baseline", rr_cyc / b, "x", "");
    sr_rc_release(rt, cyc);
    sr_rc_release(rt, cyc);
    sr_rc_release(rt, acyc);
    sr_rc_release(rt, acyc);

    ctx c3 = { rt, NULL, numt };
    double oa = bench_median_ns(run_obj_alloc, &c3, SR_BENCH_REPEATS);
    double ga = bench_median_ns(run_glibc, NULL, SR_BENCH_REPEATS);
    double ma = bench_median_ns(run_malloc, NULL, SR_BENCH_REPEATS);
    printf(" object alloc+free, 8-byte zeroed payload, window of %d, %d ops\n", BENCH_WINDOW, ALLOCS);
    bench_row("glibc calloc(8)+free (__libc_calloc)", ga, "ns", "");
#ifdef SR_BENCH_HAVE_MIMALLOC
    printf("  (mimalloc is linked: it interposes __libc_calloc too, so both rows are mimalloc)\n");
    bench_row("calloc(8)+free as linked (mimalloc)", ma, "ns", "");
#else
    bench_row("calloc(8)+free as linked", ma, "ns", "");
#endif
    bench_row("sr_rc_new+sr_rc_release", oa, "ns", "");
    bench_row("ratio sr / glibc", oa / ga, "x", "(goal <= 1.0)");
    bench_row("ratio sr / calloc as linked", oa / ma, "x", "");

    sr_stats st0, st1;
    sr_runtime_stats(rt, &st0);
    enum { K = 100000 };
    static void *objs[K];
    for (int i = 0; i < K; i++) objs[i] = sr_rc_new(rt, box);
    sr_runtime_stats(rt, &st1);
    printf(" memory\n");
    bench_row("heap_used per object, 8-byte payload", (double)(st1.heap_used - st0.heap_used) / K, "B",
              "(goal <= 24; CPython 40, PHP 64, Lua 80, QuickJS 120)");
    for (int i = 0; i < K; i++) sr_rc_release(rt, objs[i]);
    sr_runtime_free(rt);
    return 0;
}
