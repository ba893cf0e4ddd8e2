/*
 * panic_internal.h - protected execution and panic state.
 *
 * A protected execution pushes a jump record (sr__jmp) that lives on the C
 * stack of sr_execute_protected and is linked from the runtime; a panic fills
 * the runtime's preallocated record and longjmps to the newest jump record.
 */
#ifndef SR_PANIC_INTERNAL_H
#define SR_PANIC_INTERNAL_H

#include "scriptrt.h"

#include <setjmp.h>

#define SR__PANIC_MSG_MAX 512

typedef struct sr__jmp {
    struct sr__jmp *prev;
    jmp_buf env;
} sr__jmp;

typedef struct sr__panic {
    sr__jmp *top;                    /* newest protected execution, NULL outside */
    uint64_t panics;
    bool has_last;
    sr_panic_info last;
    char message[SR__PANIC_MSG_MAX];
} sr__panic;

sr_status sr__panic_init(sr_runtime *rt);
void      sr__panic_fini(sr_runtime *rt);
void      sr__panic_stats(sr_runtime *rt, sr_stats *out);

/* sr_panic_at with a kind: the one way every module raises a panic. */
_Noreturn void sr__panic_raise(sr_runtime *rt, sr_panic_kind kind, const char *file, int line,
                               const char *func, const char *fmt, ...) SR_PRINTF(6, 7);
#define sr__panic_kind(rt, kind, ...) sr__panic_raise((rt), (kind), __FILE__, __LINE__, __func__, __VA_ARGS__)

#endif
