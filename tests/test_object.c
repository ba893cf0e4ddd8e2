/*
 * test_object.c - reference-counted objects: creation, counts, the release
 * cascade (children released before their parent's finalize, finalize once,
 * a 10,000,000-long list on a small stack),
 * misuse panics, panics in finalizers, the _or_panic twin and teardown.
 */
#include "support.h"
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct node { void *next; int64_t value; } node;
static const sr_field node_fields[] = {
    { "next", offsetof(node, next), SR_FIELD_REF },
    { "value", offsetof(node, value), SR_FIELD_I64 },
};

/* finalizer log shared by the tests of this file (reset by each test) */
typedef struct fin_log { int64_t order[64]; size_t n; size_t count; int64_t panic_on; size_t saw_child; } fin_log;
static fin_log g_log;

static void node_finalize(sr_runtime *rt, void *obj)
{
    (void)rt;
    node *n = obj;
    if (g_log.n < 64) g_log.order[g_log.n++] = n->value;
    g_log.count++;
    if (n->next) g_log.saw_child++;   /* children are released (slot NULL) before finalize */
    if (g_log.panic_on && n->value == g_log.panic_on) sr_panic(rt, "finalizer of %lld refuses", (long long)n->value);
}

static bool under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload") != NULL;
}

static sr_runtime *new_rt_cfg(sr_config c)
{
    c.enable_profiling = false;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    return rt;
}

static sr_runtime *new_rt(void) { return new_rt_cfg(sr_config_default()); }

static sr_type_id reg_node(sr_runtime *rt, bool with_finalize)
{
    sr_type t = { with_finalize ? "NodeF" : "Node", sizeof(node), node_fields, 2, NULL,
                  with_finalize ? node_finalize : NULL };
    sr_type_id id;
    assert_int_equal(sr_type_register(rt, &t, &id), SR_OK);
    return id;
}

static sr_stats stats(sr_runtime *rt)
{
    sr_stats st;
    sr_runtime_stats(rt, &st);
    return st;
}

static void new_object_basics(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt();
    sr_type_id id = reg_node(rt, false);
    size_t base = stats(rt).heap_used;
    node *n = sr_rc_new(rt, id);
    assert_non_null(n);
    assert_int_equal((uintptr_t)n % 16, 0);
    assert_int_equal(sr_rc_count(n), 1);
    assert_int_equal(sr_rc_type(n), id);
    assert_null(n->next);
    assert_int_equal(n->value, 0);
    assert_int_equal(stats(rt).heap_used - base, 32);   /* 16 header + 16 payload */
    assert_int_equal(stats(rt).live_objects, 1);
    assert_ptr_equal(sr_rc_retain(n), n);
    assert_int_equal(sr_rc_count(n), 2);
    sr_rc_release(rt, n);
    assert_int_equal(sr_rc_count(n), 1);
    sr_rc_release(rt, n);
    assert_int_equal(stats(rt).heap_used, base);
    assert_int_equal(stats(rt).live_objects, 0);

    /* NULL and bad arguments */
    assert_null(sr_rc_retain(NULL));
    sr_rc_release(rt, NULL);
    assert_int_equal(sr_rc_count(NULL), 0);
    assert_int_equal(sr_rc_type(NULL), SR_TYPE_NONE);
    assert_null(sr_rc_new(NULL, id));
    assert_null(sr_rc_new(rt, SR_TYPE_NONE));
    assert_null(sr_rc_new(rt, id + 1));
    assert_null(sr_rc_new_sized(rt, id, sizeof(node) - 1));
    assert_null(sr_rc_new_sized(rt, 99, 64));
    assert_int_equal(stats(rt).heap_used, base);
    sr_runtime_free(rt);
}

static void eight_byte_payload_costs_24_bytes(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt();
    sr_field f[] = { { "ref", 0, SR_FIELD_REF } };
    sr_type t = { "Box", 8, f, 1, NULL, NULL };
    sr_type_id id;
    assert_int_equal(sr_type_register(rt, &t, &id), SR_OK);
    size_t base = stats(rt).heap_used;
    void *objs[1000];
    for (int i = 0; i < 1000; i++) objs[i] = sr_rc_new(rt, id);
    assert_int_equal(stats(rt).heap_used - base, 24 * 1000);
    for (int i = 0; i < 1000; i++) sr_rc_release(rt, objs[i]);
    assert_int_equal(stats(rt).heap_used, base);
    sr_runtime_free(rt);
}

static void new_sized_payloads(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt();
    sr_type_id id = reg_node(rt, false);
    size_t base = stats(rt).heap_used;
    unsigned char *p = sr_rc_new_sized(rt, id, 5000);
    assert_non_null(p);
    for (int i = 0; i < 5000; i++) assert_int_equal(p[i], 0);
    memset(p + sizeof(node), 0x5a, 5000 - sizeof(node));
    assert_int_equal(stats(rt).heap_used - base, 32 + ((16 + 5000 + 15) & ~15u));
    unsigned char *q = sr_rc_new_sized(rt, id, sizeof(node));
    assert_int_equal(stats(rt).heap_used - base, 32 + ((16 + 5000 + 15) & ~15u) + 32);
    sr_rc_release(rt, p);
    sr_rc_release(rt, q);
    assert_int_equal(stats(rt).heap_used, base);
    sr_runtime_free(rt);
}

/* As the API says: a dying object's children are released, then its finalize
   runs (seeing NULL slots); so along a list the tail is finalized first. */
static void cascade_releases_children_before_finalize(void **state)
{
    (void)state;
    memset(&g_log, 0, sizeof g_log);
    sr_runtime *rt = new_rt();
    sr_type_id id = reg_node(rt, true);
    node *head = NULL;
    for (int i = 5; i >= 1; i--) {
        node *n = sr_rc_new(rt, id);
        n->value = i;
        n->next = head;
        head = n;
    }
    node *keep = sr_rc_retain(((node *)head->next)->next);   /* node 3 stays */
    sr_rc_release(rt, head);
    assert_int_equal(g_log.count, 2);
    assert_int_equal(g_log.order[0], 2);
    assert_int_equal(g_log.order[1], 1);
    assert_int_equal(stats(rt).live_objects, 3);
    assert_int_equal(sr_rc_count(keep), 1);
    sr_rc_release(rt, keep);
    assert_int_equal(g_log.count, 5);
    assert_int_equal(g_log.order[2], 5);
    assert_int_equal(g_log.order[3], 4);
    assert_int_equal(g_log.order[4], 3);
    assert_int_equal(g_log.saw_child, 0);
    assert_int_equal(stats(rt).live_objects, 0);
    assert_int_equal(stats(rt).heap_used, 0);
    sr_runtime_free(rt);
}

/* ---- a 10,000,000-long list released from its head on a 64 KiB stack ---- */

typedef struct long_list_arg { sr_runtime *rt; sr_type_id id; size_t n; size_t live_after; } long_list_arg;

static void *release_head_thread(void *p)
{
    long_list_arg *a = p;
    node *head = NULL;
    for (size_t i = 0; i < a->n; i++) {
        node *n = sr_rc_new(a->rt, a->id);
        if (!n) return NULL;
        n->next = head;
        n->value = (int64_t)i;
        head = n;
    }
    sr_rc_release(a->rt, head);
    a->live_after = stats(a->rt).live_objects;
    return p;
}

/* The same order when the collector frees a cycle: a member's children
   outside the garbage set (an acyclic leaf, which the collector never
   traces; an object the host still holds) are released, and what dies with
   them finalized, before the members' finalizers run, which see those slots
   NULL; every member's finalize runs before any member's memory is freed. */
typedef struct cyc { void *peer; void *ext; int64_t value; } cyc;
static const sr_field cyc_fields[] = {
    { "peer", offsetof(cyc, peer), SR_FIELD_REF },
    { "ext", offsetof(cyc, ext), SR_FIELD_REF },
    { "value", offsetof(cyc, value), SR_FIELD_I64 },
};
static size_t g_cyc_bad;   /* a member finalized with its outside child still set, or its peer gone */

static void node_finalize_leaf(sr_runtime *rt, void *obj)
{
    (void)rt;
    if (g_log.n < 64) g_log.order[g_log.n++] = *(int64_t *)obj;
    g_log.count++;
}

static void cyc_finalize(sr_runtime *rt, void *obj)
{
    (void)rt;
    cyc *c = obj;
    if (g_log.n < 64) g_log.order[g_log.n++] = c->value;
    g_log.count++;
    if (c->ext != NULL || c->peer == NULL || sr_rc_type(c->peer) == SR_TYPE_NONE) g_cyc_bad++;
}

static void collector_releases_outside_children_before_finalize(void **state)
{
    (void)state;
    memset(&g_log, 0, sizeof g_log);
    g_cyc_bad = 0;
    sr_runtime *rt = new_rt();
    sr_type t = { "Cyc", sizeof(cyc), cyc_fields, 3, NULL, cyc_finalize };
    sr_type_id cid;
    assert_int_equal(sr_type_register(rt, &t, &cid), SR_OK);
    sr_type_id nid = reg_node(rt, true);
    typedef struct leaf { int64_t value; } leaf;
    static const sr_field leaf_fields[] = { { "value", 0, SR_FIELD_I64 } };
    sr_type lt = { "LeafF", sizeof(leaf), leaf_fields, 1, NULL, node_finalize_leaf };
    sr_type_id lid;
    assert_int_equal(sr_type_register(rt, &lt, &lid), SR_OK);
    cyc *a = sr_rc_new(rt, cid), *b = sr_rc_new(rt, cid);
    a->value = 1;
    b->value = 2;
    a->peer = sr_rc_retain(b);
    b->peer = sr_rc_retain(a);
    leaf *l3 = sr_rc_new(rt, lid);                              /* a -> 3: acyclic, outside the set */
    l3->value = 3;
    a->ext = l3;
    node *kept = sr_rc_new(rt, nid);                            /* b -> 5, also held by the host */
    kept->value = 5;
    b->ext = sr_rc_retain(kept);
    sr_rc_release(rt, a);
    sr_rc_release(rt, b);
    assert_int_equal(g_log.count, 0);
    assert_int_equal(sr_gc_collect(rt), 3);
    assert_int_equal(g_log.count, 3);
    assert_int_equal(g_log.order[0], 3);          /* the outside child first */
    assert_true((g_log.order[1] == 1 && g_log.order[2] == 2) || (g_log.order[1] == 2 && g_log.order[2] == 1));
    assert_int_equal(g_cyc_bad, 0);
    assert_int_equal(g_log.saw_child, 0);
    assert_int_equal(sr_rc_count(kept), 1);
    assert_int_equal(stats(rt).live_objects, 1);
    sr_rc_release(rt, kept);
    assert_int_equal(g_log.count, 4);
    assert_int_equal(stats(rt).heap_used, 0);
    sr_runtime_free(rt);
}

static void long_list_release_uses_constant_stack(void **state)
{
    (void)state;
    sr_config c = sr_config_default();
    c.enable_panic_handler = false;
    sr_runtime *rt = new_rt_cfg(c);
    long_list_arg a = { rt, reg_node(rt, false), under_valgrind() ? 200000 : 10000000, 99 };
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_t th;
    assert_int_equal(pthread_create(&th, &attr, release_head_thread, &a), 0);
    void *ret = NULL;
    pthread_join(th, &ret);
    pthread_attr_destroy(&attr);
    assert_ptr_equal(ret, &a);
    assert_int_equal(a.live_after, 0);
    sr_stats st = stats(rt);
    assert_int_equal(st.heap_used, 0);
    assert_int_equal(st.frees, st.allocations);
    sr_runtime_free(rt);
}

/* ---- misuse ---- */

typedef struct misuse_arg { void *obj; sr_runtime *rt; } misuse_arg;

static void release_it(sr_runtime *rt, void *arg) { sr_rc_release(rt, ((misuse_arg *)arg)->obj); }

static void release_of_freed_object_panics(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt();
    sr_type_id id = reg_node(rt, false);
    void *n = sr_rc_new(rt, id);
    sr_rc_release(rt, n);
    misuse_arg a = { n, rt };
    assert_int_equal(sr_execute_protected(rt, release_it, &a), SR_ERR_PANIC);
    const sr_panic_info *pi = sr_panic_last(rt);
    assert_non_null(pi);
    assert_non_null(strstr(pi->message, "freed already"));
    assert_int_equal(stats(rt).heap_used, 0);
    /* a raw block is not an object */
    void *raw = sr_alloc(rt, 16);
    a.obj = raw;
    assert_int_equal(sr_execute_protected(rt, release_it, &a), SR_ERR_PANIC);
    assert_non_null(strstr(sr_panic_last(rt)->message, "not an object"));
    sr_free(rt, raw);
    sr_runtime_free(rt);
}

static void overflow_child(void *arg)
{
    sr_runtime *rt = arg;
    sr_type_id id = sr_type_find(rt, "Node");
    void *n = sr_rc_new(rt, id);
    sr__hdr_of(n)->rc = UINT32_MAX - 1;
    sr_rc_retain(n);          /* reaches UINT32_MAX: fine */
    sr_rc_retain(n);          /* one more: overflow */
    _exit(0);
}

static void count_overflow_panics(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt();
    reg_node(rt, false);
    char err[1024];
    int rc = sr_test_in_child(overflow_child, rt, err, sizeof err);
    assert_int_equal(rc, 128 + 6);   /* SIGABRT */
    assert_non_null(strstr(err, "reference count overflow"));
    sr_runtime_free(rt);
}

/* ---- panics in finalizers ---- */

typedef struct chain_arg { sr_type_id id; node *head; } chain_arg;

static void release_chain(sr_runtime *rt, void *arg) { sr_rc_release(rt, ((chain_arg *)arg)->head); }

static void finalizer_panic_in_cascade_keeps_state_consistent(void **state)
{
    (void)state;
    memset(&g_log, 0, sizeof g_log);
    sr_runtime *rt = new_rt();
    chain_arg a = { reg_node(rt, true), NULL };
    for (int i = 6; i >= 1; i--) {
        node *n = sr_rc_new(rt, a.id);
        n->value = i;
        n->next = a.head;
        a.head = n;
    }
    g_log.panic_on = 3;
    assert_int_equal(sr_execute_protected(rt, release_chain, &a), SR_ERR_PANIC);
    assert_string_equal(sr_panic_last(rt)->message, "finalizer of 3 refuses");
    /* the whole list is gone; every finalizer ran exactly once, tail first */
    assert_int_equal(g_log.count, 6);
    for (int i = 0; i < 6; i++) assert_int_equal(g_log.order[i], 6 - i);
    sr_stats st = stats(rt);
    assert_int_equal(st.live_objects, 0);
    assert_int_equal(st.heap_used, 0);
    assert_int_equal(st.panics, 1);
    assert_null(rt->types.pending);
    assert_false(rt->types.draining);
    /* the runtime still works */
    node *n = sr_rc_new(rt, a.id);
    n->value = 10;
    sr_rc_release(rt, n);
    assert_int_equal(g_log.count, 7);
    sr_runtime_free(rt);
}

/* A finalizer releasing another object: freed before the outer release returns. */
static node *g_other;
static void release_other_finalize(sr_runtime *rt, void *obj)
{
    (void)obj;
    g_log.count++;
    node *o = g_other;
    g_other = NULL;
    sr_rc_release(rt, o);
}

static void release_inside_finalize(void **state)
{
    (void)state;
    memset(&g_log, 0, sizeof g_log);
    sr_runtime *rt = new_rt();
    sr_type_id fin = reg_node(rt, true);
    sr_type t = { "Releaser", sizeof(node), node_fields, 2, NULL, release_other_finalize };
    sr_type_id rid;
    assert_int_equal(sr_type_register(rt, &t, &rid), SR_OK);
    g_other = sr_rc_new(rt, fin);
    g_other->value = 42;
    node *r = sr_rc_new(rt, rid);
    sr_rc_release(rt, r);
    assert_int_equal(g_log.count, 2);
    assert_int_equal(g_log.order[0], 42);
    assert_int_equal(stats(rt).live_objects, 0);
    sr_runtime_free(rt);
}

static void alloc_or_panic_at_limit(sr_runtime *rt, void *arg)
{
    sr_type_id id = *(sr_type_id *)arg;
    for (;;) sr_rc_new_or_panic(rt, id);   /* leaks into the heap until the limit */
}

static void new_or_panic_panics_with_nomem(void **state)
{
    (void)state;
    sr_config c = sr_config_default();
    c.max_heap_size = 64 * 1024;
    sr_runtime *rt = new_rt_cfg(c);
    sr_type_id id = reg_node(rt, false);
    assert_int_equal(sr_execute_protected(rt, alloc_or_panic_at_limit, &id), SR_ERR_PANIC);
    const sr_panic_info *pi = sr_panic_last(rt);
    assert_int_equal(pi->kind, SR_PANIC_NOMEM);
    assert_non_null(strstr(pi->message, "Node"));
    sr_stats st = stats(rt);
    assert_true(st.heap_used <= 64 * 1024);
    assert_true(st.heap_used > 64 * 1024 - 32);
    assert_int_equal(st.failed_allocations, 1);
    sr_type_id bad = 99;
    assert_int_equal(sr_execute_protected(rt, alloc_or_panic_at_limit, &bad), SR_ERR_PANIC);
    assert_int_equal(sr_panic_last(rt)->kind, SR_PANIC_ERROR);
    sr_runtime_free(rt);   /* returns every leaked object */
}

/* ---- teardown ---- */

static void teardown_panic_finalize(sr_runtime *rt, void *obj)
{
    node *n = obj;
    g_log.count++;
    if (n->value == 2) sr_panic(rt, "teardown finalizer panics");
    void *raw = sr_alloc(rt, 100);   /* allocation during teardown works */
    sr_free(rt, raw);
}

static void teardown_finalizes_every_live_object_once(void **state)
{
    (void)state;
    memset(&g_log, 0, sizeof g_log);
    sr_test_alloc ta = { 0 };
    sr_config c = sr_test_config(&ta);
    c.enable_profiling = false;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    sr_type t = { "Leaky", sizeof(node), node_fields, 2, NULL, teardown_panic_finalize };
    sr_type_id id;
    assert_int_equal(sr_type_register(rt, &t, &id), SR_OK);
    /* a leaked chain: node 1 -> node 2 -> node 3, plus a leaked loner */
    node *a = sr_rc_new(rt, id), *b = sr_rc_new(rt, id), *d = sr_rc_new(rt, id), *e = sr_rc_new(rt, id);
    a->value = 1; b->value = 2; d->value = 3; e->value = 4;
    a->next = b;
    b->next = d;
    (void)e;
    sr_runtime_free(rt);
    assert_int_equal(g_log.count, 4);
    assert_int_equal(ta.live_bytes, 0);
    assert_int_equal(ta.live_blocks, 0);
}

/* Teardown finalizers that create objects (finalized too), and a teardown
   whose snapshot array cannot be allocated (the 64-entry fallback). */
static int g_spawn_left;
static sr_type_id g_spawn_type;
static void spawning_finalize(sr_runtime *rt, void *obj)
{
    (void)obj;
    g_log.count++;
    if (g_spawn_left > 0) {
        g_spawn_left--;
        void *n = sr_rc_new(rt, g_spawn_type);   /* leaked on purpose */
        (void)n;
    }
}

static void teardown_finalizes_objects_made_by_finalizers(void **state)
{
    (void)state;
    for (int failing = 0; failing < 2; failing++) {
        memset(&g_log, 0, sizeof g_log);
        sr_test_alloc ta = { 0 };
        sr_config c = sr_test_config(&ta);
        c.enable_profiling = false;
        sr_runtime *rt = NULL;
        assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
        sr_type t = { "Spawner", sizeof(node), node_fields, 2, NULL, spawning_finalize };
        assert_int_equal(sr_type_register(rt, &t, &g_spawn_type), SR_OK);
        for (int i = 0; i < 200; i++) assert_non_null(sr_rc_new(rt, g_spawn_type));
        g_spawn_left = 5;
        if (failing) {
            ta.fail_at = ta.calls + 1;      /* no snapshot array: chunks of 64 */
            ta.fail_all_after = true;
        }
        sr_runtime_free(rt);
        assert_int_equal(g_log.count, 205);
        assert_int_equal(ta.live_bytes, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_object_basics),
        cmocka_unit_test(eight_byte_payload_costs_24_bytes),
        cmocka_unit_test(new_sized_payloads),
        cmocka_unit_test(cascade_releases_children_before_finalize),
        cmocka_unit_test(collector_releases_outside_children_before_finalize),
        cmocka_unit_test(long_list_release_uses_constant_stack),
        cmocka_unit_test(release_of_freed_object_panics),
        cmocka_unit_test(count_overflow_panics),
        cmocka_unit_test(finalizer_panic_in_cascade_keeps_state_consistent),
        cmocka_unit_test(release_inside_finalize),
        cmocka_unit_test(new_or_panic_panics_with_nomem),
        cmocka_unit_test(teardown_finalizes_every_live_object_once),
        cmocka_unit_test(teardown_finalizes_objects_made_by_finalizers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
