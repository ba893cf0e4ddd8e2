/*
 * object_internal.h - the type registry and the object layer (object.c, types.c).
 */
#ifndef SR_OBJECT_INTERNAL_H
#define SR_OBJECT_INTERNAL_H

#include "scriptrt.h"

typedef struct sr__types {
    void *entries;
    uint32_t count, cap;
} sr__types;

sr_status sr__types_init(sr_runtime *rt);
void      sr__types_fini(sr_runtime *rt);
/* Finalizes every object still alive at teardown; touches none afterwards. */
void      sr__objects_teardown(sr_runtime *rt);

#endif
