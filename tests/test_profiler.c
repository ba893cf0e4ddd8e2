/*
 * test_profiler.c - the memory profiler on raw blocks: exact per-type counts,
 * the leak baseline, allocation stacks (deduplicated, attributed to the right
 * call site), sampling, the three report formats (JSON read back with json-c,
 * folded lines checked by format), snapshots and their differences, the
 * shutdown leak report through a custom sink, profiling off, and a failing
 * underlying allocator while profiling.
 */
#include "support.h"
#include "internal.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))
static void escape(void *p) { __asm__ volatile("" : : "g"(p) : "memory"); }

static sr_runtime *new_rt_cfg(sr_config *c)
{
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(c, &rt), SR_OK);
    return rt;
}

static sr_runtime *new_rt(size_t sample_bytes)
{
    sr_config c = sr_config_default();
    c.enable_profiling = true;
    c.profiler_sample_bytes = sample_bytes;
    return new_rt_cfg(&c);
}

static const sr_type_profile *find_type(const sr_profile *p, const char *name)
{
    for (size_t i = 0; i < p->type_count; i++)
        if (strcmp(p->types[i].type_name, name) == 0) return &p->types[i];
    return NULL;
}

static sr_stats stats(sr_runtime *rt)
{
    sr_stats st;
    sr_runtime_stats(rt, &st);
    return st;
}

/* Two distinct allocation sites. */
static NOINLINE void *site_a(sr_runtime *rt, size_t n)
{
    void *p = sr_alloc(rt, n);
    escape(p);
    return p;
}

static NOINLINE void *site_b(sr_runtime *rt, size_t n)
{
    void *p = sr_alloc(rt, n);
    escape(p);
    return p;
}

/* Which site a return address lies in: 1 = a, 2 = b, 0 = neither. */
static int site_of(void *addr)
{
    uintptr_t a = (uintptr_t)site_a, b = (uintptr_t)site_b, x = (uintptr_t)addr;
    uintptr_t lo = a < b ? a : b, hi = a < b ? b : a;
    int lo_id = a < b ? 1 : 2, hi_id = a < b ? 2 : 1;
    if (x > hi && x - hi < 256) return hi_id;
    if (x > lo && x < hi && x - lo < 256) return lo_id;
    return 0;
}

/* ---- profiling off ------------------------------------------------------------------ */

static void off_returns_false_and_null(void **state)
{
    (void)state;
    sr_config c = sr_config_default();
    c.enable_profiling = false;
    sr_runtime *rt = new_rt_cfg(&c);
    void *p = sr_alloc(rt, 10);
    assert_non_null(p);
    sr_profile prof;
    memset(&prof, 0xab, sizeof prof);
    assert_false(sr_profiler_stats(rt, &prof));
    assert_int_equal(prof.total_allocations, 0xababababababababull);   /* nothing written */
    sr_profiler_mark(rt);
    assert_false(sr_profiler_check_leaks(rt));
    assert_null(sr_profiler_report(rt, SR_REPORT_TEXT));
    assert_null(sr_profiler_report(rt, SR_REPORT_JSON));
    assert_null(sr_profiler_report(rt, SR_REPORT_FOLDED));
    assert_null(sr_profiler_snapshot_take(rt));
    assert_int_equal(stats(rt).profiler_bytes, 0);
    assert_null(rt->prof);
    sr_free(rt, p);
    sr_runtime_free(rt);

    /* NULL arguments */
    assert_false(sr_profiler_stats(NULL, &prof));
    assert_false(sr_profiler_check_leaks(NULL));
    assert_null(sr_profiler_report(NULL, SR_REPORT_TEXT));
    assert_null(sr_profiler_snapshot_take(NULL));
    assert_null(sr_profiler_snapshot_compare(NULL, NULL));
    assert_null(sr_profiler_snapshot_report(NULL, SR_REPORT_TEXT));
    assert_null(sr_profiler_diff_report(NULL, SR_REPORT_TEXT));
    assert_false(sr_profiler_snapshot_stats(NULL, &prof));
    sr_profiler_mark(NULL);
    sr_profiler_snapshot_free(NULL);
    sr_profiler_diff_free(NULL);

    rt = new_rt(SR_PROFILER_EVERY_ALLOCATION);
    assert_false(sr_profiler_stats(rt, NULL));
    assert_null(sr_profiler_report(rt, (sr_report_format)42));
    sr_runtime_free(rt);
}

/* ---- exact counts ------------------------------------------------------------------- */

static void raw_blocks_counted_exactly(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt(SR_PROFILER_EVERY_ALLOCATION);
    enum { N = 300 };
    void *ps[N];
    size_t expect = 0, peak = 0;
    for (int i = 0; i < N; i++) {
        size_t size = (size_t)(i * 37) % 5000;       /* small and large blocks */
        ps[i] = sr_alloc(rt, size);
        assert_non_null(ps[i]);
        expect += sr_alloc_charge(size);
    }
    peak = expect;
    for (int i = 0; i < N; i += 3) {
        expect -= sr_alloc_charge((size_t)(i * 37) % 5000);
        sr_free(rt, ps[i]);
        ps[i] = NULL;
    }
    sr_profile p;
    assert_true(sr_profiler_stats(rt, &p));
    assert_int_equal(p.total_allocations, N);
    assert_int_equal(p.total_frees, N / 3);
    assert_int_equal(p.current_memory, expect);
    assert_int_equal(p.current_memory, stats(rt).heap_used);
    assert_int_equal(p.peak_memory, peak);
    assert_int_equal(p.peak_memory, stats(rt).heap_peak);
    assert_int_equal(p.type_count, 1);
    const sr_type_profile *t = find_type(&p, "<raw>");
    assert_non_null(t);
    assert_int_equal(t->allocations, N);
    assert_int_equal(t->frees, N / 3);
    assert_int_equal(t->current_count, N - N / 3);
    assert_int_equal(t->current_bytes, expect);
    assert_int_equal(t->peak_bytes, peak);
    assert_int_equal(p.untracked_blocks, 0);
    /* the profiler's memory is reported apart from the heap */
    sr_stats st = stats(rt);
    assert_true(st.profiler_bytes > 0);
    assert_int_equal(st.profiler_bytes, p.profiler_bytes);
    assert_true(st.internal_bytes >= st.profiler_bytes);
    assert_int_equal(st.heap_used, expect);
    for (int i = 0; i < N; i++) sr_free(rt, ps[i]);
    assert_true(sr_profiler_stats(rt, &p));
    assert_int_equal(p.current_memory, 0);
    assert_int_equal(p.types[0].current_count, 0);
    assert_int_equal(p.types[0].current_bytes, 0);
    assert_int_equal(p.types[0].peak_bytes, peak);
    assert_int_equal(rt->prof->block_count, 0);
    sr_runtime_free(rt);
}

static void realloc_counts_as_free_and_alloc(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt(SR_PROFILER_EVERY_ALLOCATION);
    void *p = sr_alloc(rt, 100);
    p = sr_realloc(rt, p, 1000);         /* small -> small, moves */
    assert_non_null(p);
    p = sr_realloc(rt, p, 10000);        /* small -> large, moves */
    assert_non_null(p);
    p = sr_realloc(rt, p, 20000);        /* large resized in place */
    assert_non_null(p);
    sr_profile prof;
    assert_true(sr_profiler_stats(rt, &prof));
    const sr_type_profile *t = find_type(&prof, "<raw>");
    assert_int_equal(t->allocations, 4);
    assert_int_equal(t->frees, 3);
    assert_int_equal(t->current_count, 1);
    assert_int_equal(t->current_bytes, sr_alloc_charge(20000));
    assert_int_equal(prof.current_memory, sr_alloc_charge(20000));
    assert_int_equal(rt->prof->block_count, 1);
    sr_free(rt, p);
    assert_true(sr_profiler_stats(rt, &prof));
    assert_int_equal(prof.types[0].current_bytes, 0);
    assert_int_equal(rt->prof->block_count, 0);
    sr_runtime_free(rt);
}

static void mark_sets_the_leak_baseline(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt(SR_PROFILER_EVERY_ALLOCATION);
    void *old[5], *fresh[7];
    for (int i = 0; i < 5; i++) old[i] = sr_alloc(rt, 40);
    sr_profile p;
    assert_true(sr_profiler_stats(rt, &p));
    assert_int_equal(p.raw_leaks, 5);            /* creation is the first mark */
    assert_int_equal(p.raw_leak_bytes, 5 * sr_alloc_charge(40));
    sr_profiler_mark(rt);
    assert_true(sr_profiler_stats(rt, &p));
    assert_int_equal(p.raw_leaks, 0);
    assert_int_equal(p.potential_leaks, 0);
    for (int i = 0; i < 7; i++) fresh[i] = sr_alloc(rt, 200);
    sr_free(rt, old[0]);                          /* older than the mark: no change */
    sr_free(rt, fresh[6]);
    assert_true(sr_profiler_stats(rt, &p));
    assert_int_equal(p.raw_leaks, 6);
    assert_int_equal(p.raw_leak_bytes, 6 * sr_alloc_charge(200));
    assert_int_equal(p.potential_leaks, 0);       /* raw blocks are not objects */
    assert_false(sr_profiler_check_leaks(rt));

    /* the TEXT report lists them with their stack */
    char *text = sr_profiler_report(rt, SR_REPORT_TEXT);
    assert_non_null(text);
    assert_non_null(strstr(text, "Potential leaks since the last mark: 0 objects (0 bytes), 6 raw blocks"));
    assert_non_null(strstr(text, "6 x <raw>"));
    assert_non_null(strstr(text, "sample: raw block @"));
    free(text);

    sr_profiler_mark(rt);
    assert_true(sr_profiler_stats(rt, &p));
    assert_int_equal(p.raw_leaks, 0);
    for (int i = 1; i < 5; i++) sr_free(rt, old[i]);
    for (int i = 0; i < 6; i++) sr_free(rt, fresh[i]);
    assert_true(sr_profiler_stats(rt, &p));
    assert_int_equal(p.raw_leaks, 0);
    assert_int_equal(p.raw_leak_bytes, 0);
    sr_runtime_free(rt);
}

/* ---- stacks ----------------------------------------------------------------------------- */

/* Blocks from many marks alive at once, across several renumberings of the
   header's epoch: the leak figures follow a model that keeps the mark each
   block was allocated under (a moving realloc is a new allocation). Sampled
   and every-allocation modes, small and large blocks. */
static void leak_baseline_across_many_marks(void **state)
{
    (void)state;
    enum { SLOTS = 300, MARKS = 3 * SR__PROF_EPOCH_MAX + 5 };
    const size_t modes[] = { SR_PROFILER_EVERY_ALLOCATION, 4096 };
    for (size_t m = 0; m < 2; m++) {
        sr_runtime *rt = new_rt(modes[m]);
        void *blk[SLOTS] = { 0 };
        unsigned born[SLOTS];
        sr_test_rng rng = { 0x1234567u + m };
        for (unsigned mark = 0; mark < MARKS; mark++) {
            if (mark) sr_profiler_mark(rt);
            for (int step = 0; step < 12; step++) {
                size_t i = (size_t)(sr_test_rand(&rng) % SLOTS);
                size_t size = (sr_test_rand(&rng) % 8 == 0) ? 2500 + i : 8 + i % 200;
                if (!blk[i]) {
                    blk[i] = sr_alloc(rt, size);
                    assert_non_null(blk[i]);
                    born[i] = mark;
                } else if (sr_test_rand(&rng) % 3 == 0) {
                    void *n = sr_realloc(rt, blk[i], size);
                    assert_non_null(n);
                    if (n != blk[i]) born[i] = mark;
                    blk[i] = n;
                } else {
                    sr_free(rt, blk[i]);
                    blk[i] = NULL;
                }
            }
            size_t count = 0, bytes = 0;
            for (size_t i = 0; i < SLOTS; i++) {
                if (!blk[i] || born[i] != mark) continue;
                count++;
                bytes += sr__heap_charge_of(rt, sr__hdr_of(blk[i]));
            }
            sr_profile p;
            assert_true(sr_profiler_stats(rt, &p));
            assert_int_equal(p.raw_leaks, count);
            assert_int_equal(p.raw_leak_bytes, bytes);
            assert_int_equal(p.potential_leaks, 0);
            assert_true(rt->prof->epoch >= 1 && rt->prof->epoch <= SR__PROF_EPOCH_MAX);
        }
        for (size_t i = 0; i < SLOTS; i++) sr_free(rt, blk[i]);
        sr_profile p;
        assert_true(sr_profiler_stats(rt, &p));
        assert_int_equal(p.raw_leaks, 0);
        assert_int_equal(p.raw_leak_bytes, 0);
        assert_int_equal(p.current_memory, 0);
        assert_int_equal(rt->prof->block_count, 0);
        sr_runtime_free(rt);
    }
}

static void stacks_are_attributed_to_their_site(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt(SR_PROFILER_EVERY_ALLOCATION);
    enum { NA = 150, NB = 40 };
    void *a[NA], *b[NB];
    /* the first round carves fresh pages, later ones reuse the free list: the
       library's internal frames differ, the site's do not. The same loop runs
       each round, so the test's own return addresses are the same too. */
    uint32_t stacks_before = 0;
    for (int round = 0; round < 3; round++) {
        if (round == 2) stacks_before = rt->prof->stack_count;
        for (int i = 0; i < NA; i++) a[i] = site_a(rt, 24);
        if (round < 2)
            for (int i = 0; i < NA; i++) sr_free(rt, a[i]);
    }
    assert_int_equal(rt->prof->stack_count, stacks_before);   /* same paths again: no new stack */
    for (int i = 0; i < NB; i++) b[i] = site_b(rt, 3000);
    assert_true(stacks_before - 1 <= 6);                  /* a few internal paths per site at most */

    sr_profiler_snapshot *s = sr_profiler_snapshot_take(rt);
    assert_non_null(s);
    size_t count_a = 0, count_b = 0, bytes_a = 0, bytes_b = 0;
    for (size_t i = 0; i < s->stack_count; i++) {
        const sr__vstack *st = &s->stacks[i];
        int site = 0;
        for (size_t f = 0; f < st->depth && !site; f++) site = site_of(st->frames[f]);
        assert_true(site != 0);
        assert_string_equal(s->types[st->type].type_name, "<raw>");
        if (site == 1) { count_a += st->count; bytes_a += st->bytes; }
        else { count_b += st->count; bytes_b += st->bytes; }
    }
    assert_int_equal(count_a, NA);
    assert_int_equal(count_b, NB);
    assert_int_equal(bytes_a, NA * sr_alloc_charge(24));
    assert_int_equal(bytes_b, NB * sr_alloc_charge(3000));
    sr_profiler_snapshot_free(s);
    for (int i = 0; i < NA; i++) sr_free(rt, a[i]);
    for (int i = 0; i < NB; i++) sr_free(rt, b[i]);
    /* every stack is dead now, none is reported */
    s = sr_profiler_snapshot_take(rt);
    assert_int_equal(s->stack_count, 0);
    sr_profiler_snapshot_free(s);
    sr_runtime_free(rt);
}

static NOINLINE void *deep(sr_runtime *rt, int n)
{
    void *p = n ? deep(rt, n - 1) : sr_alloc(rt, 8);
    escape(p);
    return p;
}

static void stack_depth_is_bounded(void **state)
{
    (void)state;
    sr_config c = sr_config_default();
    c.enable_profiling = true;
    c.profiler_sample_bytes = SR_PROFILER_EVERY_ALLOCATION;
    c.profiler_stack_depth = 3;
    sr_runtime *rt = new_rt_cfg(&c);
    void *p = deep(rt, 30);
    sr_profiler_snapshot *s = sr_profiler_snapshot_take(rt);
    assert_int_equal(s->stack_count, 1);
    /* captured: the depth plus the library's own frames, never more */
    assert_true(s->stacks[0].depth >= 3);
    assert_true(s->stacks[0].depth <= 3 + SR__PROF_EXTRA_FRAMES);
    sr_profiler_snapshot_free(s);
    /* reports keep at most 3 frames a stack */
    char *folded = sr_profiler_report(rt, SR_REPORT_FOLDED);
    assert_non_null(folded);
    size_t semis = 0;
    for (const char *q = folded; *q; q++) semis += *q == ';';
    assert_true(semis >= 1 && semis <= 3);    /* <= 3 frames + the type leaf */
    free(folded);
    sr_free(rt, p);
    sr_runtime_free(rt);
}

static void sampling_keeps_type_counts_exact(void **state)
{
    (void)state;
    enum { N = 20000 };
    const size_t interval = 8192;
    sr_runtime *rt = new_rt(interval);
    void **ps = malloc(N * sizeof *ps);
    assert_non_null(ps);
    for (int i = 0; i < N; i++) ps[i] = site_a(rt, 48);
    sr_profile p;
    assert_true(sr_profiler_stats(rt, &p));
    assert_int_equal(p.types[0].allocations, N);
    assert_int_equal(p.types[0].current_count, N);
    assert_int_equal(p.types[0].current_bytes, N * sr_alloc_charge(48));
    assert_int_equal(p.raw_leaks, N);
    /* about one sample per `interval` bytes: expect N*64/8192 = 156 */
    uint64_t sampled = 0;
    size_t est = 0;
    for (uint32_t i = 1; i < rt->prof->stack_count; i++) {
        sampled += rt->prof->stacks[i].allocations;
        est += rt->prof->stacks[i].live_bytes;
    }
    size_t total = N * sr_alloc_charge(48);
    assert_true(sampled >= 156 / 2 && sampled <= 156 * 2);
    assert_true(est >= total / 2 && est <= total * 2);
    assert_int_equal(est, sampled * interval);      /* each sample weighs the interval */
    for (int i = 0; i < N; i++) sr_free(rt, ps[i]);
    est = 0;
    for (uint32_t i = 1; i < rt->prof->stack_count; i++) est += rt->prof->stacks[i].live_bytes;
    assert_int_equal(est, 0);
    assert_true(sr_profiler_stats(rt, &p));
    assert_int_equal(p.types[0].current_bytes, 0);
    free(ps);

    /* a block bigger than the interval is always sampled and weighs its own bytes */
    void *big = sr_alloc(rt, 4 * interval);
    sr_profiler_snapshot *s = sr_profiler_snapshot_take(rt);
    assert_int_equal(s->stack_count, 1);
    assert_int_equal(s->stacks[0].bytes, sr_alloc_charge(4 * interval));
    sr_profiler_snapshot_free(s);
    sr_free(rt, big);
    sr_runtime_free(rt);
}

/* Profiling on with nothing else said samples at the default interval: counts
   stay exact, a few stacks are kept, and the report says so. */
static void default_is_sampled(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt(0);
    assert_int_equal(sr_runtime_config(rt)->profiler_sample_bytes, SR_DEFAULT_PROFILER_SAMPLE_BYTES);
    assert_int_equal(rt->prof->sample_bytes, SR_DEFAULT_PROFILER_SAMPLE_BYTES);
    enum { N = 50000 };
    void **ps = malloc(N * sizeof *ps);
    assert_non_null(ps);
    for (int i = 0; i < N; i++) ps[i] = site_a(rt, 100);
    sr_profile p;
    assert_true(sr_profiler_stats(rt, &p));
    assert_int_equal(p.types[0].current_count, N);
    assert_int_equal(p.raw_leaks, N);
    assert_int_equal(p.raw_leak_bytes, N * sr_alloc_charge(100));
    /* 50,000 x 128 bytes = 6.1 MiB: about 12 samples of 512 KiB */
    uint64_t sampled = 0;
    for (uint32_t i = 1; i < rt->prof->stack_count; i++) sampled += rt->prof->stacks[i].allocations;
    assert_true(sampled >= 6 && sampled <= 24);
    assert_int_equal(rt->prof->block_count, sampled);
    char *json = sr_profiler_report(rt, SR_REPORT_JSON);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"sample_bytes\":524288"));
    free(json);
    for (int i = 0; i < N; i++) sr_free(rt, ps[i]);
    free(ps);
    assert_int_equal(rt->prof->block_count, 0);
    sr_runtime_free(rt);
}

/* ---- report formats ------------------------------------------------------------------- */

static int64_t jint(json_object *o, const char *key)
{
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, key, &v));
    assert_true(json_object_is_type(v, json_type_int));
    return json_object_get_int64(v);
}

static void json_report_parses_and_matches(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt(SR_PROFILER_EVERY_ALLOCATION);
    void *a[10], *b[3];
    for (int i = 0; i < 10; i++) a[i] = site_a(rt, 100);
    for (int i = 0; i < 3; i++) b[i] = site_b(rt, 5000);
    sr_free(rt, a[9]);
    char *text = sr_profiler_report(rt, SR_REPORT_JSON);
    assert_non_null(text);
    json_tokener *tok = json_tokener_new();
    json_object *root = json_tokener_parse_ex(tok, text, (int)strlen(text));
    assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
    /* nothing but whitespace after the object */
    for (size_t k = json_tokener_get_parse_end(tok); text[k]; k++) assert_true(text[k] == '\n');
    json_tokener_free(tok);
    assert_non_null(root);
    assert_true(json_object_is_type(root, json_type_object));
    assert_int_equal(jint(root, "schema_version"), 1);
    assert_int_equal(jint(root, "total_allocations"), 13);
    assert_int_equal(jint(root, "total_frees"), 1);
    size_t expect = 9 * sr_alloc_charge(100) + 3 * sr_alloc_charge(5000);
    assert_int_equal(jint(root, "current_memory"), expect);
    assert_int_equal(jint(root, "current_memory"), stats(rt).heap_used);
    assert_int_equal(jint(root, "peak_memory"), expect + sr_alloc_charge(100));
    assert_int_equal(jint(root, "potential_leaks"), 0);
    assert_int_equal(jint(root, "sample_bytes"), 0);
    assert_int_equal(jint(root, "stack_depth"), 8);

    json_object *types = NULL;
    assert_true(json_object_object_get_ex(root, "types", &types));
    assert_int_equal(json_object_array_length(types), 1);
    json_object *t = json_object_array_get_idx(types, 0);
    json_object *name = NULL;
    assert_true(json_object_object_get_ex(t, "name", &name));
    assert_string_equal(json_object_get_string(name), "<raw>");
    assert_int_equal(jint(t, "allocations"), 13);
    assert_int_equal(jint(t, "frees"), 1);
    assert_int_equal(jint(t, "current_count"), 12);
    assert_int_equal(jint(t, "current_bytes"), expect);
    assert_int_equal(jint(t, "peak_bytes"), expect + sr_alloc_charge(100));

    json_object *stacks = NULL;
    assert_true(json_object_object_get_ex(root, "stacks", &stacks));
    size_t ns = json_object_array_length(stacks);
    assert_true(ns >= 2);
    int64_t sum_count = 0, sum_bytes = 0, prev = INT64_MAX;
    for (size_t i = 0; i < ns; i++) {
        json_object *s = json_object_array_get_idx(stacks, i);
        sum_count += jint(s, "count");
        int64_t by = jint(s, "bytes");
        assert_true(by <= prev);                   /* largest first */
        prev = by;
        sum_bytes += by;
        json_object *frames = NULL;
        assert_true(json_object_object_get_ex(s, "frames", &frames));
        assert_true(json_object_is_type(frames, json_type_array));
        assert_true(json_object_array_length(frames) >= 1);
        assert_true(json_object_is_type(json_object_array_get_idx(frames, 0), json_type_string));
    }
    assert_int_equal(sum_count, 12);
    assert_int_equal(sum_bytes, expect);
    json_object *leaks = NULL;
    assert_true(json_object_object_get_ex(root, "leaks", &leaks));
    assert_true(json_object_is_type(leaks, json_type_array));
    int64_t leak_count = 0;
    for (size_t i = 0; i < json_object_array_length(leaks); i++)
        leak_count += jint(json_object_array_get_idx(leaks, i), "count");
    assert_int_equal(leak_count, 12);                 /* raw blocks since creation */
    json_object_put(root);
    free(text);
    for (int i = 0; i < 9; i++) sr_free(rt, a[i]);
    for (int i = 0; i < 3; i++) sr_free(rt, b[i]);
    sr_runtime_free(rt);
}

static void leak_groups_of_many_blocks(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt(SR_PROFILER_EVERY_ALLOCATION);
    enum { NA = 20000, NB = 5000 };
    void **a = malloc(NA * sizeof *a), **b = malloc(NB * sizeof *b);
    void *before = sr_alloc(rt, 8);
    sr_profiler_mark(rt);
    for (int i = 0; i < NA; i++) a[i] = site_a(rt, 40);
    for (int i = 0; i < NB; i++) b[i] = site_b(rt, 40);
    char *text = sr_profiler_report(rt, SR_REPORT_JSON);
    json_object *root = json_tokener_parse(text);
    assert_non_null(root);
    json_object *leaks = NULL;
    assert_true(json_object_object_get_ex(root, "leaks", &leaks));
    size_t groups = json_object_array_length(leaks);
    assert_true(groups >= 2 && groups <= 8);      /* a few internal paths per site at most */
    int64_t count = 0, bytes = 0;
    for (size_t i = 0; i < groups; i++) {
        count += jint(json_object_array_get_idx(leaks, i), "count");
        bytes += jint(json_object_array_get_idx(leaks, i), "bytes");
    }
    assert_int_equal(count, NA + NB);                 /* `before` is older than the mark */
    assert_int_equal(bytes, (NA + NB) * (int64_t)sr_alloc_charge(40));
    json_object_put(root);
    free(text);
    for (int i = 0; i < NA; i++) sr_free(rt, a[i]);
    for (int i = 0; i < NB; i++) sr_free(rt, b[i]);
    sr_free(rt, before);
    free(a);
    free(b);
    sr_runtime_free(rt);
}

/* A folded line: frame(;frame)* count, frames without spaces or ';', count > 0. */
static bool folded_line_ok(const char *line, size_t len, long long *value)
{
    size_t sp = len;
    while (sp > 0 && line[sp - 1] != ' ') sp--;
    if (sp == 0 || sp == len) return false;
    size_t key = sp - 1;
    if (key == 0 || line[0] == ';' || line[key - 1] == ';') return false;
    for (size_t i = 0; i < key; i++) {
        unsigned char ch = (unsigned char)line[i];
        if (ch <= ' ' || ch == 0x7f) return false;
        if (ch == ';' && line[i + 1] == ';') return false;   /* empty frame */
    }
    long long v = 0;
    for (size_t i = sp; i < len; i++) {
        if (line[i] < '0' || line[i] > '9') return false;
        v = v * 10 + (line[i] - '0');
    }
    *value = v;
    return v > 0;
}

static void folded_report_format(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt(SR_PROFILER_EVERY_ALLOCATION);
    void *a[20], *b[5];
    for (int i = 0; i < 20; i++) a[i] = site_a(rt, 64);
    for (int i = 0; i < 5; i++) b[i] = site_b(rt, 256);
    char *f = sr_profiler_report(rt, SR_REPORT_FOLDED);
    assert_non_null(f);
    long long total = 0;
    size_t lines = 0;
    for (const char *q = f; *q;) {
        const char *nl = strchr(q, '\n');
        assert_non_null(nl);                             /* every line ends with '\n' */
        long long v = 0;
        if (!folded_line_ok(q, (size_t)(nl - q), &v)) fail_msg("bad folded line: %.*s", (int)(nl - q), q);
        /* the leaf is the type */
        const char *leaf = q;
        for (const char *r = q; r < nl; r++)
            if (*r == ';') leaf = r + 1;
        assert_memory_equal(leaf, "[<raw>] ", 8);
        total += v;
        lines++;
        q = nl + 1;
    }
    assert_true(lines >= 2);
    assert_int_equal(total, 20 * sr_alloc_charge(64) + 5 * sr_alloc_charge(256));
    assert_int_equal(total, stats(rt).heap_used);
    /* lines are unique (merged) */
    char *copy = strdup(f);
    size_t n = 0;
    char *keys[64];
    for (char *tok = strtok(copy, "\n"); tok && n < 64; tok = strtok(NULL, "\n")) {
        *strrchr(tok, ' ') = '\0';
        for (size_t i = 0; i < n; i++) assert_string_not_equal(keys[i], tok);
        keys[n++] = tok;
    }
    free(copy);
    free(f);
    for (int i = 0; i < 20; i++) sr_free(rt, a[i]);
    for (int i = 0; i < 5; i++) sr_free(rt, b[i]);
    f = sr_profiler_report(rt, SR_REPORT_FOLDED);
    assert_string_equal(f, "");                        /* nothing alive: no line */
    free(f);
    sr_runtime_free(rt);
}

static void text_report_sections(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt(SR_PROFILER_EVERY_ALLOCATION);
    void *a = site_a(rt, 700), *b = site_b(rt, 10);
    char *t = sr_profiler_report(rt, SR_REPORT_TEXT);
    assert_non_null(t);
    const char *types = strstr(t, "Types by current bytes:");
    const char *stacks = strstr(t, "Top allocation stacks of live memory (2 of 2):");
    const char *leaks = strstr(t, "Potential leaks since the last mark:");
    assert_non_null(types);
    assert_non_null(stacks);
    assert_non_null(leaks);
    assert_true(types < stacks && stacks < leaks);
    char line[128];
    snprintf(line, sizeof line, "#1  %zu bytes in 1 <raw>", sr_alloc_charge(700));
    assert_non_null(strstr(t, line));
    snprintf(line, sizeof line, "#2  %zu bytes in 1 <raw>", sr_alloc_charge(10));
    assert_non_null(strstr(t, line));
    free(t);
    sr_free(rt, a);
    sr_free(rt, b);
    sr_runtime_free(rt);
}

/* ---- snapshots ------------------------------------------------------------------------- */

static void snapshots_and_differences(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt(SR_PROFILER_EVERY_ALLOCATION);
    void *keep[4], *grow_a[30], *grow_b[6];
    for (int i = 0; i < 4; i++) keep[i] = site_a(rt, 100);
    sr_profiler_snapshot *s1 = sr_profiler_snapshot_take(rt);
    assert_non_null(s1);
    for (int i = 0; i < 30; i++) grow_a[i] = site_a(rt, 100);
    for (int i = 0; i < 6; i++) grow_b[i] = site_b(rt, 4000);
    sr_free(rt, keep[0]);
    sr_profiler_snapshot *s2 = sr_profiler_snapshot_take(rt);
    assert_non_null(s2);

    sr_profile p1, p2;
    assert_true(sr_profiler_snapshot_stats(s1, &p1));
    assert_true(sr_profiler_snapshot_stats(s2, &p2));
    assert_int_equal(p1.current_memory, 4 * sr_alloc_charge(100));
    assert_int_equal(p2.current_memory, 33 * sr_alloc_charge(100) + 6 * sr_alloc_charge(4000));
    assert_int_equal(p2.types[0].current_count, 39);

    sr_profile_diff *d = sr_profiler_snapshot_compare(s1, s2);
    assert_non_null(d);
    int64_t grow = 29 * (int64_t)sr_alloc_charge(100) + 6 * (int64_t)sr_alloc_charge(4000);
    assert_int_equal(d->memory_diff, grow);
    assert_int_equal(d->allocations_diff, 36);
    assert_int_equal(d->type_count, 1);
    assert_string_equal(d->types[0].type_name, "<raw>");
    assert_int_equal(d->types[0].count_diff, 35);
    assert_int_equal(d->types[0].bytes_diff, grow);
    assert_int_equal(d->types[0].count, 39);
    /* by stack: site b's blocks grew most, then site a's; sums are exact */
    assert_true(d->stack_count >= 2);
    int64_t sum_a = 0, sum_b = 0, cnt_a = 0, cnt_b = 0;
    for (size_t i = 0; i < d->stack_count; i++) {
        const sr_profile_diff_entry *e = &d->stacks[i];
        if (i) assert_true(d->stacks[i - 1].bytes_diff >= e->bytes_diff);
        int site = 0;
        for (size_t f = 0; f < e->frame_count && !site; f++) site = site_of(e->frames[f]);
        assert_true(site != 0);
        if (site == 1) { sum_a += e->bytes_diff; cnt_a += e->count_diff; }
        else { sum_b += e->bytes_diff; cnt_b += e->count_diff; }
    }
    assert_int_equal(sum_a, 29 * (int64_t)sr_alloc_charge(100));
    assert_int_equal(cnt_a, 29);
    assert_int_equal(sum_b, 6 * (int64_t)sr_alloc_charge(4000));
    assert_int_equal(cnt_b, 6);
    int first_site = 0;
    for (size_t f = 0; f < d->stacks[0].frame_count && !first_site; f++) first_site = site_of(d->stacks[0].frames[f]);
    assert_int_equal(first_site, 2);

    /* renderings */
    char *text = sr_profiler_diff_report(d, SR_REPORT_TEXT);
    assert_non_null(text);
    char line[160];
    snprintf(line, sizeof line, "current memory %+lld bytes, allocations +36", (long long)grow);
    assert_non_null(strstr(text, line));
    free(text);
    char *json = sr_profiler_diff_report(d, SR_REPORT_JSON);
    json_object *root = json_tokener_parse(json);
    assert_non_null(root);
    assert_int_equal(jint(root, "memory_diff"), grow);
    json_object *types = NULL;
    assert_true(json_object_object_get_ex(root, "types", &types));
    assert_int_equal(jint(json_object_array_get_idx(types, 0), "count_diff"), 35);
    json_object_put(root);
    free(json);
    char *folded = sr_profiler_diff_report(d, SR_REPORT_FOLDED);
    long long total = 0;
    for (const char *q = folded; *q;) {
        const char *nl = strchr(q, '\n');
        long long v;
        assert_true(folded_line_ok(q, (size_t)(nl - q), &v));
        total += v;
        q = nl + 1;
    }
    /* only lines that grew: at least the net growth, at most the sum of the
       stacks that grew (equal stacks may merge once symbolized) */
    int64_t positive = 0;
    for (size_t i = 0; i < d->stack_count; i++)
        if (d->stacks[i].bytes_diff > 0) positive += d->stacks[i].bytes_diff;
    assert_true(total >= grow);
    assert_true(total <= positive);
    free(folded);
    sr_profiler_diff_free(d);

    /* the reverse direction shows the shrinkage, largest first last */
    d = sr_profiler_snapshot_compare(s2, s1);
    assert_int_equal(d->memory_diff, -grow);
    assert_int_equal(d->types[0].count_diff, -35);
    /* keep[0] died between s1 and s2: backwards, its stack "grew" */
    folded = sr_profiler_diff_report(d, SR_REPORT_FOLDED);
    positive = 0;
    for (size_t i = 0; i < d->stack_count; i++)
        if (d->stacks[i].bytes_diff > 0) positive += d->stacks[i].bytes_diff;
    assert_int_equal(positive, sr_alloc_charge(100));
    total = 0;
    for (const char *q = folded; *q;) {
        const char *nl = strchr(q, '\n');
        long long v;
        assert_true(folded_line_ok(q, (size_t)(nl - q), &v));
        total += v;
        q = nl + 1;
    }
    assert_true(total <= positive);
    free(folded);
    sr_profiler_diff_free(d);

    /* a snapshot renders alone too, and outlives the runtime */
    for (int i = 1; i < 4; i++) sr_free(rt, keep[i]);
    for (int i = 0; i < 30; i++) sr_free(rt, grow_a[i]);
    for (int i = 0; i < 6; i++) sr_free(rt, grow_b[i]);
    sr_runtime_free(rt);
    char *st = sr_profiler_snapshot_report(s2, SR_REPORT_JSON);
    root = json_tokener_parse(st);
    assert_non_null(root);
    assert_int_equal(jint(root, "current_memory"), p2.current_memory);
    assert_false(json_object_object_get_ex(root, "leaks", NULL));
    json_object_put(root);
    free(st);
    sr_profiler_snapshot_free(s1);
    sr_profiler_snapshot_free(s2);
}

/* ---- shutdown leak report --------------------------------------------------------------- */

typedef struct sink_state {
    int calls;
    sr_runtime *rt;
    char text[8192];
} sink_state;

static void sink(sr_runtime *rt, const char *report, void *ud)
{
    sink_state *s = ud;
    s->calls++;
    s->rt = rt;
    snprintf(s->text, sizeof s->text, "%s", report);
}

static void shutdown_leak_report_goes_to_the_sink(void **state)
{
    (void)state;
    sink_state s = { 0 };
    sr_config c = sr_config_default();
    c.enable_profiling = true;
    c.profiler_sample_bytes = SR_PROFILER_EVERY_ALLOCATION;
    c.leak_sink = sink;
    c.leak_sink_ud = &s;
    sr_runtime *rt = new_rt_cfg(&c);
    void *ok = site_a(rt, 10);
    for (int i = 0; i < 3; i++) site_b(rt, 300);    /* one stack */
    sr_free(rt, ok);
    sr_runtime_free(rt);
    assert_int_equal(s.calls, 1);
    assert_ptr_equal(s.rt, rt);
    char line[160];
    snprintf(line, sizeof line, "0 objects and 3 raw blocks still alive (%zu bytes)", 3 * sr_alloc_charge(300));
    assert_non_null(strstr(s.text, line));
    snprintf(line, sizeof line, "3 x <raw> (%zu bytes), allocated at:", 3 * sr_alloc_charge(300));
    assert_non_null(strstr(s.text, line));
    assert_non_null(strstr(s.text, "sample: raw block @"));

    /* nothing alive: the sink is not called */
    memset(&s, 0, sizeof s);
    rt = new_rt_cfg(&c);
    sr_free(rt, site_a(rt, 10));
    sr_runtime_free(rt);
    assert_int_equal(s.calls, 0);
}

static void leak_to_stderr(void *arg)
{
    (void)arg;
    sr_config c = sr_config_default();
    c.enable_profiling = true;
    c.profiler_sample_bytes = SR_PROFILER_EVERY_ALLOCATION;
    sr_runtime *rt = NULL;
    if (sr_runtime_new(&c, &rt) != SR_OK) exit(3);
    (void)sr_alloc(rt, 123);
    sr_runtime_free(rt);
    exit(0);
}

static void shutdown_leak_report_defaults_to_stderr(void **state)
{
    (void)state;
    char err[8192];
    assert_int_equal(sr_test_in_child(leak_to_stderr, NULL, err, sizeof err), 0);
    assert_non_null(strstr(err, "scriptrt: leak report at shutdown: 0 objects and 1 raw blocks still alive"));
}

/* ---- a failing underlying allocator ------------------------------------------------------- */

/* What the headers say: blocks with a side record, blocks of the current epoch. */
typedef struct hdr_census {
    sr_runtime *rt;
    uint16_t tag;
    size_t recorded, objs_since, objs_since_bytes, raws_since, raws_since_bytes;
} hdr_census;

static void census_visit(sr__hdr *h, void *ctx)
{
    hdr_census *c = ctx;
    if (h->flags & SR__PROF_RECORD) c->recorded++;
    if ((h->flags & SR__PROF_EPOCH_MASK) != c->tag) return;
    size_t charge = sr__heap_charge_of(c->rt, h);
    if (sr__kind(h) == SR__KIND_OBJ) {
        c->objs_since++;
        c->objs_since_bytes += charge;
    } else {
        c->raws_since++;
        c->raws_since_bytes += charge;
    }
}

static hdr_census census(sr_runtime *rt)
{
    hdr_census c = { .rt = rt, .tag = rt->prof->tag };
    sr__heap_each_live(rt, census_visit, &c);
    return c;
}

/* Σ per-type figures against the heap's; records and leak counters against the headers. */
static void check_consistent(sr_runtime *rt)
{
    sr_profile p;
    assert_true(sr_profiler_stats(rt, &p));
    sr_stats st = stats(rt);
    size_t bytes = 0, count = 0;
    uint64_t allocs = 0, frees = 0;
    for (size_t i = 0; i < p.type_count; i++) {
        bytes += p.types[i].current_bytes;
        count += p.types[i].current_count;
        allocs += p.types[i].allocations;
        frees += p.types[i].frees;
        assert_int_equal(p.types[i].allocations - p.types[i].frees, p.types[i].current_count);
    }
    assert_int_equal(bytes, st.heap_used);
    assert_int_equal(p.current_memory, st.heap_used);
    assert_int_equal(count, st.live_objects + st.live_blocks);
    assert_int_equal(allocs, p.total_allocations);
    assert_int_equal(frees, p.total_frees);
    hdr_census hc = census(rt);
    assert_int_equal(rt->prof->block_count, hc.recorded);
    size_t stack_live = 0;
    for (uint32_t i = 1; i < rt->prof->stack_count; i++) stack_live += rt->prof->stacks[i].live_count;
    assert_int_equal(stack_live, rt->prof->block_count);
    assert_int_equal(p.potential_leaks, hc.objs_since);
    assert_int_equal(p.potential_leak_bytes, hc.objs_since_bytes);
    assert_int_equal(p.raw_leaks, hc.raws_since);
    assert_int_equal(p.raw_leak_bytes, hc.raws_since_bytes);
    assert_int_equal(st.profiler_bytes, rt->prof->bytes);
}

/* Exactly the sampled live blocks have a record, each naming a stack; the
   stacks account for exactly those. */
static void check_consistent_raw(sr_runtime *rt, size_t live)
{
    sr__profiler *p = rt->prof;
    size_t recorded = 0, stack_live = 0, stack_bytes = 0, est = 0;
    for (size_t i = 0; i < p->block_cap; i++) {
        if (!p->blocks[i].key) continue;
        recorded++;
        sr__hdr *h = (sr__hdr *)p->blocks[i].key;
        assert_true(h->flags & SR__PROF_RECORD);
        assert_int_not_equal(p->blocks[i].stack, 0);
        assert_int_equal(sr__profiler_stack_of(p, h), p->blocks[i].stack);
        size_t ch = sr__heap_charge_of(rt, h);
        est += p->sample_bytes && ch < p->sample_bytes ? p->sample_bytes : ch;
    }
    for (uint32_t i = 1; i < p->stack_count; i++) {
        stack_live += p->stacks[i].live_count;
        stack_bytes += p->stacks[i].live_bytes;
    }
    assert_int_equal(recorded, p->block_count);
    assert_int_equal(census(rt).recorded, recorded);
    assert_int_equal(stack_live, recorded);
    assert_int_equal(stack_bytes, est);
    if (p->sample_bytes == 0) assert_int_equal(recorded, live);
    else assert_true(recorded <= live);
}

static void failing_allocator_while_profiling(void **state)
{
    (void)state;
    /* fail the Nth underlying call for every N the workload reaches */
    for (size_t fail = 1;; fail++) {
        sr_test_alloc ta = { 0 };
        sr_config c = sr_test_config(&ta);
        c.enable_profiling = true;
        c.profiler_sample_bytes = SR_PROFILER_EVERY_ALLOCATION;
        sr_runtime *rt = NULL;
        sr_status st = sr_runtime_new(&c, &rt);
        if (st != SR_OK) continue;   /* never: the failure point is set after creation */
        ta.fail_at = ta.calls + fail;
        void *ps[1500];
        size_t n = 0;
        for (int i = 0; i < 1500; i++) {
            void *p = (i % 100 == 99) ? site_b(rt, 3000) : site_a(rt, (size_t)(i % 7) * 16);
            if (p) ps[n++] = p;
        }
        check_consistent(rt);
        for (size_t i = 0; i < n; i += 2) sr_free(rt, ps[i]);
        check_consistent(rt);
        bool reached = ta.failures > 0;
        for (size_t i = 1; i < n; i += 2) sr_free(rt, ps[i]);
        check_consistent(rt);
        sr_profile p;
        assert_true(sr_profiler_stats(rt, &p));
        assert_int_equal(p.current_memory, 0);
        assert_int_equal(p.raw_leaks, 0);
        sr_runtime_free(rt);
        assert_int_equal(ta.live_bytes, 0);
        assert_int_equal(ta.live_blocks, 0);
        if (!reached) break;
    }

    /* the profiler's tables cannot grow while the heap still has room: the
       blocks are counted and leak-checked, only their stacks are lost, nothing fails */
    sr_test_alloc ta = { 0 };
    sr_config c = sr_test_config(&ta);
    c.enable_profiling = true;
    c.profiler_sample_bytes = SR_PROFILER_EVERY_ALLOCATION;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    enum { N = 4000 };
    void **ps = malloc(N * sizeof *ps);
    for (int i = 0; i < N; i++) ps[i] = sr_alloc(rt, 32);
    for (int i = 0; i < N; i++) sr_free(rt, ps[i]);     /* free lists now hold N blocks */
    size_t cap_before = rt->prof->block_cap;
    ta.fail_at = ta.calls + 1;
    ta.fail_all_after = true;
    /* tables shrink never; grow them past what they hold now */
    for (int i = 0; i < N; i++) {
        ps[i] = sr_alloc(rt, 32);
        assert_non_null(ps[i]);
    }
    assert_int_equal(rt->prof->block_cap, cap_before);
    check_consistent(rt);
    sr_profile p;
    assert_true(sr_profiler_stats(rt, &p));
    size_t tracked = rt->prof->block_count;
    assert_int_equal(p.untracked_blocks, N - tracked);
    assert_true(p.untracked_blocks > 0 || cap_before * 3 / 4 >= (size_t)N);
    assert_int_equal(p.types[0].current_count, N);
    assert_int_equal(p.raw_leaks, N);
    char *text = sr_profiler_report(rt, SR_REPORT_TEXT);  /* plain malloc: still works */
    assert_non_null(text);
    free(text);
    for (int i = 0; i < N; i++) sr_free(rt, ps[i]);
    check_consistent(rt);
    assert_true(sr_profiler_stats(rt, &p));
    assert_int_equal(p.types[0].current_count, 0);
    assert_int_equal(p.raw_leaks, 0);
    assert_int_equal(rt->prof->block_count, 0);
    ta.fail_at = 0;
    sr_runtime_free(rt);
    assert_int_equal(ta.live_bytes, 0);
    free(ps);
}

static void creation_fails_cleanly_without_memory(void **state)
{
    (void)state;
    /* every failure point during creation: NOMEM and nothing left behind */
    for (size_t fail = 1; fail < 64; fail++) {
        sr_test_alloc ta = { 0 };
        ta.fail_at = fail;
        sr_config c = sr_test_config(&ta);
        c.enable_profiling = true;
        sr_runtime *rt = NULL;
        sr_status st = sr_runtime_new(&c, &rt);
        if (st == SR_OK) {
            assert_non_null(rt->prof);
            sr_runtime_free(rt);
            assert_int_equal(ta.live_bytes, 0);
            break;
        }
        assert_int_equal(st, SR_ERR_NOMEM);
        assert_null(rt);
        assert_int_equal(ta.live_bytes, 0);
    }
}

/* ---- a randomized model check --------------------------------------------------------- */

typedef struct model_block { void *p; size_t charge; bool large, after_mark; } model_block;

static size_t round16(size_t n) { return (n + 15u) & ~(size_t)15u; }

static void randomized_against_a_model(void **state)
{
    (void)state;
    uint64_t seed = sr_test_seed(0x5eedf00dull);
    for (int round = 0; round < 6; round++) {
        sr_test_rng rng = { seed + (uint64_t)round * 7919u };
        sr_config c = sr_config_default();
        c.enable_profiling = true;
        c.profiler_sample_bytes = (round % 3 == 0) ? SR_PROFILER_EVERY_ALLOCATION : (round % 3 == 1 ? 256 : 65536);
        c.profiler_stack_depth = 1 + (size_t)(round * 5) % 32;
        sr_runtime *rt = new_rt_cfg(&c);
        enum { SLOTS = 700, STEPS = 6000 };
        model_block *m = calloc(SLOTS, sizeof *m);
        uint64_t allocs = 0, frees = 0;
        size_t peak = 0;
        for (int step = 0; step < STEPS; step++) {
            model_block *b = &m[sr_test_rand(&rng) % SLOTS];
            unsigned op = (unsigned)(sr_test_rand(&rng) % 10);
            size_t size = (sr_test_rand(&rng) % 8 == 0) ? (size_t)(sr_test_rand(&rng) % 9000)
                                                        : (size_t)(sr_test_rand(&rng) % 300);
            if (op == 0) {
                sr_profiler_mark(rt);
                for (int i = 0; i < SLOTS; i++) m[i].after_mark = false;
            } else if (!b->p) {
                b->p = (op < 4) ? site_a(rt, size) : site_b(rt, size);
                assert_non_null(b->p);
                b->charge = sr_alloc_charge(size);
                b->large = b->charge > 2048;
                b->after_mark = true;
                allocs++;
            } else if (op < 4) {
                /* the heap's resize rule (docs/memory.md): a small block stays while
                   it fits its class, else moves; a large one is resized in place */
                size++;                                  /* size 0 would free */
                size_t total = 16 + round16(size), charge = b->charge;
                bool counted;
                if (!b->large) {
                    counted = total > b->charge;
                    if (counted) charge = sr_alloc_charge(size);
                } else {
                    charge = 32 + total;
                    counted = charge != b->charge;
                }
                void *q = sr_realloc(rt, b->p, size);
                assert_non_null(q);
                if (counted) {
                    allocs++;
                    frees++;
                    b->after_mark = true;
                    if (!b->large) b->large = charge > 2048;
                }
                b->p = q;
                b->charge = charge;
            } else {
                sr_free(rt, b->p);
                b->p = NULL;
                frees++;
            }
            size_t live = 0, bytes = 0, leaks = 0, leak_bytes = 0;
            for (int i = 0; i < SLOTS; i++) {
                if (!m[i].p) continue;
                live++;
                bytes += m[i].charge;
                if (m[i].after_mark) {
                    leaks++;
                    leak_bytes += m[i].charge;
                }
            }
            if (bytes > peak) peak = bytes;
            if (step % 97 == 0 || step == STEPS - 1) {
                sr_profile p;
                assert_true(sr_profiler_stats(rt, &p));
                assert_int_equal(p.total_allocations, allocs);
                assert_int_equal(p.total_frees, frees);
                assert_int_equal(p.current_memory, bytes);
                assert_int_equal(p.raw_leaks, leaks);
                assert_int_equal(p.raw_leak_bytes, leak_bytes);
                const sr_type_profile *t = find_type(&p, "<raw>");
                if (allocs == 0) {
                    assert_null(t);
                    continue;
                }
                assert_non_null(t);
                assert_int_equal(t->current_count, live);
                assert_int_equal(t->current_bytes, bytes);
                assert_true(t->peak_bytes >= peak);
                check_consistent_raw(rt, live);
            }
        }
        for (int i = 0; i < SLOTS; i++) sr_free(rt, m[i].p);
        free(m);
        sr_profile p;
        assert_true(sr_profiler_stats(rt, &p));
        assert_int_equal(p.current_memory, 0);
        assert_int_equal(p.raw_leaks, 0);
        assert_int_equal(rt->prof->block_count, 0);
        for (uint32_t i = 1; i < rt->prof->stack_count; i++) {
            assert_int_equal(rt->prof->stacks[i].live_count, 0);
            assert_int_equal(rt->prof->stacks[i].live_bytes, 0);
        }
        sr_runtime_free(rt);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(off_returns_false_and_null),
        cmocka_unit_test(raw_blocks_counted_exactly),
        cmocka_unit_test(realloc_counts_as_free_and_alloc),
        cmocka_unit_test(mark_sets_the_leak_baseline),
        cmocka_unit_test(leak_baseline_across_many_marks),
        cmocka_unit_test(stacks_are_attributed_to_their_site),
        cmocka_unit_test(stack_depth_is_bounded),
        cmocka_unit_test(sampling_keeps_type_counts_exact),
        cmocka_unit_test(default_is_sampled),
        cmocka_unit_test(json_report_parses_and_matches),
        cmocka_unit_test(leak_groups_of_many_blocks),
        cmocka_unit_test(folded_report_format),
        cmocka_unit_test(text_report_sections),
        cmocka_unit_test(snapshots_and_differences),
        cmocka_unit_test(shutdown_leak_report_goes_to_the_sink),
        cmocka_unit_test(shutdown_leak_report_defaults_to_stderr),
        cmocka_unit_test(failing_allocator_while_profiling),
        cmocka_unit_test(creation_fails_cleanly_without_memory),
        cmocka_unit_test(randomized_against_a_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
