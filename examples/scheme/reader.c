/*
 * reader.c - text to data, without recursion on nesting depth.
 *
 * The reader keeps an explicit stack of open constructs (sc_rframe): a list or
 * vector being built, or a quote waiting for its datum. A list's head lives in
 * a root-stack slot (so the partial list is owned and released if a syntax
 * error panics); `tail` is a borrowed pointer to its last pair. The innermost
 * open list's slot is always the top of the root stack: a finished datum is
 * appended to its parent at once. Each pair a list is built from carries, in
 * the value pointing at it, the line of its opening parenthesis.
 */
#include "scheme.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { RF_LIST, RF_VEC, RF_QUOTE };

struct sc_rframe {
    size_t slot;            /* root-stack slot of the head (lists and vectors) */
    sc_pair *tail;          /* last pair, NULL while empty */
    uint32_t line;
    uint8_t kind;
    uint8_t dot;            /* 0: elements; 1: after '.', want the tail; 2: have it, want ')' */
    char close;
};

static bool sc__delim(int c)
{
    return c == EOF || isspace(c) || c == '(' || c == ')' || c == '[' || c == ']' || c == '"' || c == ';' || c == '\'';
}

static int sc__peek(sc_src *src) { return src->pos < src->len ? (unsigned char)src->s[src->pos] : EOF; }
static int sc__peek2(sc_src *src) { return src->pos + 1 < src->len ? (unsigned char)src->s[src->pos + 1] : EOF; }

static int sc__next(sc_src *src)
{
    if (src->pos >= src->len) return EOF;
    int c = (unsigned char)src->s[src->pos++];
    if (c == '\n') src->line++;
    return c;
}

static _Noreturn void sc__syntax(sc_interp *I, sc_src *src, const char *what)
{
    sc_error(I, "read: %s (%s:%u)", what, I->file, src->line);
}

/* Skips blanks and comments (';', '#|...|#' nested, '#;' is not supported). */
static void sc__skip(sc_interp *I, sc_src *src)
{
    for (;;) {
        int c = sc__peek(src);
        if (c == EOF) return;
        if (isspace(c)) { sc__next(src); continue; }
        if (c == ';') {
            while ((c = sc__peek(src)) != EOF && c != '\n') sc__next(src);
            continue;
        }
        if (c == '#' && sc__peek2(src) == '|') {
            int depth = 0;
            do {
                c = sc__next(src);
                if (c == EOF) sc__syntax(I, src, "unterminated block comment");
                if (c == '#' && sc__peek(src) == '|') { sc__next(src); depth++; }
                else if (c == '|' && sc__peek(src) == '#') { sc__next(src); depth--; }
            } while (depth > 0);
            continue;
        }
        return;
    }
}

static void sc__tok_put(sc_interp *I, size_t *n, char c)
{
    if (*n + 2 > I->tokcap) {
        size_t ncap = I->tokcap ? I->tokcap * 2 : 128;
        char *nt = realloc(I->tok, ncap);
        if (!nt) sc_error(I, "out of memory (reader)");
        I->tok = nt;
        I->tokcap = ncap;
    }
    I->tok[(*n)++] = c;
    I->tok[*n] = '\0';
}

static size_t sc__read_token(sc_interp *I, sc_src *src)
{
    size_t n = 0;
    sc__tok_put(I, &n, 0);             /* makes sure the buffer exists, NUL-terminated */
    n = 0;
    while (!sc__delim(sc__peek(src))) sc__tok_put(I, &n, (char)sc__next(src));
    return n;
}

static val sc__read_string(sc_interp *I, sc_src *src)
{
    size_t n = 0;
    sc__tok_put(I, &n, 0);             /* an empty string still has a buffer */
    n = 0;
    sc__next(src);   /* the opening quote */
    for (;;) {
        int c = sc__next(src);
        if (c == EOF) sc__syntax(I, src, "unterminated string");
        if (c == '"') break;
        if (c == '\\') {
            c = sc__next(src);
            switch (c) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'a': c = '\a'; break;
            case '0': c = '\0'; break;
            case '\\': case '"': break;
            case 'x': {
                unsigned v = 0;
                int d;
                while ((d = sc__next(src)) != ';') {
                    if (d == EOF || !isxdigit(d) || v > 0xff) sc__syntax(I, src, "bad \\x escape in string");
                    v = v * 16 + (unsigned)(isdigit(d) ? d - '0' : tolower(d) - 'a' + 10);
                }
                if (v > 0xff) sc__syntax(I, src, "bad \\x escape in string");
                c = (int)v;
                break;
            }
            case '\n':   /* line continuation: skip leading blanks of the next line */
                while (sc__peek(src) == ' ' || sc__peek(src) == '\t') sc__next(src);
                continue;
            default: sc__syntax(I, src, "unknown escape in string");
            }
        }
        sc__tok_put(I, &n, (char)c);
    }
    return sc_string(I, I->tok, n);
}

static const struct { const char *name; uint32_t c; } sc__char_names[] = {
    { "space", ' ' }, { "newline", '\n' }, { "tab", '\t' }, { "nul", 0 }, { "null", 0 },
    { "return", '\r' }, { "alarm", 7 }, { "backspace", 8 }, { "delete", 127 }, { "escape", 27 },
    { "linefeed", '\n' },
};

static val sc__read_char(sc_interp *I, sc_src *src)
{
    sc__next(src);                     /* '#' */
    sc__next(src);                     /* '\\' */
    int c = sc__next(src);
    if (c == EOF) sc__syntax(I, src, "end of input in a character");
    if (sc__delim(sc__peek(src))) return sc_char((uint32_t)c);
    size_t n = 0;
    sc__tok_put(I, &n, (char)c);
    while (!sc__delim(sc__peek(src))) sc__tok_put(I, &n, (char)sc__next(src));
    for (size_t i = 0; i < sizeof sc__char_names / sizeof sc__char_names[0]; i++)
        if (strcmp(I->tok, sc__char_names[i].name) == 0) return sc_char(sc__char_names[i].c);
    if (I->tok[0] == 'x' && n > 1) {
        char *end;
        unsigned long v = strtoul(I->tok + 1, &end, 16);
        if (*end == '\0' && v < 256) return sc_char((uint32_t)v);
    }
    sc__syntax(I, src, "unknown character name");
}

/* Parses a number token; false if it is not one. */
static bool sc__parse_number(sc_interp *I, const char *t, val *out, bool *overflow)
{
    *overflow = false;
    if (strcmp(t, "+inf.0") == 0) { *out = sc_flt(INFINITY); return true; }
    if (strcmp(t, "-inf.0") == 0) { *out = sc_flt(-INFINITY); return true; }
    if (strcmp(t, "+nan.0") == 0 || strcmp(t, "-nan.0") == 0) { *out = sc_flt(NAN); return true; }
    const char *p = t;
    if (*p == '+' || *p == '-') p++;
    if (!*p) return false;
    bool digits = false, flt = false;
    for (const char *q = p; *q; q++) {
        if (isdigit((unsigned char)*q)) digits = true;
        else if (*q == '.' || *q == 'e' || *q == 'E') flt = true;
        else if ((*q == '+' || *q == '-') && (q[-1] == 'e' || q[-1] == 'E')) continue;
        else return false;
    }
    if (!digits) return false;
    char *end;
    errno = 0;
    if (!flt) {
        long long v = strtoll(t, &end, 10);
        if (*end) return false;
        if (errno == ERANGE) { *overflow = true; return false; }
        *out = sc_int((int64_t)v);
        return true;
    }
    double d = strtod(t, &end);
    if (*end) return false;
    (void)I;
    *out = sc_flt(d);
    return true;
}

static val sc__read_atom(sc_interp *I, sc_src *src)
{
    int c = sc__peek(src);
    if (c == '"') return sc__read_string(I, src);
    if (c == '#' && sc__peek2(src) == '\\') return sc__read_char(I, src);
    size_t n = sc__read_token(I, src);
    const char *t = I->tok;
    if (t[0] == '#') {
        if (!strcmp(t, "#t") || !strcmp(t, "#true")) return SC_TRUE;
        if (!strcmp(t, "#f") || !strcmp(t, "#false")) return SC_FALSE;
        sc__syntax(I, src, "unknown # syntax");
    }
    val v;
    bool overflow;
    if (sc__parse_number(I, t, &v, &overflow)) return v;
    if (overflow) sc__syntax(I, src, "integer literal out of range");
    return sc_ret(sc_symval(sc_intern(I, t, n)));
}

static struct sc_rframe *sc__rpush(sc_interp *I, uint8_t kind, uint32_t line, char close)
{
    if (I->nrframes == I->rframecap) {
        size_t ncap = I->rframecap ? I->rframecap * 2 : 32;
        struct sc_rframe *nf = realloc(I->rframes, ncap * sizeof *nf);
        if (!nf) sc_error(I, "out of memory (reader)");
        I->rframes = nf;
        I->rframecap = ncap;
    }
    struct sc_rframe *f = &I->rframes[I->nrframes++];
    f->slot = kind == RF_QUOTE ? 0 : sc_push(I, SC_NIL);
    f->tail = NULL;
    f->line = line;
    f->kind = kind;
    f->dot = 0;
    f->close = close;
    return f;
}

/* Turns the list in slot into a vector (in place). */
static void sc__list_to_vector(sc_interp *I, size_t slot)
{
    size_t n = 0;
    for (val p = RS(slot); p.tag == V_PAIR; p = SC_CDR(p)) n++;
    val v = sc_vector(I, n, SC_UNSPEC);
    sc_vec *vec = v.u.p;
    size_t i = 0;
    for (val p = RS(slot); p.tag == V_PAIR; p = SC_CDR(p)) vec->items[i++] = sc_ret(SC_CAR(p));
    sc_set(I, slot, v);
}

bool sc_read(sc_interp *I, sc_src *src, val *out)
{
    size_t base_frames = I->nrframes = 0;
    val d;
    for (;;) {
        sc__skip(I, src);
        int c = sc__peek(src);
        uint32_t line = src->line;
        if (c == EOF) {
            if (I->nrframes == base_frames) return false;
            sc__syntax(I, src, "unexpected end of input (unclosed list)");
        }
        if (c == '(' || c == '[') {
            sc__next(src);
            sc__rpush(I, RF_LIST, line, c == '(' ? ')' : ']');
            continue;
        }
        if (c == '#' && sc__peek2(src) == '(') {
            sc__next(src); sc__next(src);
            sc__rpush(I, RF_VEC, line, ')');
            continue;
        }
        if (c == '\'') {
            sc__next(src);
            sc__rpush(I, RF_QUOTE, line, 0);
            continue;
        }
        if (c == '`' || c == ',') sc__syntax(I, src, "quasiquote is not supported");
        if (c == ')' || c == ']') {
            sc__next(src);
            if (I->nrframes == 0) sc__syntax(I, src, "unexpected ')'");
            struct sc_rframe *f = &I->rframes[I->nrframes - 1];
            if (f->kind == RF_QUOTE) sc__syntax(I, src, "unexpected ')' after a quote");
            if (f->close != c) sc__syntax(I, src, "mismatched brackets");
            if (f->dot == 1) sc__syntax(I, src, "missing datum after '.'");
            if (f->kind == RF_VEC) sc__list_to_vector(I, f->slot);
            d = RS(f->slot);
            d.line = f->line;
            I->rs_top = f->slot;    /* ownership moves to d */
            I->nrframes--;
        } else if (c == '.' && sc__delim(sc__peek2(src))) {
            sc__next(src);
            struct sc_rframe *f = I->nrframes ? &I->rframes[I->nrframes - 1] : NULL;
            if (!f || f->kind != RF_LIST || !f->tail || f->dot) sc__syntax(I, src, "unexpected '.'");
            f->dot = 1;
            continue;
        } else {
            d = sc__read_atom(I, src);
            d.line = line;
        }
        /* Hand the finished datum d (owned) to the innermost open construct. */
        for (;;) {
            if (I->nrframes == base_frames) { *out = d; return true; }
            struct sc_rframe *f = &I->rframes[I->nrframes - 1];
            if (f->kind == RF_QUOTE) {
                uint32_t qline = f->line;
                I->nrframes--;
                val tail = sc_cons_move(I, d, SC_NIL);
                d = sc_cons_move(I, sc_symval(sr_rc_retain(I->s_quote)), tail);
                d.line = qline;
                continue;
            }
            if (f->dot == 2) { sc_rel(I, d); sc__syntax(I, src, "more than one datum after '.'"); }
            if (f->dot == 1) {
                f->tail->cdr = d;
                f->dot = 2;
                break;
            }
            val cell = sc_cons_move(I, d, SC_NIL);
            f = &I->rframes[I->nrframes - 1];
            cell.line = f->line;
            if (!f->tail) RS(f->slot) = cell;
            else f->tail->cdr = cell;
            f->tail = sc_pr(cell);
            break;
        }
    }
}

bool sc_input_complete(const char *s, size_t len)
{
    long depth = 0;
    size_t i = 0;
    while (i < len) {
        char c = s[i];
        if (c == ';') { while (i < len && s[i] != '\n') i++; continue; }
        if (c == '"') {
            i++;
            while (i < len && s[i] != '"') { if (s[i] == '\\') i++; i++; }
            if (i >= len) return false;
            i++;
            continue;
        }
        if (c == '#' && i + 1 < len && s[i + 1] == '\\') { i += 3; continue; }
        if (c == '#' && i + 1 < len && s[i + 1] == '|') {
            int bd = 1;
            i += 2;
            while (i < len && bd > 0) {
                if (s[i] == '|' && i + 1 < len && s[i + 1] == '#') { bd--; i += 2; }
                else if (s[i] == '#' && i + 1 < len && s[i + 1] == '|') { bd++; i += 2; }
                else i++;
            }
            if (bd > 0) return false;
            continue;
        }
        if (c == '(' || c == '[') depth++;
        else if (c == ')' || c == ']') depth--;
        i++;
    }
    return depth <= 0;
}
