/* FID / KID / IS and precision / recall of a generator's samples, for the GAN programs: gan_train evaluates the
   retrained generator (its EMA weights), gan_search the supernet during the search as the
   reference does (--eval-every). Two feature networks, either or both:
     - the Fashion-MNIST CNN (offline analogue; Fashion-MNIST only; not comparable to
       Inception numbers),
     - the FID Inception-v3 (weights converted from pytorch-fid's file), real statistics
       computed once or read from --inception-stats (nasgan checkpoint or pytorch-fid .npz).
   Real statistics and the real features for KID are set up once; each evaluation generates
   --eval-n images from a fixed seed. Header-only, static; include after nasgan.h and cli.h. */
#ifndef NG_EXAMPLES_GAN_EVAL_H
#define NG_EXAMPLES_GAN_EVAL_H
#include <unistd.h>

typedef struct gan_eval_opts {
    const char *fid_net;           /* CNN weights ("none": off) */
    const char *fid_inception;     /* Inception weights, or NULL */
    const char *inception_stats;   /* cache of the real Inception statistics, or NULL */
    long inception_real_n;         /* real images for those statistics (0: all) */
    int eval_n;                    /* generated images per evaluation */
    int inception_tf1;             /* NG_INCEPTION_TF1 preprocessing (TTUR / TF-evaluated papers) */
} gan_eval_opts;

#define GAN_EVAL_HELP \
    "Evaluation with the Fashion-MNIST CNN (Fashion-MNIST only; NOT comparable to Inception FID/IS):\n" \
    "  --fid-net PATH        its weights (default build/fmnist_cnn.ckpt, written by `make demo` or\n" \
    "                        build/fmnist_classifier; none: no evaluation)\n" \
    "  --eval-n N            generated images per evaluation (default 10000; at least 10, the IS splits)\n" \
    "Evaluation with the FID Inception-v3 (any dataset; grayscale is replicated to RGB):\n" \
    "  --fid-inception PATH  Inception weights converted by scripts/convert_inception.py; reports\n" \
    "                        Inception FID (real statistics of the training images), KID (against the\n" \
    "                        first --eval-n of them) and IS (1008 logits) of --eval-n samples.\n" \
    "                        Costs about 0.15 s per image on 2 cores (50,000 real images take ~2 h);\n" \
    "                        with --device cuda it runs on the GPU, in exact FP32 even with --tf32.\n" \
    "  --inception-real-n N  real images for the statistics (default: all training images)\n" \
    "  --inception-stats FILE  cache of the real statistics: loaded if present (refused unless\n" \
    "                        computed with the same weights and N), else computed and saved there.\n" \
    "                        FILE.npz is pytorch-fid / TTUR's format (keys mu, sigma): their\n" \
    "                        precomputed statistics (e.g. fid_stats_cifar10_train.npz) load as they\n" \
    "                        are, trusted to come from the same FID Inception (the file records\n" \
    "                        neither network nor N)\n" \
    "  --inception-tf1       the TF1 graph's preprocessing (TTUR's FID, the AlphaGAN/AutoGAN evaluation\n" \
    "                        code, torch-fidelity): resize_bilinear without half pixels on [0, 255],\n" \
    "                        (x - 128) / 128; default pytorch-fid's resize. Part of the identity of\n" \
    "                        nasgan's statistics files, so those are never mixed; a .npz records no\n" \
    "                        identity: TTUR's files go with --inception-tf1, pytorch-fid's without\n"

static inline void gan_eval_opts_default(gan_eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->fid_net = "build/fmnist_cnn.ckpt";
    o->eval_n = 10000;
}
/* 1: consumed argv[*i] and its value, 0: not an evaluation option, -1: bad value (printed). */
static inline int gan_eval_arg(const char *prog, int argc, char **argv, int *i, gan_eval_opts *o) {
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    long x;
    if (!strcmp(a, "--inception-tf1")) { o->inception_tf1 = 1; return 1; }
    if (strcmp(a, "--fid-net") && strcmp(a, "--fid-inception") && strcmp(a, "--inception-stats") &&
        strcmp(a, "--inception-real-n") && strcmp(a, "--eval-n"))
        return 0;
    if (!v) { fprintf(stderr, "%s: %s needs a value (see --help)\n", prog, a); return -1; }
    ++*i;
    if (!strcmp(a, "--fid-net")) o->fid_net = v;
    else if (!strcmp(a, "--fid-inception")) o->fid_inception = v;
    else if (!strcmp(a, "--inception-stats")) o->inception_stats = v;
    else if (!strcmp(a, "--inception-real-n")) return cli_int(prog, a, v, 2, 100000000L, &o->inception_real_n) ? -1 : 1;
    else {   /* --eval-n: at least the Inception Score's 10 splits */
        if (cli_int(prog, a, v, 10, 10000000L, &x)) return -1;
        o->eval_n = (int)x;
    }
    return 1;
}

typedef struct gan_eval {
    const char *prog;
    int eval_n;
    ng_fmnist_cnn *cnn;             /* NULL: no CNN evaluation */
    ng_feat_stats cnn_stats;
    float *cnn_real;                /* (n_cnn_real, 128) for KID */
    int64_t n_cnn_real;
    ng_inception *inc;              /* NULL: no Inception evaluation */
    ng_feat_stats inc_stats;
    float *inc_real;                /* (n_inc_real, 2048) for KID */
    int64_t n_inc_real;
} gan_eval;

typedef struct gan_eval_row {
    double fid, kid, kid_std, is, is_std, precision, recall;
    int ok;
    double inc_fid, inc_kid, inc_kid_std, inc_is, inc_is_std, inc_precision, inc_recall;   /* Inception-v3 features */
    int inc_ok;
} gan_eval_row;

static inline int gan_eval_fail(const gan_eval *e, const char *what) {
    fprintf(stderr, "\n%s: %s: %s\n", e->prog, what, ng_last_error());
    return 1;
}
static inline int gan_eval_active(const gan_eval *e) { return e->cnn || e->inc; }

/* "*.npz": pytorch-fid / TTUR statistics rather than a nasgan checkpoint */
static inline int gan_eval_is_npz(const char *path) {
    size_t l = strlen(path);
    return l >= 4 && strcmp(path + l - 4, ".npz") == 0;
}
/* N of real statistics for logs: "unknown" for .npz files, which do not record it */
static inline const char *gan_eval_n_text(int64_t n, char *buf, size_t cap) {
    if (n > 0) snprintf(buf, cap, "%lld", (long long)n);
    else snprintf(buf, cap, "unknown");
    return buf;
}

/* The Fashion-MNIST CNN, the real images' statistics (all of them) and features (the first
   eval_n, for KID). Without the network file, evaluation is skipped with a note. */
static inline int gan_eval_setup_cnn(gan_eval *e, const gan_eval_opts *o, const char *dataset, const ng_image_set *data,
                                     const cli_device *dev) {
    ng_image_source real;
    char id[NG_FEAT_ID_MAX];
    ng_rng init;
    if (strcmp(dataset, "fashion_mnist")) {
        printf("note: no offline FID/KID/IS for %s (the Fashion-MNIST CNN only sees Fashion-MNIST)\n", dataset);
        return 0;
    }
    if (!strcmp(o->fid_net, "none")) {
        printf("evaluation with the Fashion-MNIST CNN off (--fid-net none)\n");
        return 0;
    }
    if (access(o->fid_net, R_OK) != 0) {
        printf("note: %s not found: no FID/KID/IS (train it with `make demo` or build/fmnist_classifier)\n", o->fid_net);
        return 0;
    }
    ng_rng_seed(&init, 1);
    e->cnn = ng_fmnist_cnn_create(&init);
    if (!e->cnn || ng_fmnist_cnn_load(e->cnn, o->fid_net) != NG_OK) return gan_eval_fail(e, "--fid-net");
    {
        ng_params *groups[] = {e->cnn->weights, e->cnn->buffers};
        if (cli_to_device(e->prog, dev, groups, 2)) return 1;
    }
    real = ng_image_source_u8(data->pixels, data->n, data->h);
    if (ng_fmnist_stats(e->cnn, &real, 256, &e->cnn_stats) != NG_OK) return gan_eval_fail(e, "real statistics");
    e->n_cnn_real = e->eval_n < data->n ? e->eval_n : data->n;
    e->cnn_real = (float *)malloc((size_t)e->n_cnn_real * NG_FMNIST_FEATURES * sizeof(float));
    real.n = e->n_cnn_real;
    if (!e->cnn_real || ng_fmnist_cnn_embed(e->cnn, &real, 256, e->cnn_real, NULL) != NG_OK)
        return gan_eval_fail(e, "real features");
    ng_fmnist_cnn_identity(e->cnn, id, sizeof id);
    printf("evaluation: %s, real statistics of %lld images, KID against %lld\n", id, (long long)e->cnn_stats.n,
           (long long)e->n_cnn_real);
    return 0;
}

/* The real Inception statistics: from --inception-stats when it exists, else computed (and
   saved there when given) */
static inline int gan_eval_inception_stats(gan_eval *e, const gan_eval_opts *o, const ng_image_source *real, const char *id,
                                           const cli_device *dev) {
    const char *path = o->inception_stats;
    if (path && access(path, R_OK) == 0) {
        if (gan_eval_is_npz(path)) {
            if (ng_feat_stats_load_npz(&e->inc_stats, path, id, NG_INCEPTION_FEATURES) != NG_OK) return gan_eval_fail(e, "--inception-stats");
            printf("inception: real statistics from %s (numpy mu/sigma: N, network and preprocessing not recorded there, "
                   "taken to be the FID Inception's pool3 features of the real images with %s's preprocessing)\n", path,
                   ng_inception_preprocess_mode(e->inc) == NG_INCEPTION_TF1 ? "TF1 (TTUR)" : "pytorch-fid");
        } else {
            if (ng_feat_stats_load(&e->inc_stats, path, id, real->n) != NG_OK) return gan_eval_fail(e, "--inception-stats");
            printf("inception: real statistics from %s\n", path);
        }
        return 0;
    }
    printf("inception: computing real statistics of %lld images on the %s%s...\n", (long long)real->n,
           dev->dev == NG_CUDA ? "GPU" : "CPU", dev->dev == NG_CUDA ? "" : " (about 0.15 s per image on 2 cores)");
    fflush(stdout);
    if (ng_inception_stats(e->inc, real, 0, &e->inc_stats) != NG_OK) return gan_eval_fail(e, "inception real statistics");
    if (path && (gan_eval_is_npz(path) ? ng_feat_stats_save_npz(&e->inc_stats, path) : ng_feat_stats_save(&e->inc_stats, path)) != NG_OK)
        return gan_eval_fail(e, "--inception-stats");
    return 0;
}

/* The Inception network, the real statistics and features (the first eval_n, for KID). */
static inline int gan_eval_setup_inception(gan_eval *e, const gan_eval_opts *o, const ng_image_set *data, const cli_device *dev) {
    ng_image_source real;
    char id[NG_FEAT_ID_MAX], nbuf[32];
    int64_t n_real = o->inception_real_n > 0 && o->inception_real_n < data->n ? o->inception_real_n : data->n;
    double t0 = ng_time_sec();
    if (!o->fid_inception) return 0;
    if (ng_inception_load(o->fid_inception, &e->inc) != NG_OK) return gan_eval_fail(e, "--fid-inception");
    if (o->inception_tf1 && ng_inception_set_preprocess(e->inc, NG_INCEPTION_TF1) != NG_OK) return gan_eval_fail(e, "--inception-tf1");
    if (ng_inception_to_device(e->inc, dev->dev) != NG_OK) return gan_eval_fail(e, "--fid-inception on the device");
    ng_inception_identity(e->inc, id, sizeof id);
    real = ng_image_source_u8_planes(data->pixels, n_real, data->c, data->h);
    if (gan_eval_inception_stats(e, o, &real, id, dev)) return 1;
    e->n_inc_real = e->eval_n < n_real ? e->eval_n : n_real;
    e->inc_real = (float *)malloc((size_t)e->n_inc_real * NG_INCEPTION_FEATURES * sizeof(float));
    real.n = e->n_inc_real;
    if (!e->inc_real || ng_inception_embed(e->inc, &real, 0, e->inc_real, NULL) != NG_OK)
        return gan_eval_fail(e, "inception real features");
    printf("evaluation: %s (Inception-v3 features), real statistics of %s%s, KID against %lld (%.0f s)\n", id,
           gan_eval_n_text(e->inc_stats.n, nbuf, sizeof nbuf), e->inc_stats.n > 0 ? " images" : " N (.npz)",
           (long long)e->n_inc_real, ng_time_sec() - t0);
    return 0;
}

/* Both feature networks as the options ask; 0 also when evaluation is off (gan_eval_active). */
static inline int gan_eval_setup(gan_eval *e, const char *prog, const gan_eval_opts *o, const char *dataset,
                                 const ng_image_set *data, const cli_device *dev) {
    memset(e, 0, sizeof *e);
    e->prog = prog;
    e->eval_n = o->eval_n;
    return gan_eval_setup_cnn(e, o, dataset, data, dev) || gan_eval_setup_inception(e, o, data, dev);
}

/* FID/KID/IS and precision/recall (k = 3, against the KID's real features; NaN when a side has
   3 rows or fewer) of eval_n samples of g (eval mode, latents from `seed`), quantised to uint8
   as the reference evaluates them. */
static inline int gan_eval_run(gan_eval *e, ng_gan_net g, int latent_dim, uint64_t seed, gan_eval_row *row) {
    unsigned char *gen = NULL;
    int c, h, w;
    ng_image_source src;
    ng_eval_opts eo;
    ng_eval_result res;
    ng_status st;
    memset(row, 0, sizeof *row);
    if (!gan_eval_active(e)) return 0;
    if (ng_gan_generate_u8(g, latent_dim, e->eval_n, 100, seed, &gen, &c, &h, &w) != NG_OK) return gan_eval_fail(e, "sampling");
    src = ng_image_source_u8_planes(gen, e->eval_n, c, h);
    memset(&eo, 0, sizeof eo);
    eo.seed = 1;
    eo.is_shuffle = 0;
    if (e->cnn) {
        st = ng_fmnist_evaluate(e->cnn, &src, &e->cnn_stats, e->cnn_real, e->n_cnn_real, &eo, &res);
        if (st != NG_OK) { free(gen); return gan_eval_fail(e, "evaluation"); }
        row->fid = res.fid; row->kid = res.kid_mean; row->kid_std = res.kid_std; row->is = res.is_mean; row->is_std = res.is_std;
        row->precision = res.has_prc ? res.precision : NAN;
        row->recall = res.has_prc ? res.recall : NAN;
        row->ok = 1;
    }
    if (e->inc) {
        st = ng_inception_evaluate(e->inc, &src, &e->inc_stats, e->inc_real, e->n_inc_real, &eo, &res);
        if (st != NG_OK) { free(gen); return gan_eval_fail(e, "Inception evaluation"); }
        row->inc_fid = res.fid; row->inc_kid = res.kid_mean; row->inc_kid_std = res.kid_std;
        row->inc_is = res.is_mean; row->inc_is_std = res.is_std;
        row->inc_precision = res.has_prc ? res.precision : NAN;
        row->inc_recall = res.has_prc ? res.recall : NAN;
        row->inc_ok = 1;
    }
    free(gen);
    (void)w;
    return 0;
}

/* CSV columns: both networks' always, empty where not computed, so that a log keeps its columns
   when a resumed run evaluates differently */
static inline void gan_eval_csv_header(cli_text *csv) {
    cli_printf(csv, ",fid,kid,kid_std,is,is_std,precision,recall,inception_fid,inception_kid,inception_kid_std,inception_is,"
                    "inception_is_std,inception_precision,inception_recall");
}
static inline void gan_eval_csv_cells(cli_text *csv, const gan_eval_row *row) {
    if (row && row->ok)
        cli_printf(csv, ",%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g", row->fid, row->kid, row->kid_std, row->is, row->is_std,
                   row->precision, row->recall);
    else
        cli_printf(csv, ",,,,,,,");
    if (row && row->inc_ok)
        cli_printf(csv, ",%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g", row->inc_fid, row->inc_kid, row->inc_kid_std, row->inc_is,
                   row->inc_is_std, row->inc_precision, row->inc_recall);
    else
        cli_printf(csv, ",,,,,,,");
}

/* "<when>: FID ..., KID ..., IS ... (Fashion-MNIST CNN)" and the Inception line, on stdout */
static inline void gan_eval_print(const char *when, const char *what, const gan_eval_row *row) {
    if (row->ok)
        printf("%s: %sFID %.4f, KID %.5f +- %.5f, IS %.3f +- %.3f, precision %.4f, recall %.4f (Fashion-MNIST CNN)\n", when,
               what, row->fid, row->kid, row->kid_std, row->is, row->is_std, row->precision, row->recall);
    if (row->inc_ok)
        printf("%s: %sInception FID %.4f, KID %.5f +- %.5f, IS %.3f +- %.3f, precision %.4f, recall %.4f\n", when, what,
               row->inc_fid, row->inc_kid, row->inc_kid_std, row->inc_is, row->inc_is_std, row->inc_precision, row->inc_recall);
}

static inline void gan_eval_free(gan_eval *e) {
    if (e->cnn) ng_fmnist_cnn_free(e->cnn);
    ng_feat_stats_free(&e->cnn_stats);
    free(e->cnn_real);
    if (e->inc) ng_inception_free(e->inc);
    ng_feat_stats_free(&e->inc_stats);
    free(e->inc_real);
    memset(e, 0, sizeof *e);
}
#endif
