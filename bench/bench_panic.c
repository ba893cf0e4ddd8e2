/*
 * bench_panic.c - protected execution and panics against raw setjmp/longjmp
 * and a plain function call, measured in the same run.
 *
 *   empty protected call           goal <= 10 ns   (sigsetjmp(env, 0) baseline)
 *   panic round trip, 10 frames    goal <= 150 ns without backtrace, <= 1 us with one
 *   sr_check_stack, sr_check_interrupt per call (a plain call as baseline)
 */
#include "bench_util.h"

#include <scriptrt.h>
#include <setjmp.h>

#define NOINLINE __attribute__((noinline))

enum { CALLS = 20000000, PANICS = 1000000, DEPTH = 10 };

typedef struct ctx { sr_runtime *rt; long counter; } ctx_t;

/* ---- baselines ---- */

static NOINLINE void plain_fn(sr_runtime *rt, void *arg) { (void)rt; ((ctx_t *)arg)->counter++; }

static uint64_t run_plain_call(void *p)
{
    ctx_t *c = p;
    void (*volatile fp)(sr_runtime *, void *) = plain_fn;
    for (int i = 0; i < CALLS; i++) fp(c->rt, c);
    return CALLS;
}

static NOINLINE int raw_setjmp_call(ctx_t *c)
{
    jmp_buf env;
    if (_setjmp(env)) return 1;
    plain_fn(c->rt, c);
    return 0;
}

static uint64_t run_raw_setjmp(void *p)
{
    ctx_t *c = p;
    for (int i = 0; i < CALLS; i++) raw_setjmp_call(c);
    return CALLS;
}

static NOINLINE int raw_sigsetjmp_mask(ctx_t *c)
{
    sigjmp_buf env;
    if (sigsetjmp(env, 1)) return 1;
    plain_fn(c->rt, c);
    return 0;
}

static uint64_t run_raw_sigsetjmp_mask(void *p)
{
    ctx_t *c = p;
    for (int i = 0; i < CALLS / 20; i++) raw_sigsetjmp_mask(c);
    return CALLS / 20;
}

static NOINLINE void raw_deep(jmp_buf *env, int depth)
{
    if (depth > 0) raw_deep(env, depth - 1);
    else if (env) longjmp(*env, 1);
    __asm__ volatile("");
}

static uint64_t run_raw_longjmp(void *p)
{
    ctx_t *c = p;
    for (int i = 0; i < PANICS; i++) {
        jmp_buf env;
        if (_setjmp(env) == 0) raw_deep(&env, DEPTH);
        c->counter++;
    }
    return PANICS;
}

/* ---- scriptrt ---- */

static uint64_t run_protected_empty(void *p)
{
    ctx_t *c = p;
    for (int i = 0; i < CALLS; i++) sr_execute_protected(c->rt, plain_fn, c);
    return CALLS;
}

static NOINLINE void sr_deep(sr_runtime *rt, int depth)
{
    if (depth > 0) sr_deep(rt, depth - 1);
    else if (rt) sr_panic(rt, "boom");
    __asm__ volatile("");
}

static NOINLINE void sr_deep_fmt(sr_runtime *rt, int depth)
{
    if (depth > 0) sr_deep_fmt(rt, depth - 1);
    else if (rt) sr_panic(rt, "bad operand %d at %s", depth, "x");
    __asm__ volatile("");
}

static void fn_deep(sr_runtime *rt, void *arg) { (void)arg; sr_deep(rt, DEPTH - 1); }
static void fn_deep_fmt(sr_runtime *rt, void *arg) { (void)arg; sr_deep_fmt(rt, DEPTH - 1); }

static uint64_t run_panic(void *p)
{
    ctx_t *c = p;
    for (int i = 0; i < PANICS; i++) sr_execute_protected(c->rt, fn_deep, c);
    return PANICS;
}

static uint64_t run_panic_fmt(void *p)
{
    ctx_t *c = p;
    for (int i = 0; i < PANICS; i++) sr_execute_protected(c->rt, fn_deep_fmt, c);
    return PANICS;
}

static void fn_check_stack(sr_runtime *rt, void *arg)
{
    (void)arg;
    for (int i = 0; i < CALLS; i++) sr_check_stack(rt);
}

static uint64_t run_check_stack(void *p)
{
    ctx_t *c = p;
    sr_execute_protected(c->rt, fn_check_stack, c);
    return CALLS;
}

static void fn_check_interrupt(sr_runtime *rt, void *arg)
{
    (void)arg;
    for (int i = 0; i < CALLS; i++) sr_check_interrupt(rt);
}

static uint64_t run_check_interrupt(void *p)
{
    ctx_t *c = p;
    sr_execute_protected(c->rt, fn_check_interrupt, c);
    return CALLS;
}

static bool never(sr_runtime *rt, void *ud) { (void)rt; (void)ud; return false; }

static sr_runtime *make(bool handler)
{
    sr_config cfg = sr_config_default();
    cfg.enable_panic_handler = handler;
    cfg.enable_profiling = false;
    sr_runtime *rt = NULL;
    if (sr_runtime_new(&cfg, &rt) != SR_OK) {
        fprintf(stderr, "cannot create a runtime\n");
        exit(1);
    }
    return rt;
}

int main(void)
{
    sr_runtime *on = make(true), *off = make(false);
    ctx_t con = { on, 0 }, coff = { off, 0 };
    int R = SR_BENCH_REPEATS;

    printf("bench_panic: medians of %d runs, ns per operation\n", R);
    printf("protected call\n");
    double plain = bench_median_ns(run_plain_call, &coff, R);
    double rawj = bench_median_ns(run_raw_setjmp, &coff, R);
    double rawm = bench_median_ns(run_raw_sigsetjmp_mask, &coff, R);
    double prot = bench_median_ns(run_protected_empty, &coff, R);
    bench_row("baseline: plain call through a pointer", plain, "ns", "");
    bench_row("baseline: _setjmp (no mask) + call", rawj, "ns", "");
    bench_row("baseline: sigsetjmp(env, 1) + call (saves the mask)", rawm, "ns", "");
    bench_row("sr_execute_protected, empty fn", prot, "ns", "goal <= 10 ns");
    printf("  %-52s %10.2fx\n", "  ratio to _setjmp + call", prot / rawj);

    printf("panic round trip from %d frames deep\n", DEPTH);
    double rawl = bench_median_ns(run_raw_longjmp, &coff, R);
    double nobt = bench_median_ns(run_panic, &coff, R);
    double nobtf = bench_median_ns(run_panic_fmt, &coff, R);
    double bt = bench_median_ns(run_panic, &con, R);
    double btf = bench_median_ns(run_panic_fmt, &con, R);
    bench_row("baseline: _setjmp + longjmp", rawl, "ns", "");
    bench_row("sr_panic, handler off (no backtrace), plain message", nobt, "ns", "goal <= 150 ns");
    bench_row("sr_panic, handler off, formatted message", nobtf, "ns", "goal <= 150 ns");
    bench_row("sr_panic, handler on (unw_backtrace), plain message", bt, "ns", "goal <= 1000 ns");
    bench_row("sr_panic, handler on, formatted message", btf, "ns", "goal <= 1000 ns");
    printf("  %-52s %10.2fx\n", "  no-backtrace ratio to raw longjmp", nobt / rawl);

    printf("checks per call (inside protected execution)\n");
    double cs = bench_median_ns(run_check_stack, &coff, R);
    double ci = bench_median_ns(run_check_interrupt, &coff, R);
    sr_set_deadline(off, 3600ull * 1000000000ull);
    sr_set_interrupt_handler(off, never, NULL);
    double cid = bench_median_ns(run_check_interrupt, &coff, R);
    bench_row("sr_check_stack", cs, "ns", "");
    bench_row("sr_check_interrupt, nothing set", ci, "ns", "goal: a few ns");
    bench_row("sr_check_interrupt, deadline + handler set, not due", cid, "ns", "goal: a few ns");
    printf("  %-52s %10.2fx\n", "  sr_check_stack ratio to plain call", cs / plain);
    printf("  %-52s %10.2fx\n", "  sr_check_interrupt ratio to plain call", cid / plain);

    sr_runtime_free(on);
    sr_runtime_free(off);
    return 0;
}
