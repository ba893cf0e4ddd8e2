/*
 * profile_demo.c - finding a memory hog and a leak with scriptrt's profiler.
 *
 * A toy request handler with two bugs:
 *   - a hog: every request caches its rendered page in a table that nothing
 *     ever trims (raw blocks and CacheEntry objects grow without bound);
 *   - a leak: on an error path a Session keeps one reference too many, so it
 *     never dies. Parent/child Node cycles are also made on every request, but
 *     those are garbage the cycle collector reclaims: check_leaks collects
 *     cycles first and does not report them.
 *
 * usage: sr-profile-demo [outdir]   writes report.txt, report.json,
 *        profile.folded, diff.txt, diff.folded and shutdown.txt into outdir
 *        (default: the current directory); docs/profiling.md shows them.
 */
#include <scriptrt.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Node { void *parent, *child; int64_t id; } Node;
typedef struct Session { void *user; int64_t id; bool authenticated; const char *path; } Session;
typedef struct CacheEntry { void *next; int64_t key; void *page; int64_t size; } CacheEntry;

static const sr_field node_fields[] = {
    { "parent", offsetof(Node, parent), SR_FIELD_REF },
    { "child", offsetof(Node, child), SR_FIELD_REF },
    { "id", offsetof(Node, id), SR_FIELD_I64 },
};
static const sr_field session_fields[] = {
    { "user", offsetof(Session, user), SR_FIELD_REF },
    { "id", offsetof(Session, id), SR_FIELD_I64 },
    { "authenticated", offsetof(Session, authenticated), SR_FIELD_BOOL },
    { "path", offsetof(Session, path), SR_FIELD_CSTR },
};
static const sr_field entry_fields[] = {
    { "next", offsetof(CacheEntry, next), SR_FIELD_REF },
    { "key", offsetof(CacheEntry, key), SR_FIELD_I64 },
    { "page", offsetof(CacheEntry, page), SR_FIELD_PTR },
    { "size", offsetof(CacheEntry, size), SR_FIELD_I64 },
};

static sr_runtime *rt;
static sr_type_id t_node, t_session, t_entry;
static void *cache_head;                     /* the unbounded cache: a chain of CacheEntry */

static void entry_finalize(sr_runtime *r, void *obj)
{
    CacheEntry *e = obj;
    sr_free(r, e->page);
}

/* ---- the application ------------------------------------------------------------- */

static __attribute__((noinline)) char *render_into(size_t size, const char *kind, int64_t key)
{
    char *page = sr_alloc(rt, size);
    if (page) snprintf(page, size, "<html>%s %lld</html>", kind, (long long)key);
    return page;
}

static __attribute__((noinline)) void *render_results(int64_t key)
{
    return render_into(1500 + (size_t)(key % 5) * 100, "results", key);
}

static __attribute__((noinline)) void *render_static(int64_t key)
{
    return render_into(300 + (size_t)(key % 3) * 16, "static", key);
}

static __attribute__((noinline)) void *render_page(int64_t key, const char *path)
{
    return strcmp(path, "/search") == 0 ? render_results(key) : render_static(key);
}

static __attribute__((noinline)) void cache_put(int64_t key, void *page)
{
    CacheEntry *e = sr_rc_new(rt, t_entry);
    if (!e) { sr_free(rt, page); return; }
    e->key = key;
    e->page = page;
    e->size = (int64_t)sr_alloc_usable_size(rt, page);
    e->next = cache_head;                    /* the chain owns the old head now */
    cache_head = e;                          /* BUG (hog): never trimmed */
}

static __attribute__((noinline)) void build_tree(int64_t id)
{
    Node *parent = sr_rc_new(rt, t_node), *child = sr_rc_new(rt, t_node);
    parent->id = id;
    child->id = id + 1;
    parent->child = sr_rc_retain(child);
    child->parent = sr_rc_retain(parent);    /* a cycle: garbage once both are released */
    sr_rc_release(rt, child);
    sr_rc_release(rt, parent);
}

static __attribute__((noinline)) Session *open_session(int64_t id, const char *path)
{
    Session *s = sr_rc_new(rt, t_session);
    s->id = id;
    s->path = path;
    return s;
}

static __attribute__((noinline)) void handle_request(int64_t id, const char *path)
{
    Session *s = open_session(id, path);
    build_tree(id * 2);
    if (strcmp(path, "/admin") == 0) {
        s->authenticated = false;
        sr_rc_retain(s);                     /* BUG (leak): the error path keeps a reference */
        return;                              /* ... and forgets the one it owns, too */
    }
    s->authenticated = true;
    cache_put(id, render_page(id, path));
    sr_rc_release(rt, s);
}

/* ---- the investigation ----------------------------------------------------------- */

static void save(const char *dir, const char *name, char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f && text) fputs(text, f);
    if (f) fclose(f);
    free(text);
}

static FILE *shutdown_out;
static void shutdown_sink(sr_runtime *r, const char *report, void *ud)
{
    (void)r;
    (void)ud;
    if (shutdown_out) fputs(report, shutdown_out);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    sr_config cfg = sr_config_default();
    cfg.enable_profiling = true;            /* on by default in debug builds only */
    cfg.profiler_stack_depth = 10;
    cfg.profiler_sample_bytes = SR_PROFILER_EVERY_ALLOCATION;   /* hunting: every stack (default: sampled) */
    cfg.leak_sink = shutdown_sink;
    if (sr_runtime_new(&cfg, &rt) != SR_OK) return 1;

    sr_type node = { "Node", sizeof(Node), node_fields, 3, NULL, NULL };
    sr_type session = { "Session", sizeof(Session), session_fields, 4, NULL, NULL };
    sr_type entry = { "CacheEntry", sizeof(CacheEntry), entry_fields, 4, NULL, entry_finalize };
    if (sr_type_register(rt, &node, &t_node) != SR_OK || sr_type_register(rt, &session, &t_session) != SR_OK ||
        sr_type_register(rt, &entry, &t_entry) != SR_OK)
        return 1;

    static const char *paths[] = { "/", "/search", "/admin", "/about", "/search", "/" };
    int64_t id = 0;
    for (int i = 0; i < 200; i++, id++) handle_request(id, paths[id % 6]);   /* warm-up */

    /* 1. a baseline: what is allocated from now on and stays alive is suspect.
       Collect cycles before each snapshot so garbage does not count as growth. */
    sr_profiler_mark(rt);
    sr_gc_collect(rt);
    sr_profiler_snapshot *before = sr_profiler_snapshot_take(rt);
    for (int i = 0; i < 3000; i++, id++) handle_request(id, paths[id % 6]);
    sr_gc_collect(rt);
    sr_profiler_snapshot *after = sr_profiler_snapshot_take(rt);

    /* 2. the memory hog: what grew, by type and by allocation stack */
    sr_profile_diff *d = sr_profiler_snapshot_compare(before, after);
    save(dir, "diff.txt", sr_profiler_diff_report(d, SR_REPORT_TEXT));
    save(dir, "diff.folded", sr_profiler_diff_report(d, SR_REPORT_FOLDED));
    sr_profiler_diff_free(d);
    sr_profiler_snapshot_free(before);
    sr_profiler_snapshot_free(after);

    /* 3. leaks: collect cycles, then what is still alive since the mark */
    bool leaks = sr_profiler_check_leaks(rt);
    printf("check_leaks: %s\n", leaks ? "potential leaks" : "none");
    save(dir, "report.txt", sr_profiler_report(rt, SR_REPORT_TEXT));
    save(dir, "report.json", sr_profiler_report(rt, SR_REPORT_JSON));
    save(dir, "profile.folded", sr_profiler_report(rt, SR_REPORT_FOLDED));

    sr_profile p;
    if (sr_profiler_stats(rt, &p))
        printf("current %zu bytes, peak %zu, potential leaks %zu objects (%zu bytes)\n", p.current_memory,
               p.peak_memory, p.potential_leaks, p.potential_leak_bytes);

    /* 4. the cache is dropped at exit; the leaked sessions show in the shutdown report */
    sr_rc_release(rt, cache_head);
    cache_head = NULL;
    char path[1024];
    snprintf(path, sizeof path, "%s/shutdown.txt", dir);
    shutdown_out = fopen(path, "w");
    sr_runtime_free(rt);
    if (shutdown_out) fclose(shutdown_out);
    return 0;
}
