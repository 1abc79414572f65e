/* ======================================================================================== */
/* @@TEXT                                                                                   */
/* ======================================================================================== */
#ifdef NG_USE_UTF8PROC
#include <utf8proc.h>
#endif

ng_text_opts ng_text_opts_default(void) {
    ng_text_opts o;
    o.casefold = 0;
    o.replace_invalid = 0;
    o.max_len = 64;
    return o;
}

ng_vocab_opts ng_vocab_opts_default(void) {
    ng_vocab_opts o;
    o.min_count = 1;
    o.max_size = 0;
    o.sorted = 0;
    return o;
}

void ng_tokens_free(ng_tokens *t) {
    free(t->tok);
    free(t->buf_);
    t->tok = NULL;
    t->buf_ = NULL;
    t->n = 0;
}

static const char *ng__tsrc(const char *s) { return s ? s : "(memory)"; }

#ifdef NG_USE_UTF8PROC
/* Length of the valid UTF-8 sequence at p (1..4), or 0 with *why and *used (bytes of the
   maximal invalid subpart, >= 1) set. */
static int ng__utf8_seq(const unsigned char *p, size_t left, const char **why, size_t *used) {
    unsigned c = p[0];
    int need;
    unsigned lo = 0x80, hi = 0xBF;
    size_t k;
    *used = 1;
    if (c < 0x80) return 1;
    if (c < 0xC2) { *why = c < 0xC0 ? "unexpected continuation byte" : "overlong encoding"; return 0; }
    if (c < 0xE0) need = 1;
    else if (c < 0xF0) { need = 2; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c < 0xF5) { need = 3; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else { *why = "code point above U+10FFFF"; return 0; }
    for (k = 1; k <= (size_t)need; k++) {
        unsigned b;
        if (k >= left) { *why = "truncated sequence at end of text"; *used = k; return 0; }
        b = p[k];
        if (k == 1 && (b < lo || b > hi) && b >= 0x80 && b <= 0xBF) {
            *why = c == 0xE0 || c == 0xF0 ? "overlong encoding"
                 : c == 0xED ? "surrogate code point" : "code point above U+10FFFF";
            *used = 1;
            return 0;
        }
        if (b < 0x80 || b > 0xBF) { *why = "truncated sequence"; *used = k; return 0; }
    }
    return need + 1;
}
#endif

ng_status ng_tokenize_spaces(const char *text, size_t n, ng_tokens *out) {
    size_t i, cnt = 0, w = 0;
    out->n = 0; out->tok = NULL; out->buf_ = NULL;
    for (i = 0; i < n; i++) if (text[i] != ' ' && (i == 0 || text[i - 1] == ' ')) cnt++;
    out->buf_ = (char *)malloc(n + 1);
    out->tok = (char **)malloc((cnt ? cnt : 1) * sizeof(char *));
    if (!out->buf_ || !out->tok) { ng_tokens_free(out); return ng_fail(NG_ERR_NOMEM, "tokenize: out of memory"); }
    for (i = 0; i < n; i++) {
        if (text[i] == ' ') continue;
        if (i == 0 || text[i - 1] == ' ') out->tok[out->n++] = out->buf_ + w;
        out->buf_[w++] = text[i];
        if (i + 1 == n || text[i + 1] == ' ') out->buf_[w++] = 0;
    }
    return NG_OK;
}

#ifdef NG_USE_UTF8PROC
static int ng__is_cjk(int32_t c) {
    return (c >= 0x2E80 && c <= 0x2FDF) || (c >= 0x3005 && c <= 0x3007) || (c >= 0x3021 && c <= 0x3029) ||
           (c >= 0x3038 && c <= 0x303B) || (c >= 0x3040 && c <= 0x30FF) || (c >= 0x31F0 && c <= 0x31FF) ||
           (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) ||
           (c >= 0xFF66 && c <= 0xFF9F) || (c >= 0x20000 && c <= 0x3FFFF);
}
#endif

ng_status ng_tokenize(const char *text, size_t n, const ng_text_opts *o, const char *src_name,
                      int64_t line, ng_tokens *out) {
#ifndef NG_USE_UTF8PROC
    (void)text; (void)n; (void)o; (void)line;
    out->n = 0; out->tok = NULL; out->buf_ = NULL;
    return ng_fail(NG_ERR_UNSUPPORTED, "cannot tokenize '%s': this build has no utf8proc "
                   "(install libutf8proc-dev and build with -DNG_USE_UTF8PROC -lutf8proc)", ng__tsrc(src_name));
#else
    ng_text_opts def = ng_text_opts_default();
    unsigned char *clean = NULL;
    utf8proc_uint8_t *norm = NULL;
    utf8proc_ssize_t nl;
    size_t i = 0, w = 0, cap, ntok = 0, tcap = 16, *offs = NULL;
    int kind = 0, ri = 0, zwj = 0;   /* kind: 0 none, 1 word, 2 symbol, 3 single (punct/cjk) */
    int opts;
    out->n = 0; out->tok = NULL; out->buf_ = NULL;
    if (!o) o = &def;
    if (n > ((size_t)1 << 30)) return ng_fail(NG_ERR_ARG, "'%s' line %lld: text of %zu bytes is too long",
                                             ng__tsrc(src_name), (long long)line, n);
    clean = (unsigned char *)malloc(n * 3 + 1);
    if (!clean) return ng_fail(NG_ERR_NOMEM, "tokenize: out of memory");
    while (i < n) {
        const char *why = "";
        size_t used;
        int len = ng__utf8_seq((const unsigned char *)text + i, n - i, &why, &used);
        if (len > 0) { memcpy(clean + w, text + i, (size_t)len); w += (size_t)len; i += (size_t)len; continue; }
        if (!o->replace_invalid) {
            free(clean);
            return ng_fail(NG_ERR_FORMAT, "'%s' line %lld: invalid UTF-8 at byte %zu of the text (%s)",
                           ng__tsrc(src_name), (long long)line, i, why);
        }
        clean[w++] = 0xEF; clean[w++] = 0xBF; clean[w++] = 0xBD;
        i += used;
    }
    opts = UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_STABLE | (o->casefold ? UTF8PROC_CASEFOLD : 0);
    nl = w ? utf8proc_map(clean, (utf8proc_ssize_t)w, &norm, (utf8proc_option_t)opts) : 0;
    free(clean);
    if (nl < 0) return ng_fail(NG_ERR_FORMAT, "'%s' line %lld: normalisation failed: %s",
                               ng__tsrc(src_name), (long long)line, utf8proc_errmsg(nl));
    cap = 2 * (size_t)nl + 1;
    out->buf_ = (char *)malloc(cap);
    offs = (size_t *)malloc(tcap * sizeof(size_t));
    if (!out->buf_ || !offs) { free(norm); free(offs); ng_tokens_free(out); return ng_fail(NG_ERR_NOMEM, "tokenize: out of memory"); }
    w = 0;
    i = 0;
#define NG__TOK_CLOSE() do { if (kind) { out->buf_[w++] = 0; kind = 0; ri = 0; zwj = 0; } } while (0)
#define NG__TOK_OPEN(k) do { NG__TOK_CLOSE(); if (ntok == tcap) { size_t *nn_ = (size_t *)realloc(offs, 2 * tcap * sizeof(size_t)); \
        if (!nn_) { goto nomem; } else { offs = nn_; tcap *= 2; } } offs[ntok++] = w; kind = (k); } while (0)
    while (i < (size_t)nl) {
        utf8proc_int32_t c;
        utf8proc_ssize_t len = utf8proc_iterate(norm + i, nl - (utf8proc_ssize_t)i, &c);
        utf8proc_category_t cat;
        if (len <= 0) { len = 1; c = 0xFFFD; }
        cat = utf8proc_category(c);
        switch (cat) {
        case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_CC:
            NG__TOK_CLOSE();
            i += (size_t)len;
            continue;
        case UTF8PROC_CATEGORY_CF:
            if (kind == 2 && (c == 0x200D || (c >= 0xE0020 && c <= 0xE007F))) {
                if (c == 0x200D) zwj = 1;
                break;   /* appended below */
            }
            i += (size_t)len;
            continue;    /* dropped */
        case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
            if (!kind) NG__TOK_OPEN(1);
            break;
        case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
        case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
            if (ng__is_cjk(c)) NG__TOK_OPEN(3);
            else if (kind != 1) NG__TOK_OPEN(1);
            break;
        case UTF8PROC_CATEGORY_SO: case UTF8PROC_CATEGORY_SK: case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC: {
            int is_ri = c >= 0x1F1E6 && c <= 0x1F1FF;
            if (kind == 2 && (zwj || (c >= 0x1F3FB && c <= 0x1F3FF) || (is_ri && ri == 1))) {
                zwj = 0;
                if (is_ri) ri = 2;
            } else {
                NG__TOK_OPEN(2);
                ri = is_ri;
            }
            break;
        }
        default:   /* punctuation, private use, unassigned: one token each */
            NG__TOK_OPEN(3);
            break;
        }
        memcpy(out->buf_ + w, norm + i, (size_t)len);
        w += (size_t)len;
        i += (size_t)len;   /* a single (kind 3) stays open only for marks that follow it */
    }
    NG__TOK_CLOSE();
#undef NG__TOK_OPEN
#undef NG__TOK_CLOSE
    free(norm);
    norm = NULL;
    out->tok = (char **)malloc((ntok ? ntok : 1) * sizeof(char *));
    if (!out->tok) goto nomem;
    for (i = 0; i < ntok; i++) out->tok[i] = out->buf_ + offs[i];
    out->n = (int64_t)ntok;
    free(offs);
    return NG_OK;
nomem:
    free(norm);
    free(offs);
    ng_tokens_free(out);
    return ng_fail(NG_ERR_NOMEM, "tokenize: out of memory");
#endif
}

/* ---- vocabulary ---- */
uint64_t ng_fnv1a64(const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    uint64_t h = 14695981039346656037ull;
    size_t i;
    for (i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ull; }
    return h;
}

void ng_vocab_free(ng_vocab *v) {
    int64_t i;
    if (v->words) for (i = 0; i < v->size; i++) free(v->words[i]);
    free(v->words);
    free(v->slots_);
    memset(v, 0, sizeof *v);
}

static int64_t ng__vocab_slot(const ng_vocab *v, const char *word) {
    uint64_t h;
    int64_t m;
    if (!v->slots_) return -1;
    h = ng_fnv1a64(word, strlen(word));
    m = v->cap_ - 1;
    for (;; h++) {
        int64_t s = (int64_t)(h & (uint64_t)m), id = v->slots_[s];
        if (id == 0 || strcmp(v->words[id - 1], word) == 0) return s;
    }
}

int32_t ng_vocab_lookup(const ng_vocab *v, const char *word) {
    int64_t s = ng__vocab_slot(v, word);
    if (s < 0 || v->slots_[s] == 0) return NG_TEXT_UNK;
    return (int32_t)(v->slots_[s] - 1);
}

/* Append a word (copied) unless present; *id = its id. */
static ng_status ng__vocab_add(ng_vocab *v, const char *word, int64_t *id) {
    int64_t s;
    if (!v->slots_ || 2 * (v->size + 1) > v->cap_) {
        int64_t nc = v->cap_ ? 2 * v->cap_ : 64, k;
        int64_t *ns = (int64_t *)calloc((size_t)nc, sizeof(int64_t));
        char **nw = (char **)realloc(v->words, (size_t)(nc / 2 + 1) * sizeof(char *));
        if (!ns || !nw) { free(ns); if (nw) v->words = nw; return ng_fail(NG_ERR_NOMEM, "vocabulary: out of memory"); }
        v->words = nw;
        free(v->slots_);
        v->slots_ = ns;
        v->cap_ = nc;
        for (k = 0; k < v->size; k++) {
            s = ng__vocab_slot(v, v->words[k]);
            v->slots_[s] = k + 1;
        }
    }
    s = ng__vocab_slot(v, word);
    if (v->slots_[s]) { *id = v->slots_[s] - 1; return NG_OK; }
    {
        size_t L = strlen(word);
        char *c = (char *)malloc(L + 1);
        if (!c) return ng_fail(NG_ERR_NOMEM, "vocabulary: out of memory");
        memcpy(c, word, L + 1);
        v->words[v->size] = c;
    }
    v->slots_[s] = v->size + 1;
    *id = v->size++;
    return NG_OK;
}

static ng_status ng__vocab_specials(ng_vocab *v) {
    int64_t id;
    ng_status st;
    memset(v, 0, sizeof *v);
    if ((st = ng__vocab_add(v, "<pad>", &id)) != NG_OK) return st;
    return ng__vocab_add(v, "<unk>", &id);
}

void ng_text_encode(const ng_vocab *v, const char *const *tok, int64_t ntok, int max_len,
                    int32_t *ids, float *mask, int32_t *length) {
    int i;
    int64_t L = ntok < max_len ? ntok : max_len;
    for (i = 0; i < max_len; i++) {
        ids[i] = i < L ? ng_vocab_lookup(v, tok[i]) : NG_TEXT_PAD;
        if (mask) mask[i] = i < L ? 1.0f : 0.0f;
    }
    if (length) *length = (int32_t)L;
}

static ng_status ng__tok_any(const char *text, const ng_text_opts *o, const char *src, int64_t line, ng_tokens *t) {
    if (!o) return ng_tokenize_spaces(text, strlen(text), t);
    return ng_tokenize(text, strlen(text), o, src, line, t);
}

typedef struct { int64_t count, first; const char *w; } ng__vcount;
static int ng__vc_cmp_count(const void *a, const void *b) {
    const ng__vcount *x = (const ng__vcount *)a, *y = (const ng__vcount *)b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->w, y->w);
}
static int ng__vc_cmp_lex(const void *a, const void *b) {
    return strcmp(((const ng__vcount *)a)->w, ((const ng__vcount *)b)->w);
}

ng_status ng_vocab_build(const ng_text_examples *const *sets, int nsets, const ng_text_opts *o,
                         const ng_vocab_opts *vo, ng_vocab *out) {
    ng_vocab all;
    int64_t *counts = NULL, ccap = 0, i, k, keep = 0;
    ng__vcount *vc = NULL;
    ng_vocab_opts dv = ng_vocab_opts_default();
    ng_status st = NG_OK;
    int si;
    memset(out, 0, sizeof *out);
    memset(&all, 0, sizeof all);
    if (!vo) vo = &dv;
    for (si = 0; si < nsets && st == NG_OK; si++) {
        const ng_text_examples *e = sets[si];
        for (i = 0; i < e->n && st == NG_OK; i++) {
            ng_tokens t;
            char name[64];
            snprintf(name, sizeof name, "example set %d", si);
            st = ng__tok_any(e->texts[i], o, name, i + 1, &t);
            for (k = 0; k < t.n && st == NG_OK; k++) {
                int64_t id;
                st = ng__vocab_add(&all, t.tok[k], &id);
                if (st == NG_OK && id >= ccap) {
                    int64_t nc = ccap ? 2 * ccap : 1024;
                    int64_t *nn = (int64_t *)realloc(counts, (size_t)nc * sizeof(int64_t));
                    if (!nn) { st = ng_fail(NG_ERR_NOMEM, "vocabulary: out of memory"); break; }
                    memset(nn + ccap, 0, (size_t)(nc - ccap) * sizeof(int64_t));
                    counts = nn;
                    ccap = nc;
                }
                if (st == NG_OK) counts[id]++;
            }
            ng_tokens_free(&t);
        }
    }
    if (st == NG_OK) {
        vc = (ng__vcount *)malloc((size_t)(all.size ? all.size : 1) * sizeof(ng__vcount));
        if (!vc) st = ng_fail(NG_ERR_NOMEM, "vocabulary: out of memory");
    }
    if (st == NG_OK) {
        for (i = 0; i < all.size; i++) {
            if (counts[i] < vo->min_count || strcmp(all.words[i], "<pad>") == 0 || strcmp(all.words[i], "<unk>") == 0) continue;
            vc[keep].count = counts[i]; vc[keep].first = i; vc[keep].w = all.words[i];
            keep++;
        }
        qsort(vc, (size_t)keep, sizeof *vc, ng__vc_cmp_count);   /* most frequent first */
        if (vo->max_size > 0 && keep > vo->max_size - 2) keep = vo->max_size > 2 ? vo->max_size - 2 : 0;
        if (vo->sorted) qsort(vc, (size_t)keep, sizeof *vc, ng__vc_cmp_lex);
        st = ng__vocab_specials(out);
        for (i = 0; i < keep && st == NG_OK; i++) {
            int64_t id;
            st = ng__vocab_add(out, vc[i].w, &id);
        }
    }
    free(vc);
    free(counts);
    ng_vocab_free(&all);
    if (st != NG_OK) ng_vocab_free(out);
    return st;
}

ng_status ng_vocab_save(const ng_vocab *v, const char *path) {
    size_t total = 0, w = 0;
    int64_t i;
    char *buf;
    ng_status st;
    for (i = 0; i < v->size; i++) {
        const char *s = v->words[i];
        if (!s[0] || strchr(s, '\n') || strchr(s, '\r'))
            return ng_fail(NG_ERR_ARG, "cannot save vocabulary to '%s': token %lld is empty or holds a line break",
                           path, (long long)i);
        total += strlen(s) + 1;
    }
    buf = (char *)malloc(total ? total : 1);
    if (!buf) return ng_fail(NG_ERR_NOMEM, "vocabulary: out of memory");
    for (i = 0; i < v->size; i++) {
        size_t L = strlen(v->words[i]);
        memcpy(buf + w, v->words[i], L);
        w += L;
        buf[w++] = '\n';
    }
    st = ng_file_write_atomic(path, buf, w);
    free(buf);
    return st;
}

ng_status ng_vocab_parse(const char *buf, size_t n, const char *src_name, ng_vocab *v) {
    size_t p = 0;
    int64_t line = 0;
    char *tmp = NULL;
    ng_status st = NG_OK;
    memset(v, 0, sizeof *v);
    while (p < n && st == NG_OK) {
        const char *nl = (const char *)memchr(buf + p, '\n', n - p);
        size_t e = nl ? (size_t)(nl - buf) : n, L = e - p;
        int64_t id;
        line++;
        if (L > 0 && buf[e - 1] == '\r') L--;
        if (L == 0 || L > NG_TEXT_MAX_LINE || memchr(buf + p, 0, L)) {
            st = ng_fail(NG_ERR_FORMAT, "vocabulary '%s' line %lld: %s", ng__tsrc(src_name), (long long)line,
                         L == 0 ? "empty token" : "token too long or holds a NUL byte");
            break;
        }
        tmp = (char *)malloc(L + 1);
        if (!tmp) { st = ng_fail(NG_ERR_NOMEM, "vocabulary: out of memory"); break; }
        memcpy(tmp, buf + p, L);
        tmp[L] = 0;
        if ((line == 1 && strcmp(tmp, "<pad>") != 0) || (line == 2 && strcmp(tmp, "<unk>") != 0))
            st = ng_fail(NG_ERR_FORMAT, "vocabulary '%s' line %lld: expected '%s'", ng__tsrc(src_name),
                         (long long)line, line == 1 ? "<pad>" : "<unk>");
        if (st == NG_OK) st = ng__vocab_add(v, tmp, &id);
        if (st == NG_OK && id != line - 1)
            st = ng_fail(NG_ERR_FORMAT, "vocabulary '%s' line %lld: duplicate token '%s'", ng__tsrc(src_name),
                         (long long)line, tmp);
        free(tmp);
        p = e + 1;
    }
    if (st == NG_OK && v->size < 2)
        st = ng_fail(NG_ERR_FORMAT, "vocabulary '%s': needs at least the lines <pad> and <unk>", ng__tsrc(src_name));
    if (st != NG_OK) ng_vocab_free(v);
    return st;
}

ng_status ng_vocab_load(const char *path, ng_vocab *v) {
    unsigned char *d;
    size_t n;
    ng_status st = ng_file_read_all(path, NG_TEXT_MAX_FILE, &d, &n);
    memset(v, 0, sizeof *v);
    if (st != NG_OK) return st;
    st = ng_vocab_parse((const char *)d, n, path, v);
    free(d);
    return st;
}

/* ---- examples and datasets ---- */
void ng_text_examples_free(ng_text_examples *e) {
    int64_t i;
    int c;
    if (e->texts) for (i = 0; i < e->n; i++) free(e->texts[i]);
    if (e->class_names) for (c = 0; c < e->num_classes; c++) free(e->class_names[c]);
    free(e->texts);
    free(e->labels);
    free(e->class_names);
    memset(e, 0, sizeof *e);
}

ng_status ng_text_examples_add(ng_text_examples *e, int32_t label, const char *text, size_t len) {
    char *c;
    if (e->n == e->cap_) {
        int64_t nc = e->cap_ ? 2 * e->cap_ : 256;
        int32_t *nl = (int32_t *)realloc(e->labels, (size_t)nc * sizeof(int32_t));
        char **nt;
        if (!nl) return ng_fail(NG_ERR_NOMEM, "text examples: out of memory");
        e->labels = nl;
        nt = (char **)realloc(e->texts, (size_t)nc * sizeof(char *));
        if (!nt) return ng_fail(NG_ERR_NOMEM, "text examples: out of memory");
        e->texts = nt;
        e->cap_ = nc;
    }
    c = (char *)malloc(len + 1);
    if (!c) return ng_fail(NG_ERR_NOMEM, "text examples: out of memory");
    memcpy(c, text, len);
    c[len] = 0;
    e->labels[e->n] = label;
    e->texts[e->n++] = c;
    return NG_OK;
}

static ng_status ng__add_class(ng_text_examples *e, const char *name, size_t len) {
    char **nn;
    char *c;
    if (e->num_classes >= NG_TEXT_MAX_CLASSES) return ng_fail(NG_ERR_FORMAT, "more than %d classes", NG_TEXT_MAX_CLASSES);
    nn = (char **)realloc(e->class_names, (size_t)(e->num_classes + 1) * sizeof(char *));
    if (!nn) return ng_fail(NG_ERR_NOMEM, "text examples: out of memory");
    e->class_names = nn;
    c = (char *)malloc(len + 1);
    if (!c) return ng_fail(NG_ERR_NOMEM, "text examples: out of memory");
    memcpy(c, name, len);
    c[len] = 0;
    e->class_names[e->num_classes++] = c;
    return NG_OK;
}

ng_status ng_text_examples_set_classes(ng_text_examples *e, int num_classes, const char *const *names) {
    int c;
    ng_status st = NG_OK;
    for (c = 0; c < e->num_classes; c++) free(e->class_names[c]);
    free(e->class_names);
    e->class_names = NULL;
    e->num_classes = 0;
    for (c = 0; c < num_classes && st == NG_OK; c++) st = ng__add_class(e, names[c], strlen(names[c]));
    return st;
}

void ng_text_dataset_free(ng_text_dataset *d) {
    int c;
    if (d->class_names) for (c = 0; c < d->num_classes; c++) free(d->class_names[c]);
    free(d->class_names);
    free(d->ids);
    free(d->lengths);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

ng_status ng_text_dataset_make(const ng_text_examples *e, const ng_vocab *v, const ng_text_opts *o,
                               int max_len_if_null, ng_text_dataset *out) {
    int L = o ? o->max_len : max_len_if_null;
    int64_t i;
    int c;
    ng_status st = NG_OK;
    memset(out, 0, sizeof *out);
    if (L <= 0 || L > (1 << 20)) return ng_fail(NG_ERR_ARG, "text dataset: max_len %d out of range", L);
    out->n = e->n;
    out->max_len = L;
    out->ids = (int32_t *)malloc((size_t)(e->n ? e->n : 1) * (size_t)L * sizeof(int32_t));
    out->lengths = (int32_t *)malloc((size_t)(e->n ? e->n : 1) * sizeof(int32_t));
    out->labels = (int32_t *)malloc((size_t)(e->n ? e->n : 1) * sizeof(int32_t));
    out->class_names = (char **)calloc((size_t)(e->num_classes ? e->num_classes : 1), sizeof(char *));
    if (!out->ids || !out->lengths || !out->labels || !out->class_names) {
        ng_text_dataset_free(out);
        return ng_fail(NG_ERR_NOMEM, "text dataset: out of memory");
    }
    out->num_classes = e->num_classes;
    for (c = 0; c < e->num_classes; c++) {
        size_t len = strlen(e->class_names[c]);
        out->class_names[c] = (char *)malloc(len + 1);
        if (!out->class_names[c]) { st = ng_fail(NG_ERR_NOMEM, "text dataset: out of memory"); break; }
        memcpy(out->class_names[c], e->class_names[c], len + 1);
    }
    for (i = 0; i < e->n && st == NG_OK; i++) {
        ng_tokens t;
        st = ng__tok_any(e->texts[i], o, "example", i + 1, &t);
        if (st != NG_OK) break;
        ng_text_encode(v, (const char *const *)t.tok, t.n, L, out->ids + (size_t)i * (size_t)L, NULL, out->lengths + i);
        out->labels[i] = e->labels[i];
        ng_tokens_free(&t);
    }
    if (st != NG_OK) ng_text_dataset_free(out);
    return st;
}

/* ---- readers ---- */
static ng_status ng__load_with(const char *path, ng_status (*fn)(const char *, size_t, const char *, const void *, ng_text_examples *),
                               const void *arg, ng_text_examples *out) {
    unsigned char *d;
    size_t n;
    ng_status st;
    memset(out, 0, sizeof *out);
    st = ng_file_read_all(path, NG_TEXT_MAX_FILE, &d, &n);
    if (st != NG_OK) return st;
    st = fn((const char *)d, n, path, arg, out);
    free(d);
    return st;
}

/* next line [p, *e) without the \r of \r\n; returns 0 at end */
static int ng__next_line(const char *buf, size_t n, size_t *p, size_t *s, size_t *len) {
    const char *nl;
    size_t e;
    if (*p >= n) return 0;
    nl = (const char *)memchr(buf + *p, '\n', n - *p);
    e = nl ? (size_t)(nl - buf) : n;
    *s = *p;
    *len = e - *p;
    if (*len > 0 && buf[e - 1] == '\r') (*len)--;
    *p = e + 1;
    return 1;
}

ng_status ng_tsv_parse(const char *buf, size_t n, const char *src_name, int integer_labels, ng_text_examples *out) {
    size_t p = 0, s, len;
    int64_t line = 0;
    ng_status st = NG_OK;
    const char *src = ng__tsrc(src_name);
    memset(out, 0, sizeof *out);
    while (st == NG_OK && ng__next_line(buf, n, &p, &s, &len)) {
        const char *tab;
        size_t ll;
        int32_t label = -1;
        int c;
        line++;
        if (len == 0) continue;
        if (len > NG_TEXT_MAX_LINE) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: line longer than %u bytes", src, (long long)line, (unsigned)NG_TEXT_MAX_LINE); break; }
        tab = (const char *)memchr(buf + s, '\t', len);
        if (!tab) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: no TAB between label and text", src, (long long)line); break; }
        ll = (size_t)(tab - (buf + s));
        if (ll == 0) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: empty label", src, (long long)line); break; }
        if (integer_labels) {
            size_t k;
            long v = 0;
            for (k = 0; k < ll; k++) {
                if (buf[s + k] < '0' || buf[s + k] > '9' || v >= NG_TEXT_MAX_CLASSES) { v = -1; break; }
                v = v * 10 + (buf[s + k] - '0');
            }
            if (v < 0 || v >= NG_TEXT_MAX_CLASSES) {
                st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: label '%.*s' is not an integer in 0..%d", src, (long long)line,
                             (int)(ll > 40 ? 40 : ll), buf + s, NG_TEXT_MAX_CLASSES - 1);
                break;
            }
            label = (int32_t)v;
            while (st == NG_OK && out->num_classes <= label) {
                char nm[16];
                snprintf(nm, sizeof nm, "%d", out->num_classes);
                st = ng__add_class(out, nm, strlen(nm));
            }
        } else {
            for (c = 0; c < out->num_classes; c++)
                if (strlen(out->class_names[c]) == ll && memcmp(out->class_names[c], buf + s, ll) == 0) { label = c; break; }
            if (label < 0) {
                if (memchr(buf + s, 0, ll)) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: NUL byte in label", src, (long long)line); break; }
                st = ng__add_class(out, buf + s, ll);
                if (st != NG_OK) { st = ng_fail(st, "'%s' line %lld: %s", src, (long long)line, ng_last_error()); break; }
                label = out->num_classes - 1;
            }
        }
        if (st == NG_OK) st = ng_text_examples_add(out, label, tab + 1, len - ll - 1);
    }
    if (st != NG_OK) ng_text_examples_free(out);
    return st;
}

static ng_status ng__tsv_fn(const char *b, size_t n, const char *src, const void *arg, ng_text_examples *out) {
    return ng_tsv_parse(b, n, src, *(const int *)arg, out);
}
ng_status ng_tsv_load(const char *path, int integer_labels, ng_text_examples *out) {
    return ng__load_with(path, ng__tsv_fn, &integer_labels, out);
}

static const char *const ng__ag_names[4] = { "World", "Sports", "Business", "Sci/Tech" };

ng_status ng_agnews_parse(const char *buf, size_t n, const char *src_name, ng_text_examples *out) {
    const char *src = ng__tsrc(src_name);
    size_t p = 0;
    int64_t line = 1;
    char *field[3] = { NULL, NULL, NULL };
    size_t flen[3] = { 0, 0, 0 };
    char *rec = NULL;
    ng_status st;
    memset(out, 0, sizeof *out);
    st = ng_text_examples_set_classes(out, 4, ng__ag_names);
    for (int k = 0; k < 3 && st == NG_OK; k++) {
        field[k] = (char *)malloc(NG_TEXT_MAX_LINE + 1);
        if (!field[k]) st = ng_fail(NG_ERR_NOMEM, "AG News: out of memory");
    }
    if (st == NG_OK) { rec = (char *)malloc(2 * (size_t)NG_TEXT_MAX_LINE + 2); if (!rec) st = ng_fail(NG_ERR_NOMEM, "AG News: out of memory"); }
    while (st == NG_OK && p < n) {
        int64_t rline = line;
        int nf = 0, done = 0;
        size_t rl = 0, k;
        long cls;
        /* blank line between records */
        if (buf[p] == '\n' || (buf[p] == '\r' && p + 1 < n && buf[p + 1] == '\n')) { p += buf[p] == '\r' ? 2 : 1; line++; continue; }
        while (!done && st == NG_OK) {
            size_t fl = 0;
            if (nf == 3) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: more than 3 fields (expected \"class\",\"title\",\"body\")", src, (long long)rline); break; }
            if (p < n && buf[p] == '"') {
                p++;
                for (;;) {
                    if (p >= n) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: quoted field not closed before end of file", src, (long long)rline); break; }
                    if (buf[p] == '"') {
                        if (p + 1 < n && buf[p + 1] == '"') { if (fl >= NG_TEXT_MAX_LINE) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: field longer than %u bytes", src, (long long)rline, (unsigned)NG_TEXT_MAX_LINE); break; }
                        field[nf][fl++] = '"'; p += 2; continue; }
                        p++;
                        break;
                    }
                    if (buf[p] == '\n') line++;
                    if (fl >= NG_TEXT_MAX_LINE) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: field longer than %u bytes", src, (long long)rline, (unsigned)NG_TEXT_MAX_LINE); break; }
                    field[nf][fl++] = buf[p++];
                }
                if (st != NG_OK) break;
                if (p < n && buf[p] != ',' && buf[p] != '\n' && buf[p] != '\r') {
                    st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: unexpected character after a closing quote", src, (long long)line);
                    break;
                }
            } else {
                while (p < n && buf[p] != ',' && buf[p] != '\n' && buf[p] != '\r') {
                    if (buf[p] == '"') { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: quote inside an unquoted field", src, (long long)line); break; }
                    if (fl >= NG_TEXT_MAX_LINE) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: field longer than %u bytes", src, (long long)rline, (unsigned)NG_TEXT_MAX_LINE); break; }
                    field[nf][fl++] = buf[p++];
                }
                if (st != NG_OK) break;
            }
            flen[nf++] = fl;
            if (p < n && buf[p] == ',') { p++; continue; }
            if (p < n && buf[p] == '\r') p++;
            if (p < n && buf[p] == '\n') { p++; line++; }
            else if (p < n) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: bare carriage return", src, (long long)line); break; }
            done = 1;
        }
        if (st != NG_OK) break;
        if (nf != 3) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: %d field(s), expected 3 (\"class\",\"title\",\"body\")", src, (long long)rline, nf); break; }
        if (flen[0] != 1 || field[0][0] < '1' || field[0][0] > '4') {
            st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: class '%.*s' is not 1..4", src, (long long)rline, (int)(flen[0] > 20 ? 20 : flen[0]), field[0]);
            break;
        }
        cls = field[0][0] - '1';
        for (int f = 1; f < 3; f++) {
            if (f == 2) rec[rl++] = ' ';
            for (k = 0; k < flen[f]; k++) {
                if (field[f][k] == '\\' && k + 1 < flen[f] && field[f][k + 1] == 'n') { rec[rl++] = ' '; k++; }
                else rec[rl++] = field[f][k];
            }
        }
        st = ng_text_examples_add(out, (int32_t)cls, rec, rl);
    }
    for (int k = 0; k < 3; k++) free(field[k]);
    free(rec);
    if (st != NG_OK) ng_text_examples_free(out);
    return st;
}

static ng_status ng__ag_fn(const char *b, size_t n, const char *src, const void *arg, ng_text_examples *out) {
    (void)arg;
    return ng_agnews_parse(b, n, src, out);
}
ng_status ng_agnews_load(const char *path, ng_text_examples *out) { return ng__load_with(path, ng__ag_fn, NULL, out); }

/* SST */
static const char *const ng__sst5_names[5] = { "very negative", "negative", "neutral", "positive", "very positive" };
static const char *const ng__sst2_names[2] = { "negative", "positive" };

typedef struct { int label; int64_t a, b; } ng__sst_node;   /* leaves [a, b) */

ng_status ng_sst_parse(const char *buf, size_t n, const char *src_name, const ng_sst_opts *o, ng_text_examples *out) {
    const char *src = ng__tsrc(src_name);
    ng_sst_opts dopt = { 0, 0 };
    size_t p = 0, s, len, cap = 0;
    int64_t line = 0;
    ng_status st;
    int64_t *lstart = NULL, *lend = NULL;     /* leaf spans into wbuf */
    char *wbuf = NULL, *phr = NULL;
    ng__sst_node *stack = NULL, *done = NULL;
    memset(out, 0, sizeof *out);
    if (!o) o = &dopt;
    st = o->binary ? ng_text_examples_set_classes(out, 2, ng__sst2_names) : ng_text_examples_set_classes(out, 5, ng__sst5_names);
    while (st == NG_OK && ng__next_line(buf, n, &p, &s, &len)) {
        size_t i = 0, wl = 0;
        int64_t nleaf = 0, depth = 0, ndone = 0, k;
        int closed = 0;
        line++;
        while (len > 0 && (buf[s + len - 1] == ' ' || buf[s + len - 1] == '\t')) len--;
        if (len == 0) continue;
        if (len > NG_TEXT_MAX_LINE) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: line longer than %u bytes", src, (long long)line, (unsigned)NG_TEXT_MAX_LINE); break; }
        if (len + 1 > cap) {
            free(lstart); free(lend); free(wbuf); free(phr); free(stack); free(done);
            cap = len + 1;
            lstart = (int64_t *)malloc(cap * sizeof(int64_t)); lend = (int64_t *)malloc(cap * sizeof(int64_t));
            wbuf = (char *)malloc(cap * 5 + 8); phr = (char *)malloc(cap * 6 + 8);
            stack = (ng__sst_node *)malloc(cap * sizeof(ng__sst_node)); done = (ng__sst_node *)malloc(cap * sizeof(ng__sst_node));
            if (!lstart || !lend || !wbuf || !phr || !stack || !done) { st = ng_fail(NG_ERR_NOMEM, "SST: out of memory"); break; }
        }
        while (i < len && st == NG_OK) {
            char ch = buf[s + i];
            if (ch == ' ' || ch == '\t') { i++; continue; }
            if (closed) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: text after the end of the tree at column %zu", src, (long long)line, i + 1); break; }
            if (ch == '(') {
                i++;
                if (i >= len || buf[s + i] < '0' || buf[s + i] > '4' || (i + 1 < len && buf[s + i + 1] != ' ' && buf[s + i + 1] != '(')) {
                    st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: expected a label 0..4 after '(' at column %zu", src, (long long)line, i);
                    break;
                }
                stack[depth].label = buf[s + i] - '0';
                stack[depth].a = nleaf;
                stack[depth].b = -1;
                depth++;
                i++;
                while (i < len && buf[s + i] == ' ') i++;
                if (i < len && buf[s + i] != '(' && buf[s + i] != ')') {   /* a leaf word */
                    size_t ws = i, we, last;
                    while (i < len && buf[s + i] != ')' && buf[s + i] != '(') i++;
                    if (i >= len || buf[s + i] == '(') { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: leaf at column %zu not closed by ')'", src, (long long)line, ws + 1); break; }
                    we = i;
                    while (we > ws && buf[s + we - 1] == ' ') we--;
                    last = ws;
                    for (k = (int64_t)ws; k < (int64_t)we; k++) if (buf[s + k] == ' ') last = (size_t)k + 1;
                    lstart[nleaf] = (int64_t)wl;
                    for (k = (int64_t)last; k < (int64_t)we; k++) {
                        char c = buf[s + k];
                        if (c == '{' || c == '}') { memcpy(wbuf + wl, c == '{' ? "-LCB-" : "-RCB-", 5); wl += 5; }
                        else if (c == 0) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: NUL byte in a word", src, (long long)line); break; }
                        else wbuf[wl++] = c;
                    }
                    lend[nleaf++] = (int64_t)wl;
                }
            } else if (ch == ')') {
                if (depth == 0) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: unbalanced ')' at column %zu", src, (long long)line, i + 1); break; }
                depth--;
                done[ndone] = stack[depth];
                done[ndone].b = nleaf;
                ndone++;
                if (depth == 0) closed = 1;
                i++;
            } else {
                st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: unexpected '%c' at column %zu (a tree starts with '(')", src, (long long)line, ch, i + 1);
                break;
            }
        }
        if (st != NG_OK) break;
        if (!closed || depth != 0) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: tree not closed (%lld '(' open)", src, (long long)line, (long long)depth); break; }
        /* root sentence, then (phrases) every node in post-order */
        for (k = -1; k < (o->phrases ? ndone : 0) && st == NG_OK; k++) {
            ng__sst_node nd = k < 0 ? done[ndone - 1] : done[k];
            int64_t j;
            size_t pl = 0;
            int lab = nd.label;
            if (o->binary) { if (lab == 2) continue; lab = lab < 2 ? 0 : 1; }
            for (j = nd.a; j < nd.b; j++) {
                size_t L = (size_t)(lend[j] - lstart[j]);
                if (L == 0) continue;
                if (pl) phr[pl++] = ' ';
                memcpy(phr + pl, wbuf + lstart[j], L);
                pl += L;
            }
            if (pl == 0) continue;
            st = ng_text_examples_add(out, lab, phr, pl);
        }
    }
    free(lstart); free(lend); free(wbuf); free(phr); free(stack); free(done);
    if (st != NG_OK) ng_text_examples_free(out);
    return st;
}

static ng_status ng__sst_fn(const char *b, size_t n, const char *src, const void *arg, ng_text_examples *out) {
    return ng_sst_parse(b, n, src, (const ng_sst_opts *)arg, out);
}
ng_status ng_sst_load(const char *path, const ng_sst_opts *o, ng_text_examples *out) {
    return ng__load_with(path, ng__sst_fn, o, out);
}

/* WordNet */
const char *const ng_wordnet_lexnames[NG_WORDNET_CLASSES] = {
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather", "adj.ppl"
};

ng_status ng_wordnet_parse(const char *buf, size_t n, const char *src_name, const char *basename,
                           int split, ng_text_examples *out) {
    const char *src = ng__tsrc(src_name);
    size_t p = 0, s, len;
    int64_t line = 0;
    ng_status st = NG_OK;
    char key[128];
    if (out->num_classes == 0) st = ng_text_examples_set_classes(out, NG_WORDNET_CLASSES, ng_wordnet_lexnames);
    if (!basename) basename = "";
    if (strlen(basename) > 64) return ng_fail(NG_ERR_ARG, "WordNet: basename too long");
    while (st == NG_OK && ng__next_line(buf, n, &p, &s, &len)) {
        const char *l = buf + s, *bar;
        size_t off_len = 0, gs;
        int lex;
        line++;
        if (len == 0) continue;
        if (len >= 2 && l[0] == ' ' && l[1] == ' ') continue;
        while (off_len < len && l[off_len] >= '0' && l[off_len] <= '9') off_len++;
        if (off_len == 0 || off_len > 16 || off_len + 3 >= len || l[off_len] != ' ' ||
            l[off_len + 1] < '0' || l[off_len + 1] > '9' || l[off_len + 2] < '0' || l[off_len + 2] > '9' ||
            (off_len + 3 < len && l[off_len + 3] != ' ')) {
            st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: expected '<offset> <lex_filenum> ...'", src, (long long)line);
            break;
        }
        lex = (l[off_len + 1] - '0') * 10 + (l[off_len + 2] - '0');
        if (lex >= NG_WORDNET_CLASSES) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: lex_filenum %d is not 00..44", src, (long long)line, lex); break; }
        bar = NULL;
        for (gs = 0; gs + 1 < len; gs++) if (l[gs] == '|' && l[gs + 1] == ' ') { bar = l + gs; break; }
        if (!bar) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: no gloss ('| ')", src, (long long)line); break; }
        if (split >= 0) {
            int kl = snprintf(key, sizeof key, "%s:%.*s", basename, (int)off_len, l);
            uint64_t b = ng_fnv1a64(key, (size_t)kl) % 10u;
            int sp = b < 8 ? 0 : b == 8 ? 1 : 2;
            if (sp != split) continue;
        }
        {
            const char *g = bar + 2;
            size_t gl = len - (size_t)(g - l);
            while (gl > 0 && (g[gl - 1] == ' ' || g[gl - 1] == '\t')) gl--;
            st = ng_text_examples_add(out, lex, g, gl);
        }
    }
    return st;
}

ng_status ng_wordnet_load(const char *dir, int split, ng_text_examples *out) {
    static const char *const files[4] = { "data.noun", "data.verb", "data.adj", "data.adv" };
    ng_status st = NG_OK;
    int f;
    memset(out, 0, sizeof *out);
    if (!dir) dir = "/usr/share/wordnet";
    if (split < -1 || split > 2) return ng_fail(NG_ERR_ARG, "WordNet: split %d is not -1..2", split);
    for (f = 0; f < 4 && st == NG_OK; f++) {
        char path[4096];
        unsigned char *d;
        size_t n;
        snprintf(path, sizeof path, "%s/%s", dir, files[f]);
        st = ng_file_read_all(path, NG_TEXT_MAX_FILE, &d, &n);
        if (st != NG_OK) break;
        st = ng_wordnet_parse((const char *)d, n, path, files[f], split, out);
        free(d);
    }
    if (st != NG_OK) ng_text_examples_free(out);
    return st;
}

/* ---- word vectors ---- */
void ng_wordvec_free(ng_wordvec *w) {
    int64_t i;
    if (w->words) for (i = 0; i < w->n; i++) free(w->words[i]);
    free(w->words);
    free(w->vecs);
    ng_vocab_free(&w->index_);
    memset(w, 0, sizeof *w);
}

int64_t ng_wordvec_find(const ng_wordvec *w, const char *word) {
    int32_t id = ng_vocab_lookup(&w->index_, word);
    if (id < 2 || strcmp(w->index_.words[id], word) != 0) return -1;
    return (int64_t)id - 2;
}

typedef struct { ng_wordvec *w; const ng_vocab *keep; const char *src; int64_t line; int header_ok; float *tmp; } ng__wv_state;

static ng_status ng__wv_line(ng__wv_state *S, const char *l, size_t len) {
    ng_wordvec *w = S->w;
    size_t nf = 0, i = 0, tokend;
    int64_t line = ++S->line;
    while (len > 0 && (l[len - 1] == ' ' || l[len - 1] == '\t' || l[len - 1] == '\r')) len--;
    if (len == 0) return NG_OK;
    if (len > NG_TEXT_MAX_LINE) return ng_fail(NG_ERR_FORMAT, "'%s' line %lld: line longer than %u bytes", S->src, (long long)line, (unsigned)NG_TEXT_MAX_LINE);
    if (memchr(l, 0, len)) return ng_fail(NG_ERR_FORMAT, "'%s' line %lld: NUL byte", S->src, (long long)line);
    /* count fields */
    for (i = 0; i < len; i++) if (l[i] != ' ' && (i == 0 || l[i - 1] == ' ')) nf++;
    if (line == 1 && nf == 2) {   /* word2vec header "count dim"? */
        char tmp[64];
        long long cnt, dim;
        char *e1;
        if (len < sizeof tmp) {
            memcpy(tmp, l, len); tmp[len] = 0;
            cnt = strtoll(tmp, &e1, 10);
            if (e1 != tmp && *e1 == ' ') {
                char *e2;
                dim = strtoll(e1, &e2, 10);
                if (e2 != e1 && *e2 == 0) {
                    if (cnt < 0 || dim < 1 || dim > NG_WORDVEC_MAX_DIM)
                        return ng_fail(NG_ERR_FORMAT, "'%s' line 1: header dim %lld is not 1..%d", S->src, dim, NG_WORDVEC_MAX_DIM);
                    w->dim = (int)dim;
                    return NG_OK;
                }
            }
        }
    }
    if (nf < 2) return ng_fail(NG_ERR_FORMAT, "'%s' line %lld: expected a token and its vector", S->src, (long long)line);
    if (w->dim == 0) {
        if (nf - 1 > NG_WORDVEC_MAX_DIM) return ng_fail(NG_ERR_FORMAT, "'%s' line %lld: %zu values, more than %d", S->src, (long long)line, nf - 1, NG_WORDVEC_MAX_DIM);
        w->dim = (int)(nf - 1);
    }
    if (!S->tmp) { S->tmp = (float *)malloc((size_t)w->dim * sizeof(float)); if (!S->tmp) return ng_fail(NG_ERR_NOMEM, "word vectors: out of memory"); }
    if (nf < (size_t)w->dim + 1)
        return ng_fail(NG_ERR_FORMAT, "'%s' line %lld: %zu columns, expected a token and %d values", S->src, (long long)line, nf, w->dim);
    /* the token is everything before the last dim fields */
    {
        size_t f = 0, skip = nf - (size_t)w->dim, k;
        tokend = 0;
        for (i = 0; i < len; i++) {
            if (l[i] != ' ' && (i == 0 || l[i - 1] == ' ')) {
                if (f == skip) break;
                f++;
            }
        }
        tokend = i;
        while (tokend > 0 && l[tokend - 1] == ' ') tokend--;
        for (k = 0; k < (size_t)w->dim; k++) {
            char num[64];
            size_t s0 = i, L;
            char *e;
            float v;
            while (i < len && l[i] != ' ') i++;
            L = i - s0;
            if (L == 0 || L >= sizeof num)
                return ng_fail(NG_ERR_FORMAT, "'%s' line %lld: value %zu is not a number", S->src, (long long)line, k + 1);
            memcpy(num, l + s0, L); num[L] = 0;
            v = strtof(num, &e);
            if (*e != 0 || !isfinite(v))
                return ng_fail(NG_ERR_FORMAT, "'%s' line %lld: value %zu '%s' is not a finite number", S->src, (long long)line, k + 1, num);
            S->tmp[k] = v;
            while (i < len && l[i] == ' ') i++;
        }
    }
    {
        char *tok = (char *)malloc(tokend + 1);
        int64_t id;
        ng_status st;
        if (!tok) return ng_fail(NG_ERR_NOMEM, "word vectors: out of memory");
        memcpy(tok, l, tokend); tok[tokend] = 0;
        if ((S->keep && (ng_vocab_lookup(S->keep, tok) < 2 || strcmp(S->keep->words[ng_vocab_lookup(S->keep, tok)], tok) != 0)) ||
            ng_wordvec_find(w, tok) >= 0) { free(tok); return NG_OK; }
        if (w->n == w->cap_) {
            int64_t nc = w->cap_ ? 2 * w->cap_ : 256;
            char **nw = (char **)realloc(w->words, (size_t)nc * sizeof(char *));
            float *nv;
            if (!nw) { free(tok); return ng_fail(NG_ERR_NOMEM, "word vectors: out of memory"); }
            w->words = nw;
            nv = (float *)realloc(w->vecs, (size_t)nc * (size_t)w->dim * sizeof(float));
            if (!nv) { free(tok); return ng_fail(NG_ERR_NOMEM, "word vectors: out of memory"); }
            w->vecs = nv;
            w->cap_ = nc;
        }
        st = ng__vocab_add(&w->index_, tok, &id);
        if (st != NG_OK) { free(tok); return st; }
        memcpy(w->vecs + (size_t)w->n * (size_t)w->dim, S->tmp, (size_t)w->dim * sizeof(float));
        w->words[w->n++] = tok;
    }
    return NG_OK;
}

static ng_status ng__wv_begin(ng__wv_state *S, ng_wordvec *out, const ng_vocab *keep, const char *src) {
    memset(out, 0, sizeof *out);
    memset(S, 0, sizeof *S);
    S->w = out; S->keep = keep; S->src = ng__tsrc(src);
    return ng__vocab_specials(&out->index_);   /* ids 0/1 reserved so row = id - 2 */
}

static ng_status ng__wv_end(ng__wv_state *S, ng_status st) {
    free(S->tmp);
    if (st == NG_OK && S->w->dim == 0) st = ng_fail(NG_ERR_FORMAT, "'%s': no vectors", S->src);
    if (st != NG_OK) ng_wordvec_free(S->w);
    return st;
}

ng_status ng_wordvec_parse(const char *buf, size_t n, const char *src_name, const ng_vocab *keep, ng_wordvec *out) {
    ng__wv_state S;
    size_t p = 0, s, len;
    ng_status st = ng__wv_begin(&S, out, keep, src_name);
    while (st == NG_OK && ng__next_line(buf, n, &p, &s, &len)) st = ng__wv_line(&S, buf + s, len);
    return ng__wv_end(&S, st);
}

ng_status ng_wordvec_load(const char *path, const ng_vocab *keep, ng_wordvec *out) {
    ng__wv_state S;
    FILE *f;
    char *line;
    ng_status st = ng__wv_begin(&S, out, keep, path);
    if (st != NG_OK) return ng__wv_end(&S, st);
    f = fopen(path, "rb");
    if (!f) return ng__wv_end(&S, ng_fail(NG_ERR_IO, "cannot open '%s': %s", path, strerror(errno)));
    line = (char *)malloc(NG_TEXT_MAX_LINE + 2);
    if (!line) { fclose(f); return ng__wv_end(&S, ng_fail(NG_ERR_NOMEM, "word vectors: out of memory")); }
    while (st == NG_OK && fgets(line, NG_TEXT_MAX_LINE + 2, f)) {
        size_t L = strlen(line);
        if (L > 0 && line[L - 1] == '\n') L--;
        else if (!feof(f)) { st = ng_fail(NG_ERR_FORMAT, "'%s' line %lld: line longer than %u bytes", path, (long long)S.line + 1, (unsigned)NG_TEXT_MAX_LINE); break; }
        st = ng__wv_line(&S, line, L);
    }
    if (st == NG_OK && ferror(f)) st = ng_fail(NG_ERR_IO, "reading '%s' failed", path);
    free(line);
    fclose(f);
    return ng__wv_end(&S, st);
}

void ng_wordvec_init_embedding(const ng_wordvec *w, const ng_vocab *v, ng_rng *r, float *table, int64_t *found) {
    int64_t V = v->size, i, k, hits = 0;
    int D = w->dim;
    for (i = 0; i < V * D; i++) table[i] = ng_rng_uniformf(r, -0.25f, 0.25f);
    if (V > 0) for (k = 0; k < D; k++) table[k] = 0.0f;
    if (V > 1) for (k = 0; k < D; k++) table[D + k] = ng_rng_uniformf(r, -0.25f, 0.25f);
    for (i = 2; i < V; i++) {
        int64_t row = ng_wordvec_find(w, v->words[i]);
        if (row >= 0) { memcpy(table + i * D, w->vecs + row * D, (size_t)D * sizeof(float)); hits++; }
        else for (k = 0; k < D; k++) table[i * D + k] = ng_rng_uniformf(r, -0.25f, 0.25f);
    }
    if (found) *found = hits;
}
