/*
 * scriptrt/panic.h - protected execution, panics, cleanup stack, script frames,
 * stack and time limits.
 *
 * A panic is a non-local exit: it records what happened in the runtime's panic
 * history, calls the hook, runs the cleanup entries pushed since the newest
 * sr_execute_protected began, and returns SR_ERR_PANIC from that call. Outside
 * any protected execution it calls the hook, writes a report to stderr and
 * aborts. docs/errors.md is the guide; every function here says whether it
 * can panic. Thread rule: like every runtime function, one thread at a time
 * per runtime.
 */
#ifndef SCRIPTRT_PANIC_H
#define SCRIPTRT_PANIC_H

#include "scriptrt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*sr_protected_fn)(sr_runtime *rt, void *arg);
/* Runs fn(rt, arg); SR_OK when it returns, SR_ERR_PANIC when a panic unwound
   to this call (sr_panic_last tells which). Nests to any depth. On return the
   cleanup stack and the script frame stack are back at their depth of entry:
   entries pushed inside and still there are run (a panic) or run as well (fn
   returned without popping them: a host bug, but nothing leaks). NULL rt or
   fn -> SR_ERR_INVALID. Never panics itself. */
SR_API sr_status sr_execute_protected(sr_runtime *rt, sr_protected_fn fn, void *arg);

/* Runs fn(rt, arg) protected on a new thread whose stack holds stack_size
   bytes plus the library's headroom for the panic path, and joins it. The
   calling thread waits: the runtime is still used by one thread at a time.
   Returns what sr_execute_protected returned; SR_ERR_NOMEM when the thread
   cannot be created; SR_ERR_INVALID for NULL rt or fn. */
SR_API sr_status sr_run_on_thread(sr_runtime *rt, sr_protected_fn fn, void *arg);

/* Raises a panic of kind SR_PANIC_ERROR. The message is printf-formatted into
   the record (at most 511 bytes; longer ones end in "..."); file and func are
   copied. Never returns. A NULL rt writes the message to stderr and aborts. */
#define sr_panic(rt, ...) sr_panic_at((rt), __FILE__, __LINE__, __func__, __VA_ARGS__)
SR_API _Noreturn void sr_panic_at(sr_runtime *rt, const char *file, int line, const char *func,
                                  const char *fmt, ...) SR_PRINTF(5, 6);

typedef enum sr_panic_kind {
    SR_PANIC_ERROR,        /* sr_panic from host or script code */
    SR_PANIC_NOMEM,        /* an allocation failed where the caller asked for panic-on-failure */
    SR_PANIC_STACK,        /* sr_check_stack */
    SR_PANIC_TIMEOUT,      /* deadline passed (sr_check_interrupt) */
    SR_PANIC_INTERRUPT     /* interrupt handler said stop */
} sr_panic_kind;

/* "error", "out of memory", "stack overflow", "time limit exceeded",
   "interrupted"; "unknown panic kind" out of range. Never NULL. */
SR_API const char *sr_panic_kind_str(sr_panic_kind kind);

typedef struct sr_script_frame { const char *function; const char *file; int line; } sr_script_frame;

typedef struct sr_panic_info {
    const char *message;   /* formatted */
    const char *file;      /* location of the sr_panic call */
    int         line;
    const char *function;
    void *const *frames;   /* raw return addresses, innermost first */
    size_t      frame_count;   /* 0 when the panic handler is disabled */
    uint64_t    timestamp_ns;  /* CLOCK_MONOTONIC */
    sr_panic_kind kind;    /* what caused it, so hosts can answer each differently */
    const sr_script_frame *script_frames;  /* innermost first; strings copied into the record */
    size_t      script_frame_count;
    /* ---- appended fields ---- */
    size_t      script_frames_dropped; /* outer script frames beyond the record's capacity (32) */
    sr_runtime *runtime;   /* the runtime that recorded the panic (sr_panic_format caches symbols there) */
} sr_panic_info;

/* Every string and array an info points to is owned by the runtime and lives
   in the record: valid until the record leaves the history (overwritten by a
   newer panic once panic_history_size newer ones happened) or the history is
   cleared, and never after sr_runtime_free. */
/* The last panic: the one that most recently arrived at a protected execution
   of rt (so after sr_execute_protected returned SR_ERR_PANIC, the panic that
   ended that call), or, while a panic is on its way there, that panic (the
   hook and the cleanup entries it unwinds past see the panic they run for). A
   panic the hook or a cleanup entry raises and catches with its own
   sr_execute_protected is the last one only inside that code: once the
   interrupted panic moves on it is the last again, and it is what the caller
   sees; the history holds both, newest first. A panic the hook or a cleanup
   entry raises without catching it replaces the interrupted one: it is
   delivered to the same protected execution and is the last. NULL when there
   has been none, after sr_panic_history_clear, when the last panic's record
   has left the history (a hook or cleanup entry caught panic_history_size or
   more panics of its own), and for a NULL rt. Never panics. */
SR_API const sr_panic_info *sr_panic_last(sr_runtime *rt);
/* Stores up to max records, newest first, and returns how many; a NULL out
   returns how many records the history holds. NULL rt -> 0. */
SR_API size_t sr_panic_history(sr_runtime *rt, const sr_panic_info **out, size_t max);
SR_API void   sr_panic_history_clear(sr_runtime *rt);   /* NULL rt: no-op */

/* The hook runs once per panic, before the cleanup entries run and before the
   unwind (or the abort outside protection), with no lock held; info is valid
   during the call. It is not called when enable_panic_handler is false. It may
   use the runtime, format the record and even use sr_execute_protected. A
   panic raised inside the hook (and not caught by a protected execution the
   hook started) does not call the hook again: it is recorded as a new panic
   and unwinds to the same place the first one was going to (or aborts, outside
   protection). NULL hook removes it; NULL rt: no-op. */
typedef void (*sr_panic_hook)(sr_runtime *rt, const sr_panic_info *info, void *ud);
SR_API void   sr_panic_set_hook(sr_runtime *rt, sr_panic_hook hook, void *ud);

/* snprintf semantics (NULL, 0 gives the length; the result is always
   NUL-terminated when size > 0): message, location, script frames, then one
   symbolized native frame a line, innermost first so the root-most is last.
   Symbols: function+offset from the ELF symbol tables (static functions too)
   and file:line from DWARF when the library was built with libdw; otherwise
   what dladdr knows. Symbols are cached in info->runtime. Slow the first time
   (it reads the process's modules). -1 for a NULL info or a NULL buf with a
   non-zero size. Never panics. */
SR_API int    sr_panic_format(const sr_panic_info *info, char *buf, size_t size);

/* Panics "stack overflow" (SR_PANIC_STACK) once the stack used since the entry
   of the outermost protected execution active on the calling thread exceeds
   stack_size. Outside protected execution (and for a NULL rt) it does nothing.
   One comparison. */
SR_API void   sr_check_stack(sr_runtime *rt);

/* Time limits: cheap enough to call in an interpreter's dispatch loop. */
typedef bool (*sr_interrupt_fn)(sr_runtime *rt, void *ud);          /* return true to interrupt */
/* NULL fn removes the handler. The next sr_check_interrupt polls. */
SR_API void   sr_set_interrupt_handler(sr_runtime *rt, sr_interrupt_fn fn, void *ud);
/* A deadline timeout_ns from now; 0 clears it. The deadline is one-shot: it is
   cleared when sr_check_interrupt panics for it. */
SR_API void   sr_set_deadline(sr_runtime *rt, uint64_t timeout_ns);
/* Panics "time limit exceeded" (SR_PANIC_TIMEOUT) past the deadline,
   "interrupted" (SR_PANIC_INTERRUPT) when the handler returns true. It reads
   the clock and calls the handler once every SR_INTERRUPT_POLL_INTERVAL calls
   (and on the first call after a deadline or handler was set); the other calls
   cost a decrement and a branch. NULL rt: no-op. */
#define SR_INTERRUPT_POLL_INTERVAL 256u
SR_API void   sr_check_interrupt(sr_runtime *rt);

/* The cleanup stack: resources released when a panic unwinds past them.
   Entries live in an array owned by the runtime; push may grow it. When it
   cannot grow, push runs fn(rt, arg) at once and panics with SR_PANIC_NOMEM,
   so the resource is never lost. fn must not be NULL (panics). NULL rt: no-op.
   Each entry runs at most once: when popped with run = true, or when a panic
   unwinds past it (newest first), or when the protected execution it was
   pushed in returns while it is still there. */
typedef void (*sr_cleanup_fn)(sr_runtime *rt, void *arg);
SR_API void sr_cleanup_push(sr_runtime *rt, sr_cleanup_fn fn, void *arg); /* fn(rt, arg) runs if a panic unwinds past it */
/* Drops the newest entry; runs it first if run. Panics (SR_PANIC_ERROR) when
   no entry was pushed inside the current protected execution. */
SR_API void sr_cleanup_pop(sr_runtime *rt, bool run);
/* Shorthand: push "sr_rc_release(rt, obj)". May panic like sr_cleanup_push
   (after releasing obj). */
SR_API void sr_cleanup_release(sr_runtime *rt, void *obj);

/* Script-level frames: strings must outlive the frame (a panic copies them
   into its record). Push may panic with SR_PANIC_NOMEM when the frame stack
   cannot grow; pop panics (SR_PANIC_ERROR) when no frame was pushed inside the
   current protected execution. NULL rt: no-op. */
SR_API void sr_frame_push(sr_runtime *rt, const char *function, const char *file, int line);
SR_API void sr_frame_pop(sr_runtime *rt);

/* Twin of sr_rc_new that panics with SR_PANIC_NOMEM instead of returning NULL. */
SR_API void *sr_rc_new_or_panic(sr_runtime *rt, sr_type_id type);
/* Twin of sr_rc_new_sized: SR_PANIC_NOMEM when the heap refuses, SR_PANIC_ERROR
   for an unknown type or a size below the type's size. */
SR_API void *sr_rc_new_sized_or_panic(sr_runtime *rt, sr_type_id type, size_t size);

#ifdef __cplusplus
}
#endif
#endif
