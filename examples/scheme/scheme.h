/*
 * scheme.h - sr-scheme, a small Scheme interpreter on scriptrt.
 *
 * Values. A value (`val`) is a 16-byte tagged cell passed by value: a tag, a
 * source line (set by the reader on the cells it builds, 0 elsewhere) and a
 * payload. Fixnums (full 64-bit, overflow is an error), floats, booleans,
 * characters, the empty list, the unspecified value, end-of-file and primitive
 * procedures are immediate. Every value that needs memory - pairs, strings,
 * symbols, vectors, closures, environments - is a scriptrt object whose payload
 * pointer sits in `u.p`, and whose tag is >= V_PAIR.
 *
 * Why a trace callback and no REF fields: the slots of pairs, vectors and
 * environments hold tagged values, only some of which are objects, so each
 * object type that can hold values registers a `trace` that visits exactly the
 * slots currently holding an object pointer (&v.u.p). Strings hold none and are
 * acyclic (never buffered by the collector). A value slot inside an object owns
 * one reference to the object it points at; the runtime releases those children
 * itself when the owner dies, so no type has a finalize.
 *
 * Symbols are interned in a table owned by the interpreter that holds one
 * reference to each; they live until the interpreter is torn down, so their
 * names (used as script frame names) outlive every panic record. A symbol also
 * carries its global binding. Environments name their slots with uncounted
 * symbol pointers for the same reason.
 *
 * Ownership in C. A function returning a `val` returns an owned reference;
 * `val` arguments are borrowed. Every object a C local must keep alive across an
 * allocation lives in a slot of the interpreter's root stack (`rs`), which owns
 * the reference. The root stack is independent of the runtime: after a panic the
 * driver unwinds it to the depth it had before the protected execution, which
 * releases everything the unwound C frames held. Nothing is held only by a C
 * local across a call that may allocate or panic.
 */
#ifndef SR_SCHEME_H
#define SR_SCHEME_H

#include <scriptrt.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
    V_NIL, V_BOOL, V_INT, V_FLT, V_CHAR, V_UNSPEC, V_EOF, V_PRIM,   /* immediates */
    V_PAIR, V_STR, V_SYM, V_VEC, V_CLO, V_ENV                        /* objects */
};

struct sc_interp;

typedef struct val {
    uint32_t tag;
    uint32_t line;          /* source line of a datum the reader built; 0 otherwise */
    union {
        int64_t i;
        double f;
        uint32_t c;
        bool b;
        void *p;
        const struct sc_prim *prim;
    } u;
} val;

typedef struct sc_pair { val car, cdr; } sc_pair;
typedef struct sc_str { size_t len; char data[]; } sc_str;         /* NUL-terminated */
typedef struct sc_sym {
    val value;              /* global binding (V_UNSPEC with !bound when unbound) */
    struct sc_sym *next;    /* hash chain in the symbol table (uncounted) */
    uint32_t hash, len;
    uint8_t form;           /* special form id, 0 for none */
    bool bound;
    char name[];
} sc_sym;
typedef struct sc_vec { size_t len; val items[]; } sc_vec;
typedef struct sc_env sc_env;
typedef struct sc_slot { const sc_sym *name; val v; } sc_slot;
struct sc_env {
    sc_env *parent;         /* counted; NULL = the global environment */
    uint32_t n, cap;
    sc_slot slots[];
};
typedef struct sc_clo {
    val params;             /* the lambda list as read */
    val body;               /* list of body forms */
    sc_env *env;            /* counted; NULL = global */
    const sc_sym *name;     /* uncounted; NULL = anonymous */
    const char *file;       /* source file of the lambda (outlives the interpreter) */
    uint32_t nreq, nslots;  /* required parameters; frame capacity */
    bool rest;
} sc_clo;

typedef val (*sc_prim_fn)(struct sc_interp *I, val *args, int n);
typedef struct sc_prim { const char *name; int min, max; sc_prim_fn fn; } sc_prim;

/* Special forms (sc_sym.form). */
enum {
    F_NONE, F_QUOTE, F_IF, F_DEFINE, F_SET, F_LAMBDA, F_BEGIN, F_LET, F_LETSTAR, F_LETREC,
    F_LETRECSTAR, F_COND, F_CASE, F_AND, F_OR, F_WHEN, F_UNLESS, F_DO, F_COUNT
};

typedef struct sc_interp {
    sr_runtime *rt;
    sr_type_id t_pair, t_str, t_sym, t_vec, t_clo, t_env;
    /* root stack: owned values of the C frames running now */
    val *rs;
    size_t rs_top, rs_cap;
    /* symbol table */
    sc_sym **symtab;
    size_t nsyms, symcap;
    sc_sym *s_else, *s_arrow, *s_define, *s_begin, *s_quote, *s_dot;
    /* the source file of the code running now (script frames, messages) */
    const char *file;
    uint32_t line;          /* line of the call being applied (for primitive errors) */
    FILE *out;
    /* reader scratch (reset before each read) */
    char *tok;
    size_t tokcap;
    struct sc_rframe *rframes;
    size_t nrframes, rframecap;
    /* the baseline of sc_interp_reset (interp.c): the symbols interned at
       sc_interp_snapshot, sorted by address, each with its binding then (the
       baseline holds a reference to each bound value) */
    struct sc_base *base;
    size_t nbase;
    size_t base_heap;       /* heap_used right after the snapshot's collection */
} sc_interp;

#if defined(__GNUC__)
#  define SC_NOINLINE __attribute__((noinline))
#else
#  define SC_NOINLINE
#endif

/* ---- values ------------------------------------------------------------------------ */
#define SC_ISOBJ(v) ((v).tag >= V_PAIR)
static inline val sc_mk(uint32_t tag) { val v; v.tag = tag; v.line = 0; v.u.i = 0; return v; }
static inline val sc_int(int64_t i) { val v = sc_mk(V_INT); v.u.i = i; return v; }
static inline val sc_flt(double f) { val v = sc_mk(V_FLT); v.u.f = f; return v; }
static inline val sc_bool(bool b) { val v = sc_mk(V_BOOL); v.u.b = b; return v; }
static inline val sc_char(uint32_t c) { val v = sc_mk(V_CHAR); v.u.c = c; return v; }
static inline val sc_obj(uint32_t tag, void *p) { val v = sc_mk(tag); v.u.p = p; return v; }
#define SC_NIL     sc_mk(V_NIL)
#define SC_UNSPEC  sc_mk(V_UNSPEC)
#define SC_FALSE   sc_bool(false)
#define SC_TRUE    sc_bool(true)
static inline bool sc_truthy(val v) { return !(v.tag == V_BOOL && !v.u.b); }
static inline sc_pair *sc_pr(val v) { return (sc_pair *)v.u.p; }
#define SC_CAR(v) (sc_pr(v)->car)
#define SC_CDR(v) (sc_pr(v)->cdr)

static inline val sc_ret(val v) { if (SC_ISOBJ(v)) sr_rc_retain(v.u.p); return v; }
static inline void sc_rel(sc_interp *I, val v) { if (SC_ISOBJ(v)) sr_rc_release(I->rt, v.u.p); }

/* ---- root stack ------------------------------------------------------------------------ */
_Noreturn void sc_push_overflow(sc_interp *I, val v);
/* Pushes v (ownership moves to the stack); returns its index. Panics when full. */
static inline size_t sc_push(sc_interp *I, val v)
{
    if (I->rs_top == I->rs_cap) sc_push_overflow(I, v);
    I->rs[I->rs_top] = v;
    return I->rs_top++;
}
/* Releases and pops every slot above depth. */
static inline void sc_unwind(sc_interp *I, size_t depth)
{
    while (I->rs_top > depth) {
        val v = I->rs[--I->rs_top];
        if (v.tag >= V_PAIR) sr_rc_release(I->rt, v.u.p);
    }
}
#define RS(i) (I->rs[(i)])
/* Replaces slot i (releases the old value; takes ownership of v). */
static inline void sc_set(sc_interp *I, size_t i, val v) { val old = I->rs[i]; I->rs[i] = v; sc_rel(I, old); }

/* ---- objects (objects.c) ---------------------------------------------------------------- */
sr_status sc_types_register(sc_interp *I);
val  sc_cons(sc_interp *I, val car, val cdr);          /* retains car and cdr */
val  sc_cons_move(sc_interp *I, val car, val cdr);     /* takes car and cdr */
val  sc_string(sc_interp *I, const char *s, size_t len);
val  sc_vector(sc_interp *I, size_t len, val fill);    /* retains fill into each slot */
sc_env *sc_env_new(sc_interp *I, sc_env *parent, uint32_t cap);  /* count 1 */
sc_sym *sc_intern(sc_interp *I, const char *name, size_t len);  /* borrowed (table owns it) */
val  sc_symval(sc_sym *s);                             /* a borrowed-style value: retain to keep */
void sc_symtab_free(sc_interp *I);                     /* drops globals, then the symbols */
void *sc_alloc_obj(sc_interp *I, sr_type_id t, size_t size); /* panics on failure */

/* ---- errors ------------------------------------------------------------------------------ */
_Noreturn void sc_error(sc_interp *I, const char *fmt, ...) SR_PRINTF(2, 3);
/* "<who>: expected <what>, got <v>", with a script frame for the primitive. */
_Noreturn void sc_type_error(sc_interp *I, const char *who, const char *what, val v);

/* ---- reader (reader.c) -------------------------------------------------------------------- */
typedef struct sc_src { const char *s; size_t len, pos; uint32_t line; } sc_src;
/* Reads one datum into *out (owned). false at end of input. Panics on a syntax error. */
bool sc_read(sc_interp *I, sc_src *src, val *out);
/* For the REPL: true when text holds no open list or string (more input is not needed). */
bool sc_input_complete(const char *text, size_t len);

/* ---- printer (printer.c) ------------------------------------------------------------------ */
void sc_print(sc_interp *I, FILE *f, val v, bool write);
/* Writes v into buf (truncated with "..."); returns buf. Never panics. */
const char *sc_print_buf(sc_interp *I, char *buf, size_t size, val v, bool write);
void sc_format_flt(char *buf, size_t size, double d);

/* ---- evaluator (eval.c) -------------------------------------------------------------------- */
val  sc_eval(sc_interp *I, val x, sc_env *env);                     /* env borrowed, NULL = global */
val  sc_apply(sc_interp *I, val f, val *args, int n);                /* args borrowed */
void sc_sym_forms_init(sc_interp *I);
bool sc_is_procedure(val v);

/* ---- builtins (builtins.c) ------------------------------------------------------------------ */
void sc_builtins_install(sc_interp *I);
bool sc_eqv(val a, val b);
bool sc_equal(sc_interp *I, val a, val b);
int64_t sc_list_length(val v);                         /* -1 if not a proper list */

#endif
