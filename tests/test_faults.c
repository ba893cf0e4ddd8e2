/*
 * test_faults.c - allocation-failure injection over a representative
 * workload, and regression tests for faults found by fuzzing and injection.
 *
 * The injection test makes the Nth call to the underlying allocator fail
 * (tests/support.h), for N = 1, 2, 3, ... until the workload completes
 * without meeting the failure. For every N: no crash, each step either
 * succeeds or reports a clear failure (NULL, SR_ERR_NOMEM, an SR_PANIC_NOMEM
 * panic under protection), the statistics stay consistent with what the
 * workload holds, the runtime (when it could be created) still works once
 * the allocator recovers, and freeing it returns every byte.
 */
#include "support.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared types ---------------------------------------------------------------------------- */

typedef struct pair { int64_t tag; void *a, *b; } pair;

static const sr_field pair_fields[] = {
    { "tag", offsetof(pair, tag), SR_FIELD_I64 },
    { "a", offsetof(pair, a), SR_FIELD_REF },
    { "b", offsetof(pair, b), SR_FIELD_REF },
};

static size_t finalized;   /* finalize calls seen (reset by each test) */
static void pair_finalize(sr_runtime *rt, void *obj) { (void)rt; (void)obj; finalized++; }

static sr_type pair_type(void)
{
    sr_type t = { "Pair", sizeof(pair), pair_fields, 3, NULL, pair_finalize };
    return t;
}

static void make_cycle(sr_runtime *rt, sr_type_id id)
{
    pair *x = sr_rc_new(rt, id), *y = sr_rc_new(rt, id);
    assert_non_null(x);
    assert_non_null(y);
    x->a = y;                      /* x's reference to y: y's count 1 -> moved */
    y->a = sr_rc_retain(x);
    sr_rc_release(rt, x);
}

static sr_stats stats_of(sr_runtime *rt)
{
    sr_stats st;
    sr_runtime_stats(rt, &st);
    return st;
}

/* ---- regressions ---------------------------------------------------------------------------------- */

/* sr_cleanup_release was declared and documented but missing from the library. */
static void release_on_unwind(sr_runtime *rt, void *arg)
{
    sr_cleanup_release(rt, sr_rc_retain(arg));
    sr_panic(rt, "unwind");
}

static void regression_cleanup_release_exists(void **state)
{
    (void)state;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(NULL, &rt), SR_OK);
    sr_type t = pair_type();
    sr_type_id id;
    assert_int_equal(sr_type_register(rt, &t, &id), SR_OK);
    pair *p = sr_rc_new(rt, id);
    assert_int_equal(sr_execute_protected(rt, release_on_unwind, p), SR_ERR_PANIC);
    assert_int_equal(sr_rc_count(p), 1);
    finalized = 0;
    sr_rc_release(rt, p);
    assert_int_equal(finalized, 1);
    assert_int_equal(stats_of(rt).live_objects, 0);
    sr_runtime_free(rt);
}

/* A runtime with profiling on and the pair type registered. */
static sr_runtime *profiled_rt_with_pair(sr_type_id *id)
{
    sr_config c = sr_config_default();
    c.enable_profiling = true;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    sr_type t = pair_type();
    assert_int_equal(sr_type_register(rt, &t, id), SR_OK);
    return rt;
}

/* sr_profiler_check_leaks must collect cycles first (it did not: a leftover stub). */
static void regression_check_leaks_collects(void **state)
{
    (void)state;
    sr_type_id id;
    sr_runtime *rt = profiled_rt_with_pair(&id);
    sr_profiler_mark(rt);
    make_cycle(rt, id);
    sr_stats s0 = stats_of(rt);
    assert_int_equal(s0.live_objects, 2);
    assert_false(sr_profiler_check_leaks(rt));     /* the cycle is garbage, not a leak */
    sr_stats st = stats_of(rt);
    assert_int_equal(st.gc_collections, s0.gc_collections + 1);
    assert_int_equal(st.live_objects, 0);
    assert_int_equal(st.heap_used, 0);
    sr_runtime_free(rt);
}

/* Profiles and reports name object types (they said "<unregistered type>": a
   leftover stub of sr_type_get), and leak samples are described by their fields. */
static void regression_profile_names_types(void **state)
{
    (void)state;
    sr_type_id id;
    sr_runtime *rt = profiled_rt_with_pair(&id);
    pair *p = sr_rc_new(rt, id);
    p->tag = 4242;
    sr_profile pr;
    assert_true(sr_profiler_stats(rt, &pr));
    const sr_type_profile *tp = NULL;
    for (size_t i = 0; i < pr.type_count; i++)
        if (strcmp(pr.types[i].type_name, "Pair") == 0) tp = &pr.types[i];
    assert_non_null(tp);
    assert_int_equal(tp->current_count, 1);
    assert_int_equal(tp->current_bytes, 48);      /* 16-byte header + 24-byte payload: class 48 */
    char *rep = sr_profiler_report(rt, SR_REPORT_TEXT);
    assert_non_null(rep);
    assert_non_null(strstr(rep, "Pair"));
    assert_non_null(strstr(rep, "tag=4242"));
    free(rep);
    sr_rc_release(rt, p);
    sr_runtime_free(rt);
}




/* A moving sr_realloc at the limit runs an emergency collection; finalizers
   that allocate during it must be checked against everything in use, the
   block being moved included (they were checked as if it were gone already,
   and heap_used ended above the limit). */
static void *fin_alloc_block;
static void alloc_finalize(sr_runtime *rt, void *obj)
{
    (void)obj;
    if (!fin_alloc_block) fin_alloc_block = sr_alloc(rt, 1000);   /* charge 1024 */
}

static void regression_realloc_emergency_finalizer_alloc(void **state)
{
    (void)state;
    sr_config c = sr_config_default();
    c.max_heap_size = 4096;
    c.enable_profiling = false;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    fin_alloc_block = NULL;
    sr_type t = { "Fin", sizeof(pair), pair_fields, 3, NULL, alloc_finalize };
    sr_type_id id;
    assert_int_equal(sr_type_register(rt, &t, &id), SR_OK);
    void *filler = sr_alloc(rt, 2816);             /* large: 32 + 16 + 2816 = 2864 */
    void *b = sr_alloc(rt, 1000);                  /* class 1024 */
    assert_non_null(filler);
    assert_non_null(b);
    make_cycle(rt, id);                            /* 2 x 48 bytes of garbage */
    assert_int_equal(stats_of(rt).heap_used, 2864 + 1024 + 96);
    /* growing b needs class 2048: it does not fit, even after the collection */
    void *nb = sr_realloc(rt, b, 1500);
    sr_stats st = stats_of(rt);
    assert_true(st.heap_used <= 4096);
    assert_null(nb);
    assert_null(fin_alloc_block);                  /* 3984 + 1024 does not fit */
    assert_int_equal(st.heap_used, 2864 + 1024);   /* the cycle is gone, b intact */
    assert_int_equal(st.failed_allocations, 3);    /* both finalizers tried, then the realloc */
    assert_int_equal(st.live_objects, 0);
    sr_free(rt, b);
    sr_free(rt, filler);
    assert_int_equal(stats_of(rt).heap_used, 0);
    sr_runtime_free(rt);
}


/* A weak reference made inside a finalizer run by the collector was not
   cleared when the collector freed the object: upgrading it returned freed
   memory. */
static sr_weak *fin_weak;
static void weak_finalize(sr_runtime *rt, void *obj)
{
    if (!fin_weak) fin_weak = sr_weak_new(rt, obj);
}

static void regression_weak_made_in_finalizer(void **state)
{
    (void)state;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(NULL, &rt), SR_OK);
    sr_type t = { "WeakFin", sizeof(pair), pair_fields, 3, NULL, weak_finalize };
    sr_type_id id;
    assert_int_equal(sr_type_register(rt, &t, &id), SR_OK);
    fin_weak = NULL;
    make_cycle(rt, id);
    assert_int_equal(sr_gc_collect(rt), 2);
    assert_non_null(fin_weak);                     /* made while the object was being finalized */
    assert_null(sr_weak_upgrade(fin_weak));        /* and cleared when it was freed */
    pair *z = sr_rc_new(rt, id);                   /* reuses the freed block */
    assert_null(sr_weak_upgrade(fin_weak));
    sr_weak_free(rt, fin_weak);
    sr_rc_release(rt, z);
    fin_weak = (sr_weak *)1;                       /* no more weak refs from finalizers */
    sr_stats st = stats_of(rt);
    assert_int_equal(st.live_objects, 0);
    assert_int_equal(st.heap_used, 0);
    sr_runtime_free(rt);
}

/* ---- misuse detected at run time --------------------------------------------------------------------- */

typedef struct misuse { int what; void *obj; void *raw; void *freed; } misuse;

static void do_misuse(sr_runtime *rt, void *arg)
{
    misuse *m = arg;
    switch (m->what) {
    case 0: sr_free(rt, m->obj); break;                         /* an object is not a raw block */
    case 1: sr_weak_free(rt, (sr_weak *)m->raw); break;         /* a raw block is not a weak reference */
    case 2: sr_rc_release(rt, m->raw); break;                   /* a raw block is not an object */
    case 3: sr_cleanup_push(rt, NULL, NULL); break;             /* NULL cleanup function */
    case 4: (void)sr_realloc(rt, m->freed, 64); break;          /* a freed block */
    case 5: sr_free(rt, m->freed); break;                       /* double free */
    case 6: sr_cleanup_pop(rt, true); break;                    /* nothing pushed here */
    default: sr_frame_pop(rt); break;                           /* no frame pushed here */
    }
}

static void misuse_is_detected_under_protection(void **state)
{
    (void)state;
    static const char *const expect[] = {
        "not a live block", "not a live weak reference", "not an object", "NULL cleanup function",
        "freed already", "freed already", "no cleanup entry", "no script frame",
    };
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(NULL, &rt), SR_OK);
    sr_type t = pair_type();
    sr_type_id id;
    assert_int_equal(sr_type_register(rt, &t, &id), SR_OK);
    misuse m = { 0, sr_rc_new(rt, id), sr_alloc(rt, 40), sr_alloc(rt, 40) };
    sr_free(rt, m.freed);
    sr_stats s0 = stats_of(rt);
    for (int i = 0; i < 8; i++) {
        m.what = i;
        assert_int_equal(sr_execute_protected(rt, do_misuse, &m), SR_ERR_PANIC);
        const sr_panic_info *pi = sr_panic_last(rt);
        assert_non_null(pi);
        assert_int_equal(pi->kind, SR_PANIC_ERROR);
        if (!strstr(pi->message, expect[i])) print_message("misuse %d: '%s'\n", i, pi->message);
        assert_non_null(strstr(pi->message, expect[i]));
        /* nothing changed: the object and the block are intact */
        sr_stats s1 = stats_of(rt);
        assert_int_equal(s1.heap_used, s0.heap_used);
        assert_int_equal(s1.live_objects, 1);
        assert_int_equal(s1.live_blocks, 1);
        assert_int_equal(sr_rc_count(m.obj), 1);
    }
    assert_int_equal(stats_of(rt).panics, 8);
    sr_free(rt, m.raw);
    sr_rc_release(rt, m.obj);
    assert_int_equal(stats_of(rt).heap_used, 0);
    sr_runtime_free(rt);
}


/* ---- lifecycle misuse ------------------------------------------------------------------------------- */

static void child_panic_null_runtime(void *arg)
{
    (void)arg;
    sr_panic(NULL, "no runtime here");
}

static void lifecycle_misuse(void **state)
{
    (void)state;
    /* sr_runtime_free on the default runtime is ignored: it keeps working */
    assert_int_equal(sr_runtime_init(NULL), SR_OK);
    sr_runtime *d = sr_runtime_get();
    assert_non_null(d);
    sr_runtime_free(d);
    assert_ptr_equal(sr_runtime_get(), d);
    void *p = sr_alloc(d, 10);
    assert_non_null(p);
    sr_free(d, p);
    assert_int_equal(sr_runtime_init(NULL), SR_ERR_STATE);
    assert_int_equal(sr_runtime_shutdown(), SR_OK);
    assert_int_equal(sr_runtime_shutdown(), SR_ERR_STATE);
    assert_null(sr_runtime_get());
    sr_runtime_free(NULL);
    /* a panic with no runtime at all writes the message and aborts */
    static char err[4096];
    int rc = sr_test_in_child(child_panic_null_runtime, NULL, err, sizeof err);
    assert_int_equal(rc, 128 + 6);   /* SIGABRT */
    assert_non_null(strstr(err, "no runtime here"));
}

/* ---- allocation-failure injection ------------------------------------------------------------------- */

#define W_OBJS 64

/* A vector of object slots reported by trace (wide: grows the collector's stacks). */
typedef struct vec { size_t count; void *slot[]; } vec;
static void vec_trace(void *obj, sr_visit_fn visit, void *ctx)
{
    vec *v = obj;
    for (size_t i = 0; i < v->count; i++) visit(&v->slot[i], ctx);
}
#define W_VEC 1500

typedef struct workload {
    sr_runtime *rt;
    sr_type_id pair_id, leaf_id, vec_id;
    void *held[W_OBJS];     /* one reference each */
    size_t nheld;
    size_t made;            /* objects created (each must be finalized once: Pair) */
    size_t made_pairs;
    uint64_t failed_seen;   /* refusals the workload saw (NULL returns) */
    size_t nomem_panics;
} workload;

static void w_hold(workload *w, void *obj)
{
    assert_true(w->nheld < W_OBJS);
    w->held[w->nheld++] = obj;
}

static void *w_new(workload *w, sr_type_id id)
{
    uint64_t before = stats_of(w->rt).failed_allocations;
    void *p = sr_rc_new(w->rt, id);
    if (!p) {
        /* a clear failure: NULL and one more refusal counted */
        assert_int_equal(stats_of(w->rt).failed_allocations, before + 1);
        return NULL;
    }
    assert_int_equal(sr_rc_count(p), 1);
    assert_int_equal(sr_rc_type(p), id);
    w->made++;
    if (id == w->pair_id) w->made_pairs++;
    return p;
}

typedef struct w_prot { workload *w; int mode; } w_prot;

static void w_cleanup_free(sr_runtime *rt, void *p) { sr_free(rt, p); }

static void w_protected(sr_runtime *rt, void *arg)
{
    w_prot *a = arg;
    sr_frame_push(rt, "script_fn", "script.scm", 7);
    void *raw = sr_alloc_or_panic(rt, 300);
    sr_cleanup_push(rt, w_cleanup_free, raw);
    if (a->w->pair_id) {
        pair *p = sr_rc_new_or_panic(rt, a->w->pair_id);
        a->w->made++;
        a->w->made_pairs++;
        sr_cleanup_release(rt, p);
        p->a = sr_rc_new_or_panic(rt, a->w->pair_id);
        a->w->made++;
        a->w->made_pairs++;
    }
    if (a->mode == 0) sr_panic(rt, "script error %d", 42);
    sr_cleanup_pop(rt, true);   /* the newest entry */
    if (a->w->pair_id) sr_cleanup_pop(rt, true);
    sr_frame_pop(rt);
}

/* The workload: each step either works or fails clearly; returns nothing,
   asserts as it goes. */
static void run_workload(workload *w)
{
    sr_runtime *rt = w->rt;
    sr_type pt = pair_type();
    sr_type lt = { "Leaf", 8, NULL, 0, NULL, NULL };
    sr_status st = sr_type_register(rt, &pt, &w->pair_id);
    if (st != SR_OK) { assert_int_equal(st, SR_ERR_NOMEM); w->pair_id = 0; }
    st = sr_type_register(rt, &lt, &w->leaf_id);
    if (st != SR_OK) { assert_int_equal(st, SR_ERR_NOMEM); w->leaf_id = 0; }
    sr_type vt = { "Vec", sizeof(vec), NULL, 0, vec_trace, NULL };
    st = sr_type_register(rt, &vt, &w->vec_id);
    if (st != SR_OK) { assert_int_equal(st, SR_ERR_NOMEM); w->vec_id = 0; }
    if (w->pair_id) assert_int_equal(sr_type_find(rt, "Pair"), w->pair_id);

    /* a wide cycle: a vector of 1500 pairs pointing back at it; 300 of them
       buffered as possible roots (the root buffer grows), then all garbage
       (the collector's work stack and garbage set grow) */
    vec *v = w->vec_id && w->pair_id ? sr_rc_new_sized(rt, w->vec_id, sizeof(vec) + W_VEC * sizeof(void *)) : NULL;
    if (v) {
        w->made++;
        for (size_t i = 0; i < W_VEC; i++) {
            pair *p = w_new(w, w->pair_id);
            if (!p) break;
            p->a = sr_rc_retain(v);
            v->slot[v->count++] = p;
            if (i % 5 == 0) sr_rc_release(rt, sr_rc_retain(p));
        }
        size_t n = v->count;
        sr_rc_release(rt, v);   /* n == 0: it dies here */
        sr_stats s0 = stats_of(rt);
        size_t freed = sr_gc_collect(rt);
        sr_stats s1 = stats_of(rt);
        if (s1.live_objects != s0.live_objects - freed)
            print_message("vec: n=%zu live %zu -> %zu, freed %zu, buffer failures %llu, scratch failures %llu\n", n,
                          s0.live_objects, s1.live_objects, freed, (unsigned long long)rt->gc.buffer_failures,
                          (unsigned long long)rt->gc.scratch_failures);
        assert_int_equal(s1.live_objects, s0.live_objects - freed);
        /* all of it, unless the root buffer could not hold the vector */
        if (rt->gc.buffer_failures == 0 && n > 0) assert_int_equal(freed, n + 1);
    }

    /* objects: a chain and leaves, held by the host */
    for (int i = 0; i < 20 && w->pair_id; i++) {
        pair *p = w_new(w, w->pair_id);
        if (!p) continue;
        if (w->leaf_id) p->b = w_new(w, w->leaf_id);
        if (w->nheld) p->a = sr_rc_retain(w->held[w->nheld - 1]);
        w_hold(w, p);
    }
    /* cycles made garbage, some large objects */
    for (int i = 0; i < 8 && w->pair_id; i++) {
        pair *x = w_new(w, w->pair_id);
        pair *y = x ? sr_rc_new_sized(rt, w->pair_id, i % 2 ? 4000 : sizeof(pair)) : NULL;
        if (x && !y) { sr_rc_release(rt, x); continue; }
        if (!x) continue;
        w->made++;
        w->made_pairs++;
        x->a = y;
        y->a = sr_rc_retain(x);
        sr_rc_release(rt, x);
    }
    /* weak references */
    sr_weak *wk = w->nheld ? sr_weak_new(rt, w->held[0]) : NULL;
    if (wk) assert_ptr_equal(sr_weak_upgrade(wk), w->held[0]), sr_rc_release(rt, w->held[0]);
    /* collection: whatever scratch memory it lacks, it frees only garbage */
    sr_stats before = stats_of(rt);
    size_t freed = sr_gc_collect(rt);
    sr_stats after = stats_of(rt);
    assert_int_equal(after.live_objects, before.live_objects - freed);
    assert_int_equal(after.gc_collections, before.gc_collections + 1);
    for (size_t i = 0; i < w->nheld; i++) assert_int_equal(sr_rc_type(w->held[i]), w->pair_id);
    /* raw blocks: a failed realloc leaves the block intact */
    char *b = sr_alloc(rt, 100);
    if (b) {
        memset(b, 'x', 100);
        char *nb = sr_realloc(rt, b, 70000);
        if (!nb) {
            for (int i = 0; i < 100; i++) assert_int_equal(b[i], 'x');
            sr_free(rt, b);
        } else {
            for (int i = 0; i < 100; i++) assert_int_equal(nb[i], 'x');
            sr_free(rt, nb);
        }
    }
    /* panics under protection: an error panic, and a normal return */
    for (int mode = 0; mode < 2; mode++) {
        w_prot a = { w, mode };
        uint64_t panics0 = stats_of(rt).panics;
        st = sr_execute_protected(rt, w_protected, &a);
        if (st == SR_ERR_PANIC) {
            const sr_panic_info *pi = sr_panic_last(rt);
            assert_non_null(pi);
            assert_int_equal(stats_of(rt).panics, panics0 + 1);
            if (pi->kind == SR_PANIC_NOMEM) w->nomem_panics++;
            else assert_string_equal(pi->message, "script error 42");
            assert_true(mode == 0 || pi->kind == SR_PANIC_NOMEM);
        } else {
            assert_int_equal(st, SR_OK);
            assert_int_equal(mode, 1);
        }
    }
    /* the profiler: stats agree with the heap; reports use the C library */
    sr_profile pr;
    if (sr_profiler_stats(rt, &pr)) assert_int_equal(pr.current_memory, stats_of(rt).heap_used);
    char *rep = sr_profiler_report(rt, SR_REPORT_JSON);
    free(rep);
    sr_profiler_check_leaks(rt);
    if (wk) sr_weak_free(rt, wk);
}

/* Releases what the workload holds; after a collection nothing is left unless
   the root buffer could not grow (a cycle then waits for teardown). */
static void finish_workload(workload *w)
{
    sr_runtime *rt = w->rt;
    for (size_t i = 0; i < w->nheld; i++) sr_rc_release(rt, w->held[i]);
    w->nheld = 0;
    sr_gc_collect(rt);
    sr_stats st = stats_of(rt);
    assert_int_equal(st.live_blocks, 0);
    if (rt->gc.buffer_failures == 0) {
        assert_int_equal(st.live_objects, 0);
        assert_int_equal(st.heap_used, 0);
    }
    assert_true(st.heap_used <= st.heap_peak);
    assert_int_equal(st.allocations - st.frees, st.live_objects + st.live_blocks);
}

/* The runtime works once the allocator recovers: types, a collected cycle, a panic. */
static void check_usable(workload *w)
{
    sr_runtime *rt = w->rt;
    if (!w->pair_id) {
        sr_type pt = pair_type();
        assert_int_equal(sr_type_register(rt, &pt, &w->pair_id), SR_OK);
    }
    sr_stats s0 = stats_of(rt);
    pair *x = sr_rc_new(rt, w->pair_id), *y = sr_rc_new(rt, w->pair_id);
    assert_non_null(x);
    assert_non_null(y);
    w->made += 2;
    w->made_pairs += 2;
    x->a = y;
    y->a = sr_rc_retain(x);
    sr_rc_release(rt, x);
    assert_int_equal(sr_gc_collect(rt), 2);
    assert_int_equal(stats_of(rt).live_objects, s0.live_objects);
    assert_int_equal(stats_of(rt).heap_used, s0.heap_used);
    w_prot a = { w, 0 };
    assert_int_equal(sr_execute_protected(rt, w_protected, &a), SR_ERR_PANIC);
    assert_string_equal(sr_panic_last(rt)->message, "script error 42");
    void *b = sr_alloc(rt, 5000);
    assert_non_null(b);
    sr_free(rt, b);
}

static size_t runs_buffer_failed, runs_scratch_failed;   /* runs that took the fallback paths */

static size_t inject(bool all_after, size_t *iterations)
{
    runs_buffer_failed = runs_scratch_failed = 0;
    size_t total_calls = 0;
    for (size_t n = 1;; n++) {
        sr_test_alloc ta = { 0 };
        ta.fail_at = n;
        ta.fail_all_after = all_after;
        sr_config cfg = sr_test_config(&ta);
        cfg.enable_profiling = true;
        cfg.leak_sink = NULL;
        sr_runtime *rt = (sr_runtime *)(uintptr_t)1;
        finalized = 0;
        sr_status st = sr_runtime_new(&cfg, &rt);
        if (st != SR_OK) {
            assert_int_equal(st, SR_ERR_NOMEM);
            assert_null(rt);
            assert_int_equal(ta.live_blocks, 0);
            assert_int_equal(ta.live_bytes, 0);
            continue;
        }
        workload w = { 0 };
        w.rt = rt;
        run_workload(&w);
        finish_workload(&w);
        if (rt->gc.buffer_failures) runs_buffer_failed++;
        if (rt->gc.scratch_failures) runs_scratch_failed++;
        bool met = ta.failures > 0;
        ta.fail_at = 0;                /* the allocator recovers */
        check_usable(&w);
        sr_runtime_free(rt);
        assert_int_equal(ta.live_blocks, 0);
        assert_int_equal(ta.live_bytes, 0);
        assert_int_equal(finalized, w.made_pairs);   /* every Pair finalized exactly once */
        if (!met) {
            *iterations = n;
            return total_calls;
        }
        total_calls = ta.calls;
        assert_true(n < 100000);
    }
}

static void fault_injection_each_call_once(void **state)
{
    (void)state;
    size_t iters = 0;
    inject(false, &iters);
    print_message("workload completed without failures at N = %zu (%zu runs with a root buffer that could not "
                  "grow, %zu with collector scratch that could not grow)\n", iters, runs_buffer_failed, runs_scratch_failed);
    assert_true(iters > 10);
    assert_true(runs_scratch_failed > 0);
}

static void fault_injection_every_call_after(void **state)
{
    (void)state;
    size_t iters = 0;
    inject(true, &iters);
    print_message("workload completed without failures at N = %zu (%zu runs with a root buffer that could not "
                  "grow, %zu with collector scratch that could not grow)\n", iters, runs_buffer_failed, runs_scratch_failed);
    assert_true(iters > 10);
    assert_true(runs_scratch_failed > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(regression_cleanup_release_exists),
        cmocka_unit_test(regression_check_leaks_collects),
        cmocka_unit_test(regression_profile_names_types),
        cmocka_unit_test(regression_realloc_emergency_finalizer_alloc),
        cmocka_unit_test(regression_weak_made_in_finalizer),
        cmocka_unit_test(misuse_is_detected_under_protection),
        cmocka_unit_test(lifecycle_misuse),
        cmocka_unit_test(fault_injection_each_call_once),
        cmocka_unit_test(fault_injection_every_call_after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
