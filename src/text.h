/* ======================================================================================== */
/* @@TEXT  tokenizer, vocabulary, encoding, text datasets and readers (TextNAS input)        */
/* ======================================================================================== */
/* TOKENIZER (needs utf8proc: build with NG_USE_UTF8PROC and link -lutf8proc; otherwise
   ng_tokenize returns NG_ERR_UNSUPPORTED). Steps:
     1. UTF-8 validation. Overlong forms, surrogates (U+D800..DFFF), code points > U+10FFFF,
        stray continuation bytes and truncated sequences are NG_ERR_FORMAT naming the source and
        line, or, with replace_invalid, each maximal invalid subsequence becomes one U+FFFD.
     2. NFKC (utf8proc COMPOSE|COMPAT|STABLE, plus CASEFOLD when casefold): "ﬁ" -> "fi",
        "ＡＢＣ１２３" -> "ABC123"; casefold is full folding: "Straße" -> "strasse", "Σ" and
        the final sigma "ς" both fold to "σ" (so "ΣΟΦΟΣ" and "σοφος" meet as "σοφοσ").
     3. Split by Unicode general category:
        - letters (L*) and numbers (N*) GLUE into one token: "mp3", "covid19", "2nd", "ABC123"
          stay whole; "3.14" is "3" "." "14".
        - marks (M*) attach to the token before them (a leading mark starts a token);
        - CJK ideographs, Hiragana and Katakana: one token per character (no segmenter);
          Hangul and every other script form words like Latin;
        - each punctuation (P*) and symbol (S*) character is its own token, except emoji
          sequences: a ZWJ (U+200D) joins the next symbol to the current one, variation
          selectors and keycap marks (M*) and skin-tone modifiers (U+1F3FB..1F3FF) and tag
          characters (U+E0020..E007F) attach, and two regional indicators form one flag;
        - whitespace of every script (Zs, Zl, Zp) and control characters (Cc: \t \n \r ...)
          separate; other format characters (Cf: soft hyphen, ZWJ outside emoji, BOM) are
          dropped without splitting; private-use / unassigned characters are single tokens.
   VOCABULARY: id 0 "<pad>", id 1 "<unk>", then the kept tokens (count >= min_count, at most
   max_size entries in all) ordered by count descending, ties in byte (= code point) order;
   with `sorted` set, kept tokens are in byte order only (TextNAS's SST vocabulary).
   Saved as UTF-8 text, one token per line, line i = id i (the first two lines are the
   specials), written atomically. */
#ifndef NG_TEXT_MAX_LINE
#define NG_TEXT_MAX_LINE (1u << 20)          /* longest line / record a reader accepts */
#endif
#ifndef NG_TEXT_MAX_FILE
#define NG_TEXT_MAX_FILE (((size_t)1) << 31) /* largest file the *_load readers accept */
#endif
#ifndef NG_TEXT_MAX_CLASSES
#define NG_TEXT_MAX_CLASSES 10000
#endif
#define NG_TEXT_PAD 0
#define NG_TEXT_UNK 1

typedef struct ng_text_opts {
    int casefold;          /* 1: Unicode full case folding after NFKC (default 0: GloVe is cased) */
    int replace_invalid;   /* 1: invalid UTF-8 -> U+FFFD instead of an error (default 0) */
    int max_len;           /* encoded length L (default 64, TextNAS retrain) */
} ng_text_opts;
ng_text_opts ng_text_opts_default(void);

/* Tokens of one text: tok[i] are NUL-terminated strings inside one block. */
typedef struct ng_tokens { int64_t n; char **tok; char *buf_; } ng_tokens;
void ng_tokens_free(ng_tokens *t);
/* text need not be NUL-terminated (n bytes; embedded NULs are control characters).
   src_name/line name the input in error messages. out is valid (n = 0) on failure. */
ng_status ng_tokenize(const char *text, size_t n, const ng_text_opts *o, const char *src_name,
                      int64_t line, ng_tokens *out);
/* Split on single spaces (empty pieces skipped): TextNAS's SST "tokenizer". Never fails except NOMEM. */
ng_status ng_tokenize_spaces(const char *text, size_t n, ng_tokens *out);

typedef struct ng_vocab {
    int64_t size;          /* V, including <pad> and <unk> */
    char **words;          /* (V) */
    int64_t *slots_;       /* hash table (id + 1, 0 = empty) */
    int64_t cap_;
} ng_vocab;
typedef struct ng_vocab_opts {
    int64_t min_count;     /* default 1 */
    int64_t max_size;      /* including the two specials; 0 = no limit */
    int sorted;            /* 1: byte order instead of count order */
} ng_vocab_opts;
ng_vocab_opts ng_vocab_opts_default(void);
int32_t ng_vocab_lookup(const ng_vocab *v, const char *word);   /* NG_TEXT_UNK if absent */
void ng_vocab_free(ng_vocab *v);
ng_status ng_vocab_save(const ng_vocab *v, const char *path);
ng_status ng_vocab_load(const char *path, ng_vocab *v);
ng_status ng_vocab_parse(const char *buf, size_t n, const char *src_name, ng_vocab *v);
/* ids (L), mask (L, 1 for tokens, 0 for padding; may be NULL), length (may be NULL): head kept,
   padding at the tail with NG_TEXT_PAD. */
void ng_text_encode(const ng_vocab *v, const char *const *tok, int64_t ntok, int max_len,
                    int32_t *ids, float *mask, int32_t *length);

/* Labelled raw texts, as read. */
typedef struct ng_text_examples {
    int64_t n;
    int32_t *labels;       /* (n), 0..num_classes-1 */
    char **texts;          /* (n) NUL-terminated UTF-8 */
    int num_classes;
    char **class_names;    /* (num_classes) */
    int64_t cap_;
} ng_text_examples;
void ng_text_examples_free(ng_text_examples *e);
ng_status ng_text_examples_add(ng_text_examples *e, int32_t label, const char *text, size_t len);
ng_status ng_text_examples_set_classes(ng_text_examples *e, int num_classes, const char *const *names);

typedef struct ng_text_dataset {
    int64_t n;
    int max_len;
    int num_classes;
    int32_t *ids;          /* (n, max_len) */
    int32_t *lengths;      /* (n) */
    int32_t *labels;       /* (n) */
    char **class_names;    /* (num_classes) */
} ng_text_dataset;
void ng_text_dataset_free(ng_text_dataset *d);
/* Count tokens over any number of example sets (e.g. train only, or train+dev+test as TextNAS
   does for SST). o == NULL: split on spaces (pre-tokenized text such as SST). */
ng_status ng_vocab_build(const ng_text_examples *const *sets, int nsets, const ng_text_opts *o,
                         const ng_vocab_opts *vo, ng_vocab *out);
/* Tokenize (o == NULL: spaces) and encode every example to o->max_len (or max_len_if_null). */
ng_status ng_text_dataset_make(const ng_text_examples *e, const ng_vocab *v, const ng_text_opts *o,
                               int max_len_if_null, ng_text_dataset *out);

/* ---- readers: parse from memory (src_name in messages) or load a file; errors name the file
   and line. All texts are checked to be valid UTF-8 only when tokenized. ---- */
/* TSV: `label<TAB>text` per line (\n or \r\n; blank lines skipped; the text may hold further
   TABs). integer_labels = 0: labels are strings, class ids in order of first appearance and
   class_names are the strings. integer_labels = 1: labels are decimal 0..NG_TEXT_MAX_CLASSES-1,
   num_classes = largest + 1, class_names "0", "1", ... */
ng_status ng_tsv_parse(const char *buf, size_t n, const char *src_name, int integer_labels,
                       ng_text_examples *out);
ng_status ng_tsv_load(const char *path, int integer_labels, ng_text_examples *out);
/* AG News CSV (Zhang et al. 2015): `"class","title","body"` per record, RFC 4180 quoting
   (doubled quotes, commas and newlines inside quotes, \r\n accepted). class 1..4 -> 0..3
   (World, Sports, Business, Sci/Tech); text = title + " " + body, with AG's literal
   backslash-n sequences ("\n" as two characters) turned into spaces. */
ng_status ng_agnews_parse(const char *buf, size_t n, const char *src_name, ng_text_examples *out);
ng_status ng_agnews_load(const char *path, ng_text_examples *out);
/* SST PTB trees (textnas.md 2.2/2.3), one tree per line, labels 0..4 at every node.
   phrases = 0: each root sentence once. phrases = 1 (TextNAS train/dev): the root sentence,
   then every node in post-order, leaves included (so the root appears twice; no
   deduplication). binary: 0,1 -> 0, 3,4 -> 1, neutral (2) phrases dropped. Leaves holding a
   space keep only the text after the last space; "{" -> "-LCB-", "}" -> "-RCB-"; words are
   not unescaped or lowercased; a phrase is its leaves joined by single spaces; empty phrases
   are skipped. */
typedef struct ng_sst_opts { int binary; int phrases; } ng_sst_opts;
ng_status ng_sst_parse(const char *buf, size_t n, const char *src_name, const ng_sst_opts *o,
                       ng_text_examples *out);
ng_status ng_sst_load(const char *path, const ng_sst_opts *o, ng_text_examples *out);
/* WordNet gloss supersense task (data.md). Files data.{noun,verb,adj,adv} in dir (NULL:
   /usr/share/wordnet); lines starting with two spaces (license) skipped; label = lex_filenum
   (00..44, the 45 lexnames(5WN) names); text = the gloss after "| " with trailing spaces cut.
   Split: h = FNV-1a 64 of "<basename>:<offset>" (e.g. "data.noun:00001740", the offset as
   the 8 digits in the file); h % 10 in 0..7 train, 8 valid, 9 test. split: 0 train, 1 valid,
   2 test, -1 all. ng_wordnet_parse APPENDS to out (zero it before the first call; the 45
   class names are set when out has none); ng_wordnet_load reads the four files in the order
   noun, verb, adj, adv. */
#define NG_WORDNET_CLASSES 45
extern const char *const ng_wordnet_lexnames[NG_WORDNET_CLASSES];
uint64_t ng_fnv1a64(const void *data, size_t n);
ng_status ng_wordnet_parse(const char *buf, size_t n, const char *src_name, const char *basename,
                           int split, ng_text_examples *out);
ng_status ng_wordnet_load(const char *dir, int split, ng_text_examples *out);

/* Word vectors, GloVe / word2vec text: optional first line "count dim"; then `token v1 .. vD`
   separated by spaces. D comes from the header or the first row; every row must have D
   values. A row with more than D + 1 fields takes its last D fields as the vector and the
   rest (joined by single spaces) as the token (GloVe 840B has tokens with spaces, as NNI
   reads it). Duplicate tokens: the first wins. keep != NULL: only tokens in that vocabulary
   are stored (how a 5 GB GloVe file is read for one dataset). */
typedef struct ng_wordvec {
    int64_t n;
    int dim;
    char **words;          /* (n) */
    float *vecs;           /* (n, dim) */
    ng_vocab index_;       /* word -> row lookup (ids 0/1 unused) */
    int64_t cap_;
} ng_wordvec;
#ifndef NG_WORDVEC_MAX_DIM
#define NG_WORDVEC_MAX_DIM 4096
#endif
void ng_wordvec_free(ng_wordvec *w);
ng_status ng_wordvec_parse(const char *buf, size_t n, const char *src_name, const ng_vocab *keep,
                           ng_wordvec *out);
ng_status ng_wordvec_load(const char *path, const ng_vocab *keep, ng_wordvec *out);
int64_t ng_wordvec_find(const ng_wordvec *w, const char *word);   /* row or -1 */
/* TextNAS 2.5 order: the whole (V, dim) table ~ U[-0.25, 0.25) row-major; row 0 (<pad>) = 0;
   row 1 (<unk>) a fresh draw; then for ids 2.. in order: the exact-match vector, or a fresh
   U[-0.25, 0.25) draw. *found (may be NULL) = number of ids >= 2 with a vector. */
void ng_wordvec_init_embedding(const ng_wordvec *w, const ng_vocab *v, ng_rng *r,
                               float *table /* (V, dim) */, int64_t *found);
