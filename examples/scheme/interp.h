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

/* Where display, write and newline go (stdout at creation); returns the
   previous stream. The interpreter does not own it. */
FILE     *sc_interp_set_output(sc_interp *I, FILE *out);

/* Running one program after another on one interpreter, each starting from
   the same globals. sc_interp_snapshot makes the current global bindings the
   baseline: every symbol interned now, with its binding. It collects cycles
   and remembers the runtime's heap_used afterwards. Only values a program
   cannot change may be shared between programs: a global bound to a pair,
   string, vector, environment or a closure with a captured environment gives
   SR_ERR_STATE (no baseline is made). Call it between programs (SR_ERR_STATE
   while one is running); a second call replaces the baseline. SR_ERR_NOMEM
   when the baseline table cannot be allocated. Never panics. */
sr_status sc_interp_snapshot(sc_interp *I);
/* Puts the globals back to the baseline: a baseline symbol whose binding a
   program changed gets its baseline binding again, every other symbol is
   unbound; a collection then frees what the programs built, and the symbols
   interned since the baseline that nothing else holds are released and leave
   the symbol table. Returns true when the interpreter is back at the baseline
   to the byte: every symbol interned since was released and the runtime's
   heap_used equals the snapshot's (so it is meant for a runtime the
   interpreter has to itself). false otherwise - no baseline, a program still
   running, a value a program made still held elsewhere, or other objects on
   the runtime: the bindings are reset, but objects made by the programs may
   still name symbols the reset released, so the interpreter must not run
   programs any more; free it (sc_interp_free, then the runtime) and make a new
   one. Never panics. */
bool      sc_interp_reset(sc_interp *I);

#endif
