/*
 * backtrace.c - native stack capture (libunwind) and symbolization.
 *
 * Capture: unw_backtrace into a small array on the C stack, then copied into
 * the caller's array minus the frames to skip. It never allocates once the
 * unwinder has been warmed up on the thread (the first call maps libunwind's
 * trace cache, ~200 us), which is why runtime creation warms it up.
 *
 * Symbolization: an address is a return address, so it is looked up at
 * addr - 1 (a call to a _Noreturn function may be the last instruction of its
 * function, and addr itself then belongs to the next one). With libdw
 * (SR_HAVE_LIBDW) a Dwfl session over /proc/self/maps gives the function from
 * the ELF symbol table (.symtab: static functions and executables linked
 * without -rdynamic included) and file:line from DWARF. Without libdw, dladdr
 * names only dynamic symbols; other frames print as "module+0xoff".
 *
 * The cache (sr__bt_cache) keeps the Dwfl session and an open-addressing hash
 * table from address to the text already produced. Invariants: `cap` is a power
 * of two (or 0), `count * 4 <= cap * 3`, every used slot owns a string of
 * len + 1 bytes taken from sr__sys_alloc; a slot with addr == NULL is empty.
 */
#include "internal.h"
#include "backtrace_internal.h"

#include <dlfcn.h>
#include <pthread.h>
#include <libunwind.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#if SR_HAVE_LIBDW
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <stdlib.h>
#endif

/* ThreadSanitizer crashes when the per-thread trace cache that unw_backtrace
   keeps is torn down at thread exit (its destructor locks a mutex after TSan
   has retired the thread): TSan builds walk the stack with unw_step instead,
   which keeps no per-thread state. */
#if defined(__SANITIZE_THREAD__)
#  define SR__BT_STEP_LOOP 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define SR__BT_STEP_LOOP 1
#  endif
#endif

#ifdef SR__BT_STEP_LOOP
static SR__NOINLINE int sr__bt_unwind(void **out, int max)
{
    unw_context_t uc;
    unw_cursor_t cur;
    if (unw_getcontext(&uc) != 0 || unw_init_local(&cur, &uc) != 0) return 0;
    int n = 0;
    /* like unw_backtrace, the first address is the caller of this function */
    while (n < max && unw_step(&cur) > 0) {
        unw_word_t ip = 0;
        if (unw_get_reg(&cur, UNW_REG_IP, &ip) != 0 || ip == 0) break;
        out[n++] = (void *)(uintptr_t)ip;
    }
    return n;
}
#else
#  define sr__bt_unwind(out, max) unw_backtrace((out), (max))
#endif

SR__NOINLINE size_t sr__bt_capture(void **frames, size_t max, size_t skip)
{
    enum { LOCAL = 128 };
    void *tmp[LOCAL];
    size_t want = max + skip + 1;
    if (want > LOCAL) want = LOCAL;
    int n = sr__bt_unwind(tmp, (int)want);
    size_t first = skip + 1, count = 0;
    for (size_t i = first; i < (size_t)(n > 0 ? n : 0) && count < max; i++) frames[count++] = tmp[i];
    return count;
}

static void sr__bt_first_capture(void)
{
    void *f[4];
    (void)sr__bt_capture(f, 4, 0);
}

void sr__bt_warm_up(void)
{
    /* libunwind initializes its process-wide state on first use with an
       unsynchronized "done" check: runtimes created at once on several threads
       raced on it (ThreadSanitizer). The first capture in the process is made
       once; every thread still warms its own cache below. */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sr__bt_first_capture);
    void *f[4];
    (void)sr__bt_capture(f, 4, 0);
}

/* ---- one lookup --------------------------------------------------------------------- */

static int sr__bt_dladdr(void *addr, char *buf, size_t size)
{
    Dl_info info;
    const char *pc = (const char *)addr - 1;
    if (dladdr(pc, &info)) {
        if (info.dli_sname && info.dli_saddr)
            return snprintf(buf, size, "%s+0x%lx", info.dli_sname,
                            (unsigned long)((const char *)addr - (const char *)info.dli_saddr));
        if (info.dli_fname && info.dli_fbase) {
            const char *base = strrchr(info.dli_fname, '/');
            return snprintf(buf, size, "%s+0x%lx", base ? base + 1 : info.dli_fname,
                            (unsigned long)((const char *)addr - (const char *)info.dli_fbase));
        }
    }
    return snprintf(buf, size, "%p (unknown)", addr);
}

#if SR_HAVE_LIBDW
/* Where separate debug information is looked for: the module's own file
   first (libdw does that before asking), then only the build-id tree. libdw's
   standard search also follows .gnu_debuglink and checks the CRC of every
   candidate, which reads whole libraries (30+ ms for libc, every session). */
static int sr__bt_find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                                 const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
                                 char **debuginfo_file_name)
{
    SR__UNUSED(userdata); SR__UNUSED(modname); SR__UNUSED(base);
    SR__UNUSED(file_name); SR__UNUSED(debuglink_file); SR__UNUSED(debuglink_crc);
    const unsigned char *id = NULL;
    GElf_Addr vaddr = 0;
    int len = dwfl_module_build_id(mod, &id, &vaddr);
    if (len < 2 || len > 64) return -1;
    char path[256];
    size_t n = (size_t)snprintf(path, sizeof path, "/usr/lib/debug/.build-id/%02x/", id[0]);
    for (int i = 1; i < len; i++) n += (size_t)snprintf(path + n, sizeof path - n, "%02x", id[i]);
    snprintf(path + n, sizeof path - n, ".debug");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char *copy = strdup(path);   /* libdw frees it */
    if (!copy) {
        close(fd);
        return -1;
    }
    *debuginfo_file_name = copy;
    return fd;
}

static char *sr__bt_debuginfo_path;   /* unused by our search; never written */
static const Dwfl_Callbacks sr__bt_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = sr__bt_find_debuginfo,
    .debuginfo_path = &sr__bt_debuginfo_path,
};

static Dwfl *sr__bt_dwfl_open(void)
{
    Dwfl *d = dwfl_begin(&sr__bt_callbacks);
    if (!d) return NULL;
    dwfl_report_begin(d);
    if (dwfl_linux_proc_report(d, getpid()) != 0 || dwfl_report_end(d, NULL, NULL) != 0) {
        dwfl_end(d);
        return NULL;
    }
    return d;
}

/* 1 and the text when the address is in a module that has a symbol for it,
   0 otherwise (nothing written). */
static int sr__bt_dwfl_lookup(Dwfl *d, void *addr, char *buf, size_t size, int *len)
{
    Dwarf_Addr pc = (Dwarf_Addr)(uintptr_t)addr - 1;
    Dwfl_Module *m = dwfl_addrmodule(d, pc);
    if (!m) return 0;
    GElf_Off off = 0;
    GElf_Sym sym;
    const char *name = dwfl_module_addrinfo(m, pc, &off, &sym, NULL, NULL, NULL);
    if (!name) return 0;
    const char *file = NULL;
    int line = 0;
    Dwfl_Line *l = dwfl_module_getsrc(m, pc);
    if (l) file = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);
    if (file && line > 0)
        *len = snprintf(buf, size, "%s+0x%lx (%s:%d)", name, (unsigned long)off + 1, file, line);
    else
        *len = snprintf(buf, size, "%s+0x%lx", name, (unsigned long)off + 1);
    return 1;
}
#endif

int sr__bt_symbolize(void *addr, char *buf, size_t size)
{
#if SR_HAVE_LIBDW
    Dwfl *d = sr__bt_dwfl_open();
    if (d) {
        int len = 0;
        int found = sr__bt_dwfl_lookup(d, addr, buf, size, &len);
        dwfl_end(d);
        if (found) return len;
    }
#endif
    return sr__bt_dladdr(addr, buf, size);
}

/* ---- the cache ---------------------------------------------------------------------- */

typedef struct sr__bt_slot {
    void *addr;          /* NULL: empty */
    char *text;
    size_t len;
} sr__bt_slot;

struct sr__bt_cache {
#if SR_HAVE_LIBDW
    Dwfl *dwfl;          /* NULL until the first lookup (or when libdw failed) */
    bool dwfl_tried;
#endif
    sr__bt_slot *slots;
    size_t cap, count;
};

sr__bt_cache *sr__bt_cache_new(sr_runtime *rt)
{
    return sr__sys_calloc(rt, 1, sizeof(sr__bt_cache));
}

void sr__bt_cache_free(sr_runtime *rt, sr__bt_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->cap; i++)
        if (c->slots[i].addr) sr__sys_free(rt, c->slots[i].text, c->slots[i].len + 1);
    sr__sys_free(rt, c->slots, c->cap * sizeof(sr__bt_slot));
#if SR_HAVE_LIBDW
    if (c->dwfl) dwfl_end(c->dwfl);
#endif
    sr__sys_free(rt, c, sizeof *c);
}

static size_t sr__bt_hash(void *addr)
{
    uint64_t x = (uint64_t)(uintptr_t)addr;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x;
}

static sr__bt_slot *sr__bt_find(sr__bt_cache *c, void *addr)
{
    if (!c->cap) return NULL;
    size_t mask = c->cap - 1;
    for (size_t i = sr__bt_hash(addr) & mask;; i = (i + 1) & mask) {
        if (c->slots[i].addr == addr) return &c->slots[i];
        if (!c->slots[i].addr) return NULL;
    }
}

/* Makes room for one more entry; false when memory is short. */
static bool sr__bt_reserve(sr_runtime *rt, sr__bt_cache *c)
{
    if ((c->count + 1) * 4 <= c->cap * 3) return true;
    size_t ncap = c->cap ? c->cap * 2 : 64;
    sr__bt_slot *ns = sr__sys_calloc(rt, ncap, sizeof *ns);
    if (!ns) return false;
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->slots[i].addr) continue;
        size_t j = sr__bt_hash(c->slots[i].addr) & (ncap - 1);
        while (ns[j].addr) j = (j + 1) & (ncap - 1);
        ns[j] = c->slots[i];
    }
    sr__sys_free(rt, c->slots, c->cap * sizeof *c->slots);
    c->slots = ns;
    c->cap = ncap;
    return true;
}

static int sr__bt_lookup(sr__bt_cache *c, void *addr, char *buf, size_t size)
{
#if SR_HAVE_LIBDW
    if (!c->dwfl && !c->dwfl_tried) {
        c->dwfl_tried = true;
        c->dwfl = sr__bt_dwfl_open();
    }
    if (c->dwfl) {
        int len = 0;
        if (sr__bt_dwfl_lookup(c->dwfl, addr, buf, size, &len)) return len;
        /* a module mapped after the session was made: look once more with a fresh list */
        if (dwfl_addrmodule(c->dwfl, (Dwarf_Addr)(uintptr_t)addr - 1) == NULL) {
            Dwfl *fresh = sr__bt_dwfl_open();
            if (fresh) {
                dwfl_end(c->dwfl);
                c->dwfl = fresh;
                if (sr__bt_dwfl_lookup(c->dwfl, addr, buf, size, &len)) return len;
            }
        }
    }
#else
    SR__UNUSED(c);
#endif
    return sr__bt_dladdr(addr, buf, size);
}

int sr__bt_cache_symbolize(sr_runtime *rt, sr__bt_cache *c, void *addr, char *buf, size_t size)
{
    if (!c) return sr__bt_symbolize(addr, buf, size);
    sr__bt_slot *s = sr__bt_find(c, addr);
    if (s) {
        if (size) {
            size_t k = s->len < size - 1 ? s->len : size - 1;
            memcpy(buf, s->text, k);
            buf[k] = '\0';
        }
        return (int)s->len;
    }
    char tmp[512];
    int len = sr__bt_lookup(c, addr, tmp, sizeof tmp);
    if (len < 0) len = 0;
    if ((size_t)len >= sizeof tmp) {          /* longer than the scratch buffer: do not cache */
        return sr__bt_lookup(c, addr, buf, size);
    }
    if (addr && sr__bt_reserve(rt, c)) {
        char *text = sr__sys_alloc(rt, (size_t)len + 1);
        if (text) {
            memcpy(text, tmp, (size_t)len + 1);
            size_t mask = c->cap - 1, j = sr__bt_hash(addr) & mask;
            while (c->slots[j].addr) j = (j + 1) & mask;
            c->slots[j] = (sr__bt_slot){ addr, text, (size_t)len };
            c->count++;
        }
    }
    if (size) {
        size_t k = (size_t)len < size - 1 ? (size_t)len : size - 1;
        memcpy(buf, tmp, k);
        buf[k] = '\0';
    }
    return len;
}

int sr__bt_symbolize_rt(sr_runtime *rt, void *addr, char *buf, size_t size)
{
    if (!rt) return sr__bt_symbolize(addr, buf, size);
    if (!rt->panic.symbols) rt->panic.symbols = sr__bt_cache_new(rt);
    return sr__bt_cache_symbolize(rt, rt->panic.symbols, addr, buf, size);
}
