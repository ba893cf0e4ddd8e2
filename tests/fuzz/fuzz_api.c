/*
 * fuzz_api.c - decodes bytes into a sequence of scriptrt API calls and checks
 * every step against a reference model.
 *
 * Input format
 * ------------
 * Three header bytes choose the configuration (profiling, collector on/off,
 * automatic-collection threshold, panic handler, initial heap limit, stress
 * mode, whether the end leaves objects to the teardown). Every following
 * byte is an opcode; an opcode reads its operands from the next bytes (a
 * missing byte reads as 0). Unknown structure never matters: every byte
 * string is a valid program.
 *
 * The model
 * ---------
 * The model knows every object the program made (its type kind, charge, REF
 * slots, reference count, whether it is alive), the host's references (a
 * table of slots, each holding one reference), raw blocks, weak handles and
 * the heap limit. Reference counting is modelled exactly: a count reaching
 * zero frees the object and releases its slots, iteratively. A collection
 * frees exactly the objects not reachable from the host's references; the
 * runtime may run one inside any allocating call (automatic threshold, stress
 * mode, emergency at the limit), so after each such call the model looks at
 * sr_stats.gc_collections and, when it moved, collects too (every collection
 * runs before the call's own allocation, and no call in between changes the
 * graph).
 *
 * After every step the checker compares: heap_used (sum of the documented
 * charges: objects 16 + payload rounded to their size class, raw blocks by
 * sr_alloc_charge, weak handles as 32-byte raw blocks) and heap_used <= limit,
 * live_objects, live_blocks, failed_allocations, gc_objects_collected, panics,
 * every live object's count, type and slots, the bytes of every raw block,
 * and that each finalize ran exactly once for each dead object of a type that
 * has one (never for a live one). Finalizers also check that weak references
 * to their object are cleared and that the object's children are not freed
 * yet. At the end the program either releases everything (heap_used back to
 * its baseline) or leaves it to sr_runtime_free; either way the underlying
 * allocator must get every byte back.
 */
#include "fuzz_api.h"

#include <scriptrt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_MAX_OBJS  2048u
#define FZ_HOST      32u
#define FZ_RAWS      16u
#define FZ_WEAKS     16u
#define FZ_TYPES     16u
#define FZ_TEMP      8u
#define FZ_SLOTS     4u
#define FZ_MAGIC     0x5eedf00du
#define FZ_WEAK_CHARGE 48u   /* 16-byte header + 32-byte handle: class 48 */

/* ---- a counting underlying allocator ---------------------------------------------------- */

typedef union { size_t size; max_align_t align; } fz_prefix;
typedef struct fz_sys { size_t live_bytes, live_blocks; } fz_sys;

static void *fz_malloc(size_t size, void *ud)
{
    fz_sys *s = ud;
    fz_prefix *p = malloc(sizeof *p + size);
    if (!p) return NULL;
    p->size = size;
    s->live_bytes += size;
    s->live_blocks++;
    return p + 1;
}

static void *fz_realloc(void *ptr, size_t size, void *ud)
{
    fz_sys *s = ud;
    if (!ptr) return fz_malloc(size, ud);
    fz_prefix *p = (fz_prefix *)ptr - 1;
    size_t old = p->size;
    fz_prefix *n = realloc(p, sizeof *n + size);
    if (!n) return NULL;
    n->size = size;
    s->live_bytes = s->live_bytes - old + size;
    return n + 1;
}

static void fz_free(void *ptr, void *ud)
{
    fz_sys *s = ud;
    if (!ptr) return;
    fz_prefix *p = (fz_prefix *)ptr - 1;
    s->live_bytes -= p->size;
    s->live_blocks--;
    free(p);
}

/* ---- type kinds -------------------------------------------------------------------------- *
 * Payload: [0] u64 tag (FZ_MAGIC << 32 | model index), [8] the model (PTR),
 * [16..] up to four object slots, REF fields and/or slots reported by trace. */

enum {
    K_LEAF,       /* no slots, no finalize: the acyclic fast path */
    K_LEAF_FIN,   /* no slots, finalize */
    K_PAIR,       /* REF fields at 16, 24; finalize */
    K_TRACED,     /* trace reports 16, 24, 32, 40; finalize */
    K_MIXED,      /* REF field at 16, trace reports 24; no finalize */
    K_FIN_ALLOC,  /* REF fields at 16, 24; finalize allocates a raw block the host keeps */
    K_FIN_PANIC,  /* REF fields at 16, 24; finalize panics while armed */
    K_COUNT
};

static const unsigned fz_kind_slots[K_COUNT] = { 0, 0, 2, 4, 2, 2, 2 };
static const size_t fz_kind_size[K_COUNT] = { 16, 16, 32, 48, 32, 32, 32 };
static const bool fz_kind_fin[K_COUNT] = { false, true, true, true, false, true, true };

typedef struct fz_obj {
    void *p;
    size_t charge;
    uint32_t kind, tid;
    int slot[FZ_SLOTS];     /* model index of each slot's target, -1 = NULL */
    uint32_t rc;
    uint32_t fin_runs;
    uint64_t seq;           /* allocation order, for the profiler's leak baseline */
    bool alive;
    bool mark;              /* scratch: reachable */
} fz_obj;

typedef struct fz_raw { unsigned char *p; size_t size, charge; bool large; unsigned char fill; } fz_raw;
typedef struct fz_weak { sr_weak *w; int target; } fz_weak;

typedef struct fz_model {
    sr_runtime *rt;
    fz_sys sys;
    const uint8_t *in;
    size_t len, pos;
    unsigned step;
    bool profiling, gc_on;
    bool trace;             /* SR_FUZZ_TRACE set: one line per step */
    /* model state */
    fz_obj objs[FZ_MAX_OBJS];
    unsigned nobjs;
    int host[FZ_HOST];
    int temp[FZ_TEMP];      /* references held by a protected block */
    fz_raw raws[FZ_RAWS];
    fz_raw temp_raws[FZ_TEMP];
    fz_weak weaks[FZ_WEAKS];
    sr_type_id types[FZ_TYPES];
    uint32_t type_kind[FZ_TYPES];
    unsigned ntypes;
    size_t limit;
    uint64_t failed, gc_collected, gc_seen, panics;
    uint64_t seq, mark_seq;
    unsigned reports;
    uint64_t hooks;         /* panic hook calls */
    bool handler_on;
    sr_profiler_snapshot *snap;
    size_t snap_used;
    bool reports_allowed;   /* rendering reports (and the teardown's leak report) */
    /* finalizer behaviour */
    bool arm_panic;
    unsigned fin_panics;
    bool teardown;
    int work[FZ_MAX_OBJS];
} fz_model;

static void fz_fail(fz_model *m, const char *fmt, ...) SR_PRINTF(2, 3);
static void fz_fail(fz_model *m, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "scriptrt fuzz: mismatch at step %u (input byte %zu): ", m->step, m->pos);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

#define FZ_CHECK(m, cond, ...) do { if (!(cond)) fz_fail((m), __VA_ARGS__); } while (0)

static uint8_t fz_byte(fz_model *m) { return m->pos < m->len ? m->in[m->pos++] : 0; }

/* ---- charges (docs/memory.md) ------------------------------------------------------------- */

static const uint32_t fz_classes[] = { 16, 24, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
                                       448, 512, 640, 768, 896, 1024, 1280, 1536, 1792, 2048 };

static size_t fz_round16(size_t n) { return (n + 15u) & ~(size_t)15u; }

static size_t fz_block_charge(size_t total)
{
    if (total <= 2048) {
        for (size_t i = 0; i < sizeof fz_classes / sizeof fz_classes[0]; i++)
            if (fz_classes[i] >= total) return fz_classes[i];
    }
    return 32 + fz_round16(total);
}

static size_t fz_obj_charge(size_t payload) { return fz_block_charge(16 + payload); }

static size_t fz_used(const fz_model *m)
{
    size_t used = 0;
    for (unsigned i = 0; i < m->nobjs; i++)
        if (m->objs[i].alive) used += m->objs[i].charge;
    for (unsigned i = 0; i < FZ_RAWS; i++)
        if (m->raws[i].p) used += m->raws[i].charge;
    for (unsigned i = 0; i < FZ_TEMP; i++)
        if (m->temp_raws[i].p) used += m->temp_raws[i].charge;
    for (unsigned i = 0; i < FZ_WEAKS; i++)
        if (m->weaks[i].w) used += FZ_WEAK_CHARGE;
    return used;
}

static bool fz_fits(const fz_model *m, size_t charge)
{
    size_t used = fz_used(m);
    return m->limit == 0 || (charge <= m->limit && used <= m->limit - charge);
}

/* ---- object payload access ----------------------------------------------------------------- */

static void **fz_slot_ptr(void *obj, unsigned i) { return (void **)(void *)((char *)obj + 16 + 8 * i); }

static uint64_t fz_tag(const void *obj)
{
    uint64_t t;
    memcpy(&t, obj, sizeof t);
    return t;
}

static int fz_index_of(const void *obj)
{
    uint64_t t = fz_tag(obj);
    if ((t >> 32) != FZ_MAGIC) return -1;
    return (int)(t & 0xffffffffu);
}

/* ---- the reference-counting model ----------------------------------------------------------- */

/* Drops one reference to object i; a count reaching zero frees it and
   releases its slots (explicit work list). */
static void fz_model_release(fz_model *m, int i)
{
    unsigned n = 0;
    m->work[n++] = i;
    while (n) {
        fz_obj *o = &m->objs[m->work[--n]];
        if (!o->alive || o->rc == 0) fz_fail(m, "model: release of a dead object");
        if (--o->rc > 0) continue;
        o->alive = false;
        for (unsigned s = 0; s < fz_kind_slots[o->kind]; s++)
            if (o->slot[s] >= 0) m->work[n++] = o->slot[s];
    }
}

/* Frees every object not reachable from the host's (and protected blocks')
   references; returns how many. Live children of garbage lose one count per
   edge. */
static size_t fz_model_collect(fz_model *m)
{
    unsigned n = 0;
    for (unsigned i = 0; i < m->nobjs; i++) m->objs[i].mark = false;
    for (unsigned h = 0; h < FZ_HOST; h++)
        if (m->host[h] >= 0 && !m->objs[m->host[h]].mark) { m->objs[m->host[h]].mark = true; m->work[n++] = m->host[h]; }
    for (unsigned h = 0; h < FZ_TEMP; h++)
        if (m->temp[h] >= 0 && !m->objs[m->temp[h]].mark) { m->objs[m->temp[h]].mark = true; m->work[n++] = m->temp[h]; }
    while (n) {
        fz_obj *o = &m->objs[m->work[--n]];
        for (unsigned s = 0; s < fz_kind_slots[o->kind]; s++) {
            int c = o->slot[s];
            if (c >= 0 && !m->objs[c].mark) { m->objs[c].mark = true; m->work[n++] = c; }
        }
    }
    size_t freed = 0;
    for (unsigned i = 0; i < m->nobjs; i++) {
        fz_obj *o = &m->objs[i];
        if (!o->alive || o->mark) continue;
        for (unsigned s = 0; s < fz_kind_slots[o->kind]; s++) {
            int c = o->slot[s];
            if (c >= 0 && m->objs[c].mark) m->objs[c].rc--;
        }
    }
    for (unsigned i = 0; i < m->nobjs; i++) {
        fz_obj *o = &m->objs[i];
        if (o->alive && !o->mark) {
            if (m->trace) fprintf(stderr, "  model collects object %u (kind %u, %zu bytes)\n", i, o->kind, o->charge);
            o->alive = false;
            o->rc = 0;
            freed++;
        }
    }
    m->gc_collected += freed;
    return freed;
}

static uint64_t fz_collections(fz_model *m)
{
    sr_stats st;
    sr_runtime_stats(m->rt, &st);
    return st.gc_collections;
}

/* After a call that may have collected: if the runtime collected, so does the model. */
static void fz_sync_gc(fz_model *m)
{
    uint64_t c = fz_collections(m);
    if (c != m->gc_seen) {
        FZ_CHECK(m, m->gc_on, "a collection ran with enable_gc == false");
        fz_model_collect(m);
        m->gc_seen = c;
    }
}

/* ---- finalize and trace ------------------------------------------------------------------------ */

static void fz_finalize(sr_runtime *rt, void *obj)
{
    fz_model *m;
    memcpy(&m, (char *)obj + 8, sizeof m);
    int i = fz_index_of(obj);
    if (i < 0 || (unsigned)i >= m->nobjs) fz_fail(m, "finalize on a bad object (tag %llx)", (unsigned long long)fz_tag(obj));
    fz_obj *o = &m->objs[i];
    o->fin_runs++;
    FZ_CHECK(m, o->fin_runs == 1, "object %d finalized %u times", i, o->fin_runs);
    FZ_CHECK(m, rt == m->rt, "finalize got another runtime");
    /* children are not freed before their parent's finalize */
    for (unsigned s = 0; s < fz_kind_slots[o->kind]; s++) {
        void *c = *fz_slot_ptr(obj, s);
        if (c && !m->teardown) FZ_CHECK(m, fz_index_of(c) >= 0, "finalize of %d: child %u already freed", i, s);
    }
    /* weak references to a dying object are cleared before its finalize */
    if (!m->teardown) {
        for (unsigned w = 0; w < FZ_WEAKS; w++)
            if (m->weaks[w].w && m->weaks[w].target == i)
                FZ_CHECK(m, sr_weak_upgrade(m->weaks[w].w) == NULL, "finalize of %d: weak reference not cleared", i);
    }
    if (o->kind == K_FIN_ALLOC && !m->teardown) {
        unsigned char *p = sr_alloc(rt, 40);
        if (!p) {
            m->failed++;
        } else {
            unsigned r = 0;
            while (r < FZ_RAWS && m->raws[r].p) r++;
            if (r == FZ_RAWS) {
                sr_free(rt, p);
            } else {
                memset(p, 0xa0 + (int)r, 40);
                m->raws[r] = (fz_raw){ p, 40, sr_alloc_charge(40), false, (unsigned char)(0xa0 + r) };
            }
        }
    }
    if (o->kind == K_FIN_ALLOC && !m->teardown) {
        /* a weak reference to the dying object itself: refused in a cascade
           (the object is dead), allowed in a collection; either way it must
           read as gone once the object is freed */
        sr_stats before;
        sr_runtime_stats(rt, &before);
        sr_weak *wk = sr_weak_new(rt, obj);
        sr_stats after;
        sr_runtime_stats(rt, &after);
        m->failed += after.failed_allocations - before.failed_allocations;
        if (wk) {
            unsigned w = 0;
            while (w < FZ_WEAKS && m->weaks[w].w) w++;
            if (w == FZ_WEAKS) sr_weak_free(rt, wk);
            else m->weaks[w] = (fz_weak){ wk, i };
        }
    }
    if (o->kind == K_FIN_PANIC && m->arm_panic) {
        m->fin_panics++;
        sr_panic(rt, "finalizer of object %d panics", i);
    }
}

static void fz_trace_traced(void *obj, sr_visit_fn visit, void *ctx)
{
    for (unsigned s = 0; s < 4; s++) visit(fz_slot_ptr(obj, s), ctx);
}

static void fz_trace_mixed(void *obj, sr_visit_fn visit, void *ctx) { visit(fz_slot_ptr(obj, 1), ctx); }

static const sr_field fz_fields_leaf[] = { { "tag", 0, SR_FIELD_I64 }, { "model", 8, SR_FIELD_PTR } };
static const sr_field fz_fields_pair[] = { { "tag", 0, SR_FIELD_I64 }, { "model", 8, SR_FIELD_PTR },
                                           { "a", 16, SR_FIELD_REF }, { "b", 24, SR_FIELD_REF } };
static const sr_field fz_fields_mixed[] = { { "tag", 0, SR_FIELD_I64 }, { "model", 8, SR_FIELD_PTR },
                                            { "a", 16, SR_FIELD_REF } };

static sr_type fz_type_of_kind(uint32_t kind)
{
    sr_type t = { 0 };
    t.size = fz_kind_size[kind];
    switch (kind) {
    case K_LEAF: case K_LEAF_FIN: case K_TRACED:
        t.fields = fz_fields_leaf; t.field_count = 2; break;
    case K_MIXED:
        t.fields = fz_fields_mixed; t.field_count = 3; break;
    default:
        t.fields = fz_fields_pair; t.field_count = 4; break;
    }
    if (kind == K_TRACED) t.trace = fz_trace_traced;
    if (kind == K_MIXED) t.trace = fz_trace_mixed;
    if (fz_kind_fin[kind]) t.finalize = fz_finalize;
    return t;
}

/* ---- the checker ---------------------------------------------------------------------------------- */

static void fz_check(fz_model *m)
{
    sr_stats st;
    sr_runtime_stats(m->rt, &st);
    size_t used = fz_used(m);
    FZ_CHECK(m, st.heap_used == used, "heap_used %zu, model %zu", st.heap_used, used);
    FZ_CHECK(m, st.heap_limit == m->limit, "heap_limit %zu, model %zu", st.heap_limit, m->limit);
    FZ_CHECK(m, m->limit == 0 || st.heap_used <= m->limit, "heap_used %zu above the limit %zu", st.heap_used, m->limit);
    FZ_CHECK(m, st.heap_peak >= st.heap_used, "heap_peak %zu below heap_used %zu", st.heap_peak, st.heap_used);
    size_t live = 0, blocks = 0;
    for (unsigned i = 0; i < m->nobjs; i++) live += m->objs[i].alive;
    for (unsigned i = 0; i < FZ_RAWS; i++) blocks += m->raws[i].p != NULL;
    for (unsigned i = 0; i < FZ_TEMP; i++) blocks += m->temp_raws[i].p != NULL;
    for (unsigned i = 0; i < FZ_WEAKS; i++) blocks += m->weaks[i].w != NULL;
    FZ_CHECK(m, st.live_objects == live, "live_objects %zu, model %zu", st.live_objects, live);
    FZ_CHECK(m, st.live_blocks == blocks, "live_blocks %zu, model %zu", st.live_blocks, blocks);
    FZ_CHECK(m, st.allocations - st.frees == st.live_objects + st.live_blocks,
             "allocations %llu - frees %llu != %zu live", (unsigned long long)st.allocations,
             (unsigned long long)st.frees, st.live_objects + st.live_blocks);
    FZ_CHECK(m, st.failed_allocations == m->failed, "failed_allocations %llu, model %llu",
             (unsigned long long)st.failed_allocations, (unsigned long long)m->failed);
    FZ_CHECK(m, st.gc_objects_collected == m->gc_collected, "gc_objects_collected %llu, model %llu",
             (unsigned long long)st.gc_objects_collected, (unsigned long long)m->gc_collected);
    FZ_CHECK(m, st.gc_collections == m->gc_seen, "gc_collections %llu, model saw %llu",
             (unsigned long long)st.gc_collections, (unsigned long long)m->gc_seen);
    FZ_CHECK(m, st.panics == m->panics, "panics %llu, model %llu", (unsigned long long)st.panics,
             (unsigned long long)m->panics);
    FZ_CHECK(m, m->hooks == (m->handler_on ? m->panics : 0), "hook ran %llu times for %llu panics",
             (unsigned long long)m->hooks, (unsigned long long)m->panics);
    if (!m->gc_on) FZ_CHECK(m, sr_gc_collect(m->rt) == 0, "sr_gc_collect with the collector off freed objects");

    /* counts recomputed from the edges agree with the incremental ones */
    uint32_t *in = calloc(m->nobjs ? m->nobjs : 1, sizeof *in);
    if (!in) abort();
    for (unsigned h = 0; h < FZ_HOST; h++) if (m->host[h] >= 0) in[m->host[h]]++;
    for (unsigned h = 0; h < FZ_TEMP; h++) if (m->temp[h] >= 0) in[m->temp[h]]++;
    for (unsigned i = 0; i < m->nobjs; i++) {
        const fz_obj *o = &m->objs[i];
        if (!o->alive) continue;
        for (unsigned s = 0; s < fz_kind_slots[o->kind]; s++) if (o->slot[s] >= 0) in[o->slot[s]]++;
    }
    for (unsigned i = 0; i < m->nobjs; i++) {
        const fz_obj *o = &m->objs[i];
        if (o->alive) {
            FZ_CHECK(m, o->rc == in[i], "model: object %u count %u, edges %u", i, o->rc, in[i]);
            FZ_CHECK(m, sr_rc_count(o->p) == o->rc, "object %u: count %zu, model %u", i, sr_rc_count(o->p), o->rc);
            FZ_CHECK(m, sr_rc_type(o->p) == o->tid, "object %u: type %u, model %u", i, (unsigned)sr_rc_type(o->p), o->tid);
            FZ_CHECK(m, fz_index_of(o->p) == (int)i, "object %u: payload tag overwritten", i);
            for (unsigned s = 0; s < fz_kind_slots[o->kind]; s++) {
                void *want = o->slot[s] >= 0 ? m->objs[o->slot[s]].p : NULL;
                FZ_CHECK(m, *fz_slot_ptr(o->p, s) == want, "object %u slot %u changed", i, s);
            }
            FZ_CHECK(m, o->fin_runs == 0, "live object %u was finalized", i);
        } else if (fz_kind_fin[o->kind]) {
            FZ_CHECK(m, o->fin_runs == 1, "dead object %u finalized %u times", i, o->fin_runs);
        }
    }
    free(in);
    for (unsigned r = 0; r < FZ_RAWS; r++) {
        const fz_raw *b = &m->raws[r];
        if (!b->p) continue;
        size_t n = b->size < 64 ? b->size : 64;
        for (size_t k = 0; k < n; k++)
            FZ_CHECK(m, b->p[k] == b->fill, "raw block %u byte %zu changed", r, k);
    }
}

/* ---- host-side helpers ------------------------------------------------------------------------------ */

static int fz_free_host(fz_model *m, unsigned start)
{
    for (unsigned k = 0; k < FZ_HOST; k++) {
        unsigned h = (start + k) % FZ_HOST;
        if (m->host[h] < 0) return (int)h;
    }
    return -1;
}

static int fz_pick_host(fz_model *m, unsigned start)
{
    for (unsigned k = 0; k < FZ_HOST; k++) {
        unsigned h = (start + k) % FZ_HOST;
        if (m->host[h] >= 0) return (int)h;
    }
    return -1;
}

/* Makes an object of registered type t (index into m->types); returns its
   model index or -1 when the runtime refused (checked against the model). */
static int fz_new(fz_model *m, unsigned t, size_t extra, bool sized)
{
    if (m->nobjs == FZ_MAX_OBJS) return -1;
    uint32_t kind = m->type_kind[t];
    size_t size = fz_kind_size[kind] + extra;
    void *p = sized ? sr_rc_new_sized(m->rt, m->types[t], size) : sr_rc_new(m->rt, m->types[t]);
    fz_sync_gc(m);
    size_t charge = fz_obj_charge(size);
    bool fits = fz_fits(m, charge);
    FZ_CHECK(m, (p != NULL) == fits, "new of %zu bytes: runtime %s, model %s (used %zu, limit %zu)", size,
             p ? "allocated" : "refused", fits ? "fits" : "refuses", fz_used(m), m->limit);
    if (!p) { m->failed++; return -1; }
    unsigned i = m->nobjs++;
    fz_obj *o = &m->objs[i];
    memset(o, 0, sizeof *o);
    o->p = p;
    o->charge = charge;
    o->kind = kind;
    o->tid = m->types[t];
    o->rc = 1;
    o->alive = true;
    o->seq = ++m->seq;
    for (unsigned s = 0; s < FZ_SLOTS; s++) o->slot[s] = -1;
    for (size_t k = 0; k < size; k++)
        FZ_CHECK(m, ((unsigned char *)p)[k] == 0, "new object payload byte %zu not zeroed", k);
    uint64_t tag = ((uint64_t)FZ_MAGIC << 32) | i;
    memcpy(p, &tag, sizeof tag);
    memcpy((char *)p + 8, &m, sizeof m);
    return (int)i;
}

static void fz_host_release(fz_model *m, unsigned h)
{
    int i = m->host[h];
    m->host[h] = -1;
    sr_rc_release(m->rt, m->objs[i].p);
    fz_model_release(m, i);
}

/* ---- protected steps ---------------------------------------------------------------------------------- */

typedef struct fz_prot {
    fz_model *m;
    unsigned h;              /* PROT_RELEASE: host slot */
    unsigned count, mode;    /* PROT_BLOCK */
    unsigned t[FZ_TEMP];
    size_t raw_size[FZ_TEMP];
    bool nomem;              /* the model expects an SR_PANIC_NOMEM */
    size_t collected;
} fz_prot;

static void fz_prot_release(sr_runtime *rt, void *arg)
{
    fz_prot *a = arg;
    sr_rc_release(rt, a->m->objs[a->h].p);   /* a->h: the model index here */
}

static void fz_prot_collect(sr_runtime *rt, void *arg)
{
    fz_prot *a = arg;
    a->collected = sr_gc_collect(rt);
}

static void fz_cleanup_free(sr_runtime *rt, void *arg) { sr_free(rt, arg); }

/* Predicts an allocation inside a protected block before it is made (a
   refusal panics, so there is no "after"): when it does not fit now, the
   runtime runs an emergency collection first, and so does the model. */
static void fz_expect_alloc(fz_model *m, fz_prot *a, size_t charge)
{
    fz_sync_gc(m);
    if (!fz_fits(m, charge) && m->gc_on) fz_model_collect(m);
    if (!fz_fits(m, charge)) { a->nomem = true; m->failed++; }
}

static void fz_prot_block(sr_runtime *rt, void *arg)
{
    fz_prot *a = arg;
    fz_model *m = a->m;
    unsigned pushed = 0;
    for (unsigned k = 0; k < a->count; k++) {
        sr_frame_push(rt, "fuzz_block", "fuzz_api.c", (int)k + 1);
        if (a->t[k] < m->ntypes && m->nobjs < FZ_MAX_OBJS) {
            uint32_t kind = m->type_kind[a->t[k]];
            fz_expect_alloc(m, a, fz_obj_charge(fz_kind_size[kind]));
            void *p = sr_rc_new_or_panic(rt, m->types[a->t[k]]);
            FZ_CHECK(m, !a->nomem, "sr_rc_new_or_panic returned where the model expected a panic");
            fz_sync_gc(m);
            unsigned i = m->nobjs++;
            fz_obj *o = &m->objs[i];
            memset(o, 0, sizeof *o);
            o->p = p;
            o->charge = fz_obj_charge(fz_kind_size[kind]);
            o->kind = kind;
            o->tid = m->types[a->t[k]];
            o->rc = 1;
            o->alive = true;
            o->seq = ++m->seq;
            for (unsigned s = 0; s < FZ_SLOTS; s++) o->slot[s] = -1;
            uint64_t tag = ((uint64_t)FZ_MAGIC << 32) | i;
            memcpy(p, &tag, sizeof tag);
            memcpy((char *)p + 8, &m, sizeof m);
            m->temp[k] = (int)i;
            sr_cleanup_release(rt, p);
        } else {
            size_t size = a->raw_size[k];
            fz_expect_alloc(m, a, sr_alloc_charge(size));
            unsigned char *p = sr_alloc_or_panic(rt, size);
            FZ_CHECK(m, !a->nomem, "sr_alloc_or_panic returned where the model expected a panic");
            fz_sync_gc(m);
            m->temp_raws[k] = (fz_raw){ p, size, sr_alloc_charge(size), false, 0 };
            sr_cleanup_push(rt, fz_cleanup_free, p);
        }
        pushed++;
        fz_check(m);
    }
    if (a->mode == 1) {
        /* pop everything, running it; the frames too */
        for (unsigned k = 0; k < pushed; k++) {
            sr_cleanup_pop(rt, true);
            sr_frame_pop(rt);
        }
    } else if (a->mode == 2) {
        sr_panic(rt, "fuzz panic after %u entries", pushed);
    }
    /* mode 0: return with the entries still pushed: they run on the way out */
}

/* ---- opcodes ----------------------------------------------------------------------------------------- */

enum {
    OP_REGISTER, OP_NEW, OP_NEW_SIZED, OP_RETAIN, OP_RELEASE, OP_SET, OP_CLEAR,
    OP_WEAK_NEW, OP_WEAK_UPGRADE, OP_WEAK_FREE, OP_COLLECT, OP_ALLOC, OP_REALLOC,
    OP_FREE, OP_PROT_BLOCK, OP_PROT_RELEASE, OP_PROT_COLLECT, OP_PROF, OP_LIMIT,
    OP_BAD_INPUT, OP_DOUBLE_RELEASE, OP_DESCRIBE, OP_SNAPSHOT, OP_COUNT
};

static void fz_op_register(fz_model *m)
{
    uint8_t b = fz_byte(m);
    uint32_t kind = b % K_COUNT;
    char name[32];
    if (m->ntypes > 0 && (b & 0x80)) {
        /* a duplicate name is refused */
        snprintf(name, sizeof name, "fz%u", 0u);
        sr_type t = fz_type_of_kind(kind);
        t.name = name;
        sr_type_id id = 99;
        FZ_CHECK(m, sr_type_register(m->rt, &t, &id) == SR_ERR_INVALID, "duplicate type name accepted");
        return;
    }
    if (m->ntypes == FZ_TYPES) return;
    snprintf(name, sizeof name, "fz%u", m->ntypes);
    sr_type t = fz_type_of_kind(kind);
    t.name = name;
    sr_type_id id = SR_TYPE_NONE;
    FZ_CHECK(m, sr_type_register(m->rt, &t, &id) == SR_OK, "sr_type_register refused %s", name);
    FZ_CHECK(m, id != SR_TYPE_NONE && sr_type_find(m->rt, name) == id, "type %s not found by name", name);
    const sr_type *got = sr_type_get(m->rt, id);
    FZ_CHECK(m, got && got->size == t.size && strcmp(got->name, name) == 0, "sr_type_get(%s) differs", name);
    m->types[m->ntypes] = id;
    m->type_kind[m->ntypes] = kind;
    m->ntypes++;
}

static void fz_op_new(fz_model *m, bool sized)
{
    uint8_t b = fz_byte(m), c = sized ? fz_byte(m) : 0;
    if (m->ntypes == 0) return;
    int h = fz_free_host(m, b);
    if (h < 0) return;
    size_t extra = 0;
    if (sized) extra = (c & 0x80) ? (size_t)(c & 0x7f) * 64u : (size_t)(c & 0x7f);
    int i = fz_new(m, b % m->ntypes, extra, sized);
    if (i >= 0) m->host[h] = i;
}

static void fz_op_set(fz_model *m, bool clear)
{
    uint8_t a = fz_byte(m), s = fz_byte(m), d = clear ? 0 : fz_byte(m);
    int hs = fz_pick_host(m, a);
    if (hs < 0) return;
    fz_obj *src = &m->objs[m->host[hs]];
    unsigned nslots = fz_kind_slots[src->kind];
    if (nslots == 0) return;
    unsigned slot = s % nslots;
    int hd = clear ? -1 : fz_pick_host(m, d);
    int dst = hd >= 0 ? m->host[hd] : -1;
    void **sp = fz_slot_ptr(src->p, slot);
    void *old = *sp;
    int old_i = src->slot[slot];
    /* the host's protocol: retain the new value, store, release the old one */
    if (dst >= 0) { sr_rc_retain(m->objs[dst].p); m->objs[dst].rc++; }
    *sp = dst >= 0 ? m->objs[dst].p : NULL;
    src->slot[slot] = dst;
    if (old) {
        sr_rc_release(m->rt, old);
        fz_model_release(m, old_i);
    }
}

static void fz_op_weak_new(fz_model *m)
{
    uint8_t a = fz_byte(m);
    int h = fz_pick_host(m, a);
    if (h < 0) return;
    unsigned w = 0;
    while (w < FZ_WEAKS && m->weaks[w].w) w++;
    if (w == FZ_WEAKS) return;
    int i = m->host[h];
    sr_weak *wk = sr_weak_new(m->rt, m->objs[i].p);
    fz_sync_gc(m);
    bool fits = fz_fits(m, FZ_WEAK_CHARGE);
    FZ_CHECK(m, (wk != NULL) == fits, "sr_weak_new: runtime %s, model %s", wk ? "made it" : "refused",
             fits ? "fits" : "refuses");
    if (!wk) { m->failed++; return; }
    /* a finalizer run by a collection inside sr_weak_new may have taken slot w */
    w = 0;
    while (w < FZ_WEAKS && m->weaks[w].w) w++;
    if (w == FZ_WEAKS) { sr_weak_free(m->rt, wk); return; }
    m->weaks[w] = (fz_weak){ wk, i };
}

static void fz_op_weak_upgrade(fz_model *m)
{
    uint8_t a = fz_byte(m);
    fz_weak *w = &m->weaks[a % FZ_WEAKS];
    if (!w->w) return;
    void *p = sr_weak_upgrade(w->w);
    bool alive = m->objs[w->target].alive;
    FZ_CHECK(m, (p != NULL) == alive, "sr_weak_upgrade: %s, but the target is %s", p ? "an object" : "NULL",
             alive ? "alive" : "dead");
    if (!p) return;
    FZ_CHECK(m, p == m->objs[w->target].p, "sr_weak_upgrade returned another object");
    m->objs[w->target].rc++;
    int h = fz_free_host(m, a);
    if (h >= 0) {
        m->host[h] = w->target;
    } else {
        sr_rc_release(m->rt, p);
        fz_model_release(m, w->target);
    }
}

static void fz_op_collect(fz_model *m)
{
    size_t n = sr_gc_collect(m->rt);
    if (!m->gc_on) {
        FZ_CHECK(m, n == 0, "sr_gc_collect with the collector off returned %zu", n);
        return;
    }
    uint64_t c = fz_collections(m);
    FZ_CHECK(m, c == m->gc_seen + 1, "sr_gc_collect ran %llu collections", (unsigned long long)(c - m->gc_seen));
    m->gc_seen = c;
    size_t want = fz_model_collect(m);
    FZ_CHECK(m, n == want, "sr_gc_collect freed %zu objects, model %zu", n, want);
}

static size_t fz_raw_size(uint8_t b)
{
    switch (b >> 6) {
    case 0: return b & 63;                  /* 0..63 */
    case 1: return (size_t)(b & 63) * 16;   /* up to 1008 */
    case 2: return 2000 + (size_t)(b & 63); /* around the small/large border */
    default: return (size_t)(b & 63) * 512; /* large */
    }
}

static void fz_op_alloc(fz_model *m)
{
    uint8_t a = fz_byte(m);
    unsigned r = 0;
    while (r < FZ_RAWS && m->raws[r].p) r++;
    if (r == FZ_RAWS) return;
    size_t size = fz_raw_size(a);
    unsigned char *p = sr_alloc(m->rt, size);
    fz_sync_gc(m);
    size_t charge = sr_alloc_charge(size);
    FZ_CHECK(m, charge == fz_block_charge(16 + fz_round16(size)), "sr_alloc_charge(%zu) = %zu, documented %zu", size,
             charge, fz_block_charge(16 + fz_round16(size)));
    bool fits = fz_fits(m, charge);
    FZ_CHECK(m, (p != NULL) == fits, "sr_alloc(%zu): runtime %s, model %s (used %zu, limit %zu)", size,
             p ? "allocated" : "refused", fits ? "fits" : "refuses", fz_used(m), m->limit);
    if (!p) { m->failed++; return; }
    /* a finalizer run by a collection inside sr_alloc may have taken slot r */
    r = 0;
    while (r < FZ_RAWS && m->raws[r].p) r++;
    if (r == FZ_RAWS) { sr_free(m->rt, p); return; }
    FZ_CHECK(m, ((uintptr_t)p & 15u) == 0, "sr_alloc(%zu) not 16-byte aligned", size);
    FZ_CHECK(m, sr_alloc_usable_size(m->rt, p) >= size, "usable size below the request");
    unsigned char fill = (unsigned char)(0x10 + r);
    memset(p, fill, size);
    m->raws[r] = (fz_raw){ p, size, charge, 16 + fz_round16(size) > 2048, fill };
}

static void fz_op_realloc(fz_model *m)
{
    uint8_t a = fz_byte(m), b = fz_byte(m);
    fz_raw *rw = &m->raws[a % FZ_RAWS];
    if (!rw->p) return;
    size_t size = (a & 0x80) ? 0 : fz_raw_size(b);
    unsigned char *p = sr_realloc(m->rt, rw->p, size);
    if (size == 0) {
        FZ_CHECK(m, p == NULL, "sr_realloc(p, 0) returned a block");
        rw->p = NULL;
        return;
    }
    fz_sync_gc(m);
    size_t total = 16 + fz_round16(size), charge;
    if (!rw->large) charge = total <= rw->charge ? rw->charge : fz_block_charge(total);
    else charge = 32 + total;
    bool large = rw->large || total > 2048;
    size_t used = fz_used(m) - rw->charge;
    bool fits = charge <= rw->charge || m->limit == 0 || (charge <= m->limit && used <= m->limit - charge);
    FZ_CHECK(m, (p != NULL) == fits, "sr_realloc(%zu -> %zu): runtime %s, model %s", rw->size, size,
             p ? "resized" : "refused", fits ? "fits" : "refuses");
    if (!p) { m->failed++; return; }
    size_t keep = rw->size < size ? rw->size : size;
    for (size_t k = 0; k < keep; k++) FZ_CHECK(m, p[k] == rw->fill, "sr_realloc lost byte %zu", k);
    memset(p, rw->fill, size);
    rw->p = p;
    rw->size = size;
    rw->charge = charge;
    rw->large = large;
}

static void fz_op_free(fz_model *m)
{
    uint8_t a = fz_byte(m);
    fz_raw *rw = &m->raws[a % FZ_RAWS];
    if (!rw->p) return;
    sr_free(m->rt, rw->p);
    rw->p = NULL;
}

static void fz_end_block(fz_model *m)
{
    /* a protected block's references and blocks are gone: released by cleanups */
    for (unsigned k = 0; k < FZ_TEMP; k++) {
        if (m->temp[k] >= 0) { int i = m->temp[k]; m->temp[k] = -1; fz_model_release(m, i); }
        m->temp_raws[k].p = NULL;
    }
}

static void fz_op_prot_block(fz_model *m)
{
    uint8_t a = fz_byte(m);
    fz_prot pa = { 0 };
    pa.m = m;
    pa.count = 1 + (a & 3u);
    pa.mode = (a >> 2) % 3u;
    for (unsigned k = 0; k < pa.count; k++) {
        uint8_t b = fz_byte(m);
        pa.t[k] = (b & 0x80) ? FZ_TYPES : (unsigned)(b % (m->ntypes ? m->ntypes : 1));
        pa.raw_size[k] = fz_raw_size(fz_byte(m));
    }
    sr_status st = sr_execute_protected(m->rt, fz_prot_block, &pa);
    fz_end_block(m);
    fz_sync_gc(m);
    bool panicked = pa.nomem || pa.mode == 2;
    FZ_CHECK(m, st == (panicked ? SR_ERR_PANIC : SR_OK), "protected block returned %s", sr_status_name(st));
    if (panicked) {
        m->panics++;
        const sr_panic_info *pi = sr_panic_last(m->rt);
        FZ_CHECK(m, pi != NULL, "no panic record");
        FZ_CHECK(m, pi->kind == (pa.nomem ? SR_PANIC_NOMEM : SR_PANIC_ERROR), "panic kind %s", sr_panic_kind_str(pi->kind));
        if (!pa.nomem) FZ_CHECK(m, strncmp(pi->message, "fuzz panic", 10) == 0, "panic message '%s'", pi->message);
    }
    /* the script frames went with the block: a pop outside is refused */
}

static void fz_op_prot_release(fz_model *m)
{
    uint8_t a = fz_byte(m);
    int h = fz_pick_host(m, a);
    if (h < 0) return;
    fz_prot pa = { 0 };
    pa.m = m;
    pa.h = (unsigned)m->host[h];
    m->host[h] = -1;
    m->arm_panic = true;
    m->fin_panics = 0;
    sr_status st = sr_execute_protected(m->rt, fz_prot_release, &pa);
    m->arm_panic = false;
    fz_model_release(m, (int)pa.h);
    m->panics += m->fin_panics;
    FZ_CHECK(m, st == (m->fin_panics ? SR_ERR_PANIC : SR_OK), "protected release: %s after %u finalizer panics",
             sr_status_name(st), m->fin_panics);
}

static void fz_op_prot_collect(fz_model *m)
{
    fz_prot pa = { 0 };
    pa.m = m;
    m->arm_panic = true;
    m->fin_panics = 0;
    sr_status st = sr_execute_protected(m->rt, fz_prot_collect, &pa);
    m->arm_panic = false;
    m->panics += m->fin_panics;
    fz_sync_gc(m);
    FZ_CHECK(m, st == (m->fin_panics ? SR_ERR_PANIC : SR_OK), "protected collect: %s after %u finalizer panics",
             sr_status_name(st), m->fin_panics);
}

static void fz_op_prof(fz_model *m)
{
    uint8_t a = fz_byte(m);
    sr_profile pr;
    switch (a % 4) {
    case 0:
        sr_profiler_mark(m->rt);
        m->mark_seq = m->seq;
        break;
    case 1: {
        bool ok = sr_profiler_stats(m->rt, &pr);
        FZ_CHECK(m, ok == m->profiling, "sr_profiler_stats returned %d", ok);
        if (!ok) break;
        size_t leaks = 0;
        for (unsigned i = 0; i < m->nobjs; i++) leaks += m->objs[i].alive && m->objs[i].seq > m->mark_seq;
        FZ_CHECK(m, pr.current_memory == fz_used(m), "profile current_memory %zu, model %zu", pr.current_memory, fz_used(m));
        FZ_CHECK(m, pr.potential_leaks == leaks, "potential_leaks %zu, model %zu", pr.potential_leaks, leaks);
        for (size_t t = 0; t < pr.type_count; t++) {
            const sr_type_profile *tp = &pr.types[t];
            sr_type_id id = sr_type_find(m->rt, tp->type_name);
            if (id == SR_TYPE_NONE) continue;
            size_t count = 0, bytes = 0;
            for (unsigned i = 0; i < m->nobjs; i++)
                if (m->objs[i].alive && m->objs[i].tid == id) { count++; bytes += m->objs[i].charge; }
            FZ_CHECK(m, tp->current_count == count && tp->current_bytes == bytes,
                     "profile of %s: %zu objects %zu bytes, model %zu, %zu", tp->type_name, tp->current_count,
                     tp->current_bytes, count, bytes);
        }
        break;
    }
    case 2: {
        bool leaks_found = sr_profiler_check_leaks(m->rt);
        if (!m->profiling) { fz_sync_gc(m); FZ_CHECK(m, !leaks_found, "check_leaks with profiling off"); break; }
        if (m->gc_on) {
            uint64_t c = fz_collections(m);
            FZ_CHECK(m, c > m->gc_seen, "sr_profiler_check_leaks did not collect");
        }
        fz_sync_gc(m);
        size_t leaks = 0;
        for (unsigned i = 0; i < m->nobjs; i++) leaks += m->objs[i].alive && m->objs[i].seq > m->mark_seq;
        FZ_CHECK(m, leaks_found == (leaks > 0), "sr_profiler_check_leaks %d, model %zu leaks", leaks_found, leaks);
        break;
    }
    default: {
        /* symbolizing is slow (a fresh runtime reads the process's modules): one
           report per input, and only in inputs that ask for reports */
        if (m->reports >= 1 || !m->reports_allowed) break;
        m->reports++;
        char *rep = sr_profiler_report(m->rt, (sr_report_format)((a >> 2) % 3));
        FZ_CHECK(m, (rep != NULL) == m->profiling, "sr_profiler_report %s", rep ? "returned a report" : "returned NULL");
        if (rep && (a >> 2) % 3 == SR_REPORT_JSON)
            FZ_CHECK(m, strstr(rep, "\"current_memory\"") != NULL, "JSON report without current_memory");
        free(rep);
        break;
    }
    }
}

static void fz_op_limit(fz_model *m)
{
    uint8_t a = fz_byte(m);
    size_t used = fz_used(m);
    size_t v;
    if (a == 0) v = 0;
    else if (a < 128) v = used + (size_t)a * 16;
    else v = used > (size_t)(a - 127) * 16 ? used - (size_t)(a - 127) * 16 : 16;
    sr_status st = sr_runtime_set_heap_limit(m->rt, v);
    fz_sync_gc(m);
    sr_status want = (v != 0 && fz_used(m) > v) ? SR_ERR_NOMEM : SR_OK;
    FZ_CHECK(m, st == want, "sr_runtime_set_heap_limit(%zu) with %zu used: %s", v, fz_used(m), sr_status_name(st));
    if (st == SR_OK) m->limit = v;
    if (a & 1) {
        /* giving free pages back changes what is reserved, never what is used */
        sr_stats before, after;
        sr_runtime_stats(m->rt, &before);
        size_t released = sr_heap_trim(m->rt);
        sr_runtime_stats(m->rt, &after);
        FZ_CHECK(m, released % 65536 == 0 && after.heap_reserved == before.heap_reserved - released &&
                        after.heap_used == before.heap_used && after.heap_used == fz_used(m),
                 "sr_heap_trim released %zu: reserved %zu -> %zu, used %zu -> %zu", released,
                 before.heap_reserved, after.heap_reserved, before.heap_used, after.heap_used);
    }
}

static void fz_bad_protected(sr_runtime *rt, void *arg) { (void)rt; (void)arg; }

static void fz_op_bad_input(fz_model *m)
{
    uint8_t a = fz_byte(m);
    sr_runtime *rt = m->rt;
    switch (a % 10) {
    case 0: FZ_CHECK(m, sr_rc_new(rt, SR_TYPE_NONE) == NULL, "sr_rc_new(SR_TYPE_NONE)"); break;
    case 1: FZ_CHECK(m, sr_rc_new(rt, (sr_type_id)(m->ntypes + 1000)) == NULL, "sr_rc_new(unknown id)"); break;
    case 2:
        if (m->ntypes) {
            uint32_t kind = m->type_kind[0];
            FZ_CHECK(m, sr_rc_new_sized(rt, m->types[0], fz_kind_size[kind] - 1) == NULL, "new_sized below the type size");
        }
        break;
    case 3:
        sr_rc_release(rt, NULL);
        FZ_CHECK(m, sr_rc_retain(NULL) == NULL && sr_rc_count(NULL) == 0 && sr_rc_type(NULL) == SR_TYPE_NONE, "NULL object");
        break;
    case 4: FZ_CHECK(m, sr_weak_new(rt, NULL) == NULL && sr_weak_upgrade(NULL) == NULL, "weak of NULL"); sr_weak_free(rt, NULL); break;
    case 5: sr_free(rt, NULL); FZ_CHECK(m, sr_alloc(NULL, 8) == NULL, "sr_alloc(NULL rt)"); break;
    case 6:
        FZ_CHECK(m, sr_execute_protected(rt, NULL, NULL) == SR_ERR_INVALID, "protected NULL fn");
        FZ_CHECK(m, sr_execute_protected(NULL, fz_bad_protected, NULL) == SR_ERR_INVALID, "protected NULL rt");
        break;
    case 7: {
        sr_type_id id = 7;
        FZ_CHECK(m, sr_type_register(rt, NULL, &id) == SR_ERR_INVALID, "register NULL type");
        sr_type t = fz_type_of_kind(K_LEAF);
        t.name = NULL;
        FZ_CHECK(m, sr_type_register(rt, &t, &id) == SR_ERR_INVALID, "register NULL name");
        FZ_CHECK(m, sr_type_find(rt, "no such type") == SR_TYPE_NONE && sr_type_get(rt, 0) == NULL, "lookups");
        break;
    }
    case 8:
        /* sizes that cannot be represented are refused and counted */
        FZ_CHECK(m, sr_alloc(rt, SIZE_MAX - 8) == NULL, "sr_alloc(SIZE_MAX - 8)");
        m->failed++;
        fz_sync_gc(m);
        FZ_CHECK(m, sr_calloc(rt, SIZE_MAX / 2, 4) == NULL, "sr_calloc overflow");
        m->failed++;
        break;
    default:
        FZ_CHECK(m, sr_gc_collect(NULL) == 0 && !sr_gc_should_collect(NULL), "collector with NULL rt");
        FZ_CHECK(m, sr_runtime_set_heap_limit(NULL, 0) == SR_ERR_INVALID, "limit with NULL rt");
        break;
    }
}

typedef struct fz_dbl { fz_model *m; void *p; } fz_dbl;

static void fz_dbl_release(sr_runtime *rt, void *arg)
{
    fz_dbl *d = arg;
    sr_rc_release(rt, d->p);   /* the count was 1: the object is freed */
    sr_rc_release(rt, d->p);   /* misuse: detected, panics */
}

static void fz_op_double_release(fz_model *m)
{
    uint8_t a = fz_byte(m);
    int h = fz_pick_host(m, a);
    if (h < 0) return;
    int i = m->host[h];
    fz_obj *o = &m->objs[i];
    if (o->rc != 1 || o->kind == K_FIN_ALLOC || o->kind == K_FIN_PANIC) return;
    /* its cascade must not free something a finalizer could reuse: only leaves */
    if (fz_kind_slots[o->kind] != 0) return;
    /* a large object's memory goes back to the system at once: a second release
       is undefined (not detectable), unlike a small block's */
    if (o->charge > 2048) return;
    m->host[h] = -1;
    fz_dbl d = { m, o->p };
    sr_status st = sr_execute_protected(m->rt, fz_dbl_release, &d);
    fz_model_release(m, i);
    m->panics++;
    FZ_CHECK(m, st == SR_ERR_PANIC, "a second release of a freed object was not detected");
    const sr_panic_info *pi = sr_panic_last(m->rt);
    FZ_CHECK(m, pi && strstr(pi->message, "freed already") != NULL, "double release message '%s'",
             pi ? pi->message : "(none)");
}

static void fz_op_describe(fz_model *m)
{
    int h = fz_pick_host(m, fz_byte(m));
    if (h < 0) return;
    const fz_obj *o = &m->objs[m->host[h]];
    int n = sr_rc_describe(m->rt, o->p, NULL, 0);
    FZ_CHECK(m, n > 0, "sr_rc_describe length %d", n);
    char small[8], big[512];
    int n2 = sr_rc_describe(m->rt, o->p, small, sizeof small);
    FZ_CHECK(m, n2 == n && strlen(small) == (n < 7 ? (size_t)n : 7u), "sr_rc_describe truncation");
    if (n < (int)sizeof big) {
        FZ_CHECK(m, sr_rc_describe(m->rt, o->p, big, sizeof big) == n && strlen(big) == (size_t)n, "describe length");
        char tag[32];
        snprintf(tag, sizeof tag, "tag=%lld", (long long)fz_tag(o->p));
        FZ_CHECK(m, strstr(big, tag) != NULL, "describe '%s' without '%s'", big, tag);
    }
}

static void fz_op_snapshot(fz_model *m)
{
    sr_profiler_snapshot *s = sr_profiler_snapshot_take(m->rt);
    FZ_CHECK(m, (s != NULL) == m->profiling, "sr_profiler_snapshot_take %s", s ? "returned one" : "returned NULL");
    if (!s) return;
    sr_profile pr;
    FZ_CHECK(m, sr_profiler_snapshot_stats(s, &pr) && pr.current_memory == fz_used(m), "snapshot current_memory");
    if (m->snap) {
        sr_profile_diff *d = sr_profiler_snapshot_compare(m->snap, s);
        FZ_CHECK(m, d != NULL, "sr_profiler_snapshot_compare returned NULL");
        FZ_CHECK(m, d->memory_diff == (int64_t)fz_used(m) - (int64_t)m->snap_used, "diff memory %lld, model %lld",
                 (long long)d->memory_diff, (long long)fz_used(m) - (long long)m->snap_used);
        sr_profiler_diff_free(d);
        sr_profiler_snapshot_free(m->snap);
    }
    m->snap = s;
    m->snap_used = fz_used(m);
}

static void fz_hook(sr_runtime *rt, const sr_panic_info *info, void *ud)
{
    fz_model *m = ud;
    m->hooks++;
    FZ_CHECK(m, info && info->runtime == rt && info->message, "hook got a bad record");
}

/* ---- the program ------------------------------------------------------------------------------------ */

static void fz_report_sink(sr_runtime *rt, const char *report, void *ud) { (void)rt; (void)report; (void)ud; }

int sr_fuzz_run(const uint8_t *data, size_t size)
{
    fz_model *m = calloc(1, sizeof *m);
    if (!m) return 0;
    m->in = data;
    m->len = size;
    uint8_t c0 = fz_byte(m), c1 = fz_byte(m), c2 = fz_byte(m);
    sr_config cfg = sr_config_default();
    cfg.allocator = (sr_allocator){ fz_malloc, fz_realloc, fz_free, &m->sys };
    cfg.enable_profiling = (c0 & 1) != 0;
    /* stacks: every allocation's, sampled densely or sparsely, or the default interval */
    static const size_t sample_modes[4] = { SR_PROFILER_EVERY_ALLOCATION, 64, 4096, 0 };
    cfg.profiler_sample_bytes = sample_modes[(c1 >> 4) & 3u];
    cfg.enable_gc = (c0 & 2) == 0;
    cfg.gc_threshold = (c0 & 4) ? 1 + (c1 & 15u) : (size_t)1 << 30;
    cfg.enable_panic_handler = (c0 & 8) == 0;
    cfg.max_heap_size = (c0 & 16) ? 1024u * (1u + (c2 & 63u)) : 0;
    cfg.gc_stress = (c0 & 64) != 0;
    cfg.leak_sink = fz_report_sink;
    m->reports_allowed = (c1 & 0x80) != 0;
    /* with profiling on, the teardown renders a leak report: as slow as a report */
    bool leave_to_teardown = (c0 & 32) != 0 && (!cfg.enable_profiling || m->reports_allowed);
    m->profiling = cfg.enable_profiling;
    m->gc_on = cfg.enable_gc;
    m->limit = cfg.max_heap_size;
    for (unsigned h = 0; h < FZ_HOST; h++) m->host[h] = -1;
    for (unsigned h = 0; h < FZ_TEMP; h++) m->temp[h] = -1;
    if (sr_runtime_new(&cfg, &m->rt) != SR_OK) fz_fail(m, "sr_runtime_new failed");
    m->handler_on = cfg.enable_panic_handler;
    sr_panic_set_hook(m->rt, fz_hook, m);
    sr_stats st;
    sr_runtime_stats(m->rt, &st);
    size_t baseline = st.heap_used;
    m->gc_seen = st.gc_collections;
    FZ_CHECK(m, baseline == 0, "a new runtime has heap_used %zu", baseline);

    m->trace = getenv("SR_FUZZ_TRACE") != NULL;
    while (m->pos < m->len) {
        m->step++;
        uint8_t op = fz_byte(m);
        if (m->trace) {
            sr_runtime_stats(m->rt, &st);
            fprintf(stderr, "step %u: op %u at byte %zu (heap_used %zu, model %zu, collections %llu)\n", m->step,
                    op % OP_COUNT, m->pos - 1, st.heap_used, fz_used(m), (unsigned long long)st.gc_collections);
        }
        switch (op % OP_COUNT) {
        case OP_REGISTER: fz_op_register(m); break;
        case OP_NEW: fz_op_new(m, false); break;
        case OP_NEW_SIZED: fz_op_new(m, true); break;
        case OP_RETAIN: {
            uint8_t a = fz_byte(m);
            int h = fz_pick_host(m, a), d = fz_free_host(m, a + 7u);
            if (h < 0 || d < 0) break;
            int i = m->host[h];
            FZ_CHECK(m, sr_rc_retain(m->objs[i].p) == m->objs[i].p, "sr_rc_retain returned another pointer");
            m->objs[i].rc++;
            m->host[d] = i;
            break;
        }
        case OP_RELEASE: {
            int h = fz_pick_host(m, fz_byte(m));
            if (h >= 0) fz_host_release(m, (unsigned)h);
            break;
        }
        case OP_SET: fz_op_set(m, false); break;
        case OP_CLEAR: fz_op_set(m, true); break;
        case OP_WEAK_NEW: fz_op_weak_new(m); break;
        case OP_WEAK_UPGRADE: fz_op_weak_upgrade(m); break;
        case OP_WEAK_FREE: {
            fz_weak *w = &m->weaks[fz_byte(m) % FZ_WEAKS];
            if (w->w) { sr_weak_free(m->rt, w->w); w->w = NULL; }
            break;
        }
        case OP_COLLECT: fz_op_collect(m); break;
        case OP_ALLOC: fz_op_alloc(m); break;
        case OP_REALLOC: fz_op_realloc(m); break;
        case OP_FREE: fz_op_free(m); break;
        case OP_PROT_BLOCK: fz_op_prot_block(m); break;
        case OP_PROT_RELEASE: fz_op_prot_release(m); break;
        case OP_PROT_COLLECT: fz_op_prot_collect(m); break;
        case OP_PROF: fz_op_prof(m); break;
        case OP_LIMIT: fz_op_limit(m); break;
        case OP_BAD_INPUT: fz_op_bad_input(m); break;
        case OP_DOUBLE_RELEASE: fz_op_double_release(m); break;
        case OP_DESCRIBE: fz_op_describe(m); break;
        case OP_SNAPSHOT: fz_op_snapshot(m); break;
        default: break;
        }
        fz_check(m);
    }

    m->step++;
    sr_profiler_snapshot_free(m->snap);   /* independent of the runtime */
    m->snap = NULL;
    if (leave_to_teardown) {
        /* everything still held goes to sr_runtime_free: each live object with a
           finalize gets it exactly once, panicking finalizers do not stop it */
        m->teardown = true;
        m->arm_panic = true;
        sr_runtime_free(m->rt);
        for (unsigned i = 0; i < m->nobjs; i++)
            if (fz_kind_fin[m->objs[i].kind])
                FZ_CHECK(m, m->objs[i].fin_runs == 1, "object %u finalized %u times by the teardown", i,
                         m->objs[i].fin_runs);
    } else {
        for (unsigned h = 0; h < FZ_HOST; h++)
            if (m->host[h] >= 0) fz_host_release(m, h);
        for (unsigned w = 0; w < FZ_WEAKS; w++)
            if (m->weaks[w].w) { sr_weak_free(m->rt, m->weaks[w].w); m->weaks[w].w = NULL; }
        fz_check(m);
        if (m->gc_on) fz_op_collect(m);
        /* finalizers of the last collection may have made raw blocks and weak references */
        for (unsigned r = 0; r < FZ_RAWS; r++)
            if (m->raws[r].p) { sr_free(m->rt, m->raws[r].p); m->raws[r].p = NULL; }
        for (unsigned w = 0; w < FZ_WEAKS; w++)
            if (m->weaks[w].w) {
                FZ_CHECK(m, sr_weak_upgrade(m->weaks[w].w) == NULL, "weak reference %u to a freed object", w);
                sr_weak_free(m->rt, m->weaks[w].w);
                m->weaks[w].w = NULL;
            }
        fz_check(m);
        sr_runtime_stats(m->rt, &st);
        if (m->gc_on) {
            FZ_CHECK(m, st.heap_used == baseline, "heap_used %zu after everything was freed, baseline %zu",
                     st.heap_used, baseline);
            FZ_CHECK(m, st.live_objects == 0 && st.live_blocks == 0, "%zu objects and %zu blocks left",
                     st.live_objects, st.live_blocks);
        }
        sr_runtime_free(m->rt);
    }
    FZ_CHECK(m, m->sys.live_blocks == 0 && m->sys.live_bytes == 0,
             "sr_runtime_free left %zu blocks (%zu bytes) with the underlying allocator", m->sys.live_blocks,
             m->sys.live_bytes);
    free(m);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return sr_fuzz_run(data, size);
}
