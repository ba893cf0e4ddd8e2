/*
 * http.h - sr-http, a server that runs untrusted Scheme programs.
 *
 * Three parts:
 *  - json.c: a growable byte buffer and JSON string escaping that never emits
 *    invalid UTF-8 (bytes that are not well-formed UTF-8 become U+FFFD).
 *  - exec.c: a worker owns the scriptrt runtime of one server thread and runs
 *    one program at a time under the heap, time, stack and output limits,
 *    turning the result into an outcome (output, or the error's kind, message
 *    and script frames). Nothing of one program survives into the next.
 *  - main.c: the command line, the libmicrohttpd daemon, routing, statistics
 *    and the clean shutdown on SIGINT/SIGTERM.
 */
#ifndef SR_HTTP_H
#define SR_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- json.c ---------------------------------------------------------------------- */

/* A growable buffer. After an allocation failure `failed` is set and every
   later append is ignored; the caller then answers 500. */
typedef struct hs_buf {
    char *data;     /* malloc'd, NUL-terminated when len > 0 */
    size_t len, cap;
    bool failed;
} hs_buf;

void hs_buf_add(hs_buf *b, const void *p, size_t n);
void hs_buf_str(hs_buf *b, const char *s);
void hs_buf_printf(hs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s[0..n) as a quoted JSON string: quotes, backslashes and control
   characters escaped, well-formed UTF-8 copied, every other byte U+FFFD. */
void hs_buf_json_str(hs_buf *b, const char *s, size_t n);
void hs_buf_free(hs_buf *b);

/* ---- exec.c ---------------------------------------------------------------------- */

typedef struct hs_limits {
    size_t heap_limit;      /* bytes, 0 = unlimited */
    uint64_t time_limit_ms; /* 0 = none */
    size_t stack_limit;     /* bytes of interpreter C stack */
    size_t max_output;      /* bytes */
} hs_limits;

typedef enum hs_kind {
    HS_KIND_OK = -1,
    HS_KIND_ERROR = 0, HS_KIND_HEAP_LIMIT, HS_KIND_TIME_LIMIT, HS_KIND_STACK_OVERFLOW, HS_KIND_OUTPUT_LIMIT,
    HS_KIND_COUNT,
    HS_KIND_INTERNAL = 100  /* the server could not run the program at all (500) */
} hs_kind;

const char *hs_kind_name(hs_kind k);    /* "error", "heap_limit", ... */

typedef enum hs_mode { HS_MODE_RESET, HS_MODE_FRESH } hs_mode;

typedef struct hs_outcome {
    hs_kind kind;
    hs_buf body;            /* 200: the output; otherwise the JSON error document */
    size_t heap_peak;       /* the most heap the program had in use (interpreter included) */
    uint64_t collections;   /* cycle collections during the program */
} hs_outcome;

typedef struct hs_worker hs_worker;

/* A worker for the calling thread. RESET keeps one runtime and interpreter and
   restores the interpreter's global state after every program; FRESH creates
   both for every program. NULL when the runtime or interpreter cannot be made
   (*why says why: a static string). */
hs_worker *hs_worker_new(const hs_limits *lim, hs_mode mode, const char **why);
void       hs_worker_free(hs_worker *w);     /* NULL: no-op */
/* Runs src[0..len) and fills *o (o->body owned by the caller). */
void       hs_worker_run(hs_worker *w, const char *src, size_t len, hs_outcome *o);
/* How many times the worker threw its runtime away because a program left
   something behind that the reset could not remove (RESET mode). */
uint64_t   hs_worker_rebuilds(const hs_worker *w);

/* The C stack the thread running a worker needs beyond stack_limit. */
#define HS_STACK_SLACK ((size_t)1 << 20)

#endif
