/*
 * test_gc_faults.c - the object layer and the collector under a failing
 * underlying allocator: the Nth call fails (then N+1, ...) until a workload of
 * types, objects, weak references, cycles and collections completes. Every
 * run must end with every object accounted for and every byte returned.
 */
#include "support.h"
#include "internal.h"

#include <string.h>

typedef struct node { void *a, *b; int64_t id; } node;
static const sr_field node_fields[] = {
    { "a", offsetof(node, a), SR_FIELD_REF },
    { "b", offsetof(node, b), SR_FIELD_REF },
    { "id", offsetof(node, id), SR_FIELD_I64 },
};

static size_t g_finalized;
static void node_finalize(sr_runtime *rt, void *o)
{
    (void)rt;
    (void)o;
    g_finalized++;
}

/* The workload: returns the objects it made (each is finalized exactly once,
   by a collection, a release or the teardown). */
static size_t workload(sr_runtime *rt)
{
    sr_type t = { "Node", sizeof(node), node_fields, 3, NULL, node_finalize };
    sr_type_id id;
    if (sr_type_register(rt, &t, &id) != SR_OK) return 0;
    size_t made = 0;
    node *keep = sr_rc_new(rt, id);
    if (!keep) return 0;
    made++;
    sr_weak *w = sr_weak_new(rt, keep);
    sr_weak *ws[40] = { 0 };
    for (int r = 0; r < 40; r++) {
        /* a ring of 300 hanging off keep's slot b, then cut loose */
        node *first = sr_rc_new(rt, id);
        if (!first) continue;
        made++;
        node *prev = first;
        for (int i = 1; i < 300; i++) {
            node *n = sr_rc_new(rt, id);
            if (!n) break;
            made++;
            n->b = sr_rc_retain(keep);
            prev->a = n;
            prev = n;
        }
        prev->a = sr_rc_retain(first);
        ws[r] = sr_weak_new(rt, first);
        sr_rc_release(rt, first);
        if (r % 7 == 6) sr_gc_collect(rt);
    }
    for (int r = 0; r < 40; r++)
        if (ws[r]) sr_weak_free(rt, ws[r]);
    sr_gc_collect(rt);
    if (w) {
        node *k = sr_weak_upgrade(w);
        assert_ptr_equal(k, keep);
        sr_rc_release(rt, k);
        sr_weak_free(rt, w);
    }
    sr_rc_release(rt, keep);
    return made;
}

static size_t sweep(bool fail_all_after)
{
    for (size_t fail_at = 1;; fail_at++) {
        sr_test_alloc ta;
        memset(&ta, 0, sizeof ta);
        ta.fail_at = fail_at;
        ta.fail_all_after = fail_all_after;
        sr_config c = sr_test_config(&ta);
        c.enable_profiling = false;
        c.gc_threshold = (size_t)1 << 30;     /* the explicit collections see big sets */
        sr_runtime *rt = NULL;
        if (sr_runtime_new(&c, &rt) != SR_OK) {
            assert_null(rt);
            assert_int_equal(ta.live_bytes, 0);
            continue;
        }
        g_finalized = 0;
        size_t made = workload(rt);
        sr_stats st;
        sr_runtime_stats(rt, &st);
        /* whatever failed, what is alive is exactly what is not finalized yet */
        assert_int_equal(st.live_objects + g_finalized, made);
        assert_true(st.heap_used <= made * 32 + 64 * 48);
        sr_runtime_free(rt);
        assert_int_equal(g_finalized, made);      /* teardown finalized the rest once */
        assert_int_equal(ta.live_bytes, 0);
        assert_int_equal(ta.live_blocks, 0);
        if (ta.failures == 0) return fail_at;     /* the workload completed without a failure */
    }
}

static void every_allocation_failure_point(void **state)
{
    (void)state;
    size_t n = sweep(false);
    print_message("single failures: the workload makes %zu system allocations\n", n - 1);
    assert_true(n > 12);
    assert_int_equal(sweep(true), n);
}

/* Every system allocation after creation fails: the collector still frees
   what it finds (scratch fallbacks), nothing leaks. */
static void everything_fails_after_creation(void **state)
{
    (void)state;
    sr_test_alloc ta;
    memset(&ta, 0, sizeof ta);
    sr_config c = sr_test_config(&ta);
    c.enable_profiling = false;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    g_finalized = 0;
    ta.fail_at = ta.calls + 1;
    ta.fail_all_after = true;
    size_t made = workload(rt);     /* type registration fails: nothing made */
    assert_int_equal(made, 0);
    sr_runtime_free(rt);
    assert_int_equal(ta.live_bytes, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_allocation_failure_point),
        cmocka_unit_test(everything_fails_after_creation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
