/*
 * report.c - the profiler's report writers: TEXT, JSON and FOLDED renderings
 * of a profile view (a snapshot), of a snapshot difference, and the leak
 * report written at shutdown.
 *
 * Data structures
 * ---------------
 *  - sr__sb: a growable string on malloc (the reports are handed to the caller,
 *    who free()s them). Once an allocation fails the builder stays failed and
 *    the writer returns NULL.
 *  - sr__symcache: address -> symbolized text, one per rendering, so every
 *    distinct return address is symbolized once (symbolization is the
 *    expensive part of a report; capture stored raw addresses only).
 *  - sr__group: allocation stacks after trimming. A captured stack starts
 *    inside the library (the heap, the object layer, the public entry point);
 *    at render time the innermost run of frames named sr_* is cut down to its
 *    outermost frame (the public call the host made), the rest is limited to
 *    the configured depth, and stacks that become equal are merged.
 *
 * Nothing here recurses; every walk is a loop over an array.
 */
#include "internal.h"
#include "backtrace_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SR__REPORT_TOP_STACKS 20u
#define SR__REPORT_TOP_LEAKS  20u
#define SR__REPORT_SCHEMA     1

/* ---- string builder -------------------------------------------------------------------- */

typedef struct sr__sb {
    char *s;
    size_t len, cap;
    bool failed;
} sr__sb;

static bool sr__sb_reserve(sr__sb *b, size_t more)
{
    if (b->failed) return false;
    if (b->len + more + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + more + 1) {
        if (cap > SIZE_MAX / 2) { b->failed = true; return false; }
        cap *= 2;
    }
    char *s = realloc(b->s, cap);
    if (!s) { b->failed = true; return false; }
    b->s = s;
    b->cap = cap;
    return true;
}

static void sr__sb_putn(sr__sb *b, const char *s, size_t n)
{
    if (!sr__sb_reserve(b, n)) return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sr__sb_puts(sr__sb *b, const char *s) { sr__sb_putn(b, s, strlen(s)); }
static void sr__sb_putc(sr__sb *b, char c) { sr__sb_putn(b, &c, 1); }

static SR_PRINTF(2, 3) void sr__sb_printf(sr__sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) { b->failed = true; return; }
    if ((size_t)n < sizeof tmp) { sr__sb_putn(b, tmp, (size_t)n); return; }
    if (!sr__sb_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static char *sr__sb_finish(sr__sb *b)
{
    if (b->failed) { free(b->s); return NULL; }
    if (!b->s) {
        b->s = malloc(1);
        if (b->s) b->s[0] = '\0';
    }
    return b->s;
}

/* JSON string: quotes, backslashes and control characters escaped; bytes above
   0x7f are written as \u00XX so the output is ASCII (valid UTF-8) whatever a
   described object's strings hold. */
static void sr__sb_json_str(sr__sb *b, const char *s)
{
    sr__sb_putc(b, '"');
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            sr__sb_putc(b, '\\');
            sr__sb_putc(b, (char)*c);
        } else if (*c == '\n') {
            sr__sb_puts(b, "\\n");
        } else if (*c == '\t') {
            sr__sb_puts(b, "\\t");
        } else if (*c < 0x20 || *c >= 0x7f) {
            sr__sb_printf(b, "\\u%04x", (unsigned)*c);
        } else {
            sr__sb_putc(b, (char)*c);
        }
    }
    sr__sb_putc(b, '"');
}

/* ---- symbolization ------------------------------------------------------------------- *
 * Through the backtrace module's cache: the runtime's profiler keeps one for
 * its lifetime (libdw's module list is read once); a detached snapshot or diff
 * (or a runtime whose allocator refuses the cache) gets a cache of its own for
 * one rendering, on a scratch runtime record that only carries the C library
 * allocator: symbolizing without a cache costs milliseconds an address. */

typedef struct sr__symcache {
    sr_runtime *rt;          /* whose sys memory the cache uses */
    sr__bt_cache *c;         /* NULL: uncached */
    bool scratch;            /* rt is a scratch record owned by this rendering */
} sr__symcache;

static void *sr__libc_malloc_cb(size_t n, void *ud) { SR__UNUSED(ud); return malloc(n); }
static void *sr__libc_realloc_cb(void *p, size_t n, void *ud) { SR__UNUSED(ud); return realloc(p, n); }
static void sr__libc_free_cb(void *p, void *ud) { SR__UNUSED(ud); free(p); }

static void sr__symcache_init(sr__symcache *c, sr_runtime *rt)
{
    memset(c, 0, sizeof *c);
    if (rt && rt->prof) {
        if (!rt->prof->bt_cache) rt->prof->bt_cache = sr__bt_cache_new(rt);
        if (rt->prof->bt_cache) {
            c->rt = rt;
            c->c = rt->prof->bt_cache;
            return;
        }
        /* the runtime's allocator refused: a cache on the C library's for this report */
    }
    sr_runtime *s = calloc(1, sizeof *s);
    if (!s) return;
    s->sys.malloc = sr__libc_malloc_cb;
    s->sys.realloc = sr__libc_realloc_cb;
    s->sys.free = sr__libc_free_cb;
    c->rt = s;
    c->scratch = true;
    c->c = sr__bt_cache_new(s);
}

static void sr__symcache_fini(sr__symcache *c)
{
    if (!c->scratch) return;
    sr__bt_cache_free(c->rt, c->c);
    free(c->rt);
}

/* The symbolized text of addr ("function+0xoff (file:line)" or "0x... (unknown)") in tmp. */
static const char *sr__sym_text(sr__symcache *c, void *addr, char *tmp, size_t tmp_size)
{
    int n = c->c ? sr__bt_cache_symbolize(c->rt, c->c, addr, tmp, tmp_size) : sr__bt_symbolize(addr, tmp, tmp_size);
    if (n < 0) snprintf(tmp, tmp_size, "%p (unknown)", addr);
    return tmp;
}

/* The function name of a symbolized frame: up to '+', ' ' or '('. */
static size_t sr__sym_name_len(const char *text)
{
    size_t n = 0;
    while (text[n] && text[n] != '+' && text[n] != ' ' && text[n] != '(') n++;
    return n;
}

static bool sr__sym_is_library(sr__symcache *c, void *addr)
{
    char tmp[512];
    const char *t = sr__sym_text(c, addr, tmp, sizeof tmp);
    return strncmp(t, "sr_", 3) == 0;
}

/* ---- stack groups ---------------------------------------------------------------------- */

typedef struct sr__group {
    const char *type;
    void **frames;          /* the frames shown, innermost first */
    size_t depth;
    size_t count, bytes;    /* live (in a diff: in the newer snapshot) */
    int64_t count_diff, bytes_diff;
    uint64_t allocations;
    sr__hdr *sample;        /* leaks: one member */
    bool raw;               /* leaks: raw blocks */
} sr__group;

static int sr__group_key_cmp(const void *a, const void *b)
{
    const sr__group *x = a, *y = b;
    int c = strcmp(x->type, y->type);
    if (c) return c;
    if (x->depth != y->depth) return x->depth < y->depth ? -1 : 1;
    for (size_t i = 0; i < x->depth; i++)
        if (x->frames[i] != y->frames[i]) return (uintptr_t)x->frames[i] < (uintptr_t)y->frames[i] ? -1 : 1;
    return 0;
}

static int sr__group_bytes_cmp(const void *a, const void *b)
{
    const sr__group *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return sr__group_key_cmp(a, b);
}

static int sr__group_growth_cmp(const void *a, const void *b)
{
    const sr__group *x = a, *y = b;
    if (x->bytes_diff != y->bytes_diff) return x->bytes_diff > y->bytes_diff ? -1 : 1;
    if (x->count_diff != y->count_diff) return x->count_diff > y->count_diff ? -1 : 1;
    return sr__group_bytes_cmp(a, b);
}

/* Cuts the library frames off a captured stack (see the top of the file). */
static void sr__trim(sr__symcache *c, void **frames, size_t depth, size_t keep, void ***out, size_t *out_depth)
{
    size_t first = 0;
    while (first < depth && sr__sym_is_library(c, frames[first])) first++;
    if (first > 0) first--;
    size_t n = depth - first;
    if (n > keep) n = keep;
    *out = frames + first;
    *out_depth = n;
}

/* Merges groups with the same type and shown frames (summing their figures,
   keeping the first sample), drops those left empty, sorts by `order`.
   Returns the new count. */
static size_t sr__groups_merge(sr__group *g, size_t n, int (*order)(const void *, const void *), bool diff)
{
    qsort(g, n, sizeof *g, sr__group_key_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k && sr__group_key_cmp(&g[k - 1], &g[i]) == 0) {
            sr__group *m = &g[k - 1];
            m->count += g[i].count;
            m->bytes += g[i].bytes;
            m->count_diff += g[i].count_diff;
            m->bytes_diff += g[i].bytes_diff;
            m->allocations += g[i].allocations;
            if (!m->sample) m->sample = g[i].sample;
        } else {
            g[k++] = g[i];
        }
    }
    size_t m = 0;
    for (size_t i = 0; i < k; i++)
        if (diff ? (g[i].count_diff || g[i].bytes_diff) : g[i].count != 0) g[m++] = g[i];
    qsort(g, m, sizeof *g, order);
    return m;
}

/* Groups of the view's live stacks, merged after trimming, largest first. */
static sr__group *sr__groups_of_view(const sr_profiler_snapshot *v, sr__symcache *c, size_t *count)
{
    *count = 0;
    sr__group *g = calloc(v->stack_count ? v->stack_count : 1, sizeof *g);
    if (!g) return NULL;
    size_t keep = v->stack_depth ? v->stack_depth : 8;
    for (size_t i = 0; i < v->stack_count; i++) {
        const sr__vstack *s = &v->stacks[i];
        g[i].type = v->types[s->type].type_name;
        sr__trim(c, s->frames, s->depth, keep, &g[i].frames, &g[i].depth);
        g[i].count = s->count;
        g[i].bytes = s->bytes;
        g[i].allocations = s->allocations;
    }
    *count = sr__groups_merge(g, v->stack_count, sr__group_bytes_cmp, false);
    return g;
}

/* Groups of a diff's stacks, merged after trimming, largest growth first. */
static sr__group *sr__groups_of_diff(const sr_profile_diff *d, sr__symcache *c, size_t *count)
{
    *count = 0;
    sr__group *g = calloc(d->stack_count ? d->stack_count : 1, sizeof *g);
    if (!g) return NULL;
    for (size_t i = 0; i < d->stack_count; i++) {
        const sr_profile_diff_entry *e = &d->stacks[i];
        g[i].type = e->type_name;
        sr__trim(c, (void **)(uintptr_t)e->frames, e->frame_count, SR__PROF_MAX_FRAMES, &g[i].frames, &g[i].depth);
        g[i].count = e->count;
        g[i].bytes = e->bytes;
        g[i].count_diff = e->count_diff;
        g[i].bytes_diff = e->bytes_diff;
    }
    *count = sr__groups_merge(g, d->stack_count, sr__group_growth_cmp, true);
    return g;
}

static void sr__text_frames(sr__sb *b, sr__symcache *c, void **frames, size_t depth, const char *indent)
{
    char tmp[512];
    if (depth == 0) {
        sr__sb_printf(b, "%s(no frames)\n", indent);
        return;
    }
    for (size_t i = 0; i < depth; i++)
        sr__sb_printf(b, "%s%s\n", indent, sr__sym_text(c, frames[i], tmp, sizeof tmp));
}

static void sr__json_frames(sr__sb *b, sr__symcache *c, void **frames, size_t depth)
{
    char tmp[512];
    sr__sb_putc(b, '[');
    for (size_t i = 0; i < depth; i++) {
        if (i) sr__sb_putc(b, ',');
        sr__sb_json_str(b, sr__sym_text(c, frames[i], tmp, sizeof tmp));
    }
    sr__sb_putc(b, ']');
}

/* A folded frame: the function name with ';', spaces and control bytes replaced by '_'. */
static void sr__folded_name(sr__sb *b, const char *s, size_t n)
{
    if (n == 0) { sr__sb_putc(b, '?'); return; }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        sr__sb_putc(b, (ch == ';' || ch <= ' ' || ch == 0x7f) ? '_' : (char)ch);
    }
}

/* ---- leaks (live blocks allocated since the mark, or all at shutdown) ---------------- */

/* Gathering leak groups during a heap walk: groups keyed by (category, stack)
   through a small hash index, in arrays sized before the walk. */
typedef struct sr__leak_walk {
    sr_runtime *rt;
    const sr__profiler *p;
    bool all;               /* every live block, not only those since the mark */
    sr__group *g;
    uint32_t *stack;        /* per group: stack table index */
    size_t cap, k;
    uint64_t *ikey;         /* key + 1; 0 = empty */
    size_t *ival, icap;
} sr__leak_walk;

static void sr__leak_visit(sr__hdr *h, void *ctx)
{
    sr__leak_walk *w = ctx;
    const sr__profiler *p = w->p;
    if (!w->all && (h->flags & SR__PROF_EPOCH_MASK) != p->tag) return;
    bool raw = sr__kind(h) != SR__KIND_OBJ;
    uint32_t slot = raw ? SR__PROF_RAW_SLOT : h->info >> 8;
    if (!raw && slot >= p->type_cap) slot = UINT32_MAX;
    uint32_t stack = sr__profiler_stack_of(p, h);
    uint64_t key = (((uint64_t)slot << 32) | stack) + 1;
    size_t mask = w->icap - 1, j = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & mask;
    while (w->ikey[j] && w->ikey[j] != key) j = (j + 1) & mask;
    sr__group *e;
    if (w->ikey[j]) {
        e = &w->g[w->ival[j]];
    } else {
        if (w->k == w->cap) return;   /* cannot happen (see cap); never overrun */
        w->ikey[j] = key;
        w->ival[j] = w->k;
        w->stack[w->k] = stack;
        e = &w->g[w->k++];
        e->type = sr__profiler_type_name(w->rt, slot);
        e->sample = h;
        e->raw = raw;
    }
    e->count++;
    e->bytes += sr__heap_charge_of(w->rt, h);
}

/* Live blocks allocated since the mark (all: every live block), grouped by
   type and shown frames, largest first. One walk over the heap reads the
   epoch in each header; blocks with a side record are grouped by their stack,
   the others by type alone. Memory in proportion to the stacks, not to the
   blocks. */
static sr__group *sr__leaks_collect(sr_runtime *rt, sr__symcache *c, bool all, size_t *count)
{
    sr__profiler *p = rt->prof;
    *count = 0;
    /* distinct keys: a stack implies its category, plus one "no stack" key per category */
    sr__leak_walk w = { .rt = rt, .p = p, .all = all, .cap = (size_t)p->stack_count + p->type_cap + 2, .icap = 16 };
    while (w.icap < 2 * w.cap) w.icap *= 2;
    w.g = calloc(w.cap, sizeof *w.g);
    w.stack = calloc(w.cap, sizeof *w.stack);
    w.ikey = calloc(w.icap, sizeof *w.ikey);
    w.ival = calloc(w.icap, sizeof *w.ival);
    if (w.g && w.stack && w.ikey && w.ival) {
        sr__heap_each_live(rt, sr__leak_visit, &w);
        for (size_t i = 0; i < w.k; i++) {
            if (!w.stack[i]) continue;
            const sr__pstack *s = &p->stacks[w.stack[i]];
            sr__trim(c, &p->frame_pool[s->frames], s->depth, p->depth, &w.g[i].frames, &w.g[i].depth);
        }
        *count = sr__groups_merge(w.g, w.k, sr__group_bytes_cmp, false);
    } else {
        free(w.g);
        w.g = NULL;
    }
    free(w.stack);
    free(w.ikey);
    free(w.ival);
    return w.g;
}

/* Renders the sample of a leak group into tmp. */
static const char *sr__leak_sample(sr_runtime *rt, const sr__group *l, char *tmp, size_t size)
{
    if (l->raw) {
        snprintf(tmp, size, "raw block @%p, %zu usable bytes", sr__payload_of(l->sample),
                 sr__heap_usable(rt, l->sample));
        return tmp;
    }
    int n = sr_rc_describe(rt, sr__payload_of(l->sample), tmp, size);
    if (n < 0) snprintf(tmp, size, "%s@%p", l->type, sr__payload_of(l->sample));
    return tmp;
}

static void sr__text_leaks(sr__sb *b, sr_runtime *rt, sr__symcache *c, const sr__group *l, size_t n)
{
    char tmp[1024];
    size_t shown = n < SR__REPORT_TOP_LEAKS ? n : SR__REPORT_TOP_LEAKS;
    for (size_t i = 0; i < shown; i++) {
        sr__sb_printf(b, "  %zu x %s (%zu bytes), allocated at:\n", l[i].count, l[i].type, l[i].bytes);
        if (l[i].depth) sr__text_frames(b, c, l[i].frames, l[i].depth, "      ");
        else sr__sb_puts(b, "      (stack not sampled; profiler_sample_bytes = 1 records every allocation's)\n");
        sr__sb_printf(b, "    sample: %s\n", sr__leak_sample(rt, &l[i], tmp, sizeof tmp));
    }
    if (shown < n) sr__sb_printf(b, "  ... and %zu more groups\n", n - shown);
}

/* ---- TEXT -------------------------------------------------------------------------------- */

static int sr__type_bytes_cmp(const void *a, const void *b)
{
    const sr_type_profile *x = *(const sr_type_profile *const *)a, *y = *(const sr_type_profile *const *)b;
    if (x->current_bytes != y->current_bytes) return x->current_bytes > y->current_bytes ? -1 : 1;
    if (x->current_count != y->current_count) return x->current_count > y->current_count ? -1 : 1;
    return strcmp(x->type_name, y->type_name);
}

/* live_only: leave out the types with nothing alive (the shutdown report). */
static void sr__text_types(sr__sb *b, const sr_profiler_snapshot *v, bool live_only)
{
    const sr_type_profile **order = calloc(v->type_count ? v->type_count : 1, sizeof *order);
    if (!order) { b->failed = true; return; }
    for (size_t i = 0; i < v->type_count; i++) order[i] = &v->types[i];
    qsort(order, v->type_count, sizeof *order, sr__type_bytes_cmp);
    sr__sb_puts(b, "Types by current bytes:\n");
    sr__sb_printf(b, "  %-24s %10s %12s %12s %12s %12s\n", "type", "count", "bytes", "peak bytes", "allocations",
                  "frees");
    for (size_t i = 0; i < v->type_count; i++) {
        const sr_type_profile *t = order[i];
        if (live_only && t->current_count == 0) continue;
        sr__sb_printf(b, "  %-24s %10zu %12zu %12zu %12" PRIu64 " %12" PRIu64 "\n", t->type_name, t->current_count,
                      t->current_bytes, t->peak_bytes, t->allocations, t->frees);
    }
    free(order);
}

static void sr__render_text(sr__sb *b, sr_runtime *rt, const sr_profiler_snapshot *v, sr__symcache *c)
{
    sr__sb_puts(b, "scriptrt memory profile\n");
    sr__sb_printf(b, "  current memory %zu bytes, peak %zu bytes\n", v->current_memory, v->peak_memory);
    sr__sb_printf(b, "  allocations %" PRIu64 ", frees %" PRIu64 ", potential leaks %zu (%zu bytes)\n",
                  v->total_allocations, v->total_frees, v->potential_leaks, v->potential_leak_bytes);
    sr__sb_printf(b, "  profiler memory %zu bytes (not in current memory)", v->profiler_bytes);
    if (v->sample_bytes) sr__sb_printf(b, ", stacks sampled every ~%zu bytes (stack bytes are estimates)", v->sample_bytes);
    if (v->untracked) sr__sb_printf(b, ", %" PRIu64 " sampled stacks lost (profiler out of memory)", v->untracked);
    sr__sb_puts(b, "\n\n");
    sr__text_types(b, v, false);

    size_t ng = 0;
    sr__group *g = sr__groups_of_view(v, c, &ng);
    if (!g) { b->failed = true; return; }
    size_t shown = ng < SR__REPORT_TOP_STACKS ? ng : SR__REPORT_TOP_STACKS;
    sr__sb_printf(b, "\nTop allocation stacks of live memory (%zu of %zu):\n", shown, ng);
    for (size_t i = 0; i < shown; i++) {
        sr__sb_printf(b, "  #%zu  %zu bytes in %zu %s\n", i + 1, g[i].bytes, g[i].count, g[i].type);
        sr__text_frames(b, c, g[i].frames, g[i].depth, "      ");
    }
    free(g);

    if (!rt) return;
    size_t nl = 0;
    sr__group *l = sr__leaks_collect(rt, c, false, &nl);
    if (!l) { b->failed = true; return; }
    sr__leaks lk = sr__profiler_leaks(rt->prof);
    sr__sb_printf(b, "\nPotential leaks since the last mark: %zu objects (%zu bytes), %zu raw blocks (%zu bytes)\n",
                  lk.objects, lk.object_bytes, lk.raw, lk.raw_bytes);
    sr__text_leaks(b, rt, c, l, nl);
    free(l);
}

/* ---- JSON -------------------------------------------------------------------------------- */

static void sr__render_json(sr__sb *b, sr_runtime *rt, const sr_profiler_snapshot *v, sr__symcache *c)
{
    sr__sb_printf(b, "{\"schema\":\"scriptrt-profile\",\"schema_version\":%d,", SR__REPORT_SCHEMA);
    sr__sb_printf(b, "\"timestamp_ns\":%" PRIu64 ",", v->timestamp_ns);
    sr__sb_printf(b, "\"total_allocations\":%" PRIu64 ",\"total_frees\":%" PRIu64 ",", v->total_allocations,
                  v->total_frees);
    sr__sb_printf(b, "\"current_memory\":%zu,\"peak_memory\":%zu,", v->current_memory, v->peak_memory);
    sr__sb_printf(b, "\"potential_leaks\":%zu,\"potential_leak_bytes\":%zu,", v->potential_leaks,
                  v->potential_leak_bytes);
    sr__sb_printf(b, "\"profiler_bytes\":%zu,\"sample_bytes\":%zu,\"stack_depth\":%zu,\"untracked_blocks\":%" PRIu64
                  ",", v->profiler_bytes, v->sample_bytes, v->stack_depth, v->untracked);
    sr__sb_puts(b, "\"types\":[");
    for (size_t i = 0; i < v->type_count; i++) {
        const sr_type_profile *t = &v->types[i];
        if (i) sr__sb_putc(b, ',');
        sr__sb_puts(b, "{\"name\":");
        sr__sb_json_str(b, t->type_name);
        sr__sb_printf(b, ",\"allocations\":%" PRIu64 ",\"frees\":%" PRIu64 ",\"current_count\":%zu,"
                      "\"current_bytes\":%zu,\"peak_bytes\":%zu}",
                      t->allocations, t->frees, t->current_count, t->current_bytes, t->peak_bytes);
    }
    sr__sb_puts(b, "],\"stacks\":[");
    size_t ng = 0;
    sr__group *g = sr__groups_of_view(v, c, &ng);
    if (!g) { b->failed = true; return; }
    for (size_t i = 0; i < ng; i++) {
        if (i) sr__sb_putc(b, ',');
        sr__sb_puts(b, "{\"type\":");
        sr__sb_json_str(b, g[i].type);
        sr__sb_printf(b, ",\"count\":%zu,\"bytes\":%zu,\"allocations\":%" PRIu64 ",\"frames\":", g[i].count,
                      g[i].bytes, g[i].allocations);
        sr__json_frames(b, c, g[i].frames, g[i].depth);
        sr__sb_putc(b, '}');
    }
    free(g);
    sr__sb_putc(b, ']');
    if (rt) {
        size_t nl = 0;
        sr__group *l = sr__leaks_collect(rt, c, false, &nl);
        if (!l) { b->failed = true; return; }
        char tmp[1024];
        sr__sb_puts(b, ",\"leaks\":[");
        for (size_t i = 0; i < nl; i++) {
            if (i) sr__sb_putc(b, ',');
            sr__sb_puts(b, "{\"type\":");
            sr__sb_json_str(b, l[i].type);
            sr__sb_printf(b, ",\"kind\":\"%s\",\"count\":%zu,\"bytes\":%zu,\"frames\":", l[i].raw ? "raw" : "object",
                          l[i].count, l[i].bytes);
            sr__json_frames(b, c, l[i].frames, l[i].depth);
            sr__sb_puts(b, ",\"sample\":");
            sr__sb_json_str(b, sr__leak_sample(rt, &l[i], tmp, sizeof tmp));
            sr__sb_putc(b, '}');
        }
        sr__sb_putc(b, ']');
        free(l);
    }
    sr__sb_puts(b, "}\n");
}

/* ---- FOLDED ------------------------------------------------------------------------------ */

static int sr__str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One "frame;frame;...;[type]" key per entry (outermost first), sorted and
   merged: a line per distinct key with the summed bytes; entries with
   bytes <= 0 are left out. */
static void sr__render_folded_lines(sr__sb *b, sr__symcache *c, size_t n, const char *const *types,
                                    void **const *frames, const size_t *depths, const int64_t *bytes)
{
    char **lines = calloc(n ? n : 1, sizeof *lines);
    if (!lines) { b->failed = true; return; }
    size_t k = 0;
    char tmp[512];
    for (size_t i = 0; i < n; i++) {
        if (bytes[i] <= 0) continue;
        sr__sb line = { 0 };
        for (size_t j = depths[i]; j-- > 0;) {
            const char *t = sr__sym_text(c, frames[i][j], tmp, sizeof tmp);
            sr__folded_name(&line, t, sr__sym_name_len(t));
            sr__sb_putc(&line, ';');
        }
        sr__sb_putc(&line, '[');
        sr__folded_name(&line, types[i], strlen(types[i]));
        sr__sb_printf(&line, "] %" PRId64, bytes[i]);
        if (line.failed) { free(line.s); b->failed = true; break; }
        lines[k++] = line.s;
    }
    qsort(lines, k, sizeof *lines, sr__str_cmp);
    /* merge equal keys: the key is everything before the last space */
    for (size_t i = 0; i < k;) {
        const char *sp = strrchr(lines[i], ' ');
        size_t keylen = (size_t)(sp - lines[i]);
        long long total = 0;
        size_t j = i;
        for (; j < k && strncmp(lines[j], lines[i], keylen) == 0 && lines[j][keylen] == ' '; j++)
            total += strtoll(lines[j] + keylen + 1, NULL, 10);
        sr__sb_putn(b, lines[i], keylen);
        sr__sb_printf(b, " %lld\n", total);
        i = j;
    }
    for (size_t i = 0; i < k; i++) free(lines[i]);
    free(lines);
}

/* Folded lines of n groups (g is freed here): the depth capped at max_depth,
   the bytes live or, for a diff, grown. */
static void sr__folded_of_groups(sr__sb *b, sr__symcache *c, sr__group *g, size_t n, size_t max_depth, bool diff)
{
    const char **types = calloc(n ? n : 1, sizeof *types);
    void ***frames = calloc(n ? n : 1, sizeof *frames);
    size_t *depths = calloc(n ? n : 1, sizeof *depths);
    int64_t *bytes = calloc(n ? n : 1, sizeof *bytes);
    if (g && types && frames && depths && bytes) {
        for (size_t i = 0; i < n; i++) {
            types[i] = g[i].type;
            frames[i] = g[i].frames;
            depths[i] = g[i].depth < max_depth ? g[i].depth : max_depth;
            bytes[i] = diff ? g[i].bytes_diff : (int64_t)g[i].bytes;
        }
        sr__render_folded_lines(b, c, n, types, (void **const *)frames, depths, bytes);
    } else {
        b->failed = true;
    }
    free(g);
    free(types);
    free(frames);
    free(depths);
    free(bytes);
}

static void sr__render_folded(sr__sb *b, const sr_profiler_snapshot *v, sr__symcache *c)
{
    size_t n = 0;
    sr__group *g = sr__groups_of_view(v, c, &n);
    sr__folded_of_groups(b, c, g, n, SIZE_MAX, false);
}

/* ---- entry points ------------------------------------------------------------------------ */

char *sr__report_render(sr_runtime *rt, const sr_profiler_snapshot *v, sr_report_format fmt)
{
    size_t internal = rt ? rt->internal_bytes : 0;
    sr__symcache c;
    sr__symcache_init(&c, rt);
    sr__sb b = { 0 };
    switch (fmt) {
    case SR_REPORT_TEXT: sr__render_text(&b, rt, v, &c); break;
    case SR_REPORT_JSON: sr__render_json(&b, rt, v, &c); break;
    case SR_REPORT_FOLDED: sr__render_folded(&b, v, &c); break;
    default: b.failed = true; break;
    }
    sr__symcache_fini(&c);
    if (rt && rt->internal_bytes > internal) rt->prof->bytes += rt->internal_bytes - internal;  /* the cache grew */
    return sr__sb_finish(&b);
}

char *sr__report_leaks_at_exit(sr_runtime *rt)
{
    sr_profiler_snapshot *v = sr__profiler_view(rt);
    if (!v) return NULL;
    size_t internal = rt->internal_bytes;
    sr__symcache c;
    sr__symcache_init(&c, rt);
    sr__sb b = { 0 };
    size_t nl = 0;
    sr__group *l = sr__leaks_collect(rt, &c, true, &nl);
    if (l) {
        sr__sb_printf(&b, "scriptrt: leak report at shutdown: %zu objects and %zu raw blocks still alive "
                          "(%zu bytes)\n\n", rt->heap.live_objects, rt->heap.live_blocks, rt->heap.used);
        sr__text_types(&b, v, true);
        sr__sb_puts(&b, "\nStill alive, by allocation stack:\n");
        sr__text_leaks(&b, rt, &c, l, nl);
        if (rt->prof->untracked)
            sr__sb_printf(&b, "  (%" PRIu64 " sampled stacks lost: the profiler ran out of memory)\n",
                          rt->prof->untracked);
        free(l);
    } else {
        b.failed = true;
    }
    sr__symcache_fini(&c);
    if (rt->internal_bytes > internal) rt->prof->bytes += rt->internal_bytes - internal;
    sr_profiler_snapshot_free(v);
    return sr__sb_finish(&b);
}

/* ---- snapshot differences ---------------------------------------------------------------- */

static size_t sr__diff_depth(const sr_profile_diff *d)
{
    return ((const struct sr__diff_alloc *)(const void *)d)->depth;
}

static void sr__diff_text(sr__sb *b, const sr_profile_diff *d, sr__symcache *c)
{
    sr__sb_printf(b, "scriptrt memory profile difference (%.3f s apart)\n", (double)d->elapsed_ns / 1e9);
    sr__sb_printf(b, "  current memory %+" PRId64 " bytes, allocations %+" PRId64 "\n\n", d->memory_diff,
                  d->allocations_diff);
    sr__sb_puts(b, "By type (largest growth first):\n");
    sr__sb_printf(b, "  %-24s %12s %12s %10s %12s\n", "type", "count diff", "bytes diff", "count", "bytes");
    for (size_t i = 0; i < d->type_count; i++) {
        const sr_profile_diff_entry *e = &d->types[i];
        sr__sb_printf(b, "  %-24s %+12" PRId64 " %+12" PRId64 " %10zu %12zu\n", e->type_name, e->count_diff,
                      e->bytes_diff, e->count, e->bytes);
    }
    size_t ng = 0;
    sr__group *g = sr__groups_of_diff(d, c, &ng);
    if (!g) { b->failed = true; return; }
    size_t shown = ng < SR__REPORT_TOP_STACKS ? ng : SR__REPORT_TOP_STACKS;
    sr__sb_printf(b, "\nBy allocation stack (%zu of %zu):\n", shown, ng);
    for (size_t i = 0; i < shown; i++) {
        sr__sb_printf(b, "  #%zu  %+" PRId64 " bytes, %+" PRId64 " %s (now %zu bytes in %zu)\n", i + 1,
                      g[i].bytes_diff, g[i].count_diff, g[i].type, g[i].bytes, g[i].count);
        sr__text_frames(b, c, g[i].frames, g[i].depth < sr__diff_depth(d) ? g[i].depth : sr__diff_depth(d), "      ");
    }
    free(g);
}

static void sr__diff_json(sr__sb *b, const sr_profile_diff *d, sr__symcache *c)
{
    sr__sb_printf(b, "{\"schema\":\"scriptrt-profile-diff\",\"schema_version\":%d,", SR__REPORT_SCHEMA);
    sr__sb_printf(b, "\"elapsed_ns\":%" PRIu64 ",\"memory_diff\":%" PRId64 ",\"allocations_diff\":%" PRId64 ",",
                  d->elapsed_ns, d->memory_diff, d->allocations_diff);
    sr__sb_puts(b, "\"types\":[");
    for (size_t i = 0; i < d->type_count; i++) {
        const sr_profile_diff_entry *e = &d->types[i];
        if (i) sr__sb_putc(b, ',');
        sr__sb_puts(b, "{\"type\":");
        sr__sb_json_str(b, e->type_name);
        sr__sb_printf(b, ",\"count_diff\":%" PRId64 ",\"bytes_diff\":%" PRId64 ",\"count\":%zu,\"bytes\":%zu}",
                      e->count_diff, e->bytes_diff, e->count, e->bytes);
    }
    sr__sb_puts(b, "],\"stacks\":[");
    size_t ng = 0;
    sr__group *g = sr__groups_of_diff(d, c, &ng);
    if (!g) { b->failed = true; return; }
    for (size_t i = 0; i < ng; i++) {
        if (i) sr__sb_putc(b, ',');
        sr__sb_puts(b, "{\"type\":");
        sr__sb_json_str(b, g[i].type);
        sr__sb_printf(b, ",\"count_diff\":%" PRId64 ",\"bytes_diff\":%" PRId64 ",\"count\":%zu,\"bytes\":%zu",
                      g[i].count_diff, g[i].bytes_diff, g[i].count, g[i].bytes);
        sr__sb_puts(b, ",\"frames\":");
        sr__json_frames(b, c, g[i].frames, g[i].depth < sr__diff_depth(d) ? g[i].depth : sr__diff_depth(d));
        sr__sb_putc(b, '}');
    }
    free(g);
    sr__sb_puts(b, "]}\n");
}

static void sr__diff_folded(sr__sb *b, const sr_profile_diff *d, sr__symcache *c)
{
    size_t n = 0;
    sr__group *g = sr__groups_of_diff(d, c, &n);
    sr__folded_of_groups(b, c, g, n, sr__diff_depth(d), true);
}

char *sr_profiler_diff_report(const sr_profile_diff *diff, sr_report_format fmt)
{
    if (!diff) return NULL;
    sr__symcache c;
    sr__symcache_init(&c, NULL);
    sr__sb b = { 0 };
    switch (fmt) {
    case SR_REPORT_TEXT: sr__diff_text(&b, diff, &c); break;
    case SR_REPORT_JSON: sr__diff_json(&b, diff, &c); break;
    case SR_REPORT_FOLDED: sr__diff_folded(&b, diff, &c); break;
    default: b.failed = true; break;
    }
    sr__symcache_fini(&c);
    return sr__sb_finish(&b);
}
