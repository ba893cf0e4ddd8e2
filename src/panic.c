/*
 * panic.c - protected execution, panic records, hooks, history, the cleanup
 * stack, script frames, the stack guard and time limits.
 *
 * Data structures
 * ---------------
 * - Jump records (sr__jmp) live on the C stack of sr_execute_protected and form
 *   a chain from rt->panic.top (newest) through ->prev. Each one remembers what
 *   the runtime looked like at its entry: cleanup-stack depth, script-frame
 *   depth, the stack limit, the thread's stack base and whether the hook was
 *   running. The jmp_buf is filled by _setjmp, which saves registers only (no
 *   sigprocmask system call): an empty protected call costs about one setjmp.
 * - The history is a ring of rec_cap records (cfg.panic_history_size), all
 *   made at runtime creation, each with its own message buffer, text buffer
 *   (copies of file, function and script-frame strings), native frame array and
 *   script frame array. recs[newest] is the newest; the `count` records before
 *   it (cyclically) are the history, newest first. A panic overwrites the
 *   oldest record: a pointer handed out stays valid until its record is
 *   overwritten or the history is cleared.
 * - The cleanup stack and the script-frame stack are arrays owned by the
 *   runtime (sr__sys_* memory). Only push grows them; the panic path only
 *   shrinks them.
 * - The stack guard measures from the entry of the outermost protected
 *   execution active on the calling thread. That address is the one piece of
 *   per-thread state in the library (sr__thread_stack_base, thread-local): it
 *   describes the thread's C stack, which several runtimes may share, and it
 *   is NULL whenever no protected execution is active on the thread. Each
 *   runtime keeps the derived limit (rt->panic.stack_limit) so sr_check_stack
 *   is one comparison.
 *
 * Invariants
 * ----------
 * P1 The panic path (record, hook call, longjmp, cleanup run) never allocates:
 *    the message is formatted into the record's fixed buffer and truncated with
 *    "..." on a UTF-8 character boundary, strings are copied into the record's
 *    text buffer, backtraces go into its frame array.
 * P2 When a panic returns to sr_execute_protected, every cleanup entry pushed
 *    since its entry has run exactly once (each is popped before it runs, so a
 *    panic inside a cleanup function never runs it again; the landing code then
 *    continues with the rest), and the script-frame depth, the stack limit, the
 *    thread's stack base and the hook flag are those of its entry.
 * P3 The hook runs at most once per panic, never while the hook is running
 *    (in_hook): a panic raised inside the hook is recorded and unwinds to the
 *    newest protected execution without calling the hook again. No lock is
 *    held anywhere in this module.
 * P4 Symbolization never happens on the panic path, only in sr_panic_format
 *    (and in the abort report outside protection).
 * P5 sr_panic_last names the panic that most recently arrived at a protected
 *    execution of this runtime, or the one still on its way there. Panics are
 *    numbered (rt->panic.panics counts them; the newest record is number
 *    `panics`, the history the last `count` numbers). last_seq is set when a
 *    panic is recorded (the hook, cleanup entries and anything they call see
 *    it), again when its hook returns and it continues, and when it lands: the
 *    landing takes landing_seq, which every longjmp sets first (the object
 *    layer re-raises a finalizer's caught panic through sr__panic_deliver). A
 *    panic raised and caught inside the hook or a cleanup entry is last only
 *    until the panic they interrupted moves on. When the record named has
 *    left the history (the history was cleared, or a hook or cleanup entry
 *    caught at least panic_history_size panics of its own), sr_panic_last is
 *    NULL rather than another panic.
 */
#include "internal.h"
#include "backtrace_internal.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__GNUC__)
#  define SR__TLS_MODEL __attribute__((tls_model("initial-exec")))
#  define SR__COLD      __attribute__((cold, noinline))
#else
#  define SR__TLS_MODEL
#  define SR__COLD
#endif

/* ThreadSanitizer keeps its own per-thread state in the thread's stack mapping
   and makes pthread_getattr_np report numbers that do not describe it: threads
   made by sr_run_on_thread get a fixed extra megabyte there instead of a
   measurement. */
#if defined(__SANITIZE_THREAD__)
#  define SR__TSAN 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define SR__TSAN 1
#  endif
#endif

/* The entry address of the outermost protected execution active on this thread. */
static _Thread_local char *sr__thread_stack_base SR__TLS_MODEL;
/* The lowest address the stack guard lets protected code reach on this thread:
   the thread's real stack bottom plus the panic path's headroom, so a
   stack_size larger than the thread's stack still ends in a panic, not a
   fault. Looked up once per thread (0 = not yet). */
static _Thread_local uintptr_t sr__thread_stack_floor SR__TLS_MODEL;

static SR__COLD uintptr_t sr__stack_floor_lookup(void)
{
    uintptr_t floor = 1;
    pthread_attr_t a;
    if (pthread_getattr_np(pthread_self(), &a) != 0) return floor;
    void *addr = NULL;
    size_t size = 0;
    if (pthread_attr_getstack(&a, &addr, &size) == 0 && addr) floor = (uintptr_t)addr + SR__STACK_HEADROOM;
    pthread_attr_destroy(&a);
    return floor;
}

static inline char *sr__panic_sp(void) { return (char *)__builtin_frame_address(0); }

/* ---- lifecycle ------------------------------------------------------------------------ */

enum { SR__CLEANUP_INITIAL = 16, SR__FRAMES_INITIAL = 32 };

sr_status sr__panic_init(sr_runtime *rt)
{
    sr__panic *p = &rt->panic;
    memset(p, 0, sizeof *p);
    size_t cap = rt->cfg.panic_history_size ? rt->cfg.panic_history_size : SR_DEFAULT_PANIC_HISTORY;
    p->recs = sr__sys_calloc(rt, cap, sizeof *p->recs);
    p->cleanup = sr__sys_alloc(rt, SR__CLEANUP_INITIAL * sizeof *p->cleanup);
    p->frames = sr__sys_alloc(rt, SR__FRAMES_INITIAL * sizeof *p->frames);
    if (!p->recs || !p->cleanup || !p->frames) {
        sr__sys_free(rt, p->recs, p->recs ? cap * sizeof *p->recs : 0);
        sr__sys_free(rt, p->cleanup, p->cleanup ? SR__CLEANUP_INITIAL * sizeof *p->cleanup : 0);
        sr__sys_free(rt, p->frames, p->frames ? SR__FRAMES_INITIAL * sizeof *p->frames : 0);
        memset(p, 0, sizeof *p);
        return SR_ERR_NOMEM;
    }
    p->rec_cap = cap;
    p->newest = cap - 1;
    p->cleanup_cap = SR__CLEANUP_INITIAL;
    p->frame_cap = SR__FRAMES_INITIAL;
    p->poll_countdown = SR__INTERRUPT_POLL;
    if (rt->cfg.enable_panic_handler) sr__bt_warm_up();
    return SR_OK;
}

void sr__panic_fini(sr_runtime *rt)
{
    sr__panic *p = &rt->panic;
    sr__bt_cache_free(rt, p->symbols);
    sr__sys_free(rt, p->recs, p->rec_cap * sizeof *p->recs);
    sr__sys_free(rt, p->cleanup, p->cleanup_cap * sizeof *p->cleanup);
    sr__sys_free(rt, p->frames, p->frame_cap * sizeof *p->frames);
    memset(p, 0, sizeof *p);
}

void sr__panic_stats(sr_runtime *rt, sr_stats *out) { out->panics = rt->panic.panics; }

/* ---- protected execution -------------------------------------------------------------- */

/* Everything after fn that is not the common case: a panic landed here (run
   the cleanup entries above the entry depth; a panic inside one comes back
   here through the same jmp_buf and carries on with the rest), or fn returned
   with cleanup entries or script frames still pushed (run / drop them too). */
static SR__COLD void sr__panic_unwind_to(sr_runtime *rt, sr__jmp *j)
{
    sr__panic *p = &rt->panic;
    p->top = j;
    p->in_hook = j->saved_in_hook;
    while (p->cleanup_count > j->cleanup_depth) {
        sr__cleanup c = p->cleanup[--p->cleanup_count];
        c.fn(rt, c.arg);
    }
    if (p->frame_count > j->frame_depth) p->frame_count = j->frame_depth;
}

/* A panic arrived at j (by longjmp): run the cleanup entries above it, then
   leave j. The panic it delivered becomes sr_panic_last once the cleanup
   entries are done, whatever panics they raised and caught on their own (a
   cleanup entry's uncaught panic lands here again and replaces it, P5). */
static SR__COLD void sr__panic_land(sr_runtime *rt, sr__jmp *j)
{
    sr__panic *p = &rt->panic;
    uint64_t delivered = p->landing_seq;
    sr__panic_unwind_to(rt, j);
    p->last_seq = delivered;
    p->top = j->prev;
    p->stack_limit = j->saved_limit;
    sr__thread_stack_base = j->saved_base;
}

sr_status sr_execute_protected(sr_runtime *rt, sr_protected_fn fn, void *arg)
{
    if (SR__UNLIKELY(!rt || !fn)) return SR_ERR_INVALID;
    sr__panic *p = &rt->panic;
    sr__jmp j;
    j.prev = p->top;
    j.cleanup_depth = p->cleanup_count;
    j.frame_depth = p->frame_count;
    j.saved_limit = p->stack_limit;
    j.saved_in_hook = p->in_hook;
    char *base = j.saved_base = sr__thread_stack_base;
    if (!base) {
        base = sr__thread_stack_base = sr__panic_sp();
        if (SR__UNLIKELY(!sr__thread_stack_floor)) sr__thread_stack_floor = sr__stack_floor_lookup();
    }
    uintptr_t b = (uintptr_t)base, budget = rt->cfg.stack_size, floor = sr__thread_stack_floor;
    uintptr_t limit = b > budget ? b - budget : 1;
    p->stack_limit = (char *)(limit > floor ? limit : floor);
    if (_setjmp(j.env) != 0) {
        sr__panic_land(rt, &j);
        return SR_ERR_PANIC;
    }
    p->top = &j;
    fn(rt, arg);
    if (SR__UNLIKELY(p->cleanup_count != j.cleanup_depth || p->frame_count != j.frame_depth))
        sr__panic_unwind_to(rt, &j);
    p->top = j.prev;
    p->stack_limit = j.saved_limit;
    sr__thread_stack_base = j.saved_base;
    return SR_OK;
}

/* ---- filling a record ----------------------------------------------------------------- */

/* Marks a truncated NUL-terminated text in buf[0..cap) with "...", cutting on a
   UTF-8 character boundary. */
static void sr__panic_mark_truncated(char *buf, size_t cap)
{
    if (cap < 4) { if (cap) buf[0] = '\0'; return; }
    size_t cut = cap - 4;
    while (cut > 0 && ((unsigned char)buf[cut] & 0xC0u) == 0x80u) cut--;
    memcpy(buf + cut, "...", 4);
}

/* A copy of s in the record's text buffer (truncated with "..."), or a static
   string when there is no room left. */
static const char *sr__panic_keep(sr__panic_rec *r, size_t *used, const char *s)
{
    if (!s) return NULL;
    size_t room = sizeof r->text - *used;
    if (room < 8) return "?";
    size_t len = strlen(s);
    char *dst = r->text + *used;
    if (len < room) {
        memcpy(dst, s, len + 1);
        *used += len + 1;
    } else {
        memcpy(dst, s, room - 1);
        dst[room - 1] = '\0';
        sr__panic_mark_truncated(dst, room);
        *used = sizeof r->text;
    }
    return dst;
}

/* A message with conversions (plain ones are copied by the caller). */
static void sr__panic_format_message(char *message, size_t cap, const char *fmt, va_list ap)
{
    int n = vsnprintf(message, cap, fmt, ap);
    if (n < 0) {
        memcpy(message, "(unformattable message)", sizeof "(unformattable message)");
    } else if ((size_t)n >= cap) {
        sr__panic_mark_truncated(message, cap);
    }
}

static void sr__panic_report_stderr(sr_runtime *rt, const sr_panic_info *info);

static bool sr__panic_in_records(const sr__panic *p, const void *s)
{
    uintptr_t a = (uintptr_t)p->recs, b = a + p->rec_cap * sizeof *p->recs, x = (uintptr_t)s;
    return s && x >= a && x < b;
}

/* The one panic path. noinline and reached only through the variadic entry
   points, so the frames to skip in the backtrace are exactly two. */
static SR__NOINLINE _Noreturn void sr__panic_vraise(sr_runtime *rt, sr_panic_kind kind, const char *file, int line,
                                                    const char *func, const char *fmt, va_list ap)
{
    if (!rt || !rt->panic.recs) {
        char msg[256];
        int n = vsnprintf(msg, sizeof msg, fmt ? fmt : "(no message)", ap);
        SR__UNUSED(n);
        fprintf(stderr, "scriptrt panic without a runtime: %s\n  at %s (%s:%d)\n", msg,
                func ? func : "?", file ? file : "?", line);
        abort();
    }
    sr__panic *p = &rt->panic;
    /* The arguments may point into the record about to be reused (a message
       re-raised from the history, a hook that wraps info->message): a formatted
       message is made on the stack first, and file and function strings that
       live in a record are staged there too. */
    char message[sizeof p->recs[0].message], file_copy[256], func_copy[256];
    bool plain = !fmt || !strchr(fmt, '%');
    if (!plain) sr__panic_format_message(message, sizeof message, fmt, ap);
    if (sr__panic_in_records(p, file)) { snprintf(file_copy, sizeof file_copy, "%s", file); file = file_copy; }
    if (sr__panic_in_records(p, func)) { snprintf(func_copy, sizeof func_copy, "%s", func); func = func_copy; }
    uint64_t seq = ++p->panics;
    p->last_seq = seq;
    p->newest = (p->newest + 1) % p->rec_cap;
    if (p->count < p->rec_cap) p->count++;
    sr__panic_rec *r = &p->recs[p->newest];

    if (plain) {
        const char *m = fmt ? fmt : "(no message)";
        size_t len = strnlen(m, sizeof r->message);
        memmove(r->message, m, len < sizeof r->message ? len + 1 : sizeof r->message);
        if (len >= sizeof r->message) {
            r->message[sizeof r->message - 1] = '\0';
            sr__panic_mark_truncated(r->message, sizeof r->message);
        }
    } else {
        memcpy(r->message, message, strlen(message) + 1);
    }
    size_t used = 0;
    sr_panic_info *info = &r->info;
    info->message = r->message;
    info->file = sr__panic_keep(r, &used, file);
    info->line = line;
    info->function = sr__panic_keep(r, &used, func);
    info->kind = kind;
    info->timestamp_ns = sr__now_ns();
    info->runtime = rt;
    info->frames = r->frames;
    info->frame_count = rt->cfg.enable_panic_handler ? sr__bt_capture(r->frames, SR__PANIC_FRAMES_MAX, 2) : 0;

    /* script frames, innermost first; the innermost SR__PANIC_SCRIPT_MAX are kept */
    size_t n = p->frame_count < SR__PANIC_SCRIPT_MAX ? p->frame_count : SR__PANIC_SCRIPT_MAX;
    for (size_t i = 0; i < n; i++) {
        const sr_script_frame *f = &p->frames[p->frame_count - 1 - i];
        r->script[i].function = sr__panic_keep(r, &used, f->function);
        r->script[i].file = sr__panic_keep(r, &used, f->file);
        r->script[i].line = f->line;
    }
    info->script_frames = r->script;
    info->script_frame_count = n;
    info->script_frames_dropped = p->frame_count - n;

    if (rt->cfg.enable_panic_handler && p->hook && !p->in_hook) {
        p->in_hook = true;
        p->hook(rt, info, p->hook_ud);
        p->in_hook = false;
        p->last_seq = seq;   /* panics the hook caught itself do not replace this one (P5) */
    }
    p->landing_seq = seq;
    if (p->top) longjmp(p->top->env, 1);
    sr__panic_report_stderr(rt, info);
    abort();
}

_Noreturn void sr__panic_raise(sr_runtime *rt, sr_panic_kind kind, const char *file, int line,
                               const char *func, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sr__panic_vraise(rt, kind, file, line, func, fmt, ap);
}

_Noreturn void sr_panic_at(sr_runtime *rt, const char *file, int line, const char *func, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sr__panic_vraise(rt, SR_PANIC_ERROR, file, line, func, fmt, ap);
}

void sr__panic_deliver(sr_runtime *rt, uint64_t seq)
{
    sr__panic *p = &rt->panic;
    p->last_seq = seq;
    if (!p->top) return;
    p->landing_seq = seq;
    longjmp(p->top->env, 1);
}

/* ---- history and hook ----------------------------------------------------------------- */

const sr_panic_info *sr_panic_last(sr_runtime *rt)
{
    if (!rt) return NULL;
    const sr__panic *p = &rt->panic;
    uint64_t back = p->panics - p->last_seq;     /* 0: the newest record */
    if (!p->last_seq || back >= p->count) return NULL;
    return &p->recs[(p->newest + p->rec_cap - (size_t)back) % p->rec_cap].info;
}

size_t sr_panic_history(sr_runtime *rt, const sr_panic_info **out, size_t max)
{
    if (!rt) return 0;
    sr__panic *p = &rt->panic;
    if (!out) return p->count;
    size_t n = p->count < max ? p->count : max;
    for (size_t i = 0; i < n; i++) out[i] = &p->recs[(p->newest + p->rec_cap - i) % p->rec_cap].info;
    return n;
}

void sr_panic_history_clear(sr_runtime *rt)
{
    if (rt) rt->panic.count = 0;
}

void sr_panic_set_hook(sr_runtime *rt, sr_panic_hook hook, void *ud)
{
    if (!rt) return;
    rt->panic.hook = hook;
    rt->panic.hook_ud = hook ? ud : NULL;
}

const char *sr_panic_kind_str(sr_panic_kind kind)
{
    switch (kind) {
    case SR_PANIC_ERROR:     return "error";
    case SR_PANIC_NOMEM:     return "out of memory";
    case SR_PANIC_STACK:     return "stack overflow";
    case SR_PANIC_TIMEOUT:   return "time limit exceeded";
    case SR_PANIC_INTERRUPT: return "interrupted";
    }
    return "unknown panic kind";
}

/* ---- formatting ----------------------------------------------------------------------- */

/* Output goes to a buffer with snprintf semantics, or straight to a file descriptor. */
typedef struct sr__sink {
    char *buf;
    size_t size;
    size_t len;     /* bytes the whole text needs (excluding the NUL) */
    int fd;         /* >= 0: write there instead */
} sr__sink;

static void sr__sink_put(sr__sink *s, const char *text, size_t n)
{
    if (s->fd >= 0) {
        while (n > 0) {
            ssize_t w = write(s->fd, text, n);
            if (w <= 0) return;
            text += w;
            n -= (size_t)w;
        }
        return;
    }
    if (s->size && s->len < s->size - 1) {
        size_t room = s->size - 1 - s->len;
        memcpy(s->buf + s->len, text, n < room ? n : room);
    }
    s->len += n;
}

static void sr__sink_printf(sr__sink *s, const char *fmt, ...) SR_PRINTF(2, 3);
static void sr__sink_printf(sr__sink *s, const char *fmt, ...)
{
    char tmp[768];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof tmp) {
        sr__panic_mark_truncated(tmp, sizeof tmp);
        n = (int)strlen(tmp);
    }
    sr__sink_put(s, tmp, (size_t)n);
}

static void sr__panic_emit(const sr_panic_info *info, sr__sink *s)
{
    sr__sink_printf(s, "panic (%s): %s\n", sr_panic_kind_str(info->kind), info->message ? info->message : "");
    sr__sink_printf(s, "  at %s (%s:%d)\n", info->function ? info->function : "?",
                    info->file ? info->file : "?", info->line);
    if (info->script_frame_count) {
        sr__sink_printf(s, "script frames (innermost first):\n");
        for (size_t i = 0; i < info->script_frame_count; i++) {
            const sr_script_frame *f = &info->script_frames[i];
            sr__sink_printf(s, "  #%zu %s (%s:%d)\n", i, f->function ? f->function : "?",
                            f->file ? f->file : "?", f->line);
        }
        if (info->script_frames_dropped)
            sr__sink_printf(s, "  ... %zu outer script frames not recorded\n", info->script_frames_dropped);
    }
    if (info->frame_count) {
        sr__sink_printf(s, "native frames (innermost first):\n");
        for (size_t i = 0; i < info->frame_count; i++) {
            char sym[512];
            int n = sr__bt_symbolize_rt(info->runtime, info->frames[i], sym, sizeof sym);
            if (n < 0) sym[0] = '\0';
            sr__sink_printf(s, "  #%zu %p %s\n", i, info->frames[i], sym);
        }
    }
}

int sr_panic_format(const sr_panic_info *info, char *buf, size_t size)
{
    if (!info || (!buf && size)) return -1;
    sr__sink s = { buf, size, 0, -1 };
    sr__panic_emit(info, &s);
    if (size) buf[s.len < size - 1 ? s.len : size - 1] = '\0';
    return s.len > INT_MAX ? INT_MAX : (int)s.len;
}

static void sr__panic_report_stderr(sr_runtime *rt, const sr_panic_info *info)
{
    SR__UNUSED(rt);
    fflush(stderr);
    sr__sink s = { NULL, 0, 0, 2 };
    static const char head[] = "scriptrt: panic outside protected execution\n";
    sr__sink_put(&s, head, sizeof head - 1);
    sr__panic_emit(info, &s);
}

/* ---- cleanup stack -------------------------------------------------------------------- */

void sr_cleanup_push(sr_runtime *rt, sr_cleanup_fn fn, void *arg)
{
    if (!rt) return;
    sr__panic *p = &rt->panic;
    if (!fn) sr__panic_kind(rt, SR_PANIC_ERROR, "sr_cleanup_push: NULL cleanup function");
    if (SR__UNLIKELY(p->cleanup_count == p->cleanup_cap)) {
        size_t ncap = p->cleanup_cap * 2;
        sr__cleanup *n = sr__sys_realloc(rt, p->cleanup, p->cleanup_cap * sizeof *n, ncap * sizeof *n);
        if (!n) {
            fn(rt, arg);
            sr__panic_kind(rt, SR_PANIC_NOMEM, "sr_cleanup_push: no memory for %zu cleanup entries (the entry ran at once)",
                           ncap);
        }
        p->cleanup = n;
        p->cleanup_cap = ncap;
    }
    p->cleanup[p->cleanup_count++] = (sr__cleanup){ fn, arg };
}

void sr_cleanup_pop(sr_runtime *rt, bool run)
{
    if (!rt) return;
    sr__panic *p = &rt->panic;
    size_t floor = p->top ? p->top->cleanup_depth : 0;
    if (SR__UNLIKELY(p->cleanup_count <= floor))
        sr__panic_kind(rt, SR_PANIC_ERROR, "sr_cleanup_pop: no cleanup entry pushed in this protected execution");
    sr__cleanup c = p->cleanup[--p->cleanup_count];
    if (run) c.fn(rt, c.arg);
}

static void sr__cleanup_release_fn(sr_runtime *rt, void *obj) { sr_rc_release(rt, obj); }

void sr_cleanup_release(sr_runtime *rt, void *obj)
{
    sr_cleanup_push(rt, sr__cleanup_release_fn, obj);
}

/* ---- script frames -------------------------------------------------------------------- */

void sr_frame_push(sr_runtime *rt, const char *function, const char *file, int line)
{
    if (!rt) return;
    sr__panic *p = &rt->panic;
    if (SR__UNLIKELY(p->frame_count == p->frame_cap)) {
        size_t ncap = p->frame_cap * 2;
        sr_script_frame *n = sr__sys_realloc(rt, p->frames, p->frame_cap * sizeof *n, ncap * sizeof *n);
        if (!n) sr__panic_kind(rt, SR_PANIC_NOMEM, "sr_frame_push: no memory for %zu script frames", ncap);
        p->frames = n;
        p->frame_cap = ncap;
    }
    p->frames[p->frame_count++] = (sr_script_frame){ function, file, line };
}

void sr_frame_pop(sr_runtime *rt)
{
    if (!rt) return;
    sr__panic *p = &rt->panic;
    size_t floor = p->top ? p->top->frame_depth : 0;
    if (SR__UNLIKELY(p->frame_count <= floor))
        sr__panic_kind(rt, SR_PANIC_ERROR, "sr_frame_pop: no script frame pushed in this protected execution");
    p->frame_count--;
}

/* ---- stack guard ---------------------------------------------------------------------- */

static SR__COLD _Noreturn void sr__panic_stack_overflow(sr_runtime *rt, char *sp)
{
    uintptr_t used = sr__thread_stack_base ? (uintptr_t)sr__thread_stack_base - (uintptr_t)sp : 0;
    sr__panic_kind(rt, SR_PANIC_STACK, "stack overflow (%zu bytes used, stack_size %zu)", (size_t)used,
                   rt->cfg.stack_size);
}

void sr_check_stack(sr_runtime *rt)
{
    if (SR__UNLIKELY(!rt)) return;
    char *sp = sr__panic_sp();
    if (SR__UNLIKELY((uintptr_t)sp < (uintptr_t)rt->panic.stack_limit)) sr__panic_stack_overflow(rt, sp);
}

typedef struct sr__thread_job {
    sr_runtime *rt;
    sr_protected_fn fn;
    void *arg;
    size_t need;        /* stack bytes the thread must have below its entry */
    size_t short_by;    /* set when the thread found less than `need`: fn did not run */
    sr_status status;
} sr__thread_job;

/* Stack left below the caller on this thread; SIZE_MAX when unknown. */
#ifndef SR__TSAN
static size_t sr__panic_stack_left(void)
{
    pthread_attr_t a;
    if (pthread_getattr_np(pthread_self(), &a) != 0) return SIZE_MAX;
    void *lo = NULL;
    size_t size = 0;
    int err = pthread_attr_getstack(&a, &lo, &size);
    pthread_attr_destroy(&a);
    if (err != 0 || !lo) return SIZE_MAX;
    uintptr_t sp = (uintptr_t)sr__panic_sp(), low = (uintptr_t)lo;
    return sp > low ? (size_t)(sp - low) : 0;
}
#endif

static void *sr__panic_thread_main(void *arg)
{
    sr__thread_job *job = arg;
#ifdef SR__TSAN
    size_t left = SIZE_MAX;
#else
    size_t left = sr__panic_stack_left();
#endif
    if (left < job->need) {           /* the C library kept part of it (static TLS) */
        job->short_by = job->need - left;
        return NULL;
    }
    if (job->rt->cfg.enable_panic_handler) sr__bt_warm_up();
    job->status = sr_execute_protected(job->rt, job->fn, job->arg);
    return NULL;
}

sr_status sr_run_on_thread(sr_runtime *rt, sr_protected_fn fn, void *arg)
{
    if (!rt || !fn) return SR_ERR_INVALID;
    long page = sysconf(_SC_PAGESIZE);
    size_t pg = page > 0 ? (size_t)page : 4096u;
    sr__thread_job job = { rt, fn, arg, rt->cfg.stack_size + SR__STACK_HEADROOM, 0, SR_ERR_PANIC };
    size_t size = job.need + 4 * pg;
#ifdef SR__TSAN
    size += 1024u * 1024u;
#endif
    /* The C library carves thread-local storage out of the stack it is asked
       for; when that leaves too little, ask again for that much more (once). */
    for (int attempt = 0; attempt < 2; attempt++) {
        size = (size + pg - 1) / pg * pg;
        pthread_attr_t attr;
        if (pthread_attr_init(&attr) != 0) return SR_ERR_NOMEM;
        if (pthread_attr_setstacksize(&attr, size) != 0) {
            pthread_attr_destroy(&attr);
            return SR_ERR_INVALID;
        }
        job.short_by = 0;
        pthread_t th;
        int err = pthread_create(&th, &attr, sr__panic_thread_main, &job);
        pthread_attr_destroy(&attr);
        if (err != 0) return SR_ERR_NOMEM;
        pthread_join(th, NULL);
        if (!job.short_by) return job.status;
        size += job.short_by + 4 * pg;
    }
    return SR_ERR_NOMEM;
}

/* ---- time limits ---------------------------------------------------------------------- */

static SR__COLD void sr__panic_poll(sr_runtime *rt)
{
    sr__panic *p = &rt->panic;
    p->poll_countdown = SR__INTERRUPT_POLL;
    if (p->deadline_ns && sr__now_ns() >= p->deadline_ns) {
        p->deadline_ns = 0;   /* one-shot: the host's own cleanup may check again */
        sr__panic_kind(rt, SR_PANIC_TIMEOUT, "time limit exceeded");
    }
    if (p->interrupt && p->interrupt(rt, p->interrupt_ud))
        sr__panic_kind(rt, SR_PANIC_INTERRUPT, "interrupted");
}

void sr_check_interrupt(sr_runtime *rt)
{
    if (SR__UNLIKELY(!rt)) return;
    if (SR__LIKELY(--rt->panic.poll_countdown != 0)) return;
    sr__panic_poll(rt);
}

void sr_set_interrupt_handler(sr_runtime *rt, sr_interrupt_fn fn, void *ud)
{
    if (!rt) return;
    rt->panic.interrupt = fn;
    rt->panic.interrupt_ud = fn ? ud : NULL;
    rt->panic.poll_countdown = 1;
}

void sr_set_deadline(sr_runtime *rt, uint64_t timeout_ns)
{
    if (!rt) return;
    if (timeout_ns == 0) {
        rt->panic.deadline_ns = 0;
        return;
    }
    uint64_t now = sr__now_ns();
    rt->panic.deadline_ns = timeout_ns > UINT64_MAX - now ? UINT64_MAX : now + timeout_ns;
    rt->panic.poll_countdown = 1;
}

/* ---- allocation twins ------------------------------------------------------------------ */

void *sr_alloc_or_panic(sr_runtime *rt, size_t size)
{
    void *p = sr_alloc(rt, size);
    if (SR__UNLIKELY(!p)) sr__panic_kind(rt, SR_PANIC_NOMEM, "out of memory: sr_alloc of %zu bytes failed", size);
    return p;
}
