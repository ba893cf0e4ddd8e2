/*
 * eval.c - the evaluator: special forms, procedure application, tail calls.
 *
 * sc_eval walks the data the reader built. One C invocation of sc_eval runs a
 * loop: a form in tail position (the last body form, an `if` branch, a `cond`
 * clause, a procedure call...) replaces the current expression and environment
 * and loops instead of recursing, so proper tail calls run in constant C stack
 * and constant root stack. Only non-tail subexpressions (arguments, tests,
 * non-final body forms) recurse; each recursion calls sr_check_stack, so deep
 * recursion ends in a clean "stack overflow" panic before the C stack runs out.
 *
 * Each invocation owns two root-stack slots: [base] the current environment,
 * [base+1] the closure whose body is running (keeps the code alive even if the
 * program drops every other reference to the closure, e.g. with set!). A call
 * evaluates the operator and arguments into consecutive root slots above
 * them. A closure call pushes a script frame (the procedure's name and the
 * file:line of the call); a tail call replaces it, so the frame depth follows
 * the non-tail depth.
 *
 * Environments: a frame is an object with a fixed number of slots, sized when
 * it is made for the parameters/bindings plus the `define`s found at the top of
 * the body (internal definitions). Variable lookup scans the frames from the
 * innermost out, then the symbol's global binding. Special form names are
 * reserved words (they cannot be rebound as variables).
 */
#include "scheme.h"

#include <string.h>

static const char *const sc__form_names[F_COUNT] = {
    [F_QUOTE] = "quote", [F_IF] = "if", [F_DEFINE] = "define", [F_SET] = "set!",
    [F_LAMBDA] = "lambda", [F_BEGIN] = "begin", [F_LET] = "let", [F_LETSTAR] = "let*",
    [F_LETREC] = "letrec", [F_LETRECSTAR] = "letrec*", [F_COND] = "cond", [F_CASE] = "case",
    [F_AND] = "and", [F_OR] = "or", [F_WHEN] = "when", [F_UNLESS] = "unless", [F_DO] = "do",
};

void sc_sym_forms_init(sc_interp *I)
{
    for (int f = 1; f < F_COUNT; f++) {
        const char *n = sc__form_names[f];
        sc_intern(I, n, strlen(n))->form = (uint8_t)f;
    }
    I->s_else = sc_intern(I, "else", 4);
    I->s_arrow = sc_intern(I, "=>", 2);
    I->s_define = sc_intern(I, "define", 6);
    I->s_begin = sc_intern(I, "begin", 5);
    I->s_quote = sc_intern(I, "quote", 5);
}

bool sc_is_procedure(val v) { return v.tag == V_PRIM || v.tag == V_CLO; }

/* Error paths live in their own (never inlined) functions: their buffers would
   otherwise widen the frame of every recursion of the evaluator. */
static _Noreturn SC_NOINLINE void sc__not_procedure(sc_interp *I, val f, val where)
{
    char buf[100];
    sc_print_buf(I, buf, sizeof buf, f, true);
    if (where.line) sc_error(I, "not a procedure: %s (%s:%u)", buf, I->file, where.line);
    sc_error(I, "not a procedure: %s", buf);
}

static _Noreturn SC_NOINLINE void sc__bad_call(sc_interp *I, val x)
{
    char buf[100];
    sc_error(I, "bad procedure call %s (%s:%u)", sc_print_buf(I, buf, sizeof buf, x, true), I->file, x.line);
}

static _Noreturn SC_NOINLINE void sc__bad_syntax(sc_interp *I, val x, int form)
{
    char buf[100];
    sc_print_buf(I, buf, sizeof buf, x, true);
    sc_error(I, "%s: bad syntax in %s (%s:%u)", sc__form_names[form], buf, I->file, x.line);
}

/* ---- variables ------------------------------------------------------------------------ */

static val *sc__slot(sc_env *e, const sc_sym *s)
{
    for (; e; e = e->parent)
        for (uint32_t i = e->n; i-- > 0;)
            if (e->slots[i].name == s) return &e->slots[i].v;
    return NULL;
}

static val *sc__var(sc_interp *I, val x, sc_env *e)
{
    sc_sym *s = x.u.p;
    val *v = sc__slot(e, s);
    if (v) return v;
    if (s->bound) return &s->value;
    if (s->form) sc_error(I, "%s: special form used as a variable (%s:%u)", s->name, I->file, x.line);
    sc_error(I, "unbound variable: %s (%s:%u)", s->name, I->file, x.line);
}

/* Evaluates a non-tail subexpression; the common cheap cases skip the recursion. */
static inline val sc__ev(sc_interp *I, val x, sc_env *e)
{
    if (x.tag == V_SYM) return sc_ret(*sc__var(I, x, e));
    if (x.tag != V_PAIR) return sc_ret(x);
    return sc_eval(I, x, e);
}

/* Binds name to v (takes v) in e, or globally when e is NULL. */
static void sc__define(sc_interp *I, sc_env *e, const sc_sym *name, val v, val where)
{
    if (!e) {
        sc_sym *s = (sc_sym *)name;
        val old = s->value;
        s->value = v;
        s->bound = true;
        sc_rel(I, old);
        return;
    }
    for (uint32_t i = 0; i < e->n; i++)
        if (e->slots[i].name == name) {
            val old = e->slots[i].v;
            e->slots[i].v = v;
            sc_rel(I, old);
            return;
        }
    if (e->n == e->cap) {
        sc_rel(I, v);
        sc_error(I, "define: %s is not at the start of a body (%s:%u)", name->name, I->file, where.line);
    }
    e->slots[e->n].name = name;
    e->slots[e->n].v = v;
    e->n++;
}

/* ---- closures ------------------------------------------------------------------------ */

static uint32_t sc__count_defines(sc_interp *I, val body)
{
    uint32_t n = 0;
    for (; body.tag == V_PAIR; body = SC_CDR(body)) {
        val f = SC_CAR(body);
        if (f.tag == V_PAIR && SC_CAR(f).tag == V_SYM && SC_CAR(f).u.p == I->s_define) n++;
    }
    return n;
}

static val sc__make_closure(sc_interp *I, val params, val body, sc_env *e, const sc_sym *name, val where)
{
    uint32_t nreq = 0;
    bool rest = false;
    val p = params;
    for (; p.tag == V_PAIR; p = SC_CDR(p)) {
        if (SC_CAR(p).tag != V_SYM) sc__bad_syntax(I, where, F_LAMBDA);
        nreq++;
    }
    if (p.tag == V_SYM) rest = true;
    else if (p.tag != V_NIL) sc__bad_syntax(I, where, F_LAMBDA);
    if (body.tag != V_PAIR || sc_list_length(body) < 0) sc__bad_syntax(I, where, F_LAMBDA);
    sc_clo *c = sr_rc_new_or_panic(I->rt, I->t_clo);
    c->params = sc_ret(params);
    c->body = sc_ret(body);
    c->env = e ? sr_rc_retain(e) : NULL;
    c->name = name;
    c->file = I->file;
    c->nreq = nreq;
    c->rest = rest;
    c->nslots = nreq + (rest ? 1u : 0u) + sc__count_defines(I, body);
    return sc_obj(V_CLO, c);
}

static const char *sc__proc_name(val f)
{
    if (f.tag == V_PRIM) return f.u.prim->name;
    const sc_clo *c = f.u.p;
    return c->name ? c->name->name : "lambda";
}

/* Makes the frame of a call to c with args (borrowed) and leaves it, owned, on
   the root stack; returns it. */
static sc_env *sc__bind(sc_interp *I, val f, val *args, int argc, uint32_t line)
{
    sc_clo *c = f.u.p;
    if ((uint32_t)argc < c->nreq || (!c->rest && (uint32_t)argc > c->nreq)) {
        sr_frame_push(I->rt, sc__proc_name(f), I->file, (int)line);
        sc_error(I, "%s: wrong number of arguments (expected %s%u, got %d)", sc__proc_name(f),
                 c->rest ? "at least " : "", c->nreq, argc);
    }
    sc_env *ne = sc_env_new(I, c->env, c->nslots);
    size_t slot = sc_push(I, sc_obj(V_ENV, ne));
    val p = c->params;
    for (uint32_t i = 0; i < c->nreq; i++, p = SC_CDR(p)) {
        ne->slots[i].name = SC_CAR(p).u.p;
        ne->slots[i].v = sc_ret(args[i]);
    }
    ne->n = c->nreq;
    if (c->rest) {
        size_t ls = sc_push(I, SC_NIL);
        for (int i = argc; i-- > (int)c->nreq;) sc_set(I, ls, sc_cons(I, args[i], RS(ls)));
        ne->slots[ne->n].name = p.u.p;
        ne->slots[ne->n].v = RS(ls);
        ne->n++;
        I->rs_top = ls;          /* the list moved into the frame */
    }
    (void)slot;
    return ne;
}

/* Evaluates every form of body but the last; returns the last (borrowed). */
static val sc__body(sc_interp *I, val body, sc_env *e, val where, int form)
{
    if (body.tag != V_PAIR) sc__bad_syntax(I, where, form);
    for (; SC_CDR(body).tag == V_PAIR; body = SC_CDR(body)) sc_rel(I, sc__ev(I, SC_CAR(body), e));
    if (SC_CDR(body).tag != V_NIL) sc__bad_syntax(I, where, form);
    return SC_CAR(body);
}

/* sr_check_interrupt reads the clock only every SR_INTERRUPT_POLL_INTERVAL calls. */
static inline void sc__poll(sc_interp *I) { sr_check_interrupt(I->rt); }

/* Pushes the evaluated arguments of the call x above the operator already pushed. */
static int sc__eval_args(sc_interp *I, val x, sc_env *e)
{
    int argc = 0;
    val a = SC_CDR(x);
    for (; a.tag == V_PAIR; a = SC_CDR(a)) {
        sc_push(I, sc__ev(I, SC_CAR(a), e));
        argc++;
    }
    if (a.tag != V_NIL) sc__bad_call(I, x);
    return argc;
}

static val sc__call_prim(sc_interp *I, const sc_prim *pr, val *args, int argc, uint32_t line)
{
    I->line = line;
    if (argc < pr->min || (pr->max >= 0 && argc > pr->max)) {
        sr_frame_push(I->rt, pr->name, I->file, (int)line);
        if (pr->max < 0) sc_error(I, "%s: wrong number of arguments (expected at least %d, got %d)", pr->name, pr->min, argc);
        if (pr->min == pr->max) sc_error(I, "%s: wrong number of arguments (expected %d, got %d)", pr->name, pr->min, argc);
        sc_error(I, "%s: wrong number of arguments (expected %d to %d, got %d)", pr->name, pr->min, pr->max, argc);
    }
    return pr->fn(I, args, argc);
}

val sc_apply(sc_interp *I, val f, val *args, int argc)
{
    if (f.tag == V_PRIM) return sc__call_prim(I, f.u.prim, args, argc, I->line);
    if (f.tag != V_CLO) sc__not_procedure(I, f, SC_NIL);
    size_t base = I->rs_top;
    const char *file = I->file;
    sc_env *ne = sc__bind(I, f, args, argc, I->line);
    sr_frame_push(I->rt, sc__proc_name(f), I->file, (int)I->line);
    sc_clo *c = f.u.p;
    I->file = c->file;
    val last = sc__body(I, c->body, ne, c->body, F_LAMBDA);
    val r = sc_eval(I, last, ne);
    I->file = file;
    sr_frame_pop(I->rt);
    sc_unwind(I, base);
    return r;
}

val sc_eval(sc_interp *I, val x, sc_env *env)
{
    sr_check_stack(I->rt);
    size_t base = sc_push(I, env ? sc_obj(V_ENV, sr_rc_retain(env)) : SC_NIL);
    sc_push(I, SC_NIL);
    sc_env *e = env;
    const char *file = I->file;     /* restored on return: a callee's code may be elsewhere */
    bool framed = false;
    val result = SC_UNSPEC;
    for (;;) {
        if (x.tag == V_SYM) { result = sc_ret(*sc__var(I, x, e)); break; }
        if (x.tag != V_PAIR) {
            if (x.tag == V_NIL) sc_error(I, "cannot evaluate the empty combination () (%s:%u)", I->file, x.line);
            result = sc_ret(x);
            break;
        }
        val head = SC_CAR(x);
        size_t fslot;
        int argc;
        if (head.tag == V_SYM && ((sc_sym *)head.u.p)->form) {
            int form = ((sc_sym *)head.u.p)->form;
            val rest = SC_CDR(x);
            switch (form) {
            case F_QUOTE:
                if (rest.tag != V_PAIR || SC_CDR(rest).tag != V_NIL) sc__bad_syntax(I, x, form);
                result = sc_ret(SC_CAR(rest));
                goto done;
            case F_IF: {
                int64_t n = sc_list_length(rest);
                if (n != 2 && n != 3) sc__bad_syntax(I, x, form);
                val t = sc__ev(I, SC_CAR(rest), e);
                bool yes = sc_truthy(t);
                sc_rel(I, t);
                if (yes) { x = SC_CAR(SC_CDR(rest)); continue; }
                if (n == 3) { x = SC_CAR(SC_CDR(SC_CDR(rest))); continue; }
                result = SC_UNSPEC;
                goto done;
            }
            case F_DEFINE: {
                if (rest.tag != V_PAIR) sc__bad_syntax(I, x, form);
                val target = SC_CAR(rest);
                val v;
                const sc_sym *name;
                if (target.tag == V_PAIR) {          /* (define (name . params) body...) */
                    if (SC_CAR(target).tag != V_SYM) sc__bad_syntax(I, x, form);
                    name = SC_CAR(target).u.p;
                    v = sc__make_closure(I, SC_CDR(target), SC_CDR(rest), e, name, x);
                } else if (target.tag == V_SYM) {
                    name = target.u.p;
                    val vr = SC_CDR(rest);
                    if (vr.tag == V_NIL) v = SC_UNSPEC;
                    else if (vr.tag != V_PAIR || SC_CDR(vr).tag != V_NIL) sc__bad_syntax(I, x, form);
                    else v = sc__ev(I, SC_CAR(vr), e);
                    if (v.tag == V_CLO && !((sc_clo *)v.u.p)->name) ((sc_clo *)v.u.p)->name = name;
                } else {
                    sc__bad_syntax(I, x, form);
                }
                sc__define(I, e, name, v, x);
                result = SC_UNSPEC;
                goto done;
            }
            case F_SET: {
                if (sc_list_length(rest) != 2 || SC_CAR(rest).tag != V_SYM) sc__bad_syntax(I, x, form);
                val v = sc__ev(I, SC_CAR(SC_CDR(rest)), e);
                size_t vs = sc_push(I, v);
                val *slot = sc__var(I, SC_CAR(rest), e);
                val old = *slot;
                *slot = v;
                I->rs_top = vs;
                sc_rel(I, old);
                result = SC_UNSPEC;
                goto done;
            }
            case F_LAMBDA:
                if (rest.tag != V_PAIR) sc__bad_syntax(I, x, form);
                result = sc__make_closure(I, SC_CAR(rest), SC_CDR(rest), e, NULL, x);
                goto done;
            case F_BEGIN:
                if (rest.tag == V_NIL) { result = SC_UNSPEC; goto done; }
                if (!e) {
                    /* top-level begin: its defines are global, evaluate in order */
                    for (; SC_CDR(rest).tag == V_PAIR; rest = SC_CDR(rest)) sc_rel(I, sc__ev(I, SC_CAR(rest), e));
                    if (SC_CDR(rest).tag != V_NIL) sc__bad_syntax(I, x, form);
                    x = SC_CAR(rest);
                    continue;
                }
                x = sc__body(I, rest, e, x, form);
                continue;
            case F_LET:
                if (rest.tag != V_PAIR) sc__bad_syntax(I, x, form);
                if (SC_CAR(rest).tag == V_SYM) {
                    /* named let: a closure bound in its own frame, then a tail call to it */
                    val lname = SC_CAR(rest);
                    rest = SC_CDR(rest);
                    if (rest.tag != V_PAIR || sc_list_length(SC_CAR(rest)) < 0) sc__bad_syntax(I, x, form);
                    size_t ps = sc_push(I, SC_NIL);
                    size_t n = 0;
                    for (val b = SC_CAR(rest); b.tag == V_PAIR; b = SC_CDR(b)) n++;
                    /* parameter list, built back to front */
                    for (size_t k = n; k-- > 0;) {
                        val b = SC_CAR(rest);
                        for (size_t j = 0; j < k; j++) b = SC_CDR(b);
                        val bind = SC_CAR(b);
                        if (bind.tag != V_PAIR || SC_CAR(bind).tag != V_SYM || sc_list_length(bind) != 2)
                            sc__bad_syntax(I, x, form);
                        sc_set(I, ps, sc_cons(I, SC_CAR(bind), RS(ps)));
                    }
                    sc_env *le = sc_env_new(I, e, 1);
                    size_t es = sc_push(I, sc_obj(V_ENV, le));
                    val clo = sc__make_closure(I, RS(ps), SC_CDR(rest), le, lname.u.p, x);
                    le->slots[0].name = lname.u.p;
                    le->slots[0].v = clo;              /* the frame owns the closure: a cycle */
                    le->n = 1;
                    fslot = sc_push(I, sc_ret(clo));
                    argc = 0;
                    for (val b = SC_CAR(rest); b.tag == V_PAIR; b = SC_CDR(b)) {
                        sc_push(I, sc__ev(I, SC_CAR(SC_CDR(SC_CAR(b))), e));
                        argc++;
                    }
                    /* drop the scratch slots below the call: move the call down */
                    sc_set(I, ps, SC_NIL);
                    sc_set(I, es, SC_NIL);
                    memmove(&RS(ps), &RS(fslot), (size_t)(argc + 1) * sizeof(val));
                    I->rs_top = ps + (size_t)argc + 1;
                    fslot = ps;
                    goto apply;
                } else {
                    val binds = SC_CAR(rest);
                    int64_t n = sc_list_length(binds);
                    if (n < 0) sc__bad_syntax(I, x, form);
                    size_t vs = I->rs_top;
                    for (val b = binds; b.tag == V_PAIR; b = SC_CDR(b)) {
                        val bind = SC_CAR(b);
                        if (bind.tag != V_PAIR || SC_CAR(bind).tag != V_SYM || sc_list_length(bind) != 2)
                            sc__bad_syntax(I, x, form);
                        sc_push(I, sc__ev(I, SC_CAR(SC_CDR(bind)), e));
                    }
                    sc_env *ne = sc_env_new(I, e, (uint32_t)n + sc__count_defines(I, SC_CDR(rest)));
                    size_t k = 0;
                    for (val b = binds; b.tag == V_PAIR; b = SC_CDR(b), k++) {
                        ne->slots[k].name = SC_CAR(SC_CAR(b)).u.p;
                        ne->slots[k].v = RS(vs + k);
                    }
                    ne->n = (uint32_t)n;
                    I->rs_top = vs;                    /* the values moved into the frame */
                    sc_set(I, base, sc_obj(V_ENV, ne));
                    e = ne;
                    x = sc__body(I, SC_CDR(rest), e, x, form);
                    continue;
                }
            case F_LETSTAR: {
                if (rest.tag != V_PAIR || sc_list_length(SC_CAR(rest)) < 0) sc__bad_syntax(I, x, form);
                val binds = SC_CAR(rest);
                uint32_t ndef = sc__count_defines(I, SC_CDR(rest));
                if (binds.tag == V_NIL) {
                    sc_env *ne = sc_env_new(I, e, ndef);
                    sc_set(I, base, sc_obj(V_ENV, ne));
                    e = ne;
                }
                for (val b = binds; b.tag == V_PAIR; b = SC_CDR(b)) {
                    val bind = SC_CAR(b);
                    if (bind.tag != V_PAIR || SC_CAR(bind).tag != V_SYM || sc_list_length(bind) != 2)
                        sc__bad_syntax(I, x, form);
                    size_t vs = sc_push(I, sc__ev(I, SC_CAR(SC_CDR(bind)), e));
                    sc_env *ne = sc_env_new(I, e, 1 + (SC_CDR(b).tag == V_NIL ? ndef : 0));
                    ne->slots[0].name = SC_CAR(bind).u.p;
                    ne->slots[0].v = RS(vs);
                    ne->n = 1;
                    I->rs_top = vs;
                    sc_set(I, base, sc_obj(V_ENV, ne));
                    e = ne;
                }
                x = sc__body(I, SC_CDR(rest), e, x, form);
                continue;
            }
            case F_LETREC:
            case F_LETRECSTAR: {
                if (rest.tag != V_PAIR) sc__bad_syntax(I, x, form);
                val binds = SC_CAR(rest);
                int64_t n = sc_list_length(binds);
                if (n < 0) sc__bad_syntax(I, x, form);
                sc_env *ne = sc_env_new(I, e, (uint32_t)n + sc__count_defines(I, SC_CDR(rest)));
                sc_set(I, base, sc_obj(V_ENV, ne));
                e = ne;
                for (val b = binds; b.tag == V_PAIR; b = SC_CDR(b)) {
                    val bind = SC_CAR(b);
                    if (bind.tag != V_PAIR || SC_CAR(bind).tag != V_SYM || sc_list_length(bind) != 2)
                        sc__bad_syntax(I, x, form);
                    ne->slots[ne->n].name = SC_CAR(bind).u.p;
                    ne->slots[ne->n].v = SC_UNSPEC;
                    ne->n++;
                }
                uint32_t k = 0;
                for (val b = binds; b.tag == V_PAIR; b = SC_CDR(b), k++) {
                    val v = sc__ev(I, SC_CAR(SC_CDR(SC_CAR(b))), e);
                    if (v.tag == V_CLO && !((sc_clo *)v.u.p)->name) ((sc_clo *)v.u.p)->name = ne->slots[k].name;
                    val old = ne->slots[k].v;
                    ne->slots[k].v = v;
                    sc_rel(I, old);
                }
                x = sc__body(I, SC_CDR(rest), e, x, form);
                continue;
            }
            case F_COND:
                for (; rest.tag == V_PAIR; rest = SC_CDR(rest)) {
                    val cl = SC_CAR(rest);
                    if (cl.tag != V_PAIR || sc_list_length(cl) < 0) sc__bad_syntax(I, x, form);
                    if (SC_CAR(cl).tag == V_SYM && SC_CAR(cl).u.p == I->s_else) {
                        x = sc__body(I, SC_CDR(cl), e, x, form);
                        goto next;
                    }
                    val t = sc__ev(I, SC_CAR(cl), e);
                    if (!sc_truthy(t)) { sc_rel(I, t); continue; }
                    val body = SC_CDR(cl);
                    if (body.tag == V_NIL) { result = t; goto done; }
                    if (SC_CAR(body).tag == V_SYM && SC_CAR(body).u.p == I->s_arrow) {
                        if (SC_CDR(body).tag != V_PAIR) { sc_rel(I, t); sc__bad_syntax(I, x, form); }
                        size_t ts = sc_push(I, t);
                        fslot = sc_push(I, sc__ev(I, SC_CAR(SC_CDR(body)), e));
                        /* order: procedure, then the test value as its argument */
                        val tmp = RS(ts); RS(ts) = RS(fslot); RS(fslot) = tmp;
                        fslot = ts;
                        argc = 1;
                        goto apply;
                    }
                    sc_rel(I, t);
                    x = sc__body(I, body, e, x, form);
                    goto next;
                }
                result = SC_UNSPEC;
                goto done;
            case F_CASE: {
                if (rest.tag != V_PAIR) sc__bad_syntax(I, x, form);
                size_t ks = sc_push(I, sc__ev(I, SC_CAR(rest), e));
                for (rest = SC_CDR(rest); rest.tag == V_PAIR; rest = SC_CDR(rest)) {
                    val cl = SC_CAR(rest);
                    if (cl.tag != V_PAIR) sc__bad_syntax(I, x, form);
                    bool hit = SC_CAR(cl).tag == V_SYM && SC_CAR(cl).u.p == I->s_else;
                    if (!hit) {
                        if (sc_list_length(SC_CAR(cl)) < 0) sc__bad_syntax(I, x, form);
                        for (val d = SC_CAR(cl); d.tag == V_PAIR && !hit; d = SC_CDR(d)) hit = sc_eqv(SC_CAR(d), RS(ks));
                    }
                    if (hit) {
                        sc_unwind(I, ks);
                        x = sc__body(I, SC_CDR(cl), e, x, form);
                        goto next;
                    }
                }
                sc_unwind(I, ks);
                result = SC_UNSPEC;
                goto done;
            }
            case F_AND:
            case F_OR:
                if (rest.tag == V_NIL) { result = sc_bool(form == F_AND); goto done; }
                for (; SC_CDR(rest).tag == V_PAIR; rest = SC_CDR(rest)) {
                    val t = sc__ev(I, SC_CAR(rest), e);
                    if (sc_truthy(t) == (form == F_OR)) { result = t; goto done; }
                    sc_rel(I, t);
                }
                if (rest.tag != V_PAIR || SC_CDR(rest).tag != V_NIL) sc__bad_syntax(I, x, form);
                x = SC_CAR(rest);
                continue;
            case F_WHEN:
            case F_UNLESS: {
                if (rest.tag != V_PAIR) sc__bad_syntax(I, x, form);
                val t = sc__ev(I, SC_CAR(rest), e);
                bool yes = sc_truthy(t) == (form == F_WHEN);
                sc_rel(I, t);
                if (!yes) { result = SC_UNSPEC; goto done; }
                x = sc__body(I, SC_CDR(rest), e, x, form);
                continue;
            }
            case F_DO: {
                /* (do ((var init step)...) (test expr...) body...) */
                if (sc_list_length(rest) < 2 || sc_list_length(SC_CAR(rest)) < 0 ||
                    SC_CAR(SC_CDR(rest)).tag != V_PAIR || sc_list_length(SC_CAR(SC_CDR(rest))) < 0)
                    sc__bad_syntax(I, x, form);
                val specs = SC_CAR(rest), test = SC_CAR(SC_CDR(rest)), body = SC_CDR(SC_CDR(rest));
                uint32_t n = 0;
                for (val s = specs; s.tag == V_PAIR; s = SC_CDR(s), n++) {
                    val sp = SC_CAR(s);
                    int64_t len = sc_list_length(sp);
                    if ((len != 2 && len != 3) || SC_CAR(sp).tag != V_SYM) sc__bad_syntax(I, x, form);
                }
                size_t vs = I->rs_top;
                for (val s = specs; s.tag == V_PAIR; s = SC_CDR(s)) sc_push(I, sc__ev(I, SC_CAR(SC_CDR(SC_CAR(s))), e));
                sc_env *outer = e;
                size_t es = sc_push(I, SC_NIL);
                for (;;) {
                    sc_env *ne = sc_env_new(I, outer, n);
                    uint32_t k = 0;
                    for (val s = specs; s.tag == V_PAIR; s = SC_CDR(s), k++) {
                        ne->slots[k].name = SC_CAR(SC_CAR(s)).u.p;
                        ne->slots[k].v = RS(vs + k);
                        RS(vs + k) = SC_NIL;
                    }
                    ne->n = n;
                    sc_set(I, es, sc_obj(V_ENV, ne));
                    sc__poll(I);
                    val t = sc__ev(I, SC_CAR(test), ne);
                    bool stop = sc_truthy(t);
                    sc_rel(I, t);
                    if (stop) break;
                    for (val b = body; b.tag == V_PAIR; b = SC_CDR(b)) sc_rel(I, sc__ev(I, SC_CAR(b), ne));
                    k = 0;
                    for (val s = specs; s.tag == V_PAIR; s = SC_CDR(s), k++) {
                        val sp = SC_CAR(s);
                        val nv = SC_CDR(SC_CDR(sp)).tag == V_PAIR ? sc__ev(I, SC_CAR(SC_CDR(SC_CDR(sp))), ne)
                                                                  : sc_ret(ne->slots[k].v);
                        sc_set(I, vs + k, nv);
                    }
                }
                /* the loop's last frame becomes the current environment */
                sc_set(I, base, RS(es));
                RS(es) = SC_NIL;
                e = RS(base).u.p;
                sc_unwind(I, vs);
                if (SC_CDR(test).tag == V_NIL) { result = SC_UNSPEC; goto done; }
                x = sc__body(I, SC_CDR(test), e, x, form);
                continue;
            }
            default:
                sc__bad_syntax(I, x, form);
            }
        next:
            continue;
        }
        /* ---- application ---- */
        fslot = sc_push(I, sc__ev(I, head, e));
        argc = sc__eval_args(I, x, e);
    apply: {
            val f = RS(fslot);
            sc__poll(I);
            if (f.tag == V_PRIM) {
                result = sc__call_prim(I, f.u.prim, &RS(fslot + 1), argc, x.line);
                sc_unwind(I, fslot);
                goto done;
            }
            if (f.tag != V_CLO) sc__not_procedure(I, f, x);
            uint32_t line = x.line;
            sc_env *ne = sc__bind(I, f, &RS(fslot + 1), argc, line);   /* pushed above the args */
            if (framed) sr_frame_pop(I->rt);
            framed = false;
            sr_frame_push(I->rt, sc__proc_name(f), I->file, (int)line);
            framed = true;
            I->file = ((sc_clo *)f.u.p)->file;
            /* tail call: the closure and its frame replace the current ones */
            val nev = RS(I->rs_top - 1);
            I->rs_top--;
            RS(fslot) = SC_NIL;
            sc_unwind(I, fslot);
            sc_set(I, base + 1, f);
            sc_set(I, base, nev);
            e = ne;
            x = sc__body(I, ((sc_clo *)f.u.p)->body, e, ((sc_clo *)f.u.p)->body, F_LAMBDA);
            continue;
        }
    }
done:
    I->file = file;
    if (framed) sr_frame_pop(I->rt);
    sc_unwind(I, base);
    return result;
}
