/*
 * panic_internal.h - protected execution and panic state (panic.c).
 *
 * A protected execution pushes a jump record (sr__jmp) that lives on the C
 * stack of sr_execute_protected and is linked from the runtime; a panic fills
 * the next record of the runtime's preallocated history ring and longjmps to
 * the newest jump record. See the comment at the top of panic.c for the
 * invariants.
 */
#ifndef SR_PANIC_INTERNAL_H
#define SR_PANIC_INTERNAL_H

#include "scriptrt.h"

#include <setjmp.h>

/* Sizes of the fixed parts of one panic record (nothing is allocated when a
   panic happens: every record is made at runtime creation). */
#define SR__PANIC_MSG_MAX     512u   /* message bytes, NUL included */
#define SR__PANIC_TEXT_MAX    1024u  /* copies of file/function names, NUL included */
#define SR__PANIC_FRAMES_MAX  64u    /* native return addresses kept */
#define SR__PANIC_SCRIPT_MAX  32u    /* script frames kept (the innermost ones) */

/* Stack the panic path may still need below the stack_size budget: message
   formatting, unw_backtrace, the hook. Threads made by sr_run_on_thread get it
   on top of stack_size. */
#define SR__STACK_HEADROOM    (128u * 1024u)

/* sr_check_interrupt reads the clock and asks the handler once per this many calls. */
#define SR__INTERRUPT_POLL    SR_INTERRUPT_POLL_INTERVAL

typedef struct sr__jmp {
    struct sr__jmp *prev;        /* the enclosing protected execution of this runtime */
    size_t cleanup_depth;        /* cleanup entries at entry */
    size_t frame_depth;          /* script frames at entry */
    char *saved_limit;           /* rt->panic.stack_limit at entry */
    char *saved_base;            /* the thread's stack base at entry (NULL: this one is outermost) */
    bool saved_in_hook;          /* whether entry happened inside the hook */
    jmp_buf env;                 /* filled by _setjmp: registers only, no signal mask */
} sr__jmp;

typedef struct sr__panic_rec {
    sr_panic_info info;          /* what the API hands out: first member */
    char message[SR__PANIC_MSG_MAX];
    char text[SR__PANIC_TEXT_MAX];
    void *frames[SR__PANIC_FRAMES_MAX];
    sr_script_frame script[SR__PANIC_SCRIPT_MAX];
} sr__panic_rec;

typedef struct sr__cleanup { sr_cleanup_fn fn; void *arg; } sr__cleanup;

struct sr__bt_cache;

typedef struct sr__panic {
    sr__jmp *top;                /* newest protected execution, NULL outside */
    char *stack_limit;           /* sr_check_stack panics below this address; NULL outside protection */
    uint64_t panics;             /* panics ever recorded; the newest record is panic number `panics` */
    bool in_hook;                /* the hook is running: nested panics do not call it */
    uint64_t last_seq;           /* number of the panic sr_panic_last names (0: none) */
    uint64_t landing_seq;        /* number of the panic the newest longjmp delivers */

    /* the history ring: recs[newest] is the newest of `count` records, older ones before it */
    sr__panic_rec *recs;
    size_t rec_cap, newest, count;

    sr_panic_hook hook;
    void *hook_ud;

    sr__cleanup *cleanup;        /* the cleanup stack */
    size_t cleanup_count, cleanup_cap;
    sr_script_frame *frames;     /* the script frame stack */
    size_t frame_count, frame_cap;

    /* time limits */
    uint32_t poll_countdown;     /* sr_check_interrupt polls when it reaches 0 */
    uint64_t deadline_ns;        /* 0 = none */
    sr_interrupt_fn interrupt;
    void *interrupt_ud;

    struct sr__bt_cache *symbols;/* sr_panic_format's symbol cache, made on first use */
} sr__panic;

sr_status sr__panic_init(sr_runtime *rt);
void      sr__panic_fini(sr_runtime *rt);
void      sr__panic_stats(sr_runtime *rt, sr_stats *out);

/* sr_panic_at with a kind: the one way every module raises a panic. */
_Noreturn void sr__panic_raise(sr_runtime *rt, sr_panic_kind kind, const char *file, int line,
                               const char *func, const char *fmt, ...) SR_PRINTF(6, 7);
#define sr__panic_kind(rt, kind, ...) sr__panic_raise((rt), (kind), __FILE__, __LINE__, __func__, __VA_ARGS__)

/* Continues a panic that was caught so that work could be finished first (a
   finalizer's panic in a release cascade): panic number seq (already
   recorded, its hook already called) becomes sr_panic_last and is delivered
   to the newest protected execution. Returns only when there is none. */
void sr__panic_deliver(sr_runtime *rt, uint64_t seq);

#endif
