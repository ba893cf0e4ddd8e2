/*
 * test_regressions.c - sequences that once broke the object layer, kept as tests.
 */
#include "support.h"

#include <pthread.h>
#include <string.h>

#if defined(__GNUC__)
#  define SR__TEST_NOINLINE __attribute__((noinline))
#else
#  define SR__TEST_NOINLINE
#endif

typedef struct pair { void *a, *b; } pair;
typedef struct leaf { int64_t v; } leaf;

static sr_weak *g_weak;
static void *g_upgraded;
static void *g_saved;

static void upgrade_finalize(sr_runtime *rt, void *obj)
{
    (void)rt;
    (void)obj;
    g_upgraded = sr_weak_upgrade(g_weak);
}

static void keep_self_finalize(sr_runtime *rt, void *obj)
{
    (void)rt;
    g_saved = sr_rc_retain(obj);
}

static sr_runtime *new_rt(void)
{
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(NULL, &rt), SR_OK);
    return rt;
}

static sr_type_id reg(sr_runtime *rt, const char *name, size_t size, const sr_field *f, size_t nf,
                      void (*fin)(sr_runtime *, void *))
{
    sr_type t = { name, size, f, nf, NULL, fin };
    sr_type_id id = SR_TYPE_NONE;
    assert_int_equal(sr_type_register(rt, &t, &id), SR_OK);
    return id;
}

static const sr_field pair_fields[] = {
    { "a", offsetof(pair, a), SR_FIELD_REF },
    { "b", offsetof(pair, b), SR_FIELD_REF },
};

/* A finalizer upgrading a weak reference to a sibling that waits on the
   release work list gets NULL: the sibling is dead already. */
static void weak_upgrade_of_a_queued_object_is_null(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt();
    sr_type_id P = reg(rt, "P", sizeof(pair), pair_fields, 2, NULL);
    sr_type_id A = reg(rt, "A", sizeof(leaf), NULL, 0, NULL);
    sr_type_id B = reg(rt, "B", sizeof(leaf), NULL, 0, upgrade_finalize);
    pair *p = sr_rc_new(rt, P);
    p->a = sr_rc_new(rt, A);
    p->b = sr_rc_new(rt, B);
    g_weak = sr_weak_new(rt, p->a);
    assert_non_null(g_weak);
    g_upgraded = (void *)1;
    sr_rc_release(rt, p);
    assert_null(g_upgraded);
    assert_null(sr_weak_upgrade(g_weak));
    sr_stats st;
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.live_objects, 0);
    sr_weak_free(rt, g_weak);
    sr_runtime_free(rt);
}

/* A finalizer that keeps its own object in a release cascade keeps it alive:
   no dangling pointer (its children were released and their slots cleared
   before finalize), finalize not run twice, freed on the next release. */
static int fin_runs;
static void count_keep_finalize(sr_runtime *rt, void *obj)
{
    fin_runs++;
    keep_self_finalize(rt, obj);
}

static void finalizer_resurrection_in_a_cascade(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt();
    sr_type_id T = reg(rt, "T", sizeof(pair), pair_fields, 2, count_keep_finalize);
    sr_type_id L = reg(rt, "L", sizeof(leaf), NULL, 0, NULL);
    fin_runs = 0;
    g_saved = NULL;
    pair *o = sr_rc_new(rt, T);
    o->a = sr_rc_new(rt, L);
    sr_rc_release(rt, o);
    assert_ptr_equal(g_saved, o);
    assert_int_equal(fin_runs, 1);
    assert_int_equal(sr_rc_count(o), 1);
    assert_null(o->a);                            /* released before finalize: the slot is cleared */
    pair *o2 = sr_rc_new(rt, T);                  /* must not reuse o's block */
    assert_ptr_not_equal(o2, o);
    sr_stats st;
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.live_objects, 2);
    g_saved = NULL;
    sr_rc_release(rt, o);                         /* dies for good: finalize not again */
    assert_int_equal(fin_runs, 1);
    assert_null(g_saved);
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.live_objects, 1);
    sr_rc_release(rt, o2);                        /* o2's finalizer keeps it: teardown finalizes nothing twice */
    sr_runtime_free(rt);
}

/* At teardown, weak references are cleared before any finalizer runs. */
static void *g_teardown_upgrade;
static int g_teardown_calls;
static void teardown_upgrade_finalize(sr_runtime *rt, void *obj)
{
    (void)rt;
    (void)obj;
    g_teardown_calls++;
    void *p = sr_weak_upgrade(g_weak);
    if (p) g_teardown_upgrade = p;
    assert_null(sr_weak_new(rt, obj));
}

static void teardown_clears_weak_references_first(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt();
    sr_type_id B = reg(rt, "B", sizeof(leaf), NULL, 0, NULL);
    sr_type_id A = reg(rt, "A", sizeof(leaf), NULL, 0, teardown_upgrade_finalize);
    void *b = sr_rc_new(rt, B);                   /* leaked on purpose */
    void *a = sr_rc_new(rt, A);
    assert_non_null(a);
    g_weak = sr_weak_new(rt, b);
    g_teardown_upgrade = NULL;
    g_teardown_calls = 0;
    sr_runtime_free(rt);                          /* the handle itself is freed with the runtime */
    assert_int_equal(g_teardown_calls, 1);
    assert_null(g_teardown_upgrade);
}

/* A panic whose message comes from the record it will reuse (history of one). */
static void wrap_hook(sr_runtime *rt, const sr_panic_info *info, void *ud)
{
    (void)ud;
    sr_panic(rt, "wrapped: %s", info->message);
}

static void boom(sr_runtime *rt, void *arg)
{
    (void)arg;
    sr_panic(rt, "boom %d", 7);
}

static void panic_message_from_the_reused_record(void **state)
{
    (void)state;
    sr_config c = sr_config_default();
    c.panic_history_size = 1;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    sr_panic_set_hook(rt, wrap_hook, NULL);
    assert_int_equal(sr_execute_protected(rt, boom, NULL), SR_ERR_PANIC);
    const sr_panic_info *last = sr_panic_last(rt);
    assert_non_null(last);
    assert_string_equal(last->message, "wrapped: boom 7");
    sr_runtime_free(rt);
}

/* The sized twin panics with the right kind; refusals are counted. */
typedef struct { sr_type_id t; size_t size; } sized_arg;
static void sized_fn(sr_runtime *rt, void *p)
{
    sized_arg *a = p;
    sr_rc_release(rt, sr_rc_new_sized_or_panic(rt, a->t, a->size));
}

static void sized_twin_and_counted_refusals(void **state)
{
    (void)state;
    sr_config c = sr_config_default();
    c.max_heap_size = 64 * 1024;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    sr_type_id L = reg(rt, "L", sizeof(leaf), NULL, 0, NULL);
    sized_arg ok = { L, 100 }, big = { L, 1u << 20 }, small = { L, 1 };
    assert_int_equal(sr_execute_protected(rt, sized_fn, &ok), SR_OK);
    assert_int_equal(sr_execute_protected(rt, sized_fn, &big), SR_ERR_PANIC);
    assert_int_equal(sr_panic_last(rt)->kind, SR_PANIC_NOMEM);
    assert_int_equal(sr_execute_protected(rt, sized_fn, &small), SR_ERR_PANIC);
    assert_int_equal(sr_panic_last(rt)->kind, SR_PANIC_ERROR);
    sr_stats before, after;
    sr_runtime_stats(rt, &before);
    assert_null(sr_rc_new_sized(rt, L, ((size_t)1 << 40) + 1));
    sr_runtime_stats(rt, &after);
    assert_int_equal(after.failed_allocations, before.failed_allocations + 1);
    assert_int_equal(after.heap_used, before.heap_used);
    sr_runtime_free(rt);
}

/* stack_size larger than the thread's real stack: the guard still panics. */
static int depth_reached;
static SR__TEST_NOINLINE void recurse(sr_runtime *rt, int depth)
{
    volatile char pad[256];
    pad[0] = (char)depth;
    depth_reached = depth;
    sr_check_stack(rt);
    if (depth < 10000000) recurse(rt, depth + 1);
    (void)pad[0];
}

static void recurse_fn(sr_runtime *rt, void *arg)
{
    (void)arg;
    recurse(rt, 0);
}

static void *small_thread(void *arg)
{
    sr_runtime *rt = NULL;
    if (sr_runtime_new(NULL, &rt) != SR_OK) return NULL;   /* stack_size 2 MiB */
    *(sr_status *)arg = sr_execute_protected(rt, recurse_fn, NULL);
    if (*(sr_status *)arg == SR_ERR_PANIC && sr_panic_last(rt)->kind != SR_PANIC_STACK) *(sr_status *)arg = SR_OK;
    sr_runtime_free(rt);
    return NULL;
}

static void stack_guard_on_a_thread_smaller_than_stack_size(void **state)
{
    (void)state;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 1024 * 1024);   /* below the 2 MiB budget */
    pthread_t th;
    sr_status st = SR_OK;
    assert_int_equal(pthread_create(&th, &a, small_thread, &st), 0);
    pthread_join(th, NULL);
    pthread_attr_destroy(&a);
    assert_int_equal(st, SR_ERR_PANIC);
    assert_true(depth_reached > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(weak_upgrade_of_a_queued_object_is_null),
        cmocka_unit_test(finalizer_resurrection_in_a_cascade),
        cmocka_unit_test(teardown_clears_weak_references_first),
        cmocka_unit_test(panic_message_from_the_reused_record),
        cmocka_unit_test(sized_twin_and_counted_refusals),
        cmocka_unit_test(stack_guard_on_a_thread_smaller_than_stack_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
