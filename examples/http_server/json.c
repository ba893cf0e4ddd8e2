/*
 * json.c - the byte buffer behind every response body, and JSON strings.
 *
 * Messages in error replies can quote the program's own bytes (a reader error
 * on binary garbage, a string the program raised), so escaping validates
 * UTF-8: a well-formed sequence (no overlongs, no surrogates, at most U+10FFFF)
 * is copied, each byte of anything else becomes U+FFFD. Control characters
 * are written as \n, \t, ... or \u00XX, so the document is always valid JSON.
 */
#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool hs__buf_reserve(hs_buf *b, size_t extra)
{
    if (b->failed) return false;
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) { b->failed = true; return false; }
        cap *= 2;
    }
    char *nd = realloc(b->data, cap);
    if (!nd) { b->failed = true; return false; }
    b->data = nd;
    b->cap = cap;
    return true;
}

void hs_buf_add(hs_buf *b, const void *p, size_t n)
{
    if (!n || !hs__buf_reserve(b, n)) return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void hs_buf_str(hs_buf *b, const char *s) { hs_buf_add(b, s, strlen(s)); }

void hs_buf_printf(hs_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) { b->failed = true; return; }
    if ((size_t)n < sizeof tmp) { hs_buf_add(b, tmp, (size_t)n); return; }
    if (!hs__buf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left), 0 if none. */
static size_t hs__utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1Fu; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0Fu; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07u; }
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0;   /* overlong */
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

void hs_buf_json_str(hs_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    hs_buf_add(b, "\"", 1);
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };
            hs_buf_add(b, e, 2);
            i++;
        } else if (c < 0x20) {
            switch (c) {
            case '\n': hs_buf_add(b, "\\n", 2); break;
            case '\r': hs_buf_add(b, "\\r", 2); break;
            case '\t': hs_buf_add(b, "\\t", 2); break;
            case '\b': hs_buf_add(b, "\\b", 2); break;
            case '\f': hs_buf_add(b, "\\f", 2); break;
            default: hs_buf_printf(b, "\\u%04x", (unsigned)c); break;
            }
            i++;
        } else {
            size_t k = hs__utf8_len(p + i, n - i);
            if (k) { hs_buf_add(b, p + i, k); i += k; }
            else { hs_buf_add(b, "\xEF\xBF\xBD", 3); i++; }
        }
    }
    hs_buf_add(b, "\"", 1);
}

void hs_buf_free(hs_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}
