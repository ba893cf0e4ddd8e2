#!/usr/bin/env python3
"""Writes the seed corpus of the API fuzz target (tests/fuzz/corpus/).

Each seed is a small program in the target's byte language (see fuzz_api.c):
three configuration bytes, then opcodes with their operands. Rerun after
changing the opcode numbering: python3 tests/fuzz/gen_corpus.py
Files named regress-* are inputs the fuzzer found (kept as they are, not
written here): regress-large-garbage-member freed a garbage cycle with a large
member whose header the collector's fused free pass read after freeing it.
"""
import os

(REGISTER, NEW, NEW_SIZED, RETAIN, RELEASE, SET, CLEAR, WEAK_NEW, WEAK_UPGRADE,
 WEAK_FREE, COLLECT, ALLOC, REALLOC, FREE, PROT_BLOCK, PROT_RELEASE, PROT_COLLECT,
 PROF, LIMIT, BAD_INPUT, DOUBLE_RELEASE, DESCRIBE, SNAPSHOT) = range(23)
LEAF, LEAF_FIN, PAIR, TRACED, MIXED, FIN_ALLOC, FIN_PANIC = range(7)
PROFILING, GC_OFF, SMALL_THRESHOLD, NO_HANDLER, LIMITED, TEARDOWN, STRESS = 1, 2, 4, 8, 16, 32, 64
REPORTS = 0x80   # second byte: allow one profiler report (slow: symbolization)

def cfg(flags=0, threshold=0, limit_kib=0):
    return [flags, threshold, limit_kib]

seeds = {}

# A two-object cycle through REF fields, watched by a weak reference.
seeds["cycle_weak"] = cfg() + [
    REGISTER, PAIR, NEW, 0, NEW, 1,
    SET, 0, 0, 1, SET, 1, 0, 0,
    WEAK_NEW, 0, RELEASE, 0, RELEASE, 0,
    WEAK_UPGRADE, 0, RELEASE, 2, COLLECT, WEAK_UPGRADE, 0, WEAK_FREE, 0]

# Cycles through trace slots and mixed REF+trace, with the profiler.
seeds["traced_profiler"] = cfg(PROFILING, REPORTS) + [
    REGISTER, TRACED, REGISTER, MIXED, REGISTER, LEAF,
    PROF, 0, NEW, 0, NEW, 1, NEW, 2, NEW_SIZED, 1, 0x85,
    SET, 0, 3, 1, SET, 1, 1, 0, SET, 1, 0, 2, SET, 3, 0, 0,
    PROF, 1, PROF, 2, RELEASE, 0, RELEASE, 0, PROF, 1, PROF, 2,
    PROF, 3, PROF, 7, PROF, 11, COLLECT, PROF, 1]

# A 4 KiB heap: objects and blocks until refusal, then limit changes.
seeds["heap_limit"] = cfg(LIMITED, 0, 3) + [REGISTER, LEAF, REGISTER, PAIR] + \
sum([[NEW, i] for i in range(40)], []) + [
    ALLOC, 0xc4, ALLOC, 0x90, REALLOC, 0, 0xc8, RELEASE, 0, RELEASE, 1,
    LIMIT, 200, LIMIT, 3, LIMIT, 0, ALLOC, 0xc8, LIMIT, 130, ALLOC, 20, FREE, 0, FREE, 1]

# Protected blocks with cleanup entries: returning, popping, panicking, out of memory.
seeds["protected"] = cfg(LIMITED, 0, 7) + [
    REGISTER, PAIR, REGISTER, LEAF_FIN,
    PROT_BLOCK, 0x03, 0, 10, 1, 20, 0x80, 30, 0, 40,
    PROT_BLOCK, 0x07, 0, 10, 1, 0x50, 0x80, 5, 1, 0,
    PROT_BLOCK, 0x0b, 0, 10, 1, 20, 0x80, 30, 0, 40,
    PROT_BLOCK, 0x0b, 0x80, 0xff, 0x80, 0xff, 0x80, 0xff, 0x80, 0xff,
    NEW, 0, PROT_BLOCK, 0x08, 0, 0]

# Finalizers that panic (under protection) and finalizers that allocate.
seeds["finalizer_panics"] = cfg() + [
    REGISTER, FIN_PANIC, REGISTER, FIN_ALLOC,
    NEW, 0, NEW, 1, NEW, 2, SET, 0, 0, 1, SET, 1, 0, 0, SET, 2, 1, 0,
    PROT_RELEASE, 2, RELEASE, 0, RELEASE, 0, PROT_COLLECT,
    NEW, 3, NEW, 4, SET, 3, 0, 4, PROT_RELEASE, 3, PROT_RELEASE, 4, FREE, 0]

# Automatic collections every few allocations, in stress mode too.
seeds["auto_collect"] = cfg(SMALL_THRESHOLD | STRESS, 2) + [
    REGISTER, PAIR, REGISTER, TRACED] + sum([[NEW, i, SET, i, i, i, RELEASE, i] for i in range(12)], []) + [
    NEW, 0, WEAK_NEW, 0, ALLOC, 50, REALLOC, 0, 0x50, COLLECT]

# Left to the teardown: cycles, leaves, blocks and weak handles still held.
seeds["teardown"] = cfg(TEARDOWN | PROFILING, REPORTS) + [
    REGISTER, PAIR, REGISTER, FIN_PANIC, REGISTER, FIN_ALLOC,
    NEW, 0, NEW, 1, NEW, 2, SET, 0, 0, 1, SET, 1, 1, 2, SET, 2, 0, 0,
    WEAK_NEW, 1, ALLOC, 0xd0, RELEASE, 0]

# Bad arguments and a detected double release.
seeds["bad_input"] = cfg(NO_HANDLER) + [REGISTER, LEAF_FIN, REGISTER, 0x80 | PAIR] + \
    sum([[BAD_INPUT, i] for i in range(10)], []) + [NEW, 0, DOUBLE_RELEASE, 0, NEW, 0, RETAIN, 0, DOUBLE_RELEASE, 0]

# Raw blocks across the small/large border, grown, shrunk and freed by realloc.
seeds["realloc"] = cfg() + [
    ALLOC, 5, ALLOC, 0x80, ALLOC, 0xc1, REALLOC, 0, 0x60, REALLOC, 1, 0xbf, REALLOC, 1, 0x81,
    REALLOC, 2, 3, REALLOC, 0x80, 0, FREE, 1, FREE, 2]

# The collector switched off: cycles stay until the runtime is freed.
seeds["gc_off"] = cfg(GC_OFF) + [
    REGISTER, PAIR, NEW, 0, NEW, 1, SET, 0, 0, 1, SET, 1, 0, 0, RELEASE, 0, RELEASE, 0, COLLECT,
    PROF, 2]

# Reflection of live objects and profiler snapshots compared across steps.
seeds["describe_snapshot"] = cfg(PROFILING) + [
    REGISTER, PAIR, REGISTER, MIXED, SNAPSHOT, NEW, 0, NEW, 1, SET, 1, 0, 0, DESCRIBE, 0, DESCRIBE, 1,
    SNAPSHOT, ALLOC, 70, SNAPSHOT, RELEASE, 0, RELEASE, 0, COLLECT, SNAPSHOT, FREE, 0, SNAPSHOT]

# Finalizers run by the collector make weak references to their own object.
seeds["finalizer_weak"] = cfg() + [
    REGISTER, FIN_ALLOC, NEW, 0, NEW, 1, SET, 0, 0, 1, SET, 1, 0, 0, RELEASE, 0, RELEASE, 0,
    COLLECT, WEAK_UPGRADE, 0, WEAK_UPGRADE, 1, NEW, 0, NEW, 1, WEAK_UPGRADE, 0, WEAK_UPGRADE, 1]

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes(b & 0xff for b in data))
print(f"{len(seeds)} seeds written to {out}")
