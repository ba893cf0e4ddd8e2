/*
 * test_panic_objects.c - panics meeting the object layer: sr_cleanup_release,
 * sr_rc_new_or_panic, and panics inside finalize during a release cascade and
 * during a collection (run under valgrind by the valgrind preset: nothing may
 * leak and nothing may be touched after it is freed).
 *
 * Assertions never run inside a protected function.
 */
#include "support.h"
#include "internal.h"

#include <stdio.h>
#include <string.h>

typedef struct node { void *next; int id; } node;

/* Finalizer bookkeeping: test-only state, reset by each test. */
static int fin_calls[4096];
static int fin_total;
static int fin_panic_id = -1;

static void node_finalize(sr_runtime *rt, void *obj)
{
    node *n = obj;
    fin_calls[n->id]++;
    fin_total++;
    if (n->id == fin_panic_id) sr_panic(rt, "finalize of node %d failed", n->id);
}

static const sr_field node_fields[] = { { "next", offsetof(node, next), SR_FIELD_REF } };

static void reset_fin(int panic_id)
{
    memset(fin_calls, 0, sizeof fin_calls);
    fin_total = 0;
    fin_panic_id = panic_id;
}

static sr_runtime *new_rt(sr_test_alloc *ta, sr_type_id *node_type, size_t heap_limit)
{
    sr_config c = sr_test_config(ta);
    c.max_heap_size = heap_limit;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    sr_type t = { "node", sizeof(node), node_fields, 1, NULL, node_finalize };
    assert_int_equal(sr_type_register(rt, &t, node_type), SR_OK);
    return rt;
}

/* ---- sr_cleanup_release ------------------------------------------------------------- */

typedef struct rel_ctx { sr_type_id type; node *obj; bool panic; bool keep; } rel_ctx;

static void fn_release_on_unwind(sr_runtime *rt, void *arg)
{
    rel_ctx *c = arg;
    node *n = sr_rc_new_or_panic(rt, c->type);
    n->id = 1;
    c->obj = n;
    sr_cleanup_release(rt, n);
    if (c->panic) sr_panic(rt, "unwind past the object");
    sr_cleanup_pop(rt, !c->keep);
}

static void cleanup_release_releases_exactly_once(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_type_id type;
    sr_runtime *rt = new_rt(&ta, &type, 0);
    sr_stats st;

    reset_fin(-1);
    rel_ctx c = { type, NULL, true, false };
    assert_int_equal(sr_execute_protected(rt, fn_release_on_unwind, &c), SR_ERR_PANIC);
    assert_int_equal(fin_calls[1], 1);
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.live_objects, 0);
    assert_int_equal(st.heap_used, 0);

    /* popped with run: released once, at the pop */
    reset_fin(-1);
    c = (rel_ctx){ type, NULL, false, false };
    assert_int_equal(sr_execute_protected(rt, fn_release_on_unwind, &c), SR_OK);
    assert_int_equal(fin_calls[1], 1);
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.live_objects, 0);

    /* popped without run: the reference is the caller's */
    reset_fin(-1);
    c = (rel_ctx){ type, NULL, false, true };
    assert_int_equal(sr_execute_protected(rt, fn_release_on_unwind, &c), SR_OK);
    assert_int_equal(fin_calls[1], 0);
    assert_int_equal(sr_rc_count(c.obj), 1);
    sr_rc_release(rt, c.obj);
    assert_int_equal(fin_calls[1], 1);
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.live_objects, 0);
    sr_runtime_free(rt);
    assert_int_equal(ta.live_bytes, 0);
}

/* ---- sr_rc_new_or_panic at the heap limit ------------------------------------------- */

typedef struct fill_ctx { sr_type_id type; int made; } fill_ctx;

static void fn_fill(sr_runtime *rt, void *arg)
{
    fill_ctx *c = arg;
    for (;;) {
        node *n = sr_rc_new_or_panic(rt, c->type);
        n->id = 0;
        sr_cleanup_release(rt, n);       /* every object is released when the panic unwinds */
        c->made++;
    }
}

static void rc_new_or_panic_at_the_limit(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_type_id type;
    sr_runtime *rt = new_rt(&ta, &type, 16 * 1024);
    reset_fin(-1);
    fill_ctx c = { type, 0 };
    assert_int_equal(sr_execute_protected(rt, fn_fill, &c), SR_ERR_PANIC);
    assert_int_equal(sr_panic_last(rt)->kind, SR_PANIC_NOMEM);
    assert_true(c.made > 100);
    assert_int_equal(fin_total, c.made);
    sr_stats st;
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.live_objects, 0);
    assert_int_equal(st.heap_used, 0);
    assert_true(st.heap_peak <= 16 * 1024);
    sr_runtime_free(rt);
    assert_int_equal(ta.live_bytes, 0);
}

typedef struct collect_ctx { size_t freed; } collect_ctx;

static void fn_collect(sr_runtime *rt, void *arg)
{
    collect_ctx *c = arg;
    c->freed += sr_gc_collect(rt);
}

/* ---- a panic inside finalize during a release cascade -------------------------------- */

enum { CHAIN = 2000 };

typedef struct chain_ctx { sr_type_id type; node *head; } chain_ctx;

static node *make_chain(sr_runtime *rt, sr_type_id type, int count)
{
    node *head = NULL;
    for (int i = count - 1; i >= 0; i--) {
        node *n = sr_rc_new(rt, type);
        assert_non_null(n);
        n->id = i;
        n->next = head;          /* the reference to head moves into n */
        head = n;
    }
    return head;
}

static void fn_release_chain(sr_runtime *rt, void *arg)
{
    chain_ctx *c = arg;
    sr_rc_release(rt, c->head);
}

static void panic_in_finalize_during_release_cascade(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_type_id type;
    sr_runtime *rt = new_rt(&ta, &type, 0);
    reset_fin(CHAIN / 2);
    chain_ctx c = { type, make_chain(rt, type, CHAIN) };
    assert_int_equal(sr_execute_protected(rt, fn_release_chain, &c), SR_ERR_PANIC);
    const sr_panic_info *pi = sr_panic_last(rt);
    assert_non_null(pi);
    assert_string_equal(pi->function, "node_finalize");
    assert_non_null(strstr(pi->message, "finalize of node 1000 failed"));

    /* whatever the cascade left is finished (now or by the next collection):
       every node finalized exactly once and freed */
    collect_ctx cc = { 0 };
    assert_int_equal(sr_execute_protected(rt, fn_collect, &cc), SR_OK);
    for (int i = 0; i < CHAIN; i++) assert_int_equal(fin_calls[i], 1);
    sr_stats st;
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.live_objects, 0);
    assert_int_equal(st.heap_used, 0);
    assert_null(rt->panic.top);
    assert_int_equal(rt->panic.cleanup_count, 0);
    sr_runtime_free(rt);
    assert_int_equal(ta.live_bytes, 0);
}

/* ---- a panic inside finalize during a collection ------------------------------------- */

enum { PAIRS = 300 };

typedef struct cycles_ctx { sr_type_id type; int made; size_t freed; } cycles_ctx;

/* Makes PAIRS two-object cycles and drops them, then collects. In the stress
   build every allocation collects first, so the failing finalize may run in
   the middle of this loop: the cleanup stack holds the half-made pair. */
static void fn_cycles_then_collect(sr_runtime *rt, void *arg)
{
    cycles_ctx *c = arg;
    for (int i = 0; i < PAIRS; i++) {
        node *a = sr_rc_new_or_panic(rt, c->type);
        a->id = 2 * i;
        c->made = 2 * i + 1;
        sr_cleanup_release(rt, a);
        node *b = sr_rc_new_or_panic(rt, c->type);
        b->id = 2 * i + 1;
        c->made = 2 * i + 2;
        a->next = sr_rc_retain(b);
        b->next = sr_rc_retain(a);
        sr_rc_release(rt, b);
        sr_cleanup_pop(rt, true);          /* releases a: the pair is garbage now */
    }
    c->freed += sr_gc_collect(rt);
}

static void fn_collect_only(sr_runtime *rt, void *arg)
{
    cycles_ctx *c = arg;
    c->freed += sr_gc_collect(rt);
}

static void panic_in_finalize_during_collection(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_type_id type;
    sr_runtime *rt = new_rt(&ta, &type, 0);
    reset_fin(PAIRS);                      /* a node in the middle */
    cycles_ctx c = { type, 0, 0 };
    assert_int_equal(sr_execute_protected(rt, fn_cycles_then_collect, &c), SR_ERR_PANIC);
    assert_non_null(strstr(sr_panic_last(rt)->message, "finalize of node 300 failed"));
    assert_true(c.made > PAIRS);
    assert_int_equal(fin_calls[PAIRS], 1);
    assert_int_equal(rt->panic.cleanup_count, 0);

    /* the rest is finished later: the next collection completes the job */
    fin_panic_id = -1;
    assert_int_equal(sr_execute_protected(rt, fn_collect_only, &c), SR_OK);
    for (int i = 0; i < c.made; i++) assert_int_equal(fin_calls[i], 1);
    assert_int_equal(fin_total, c.made);
    sr_stats st;
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.live_objects, 0);
    assert_int_equal(st.heap_used, 0);
    sr_runtime_free(rt);
    assert_int_equal(ta.live_bytes, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cleanup_release_releases_exactly_once),
        cmocka_unit_test(rc_new_or_panic_at_the_limit),
        cmocka_unit_test(panic_in_finalize_during_release_cascade),
        cmocka_unit_test(panic_in_finalize_during_collection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
