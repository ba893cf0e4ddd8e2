/*
 * builtins.c - the primitive procedures.
 *
 * A primitive receives its arguments as borrowed values (they sit in root-stack
 * slots of the caller) and returns an owned value. Whatever it builds across
 * allocations lives in root-stack slots too; a list under construction keeps its
 * head in a slot and a borrowed pointer to its last pair (sc_lb). Errors are
 * panics; a type or range error also pushes a script frame naming the
 * primitive and the line of its call.
 *
 * Numbers: 64-bit integers whose overflow is an error, and doubles. An
 * operation with any double argument gives a double; `/` of integers gives an
 * integer when the division is exact and a double otherwise.
 */
#include "scheme.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------ */

static _Noreturn void sc__range(sc_interp *I, const char *who, const char *fmt, ...) SR_PRINTF(3, 4);
static _Noreturn void sc__range(sc_interp *I, const char *who, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sr_frame_push(I->rt, who, I->file, (int)I->line);
    sc_error(I, "%s: %s", who, msg);
}

static _Noreturn void sc__fail(sc_interp *I, const char *who, const char *msg)
{
    sr_frame_push(I->rt, who, I->file, (int)I->line);
    sc_error(I, "%s: %s", who, msg);
}

static inline bool sc__isnum(val v) { return v.tag == V_INT || v.tag == V_FLT; }
static inline double sc__dbl(val v) { return v.tag == V_INT ? (double)v.u.i : v.u.f; }

static void sc__need_num(sc_interp *I, const char *who, val v)
{
    if (!sc__isnum(v)) sc_type_error(I, who, "a number", v);
}

static int64_t sc__need_int(sc_interp *I, const char *who, val v)
{
    if (v.tag == V_INT) return v.u.i;
    if (v.tag == V_FLT && v.u.f == floor(v.u.f) && fabs(v.u.f) < 9.2e18) return (int64_t)v.u.f;
    sc_type_error(I, who, "an integer", v);
}

static size_t sc__need_index(sc_interp *I, const char *who, val v, size_t len)
{
    if (v.tag != V_INT) sc_type_error(I, who, "an exact integer index", v);
    if (v.u.i < 0 || (uint64_t)v.u.i >= len) sc__range(I, who, "index %lld out of range for length %zu", (long long)v.u.i, len);
    return (size_t)v.u.i;
}

int64_t sc_list_length(val v)
{
    int64_t n = 0;
    val slow = v;
    while (v.tag == V_PAIR) {
        v = SC_CDR(v);
        n++;
        if (v.tag != V_PAIR) break;
        v = SC_CDR(v);
        n++;
        slow = SC_CDR(slow);
        if (v.tag == V_PAIR && v.u.p == slow.u.p) return -1;   /* cyclic */
    }
    return v.tag == V_NIL ? n : -1;
}

static int64_t sc__need_list(sc_interp *I, const char *who, val v)
{
    int64_t n = sc_list_length(v);
    if (n < 0) sc_type_error(I, who, "a proper list", v);
    return n;
}

/* A list built front to back: head in a root slot, tail borrowed. */
typedef struct sc_lb { size_t slot; sc_pair *tail; } sc_lb;
static void sc__lb_init(sc_interp *I, sc_lb *b) { b->slot = sc_push(I, SC_NIL); b->tail = NULL; }
static void sc__lb_add(sc_interp *I, sc_lb *b, val v)   /* takes v */
{
    val cell = sc_cons_move(I, v, SC_NIL);
    if (!b->tail) RS(b->slot) = cell;
    else b->tail->cdr = cell;
    b->tail = sc_pr(cell);
}
static val sc__lb_done(sc_interp *I, sc_lb *b, val last)  /* takes last; pops the slot */
{
    if (!b->tail) { sc_set(I, b->slot, last); }
    else { val old = b->tail->cdr; b->tail->cdr = last; sc_rel(I, old); }
    val r = RS(b->slot);
    RS(b->slot) = SC_NIL;
    sc_unwind(I, b->slot);
    return r;
}

/* ---- numbers ------------------------------------------------------------------------ */

static _Noreturn void sc__overflow(sc_interp *I, const char *who) { sc__fail(I, who, "integer overflow"); }

static val sc__add2(sc_interp *I, const char *who, val a, val b, int op)
{
    if (a.tag == V_INT && b.tag == V_INT) {
        int64_t r;
        bool ovf = op == 0 ? __builtin_add_overflow(a.u.i, b.u.i, &r)
                 : op == 1 ? __builtin_sub_overflow(a.u.i, b.u.i, &r)
                           : __builtin_mul_overflow(a.u.i, b.u.i, &r);
        if (ovf) sc__overflow(I, who);
        return sc_int(r);
    }
    double x = sc__dbl(a), y = sc__dbl(b);
    return sc_flt(op == 0 ? x + y : op == 1 ? x - y : x * y);
}

static val sc__p_add(sc_interp *I, val *a, int n)
{
    val acc = sc_int(0);
    for (int i = 0; i < n; i++) { sc__need_num(I, "+", a[i]); acc = sc__add2(I, "+", acc, a[i], 0); }
    return acc;
}

static val sc__p_mul(sc_interp *I, val *a, int n)
{
    val acc = sc_int(1);
    for (int i = 0; i < n; i++) { sc__need_num(I, "*", a[i]); acc = sc__add2(I, "*", acc, a[i], 2); }
    return acc;
}

static val sc__p_sub(sc_interp *I, val *a, int n)
{
    for (int i = 0; i < n; i++) sc__need_num(I, "-", a[i]);
    if (n == 1) return sc__add2(I, "-", sc_int(0), a[0], 1);
    val acc = a[0];
    for (int i = 1; i < n; i++) acc = sc__add2(I, "-", acc, a[i], 1);
    return acc;
}

static val sc__div2(sc_interp *I, val a, val b)
{
    if (b.tag == V_INT && b.u.i == 0) sc__fail(I, "/", "division by zero");
    if (a.tag == V_INT && b.tag == V_INT) {
        if (a.u.i == INT64_MIN && b.u.i == -1) sc__overflow(I, "/");
        if (a.u.i % b.u.i == 0) return sc_int(a.u.i / b.u.i);
        return sc_flt((double)a.u.i / (double)b.u.i);
    }
    return sc_flt(sc__dbl(a) / sc__dbl(b));
}

static val sc__p_div(sc_interp *I, val *a, int n)
{
    for (int i = 0; i < n; i++) sc__need_num(I, "/", a[i]);
    if (n == 1) return sc__div2(I, sc_int(1), a[0]);
    val acc = a[0];
    for (int i = 1; i < n; i++) acc = sc__div2(I, acc, a[i]);
    return acc;
}

static val sc__intdiv(sc_interp *I, const char *who, val *a, int op)
{
    bool flt = a[0].tag == V_FLT || a[1].tag == V_FLT;
    int64_t x = sc__need_int(I, who, a[0]), y = sc__need_int(I, who, a[1]);
    if (y == 0) sc__fail(I, who, "division by zero");
    int64_t r;
    if (y == -1) {
        if (op == 0 && x == INT64_MIN) sc__overflow(I, who);
        r = op == 0 ? -x : 0;
    } else if (op == 0) {
        r = x / y;
    } else {
        r = x % y;
        if (op == 2 && r != 0 && ((r < 0) != (y < 0))) r += y;
    }
    return flt ? sc_flt((double)r) : sc_int(r);
}
static val sc__p_quotient(sc_interp *I, val *a, int n) { (void)n; return sc__intdiv(I, "quotient", a, 0); }
static val sc__p_remainder(sc_interp *I, val *a, int n) { (void)n; return sc__intdiv(I, "remainder", a, 1); }
static val sc__p_modulo(sc_interp *I, val *a, int n) { (void)n; return sc__intdiv(I, "modulo", a, 2); }

static int sc__cmp(val a, val b)
{
    if (a.tag == V_INT && b.tag == V_INT) return (a.u.i > b.u.i) - (a.u.i < b.u.i);
    double x = sc__dbl(a), y = sc__dbl(b);
    return (x > y) - (x < y);
}

static val sc__compare(sc_interp *I, const char *who, val *a, int n, int op)
{
    for (int i = 0; i < n; i++) sc__need_num(I, who, a[i]);
    for (int i = 0; i + 1 < n; i++) {
        if ((a[i].tag == V_FLT && isnan(a[i].u.f)) || (a[i + 1].tag == V_FLT && isnan(a[i + 1].u.f))) return SC_FALSE;
        int c = sc__cmp(a[i], a[i + 1]);
        bool ok = op == 0 ? c == 0 : op == 1 ? c < 0 : op == 2 ? c > 0 : op == 3 ? c <= 0 : c >= 0;
        if (!ok) return SC_FALSE;
    }
    return SC_TRUE;
}
static val sc__p_eq(sc_interp *I, val *a, int n) { return sc__compare(I, "=", a, n, 0); }
static val sc__p_lt(sc_interp *I, val *a, int n) { return sc__compare(I, "<", a, n, 1); }
static val sc__p_gt(sc_interp *I, val *a, int n) { return sc__compare(I, ">", a, n, 2); }
static val sc__p_le(sc_interp *I, val *a, int n) { return sc__compare(I, "<=", a, n, 3); }
static val sc__p_ge(sc_interp *I, val *a, int n) { return sc__compare(I, ">=", a, n, 4); }

static val sc__p_abs(sc_interp *I, val *a, int n)
{
    (void)n;
    sc__need_num(I, "abs", a[0]);
    if (a[0].tag == V_FLT) return sc_flt(fabs(a[0].u.f));
    if (a[0].u.i == INT64_MIN) sc__overflow(I, "abs");
    return sc_int(a[0].u.i < 0 ? -a[0].u.i : a[0].u.i);
}

static val sc__minmax(sc_interp *I, const char *who, val *a, int n, bool max)
{
    bool flt = false;
    for (int i = 0; i < n; i++) { sc__need_num(I, who, a[i]); flt |= a[i].tag == V_FLT; }
    val best = a[0];
    for (int i = 1; i < n; i++) {
        int c = sc__cmp(a[i], best);
        if (max ? c > 0 : c < 0) best = a[i];
    }
    return flt ? sc_flt(sc__dbl(best)) : best;
}
static val sc__p_min(sc_interp *I, val *a, int n) { return sc__minmax(I, "min", a, n, false); }
static val sc__p_max(sc_interp *I, val *a, int n) { return sc__minmax(I, "max", a, n, true); }

static val sc__p_zerop(sc_interp *I, val *a, int n) { (void)n; sc__need_num(I, "zero?", a[0]); return sc_bool(sc__dbl(a[0]) == 0); }
static val sc__p_positivep(sc_interp *I, val *a, int n) { (void)n; sc__need_num(I, "positive?", a[0]); return sc_bool(sc__dbl(a[0]) > 0); }
static val sc__p_negativep(sc_interp *I, val *a, int n) { (void)n; sc__need_num(I, "negative?", a[0]); return sc_bool(sc__dbl(a[0]) < 0); }
static val sc__p_evenp(sc_interp *I, val *a, int n) { (void)n; return sc_bool(sc__need_int(I, "even?", a[0]) % 2 == 0); }
static val sc__p_oddp(sc_interp *I, val *a, int n) { (void)n; return sc_bool(sc__need_int(I, "odd?", a[0]) % 2 != 0); }

static val sc__p_exact_to_inexact(sc_interp *I, val *a, int n) { (void)n; sc__need_num(I, "exact->inexact", a[0]); return sc_flt(sc__dbl(a[0])); }
static val sc__p_inexact_to_exact(sc_interp *I, val *a, int n)
{
    (void)n;
    sc__need_num(I, "exact", a[0]);
    if (a[0].tag == V_INT) return a[0];
    double d = round(a[0].u.f);
    if (!(fabs(d) < 9.2e18)) sc__overflow(I, "exact");
    return sc_int((int64_t)d);
}
static val sc__p_sqrt(sc_interp *I, val *a, int n)
{
    (void)n;
    sc__need_num(I, "sqrt", a[0]);
    if (a[0].tag == V_INT && a[0].u.i >= 0) {
        int64_t r = (int64_t)sqrt((double)a[0].u.i);
        while (r > 0 && r > a[0].u.i / r) r--;
        while ((r + 1) <= a[0].u.i / (r + 1) && (r + 1) * (r + 1) <= a[0].u.i) r++;
        if (r * r == a[0].u.i) return sc_int(r);
    }
    return sc_flt(sqrt(sc__dbl(a[0])));
}

/* ---- predicates and equivalence ------------------------------------------------------------ */

bool sc_eqv(val a, val b)
{
    if (a.tag != b.tag) return false;
    switch (a.tag) {
    case V_NIL: case V_UNSPEC: case V_EOF: return true;
    case V_BOOL: return a.u.b == b.u.b;
    case V_INT: return a.u.i == b.u.i;
    case V_FLT: return memcmp(&a.u.f, &b.u.f, sizeof(double)) == 0;
    case V_CHAR: return a.u.c == b.u.c;
    case V_PRIM: return a.u.prim == b.u.prim;
    default: return a.u.p == b.u.p;
    }
}

static void sc__free_stack(sr_runtime *rt, void *p) { (void)rt; free(p); }

/* Iterative, with a work stack of value pairs. It polls sr_check_interrupt
   (cyclic data would never end); a grown stack rides the cleanup stack. */
bool sc_equal(sc_interp *I, val a, val b)
{
    val local[64];
    val *st = local, *heap = NULL;
    size_t n = 0, cap = 64;
    bool result = true;
#define SC_EPUSH(x, y)                                                                      \
    do {                                                                                    \
        if (n + 2 > cap) {                                                                  \
            val *ns = malloc(cap * 2 * sizeof *ns);                                         \
            if (!ns) sc_error(I, "equal?: out of memory");                                  \
            memcpy(ns, st, n * sizeof *ns);                                                 \
            if (heap) sr_cleanup_pop(I->rt, true);                                          \
            st = heap = ns;                                                                 \
            cap *= 2;                                                                       \
            sr_cleanup_push(I->rt, sc__free_stack, heap);                                   \
        }                                                                                   \
        st[n++] = (x); st[n++] = (y);                                                       \
    } while (0)
    SC_EPUSH(a, b);
    while (n > 0) {
        sr_check_interrupt(I->rt);
        val y = st[--n], x = st[--n];
        if (sc_eqv(x, y)) continue;
        if (x.tag != y.tag) { result = false; break; }
        if (x.tag == V_PAIR) {
            SC_EPUSH(SC_CDR(x), SC_CDR(y));
            SC_EPUSH(SC_CAR(x), SC_CAR(y));
        } else if (x.tag == V_STR) {
            const sc_str *s = x.u.p, *t = y.u.p;
            if (s->len != t->len || memcmp(s->data, t->data, s->len) != 0) { result = false; break; }
        } else if (x.tag == V_VEC) {
            const sc_vec *s = x.u.p, *t = y.u.p;
            if (s->len != t->len) { result = false; break; }
            for (size_t i = s->len; i-- > 0;) SC_EPUSH(s->items[i], t->items[i]);
        } else {
            result = false;
            break;
        }
    }
    if (heap) sr_cleanup_pop(I->rt, true);
#undef SC_EPUSH
    return result;
}

static val sc__p_not(sc_interp *I, val *a, int n) { (void)I; (void)n; return sc_bool(!sc_truthy(a[0])); }
static val sc__p_eqp(sc_interp *I, val *a, int n) { (void)I; (void)n; return sc_bool(sc_eqv(a[0], a[1])); }
static val sc__p_equalp(sc_interp *I, val *a, int n) { (void)n; return sc_bool(sc_equal(I, a[0], a[1])); }
#define SC_PRED(fname, test) \
    static val fname(sc_interp *I, val *a, int n) { (void)I; (void)n; val v = a[0]; return sc_bool(test); }
SC_PRED(sc__p_nullp, v.tag == V_NIL)
SC_PRED(sc__p_pairp, v.tag == V_PAIR)
SC_PRED(sc__p_listp, sc_list_length(v) >= 0)
SC_PRED(sc__p_numberp, sc__isnum(v))
SC_PRED(sc__p_integerp, v.tag == V_INT || (v.tag == V_FLT && v.u.f == floor(v.u.f) && !isinf(v.u.f)))
SC_PRED(sc__p_symbolp, v.tag == V_SYM)
SC_PRED(sc__p_stringp, v.tag == V_STR)
SC_PRED(sc__p_procedurep, sc_is_procedure(v))
SC_PRED(sc__p_booleanp, v.tag == V_BOOL)
SC_PRED(sc__p_vectorp, v.tag == V_VEC)
SC_PRED(sc__p_charp, v.tag == V_CHAR)

/* ---- pairs and lists ------------------------------------------------------------------------ */

static val sc__p_cons(sc_interp *I, val *a, int n) { (void)n; return sc_cons(I, a[0], a[1]); }
static val sc__p_car(sc_interp *I, val *a, int n) { (void)n; if (a[0].tag != V_PAIR) sc_type_error(I, "car", "a pair", a[0]); return sc_ret(SC_CAR(a[0])); }
static val sc__p_cdr(sc_interp *I, val *a, int n) { (void)n; if (a[0].tag != V_PAIR) sc_type_error(I, "cdr", "a pair", a[0]); return sc_ret(SC_CDR(a[0])); }

static val sc__cxr(sc_interp *I, const char *who, val v, const char *path)
{
    val x = v;
    for (const char *p = path + strlen(path); p-- > path;) {
        if (x.tag != V_PAIR) sc_type_error(I, who, "a deeper list", v);
        x = *p == 'a' ? SC_CAR(x) : SC_CDR(x);
    }
    return sc_ret(x);
}
static val sc__p_cadr(sc_interp *I, val *a, int n) { (void)n; return sc__cxr(I, "cadr", a[0], "ad"); }
static val sc__p_cddr(sc_interp *I, val *a, int n) { (void)n; return sc__cxr(I, "cddr", a[0], "dd"); }
static val sc__p_caar(sc_interp *I, val *a, int n) { (void)n; return sc__cxr(I, "caar", a[0], "aa"); }
static val sc__p_cdar(sc_interp *I, val *a, int n) { (void)n; return sc__cxr(I, "cdar", a[0], "da"); }
static val sc__p_caddr(sc_interp *I, val *a, int n) { (void)n; return sc__cxr(I, "caddr", a[0], "add"); }

static val sc__setcxr(sc_interp *I, const char *who, val *a, bool car)
{
    if (a[0].tag != V_PAIR) sc_type_error(I, who, "a pair", a[0]);
    val *slot = car ? &SC_CAR(a[0]) : &SC_CDR(a[0]);
    val old = *slot;
    *slot = sc_ret(a[1]);
    slot->line = 0;
    sc_rel(I, old);
    return SC_UNSPEC;
}
static val sc__p_setcar(sc_interp *I, val *a, int n) { (void)n; return sc__setcxr(I, "set-car!", a, true); }
static val sc__p_setcdr(sc_interp *I, val *a, int n) { (void)n; return sc__setcxr(I, "set-cdr!", a, false); }

static val sc__p_list(sc_interp *I, val *a, int n)
{
    size_t s = sc_push(I, SC_NIL);
    for (int i = n; i-- > 0;) sc_set(I, s, sc_cons(I, a[i], RS(s)));
    val r = RS(s);
    I->rs_top = s;
    return r;
}

static val sc__p_length(sc_interp *I, val *a, int n) { (void)n; return sc_int(sc__need_list(I, "length", a[0])); }

static val sc__p_append(sc_interp *I, val *a, int n)
{
    if (n == 0) return SC_NIL;
    sc_lb b;
    sc__lb_init(I, &b);
    for (int i = 0; i + 1 < n; i++) {
        sc__need_list(I, "append", a[i]);
        for (val p = a[i]; p.tag == V_PAIR; p = SC_CDR(p)) sc__lb_add(I, &b, sc_ret(SC_CAR(p)));
    }
    return sc__lb_done(I, &b, sc_ret(a[n - 1]));
}

static val sc__p_reverse(sc_interp *I, val *a, int n)
{
    (void)n;
    sc__need_list(I, "reverse", a[0]);
    size_t s = sc_push(I, SC_NIL);
    for (val p = a[0]; p.tag == V_PAIR; p = SC_CDR(p)) sc_set(I, s, sc_cons(I, SC_CAR(p), RS(s)));
    val r = RS(s);
    I->rs_top = s;
    return r;
}

static val sc__tail(sc_interp *I, const char *who, val l, val k, bool need_pair)
{
    if (k.tag != V_INT) sc_type_error(I, who, "an exact integer index", k);
    if (k.u.i < 0) sc__range(I, who, "index %lld out of range", (long long)k.u.i);
    val p = l;
    for (int64_t i = 0; i < k.u.i; i++) {
        if (p.tag != V_PAIR) sc__range(I, who, "index %lld out of range for a list of length %lld", (long long)k.u.i, (long long)i);
        p = SC_CDR(p);
    }
    if (need_pair && p.tag != V_PAIR) sc__range(I, who, "index %lld out of range for a list of length %lld", (long long)k.u.i, (long long)k.u.i);
    return p;
}
static val sc__p_list_tail(sc_interp *I, val *a, int n) { (void)n; return sc_ret(sc__tail(I, "list-tail", a[0], a[1], false)); }
static val sc__p_list_ref(sc_interp *I, val *a, int n) { (void)n; return sc_ret(SC_CAR(sc__tail(I, "list-ref", a[0], a[1], true))); }

static val sc__mem(sc_interp *I, val x, val l, bool equal)
{
    for (; l.tag == V_PAIR; l = SC_CDR(l)) {
        sr_check_interrupt(I->rt);   /* a cyclic list never ends */
        if (equal ? sc_equal(I, x, SC_CAR(l)) : sc_eqv(x, SC_CAR(l))) return sc_ret(l);
    }
    return SC_FALSE;
}
static val sc__p_memq(sc_interp *I, val *a, int n) { (void)n; return sc__mem(I, a[0], a[1], false); }
static val sc__p_member(sc_interp *I, val *a, int n) { (void)n; return sc__mem(I, a[0], a[1], true); }

static val sc__ass(sc_interp *I, const char *who, val x, val l, bool equal)
{
    for (; l.tag == V_PAIR; l = SC_CDR(l)) {
        sr_check_interrupt(I->rt);
        val e = SC_CAR(l);
        if (e.tag != V_PAIR) sc_type_error(I, who, "an association list (of pairs)", e);
        if (equal ? sc_equal(I, x, SC_CAR(e)) : sc_eqv(x, SC_CAR(e))) return sc_ret(e);
    }
    return SC_FALSE;
}
static val sc__p_assq(sc_interp *I, val *a, int n) { (void)n; return sc__ass(I, "assq", a[0], a[1], false); }
static val sc__p_assoc(sc_interp *I, val *a, int n) { (void)n; return sc__ass(I, "assoc", a[0], a[1], true); }

/* map / for-each over one or more lists, stopping at the shortest. */
static val sc__mapper(sc_interp *I, const char *who, val *a, int n, bool collect)
{
    if (!sc_is_procedure(a[0])) sc_type_error(I, who, "a procedure", a[0]);
    int nl = n - 1;
    for (int i = 1; i < n; i++)
        if (a[i].tag != V_PAIR && a[i].tag != V_NIL) sc_type_error(I, who, "a list", a[i]);
    size_t cur = I->rs_top;                       /* cursors, owned */
    for (int i = 1; i < n; i++) sc_push(I, sc_ret(a[i]));
    sc_lb b;
    if (collect) sc__lb_init(I, &b);
    uint32_t line = I->line;
    for (;;) {
        bool more = true;
        for (int i = 0; i < nl; i++) more = more && RS(cur + (size_t)i).tag == V_PAIR;
        if (!more) break;
        size_t args = I->rs_top;
        for (int i = 0; i < nl; i++) {
            val c = RS(cur + (size_t)i);
            sc_push(I, sc_ret(SC_CAR(c)));
            sc_set(I, cur + (size_t)i, sc_ret(SC_CDR(c)));
        }
        I->line = line;
        val r = sc_apply(I, a[0], &RS(args), nl);
        sc_unwind(I, args);
        if (collect) sc__lb_add(I, &b, r);
        else sc_rel(I, r);
    }
    val result = collect ? sc__lb_done(I, &b, SC_NIL) : SC_UNSPEC;
    sc_unwind(I, cur);
    return result;
}
static val sc__p_map(sc_interp *I, val *a, int n) { return sc__mapper(I, "map", a, n, true); }
static val sc__p_for_each(sc_interp *I, val *a, int n) { return sc__mapper(I, "for-each", a, n, false); }

static val sc__p_apply(sc_interp *I, val *a, int n)
{
    if (!sc_is_procedure(a[0])) sc_type_error(I, "apply", "a procedure", a[0]);
    sc__need_list(I, "apply", a[n - 1]);
    size_t args = I->rs_top;
    int argc = 0;
    for (int i = 1; i + 1 < n; i++, argc++) sc_push(I, sc_ret(a[i]));
    for (val p = a[n - 1]; p.tag == V_PAIR; p = SC_CDR(p), argc++) sc_push(I, sc_ret(SC_CAR(p)));
    val r = sc_apply(I, a[0], &RS(args), argc);
    sc_unwind(I, args);
    return r;
}

/* ---- vectors ------------------------------------------------------------------------ */

static val sc__p_vector(sc_interp *I, val *a, int n)
{
    val v = sc_vector(I, (size_t)n, SC_UNSPEC);
    sc_vec *vec = v.u.p;
    for (int i = 0; i < n; i++) vec->items[i] = sc_ret(a[i]);
    return v;
}

static val sc__p_make_vector(sc_interp *I, val *a, int n)
{
    if (a[0].tag != V_INT) sc_type_error(I, "make-vector", "an exact integer length", a[0]);
    if (a[0].u.i < 0) sc__range(I, "make-vector", "negative length %lld", (long long)a[0].u.i);
    return sc_vector(I, (size_t)a[0].u.i, n > 1 ? a[1] : sc_int(0));
}

static sc_vec *sc__need_vec(sc_interp *I, const char *who, val v)
{
    if (v.tag != V_VEC) sc_type_error(I, who, "a vector", v);
    return v.u.p;
}

static val sc__p_vector_ref(sc_interp *I, val *a, int n)
{
    (void)n;
    sc_vec *v = sc__need_vec(I, "vector-ref", a[0]);
    return sc_ret(v->items[sc__need_index(I, "vector-ref", a[1], v->len)]);
}

static val sc__p_vector_set(sc_interp *I, val *a, int n)
{
    (void)n;
    sc_vec *v = sc__need_vec(I, "vector-set!", a[0]);
    size_t i = sc__need_index(I, "vector-set!", a[1], v->len);
    val old = v->items[i];
    v->items[i] = sc_ret(a[2]);
    sc_rel(I, old);
    return SC_UNSPEC;
}

static val sc__p_vector_length(sc_interp *I, val *a, int n) { (void)n; return sc_int((int64_t)sc__need_vec(I, "vector-length", a[0])->len); }

static val sc__p_vector_to_list(sc_interp *I, val *a, int n)
{
    (void)n;
    sc_vec *v = sc__need_vec(I, "vector->list", a[0]);
    size_t s = sc_push(I, SC_NIL);
    for (size_t i = v->len; i-- > 0;) sc_set(I, s, sc_cons(I, v->items[i], RS(s)));
    val r = RS(s);
    I->rs_top = s;
    return r;
}

static val sc__p_list_to_vector(sc_interp *I, val *a, int n)
{
    (void)n;
    int64_t len = sc__need_list(I, "list->vector", a[0]);
    val v = sc_vector(I, (size_t)len, SC_UNSPEC);
    sc_vec *vec = v.u.p;
    size_t i = 0;
    for (val p = a[0]; p.tag == V_PAIR; p = SC_CDR(p)) vec->items[i++] = sc_ret(SC_CAR(p));
    return v;
}

/* ---- strings and symbols ---------------------------------------------------------------- */

static sc_str *sc__need_str(sc_interp *I, const char *who, val v)
{
    if (v.tag != V_STR) sc_type_error(I, who, "a string", v);
    return v.u.p;
}

static val sc__p_string_length(sc_interp *I, val *a, int n) { (void)n; return sc_int((int64_t)sc__need_str(I, "string-length", a[0])->len); }

static val sc__p_string_append(sc_interp *I, val *a, int n)
{
    size_t len = 0;
    for (int i = 0; i < n; i++) len += sc__need_str(I, "string-append", a[i])->len;
    sc_str *s = sc_alloc_obj(I, I->t_str, sizeof(sc_str) + len + 1);
    s->len = len;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        const sc_str *p = a[i].u.p;
        memcpy(s->data + off, p->data, p->len);
        off += p->len;
    }
    s->data[len] = '\0';
    return sc_obj(V_STR, s);
}

static val sc__p_substring(sc_interp *I, val *a, int n)
{
    sc_str *s = sc__need_str(I, "substring", a[0]);
    if (a[1].tag != V_INT) sc_type_error(I, "substring", "an exact integer index", a[1]);
    int64_t start = a[1].u.i, end = (int64_t)s->len;
    if (n > 2) {
        if (a[2].tag != V_INT) sc_type_error(I, "substring", "an exact integer index", a[2]);
        end = a[2].u.i;
    }
    if (end < 0 || end > (int64_t)s->len) sc__range(I, "substring", "end %lld out of range for length %zu", (long long)end, s->len);
    if (start < 0 || start > end) sc__range(I, "substring", "start %lld out of range (end is %lld)", (long long)start, (long long)end);
    return sc_string(I, s->data + start, (size_t)(end - start));
}

static val sc__p_string_eq(sc_interp *I, val *a, int n)
{
    for (int i = 0; i < n; i++) sc__need_str(I, "string=?", a[i]);
    for (int i = 0; i + 1 < n; i++) {
        const sc_str *s = a[i].u.p, *t = a[i + 1].u.p;
        if (s->len != t->len || memcmp(s->data, t->data, s->len) != 0) return SC_FALSE;
    }
    return SC_TRUE;
}

static val sc__p_number_to_string(sc_interp *I, val *a, int n)
{
    sc__need_num(I, "number->string", a[0]);
    int64_t radix = n > 1 ? sc__need_int(I, "number->string", a[1]) : 10;
    if (radix != 2 && radix != 8 && radix != 10 && radix != 16) sc__range(I, "number->string", "radix %lld is not 2, 8, 10 or 16", (long long)radix);
    char buf[80];
    if (a[0].tag == V_FLT) {
        sc_format_flt(buf, sizeof buf, a[0].u.f);
    } else if (radix == 10) {
        snprintf(buf, sizeof buf, "%lld", (long long)a[0].u.i);
    } else {
        uint64_t m = a[0].u.i < 0 ? 0 - (uint64_t)a[0].u.i : (uint64_t)a[0].u.i;
        char tmp[80];
        size_t k = 0;
        do { tmp[k++] = "0123456789abcdef"[m % (uint64_t)radix]; m /= (uint64_t)radix; } while (m);
        size_t j = 0;
        if (a[0].u.i < 0) buf[j++] = '-';
        while (k) buf[j++] = tmp[--k];
        buf[j] = '\0';
    }
    return sc_string(I, buf, strlen(buf));
}

static val sc__p_string_to_number(sc_interp *I, val *a, int n)
{
    sc_str *s = sc__need_str(I, "string->number", a[0]);
    int64_t radix = n > 1 ? sc__need_int(I, "string->number", a[1]) : 10;
    if (radix != 2 && radix != 8 && radix != 10 && radix != 16) sc__range(I, "string->number", "radix %lld is not 2, 8, 10 or 16", (long long)radix);
    const char *t = s->data;
    if (s->len == 0 || strlen(t) != s->len) return SC_FALSE;
    if (!strcmp(t, "+inf.0")) return sc_flt(INFINITY);
    if (!strcmp(t, "-inf.0")) return sc_flt(-INFINITY);
    if (!strcmp(t, "+nan.0")) return sc_flt(NAN);
    char *end;
    errno = 0;
    const char *digits = (t[0] == '+' || t[0] == '-') ? t + 1 : t;
    if (!*digits || !((*digits >= '0' && *digits <= '9') || (radix == 16 && strchr("abcdefABCDEF", *digits)) || *digits == '.'))
        return SC_FALSE;
    long long v = strtoll(t, &end, (int)radix);
    if (*end == '\0' && end != t) return errno == ERANGE ? SC_FALSE : sc_int((int64_t)v);
    if (radix != 10) return SC_FALSE;
    double d = strtod(t, &end);
    if (*end != '\0' || end == t || strpbrk(t, "xXpPnNiI")) return SC_FALSE;
    return sc_flt(d);
}

static val sc__p_symbol_to_string(sc_interp *I, val *a, int n)
{
    (void)n;
    if (a[0].tag != V_SYM) sc_type_error(I, "symbol->string", "a symbol", a[0]);
    const sc_sym *s = a[0].u.p;
    return sc_string(I, s->name, s->len);
}

static val sc__p_string_to_symbol(sc_interp *I, val *a, int n)
{
    (void)n;
    sc_str *s = sc__need_str(I, "string->symbol", a[0]);
    return sc_ret(sc_symval(sc_intern(I, s->data, s->len)));
}

/* ---- output, errors, the runtime ---------------------------------------------------------- */

static val sc__p_display(sc_interp *I, val *a, int n) { (void)n; sc_print(I, I->out, a[0], false); return SC_UNSPEC; }
static val sc__p_write(sc_interp *I, val *a, int n) { (void)n; sc_print(I, I->out, a[0], true); return SC_UNSPEC; }
static val sc__p_newline(sc_interp *I, val *a, int n) { (void)a; (void)n; fputc('\n', I->out); return SC_UNSPEC; }

static val sc__p_error(sc_interp *I, val *a, int n)
{
    char msg[360];
    size_t len = 0;
    if (a[0].tag == V_STR) snprintf(msg, sizeof msg, "%s", ((sc_str *)a[0].u.p)->data);
    else sc_print_buf(I, msg, sizeof msg, a[0], true);
    len = strlen(msg);
    for (int i = 1; i < n && len + 2 < sizeof msg; i++) {
        msg[len++] = ' ';
        sc_print_buf(I, msg + len, sizeof msg - len, a[i], true);
        len += strlen(msg + len);
    }
    sr_frame_push(I->rt, "error", I->file, (int)I->line);
    sc_error(I, "%s", msg);
}

static val sc__p_collect_garbage(sc_interp *I, val *a, int n)
{
    (void)a; (void)n;
    return sc_int((int64_t)sr_gc_collect(I->rt));
}

/* (runtime-stat 'name): one figure of sr_runtime_stats, by its field name. */
static val sc__p_runtime_stat(sc_interp *I, val *a, int n)
{
    (void)n;
    if (a[0].tag != V_SYM) sc_type_error(I, "runtime-stat", "a symbol", a[0]);
    sr_stats st;
    sr_runtime_stats(I->rt, &st);
    const char *name = ((sc_sym *)a[0].u.p)->name;
    const struct { const char *n; uint64_t v; } f[] = {
        { "heap-used", st.heap_used }, { "heap-peak", st.heap_peak }, { "heap-limit", st.heap_limit },
        { "allocations", st.allocations }, { "frees", st.frees }, { "live-objects", st.live_objects },
        { "failed-allocations", st.failed_allocations }, { "gc-collections", st.gc_collections },
        { "gc-objects-collected", st.gc_objects_collected }, { "panics", st.panics },
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!strcmp(name, f[i].n)) return sc_int((int64_t)f[i].v);
    sc_type_error(I, "runtime-stat", "a statistic name", a[0]);
}

/* (get-environment-variable "NAME"): its value as a string, or #f. */
static val sc__p_getenv(sc_interp *I, val *a, int n)
{
    (void)n;
    const char *v = getenv(sc__need_str(I, "get-environment-variable", a[0])->data);
    return v ? sc_string(I, v, strlen(v)) : SC_FALSE;
}

static const sc_prim sc__prims[] = {
    { "+", 0, -1, sc__p_add }, { "-", 1, -1, sc__p_sub }, { "*", 0, -1, sc__p_mul }, { "/", 1, -1, sc__p_div },
    { "quotient", 2, 2, sc__p_quotient }, { "remainder", 2, 2, sc__p_remainder }, { "modulo", 2, 2, sc__p_modulo },
    { "=", 1, -1, sc__p_eq }, { "<", 1, -1, sc__p_lt }, { ">", 1, -1, sc__p_gt }, { "<=", 1, -1, sc__p_le },
    { ">=", 1, -1, sc__p_ge }, { "abs", 1, 1, sc__p_abs }, { "min", 1, -1, sc__p_min }, { "max", 1, -1, sc__p_max },
    { "zero?", 1, 1, sc__p_zerop }, { "positive?", 1, 1, sc__p_positivep }, { "negative?", 1, 1, sc__p_negativep },
    { "even?", 1, 1, sc__p_evenp }, { "odd?", 1, 1, sc__p_oddp }, { "sqrt", 1, 1, sc__p_sqrt },
    { "exact->inexact", 1, 1, sc__p_exact_to_inexact }, { "inexact", 1, 1, sc__p_exact_to_inexact },
    { "exact", 1, 1, sc__p_inexact_to_exact }, { "inexact->exact", 1, 1, sc__p_inexact_to_exact },
    { "not", 1, 1, sc__p_not }, { "eq?", 2, 2, sc__p_eqp }, { "eqv?", 2, 2, sc__p_eqp }, { "equal?", 2, 2, sc__p_equalp },
    { "null?", 1, 1, sc__p_nullp }, { "pair?", 1, 1, sc__p_pairp }, { "list?", 1, 1, sc__p_listp },
    { "number?", 1, 1, sc__p_numberp }, { "integer?", 1, 1, sc__p_integerp }, { "symbol?", 1, 1, sc__p_symbolp },
    { "string?", 1, 1, sc__p_stringp }, { "procedure?", 1, 1, sc__p_procedurep }, { "boolean?", 1, 1, sc__p_booleanp },
    { "vector?", 1, 1, sc__p_vectorp }, { "char?", 1, 1, sc__p_charp },
    { "cons", 2, 2, sc__p_cons }, { "car", 1, 1, sc__p_car }, { "cdr", 1, 1, sc__p_cdr },
    { "set-car!", 2, 2, sc__p_setcar }, { "set-cdr!", 2, 2, sc__p_setcdr }, { "cadr", 1, 1, sc__p_cadr },
    { "cddr", 1, 1, sc__p_cddr }, { "caar", 1, 1, sc__p_caar }, { "cdar", 1, 1, sc__p_cdar }, { "caddr", 1, 1, sc__p_caddr },
    { "list", 0, -1, sc__p_list }, { "length", 1, 1, sc__p_length }, { "append", 0, -1, sc__p_append },
    { "reverse", 1, 1, sc__p_reverse }, { "list-tail", 2, 2, sc__p_list_tail }, { "list-ref", 2, 2, sc__p_list_ref },
    { "memq", 2, 2, sc__p_memq }, { "memv", 2, 2, sc__p_memq }, { "member", 2, 2, sc__p_member },
    { "assq", 2, 2, sc__p_assq }, { "assv", 2, 2, sc__p_assq }, { "assoc", 2, 2, sc__p_assoc },
    { "map", 2, -1, sc__p_map }, { "for-each", 2, -1, sc__p_for_each }, { "apply", 2, -1, sc__p_apply },
    { "vector", 0, -1, sc__p_vector }, { "make-vector", 1, 2, sc__p_make_vector }, { "vector-ref", 2, 2, sc__p_vector_ref },
    { "vector-set!", 3, 3, sc__p_vector_set }, { "vector-length", 1, 1, sc__p_vector_length },
    { "vector->list", 1, 1, sc__p_vector_to_list }, { "list->vector", 1, 1, sc__p_list_to_vector },
    { "string-length", 1, 1, sc__p_string_length }, { "string-append", 0, -1, sc__p_string_append },
    { "substring", 2, 3, sc__p_substring }, { "string=?", 1, -1, sc__p_string_eq },
    { "number->string", 1, 2, sc__p_number_to_string }, { "string->number", 1, 2, sc__p_string_to_number },
    { "symbol->string", 1, 1, sc__p_symbol_to_string }, { "string->symbol", 1, 1, sc__p_string_to_symbol },
    { "display", 1, 2, sc__p_display }, { "write", 1, 2, sc__p_write }, { "newline", 0, 1, sc__p_newline },
    { "error", 1, -1, sc__p_error }, { "collect-garbage", 0, 0, sc__p_collect_garbage },
    { "runtime-stat", 1, 1, sc__p_runtime_stat }, { "get-environment-variable", 1, 1, sc__p_getenv },
};

void sc_builtins_install(sc_interp *I)
{
    for (size_t i = 0; i < sizeof sc__prims / sizeof sc__prims[0]; i++) {
        sc_sym *s = sc_intern(I, sc__prims[i].name, strlen(sc__prims[i].name));
        val v = sc_mk(V_PRIM);
        v.u.prim = &sc__prims[i];
        s->value = v;
        s->bound = true;
    }
}
