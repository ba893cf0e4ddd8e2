/*
 * reset.c - sr-scheme's baseline and reset (sc_interp_snapshot,
 * sc_interp_reset), the entry points sr-http's reset mode runs programs with:
 * after a reset the next program sees the start-up globals, the heap is back
 * to its baseline to the byte, and the symbol table holds the start-up
 * symbols only. Uses the interpreter's embedding header and the public
 * runtime API, nothing else.
 */
#include "interp.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

typedef struct fixture {
    sr_runtime *rt;
    sc_interp *I;
    FILE *sink;             /* program output (not checked here) */
} fixture;

static void make(fixture *f)
{
    sr_config c = sr_config_default();
    c.max_heap_size = 16u << 20;
    c.enable_profiling = false;
    assert_int_equal(sr_runtime_new(&c, &f->rt), SR_OK);
    assert_int_equal(sc_interp_new(f->rt, 4096, &f->I), SR_OK);
    f->sink = fopen("/dev/null", "w");
    assert_non_null(f->sink);
    assert_ptr_equal(sc_interp_set_output(f->I, f->sink), stdout);
}

static void unmake(fixture *f)
{
    sc_interp_free(f->I);
    sr_runtime_free(f->rt);
    fclose(f->sink);
}

static sr_status run(fixture *f, const char *src, val *result)
{
    return sc_run_source(f->I, "reset-test", src, strlen(src), 1, SC_RUN_QUIET, result);
}

static size_t heap_used(sr_runtime *rt)
{
    sr_stats st;
    sr_runtime_stats(rt, &st);
    return st.heap_used;
}

static int64_t run_int(fixture *f, const char *src)
{
    val v;
    assert_int_equal(run(f, src, &v), SR_OK);
    assert_int_equal(v.tag, V_INT);
    return v.u.i;
}

static void reset_restores_the_startup_globals(void **state)
{
    (void)state;
    fixture f;
    make(&f);
    size_t startup_syms = f.I->nsyms;
    assert_int_equal(sc_interp_snapshot(f.I), SR_OK);
    size_t base = heap_used(f.rt);

    for (int round = 0; round < 3; round++) {
        /* a program that defines globals, interns new symbols, rebinds a
           primitive, builds cycles through closures and a self-referencing list */
        assert_int_equal(run(&f, "(define xs (list 1 2 3))"
                                 "(define (count-down n) (if (= n 0) 'done-counting (count-down (- n 1))))"
                                 "(count-down 100)"
                                 "(define (make-counter) (let ((n 0)) (lambda () (set! n (+ n 1)) n)))"
                                 "(define tick (make-counter))"
                                 "(tick) (tick)"
                                 "(define loop (list 'a 'b)) (set-cdr! (cdr loop) loop)"
                                 "(define v (make-vector 100 xs))"
                                 "(set! car cdr)", NULL), SR_OK);
        assert_true(f.I->nsyms > startup_syms);
        assert_true(heap_used(f.rt) > base);
        assert_true(sc_interp_reset(f.I));
        assert_int_equal(heap_used(f.rt), base);
        assert_int_equal(f.I->nsyms, startup_syms);

        /* the next program sees the start-up primitives and none of the globals */
        assert_int_equal(run_int(&f, "(car '(7 8))"), 7);
        assert_int_equal(run(&f, "xs", NULL), SR_ERR_PANIC);
        assert_non_null(strstr(sr_panic_last(f.rt)->message, "xs"));
        assert_int_equal(run(&f, "(tick)", NULL), SR_ERR_PANIC);
        /* a program that panics half-way is reset the same way */
        assert_int_equal(run(&f, "(define half (make-vector 10 0)) (car 5)", NULL), SR_ERR_PANIC);
        assert_true(sc_interp_reset(f.I));
        assert_int_equal(heap_used(f.rt), base);
        assert_int_equal(f.I->nsyms, startup_syms);
    }
    unmake(&f);
}

static void reset_reports_what_survives(void **state)
{
    (void)state;
    fixture f;
    make(&f);
    assert_false(sc_interp_reset(f.I));                   /* no baseline yet */
    assert_int_equal(sc_interp_snapshot(f.I), SR_OK);
    size_t base = heap_used(f.rt);

    /* the host keeps a value a program made: the reset cannot get back to the baseline */
    val kept;
    assert_int_equal(run(&f, "(define (g) 'only-in-g) g", &kept), SR_OK);
    assert_int_equal(kept.tag, V_CLO);
    assert_false(sc_interp_reset(f.I));
    assert_true(heap_used(f.rt) > base);
    sc_rel(f.I, kept);
    unmake(&f);
}

static void snapshot_refuses_mutable_globals(void **state)
{
    (void)state;
    fixture f;
    make(&f);
    assert_int_equal(sc_interp_snapshot(NULL), SR_ERR_INVALID);
    assert_int_equal(run(&f, "(define shared (list 1 2))", NULL), SR_OK);
    assert_int_equal(sc_interp_snapshot(f.I), SR_ERR_STATE);
    assert_false(sc_interp_reset(f.I));                   /* no baseline was made */
    assert_int_equal(run(&f, "(set! shared 1) (define (c) (let ((n 0)) (lambda () n))) (define k (c))", NULL),
                     SR_OK);
    assert_int_equal(sc_interp_snapshot(f.I), SR_ERR_STATE);   /* a closure with a captured environment */
    assert_int_equal(run(&f, "(set! k 2)", NULL), SR_OK);
    assert_int_equal(sc_interp_snapshot(f.I), SR_OK);          /* numbers and global procedures are fine */
    assert_int_equal(run(&f, "(set! shared 99) (define extra 'x)", NULL), SR_OK);
    assert_true(sc_interp_reset(f.I));
    assert_int_equal(run_int(&f, "shared"), 1);
    assert_int_equal(run_int(&f, "((c))"), 0);
    unmake(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reset_restores_the_startup_globals),
        cmocka_unit_test(reset_reports_what_survives),
        cmocka_unit_test(snapshot_refuses_mutable_globals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
