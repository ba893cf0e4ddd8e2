/*
 * types.c - the per-runtime type registry and reflection (sr_rc_describe).
 *
 * Data structures
 * ---------------
 * entries[id] points to a separately allocated sr__type_entry, so a pointer
 * returned by sr_type_get stays valid while later registrations grow the
 * array. Each entry owns one bookkeeping block (`mem`) holding the copied name,
 * the copied field table with its copied field names, and the offsets of the
 * REF fields (the collector and the release cascade walk those directly).
 * `index` is an open-addressing hash table from name to id (linear probing,
 * never deleted from, load factor <= 1/2).
 *
 * Invariants
 * ----------
 * T1  ids are 1..count, dense, never reused; SR_TYPE_NONE (0) is never valid;
 *     count <= SR__MAX_TYPES (the id must fit the header's 24 bits).
 * T2  a registered entry never changes.
 * T3  acyclic == (no REF field && no trace): its objects are never buffered.
 * All memory here comes from sr__sys_* (internal_bytes), never the heap.
 */
#include "internal.h"

#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static uint32_t sr__types_hash(const char *s)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

sr_status sr__types_init(sr_runtime *rt)
{
    sr__types *ty = &rt->types;
    memset(ty, 0, sizeof *ty);
    ty->cap = 16;
    ty->entries = sr__sys_calloc(rt, ty->cap, sizeof *ty->entries);
    if (!ty->entries) return SR_ERR_NOMEM;
    ty->index_cap = 32;
    ty->index = sr__sys_calloc(rt, ty->index_cap, sizeof *ty->index);
    if (!ty->index) {
        sr__sys_free(rt, ty->entries, ty->cap * sizeof *ty->entries);
        ty->entries = NULL;
        return SR_ERR_NOMEM;
    }
    return SR_OK;
}

void sr__types_fini(sr_runtime *rt)
{
    sr__types *ty = &rt->types;
    sr__weak_fini(rt);
    if (!ty->entries) return;
    for (uint32_t id = 1; id <= ty->count; id++) {
        sr__type_entry *e = ty->entries[id];
        sr__sys_free(rt, e->mem, e->mem_size);
        sr__sys_free(rt, e, sizeof *e);
    }
    sr__sys_free(rt, ty->entries, ty->cap * sizeof *ty->entries);
    sr__sys_free(rt, ty->index, ty->index_cap * sizeof *ty->index);
    ty->entries = NULL;
    ty->index = NULL;
    ty->count = ty->cap = ty->index_cap = 0;
}

static uint32_t *sr__types_slot(sr__types *ty, const char *name)
{
    uint32_t mask = ty->index_cap - 1;
    for (uint32_t i = sr__types_hash(name) & mask;; i = (i + 1) & mask) {
        uint32_t id = ty->index[i];
        if (id == 0 || strcmp(ty->entries[id]->t.name, name) == 0) return &ty->index[i];
    }
}

sr_type_id sr_type_find(sr_runtime *rt, const char *name)
{
    if (!rt || !name || !rt->types.index) return SR_TYPE_NONE;
    return *sr__types_slot(&rt->types, name);
}

const sr_type *sr_type_get(sr_runtime *rt, sr_type_id id)
{
    if (!rt || id == SR_TYPE_NONE || id > rt->types.count) return NULL;
    return &rt->types.entries[id]->t;
}

static size_t sr__field_size(sr_field_kind k)
{
    switch (k) {
    case SR_FIELD_REF: return sizeof(void *);
    case SR_FIELD_I64: return sizeof(int64_t);
    case SR_FIELD_F64: return sizeof(double);
    case SR_FIELD_BOOL: return sizeof(bool);
    case SR_FIELD_PTR: return sizeof(void *);
    case SR_FIELD_CSTR: return sizeof(char *);
    }
    return 0;
}

static size_t sr__field_align(sr_field_kind k)
{
    switch (k) {
    case SR_FIELD_REF: return alignof(void *);
    case SR_FIELD_I64: return alignof(int64_t);
    case SR_FIELD_F64: return alignof(double);
    case SR_FIELD_BOOL: return alignof(bool);
    case SR_FIELD_PTR: return alignof(void *);
    case SR_FIELD_CSTR: return alignof(char *);
    }
    return 1;
}

/* Largest payload a type may declare: keeps 16 + size far from overflow. */
#define SR__MAX_PAYLOAD ((size_t)1 << 40)

static sr_status sr__type_validate(sr_runtime *rt, const sr_type *t)
{
    if (!t->name || !t->name[0]) return SR_ERR_INVALID;
    if (t->size > SR__MAX_PAYLOAD) return SR_ERR_INVALID;
    if (t->field_count && !t->fields) return SR_ERR_INVALID;
    if (t->field_count > (1u << 20)) return SR_ERR_INVALID;
    for (size_t i = 0; i < t->field_count; i++) {
        const sr_field *f = &t->fields[i];
        if (!f->name || !f->name[0]) return SR_ERR_INVALID;
        if ((unsigned)f->kind > (unsigned)SR_FIELD_CSTR) return SR_ERR_INVALID;
        size_t fs = sr__field_size(f->kind);
        if (f->offset > t->size || fs > t->size - f->offset) return SR_ERR_INVALID;
        if (f->offset % sr__field_align(f->kind)) return SR_ERR_INVALID;
        if (f->kind == SR_FIELD_REF && f->offset > UINT32_MAX) return SR_ERR_INVALID;
    }
    if (sr_type_find(rt, t->name) != SR_TYPE_NONE) return SR_ERR_INVALID;
    return SR_OK;
}

static sr_status sr__types_grow(sr_runtime *rt)
{
    sr__types *ty = &rt->types;
    if (ty->count + 1 >= ty->cap) {
        uint32_t ncap = ty->cap * 2;
        sr__type_entry **n = sr__sys_realloc(rt, ty->entries, ty->cap * sizeof *n, (size_t)ncap * sizeof *n);
        if (!n) return SR_ERR_NOMEM;
        memset(n + ty->cap, 0, (size_t)(ncap - ty->cap) * sizeof *n);
        ty->entries = n;
        ty->cap = ncap;
    }
    if ((ty->count + 1) * 2 > ty->index_cap) {
        uint32_t ncap = ty->index_cap * 2;
        uint32_t *ni = sr__sys_calloc(rt, ncap, sizeof *ni);
        if (!ni) return SR_ERR_NOMEM;
        uint32_t *old = ty->index, ocap = ty->index_cap;
        ty->index = ni;
        ty->index_cap = ncap;
        for (uint32_t i = 0; i < ocap; i++)
            if (old[i]) *sr__types_slot(ty, ty->entries[old[i]]->t.name) = old[i];
        sr__sys_free(rt, old, ocap * sizeof *old);
    }
    return SR_OK;
}

sr_status sr_type_register(sr_runtime *rt, const sr_type *type, sr_type_id *out)
{
    if (out) *out = SR_TYPE_NONE;
    if (!rt || !type || !out) return SR_ERR_INVALID;
    sr_status st = sr__type_validate(rt, type);
    if (st != SR_OK) return st;
    sr__types *ty = &rt->types;
    if (ty->count >= SR__MAX_TYPES) return SR_ERR_INVALID;
    if ((st = sr__types_grow(rt)) != SR_OK) return st;

    /* one block: [fields][ref offsets][name][field names] */
    size_t nrefs = 0, names = strlen(type->name) + 1;
    for (size_t i = 0; i < type->field_count; i++) {
        if (type->fields[i].kind == SR_FIELD_REF) nrefs++;
        names += strlen(type->fields[i].name) + 1;
    }
    size_t fields_bytes = type->field_count * sizeof(sr_field);
    size_t refs_bytes = nrefs * sizeof(uint32_t);
    size_t mem_size = fields_bytes + refs_bytes + names;
    sr__type_entry *e = sr__sys_calloc(rt, 1, sizeof *e);
    if (!e) return SR_ERR_NOMEM;
    char *mem = sr__sys_alloc(rt, mem_size);
    if (!mem) {
        sr__sys_free(rt, e, sizeof *e);
        return SR_ERR_NOMEM;
    }
    sr_field *fields = (sr_field *)(void *)mem;
    uint32_t *refs = (uint32_t *)(void *)(mem + fields_bytes);
    char *str = mem + fields_bytes + refs_bytes;
    e->t = *type;
    size_t len = strlen(type->name) + 1;
    memcpy(str, type->name, len);
    e->t.name = str;
    str += len;
    uint32_t r = 0;
    for (size_t i = 0; i < type->field_count; i++) {
        fields[i] = type->fields[i];
        len = strlen(type->fields[i].name) + 1;
        memcpy(str, type->fields[i].name, len);
        fields[i].name = str;
        str += len;
        if (fields[i].kind == SR_FIELD_REF) refs[r++] = (uint32_t)fields[i].offset;
    }
    e->t.fields = type->field_count ? fields : NULL;
    e->refs = refs;
    e->nrefs = r;
    e->acyclic = r == 0 && type->trace == NULL;
    e->mem = mem;
    e->mem_size = mem_size;
    e->id = ++ty->count;
    ty->entries[e->id] = e;
    *sr__types_slot(ty, e->t.name) = e->id;
    *out = e->id;
    return SR_OK;
}

/* ---- reflection --------------------------------------------------------------------- */

typedef struct sr__buf { char *p; size_t size, len; } sr__buf;

static void sr__buf_printf(sr__buf *b, const char *fmt, ...) SR_PRINTF(2, 3);
static void sr__buf_printf(sr__buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *dst = b->len < b->size ? b->p + b->len : NULL;
    size_t room = b->len < b->size ? b->size - b->len : 0;
    int n = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    if (n > 0) b->len += (size_t)n;
}

static const char *sr__describe_type_name(sr_runtime *rt, const sr__hdr *h)
{
    sr_type_id id = SR__OBJ_TYPE(h);
    return id >= 1 && id <= rt->types.count ? rt->types.entries[id]->t.name : "?";
}

int sr_rc_describe(sr_runtime *rt, const void *obj, char *buf, size_t size)
{
    sr__buf b = { buf, buf ? size : 0, 0 };
    if (b.size) buf[0] = '\0';
    if (!rt) return -1;
    if (!obj) {
        sr__buf_printf(&b, "NULL");
        return (int)b.len;
    }
    const sr__hdr *h = sr__hdr_of(obj);
    if (sr__kind(h) != SR__KIND_OBJ) {
        sr__buf_printf(&b, "<not a live object %p>", obj);
        return (int)b.len;
    }
    sr_type_id id = SR__OBJ_TYPE(h);
    if (id < 1 || id > rt->types.count) {
        sr__buf_printf(&b, "<object %p of unknown type %u>", obj, (unsigned)id);
        return (int)b.len;
    }
    const sr_type *t = &rt->types.entries[id]->t;
    sr__buf_printf(&b, "%s@%p {", t->name, obj);
    const char *p = obj;
    for (size_t i = 0; i < t->field_count; i++) {
        const sr_field *f = &t->fields[i];
        sr__buf_printf(&b, "%s%s=", i ? ", " : "", f->name);
        switch (f->kind) {
        case SR_FIELD_REF: {
            void *c;
            memcpy(&c, p + f->offset, sizeof c);
            if (!c) sr__buf_printf(&b, "NULL");
            else sr__buf_printf(&b, "%s@%p", sr__describe_type_name(rt, sr__hdr_of(c)), c);
            break;
        }
        case SR_FIELD_I64: {
            int64_t v;
            memcpy(&v, p + f->offset, sizeof v);
            sr__buf_printf(&b, "%lld", (long long)v);
            break;
        }
        case SR_FIELD_F64: {
            double v;
            memcpy(&v, p + f->offset, sizeof v);
            sr__buf_printf(&b, "%g", v);
            break;
        }
        case SR_FIELD_BOOL: {
            bool v;
            memcpy(&v, p + f->offset, sizeof v);
            sr__buf_printf(&b, "%s", v ? "true" : "false");
            break;
        }
        case SR_FIELD_PTR: {
            void *v;
            memcpy(&v, p + f->offset, sizeof v);
            sr__buf_printf(&b, "%p", v);
            break;
        }
        case SR_FIELD_CSTR: {
            const char *v;
            memcpy(&v, p + f->offset, sizeof v);
            if (v) sr__buf_printf(&b, "\"%s\"", v);
            else sr__buf_printf(&b, "NULL");
            break;
        }
        }
    }
    sr__buf_printf(&b, "}");
    return (int)b.len;
}
