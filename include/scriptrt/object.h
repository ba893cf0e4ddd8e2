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

/* Copies *type (and its name and field table). Duplicate name, NULL/empty name,
   a field outside `size` or misaligned, fields without a table -> SR_ERR_INVALID. */
SR_API sr_status   sr_type_register(sr_runtime *rt, const sr_type *type, sr_type_id *out);
SR_API sr_type_id  sr_type_find(sr_runtime *rt, const char *name);     /* SR_TYPE_NONE if absent */
SR_API const sr_type *sr_type_get(sr_runtime *rt, sr_type_id id);       /* NULL if absent */

SR_API void       *sr_rc_new(sr_runtime *rt, sr_type_id type);                 /* zeroed payload, count 1; NULL on failure */
SR_API void       *sr_rc_new_sized(sr_runtime *rt, sr_type_id type, size_t size); /* variable-size payload (>= type size) */
SR_API void       *sr_rc_retain(void *obj);                                    /* returns obj; NULL is a no-op */
SR_API void        sr_rc_release(sr_runtime *rt, void *obj);                   /* NULL is a no-op */
SR_API size_t      sr_rc_count(const void *obj);
SR_API sr_type_id  sr_rc_type(const void *obj);

/* Reflection: renders obj by its type's field table, e.g.
   `Pair@0x55d0c0 {car=Int@0x55d100, cdr=NULL, tag=7}`; snprintf semantics
   (NULL, 0 gives the length). Never recurses into children. */
SR_API int         sr_rc_describe(sr_runtime *rt, const void *obj, char *buf, size_t size);

/* Weak references do not keep an object alive. */
typedef struct sr_weak sr_weak;
SR_API sr_weak *sr_weak_new(sr_runtime *rt, void *obj);  /* NULL on failure */
SR_API void    *sr_weak_upgrade(sr_weak *w);             /* a new strong reference, or NULL once the object is gone */
SR_API void     sr_weak_free(sr_runtime *rt, sr_weak *w);

#ifdef __cplusplus
}
#endif
#endif
