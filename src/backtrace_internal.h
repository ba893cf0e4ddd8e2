/*
 * backtrace_internal.h - native stack capture and symbolization (backtrace.c).
 *
 * Capture is cheap (unw_backtrace into a caller's array, no allocation) and is
 * what the panic path and the profiler do; symbolization is expensive and
 * happens only when something is formatted. Repeated symbolization goes
 * through a cache (sr__bt_cache) owned by a runtime.
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
   snprintf semantics; "0x7f.. (unknown)" when nothing is known. Uncached: with
   libdw every call reads the process's module list again (milliseconds); use
   a cache for more than a handful of addresses. */
int    sr__bt_symbolize(void *addr, char *buf, size_t size);

/*
 * A symbolization cache: the libdw session (module list, symbol tables, line
 * tables, loaded once) and the text of every address symbolized so far. Its
 * own memory goes through sr__sys_* (internal_bytes); libdw's through malloc.
 * One runtime, one thread at a time, like the runtime itself.
 */
typedef struct sr__bt_cache sr__bt_cache;
sr__bt_cache *sr__bt_cache_new(sr_runtime *rt);              /* NULL when out of memory */
void          sr__bt_cache_free(sr_runtime *rt, sr__bt_cache *c); /* NULL is a no-op */
/* sr__bt_symbolize through the cache (NULL c: uncached). Never fails for lack
   of memory: what cannot be cached is symbolized again next time. */
int           sr__bt_cache_symbolize(sr_runtime *rt, sr__bt_cache *c, void *addr, char *buf, size_t size);

/* sr__bt_symbolize through the runtime's own cache (made on first use, freed
   with the runtime; what sr_panic_format uses too). The way for any module to
   symbolize many addresses: one libdw session for all of them. */
int           sr__bt_symbolize_rt(sr_runtime *rt, void *addr, char *buf, size_t size);

#endif
