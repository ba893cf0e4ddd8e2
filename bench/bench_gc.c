/*
 * bench_gc.c - the cycle collector: ns per freed object for 100k and 1M
 * objects in 2-cycles and in rings of 100; a collection with and without 1M
 * untouched live objects; the "hub" case with the collector on and off.
 * Medians of SR_BENCH_REPEATS runs; ratios against figures of the same run.
 */
#include "bench_util.h"

#include <scriptrt.h>

/* SR_BENCH_CPU=1 in the environment times with the thread's CPU clock instead
   of the wall clock: on a machine shared with other jobs the wall clock
   charges their time to us. */
static int g_cpu_clock;
static uint64_t clock_ns(void)
{
    if (!g_cpu_clock) return bench_now_ns();
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct node { void *next; void *other; } node;
typedef struct vec { size_t n; void *items[]; } vec;

static void vec_trace(void *o, sr_visit_fn visit, void *ctx)
{
    vec *v = o;
    for (size_t i = 0; i < v->n; i++) visit(&v->items[i], ctx);
}

static const sr_field node_fields[] = {
    { "next", offsetof(node, next), SR_FIELD_REF },
    { "other", offsetof(node, other), SR_FIELD_REF },
};

typedef struct env { sr_runtime *rt; sr_type_id node, vec, leaf; } env;

static env make_env(bool gc)
{
    env e;
    sr_config cfg = sr_config_default();
    cfg.enable_profiling = false;
    cfg.enable_gc = gc;
    cfg.gc_threshold = (size_t)1 << 40;    /* manual collections only, unless said otherwise */
    if (sr_runtime_new(&cfg, &e.rt) != SR_OK) exit(1);
    sr_type tn = { "Node", sizeof(node), node_fields, 2, NULL, NULL };
    sr_type tv = { "Vec", sizeof(vec), NULL, 0, vec_trace, NULL };
    sr_field lf[] = { { "v", 0, SR_FIELD_I64 } };
    sr_type tl = { "Leaf", 8, lf, 1, NULL, NULL };
    if (sr_type_register(e.rt, &tn, &e.node) || sr_type_register(e.rt, &tv, &e.vec) ||
        sr_type_register(e.rt, &tl, &e.leaf))
        exit(1);
    return e;
}

static void make_rings(env *e, size_t total, size_t ring)
{
    for (size_t r = 0; r < total / ring; r++) {
        node *first = sr_rc_new(e->rt, e->node), *prev = first;
        for (size_t i = 1; i < ring; i++) {
            node *n = sr_rc_new(e->rt, e->node);
            prev->next = n;
            prev = n;
        }
        prev->next = sr_rc_retain(first);
        sr_rc_release(e->rt, first);
    }
}

/* ns per freed object of one collection over `total` objects in rings. */
typedef struct ring_case { size_t total, ring, live; } ring_case;

static double collect_ns_per_object(ring_case rc, double *scrambled)
{
    double v[SR_BENCH_REPEATS], w[SR_BENCH_REPEATS];
    for (int r = 0; r < SR_BENCH_REPEATS; r++) {
        /* a fresh runtime per repeat: objects laid out as a program makes them */
        env e = make_env(true);
        node *live_head = NULL;
        for (size_t i = 0; i < rc.live; i++) {    /* untouched live objects */
            node *n = sr_rc_new(e.rt, e.node);
            n->next = live_head;
            live_head = n;
        }
        for (int round = 0; round < 2; round++) {
            /* round 1 reuses the blocks round 0 freed: a heap scrambled by reuse */
            make_rings(&e, rc.total, rc.ring);
            uint64_t t0 = clock_ns();
            size_t freed = sr_gc_collect(e.rt);
            uint64_t t1 = clock_ns();
            if (freed != rc.total) {
                fprintf(stderr, "collected %zu of %zu\n", freed, rc.total);
                exit(1);
            }
            (round ? w : v)[r] = (double)(t1 - t0) / (double)freed;
        }
        sr_rc_release(e.rt, live_head);
        sr_runtime_free(e.rt);
    }
    qsort(v, SR_BENCH_REPEATS, sizeof v[0], bench_cmp_double);
    qsort(w, SR_BENCH_REPEATS, sizeof w[0], bench_cmp_double);
    if (scrambled) *scrambled = w[SR_BENCH_REPEATS / 2];
    return v[SR_BENCH_REPEATS / 2];
}

/* The hub: every node points at one hub that points at all nodes; five passes
   of releases that stay above zero (each node retained and released), with a
   small temporary allocation per node as an interpreter would make. */
static double hub_ms(bool gc, size_t nodes, uint64_t *collections)
{
    double v[SR_BENCH_REPEATS];
    for (int r = 0; r < SR_BENCH_REPEATS; r++) {
        env e;
        {
            sr_config cfg = sr_config_default();
            cfg.enable_profiling = false;
            cfg.enable_gc = gc;        /* default threshold: automatic collections on */
            if (sr_runtime_new(&cfg, &e.rt) != SR_OK) exit(1);
            sr_type tn = { "Node", sizeof(node), node_fields, 2, NULL, NULL };
            sr_type tv = { "Vec", sizeof(vec), NULL, 0, vec_trace, NULL };
            sr_field lf[] = { { "v", 0, SR_FIELD_I64 } };
            sr_type tl = { "Leaf", 8, lf, 1, NULL, NULL };
            if (sr_type_register(e.rt, &tn, &e.node) || sr_type_register(e.rt, &tv, &e.vec) ||
                sr_type_register(e.rt, &tl, &e.leaf))
                exit(1);
        }
        vec *hub = sr_rc_new_sized(e.rt, e.vec, sizeof(vec) + nodes * sizeof(void *));
        hub->n = nodes;
        for (size_t i = 0; i < nodes; i++) {
            node *n = sr_rc_new(e.rt, e.node);
            n->other = sr_rc_retain(hub);
            hub->items[i] = n;
        }
        sr_stats s0;
        sr_runtime_stats(e.rt, &s0);
        uint64_t t0 = clock_ns();
        for (int pass = 0; pass < 5; pass++) {
            for (size_t i = 0; i < nodes; i++) {
                node *n = hub->items[i];
                sr_rc_retain(n);
                void *tmp = sr_rc_new(e.rt, e.leaf);
                bench_escape(tmp);
                sr_rc_release(e.rt, tmp);
                sr_rc_release(e.rt, n);
            }
        }
        uint64_t t1 = clock_ns();
        sr_stats s1;
        sr_runtime_stats(e.rt, &s1);
        *collections = s1.gc_collections - s0.gc_collections;
        v[r] = (double)(t1 - t0) / 1e6;
        sr_rc_release(e.rt, hub);
        sr_gc_collect(e.rt);
        sr_runtime_free(e.rt);
    }
    qsort(v, SR_BENCH_REPEATS, sizeof v[0], bench_cmp_double);
    return v[SR_BENCH_REPEATS / 2];
}

int main(void)
{
    const char *cpu = getenv("SR_BENCH_CPU");
    g_cpu_clock = cpu && *cpu == '1';
    printf("gc: median of %d runs (%s clock)\n", SR_BENCH_REPEATS, g_cpu_clock ? "thread CPU" : "wall");
    printf(" collection, ns per freed object\n");
    double s2_100k, s2_1m, sr_100k, sr_1m;
    double c2_100k = collect_ns_per_object((ring_case){ 100000, 2, 0 }, &s2_100k);
    double c2_1m = collect_ns_per_object((ring_case){ 1000000, 2, 0 }, &s2_1m);
    double r100_100k = collect_ns_per_object((ring_case){ 100000, 100, 0 }, &sr_100k);
    double r100_1m = collect_ns_per_object((ring_case){ 1000000, 100, 0 }, &sr_1m);
    bench_row("100k objects in 2-cycles", c2_100k, "ns", "(goal <= 25; PHP 25, Lua 34, CPython 52)");
    bench_row("1M objects in 2-cycles", c2_1m, "ns", "(goal <= 25)");
    bench_row("ratio 1M / 100k (2-cycles)", c2_1m / c2_100k, "x", "(flat: ~1.0)");
    bench_row("100k objects in rings of 100", r100_100k, "ns", "(goal <= 25)");
    bench_row("1M objects in rings of 100", r100_1m, "ns", "(goal <= 25)");
    bench_row("ratio 1M / 100k (rings)", r100_1m / r100_100k, "x", "(flat: ~1.0)");
    printf(" the same, second round in the same runtime (blocks reused in scrambled order)\n");
    bench_row("100k objects in 2-cycles, reused blocks", s2_100k, "ns", "");
    bench_row("1M objects in 2-cycles, reused blocks", s2_1m, "ns", "");
    bench_row("100k objects in rings of 100, reused blocks", sr_100k, "ns", "");
    bench_row("1M objects in rings of 100, reused blocks", sr_1m, "ns", "");

    printf(" collection of 100k objects in 2-cycles, with and without 1M untouched live objects\n");
    double without2, with2;
    double without = collect_ns_per_object((ring_case){ 100000, 2, 0 }, &without2);
    double with = collect_ns_per_object((ring_case){ 100000, 2, 1000000 }, &with2);
    bench_row("without live objects", without, "ns", "");
    bench_row("with 1M live objects", with, "ns", "");
    bench_row("ratio with / without", with / without, "x", "(goal <= 1.1; CPython 1.46, Lua 1.75)");
    /* the first collection of a runtime also grows its scratch (fresh memory
       from the C library, placed after the live heap); the second reuses it */
    bench_row("second collection: without live objects", without2, "ns", "");
    bench_row("second collection: with 1M live objects", with2, "ns", "");
    bench_row("ratio with / without, second collection", with2 / without2, "x", "(goal <= 1.1)");

    const size_t hub_nodes = 800000;
    uint64_t coll_on = 0, coll_off = 0;
    double on = hub_ms(true, hub_nodes, &coll_on);
    double off = hub_ms(false, hub_nodes, &coll_off);
    printf(" hub case, %zu nodes, five passes of retain/alloc/release\n", hub_nodes);
    bench_row("collector off", off, "ms", "");
    bench_row("collector on", on, "ms", "");
    printf("  %-52s %10llu\n", "automatic collections during the passes (on)", (unsigned long long)coll_on);
    bench_row("ratio on / off", on / off, "x", "(goal <= 1.5; PHP 8.2 8.7)");
    return 0;
}
