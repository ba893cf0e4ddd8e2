#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Every block carries a 16-byte prefix with its size so frees can be counted. */
typedef union { size_t size; max_align_t align; } sr__test_prefix;

static bool sr__test_should_fail(sr_test_alloc *ta)
{
    ta->calls++;
    if (ta->fail_at == 0) return false;
    if (ta->calls == ta->fail_at || (ta->fail_all_after && ta->calls > ta->fail_at)) {
        ta->failures++;
        return true;
    }
    return false;
}

static void *sr__test_malloc(size_t size, void *ud)
{
    sr_test_alloc *ta = ud;
    if (sr__test_should_fail(ta)) return NULL;
    sr__test_prefix *p = malloc(sizeof *p + size);
    if (!p) return NULL;
    p->size = size;
    ta->live_bytes += size;
    ta->live_blocks++;
    return p + 1;
}

static void *sr__test_realloc(void *ptr, size_t size, void *ud)
{
    sr_test_alloc *ta = ud;
    if (!ptr) return sr__test_malloc(size, ud);
    if (sr__test_should_fail(ta)) return NULL;
    sr__test_prefix *p = (sr__test_prefix *)ptr - 1;
    size_t old = p->size;
    sr__test_prefix *n = realloc(p, sizeof *n + size);
    if (!n) return NULL;
    n->size = size;
    ta->live_bytes = ta->live_bytes - old + size;
    return n + 1;
}

static void sr__test_free(void *ptr, void *ud)
{
    sr_test_alloc *ta = ud;
    if (!ptr) return;
    sr__test_prefix *p = (sr__test_prefix *)ptr - 1;
    ta->live_bytes -= p->size;
    ta->live_blocks--;
    free(p);
}

sr_allocator sr_test_alloc_make(sr_test_alloc *ta)
{
    sr_allocator a = { sr__test_malloc, sr__test_realloc, sr__test_free, ta };
    return a;
}

sr_config sr_test_config(sr_test_alloc *ta)
{
    sr_config c = sr_config_default();
    c.allocator = sr_test_alloc_make(ta);
    return c;
}

uint64_t sr_test_rand(sr_test_rng *r)
{
    uint64_t x = r->s ? r->s : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dull;
}

uint64_t sr_test_seed(uint64_t fallback)
{
    const char *s = getenv("SR_TEST_SEED");
    return s && *s ? strtoull(s, NULL, 0) : fallback;
}

int sr_test_in_child(void (*fn)(void *arg), void *arg, char *captured, size_t cap)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    size_t used = 0;
    char tmp[512];
    ssize_t n;
    while ((n = read(fds[0], tmp, sizeof tmp)) > 0) {
        if (captured && used + 1 < cap) {
            size_t k = (size_t)n < cap - 1 - used ? (size_t)n : cap - 1 - used;
            memcpy(captured + used, tmp, k);
            used += k;
        }
    }
    if (captured && cap) captured[used] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
