/*
 * test_types.c - the type registry: registration (copying, validation,
 * duplicates), lookup by name and id, the acyclic property, and reflection
 * (sr_rc_describe).
 */
#include "support.h"
#include "internal.h"

#include <stdio.h>
#include <string.h>

typedef struct pair { void *car, *cdr; int64_t tag; double weight; bool flag; const char *label; void *raw; } pair;

static const sr_field pair_fields[] = {
    { "car", offsetof(pair, car), SR_FIELD_REF },
    { "cdr", offsetof(pair, cdr), SR_FIELD_REF },
    { "tag", offsetof(pair, tag), SR_FIELD_I64 },
    { "weight", offsetof(pair, weight), SR_FIELD_F64 },
    { "flag", offsetof(pair, flag), SR_FIELD_BOOL },
    { "label", offsetof(pair, label), SR_FIELD_CSTR },
    { "raw", offsetof(pair, raw), SR_FIELD_PTR },
};

static sr_runtime *new_rt(void)
{
    sr_config c = sr_config_default();
    c.enable_profiling = false;
    sr_runtime *rt = NULL;
    assert_int_equal(sr_runtime_new(&c, &rt), SR_OK);
    return rt;
}

static void register_find_get(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt();
    sr_type t = { "Pair", sizeof(pair), pair_fields, 7, NULL, NULL };
    sr_type_id id = 77;
    assert_int_equal(sr_type_register(rt, &t, &id), SR_OK);
    assert_int_not_equal(id, SR_TYPE_NONE);
    assert_int_equal(sr_type_find(rt, "Pair"), id);
    const sr_type *g = sr_type_get(rt, id);
    assert_non_null(g);
    assert_string_equal(g->name, "Pair");
    assert_int_equal(g->size, sizeof(pair));
    assert_int_equal(g->field_count, 7);
    assert_string_equal(g->fields[3].name, "weight");
    assert_int_equal(g->fields[3].offset, offsetof(pair, weight));
    assert_int_equal(g->fields[3].kind, SR_FIELD_F64);

    sr_type t2 = { "Other", 0, NULL, 0, NULL, NULL };
    sr_type_id id2 = 0;
    assert_int_equal(sr_type_register(rt, &t2, &id2), SR_OK);
    assert_int_not_equal(id2, id);
    assert_int_equal(sr_type_find(rt, "Other"), id2);
    assert_int_equal(sr_type_find(rt, "Missing"), SR_TYPE_NONE);
    assert_int_equal(sr_type_find(rt, NULL), SR_TYPE_NONE);
    assert_null(sr_type_get(rt, SR_TYPE_NONE));
    assert_null(sr_type_get(rt, id2 + 1));
    assert_null(sr_type_get(rt, 0xffffffu));
    assert_null(sr_type_get(NULL, id));
    assert_int_equal(sr_type_find(NULL, "Pair"), SR_TYPE_NONE);
    sr_runtime_free(rt);
}

static void register_copies_the_descriptor(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt();
    char name[16], fname[16];
    strcpy(name, "Temp");
    strcpy(fname, "value");
    sr_field f[1] = { { fname, 0, SR_FIELD_I64 } };
    sr_type t = { name, 8, f, 1, NULL, NULL };
    sr_type_id id;
    assert_int_equal(sr_type_register(rt, &t, &id), SR_OK);
    strcpy(name, "XXXX");
    strcpy(fname, "YYYYY");
    f[0].offset = 4;
    t.size = 1;
    const sr_type *g = sr_type_get(rt, id);
    assert_string_equal(g->name, "Temp");
    assert_string_equal(g->fields[0].name, "value");
    assert_int_equal(g->fields[0].offset, 0);
    assert_int_equal(g->size, 8);
    assert_int_equal(sr_type_find(rt, "Temp"), id);
    assert_int_equal(sr_type_find(rt, "XXXX"), SR_TYPE_NONE);
    sr_runtime_free(rt);
}

static void bad_descriptors_are_refused(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt();
    sr_type_id id = 5;
    sr_type ok = { "Ok", 16, NULL, 0, NULL, NULL };
    assert_int_equal(sr_type_register(NULL, &ok, &id), SR_ERR_INVALID);
    assert_int_equal(sr_type_register(rt, NULL, &id), SR_ERR_INVALID);
    assert_int_equal(id, SR_TYPE_NONE);
    assert_int_equal(sr_type_register(rt, &ok, NULL), SR_ERR_INVALID);

    sr_type noname = { NULL, 8, NULL, 0, NULL, NULL };
    assert_int_equal(sr_type_register(rt, &noname, &id), SR_ERR_INVALID);
    sr_type empty = { "", 8, NULL, 0, NULL, NULL };
    assert_int_equal(sr_type_register(rt, &empty, &id), SR_ERR_INVALID);
    sr_type nofields = { "NoFields", 8, NULL, 2, NULL, NULL };
    assert_int_equal(sr_type_register(rt, &nofields, &id), SR_ERR_INVALID);
    sr_field outside[] = { { "x", 8, SR_FIELD_REF } };
    sr_type t_out = { "Outside", 8, outside, 1, NULL, NULL };
    assert_int_equal(sr_type_register(rt, &t_out, &id), SR_ERR_INVALID);
    sr_field mis[] = { { "x", 4, SR_FIELD_I64 } };
    sr_type t_mis = { "Misaligned", 16, mis, 1, NULL, NULL };
    assert_int_equal(sr_type_register(rt, &t_mis, &id), SR_ERR_INVALID);
    sr_field badkind[] = { { "x", 0, (sr_field_kind)42 } };
    sr_type t_kind = { "BadKind", 16, badkind, 1, NULL, NULL };
    assert_int_equal(sr_type_register(rt, &t_kind, &id), SR_ERR_INVALID);
    sr_field noname_f[] = { { NULL, 0, SR_FIELD_I64 } };
    sr_type t_fn = { "FieldNoName", 16, noname_f, 1, NULL, NULL };
    assert_int_equal(sr_type_register(rt, &t_fn, &id), SR_ERR_INVALID);
    sr_type huge = { "Huge", SIZE_MAX - 8, NULL, 0, NULL, NULL };
    assert_int_equal(sr_type_register(rt, &huge, &id), SR_ERR_INVALID);

    /* nothing of the above was registered */
    assert_int_equal(rt->types.count, 0);
    assert_int_equal(sr_type_register(rt, &ok, &id), SR_OK);
    assert_int_equal(id, 1);
    /* duplicate name */
    sr_type_id id2 = 9;
    assert_int_equal(sr_type_register(rt, &ok, &id2), SR_ERR_INVALID);
    assert_int_equal(id2, SR_TYPE_NONE);
    assert_int_equal(rt->types.count, 1);
    sr_runtime_free(rt);
}

static void many_types_and_the_id_limit(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt();
    char name[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof name, "T%d", i);
        sr_type t = { name, (size_t)i, NULL, 0, NULL, NULL };
        sr_type_id id;
        assert_int_equal(sr_type_register(rt, &t, &id), SR_OK);
        assert_int_equal(id, (sr_type_id)i + 1);
    }
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof name, "T%d", i);
        assert_int_equal(sr_type_find(rt, name), (sr_type_id)i + 1);
        assert_int_equal(sr_type_get(rt, (sr_type_id)i + 1)->size, (size_t)i);
    }
    /* the 24-bit id space: pretend it is full */
    uint32_t saved = rt->types.count;
    rt->types.count = SR__MAX_TYPES;
    sr_type t = { "OneTooMany", 8, NULL, 0, NULL, NULL };
    sr_type_id id = 3;
    assert_int_equal(sr_type_register(rt, &t, &id), SR_ERR_INVALID);
    assert_int_equal(id, SR_TYPE_NONE);
    rt->types.count = saved;
    assert_int_equal(sr_type_register(rt, &t, &id), SR_OK);
    assert_int_equal(id, 3001);
    sr_runtime_free(rt);
}

static void acyclic_types_are_never_buffered(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt();
    sr_field ints[] = { { "n", 0, SR_FIELD_I64 } };
    sr_type leaf = { "Leaf", 8, ints, 1, NULL, NULL };
    sr_type node = { "Node", sizeof(pair), pair_fields, 7, NULL, NULL };
    sr_type_id lid, nid;
    assert_int_equal(sr_type_register(rt, &leaf, &lid), SR_OK);
    assert_int_equal(sr_type_register(rt, &node, &nid), SR_OK);
    assert_true(rt->types.entries[lid]->acyclic);
    assert_false(rt->types.entries[nid]->acyclic);
    void *l = sr_rc_new(rt, lid);
    void *n = sr_rc_new(rt, nid);
    sr_rc_retain(l);
    sr_rc_retain(n);
    sr_rc_release(rt, l);
    sr_rc_release(rt, n);
    sr_stats st;
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.gc_roots_buffered, 1);
    assert_false(sr__hdr_of(l)->info & SR__OBJ_BUFFERED);
    assert_true(sr__hdr_of(n)->info & SR__OBJ_BUFFERED);
    sr_rc_release(rt, l);
    sr_rc_release(rt, n);
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.gc_roots_buffered, 0);   /* a dying root leaves the buffer */
    assert_int_equal(st.live_objects, 0);
    sr_runtime_free(rt);
}

static void describe_renders_fields(void **state)
{
    (void)state;
    sr_runtime *rt = new_rt();
    sr_type t = { "Pair", sizeof(pair), pair_fields, 7, NULL, NULL };
    sr_type_id id;
    assert_int_equal(sr_type_register(rt, &t, &id), SR_OK);
    pair *a = sr_rc_new(rt, id);
    pair *b = sr_rc_new(rt, id);
    a->car = b;                 /* owned reference moves into the field */
    a->tag = -7;
    a->weight = 2.5;
    a->flag = true;
    a->label = "hi";
    a->raw = NULL;
    char expect[512], got[512];
    snprintf(expect, sizeof expect,
             "Pair@%p {car=Pair@%p, cdr=NULL, tag=-7, weight=2.5, flag=true, label=\"hi\", raw=%p}",
             (void *)a, (void *)b, (void *)NULL);
    int n = sr_rc_describe(rt, a, got, sizeof got);
    assert_string_equal(got, expect);
    assert_int_equal(n, (int)strlen(expect));
    /* snprintf semantics */
    assert_int_equal(sr_rc_describe(rt, a, NULL, 0), n);
    char small[10];
    assert_int_equal(sr_rc_describe(rt, a, small, sizeof small), n);
    assert_int_equal(strlen(small), 9);
    assert_memory_equal(small, expect, 9);
    assert_int_equal(sr_rc_describe(rt, NULL, got, sizeof got), 4);
    assert_string_equal(got, "NULL");
    sr_rc_release(rt, a);       /* frees b too */
    sr_stats st;
    sr_runtime_stats(rt, &st);
    assert_int_equal(st.live_objects, 0);
    sr_runtime_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(register_find_get),
        cmocka_unit_test(register_copies_the_descriptor),
        cmocka_unit_test(bad_descriptors_are_refused),
        cmocka_unit_test(many_types_and_the_id_limit),
        cmocka_unit_test(acyclic_types_are_never_buffered),
        cmocka_unit_test(describe_renders_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
