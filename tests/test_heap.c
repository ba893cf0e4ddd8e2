/*
 * test_heap.c - the heap-limited allocator: exact accounting, the limit at its
 * boundary, realloc, a randomized model check, a failing underlying allocator,
 * and giving pages back (sr_heap_trim).
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

/* ---- trimming ------------------------------------------------------------------ */

#define PAGE ((size_t)SR__PAGE_SIZE)

/* Blocks of a class (charge, header included) that one page holds. */
static size_t per_page(size_t charge) { return (PAGE - sizeof(sr__page)) / charge; }
static size_t pages_for(size_t n, size_t charge) { return (n + per_page(charge) - 1) / per_page(charge); }

/* White-box check of the heap's structure (H3, H4 and the carving state):
   every free-list block is a FREE block carved from a page of its class and
   appears once; every FREE carved block is on its class's list; a class's
   newest page is on the page list with its bump pointer after its carved
   blocks; heap_reserved is exactly the pages and large blocks. Returns the
   number of pages. */
static size_t heap_check(sr_runtime *rt)
{
    sr__heap *hp = &rt->heap;
    size_t npages = 0, free_in_pages[SR__NUM_CLASSES] = {0}, large = 0;
    for (sr__page *p = hp->pages; p; p = p->next) {
        npages++;
        assert_true(p->cls < SR__NUM_CLASSES);
        size_t size = hp->cls[p->cls].size;
        assert_true(sizeof(sr__page) + (size_t)p->carved * size <= PAGE);
        const char *b = (const char *)p + sizeof(sr__page);
        for (uint32_t i = 0; i < p->carved; i++, b += size)
            if (sr__kind((const sr__hdr *)(const void *)b) == SR__KIND_FREE) free_in_pages[p->cls]++;
    }
    for (sr__large *l = hp->large; l; l = l->next) large += l->charge;
    for (unsigned c = 0; c < SR__NUM_CLASSES; c++) {
        sr__size_class *sc = &hp->cls[c];
        size_t n = 0;
        for (sr__free_block *b = sc->free; b; b = b->next) {
            n++;
            assert_true(n <= free_in_pages[c]);   /* no block twice, no cycle */
            assert_int_equal(b->info, SR__KIND_FREE);
            bool found = false;
            for (sr__page *p = hp->pages; p && !found; p = p->next) {
                const char *first = (const char *)p + sizeof(sr__page);
                const char *at = (const char *)b;
                if (p->cls == c && at >= first && at < first + (size_t)p->carved * sc->size) {
                    assert_int_equal((size_t)(at - first) % sc->size, 0);
                    found = true;
                }
            }
            assert_true(found);
        }
        assert_int_equal(n, free_in_pages[c]);
        if (sc->newest) {
            bool listed = false;
            for (sr__page *p = hp->pages; p; p = p->next) listed |= p == sc->newest;
            assert_true(listed);
            assert_int_equal(sc->newest->cls, c);
            assert_ptr_equal(sc->bump, (char *)sc->newest + sizeof(sr__page) + (size_t)sc->newest->carved * sc->size);
            assert_ptr_equal(sc->end, (char *)sc->newest + PAGE);
        } else {
            assert_null(sc->bump);
        }
    }
    assert_int_equal(hp->reserved, npages * PAGE + large);
    return npages;
}

/* What a trim must give back: the pages whose carved blocks are all free,
   counted the slow, obvious way. */
static size_t expect_trim(sr_runtime *rt)
{
    size_t n = 0;
    for (sr__page *p = rt->heap.pages; p; p = p->next) {
        size_t size = rt->heap.cls[p->cls].size, nfree = 0;
        const char *b = (const char *)p + sizeof(sr__page);
        for (uint32_t i = 0; i < p->carved; i++, b += size)
            nfree += sr__kind((const sr__hdr *)(const void *)b) == SR__KIND_FREE;
        n += nfree == p->carved;
    }
    return n * PAGE;
}

static sr_runtime *new_counted_rt(sr_test_alloc *ta, bool profiling)
{
    sr_config c = sr_test_config(ta);
    c.enable_profiling = profiling;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    return rt;
}

/* Every byte the underlying allocator holds is a page, a large block or bookkeeping. */
static void assert_sys_accounted(sr_runtime *rt, const sr_test_alloc *ta)
{
    sr_stats st = stats(rt);
    assert_int_equal(ta->live_bytes, st.heap_reserved + st.internal_bytes);
}

static void trim_gives_back_every_free_page(void **state)
{
    (void)state;
    assert_int_equal(sr_heap_trim(NULL), 0);
    assert_int_equal(sizeof(sr__page), 16);
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_counted_rt(&ta, false);
    sr_stats s0 = stats(rt);
    assert_int_equal(s0.heap_reserved, 0);
    assert_int_equal(sr_heap_trim(rt), 0);   /* nothing to give back */
    assert_sys_accounted(rt, &ta);
    enum { NS = 5 };
    const size_t sizes[NS] = { 0, 40, 100, 500, 2032 };      /* charges 16, 64, 128, 512, 2048 */
    const size_t counts[NS] = { 10000, 3000, 1500, 400, 100 };
    size_t pages = 0;
    for (int i = 0; i < NS; i++) pages += pages_for(counts[i], sr_alloc_charge(sizes[i]));
    assert_int_equal(pages, 3 + 3 + 3 + 4 + 4);
    for (int round = 0; round < 2; round++) {
        unsigned char **ps[NS];
        size_t used = 0;
        for (int i = 0; i < NS; i++) {
            ps[i] = malloc(counts[i] * sizeof *ps[i]);
            assert_non_null(ps[i]);
            for (size_t k = 0; k < counts[i]; k++) {
                ps[i][k] = sr_alloc(rt, sizes[i]);
                assert_non_null(ps[i][k]);
                fill(ps[i][k], sizes[i], (unsigned)(k * 7 + (size_t)i));
                used += sr_alloc_charge(sizes[i]);
            }
        }
        void *big = sr_alloc(rt, 5000);
        assert_non_null(big);
        used += sr_alloc_charge(5000);
        sr_stats s1 = stats(rt);
        assert_int_equal(s1.heap_used, used);
        assert_int_equal(s1.heap_reserved, pages * PAGE + sr_alloc_charge(5000));
        assert_int_equal(sr_heap_trim(rt), 0);   /* every page has live blocks */
        assert_int_equal(heap_check(rt), pages);
        for (int i = 0; i < NS; i++) {
            for (size_t k = 0; k < counts[i]; k++) {
                assert_true(check(ps[i][k], sizes[i], (unsigned)(k * 7 + (size_t)i)));
                sr_free(rt, ps[i][k]);
            }
            free(ps[i]);
        }
        assert_int_equal(stats(rt).heap_used, sr_alloc_charge(5000));
        assert_int_equal(sr_heap_trim(rt), pages * PAGE);
        sr_stats s2 = stats(rt);
        assert_int_equal(s2.heap_used, sr_alloc_charge(5000));
        assert_int_equal(s2.heap_reserved, sr_alloc_charge(5000));
        assert_int_equal(s2.heap_trimmed, (uint64_t)(round + 1) * pages * PAGE);
        assert_int_equal(s2.internal_bytes, s0.internal_bytes);   /* the scratch table went back */
        assert_int_equal(s2.live_blocks, 1);
        assert_int_equal(s2.failed_allocations, 0);
        assert_int_equal(heap_check(rt), 0);
        assert_sys_accounted(rt, &ta);
        assert_int_equal(sr_heap_trim(rt), 0);
        sr_free(rt, big);
        assert_int_equal(stats(rt).heap_reserved, s0.heap_reserved);   /* the floor */
    }
    sr_runtime_free(rt);
    assert_int_equal(ta.live_bytes, 0);
    assert_int_equal(ta.live_blocks, 0);
}

/* Pages 0 and 2 of four classes all free, page 1 with one live block, pages
   3.. all live: exactly pages 0 and 2 go, whether the free blocks are
   counted the dense way (no scratch) or the sparse way (one scratch table
   from the underlying allocator). */
static void keep_pages_case(size_t full, bool sparse)
{
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_counted_rt(&ta, false);
    if (sparse) rt->heap.trim_sparse = 1;   /* sparse whenever a small block is live */
    enum { NS = 4 };
    const size_t sizes[NS] = { 0, 32, 240, 1008 };   /* charges 16, 48, 256, 1024 */
    unsigned char **ps[NS];
    size_t pp[NS], used = 0;
    for (int i = 0; i < NS; i++) {
        size_t ch = sr_alloc_charge(sizes[i]);
        pp[i] = per_page(ch);
        ps[i] = calloc((full + 2) * pp[i], sizeof *ps[i]);
        assert_non_null(ps[i]);
        for (size_t k = 0; k < full * pp[i]; k++) {   /* exactly `full` full pages, carved in order */
            ps[i][k] = sr_alloc(rt, sizes[i]);
            assert_non_null(ps[i][k]);
            fill(ps[i][k], sizes[i], (unsigned)k);
        }
        used += full * pp[i] * ch;
    }
    assert_int_equal(stats(rt).heap_reserved, NS * full * PAGE);
    /* page 0 and page 2 all free, page 1 with one live block, page 3 all live */
    for (int i = 0; i < NS; i++) {
        size_t ch = sr_alloc_charge(sizes[i]);
        for (size_t k = 0; k < 3 * pp[i]; k++) {
            if (k == pp[i] + pp[i] / 2) continue;
            sr_free(rt, ps[i][k]);
            ps[i][k] = NULL;
            used -= ch;
        }
    }
    assert_int_equal(expect_trim(rt), NS * 2 * PAGE);
    sr_stats s1 = stats(rt);
    assert_int_equal(s1.heap_used, used);
    size_t calls = ta.calls;
    assert_int_equal(sr_heap_trim(rt), NS * 2 * PAGE);
    assert_int_equal(ta.calls - calls, sparse ? 1 : 0);   /* the sparse count's scratch table */
    sr_stats s2 = stats(rt);
    assert_int_equal(s2.heap_used, used);
    assert_int_equal(s2.heap_peak, s1.heap_peak);
    assert_int_equal(s2.allocations, s1.allocations);
    assert_int_equal(s2.frees, s1.frees);
    assert_int_equal(s2.live_blocks, s1.live_blocks);
    assert_int_equal(s2.heap_reserved, s1.heap_reserved - NS * 2 * PAGE);
    assert_int_equal(heap_check(rt), NS * (full - 2));
    assert_sys_accounted(rt, &ta);
    /* the free blocks left are page 1's: they serve the next pp - 1 blocks of
       each class without a new page; the one after takes a new page */
    for (int i = 0; i < NS; i++) {
        size_t ch = sr_alloc_charge(sizes[i]);
        for (size_t k = 0; k < pp[i] - 1; k++) {
            size_t slot = k < pp[i] / 2 ? pp[i] + k : pp[i] + k + 1;
            assert_null(ps[i][slot]);
            ps[i][slot] = sr_alloc(rt, sizes[i]);
            assert_non_null(ps[i][slot]);
            fill(ps[i][slot], sizes[i], (unsigned)slot);
            used += ch;
        }
        assert_int_equal(stats(rt).heap_reserved, NS * (full - 2) * PAGE);
    }
    for (int i = 0; i < NS; i++) {
        size_t ch = sr_alloc_charge(sizes[i]);
        ps[i][full * pp[i]] = sr_alloc(rt, sizes[i]);
        assert_non_null(ps[i][full * pp[i]]);
        fill(ps[i][full * pp[i]], sizes[i], (unsigned)(full * pp[i]));
        used += ch;
        assert_int_equal(stats(rt).heap_reserved, (NS * (full - 2) + (size_t)i + 1) * PAGE);
    }
    assert_int_equal(stats(rt).heap_used, used);
    assert_int_equal(heap_check(rt), NS * (full - 1));
    for (int i = 0; i < NS; i++) {
        for (size_t k = 0; k <= full * pp[i]; k++) {
            if (!ps[i][k]) continue;
            assert_true(check(ps[i][k], sizes[i], (unsigned)k));
            sr_free(rt, ps[i][k]);
        }
        free(ps[i]);
    }
    assert_int_equal(sr_heap_trim(rt), NS * (full - 1) * PAGE);
    assert_int_equal(stats(rt).heap_reserved, 0);
    assert_int_equal(stats(rt).heap_used, 0);
    sr_runtime_free(rt);
    assert_int_equal(ta.live_bytes, 0);
}

static void trim_keeps_pages_with_live_blocks(void **state)
{
    (void)state;
    keep_pages_case(4, false);
    keep_pages_case(4, true);
    keep_pages_case(40, false);
    keep_pages_case(40, true);
}

/* Every one of the 25 classes (through the heap's own entry points, as raw
   blocks of exactly the class size): carve three pages' worth, free all,
   trim, carve again, free every other block, trim (nothing may go), and the
   survivors and new blocks keep their bytes. */
static void every_class_allocates_after_trim(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_counted_rt(&ta, false);
    sr__heap *hp = &rt->heap;
    size_t total_pages = 0;
    for (unsigned c = 0; c < SR__NUM_CLASSES; c++) total_pages += pages_for(2 * per_page(hp->cls[c].size) + 5, hp->cls[c].size);
    assert_int_equal(total_pages, 3 * SR__NUM_CLASSES);
    for (int round = 0; round < 3; round++) {
        sr__hdr **hs[SR__NUM_CLASSES];
        size_t n[SR__NUM_CLASSES], used = 0;
        for (unsigned c = 0; c < SR__NUM_CLASSES; c++) {
            size_t size = hp->cls[c].size;
            n[c] = 2 * per_page(size) + 5;
            hs[c] = malloc(n[c] * sizeof *hs[c]);
            assert_non_null(hs[c]);
            for (size_t k = 0; k < n[c]; k++) {
                sr__hdr *h = sr__heap_alloc_inline(rt, size, SR__KIND_RAW);
                assert_non_null(h);
                assert_int_equal(h->cls, c);
                fill(sr__payload_of(h), size - SR__HDR_SIZE, (unsigned)(k + c));
                hs[c][k] = h;
                used += size;
            }
        }
        assert_int_equal(stats(rt).heap_used, used);
        assert_int_equal(stats(rt).heap_reserved, total_pages * PAGE);
        if (round < 2) {
            for (unsigned c = 0; c < SR__NUM_CLASSES; c++) {
                for (size_t k = 0; k < n[c]; k++)
                    assert_true(check(sr__payload_of(hs[c][k]), hp->cls[c].size - SR__HDR_SIZE, (unsigned)(k + c)));
                for (size_t k = 0; k < n[c]; k++)
                    sr__heap_free_inline(rt, hs[c][n[c] - 1 - k]);   /* a list in address order */
            }
            assert_int_equal(sr_heap_trim(rt), total_pages * PAGE);
            assert_int_equal(heap_check(rt), 0);
        } else {
            for (unsigned c = 0; c < SR__NUM_CLASSES; c++)
                for (size_t k = 1; k < n[c]; k += 2) {
                    sr__heap_free_inline(rt, hs[c][k]);
                    used -= hp->cls[c].size;
                }
            assert_int_equal(sr_heap_trim(rt), 0);
            assert_int_equal(heap_check(rt), total_pages);
            for (unsigned c = 0; c < SR__NUM_CLASSES; c++) {
                size_t size = hp->cls[c].size;
                for (size_t k = 1; k < n[c]; k += 2) {   /* the freed slots refill without a new page */
                    sr__hdr *h = sr__heap_alloc_inline(rt, size, SR__KIND_RAW);
                    assert_non_null(h);
                    fill(sr__payload_of(h), size - SR__HDR_SIZE, (unsigned)(k + c));
                    hs[c][k] = h;
                    used += size;
                }
            }
            assert_int_equal(stats(rt).heap_reserved, total_pages * PAGE);
            assert_int_equal(stats(rt).heap_used, used);
            for (unsigned c = 0; c < SR__NUM_CLASSES; c++)
                for (size_t k = 0; k < n[c]; k++) {
                    assert_true(check(sr__payload_of(hs[c][k]), hp->cls[c].size - SR__HDR_SIZE, (unsigned)(k + c)));
                    sr__heap_free_inline(rt, hs[c][k]);
                }
            assert_int_equal(sr_heap_trim(rt), total_pages * PAGE);
        }
        for (unsigned c = 0; c < SR__NUM_CLASSES; c++) free(hs[c]);
        assert_int_equal(stats(rt).heap_used, 0);
        assert_int_equal(stats(rt).heap_reserved, 0);
    }
    sr_runtime_free(rt);
    assert_int_equal(ta.live_bytes, 0);
}

/* A workload for the two trim paths: blocks of four classes; sparse frees a
   run of 1/25 of them and 1 in 97 of the rest, dense all but 1 in 16 of the
   later half and all of the first. */
static void trim_workload(sr_runtime *rt, void **ps, size_t n, uint64_t seed, bool sparse)
{
    sr_test_rng rng = { seed };
    for (size_t i = 0; i < n; i++) ps[i] = sr_alloc(rt, (size_t)(sr_test_rand(&rng) % 4) * 150);
    for (size_t i = 0; i < n; i++) {
        uint64_t r = sr_test_rand(&rng);
        bool go = sparse ? (i >= n / 2 && i < n / 2 + n / 25) || r % 97 == 0 : r % 16 != 0 || i < n / 2;
        if (ps[i] && go) {
            sr_free(rt, ps[i]);
            ps[i] = NULL;
        }
    }
}

/* Few free blocks, and the sparse count's scratch table refused: the dense
   count gives back exactly the same pages. */
static void trim_without_scratch_gives_the_same(void **state)
{
    (void)state;
    enum { N = 100000 };
    void **pa = calloc(N, sizeof *pa), **pb = calloc(N, sizeof *pb);
    assert_non_null(pa);
    assert_non_null(pb);
    sr_test_alloc ta = {0}, tb = {0};
    sr_runtime *ra = new_counted_rt(&ta, false), *rb = new_counted_rt(&tb, false);
    ra->heap.trim_sparse = rb->heap.trim_sparse = 12;   /* about 5 % free: sparse below 1/12 */
    trim_workload(ra, pa, N, 7, true);
    trim_workload(rb, pb, N, 7, true);
    size_t want = expect_trim(ra);
    assert_true(want >= 10 * PAGE);
    assert_true(want < stats(ra).heap_reserved);   /* some pages keep live blocks */
    assert_int_equal(expect_trim(rb), want);
    tb.fail_at = tb.calls + 1;                       /* the next underlying call fails: the table */
    sr_stats b0 = stats(rb);
    size_t calls = ta.calls;
    assert_int_equal(sr_heap_trim(ra), want);
    assert_int_equal(ta.calls - calls, 1);           /* the sparse count took its table */
    assert_int_equal(sr_heap_trim(rb), want);
    assert_int_equal(tb.failures, 1);                /* refused: the dense count did the work */
    sr_stats a1 = stats(ra), b1 = stats(rb);
    assert_int_equal(b1.failed_allocations, b0.failed_allocations);   /* not an allocation failure */
    assert_int_equal(a1.heap_reserved, b1.heap_reserved);
    assert_int_equal(a1.heap_used, b1.heap_used);
    assert_int_equal(heap_check(ra), heap_check(rb));
    assert_sys_accounted(ra, &ta);
    assert_sys_accounted(rb, &tb);
    for (size_t i = 0; i < N; i++) {
        sr_free(ra, pa[i]);
        sr_free(rb, pb[i]);
    }
    free(pa);
    free(pb);
    sr_runtime_free(ra);
    sr_runtime_free(rb);
    assert_int_equal(ta.live_bytes, 0);
    assert_int_equal(tb.live_bytes, 0);
}

/* The Nth underlying call fails, for every N until the workload completes:
   trims interleaved with allocation never leak, never lose a block. */
static void trim_with_failing_allocator_every_n(void **state)
{
    (void)state;
    enum { N = 3000 };
    void **ps = calloc(N, sizeof *ps);
    assert_non_null(ps);
    for (size_t n = 1;; n++) {
        sr_test_alloc ta = { .fail_at = n };
        sr_config c = sr_test_config(&ta);
        c.enable_profiling = false;
        sr_runtime *rt = NULL;
        if (sr_runtime_new(&c, &rt) != SR_OK) {
            assert_int_equal(ta.live_bytes, 0);
            continue;
        }
        trim_workload(rt, ps, N, n, n % 2 == 0);
        size_t want = expect_trim(rt);
        assert_int_equal(sr_heap_trim(rt), want);
        heap_check(rt);
        assert_sys_accounted(rt, &ta);
        size_t used = 0;
        for (size_t i = 0; i < N; i++) {
            if (!ps[i]) ps[i] = sr_alloc(rt, i % 300);
            if (ps[i]) used += sr__heap_charge_of(rt, sr__hdr_of(ps[i]));
        }
        assert_int_equal(stats(rt).heap_used, used);
        assert_int_equal(sr_heap_trim(rt), expect_trim(rt));
        for (size_t i = 0; i < N; i++) {
            sr_free(rt, ps[i]);
            ps[i] = NULL;
        }
        sr_heap_trim(rt);
        assert_int_equal(stats(rt).heap_reserved, 0);
        assert_int_equal(stats(rt).heap_used, 0);
        assert_sys_accounted(rt, &ta);
        sr_runtime_free(rt);
        assert_int_equal(ta.live_bytes, 0);
        assert_int_equal(ta.live_blocks, 0);
        if (ta.failures == 0) break;
        assert_true(n < 100000);
    }
    free(ps);
}

static void randomized_with_trim_against_model(void **state)
{
    (void)state;
    enum { SLOTS = 600, STEPS = 12000 };
    uint64_t seed = sr_test_seed(20261126);
    for (uint64_t round = 0; round < 4; round++) {
        sr_test_rng rng = { seed + round };
        const size_t limit = round % 2 ? 0 : 512 * 1024;
        sr_test_alloc ta = {0};
        sr_config c = sr_test_config(&ta);
        c.enable_profiling = false;
        c.max_heap_size = limit;
        sr_runtime *rt = NULL;
        assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
        unsigned char *ptr[SLOTS] = {0};
        size_t size[SLOTS] = {0}, charge[SLOTS] = {0};
        unsigned tag[SLOTS] = {0};
        size_t model_used = 0, trimmed = 0, trims_nonzero = 0;
        for (int step = 0; step < STEPS; step++) {
            bool draining = (step / 1500) % 2 == 1;     /* phases that free most blocks */
            unsigned k = (unsigned)(sr_test_rand(&rng) % SLOTS);
            unsigned op = (unsigned)(sr_test_rand(&rng) % 100);
            size_t n = (sr_test_rand(&rng) % 8 == 0) ? (size_t)(sr_test_rand(&rng) % 5000)
                                                     : (size_t)(sr_test_rand(&rng) % 400);
            if (op < 2) {
                size_t want = expect_trim(rt);
                size_t reserved = stats(rt).heap_reserved;
                if (sr_test_rand(&rng) % 2) ta.fail_at = ta.calls + 1;   /* refuse a scratch table */
                uint64_t how = sr_test_rand(&rng) % 3;   /* sparse count forced, by the rule, dense forced */
                rt->heap.trim_sparse = how == 0 ? 1 : how == 1 ? 128 : SIZE_MAX;
                assert_int_equal(sr_heap_trim(rt), want);
                ta.fail_at = 0;
                trimmed += want;
                trims_nonzero += want != 0;
                sr_stats st = stats(rt);
                assert_int_equal(st.heap_reserved, reserved - want);
                assert_int_equal(st.heap_trimmed, trimmed);
                heap_check(rt);
                assert_sys_accounted(rt, &ta);
            } else if (ptr[k] && (op < 40 || (draining && op < 90))) {
                assert_true(check(ptr[k], size[k], tag[k]));
                model_used -= charge[k];
                sr_free(rt, ptr[k]);
                ptr[k] = NULL;
            } else if (ptr[k] && op < 60) {
                unsigned char *q = sr_realloc(rt, ptr[k], n ? n : 1);
                if (!q) {
                    assert_true(limit != 0);
                    assert_true(check(ptr[k], size[k], tag[k]));
                } else {
                    size_t keep = size[k] < n ? size[k] : n;
                    assert_true(check(q, keep, tag[k]));
                    size_t now = sr__heap_charge_of(rt, sr__hdr_of(q));
                    model_used = model_used - charge[k] + now;
                    charge[k] = now;
                    ptr[k] = q;
                    size[k] = n ? n : 1;
                    tag[k] = (unsigned)step;
                    fill(q, size[k], tag[k]);
                }
            } else if (!ptr[k] && !draining) {
                unsigned char *q = sr_alloc(rt, n);
                size_t ch = sr_alloc_charge(n);
                if (!q) {
                    assert_true(limit != 0 && model_used + ch > limit);
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
            assert_true(limit == 0 || st.heap_used <= limit);
        }
        assert_true(trims_nonzero > 0);   /* the test did exercise giving pages back */
        for (unsigned k = 0; k < SLOTS; k++)
            if (ptr[k]) {
                assert_true(check(ptr[k], size[k], tag[k]));
                sr_free(rt, ptr[k]);
            }
        sr_heap_trim(rt);
        sr_stats st = stats(rt);
        assert_int_equal(st.heap_used, 0);
        assert_int_equal(st.heap_reserved, 0);
        assert_int_equal(heap_check(rt), 0);
        sr_runtime_free(rt);
        assert_int_equal(ta.live_bytes, 0);
    }
}

/* Objects, weak references and the profiler across a trim. */
typedef struct node { void *next; int64_t tag; } node;

static sr_type_id node_type(sr_runtime *rt)
{
    static const sr_field f[] = { { "next", offsetof(node, next), SR_FIELD_REF },
                                  { "tag", offsetof(node, tag), SR_FIELD_I64 } };
    sr_type t = { "Node", sizeof(node), f, 2, NULL, NULL };
    sr_type_id id = SR_TYPE_NONE;
    assert_int_equal(sr_type_register(rt, &t, &id), SR_OK);
    return id;
}

static void trim_with_profiling_and_weak_refs(void **state)
{
    (void)state;
    enum { N = 30000 };
    sr_test_alloc ta = {0};
    sr_config c = sr_test_config(&ta);
    c.enable_profiling = true;
    c.gc_threshold = 1000000;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    sr_type_id id = node_type(rt);
    node **objs = calloc(N, sizeof *objs);
    sr_weak **weak = calloc(N, sizeof *weak);
    assert_non_null(objs);
    assert_non_null(weak);
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < N; i++) {
            objs[i] = sr_rc_new_sized(rt, id, sizeof(node) + (i % 3) * 40);
            assert_non_null(objs[i]);
            objs[i]->tag = (int64_t)i;
            if (i % 5 == 0) assert_non_null(weak[i] = sr_weak_new(rt, objs[i]));
        }
        /* 2-cycles: among the objects kept, and garbage among the others */
        for (size_t i = 0; i + 1 < N; i += 2) {
            objs[i]->next = sr_rc_retain(objs[i + 1]);
            objs[i + 1]->next = sr_rc_retain(objs[i]);
        }
        sr_profiler_mark(rt);
        for (size_t i = 0; i < N; i++) {
            if (i >= N / 10) {   /* the oldest tenth stays: the pages after theirs empty out */
                sr_rc_release(rt, objs[i]);
                objs[i] = NULL;
            }
        }
        assert_true(sr_gc_collect(rt) > 0);
        sr_profile p0;
        assert_true(sr_profiler_stats(rt, &p0));
        sr_type_profile t0 = p0.types[0];
        for (size_t k = 1; k < p0.type_count; k++)
            if (strcmp(p0.types[k].type_name, "Node") == 0) t0 = p0.types[k];
        assert_string_equal(t0.type_name, "Node");
        sr_stats s0 = stats(rt);
        size_t want = expect_trim(rt);
        assert_true(want > 0);
        assert_int_equal(sr_heap_trim(rt), want);
        heap_check(rt);
        assert_sys_accounted(rt, &ta);
        sr_stats s1 = stats(rt);
        assert_int_equal(s1.heap_used, s0.heap_used);
        assert_int_equal(s1.live_objects, s0.live_objects);
        assert_int_equal(s1.live_objects, N / 10);
        sr_profile p1;
        assert_true(sr_profiler_stats(rt, &p1));
        assert_int_equal(p1.current_memory, s1.heap_used);
        assert_int_equal(p1.total_allocations, p0.total_allocations);
        assert_int_equal(p1.potential_leaks, p0.potential_leaks);
        for (size_t k = 0; k < p1.type_count; k++)
            if (strcmp(p1.types[k].type_name, "Node") == 0) {
                assert_int_equal(p1.types[k].current_count, t0.current_count);
                assert_int_equal(p1.types[k].current_bytes, t0.current_bytes);
                assert_int_equal(p1.types[k].frees, t0.frees);
            }
        char *report = sr_profiler_report(rt, SR_REPORT_JSON);
        assert_non_null(report);
        assert_non_null(strstr(report, "\"Node\""));
        free(report);
        /* the weak references: the survivors' upgrade to themselves, the dead ones' to NULL */
        for (size_t i = 0; i < N; i += 5) {
            node *o = sr_weak_upgrade(weak[i]);
            if (objs[i]) {
                assert_ptr_equal(o, objs[i]);
                assert_int_equal(o->tag, (int64_t)i);
                assert_ptr_equal(((node *)o->next)->next, o);
                sr_rc_release(rt, o);
            } else {
                assert_null(o);
            }
        }
        /* new objects land in fresh pages or the survivors' free blocks */
        node *extra[500];
        for (size_t i = 0; i < 500; i++) {
            extra[i] = sr_rc_new_sized(rt, id, sizeof(node) + (i % 9) * 40);
            assert_non_null(extra[i]);
            extra[i]->tag = -(int64_t)i;
        }
        for (size_t i = 0; i < 500; i++) {
            assert_int_equal(extra[i]->tag, -(int64_t)i);
            sr_rc_release(rt, extra[i]);
        }
        for (size_t i = 0; i < N; i++) {
            if (weak[i]) sr_weak_free(rt, weak[i]);
            weak[i] = NULL;
            if (objs[i]) sr_rc_release(rt, objs[i]);
            objs[i] = NULL;
        }
        sr_gc_collect(rt);
        assert_int_equal(stats(rt).heap_used, 0);
        assert_true(sr_heap_trim(rt) > 0);
        assert_int_equal(stats(rt).heap_reserved, 0);
        assert_false(sr_profiler_check_leaks(rt));
        assert_true(sr_profiler_stats(rt, &p1));
        assert_int_equal(p1.current_memory, 0);
        assert_sys_accounted(rt, &ta);
    }
    free(objs);
    free(weak);
    sr_runtime_free(rt);
    assert_int_equal(ta.live_bytes, 0);
}

static void heap_trim_on_collect_flag(void **state)
{
    (void)state;
    for (int flag = 0; flag < 2; flag++) {
        sr_config c = sr_config_default();
        c.enable_profiling = false;
        c.gc_threshold = 1000000;
        c.heap_trim_on_collect = flag == 1;
        sr_runtime *rt = NULL;
        assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
        sr_type_id id = node_type(rt);
        node **objs = malloc(10000 * sizeof *objs);
        assert_non_null(objs);
        for (int i = 0; i < 10000; i++) assert_non_null(objs[i] = sr_rc_new(rt, id));
        for (int i = 0; i < 10000; i += 2) {   /* all made before any is garbage (stress builds collect at each allocation) */
            objs[i]->next = sr_rc_retain(objs[i + 1]);
            objs[i + 1]->next = sr_rc_retain(objs[i]);
        }
        for (int i = 0; i < 10000; i++) sr_rc_release(rt, objs[i]);
        free(objs);
        size_t reserved = stats(rt).heap_reserved;
        assert_int_equal(reserved, pages_for(10000, 32) * PAGE);   /* 16-byte payload + header */
        assert_int_equal(sr_gc_collect(rt), 10000);
        sr_stats st = stats(rt);
        assert_int_equal(st.heap_used, 0);
        assert_int_equal(st.heap_reserved, flag ? 0 : reserved);
        assert_int_equal(st.heap_trimmed, flag ? reserved : 0);
        sr_runtime_free(rt);
    }
}

/* A finalizer that trims, run by the collector and by a release cascade:
   the call does nothing there (the pages may be under a walk). */
static size_t fin_trim_result;
static int fin_trim_calls;
static void trimming_finalize(sr_runtime *rt, void *obj)
{
    (void)obj;
    fin_trim_result += sr_heap_trim(rt);
    fin_trim_calls++;
}

static void trim_from_a_finalizer_does_nothing(void **state)
{
    (void)state;
    sr_config c = sr_config_default();
    c.enable_profiling = false;
    c.gc_threshold = 1000000;
    c.heap_trim_on_collect = true;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    static const sr_field f[] = { { "next", offsetof(node, next), SR_FIELD_REF } };
    sr_type t = { "Trimmer", sizeof(node), f, 1, NULL, trimming_finalize };
    sr_type_id id = SR_TYPE_NONE;
    assert_int_equal(sr_type_register(rt, &t, &id), SR_OK);
    void *blocks[5000];
    for (int i = 0; i < 5000; i++) assert_non_null(blocks[i] = sr_alloc(rt, 100));
    node *a = sr_rc_new(rt, id), *b = sr_rc_new(rt, id), *solo = sr_rc_new(rt, id);
    a->next = sr_rc_retain(b);
    b->next = sr_rc_retain(a);
    for (int i = 0; i < 5000; i++) sr_free(rt, blocks[i]);   /* whole free pages exist now */
    size_t reserved = stats(rt).heap_reserved;
    size_t want = expect_trim(rt);
    assert_true(want >= 9 * PAGE);
    sr_rc_release(rt, solo);                 /* a release cascade */
    assert_int_equal(fin_trim_calls, 1);
    assert_int_equal(stats(rt).heap_reserved, reserved);
    sr_rc_release(rt, a);
    sr_rc_release(rt, b);
    assert_int_equal(sr_gc_collect(rt), 2);  /* finalizers inside the collection, then the trim */
    assert_int_equal(fin_trim_calls, 3);
    assert_int_equal(fin_trim_result, 0);
    assert_int_equal(stats(rt).heap_reserved, 0);
    assert_int_equal(stats(rt).heap_trimmed, reserved);
    sr_runtime_free(rt);
}

/* An underlying allocator with a byte budget (over the counting one). */
typedef struct budget { sr_test_alloc ta; sr_allocator inner; size_t budget; size_t refused; } budget;
static void *budget_malloc(size_t n, void *ud)
{
    budget *b = ud;
    if (b->ta.live_bytes + n > b->budget) { b->refused++; return NULL; }
    return b->inner.malloc(n, b->inner.ud);
}
static void *budget_realloc(void *p, size_t n, void *ud)
{
    budget *b = ud;
    return b->inner.realloc(p, n, b->inner.ud);   /* the heap never reallocs its pages */
}
static void budget_free(void *p, void *ud)
{
    budget *b = ud;
    b->inner.free(p, b->inner.ud);
}

/* The underlying allocator refuses a page: the heap gives back its free
   pages (of another class) and asks once more; with none to give back the
   allocation is refused as before, and nothing else moved. */
static void page_refused_trims_and_retries(void **state)
{
    (void)state;
    budget b = { .budget = SIZE_MAX };
    b.inner = sr_test_alloc_make(&b.ta);
    sr_config c = sr_config_default();
    c.enable_profiling = false;
    c.allocator = (sr_allocator){ budget_malloc, budget_realloc, budget_free, &b };
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    const size_t n = 5 * per_page(128);   /* five pages of class 128 */
    void **ps = malloc(n * sizeof *ps);
    assert_non_null(ps);
    for (size_t i = 0; i < n; i++) assert_non_null(ps[i] = sr_alloc(rt, 100));
    for (size_t i = 0; i < n; i++) sr_free(rt, ps[i]);
    void *keep = sr_alloc(rt, 1000);   /* class 1024: a sixth page */
    assert_non_null(keep);
    assert_int_equal(stats(rt).heap_reserved, 6 * PAGE);
    b.budget = b.ta.live_bytes;        /* not one byte more from now on */
    /* class 64 needs a page: refused, five free pages go back, the retry fits */
    void *p = sr_alloc(rt, 40);
    assert_non_null(p);
    assert_int_equal(b.refused, 1);
    sr_stats st = stats(rt);
    assert_int_equal(st.heap_trimmed, 5 * PAGE);
    assert_int_equal(st.heap_reserved, 2 * PAGE);
    assert_int_equal(st.failed_allocations, 0);
    assert_int_equal(st.heap_used, sr_alloc_charge(40) + sr_alloc_charge(1000));
    assert_int_equal(heap_check(rt), 2);
    /* a large block: refused, nothing free to give back, refused for good */
    for (size_t i = 0; i < 4; i++) assert_non_null(ps[i] = sr_alloc(rt, 40));   /* from p's page */
    b.budget = b.ta.live_bytes;
    sr_stats s0 = stats(rt);
    assert_null(sr_alloc(rt, 10000));
    sr_stats s1 = stats(rt);
    assert_int_equal(b.refused, 2);
    assert_int_equal(s1.failed_allocations, s0.failed_allocations + 1);
    assert_int_equal(s1.heap_reserved, s0.heap_reserved);
    assert_int_equal(s1.heap_used, s0.heap_used);
    assert_int_equal(s1.heap_trimmed, s0.heap_trimmed);
    /* freeing class 1024's only block makes its page free: the large block fits after a trim */
    sr_free(rt, keep);
    void *big = sr_alloc(rt, 10000);   /* 10048 + 32 bytes < one 64 KiB page */
    assert_non_null(big);
    assert_int_equal(b.refused, 3);
    assert_int_equal(stats(rt).heap_trimmed, 6 * PAGE);
    assert_int_equal(stats(rt).heap_reserved, PAGE + sr_alloc_charge(10000));
    sr_free(rt, big);
    sr_free(rt, p);
    for (size_t i = 0; i < 4; i++) sr_free(rt, ps[i]);
    free(ps);
    sr_runtime_free(rt);
    assert_int_equal(b.ta.live_bytes, 0);
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
        cmocka_unit_test(trim_gives_back_every_free_page),
        cmocka_unit_test(trim_keeps_pages_with_live_blocks),
        cmocka_unit_test(every_class_allocates_after_trim),
        cmocka_unit_test(trim_without_scratch_gives_the_same),
        cmocka_unit_test(trim_with_failing_allocator_every_n),
        cmocka_unit_test(randomized_with_trim_against_model),
        cmocka_unit_test(trim_with_profiling_and_weak_refs),
        cmocka_unit_test(heap_trim_on_collect_flag),
        cmocka_unit_test(trim_from_a_finalizer_does_nothing),
        cmocka_unit_test(page_refused_trims_and_retries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
