/*
 * main.c - sr-http: runs Scheme programs sent by strangers.
 *
 *   sr-http [--port N] [--bind ADDR] [--threads N] [--heap-limit BYTES]
 *           [--time-limit MS] [--stack-limit BYTES] [--max-body BYTES]
 *           [--max-output BYTES]
 *
 * Routes: POST /execute (the body is the program: 200 text/plain with its
 * output, 422 application/json for an error or a limit, 413 for a body over
 * --max-body), GET /stats (server-wide counters as JSON, docs/untrusted.md
 * has the schema), GET /health (200 "ok"). Other paths 404, other methods
 * 405. --port 0 takes a free port; the URL printed on stdout says which.
 *
 * Threads: libmicrohttpd runs a pool of --threads threads, each polling its
 * own connections and calling the access handler; a thread's stack holds the
 * stack limit plus HS_STACK_SLACK, and a thread creates its worker (runtime
 * and interpreter, exec.c) on its first program and keeps it in a
 * pthread key whose destructor frees it when the pool stops. So a runtime is
 * only ever used by the thread that owns it.
 *
 * Signals: SIGINT, SIGTERM and SIGPIPE are blocked before any thread starts;
 * the main thread waits in sigwait. On SIGINT/SIGTERM it stops accepting,
 * waits for the requests in flight (bounded by twice the time limit plus five
 * seconds), stops the pool and prints the statistics.
 *
 * Statistics are updated under one mutex once per request.
 *
 * Environment: SR_HTTP_RUNTIME=fresh|reset chooses how a worker isolates
 * programs (default reset: see docs/untrusted.md for the measurement).
 */
#define _GNU_SOURCE
#include "http.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HS_DEFAULT_PORT        8080u
#define HS_DEFAULT_THREADS     2u
#define HS_DEFAULT_HEAP_LIMIT  ((size_t)32 << 20)
#define HS_DEFAULT_TIME_MS     1000u
#define HS_DEFAULT_STACK_LIMIT ((size_t)8 << 20)
#define HS_DEFAULT_MAX_BODY    ((size_t)1 << 20)
#define HS_DEFAULT_MAX_OUTPUT  ((size_t)1 << 20)
/* A body streamed past --max-body is read and dropped (so the client sees its
   413) up to 16 times the limit or 64 MiB, whichever is more; past that the
   connection is closed without an answer. */
#define HS_DISCARD_FACTOR      16u
#define HS_DISCARD_MIN         ((size_t)64 << 20)

enum { HS_ST_200, HS_ST_404, HS_ST_405, HS_ST_413, HS_ST_422, HS_ST_500, HS_ST_COUNT };
static const unsigned hs__status_code[HS_ST_COUNT] = { 200, 404, 405, 413, 422, 500 };

typedef struct hs_stats {
    uint64_t by_status[HS_ST_COUNT];
    uint64_t requests;
    uint64_t executions;
    uint64_t heap_total, heap_max;
    uint64_t panics[HS_KIND_COUNT];
    uint64_t collections;
    uint64_t worker_rebuilds;
} hs_stats;

typedef struct hs_server {
    hs_limits lim;
    hs_mode mode;
    unsigned port, threads;
    const char *bind;
    size_t max_body;
    pthread_key_t worker_key;
    pthread_mutex_t lock;       /* guards stats */
    hs_stats stats;
    atomic_long in_flight;      /* requests between their first callback and completion */
    struct timespec started;
} hs_server;

enum { HS_ROUTE_EXECUTE = 1, HS_ROUTE_STATS, HS_ROUTE_HEALTH };

typedef struct hs_request {
    int route;
    bool answered;              /* a response is queued (or the body is being dropped) */
    bool too_large;
    char *body;
    size_t len, cap, dropped;
} hs_request;

/* ---- command line ---------------------------------------------------------------------- */

static void hs__usage(FILE *f)
{
    fprintf(f, "usage: sr-http [--port N] [--bind ADDR] [--threads N] [--heap-limit BYTES]\n"
               "               [--time-limit MS] [--stack-limit BYTES] [--max-body BYTES]\n"
               "               [--max-output BYTES]\n");
}

static bool hs__parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-') return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return false;
    unsigned shift = 0;
    if (*end == 'k' || *end == 'K') { shift = 10; end++; }
    else if (*end == 'm' || *end == 'M') { shift = 20; end++; }
    else if (*end == 'g' || *end == 'G') { shift = 30; end++; }
    if (*end || (shift && v > (UINT64_MAX >> shift))) return false;
    *out = (uint64_t)v << shift;
    return true;
}

static int hs__parse_args(hs_server *s, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { hs__usage(stdout); return 0; }
        if (i + 1 >= argc) {
            fprintf(stderr, "sr-http: %s\n", strncmp(a, "--", 2) ? "unexpected argument" : "option needs a value");
            hs__usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--bind")) { s->bind = v; continue; }
        uint64_t n;
        if (!hs__parse_size(v, &n)) {
            fprintf(stderr, "sr-http: %s needs a non-negative number, got '%s'\n", a, v);
            return 2;
        }
        if (!strcmp(a, "--port")) {
            if (n > 65535) { fprintf(stderr, "sr-http: --port must be at most 65535\n"); return 2; }
            s->port = (unsigned)n;
        } else if (!strcmp(a, "--threads")) {
            if (n < 1 || n > 256) { fprintf(stderr, "sr-http: --threads must be 1..256\n"); return 2; }
            s->threads = (unsigned)n;
        } else if (!strcmp(a, "--heap-limit")) s->lim.heap_limit = (size_t)n;
        else if (!strcmp(a, "--time-limit")) s->lim.time_limit_ms = n;
        else if (!strcmp(a, "--stack-limit")) {
            if (n < 64u * 1024u || n > ((uint64_t)1 << 34)) {
                fprintf(stderr, "sr-http: --stack-limit must be between 64K and 16G\n");
                return 2;
            }
            s->lim.stack_limit = (size_t)n;
        } else if (!strcmp(a, "--max-body")) s->max_body = (size_t)n;
        else if (!strcmp(a, "--max-output")) s->lim.max_output = (size_t)n;
        else {
            fprintf(stderr, "sr-http: unknown option %s\n", a);
            hs__usage(stderr);
            return 2;
        }
    }
    return -1;
}

/* ---- statistics ------------------------------------------------------------------------ */

static void hs__count_status(hs_server *s, unsigned code)
{
    pthread_mutex_lock(&s->lock);
    s->stats.requests++;
    for (int i = 0; i < HS_ST_COUNT; i++)
        if (hs__status_code[i] == code) s->stats.by_status[i]++;
    pthread_mutex_unlock(&s->lock);
}

static void hs__count_run(hs_server *s, const hs_outcome *o, uint64_t rebuilds_delta)
{
    pthread_mutex_lock(&s->lock);
    s->stats.executions++;
    s->stats.heap_total += o->heap_peak;
    if (o->heap_peak > s->stats.heap_max) s->stats.heap_max = o->heap_peak;
    if (o->kind >= 0 && o->kind < HS_KIND_COUNT) s->stats.panics[o->kind]++;
    s->stats.collections += o->collections;
    s->stats.worker_rebuilds += rebuilds_delta;
    pthread_mutex_unlock(&s->lock);
}

static void hs__stats_json(hs_server *s, hs_buf *b)
{
    pthread_mutex_lock(&s->lock);
    hs_stats st = s->stats;
    pthread_mutex_unlock(&s->lock);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t up_ms = (uint64_t)(now.tv_sec - s->started.tv_sec) * 1000u +
                     (uint64_t)((now.tv_nsec - s->started.tv_nsec) / 1000000);
    hs_buf_printf(b, "{\"uptime_ms\": %" PRIu64 ", \"runtime_mode\": \"%s\", \"threads\": %u,\n", up_ms,
                  s->mode == HS_MODE_FRESH ? "fresh" : "reset", s->threads);
    hs_buf_printf(b, " \"limits\": {\"heap_limit\": %zu, \"time_limit_ms\": %" PRIu64 ", \"stack_limit\": %zu, "
                     "\"max_body\": %zu, \"max_output\": %zu},\n",
                  s->lim.heap_limit, s->lim.time_limit_ms, s->lim.stack_limit, s->max_body, s->lim.max_output);
    hs_buf_printf(b, " \"requests\": {\"total\": %" PRIu64 ", \"by_status\": {", st.requests);
    for (int i = 0; i < HS_ST_COUNT; i++)
        hs_buf_printf(b, "%s\"%u\": %" PRIu64, i ? ", " : "", hs__status_code[i], st.by_status[i]);
    hs_buf_printf(b, "}},\n \"executions\": %" PRIu64 ",\n", st.executions);
    hs_buf_printf(b, " \"heap\": {\"total_bytes\": %" PRIu64 ", \"max_bytes\": %" PRIu64 "},\n", st.heap_total,
                  st.heap_max);
    hs_buf_str(b, " \"panics\": {");
    for (int k = 0; k < HS_KIND_COUNT; k++)
        hs_buf_printf(b, "%s\"%s\": %" PRIu64, k ? ", " : "", hs_kind_name((hs_kind)k), st.panics[k]);
    hs_buf_printf(b, "},\n \"gc\": {\"collections\": %" PRIu64 "},\n \"worker_rebuilds\": %" PRIu64 "}\n",
                  st.collections, st.worker_rebuilds);
}

/* ---- responses ------------------------------------------------------------------------ */

/* Queues buf (taken over, freed by libmicrohttpd) with status code. */
static enum MHD_Result hs__respond(hs_server *s, struct MHD_Connection *c, unsigned code, hs_buf *buf,
                                   const char *ctype, const char *allow)
{
    if (buf->failed) {
        hs_buf_free(buf);
        hs_buf_str(buf, "out of memory\n");
        code = 500;
        ctype = "text/plain";
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(buf->len, buf->data ? buf->data : (void *)"",
                                                             buf->data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) { hs_buf_free(buf); return MHD_NO; }
    buf->data = NULL;
    hs_buf_free(buf);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    if (ret == MHD_YES) hs__count_status(s, code);
    return ret;
}

static enum MHD_Result hs__respond_text(hs_server *s, struct MHD_Connection *c, unsigned code, const char *text,
                                        const char *allow)
{
    hs_buf b = { 0 };
    hs_buf_str(&b, text);
    return hs__respond(s, c, code, &b, "text/plain; charset=utf-8", allow);
}

static enum MHD_Result hs__respond_413(hs_server *s, struct MHD_Connection *c)
{
    hs_buf b = { 0 };
    hs_buf_printf(&b, "{\"error\": \"request body larger than %zu bytes\", \"kind\": \"body_limit\", \"stack\": []}\n",
                  s->max_body);
    return hs__respond(s, c, 413, &b, "application/json", NULL);
}

static void hs__worker_destroy(void *w) { hs_worker_free(w); }

static enum MHD_Result hs__execute(hs_server *s, struct MHD_Connection *c, hs_request *rq)
{
    hs_worker *w = pthread_getspecific(s->worker_key);
    if (!w) {
        const char *why = "?";
        w = hs_worker_new(&s->lim, s->mode, &why);
        if (!w || pthread_setspecific(s->worker_key, w) != 0) {
            hs_worker_free(w);
            hs_buf b = { 0 };
            hs_buf_printf(&b, "cannot create a worker: %s\n", why);
            return hs__respond(s, c, 500, &b, "text/plain; charset=utf-8", NULL);
        }
    }
    uint64_t rebuilds = hs_worker_rebuilds(w);
    hs_outcome o;
    hs_worker_run(w, rq->body ? rq->body : "", rq->len, &o);
    hs__count_run(s, &o, hs_worker_rebuilds(w) - rebuilds);
    free(rq->body);
    rq->body = NULL;
    if (o.kind == HS_KIND_OK) return hs__respond(s, c, 200, &o.body, "text/plain; charset=utf-8", NULL);
    if (o.kind == HS_KIND_INTERNAL) return hs__respond(s, c, 500, &o.body, "text/plain; charset=utf-8", NULL);
    return hs__respond(s, c, 422, &o.body, "application/json", NULL);
}

/* ---- the access handler ---------------------------------------------------------------- */

static enum MHD_Result hs__first_call(hs_server *s, struct MHD_Connection *c, const char *url, const char *method,
                                      hs_request *rq)
{
    bool get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
    if (!strcmp(url, "/execute")) {
        rq->route = HS_ROUTE_EXECUTE;
        if (strcmp(method, MHD_HTTP_METHOD_POST)) {
            rq->answered = true;
            return hs__respond_text(s, c, 405, "method not allowed: use POST\n", "POST");
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        uint64_t n;
        if (cl && cl[strspn(cl, "0123456789")] == '\0' && hs__parse_size(cl, &n) && n > s->max_body) {
            rq->answered = true;
            return hs__respond_413(s, c);
        }
        return MHD_YES;
    }
    if (!strcmp(url, "/stats") || !strcmp(url, "/health")) {
        rq->route = url[1] == 's' ? HS_ROUTE_STATS : HS_ROUTE_HEALTH;
        if (!get) {
            rq->answered = true;
            return hs__respond_text(s, c, 405, "method not allowed: use GET\n", "GET, HEAD");
        }
        return MHD_YES;
    }
    rq->answered = true;
    return hs__respond_text(s, c, 404, "not found\n", NULL);
}

static enum MHD_Result hs__access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    hs_server *s = cls;
    hs_request *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        *con_cls = rq;
        atomic_fetch_add(&s->in_flight, 1);
        return hs__first_call(s, c, url, method, rq);
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rq->answered || rq->too_large || rq->route != HS_ROUTE_EXECUTE) {
            /* a body nobody will read: libmicrohttpd cannot send the answer
               before the body is over, so drop a bounded amount, then close */
            rq->dropped += n;
            return rq->dropped > HS_DISCARD_MIN && rq->dropped / HS_DISCARD_FACTOR > s->max_body ? MHD_NO : MHD_YES;
        }
        if (n > s->max_body - rq->len) {
            rq->too_large = true;
            rq->dropped = rq->len + n;
            free(rq->body);
            rq->body = NULL;
            rq->len = rq->cap = 0;
            return MHD_YES;
        }
        if (rq->len + n + 1 > rq->cap) {
            size_t cap = rq->cap ? rq->cap : 4096;
            while (cap < rq->len + n + 1) cap *= 2;
            char *nb = realloc(rq->body, cap);
            if (!nb) return MHD_NO;
            rq->body = nb;
            rq->cap = cap;
        }
        memcpy(rq->body + rq->len, upload_data, n);
        rq->len += n;
        return MHD_YES;
    }
    if (rq->answered) return MHD_YES;
    rq->answered = true;
    switch (rq->route) {
    case HS_ROUTE_EXECUTE:
        if (rq->too_large) return hs__respond_413(s, c);
        return hs__execute(s, c, rq);
    case HS_ROUTE_STATS: {
        hs_buf b = { 0 };
        hs__stats_json(s, &b);
        return hs__respond(s, c, 200, &b, "application/json", NULL);
    }
    default:
        return hs__respond_text(s, c, 200, "ok\n", NULL);
    }
}

static void hs__completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    hs_server *s = cls;
    hs_request *rq = *con_cls;
    if (!rq) return;
    free(rq->body);
    free(rq);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

/* ---- main ------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    hs_server s;
    memset(&s, 0, sizeof s);
    s.port = HS_DEFAULT_PORT;
    s.threads = HS_DEFAULT_THREADS;
    s.bind = "127.0.0.1";
    s.lim.heap_limit = HS_DEFAULT_HEAP_LIMIT;
    s.lim.time_limit_ms = HS_DEFAULT_TIME_MS;
    s.lim.stack_limit = HS_DEFAULT_STACK_LIMIT;
    s.lim.max_output = HS_DEFAULT_MAX_OUTPUT;
    s.max_body = HS_DEFAULT_MAX_BODY;
    int rc = hs__parse_args(&s, argc, argv);
    if (rc >= 0) return rc;
    const char *mode = getenv("SR_HTTP_RUNTIME");
    s.mode = mode && !strcmp(mode, "fresh") ? HS_MODE_FRESH : HS_MODE_RESET;

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)s.port);
    if (inet_pton(AF_INET, s.bind, &addr.sin_addr) != 1) {
        fprintf(stderr, "sr-http: --bind needs an IPv4 address, got '%s'\n", s.bind);
        return 2;
    }
    /* Prove the limits leave room for the interpreter before listening. */
    const char *why = "?";
    hs_worker *probe = hs_worker_new(&s.lim, s.mode, &why);
    if (!probe) {
        fprintf(stderr, "sr-http: %s\n", why);
        return 2;
    }
    hs_worker_free(probe);

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);   /* every thread started from here inherits it */

    if (pthread_key_create(&s.worker_key, hs__worker_destroy) != 0 || pthread_mutex_init(&s.lock, NULL) != 0) {
        fprintf(stderr, "sr-http: cannot set up the thread state\n");
        return 2;
    }
    atomic_init(&s.in_flight, 0);
    clock_gettime(CLOCK_MONOTONIC, &s.started);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG, (uint16_t)s.port, NULL,
        NULL, hs__access, &s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)s.threads, MHD_OPTION_THREAD_STACK_SIZE, (size_t)(s.lim.stack_limit + HS_STACK_SLACK),
        MHD_OPTION_NOTIFY_COMPLETED, hs__completed, &s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "sr-http: cannot listen on %s:%u\n", s.bind, s.port);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : s.port;
    printf("sr-http: listening on http://%s:%u/ (%u threads, %s runtime per worker)\n", s.bind, port, s.threads,
           s.mode == HS_MODE_FRESH ? "fresh" : "reset");
    fflush(stdout);

    int sig = 0;
    for (;;) {
        if (sigwait(&sigs, &sig) != 0) continue;
        if (sig == SIGINT || sig == SIGTERM) break;
    }
    fprintf(stderr, "sr-http: %s: shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    MHD_socket lfd = MHD_quiesce_daemon(d);    /* no new connections */
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t wait_ms = 2 * s.lim.time_limit_ms + 5000;
    for (;;) {
        if (atomic_load(&s.in_flight) <= 0) break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        uint64_t el = (uint64_t)(now.tv_sec - t0.tv_sec) * 1000u + (uint64_t)((now.tv_nsec - t0.tv_nsec) / 1000000);
        if (el > wait_ms) {
            fprintf(stderr, "sr-http: %ld requests still in flight after %" PRIu64 " ms, closing them\n",
                    (long)atomic_load(&s.in_flight), wait_ms);
            break;
        }
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(d);     /* joins the pool: each thread's worker is freed by the key destructor */
    pthread_key_delete(s.worker_key);
    hs_buf b = { 0 };
    hs__stats_json(&s, &b);
    fputs(b.data ? b.data : "{}\n", stdout);
    fflush(stdout);
    hs_buf_free(&b);
    pthread_mutex_destroy(&s.lock);
    return 0;
}
