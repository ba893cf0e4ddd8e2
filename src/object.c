/*
 * object.c - reference-counted objects (the object layer lands on top of the heap).
 */
#include "internal.h"

sr_status sr__types_init(sr_runtime *rt) { SR__UNUSED(rt); return SR_OK; }
void sr__types_fini(sr_runtime *rt) { SR__UNUSED(rt); }
void sr__objects_teardown(sr_runtime *rt) { SR__UNUSED(rt); }
