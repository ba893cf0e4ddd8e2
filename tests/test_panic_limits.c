/*
 * test_panic_limits.c - the stack guard (sr_check_stack, sr_run_on_thread) and
 * time limits (sr_set_deadline, sr_set_interrupt_handler, sr_check_interrupt).
 *
 * Assertions never run inside a protected function: protected functions write
 * what they saw into a struct and the test checks it afterwards.
 */
#include "support.h"
#include "internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))
#define KiB 1024u

static sr_runtime *new_rt(sr_test_alloc *ta, size_t stack_size)
{
    sr_config c = sr_test_config(ta);
    c.stack_size = stack_size;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    return rt;
}

/* ---- stack guard --------------------------------------------------------------------- */

typedef struct rec_ctx {
    int depth;           /* deepest level reached */
    int limit;           /* stop recursing at this depth (0: never) */
    char *top;           /* address of the first level */
    size_t max_used;     /* bytes of stack between the first level and the deepest one */
    bool check;          /* call sr_check_stack at each level */
} rec_ctx;

static NOINLINE int recurse(sr_runtime *rt, rec_ctx *c, int level)
{
    volatile char pad[512];
    pad[0] = (char)level;
    char *here = (char *)__builtin_frame_address(0);
    if (level == 0) c->top = here;
    size_t used = (size_t)(c->top - here);
    if (used > c->max_used) c->max_used = used;
    c->depth = level;
    if (c->check) sr_check_stack(rt);
    if (c->limit && level >= c->limit) return pad[0];
    return recurse(rt, c, level + 1) + pad[0];
}

static void fn_recurse(sr_runtime *rt, void *arg) { (void)recurse(rt, arg, 0); }

static void stack_overflow_is_caught(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 256 * KiB);
    rec_ctx c = { .check = true };
    assert_int_equal(sr_execute_protected(rt, fn_recurse, &c), SR_ERR_PANIC);
    const sr_panic_info *pi = sr_panic_last(rt);
    assert_int_equal(pi->kind, SR_PANIC_STACK);
    assert_non_null(strstr(pi->message, "stack overflow"));
    /* it stopped close to the budget: beyond 3/4 of it and not far past it */
    assert_true(c.max_used > 192 * KiB);
    assert_true(c.max_used <= 256 * KiB + 4 * KiB);
    assert_null(rt->panic.stack_limit);
    /* usable again, and a shallow run does not panic */
    rec_ctx shallow = { .check = true, .limit = 50 };
    assert_int_equal(sr_execute_protected(rt, fn_recurse, &shallow), SR_OK);
    assert_int_equal(shallow.depth, 50);
    sr_runtime_free(rt);
    assert_int_equal(ta.live_bytes, 0);
}

static void check_stack_outside_protection_does_nothing(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 64 * KiB);
    /* 400 levels of > 512 bytes: well past 64 KiB, but not protected */
    rec_ctx c = { .check = true, .limit = 400 };
    (void)recurse(rt, &c, 0);
    assert_int_equal(c.depth, 400);
    assert_true(c.max_used > 128 * KiB);
    sr_stats st;
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.panics, 0);
    sr_runtime_free(rt);
}

/* The budget runs from the outermost protected execution: a nested one does not renew it. */
typedef struct nested_ctx { rec_ctx outer; rec_ctx inner; int inner_status; } nested_ctx;

static void fn_inner(sr_runtime *rt, void *arg) { (void)recurse(rt, arg, 0); }

static NOINLINE int descend_then_nest(sr_runtime *rt, nested_ctx *n, int level)
{
    volatile char pad[512];
    pad[0] = 1;
    if (level == 0) n->outer.top = (char *)__builtin_frame_address(0);
    n->outer.depth = level;
    if (level >= n->outer.limit) {
        n->outer.max_used = (size_t)(n->outer.top - (char *)__builtin_frame_address(0));
        n->inner_status = sr_execute_protected(rt, fn_inner, &n->inner);
        return pad[0];
    }
    return descend_then_nest(rt, n, level + 1) + pad[0];
}

static void fn_outer(sr_runtime *rt, void *arg) { (void)descend_then_nest(rt, arg, 0); }

static void nested_protection_does_not_renew_the_budget(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 256 * KiB);
    nested_ctx n;
    memset(&n, 0, sizeof n);
    n.outer.limit = 300;             /* about 160+ KiB before the inner protected call */
    n.inner.check = true;
    assert_int_equal(sr_execute_protected(rt, fn_outer, &n), SR_OK);
    assert_int_equal(n.inner_status, SR_ERR_PANIC);
    assert_int_equal(sr_panic_last(rt)->kind, SR_PANIC_STACK);
    assert_true(n.outer.max_used > 128 * KiB);
    /* the inner recursion only had what the outer one left */
    assert_true(n.inner.max_used + n.outer.max_used <= 256 * KiB + 4 * KiB);
    assert_true(n.inner.max_used < 256 * KiB - 64 * KiB);
    sr_runtime_free(rt);
}

/* On a thread made by sr_run_on_thread the guard fires before the real stack ends. */
static void thread_stack_overflow_is_caught(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 128 * KiB);
    rec_ctx c = { .check = true };
    assert_int_equal(sr_run_on_thread(rt, fn_recurse, &c), SR_ERR_PANIC);
    assert_int_equal(sr_panic_last(rt)->kind, SR_PANIC_STACK);
    assert_true(c.max_used > 96 * KiB);
    assert_true(c.max_used <= 128 * KiB + 4 * KiB);
    /* a run that fits returns SR_OK, and the runtime is back to normal */
    rec_ctx fits = { .check = true, .limit = 100 };
    assert_int_equal(sr_run_on_thread(rt, fn_recurse, &fits), SR_OK);
    assert_int_equal(fits.depth, 100);
    assert_null(rt->panic.top);
    assert_null(rt->panic.stack_limit);
    sr_runtime_free(rt);
    assert_int_equal(ta.live_bytes, 0);
}

/* The runtime is created here but used from another thread whose stack is far
   away: the budget is measured on that thread, not from the creation site. */
typedef struct far_ctx { sr_runtime *rt; rec_ctx half, over; sr_status st_half, st_over; } far_ctx;

static void *far_thread(void *arg)
{
    far_ctx *f = arg;
    f->st_half = sr_execute_protected(f->rt, fn_recurse, &f->half);
    f->st_over = sr_execute_protected(f->rt, fn_recurse, &f->over);
    return NULL;
}

static void budget_is_per_thread_not_per_creation_site(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 128 * KiB);
    far_ctx f;
    memset(&f, 0, sizeof f);
    f.rt = rt;
    f.half.check = true;
    f.half.limit = 100;         /* ~60 KiB */
    f.over.check = true;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 1024 * KiB);
    pthread_t th;
    assert_int_equal(pthread_create(&th, &a, far_thread, &f), 0);
    pthread_join(th, NULL);
    pthread_attr_destroy(&a);
    assert_int_equal(f.st_half, SR_OK);
    assert_int_equal(f.half.depth, 100);
    assert_int_equal(f.st_over, SR_ERR_PANIC);
    assert_true(f.over.max_used > 96 * KiB && f.over.max_used <= 132 * KiB);
    sr_runtime_free(rt);
}

/* Without the guard the same recursion crashes the thread's stack: the guard is
   what prevents it (checked in a child process). */
static void child_unguarded(void *arg)
{
    (void)arg;
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    sr_runtime *rt = NULL;
    sr_config c = sr_config_default();
    c.stack_size = 128 * KiB;
    if (sr_runtime_new(&c, &rt) != SR_OK) _exit(3);
    rec_ctx r = { .check = false };
    (void)sr_run_on_thread(rt, fn_recurse, &r);
    _exit(0);
}

static void unguarded_recursion_really_overflows(void **state)
{
    (void)state;
    int rc = sr_test_in_child(child_unguarded, NULL, NULL, 0);
    /* SIGSEGV, or a sanitizer's stack-overflow report and its exit code; 3
       would mean the runtime could not be made, 0 that the recursion ended */
    assert_true(rc != 0 && rc != 3);
}

/* Two runtimes nested on one thread: each catches its own panics, and the
   stack budget is measured from the outermost entry, whichever runtime made it. */
typedef struct two_ctx { sr_runtime *b; rec_ctx deep; sr_status inner; int after; } two_ctx;

static void fn_b(sr_runtime *rt, void *arg) { (void)recurse(rt, arg, 0); }

static NOINLINE int descend_then_b(sr_runtime *a, two_ctx *t, int level)
{
    volatile char pad[512];
    pad[0] = 1;
    sr_check_stack(a);
    if (level >= 200) {             /* ~100+ KiB used on runtime A's budget */
        t->inner = sr_execute_protected(t->b, fn_b, &t->deep);
        t->after = 1;
        return pad[0];
    }
    return descend_then_b(a, t, level + 1) + pad[0];
}

static void fn_a(sr_runtime *rt, void *arg) { (void)descend_then_b(rt, arg, 0); }

static void two_runtimes_nested_on_one_thread(void **state)
{
    (void)state;
    sr_test_alloc ta = {0}, tb = {0};
    sr_runtime *a = new_rt(&ta, 1024 * KiB);
    sr_runtime *b = new_rt(&tb, 192 * KiB);
    two_ctx t;
    memset(&t, 0, sizeof t);
    t.b = b;
    t.deep.check = true;
    assert_int_equal(sr_execute_protected(a, fn_a, &t), SR_OK);
    assert_int_equal(t.after, 1);
    assert_int_equal(t.inner, SR_ERR_PANIC);
    assert_null(sr_panic_last(a));
    assert_int_equal(sr_panic_last(b)->kind, SR_PANIC_STACK);
    /* B had 192 KiB from A's entry, and A had used 100+ KiB of it */
    assert_true(t.deep.max_used < 100 * KiB);
    assert_null(a->panic.top);
    assert_null(b->panic.top);
    sr_runtime_free(b);
    sr_runtime_free(a);
    assert_int_equal(ta.live_bytes + tb.live_bytes, 0);
}

/* ---- time limits --------------------------------------------------------------------- */

typedef struct loop_ctx { uint64_t checks; uint64_t max; } loop_ctx;

static void fn_loop(sr_runtime *rt, void *arg)
{
    loop_ctx *c = arg;
    while (c->checks < c->max) {
        c->checks++;
        sr_check_interrupt(rt);
    }
}

static void deadline_times_out(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, SR_DEFAULT_STACK_SIZE);
    uint64_t t0 = sr__now_ns();                   /* before the deadline is armed: a lower bound */
    sr_set_deadline(rt, 20u * 1000u * 1000u);     /* 20 ms */
    loop_ctx c = { 0, UINT64_MAX };
    assert_int_equal(sr_execute_protected(rt, fn_loop, &c), SR_ERR_PANIC);
    uint64_t t1 = sr__now_ns();
    const sr_panic_info *pi = sr_panic_last(rt);
    assert_int_equal(pi->kind, SR_PANIC_TIMEOUT);
    assert_string_equal(pi->message, "time limit exceeded");
    assert_true(t1 - t0 >= 20u * 1000u * 1000u);
    /* one-shot: the deadline is gone now */
    loop_ctx d = { 0, 100000 };
    assert_int_equal(sr_execute_protected(rt, fn_loop, &d), SR_OK);
    assert_int_equal(d.checks, 100000);

    /* cleared before it passes: nothing happens */
    sr_set_deadline(rt, 1000);
    sr_set_deadline(rt, 0);
    struct timespec ts = { 0, 2 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    loop_ctx e = { 0, 10000 };
    assert_int_equal(sr_execute_protected(rt, fn_loop, &e), SR_OK);

    /* an already-passed deadline fires at the very next check */
    sr_set_deadline(rt, 1);
    nanosleep(&ts, NULL);
    loop_ctx f = { 0, 10 };
    assert_int_equal(sr_execute_protected(rt, fn_loop, &f), SR_ERR_PANIC);
    assert_int_equal(f.checks, 1);
    sr_runtime_free(rt);
}

typedef struct intr_ctx { int polls; int stop_at; } intr_ctx;

static bool intr_fn(sr_runtime *rt, void *ud)
{
    (void)rt;
    intr_ctx *c = ud;
    return ++c->polls >= c->stop_at;
}

static void interrupt_handler_polled_and_obeyed(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, SR_DEFAULT_STACK_SIZE);
    intr_ctx ic = { 0, 1000000 };
    sr_set_interrupt_handler(rt, intr_fn, &ic);
    /* polled on the first check after being set, then once per interval */
    loop_ctx c = { 0, 1 + 10 * SR_INTERRUPT_POLL_INTERVAL };
    assert_int_equal(sr_execute_protected(rt, fn_loop, &c), SR_OK);
    assert_int_equal(ic.polls, 11);

    ic.polls = 0;
    ic.stop_at = 3;
    sr_set_interrupt_handler(rt, intr_fn, &ic);
    loop_ctx d = { 0, UINT64_MAX };
    assert_int_equal(sr_execute_protected(rt, fn_loop, &d), SR_ERR_PANIC);
    assert_int_equal(d.checks, 1 + 2 * SR_INTERRUPT_POLL_INTERVAL);
    assert_int_equal(sr_panic_last(rt)->kind, SR_PANIC_INTERRUPT);
    assert_string_equal(sr_panic_last(rt)->message, "interrupted");

    sr_set_interrupt_handler(rt, NULL, NULL);
    loop_ctx e = { 0, 5 * SR_INTERRUPT_POLL_INTERVAL };
    ic.polls = 0;
    assert_int_equal(sr_execute_protected(rt, fn_loop, &e), SR_OK);
    assert_int_equal(ic.polls, 0);
    sr_runtime_free(rt);
    assert_int_equal(ta.live_bytes, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stack_overflow_is_caught),
        cmocka_unit_test(check_stack_outside_protection_does_nothing),
        cmocka_unit_test(nested_protection_does_not_renew_the_budget),
        cmocka_unit_test(thread_stack_overflow_is_caught),
        cmocka_unit_test(budget_is_per_thread_not_per_creation_site),
        cmocka_unit_test(unguarded_recursion_really_overflows),
        cmocka_unit_test(two_runtimes_nested_on_one_thread),
        cmocka_unit_test(deadline_times_out),
        cmocka_unit_test(interrupt_handler_polled_and_obeyed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
