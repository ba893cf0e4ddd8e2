/*
 * test_profiler_objects.c - the profiler with real object types: exact counts
 * per type name, potential leaks and sr_profiler_check_leaks (cycles are
 * collected first), leak samples rendered by the type's field table, the
 * shutdown report of leaked objects, many types (the counters grow) and a
 * type table that cannot grow (counted under "<other types>").
 */
#include "support.h"
#include "internal.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Pair { void *car, *cdr; int64_t tag; } Pair;
typedef struct Blob { int64_t n; double x; } Blob;

static const sr_field pair_fields[] = {
    { "car", offsetof(Pair, car), SR_FIELD_REF },
    { "cdr", offsetof(Pair, cdr), SR_FIELD_REF },
    { "tag", offsetof(Pair, tag), SR_FIELD_I64 },
};

typedef struct env {
    sr_runtime *rt;
    sr_type_id pair, blob;
} env;

static env make_env(sr_config *c)
{
    env e = { 0 };
    assert_int_equal(sr_runtime_new(c, &e.rt), SR_OK);
    sr_type pair = { "Pair", sizeof(Pair), pair_fields, 3, NULL, NULL };
    sr_type blob = { "Blob", sizeof(Blob), NULL, 0, NULL, NULL };
    assert_int_equal(sr_type_register(e.rt, &pair, &e.pair), SR_OK);
    assert_int_equal(sr_type_register(e.rt, &blob, &e.blob), SR_OK);
    return e;
}

static sr_config prof_config(void)
{
    sr_config c = sr_config_default();
    c.enable_profiling = true;
    c.profiler_sample_bytes = SR_PROFILER_EVERY_ALLOCATION;
    return c;
}

static const sr_type_profile *find_type(const sr_profile *p, const char *name)
{
    for (size_t i = 0; i < p->type_count; i++)
        if (strcmp(p->types[i].type_name, name) == 0) return &p->types[i];
    return NULL;
}

/* The heap's charge of one object of `type`, measured. */
static size_t charge_of(sr_runtime *rt, sr_type_id type)
{
    sr_stats a, b;
    sr_runtime_stats(rt, &a);
    void *o = sr_rc_new(rt, type);
    sr_runtime_stats(rt, &b);
    sr_rc_release(rt, o);
    return b.heap_used - a.heap_used;
}

static void per_type_counts_are_exact(void **state)
{
    (void)state;
    sr_config c = prof_config();
    env e = make_env(&c);
    size_t cp = charge_of(e.rt, e.pair), cb = charge_of(e.rt, e.blob);
    assert_true(cp >= sizeof(Pair) + 16);
    enum { NP = 40, NB = 25 };
    void *pairs[NP], *blobs[NB];
    for (int i = 0; i < NP; i++) pairs[i] = sr_rc_new(e.rt, e.pair);
    for (int i = 0; i < NB; i++) blobs[i] = sr_rc_new(e.rt, e.blob);
    void *raw = sr_alloc(e.rt, 300);
    for (int i = 0; i < 10; i++) sr_rc_release(e.rt, pairs[i]);
    sr_profile p;
    assert_true(sr_profiler_stats(e.rt, &p));
    const sr_type_profile *tp = find_type(&p, "Pair"), *tb = find_type(&p, "Blob"), *tr = find_type(&p, "<raw>");
    assert_non_null(tp);
    assert_non_null(tb);
    assert_non_null(tr);
    assert_int_equal(tp->allocations, NP + 1);     /* + the one charge_of made */
    assert_int_equal(tp->frees, 11);
    assert_int_equal(tp->current_count, NP - 10);
    assert_int_equal(tp->current_bytes, (NP - 10) * cp);
    assert_int_equal(tp->peak_bytes, NP * cp);
    assert_int_equal(tb->allocations, NB + 1);
    assert_int_equal(tb->current_count, NB);
    assert_int_equal(tb->current_bytes, NB * cb);
    assert_int_equal(tr->current_bytes, sr_alloc_charge(300));
    sr_stats st;
    sr_runtime_stats(e.rt, &st);
    assert_int_equal(p.current_memory, st.heap_used);
    assert_int_equal(p.current_memory, (NP - 10) * cp + NB * cb + sr_alloc_charge(300));
    assert_int_equal(p.potential_leaks, NP - 10 + NB);   /* creation is the first mark */
    assert_int_equal(p.potential_leak_bytes, (NP - 10) * cp + NB * cb);
    assert_int_equal(p.raw_leaks, 1);

    /* JSON names the types */
    char *json = sr_profiler_report(e.rt, SR_REPORT_JSON);
    json_object *root = json_tokener_parse(json);
    assert_non_null(root);
    json_object *types = NULL, *v = NULL;
    assert_true(json_object_object_get_ex(root, "types", &types));
    bool seen_pair = false;
    for (size_t i = 0; i < json_object_array_length(types); i++) {
        json_object *t = json_object_array_get_idx(types, i);
        assert_true(json_object_object_get_ex(t, "name", &v));
        if (strcmp(json_object_get_string(v), "Pair") != 0) continue;
        seen_pair = true;
        assert_true(json_object_object_get_ex(t, "current_count", &v));
        assert_int_equal(json_object_get_int64(v), NP - 10);
        assert_true(json_object_object_get_ex(t, "current_bytes", &v));
        assert_int_equal(json_object_get_int64(v), (NP - 10) * cp);
    }
    assert_true(seen_pair);
    assert_true(json_object_object_get_ex(root, "potential_leaks", &v));
    assert_int_equal(json_object_get_int64(v), NP - 10 + NB);
    json_object_put(root);
    free(json);

    for (int i = 10; i < NP; i++) sr_rc_release(e.rt, pairs[i]);
    for (int i = 0; i < NB; i++) sr_rc_release(e.rt, blobs[i]);
    sr_free(e.rt, raw);
    assert_true(sr_profiler_stats(e.rt, &p));
    assert_int_equal(p.current_memory, 0);
    assert_int_equal(p.potential_leaks, 0);
    sr_runtime_free(e.rt);
}

static void check_leaks_collects_cycles_first(void **state)
{
    (void)state;
    sr_config c = prof_config();
    env e = make_env(&c);
    void *kept = sr_rc_new(e.rt, e.blob);       /* before the mark: never a leak */
    sr_profiler_mark(e.rt);
    /* a garbage cycle: only the collector frees it */
    Pair *a = sr_rc_new(e.rt, e.pair), *b = sr_rc_new(e.rt, e.pair);
    a->cdr = sr_rc_retain(b);
    b->cdr = sr_rc_retain(a);
    sr_rc_release(e.rt, a);
    sr_rc_release(e.rt, b);
    sr_profile p;
    assert_true(sr_profiler_stats(e.rt, &p));
    assert_int_equal(p.potential_leaks, 2);
    assert_false(sr_profiler_check_leaks(e.rt));   /* collected, so no leak */
    assert_true(sr_profiler_stats(e.rt, &p));
    assert_int_equal(p.potential_leaks, 0);

    /* a real leak: a reference nobody gives back */
    Pair *lost = sr_rc_new(e.rt, e.pair);
    lost->tag = 4242;
    assert_true(sr_profiler_check_leaks(e.rt));
    assert_true(sr_profiler_stats(e.rt, &p));
    assert_int_equal(p.potential_leaks, 1);
    char *text = sr_profiler_report(e.rt, SR_REPORT_TEXT);
    assert_non_null(text);
    assert_non_null(strstr(text, "Potential leaks since the last mark: 1 objects"));
    assert_non_null(strstr(text, "1 x Pair"));
    char expect[128];
    int n = sr_rc_describe(e.rt, lost, expect, sizeof expect);
    assert_true(n > 0);
    assert_non_null(strstr(expect, "4242"));
    assert_non_null(strstr(text, expect));         /* the sample, rendered by its field table */
    free(text);
    sr_rc_release(e.rt, lost);
    assert_false(sr_profiler_check_leaks(e.rt));
    sr_rc_release(e.rt, kept);
    sr_runtime_free(e.rt);
}

typedef struct sink_state { int calls; char text[16384]; } sink_state;

static void sink(sr_runtime *rt, const char *report, void *ud)
{
    (void)rt;
    sink_state *s = ud;
    s->calls++;
    snprintf(s->text, sizeof s->text, "%s", report);
}

static void shutdown_report_names_leaked_objects(void **state)
{
    (void)state;
    sink_state s = { 0 };
    sr_config c = prof_config();
    c.leak_sink = sink;
    c.leak_sink_ud = &s;
    env e = make_env(&c);
    Pair *p = sr_rc_new(e.rt, e.pair);
    p->tag = 77;
    p->car = sr_rc_new(e.rt, e.blob);
    /* a garbage cycle is collected before the report and is not in it */
    Pair *x = sr_rc_new(e.rt, e.pair), *y = sr_rc_new(e.rt, e.pair);
    x->car = sr_rc_retain(y);
    y->car = sr_rc_retain(x);
    sr_rc_release(e.rt, x);
    sr_rc_release(e.rt, y);
    sr_runtime_free(e.rt);
    assert_int_equal(s.calls, 1);
    assert_non_null(strstr(s.text, "2 objects and 0 raw blocks still alive"));
    assert_non_null(strstr(s.text, "1 x Pair"));
    assert_non_null(strstr(s.text, "1 x Blob"));
    assert_non_null(strstr(s.text, "tag=77"));
}

static void many_types_and_a_frozen_type_table(void **state)
{
    (void)state;
    sr_test_alloc ta = { 0 };
    sr_config c = sr_test_config(&ta);
    c.enable_profiling = true;
    c.profiler_sample_bytes = SR_PROFILER_EVERY_ALLOCATION;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    enum { T = 150 };
    sr_type_id ids[T];
    char names[T][16];
    for (int i = 0; i < T; i++) {
        snprintf(names[i], sizeof names[i], "T%03d", i);
        sr_type t = { names[i], 8 + (size_t)(i % 5) * 8, NULL, 0, NULL, NULL };
        assert_int_equal(sr_type_register(rt, &t, &ids[i]), SR_OK);
    }
    void *objs[T];
    /* the first 100 types get counters; then the table may not grow */
    for (int i = 0; i < 100; i++) objs[i] = sr_rc_new(rt, ids[i]);
    uint32_t cap = rt->prof->type_cap;
    assert_true(cap > ids[99]);
    ta.fail_at = ta.calls + 1;
    ta.fail_all_after = true;
    int made = 100;
    for (int i = 100; i < T; i++) {
        objs[i] = sr_rc_new(rt, ids[i]);   /* may fail if the heap needs a page */
        if (objs[i]) made++;
    }
    sr_profile p;
    assert_true(sr_profiler_stats(rt, &p));
    size_t count = 0, bytes = 0;
    const sr_type_profile *other = find_type(&p, "<other types>");
    for (size_t i = 0; i < p.type_count; i++) {
        count += p.types[i].current_count;
        bytes += p.types[i].current_bytes;
    }
    assert_int_equal(count, (size_t)made);
    sr_stats st;
    sr_runtime_stats(rt, &st);
    assert_int_equal(bytes, st.heap_used);
    size_t beyond = 0;
    for (int i = 100; i < T; i++) beyond += objs[i] && ids[i] >= cap;
    if (beyond) {
        assert_non_null(other);
        assert_int_equal(other->current_count, beyond);
        assert_true(rt->prof->types_frozen);
    }
    for (int i = 0; i < 100; i++) assert_non_null(find_type(&p, names[i]));
    for (int i = 0; i < T; i++) sr_rc_release(rt, objs[i]);
    assert_true(sr_profiler_stats(rt, &p));
    for (size_t i = 0; i < p.type_count; i++) assert_int_equal(p.types[i].current_count, 0);
    assert_int_equal(p.current_memory, 0);
    ta.fail_at = 0;
    sr_runtime_free(rt);
    assert_int_equal(ta.live_bytes, 0);
}

static void snapshot_diff_by_type_name(void **state)
{
    (void)state;
    sr_config c = prof_config();
    env e = make_env(&c);
    size_t cp = charge_of(e.rt, e.pair), cb = charge_of(e.rt, e.blob);
    void *blobs[5];
    for (int i = 0; i < 5; i++) blobs[i] = sr_rc_new(e.rt, e.blob);
    sr_profiler_snapshot *s1 = sr_profiler_snapshot_take(e.rt);
    void *pairs[12];
    for (int i = 0; i < 12; i++) pairs[i] = sr_rc_new(e.rt, e.pair);
    for (int i = 0; i < 3; i++) sr_rc_release(e.rt, blobs[i]);
    sr_profiler_snapshot *s2 = sr_profiler_snapshot_take(e.rt);
    sr_profile_diff *d = sr_profiler_snapshot_compare(s1, s2);
    assert_non_null(d);
    assert_int_equal(d->type_count, 2);
    assert_string_equal(d->types[0].type_name, "Pair");        /* largest growth first */
    assert_int_equal(d->types[0].count_diff, 12);
    assert_int_equal(d->types[0].bytes_diff, 12 * (int64_t)cp);
    assert_string_equal(d->types[1].type_name, "Blob");
    assert_int_equal(d->types[1].count_diff, -3);
    assert_int_equal(d->types[1].bytes_diff, -3 * (int64_t)cb);
    assert_int_equal(d->memory_diff, 12 * (int64_t)cp - 3 * (int64_t)cb);
    char *folded = sr_profiler_diff_report(d, SR_REPORT_FOLDED);
    assert_non_null(strstr(folded, ";[Pair] "));
    assert_null(strstr(folded, "[Blob]"));                       /* shrank: not in the growth graph */
    free(folded);
    sr_profiler_diff_free(d);
    sr_profiler_snapshot_free(s1);
    sr_profiler_snapshot_free(s2);
    for (int i = 0; i < 12; i++) sr_rc_release(e.rt, pairs[i]);
    for (int i = 3; i < 5; i++) sr_rc_release(e.rt, blobs[i]);
    sr_runtime_free(e.rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(per_type_counts_are_exact),
        cmocka_unit_test(check_leaks_collects_cycles_first),
        cmocka_unit_test(shutdown_report_names_leaked_objects),
        cmocka_unit_test(many_types_and_a_frozen_type_table),
        cmocka_unit_test(snapshot_diff_by_type_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
