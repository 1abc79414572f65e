/* ---- a small growable string (JSON, DOT and SVG writers) ---- */
typedef struct ng__sb { char *s; size_t n, cap; int oom; } ng__sb;
static void ng__sb_printf(ng__sb *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void ng__sb_printf(ng__sb *b, const char *fmt, ...) {
    va_list ap;
    int k;
    if (b->oom) return;
    for (;;) {
        size_t room = b->cap - b->n;
        va_start(ap, fmt);
        k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? room : 0, fmt, ap);
        va_end(ap);
        if (k < 0) { b->oom = 1; return; }
        if (b->s && (size_t)k < room) { b->n += (size_t)k; return; }
        {
            size_t cap = b->cap ? b->cap : 256;
            char *p;
            while (cap - b->n <= (size_t)k) cap *= 2;
            p = (char *)realloc(b->s, cap);
            if (!p) { b->oom = 1; return; }
            b->s = p;
            b->cap = cap;
        }
    }
}
static ng_status ng__sb_finish(ng__sb *b, const char *what, char **out, size_t *n) {
    if (b->oom || !b->s) {
        free(b->s);
        return ng_fail(NG_ERR_NOMEM, "%s: out of memory", what);
    }
    *out = b->s;
    if (n) *n = b->n;
    return NG_OK;
}

/* ---- SVG drawing for architecture pictures (no graphviz needed): rounded boxes and
   quadratic-curve arrows with labels, laid out by the caller ---- */
static void ng__svg_text(ng__sb *b, const char *s) {   /* XML-escaped, control bytes dropped */
    for (; *s; s++) {
        if (*s == '&') ng__sb_printf(b, "&amp;");
        else if (*s == '<') ng__sb_printf(b, "&lt;");
        else if (*s == '>') ng__sb_printf(b, "&gt;");
        else if (*s == '"') ng__sb_printf(b, "&quot;");
        else if ((unsigned char)*s >= 0x20) ng__sb_printf(b, "%c", *s);
    }
}
static void ng__svg_begin(ng__sb *b, double w, double h, const char *title) {
    ng__sb_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                     "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                     "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
                     "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" "
                     "markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#444\"/>"
                     "</marker></defs>\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                  w, h, w, h);
    if (title) {
        ng__sb_printf(b, "<text x=\"%.1f\" y=\"20\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">", w / 2);
        ng__svg_text(b, title);
        ng__sb_printf(b, "</text>\n");
    }
}
/* a box of w x h centred at (cx, cy) */
static void ng__svg_node(ng__sb *b, double cx, double cy, double w, double h, const char *label, const char *fill) {
    ng__sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"6\" fill=\"%s\" stroke=\"#333\"/>"
                     "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                  cx - w / 2, cy - h / 2, w, h, fill, cx, cy + 4);
    ng__svg_text(b, label);
    ng__sb_printf(b, "</text>\n");
}
/* an arrow from (x1, y1) to (x2, y2), bent by `bend` pixels to the left of its direction (0:
   straight); the label sits on the curve's midpoint */
static void ng__svg_edge(ng__sb *b, double x1, double y1, double x2, double y2, double bend, const char *label, int dashed,
                         const char *color) {
    double dx = x2 - x1, dy = y2 - y1, len = sqrt(dx * dx + dy * dy);
    double cx = (x1 + x2) / 2 + (len > 0 ? dy / len * bend : 0), cy = (y1 + y2) / 2 - (len > 0 ? dx / len * bend : 0);
    ng__sb_printf(b, "<path d=\"M %.1f %.1f Q %.1f %.1f %.1f %.1f\" fill=\"none\" stroke=\"%s\"%s marker-end=\"url(#arrow)\"/>\n",
                  x1, y1, cx, cy, x2, y2, color, dashed ? " stroke-dasharray=\"5 4\"" : "");
    if (label && label[0]) {
        ng__sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\" fill=\"#222\" "
                         "stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\">",
                      (x1 + 2 * cx + x2) / 4, (y1 + 2 * cy + y2) / 4 - 3);
        ng__svg_text(b, label);
        ng__sb_printf(b, "</text>\n");
    }
}
static void ng__svg_end(ng__sb *b) { ng__sb_printf(b, "</svg>\n"); }

/* ---- a strict JSON lexer for schema-directed readers (no recursion, no allocation) ----
   Readers walk their own schema with these; errors name the document kind, the file, the line
   and column. */
typedef struct ng__json {
    const unsigned char *s;
    size_t n, pos;
    const char *name;   /* file name, or "(memory)" */
    const char *kind;   /* what the document is, for messages: "genotype JSON" */
} ng__json;

#define NG__JSON_STR 64   /* longest string value accepted (bytes, incl. the NUL) */

static ng_status ng__json_err(const ng__json *p, size_t at, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static ng_status ng__json_err(const ng__json *p, size_t at, const char *fmt, ...) {
    char msg[384];
    size_t i, line = 1, col = 1;
    va_list ap;
    if (at > p->n) at = p->n;
    for (i = 0; i < at; i++) {
        if (p->s[i] == '\n') { line++; col = 1; }
        else col++;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ng_fail(NG_ERR_FORMAT, "%s '%s': line %zu, column %zu (byte %zu): %s", p->kind, p->name, line, col, at, msg);
}
/* "expected <what>, found <the byte at `at`>" */
static ng_status ng__json_expected(const ng__json *p, size_t at, const char *what) {
    char found[32];
    if (at >= p->n) snprintf(found, sizeof found, "end of input");
    else if (p->s[at] >= 0x21 && p->s[at] <= 0x7e) snprintf(found, sizeof found, "'%c'", p->s[at]);
    else snprintf(found, sizeof found, "byte 0x%02x", p->s[at]);
    return ng__json_err(p, at, "expected %s, found %s", what, found);
}
static void ng__json_ws(ng__json *p) {
    while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}
/* skip whitespace; 1 if the next byte is c (not consumed) */
static int ng__json_peek(ng__json *p, unsigned char c) {
    ng__json_ws(p);
    return p->pos < p->n && p->s[p->pos] == c;
}
static ng_status ng__json_char(ng__json *p, unsigned char c, const char *what) {
    if (!ng__json_peek(p, c)) return ng__json_expected(p, p->pos, what);
    p->pos++;
    return NG_OK;
}
static int ng__json_hex(const ng__json *p, size_t at, unsigned *v) {
    size_t i;
    *v = 0;
    if (at + 4 > p->n) return 0;
    for (i = 0; i < 4; i++) {
        unsigned char c = p->s[at + i];
        unsigned d;
        if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
        else return 0;
        *v = *v * 16 + d;
    }
    return 1;
}
/* Length of the valid UTF-8 sequence starting at `at` (2..4), 0 if invalid (overlong forms,
   surrogates, code points above U+10FFFF, truncation). */
static int ng__json_utf8_len(const ng__json *p, size_t at) {
    const unsigned char *s = p->s + at;
    size_t room = p->n - at;
    unsigned char c = s[0];
    int len, i;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 0;
    if (room < (size_t)len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return len;
}
/* A JSON string into out (NUL-terminated, < NG__JSON_STR bytes); *start = its opening quote. */
static ng_status ng__json_string(ng__json *p, char *out, size_t *start, const char *what) {
    size_t len = 0;
    ng__json_ws(p);
    *start = p->pos;
    if (p->pos >= p->n || p->s[p->pos] != '"') return ng__json_expected(p, p->pos, what);
    p->pos++;
    for (;;) {
        unsigned char c;
        unsigned char enc[4];
        int k = 0, i;
        if (p->pos >= p->n) return ng__json_err(p, p->pos, "unterminated string (opened at byte %zu)", *start);
        c = p->s[p->pos];
        if (c == '"') { p->pos++; break; }
        if (c < 0x20) return ng__json_err(p, p->pos, "control byte 0x%02x inside a string (must be escaped)", c);
        if (c == '\\') {
            unsigned cp;
            if (p->pos + 1 >= p->n) return ng__json_err(p, p->pos, "unterminated escape in string");
            c = p->s[p->pos + 1];
            switch (c) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = 8; break;
            case 'f': cp = 12; break;
            case 'n': cp = 10; break;
            case 'r': cp = 13; break;
            case 't': cp = 9; break;
            case 'u': cp = 0; break;
            default: return ng__json_err(p, p->pos, "invalid escape '\\%c' in string", c >= 0x21 && c <= 0x7e ? c : '?');
            }
            if (c != 'u') {
                p->pos += 2;
            } else {
                if (!ng__json_hex(p, p->pos + 2, &cp)) return ng__json_err(p, p->pos, "expected 4 hex digits after '\\u'");
                p->pos += 6;
                if (cp >= 0xDC00 && cp <= 0xDFFF) return ng__json_err(p, p->pos - 6, "unpaired low surrogate \\u%04X", cp);
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if (p->pos + 1 >= p->n || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' || !ng__json_hex(p, p->pos + 2, &lo) ||
                        lo < 0xDC00 || lo > 0xDFFF)
                        return ng__json_err(p, p->pos - 6, "high surrogate \\u%04X not followed by a low surrogate", cp);
                    p->pos += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp == 0) return ng__json_err(p, p->pos - 6, "\\u0000 is not allowed in a string");
            }
            if (cp < 0x80) enc[k++] = (unsigned char)cp;
            else if (cp < 0x800) { enc[k++] = (unsigned char)(0xC0 | (cp >> 6)); enc[k++] = (unsigned char)(0x80 | (cp & 63)); }
            else if (cp < 0x10000) {
                enc[k++] = (unsigned char)(0xE0 | (cp >> 12)); enc[k++] = (unsigned char)(0x80 | ((cp >> 6) & 63));
                enc[k++] = (unsigned char)(0x80 | (cp & 63));
            } else {
                enc[k++] = (unsigned char)(0xF0 | (cp >> 18)); enc[k++] = (unsigned char)(0x80 | ((cp >> 12) & 63));
                enc[k++] = (unsigned char)(0x80 | ((cp >> 6) & 63)); enc[k++] = (unsigned char)(0x80 | (cp & 63));
            }
        } else if (c < 0x80) {
            enc[k++] = c;
            p->pos++;
        } else {
            int l = ng__json_utf8_len(p, p->pos);
            if (!l) return ng__json_err(p, p->pos, "invalid UTF-8 byte 0x%02x in string", c);
            for (i = 0; i < l; i++) enc[k++] = p->s[p->pos + (size_t)i];
            p->pos += (size_t)l;
        }
        if (len + (size_t)k >= NG__JSON_STR)
            return ng__json_err(p, *start, "string longer than %d bytes (no valid value is)", NG__JSON_STR - 1);
        for (i = 0; i < k; i++) out[len++] = (char)enc[i];
    }
    out[len] = 0;
    return NG_OK;
}
/* A JSON number that must be an integer of at most 9 digits. */
static ng_status ng__json_int(ng__json *p, long *v, const char *what) {
    size_t start, digits = 0;
    int neg = 0;
    long x = 0;
    ng__json_ws(p);
    start = p->pos;
    if (p->pos < p->n && p->s[p->pos] == '-') { neg = 1; p->pos++; }
    if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9') return ng__json_expected(p, start, what);
    if (p->s[p->pos] == '0' && p->pos + 1 < p->n && p->s[p->pos + 1] >= '0' && p->s[p->pos + 1] <= '9')
        return ng__json_err(p, start, "number with a leading zero");
    while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
        if (++digits > 9) return ng__json_err(p, start, "integer too long");
        x = x * 10 + (p->s[p->pos] - '0');
        p->pos++;
    }
    if (p->pos < p->n && (p->s[p->pos] == '.' || p->s[p->pos] == 'e' || p->s[p->pos] == 'E'))
        return ng__json_err(p, start, "expected an integer, found a fraction or exponent");
    *v = neg ? -x : x;
    return NG_OK;
}
/* Object members: call with *first = 1 after '{'. Returns 1 with the key in `key` (and its
   position) when a member follows (':' consumed), 0 at the closing '}' (consumed), -1 on error
   (*st set). */
static int ng__json_member(ng__json *p, int *first, char *key, size_t *at, ng_status *st) {
    if (*first) {
        *first = 0;
        if (ng__json_peek(p, '}')) { p->pos++; return 0; }
    } else {
        if (ng__json_peek(p, '}')) { p->pos++; return 0; }
        if ((*st = ng__json_char(p, ',', "',' or '}'")) != NG_OK) return -1;
    }
    if ((*st = ng__json_string(p, key, at, "a key (string)")) != NG_OK) return -1;
    if ((*st = ng__json_char(p, ':', "':'")) != NG_OK) return -1;
    return 1;
}

