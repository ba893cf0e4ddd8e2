/*
 * test_panic.c - protected execution, panic records, history, hooks, cleanup
 * stack, script frames, abort outside protection, symbolized reports.
 *
 * Assertions never run inside a protected function (a failing cmocka assert
 * longjmps past our jump records): protected functions write what they saw
 * into a struct and the test checks it afterwards.
 */
#include "support.h"
#include "internal.h"
#include "backtrace_internal.h"

#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

static sr_runtime *new_rt(sr_test_alloc *ta, size_t history, bool handler)
{
    sr_config c = sr_test_config(ta);
    c.panic_history_size = history;
    c.enable_panic_handler = handler;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    return rt;
}

static void free_rt(sr_runtime *rt, sr_test_alloc *ta)
{
    sr_runtime_free(rt);
    assert_int_equal(ta->live_bytes, 0);
    assert_int_equal(ta->live_blocks, 0);
}

/* ---- basics -------------------------------------------------------------------------- */

static void fn_nothing(sr_runtime *rt, void *arg) { (void)rt; ++*(int *)arg; }
static void fn_panic_msg(sr_runtime *rt, void *arg) { sr_panic(rt, "boom %d", *(int *)arg); }

static void invalid_arguments(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 0, true);
    int x = 0;
    assert_int_equal(sr_execute_protected(NULL, fn_nothing, &x), SR_ERR_INVALID);
    assert_int_equal(sr_execute_protected(rt, NULL, &x), SR_ERR_INVALID);
    assert_int_equal(sr_run_on_thread(NULL, fn_nothing, &x), SR_ERR_INVALID);
    assert_int_equal(sr_run_on_thread(rt, NULL, &x), SR_ERR_INVALID);
    assert_int_equal(x, 0);
    assert_null(sr_panic_last(rt));
    assert_null(sr_panic_last(NULL));
    assert_int_equal(sr_panic_history(NULL, NULL, 0), 0);
    assert_int_equal(sr_panic_format(NULL, NULL, 0), -1);
    char b[4];
    sr_panic_info zero;
    memset(&zero, 0, sizeof zero);
    assert_int_equal(sr_panic_format(&zero, NULL, sizeof b), -1);
    sr_check_stack(NULL);
    sr_check_interrupt(NULL);
    sr_panic_history_clear(NULL);
    sr_panic_set_hook(NULL, NULL, NULL);
    assert_string_equal(sr_panic_kind_str(SR_PANIC_ERROR), "error");
    assert_string_equal(sr_panic_kind_str(SR_PANIC_NOMEM), "out of memory");
    assert_string_equal(sr_panic_kind_str(SR_PANIC_STACK), "stack overflow");
    assert_string_equal(sr_panic_kind_str(SR_PANIC_TIMEOUT), "time limit exceeded");
    assert_string_equal(sr_panic_kind_str(SR_PANIC_INTERRUPT), "interrupted");
    assert_string_equal(sr_panic_kind_str((sr_panic_kind)77), "unknown panic kind");
    free_rt(rt, &ta);
}

static void ok_and_panic_records(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 0, true);
    int x = 0;
    assert_int_equal(sr_execute_protected(rt, fn_nothing, &x), SR_OK);
    assert_int_equal(x, 1);
    assert_null(sr_panic_last(rt));

    int v = 42;
    uint64_t t0 = sr__now_ns();
    assert_int_equal(sr_execute_protected(rt, fn_panic_msg, &v), SR_ERR_PANIC);
    uint64_t t1 = sr__now_ns();
    const sr_panic_info *pi = sr_panic_last(rt);
    assert_non_null(pi);
    assert_string_equal(pi->message, "boom 42");
    assert_string_equal(pi->function, "fn_panic_msg");
    assert_non_null(strstr(pi->file, "test_panic.c"));
    assert_int_equal(pi->line, 41);
    assert_int_equal(pi->kind, SR_PANIC_ERROR);
    assert_true(pi->timestamp_ns >= t0 && pi->timestamp_ns <= t1);
    assert_true(pi->frame_count > 2);
    assert_ptr_equal(pi->runtime, rt);
    assert_int_equal(pi->script_frame_count, 0);
    /* frames[0] is inside fn_panic_msg: the panic machinery itself is not in the trace */
    char sym[512];
    sr_panic_format(pi, NULL, 0);
    assert_true(sr__bt_cache_symbolize(rt, rt->panic.symbols, pi->frames[0], sym, sizeof sym) > 0);
    assert_non_null(strstr(sym, "fn_panic_msg"));

    sr_stats st;
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.panics, 1);
    /* the runtime is fully usable afterwards */
    assert_int_equal(sr_execute_protected(rt, fn_nothing, &x), SR_OK);
    assert_int_equal(x, 2);
    assert_ptr_equal(sr_panic_last(rt), pi);
    free_rt(rt, &ta);
}

/* ---- nesting ------------------------------------------------------------------------- */

typedef struct nest_ctx {
    int depth, max, panic_at;     /* panic at this depth (-1: never) */
    int statuses[128];
    int after[128];               /* 1 when the code after the inner call ran */
} nest_ctx;

static void fn_nest(sr_runtime *rt, void *arg)
{
    nest_ctx *c = arg;
    int d = c->depth++;
    if (d == c->panic_at) sr_panic(rt, "at depth %d", d);
    if (d + 1 < c->max) {
        c->statuses[d] = sr_execute_protected(rt, fn_nest, c);
        c->after[d] = 1;
    }
}

static void nesting_any_depth(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 0, true);
    nest_ctx c;
    memset(&c, 0, sizeof c);
    c.max = 100;
    c.panic_at = 99;
    assert_int_equal(sr_execute_protected(rt, fn_nest, &c), SR_OK);
    assert_int_equal(c.depth, 100);
    /* only the innermost protected call saw the panic */
    assert_int_equal(c.statuses[98], SR_ERR_PANIC);
    for (int i = 0; i < 98; i++) {
        assert_int_equal(c.statuses[i], SR_OK);
        assert_int_equal(c.after[i], 1);
    }
    assert_string_equal(sr_panic_last(rt)->message, "at depth 99");
    assert_null(rt->panic.top);
    assert_null(rt->panic.stack_limit);

    memset(&c, 0, sizeof c);
    c.max = 50;
    c.panic_at = 10;
    assert_int_equal(sr_execute_protected(rt, fn_nest, &c), SR_OK);
    assert_int_equal(c.depth, 11);
    assert_int_equal(c.statuses[9], SR_ERR_PANIC);
    assert_int_equal(c.after[9], 1);
    free_rt(rt, &ta);
}

/* ---- messages ------------------------------------------------------------------------ */

static void fn_long(sr_runtime *rt, void *arg) { sr_panic(rt, "%s", (const char *)arg); }
static void fn_plain_long(sr_runtime *rt, void *arg) { (void)arg; sr_panic(rt, "a plain message without any conversion, repeated until it is far too long for the record: "
    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"); }

static void message_truncation(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 0, false);
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(sr_execute_protected(rt, fn_long, big), SR_ERR_PANIC);
    const char *m = sr_panic_last(rt)->message;
    assert_int_equal(strlen(m), SR__PANIC_MSG_MAX - 1);
    assert_string_equal(m + SR__PANIC_MSG_MAX - 4, "...");
    assert_int_equal(m[0], 'x');

    /* a 2-byte UTF-8 character straddling the cut is dropped whole */
    char utf[2000];
    memset(utf, 'a', sizeof utf);
    size_t pos = SR__PANIC_MSG_MAX - 5;           /* "é" occupies pos, pos+1; the cut is at 508 */
    utf[pos] = (char)0xC3;
    utf[pos + 1] = (char)0xA9;
    utf[sizeof utf - 1] = '\0';
    assert_int_equal(sr_execute_protected(rt, fn_long, utf), SR_ERR_PANIC);
    m = sr_panic_last(rt)->message;
    assert_int_equal(strlen(m), pos + 3);
    assert_string_equal(m + pos, "...");

    assert_int_equal(sr_execute_protected(rt, fn_plain_long, NULL), SR_ERR_PANIC);
    m = sr_panic_last(rt)->message;
    assert_int_equal(strlen(m), SR__PANIC_MSG_MAX - 1);
    assert_string_equal(m + SR__PANIC_MSG_MAX - 4, "...");
    assert_memory_equal(m, "a plain message", 15);
    free_rt(rt, &ta);
}

/* ---- history ------------------------------------------------------------------------- */

static void fn_panic_n(sr_runtime *rt, void *arg) { sr_panic(rt, "p%d", *(int *)arg); }

static void history_bounded_newest_first_clearable(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 4, true);
    const sr_panic_info *h[8];
    assert_int_equal(sr_panic_history(rt, h, 8), 0);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(sr_execute_protected(rt, fn_panic_n, &i), SR_ERR_PANIC);
        assert_int_equal(sr_panic_history(rt, NULL, 0), (size_t)(i + 1 < 4 ? i + 1 : 4));
    }
    assert_int_equal(sr_panic_history(rt, h, 8), 4);
    assert_string_equal(h[0]->message, "p9");
    assert_string_equal(h[1]->message, "p8");
    assert_string_equal(h[2]->message, "p7");
    assert_string_equal(h[3]->message, "p6");
    assert_ptr_equal(h[0], sr_panic_last(rt));
    assert_true(h[0]->timestamp_ns >= h[1]->timestamp_ns);
    assert_int_equal(sr_panic_history(rt, h, 2), 2);
    assert_string_equal(h[1]->message, "p8");
    sr_stats st;
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.panics, 10);

    sr_panic_history_clear(rt);
    assert_null(sr_panic_last(rt));
    assert_int_equal(sr_panic_history(rt, h, 8), 0);
    int k = 100;
    assert_int_equal(sr_execute_protected(rt, fn_panic_n, &k), SR_ERR_PANIC);
    assert_int_equal(sr_panic_history(rt, h, 8), 1);
    assert_string_equal(h[0]->message, "p100");
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.panics, 11);
    free_rt(rt, &ta);
}

/* ---- hooks --------------------------------------------------------------------------- */

typedef struct hook_log {
    int calls;
    char messages[8][64];
    size_t frame_counts[8];
    int mode;              /* 0 record only, 1 panic inside the hook, 2 protected panic inside the hook */
    int inner_status;
} hook_log;

static void fn_inner_hook_panic(sr_runtime *rt, void *arg) { (void)arg; sr_panic(rt, "caught inside the hook"); }

static void hook_fn(sr_runtime *rt, const sr_panic_info *info, void *ud)
{
    hook_log *l = ud;
    if (l->calls < 8) {
        snprintf(l->messages[l->calls], sizeof l->messages[0], "%s", info->message);
        l->frame_counts[l->calls] = info->frame_count;
    }
    l->calls++;
    if (l->mode == 1) sr_panic(rt, "panic in the hook");
    if (l->mode == 2) l->inner_status = sr_execute_protected(rt, fn_inner_hook_panic, NULL);
}

typedef struct after_ctx { int reached; } after_ctx;
static void fn_panic_then_mark(sr_runtime *rt, void *arg)
{
    sr_panic(rt, "first");
    ((after_ctx *)arg)->reached = 1;
}

static void hook_runs_once_and_does_not_recurse(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 0, true);
    hook_log l;
    memset(&l, 0, sizeof l);
    sr_panic_set_hook(rt, hook_fn, &l);
    after_ctx a = {0};
    assert_int_equal(sr_execute_protected(rt, fn_panic_then_mark, &a), SR_ERR_PANIC);
    assert_int_equal(l.calls, 1);
    assert_string_equal(l.messages[0], "first");
    assert_true(l.frame_counts[0] > 0);

    /* a panic inside the hook: recorded, same target, no second hook call */
    l.mode = 1;
    assert_int_equal(sr_execute_protected(rt, fn_panic_then_mark, &a), SR_ERR_PANIC);
    assert_int_equal(l.calls, 2);
    assert_string_equal(sr_panic_last(rt)->message, "panic in the hook");
    const sr_panic_info *h[2];
    assert_int_equal(sr_panic_history(rt, h, 2), 2);
    assert_string_equal(h[1]->message, "first");
    sr_stats st;
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.panics, 3);
    assert_false(rt->panic.in_hook);

    /* the hook may protect its own work: the inner panic does not call the hook */
    l.mode = 2;
    assert_int_equal(sr_execute_protected(rt, fn_panic_then_mark, &a), SR_ERR_PANIC);
    assert_int_equal(l.calls, 3);
    assert_int_equal(l.inner_status, SR_ERR_PANIC);
    assert_string_equal(sr_panic_last(rt)->message, "first");   /* the panic that reached the caller */
    assert_false(rt->panic.in_hook);

    /* after all that, a normal panic calls the hook again */
    l.mode = 0;
    assert_int_equal(sr_execute_protected(rt, fn_panic_then_mark, &a), SR_ERR_PANIC);
    assert_int_equal(l.calls, 4);
    assert_int_equal(a.reached, 0);

    sr_panic_set_hook(rt, NULL, NULL);
    assert_int_equal(sr_execute_protected(rt, fn_panic_then_mark, &a), SR_ERR_PANIC);
    assert_int_equal(l.calls, 4);
    free_rt(rt, &ta);
}

static void handler_disabled(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 0, false);
    hook_log l;
    memset(&l, 0, sizeof l);
    sr_panic_set_hook(rt, hook_fn, &l);
    int v = 7;
    for (int i = 0; i < 3; i++) assert_int_equal(sr_execute_protected(rt, fn_panic_msg, &v), SR_ERR_PANIC);
    assert_int_equal(l.calls, 0);
    const sr_panic_info *pi = sr_panic_last(rt);
    assert_string_equal(pi->message, "boom 7");
    assert_string_equal(pi->function, "fn_panic_msg");
    assert_int_equal(pi->kind, SR_PANIC_ERROR);
    assert_int_equal(pi->frame_count, 0);
    sr_stats st;
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.panics, 3);
    char buf[1024];
    int n = sr_panic_format(pi, buf, sizeof buf);
    assert_int_equal((size_t)n, strlen(buf));
    assert_non_null(strstr(buf, "boom 7"));
    assert_null(strstr(buf, "native frames"));
    free_rt(rt, &ta);
}

/* ---- which panic sr_panic_last names -------------------------------------------------- */

typedef struct last_log {
    char on_entry[64];     /* sr_panic_last as the hook starts */
    char after_inner[64];  /* ... after the hook's own protected call panicked */
    bool entry_is_info;    /* sr_panic_last == info as the hook starts */
    int inner_status;
    bool then_panic;       /* the hook ends with a panic of its own */
} last_log;

static void fn_caught_in_hook(sr_runtime *rt, void *arg) { (void)arg; sr_panic(rt, "caught inside the hook"); }

static void keep_last(sr_runtime *rt, char *dst, size_t size)
{
    const sr_panic_info *x = sr_panic_last(rt);
    snprintf(dst, size, "%s", x ? x->message : "(none)");
}

static void last_hook(sr_runtime *rt, const sr_panic_info *info, void *ud)
{
    last_log *l = ud;
    l->entry_is_info = sr_panic_last(rt) == info;
    keep_last(rt, l->on_entry, sizeof l->on_entry);
    l->inner_status = sr_execute_protected(rt, fn_caught_in_hook, NULL);
    keep_last(rt, l->after_inner, sizeof l->after_inner);
    if (l->then_panic) sr_panic(rt, "raised by the hook");
}

static void fn_panic_first(sr_runtime *rt, void *arg) { (void)arg; sr_panic(rt, "first"); }

/* What a protected call nested in another one saw after its inner call returned. */
typedef struct nest_last { sr_status inner; char seen[64]; } nest_last;
static void fn_nested_caller(sr_runtime *rt, void *arg)
{
    nest_last *n = arg;
    n->inner = sr_execute_protected(rt, fn_panic_first, NULL);
    keep_last(rt, n->seen, sizeof n->seen);
}

static void last_is_the_panic_that_reached_the_caller(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 0, true);
    last_log l;
    memset(&l, 0, sizeof l);
    sr_panic_set_hook(rt, last_hook, &l);

    /* the hook catches a panic of its own and returns normally */
    assert_int_equal(sr_execute_protected(rt, fn_panic_first, NULL), SR_ERR_PANIC);
    assert_true(l.entry_is_info);
    assert_string_equal(l.on_entry, "first");
    assert_int_equal(l.inner_status, SR_ERR_PANIC);
    assert_string_equal(l.after_inner, "caught inside the hook");   /* at the hook's own level */
    const sr_panic_info *h[4];
    assert_int_equal(sr_panic_history(rt, h, 4), 2);                 /* both, newest first */
    assert_string_equal(h[0]->message, "caught inside the hook");
    assert_string_equal(h[1]->message, "first");
    assert_ptr_equal(sr_panic_last(rt), h[1]);
    assert_string_equal(sr_panic_last(rt)->function, "fn_panic_first");

    /* the same one level down: the caller is itself protected */
    nest_last n = { SR_OK, "" };
    assert_int_equal(sr_execute_protected(rt, fn_nested_caller, &n), SR_OK);
    assert_int_equal(n.inner, SR_ERR_PANIC);
    assert_string_equal(n.seen, "first");
    assert_string_equal(sr_panic_last(rt)->message, "first");

    /* the hook then panics unprotected: that panic goes to the same target and is the last */
    l.then_panic = true;
    assert_int_equal(sr_execute_protected(rt, fn_panic_first, NULL), SR_ERR_PANIC);
    assert_string_equal(l.after_inner, "caught inside the hook");
    assert_int_equal(sr_panic_history(rt, h, 4), 4);
    assert_string_equal(h[0]->message, "raised by the hook");
    assert_string_equal(h[1]->message, "caught inside the hook");
    assert_string_equal(h[2]->message, "first");
    assert_ptr_equal(sr_panic_last(rt), h[0]);

    /* cleared: none, until the next panic */
    sr_panic_history_clear(rt);
    assert_null(sr_panic_last(rt));
    sr_panic_set_hook(rt, NULL, NULL);
    assert_int_equal(sr_execute_protected(rt, fn_panic_first, NULL), SR_ERR_PANIC);
    assert_string_equal(sr_panic_last(rt)->message, "first");
    sr_stats st;
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.panics, 8);
    free_rt(rt, &ta);

    /* a history of one record cannot hold both: the panic that reached the
       caller has left it, and sr_panic_last says so rather than naming the other */
    rt = new_rt(&ta, 1, true);
    memset(&l, 0, sizeof l);
    sr_panic_set_hook(rt, last_hook, &l);
    assert_int_equal(sr_execute_protected(rt, fn_panic_first, NULL), SR_ERR_PANIC);
    assert_string_equal(l.after_inner, "caught inside the hook");
    assert_null(sr_panic_last(rt));
    assert_int_equal(sr_panic_history(rt, h, 4), 1);
    assert_string_equal(h[0]->message, "caught inside the hook");
    free_rt(rt, &ta);
}

/* A cleanup entry that catches a panic of its own while an outer one unwinds. */
typedef struct catching_cleanup { sr_status inner; char seen[64]; } catching_cleanup;
static void fn_caught_by_cleanup(sr_runtime *rt, void *arg) { (void)arg; sr_panic(rt, "caught by a cleanup entry"); }
static void cleanup_that_catches(sr_runtime *rt, void *arg)
{
    catching_cleanup *c = arg;
    keep_last(rt, c->seen, sizeof c->seen);
    c->inner = sr_execute_protected(rt, fn_caught_by_cleanup, NULL);
}
static void fn_unwind_through_catching_cleanup(sr_runtime *rt, void *arg)
{
    sr_cleanup_push(rt, cleanup_that_catches, arg);
    sr_panic(rt, "unwinding");
}
static void cleanup_that_raises(sr_runtime *rt, void *arg) { (void)arg; sr_panic(rt, "raised by a cleanup entry"); }
static void fn_unwind_through_raising_cleanup(sr_runtime *rt, void *arg)
{
    sr_cleanup_push(rt, cleanup_that_catches, arg);
    sr_cleanup_push(rt, cleanup_that_raises, NULL);
    sr_panic(rt, "unwinding");
}

static void last_after_cleanup_entries_panic(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 0, false);
    catching_cleanup c = { SR_OK, "" };
    assert_int_equal(sr_execute_protected(rt, fn_unwind_through_catching_cleanup, &c), SR_ERR_PANIC);
    assert_string_equal(c.seen, "unwinding");          /* the entry sees the panic unwinding past it */
    assert_int_equal(c.inner, SR_ERR_PANIC);
    assert_string_equal(sr_panic_last(rt)->message, "unwinding");
    const sr_panic_info *h[4];
    assert_int_equal(sr_panic_history(rt, h, 4), 2);
    assert_string_equal(h[0]->message, "caught by a cleanup entry");
    assert_ptr_equal(sr_panic_last(rt), h[1]);

    /* an entry's uncaught panic replaces the one unwinding; the next entry still runs */
    sr_panic_history_clear(rt);
    memset(&c, 0, sizeof c);
    assert_int_equal(sr_execute_protected(rt, fn_unwind_through_raising_cleanup, &c), SR_ERR_PANIC);
    assert_string_equal(c.seen, "raised by a cleanup entry");
    assert_int_equal(c.inner, SR_ERR_PANIC);
    assert_string_equal(sr_panic_last(rt)->message, "raised by a cleanup entry");
    assert_int_equal(sr_panic_history(rt, h, 4), 3);
    assert_string_equal(h[0]->message, "caught by a cleanup entry");
    assert_string_equal(h[1]->message, "raised by a cleanup entry");
    assert_string_equal(h[2]->message, "unwinding");
    assert_ptr_equal(sr_panic_last(rt), h[1]);
    free_rt(rt, &ta);
}

/* A release cascade: the first finalizer panics, a later one catches a panic of
   its own; the caller's protected call gets the first finalizer's panic. The
   child is finalized first (children are released before finalize). */
typedef struct fin_node { struct fin_node *next; int id; } fin_node;
static const sr_field fin_node_fields[] = { { "next", offsetof(fin_node, next), SR_FIELD_REF } };
static void fn_caught_by_finalizer(sr_runtime *rt, void *arg) { (void)arg; sr_panic(rt, "caught by finalizer"); }
static void fin_node_finalize(sr_runtime *rt, void *obj)
{
    fin_node *n = obj;
    if (n->id == 1) sr_panic(rt, "finalizer 1 failed");
    if (n->id == 2) (void)sr_execute_protected(rt, fn_caught_by_finalizer, NULL);
}
static void fn_release_chain(sr_runtime *rt, void *arg) { sr_rc_release(rt, arg); }

static void last_after_a_finalizer_panic(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 0, false);
    sr_type t = { "fin_node", sizeof(fin_node), fin_node_fields, 1, NULL, fin_node_finalize };
    sr_type_id id;
    assert_int_equal(sr_type_register(rt, &t, &id), SR_OK);
    fin_node *a = sr_rc_new(rt, id), *b = sr_rc_new(rt, id);
    assert_non_null(a);
    assert_non_null(b);
    a->id = 2;
    b->id = 1;
    a->next = b;                    /* a owns b: b's finalizer runs first */
    assert_int_equal(sr_execute_protected(rt, fn_release_chain, a), SR_ERR_PANIC);
    const sr_panic_info *h[4];
    assert_int_equal(sr_panic_history(rt, h, 4), 2);
    assert_string_equal(h[0]->message, "caught by finalizer");
    assert_string_equal(h[1]->message, "finalizer 1 failed");
    assert_string_equal(sr_panic_last(rt)->message, "finalizer 1 failed");
    sr_stats st;
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.live_objects, 0);
    free_rt(rt, &ta);
}

/* ---- cleanup stack ------------------------------------------------------------------- */

typedef struct clean_log {
    int runs[2000];
    int order[2000];
    int n;
} clean_log;

typedef struct clean_arg { clean_log *log; int id; } clean_arg;

static void cleanup_fn(sr_runtime *rt, void *arg)
{
    (void)rt;
    clean_arg *a = arg;
    a->log->runs[a->id]++;
    a->log->order[a->log->n++] = a->id;
}

static void cleanup_fn_panics(sr_runtime *rt, void *arg)
{
    cleanup_fn(rt, arg);
    sr_panic(rt, "cleanup %d failed", ((clean_arg *)arg)->id);
}

typedef struct clean_ctx {
    clean_arg args[2000];
    int count;
    int panicking_id;        /* -1: none */
    bool panic;
} clean_ctx;

/* Clears the log and the context; the first n arguments log into log. */
static void clean_ctx_init(clean_log *log, clean_ctx *c, int n)
{
    memset(log, 0, sizeof *log);
    memset(c, 0, sizeof *c);
    for (int i = 0; i < n; i++) c->args[i] = (clean_arg){ log, i };
}

static void fn_push_and_panic(sr_runtime *rt, void *arg)
{
    clean_ctx *c = arg;
    for (int i = 0; i < c->count; i++)
        sr_cleanup_push(rt, i == c->panicking_id ? cleanup_fn_panics : cleanup_fn, &c->args[i]);
    if (c->panic) sr_panic(rt, "unwind");
}

static void cleanup_runs_once_newest_first(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 0, true);
    static clean_log log;
    static clean_ctx c;
    clean_ctx_init(&log, &c, 2000);

    /* one entry pushed outside protection stays untouched */
    sr_cleanup_push(rt, cleanup_fn, &c.args[1999]);
    c.count = 1000;               /* more than the initial capacity: the array grows */
    c.panicking_id = -1;
    c.panic = true;
    assert_int_equal(sr_execute_protected(rt, fn_push_and_panic, &c), SR_ERR_PANIC);
    assert_int_equal(log.n, 1000);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(log.runs[i], 1);
        assert_int_equal(log.order[i], 999 - i);
    }
    assert_int_equal(log.runs[1999], 0);
    assert_int_equal(rt->panic.cleanup_count, 1);

    /* a cleanup function that panics: it is not run again and the rest still run */
    memset(&log, 0, sizeof log);
    c.count = 10;
    c.panicking_id = 5;
    assert_int_equal(sr_execute_protected(rt, fn_push_and_panic, &c), SR_ERR_PANIC);
    assert_int_equal(log.n, 10);
    for (int i = 0; i < 10; i++) assert_int_equal(log.runs[i], 1);
    assert_string_equal(sr_panic_last(rt)->message, "cleanup 5 failed");
    assert_int_equal(rt->panic.cleanup_count, 1);

    /* entries left when fn returns normally are run as well */
    memset(&log, 0, sizeof log);
    c.count = 3;
    c.panicking_id = -1;
    c.panic = false;
    assert_int_equal(sr_execute_protected(rt, fn_push_and_panic, &c), SR_OK);
    assert_int_equal(log.n, 3);
    assert_int_equal(log.order[0], 2);
    assert_int_equal(rt->panic.cleanup_count, 1);

    sr_cleanup_pop(rt, true);
    assert_int_equal(log.runs[1999], 1);
    assert_int_equal(rt->panic.cleanup_count, 0);
    free_rt(rt, &ta);
}

typedef struct pop_ctx { clean_log *log; clean_arg a, b; int stage; } pop_ctx;

static void fn_pops(sr_runtime *rt, void *arg)
{
    pop_ctx *c = arg;
    sr_cleanup_push(rt, cleanup_fn, &c->a);
    sr_cleanup_push(rt, cleanup_fn, &c->b);
    sr_cleanup_pop(rt, false);          /* b dropped, not run */
    c->stage = 1;
    sr_cleanup_pop(rt, true);           /* a runs */
    c->stage = 2;
    sr_cleanup_pop(rt, true);           /* nothing left in this protected execution: panics */
    c->stage = 3;
}

static void cleanup_pop(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 0, true);
    clean_log log;
    memset(&log, 0, sizeof log);
    pop_ctx c = { &log, { &log, 0 }, { &log, 1 }, 0 };
    sr_cleanup_push(rt, cleanup_fn, &c.b);   /* outside: must not be popped by the inner code */
    assert_int_equal(sr_execute_protected(rt, fn_pops, &c), SR_ERR_PANIC);
    assert_int_equal(c.stage, 2);
    assert_int_equal(log.runs[0], 1);
    assert_int_equal(log.runs[1], 0);
    assert_int_equal(sr_panic_last(rt)->kind, SR_PANIC_ERROR);
    assert_non_null(strstr(sr_panic_last(rt)->message, "sr_cleanup_pop"));
    assert_int_equal(rt->panic.cleanup_count, 1);
    sr_cleanup_pop(rt, false);
    assert_int_equal(log.runs[1], 0);
    free_rt(rt, &ta);
}

static void fn_push_until_fail(sr_runtime *rt, void *arg)
{
    clean_ctx *c = arg;
    for (int i = 0; i < c->count; i++) sr_cleanup_push(rt, cleanup_fn, &c->args[i]);
}

static void cleanup_push_growth_failure(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 0, true);
    static clean_log log;
    static clean_ctx c;
    clean_ctx_init(&log, &c, 100);
    c.count = 100;
    ta.fail_at = ta.calls + 1;    /* the first growth (at 17 entries) fails */
    size_t internal;
    sr_stats st;
    sr_runtime_stats(rt, &st);
    internal = st.internal_bytes;
    assert_int_equal(sr_execute_protected(rt, fn_push_until_fail, &c), SR_ERR_PANIC);
    ta.fail_at = 0;
    const sr_panic_info *pi = sr_panic_last(rt);
    assert_int_equal(pi->kind, SR_PANIC_NOMEM);
    /* 16 entries fitted; the 17th ran at once; every one ran exactly once */
    assert_int_equal(log.n, 17);
    assert_int_equal(log.order[0], 16);
    for (int i = 0; i < 17; i++) assert_int_equal(log.runs[i], 1);
    assert_int_equal(log.runs[17], 0);
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.internal_bytes, internal);
    free_rt(rt, &ta);
}

/* ---- script frames ------------------------------------------------------------------- */

typedef struct frames_ctx { int n; char name[32]; } frames_ctx;

static void fn_frames(sr_runtime *rt, void *arg)
{
    frames_ctx *c = arg;
    sr_frame_push(rt, "main", "script.sr", 1);
    sr_frame_push(rt, "outer", "script.sr", 10);
    sr_frame_push(rt, c->name, "lib.sr", 20);
    for (int i = 3; i < c->n; i++) sr_frame_push(rt, "deep", "deep.sr", i);
    sr_panic(rt, "in script");
}

static void script_frames_recorded_and_restored(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 0, true);
    frames_ctx c = { 3, "inner" };
    sr_frame_push(rt, "host", "host.sr", 99);
    assert_int_equal(sr_execute_protected(rt, fn_frames, &c), SR_ERR_PANIC);
    assert_int_equal(rt->panic.frame_count, 1);        /* depth of entry restored */
    strcpy(c.name, "CHANGED");                          /* the record owns its copy */
    const sr_panic_info *pi = sr_panic_last(rt);
    assert_int_equal(pi->script_frame_count, 4);
    assert_int_equal(pi->script_frames_dropped, 0);
    assert_string_equal(pi->script_frames[0].function, "inner");
    assert_string_equal(pi->script_frames[0].file, "lib.sr");
    assert_int_equal(pi->script_frames[0].line, 20);
    assert_string_equal(pi->script_frames[1].function, "outer");
    assert_string_equal(pi->script_frames[2].function, "main");
    assert_string_equal(pi->script_frames[3].function, "host");
    char buf[8192];
    sr_panic_format(pi, buf, sizeof buf);
    const char *a = strstr(buf, "#0 inner (lib.sr:20)");
    const char *b = strstr(buf, "#3 host (host.sr:99)");
    assert_non_null(a);
    assert_non_null(b);
    assert_true(a < b);

    /* deeper than the record holds: the innermost 32 are kept */
    c.n = 100;
    assert_int_equal(sr_execute_protected(rt, fn_frames, &c), SR_ERR_PANIC);
    pi = sr_panic_last(rt);
    assert_int_equal(pi->script_frame_count, SR__PANIC_SCRIPT_MAX);
    assert_int_equal(pi->script_frames_dropped, 101 - SR__PANIC_SCRIPT_MAX);
    assert_int_equal(pi->script_frames[0].line, 99);
    assert_int_equal(rt->panic.frame_count, 1);

    sr_frame_pop(rt);
    assert_int_equal(rt->panic.frame_count, 0);
    free_rt(rt, &ta);
}

static void fn_frame_underflow(sr_runtime *rt, void *arg)
{
    (void)arg;
    sr_frame_push(rt, "f", "f.sr", 1);
    sr_frame_pop(rt);
    sr_frame_pop(rt);
}

static void script_frame_pop_underflow_panics(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 0, true);
    sr_frame_push(rt, "outside", "o.sr", 1);
    assert_int_equal(sr_execute_protected(rt, fn_frame_underflow, NULL), SR_ERR_PANIC);
    assert_non_null(strstr(sr_panic_last(rt)->message, "sr_frame_pop"));
    assert_int_equal(rt->panic.frame_count, 1);
    sr_frame_pop(rt);
    free_rt(rt, &ta);
}

/* ---- memory stays flat ---------------------------------------------------------------- */

static NOINLINE void deep_panic(sr_runtime *rt, int depth)
{
    if (depth > 0) deep_panic(rt, depth - 1);
    else if (rt) sr_panic(rt, "deep");
    __asm__ volatile("");
}

static void fn_deep(sr_runtime *rt, void *arg)
{
    sr_frame_push(rt, "s", "s.sr", 1);
    sr_cleanup_push(rt, fn_nothing, arg);
    deep_panic(rt, 10);
}

/* ThreadSanitizer builds unwind with unw_step (no trace cache) under TSan's
   instrumentation: a fifth of the loop keeps that run near 30 s. */
#if defined(__SANITIZE_THREAD__)
enum { FLAT_PANICS = 200000 };
#else
enum { FLAT_PANICS = 1000000 };
#endif

static void million_panics_memory_flat(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 0, true);
    void *block = sr_alloc(rt, 100);
    int x = 0;
    assert_int_equal(sr_execute_protected(rt, fn_deep, &x), SR_ERR_PANIC);   /* warm */
    sr_stats before;
    sr_runtime_stats(rt, &before);
    size_t live = ta.live_bytes, calls = ta.calls;
    for (int i = 0; i < FLAT_PANICS; i++) {
        if (sr_execute_protected(rt, fn_deep, &x) != SR_ERR_PANIC) fail();
    }
    sr_stats after;
    sr_runtime_stats(rt, &after);
    assert_int_equal(x, FLAT_PANICS + 1);
    assert_int_equal(after.panics, before.panics + FLAT_PANICS);
    assert_int_equal(after.internal_bytes, before.internal_bytes);
    assert_int_equal(after.heap_used, before.heap_used);
    assert_int_equal(after.allocations, before.allocations);
    assert_int_equal(ta.live_bytes, live);
    assert_int_equal(ta.calls, calls);                  /* not one underlying allocation */
    assert_int_equal(sr_panic_history(rt, NULL, 0), SR_DEFAULT_PANIC_HISTORY);
    assert_int_equal(rt->panic.frame_count, 0);
    assert_int_equal(rt->panic.cleanup_count, 0);
    assert_true(sr_panic_last(rt)->frame_count >= 12);
    sr_free(rt, block);
    free_rt(rt, &ta);
}

/* ---- creation under allocation failure ------------------------------------------------ */

static void creation_fails_cleanly(void **state)
{
    (void)state;
    for (size_t n = 1;; n++) {
        sr_test_alloc ta = {0};
        ta.fail_at = n;
        sr_config c = sr_test_config(&ta);
        sr_runtime *rt = (sr_runtime *)(uintptr_t)1;
        sr_status st = sr_runtime_new(&c, &rt);
        if (st == SR_OK) {
            assert_true(n > 3);   /* at least the runtime and the three panic arrays */
            sr_runtime_free(rt);
            assert_int_equal(ta.live_bytes, 0);
            break;
        }
        assert_int_equal(st, SR_ERR_NOMEM);
        assert_null(rt);
        assert_int_equal(ta.live_bytes, 0);
        assert_int_equal(ta.live_blocks, 0);
    }
}

/* ---- sr_alloc_or_panic ---------------------------------------------------------------- */

typedef struct alloc_ctx { void *p; size_t size; } alloc_ctx;
static void fn_alloc(sr_runtime *rt, void *arg)
{
    alloc_ctx *c = arg;
    c->p = sr_alloc_or_panic(rt, c->size);
}

static void alloc_or_panic(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_config cfg = sr_test_config(&ta);
    cfg.max_heap_size = 64 * 1024;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&cfg, &rt), SR_OK);
    alloc_ctx c = { NULL, 100 };
    assert_int_equal(sr_execute_protected(rt, fn_alloc, &c), SR_OK);
    assert_non_null(c.p);
    sr_free(rt, c.p);
    c.p = NULL;
    c.size = 1024 * 1024;
    assert_int_equal(sr_execute_protected(rt, fn_alloc, &c), SR_ERR_PANIC);
    assert_null(c.p);
    assert_int_equal(sr_panic_last(rt)->kind, SR_PANIC_NOMEM);
    assert_non_null(strstr(sr_panic_last(rt)->message, "1048576"));
    sr_stats st;
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.heap_used, 0);
    sr_runtime_free(rt);
    assert_int_equal(ta.live_bytes, 0);
}

/* ---- outside protection: hook, report, abort (child process) -------------------------- */

static void child_hook(sr_runtime *rt, const sr_panic_info *info, void *ud)
{
    (void)rt;
    (void)ud;
    fprintf(stderr, "HOOK SAW [%s]\n", info->message);
    fflush(stderr);
}

static void child_panic_outside(void *arg)
{
    signal(SIGABRT, SIG_DFL);
    bool handler = *(bool *)arg;
    sr_config c = sr_config_default();
    c.enable_panic_handler = handler;
    sr_runtime *rt = NULL;
    if (sr_runtime_new(&c, &rt) != SR_OK) _exit(3);
    sr_panic_set_hook(rt, child_hook, NULL);
    sr_frame_push(rt, "script_fn", "main.sr", 7);
    sr_panic(rt, "unprotected %s", "failure");
}

static void child_hook_panics(sr_runtime *rt, const sr_panic_info *info, void *ud)
{
    (void)ud;
    (void)info;
    fprintf(stderr, "HOOK ONCE\n");
    fflush(stderr);
    sr_panic(rt, "second from hook");
}

static void child_hook_panic_outside(void *arg)
{
    (void)arg;
    signal(SIGABRT, SIG_DFL);
    sr_runtime *rt = NULL;
    if (sr_runtime_new(NULL, &rt) != SR_OK) _exit(3);
    sr_panic_set_hook(rt, child_hook_panics, NULL);
    sr_panic(rt, "first outside");
}

static void abort_outside_protection(void **state)
{
    (void)state;
    static char err[16384];
    bool on = true;
    int rc = sr_test_in_child(child_panic_outside, &on, err, sizeof err);
    assert_int_equal(rc, 128 + SIGABRT);
    const char *hook = strstr(err, "HOOK SAW [unprotected failure]");
    const char *rep = strstr(err, "panic (error): unprotected failure");
    assert_non_null(hook);
    assert_non_null(rep);
    assert_true(hook < rep);                            /* hook first, then the report */
    assert_non_null(strstr(err, "at child_panic_outside ("));
    assert_non_null(strstr(err, "#0 script_fn (main.sr:7)"));
    assert_non_null(strstr(err, "native frames"));
    assert_non_null(strstr(err, "child_panic_outside+0x"));

    bool off = false;
    rc = sr_test_in_child(child_panic_outside, &off, err, sizeof err);
    assert_int_equal(rc, 128 + SIGABRT);
    assert_null(strstr(err, "HOOK SAW"));
    assert_non_null(strstr(err, "panic (error): unprotected failure"));
    assert_null(strstr(err, "native frames"));

    rc = sr_test_in_child(child_hook_panic_outside, NULL, err, sizeof err);
    assert_int_equal(rc, 128 + SIGABRT);
    const char *once = strstr(err, "HOOK ONCE");
    assert_non_null(once);
    assert_null(strstr(once + 1, "HOOK ONCE"));
    assert_non_null(strstr(err, "panic (error): second from hook"));
}

/* ---- formatting and symbolization ---------------------------------------------------- */

/* A static function: dladdr cannot name it in an executable linked without
   -rdynamic; the report must, through the symbol table. */
static NOINLINE void sr_test_static_thrower(sr_runtime *rt, int depth)
{
    if (depth > 0) sr_test_static_thrower(rt, depth - 1);
    else if (rt) sr_panic(rt, "thrown from a static function");
    __asm__ volatile("");
}

static NOINLINE void fn_static_thrower(sr_runtime *rt, void *arg)
{
    (void)arg;
    sr_test_static_thrower(rt, 3);
}

static void format_snprintf_and_symbols(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 0, true);
    /* the premise: this executable has no dynamic symbol for the static function */
    Dl_info dl;
    void *fp = (void *)(uintptr_t)sr_test_static_thrower;
    assert_true(dladdr(fp, &dl) == 0 || dl.dli_sname == NULL ||
                strcmp(dl.dli_sname, "sr_test_static_thrower") != 0);

    assert_int_equal(sr_execute_protected(rt, fn_static_thrower, NULL), SR_ERR_PANIC);
    const sr_panic_info *pi = sr_panic_last(rt);
    int len = sr_panic_format(pi, NULL, 0);
    assert_true(len > 0);
    char *buf = malloc((size_t)len + 1);
    assert_int_equal(sr_panic_format(pi, buf, (size_t)len + 1), len);
    assert_int_equal(strlen(buf), (size_t)len);
    assert_memory_equal(buf, "panic (error): thrown from a static function\n", 45);
    assert_non_null(strstr(buf, "  at sr_test_static_thrower ("));
    const char *f0 = strstr(buf, "#0 ");
    assert_non_null(f0);
    const char *s = strstr(buf, "sr_test_static_thrower+0x");
    const char *outer = strstr(buf, "fn_static_thrower+0x");
    const char *test = strstr(buf, "format_snprintf_and_symbols+0x");
    assert_non_null(s);
    assert_non_null(outer);
    assert_non_null(test);
    assert_true(s < outer && outer < test);               /* root-most last */
#if SR_HAVE_LIBDW
    assert_non_null(strstr(buf, "test_panic.c:"));
#endif
    /* one frame a line */
    size_t lines = 0;
    for (const char *q = strstr(buf, "native frames"); q && *q; q++) lines += *q == '\n';
    assert_int_equal(lines, pi->frame_count + 1);

    /* second time: from the cache, identical */
    char *again = malloc((size_t)len + 1);
    assert_int_equal(sr_panic_format(pi, again, (size_t)len + 1), len);
    assert_string_equal(buf, again);

    /* truncation keeps snprintf semantics */
    char small[32];
    assert_int_equal(sr_panic_format(pi, small, sizeof small), len);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, buf, sizeof small - 1);
    char one[1] = { 'x' };
    assert_int_equal(sr_panic_format(pi, one, 1), len);
    assert_int_equal(one[0], '\0');

    /* a copy made by the host formats the same while the runtime lives */
    sr_panic_info copy = *pi;
    assert_int_equal(sr_panic_format(&copy, again, (size_t)len + 1), len);
    assert_string_equal(buf, again);
    /* and one with no runtime, uncached */
    copy.runtime = NULL;
    assert_int_equal(sr_panic_format(&copy, again, (size_t)len + 1), len);
    assert_string_equal(buf, again);
    free(buf);
    free(again);
    free_rt(rt, &ta);
}


/* ---- randomized: nested protection, cleanup entries, frames, panics ------------------- */

enum { RND_MAX_IDS = 20000, RND_MAX_DEPTH = 8 };

typedef struct rnd_ctx {
    sr_test_rng rng;
    int depth;
    int next_id;
    int runs[RND_MAX_IDS];        /* times each entry's function ran */
    int expected[RND_MAX_IDS];    /* 1, or 0 for entries popped without running */
    int stack[RND_MAX_IDS];       /* the model of the cleanup stack: ids */
    int levels[RND_MAX_IDS];      /* the protected depth each was pushed at */
    int count;
    int frames;                   /* the model of the script frame depth */
    int frame_base[RND_MAX_DEPTH + 2];
    int base[RND_MAX_DEPTH + 2];  /* model depth at entry of each level */
    int errors;                   /* mismatches seen inside protected code */
    int panics;
} rnd_ctx;

typedef struct rnd_arg { rnd_ctx *c; int id; } rnd_arg;
static rnd_arg rnd_args[RND_MAX_IDS];

static void rnd_cleanup(sr_runtime *rt, void *arg)
{
    (void)rt;
    rnd_arg *a = arg;
    a->c->runs[a->id]++;
}

/* Entries of levels >= level have run by now: drop them from the model. */
static void rnd_model_unwind(rnd_ctx *c, int level)
{
    while (c->count > 0 && c->levels[c->count - 1] >= level) c->count--;
    c->frames = c->frame_base[level];
}

static void rnd_level(sr_runtime *rt, void *arg)
{
    rnd_ctx *c = arg;
    int level = ++c->depth;
    c->base[level] = c->count;
    c->frame_base[level] = c->frames;
    int ops = (int)(sr_test_rand(&c->rng) % 12);
    for (int i = 0; i < ops; i++) {
        unsigned op = (unsigned)(sr_test_rand(&c->rng) % 8);
        if (op <= 1 && c->next_id < RND_MAX_IDS) {                     /* push */
            int id = c->next_id++;
            rnd_args[id] = (rnd_arg){ c, id };
            c->expected[id] = 1;
            c->stack[c->count] = id;
            c->levels[c->count++] = level;
            sr_cleanup_push(rt, rnd_cleanup, &rnd_args[id]);
        } else if (op == 2 && c->count > c->base[level]) {              /* pop */
            bool run = sr_test_rand(&c->rng) & 1;
            int id = c->stack[--c->count];
            if (!run) c->expected[id] = 0;
            sr_cleanup_pop(rt, run);
            if (c->runs[id] != (run ? 1 : 0)) c->errors++;
        } else if (op == 3) {                                           /* frame push */
            sr_frame_push(rt, "f", "r.sr", c->frames);
            c->frames++;
        } else if (op == 4 && c->frames > c->frame_base[level]) {       /* frame pop */
            sr_frame_pop(rt);
            c->frames--;
        } else if (op == 5 && level < RND_MAX_DEPTH) {                  /* nest */
            size_t cc = rt->panic.cleanup_count, fc = rt->panic.frame_count;
            sr_status st = sr_execute_protected(rt, rnd_level, c);
            (void)st;
            c->depth = level;
            rnd_model_unwind(c, level + 1);
            if (rt->panic.cleanup_count != cc || rt->panic.frame_count != fc) c->errors++;
            if ((int)rt->panic.cleanup_count != c->count || (int)rt->panic.frame_count != c->frames) c->errors++;
        } else if (op == 6) {                                           /* panic */
            c->panics++;
            sr_panic(rt, "random panic at level %d", level);
        }
    }
    /* returning: entries left at this level are run by sr_execute_protected */
}

static void randomized_protection_model(void **state)
{
    (void)state;
    sr_test_alloc ta = {0};
    sr_runtime *rt = new_rt(&ta, 4, true);
    uint64_t seed = sr_test_seed(12345);
    static rnd_ctx c;
    for (int round = 0; round < 200; round++) {
        memset(&c, 0, sizeof c);
        c.rng.s = seed + (uint64_t)round * 7919u;
        for (int top = 0; top < 20; top++) {
            c.depth = 0;
            c.frame_base[1] = 0;
            sr_status st = sr_execute_protected(rt, rnd_level, &c);
            assert_true(st == SR_OK || st == SR_ERR_PANIC);
            rnd_model_unwind(&c, 1);
            assert_int_equal(rt->panic.cleanup_count, 0);
            assert_int_equal(rt->panic.frame_count, 0);
            assert_null(rt->panic.top);
        }
        if (c.errors) print_error("seed %llu round %d\n", (unsigned long long)seed, round);
        assert_int_equal(c.errors, 0);
        for (int id = 0; id < c.next_id; id++) assert_int_equal(c.runs[id], c.expected[id]);
    }
    sr_stats st;
    sr_runtime_stats(rt, &st);
    assert_true(st.panics > 100);
    free_rt(rt, &ta);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(invalid_arguments),
        cmocka_unit_test(ok_and_panic_records),
        cmocka_unit_test(nesting_any_depth),
        cmocka_unit_test(message_truncation),
        cmocka_unit_test(history_bounded_newest_first_clearable),
        cmocka_unit_test(hook_runs_once_and_does_not_recurse),
        cmocka_unit_test(handler_disabled),
        cmocka_unit_test(last_is_the_panic_that_reached_the_caller),
        cmocka_unit_test(last_after_cleanup_entries_panic),
        cmocka_unit_test(last_after_a_finalizer_panic),
        cmocka_unit_test(cleanup_runs_once_newest_first),
        cmocka_unit_test(cleanup_pop),
        cmocka_unit_test(cleanup_push_growth_failure),
        cmocka_unit_test(script_frames_recorded_and_restored),
        cmocka_unit_test(script_frame_pop_underflow_panics),
        cmocka_unit_test(million_panics_memory_flat),
        cmocka_unit_test(creation_fails_cleanly),
        cmocka_unit_test(alloc_or_panic),
        cmocka_unit_test(abort_outside_protection),
        cmocka_unit_test(format_snprintf_and_symbols),
        cmocka_unit_test(randomized_protection_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
