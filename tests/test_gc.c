/*
 * test_gc.c - the cycle collector: the classic scenarios (self-loop, 2-cycle,
 * rings, a garbage cycle holding a live object, a live object holding a cycle,
 * cycles of cycles, a root buffered then retained, a cycle through a trace
 * container), which roots are kept (a retained root stays one; acyclic objects
 * never are), a live tree under a busy root (walked exactly once per
 * collection, collections paced), finalizer order and resurrection,
 * million-object lists and rings, automatic and emergency collection,
 * enable_gc == false, stress mode, panics in finalizers during a collection,
 * scratch allocation failures, and a randomized graph test against a
 * reachability model run with many seeds.
 */
#include "support.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct node { void *a, *b, *c; int64_t id; int64_t magic; } node;
static const sr_field node_fields[] = {
    { "a", offsetof(node, a), SR_FIELD_REF },
    { "b", offsetof(node, b), SR_FIELD_REF },
    { "c", offsetof(node, c), SR_FIELD_REF },
    { "id", offsetof(node, id), SR_FIELD_I64 },
    { "magic", offsetof(node, magic), SR_FIELD_I64 },
};
#define MAGIC 0x5ca1ab1e

/* variable-size container traced by callback */
typedef struct vec { size_t n; void *items[]; } vec;
static void vec_trace(void *o, sr_visit_fn visit, void *ctx)
{
    vec *v = o;
    for (size_t i = 0; i < v->n; i++) visit(&v->items[i], ctx);
}

typedef struct gstate {
    size_t finalized;
    size_t bad_partner;        /* finalizers that found a freed partner */
    int64_t panic_on;
    void *resurrect_into;      /* a finalizer stores a reference to itself here */
    int64_t resurrect_id;
    uint8_t *dead;             /* model test: dead[id] = 1 when finalized */
    sr_type_id node_type, plain_type;
    size_t dead_n;
} gstate;
static gstate G;

static void node_finalize(sr_runtime *rt, void *o)
{
    node *n = o;
    G.finalized++;
    if (n->magic != MAGIC) G.bad_partner++;
    /* every member's finalize runs before any member is freed: partners readable */
    node *p[3] = { n->a, n->b, n->c };
    for (int i = 0; i < 3; i++) {
        if (p[i] && sr_rc_type(p[i]) == SR_TYPE_NONE) G.bad_partner++;   /* freed already */
        if (p[i] && (sr_rc_type(p[i]) == G.node_type || sr_rc_type(p[i]) == G.plain_type) && p[i]->magic != MAGIC)
            G.bad_partner++;
    }
    if (G.dead && n->id >= 0 && (size_t)n->id < G.dead_n) {
        if (G.dead[n->id]) G.bad_partner += 1000;   /* finalized twice */
        G.dead[n->id] = 1;
    }
    if (G.resurrect_id && n->id == G.resurrect_id && !G.resurrect_into) G.resurrect_into = sr_rc_retain(n);
    if (G.panic_on && n->id == G.panic_on) sr_panic(rt, "finalizer %lld panics", (long long)n->id);
}

typedef struct types { sr_type_id node, plain, vec, leaf; } types;

static sr_runtime *new_rt_cfg(sr_config c, types *t)
{
    c.enable_profiling = false;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    sr_type tn = { "Node", sizeof(node), node_fields, 5, NULL, node_finalize };
    sr_type tp = { "Plain", sizeof(node), node_fields, 5, NULL, NULL };
    sr_type tv = { "Vec", sizeof(vec), NULL, 0, vec_trace, NULL };
    sr_field lf[] = { { "v", 0, SR_FIELD_I64 } };
    sr_type tl = { "Leaf", 8, lf, 1, NULL, NULL };
    assert_int_equal(sr_type_register(rt, &tn, &t->node), SR_OK);
    assert_int_equal(sr_type_register(rt, &tp, &t->plain), SR_OK);
    assert_int_equal(sr_type_register(rt, &tv, &t->vec), SR_OK);
    assert_int_equal(sr_type_register(rt, &tl, &t->leaf), SR_OK);
    memset(&G, 0, sizeof G);
    G.node_type = t->node;
    G.plain_type = t->plain;
    return rt;
}

static sr_runtime *new_rt(types *t) { return new_rt_cfg(sr_config_default(), t); }

static node *mk(sr_runtime *rt, sr_type_id type, int64_t id)
{
    node *n = sr_rc_new(rt, type);
    assert_non_null(n);
    n->id = id;
    n->magic = MAGIC;
    return n;
}

static sr_stats stats(sr_runtime *rt)
{
    sr_stats st;
    sr_runtime_stats(rt, &st);
    return st;
}

/* No object is left GRAY/WHITE or marked after a collection (invariant G1). */
static void check_clean(sr__hdr *h, void *ctx)
{
    size_t *bad = ctx;
    if (sr__kind(h) != SR__KIND_OBJ) return;
    if ((h->info & SR__OBJ_COLOUR_MASK) != SR__OBJ_BLACK) ++*bad;
    if (h->flags & (SR__OBJF_GARBAGE | SR__OBJF_PENDING | SR__OBJF_PENDING1)) ++*bad;
    if (h->info & SR__OBJ_DEAD) ++*bad;
}

static void assert_clean(sr_runtime *rt)
{
    size_t bad = 0;
    sr__heap_each_live(rt, check_clean, &bad);
    assert_int_equal(bad, 0);
    assert_int_equal(rt->gc.sp, 0);
    assert_false(rt->gc.running);
    assert_null(rt->types.pending);
}

static void self_loop(void **state)
{
    (void)state;
    types t;
    sr_runtime *rt = new_rt(&t);
    node *n = mk(rt, t.node, 1);
    n->a = sr_rc_retain(n);
    sr_rc_release(rt, n);
    assert_int_equal(stats(rt).live_objects, 1);
    assert_int_equal(stats(rt).gc_roots_buffered, 1);
    assert_int_equal(sr_gc_collect(rt), 1);
    assert_int_equal(G.finalized, 1);
    assert_int_equal(G.bad_partner, 0);
    sr_stats st = stats(rt);
    assert_int_equal(st.live_objects, 0);
    assert_int_equal(st.heap_used, 0);
    assert_int_equal(st.gc_roots_buffered, 0);
    assert_int_equal(st.gc_objects_collected, 1);
    assert_int_equal(sr_gc_collect(rt), 0);
    assert_clean(rt);
    sr_runtime_free(rt);
}

static void two_cycle_and_ring(void **state)
{
    (void)state;
    types t;
    sr_runtime *rt = new_rt(&t);
    node *a = mk(rt, t.plain, 1), *b = mk(rt, t.plain, 2);
    a->a = sr_rc_retain(b);
    b->a = sr_rc_retain(a);
    sr_rc_release(rt, a);
    sr_rc_release(rt, b);
    assert_int_equal(stats(rt).live_objects, 2);
    assert_int_equal(sr_gc_collect(rt), 2);
    assert_int_equal(stats(rt).live_objects, 0);

    /* ring of 100 with finalizers, released through one external reference */
    node *first = mk(rt, t.node, 0), *prev = first;
    for (int i = 1; i < 100; i++) {
        node *n = mk(rt, t.node, i);
        prev->a = n;                     /* transfers the creation reference */
        prev = n;
    }
    prev->a = sr_rc_retain(first);
    sr_rc_release(rt, first);
    assert_int_equal(stats(rt).live_objects, 100);
    assert_int_equal(sr_gc_collect(rt), 100);
    assert_int_equal(G.finalized, 100);
    assert_int_equal(G.bad_partner, 0);
    assert_int_equal(stats(rt).heap_used, 0);
    assert_clean(rt);
    sr_runtime_free(rt);
}

static void garbage_cycle_holding_live_object(void **state)
{
    (void)state;
    types t;
    sr_runtime *rt = new_rt(&t);
    node *live = mk(rt, t.node, 9);
    node *leaf = sr_rc_new(rt, t.leaf);
    node *a = mk(rt, t.node, 1), *b = mk(rt, t.node, 2);
    a->a = sr_rc_retain(b);
    b->a = sr_rc_retain(a);
    a->b = sr_rc_retain(live);
    b->b = sr_rc_retain(live);      /* two edges: loses exactly two counts */
    a->c = leaf;                     /* an acyclic child owned by the cycle */
    sr_rc_release(rt, a);
    sr_rc_release(rt, b);
    assert_int_equal(sr_rc_count(live), 3);
    assert_int_equal(sr_gc_collect(rt), 3);   /* a, b and the leaf */
    assert_int_equal(sr_rc_count(live), 1);
    assert_int_equal(live->magic, MAGIC);
    assert_int_equal(G.finalized, 2);
    assert_int_equal(stats(rt).live_objects, 1);
    assert_clean(rt);
    sr_rc_release(rt, live);
    assert_int_equal(stats(rt).live_objects, 0);
    sr_runtime_free(rt);
}

static void garbage_cycle_holding_live_object_no_finalizers(void **state)
{
    (void)state;
    types t;
    sr_runtime *rt = new_rt(&t);
    node *live = mk(rt, t.plain, 9);
    node *a = mk(rt, t.plain, 1), *b = mk(rt, t.plain, 2);
    a->a = sr_rc_retain(b);
    b->a = sr_rc_retain(a);
    a->b = sr_rc_retain(live);
    b->b = sr_rc_retain(live);
    a->c = sr_rc_new(rt, t.leaf);
    sr_rc_release(rt, a);
    sr_rc_release(rt, b);
    assert_int_equal(sr_gc_collect(rt), 3);
    assert_int_equal(sr_rc_count(live), 1);
    assert_int_equal(stats(rt).live_objects, 1);
    assert_clean(rt);
    sr_rc_release(rt, live);
    assert_int_equal(stats(rt).heap_used, 0);
    sr_runtime_free(rt);
}

static void live_object_holding_cycle(void **state)
{
    (void)state;
    types t;
    sr_runtime *rt = new_rt(&t);
    node *holder = mk(rt, t.node, 100);
    node *a = mk(rt, t.node, 1), *b = mk(rt, t.node, 2);
    a->a = sr_rc_retain(b);
    b->a = sr_rc_retain(a);
    holder->a = sr_rc_retain(a);
    sr_rc_release(rt, a);
    sr_rc_release(rt, b);
    assert_int_equal(sr_gc_collect(rt), 0);
    assert_int_equal(G.finalized, 0);
    assert_int_equal(sr_rc_count(a), 2);
    assert_int_equal(sr_rc_count(b), 1);
    assert_clean(rt);
    sr_rc_release(rt, holder);      /* the cycle is garbage now */
    assert_int_equal(stats(rt).live_objects, 2);
    assert_int_equal(sr_gc_collect(rt), 2);
    assert_int_equal(stats(rt).live_objects, 0);
    sr_runtime_free(rt);
}

static void cycles_of_cycles(void **state)
{
    (void)state;
    types t;
    sr_runtime *rt = new_rt(&t);
    /* 10 rings of 10, each ring pointing at the next ring, the last at the first */
    node *rings[10];
    for (int r = 0; r < 10; r++) {
        node *first = mk(rt, t.node, r * 10), *prev = first;
        for (int i = 1; i < 10; i++) {
            node *n = mk(rt, t.node, r * 10 + i);
            prev->a = n;
            prev = n;
        }
        prev->a = sr_rc_retain(first);
        rings[r] = first;
    }
    for (int r = 0; r < 10; r++) rings[r]->b = sr_rc_retain(rings[(r + 1) % 10]);
    for (int r = 0; r < 9; r++) sr_rc_release(rt, rings[r]);
    assert_int_equal(sr_gc_collect(rt), 0);       /* rings[9] holds everything */
    assert_int_equal(stats(rt).live_objects, 100);
    sr_rc_release(rt, rings[9]);
    assert_int_equal(sr_gc_collect(rt), 100);
    assert_int_equal(G.finalized, 100);
    assert_int_equal(G.bad_partner, 0);
    assert_clean(rt);
    sr_runtime_free(rt);
}

static void root_buffered_then_retained(void **state)
{
    (void)state;
    types t;
    sr_runtime *rt = new_rt(&t);
    node *a = mk(rt, t.node, 1), *b = mk(rt, t.node, 2);
    a->a = sr_rc_retain(b);
    b->a = sr_rc_retain(a);
    sr_rc_retain(a);
    sr_rc_release(rt, a);            /* buffered, count 2 */
    assert_int_equal(stats(rt).gc_roots_buffered, 1);
    sr_rc_retain(a);                 /* retained again: still buffered, count 3 */
    sr_rc_release(rt, b);
    assert_int_equal(sr_gc_collect(rt), 0);
    assert_int_equal(sr_rc_count(a), 3);
    assert_int_equal(sr_rc_count(b), 1);
    assert_int_equal(stats(rt).gc_roots_buffered, 0);
    assert_clean(rt);
    sr_rc_release(rt, a);
    sr_rc_release(rt, a);
    assert_int_equal(sr_gc_collect(rt), 2);
    assert_int_equal(stats(rt).live_objects, 0);
    sr_runtime_free(rt);
}

/* A buffered root stays a root until the next collection, whatever happens to
   its count in between. Bacon and Rajan drop a root that was retained since it
   was buffered ("black on increment"); that is only right when every new
   reference is counted. Here references move: the one from sr_rc_new and the
   one from a retain are stored into fields without a count change, and the
   pair becomes a garbage cycle with no release after the retain. Only the
   entry buffered before the retain finds it. */
static void buffered_root_stays_a_root_after_a_retain(void **state)
{
    (void)state;
    types t;
    sr_runtime *rt = new_rt(&t);
    node *a = mk(rt, t.plain, 1), *b = mk(rt, t.plain, 2);
    sr_rc_release(rt, sr_rc_retain(a));   /* buffered: count 1 */
    sr_rc_retain(a);                      /* count 2: the last change is an increment */
    a->a = b;                             /* b's reference moves into a */
    b->a = a;                             /* so do both of a's */
    b->b = a;
    assert_int_equal(sr_rc_count(a), 2);
    assert_int_equal(sr_rc_count(b), 1);
    assert_int_equal(stats(rt).gc_roots_buffered, 1);
    assert_int_equal(sr_gc_collect(rt), 2);
    assert_int_equal(stats(rt).live_objects, 0);
    assert_clean(rt);
    sr_runtime_free(rt);
}

/* Types with no REF field and no trace can hold no reference: their objects
   are never buffered, and the collector does not visit them. */
static void acyclic_objects_neither_buffered_nor_visited(void **state)
{
    (void)state;
    types t;
    sr_runtime *rt = new_rt(&t);
    enum { N = 1000 };
    vec *v = sr_rc_new_sized(rt, t.vec, sizeof(vec) + N * sizeof(void *));
    assert_non_null(v);
    v->n = N;
    for (size_t i = 0; i < N; i++) v->items[i] = sr_rc_new(rt, t.leaf);
    sr_gc_collect(rt);                    /* whatever the allocations buffered (stress mode) */
    for (size_t i = 0; i < N; i++) sr_rc_release(rt, sr_rc_retain(v->items[i]));
    assert_int_equal(stats(rt).gc_roots_buffered, 0);
    sr_rc_release(rt, sr_rc_retain(v));
    assert_int_equal(stats(rt).gc_roots_buffered, 1);
    uint64_t visited = stats(rt).gc_objects_visited;
    assert_int_equal(sr_gc_collect(rt), 0);
    assert_int_equal(stats(rt).gc_objects_visited - visited, 1);   /* v only */
    for (size_t i = 0; i < N; i++) assert_int_equal(sr_rc_count(v->items[i]), 1);
    assert_clean(rt);
    sr_rc_release(rt, v);
    assert_int_equal(stats(rt).live_objects, 0);
    sr_runtime_free(rt);
}

/* A complete binary tree of 2^depth - 1 nodes of `type` (a and b are the
   children), built bottom-up without recursion. Returns the root. */
static node *mk_tree(sr_runtime *rt, sr_type_id type, int depth, node ***all)
{
    size_t n = ((size_t)1 << depth) - 1;
    node **v = malloc(n * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) v[i] = mk(rt, type, (int64_t)i);
    for (size_t i = n; i-- > 0;) {
        if (2 * i + 2 < n) {
            v[i]->a = v[2 * i + 1];            /* the children's references move in */
            v[i]->b = v[2 * i + 2];
        }
    }
    node *root = v[0];
    if (all) *all = v;
    else free(v);
    return root;
}

/* The binary-trees shape, exactly: a long-lived tree hangs off a frame object
   that the program keeps retaining and releasing (an interpreter's environment
   holding a long-lived value). After each such release the frame is a possible
   root, and a trial deletion from it must walk the whole tree: a leaf could
   hold an edge back to the frame, and only the walk can rule that out. So
   every collection that finds the frame buffered visits the tree once more
   (exactly tree + frame), and frees the tree as soon as such an edge closes a
   garbage cycle. The adaptive trigger bounds how often that happens (next
   test). */
static void live_tree_under_a_busy_frame(void **state)
{
    (void)state;
    types t;
    sr_runtime *rt = new_rt(&t);
    enum { DEPTH = 12, NODES = (1 << DEPTH) - 1 };
    node **all;
    node *frame = mk(rt, t.plain, -1);
    frame->a = mk_tree(rt, t.plain, DEPTH, &all);
    sr_gc_collect(rt);                    /* whatever the allocations buffered (stress mode) */
    assert_int_equal(stats(rt).gc_roots_buffered, 0);
    for (int round = 0; round < 3; round++) {
        sr_rc_release(rt, sr_rc_retain(frame));
        uint64_t visited = stats(rt).gc_objects_visited;
        assert_int_equal(sr_gc_collect(rt), 0);
        assert_int_equal(stats(rt).gc_objects_visited - visited, NODES + 1);
        assert_int_equal(sr_rc_count(frame), 1);
        assert_int_equal(sr_rc_count(frame->a), 1);
        assert_clean(rt);
    }
    /* a leaf's edge back to the frame: dropping the frame leaves a garbage cycle */
    all[NODES - 1]->c = sr_rc_retain(frame);
    sr_rc_release(rt, frame);
    assert_int_equal(stats(rt).gc_roots_buffered, 1);
    assert_int_equal(sr_gc_collect(rt), NODES + 1);
    assert_int_equal(stats(rt).live_objects, 0);
    assert_clean(rt);
    free(all);
    sr_runtime_free(rt);
}

/* One step of a busy interpreter: its frame released to a non-zero count
   (buffered as a possible root), one short-lived allocation. */
static void busy_step(sr_runtime *rt, const types *t, node *frame)
{
    sr_rc_release(rt, sr_rc_retain(frame));
    sr_rc_release(rt, sr_rc_new(rt, t->leaf));
}

/* A frame over a live tree of 2^depth - 1 nodes in a gate_rt runtime,
   busy until the first automatic run has walked the tree
   and freed nothing: the growth gate is then closed. NULL in stress builds
   (every allocation collects: there is no gate to test). */
static node *busy_frame_until_quiet(sr_runtime *rt, const types *t, int depth)
{
    node *frame = mk(rt, t->plain, -1);
    frame->a = mk_tree(rt, t->plain, depth, NULL);
    uint64_t runs0 = stats(rt).gc_collections;
    while (stats(rt).gc_collections == runs0) busy_step(rt, t, frame);   /* the first walk of the tree */
    assert_true(rt->gc.quiet);
    return frame;
}

enum { GATE_THRESHOLD = 100 };

/* A runtime whose automatic collections start at a small threshold. */
static sr_runtime *gate_rt(types *t)
{
    sr_config c = sr_config_default();
    c.gc_threshold = GATE_THRESHOLD;
    return new_rt_cfg(c, t);
}

/* The same shape with automatic collections: a busy frame over a live tree,
   and short-lived trees whose nodes are briefly shared (buffered, then freed
   by their count). The first automatic run walks the tree and frees nothing;
   after that the heap does not grow, so no garbage can be piling up, and the
   growth gate keeps every later run from walking the tree again: one run and
   4,096 objects visited in 70,000 allocations (with the pacing alone: 3 runs,
   12,288 visited; with neither: 693 runs, 2.8 M). Then garbage 2-cycles
   pile up: the heap grows, automatic runs resume and free them, and every
   cycle is freed in the end. */
static void live_tree_retraced_only_when_the_heap_grows(void **state)
{
    (void)state;
    types t;
    sr_runtime *rt = gate_rt(&t);
    if (rt->gc.stress) { sr_runtime_free(rt); skip(); }
    enum { DEPTH = 12, NODES = (1 << DEPTH) - 1, ITERATIONS = 10000 };
    node *frame = mk(rt, t.plain, -1);
    frame->a = mk_tree(rt, t.plain, DEPTH, NULL);
    sr_stats s0 = stats(rt), start = s0;
    size_t cycles = 0;
    for (int phase = 0; phase < 2; phase++) {
        for (int it = 0; it < ITERATIONS; it++) {
            sr_rc_retain(frame);
            node **small;
            node *tmp = mk_tree(rt, t.plain, 3, &small);
            for (int i = 0; i < 7; i++) sr_rc_release(rt, sr_rc_retain(small[i]));   /* briefly shared */
            free(small);
            sr_rc_release(rt, frame);
            sr_rc_release(rt, tmp);
            if (phase == 1) {                    /* a garbage 2-cycle per iteration */
                node *x = mk(rt, t.plain, it), *y = mk(rt, t.plain, it);
                x->a = y;
                y->a = sr_rc_retain(x);
                sr_rc_release(rt, x);
                cycles++;
            }
        }
        sr_stats s1 = stats(rt);
        uint64_t runs = s1.gc_collections - s0.gc_collections;
        uint64_t visited = s1.gc_objects_visited - s0.gc_objects_visited;
        uint64_t collected = s1.gc_objects_collected - s0.gc_objects_collected;
        if (phase == 0) {
            assert_int_equal(s1.allocations - s0.allocations, ITERATIONS * 7);
            assert_int_equal(runs, 1);
            assert_in_range(visited, NODES + 1, NODES + 1 + 7);   /* the tree, the frame, live temporaries */
            assert_int_equal(collected, 0);
            assert_int_equal(s1.live_objects, s0.live_objects);
        } else {
            assert_true(runs >= 2);
            assert_true(collected >= cycles);    /* most cycles were freed by automatic runs */
            assert_true(s1.live_objects < s0.live_objects + 2 * cycles);
        }
        s0 = s1;
    }
    /* every garbage cycle was or is still found */
    sr_rc_release(rt, frame);
    sr_gc_collect(rt);
    assert_int_equal(stats(rt).live_objects, 0);
    assert_int_equal(stats(rt).gc_objects_collected - start.gc_objects_collected, 2 * cycles);
    assert_clean(rt);
    sr_runtime_free(rt);
}

/* The growth gate is bounded: with a flat heap it lets SR__GC_MAX_FACTOR x the
   trigger allocations pass, then the run happens anyway; while it holds,
   sr_gc_should_collect says no collection is due. */
static void growth_gate_is_bounded(void **state)
{
    (void)state;
    types t;
    sr_runtime *rt = gate_rt(&t);
    if (rt->gc.stress) { sr_runtime_free(rt); skip(); }
    node *frame = busy_frame_until_quiet(rt, &t, 8);      /* 255 nodes */
    size_t trigger = stats(rt).gc_effective_threshold;
    assert_int_equal(trigger, 8 * 256);                    /* SR__GC_PACE x (tree + frame) */
    uint64_t runs1 = stats(rt).gc_collections;
    size_t allocs = 0;
    while (stats(rt).gc_collections == runs1) {
        busy_step(rt, &t, frame);
        allocs++;
        if (allocs == trigger * 2) assert_false(sr_gc_should_collect(rt));
        assert_true(allocs <= trigger * (SR__GC_MAX_FACTOR + 1) + GATE_THRESHOLD);
    }
    assert_true(allocs > trigger * SR__GC_MAX_FACTOR);
    sr_rc_release(rt, frame);
    assert_int_equal(stats(rt).live_objects, 0);
    sr_runtime_free(rt);
}

/* The growth gate never stands between the heap limit and a collection: with
   a limit below the growth that would open the gate, garbage cycles piling up
   are collected by emergency collections (which do not ask the gate), and no
   allocation is refused. */
static void growth_gate_and_the_heap_limit(void **state)
{
    (void)state;
    types t;
    sr_runtime *rt = gate_rt(&t);
    if (rt->gc.stress) { sr_runtime_free(rt); skip(); }
    node *frame = busy_frame_until_quiet(rt, &t, 13);     /* 8191 nodes */
    assert_int_equal(stats(rt).gc_emergency_collections, 0);
    /* a limit the heap reaches before the gate would open */
    size_t heap_after = rt->gc.heap_after, limit = heap_after + heap_after / (2 * SR__GC_GROWTH);
    assert_int_equal(sr_runtime_set_heap_limit(rt, limit), SR_OK);
    for (int i = 0; i < 200000; i++) {                     /* garbage self-loops, past the trigger */
        node *x = sr_rc_new(rt, t.plain);
        assert_non_null(x);
        x->a = sr_rc_retain(x);
        sr_rc_release(rt, x);
    }
    sr_stats st = stats(rt);
    assert_true(st.gc_emergency_collections > 0);
    assert_int_equal(st.failed_allocations, 0);
    assert_true(st.heap_used <= limit);
    sr_rc_release(rt, frame);
    sr_gc_collect(rt);
    assert_int_equal(stats(rt).live_objects, 0);
    sr_runtime_free(rt);
}

static void cycle_through_trace_container(void **state)
{
    (void)state;
    types t;
    sr_runtime *rt = new_rt(&t);
    vec *v = sr_rc_new_sized(rt, t.vec, sizeof(vec) + 5 * sizeof(void *));
    v->n = 5;
    node *live = mk(rt, t.node, 50);
    for (int i = 0; i < 4; i++) {
        node *n = mk(rt, t.node, i);
        n->a = sr_rc_retain(v);        /* each element points back at the vector */
        v->items[i] = n;
    }
    v->items[4] = sr_rc_retain(live);
    sr_rc_release(rt, v);
    assert_int_equal(stats(rt).live_objects, 6);
    assert_int_equal(sr_gc_collect(rt), 5);
    assert_int_equal(G.finalized, 4);
    assert_int_equal(sr_rc_count(live), 1);
    assert_clean(rt);
    sr_rc_release(rt, live);
    assert_int_equal(stats(rt).heap_used, 0);
    sr_runtime_free(rt);
}

/* A large container (a block of its own from the system) in a garbage cycle
   with many small members, with and without finalizers in the set. */
static void cycle_through_large_container(void **state)
{
    (void)state;
    types t;
    sr_runtime *rt = new_rt(&t);
    for (int round = 0; round < 2; round++) {
        size_t n = 5000;
        vec *v = sr_rc_new_sized(rt, t.vec, sizeof(vec) + n * sizeof(void *));
        v->n = n;
        for (size_t i = 0; i < n; i++) {
            node *x = mk(rt, round ? t.node : t.plain, (int64_t)i);
            x->a = sr_rc_retain(v);
            x->c = sr_rc_new(rt, t.leaf);
            v->items[i] = x;
        }
        sr_rc_release(rt, v);
        assert_int_equal(stats(rt).live_objects, 2 * n + 1);
        assert_int_equal(sr_gc_collect(rt), 2 * n + 1);
        assert_int_equal(G.finalized, round ? n : 0);
        assert_int_equal(G.bad_partner, 0);
        assert_int_equal(stats(rt).heap_used, 0);
        assert_clean(rt);
    }
    sr_runtime_free(rt);
}

static void resurrection_keeps_the_object_alive(void **state)
{
    (void)state;
    types t;
    sr_runtime *rt = new_rt(&t);
    node *a = mk(rt, t.node, 1), *b = mk(rt, t.node, 2), *c = mk(rt, t.node, 3);
    a->a = sr_rc_retain(b);
    b->a = sr_rc_retain(c);
    c->a = sr_rc_retain(a);
    sr_rc_release(rt, a);
    sr_rc_release(rt, b);
    sr_rc_release(rt, c);
    G.resurrect_id = 2;                 /* b's finalizer stores b in a global */
    assert_int_equal(sr_gc_collect(rt), 0);   /* b keeps c and a alive through the ring */
    assert_int_equal(G.finalized, 3);
    assert_ptr_equal(G.resurrect_into, b);
    assert_int_equal(stats(rt).live_objects, 3);
    assert_int_equal(sr_rc_count(b), 2);
    assert_int_equal(sr_rc_count(c), 1);
    assert_int_equal(sr_rc_count(a), 1);
    assert_int_equal(b->magic, MAGIC);
    assert_clean(rt);
    /* the ring dies again; finalizers never run twice */
    G.resurrect_id = 0;
    sr_rc_release(rt, G.resurrect_into);
    assert_int_equal(sr_gc_collect(rt), 3);
    assert_int_equal(G.finalized, 3);
    assert_int_equal(stats(rt).heap_used, 0);
    sr_runtime_free(rt);
}

static void resurrection_of_part_of_the_set(void **state)
{
    (void)state;
    types t;
    sr_runtime *rt = new_rt(&t);
    /* a <-> b, and b -> c <-> d: c resurrects; a and b die; c keeps d */
    node *a = mk(rt, t.node, 1), *b = mk(rt, t.node, 2), *c = mk(rt, t.node, 3), *d = mk(rt, t.node, 4);
    a->a = sr_rc_retain(b);
    b->a = sr_rc_retain(a);
    b->b = sr_rc_retain(c);
    c->a = sr_rc_retain(d);
    d->a = sr_rc_retain(c);
    sr_rc_release(rt, c);
    sr_rc_release(rt, d);
    sr_rc_release(rt, b);
    sr_rc_release(rt, a);
    G.resurrect_id = 3;
    assert_int_equal(sr_gc_collect(rt), 2);
    assert_int_equal(G.finalized, 4);
    assert_int_equal(stats(rt).live_objects, 2);
    assert_int_equal(sr_rc_count(c), 2);     /* global + d */
    assert_int_equal(sr_rc_count(d), 1);
    assert_clean(rt);
    G.resurrect_id = 0;
    sr_rc_release(rt, G.resurrect_into);
    assert_int_equal(sr_gc_collect(rt), 2);
    assert_int_equal(G.finalized, 4);
    assert_int_equal(stats(rt).heap_used, 0);
    sr_runtime_free(rt);
}

static void make_rings(sr_runtime *rt, sr_type_id type, size_t total, size_t ring)
{
    for (size_t r = 0; r < total / ring; r++) {
        node *first = sr_rc_new(rt, type), *prev = first;
        for (size_t i = 1; i < ring; i++) {
            node *n = sr_rc_new(rt, type);
            prev->a = n;
            prev = n;
        }
        prev->a = sr_rc_retain(first);
        sr_rc_release(rt, first);
    }
}

static void million_object_rings_and_lists(void **state)
{
    (void)state;
    types t;
    sr_config c = sr_config_default();
    c.enable_gc = true;
    c.gc_threshold = 1u << 30;          /* manual collections only */
    sr_runtime *rt = new_rt_cfg(c, &t);
    const char *vg = getenv("LD_PRELOAD");
    size_t n = vg && strstr(vg, "vgpreload") ? 100000 : 1000000;
    if (rt->gc.stress) n /= 10;
    uint64_t before = stats(rt).gc_objects_collected;
    make_rings(rt, t.plain, n, 100);
    if (!rt->gc.stress) {
        assert_int_equal(stats(rt).live_objects, n);
        assert_int_equal(sr_gc_collect(rt), n);
    }
    sr_gc_collect(rt);
    assert_int_equal(stats(rt).gc_objects_collected - before, n);
    assert_int_equal(stats(rt).heap_used, 0);
    /* 2-cycles: the root buffer passes its trigger, automatic collections help */
    before = stats(rt).gc_objects_collected;
    make_rings(rt, t.plain, n, 2);
    sr_gc_collect(rt);
    assert_int_equal(stats(rt).gc_objects_collected - before, n);
    assert_int_equal(stats(rt).live_objects, 0);
    /* one ring of n: deep marking with the explicit stack */
    before = stats(rt).gc_objects_collected;
    make_rings(rt, t.plain, n, n);
    sr_gc_collect(rt);
    assert_int_equal(stats(rt).gc_objects_collected - before, n);
    assert_int_equal(stats(rt).heap_used, 0);
    assert_clean(rt);
    sr_runtime_free(rt);
}

static void automatic_collection_and_adaptive_threshold(void **state)
{
    (void)state;
    types t;
    sr_config c = sr_config_default();
    c.gc_threshold = 100;
    sr_runtime *rt = new_rt_cfg(c, &t);
    if (rt->gc.stress) { sr_runtime_free(rt); skip(); }
    assert_int_equal(stats(rt).gc_effective_threshold, 100);
    make_rings(rt, t.plain, 10000, 2);      /* all garbage: high yield */
    sr_stats st = stats(rt);
    assert_true(st.gc_collections >= 90);
    assert_true(st.live_objects <= 102);
    assert_int_equal(st.gc_effective_threshold, 100);
    /* low yield: a live chain whose members keep being buffered; every run
       traces it and frees nothing, so the trigger rises (bounded) */
    node *head = NULL;
    node *chain[2000];
    for (int i = 0; i < 2000; i++) {
        node *n = sr_rc_new(rt, t.plain);
        n->a = head;
        head = n;
        chain[i] = n;
    }
    uint64_t before = stats(rt).gc_collections;
    sr_test_rng rng = { 7 };
    for (int i = 0; i < 20000; i++) {
        node *n = chain[sr_test_rand(&rng) % 2000];
        sr_rc_release(rt, sr_rc_retain(n));          /* buffers n */
        sr_rc_release(rt, sr_rc_new(rt, t.leaf));
    }
    st = stats(rt);
    assert_true(st.gc_collections > before);
    assert_true(st.gc_effective_threshold > 100);
    size_t cap = 8 * st.live_objects > 6400 ? 8 * st.live_objects : 6400;
    assert_true(st.gc_effective_threshold <= cap);
    size_t raised = st.gc_effective_threshold;
    sr_rc_release(rt, head);
    assert_int_equal(stats(rt).live_objects, 0);
    before = stats(rt).gc_collections;
    make_rings(rt, t.plain, 40000, 2);      /* high yield again: back down */
    st = stats(rt);
    assert_true(st.gc_collections > before);
    assert_true(st.gc_effective_threshold < raised);
    sr_gc_collect(rt);
    assert_int_equal(stats(rt).live_objects, 0);
    sr_runtime_free(rt);
}

static void emergency_collection_at_the_limit(void **state)
{
    (void)state;
    types t;
    sr_config c = sr_config_default();
    c.max_heap_size = 256 * 1024;
    c.gc_threshold = 1u << 30;
    sr_runtime *rt = new_rt_cfg(c, &t);
    /* fill the heap with garbage cycles: the allocator must collect them */
    for (int i = 0; i < 100000; i++) {
        node *a = sr_rc_new(rt, t.plain);
        assert_non_null(a);
        a->a = sr_rc_retain(a);
        sr_rc_release(rt, a);
    }
    sr_stats st = stats(rt);
    assert_true(st.gc_emergency_collections > 0 || rt->gc.stress);
    assert_true(st.heap_used <= 256 * 1024);
    assert_int_equal(st.failed_allocations, 0);
    /* live data is never collected: at the limit the allocation fails */
    size_t n = 0;
    void *live[20000];
    for (;;) {
        void *p = sr_rc_new(rt, t.leaf);
        if (!p) break;
        live[n++] = p;
        assert_true(n < 20000);
    }
    st = stats(rt);
    assert_int_equal(st.failed_allocations, 1);
    assert_true(st.heap_used <= 256 * 1024);
    for (size_t i = 0; i < n; i++) sr_rc_release(rt, live[i]);
    sr_gc_collect(rt);
    assert_int_equal(stats(rt).heap_used, 0);
    sr_runtime_free(rt);
}

static void gc_disabled(void **state)
{
    (void)state;
    types t;
    sr_config c = sr_config_default();
    c.enable_gc = false;
    c.gc_threshold = 10;
    sr_runtime *rt = new_rt_cfg(c, &t);
    for (int i = 0; i < 100; i++) {
        node *a = mk(rt, t.node, i);
        a->a = sr_rc_retain(a);
        sr_rc_release(rt, a);
    }
    assert_int_equal(sr_gc_collect(rt), 0);
    sr_stats st = stats(rt);
    assert_int_equal(st.live_objects, 100);
    assert_int_equal(st.gc_collections, 0);
    assert_int_equal(st.gc_roots_buffered, 0);
    assert_false(sr_gc_should_collect(rt));
    sr_runtime_free(rt);                /* finalizes the 100 cycles */
    assert_int_equal(G.finalized, 100);
}

static void stress_switch_collects_before_every_allocation(void **state)
{
    (void)state;
    types t;
    sr_config c = sr_config_default();
    c.gc_stress = true;
    sr_runtime *rt = new_rt_cfg(c, &t);
    uint64_t before = stats(rt).gc_collections;
    node *keep = mk(rt, t.node, 1);
    for (int i = 0; i < 50; i++) {
        node *n = mk(rt, t.node, 2);
        n->a = sr_rc_retain(keep);
        n->b = sr_rc_retain(n);
        sr_rc_release(rt, n);
        assert_int_equal(stats(rt).live_objects, 2);   /* the previous cycle went at this allocation */
    }
    sr_stats st = stats(rt);
    assert_int_equal(st.gc_collections - before, 51);
    assert_int_equal(st.gc_effective_threshold, 0);
    sr_rc_release(rt, keep);
    sr_gc_collect(rt);
    assert_int_equal(stats(rt).live_objects, 0);
    sr_runtime_free(rt);
}

/* A finalizer that allocates (with threshold 1: every allocation would
   collect), collects by hand and releases what it made: no nested collection. */
static sr_type_id g_alloc_type;
static size_t g_nested_collect_result;
static void allocating_finalize(sr_runtime *rt, void *o)
{
    (void)o;
    G.finalized++;
    for (int i = 0; i < 10; i++) {
        node *n = sr_rc_new(rt, g_alloc_type);
        n->a = sr_rc_retain(n);          /* even a new cycle */
        sr_rc_release(rt, n);
    }
    g_nested_collect_result += sr_gc_collect(rt);
    void *raw = sr_alloc(rt, 64);
    sr_free(rt, raw);
}

static void no_reentry_from_finalizers(void **state)
{
    (void)state;
    types t;
    sr_config c = sr_config_default();
    c.gc_threshold = 1;
    sr_runtime *rt = new_rt_cfg(c, &t);
    g_alloc_type = t.plain;
    g_nested_collect_result = 0;
    sr_type ta = { "Allocating", sizeof(node), node_fields, 5, NULL, allocating_finalize };
    sr_type_id aid;
    assert_int_equal(sr_type_register(rt, &ta, &aid), SR_OK);
    node *a = mk(rt, aid, 1), *b = mk(rt, aid, 2);
    a->a = sr_rc_retain(b);
    b->a = sr_rc_retain(a);
    sr_rc_release(rt, a);
    sr_rc_release(rt, b);
    uint64_t before = stats(rt).gc_collections;
    assert_int_equal(sr_gc_collect(rt), 2);          /* the 20 new cycles are not this run's */
    assert_int_equal(stats(rt).gc_collections - before, 1);
    assert_int_equal(G.finalized, 2);
    assert_int_equal(g_nested_collect_result, 0);
    assert_clean(rt);
    /* the same from a release cascade: a dying object's finalizer allocates */
    node *x = mk(rt, aid, 3);
    before = stats(rt).gc_collections;
    sr_rc_release(rt, x);
    assert_int_equal(stats(rt).gc_collections - before, 0);
    assert_int_equal(G.finalized, 3);
    assert_int_equal(g_nested_collect_result, 0);
    /* the cycles the finalizers made are collected by the next run */
    if (!rt->gc.stress) {     /* under stress the allocation of x already collected 20 */
        assert_int_equal(stats(rt).live_objects, 30);
        assert_int_equal(sr_gc_collect(rt), 30);
    }
    sr_gc_collect(rt);
    assert_int_equal(stats(rt).heap_used, 0);
    sr_runtime_free(rt);
}

static void collect_it(sr_runtime *rt, void *arg) { *(size_t *)arg = sr_gc_collect(rt); }

static void finalizer_panic_during_collection(void **state)
{
    (void)state;
    types t;
    sr_runtime *rt = new_rt(&t);
    node *live = mk(rt, t.plain, 77);
    node *first = mk(rt, t.node, 0), *prev = first;
    for (int i = 1; i < 10; i++) {
        node *n = mk(rt, t.node, i);
        prev->a = n;
        prev = n;
    }
    prev->a = sr_rc_retain(first);
    prev->b = sr_rc_retain(live);
    sr_rc_release(rt, first);
    G.panic_on = 4;
    sr_stats st0 = stats(rt);
    size_t freed = 12345;
    assert_int_equal(sr_execute_protected(rt, collect_it, &freed), SR_ERR_PANIC);
    assert_int_equal(freed, 12345);
    assert_string_equal(sr_panic_last(rt)->message, "finalizer 4 panics");
    /* the collection completed: all ten finalized once, freed, live intact */
    assert_int_equal(G.finalized, 10);
    assert_int_equal(G.bad_partner, 0);
    sr_stats st = stats(rt);
    assert_int_equal(st.live_objects, 1);
    assert_int_equal(sr_rc_count(live), 1);
    assert_int_equal(st.gc_collections - st0.gc_collections, 1);
    assert_int_equal(st.gc_objects_collected - st0.gc_objects_collected, 10);
    assert_clean(rt);
    assert_false(rt->types.panic_pending);
    /* and the collector works afterwards */
    G.panic_on = 0;
    node *x = mk(rt, t.node, 99);
    x->a = sr_rc_retain(x);
    sr_rc_release(rt, x);
    assert_int_equal(sr_gc_collect(rt), 1);
    sr_rc_release(rt, live);
    assert_int_equal(stats(rt).heap_used, 0);
    sr_runtime_free(rt);
}

/* The collector's scratch cannot grow: it must still finish correctly. */
static void collection_without_scratch_memory(void **state)
{
    (void)state;
    sr_test_alloc ta = { 0 };
    sr_config c = sr_test_config(&ta);
    c.gc_threshold = 1u << 30;
    types t;
    sr_runtime *rt = new_rt_cfg(c, &t);
    node *live = mk(rt, t.plain, -1);
    /* one ring of 20000 (deeper than the preallocated stack), with finalizers */
    node *first = mk(rt, t.node, 0), *prev = first;
    for (int i = 1; i < 20000; i++) {
        node *n = mk(rt, t.node, i);
        n->b = sr_rc_retain(live);
        prev->a = n;
        prev = n;
    }
    prev->a = sr_rc_retain(first);
    /* and 3000 garbage self-loops without finalizers, released while memory is there */
    for (int i = 0; i < 3000; i++) {
        node *n = mk(rt, t.plain, i);
        n->a = sr_rc_retain(n);
        sr_rc_release(rt, n);
    }
    /* the system allocator refuses everything from now on (pages already exist) */
    ta.fail_at = ta.calls + 1;
    ta.fail_all_after = true;
    sr_rc_release(rt, first);
    assert_true(sr__hdr_of(first)->info & SR__OBJ_BUFFERED);   /* the buffer had room */
    size_t garbage = stats(rt).live_objects - 1;
    assert_true(garbage >= 20000);
    size_t freed = sr_gc_collect(rt);
    sr_stats st = stats(rt);
    assert_true(rt->gc.scratch_failures > 0);     /* the slow path really ran */
    assert_int_equal(freed, garbage);
    assert_int_equal(st.live_objects, 1);
    assert_int_equal(G.finalized, 20000);
    assert_int_equal(G.bad_partner, 0);
    assert_int_equal(sr_rc_count(live), 1);
    assert_clean(rt);
    ta.fail_at = 0;
    sr_rc_release(rt, live);
    sr_runtime_free(rt);
    assert_int_equal(ta.live_bytes, 0);
}

/* ---- randomized graph against a reachability model ---- */

enum { M_NODES = 160, M_SLOTS = 3 };

typedef struct model {
    node *obj[M_NODES];
    int alive[M_NODES];           /* the object exists (may be unreachable garbage) */
    int host[M_NODES];            /* references the host holds */
    int edge[M_NODES][M_SLOTS];   /* target id or -1 */
    uint8_t dead[M_NODES * 64];
    int64_t next_id;
    int64_t id_of[M_NODES];
} model;

static void model_reachable(model *m, int *reach)
{
    int stack[M_NODES], sp = 0;
    for (int i = 0; i < M_NODES; i++) {
        reach[i] = 0;
        if (m->alive[i] && m->host[i] > 0) {
            reach[i] = 1;
            stack[sp++] = i;
        }
    }
    while (sp) {
        int i = stack[--sp];
        for (int s = 0; s < M_SLOTS; s++) {
            int j = m->edge[i][s];
            if (j >= 0 && !reach[j]) {
                reach[j] = 1;
                stack[sp++] = j;
            }
        }
    }
}

static void model_check(sr_runtime *rt, model *m, bool after_collect)
{
    int reach[M_NODES];
    model_reachable(m, reach);
    size_t nreach = 0, indeg[M_NODES] = { 0 };
    for (int k = 0; k < M_NODES; k++)
        if (m->alive[k] && !G.dead[m->id_of[k]])
            for (int s = 0; s < M_SLOTS; s++)
                if (m->edge[k][s] >= 0) indeg[m->edge[k][s]]++;
    for (int i = 0; i < M_NODES; i++) {
        if (!reach[i]) continue;
        nreach++;
        assert_true(m->alive[i]);
        assert_int_equal(G.dead[m->id_of[i]], 0);       /* reachable: never finalized */
        assert_int_equal(m->obj[i]->magic, MAGIC);
        assert_int_equal(sr_rc_count(m->obj[i]), indeg[i] + (size_t)m->host[i]);
    }
    if (after_collect) {
        assert_int_equal(stats(rt).live_objects, nreach);
        for (int i = 0; i < M_NODES; i++)
            if (m->alive[i] && !reach[i]) {
                assert_int_equal(G.dead[m->id_of[i]], 1);
                m->alive[i] = 0;
            }
        assert_clean(rt);
    }
    /* objects freed by plain counting are dead in the model too */
    for (int i = 0; i < M_NODES; i++)
        if (m->alive[i] && G.dead[m->id_of[i]]) {
            assert_false(reach[i]);
            m->alive[i] = 0;
        }
}

static void model_set(sr_runtime *rt, model *m, int i, int s, int j)
{
    void **slot = s == 0 ? &m->obj[i]->a : s == 1 ? &m->obj[i]->b : &m->obj[i]->c;
    void *old = *slot;
    *slot = j >= 0 ? sr_rc_retain(m->obj[j]) : NULL;
    m->edge[i][s] = j;
    sr_rc_release(rt, old);
}

static void run_model(uint64_t seed, size_t steps)
{
    types t;
    sr_config c = sr_config_default();
    c.gc_threshold = 1 + seed % 50;
    sr_runtime *rt = new_rt_cfg(c, &t);
    static model m;
    memset(&m, 0, sizeof m);
    for (int i = 0; i < M_NODES; i++)
        for (int s = 0; s < M_SLOTS; s++) m.edge[i][s] = -1;
    G.dead = m.dead;
    G.dead_n = sizeof m.dead;
    sr_test_rng rng = { seed * 0x9e3779b97f4a7c15ull + 1 };
    for (size_t step = 0; step < steps && m.next_id < (int64_t)sizeof m.dead; step++) {
        int i = (int)(sr_test_rand(&rng) % M_NODES);
        unsigned op = (unsigned)(sr_test_rand(&rng) % 100);
        if (!m.alive[i]) {
            node *n = sr_rc_new(rt, t.node);
            assert_non_null(n);
            n->magic = MAGIC;
            n->id = m.next_id;
            m.id_of[i] = m.next_id++;
            m.obj[i] = n;
            m.alive[i] = 1;
            m.host[i] = 1;
            for (int s = 0; s < M_SLOTS; s++) m.edge[i][s] = -1;
        } else if (op < 45) {
            int j = (int)(sr_test_rand(&rng) % M_NODES);
            int reach[M_NODES];
            model_reachable(&m, reach);
            if (reach[i] && (reach[j] || sr_test_rand(&rng) % 4 == 0))
                model_set(rt, &m, i, (int)(sr_test_rand(&rng) % M_SLOTS), reach[j] ? j : -1);
        } else if (op < 75) {
            if (m.host[i] > 0) {
                m.host[i]--;
                node *o = m.obj[i];
                sr_rc_release(rt, o);
            }
        } else if (op < 90) {
            int reach[M_NODES];
            model_reachable(&m, reach);
            if (reach[i]) {
                sr_rc_retain(m.obj[i]);
                m.host[i]++;
            }
        } else if (op < 94) {
            sr_gc_collect(rt);
            model_check(rt, &m, true);
            continue;
        }
        model_check(rt, &m, false);
    }
    sr_gc_collect(rt);
    model_check(rt, &m, true);
    for (int i = 0; i < M_NODES; i++)
        while (m.alive[i] && m.host[i] > 0) {
            m.host[i]--;
            sr_rc_release(rt, m.obj[i]);
        }
    sr_gc_collect(rt);
    assert_int_equal(stats(rt).live_objects, 0);
    assert_int_equal(stats(rt).heap_used, 0);
    assert_int_equal(G.bad_partner, 0);
    G.dead = NULL;
    sr_runtime_free(rt);
}

static void randomized_graph_against_model(void **state)
{
    (void)state;
    const char *vg = getenv("LD_PRELOAD");
    bool slow = vg && strstr(vg, "vgpreload");
    uint64_t base = sr_test_seed(1);
    int seeds = slow ? 8 : 64;
    for (int s = 0; s < seeds; s++) run_model(base + (uint64_t)s, slow ? 1500 : 4000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(self_loop),
        cmocka_unit_test(two_cycle_and_ring),
        cmocka_unit_test(garbage_cycle_holding_live_object),
        cmocka_unit_test(garbage_cycle_holding_live_object_no_finalizers),
        cmocka_unit_test(live_object_holding_cycle),
        cmocka_unit_test(cycles_of_cycles),
        cmocka_unit_test(root_buffered_then_retained),
        cmocka_unit_test(buffered_root_stays_a_root_after_a_retain),
        cmocka_unit_test(acyclic_objects_neither_buffered_nor_visited),
        cmocka_unit_test(live_tree_under_a_busy_frame),
        cmocka_unit_test(live_tree_retraced_only_when_the_heap_grows),
        cmocka_unit_test(growth_gate_is_bounded),
        cmocka_unit_test(growth_gate_and_the_heap_limit),
        cmocka_unit_test(cycle_through_trace_container),
        cmocka_unit_test(cycle_through_large_container),
        cmocka_unit_test(resurrection_keeps_the_object_alive),
        cmocka_unit_test(resurrection_of_part_of_the_set),
        cmocka_unit_test(million_object_rings_and_lists),
        cmocka_unit_test(automatic_collection_and_adaptive_threshold),
        cmocka_unit_test(emergency_collection_at_the_limit),
        cmocka_unit_test(gc_disabled),
        cmocka_unit_test(stress_switch_collects_before_every_allocation),
        cmocka_unit_test(no_reentry_from_finalizers),
        cmocka_unit_test(finalizer_panic_during_collection),
        cmocka_unit_test(collection_without_scratch_memory),
        cmocka_unit_test(randomized_graph_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
