/*
 * fuzz_api.h - the API-sequence fuzz target, shared by the libFuzzer build
 * (fuzz_api.c + -fsanitize=fuzzer) and the corpus replay test (replay.c).
 */
#ifndef SR_FUZZ_API_H
#define SR_FUZZ_API_H

#include <stddef.h>
#include <stdint.h>

/* Decodes `data` into a sequence of scriptrt calls on a fresh runtime and
   checks every step against a reference model. Returns 0; a disagreement
   prints what differed to stderr and aborts. */
int sr_fuzz_run(const uint8_t *data, size_t size);

/* libFuzzer's entry point (a thin wrapper around sr_fuzz_run). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
