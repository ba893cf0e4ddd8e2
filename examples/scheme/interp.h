/*
 * interp.h - embedding sr-scheme in a host (the command line and the game loop).
 *
 * All entry points run under sr_execute_protected and never panic: an error
 * comes back as SR_ERR_PANIC after the interpreter's state has been unwound
 * (nothing leaks); sc_report_error prints it.
 */
#ifndef SR_SCHEME_INTERP_H
#define SR_SCHEME_INTERP_H

#include "scheme.h"

enum { SC_RUN_QUIET, SC_RUN_PRINT, SC_RUN_CALL };

/* Creates an interpreter on rt (which it does not own) with a root stack of
   root_capacity values. SR_OK, SR_ERR_NOMEM, or SR_ERR_PANIC (heap limit hit
   while installing the primitives). */
sr_status sc_interp_new(sr_runtime *rt, size_t root_capacity, sc_interp **out);
/* Unwinds the root stack, drops every global binding, collects the cycles that
   hung off them, then releases every symbol. The runtime is left to the
   caller. NULL is a no-op. */
void      sc_interp_free(sc_interp *I);

/* Reads and evaluates every datum of text (name: the file name used in errors
   and script frames; it must outlive the interpreter). SC_RUN_PRINT writes each
   value that is not unspecified. *result (if not NULL) receives the last value,
   owned by the caller. */
sr_status sc_run_source(sc_interp *I, const char *name, const char *text, size_t len, uint32_t first_line,
                        int mode, val *result);
/* Calls the global procedure fn with args (borrowed). */
sr_status sc_call(sc_interp *I, const char *fn, const val *args, int argc, val *result);
/* "error: <message>" and one "  at NAME (FILE:LINE)" line per script frame. */
void      sc_report_error(sc_interp *I, FILE *err);

#endif
