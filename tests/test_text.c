/* Text pipeline: tokenizer, vocabulary, encoding, readers (TSV, AG News CSV, SST, WordNet,
   word vectors). Crafted files live in ng_test_tmpdir(). */
#include "test.h"

static void text_path(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", ng_test_tmpdir(), name); }
static void write_file(const char *path, const char *s) { CHECK_OK(ng_file_write_atomic(path, s, strlen(s))); }

/* tokens joined by '|' */
static int tok_is(const char *text, int casefold, const char *expect) {
    ng_text_opts o = ng_text_opts_default();
    ng_tokens t;
    char got[1024];
    size_t w = 0;
    int64_t i;
    o.casefold = casefold;
    if (ng_tokenize(text, strlen(text), &o, "t", 1, &t) != NG_OK) {
        ng_test_fail(__FILE__, __LINE__, "tokenize '%s' failed: %s", text, ng_last_error());
        return 0;
    }
    got[0] = 0;
    for (i = 0; i < t.n; i++) w += (size_t)snprintf(got + w, sizeof got - w, "%s%s", i ? "|" : "", t.tok[i]);
    ng_tokens_free(&t);
    if (strcmp(got, expect) != 0) {
        ng_test_fail(__FILE__, __LINE__, "tokenize '%s': got '%s', expected '%s'", text, got, expect);
        return 0;
    }
    return 1;
}

TEST(text_tokenize_nfkc_casefold) {
#ifndef NG_USE_UTF8PROC
    printf("  skip: utf8proc not compiled in\n");
    return;
#endif
    CHECK(tok_is("\xEF\xAC\x81ne", 0, "fine"));                                  /* ﬁne */
    CHECK(tok_is("\xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\xA3\xEF\xBC\x91\xEF\xBC\x92\xEF\xBC\x93", 0, "ABC123"));
    CHECK(tok_is("Stra\xC3\x9F" "e", 1, "strasse"));
    CHECK(tok_is("Stra\xC3\x9F" "e", 0, "Stra\xC3\x9F" "e"));
    CHECK(tok_is("\xCE\xA3\xCE\x9F\xCE\xA6\xCE\x9F\xCE\xA3", 1, "\xCF\x83\xCE\xBF\xCF\x86\xCE\xBF\xCF\x83"));   /* ΣΟΦΟΣ -> σοφοσ */
    CHECK(tok_is("\xCF\x83\xCE\xBF\xCF\x86\xCE\xBF\xCF\x82", 1, "\xCF\x83\xCE\xBF\xCF\x86\xCE\xBF\xCF\x83"));   /* σοφος (final ς) -> σοφοσ */
    CHECK(tok_is("Hello, World!", 1, "hello|,|world|!"));
}

TEST(text_tokenize_multilingual) {
#ifndef NG_USE_UTF8PROC
    printf("  skip: utf8proc not compiled in\n");
    return;
#endif
    /* combining acute composes (NFKC): "e\u0301" -> "é" */
    CHECK(tok_is("cafe\xCC\x81 na\xC3\xAFve", 0, "caf\xC3\xA9|na\xC3\xAFve"));
    CHECK(tok_is("\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82, \xD0\xBC\xD0\xB8\xD1\x80", 0,
                 "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82|,|\xD0\xBC\xD0\xB8\xD1\x80"));   /* Привет, мир */
    CHECK(tok_is("\xE4\xB8\xAD\xE6\x96\x87\xE3\x81\x8B", 0, "\xE4\xB8\xAD|\xE6\x96\x87|\xE3\x81\x8B"));  /* 中文か */
    CHECK(tok_is("\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7 \xD8\xA8\xD9\x83", 0, "\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7|\xD8\xA8\xD9\x83"));
    /* digits glue to letters, '.' splits numbers, tabs/newlines/NBSP/ideographic space separate */
    CHECK(tok_is("mp3 3.14\tx\ny\xC2\xA0z\xE3\x80\x80w", 0, "mp3|3|.|14|x|y|z|w"));
    /* soft hyphen dropped without splitting */
    CHECK(tok_is("co\xC2\xADop", 0, "coop"));
    CHECK(tok_is("", 0, ""));
    CHECK(tok_is("   \t\r\n", 0, ""));
    CHECK(tok_is("$5", 0, "$|5"));
    /* a combining mark stays with the CJK character before it; punctuation splits contractions */
    CHECK(tok_is("\xE4\xB8\xAD\xCC\x81\xE6\x96\x87", 0, "\xE4\xB8\xAD\xCC\x81|\xE6\x96\x87"));
    CHECK(tok_is("don't!?", 0, "don|'|t|!|?"));
}

TEST(text_tokenize_emoji) {
#ifndef NG_USE_UTF8PROC
    printf("  skip: utf8proc not compiled in\n");
    return;
#endif
    /* thumbs up + skin tone, family ZWJ sequence, heart + VS16, flag (two regional indicators) */
    CHECK(tok_is("ok\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD!", 0, "ok|\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD|!"));
    CHECK(tok_is("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7", 0,
                 "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7"));
    CHECK(tok_is("\xE2\x9D\xA4\xEF\xB8\x8F\xE2\x9D\xA4", 0, "\xE2\x9D\xA4\xEF\xB8\x8F|\xE2\x9D\xA4"));
    CHECK(tok_is("\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7\xF0\x9F\x87\xA9\xF0\x9F\x87\xAA", 0,
                 "\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7|\xF0\x9F\x87\xA9\xF0\x9F\x87\xAA"));
}

TEST(text_tokenize_invalid_utf8) {
#ifndef NG_USE_UTF8PROC
    printf("  skip: utf8proc not compiled in\n");
#else
    static const char *bad[] = { "ab\xC0\xAF", "x\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xF5\x80",
                                 "ok \xE2\x82", "\x80z", "\xC3" "a" };
    ng_text_opts o = ng_text_opts_default();
    ng_tokens t;
    size_t k;
    for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        ng_status st = ng_tokenize(bad[k], strlen(bad[k]), &o, "in.txt", 7, &t);
        CHECK_MSG(st == NG_ERR_FORMAT, "case %zu accepted", k);
        CHECK(strstr(ng_last_error(), "in.txt") && strstr(ng_last_error(), "line 7"));
        CHECK(t.n == 0);
        ng_tokens_free(&t);
    }
    CHECK(strstr((ng_tokenize(bad[2], 3, &o, "s", 1, &t), ng_last_error()), "surrogate"));
    ng_tokens_free(&t);
    o.replace_invalid = 1;
    CHECK_OK(ng_tokenize("ab\xC0 cd", 6, &o, "in.txt", 1, &t));
    CHECK(t.n == 3 && strcmp(t.tok[0], "ab") == 0 && strcmp(t.tok[1], "\xEF\xBF\xBD") == 0 && strcmp(t.tok[2], "cd") == 0);
    ng_tokens_free(&t);
#endif
}

TEST(text_tokenize_unsupported) {
#ifdef NG_USE_UTF8PROC
    printf("  skip: utf8proc compiled in\n");
#else
    ng_tokens t;
    CHECK(ng_tokenize("a", 1, NULL, "x", 1, &t) == NG_ERR_UNSUPPORTED);
    CHECK(strstr(ng_last_error(), "utf8proc") != NULL);
#endif
}

static void add(ng_text_examples *e, int label, const char *s) { CHECK_OK(ng_text_examples_add(e, label, s, strlen(s))); }

TEST(text_vocab_build_encode_save) {
    ng_text_examples e;
    const ng_text_examples *sets[1];
    ng_vocab v, v2;
    ng_vocab_opts vo = ng_vocab_opts_default();
    int32_t ids[6], len;
    float mask[6];
    const char *toks[3] = { "b", "zz", "a" };
    char path[512];
    int64_t i;
    memset(&e, 0, sizeof e);
    add(&e, 0, "b a c b");
    add(&e, 1, "a b d  <unk>");
    sets[0] = &e;
    CHECK_OK(ng_vocab_build(sets, 1, NULL, &vo, &v));
    /* counts: b 3, a 2, c 1, d 1 -> b a c d */
    CHECK(v.size == 6);
    CHECK(strcmp(v.words[0], "<pad>") == 0 && strcmp(v.words[1], "<unk>") == 0);
    CHECK(strcmp(v.words[2], "b") == 0 && strcmp(v.words[3], "a") == 0 && strcmp(v.words[4], "c") == 0 && strcmp(v.words[5], "d") == 0);
    CHECK(ng_vocab_lookup(&v, "c") == 4 && ng_vocab_lookup(&v, "nope") == NG_TEXT_UNK);
    ng_text_encode(&v, toks, 3, 6, ids, mask, &len);
    CHECK(len == 3 && ids[0] == 2 && ids[1] == 1 && ids[2] == 3 && ids[3] == 0 && ids[5] == 0);
    CHECK(mask[2] == 1.0f && mask[3] == 0.0f);
    ng_text_encode(&v, toks, 3, 2, ids, NULL, &len);
    CHECK(len == 2 && ids[0] == 2 && ids[1] == 1);
    text_path(path, sizeof path, "vocab.txt");
    CHECK_OK(ng_vocab_save(&v, path));
    CHECK_OK(ng_vocab_load(path, &v2));
    CHECK(v2.size == v.size);
    for (i = 0; i < v.size && i < v2.size; i++) CHECK(strcmp(v.words[i], v2.words[i]) == 0);
    ng_vocab_free(&v2);
    ng_vocab_free(&v);
    vo.min_count = 2;
    CHECK_OK(ng_vocab_build(sets, 1, NULL, &vo, &v));
    CHECK(v.size == 4);
    ng_vocab_free(&v);
    vo.min_count = 1; vo.sorted = 1; vo.max_size = 5;
    CHECK_OK(ng_vocab_build(sets, 1, NULL, &vo, &v));
    /* most frequent three (b, a, then c by byte order), stored sorted */
    CHECK(v.size == 5 && strcmp(v.words[2], "a") == 0 && strcmp(v.words[3], "b") == 0 && strcmp(v.words[4], "c") == 0);
    ng_vocab_free(&v);
    /* malformed vocab files */
    write_file(path, "<pad>\n<unk>\nx\nx\n");
    CHECK(ng_vocab_load(path, &v) == NG_ERR_FORMAT && strstr(ng_last_error(), "vocab.txt") && strstr(ng_last_error(), "line 4"));
    {   /* a token holding a line break cannot be saved */
        ng_vocab bad;
        const ng_text_examples *one[1];
        ng_text_examples ex;
        memset(&ex, 0, sizeof ex);
        add(&ex, 0, "a\nb c");
        one[0] = &ex;
        CHECK_OK(ng_vocab_build(one, 1, NULL, NULL, &bad));
        CHECK(ng_vocab_save(&bad, path) == NG_ERR_ARG && strstr(ng_last_error(), "line break"));
        ng_vocab_free(&bad);
        ng_text_examples_free(&ex);
    }
    write_file(path, "<unk>\n");
    CHECK(ng_vocab_load(path, &v) == NG_ERR_FORMAT && strstr(ng_last_error(), "line 1"));
    ng_text_examples_free(&e);
}

TEST(text_tsv_reader_and_dataset) {
    char path[512];
    ng_text_examples e;
    ng_text_dataset d;
    ng_vocab v;
    const ng_text_examples *sets[1];
    text_path(path, sizeof path, "a.tsv");
    write_file(path, "pos\tgood film\r\n\nneg\tbad\tfilm\npos\t\n");
    CHECK_OK(ng_tsv_load(path, 0, &e));
    CHECK(e.n == 3 && e.num_classes == 2);
    CHECK(strcmp(e.class_names[0], "pos") == 0 && strcmp(e.class_names[1], "neg") == 0);
    CHECK(e.labels[1] == 1 && strcmp(e.texts[0], "good film") == 0 && strcmp(e.texts[1], "bad\tfilm") == 0 && e.texts[2][0] == 0);
    sets[0] = &e;
    CHECK_OK(ng_vocab_build(sets, 1, NULL, NULL, &v));
    CHECK_OK(ng_text_dataset_make(&e, &v, NULL, 4, &d));
    CHECK(d.n == 3 && d.max_len == 4 && d.lengths[0] == 2 && d.lengths[2] == 0 && d.labels[1] == 1);
    CHECK(d.ids[0] == ng_vocab_lookup(&v, "good") && d.ids[3] == 0 && strcmp(d.class_names[1], "neg") == 0);
    ng_text_dataset_free(&d);
#ifdef NG_USE_UTF8PROC
    {
        ng_text_opts o = ng_text_opts_default();
        o.casefold = 1;
        o.max_len = 8;
        CHECK_OK(ng_text_dataset_make(&e, &v, &o, 0, &d));
        CHECK(d.lengths[1] == 2 && d.max_len == 8);
        ng_text_dataset_free(&d);
    }
#endif
    ng_vocab_free(&v);
    ng_text_examples_free(&e);
    write_file(path, "3\tx\n0\ty\n");
    CHECK_OK(ng_tsv_load(path, 1, &e));
    CHECK(e.num_classes == 4 && e.labels[0] == 3 && strcmp(e.class_names[2], "2") == 0);
    ng_text_examples_free(&e);
    write_file(path, "a\tx\nno tab here\n");
    CHECK(ng_tsv_load(path, 0, &e) == NG_ERR_FORMAT);
    CHECK(strstr(ng_last_error(), "a.tsv") && strstr(ng_last_error(), "line 2") && strstr(ng_last_error(), "TAB"));
    write_file(path, "1\tx\n-1\ty\n");
    CHECK(ng_tsv_load(path, 1, &e) == NG_ERR_FORMAT && strstr(ng_last_error(), "line 2"));
    CHECK(e.n == 0 && e.texts == NULL);
    {   /* a line over NG_TEXT_MAX_LINE is refused, naming the line */
        size_t big = NG_TEXT_MAX_LINE + 10, k;
        char *b = (char *)malloc(big + 8);
        if (!b) { CHECK(b != NULL); return; }
        memcpy(b, "a\tx\nb\t", 6);
        for (k = 6; k < big + 6; k++) b[k] = 'y';
        b[big + 6] = '\n';
        CHECK(ng_tsv_parse(b, big + 7, "big.tsv", 0, &e) == NG_ERR_FORMAT && strstr(ng_last_error(), "big.tsv") && strstr(ng_last_error(), "line 2"));
        free(b);
    }
}

TEST(text_agnews_csv) {
    char path[512];
    ng_text_examples e;
    text_path(path, sizeof path, "ag.csv");
    write_file(path, "\"3\",\"Wall St. Bears\",\"Reuters - Short-sellers, \"\"ultra-cynics\"\"\\nare back.\"\r\n"
                     "\"1\",\"Multi\nline\",\"a,b\"\n2,plain,field\n");
    CHECK_OK(ng_agnews_load(path, &e));
    CHECK(e.n == 3 && e.num_classes == 4 && strcmp(e.class_names[3], "Sci/Tech") == 0);
    CHECK(e.labels[0] == 2 && e.labels[1] == 0 && e.labels[2] == 1);
    CHECK(strcmp(e.texts[0], "Wall St. Bears Reuters - Short-sellers, \"ultra-cynics\" are back.") == 0);
    CHECK(strcmp(e.texts[1], "Multi\nline a,b") == 0);
    CHECK(strcmp(e.texts[2], "plain field") == 0);
    ng_text_examples_free(&e);
    write_file(path, "\"1\",\"a\",\"b\"\n\"5\",\"a\",\"b\"\n");
    CHECK(ng_agnews_load(path, &e) == NG_ERR_FORMAT && strstr(ng_last_error(), "ag.csv") && strstr(ng_last_error(), "line 2"));
    write_file(path, "\"1\",\"a\nb\",\"c\"\n\"2\",\"x\"\n");
    CHECK(ng_agnews_load(path, &e) == NG_ERR_FORMAT && strstr(ng_last_error(), "line 3") && strstr(ng_last_error(), "field"));
    write_file(path, "\"1\",\"a\",\"unterminated\n");
    CHECK(ng_agnews_load(path, &e) == NG_ERR_FORMAT && strstr(ng_last_error(), "line 1") && strstr(ng_last_error(), "not closed"));
    write_file(path, "\"1\",\"a\"x,\"b\"\n");
    CHECK(ng_agnews_load(path, &e) == NG_ERR_FORMAT && strstr(ng_last_error(), "line 1"));
    CHECK(e.n == 0);
}

TEST(text_sst_trees) {
    char path[512];
    ng_text_examples e;
    ng_sst_opts o = { 0, 0 };
    text_path(path, sizeof path, "sst.txt");
    /* second tree: leaf with a space keeps the text after the last space; braces mapped */
    write_file(path, "(3 (2 It) (4 (4 works) (2 .)))\n\n(1 (2 8 1\\/2) (0 {bad}))\n");
    CHECK_OK(ng_sst_load(path, &o, &e));
    CHECK(e.n == 2 && e.num_classes == 5);
    CHECK(strcmp(e.texts[0], "It works .") == 0 && e.labels[0] == 3);
    CHECK(strcmp(e.texts[1], "1\\/2 -LCB-bad-RCB-") == 0 && e.labels[1] == 1);
    ng_text_examples_free(&e);
    o.phrases = 1;
    CHECK_OK(ng_sst_load(path, &o, &e));
    /* tree 1: root + 5 nodes post-order: It, works, ., works ., root; tree 2: root + 3 */
    CHECK(e.n == 6 + 4);
    CHECK(strcmp(e.texts[0], "It works .") == 0 && strcmp(e.texts[1], "It") == 0 && strcmp(e.texts[2], "works") == 0);
    CHECK(strcmp(e.texts[3], ".") == 0 && strcmp(e.texts[4], "works .") == 0 && e.labels[4] == 4);
    CHECK(strcmp(e.texts[5], "It works .") == 0 && e.labels[5] == 3);
    CHECK(strcmp(e.texts[7], "1\\/2") == 0 && strcmp(e.texts[9], e.texts[6]) == 0);
    ng_text_examples_free(&e);
    o.binary = 1;
    CHECK_OK(ng_sst_load(path, &o, &e));
    /* neutral dropped: tree 1 keeps root(3->1), works(4), works .(4), root; tree 2: root(1->0), {bad}(0), root */
    CHECK(e.n == 4 + 3 && e.num_classes == 2);
    CHECK(e.labels[0] == 1 && strcmp(e.texts[1], "works") == 0 && e.labels[4] == 0 && strcmp(e.texts[5], "-LCB-bad-RCB-") == 0);
    ng_text_examples_free(&e);
    write_file(path, "(3 (2 a) (2 b))\n(3 (2 a) (2 b)\n");
    CHECK(ng_sst_load(path, &o, &e) == NG_ERR_FORMAT && strstr(ng_last_error(), "sst.txt") && strstr(ng_last_error(), "line 2"));
    write_file(path, "(7 (2 a))\n");
    CHECK(ng_sst_load(path, &o, &e) == NG_ERR_FORMAT && strstr(ng_last_error(), "line 1") && strstr(ng_last_error(), "label"));
    write_file(path, "(2 a))\n");
    CHECK(ng_sst_load(path, &o, &e) == NG_ERR_FORMAT && strstr(ng_last_error(), "line 1"));
    write_file(path, "(2 (2 a) x)\n");
    CHECK(ng_sst_load(path, &o, &e) == NG_ERR_FORMAT);
    CHECK(e.n == 0);
}

TEST(text_wordnet_parse_split) {
    const char *txt = "  1 license line\n  2 more\n"
                      "00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which is perceived  \n"
                      "00002137 44 a 01 x 0 000 | an adj gloss\n";
    ng_text_examples all, tr, va, te;
    int64_t i;
    memset(&all, 0, sizeof all); memset(&tr, 0, sizeof tr); memset(&va, 0, sizeof va); memset(&te, 0, sizeof te);
    CHECK_OK(ng_wordnet_parse(txt, strlen(txt), "data.noun", "data.noun", -1, &all));
    CHECK(all.n == 2 && all.num_classes == 45 && all.labels[0] == 3 && all.labels[1] == 44);
    CHECK(strcmp(all.texts[0], "that which is perceived") == 0 && strcmp(all.class_names[44], "adj.ppl") == 0);
    CHECK_OK(ng_wordnet_parse(txt, strlen(txt), "data.noun", "data.noun", 0, &tr));
    CHECK_OK(ng_wordnet_parse(txt, strlen(txt), "data.noun", "data.noun", 1, &va));
    CHECK_OK(ng_wordnet_parse(txt, strlen(txt), "data.noun", "data.noun", 2, &te));
    CHECK(tr.n + va.n + te.n == 2);
    for (i = 0; i < 2; i++) {
        uint64_t h = ng_fnv1a64(i ? "data.noun:00002137" : "data.noun:00001740", 18) % 10;
        ng_text_examples *want = h < 8 ? &tr : h == 8 ? &va : &te;
        int64_t k, hit = 0;
        for (k = 0; k < want->n; k++) hit += strcmp(want->texts[k], all.texts[i]) == 0;
        CHECK(hit == 1);
    }
    CHECK(ng_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cull);
    ng_text_examples_free(&all); ng_text_examples_free(&tr); ng_text_examples_free(&va); ng_text_examples_free(&te);
    CHECK(ng_wordnet_parse("00001740 47 n | x\n", 18, "data.verb", "data.verb", -1, &all) == NG_ERR_FORMAT);
    CHECK(strstr(ng_last_error(), "data.verb") && strstr(ng_last_error(), "line 1"));
    ng_text_examples_free(&all);
    CHECK(ng_wordnet_parse("00001740 02 n no gloss\n", 23, "data.adv", "data.adv", -1, &all) == NG_ERR_FORMAT);
    ng_text_examples_free(&all);
}

TEST(text_wordnet_installed_counts) {
    ng_text_examples e, s[3];
    int64_t hist[NG_WORDNET_CLASSES] = { 0 }, i, best = 0;
    int c, k;
    FILE *f = fopen("/usr/share/wordnet/data.noun", "rb");
    if (!f) { printf("  skip: /usr/share/wordnet not installed (apt-get install wordnet-base)\n"); return; }
    fclose(f);
    CHECK_OK(ng_wordnet_load(NULL, -1, &e));
    CHECK_MSG(e.n == 117659, "WordNet examples: %lld", (long long)e.n);
    for (i = 0; i < e.n; i++) hist[e.labels[i]]++;
    for (c = 0; c < NG_WORDNET_CLASSES; c++) { CHECK_MSG(hist[c] > 0, "class %d empty", c); if (hist[c] > hist[best]) best = c; }
    CHECK(best == 0 && hist[0] == 14435);
    CHECK_CLOSE((double)hist[0] / (double)e.n, 0.123, 0.0005, 0);
    for (k = 0; k < 3; k++) CHECK_OK(ng_wordnet_load(NULL, k, &s[k]));
    CHECK(s[0].n + s[1].n + s[2].n == e.n);
    /* the documented FNV-1a split is deterministic: pin its sizes */
    CHECK(s[0].n == 94349 && s[1].n == 11703 && s[2].n == 11607);
    CHECK_MSG(s[0].n > 0.79 * (double)e.n && s[1].n > 0.09 * (double)e.n && s[2].n > 0.09 * (double)e.n,
              "split %lld/%lld/%lld", (long long)s[0].n, (long long)s[1].n, (long long)s[2].n);
    printf("  wordnet: %lld examples, majority %.4f, split %lld/%lld/%lld\n", (long long)e.n,
           (double)hist[0] / (double)e.n, (long long)s[0].n, (long long)s[1].n, (long long)s[2].n);
    for (k = 0; k < 3; k++) ng_text_examples_free(&s[k]);
    ng_text_examples_free(&e);
}

TEST(text_wordvec_reader_and_init) {
    char path[512];
    ng_wordvec w;
    ng_vocab v;
    ng_text_examples e;
    const ng_text_examples *sets[1];
    ng_rng r;
    float table[5 * 3];
    int64_t found, k;
    text_path(path, sizeof path, "vec.txt");
    write_file(path, "3 3\nthe 0.1 0.2 0.3\n. . . 1 2 3\ncat -1e-2 2 3.5\nthe 9 9 9\n");
    CHECK_OK(ng_wordvec_load(path, NULL, &w));
    CHECK(w.n == 3 && w.dim == 3);
    CHECK(ng_wordvec_find(&w, ". . .") == 1 && ng_wordvec_find(&w, "dog") == -1);
    CHECK(w.vecs[0] == 0.1f && w.vecs[2 * 3] == -1e-2f);   /* the first "the" wins */
    memset(&e, 0, sizeof e);
    add(&e, 0, "the cat cat cat dog");
    sets[0] = &e;
    CHECK_OK(ng_vocab_build(sets, 1, NULL, NULL, &v));   /* <pad> <unk> cat the dog */
    ng_rng_seed(&r, 5);
    ng_wordvec_init_embedding(&w, &v, &r, table, &found);
    CHECK(found == 2);
    for (k = 0; k < 3; k++) CHECK(table[k] == 0.0f);
    CHECK(table[2 * 3 + 2] == 3.5f && table[4 * 3] == 0.1f);   /* cat = 2, dog = 3, the = 4 */
    for (k = 3; k < 6; k++) CHECK(table[k] >= -0.25f && table[k] < 0.25f && table[k] != 0.0f);
    for (k = 9; k < 12; k++) CHECK(table[k] >= -0.25f && table[k] < 0.25f);
    ng_wordvec_free(&w);
    /* keep filter: only vocabulary words stored */
    CHECK_OK(ng_wordvec_load(path, &v, &w));
    CHECK(w.n == 2);
    ng_wordvec_free(&w);
    /* no header, word2vec-less GloVe */
    write_file(path, "a 1 2\nb 3 4\n");
    CHECK_OK(ng_wordvec_load(path, NULL, &w));
    CHECK(w.n == 2 && w.dim == 2);
    ng_wordvec_free(&w);
    write_file(path, "a 1 2\nb 3\n");
    CHECK(ng_wordvec_load(path, NULL, &w) == NG_ERR_FORMAT && strstr(ng_last_error(), "vec.txt") && strstr(ng_last_error(), "line 2"));
    write_file(path, "a 1 2\nb 3 x4\n");
    CHECK(ng_wordvec_load(path, NULL, &w) == NG_ERR_FORMAT && strstr(ng_last_error(), "line 2") && strstr(ng_last_error(), "x4"));
    write_file(path, "a 1 nan\n");
    CHECK(ng_wordvec_parse("a 1 nan\n", 8, "m.vec", NULL, &w) == NG_ERR_FORMAT && strstr(ng_last_error(), "m.vec"));
    CHECK(w.n == 0 && w.vecs == NULL);
    ng_vocab_free(&v);
    ng_text_examples_free(&e);
}

TEST(text_wordnet_pipeline) {
    ng_text_examples tr, te;
    const ng_text_examples *sets[1];
    ng_text_opts o = ng_text_opts_default();
    ng_vocab_opts vo = ng_vocab_opts_default();
    ng_vocab v;
    ng_text_dataset d;
    int64_t i, unk = 0, tok = 0, maxlen = 0;
    FILE *f = fopen("/usr/share/wordnet/data.noun", "rb");
#ifndef NG_USE_UTF8PROC
    if (f) fclose(f);
    f = NULL;
#endif
    if (!f) { printf("  skip: needs /usr/share/wordnet and utf8proc\n"); return; }
    fclose(f);
    CHECK_OK(ng_wordnet_load(NULL, 0, &tr));
    CHECK_OK(ng_wordnet_load(NULL, 2, &te));
    o.casefold = 1;
    vo.min_count = 2;
    sets[0] = &tr;
    CHECK_OK(ng_vocab_build(sets, 1, &o, &vo, &v));   /* train only */
    CHECK_OK(ng_text_dataset_make(&te, &v, &o, 0, &d));
    CHECK(d.n == te.n && d.max_len == 64 && d.num_classes == 45);
    for (i = 0; i < d.n; i++) {
        int32_t k;
        if (d.lengths[i] > maxlen) maxlen = d.lengths[i];
        for (k = 0; k < d.lengths[i]; k++) { tok++; unk += d.ids[i * 64 + k] == NG_TEXT_UNK; }
        for (k = d.lengths[i]; k < 64; k++) CHECK(d.ids[i * 64 + k] == NG_TEXT_PAD);
    }
    CHECK(v.size > 1000 && tok > 0 && unk < tok / 5);
    printf("  wordnet pipeline: vocab %lld (train, casefold, min_count 2), test tokens %lld, unk %.2f%%, longest %lld\n",
           (long long)v.size, (long long)tok, 100.0 * (double)unk / (double)tok, (long long)maxlen);
    ng_text_dataset_free(&d);
    ng_vocab_free(&v);
    ng_text_examples_free(&tr);
    ng_text_examples_free(&te);
}
