/*
 * object_internal.h - the type registry and the object layer (types.c,
 * object.c, weak.c), shared with the collector (gc.c).
 *
 * Object header (the heap's 16-byte sr__hdr, see heap_internal.h)
 * ---------------------------------------------------------------
 *   rc    u32  reference count. While an object waits on the release work
 *              list (DEAD set) rc and aux together hold the list link.
 *   info  u32  bits 0-1 kind (SR__KIND_OBJ), 2-3 colour, 4 BUFFERED,
 *              5 ACYCLIC, 6 FINALIZED, 7 DEAD, 8-31 type id.
 *   aux   u32  root-buffer slot + 1 (0 = not buffered); the collector's
 *              in-degree scratch while it owns the object.
 *   cls   u16  the heap's size class.
 *   flags u16  HAS_WEAK, GARBAGE, PENDING (collector scratch marks).
 * An 8-byte header (PHP's) cannot also hold the O(1) root-buffer index that
 * lets a dying buffered object leave the buffer without a search, nor the
 * heap's size class, so the header is 16 bytes: an object with an 8-byte
 * payload is charged 24 bytes (size class 24).
 */
#ifndef SR_OBJECT_INTERNAL_H
#define SR_OBJECT_INTERNAL_H

#include "scriptrt.h"

struct sr__hdr;

/* info bits owned by the object layer */
#define SR__OBJ_COLOUR_SHIFT 2u
#define SR__OBJ_COLOUR_MASK  (3u << 2)
#define SR__OBJ_BLACK        (0u << 2)
#define SR__OBJ_GRAY         (1u << 2)
#define SR__OBJ_WHITE        (2u << 2)
#define SR__OBJ_BUFFERED     (1u << 4)
#define SR__OBJ_ACYCLIC      (1u << 5)   /* never buffered, never traced by the collector */
#define SR__OBJ_FINALIZED    (1u << 6)   /* finalize ran (or is running): never again */
#define SR__OBJ_DEAD         (1u << 7)   /* count reached zero: on the release work list */
#define SR__OBJ_TYPE_SHIFT   8u
#define SR__MAX_TYPES        ((1u << 24) - 1u)

/* flags bits */
#define SR__OBJF_HAS_WEAK    (1u << 0)   /* the weak table has handles for it */
#define SR__OBJF_GARBAGE     (1u << 1)   /* member of the collector's garbage set */
#define SR__OBJF_PENDING     (1u << 2)   /* collector: task 0 owed (work stack was full) */
#define SR__OBJF_PENDING1    (1u << 3)   /* collector: task 1 owed (work stack was full) */
#define SR__OBJF_RELEASED    (1u << 4)   /* dying: children released, finalize and free next */

typedef struct sr__type_entry {
    sr_type t;               /* copy: t.name and t.fields point into `mem` */
    sr_type_id id;
    uint32_t nrefs;          /* REF fields */
    uint32_t *refs;          /* their offsets */
    bool acyclic;            /* no REF field and no trace */
    void *mem;
    size_t mem_size;
} sr__type_entry;

typedef struct sr__weak_slot { struct sr__hdr *obj; struct sr_weak *head; } sr__weak_slot;

typedef struct sr__types {
    sr__type_entry **entries;   /* by id; [0] unused */
    uint32_t count, cap;        /* ids 1..count are valid; cap = slots in entries */
    uint32_t *index;            /* open-addressing name -> id table, 0 = empty */
    uint32_t index_cap;         /* power of two */
    /* object layer */
    struct sr__hdr *pending;    /* release work list (intrusive, LIFO) */
    bool draining;              /* a drain loop is active: releases only push */
    bool teardown;              /* sr__objects_teardown: releases never free */
    bool panic_pending;         /* a finalizer panicked under protection: rethrow */
    uint64_t pending_panic;     /* the number of that panic (rt->panic numbering) */
    bool panic_no_rethrow;      /* teardown: record finalizer panics, never rethrow */
    uint64_t objects_freed;     /* every object freed, ever */
    uint64_t finalizer_panics;
    /* weak table: object -> list of handles */
    sr__weak_slot *weak;
    size_t weak_cap, weak_count;
} sr__types;

sr_status sr__types_init(sr_runtime *rt);
void      sr__types_fini(sr_runtime *rt);
/* Finalizes every object still alive at teardown; touches none afterwards. */
void      sr__objects_teardown(sr_runtime *rt);

/* Type id of an object header; the entry of a valid id (for use after internal.h). */
#define SR__OBJ_TYPE(h)        ((sr_type_id)((h)->info >> SR__OBJ_TYPE_SHIFT))
#define SR__TYPE_ENTRY(rt, id) ((rt)->types.entries[(id)])

/* Object layer services for the collector. */
/* Calls visit(slot, ctx) for every REF field and every slot trace reports. */
void sr__obj_each_child(sr_runtime *rt, struct sr__hdr *h, sr_visit_fn visit, void *ctx);
/* Runs h's finalize once (FINALIZED set first). Under protection a panic is
   caught, recorded and remembered for sr__obj_rethrow_pending. */
void sr__obj_finalize(sr_runtime *rt, struct sr__hdr *h);
/* Drops one count of h from a dying object's edge: zero queues it (no drain),
   non-zero buffers it as a possible root. */
void sr__obj_release_child(sr_runtime *rt, struct sr__hdr *h);
/* Releases every child of a dying object and sets each slot to NULL. */
void sr__obj_release_children(sr_runtime *rt, struct sr__hdr *h);
/* Frees a dead object's memory (weak refs must be cleared, children released). */
void sr__obj_free(sr_runtime *rt, struct sr__hdr *h);
/* Drains the release work list (no-op when a drain is already active). */
void sr__obj_drain(sr_runtime *rt);
/* Re-raises a finalizer panic caught under protection, if one is pending. */
void sr__obj_rethrow_pending(sr_runtime *rt);
/* Clears every weak reference to h (object.c -> weak.c). */
void sr__weak_clear(sr_runtime *rt, struct sr__hdr *h);
void sr__weak_fini(sr_runtime *rt);

#endif
