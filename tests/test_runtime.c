/*
 * test_runtime.c - configuration, lifecycle, the default runtime, statistics.
 */
#include "support.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <string.h>

static void status_strings_are_distinct_and_never_null(void **state)
{
    (void)state;
    const sr_status all[] = { SR_OK, SR_ERR_INVALID, SR_ERR_STATE, SR_ERR_NOMEM, SR_ERR_PANIC };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        assert_non_null(sr_status_str(all[i]));
        assert_string_not_equal(sr_status_str(all[i]), "unknown status");
        for (size_t j = 0; j < i; j++) assert_string_not_equal(sr_status_str(all[i]), sr_status_str(all[j]));
    }
    assert_string_equal(sr_status_name(SR_ERR_NOMEM), "SR_ERR_NOMEM");
    assert_string_equal(sr_status_str((sr_status)999), "unknown status");
    assert_string_equal(sr_status_str((sr_status)-1), "unknown status");
    assert_string_equal(sr_status_name((sr_status)999), "SR_UNKNOWN");
}

static void version_matches_header(void **state)
{
    (void)state;
    char buf[64];
    snprintf(buf, sizeof buf, "%d.%d.%d", SR_VERSION_MAJOR, SR_VERSION_MINOR, SR_VERSION_PATCH);
    assert_string_equal(sr_version(), buf);
    assert_string_equal(sr_version(), SR_VERSION_STRING);
}

static void config_default_values(void **state)
{
    (void)state;
    sr_config c = sr_config_default();
    assert_int_equal(c.max_heap_size, 0);
    assert_true(c.enable_gc);
    assert_int_equal(c.gc_threshold, 1000);
    assert_true(c.enable_panic_handler);
    assert_int_equal(c.stack_size, 2u * 1024u * 1024u);
    assert_null(c.allocator.malloc);
#ifdef NDEBUG
    assert_false(c.enable_profiling);
#else
    assert_true(c.enable_profiling);
#endif
    assert_int_equal(sr_config_validate(&c), SR_OK);
}

static void new_rejects_null_out_and_bad_configs(void **state)
{
    (void)state;
    assert_int_equal(sr_runtime_new(NULL, NULL), SR_ERR_INVALID);
    sr_test_alloc ta = {0};
    sr_config c = sr_test_config(&ta);
    sr_runtime *rt = (sr_runtime *)(uintptr_t)0x10;   /* must be overwritten with NULL */
    c.stack_size = 1024;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_ERR_INVALID);
    assert_null(rt);
    c = sr_test_config(&ta);
    c.allocator.free = NULL;             /* partly set allocator */
    assert_int_equal(sr_runtime_new(&c, &rt), SR_ERR_INVALID);
    c = sr_test_config(&ta);
    c.profiler_stack_depth = 33;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_ERR_INVALID);
    c = sr_test_config(&ta);
    c.max_heap_size = 8;                 /* cannot hold even a header */
    assert_int_equal(sr_runtime_new(&c, &rt), SR_ERR_INVALID);
    assert_int_equal(sr_config_validate(NULL), SR_ERR_INVALID);
    assert_int_equal(ta.calls, 0);       /* rejected before taking anything */
}

static void new_with_null_config_uses_defaults(void **state)
{
    (void)state;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(NULL, &rt), SR_OK);
    assert_non_null(rt);
    const sr_config *c = sr_runtime_config(rt);
    assert_int_equal(c->gc_threshold, 1000);
    assert_int_equal(c->stack_size, SR_DEFAULT_STACK_SIZE);
    sr_stats st;
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.heap_used, 0);
    assert_int_equal(st.heap_limit, 0);
    assert_int_equal(st.allocations, 0);
    assert_true(st.internal_bytes > 0);
    sr_runtime_free(rt);
}

static void zero_threshold_means_default(void **state)
{
    (void)state;
    sr_config c = sr_config_default();
    c.gc_threshold = 0;
    c.panic_history_size = 0;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    assert_int_equal(sr_runtime_config(rt)->gc_threshold, SR_DEFAULT_GC_THRESHOLD);
    assert_int_equal(sr_runtime_config(rt)->panic_history_size, SR_DEFAULT_PANIC_HISTORY);
    sr_runtime_free(rt);
}

static void default_runtime_lifecycle(void **state)
{
    (void)state;
    assert_null(sr_runtime_get());
    assert_int_equal(sr_runtime_shutdown(), SR_ERR_STATE);          /* shutdown without init */
    assert_int_equal(sr_runtime_init(NULL), SR_OK);
    sr_runtime *rt = sr_runtime_get();
    assert_non_null(rt);
    assert_int_equal(sr_runtime_init(NULL), SR_ERR_STATE);          /* double init */
    assert_ptr_equal(sr_runtime_get(), rt);                         /* unchanged by the refusal */
    sr_runtime_free(rt);                                            /* ignored for the default runtime */
    void *p = sr_alloc(rt, 10);
    assert_non_null(p);
    sr_free(rt, p);
    assert_int_equal(sr_runtime_shutdown(), SR_OK);
    assert_null(sr_runtime_get());
    assert_int_equal(sr_runtime_shutdown(), SR_ERR_STATE);          /* double shutdown */
    sr_config c = sr_config_default();
    c.max_heap_size = 4096;
    assert_int_equal(sr_runtime_init(&c), SR_OK);                   /* init after shutdown */
    sr_stats st;
    sr_runtime_stats(sr_runtime_get(), &st);
    assert_int_equal(st.heap_limit, 4096);
    assert_int_equal(sr_runtime_shutdown(), SR_OK);
}

static void default_runtime_bad_config_leaves_it_uninitialized(void **state)
{
    (void)state;
    sr_config c = sr_config_default();
    c.stack_size = 10;
    assert_int_equal(sr_runtime_init(&c), SR_ERR_INVALID);
    assert_null(sr_runtime_get());
    assert_int_equal(sr_runtime_shutdown(), SR_ERR_STATE);
}

static void free_null_is_noop_and_stats_null_safe(void **state)
{
    (void)state;
    sr_runtime_free(NULL);
    sr_stats st;
    memset(&st, 0x5a, sizeof st);
    sr_runtime_stats(NULL, &st);
    assert_int_equal(st.heap_used, (size_t)0x5a5a5a5a5a5a5a5aull);  /* nothing written */
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(NULL, &rt), SR_OK);
    sr_runtime_stats(rt, NULL);
    assert_null(sr_runtime_config(NULL));
    sr_runtime_free(rt);
}

/* Creation under a failing underlying allocator: every failure point gives
   SR_ERR_NOMEM and frees what was taken. */
static void creation_failing_part_way_frees_everything(void **state)
{
    (void)state;
    for (size_t n = 1;; n++) {
        sr_test_alloc ta = { .fail_at = n };
        sr_config c = sr_test_config(&ta);
        sr_runtime *rt = NULL;
        sr_status st = sr_runtime_new(&c, &rt);
        if (st == SR_OK) {
            assert_true(n > 1);
            sr_runtime_free(rt);
            assert_int_equal(ta.live_bytes, 0);
            break;
        }
        assert_int_equal(st, SR_ERR_NOMEM);
        assert_null(rt);
        assert_int_equal(ta.live_blocks, 0);
        assert_int_equal(ta.live_bytes, 0);
        assert_true(n < 1000);
    }
}

static void freeing_returns_every_byte_even_when_host_leaks(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_config c = sr_test_config(&ta);
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    for (int i = 0; i < 5000; i++) assert_non_null(sr_alloc(rt, (size_t)(i % 3000)));  /* never freed */
    assert_true(ta.live_bytes > 5000);
    sr_runtime_free(rt);
    assert_int_equal(ta.live_bytes, 0);
    assert_int_equal(ta.live_blocks, 0);
}

static void many_runtimes_at_once_are_isolated(void **state)
{
    (void)state;
    enum { N = 64 };
    sr_runtime *rts[N];
    for (int i = 0; i < N; i++) {
        sr_config c = sr_config_default();
        c.max_heap_size = 1024u * (size_t)(i + 1);
        assert_int_equal(sr_runtime_new(&c, &rts[i]), SR_OK);
    }
    for (int i = 0; i < N; i++)
        for (int k = 0; k <= i; k++) assert_non_null(sr_alloc(rts[i], 16));
    for (int i = 0; i < N; i++) {
        sr_stats st;
        sr_runtime_stats(rts[i], &st);
        assert_int_equal(st.allocations, (uint64_t)i + 1);
        assert_int_equal(st.heap_used, (size_t)(i + 1) * sr_alloc_charge(16));
        assert_int_equal(st.heap_limit, 1024u * (size_t)(i + 1));
    }
    for (int i = 0; i < N; i++) sr_runtime_free(rts[i]);
}

typedef struct { int seed; int ok; } thread_arg;

static void *thread_body(void *p)
{
    thread_arg *a = p;
    sr_config c = sr_config_default();
    c.max_heap_size = 256 * 1024;
    sr_runtime *rt = NULL;
    if (sr_runtime_new(&c, &rt) != SR_OK) return NULL;
    void *live[64] = {0};
    sr_test_rng rng = { (uint64_t)a->seed * 7919u + 1 };
    for (int i = 0; i < 50000; i++) {
        unsigned k = (unsigned)(sr_test_rand(&rng) % 64);
        if (live[k]) { sr_free(rt, live[k]); live[k] = NULL; }
        else live[k] = sr_alloc(rt, (size_t)(sr_test_rand(&rng) % 4000));
    }
    for (int k = 0; k < 64; k++) sr_free(rt, live[k]);
    sr_stats st;
    sr_runtime_stats(rt, &st);
    a->ok = st.heap_used == 0 && st.heap_peak <= c.max_heap_size && st.live_blocks == 0;
    sr_runtime_free(rt);
    return NULL;
}

static void runtimes_on_several_threads(void **state)
{
    (void)state;
    enum { T = 4 };
    pthread_t th[T];
    thread_arg args[T];
    for (int i = 0; i < T; i++) {
        args[i] = (thread_arg){ i, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, thread_body, &args[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_true(args[i].ok);
    }
}

static void set_heap_limit_rules(void **state)
{
    (void)state;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(NULL, &rt), SR_OK);
    void *p = sr_alloc(rt, 1000);
    sr_stats st;
    sr_runtime_stats(rt, &st);
    assert_int_equal(sr_runtime_set_heap_limit(rt, st.heap_used - 1), SR_ERR_NOMEM);
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.heap_limit, 0);                         /* refused: unchanged */
    assert_int_equal(sr_runtime_set_heap_limit(rt, st.heap_used), SR_OK);
    assert_null(sr_alloc(rt, 0));                                /* exactly full */
    assert_int_equal(sr_runtime_set_heap_limit(rt, 0), SR_OK);  /* unlimited again */
    void *q = sr_alloc(rt, 0);
    assert_non_null(q);
    assert_int_equal(sr_runtime_set_heap_limit(NULL, 10), SR_ERR_INVALID);
    sr_free(rt, p);
    sr_free(rt, q);
    sr_runtime_free(rt);
}

static void uptime_advances(void **state)
{
    (void)state;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(NULL, &rt), SR_OK);
    sr_stats a, b;
    sr_runtime_stats(rt, &a);
    struct timespec ts = { 0, 2000000 };
    nanosleep(&ts, NULL);
    sr_runtime_stats(rt, &b);
    assert_true(b.uptime_ns >= a.uptime_ns + 2000000u);
    sr_runtime_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_strings_are_distinct_and_never_null),
        cmocka_unit_test(version_matches_header),
        cmocka_unit_test(config_default_values),
        cmocka_unit_test(new_rejects_null_out_and_bad_configs),
        cmocka_unit_test(new_with_null_config_uses_defaults),
        cmocka_unit_test(zero_threshold_means_default),
        cmocka_unit_test(default_runtime_lifecycle),
        cmocka_unit_test(default_runtime_bad_config_leaves_it_uninitialized),
        cmocka_unit_test(free_null_is_noop_and_stats_null_safe),
        cmocka_unit_test(creation_failing_part_way_frees_everything),
        cmocka_unit_test(freeing_returns_every_byte_even_when_host_leaks),
        cmocka_unit_test(many_runtimes_at_once_are_isolated),
        cmocka_unit_test(runtimes_on_several_threads),
        cmocka_unit_test(set_heap_limit_rules),
        cmocka_unit_test(uptime_advances),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
