/*
 * panic.c - protected execution and panics.
 *
 * sr_execute_protected links a jump record on its own C frame into the runtime
 * and calls fn; sr_panic fills the runtime's preallocated record (the message
 * goes into a fixed buffer: the panic path never allocates) and longjmps to the
 * newest record. Outside protection a panic prints its report and aborts.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sr_status sr__panic_init(sr_runtime *rt) { SR__UNUSED(rt); return SR_OK; }
void sr__panic_fini(sr_runtime *rt) { SR__UNUSED(rt); }
void sr__panic_stats(sr_runtime *rt, sr_stats *out) { out->panics = rt->panic.panics; }

sr_status sr_execute_protected(sr_runtime *rt, sr_protected_fn fn, void *arg)
{
    if (!rt || !fn) return SR_ERR_INVALID;
    sr__jmp j;
    j.prev = rt->panic.top;
    if (setjmp(j.env) != 0) {
        rt->panic.top = j.prev;
        return SR_ERR_PANIC;
    }
    rt->panic.top = &j;
    fn(rt, arg);
    rt->panic.top = j.prev;
    return SR_OK;
}

static _Noreturn void sr__panic_vraise(sr_runtime *rt, sr_panic_kind kind, const char *file, int line,
                                       const char *func, const char *fmt, va_list ap)
{
    if (!rt) {
        fprintf(stderr, "scriptrt panic without a runtime at %s (%s:%d)\n", func, file, line);
        abort();
    }
    sr__panic *p = &rt->panic;
    vsnprintf(p->message, sizeof p->message, fmt, ap);
    p->panics++;
    p->has_last = true;
    memset(&p->last, 0, sizeof p->last);
    p->last.message = p->message;
    p->last.file = file;
    p->last.line = line;
    p->last.function = func;
    p->last.kind = kind;
    p->last.timestamp_ns = sr__now_ns();
    if (p->top) longjmp(p->top->env, 1);
    fprintf(stderr, "scriptrt panic: %s\n  at %s (%s:%d)\n", p->message, func, file, line);
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

const sr_panic_info *sr_panic_last(sr_runtime *rt)
{
    return rt && rt->panic.has_last ? &rt->panic.last : NULL;
}
