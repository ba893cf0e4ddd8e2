/*
 * test_weak.c - weak references: upgrade while alive and after death, several
 * handles per object, cleared before finalize, freeing after death, heap
 * accounting, and the weak table against a model under random operations.
 */
#include "support.h"
#include "internal.h"

#include <string.h>

typedef struct obj { void *ref; int64_t id; } obj;
static const sr_field obj_fields[] = {
    { "ref", offsetof(obj, ref), SR_FIELD_REF },
    { "id", offsetof(obj, id), SR_FIELD_I64 },
};

static sr_weak *g_watch;
static int g_seen_in_finalize;   /* 1 = weak was already cleared, 2 = still upgradable */

static void obj_finalize(sr_runtime *rt, void *o)
{
    (void)rt;
    (void)o;
    if (!g_watch) return;
    void *s = sr_weak_upgrade(g_watch);
    g_seen_in_finalize = s ? 2 : 1;
}

static sr_runtime *new_rt(void)
{
    sr_config c = sr_config_default();
    c.enable_profiling = false;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    return rt;
}

static sr_type_id reg(sr_runtime *rt)
{
    sr_type t = { "Obj", sizeof(obj), obj_fields, 2, NULL, obj_finalize };
    sr_type_id id;
    assert_int_equal(sr_type_register(rt, &t, &id), SR_OK);
    return id;
}

static size_t heap_used(sr_runtime *rt)
{
    sr_stats st;
    sr_runtime_stats(rt, &st);
    return st.heap_used;
}

static void upgrade_while_alive_and_after_death(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt();
    sr_type_id id = reg(rt);
    size_t base = heap_used(rt);
    obj *o = sr_rc_new(rt, id);
    sr_weak *w1 = sr_weak_new(rt, o);
    sr_weak *w2 = sr_weak_new(rt, o);
    assert_non_null(w1);
    assert_non_null(w2);
    assert_ptr_not_equal(w1, w2);
    assert_int_equal(sr_rc_count(o), 1);                /* weak does not count */
    obj *s = sr_weak_upgrade(w1);
    assert_ptr_equal(s, o);
    assert_int_equal(sr_rc_count(o), 2);                /* a new strong reference */
    sr_rc_release(rt, s);
    assert_true(sr__hdr_of(o)->flags & SR__OBJF_HAS_WEAK);
    sr_weak_free(rt, w2);                               /* free one while alive */
    assert_true(sr__hdr_of(o)->flags & SR__OBJF_HAS_WEAK);
    assert_ptr_equal(sr_weak_upgrade(w1), o);
    sr_rc_release(rt, o);
    sr_rc_release(rt, o);                               /* dies */
    assert_null(sr_weak_upgrade(w1));
    assert_null(sr_weak_upgrade(w1));
    sr_weak_free(rt, w1);                               /* after death: fine */
    assert_int_equal(heap_used(rt), base);
    assert_int_equal(rt->types.weak_count, 0);

    assert_null(sr_weak_new(rt, NULL));
    assert_null(sr_weak_new(NULL, o));
    assert_null(sr_weak_upgrade(NULL));
    sr_weak_free(rt, NULL);
    sr_runtime_free(rt);
}

static void weak_is_cleared_before_finalize(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt();
    sr_type_id id = reg(rt);
    obj *o = sr_rc_new(rt, id);
    g_watch = sr_weak_new(rt, o);
    g_seen_in_finalize = 0;
    sr_rc_release(rt, o);
    assert_int_equal(g_seen_in_finalize, 1);
    assert_null(sr_weak_upgrade(g_watch));
    sr_weak_free(rt, g_watch);
    g_watch = NULL;
    sr_runtime_free(rt);
}

static void weak_into_garbage_cycle(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt();
    sr_type_id id = reg(rt);
    obj *a = sr_rc_new(rt, id), *b = sr_rc_new(rt, id);
    a->ref = sr_rc_retain(b);
    b->ref = sr_rc_retain(a);
    g_watch = sr_weak_new(rt, a);
    sr_weak *wb = sr_weak_new(rt, b);
    sr_rc_release(rt, a);
    sr_rc_release(rt, b);
    assert_ptr_equal(sr_weak_upgrade(wb), b);          /* not collected yet */
    sr_rc_release(rt, b);
    g_seen_in_finalize = 0;
    assert_int_equal(sr_gc_collect(rt), 2);
    assert_int_equal(g_seen_in_finalize, 1);            /* cleared before any finalizer */
    assert_null(sr_weak_upgrade(g_watch));
    assert_null(sr_weak_upgrade(wb));
    sr_weak_free(rt, g_watch);
    sr_weak_free(rt, wb);
    g_watch = NULL;
    assert_int_equal(heap_used(rt), 0);
    sr_runtime_free(rt);
}

/* A finalizer run by the collector makes a weak reference to its own object:
   cleared when the object is freed after all, never left dangling. */
static sr_weak *g_made;
static void weak_making_finalize(sr_runtime *rt, void *o)
{
    if (!g_made) g_made = sr_weak_new(rt, o);
}

static void weak_made_by_finalizer_of_garbage(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt();
    sr_type t = { "Maker", sizeof(obj), obj_fields, 2, NULL, weak_making_finalize };
    sr_type_id id;
    assert_int_equal(sr_type_register(rt, &t, &id), SR_OK);
    obj *a = sr_rc_new(rt, id);
    a->ref = sr_rc_retain(a);
    sr_rc_release(rt, a);
    g_made = NULL;
    assert_int_equal(sr_gc_collect(rt), 1);
    assert_non_null(g_made);
    assert_null(sr_weak_upgrade(g_made));
    assert_int_equal(rt->types.weak_count, 0);
    sr_weak_free(rt, g_made);
    g_made = NULL;
    /* a dying object (count zero) gets no new weak reference at all */
    obj *b = sr_rc_new(rt, id);
    sr_rc_release(rt, b);
    assert_null(g_made);
    assert_int_equal(heap_used(rt), 0);
    sr_runtime_free(rt);
}

/* Random weak handles over random objects against a model: exercises the
   table's growth and backward-shift deletion. */
static void weak_table_model(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt();
    sr_type_id id = reg(rt);
    enum { N = 300, W = 2000 };
    obj *objs[N];
    int alive[N];
    sr_weak *ws[W];
    int target[W];
    int wdead[W];      /* the handle's target died (a later object in the slot is another) */
    for (int i = 0; i < N; i++) {
        objs[i] = sr_rc_new(rt, id);
        objs[i]->id = i;
        alive[i] = 1;
    }
    for (int i = 0; i < W; i++) ws[i] = NULL;
    sr_test_rng rng = { sr_test_seed(12345) };
    for (int step = 0; step < 40000; step++) {
        int k = (int)(sr_test_rand(&rng) % W);
        uint64_t op = sr_test_rand(&rng) % 10;
        if (op < 5) {
            if (ws[k]) sr_weak_free(rt, ws[k]);
            int t = (int)(sr_test_rand(&rng) % N);
            if (!alive[t]) {
                objs[t] = sr_rc_new(rt, id);
                objs[t]->id = t;
                alive[t] = 1;
            }
            ws[k] = sr_weak_new(rt, objs[t]);
            assert_non_null(ws[k]);
            target[k] = t;
            wdead[k] = 0;
        } else if (op < 8) {
            if (ws[k]) sr_weak_free(rt, ws[k]);
            ws[k] = NULL;
        } else {
            int t = (int)(sr_test_rand(&rng) % N);
            if (alive[t] && (sr_test_rand(&rng) & 1)) {
                sr_rc_release(rt, objs[t]);
                alive[t] = 0;
                for (int i = 0; i < W; i++)
                    if (ws[i] && target[i] == t) wdead[i] = 1;
            }
        }
        if (step % 997 == 0) {
            size_t with_weak = 0;
            for (int i = 0; i < W; i++) {
                if (!ws[i]) continue;
                obj *o = sr_weak_upgrade(ws[i]);
                if (!wdead[i]) {
                    assert_ptr_equal(o, objs[target[i]]);
                    sr_rc_release(rt, o);
                } else {
                    assert_null(o);
                }
            }
            for (int t = 0; t < N; t++) {
                bool has = false;
                for (int i = 0; i < W && !has; i++) has = ws[i] && target[i] == t && !wdead[i];
                if (alive[t]) {
                    assert_int_equal(!!(sr__hdr_of(objs[t])->flags & SR__OBJF_HAS_WEAK), has);
                    with_weak += has;
                }
            }
            assert_int_equal(rt->types.weak_count, with_weak);
        }
    }
    for (int i = 0; i < W; i++)
        if (ws[i]) sr_weak_free(rt, ws[i]);
    for (int t = 0; t < N; t++)
        if (alive[t]) sr_rc_release(rt, objs[t]);
    assert_int_equal(heap_used(rt), 0);
    assert_int_equal(rt->types.weak_count, 0);
    sr_runtime_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(upgrade_while_alive_and_after_death),
        cmocka_unit_test(weak_is_cleared_before_finalize),
        cmocka_unit_test(weak_into_garbage_cycle),
        cmocka_unit_test(weak_made_by_finalizer_of_garbage),
        cmocka_unit_test(weak_table_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
