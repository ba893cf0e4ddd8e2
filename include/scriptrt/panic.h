/*
 * scriptrt/panic.h - protected execution, panics, cleanup stack, script frames,
 * stack and time limits.
 */
#ifndef SCRIPTRT_PANIC_H
#define SCRIPTRT_PANIC_H

#include "scriptrt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*sr_protected_fn)(sr_runtime *rt, void *arg);
/* SR_OK or SR_ERR_PANIC; nests; NULL rt or fn -> SR_ERR_INVALID. */
SR_API sr_status sr_execute_protected(sr_runtime *rt, sr_protected_fn fn, void *arg);

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

typedef struct sr_script_frame { const char *function; const char *file; int line; } sr_script_frame;

typedef struct sr_panic_info {
    const char *message;   /* formatted */
    const char *file;      /* location of the sr_panic call */
    int         line;
    const char *function;
    void *const *frames;   /* raw return addresses, innermost first */
    size_t      frame_count;   /* 0 when the panic handler is disabled */
    uint64_t    timestamp_ns;
    sr_panic_kind kind;    /* what caused it, so hosts can answer each differently */
    const sr_script_frame *script_frames;  /* innermost first */
    size_t      script_frame_count;
} sr_panic_info;

SR_API const sr_panic_info *sr_panic_last(sr_runtime *rt);     /* NULL if none */
SR_API size_t sr_panic_history(sr_runtime *rt, const sr_panic_info **out, size_t max); /* newest first */
SR_API void   sr_panic_history_clear(sr_runtime *rt);
typedef void (*sr_panic_hook)(sr_runtime *rt, const sr_panic_info *info, void *ud);
SR_API void   sr_panic_set_hook(sr_runtime *rt, sr_panic_hook hook, void *ud); /* NULL hook removes it */
/* snprintf semantics (NULL, 0 gives the length): message, location, one
   symbolized frame a line, root-most last. */
SR_API int    sr_panic_format(const sr_panic_info *info, char *buf, size_t size);

/* Panics "stack overflow" (SR_PANIC_STACK) beyond stack_size inside protected execution. */
SR_API void   sr_check_stack(sr_runtime *rt);

/* Time limits: cheap enough to call in an interpreter's dispatch loop. */
typedef bool (*sr_interrupt_fn)(sr_runtime *rt, void *ud);          /* return true to interrupt */
SR_API void   sr_set_interrupt_handler(sr_runtime *rt, sr_interrupt_fn fn, void *ud);
SR_API void   sr_set_deadline(sr_runtime *rt, uint64_t timeout_ns);        /* from now; 0 clears */
/* Panics "time limit exceeded" past the deadline, "interrupted" when the handler says so. */
SR_API void   sr_check_interrupt(sr_runtime *rt);

/* The cleanup stack: resources released when a panic unwinds past them. */
typedef void (*sr_cleanup_fn)(sr_runtime *rt, void *arg);
SR_API void sr_cleanup_push(sr_runtime *rt, sr_cleanup_fn fn, void *arg); /* fn(rt, arg) runs if a panic unwinds past it */
SR_API void sr_cleanup_pop(sr_runtime *rt, bool run);                      /* drops the newest entry; runs it first if run */
SR_API void sr_cleanup_release(sr_runtime *rt, void *obj);                 /* shorthand: push "sr_rc_release(rt, obj)" */

/* Script-level frames: strings must outlive the frame. */
SR_API void sr_frame_push(sr_runtime *rt, const char *function, const char *file, int line);
SR_API void sr_frame_pop(sr_runtime *rt);

/* Twin of sr_rc_new that panics with SR_PANIC_NOMEM instead of returning NULL. */
SR_API void *sr_rc_new_or_panic(sr_runtime *rt, sr_type_id type);

#ifdef __cplusplus
}
#endif
#endif
