/*
 * scriptrt - an embeddable runtime for scripting languages.
 *
 * The one header a host includes. Every function takes the runtime first; a
 * runtime is used by one thread at a time. Each declaration says who owns what,
 * whether the call may panic (longjmp to the nearest sr_execute_protected) and
 * what a bad argument gets.
 */
#ifndef SCRIPTRT_H
#define SCRIPTRT_H

#include "scriptrt/common.h"
#include "scriptrt/runtime.h"
#include "scriptrt/memory.h"
#include "scriptrt/object.h"
#include "scriptrt/gc.h"
#include "scriptrt/panic.h"
#include "scriptrt/profiler.h"

#endif
