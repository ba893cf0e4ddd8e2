/*
 * test_threads.c - several runtimes used on several threads at once (run under
 * ThreadSanitizer by the `tsan` preset): each thread owns its runtime and
 * drives types, objects, cycles, collections, weak references, panics with
 * cleanup entries, stack and time limits, the profiler and raw blocks, with
 * exact per-thread results; the process-wide default runtime's init, get and
 * shutdown raced from many threads.
 */
#include "support.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define ROUNDS  40

typedef struct node { int64_t id; void *next, *other; } node;

static const sr_field node_fields[] = {
    { "id", offsetof(node, id), SR_FIELD_I64 },
    { "next", offsetof(node, next), SR_FIELD_REF },
    { "other", offsetof(node, other), SR_FIELD_REF },
};

typedef struct worker {
    int index;
    sr_test_alloc ta;
    size_t finalized;          /* this runtime's finalize calls (no sharing) */
    size_t hooks;
    size_t collected;
    size_t panics;
    size_t stack_panics, timeouts;
    size_t failures;           /* assertion failures (counted, reported by the main thread) */
    char why[160];
} worker;

#define W_CHECK(w, cond) do { if (!(cond) && !(w)->failures++) \
    snprintf((w)->why, sizeof (w)->why, "line %d: %s", __LINE__, #cond); } while (0)

/* Finalize reaches its worker through the runtime's config (leak_sink_ud). */
static void node_finalize(sr_runtime *rt, void *obj)
{
    (void)obj;
    worker *w = sr_runtime_config(rt)->leak_sink_ud;
    w->finalized++;
}

static void count_hook(sr_runtime *rt, const sr_panic_info *info, void *ud)
{
    (void)rt;
    worker *w = ud;
    w->hooks++;
    char buf[256];
    sr_panic_format(info, buf, sizeof buf);   /* symbolizes: per-runtime cache */
}

static void quiet_sink(sr_runtime *rt, const char *report, void *ud) { (void)rt; (void)report; (void)ud; }

typedef struct prot_arg { worker *w; sr_type_id id; int round; } prot_arg;

static void panicking_body(sr_runtime *rt, void *arg)
{
    prot_arg *a = arg;
    sr_frame_push(rt, "body", "thread.scm", a->round);
    node *n = sr_rc_new_or_panic(rt, a->id);
    sr_cleanup_release(rt, n);
    void *raw = sr_alloc_or_panic(rt, 64 + (size_t)a->round);
    sr_cleanup_push(rt, sr_free, raw);
    sr_panic(rt, "worker %d round %d", a->w->index, a->round);
}

/* Descends until sr_check_stack panics (a bound keeps the compiler from
   calling it infinite). */
static __attribute__((noinline)) int recurse(sr_runtime *rt, int depth)
{
    volatile char pad[512];
    pad[0] = (char)depth;
    sr_check_stack(rt);
    if (depth > 1000000) return 0;
    return recurse(rt, depth + 1) + pad[0];
}

static void overflowing_body(sr_runtime *rt, void *arg)
{
    (void)arg;
    (void)recurse(rt, 0);
}

static void spinning_body(sr_runtime *rt, void *arg)
{
    (void)arg;
    sr_set_deadline(rt, 1000000);   /* 1 ms */
    for (;;) sr_check_interrupt(rt);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    sr_config cfg = sr_test_config(&w->ta);
    cfg.enable_profiling = (w->index % 2) == 0;
    cfg.gc_threshold = 50 + 10 * (size_t)w->index;
    cfg.stack_size = 256 * 1024;
    cfg.leak_sink = quiet_sink;
    cfg.leak_sink_ud = w;
    sr_runtime *rt = NULL;
    W_CHECK(w, sr_runtime_new(&cfg, &rt) == SR_OK);
    if (!rt) return NULL;
    sr_panic_set_hook(rt, count_hook, w);
    sr_type t = { "Node", sizeof(node), node_fields, 3, NULL, node_finalize };
    sr_type_id id = SR_TYPE_NONE;
    W_CHECK(w, sr_type_register(rt, &t, &id) == SR_OK);
    size_t made = 0;
    for (int r = 0; r < ROUNDS; r++) {
        /* a chain of 64 and a ring of 16 made garbage */
        node *head = NULL;
        for (int i = 0; i < 64; i++) {
            node *n = sr_rc_new(rt, id);
            W_CHECK(w, n != NULL);
            if (!n) break;
            made++;
            n->id = i;
            n->next = head;
            head = n;
        }
        node *first = sr_rc_new(rt, id), *prev = first;
        made++;
        for (int i = 1; i < 16; i++) {
            node *n = sr_rc_new(rt, id);
            made++;
            prev->next = n;
            prev = n;
        }
        prev->next = sr_rc_retain(first);
        sr_weak *wk = sr_weak_new(rt, first);
        W_CHECK(w, wk != NULL);
        sr_rc_release(rt, first);
        W_CHECK(w, sr_rc_count(head) == 1);
        sr_rc_release(rt, head);        /* the chain dies at once */
        w->collected += sr_gc_collect(rt);
        W_CHECK(w, sr_weak_upgrade(wk) == NULL);
        sr_weak_free(rt, wk);
        /* a panic with cleanup entries, a stack overflow, a timeout */
        prot_arg pa = { w, id, r };
        W_CHECK(w, sr_execute_protected(rt, panicking_body, &pa) == SR_ERR_PANIC);
        const sr_panic_info *pi = sr_panic_last(rt);
        char want[64];
        snprintf(want, sizeof want, "worker %d round %d", w->index, r);
        W_CHECK(w, pi && strcmp(pi->message, want) == 0 && pi->kind == SR_PANIC_ERROR);
        made++;
        w->panics++;
        if (r % 8 == 0) {
            W_CHECK(w, sr_execute_protected(rt, overflowing_body, NULL) == SR_ERR_PANIC);
            W_CHECK(w, sr_panic_last(rt)->kind == SR_PANIC_STACK);
            w->stack_panics++;
            W_CHECK(w, sr_execute_protected(rt, spinning_body, NULL) == SR_ERR_PANIC);
            W_CHECK(w, sr_panic_last(rt)->kind == SR_PANIC_TIMEOUT);
            w->timeouts++;
        }
        if (cfg.enable_profiling && r % 10 == 0) {
            sr_profile pr;
            W_CHECK(w, sr_profiler_stats(rt, &pr));
            sr_stats st;
            sr_runtime_stats(rt, &st);
            W_CHECK(w, pr.current_memory == st.heap_used);
            char *rep = sr_profiler_report(rt, r % 20 ? SR_REPORT_JSON : SR_REPORT_FOLDED);
            W_CHECK(w, rep != NULL);
            free(rep);
        }
    }
    sr_stats st;
    sr_runtime_stats(rt, &st);
    W_CHECK(w, st.live_objects == 0);
    W_CHECK(w, st.heap_used == 0);
    W_CHECK(w, st.live_blocks == 0);
    W_CHECK(w, st.panics == w->panics + w->stack_panics + w->timeouts);
    W_CHECK(w, w->collected == (size_t)ROUNDS * 16);
    W_CHECK(w, w->finalized == made);
    W_CHECK(w, w->hooks == w->panics + w->stack_panics + w->timeouts);
    sr_runtime_free(rt);
    W_CHECK(w, w->ta.live_blocks == 0 && w->ta.live_bytes == 0);
    return NULL;
}

static void runtimes_on_threads_at_once(void **state)
{
    (void)state;
    pthread_t th[THREADS];
    worker *ws = calloc(THREADS, sizeof *ws);
    assert_non_null(ws);
    for (int i = 0; i < THREADS; i++) {
        ws[i].index = i;
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &ws[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < THREADS; i++) {
        if (ws[i].failures) print_message("worker %d: %zu failures, first at %s\n", i, ws[i].failures, ws[i].why);
        assert_int_equal(ws[i].failures, 0);
        assert_int_equal(ws[i].collected, ROUNDS * 16);
        assert_int_equal(ws[i].panics, ROUNDS);
        assert_int_equal(ws[i].hooks, ROUNDS + 2 * ((ROUNDS + 7) / 8));
    }
    free(ws);
}

/* One runtime handed from thread to thread (one at a time), run_on_thread inside. */
typedef struct relay { sr_runtime *rt; sr_type_id id; void *held; int hops; } relay;

static void on_thread_body(sr_runtime *rt, void *arg)
{
    relay *r = arg;
    node *n = sr_rc_new_or_panic(rt, r->id);
    n->next = r->held;            /* takes over the held reference */
    r->held = n;
}

static void *relay_main(void *arg)
{
    relay *r = arg;
    if (sr_run_on_thread(r->rt, on_thread_body, r) == SR_OK) r->hops++;
    return NULL;
}

static void runtime_handed_between_threads(void **state)
{
    (void)state;
    relay r = { 0 };
    assert_int_equal(sr_runtime_new(NULL, &r.rt), SR_OK);
    sr_type t = { "Node", sizeof(node), node_fields, 3, NULL, NULL };
    assert_int_equal(sr_type_register(r.rt, &t, &r.id), SR_OK);
    for (int i = 0; i < 8; i++) {
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, relay_main, &r), 0);
        assert_int_equal(pthread_join(th, NULL), 0);   /* the join hands the runtime back */
    }
    assert_int_equal(r.hops, 8);
    sr_stats st;
    sr_runtime_stats(r.rt, &st);
    assert_int_equal(st.live_objects, 8);
    sr_rc_release(r.rt, r.held);
    sr_runtime_stats(r.rt, &st);
    assert_int_equal(st.live_objects, 0);
    sr_runtime_free(r.rt);
}

/* The default runtime: init, get and shutdown raced from many threads. */
static atomic_int init_ok, init_state, shut_ok, shut_state;

static void *default_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50; i++) {
        sr_status s = sr_runtime_init(NULL);
        if (s == SR_OK) atomic_fetch_add(&init_ok, 1);
        else if (s == SR_ERR_STATE) atomic_fetch_add(&init_state, 1);
        (void)sr_runtime_get();
        s = sr_runtime_shutdown();
        if (s == SR_OK) atomic_fetch_add(&shut_ok, 1);
        else if (s == SR_ERR_STATE) atomic_fetch_add(&shut_state, 1);
    }
    return NULL;
}

static void default_runtime_raced(void **state)
{
    (void)state;
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_create(&th[i], NULL, default_main, NULL), 0);
    for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_join(th[i], NULL), 0);
    /* every call answered OK or STATE; each successful init was shut down once */
    assert_int_equal(atomic_load(&init_ok) + atomic_load(&init_state), THREADS * 50);
    assert_int_equal(atomic_load(&shut_ok) + atomic_load(&shut_state), THREADS * 50);
    assert_int_equal(atomic_load(&init_ok), atomic_load(&shut_ok));
    assert_true(atomic_load(&init_ok) >= 1);
    assert_null(sr_runtime_get());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(runtimes_on_threads_at_once),
        cmocka_unit_test(runtime_handed_between_threads),
        cmocka_unit_test(default_runtime_raced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
