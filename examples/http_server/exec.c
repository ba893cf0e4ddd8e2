/*
 * exec.c - running one untrusted program under limits.
 *
 * A worker belongs to one server thread (the thread's stack holds the stack
 * limit plus HS_STACK_SLACK) and runs one program at a time:
 *
 *  - heap: the runtime's max_heap_size; an allocation past it panics
 *    SR_PANIC_NOMEM -> "heap_limit".
 *  - time: sr_set_deadline before the program; the evaluator polls
 *    sr_check_interrupt -> SR_PANIC_TIMEOUT -> "time_limit".
 *  - stack: the runtime's stack_size, checked by the evaluator on every
 *    recursion -> SR_PANIC_STACK; the interpreter's root stack (stack_limit/32
 *    values) ends in an error whose message starts "stack overflow": both
 *    are "stack_overflow".
 *  - output: the interpreter writes to its output stream
 *    (sc_interp_set_output), here a FILE made with
 *    fopencookie whose write callback appends to the outcome's buffer up to
 *    max_output and then only sets `over`. The callback never touches the
 *    runtime (no longjmp out of stdio); the interrupt handler returns `over`,
 *    so the next poll stops the program with SR_PANIC_INTERRUPT ->
 *    "output_limit".
 *
 * Isolation between programs. FRESH: a new runtime and interpreter per
 * program, freed afterwards. RESET: one runtime and interpreter for the
 * worker's life; after start-up the interpreter's globals become its baseline
 * (sc_interp_snapshot), and after each program sc_interp_reset puts them back:
 * start-up bindings the program changed are restored, its own globals are
 * unbound and, once a collection has freed what it built, its symbols leave
 * the symbol table. The baseline only holds values a program cannot change, so
 * a program cannot change what the next one sees through them. When the reset
 * reports that the interpreter is not back at its baseline to the byte, the
 * worker throws its runtime away and builds a new one (counted in
 * hs_worker_rebuilds). The interpreter registers its object types by name, so
 * each interpreter has a runtime of its own.
 */
#define _GNU_SOURCE
#include "http.h"

#include "interp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HS_SOURCE_NAME   "request"
#define HS_MAX_ROOT_SLOTS ((size_t)1 << 22)

struct hs_worker {
    hs_limits lim;
    hs_mode mode;
    sr_runtime *rt;         /* RESET: the worker's runtime; FRESH: NULL between programs */
    sc_interp *I;
    uint64_t rebuilds;
};

/* The per-program output sink behind the interpreter's output stream. */
typedef struct hs_sink {
    hs_buf *buf;
    size_t max;
    bool over;              /* the program tried to write past max */
    size_t peak;            /* RESET: heap_used sampled at each poll */
} hs_sink;

const char *hs_kind_name(hs_kind k)
{
    switch (k) {
    case HS_KIND_OK: return "ok";
    case HS_KIND_ERROR: return "error";
    case HS_KIND_HEAP_LIMIT: return "heap_limit";
    case HS_KIND_TIME_LIMIT: return "time_limit";
    case HS_KIND_STACK_OVERFLOW: return "stack_overflow";
    case HS_KIND_OUTPUT_LIMIT: return "output_limit";
    default: return "internal";
    }
}

/* ---- output ------------------------------------------------------------------------ */

static ssize_t hs__sink_write(void *cookie, const char *data, size_t n)
{
    hs_sink *s = cookie;
    size_t room = s->max - s->buf->len;
    size_t k = n < room ? n : room;
    if (k) {
        hs_buf_add(s->buf, data, k);
        if (s->buf->failed) s->over = true;
    }
    if (k < n) s->over = true;
    return (ssize_t)n;   /* always "written": the program is stopped by the interrupt handler instead */
}

static bool hs__interrupt(sr_runtime *rt, void *ud)
{
    hs_sink *s = ud;
    if (s->peak != (size_t)-1) {
        sr_stats st;
        sr_runtime_stats(rt, &st);
        if (st.heap_used > s->peak) s->peak = st.heap_used;
    }
    return s->over;
}

/* ---- runtime and interpreter --------------------------------------------------------- */

static void hs__drop_env(hs_worker *w)
{
    sc_interp_free(w->I);
    w->I = NULL;
    sr_runtime_free(w->rt);
    w->rt = NULL;
}

static const char *hs__make_env(hs_worker *w)
{
    sr_config cfg = sr_config_default();
    cfg.max_heap_size = w->lim.heap_limit;
    cfg.stack_size = w->lim.stack_limit;
    cfg.enable_profiling = false;
    cfg.panic_history_size = 2;
    if (sr_runtime_new(&cfg, &w->rt) != SR_OK) return "cannot create a runtime (limits too small?)";
    size_t roots = w->lim.stack_limit / 32 < HS_MAX_ROOT_SLOTS ? w->lim.stack_limit / 32 : HS_MAX_ROOT_SLOTS;
    if (sc_interp_new(w->rt, roots, &w->I) != SR_OK) {
        sr_runtime_free(w->rt);
        w->rt = NULL;
        return "cannot create the interpreter (heap limit too small?)";
    }
    if (w->mode == HS_MODE_RESET) {
        sr_status st = sc_interp_snapshot(w->I);
        if (st != SR_OK) {
            hs__drop_env(w);
            return st == SR_ERR_STATE ? "the interpreter starts with mutable globals: cannot reset it"
                                      : "out of memory";
        }
    }
    return NULL;
}

/* Puts the interpreter back to its start-up state; false when something of
   the program is still alive afterwards. */
static bool hs__reset(hs_worker *w)
{
    sr_panic_history_clear(w->rt);
    return sc_interp_reset(w->I);
}

hs_worker *hs_worker_new(const hs_limits *lim, hs_mode mode, const char **why)
{
    hs_worker *w = calloc(1, sizeof *w);
    if (!w) { *why = "out of memory"; return NULL; }
    w->lim = *lim;
    w->mode = mode;
    /* FRESH builds one environment here only to prove the limits allow it */
    const char *err = hs__make_env(w);
    if (err) { *why = err; free(w); return NULL; }
    if (mode == HS_MODE_FRESH) hs__drop_env(w);
    return w;
}

void hs_worker_free(hs_worker *w)
{
    if (!w) return;
    hs__drop_env(w);
    free(w);
}

uint64_t hs_worker_rebuilds(const hs_worker *w) { return w->rebuilds; }

/* ---- running ----------------------------------------------------------------------- */

static void hs__error_doc(hs_outcome *o, const sr_panic_info *p, const char *fallback)
{
    hs_buf *b = &o->body;
    hs_buf_str(b, "{\"error\": ");
    const char *msg = p && p->message ? p->message : fallback;
    if (o->kind == HS_KIND_OUTPUT_LIMIT) msg = "output limit exceeded";
    hs_buf_json_str(b, msg, strlen(msg));
    hs_buf_str(b, ", \"kind\": \"");
    hs_buf_str(b, hs_kind_name(o->kind));
    hs_buf_str(b, "\", \"stack\": [");
    for (size_t i = 0; p && i < p->script_frame_count; i++) {
        const sr_script_frame *f = &p->script_frames[i];
        char frame[600];
        int n = snprintf(frame, sizeof frame, "%s (%s:%d)", f->function ? f->function : "?",
                         f->file ? f->file : "?", f->line);
        if (n < 0) continue;
        if ((size_t)n >= sizeof frame) n = (int)sizeof frame - 1;
        if (i) hs_buf_str(b, ", ");
        hs_buf_json_str(b, frame, (size_t)n);
    }
    hs_buf_str(b, "]");
    if (p && p->script_frames_dropped) hs_buf_printf(b, ", \"frames_dropped\": %zu", p->script_frames_dropped);
    hs_buf_str(b, "}\n");
}

static hs_kind hs__classify(const sr_panic_info *p, bool over)
{
    if (over) return HS_KIND_OUTPUT_LIMIT;
    if (!p) return HS_KIND_ERROR;
    switch (p->kind) {
    case SR_PANIC_NOMEM: return HS_KIND_HEAP_LIMIT;
    case SR_PANIC_STACK: return HS_KIND_STACK_OVERFLOW;
    case SR_PANIC_TIMEOUT: return HS_KIND_TIME_LIMIT;
    case SR_PANIC_INTERRUPT: return HS_KIND_OUTPUT_LIMIT;
    default:
        if (p->message && !strncmp(p->message, "stack overflow", 14)) return HS_KIND_STACK_OVERFLOW;
        return HS_KIND_ERROR;
    }
}

void hs_worker_run(hs_worker *w, const char *src, size_t len, hs_outcome *o)
{
    memset(o, 0, sizeof *o);
    o->kind = HS_KIND_INTERNAL;
    if (w->mode == HS_MODE_FRESH || !w->rt) {
        const char *err = hs__make_env(w);
        if (err) { hs_buf_str(&o->body, err); return; }
    }
    sr_runtime *rt = w->rt;
    sc_interp *I = w->I;
    sr_stats before;
    sr_runtime_stats(rt, &before);

    hs_sink sink = { &o->body, w->lim.max_output, false, w->mode == HS_MODE_RESET ? before.heap_used : (size_t)-1 };
    cookie_io_functions_t io = { NULL, hs__sink_write, NULL, NULL };
    FILE *out = fopencookie(&sink, "w", io);
    if (!out) { hs_buf_str(&o->body, "cannot create the output stream"); goto done; }
    sc_interp_set_output(I, out);
    sr_set_interrupt_handler(rt, hs__interrupt, &sink);
    if (w->lim.time_limit_ms) sr_set_deadline(rt, w->lim.time_limit_ms * 1000000u);
    sr_status st = sc_run_source(I, HS_SOURCE_NAME, src, len, 1, SC_RUN_QUIET, NULL);
    sr_set_deadline(rt, 0);
    sr_set_interrupt_handler(rt, NULL, NULL);
    fclose(out);                /* flushes into the buffer: never longer than max_output */
    sc_interp_set_output(I, stdout);

    sr_stats after;
    sr_runtime_stats(rt, &after);
    o->collections = after.gc_collections - before.gc_collections;
    if (w->mode == HS_MODE_FRESH) o->heap_peak = after.heap_peak;
    else o->heap_peak = sink.peak > after.heap_used ? sink.peak : after.heap_used;

    if (st == SR_OK && !sink.over) {
        o->kind = HS_KIND_OK;
    } else {
        const sr_panic_info *p = st == SR_ERR_PANIC ? sr_panic_last(rt) : NULL;
        o->kind = hs__classify(p, sink.over);
        hs_buf_free(&o->body);
        hs__error_doc(o, p, st == SR_ERR_PANIC ? "unknown error" : sr_status_str(st));
    }
done:
    if (w->mode == HS_MODE_FRESH) {
        hs__drop_env(w);
    } else if (!hs__reset(w)) {
        hs__drop_env(w);
        w->rebuilds++;
        const char *err = hs__make_env(w);
        (void)err;              /* retried before the next program */
    }
}
