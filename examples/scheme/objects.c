/*
 * objects.c - the Scheme object types on scriptrt, the symbol table, the root
 * stack and error reporting.
 *
 * Types: "scheme.pair", "scheme.vector", "scheme.closure", "scheme.env" and
 * "scheme.symbol" can hold values and register a trace that visits the slots
 * holding objects; "scheme.string" holds bytes only (acyclic). The symbol table
 * is an open hash table of chains (uncounted `next` links) that owns one
 * reference per symbol; it is freed at teardown after every global binding has
 * been dropped, so cycles through globals become garbage for the collector.
 */
#include "scheme.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void sc__visit_val(val *v, sr_visit_fn visit, void *ctx)
{
    if (SC_ISOBJ(*v)) visit(&v->u.p, ctx);
}

static void sc__trace_pair(void *obj, sr_visit_fn visit, void *ctx)
{
    sc_pair *p = obj;
    sc__visit_val(&p->car, visit, ctx);
    sc__visit_val(&p->cdr, visit, ctx);
}

static void sc__trace_vec(void *obj, sr_visit_fn visit, void *ctx)
{
    sc_vec *v = obj;
    for (size_t i = 0; i < v->len; i++) sc__visit_val(&v->items[i], visit, ctx);
}

static void sc__trace_env(void *obj, sr_visit_fn visit, void *ctx)
{
    sc_env *e = obj;
    if (e->parent) visit((void **)&e->parent, ctx);
    for (uint32_t i = 0; i < e->n; i++) sc__visit_val(&e->slots[i].v, visit, ctx);
}

static void sc__trace_clo(void *obj, sr_visit_fn visit, void *ctx)
{
    sc_clo *c = obj;
    sc__visit_val(&c->params, visit, ctx);
    sc__visit_val(&c->body, visit, ctx);
    if (c->env) visit((void **)&c->env, ctx);
}

static void sc__trace_sym(void *obj, sr_visit_fn visit, void *ctx)
{
    sc_sym *s = obj;
    sc__visit_val(&s->value, visit, ctx);
}

sr_status sc_types_register(sc_interp *I)
{
    const struct { const char *name; size_t size; void (*trace)(void *, sr_visit_fn, void *); sr_type_id *out; } t[] = {
        { "scheme.pair", sizeof(sc_pair), sc__trace_pair, &I->t_pair },
        { "scheme.string", sizeof(sc_str), NULL, &I->t_str },
        { "scheme.symbol", sizeof(sc_sym), sc__trace_sym, &I->t_sym },
        { "scheme.vector", sizeof(sc_vec), sc__trace_vec, &I->t_vec },
        { "scheme.closure", sizeof(sc_clo), sc__trace_clo, &I->t_clo },
        { "scheme.env", sizeof(sc_env), sc__trace_env, &I->t_env },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        sr_type ty;
        memset(&ty, 0, sizeof ty);
        ty.name = t[i].name;
        ty.size = t[i].size;
        ty.trace = t[i].trace;
        sr_status st = sr_type_register(I->rt, &ty, t[i].out);
        if (st != SR_OK) return st;
    }
    return SR_OK;
}

/* ---- root stack ------------------------------------------------------------------------ */

_Noreturn void sc_push_overflow(sc_interp *I, val v)
{
    sc_rel(I, v);
    sc_error(I, "stack overflow (root stack of %zu values is full)", I->rs_cap);
}

/* ---- allocation ------------------------------------------------------------------------ */

void *sc_alloc_obj(sc_interp *I, sr_type_id t, size_t size)
{
    /* A refusal at the heap limit (after the runtime's emergency collection)
       is the runtime's SR_PANIC_NOMEM panic, which names the type and size. */
    return sr_rc_new_sized_or_panic(I->rt, t, size);
}

val sc_cons_move(sc_interp *I, val car, val cdr)
{
    /* car and cdr must survive the allocation: park them on the root stack. */
    size_t base = sc_push(I, car);
    sc_push(I, cdr);
    sc_pair *p = sr_rc_new_or_panic(I->rt, I->t_pair);
    p->car = RS(base);
    p->cdr = RS(base + 1);
    I->rs_top = base;                 /* ownership moved into the pair */
    return sc_obj(V_PAIR, p);
}

val sc_cons(sc_interp *I, val car, val cdr)
{
    return sc_cons_move(I, sc_ret(car), sc_ret(cdr));
}

val sc_string(sc_interp *I, const char *s, size_t len)
{
    sc_str *str = sc_alloc_obj(I, I->t_str, sizeof(sc_str) + len + 1);
    str->len = len;
    if (len) memcpy(str->data, s, len);
    str->data[len] = '\0';
    return sc_obj(V_STR, str);
}

val sc_vector(sc_interp *I, size_t len, val fill)
{
    if (len > (SIZE_MAX - sizeof(sc_vec)) / sizeof(val)) sc_error(I, "make-vector: length too large");
    sc_vec *v = sc_alloc_obj(I, I->t_vec, sizeof(sc_vec) + len * sizeof(val));
    v->len = len;
    for (size_t i = 0; i < len; i++) v->items[i] = sc_ret(fill);
    return sc_obj(V_VEC, v);
}

sc_env *sc_env_new(sc_interp *I, sc_env *parent, uint32_t cap)
{
    sc_env *e = sc_alloc_obj(I, I->t_env, sizeof(sc_env) + (size_t)cap * sizeof(sc_slot));
    e->parent = parent ? sr_rc_retain(parent) : NULL;
    e->cap = cap;
    e->n = 0;
    return e;
}

/* ---- symbols ------------------------------------------------------------------------ */

static uint32_t sc__hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

sc_sym *sc_intern(sc_interp *I, const char *name, size_t len)
{
    uint32_t h = sc__hash(name, len);
    if (I->symcap) {
        for (sc_sym *s = I->symtab[h & (I->symcap - 1)]; s; s = s->next)
            if (s->hash == h && s->len == len && memcmp(s->name, name, len) == 0) return s;
    }
    if (I->nsyms + 1 > I->symcap / 2) {   /* load factor at most 1/2 */
        size_t ncap = I->symcap ? I->symcap * 2 : 256;
        sc_sym **nt = calloc(ncap, sizeof *nt);
        if (!nt) sc_error(I, "out of memory (symbol table)");
        for (size_t i = 0; i < I->symcap; i++) {
            sc_sym *s = I->symtab[i];
            while (s) {
                sc_sym *next = s->next;
                s->next = nt[s->hash & (ncap - 1)];
                nt[s->hash & (ncap - 1)] = s;
                s = next;
            }
        }
        free(I->symtab);
        I->symtab = nt;
        I->symcap = ncap;
    }
    sc_sym *s = sc_alloc_obj(I, I->t_sym, sizeof(sc_sym) + len + 1);
    s->value = SC_UNSPEC;
    s->bound = false;
    s->hash = h;
    s->len = (uint32_t)len;
    s->form = F_NONE;
    memcpy(s->name, name, len);
    s->name[len] = '\0';
    s->next = I->symtab[h & (I->symcap - 1)];
    I->symtab[h & (I->symcap - 1)] = s;
    I->nsyms++;
    return s;
}

val sc_symval(sc_sym *s) { return sc_obj(V_SYM, s); }

void sc_symtab_free(sc_interp *I)
{
    /* First drop every global binding (this may free cycles' anchors), then the symbols. */
    for (size_t i = 0; i < I->symcap; i++)
        for (sc_sym *s = I->symtab[i]; s; s = s->next) {
            val v = s->value;
            s->value = SC_UNSPEC;
            s->bound = false;
            sc_rel(I, v);
        }
    sr_gc_collect(I->rt);
    for (size_t i = 0; i < I->symcap; i++) {
        sc_sym *s = I->symtab[i];
        while (s) {
            sc_sym *next = s->next;
            sr_rc_release(I->rt, s);
            s = next;
        }
    }
    free(I->symtab);
    I->symtab = NULL;
    I->symcap = I->nsyms = 0;
}

/* ---- errors ------------------------------------------------------------------------ */

_Noreturn void sc_error(sc_interp *I, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sr_panic(I->rt, "%s", msg);
}

_Noreturn void sc_type_error(sc_interp *I, const char *who, const char *what, val v)
{
    char buf[120];
    sc_print_buf(I, buf, sizeof buf, v, true);
    sr_frame_push(I->rt, who, I->file, (int)I->line);
    sc_error(I, "%s: expected %s, got %s", who, what, buf);
}
