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

void sc_interp_free(sc_interp *I)
{
    if (!I) return;
    sc_unwind(I, 0);
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
