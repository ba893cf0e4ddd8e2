/*
 * scriptrt/object.h - reference-counted objects, the type registry, weak references.
 *
 * Objects are payload pointers; the header sits before them and is never seen.
 * Ownership: sr_rc_new returns one reference owned by the caller; sr_rc_retain
 * adds one; sr_rc_release gives one back. A REF field or a slot reported by
 * `trace` owns one reference to what it points at.
 */
#ifndef SCRIPTRT_OBJECT_H
#define SCRIPTRT_OBJECT_H

#include "scriptrt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint32_t sr_type_id;            /* SR_TYPE_NONE (0) is never a valid id */
#define SR_TYPE_NONE ((sr_type_id)0)

typedef void (*sr_visit_fn)(void **slot, void *ctx);   /* *slot is an object or NULL */

typedef enum sr_field_kind { SR_FIELD_REF, SR_FIELD_I64, SR_FIELD_F64, SR_FIELD_BOOL,
                             SR_FIELD_PTR, SR_FIELD_CSTR } sr_field_kind;
typedef struct sr_field { const char *name; size_t offset; sr_field_kind kind; } sr_field;

typedef struct sr_type {
    const char *name;                 /* unique within a runtime */
    size_t size;                      /* payload bytes for sr_rc_new */
    const sr_field *fields;           /* optional: reflection; REF fields are traced automatically */
    size_t field_count;
    void (*trace)(void *obj, sr_visit_fn visit, void *ctx);  /* optional: children beyond REF fields */
    void (*finalize)(sr_runtime *rt, void *obj);             /* optional: non-reference resources */
} sr_type;

/* Copies *type (its name and field table with the field names: the caller's
   copies may go away). SR_ERR_INVALID for: NULL rt/type/out, a NULL or empty
   name, a duplicate name, fields NULL with field_count > 0, a field with no
   name, an unknown kind, past `size` or misaligned for its kind, a size above
   2^40, or the 2^24-th type (ids are 24 bits). SR_ERR_NOMEM if bookkeeping
   memory runs out. *out is SR_TYPE_NONE on failure. Never panics. */
SR_API sr_status   sr_type_register(sr_runtime *rt, const sr_type *type, sr_type_id *out);
SR_API sr_type_id  sr_type_find(sr_runtime *rt, const char *name);     /* SR_TYPE_NONE if absent or NULL */
SR_API const sr_type *sr_type_get(sr_runtime *rt, sr_type_id id);       /* NULL if absent; valid until the runtime dies */

/* A new object: zeroed payload of the type's size (sr_rc_new_sized: `size`
   bytes, at least the type's size, else NULL), count 1, owned by the caller.
   NULL for a NULL rt, an unknown type, or no memory (heap limit after one
   emergency collection, or the system allocator). May run a collection, hence
   finalizers (which may panic: see docs/objects.md). */
SR_API void       *sr_rc_new(sr_runtime *rt, sr_type_id type);
SR_API void       *sr_rc_new_sized(sr_runtime *rt, sr_type_id type, size_t size);
/* One more reference owned by the caller; returns obj; NULL is a no-op. Never
   runs a collection. A count at UINT32_MAX is misuse: reports and aborts. */
SR_API void       *sr_rc_retain(void *obj);
/* Gives one reference back; NULL is a no-op. At zero: weak references are
   cleared, finalize runs, the children are released and the object is freed
   before this returns (through a work list: constant C stack). Above zero, an
   object whose type can hold references is buffered as a possible cycle root.
   Never starts a collection. Panics on a freed object, a raw block, or an
   object whose count already reached zero; a finalizer's panic propagates
   after the cascade finished (every dying object is freed). */
SR_API void        sr_rc_release(sr_runtime *rt, void *obj);
SR_API size_t      sr_rc_count(const void *obj);     /* 0 for NULL or a dying object */
SR_API sr_type_id  sr_rc_type(const void *obj);      /* SR_TYPE_NONE for NULL or a freed object */

/* Reflection: renders obj by its type's field table, e.g.
   `Pair@0x55d0c0 {car=Int@0x55d100, cdr=NULL, tag=7}`; snprintf semantics
   (NULL, 0 gives the length; -1 for a NULL rt). Never recurses into children,
   never allocates, never panics. */
SR_API int         sr_rc_describe(sr_runtime *rt, const void *obj, char *buf, size_t size);

/* Weak references do not keep an object alive. A handle is a small heap block
   (counted in heap_used) owned by the caller until sr_weak_free. */
typedef struct sr_weak sr_weak;
/* NULL for a NULL rt or obj, a dying object, or no memory. May run a collection. */
SR_API sr_weak *sr_weak_new(sr_runtime *rt, void *obj);
/* A new strong reference owned by the caller, or NULL once the object died
   (weak references are cleared before the object's finalize runs). */
SR_API void    *sr_weak_upgrade(sr_weak *w);
/* Frees the handle, whether its object lives or not; NULL is a no-op; panics
   on a pointer that is not a live handle. */
SR_API void     sr_weak_free(sr_runtime *rt, sr_weak *w);

#ifdef __cplusplus
}
#endif
#endif
