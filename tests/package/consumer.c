#include <scriptrt.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    sr_runtime *rt = NULL;
    if (sr_runtime_new(NULL, &rt) != SR_OK) return 1;
    void *p = sr_alloc(rt, 100);
    sr_stats st;
    sr_runtime_stats(rt, &st);
    int ok = p != NULL && st.heap_used > 100 && strcmp(sr_version(), SR_VERSION_STRING) == 0;
    sr_free(rt, p);
    sr_runtime_free(rt);
    printf(ok ? "consumer ok\n" : "consumer FAILED\n");
    return ok ? 0 : 1;
}
