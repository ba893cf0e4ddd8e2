/*
 * profiler.c - the memory profiler: per-type counters, allocation stacks,
 * the leak baseline, stats and snapshots (the report writers are in report.c).
 *
 * Data structures
 * ---------------
 * The profiler exists only while profiling is on (rt->prof != NULL); the heap
 * calls sr__profiler_on_alloc after every block it hands out and
 * sr__profiler_on_free before every block it takes back. Those are inline
 * fast paths (profiler_internal.h) for the common case; this file has the
 * general paths (stack capture, sampling, table growth).
 *
 * Per block, the profiler owns the high byte of the header's flags
 * (SR__FLAGS_PROF_MASK): the mark epoch the block was allocated in (7 bits)
 * and SR__PROF_RECORD, set when the block table holds a record for it.
 * Everything else lives in the profiler's own tables, allocated through
 * sr__sys_* (internal_bytes, never heap_used):
 *
 *  - types[]: counters per category, indexed by the type id in the header
 *    (bits 8-31 of info); index 0 (never a valid type id) holds the raw blocks
 *    of sr_alloc. The array grows to the largest id seen.
 *  - blocks: the side records of sampled blocks, an open-addressing table keyed
 *    by header address (linear probing, load <= 1/2, backward-shift deletion,
 *    so no tombstones). A record holds the stack-table index of the block's
 *    allocation stack. Unsampled blocks have no record, so the common
 *    allocation and free never touch the table.
 *  - stacks: the stack table, one entry per distinct (category, frames) pair,
 *    found through a hash index; frames live in one pool. Entries are never
 *    removed: live_count/live_bytes say what is alive from each.
 *  - epoch: sr_profiler_mark increments it (1..127, then one heap walk
 *    renumbers every live block to 0 and it starts again at 1); a block whose
 *    header carries the current epoch was allocated since the mark. The leak
 *    figures come from the live counts at the mark and the frees of older
 *    blocks since (P4); reports find the blocks themselves by walking the heap.
 *
 * Invariants
 * ----------
 * P1  Sum over categories (and `other`) of bytes == heap_used; of count ==
 *     live objects + live raw blocks; allocations - frees == count per category.
 * P2  A block has SR__PROF_RECORD <=> the table has exactly one record for it;
 *     every record names a stack (never 0) and belongs to a live block.
 * P3  A stack's live_count/live_bytes are the sums over live blocks whose
 *     record names it (bytes weighted when sampling).
 * P4  For objects and for raw blocks: live now - (mark_count - old_frees) is
 *     the number of live blocks whose header carries the current epoch (bytes
 *     likewise); no live block carries an epoch above the current one.
 * P5  The category of a block is the same at free as at allocation: ids below
 *     type_cap use their slot; ids at or above it use `other`, and type_cap
 *     stops growing for good the first time growth fails (types_frozen).
 *
 * Out of memory: counters and the leak check never need memory. When a
 * sampled stack cannot be stored, or its block's record cannot (untracked),
 * the block simply has no record. The allocation itself never fails because
 * of the profiler.
 */
#include "internal.h"
#include "backtrace_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SR__PROF_INIT_TYPES   64u
#define SR__PROF_INIT_BLOCKS  1024u
#define SR__PROF_INIT_STACKS  256u
#define SR__PROF_INIT_FRAMES  2048u
#define SR__PROF_OTHER_SLOT   UINT32_MAX

/* ---- own memory ---------------------------------------------------------------------- */

static void sr__prof_free(sr_runtime *rt, sr__profiler *p, void *m, size_t size)
{
    if (!m) return;
    sr__sys_free(rt, m, size);
    p->bytes -= size;
}

/* Grows *arr (elem bytes each) from *cap to at least need; false when out of memory. */
static bool sr__prof_grow(sr_runtime *rt, sr__profiler *p, void **arr, size_t elem, size_t cap, size_t need,
                          size_t *new_cap)
{
    size_t n = cap ? cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem) return false;
        n *= 2;
    }
    void *m = sr__sys_realloc(rt, *arr, cap * elem, n * elem);
    if (!m) return false;
    p->bytes += (n - cap) * elem;
    memset((char *)m + cap * elem, 0, (n - cap) * elem);
    *arr = m;
    *new_cap = n;
    return true;
}

/* ---- categories ---------------------------------------------------------------------- */

static SR__NOINLINE sr__ptype *sr__prof_type_grow(sr_runtime *rt, sr__profiler *p, uint32_t slot)
{
    if (!p->types_frozen) {
        /* the stats output array grows with the counters (one more entry for
           `other`), so sr_profiler_stats never needs memory */
        size_t cap;
        void *arr = p->types;
        bool ok = slot < UINT32_MAX / 4 &&
                  sr__prof_grow(rt, p, &arr, sizeof(sr__ptype), p->type_alloc, (size_t)slot + 1, &cap);
        p->types = arr;
        if (ok) {
            p->type_alloc = cap;
            arr = p->out;
            ok = sr__prof_grow(rt, p, &arr, sizeof(sr_type_profile), p->out_cap, (size_t)slot + 2, &cap);
            p->out = arr;
            if (ok) p->out_cap = cap;
        }
        if (ok) {
            p->type_cap = (uint32_t)(p->type_alloc < p->out_cap - 1 ? p->type_alloc : p->out_cap - 1);
            return &p->types[slot];
        }
        p->types_frozen = true;
    }
    return &p->other;
}

static inline sr__ptype *sr__prof_type_for_alloc(sr_runtime *rt, sr__profiler *p, uint32_t slot)
{
    if (SR__LIKELY(slot < p->type_cap)) return &p->types[slot];
    return sr__prof_type_grow(rt, p, slot);
}

const char *sr__profiler_type_name(sr_runtime *rt, uint32_t slot)
{
    if (slot == SR__PROF_RAW_SLOT) return "<raw>";
    if (slot == SR__PROF_OTHER_SLOT) return "<other types>";
    const sr_type *t = rt ? sr_type_get(rt, (sr_type_id)slot) : NULL;
    return t && t->name ? t->name : "<unregistered type>";
}

/* ---- the block table ----------------------------------------------------------------- */

static bool sr__pb_alloc_table(sr_runtime *rt, sr__profiler *p, size_t cap)
{
    sr__pblock *t = sr__sys_calloc(rt, cap, sizeof *t);
    if (!t) return false;
    p->bytes += cap * sizeof *t;
    sr__pblock *old = p->blocks;
    size_t old_cap = p->block_cap;
    p->blocks = t;
    p->block_cap = cap;
    unsigned bits = 0;
    while (((size_t)1 << bits) < cap) bits++;
    p->block_shift = 64u - bits;
    size_t mask = cap - 1;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].key) continue;
        size_t j = sr__pb_home(p, old[i].key);
        while (t[j].key) j = (j + 1) & mask;
        t[j] = old[i];
    }
    sr__prof_free(rt, p, old, old_cap * sizeof *old);
    return true;
}

/* Keeps the load at 1/2; if the table cannot grow, tolerates up to 3/4.
   false: no room for one more record. */
static SR__NOINLINE bool sr__pb_make_room(sr_runtime *rt, sr__profiler *p)
{
    if (p->block_cap <= SIZE_MAX / 4 / sizeof(sr__pblock) && sr__pb_alloc_table(rt, p, p->block_cap * 2))
        return true;
    return (p->block_count + 1) * 4 <= p->block_cap * 3;
}

static inline sr__pblock *sr__pb_insert(sr_runtime *rt, sr__profiler *p, uintptr_t key)
{
    if (SR__UNLIKELY((p->block_count + 1) * 2 > p->block_cap) && !sr__pb_make_room(rt, p)) return NULL;
    size_t mask = p->block_cap - 1, i = sr__pb_home(p, key);
    while (p->blocks[i].key) i = (i + 1) & mask;
    p->blocks[i].key = key;
    p->block_count++;
    return &p->blocks[i];
}

/* Removes key's record into *out; false when the block has none. */
/* The slot of key's record; SIZE_MAX when there is none. */
static inline size_t sr__pb_find(const sr__profiler *p, uintptr_t key)
{
    size_t mask = p->block_cap - 1, i = sr__pb_home(p, key);
    for (; p->blocks[i].key; i = (i + 1) & mask)
        if (p->blocks[i].key == key) return i;
    return SIZE_MAX;
}

static inline bool sr__pb_remove(sr__profiler *p, uintptr_t key, sr__pblock *out)
{
    size_t mask = p->block_cap - 1, i = sr__pb_find(p, key);
    if (i == SIZE_MAX) return false;
    *out = p->blocks[i];
    /* backward-shift deletion: pull later members of the cluster into the hole
       unless their home lies cyclically in (hole, j] */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        uintptr_t k = p->blocks[j].key;
        if (!k) break;
        size_t home = sr__pb_home(p, k);
        bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
        if (stays) continue;
        p->blocks[i] = p->blocks[j];
        i = j;
    }
    p->blocks[i].key = 0;
    p->block_count--;
    return true;
}

uint32_t sr__profiler_stack_of(const sr__profiler *p, const sr__hdr *h)
{
    size_t i = (h->flags & SR__PROF_RECORD) ? sr__pb_find(p, (uintptr_t)h) : SIZE_MAX;
    return i == SIZE_MAX ? 0 : p->blocks[i].stack;
}

/* ---- the stack table ----------------------------------------------------------------- */

static uint64_t sr__prof_hash_frames(uint32_t slot, void *const *frames, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ slot;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint64_t)(uintptr_t)frames[i];
        h *= 0x100000001b3ull;
        h ^= h >> 29;
    }
    return h ? h : 1;
}

static bool sr__prof_index_rebuild(sr_runtime *rt, sr__profiler *p, uint32_t cap)
{
    uint32_t *ix = sr__sys_calloc(rt, cap, sizeof *ix);
    if (!ix) return false;
    p->bytes += (size_t)cap * sizeof *ix;
    sr__prof_free(rt, p, p->stack_index, (size_t)p->index_cap * sizeof *ix);
    p->stack_index = ix;
    p->index_cap = cap;
    for (uint32_t s = 1; s < p->stack_count; s++) {
        uint32_t j = (uint32_t)p->stacks[s].hash & (cap - 1);
        while (ix[j]) j = (j + 1) & (cap - 1);
        ix[j] = s;
    }
    return true;
}

/* The stack-table index of (slot, frames), adding it if new; 0 when it cannot be stored. */
static uint32_t sr__prof_intern(sr_runtime *rt, sr__profiler *p, uint32_t slot, void *const *frames, size_t n)
{
    uint64_t hash = sr__prof_hash_frames(slot, frames, n);
    uint32_t mask = p->index_cap - 1, j = (uint32_t)hash & mask;
    for (uint32_t s; (s = p->stack_index[j]) != 0; j = (j + 1) & mask) {
        const sr__pstack *e = &p->stacks[s];
        if (e->hash == hash && e->slot == slot && e->depth == n &&
            memcmp(&p->frame_pool[e->frames], frames, n * sizeof *frames) == 0)
            return s;
    }
    /* new stack: make room everywhere first, so a failure leaves no trace */
    if (p->stack_count == UINT32_MAX / 4) return 0;
    if (p->stack_count + 1 > p->stack_cap) {
        void *arr = p->stacks;
        size_t cap;
        bool ok = sr__prof_grow(rt, p, &arr, sizeof(sr__pstack), p->stack_cap, (size_t)p->stack_count + 1, &cap);
        p->stacks = arr;
        if (!ok) return 0;
        p->stack_cap = (uint32_t)cap;
    }
    if (p->frame_count + n > p->frame_cap) {
        void *arr = p->frame_pool;
        size_t cap;
        bool ok = sr__prof_grow(rt, p, &arr, sizeof(void *), p->frame_cap, p->frame_count + n, &cap);
        p->frame_pool = arr;
        if (!ok) return 0;
        p->frame_cap = cap;
    }
    if ((p->stack_count + 1) * 2 > p->index_cap) {
        if (!sr__prof_index_rebuild(rt, p, p->index_cap * 2)) return 0;
        mask = p->index_cap - 1;
        j = (uint32_t)hash & mask;
        while (p->stack_index[j]) j = (j + 1) & mask;
    }
    uint32_t s = p->stack_count++;
    sr__pstack *e = &p->stacks[s];
    memset(e, 0, sizeof *e);
    e->hash = hash;
    e->slot = slot;
    e->depth = (uint32_t)n;
    e->frames = p->frame_count;
    memcpy(&p->frame_pool[p->frame_count], frames, n * sizeof *frames);
    p->frame_count += n;
    p->stack_index[j] = s;
    return s;
}

/* Captures the allocating stack. Not inlined, so the frames to skip are known:
   this function and sr__profiler_on_alloc. */
static SR__NOINLINE uint32_t sr__prof_capture(sr_runtime *rt, sr__profiler *p, uint32_t slot)
{
    void *frames[SR__PROF_MAX_FRAMES];
    size_t n = sr__bt_capture(frames, p->depth + SR__PROF_EXTRA_FRAMES, 2);
    uint32_t s = sr__prof_intern(rt, p, slot, frames, n);
    if (!s) p->stacks_dropped++;
    return s;
}

static inline size_t sr__prof_weight(const sr__profiler *p, size_t charge)
{
    return charge >= p->sample_bytes ? charge : p->sample_bytes;
}

/* Next sampling interval: uniform in [N/2, 3N/2], mean N (xorshift64). */
static int64_t sr__prof_interval(sr__profiler *p)
{
    uint64_t x = p->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p->rng = x;
    uint64_t n = p->sample_bytes;
    uint64_t v = n / 2 + (n ? x % (n + 1) : 0);
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)(v ? v : 1);
}

/* ---- the heap's hooks ---------------------------------------------------------------- *
 * The hot path of profiling: a counter update, a countdown and a table insert
 * or removal. GCC's SLP vectorizer would pair adjacent counter updates into
 * 16-byte loads right after 8-byte stores of the previous call (a store
 * forwarding stall that doubled the cost of a pair), so it is off here. */

#if defined(__GNUC__) && !defined(__clang__)
#  define SR__PROF_HOT __attribute__((optimize("no-tree-slp-vectorize")))
#else
#  define SR__PROF_HOT
#endif

static SR__NOINLINE uint32_t sr__prof_sample(sr_runtime *rt, sr__profiler *p, uint32_t slot)
{
    uint32_t stack = sr__prof_capture(rt, p, slot);
    p->countdown = sr__prof_interval(p);
    return stack;
}

SR__PROF_HOT sr__hdr *sr__profiler_alloc_slow(sr_runtime *rt, sr__hdr *h, size_t charge)
{
    sr__profiler *p = rt->prof;
    uint32_t slot = sr__prof_slot_of(h);
    sr__ptype *t = sr__prof_type_for_alloc(rt, p, slot);
    if (SR__UNLIKELY(t == &p->other)) slot = SR__PROF_OTHER_SLOT;
    t->allocations++;
    t->bytes += charge;
    if (t->bytes > t->peak) t->peak = t->bytes;
    uint16_t bits = p->tag;

    uint32_t stack = 0;
    if (p->sample_bytes == 0) {
        stack = sr__prof_capture(rt, p, slot);
    } else {
        p->countdown -= (int64_t)(charge > (size_t)INT64_MAX ? INT64_MAX : charge);
        if (SR__UNLIKELY(p->countdown <= 0)) stack = sr__prof_sample(rt, p, slot);
    }
    if (stack) {
        sr__pblock *b = sr__pb_insert(rt, p, (uintptr_t)h);
        if (SR__LIKELY(b != NULL)) {
            b->stack = stack;
            bits |= SR__PROF_RECORD;
            sr__pstack *s = &p->stacks[stack];
            s->allocations++;
            s->live_count++;
            s->live_bytes += sr__prof_weight(p, charge);
        } else {
            p->untracked++;
        }
    }
    h->flags = (uint16_t)((h->flags & SR__FLAGS_USER_MASK) | bits);
    return h;
}

SR__PROF_HOT sr__hdr *sr__profiler_free_slow(sr_runtime *rt, sr__hdr *h, size_t charge)
{
    sr__profiler *p = rt->prof;
    uint32_t slot = sr__prof_slot_of(h);
    sr__ptype *t = slot < p->type_cap ? &p->types[slot] : &p->other;
    t->frees++;
    t->bytes -= charge;
    sr__prof_leak_free(p, h->flags, slot, charge);

    sr__pblock rec;
    if ((h->flags & SR__PROF_RECORD) && sr__pb_remove(p, (uintptr_t)h, &rec)) {
        sr__pstack *s = &p->stacks[rec.stack];
        s->live_count--;
        s->live_bytes -= sr__prof_weight(p, charge);
    }
    return h;
}

/* ---- lifecycle ----------------------------------------------------------------------- */

sr_status sr__profiler_init(sr_runtime *rt)
{
    rt->prof = NULL;
    if (!rt->cfg.enable_profiling) return SR_OK;
    sr__profiler *p = sr__sys_calloc(rt, 1, sizeof *p);
    if (!p) return SR_ERR_NOMEM;
    p->bytes = sizeof *p;
    p->depth = rt->cfg.profiler_stack_depth ? rt->cfg.profiler_stack_depth : 8;
    if (p->depth > SR__PROF_MAX_FRAMES - SR__PROF_EXTRA_FRAMES) p->depth = SR__PROF_MAX_FRAMES - SR__PROF_EXTRA_FRAMES;
    /* internally 0 means every allocation */
    p->sample_bytes = rt->cfg.profiler_sample_bytes <= SR_PROFILER_EVERY_ALLOCATION ? 0 : rt->cfg.profiler_sample_bytes;
    p->rng = 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)rt;
    p->epoch = 1;
    p->tag = (uint16_t)(1u << SR__PROF_EPOCH_SHIFT);
    p->types = sr__sys_calloc(rt, SR__PROF_INIT_TYPES, sizeof *p->types);
    if (p->types) p->type_alloc = p->type_cap = SR__PROF_INIT_TYPES;
    p->out = sr__sys_calloc(rt, SR__PROF_INIT_TYPES + 1, sizeof *p->out);
    if (p->out) p->out_cap = SR__PROF_INIT_TYPES + 1;
    p->stacks = sr__sys_calloc(rt, SR__PROF_INIT_STACKS, sizeof *p->stacks);
    if (p->stacks) p->stack_cap = SR__PROF_INIT_STACKS;
    p->frame_pool = sr__sys_calloc(rt, SR__PROF_INIT_FRAMES, sizeof *p->frame_pool);
    if (p->frame_pool) p->frame_cap = SR__PROF_INIT_FRAMES;
    p->stack_index = sr__sys_calloc(rt, 2 * SR__PROF_INIT_STACKS, sizeof *p->stack_index);
    if (p->stack_index) p->index_cap = 2 * SR__PROF_INIT_STACKS;
    p->bytes += p->type_alloc * sizeof *p->types + p->out_cap * sizeof *p->out +
                p->stack_cap * sizeof *p->stacks + p->frame_cap * sizeof *p->frame_pool +
                p->index_cap * sizeof *p->stack_index;
    if (!p->types || !p->out || !p->stacks || !p->frame_pool || !p->stack_index ||
        !sr__pb_alloc_table(rt, p, SR__PROF_INIT_BLOCKS)) {
        rt->prof = p;
        sr__profiler_fini(rt);
        return SR_ERR_NOMEM;
    }
    p->stack_count = 1;                    /* entry 0 means "no stack" */
    p->countdown = p->sample_bytes ? sr__prof_interval(p) : 0;
    sr__bt_warm_up();
    rt->prof = p;
    return SR_OK;
}

void sr__profiler_fini(sr_runtime *rt)
{
    sr__profiler *p = rt->prof;
    if (!p) return;
    rt->prof = NULL;
    sr__bt_cache_free(rt, p->bt_cache);
    sr__sys_free(rt, p->types, p->type_alloc * sizeof *p->types);
    sr__sys_free(rt, p->blocks, p->block_cap * sizeof *p->blocks);
    sr__sys_free(rt, p->stacks, (size_t)p->stack_cap * sizeof *p->stacks);
    sr__sys_free(rt, p->stack_index, (size_t)p->index_cap * sizeof *p->stack_index);
    sr__sys_free(rt, p->frame_pool, p->frame_cap * sizeof *p->frame_pool);
    sr__sys_free(rt, p->out, p->out_cap * sizeof *p->out);
    sr__sys_free(rt, p, sizeof *p);
}

void sr__profiler_fill_stats(sr_runtime *rt, sr_stats *out)
{
    out->profiler_bytes = rt->prof ? rt->prof->bytes : 0;
}

void sr__profiler_teardown_report(sr_runtime *rt)
{
    if (!rt->prof || rt->heap.live_objects + rt->heap.live_blocks == 0) return;
    char *text = sr__report_leaks_at_exit(rt);
    static const char fallback[] = "scriptrt: blocks still alive at shutdown (out of memory for the report)\n";
    const char *msg = text ? text : fallback;
    if (rt->cfg.leak_sink) {
        rt->cfg.leak_sink(rt, msg, rt->cfg.leak_sink_ud);
    } else {
        fputs(msg, stderr);
        fflush(stderr);
    }
    free(text);
}

/* Totals over every category. */
static void sr__prof_totals(const sr__profiler *p, uint64_t *allocations, uint64_t *frees)
{
    uint64_t a = p->other.allocations, f = p->other.frees;
    for (uint32_t i = 0; i < p->type_cap; i++) {
        a += p->types[i].allocations;
        f += p->types[i].frees;
    }
    *allocations = a;
    *frees = f;
}

/* Live blocks and bytes now: [0] objects, [1] raw blocks. */
static void sr__prof_live(const sr__profiler *p, size_t count[2], size_t bytes[2])
{
    count[0] = (size_t)(p->other.allocations - p->other.frees);
    bytes[0] = p->other.bytes;
    for (uint32_t i = 1; i < p->type_cap; i++) {
        count[0] += (size_t)(p->types[i].allocations - p->types[i].frees);
        bytes[0] += p->types[i].bytes;
    }
    count[1] = (size_t)(p->types[0].allocations - p->types[0].frees);   /* type_cap >= 1 */
    bytes[1] = p->types[0].bytes;
}

sr__leaks sr__profiler_leaks(const sr__profiler *p)
{
    size_t count[2], bytes[2];
    sr__prof_live(p, count, bytes);
    sr__leaks l;
    l.objects = count[0] - (p->mark_count[0] - p->old_frees[0]);
    l.object_bytes = bytes[0] - (p->mark_bytes[0] - p->old_free_bytes[0]);
    l.raw = count[1] - (p->mark_count[1] - p->old_frees[1]);
    l.raw_bytes = bytes[1] - (p->mark_bytes[1] - p->old_free_bytes[1]);
    return l;
}

/* ---- public API ---------------------------------------------------------------------- */

bool sr_profiler_stats(sr_runtime *rt, sr_profile *out)
{
    if (!rt || !rt->prof || !out) return false;
    sr__profiler *p = rt->prof;
    size_t n = p->out_cap;   /* > type_cap: room for every category and `other` */
    size_t k = 0;
    for (uint32_t i = 0; i <= p->type_cap && k < n; i++) {
        const sr__ptype *t = i < p->type_cap ? &p->types[i] : &p->other;
        if (!t->allocations) continue;
        sr_type_profile *o = &p->out[k++];
        o->type_name = sr__profiler_type_name(rt, i < p->type_cap ? i : SR__PROF_OTHER_SLOT);
        o->allocations = t->allocations;
        o->frees = t->frees;
        o->current_count = (size_t)(t->allocations - t->frees);
        o->current_bytes = t->bytes;
        o->peak_bytes = t->peak;
    }
    memset(out, 0, sizeof *out);
    sr__prof_totals(p, &out->total_allocations, &out->total_frees);
    out->current_memory = rt->heap.used;
    out->peak_memory = rt->heap.peak;
    sr__leaks l = sr__profiler_leaks(p);
    out->potential_leaks = l.objects;
    out->potential_leak_bytes = l.object_bytes;
    out->raw_leaks = l.raw;
    out->raw_leak_bytes = l.raw_bytes;
    out->profiler_bytes = p->bytes;
    out->untracked_blocks = p->untracked;
    out->type_count = k;
    out->types = k ? p->out : NULL;
    return true;
}

static void sr__prof_epoch_reset(sr__hdr *h, void *ctx)
{
    SR__UNUSED(ctx);
    h->flags &= (uint16_t)~SR__PROF_EPOCH_MASK;
}

void sr_profiler_mark(sr_runtime *rt)
{
    if (!rt || !rt->prof) return;
    sr__profiler *p = rt->prof;
    if (p->epoch == SR__PROF_EPOCH_MAX) {
        /* the header holds 7 bits of epoch: every SR__PROF_EPOCH_MAX marks, one
           walk over the heap renumbers every live block to 0, so none aliases
           the new epoch */
        sr__heap_each_live(rt, sr__prof_epoch_reset, NULL);
        p->epoch = 1;
    } else {
        p->epoch++;
    }
    p->tag = (uint16_t)(p->epoch << SR__PROF_EPOCH_SHIFT);
    sr__prof_live(p, p->mark_count, p->mark_bytes);
    p->old_frees[0] = p->old_frees[1] = 0;
    p->old_free_bytes[0] = p->old_free_bytes[1] = 0;
}

bool sr_profiler_check_leaks(sr_runtime *rt)
{
    if (!rt || !rt->prof) return false;
    sr_gc_collect(rt);
    return sr__profiler_leaks(rt->prof).objects > 0;
}

/* ---- views and snapshots ------------------------------------------------------------- */

sr_profiler_snapshot *sr__profiler_view(sr_runtime *rt)
{
    sr__profiler *p = rt->prof;
    sr_profiler_snapshot *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->timestamp_ns = sr__now_ns();
    sr__prof_totals(p, &v->total_allocations, &v->total_frees);
    v->current_memory = rt->heap.used;
    v->peak_memory = rt->heap.peak;
    sr__leaks l = sr__profiler_leaks(p);
    v->potential_leaks = l.objects;
    v->potential_leak_bytes = l.object_bytes;
    v->profiler_bytes = p->bytes;
    v->sample_bytes = p->sample_bytes;
    v->stack_depth = p->depth;
    v->untracked = p->untracked;

    /* types and the bytes their names need */
    size_t nt = 0, name_bytes = 0;
    for (uint32_t i = 0; i <= p->type_cap; i++) {
        const sr__ptype *t = i < p->type_cap ? &p->types[i] : &p->other;
        if (!t->allocations) continue;
        nt++;
        name_bytes += strlen(sr__profiler_type_name(rt, i < p->type_cap ? i : SR__PROF_OTHER_SLOT)) + 1;
    }
    size_t ns = 0, nf = 0;
    for (uint32_t s = 1; s < p->stack_count; s++) {
        if (!p->stacks[s].live_count) continue;
        ns++;
        nf += p->stacks[s].depth;
    }
    v->types = calloc(nt ? nt : 1, sizeof *v->types);
    v->names = malloc(name_bytes ? name_bytes : 1);
    v->stacks = calloc(ns ? ns : 1, sizeof *v->stacks);
    v->frames = calloc(nf ? nf : 1, sizeof *v->frames);
    if (!v->types || !v->names || !v->stacks || !v->frames) {
        sr_profiler_snapshot_free(v);
        return NULL;
    }
    /* slot -> view index, through a small search: types are few */
    char *np = v->names;
    uint32_t *slot_of = calloc(nt ? nt : 1, sizeof *slot_of);
    if (!slot_of) {
        sr_profiler_snapshot_free(v);
        return NULL;
    }
    for (uint32_t i = 0; i <= p->type_cap; i++) {
        const sr__ptype *t = i < p->type_cap ? &p->types[i] : &p->other;
        if (!t->allocations) continue;
        uint32_t slot = i < p->type_cap ? i : SR__PROF_OTHER_SLOT;
        const char *name = sr__profiler_type_name(rt, slot);
        size_t len = strlen(name) + 1;
        memcpy(np, name, len);
        sr_type_profile *o = &v->types[v->type_count];
        slot_of[v->type_count++] = slot;
        o->type_name = np;
        np += len;
        o->allocations = t->allocations;
        o->frees = t->frees;
        o->current_count = (size_t)(t->allocations - t->frees);
        o->current_bytes = t->bytes;
        o->peak_bytes = t->peak;
    }
    void **fp = v->frames;
    for (uint32_t s = 1; s < p->stack_count; s++) {
        const sr__pstack *e = &p->stacks[s];
        if (!e->live_count) continue;
        sr__vstack *o = &v->stacks[v->stack_count++];
        o->type = 0;
        for (size_t k = 0; k < v->type_count; k++)
            if (slot_of[k] == e->slot) { o->type = k; break; }
        o->depth = e->depth;
        o->frames = fp;
        memcpy(fp, &p->frame_pool[e->frames], e->depth * sizeof *fp);
        fp += e->depth;
        o->allocations = e->allocations;
        o->count = e->live_count;
        o->bytes = e->live_bytes;
    }
    free(slot_of);
    return v;
}

sr_profiler_snapshot *sr_profiler_snapshot_take(sr_runtime *rt)
{
    if (!rt || !rt->prof) return NULL;
    return sr__profiler_view(rt);
}

void sr_profiler_snapshot_free(sr_profiler_snapshot *snap)
{
    if (!snap) return;
    free(snap->types);
    free(snap->names);
    free(snap->stacks);
    free(snap->frames);
    free(snap);
}

bool sr_profiler_snapshot_stats(const sr_profiler_snapshot *snap, sr_profile *out)
{
    if (!snap || !out) return false;
    memset(out, 0, sizeof *out);
    out->total_allocations = snap->total_allocations;
    out->total_frees = snap->total_frees;
    out->current_memory = snap->current_memory;
    out->peak_memory = snap->peak_memory;
    out->potential_leaks = snap->potential_leaks;
    out->potential_leak_bytes = snap->potential_leak_bytes;
    out->profiler_bytes = snap->profiler_bytes;
    out->untracked_blocks = snap->untracked;
    out->type_count = snap->type_count;
    out->types = snap->type_count ? snap->types : NULL;
    return true;
}

char *sr_profiler_report(sr_runtime *rt, sr_report_format fmt)
{
    if (!rt || !rt->prof) return NULL;
    if (fmt != SR_REPORT_TEXT && fmt != SR_REPORT_JSON && fmt != SR_REPORT_FOLDED) return NULL;
    sr_profiler_snapshot *v = sr__profiler_view(rt);
    if (!v) return NULL;
    char *s = sr__report_render(rt, v, fmt);
    sr_profiler_snapshot_free(v);
    return s;
}

char *sr_profiler_snapshot_report(const sr_profiler_snapshot *snap, sr_report_format fmt)
{
    if (!snap) return NULL;
    if (fmt != SR_REPORT_TEXT && fmt != SR_REPORT_JSON && fmt != SR_REPORT_FOLDED) return NULL;
    return sr__report_render(NULL, snap, fmt);
}

/* ---- comparing snapshots ------------------------------------------------------------- */

typedef struct sr__diff_key {
    uint64_t hash;
    const sr_profiler_snapshot *snap;
    size_t index;
} sr__diff_key;

static uint64_t sr__diff_hash_stack(const sr_profiler_snapshot *s, const sr__vstack *st)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *c = s->types[st->type].type_name; *c; c++) h = (h ^ (unsigned char)*c) * 0x100000001b3ull;
    return sr__prof_hash_frames((uint32_t)h, st->frames, st->depth) ^ h;
}

static bool sr__diff_same_stack(const sr_profiler_snapshot *a, const sr__vstack *x, const sr_profiler_snapshot *b,
                                const sr__vstack *y)
{
    return x->depth == y->depth && strcmp(a->types[x->type].type_name, b->types[y->type].type_name) == 0 &&
           memcmp(x->frames, y->frames, x->depth * sizeof *x->frames) == 0;
}

static int sr__diff_key_cmp(const void *a, const void *b)
{
    const sr__diff_key *x = a, *y = b;
    return (x->hash > y->hash) - (x->hash < y->hash);
}

static int sr__diff_entry_cmp(const void *a, const void *b)
{
    const sr_profile_diff_entry *x = a, *y = b;
    if (x->bytes_diff != y->bytes_diff) return x->bytes_diff > y->bytes_diff ? -1 : 1;
    if (x->count_diff != y->count_diff) return x->count_diff > y->count_diff ? -1 : 1;
    if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
    return strcmp(x->type_name, y->type_name);
}

static void sr__diff_set(sr_profile_diff_entry *e, const char *name, int64_t c_old, int64_t b_old, size_t c_new,
                         size_t b_new)
{
    e->type_name = name;
    e->count = c_new;
    e->bytes = b_new;
    e->count_diff = (int64_t)c_new - c_old;
    e->bytes_diff = (int64_t)b_new - b_old;
}

sr_profile_diff *sr_profiler_snapshot_compare(const sr_profiler_snapshot *older, const sr_profiler_snapshot *newer)
{
    if (!older || !newer) return NULL;
    struct sr__diff_alloc *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    size_t nt = older->type_count + newer->type_count, ns = older->stack_count + newer->stack_count;
    a->types = calloc(nt ? nt : 1, sizeof *a->types);
    a->stacks = calloc(ns ? ns : 1, sizeof *a->stacks);
    sr__diff_key *keys = calloc(older->stack_count ? older->stack_count : 1, sizeof *keys);
    bool *matched_t = calloc(older->type_count ? older->type_count : 1, sizeof *matched_t);
    bool *matched_s = calloc(older->stack_count ? older->stack_count : 1, sizeof *matched_s);
    if (!a->types || !a->stacks || !keys || !matched_t || !matched_s) {
        free(keys);
        free(matched_t);
        free(matched_s);
        sr_profiler_diff_free(&a->d);
        return NULL;
    }
    sr_profile_diff *d = &a->d;
    d->memory_diff = (int64_t)newer->current_memory - (int64_t)older->current_memory;
    d->allocations_diff = (int64_t)newer->total_allocations - (int64_t)older->total_allocations;
    d->elapsed_ns = newer->timestamp_ns - older->timestamp_ns;
    a->depth = newer->stack_depth ? newer->stack_depth : 8;

    /* by type: few entries, matched by name */
    size_t k = 0;
    for (size_t i = 0; i < newer->type_count; i++) {
        const sr_type_profile *n = &newer->types[i];
        int64_t oc = 0, ob = 0;
        for (size_t j = 0; j < older->type_count; j++) {
            if (matched_t[j] || strcmp(older->types[j].type_name, n->type_name) != 0) continue;
            matched_t[j] = true;
            oc = (int64_t)older->types[j].current_count;
            ob = (int64_t)older->types[j].current_bytes;
            break;
        }
        sr_profile_diff_entry *e = &a->types[k];
        sr__diff_set(e, n->type_name, oc, ob, n->current_count, n->current_bytes);
        if (e->count_diff || e->bytes_diff) k++;
    }
    for (size_t j = 0; j < older->type_count; j++) {
        if (matched_t[j] || !older->types[j].current_count) continue;
        sr__diff_set(&a->types[k++], older->types[j].type_name, (int64_t)older->types[j].current_count,
                     (int64_t)older->types[j].current_bytes, 0, 0);
    }
    d->type_count = k;

    /* by stack: older stacks sorted by hash, each newer one looked up */
    for (size_t j = 0; j < older->stack_count; j++) {
        keys[j].hash = sr__diff_hash_stack(older, &older->stacks[j]);
        keys[j].index = j;
    }
    qsort(keys, older->stack_count, sizeof *keys, sr__diff_key_cmp);
    k = 0;
    for (size_t i = 0; i < newer->stack_count; i++) {
        const sr__vstack *n = &newer->stacks[i];
        uint64_t h = sr__diff_hash_stack(newer, n);
        size_t lo = 0, hi = older->stack_count;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (keys[mid].hash < h) lo = mid + 1;
            else hi = mid;
        }
        int64_t oc = 0, ob = 0;
        for (; lo < older->stack_count && keys[lo].hash == h; lo++) {
            size_t j = keys[lo].index;
            if (matched_s[j] || !sr__diff_same_stack(older, &older->stacks[j], newer, n)) continue;
            matched_s[j] = true;
            oc = (int64_t)older->stacks[j].count;
            ob = (int64_t)older->stacks[j].bytes;
            break;
        }
        sr_profile_diff_entry *e = &a->stacks[k];
        sr__diff_set(e, newer->types[n->type].type_name, oc, ob, n->count, n->bytes);
        e->frames = n->frames;
        e->frame_count = n->depth;
        if (e->count_diff || e->bytes_diff) k++;
    }
    for (size_t j = 0; j < older->stack_count; j++) {
        if (matched_s[j]) continue;
        const sr__vstack *o = &older->stacks[j];
        sr_profile_diff_entry *e = &a->stacks[k++];
        sr__diff_set(e, older->types[o->type].type_name, (int64_t)o->count, (int64_t)o->bytes, 0, 0);
        e->frames = o->frames;
        e->frame_count = o->depth;
    }
    d->stack_count = k;
    qsort(a->types, d->type_count, sizeof *a->types, sr__diff_entry_cmp);
    qsort(a->stacks, d->stack_count, sizeof *a->stacks, sr__diff_entry_cmp);
    d->types = a->types;
    d->stacks = a->stacks;
    free(keys);
    free(matched_t);
    free(matched_s);
    return d;
}

void sr_profiler_diff_free(sr_profile_diff *diff)
{
    if (!diff) return;
    struct sr__diff_alloc *a = (struct sr__diff_alloc *)(void *)diff;
    free(a->types);
    free(a->stacks);
    free(a);
}
