/*
 * support.h - helpers shared by the test executables.
 */
#ifndef SR_TEST_SUPPORT_H
#define SR_TEST_SUPPORT_H

#include <scriptrt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* An underlying allocator that counts, tracks live bytes and can fail on demand. */
typedef struct sr_test_alloc {
    size_t calls;         /* malloc + realloc calls so far */
    size_t fail_at;       /* the call number (1-based) that fails; 0 = never */
    bool   fail_all_after;/* with fail_at: every later call fails too */
    size_t live_bytes;    /* bytes handed out and not yet freed */
    size_t live_blocks;
    size_t failures;      /* calls refused */
} sr_test_alloc;

sr_allocator sr_test_alloc_make(sr_test_alloc *ta);
/* A default config using `ta` as the underlying allocator. */
sr_config sr_test_config(sr_test_alloc *ta);

/* Small deterministic PRNG (xorshift64*) for randomized tests. */
typedef struct sr_test_rng { uint64_t s; } sr_test_rng;
uint64_t sr_test_rand(sr_test_rng *r);
uint64_t sr_test_seed(uint64_t fallback);   /* SR_TEST_SEED from the environment, or fallback */

/* Runs fn(arg) in a child process; returns its exit status, or 128+signal. */
int sr_test_in_child(void (*fn)(void *arg), void *arg, char *captured_stderr, size_t cap);

#endif
