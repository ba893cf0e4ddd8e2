/*
 * main.c - the sr-scheme command line.
 *
 *   sr-scheme [--heap-limit BYTES] [--time-limit MS] [--stack-limit BYTES]
 *             [--stats] [--profile] [FILE | -e EXPR]
 *
 * FILE runs a program (status 0, or 1 when it ended in an error); -e EXPR
 * evaluates EXPR and writes its value; with neither it is a REPL on stdin (one
 * protected execution per complete input; status 0 at end of input). Status 2
 * is a usage error. The session runs on the runtime's own thread
 * (sr_run_on_thread) whose C stack holds the stack limit plus the library's
 * headroom, so deep non-tail recursion either works or ends in the runtime's
 * "stack overflow" panic - never in a crash.
 */
#define _POSIX_C_SOURCE 200809L
#include "interp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SC_DEFAULT_STACK_LIMIT ((size_t)1 << 30)   /* virtual: pages are touched as used */
#define SC_MAX_ROOT_SLOTS      ((size_t)1 << 22)   /* 64 MiB of root stack at most */

typedef struct sc_opts {
    size_t heap_limit, stack_limit;
    uint64_t time_limit_ms;
    bool stats, profile;
    const char *file, *expr;
    char *text;             /* the file's contents */
    size_t text_len;
    int status;
} sc_opts;

static void sc__usage(FILE *f)
{
    fprintf(f, "usage: sr-scheme [--heap-limit BYTES] [--time-limit MS] [--stack-limit BYTES]\n"
               "                 [--stats] [--profile] [FILE | -e EXPR]\n");
}

static bool sc__parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-') return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return false;
    if (*end == 'k' || *end == 'K') { v <<= 10; end++; }
    else if (*end == 'm' || *end == 'M') { v <<= 20; end++; }
    else if (*end == 'g' || *end == 'G') { v <<= 30; end++; }
    if (*end) return false;
    *out = v;
    return true;
}

static void sc__print_stats(sr_runtime *rt)
{
    sr_stats s;
    sr_runtime_stats(rt, &s);
    const struct { const char *n; unsigned long long v; } f[] = {
        { "uptime_ns", s.uptime_ns }, { "heap_used", s.heap_used }, { "heap_peak", s.heap_peak },
        { "heap_limit", s.heap_limit }, { "allocations", s.allocations }, { "frees", s.frees },
        { "live_objects", s.live_objects }, { "failed_allocations", s.failed_allocations },
        { "gc_collections", s.gc_collections }, { "gc_objects_collected", s.gc_objects_collected },
        { "gc_total_pause_ns", s.gc_total_pause_ns }, { "gc_max_pause_ns", s.gc_max_pause_ns },
        { "panics", s.panics }, { "live_blocks", s.live_blocks }, { "heap_reserved", s.heap_reserved },
        { "internal_bytes", s.internal_bytes }, { "gc_objects_visited", s.gc_objects_visited },
        { "gc_roots_buffered", s.gc_roots_buffered }, { "gc_effective_threshold", s.gc_effective_threshold },
        { "gc_emergency_collections", s.gc_emergency_collections }, { "profiler_bytes", s.profiler_bytes },
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) fprintf(stderr, "%s: %llu\n", f[i].n, f[i].v);
}

static void sc__deadline(sr_runtime *rt, const sc_opts *o)
{
    if (o->time_limit_ms) sr_set_deadline(rt, o->time_limit_ms * 1000000u);
}

static void sc__repl(sc_interp *I, const sc_opts *o)
{
    bool tty = isatty(0);
    char *line = NULL, *acc = NULL;
    size_t linecap = 0, acclen = 0, acccap = 0;
    uint32_t lineno = 1, start = 1;
    for (;;) {
        if (tty) { fputs(acclen ? "  " : "> ", stdout); fflush(stdout); }
        ssize_t n = getline(&line, &linecap, stdin);
        if (n < 0) break;
        if (acclen + (size_t)n + 1 > acccap) {
            acccap = (acclen + (size_t)n + 1) * 2;
            char *na = realloc(acc, acccap);
            if (!na) { fprintf(stderr, "sr-scheme: out of memory\n"); break; }
            acc = na;
        }
        if (!acclen) start = lineno;
        memcpy(acc + acclen, line, (size_t)n);
        acclen += (size_t)n;
        acc[acclen] = '\0';
        lineno++;
        if (!sc_input_complete(acc, acclen)) continue;
        sc__deadline(I->rt, o);
        if (sc_run_source(I, "<stdin>", acc, acclen, start, SC_RUN_PRINT, NULL) != SR_OK) sc_report_error(I, stderr);
        sr_set_deadline(I->rt, 0);
        fflush(stdout);
        acclen = 0;
    }
    if (acclen) {   /* an unfinished datum at end of input */
        if (sc_run_source(I, "<stdin>", acc, acclen, start, SC_RUN_PRINT, NULL) != SR_OK) sc_report_error(I, stderr);
    }
    free(line);
    free(acc);
}

/* The whole session: runs protected on the runtime's big-stack thread; each
   program, expression or REPL input is a nested protected execution. */
static void sc__session(sr_runtime *rt, void *arg)
{
    sc_opts *o = arg;
    sc_interp *I;
    sr_status st = sc_interp_new(rt, o->stack_limit / 32 < SC_MAX_ROOT_SLOTS ? o->stack_limit / 32 : SC_MAX_ROOT_SLOTS, &I);
    if (st != SR_OK) {
        if (st == SR_ERR_PANIC) {
            const sr_panic_info *p = sr_panic_last(rt);
            fprintf(stderr, "error: %s\n", p ? p->message : "?");
        } else {
            fprintf(stderr, "sr-scheme: cannot create the interpreter: %s\n", sr_status_str(st));
        }
        o->status = 1;
        return;
    }
    o->status = 0;
    if (o->file || o->expr) {
        val result;
        sc__deadline(rt, o);
        if (o->file)
            st = sc_run_source(I, o->file, o->text, o->text_len, 1, SC_RUN_QUIET, NULL);
        else
            st = sc_run_source(I, "<expr>", o->expr, strlen(o->expr), 1, SC_RUN_QUIET, &result);
        sr_set_deadline(rt, 0);
        if (st != SR_OK) {
            sc_report_error(I, stderr);
            o->status = 1;
        } else if (o->expr) {
            if (result.tag != V_UNSPEC) {
                sc_print(I, stdout, result, true);
                fputc('\n', stdout);
            }
            sc_rel(I, result);
        }
    } else {
        sc__repl(I, o);
    }
    fflush(stdout);
    if (o->stats) sc__print_stats(rt);
    if (o->profile) {   /* while the program's data is still alive */
        char *rep = sr_profiler_report(rt, SR_REPORT_TEXT);
        if (rep) { fputs(rep, stderr); free(rep); }
        else fprintf(stderr, "profile: no report (profiling is off)\n");
    }
    sc_interp_free(I);
}

static bool sc__read_file(sc_opts *o)
{
    FILE *f = fopen(o->file, "rb");
    if (!f) {
        fprintf(stderr, "sr-scheme: cannot open %s: %s\n", o->file, strerror(errno));
        return false;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) { fclose(f); fprintf(stderr, "sr-scheme: out of memory\n"); return false; }
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) break;
        cap *= 2;
        char *nb = realloc(buf, cap);
        if (!nb) free(buf);
        buf = nb;
    }
    bool err = ferror(f);
    fclose(f);
    if (err) { free(buf); fprintf(stderr, "sr-scheme: cannot read %s\n", o->file); return false; }
    o->text = buf;
    o->text_len = len;
    return true;
}

int main(int argc, char **argv)
{
    sc_opts o;
    memset(&o, 0, sizeof o);
    o.stack_limit = SC_DEFAULT_STACK_LIMIT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        uint64_t v;
        if (!strcmp(a, "--stats")) o.stats = true;
        else if (!strcmp(a, "--profile")) o.profile = true;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) { sc__usage(stdout); return 0; }
        else if (!strcmp(a, "--heap-limit") || !strcmp(a, "--time-limit") || !strcmp(a, "--stack-limit")) {
            if (i + 1 >= argc || !sc__parse_size(argv[i + 1], &v)) {
                fprintf(stderr, "sr-scheme: %s needs a non-negative number\n", a);
                sc__usage(stderr);
                return 2;
            }
            i++;
            if (a[2] == 'h') o.heap_limit = (size_t)v;
            else if (a[2] == 't') o.time_limit_ms = v;
            else {
                if (v < SR_MIN_STACK_SIZE) {
                    fprintf(stderr, "sr-scheme: --stack-limit must be at least %u bytes\n", (unsigned)SR_MIN_STACK_SIZE);
                    return 2;
                }
                o.stack_limit = (size_t)v;
            }
        } else if (!strcmp(a, "-e")) {
            if (i + 1 >= argc || o.file || o.expr) { sc__usage(stderr); return 2; }
            o.expr = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "sr-scheme: unknown option %s\n", a);
            sc__usage(stderr);
            return 2;
        } else {
            if (o.file || o.expr) { sc__usage(stderr); return 2; }
            o.file = a;
        }
    }
    if (o.file && !sc__read_file(&o)) return 2;

    sr_config cfg = sr_config_default();
    cfg.max_heap_size = o.heap_limit;
    cfg.stack_size = o.stack_limit;
    cfg.enable_profiling = o.profile;
    cfg.profiler_sample_bytes = SR_PROFILER_EVERY_ALLOCATION;   /* --profile: every allocation's stack */
    sr_runtime *rt;
    sr_status st = sr_runtime_new(&cfg, &rt);
    if (st != SR_OK) {
        fprintf(stderr, "sr-scheme: cannot create the runtime: %s\n", sr_status_str(st));
        free(o.text);
        return 2;
    }
    st = sr_run_on_thread(rt, sc__session, &o);
    if (st == SR_ERR_NOMEM) {
        fprintf(stderr, "sr-scheme: cannot start the interpreter thread (stack of %zu bytes)\n", o.stack_limit);
        o.status = 2;
    } else if (st != SR_OK) {
        /* every panic of the program is caught inside; this one escaped the interpreter */
        const sr_panic_info *p = sr_panic_last(rt);
        fprintf(stderr, "error: %s\n", p ? p->message : "?");
        o.status = 1;
    }
    sr_runtime_free(rt);
    free(o.text);
    return o.status;
}
