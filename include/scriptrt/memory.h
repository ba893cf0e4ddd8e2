/*
 * scriptrt/memory.h - raw blocks under the runtime's heap limit.
 *
 * Blocks are aligned to 16 bytes. Each counts against max_heap_size with the
 * accounting rule of docs/memory.md (header and size-class rounding included).
 * None of these functions panic except the _or_panic twins.
 */
#ifndef SCRIPTRT_MEMORY_H
#define SCRIPTRT_MEMORY_H

#include "scriptrt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Counted against the limit; NULL on failure (limit reached after one emergency
   collection, system allocator failed, NULL rt, or a size too large to represent).
   Size 0 returns a valid unique block. May run a collection (finalizers). */
SR_API void *sr_alloc(sr_runtime *rt, size_t size);
/* Zeroed n*size bytes; NULL on overflow of n*size as well. */
SR_API void *sr_calloc(sr_runtime *rt, size_t n, size_t size);
/* NULL ptr = sr_alloc; size 0 frees and returns NULL; refused: NULL, old block
   intact, counts as failed. */
SR_API void *sr_realloc(sr_runtime *rt, void *ptr, size_t size);
/* NULL is a no-op. ptr must come from sr_alloc/sr_calloc/sr_realloc on rt;
   debug builds panic on a pointer that is not a live raw block. */
SR_API void  sr_free(sr_runtime *rt, void *ptr);
/* The bytes usable in a live block (at least what was asked for). */
SR_API size_t sr_alloc_usable_size(sr_runtime *rt, const void *ptr);
/* The bytes a block of `size` counts in heap_used (header and rounding included). */
SR_API size_t sr_alloc_charge(size_t size);

/* Gives back to the underlying allocator (sr_config.allocator's free) every
   64 KiB page of small blocks whose blocks are all free, and returns the bytes
   given back (a multiple of 65536; heap_reserved drops by exactly that).
   heap_used, live blocks and objects, weak references and the profiler's
   figures do not change; large blocks go back at sr_free already.
   Cost: O(pages + small blocks carved), reading the block headers in address
   order (about 2 ns a block: ~30 ms for 1 GiB of 200-byte blocks), no memory
   taken; when fewer than 1/128 of the carved blocks are free, O(pages + free
   blocks) instead, with a scratch table of 16-32 bytes per page from the
   underlying allocator, freed before returning (refused: the first way).
   0 for a NULL rt, and when called from a finalizer during a collection, a
   release cascade or teardown (the pages stay). Never panics, never runs a
   collection or a finalizer. The heap also runs it by itself (without the
   scratch table) when the underlying allocator refuses a page or a large
   block, then asks once more. See also sr_config.heap_trim_on_collect and
   docs/memory.md. */
SR_API size_t sr_heap_trim(sr_runtime *rt);

/* Twins for code under protection: instead of returning NULL they panic with
   SR_PANIC_NOMEM (see scriptrt/panic.h). */
SR_API void *sr_alloc_or_panic(sr_runtime *rt, size_t size);

#ifdef __cplusplus
}
#endif
#endif
