/*
 * printer.c - `display` and `write`, without recursion on nesting depth.
 *
 * An explicit work stack holds what remains to be printed: a value, the rest of
 * a list after an element, the rest of a vector, or a closing parenthesis. The
 * output goes to a sink: a FILE, or a fixed buffer that stops (and ends in
 * "...") once full - the form used by error messages, which therefore also
 * terminates on cyclic data. Printing to a FILE polls sr_check_interrupt, so
 * `display` of a cyclic list ends at the time limit; a work stack that outgrew
 * its local array is on the cleanup stack meanwhile. Printing allocates no
 * scriptrt memory.
 */
#include "scheme.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct sc_sink {
    sr_runtime *rt;         /* FILE output polls sr_check_interrupt (cyclic data) */
    FILE *f;
    char *buf;
    size_t size, len;
    bool full;
} sc_sink;

static void sc__emit(sc_sink *s, const char *str, size_t n)
{
    if (s->f) { fwrite(str, 1, n, s->f); return; }
    if (s->full) return;
    size_t room = s->size - 1 - s->len;
    if (n > room) {
        memcpy(s->buf + s->len, str, room);
        s->len += room;
        if (s->size >= 4) memcpy(s->buf + s->size - 4, "...", 3);
        s->full = true;
    } else {
        memcpy(s->buf + s->len, str, n);
        s->len += n;
    }
    s->buf[s->len] = '\0';
}

static void sc__emits(sc_sink *s, const char *str) { sc__emit(s, str, strlen(str)); }

void sc_format_flt(char *buf, size_t size, double d)
{
    if (isnan(d)) { snprintf(buf, size, "+nan.0"); return; }
    if (isinf(d)) { snprintf(buf, size, d > 0 ? "+inf.0" : "-inf.0"); return; }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) break;
    }
    char *e = strchr(buf, 'e');
    if (e) {   /* "1.5e-07" -> "1.5e-7", "1e+21" -> "1e21" */
        char *src = e + 1, *dst = e + 1;
        if (*src == '+') src++;
        else if (*src == '-') *dst++ = *src++;
        while (*src == '0' && src[1]) src++;
        memmove(dst, src, strlen(src) + 1);
    }
    if (!strpbrk(buf, ".e")) {
        size_t n = strlen(buf);
        if (n + 3 <= size) memcpy(buf + n, ".0", 3);
    }
}

static void sc__char_out(sc_sink *s, uint32_t c, bool write)
{
    char tmp[16];
    if (!write) { tmp[0] = (char)c; sc__emit(s, tmp, 1); return; }
    const char *name = NULL;
    switch (c) {
    case ' ': name = "space"; break;
    case '\n': name = "newline"; break;
    case '\t': name = "tab"; break;
    case '\r': name = "return"; break;
    case 0: name = "null"; break;
    case 7: name = "alarm"; break;
    case 8: name = "backspace"; break;
    case 127: name = "delete"; break;
    case 27: name = "escape"; break;
    default: break;
    }
    if (name) snprintf(tmp, sizeof tmp, "#\\%s", name);
    else if (c < 32 || c > 126) snprintf(tmp, sizeof tmp, "#\\x%x", (unsigned)c);
    else snprintf(tmp, sizeof tmp, "#\\%c", (char)c);
    sc__emits(s, tmp);
}

static void sc__string_out(sc_sink *s, const sc_str *str, bool write)
{
    if (!write) { sc__emit(s, str->data, str->len); return; }
    sc__emit(s, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < str->len; i++) {
        unsigned char c = (unsigned char)str->data[i];
        const char *esc = NULL;
        char tmp[8];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\t': esc = "\\t"; break;
        case '\r': esc = "\\r"; break;
        default:
            if (c < 32 || c == 127) { snprintf(tmp, sizeof tmp, "\\x%x;", c); esc = tmp; }
            break;
        }
        if (esc) {
            sc__emit(s, str->data + i - run, run);
            run = 0;
            sc__emits(s, esc);
        } else {
            run++;
        }
    }
    sc__emit(s, str->data + str->len - run, run);
    sc__emit(s, "\"", 1);
}

/* An atom: anything printed without looking at children. */
static void sc__atom_out(sc_sink *s, val v, bool write)
{
    char tmp[64];
    switch (v.tag) {
    case V_NIL: sc__emits(s, "()"); break;
    case V_BOOL: sc__emits(s, v.u.b ? "#t" : "#f"); break;
    case V_INT: snprintf(tmp, sizeof tmp, "%lld", (long long)v.u.i); sc__emits(s, tmp); break;
    case V_FLT: sc_format_flt(tmp, sizeof tmp, v.u.f); sc__emits(s, tmp); break;
    case V_CHAR: sc__char_out(s, v.u.c, write); break;
    case V_UNSPEC: sc__emits(s, "#<unspecified>"); break;
    case V_EOF: sc__emits(s, "#<eof>"); break;
    case V_PRIM: sc__emits(s, "#<procedure "); sc__emits(s, v.u.prim->name); sc__emits(s, ">"); break;
    case V_STR: sc__string_out(s, v.u.p, write); break;
    case V_SYM: {
        const sc_sym *sym = v.u.p;
        bool bars = write && (sym->len == 0 || strpbrk(sym->name, " \t\n()[]\";'|") != NULL);
        if (bars) sc__emit(s, "|", 1);
        sc__emit(s, sym->name, sym->len);
        if (bars) sc__emit(s, "|", 1);
        break;
    }
    case V_CLO: {
        const sc_clo *c = v.u.p;
        sc__emits(s, "#<procedure ");
        sc__emits(s, c->name ? c->name->name : "lambda");
        sc__emits(s, ">");
        break;
    }
    case V_ENV: sc__emits(s, "#<environment>"); break;
    default: sc__emits(s, "#<?>"); break;
    }
}

static void sc__free_stack(sr_runtime *rt, void *p) { (void)rt; free(p); }

enum { PK_VAL, PK_LIST_REST, PK_VEC_REST };
typedef struct sc_pitem { uint8_t kind; val v; size_t idx; } sc_pitem;

static void sc__print(sc_sink *s, val root, bool write)
{
    sc_pitem local[64];
    sc_pitem *st = local, *heap = NULL;
    size_t n = 0, cap = sizeof local / sizeof local[0];
#define SC_PPUSH(k, vv, i)                                                                  \
    do {                                                                                    \
        if (n == cap) {                                                                     \
            sc_pitem *ns = malloc(cap * 2 * sizeof *ns);                                    \
            if (!ns) goto out;                                                              \
            memcpy(ns, st, n * sizeof *ns);                                                 \
            if (heap && s->rt) sr_cleanup_pop(s->rt, false);                                \
            free(heap);                                                                     \
            st = heap = ns;                                                                 \
            cap *= 2;                                                                       \
            if (s->rt) sr_cleanup_push(s->rt, sc__free_stack, heap);                        \
        }                                                                                   \
        st[n].kind = (k); st[n].v = (vv); st[n].idx = (i); n++;                             \
    } while (0)
    SC_PPUSH(PK_VAL, root, 0);
    while (n > 0 && !s->full) {
        if (s->rt) sr_check_interrupt(s->rt);     /* printing cyclic data never ends */
        sc_pitem it = st[--n];
        switch (it.kind) {
        case PK_VAL:
            if (it.v.tag == V_PAIR) {
                sc__emit(s, "(", 1);
                SC_PPUSH(PK_LIST_REST, SC_CDR(it.v), 0);
                SC_PPUSH(PK_VAL, SC_CAR(it.v), 0);
            } else if (it.v.tag == V_VEC) {
                sc__emit(s, "#(", 2);
                SC_PPUSH(PK_VEC_REST, it.v, 0);
            } else {
                sc__atom_out(s, it.v, write);
            }
            break;
        case PK_LIST_REST:
            if (it.v.tag == V_NIL) {
                sc__emit(s, ")", 1);
            } else if (it.v.tag == V_PAIR) {
                sc__emit(s, " ", 1);
                SC_PPUSH(PK_LIST_REST, SC_CDR(it.v), 0);
                SC_PPUSH(PK_VAL, SC_CAR(it.v), 0);
            } else {
                sc__emit(s, " . ", 3);
                SC_PPUSH(PK_LIST_REST, SC_NIL, 0);
                SC_PPUSH(PK_VAL, it.v, 0);
            }
            break;
        case PK_VEC_REST: {
            const sc_vec *vec = it.v.u.p;
            if (it.idx == vec->len) { sc__emit(s, ")", 1); break; }
            if (it.idx) sc__emit(s, " ", 1);
            SC_PPUSH(PK_VEC_REST, it.v, it.idx + 1);
            SC_PPUSH(PK_VAL, vec->items[it.idx], 0);
            break;
        }
        default: break;
        }
    }
out:
    if (heap && s->rt) sr_cleanup_pop(s->rt, true);
    else free(heap);
#undef SC_PPUSH
}

void sc_print(sc_interp *I, FILE *f, val v, bool write)
{
    sc_sink s = { I->rt, f, NULL, 0, 0, false };
    sc__print(&s, v, write);
}

const char *sc_print_buf(sc_interp *I, char *buf, size_t size, val v, bool write)
{
    (void)I;
    if (size == 0) return buf;
    buf[0] = '\0';
    sc_sink s = { NULL, NULL, buf, size, 0, false };
    sc__print(&s, v, write);
    return buf;
}
