/*
 * test_heap.c - the heap-limited allocator: exact accounting, the limit at its
 * boundary, realloc, a randomized model check and a failing underlying allocator.
 */
#include "support.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static sr_runtime *new_rt(size_t limit)
{
    sr_config c = sr_config_default();
    c.max_heap_size = limit;
    c.enable_profiling = false;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    return rt;
}

static sr_stats stats(sr_runtime *rt)
{
    sr_stats st;
    sr_runtime_stats(rt, &st);
    return st;
}

static void charge_rule_matches_heap_used(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt(0);
    size_t expect = 0;
    void *ps[40];
    size_t sizes[40];
    for (int i = 0; i < 40; i++) {
        sizes[i] = (size_t)i * (size_t)i * 7u;   /* 0 .. 10647: small and large */
        ps[i] = sr_alloc(rt, sizes[i]);
        assert_non_null(ps[i]);
        expect += sr_alloc_charge(sizes[i]);
        assert_int_equal(stats(rt).heap_used, expect);
        assert_true(sr_alloc_charge(sizes[i]) >= sizes[i] + 16);
    }
    /* the rule as documented: class size up to 2048, else 32 + round16(16 + size) */
    assert_int_equal(sr_alloc_charge(0), 16);
    assert_int_equal(sr_alloc_charge(1), 32);
    assert_int_equal(sr_alloc_charge(16), 32);
    assert_int_equal(sr_alloc_charge(17), 48);
    assert_int_equal(sr_alloc_charge(100), 128);
    assert_int_equal(sr_alloc_charge(2032), 2048);
    assert_int_equal(sr_alloc_charge(2033), 32 + 16 + 2048);
    for (int i = 0; i < 40; i++) sr_free(rt, ps[i]);
    sr_stats st = stats(rt);
    assert_int_equal(st.heap_used, 0);
    assert_int_equal(st.allocations, 40);
    assert_int_equal(st.frees, 40);
    assert_int_equal(st.live_blocks, 0);
    assert_int_equal(st.heap_peak, expect);
    sr_runtime_free(rt);
}

static void blocks_are_aligned_and_usable(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt(0);
    for (size_t s = 0; s < 5000; s += 37) {
        unsigned char *p = sr_alloc(rt, s);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        assert_true(sr_alloc_usable_size(rt, p) >= s);
        memset(p, 0xab, sr_alloc_usable_size(rt, p));
        sr_free(rt, p);
    }
    void *a = sr_alloc(rt, 0), *b = sr_alloc(rt, 0);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    sr_free(rt, a);
    sr_free(rt, b);
    sr_runtime_free(rt);
}

/* The limit at its exact boundary: limit-1, limit and limit+1 bytes. */
static void limit_exact_boundary(void **state)
{
    (void)state;
    const size_t sizes[] = { 1, 24, 100, 2032, 5000 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t ch = sr_alloc_charge(sizes[i]);
        sr_runtime *rt = new_rt(ch - 1);
        assert_null(sr_alloc(rt, sizes[i]));
        sr_stats st = stats(rt);
        assert_int_equal(st.failed_allocations, 1);
        assert_int_equal(st.heap_used, 0);
        assert_int_equal(st.allocations, 0);
        assert_int_equal(st.live_blocks, 0);
        sr_runtime_free(rt);

        rt = new_rt(ch);
        void *p = sr_alloc(rt, sizes[i]);
        assert_non_null(p);
        assert_int_equal(stats(rt).heap_used, ch);
        assert_null(sr_alloc(rt, 0));                 /* not one byte more */
        assert_int_equal(stats(rt).heap_used, ch);
        sr_free(rt, p);
        assert_non_null(p = sr_alloc(rt, sizes[i]));  /* room again after the free */
        sr_free(rt, p);
        sr_runtime_free(rt);

        rt = new_rt(ch + 1);
        p = sr_alloc(rt, sizes[i]);
        assert_non_null(p);
        assert_null(sr_alloc(rt, 0));                 /* the smallest block costs 16 */
        assert_true(stats(rt).heap_used <= ch + 1);
        sr_free(rt, p);
        sr_runtime_free(rt);
    }
}

static void refused_allocation_changes_nothing_else(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt(4096);
    void *p = sr_alloc(rt, 3000);
    assert_non_null(p);
    sr_stats before = stats(rt);
    assert_null(sr_alloc(rt, 3000));
    assert_null(sr_calloc(rt, 1000, 1000));
    sr_stats after = stats(rt);
    assert_int_equal(after.failed_allocations, before.failed_allocations + 2);
    assert_int_equal(after.heap_used, before.heap_used);
    assert_int_equal(after.heap_peak, before.heap_peak);
    assert_int_equal(after.allocations, before.allocations);
    assert_int_equal(after.frees, before.frees);
    assert_int_equal(after.live_blocks, before.live_blocks);
    assert_int_equal(after.heap_reserved, before.heap_reserved);
    sr_free(rt, p);
    sr_runtime_free(rt);
}

static void huge_and_overflowing_requests_fail_cleanly(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt(0);
    assert_null(sr_alloc(rt, SIZE_MAX));
    assert_null(sr_alloc(rt, SIZE_MAX - 40));
    assert_null(sr_calloc(rt, SIZE_MAX / 2, 3));
    void *p = sr_alloc(rt, 10);
    assert_null(sr_realloc(rt, p, SIZE_MAX));
    assert_int_equal(stats(rt).failed_allocations, 4);
    assert_int_equal(stats(rt).heap_used, sr_alloc_charge(10));
    sr_free(rt, p);
    assert_null(sr_alloc(NULL, 10));
    assert_null(sr_realloc(NULL, NULL, 10));
    sr_free(NULL, p);            /* NULL runtime: no-op */
    sr_free(rt, NULL);
    assert_int_equal(sr_alloc_charge(SIZE_MAX), 0);
    sr_runtime_free(rt);
}

static void calloc_zeroes(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt(0);
    unsigned char *p = sr_alloc(rt, 500);
    memset(p, 0xff, 500);
    sr_free(rt, p);                              /* the next block of that class is dirty */
    unsigned char *q = sr_calloc(rt, 25, 20);
    for (int i = 0; i < 500; i++) assert_int_equal(q[i], 0);
    sr_free(rt, q);
    sr_runtime_free(rt);
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed + i * 31u);
}

static int check(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 31u)) return 0;
    return 1;
}

static void realloc_basics(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt(0);
    unsigned char *p = sr_realloc(rt, NULL, 40);        /* NULL ptr = alloc */
    assert_non_null(p);
    fill(p, 40, 1);
    unsigned char *q = sr_realloc(rt, p, 44);           /* same class: in place */
    assert_ptr_equal(p, q);
    q = sr_realloc(rt, q, 3000);                        /* small -> large */
    assert_true(check(q, 40, 1));
    fill(q, 3000, 2);
    q = sr_realloc(rt, q, 9000);                        /* large -> large */
    assert_true(check(q, 3000, 2));
    q = sr_realloc(rt, q, 100);                         /* large shrinks, stays large */
    assert_true(check(q, 100, 2));
    assert_int_equal(stats(rt).heap_used, 32 + 16 + 112);
    assert_null(sr_realloc(rt, q, 0));                  /* size 0 frees */
    sr_stats st = stats(rt);
    assert_int_equal(st.heap_used, 0);
    assert_int_equal(st.live_blocks, 0);
    sr_runtime_free(rt);
}

/* Growth and shrink at the limit: allowed when the result fits, refused with the
   old block intact otherwise; heap_used never passes the limit. */
static void realloc_at_the_limit(void **state)
{
    (void)state;
    size_t limit = sr_alloc_charge(1000);
    sr_runtime *rt = new_rt(limit);
    unsigned char *p = sr_alloc(rt, 200);               /* charge 256 */
    fill(p, 200, 3);
    /* grows to 1000 (charge 1024 = the limit) although 256 + 1024 > limit */
    unsigned char *q = sr_realloc(rt, p, 1000);
    assert_non_null(q);
    assert_true(check(q, 200, 3));
    assert_int_equal(stats(rt).heap_used, limit);
    assert_true(stats(rt).heap_peak <= limit);
    fill(q, 1000, 4);
    assert_null(sr_realloc(rt, q, 1009));               /* past the class: refused */
    assert_true(check(q, 1000, 4));                     /* old block intact */
    assert_int_equal(stats(rt).failed_allocations, 1);
    assert_int_equal(stats(rt).heap_used, limit);
    unsigned char *r = sr_realloc(rt, q, 10);           /* shrink at the limit works */
    assert_non_null(r);
    assert_true(check(r, 10, 4));
    sr_free(rt, r);
    assert_int_equal(stats(rt).heap_used, 0);
    sr_runtime_free(rt);

    /* large block growth at the limit */
    limit = sr_alloc_charge(10000);
    rt = new_rt(limit);
    p = sr_alloc(rt, 5000);
    fill(p, 5000, 5);
    q = sr_realloc(rt, p, 10000);
    assert_non_null(q);
    assert_true(check(q, 5000, 5));
    assert_int_equal(stats(rt).heap_used, limit);
    assert_null(sr_realloc(rt, q, 10017));
    assert_true(check(q, 5000, 5));
    assert_int_equal(stats(rt).heap_used, limit);
    sr_free(rt, q);
    sr_runtime_free(rt);
}

/* 10,000 random alloc/free/realloc steps against a model of what is live and of
   the exact heap_used, with a limit in force. */
static void randomized_against_model(void **state)
{
    (void)state;
    enum { SLOTS = 128, STEPS = 10000 };
    const size_t limit = 96 * 1024;
    uint64_t seed = sr_test_seed(20261125);
    for (uint64_t round = 0; round < 4; round++) {
        sr_test_rng rng = { seed + round };
        sr_runtime *rt = new_rt(limit);
        unsigned char *ptr[SLOTS] = {0};
        size_t size[SLOTS] = {0};
        size_t charge[SLOTS] = {0};
        unsigned tag[SLOTS] = {0};
        size_t model_used = 0;
        uint64_t model_failed = 0;
        for (int step = 0; step < STEPS; step++) {
            unsigned k = (unsigned)(sr_test_rand(&rng) % SLOTS);
            unsigned op = (unsigned)(sr_test_rand(&rng) % 3);
            size_t n = (sr_test_rand(&rng) % 4 == 0) ? (size_t)(sr_test_rand(&rng) % 9000)
                                                     : (size_t)(sr_test_rand(&rng) % 300);
            if (ptr[k] && op == 0) {
                assert_true(check(ptr[k], size[k], tag[k]));
                model_used -= charge[k];
                sr_free(rt, ptr[k]);
                ptr[k] = NULL;
            } else if (ptr[k] && op == 1) {
                unsigned char *q = sr_realloc(rt, ptr[k], n ? n : 1);
                if (!q) {
                    model_failed++;
                    assert_true(check(ptr[k], size[k], tag[k]));
                } else {
                    size_t keep = size[k] < n ? size[k] : n;
                    assert_true(check(q, keep, tag[k]));
                    /* in-place shrinks keep their charge; everything else is the rule */
                    /* a small block that still fits stays in place with its charge;
                       a large block stays large (32 + 16 + round16(n)); every
                       other result is charged by the documented rule */
                    size_t now = sr__heap_charge_of(rt, sr__hdr_of(q));
                    size_t nn = n ? n : 1;
                    if (now != charge[k] && now != 48 + ((nn + 15) & ~(size_t)15))
                        assert_int_equal(now, sr_alloc_charge(nn));
                    model_used = model_used - charge[k] + now;
                    charge[k] = now;
                    ptr[k] = q;
                    size[k] = n ? n : 1;
                    tag[k] = (unsigned)step;
                    fill(q, size[k], tag[k]);
                }
            } else if (!ptr[k]) {
                unsigned char *q = sr_alloc(rt, n);
                size_t ch = sr_alloc_charge(n);
                if (!q) {
                    assert_true(model_used + ch > limit);
                    model_failed++;
                } else {
                    ptr[k] = q;
                    size[k] = n;
                    tag[k] = (unsigned)step;
                    fill(q, n, tag[k]);
                    charge[k] = ch;
                    model_used += ch;
                }
            }
            sr_stats st = stats(rt);
            assert_int_equal(st.heap_used, model_used);
            assert_true(st.heap_used <= limit);
            assert_int_equal(st.failed_allocations, model_failed);
        }
        for (unsigned k = 0; k < SLOTS; k++) {
            if (ptr[k]) {
                assert_true(check(ptr[k], size[k], tag[k]));
                sr_free(rt, ptr[k]);
            }
        }
        sr_stats st = stats(rt);
        assert_int_equal(st.heap_used, 0);
        assert_int_equal(st.live_blocks, 0);
        assert_int_equal(st.allocations, st.frees);
        assert_true(st.heap_peak <= limit);
        sr_runtime_free(rt);
    }
}

/* A workload run with the Nth underlying allocation failing, for every N until
   it completes: no crash, a clear failure, no leak, consistent stats. */
static int workload(sr_runtime *rt)
{
    void *ps[300] = {0};
    int failures = 0;
    for (int i = 0; i < 300; i++) {
        ps[i] = sr_alloc(rt, (size_t)(i * 53 % 5000));
        if (!ps[i]) failures++;
    }
    for (int i = 0; i < 300; i += 3) {
        if (!ps[i]) continue;
        void *q = sr_realloc(rt, ps[i], (size_t)(i * 97 % 12000) + 1);
        if (q) ps[i] = q;
        else failures++;
    }
    size_t live_charge = 0;
    for (int i = 0; i < 300; i++)
        if (ps[i]) live_charge += sr__heap_charge_of(rt, sr__hdr_of(ps[i]));
    sr_stats st;
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.heap_used, live_charge);
    assert_int_equal(st.failed_allocations, (uint64_t)failures);
    for (int i = 0; i < 300; i++) sr_free(rt, ps[i]);
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.heap_used, 0);
    return failures;
}

static void failing_underlying_allocator_every_n(void **state)
{
    (void)state;
    for (size_t n = 1;; n++) {
        sr_test_alloc ta = { .fail_at = n };
        sr_config c = sr_test_config(&ta);
        c.enable_profiling = false;
        sr_runtime *rt = NULL;
        sr_status st = sr_runtime_new(&c, &rt);
        if (st != SR_OK) {
            assert_int_equal(st, SR_ERR_NOMEM);
            assert_int_equal(ta.live_bytes, 0);
            continue;
        }
        int failures = workload(rt);
        /* usable after a failure */
        void *p = sr_alloc(rt, 64);
        assert_non_null(p);
        sr_free(rt, p);
        sr_runtime_free(rt);
        assert_int_equal(ta.live_bytes, 0);
        assert_int_equal(ta.live_blocks, 0);
        if (failures == 0 && ta.failures == 0) break;   /* the workload ran past the failure point */
        assert_true(n < 100000);
    }
}

static size_t count_live;
static void count_cb(sr__hdr *h, void *ctx)
{
    (void)ctx;
    assert_int_equal(sr__kind(h), SR__KIND_RAW);
    count_live++;
}

static void each_live_visits_exactly_the_live_blocks(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt(0);
    void *ps[500];
    for (int i = 0; i < 500; i++) ps[i] = sr_alloc(rt, (size_t)(i * 13));
    for (int i = 0; i < 500; i += 2) sr_free(rt, ps[i]);
    count_live = 0;
    sr__heap_each_live(rt, count_cb, NULL);
    assert_int_equal(count_live, 250);
    assert_int_equal(stats(rt).live_blocks, 250);
    for (int i = 1; i < 500; i += 2) sr_free(rt, ps[i]);
    count_live = 0;
    sr__heap_each_live(rt, count_cb, NULL);
    assert_int_equal(count_live, 0);
    sr_runtime_free(rt);
}

static void freed_memory_is_reused(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt(0);
    for (int i = 0; i < 100000; i++) {
        void *p = sr_alloc(rt, 64);
        sr_free(rt, p);
    }
    sr_stats st = stats(rt);
    assert_int_equal(st.heap_reserved, 64u * 1024u);    /* one page served them all */
    assert_int_equal(st.heap_used, 0);
    assert_int_equal(st.heap_peak, sr_alloc_charge(64));
    sr_runtime_free(rt);
}

static void double_free_child(void *arg)
{
    (void)arg;
    sr_runtime *rt = NULL;
    sr_runtime_new(NULL, &rt);
    void *p = sr_alloc(rt, 10);
    sr_free(rt, p);
    sr_free(rt, p);          /* panics outside protection: report and abort */
}

static void double_free_is_detected(void **state)
{
    (void)state;
    char err[4096];
    int rc = sr_test_in_child(double_free_child, NULL, err, sizeof err);
    assert_int_equal(rc, 128 + 6);    /* SIGABRT */
    assert_non_null(strstr(err, "sr_free"));
    assert_non_null(strstr(err, "freed already"));
}


/* An emergency collection inside a moving realloc runs finalizers that
   allocate or panic: the limit still holds and the counters stay true. */
typedef struct cyc { void *other; } cyc;
static void *fin_blocks[8];
static int fin_mode;   /* 0: allocate, 1: panic */
static void cyc_finalize(sr_runtime *rt, void *obj)
{
    (void)obj;
    if (fin_mode == 1) sr_panic(rt, "finalizer refuses");
    for (int i = 0; i < 8; i++)
        if (!fin_blocks[i]) { fin_blocks[i] = sr_alloc(rt, 1000); break; }
}

static sr_type_id cyc_type(sr_runtime *rt)
{
    static const sr_field f[] = { { "other", offsetof(cyc, other), SR_FIELD_REF } };
    sr_type t = { "Cyc", sizeof(cyc), f, 1, NULL, cyc_finalize };
    sr_type_id id = SR_TYPE_NONE;
    assert_int_equal(sr_type_register(rt, &t, &id), SR_OK);
    return id;
}

static void make_garbage_cycle(sr_runtime *rt, sr_type_id id)
{
    cyc *a = sr_rc_new(rt, id), *b = sr_rc_new(rt, id);
    assert_non_null(a);
    assert_non_null(b);
    a->other = sr_rc_retain(b);
    b->other = sr_rc_retain(a);
    sr_rc_release(rt, a);
    sr_rc_release(rt, b);
}

typedef struct { void *block; void *result; } grow_arg;
static void grow_fn(sr_runtime *rt, void *p)
{
    grow_arg *g = p;
    g->result = sr_realloc(rt, g->block, 2000);
}

static void realloc_emergency_collection_with_finalizers(void **state)
{
    (void)state;
    for (fin_mode = 0; fin_mode < 2; fin_mode++) {
        memset(fin_blocks, 0, sizeof fin_blocks);
        sr_config c = sr_config_default();
        c.enable_profiling = false;
        c.gc_threshold = 1000000;
        sr_runtime *rt = NULL;
        assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
        sr_type_id id = cyc_type(rt);
        void *r = sr_alloc(rt, 1000);
        make_garbage_cycle(rt, id);
        size_t limit = stats(rt).heap_used + 100;
        assert_int_equal(sr_runtime_set_heap_limit(rt, limit), SR_OK);
        grow_arg g = { r, NULL };
        sr_status st = sr_execute_protected(rt, grow_fn, &g);
        sr_stats s1 = stats(rt);
        assert_true(s1.heap_used <= limit);
        assert_true(s1.heap_peak <= limit);
        assert_true(s1.heap_used < (size_t)1 << 40);   /* never wrapped */
        if (fin_mode == 1) assert_int_equal(st, SR_ERR_PANIC);
        void *live = g.result ? g.result : r;
        sr_free(rt, live);
        for (int i = 0; i < 8; i++) sr_free(rt, fin_blocks[i]);
        sr_gc_collect(rt);
        sr_stats s2 = stats(rt);
        assert_int_equal(s2.heap_used, 0);
        assert_int_equal(s2.live_blocks, 0);
        assert_int_equal(s2.live_objects, 0);
        sr_runtime_free(rt);
    }
}

static void free_weak_handle_child(void *arg)
{
    (void)arg;
    sr_runtime *rt = NULL;
    sr_runtime_new(NULL, &rt);
    sr_type_id id = cyc_type(rt);
    void *o = sr_rc_new(rt, id);
    sr_weak *w = sr_weak_new(rt, o);
    sr_free(rt, w);          /* a weak handle is not a raw block: panics */
}

static void sr_free_refuses_a_weak_handle(void **state)
{
    (void)state;
    char err[4096];
    int rc = sr_test_in_child(free_weak_handle_child, NULL, err, sizeof err);
    assert_int_equal(rc, 128 + 6);
    assert_non_null(strstr(err, "not a live block"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(charge_rule_matches_heap_used),
        cmocka_unit_test(blocks_are_aligned_and_usable),
        cmocka_unit_test(limit_exact_boundary),
        cmocka_unit_test(refused_allocation_changes_nothing_else),
        cmocka_unit_test(huge_and_overflowing_requests_fail_cleanly),
        cmocka_unit_test(calloc_zeroes),
        cmocka_unit_test(realloc_basics),
        cmocka_unit_test(realloc_at_the_limit),
        cmocka_unit_test(randomized_against_model),
        cmocka_unit_test(failing_underlying_allocator_every_n),
        cmocka_unit_test(each_live_visits_exactly_the_live_blocks),
        cmocka_unit_test(freed_memory_is_reused),
        cmocka_unit_test(double_free_is_detected),
        cmocka_unit_test(realloc_emergency_collection_with_finalizers),
        cmocka_unit_test(sr_free_refuses_a_weak_handle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
