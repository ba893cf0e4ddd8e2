/*
 * sr-demo - the runtime's lifecycle, its heap limit and its statistics.
 *
 * Creates a runtime with a 1 MiB heap, fills it with blocks until the limit
 * refuses one, shows that the refusal changed nothing, frees everything and
 * shows heap_used back at zero.
 */
#include <scriptrt.h>

#include <stdio.h>

static void print_stats(const char *when, sr_runtime *rt)
{
    sr_stats st;
    sr_runtime_stats(rt, &st);
    printf("%-22s heap_used=%zu peak=%zu limit=%zu live_blocks=%zu allocations=%llu frees=%llu failed=%llu\n",
           when, st.heap_used, st.heap_peak, st.heap_limit, st.live_blocks,
           (unsigned long long)st.allocations, (unsigned long long)st.frees,
           (unsigned long long)st.failed_allocations);
}

int main(void)
{
    printf("scriptrt %s\n", sr_version());
    sr_config cfg = sr_config_default();
    cfg.max_heap_size = 1u << 20;
    sr_status st = sr_runtime_init(&cfg);
    if (st != SR_OK) {
        fprintf(stderr, "sr_runtime_init: %s\n", sr_status_str(st));
        return 1;
    }
    sr_runtime *rt = sr_runtime_get();
    print_stats("start", rt);

    enum { MAX = 100000 };
    static void *blocks[MAX];
    size_t n = 0;
    while (n < MAX) {
        void *p = sr_alloc(rt, 100 + (n % 7) * 300);
        if (!p) break;
        blocks[n++] = p;
    }
    printf("filled the heap with %zu blocks; the next one was refused\n", n);
    print_stats("at the limit", rt);

    for (size_t i = 0; i < n; i += 2) sr_free(rt, blocks[i]);
    print_stats("half freed", rt);
    for (size_t i = 1; i < n; i += 2) sr_free(rt, blocks[i]);
    print_stats("all freed", rt);

    printf("double init: %s\n", sr_status_str(sr_runtime_init(NULL)));
    printf("shutdown: %s\n", sr_status_str(sr_runtime_shutdown()));
    printf("shutdown again: %s\n", sr_status_str(sr_runtime_shutdown()));
    return 0;
}
