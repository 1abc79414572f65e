/* Dataset loading shared by text_search and text_train: three encoded splits (train, valid,
   test) and their vocabulary, from the embedded WordNet default or the files a user brings.
   Header-only, static; include after nasgan.h and cli.h. */
#ifndef NG_EXAMPLES_TEXT_DATA_H
#define NG_EXAMPLES_TEXT_DATA_H

typedef struct text_data_opts {
    const char *dataset;    /* wordnet (default), sst, tsv, agnews */
    const char *data_dir;   /* wordnet: /usr/share/wordnet; sst: {train,dev,test}.txt; agnews: {train,test}.csv */
    const char *train, *valid, *test;   /* tsv files */
    const char *embeddings; /* GloVe / word2vec text file, or NULL */
    int max_len;            /* 64 */
    int min_count;          /* 0: the dataset's default (wordnet/tsv/agnews 2, sst 1) */
    int sst_binary;
    long limit;             /* use only the first N training examples (0: all) */
} text_data_opts;

#define TEXT_DATA_HELP \
    "Data:\n" \
    "  --dataset NAME        wordnet (default: gloss supersense, 45 classes, from Debian's wordnet-base),\n" \
    "                        sst (PTB trees train.txt/dev.txt/test.txt in --data-dir; --sst-binary for SST-2),\n" \
    "                        tsv (--train/--valid/--test files of `label<TAB>text`, labels 0..K-1),\n" \
    "                        agnews (train.csv/test.csv in --data-dir; every 10th training row validates)\n" \
    "  --data-dir DIR        where the files are (wordnet default /usr/share/wordnet)\n" \
    "  --train F --valid F --test F   the tsv files\n" \
    "  --max-len N           tokens per text, padded/truncated (default 64)\n" \
    "  --min-count N         vocabulary cut (default 2; sst 1, over all splits as TextNAS)\n" \
    "  --limit N             use only the first N training examples\n" \
    "  --embeddings FILE     initialise the embedding from GloVe/word2vec text (default: U[-0.25, 0.25), dim 300)\n"

/* Parse one data option at argv[*i] (value in argv[*i + 1]); 1 if it was one, 0 if not, -1 on error. */
static int text_data_arg(const char *prog, int argc, char **argv, int *i, text_data_opts *o) {
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    long x;
    if (!strcmp(a, "--sst-binary")) { o->sst_binary = 1; return 1; }
    if (strcmp(a, "--dataset") && strcmp(a, "--data-dir") && strcmp(a, "--train") && strcmp(a, "--valid") &&
        strcmp(a, "--test") && strcmp(a, "--embeddings") && strcmp(a, "--max-len") && strcmp(a, "--min-count") &&
        strcmp(a, "--limit"))
        return 0;
    if (!v) { fprintf(stderr, "%s: %s needs a value (see --help)\n", prog, a); return -1; }
    (*i)++;
    if (!strcmp(a, "--dataset")) o->dataset = v;
    else if (!strcmp(a, "--data-dir")) o->data_dir = v;
    else if (!strcmp(a, "--train")) o->train = v;
    else if (!strcmp(a, "--valid")) o->valid = v;
    else if (!strcmp(a, "--test")) o->test = v;
    else if (!strcmp(a, "--embeddings")) o->embeddings = v;
    else if (!strcmp(a, "--max-len")) { if (cli_int(prog, a, v, 1, 4096, &x)) return -1; o->max_len = (int)x; }
    else if (!strcmp(a, "--min-count")) { if (cli_int(prog, a, v, 1, 1000000, &x)) return -1; o->min_count = (int)x; }
    else { if (cli_int(prog, a, v, 1, 1000000000L, &x)) return -1; o->limit = x; }
    return 1;
}
static void text_data_defaults(text_data_opts *o) {
    memset(o, 0, sizeof *o);
    o->dataset = "wordnet";
    o->max_len = 64;
}

typedef struct text_data {
    ng_text_dataset split[3];       /* train, valid, test */
    ng_vocab vocab;
    int num_classes;
    ng_wordvec vectors;             /* when --embeddings */
    int embed_dim;
    char settings[512];             /* identity of the data for checkpoints */
} text_data;

static void text_data_free(text_data *d) {
    int k;
    for (k = 0; k < 3; k++) ng_text_dataset_free(&d->split[k]);
    ng_vocab_free(&d->vocab);
    ng_wordvec_free(&d->vectors);
}

/* Raw examples of the three splits. */
static ng_status text_data_read(const text_data_opts *o, ng_text_examples ex[3]) {
    char path[4200];
    ng_status s = NG_OK;
    int k;
    memset(ex, 0, 3 * sizeof *ex);
    if (!strcmp(o->dataset, "wordnet")) {
        for (k = 0; k < 3 && s == NG_OK; k++) s = ng_wordnet_load(o->data_dir, k, &ex[k]);
    } else if (!strcmp(o->dataset, "sst")) {
        static const char *const files[3] = {"train.txt", "dev.txt", "test.txt"};
        for (k = 0; k < 3 && s == NG_OK; k++) {
            ng_sst_opts so;
            so.binary = o->sst_binary;
            so.phrases = k < 2; /* TextNAS: train and dev phrases, test sentences */
            snprintf(path, sizeof path, "%s/%s", o->data_dir ? o->data_dir : ".", files[k]);
            s = ng_sst_load(path, &so, &ex[k]);
        }
    } else if (!strcmp(o->dataset, "tsv")) {
        const char *files[3];
        files[0] = o->train; files[1] = o->valid; files[2] = o->test;
        for (k = 0; k < 3 && s == NG_OK; k++) {
            if (!files[k]) return ng_fail(NG_ERR_ARG, "--dataset tsv needs --train, --valid and --test");
            s = ng_tsv_load(files[k], 1, &ex[k]);
        }
    } else if (!strcmp(o->dataset, "agnews")) {
        ng_text_examples all;
        int64_t i;
        memset(&all, 0, sizeof all);
        snprintf(path, sizeof path, "%s/train.csv", o->data_dir ? o->data_dir : ".");
        s = ng_agnews_load(path, &all);
        for (k = 0; k < 2 && s == NG_OK; k++)
            s = ng_text_examples_set_classes(&ex[k], all.num_classes, (const char *const *)all.class_names);
        for (i = 0; i < all.n && s == NG_OK; i++)
            s = ng_text_examples_add(&ex[i % 10 == 9], all.labels[i], all.texts[i], strlen(all.texts[i]));
        ng_text_examples_free(&all);
        snprintf(path, sizeof path, "%s/test.csv", o->data_dir ? o->data_dir : ".");
        if (s == NG_OK) s = ng_agnews_load(path, &ex[2]);
    } else {
        return ng_fail(NG_ERR_ARG, "unknown --dataset '%s' (wordnet, sst, tsv, agnews)", o->dataset);
    }
    return s;
}

/* Shuffle the examples of a split in place (a fixed permutation), so that the first N of the
   validation split, used to rank architectures quickly, are a fair sample (WordNet's files are
   grouped by part of speech). */
static void text_data_shuffle(ng_text_dataset *d, uint64_t seed) {
    ng_rng r;
    int64_t i, t, L = d->max_len;
    ng_rng_seed(&r, seed);
    for (i = d->n - 1; i > 0; i--) {
        int64_t j = (int64_t)ng_rng_below(&r, (uint64_t)(i + 1));
        int32_t x;
        for (t = 0; t < L; t++) { x = d->ids[i * L + t]; d->ids[i * L + t] = d->ids[j * L + t]; d->ids[j * L + t] = x; }
        x = d->lengths[i]; d->lengths[i] = d->lengths[j]; d->lengths[j] = x;
        x = d->labels[i]; d->labels[i] = d->labels[j]; d->labels[j] = x;
    }
}

static int text_data_load(const char *prog, const text_data_opts *o, text_data *d) {
    ng_text_examples ex[3];
    ng_text_opts to = ng_text_opts_default();
    ng_vocab_opts vo = ng_vocab_opts_default();
    int sst = !strcmp(o->dataset, "sst"), k;
    const ng_text_examples *vsets[3];
    ng_status s;
    memset(d, 0, sizeof *d);
    s = text_data_read(o, ex);
    if (s == NG_OK && o->limit > 0 && o->limit < ex[0].n) {
        int64_t i;
        for (i = o->limit; i < ex[0].n; i++) free(ex[0].texts[i]);
        ex[0].n = o->limit;
    }
    to.max_len = o->max_len;
    to.casefold = !strcmp(o->dataset, "wordnet");
    vo.min_count = o->min_count > 0 ? o->min_count : sst ? 1 : 2;
    vo.sorted = sst;
    for (k = 0; k < 3; k++) vsets[k] = &ex[k];
    /* TextNAS counts SST words over all splits; elsewhere the training split alone */
    if (s == NG_OK) s = ng_vocab_build(vsets, sst ? 3 : 1, sst ? NULL : &to, &vo, &d->vocab);
    for (k = 0; k < 3 && s == NG_OK; k++) s = ng_text_dataset_make(&ex[k], &d->vocab, sst ? NULL : &to, o->max_len, &d->split[k]);
    d->num_classes = ex[0].num_classes;
    for (k = 1; k < 3 && s == NG_OK; k++)
        if (ex[k].num_classes > d->num_classes) d->num_classes = ex[k].num_classes;
    for (k = 0; k < 3; k++) ng_text_examples_free(&ex[k]);
    if (s == NG_OK && (d->split[0].n < 1 || d->split[1].n < 1 || d->split[2].n < 1))
        s = ng_fail(NG_ERR_FORMAT, "dataset %s: a split is empty (%lld / %lld / %lld)", o->dataset, (long long)d->split[0].n,
                    (long long)d->split[1].n, (long long)d->split[2].n);
    if (s == NG_OK) text_data_shuffle(&d->split[1], 0x5eed);
    d->embed_dim = 300;
    if (s == NG_OK && o->embeddings) {
        s = ng_wordvec_load(o->embeddings, &d->vocab, &d->vectors);
        if (s == NG_OK) d->embed_dim = d->vectors.dim;
    }
    if (s != NG_OK) {
        fprintf(stderr, "%s: %s\n", prog, ng_last_error());
        if (!strcmp(o->dataset, "wordnet")) fprintf(stderr, "  (install Debian's wordnet-base or pass --data-dir)\n");
        text_data_free(d);
        return -1;
    }
    snprintf(d->settings, sizeof d->settings, "dataset=%s%s n=%lld/%lld/%lld classes=%d vocab=%lld max_len=%d embeddings=%s",
             o->dataset, o->sst_binary ? "-binary" : "", (long long)d->split[0].n, (long long)d->split[1].n,
             (long long)d->split[2].n, d->num_classes, (long long)d->vocab.size, o->max_len,
             o->embeddings ? o->embeddings : "random");
    return 0;
}

/* The embedding table of a freshly initialised net from the word vectors (TextNAS 2.5 order). */
static void text_data_init_embedding(const text_data *d, ng_textnas_net *net, uint64_t seed) {
    ng_rng r;
    int64_t found = 0;
    if (!d->vectors.words) return;
    ng_rng_seed(&r, seed);
    ng_wordvec_init_embedding(&d->vectors, &d->vocab, &r, net->emb->data, &found);
    printf("embeddings: %lld of %lld words found in the vector file\n", (long long)found, (long long)(d->vocab.size - 2));
}
#endif
