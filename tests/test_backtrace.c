/*
 * test_backtrace.c - native capture and the symbolization cache.
 */
#include "support.h"
#include "internal.h"
#include "backtrace_internal.h"

#include <stdio.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

static NOINLINE size_t capture_here(void **frames, size_t max)
{
    size_t n = sr__bt_capture(frames, max, 0);
    __asm__ volatile("");
    return n;
}

static NOINLINE size_t capture_skipping_one(void **frames, size_t max)
{
    size_t n = capture_here(frames, max);
    __asm__ volatile("");
    return n;
}

static void capture_starts_at_the_caller(void **state)
{
    (void)state;
    void *frames[16];
    size_t n = capture_skipping_one(frames, 16);
    assert_true(n >= 3 && n <= 16);
    char a[512], b[512];
    sr__bt_symbolize(frames[0], a, sizeof a);
    sr__bt_symbolize(frames[1], b, sizeof b);
    assert_non_null(strstr(a, "capture_here+0x"));
    assert_non_null(strstr(b, "capture_skipping_one+0x"));
    /* max is respected and skip drops frames from the inner end */
    void *two[2];
    assert_int_equal(capture_skipping_one(two, 2), 2);
    assert_ptr_equal(two[0], frames[0]);
    void *skipped[16];
    size_t m = sr__bt_capture(skipped, 16, 1);
    sr__bt_symbolize(skipped[0], a, sizeof a);
    assert_null(strstr(a, "capture_starts_at_the_caller"));
    assert_true(m >= 1);
}

static void cache_matches_uncached_and_frees_everything(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_config c = sr_test_config(&ta);
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    size_t base = ta.live_bytes;
    sr__bt_cache *cache = sr__bt_cache_new(rt);
    assert_non_null(cache);

    /* 100 distinct return-address-like points inside three functions: more
       than the table's first size, so it grows */
    void *addrs[100];
    const char *names[100];
    for (int i = 0; i < 12; i++) {
        addrs[i] = (char *)(uintptr_t)capture_here + 1 + i;
        names[i] = "capture_here+0x";
        addrs[12 + i] = (char *)(uintptr_t)capture_skipping_one + 1 + i;
        names[12 + i] = "capture_skipping_one+0x";
    }
    for (int i = 24; i < 100; i++) {
        addrs[i] = (char *)(uintptr_t)capture_starts_at_the_caller + 1 + i;
        names[i] = "capture_starts_at_the_caller+0x";
    }
    char got[512], want[512];
    for (int i = 0; i < 100; i++) {
        int n = sr__bt_cache_symbolize(rt, cache, addrs[i], got, sizeof got);
        assert_int_equal((size_t)n, strlen(got));
        assert_non_null(strstr(got, names[i]));
    }
    assert_true(ta.live_bytes > base);
    /* every answer now comes from the cache and equals a fresh lookup */
    for (int i = 0; i < 100; i += 9) {
        sr__bt_cache_symbolize(rt, cache, addrs[i], got, sizeof got);
        sr__bt_symbolize(addrs[i], want, sizeof want);
        assert_string_equal(got, want);
    }
    /* snprintf semantics from the cache too */
    int full = sr__bt_cache_symbolize(rt, cache, addrs[3], got, sizeof got);
    char tiny[8];
    assert_int_equal(sr__bt_cache_symbolize(rt, cache, addrs[3], tiny, sizeof tiny), full);
    assert_int_equal(strlen(tiny), 7);
    assert_memory_equal(tiny, got, 7);
    assert_int_equal(sr__bt_cache_symbolize(rt, cache, addrs[3], NULL, 0), full);
    /* no cache: same text */
    assert_int_equal(sr__bt_cache_symbolize(rt, NULL, addrs[3], want, sizeof want), full);
    assert_string_equal(got, want);

    sr__bt_cache_free(rt, cache);
    assert_int_equal(ta.live_bytes, base);
    sr__bt_cache_free(rt, NULL);

    /* the runtime's own cache: made on first use, same text, freed with the runtime */
    assert_null(rt->panic.symbols);
    assert_int_equal(sr__bt_symbolize_rt(rt, addrs[3], got, sizeof got), full);
    assert_string_equal(got, want);
    assert_non_null(rt->panic.symbols);
    assert_int_equal(sr__bt_symbolize_rt(NULL, addrs[3], got, sizeof got), full);
    sr_runtime_free(rt);
    assert_int_equal(ta.live_bytes, 0);
}

static void cache_survives_allocation_failure(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_config c = sr_test_config(&ta);
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    sr__bt_cache *cache = sr__bt_cache_new(rt);
    assert_non_null(cache);
    ta.fail_at = ta.calls + 1;
    ta.fail_all_after = true;
    char got[512], want[512];
    void *a = (char *)(uintptr_t)capture_here + 2;
    int n = sr__bt_cache_symbolize(rt, cache, a, got, sizeof got);
    sr__bt_symbolize(a, want, sizeof want);
    assert_int_equal((size_t)n, strlen(want));
    assert_string_equal(got, want);
    ta.fail_at = 0;
    ta.fail_all_after = false;
    sr__bt_cache_free(rt, cache);
    sr_runtime_free(rt);
    assert_int_equal(ta.live_bytes, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(capture_starts_at_the_caller),
        cmocka_unit_test(cache_matches_uncached_and_frees_everything),
        cmocka_unit_test(cache_survives_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
