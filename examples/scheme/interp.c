/*
 * interp.c - the interpreter's lifecycle and its protected entry points.
 *
 * Every entry point runs its work under sr_execute_protected. When a panic
 * comes back, the root stack is unwound to the depth it had on entry (which
 * releases everything the unwound C frames owned), the reader's scratch state is
 * reset, and the error is reported as one `error: <message>` line followed by
 * the script frames of the panic record, innermost first. The runtime's own
 * protected execution restores the script frame depth and the cleanup stack.
 */
#include "interp.h"

#include <stdlib.h>
#include <string.h>

typedef struct sc_job {
    sc_interp *I;
    sc_src src;
    int mode;              /* SC_RUN_* */
    val *result;           /* where to leave the last value (owned), or NULL */
    const char *fn;
    const val *args;
    int argc;
} sc_job;

static void sc__init_job(sr_runtime *rt, void *arg)
{
    (void)rt;
    sc_interp *I = arg;
    sc_sym_forms_init(I);
    sc_builtins_install(I);
}

sr_status sc_interp_new(sr_runtime *rt, size_t root_capacity, sc_interp **out)
{
    *out = NULL;
    sc_interp *I = calloc(1, sizeof *I);
    if (!I) return SR_ERR_NOMEM;
    I->rt = rt;
    I->out = stdout;
    I->file = "<init>";
    I->rs_cap = root_capacity < 4096 ? 4096 : root_capacity;
    I->rs = malloc(I->rs_cap * sizeof(val));
    if (!I->rs) { free(I); return SR_ERR_NOMEM; }
    sr_status st = sc_types_register(I);
    if (st == SR_OK) st = sr_execute_protected(rt, sc__init_job, I);
    if (st != SR_OK) {
        sc_interp_free(I);
        return st;
    }
    *out = I;
    return SR_OK;
}

static void sc__base_drop(sc_interp *I);

void sc_interp_free(sc_interp *I)
{
    if (!I) return;
    sc_unwind(I, 0);
    sc__base_drop(I);
    sc_symtab_free(I);
    free(I->rs);
    free(I->tok);
    free(I->rframes);
    free(I);
}

void sc_report_error(sc_interp *I, FILE *err)
{
    fflush(I->out);
    const sr_panic_info *p = sr_panic_last(I->rt);
    if (!p) { fprintf(err, "error: (no panic record)\n"); return; }
    fprintf(err, "error: %s\n", p->message);
    for (size_t i = 0; i < p->script_frame_count; i++) {
        const sr_script_frame *f = &p->script_frames[i];
        fprintf(err, "  at %s (%s:%d)\n", f->function ? f->function : "?", f->file ? f->file : "?", f->line);
    }
    if (p->script_frames_dropped) fprintf(err, "  ... %zu more frames\n", p->script_frames_dropped);
    fflush(err);
}

static void sc__run_job(sr_runtime *rt, void *arg)
{
    (void)rt;
    sc_job *j = arg;
    sc_interp *I = j->I;
    if (j->mode == SC_RUN_CALL) {
        sc_sym *s = sc_intern(I, j->fn, strlen(j->fn));
        if (!s->bound) sc_error(I, "unbound variable: %s", j->fn);
        size_t base = sc_push(I, sc_ret(s->value));
        for (int i = 0; i < j->argc; i++) sc_push(I, sc_ret(j->args[i]));
        I->line = 0;
        val r = sc_apply(I, RS(base), &RS(base + 1), j->argc);
        sc_unwind(I, base);
        if (j->result) *j->result = r;
        else sc_rel(I, r);
        return;
    }
    size_t slot = sc_push(I, SC_UNSPEC);       /* the datum being evaluated */
    size_t last = sc_push(I, SC_UNSPEC);       /* its value */
    val d;
    while (sc_read(I, &j->src, &d)) {
        sc_set(I, slot, d);
        sc_set(I, last, SC_UNSPEC);
        RS(last) = sc_eval(I, RS(slot), NULL);
        if (j->mode == SC_RUN_PRINT && RS(last).tag != V_UNSPEC) {
            sc_print(I, I->out, RS(last), true);
            fputc('\n', I->out);
        }
    }
    if (j->result) { *j->result = RS(last); RS(last) = SC_UNSPEC; }
    sc_unwind(I, slot);
}

static sr_status sc__protect(sc_interp *I, sc_job *j)
{
    size_t depth = I->rs_top;
    sr_status st = sr_execute_protected(I->rt, sc__run_job, j);
    if (st == SR_ERR_PANIC) {
        sc_unwind(I, depth);
        I->nrframes = 0;
    }
    return st;
}

sr_status sc_run_source(sc_interp *I, const char *name, const char *text, size_t len, uint32_t first_line,
                        int mode, val *result)
{
    sc_job j;
    memset(&j, 0, sizeof j);
    j.I = I;
    j.src.s = text;
    j.src.len = len;
    j.src.pos = 0;
    j.src.line = first_line;
    j.mode = mode;
    j.result = result;
    if (result) *result = SC_UNSPEC;
    I->file = name;
    return sc__protect(I, &j);
}

sr_status sc_call(sc_interp *I, const char *fn, const val *args, int argc, val *result)
{
    sc_job j;
    memset(&j, 0, sizeof j);
    j.I = I;
    j.mode = SC_RUN_CALL;
    j.fn = fn;
    j.args = args;
    j.argc = argc;
    j.result = result;
    if (result) *result = SC_UNSPEC;
    I->file = "<host>";         /* the call site; the callee's frames name its own file */
    return sc__protect(I, &j);
}

FILE *sc_interp_set_output(sc_interp *I, FILE *out)
{
    FILE *old = I->out;
    I->out = out;
    return old;
}

/* ---- baseline and reset ---------------------------------------------------------------- */

typedef struct sc_base {
    sc_sym *sym;            /* counted by the symbol table, which outlives the baseline */
    val value;              /* the binding at the snapshot; the baseline owns a reference */
    bool bound;
} sc_base;

static int sc__base_cmp(const void *a, const void *b)
{
    const sc_sym *x = ((const sc_base *)a)->sym, *y = ((const sc_base *)b)->sym;
    return x < y ? -1 : x > y;
}

static const sc_base *sc__base_find(const sc_interp *I, const sc_sym *s)
{
    sc_base key = { (sc_sym *)s, SC_UNSPEC, false };
    return bsearch(&key, I->base, I->nbase, sizeof key, sc__base_cmp);
}

static void sc__base_drop(sc_interp *I)
{
    if (!I->base) return;
    for (size_t i = 0; i < I->nbase; i++) sc_rel(I, I->base[i].value);
    free(I->base);
    I->base = NULL;
    I->nbase = 0;
}

/* A value a program could change, and so could carry from one program to the next. */
static bool sc__mutable(val v)
{
    switch (v.tag) {
    case V_PAIR: case V_STR: case V_VEC: case V_ENV: return true;
    case V_CLO: return ((const sc_clo *)v.u.p)->env != NULL;
    default: return false;
    }
}

sr_status sc_interp_snapshot(sc_interp *I)
{
    if (!I) return SR_ERR_INVALID;
    if (I->rs_top) return SR_ERR_STATE;
    for (size_t i = 0; i < I->symcap; i++)
        for (const sc_sym *s = I->symtab[i]; s; s = s->next)
            if (s->bound && sc__mutable(s->value)) return SR_ERR_STATE;
    sc_base *b = malloc((I->nsyms ? I->nsyms : 1) * sizeof *b);
    if (!b) return SR_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < I->symcap; i++)
        for (sc_sym *s = I->symtab[i]; s; s = s->next) b[n++] = (sc_base){ s, sc_ret(s->value), s->bound };
    qsort(b, n, sizeof *b, sc__base_cmp);
    sc__base_drop(I);
    I->base = b;
    I->nbase = n;
    sr_gc_collect(I->rt);
    sr_stats st;
    sr_runtime_stats(I->rt, &st);
    I->base_heap = st.heap_used;
    return SR_OK;
}

bool sc_interp_reset(sc_interp *I)
{
    if (!I || !I->base || I->rs_top) return false;
    /* 1: baseline bindings back, everything else unbound */
    for (size_t i = 0; i < I->symcap; i++)
        for (sc_sym *s = I->symtab[i]; s; s = s->next) {
            const sc_base *b = sc__base_find(I, s);
            val old = s->value;
            if (b) {
                if (s->bound == b->bound && old.tag == b->value.tag && old.u.i == b->value.u.i) continue;
                s->value = sc_ret(b->value);
                s->bound = b->bound;
            } else {
                s->value = SC_UNSPEC;
                s->bound = false;
            }
            sc_rel(I, old);
        }
    /* 2: the programs' cycles (closures and their environments) */
    sr_gc_collect(I->rt);
    /* 3: the programs' symbols, which only the table should hold now */
    bool clean = true;
    for (size_t i = 0; i < I->symcap; i++) {
        sc_sym **pp = &I->symtab[i];
        while (*pp) {
            sc_sym *s = *pp;
            if (sc__base_find(I, s)) { pp = &s->next; continue; }
            if (sr_rc_count(s) != 1) { clean = false; pp = &s->next; continue; }
            *pp = s->next;
            I->nsyms--;
            sr_rc_release(I->rt, s);
        }
    }
    sr_stats st;
    sr_runtime_stats(I->rt, &st);
    return clean && st.heap_used == I->base_heap;
}
