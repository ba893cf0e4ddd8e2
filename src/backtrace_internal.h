/*
 * backtrace_internal.h - native stack capture and symbolization (backtrace.c).
 *
 * Capture is cheap (unw_backtrace into a caller's array, no allocation) and is
 * what the panic path and the profiler do; symbolization is expensive and
 * happens only when something is formatted.
 */
#ifndef SR_BACKTRACE_INTERNAL_H
#define SR_BACKTRACE_INTERNAL_H

#include "scriptrt.h"

/* Up to `max` return addresses of the caller's stack, innermost first, after
   dropping `skip` innermost frames (this function's own frame is never
   included). Never allocates. */
size_t sr__bt_capture(void **frames, size_t max, size_t skip);
/* Touches the unwinder once so the first capture on this thread is cheap. */
void   sr__bt_warm_up(void);
/* Writes "function+0xoff" (and " (file:line)" when known) for a return address,
   snprintf semantics; "0x7f.. (unknown)" when nothing is known. */
int    sr__bt_symbolize(void *addr, char *buf, size_t size);

#endif
