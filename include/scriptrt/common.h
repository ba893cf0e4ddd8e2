/*
 * scriptrt/common.h - version, export macro and status codes.
 *
 * Part of the public API of scriptrt; include <scriptrt.h> rather than this file.
 */
#ifndef SCRIPTRT_COMMON_H
#define SCRIPTRT_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scriptrt/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every public symbol carries SR_API; everything else in the library is hidden. */
#if defined(_WIN32)
#  define SR_API
#elif defined(__GNUC__)
#  define SR_API __attribute__((visibility("default")))
#else
#  define SR_API
#endif

#if defined(__GNUC__)
#  define SR_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#  define SR_PRINTF(fmt_index, first_arg)
#endif

/* One list generates the enum and sr_status_str / sr_status_name. */
#define SR_STATUS_LIST(X)                                                         \
    X(SR_OK,          "ok")                                                       \
    X(SR_ERR_INVALID, "invalid argument")                                         \
    X(SR_ERR_STATE,   "wrong lifecycle state")                                    \
    X(SR_ERR_NOMEM,   "out of memory (heap limit reached or system allocator failed)") \
    X(SR_ERR_PANIC,   "protected execution ended in a panic")

typedef enum sr_status {
#define SR__STATUS_ENUM(name, text) name,
    SR_STATUS_LIST(SR__STATUS_ENUM)
#undef SR__STATUS_ENUM
    SR__STATUS_COUNT
} sr_status;

/* A short English description of s; never NULL ("unknown status" for values out of range). */
SR_API const char *sr_status_str(sr_status s);
/* The enumerator's name ("SR_ERR_NOMEM"); never NULL ("SR_UNKNOWN" out of range). */
SR_API const char *sr_status_name(sr_status s);

/* "MAJOR.MINOR.PATCH" of the library actually linked (compare with SR_VERSION_STRING). */
SR_API const char *sr_version(void);

typedef struct sr_runtime sr_runtime;   /* opaque; see scriptrt/runtime.h */

#ifdef __cplusplus
}
#endif
#endif
