/*
 * backtrace.c - native stack capture (libunwind) and symbolization.
 */
#include "internal.h"
#include "backtrace_internal.h"

#include <dlfcn.h>
#include <libunwind.h>
#include <stdio.h>

SR__NOINLINE size_t sr__bt_capture(void **frames, size_t max, size_t skip)
{
    enum { LOCAL = 64 };
    void *tmp[LOCAL];
    size_t want = max + skip + 1;
    if (want > LOCAL) want = LOCAL;
    int n = unw_backtrace(tmp, (int)want);
    size_t first = skip + 1, count = 0;
    for (size_t i = first; i < (size_t)(n > 0 ? n : 0) && count < max; i++) frames[count++] = tmp[i];
    return count;
}

void sr__bt_warm_up(void)
{
    void *f[4];
    (void)sr__bt_capture(f, 4, 0);
}

int sr__bt_symbolize(void *addr, char *buf, size_t size)
{
    Dl_info info;
    if (dladdr(addr, &info) && info.dli_sname)
        return snprintf(buf, size, "%s+0x%lx", info.dli_sname,
                        (unsigned long)((char *)addr - (char *)info.dli_saddr));
    return snprintf(buf, size, "%p (unknown)", addr);
}
