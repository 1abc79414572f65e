/* alphaGAN: differentiable architecture search of a GAN generator (arXiv:2006.09134).

     make build/gan_search && ./build/gan_search --out runs/search     (quick preset, Fashion-MNIST)
     ./build/gan_search --preset paper-s --dataset cifar10 --data-dir cifar-10-batches-bin

   Each epoch: weight steps on the training half, worst-case D and G from copies on the
   validation half, then architecture steps that lower the duality gap (docs: alphagan.md 3).
   Writes into --out: search.csv (one row per epoch: losses, gap, softmax(alpha) of every edge,
   the current genotype), samples_epochNNN.png (8x8 grid of the supernet's samples),
   search.ckpt (the whole state after every epoch; --resume continues bit for bit),
   genotype.json, genotype.py (the reference code's Genotype_gen form), genotype.svg (the
   picture) and genotype.dot (+ genotype.png when graphviz's `dot` is installed). */
#define NASGAN_IMPLEMENTATION
#include "nasgan.h"

#include "cli.h"
#include "gan_eval.h"
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct options {
    const char *dataset, *data_dir, *out, *preset;
    int resume, threads, gumbel, plain_edges, cifar_meanstd, rising_cosine, d_sum_pool, samples;
    int gf, df, latent, epochs, batch, inner, worst, arch;
    long limit, eval_every;    /* eval_every -1: the preset's */
    long random_baseline;      /* random genotypes to rank on the final supernet (0: none) */
    uint64_t seed;
    cli_device device;
    gan_eval_opts eval;
} options;

static void usage(FILE *f) {
    fprintf(f,
        "usage: gan_search [options]\n"
        "alphaGAN: search a GAN generator architecture by minimising the duality gap.\n\n"
        "Data:\n"
        "  --dataset NAME        fashion_mnist (default, Debian's dataset-fashion-mnist, padded to 32x32),\n"
        "                        cifar10 (data_batch_1..5.bin), stl10 (train+unlabeled, resized to 48x48)\n"
        "  --data-dir DIR        where the files are (default for fashion_mnist: %s)\n"
        "  --limit N             use only the first N images (quick runs)\n"
        "Search (a preset, then any override):\n"
        "  --preset NAME         quick (default: a CPU run of minutes), paper-s or paper-l (alphaGAN(s)/(l):\n"
        "                        inner/worst steps 20 or 390, 20 alpha steps, 99 epochs, batch 64)\n"
        "  --epochs N  --batch N  --inner-steps N  --worst-steps N  --arch-steps N\n"
        "  --gf N                generator width (default 256; quick: 32)\n"
        "  --df N                discriminator width (default 128; quick: 32)\n"
        "  --latent N            latent size (default 128)\n"
        "  --gumbel              Gumbel-softmax edge weights (t = 0.5) instead of softmax\n"
        "  --plain-edges         sum the six normal candidates one by one (default: the three plain\n"
        "                        convolutions fused into one 5x5, the same function, faster)\n"
        "  --seed N              initialisation, data order, latents (default 2, as the reference)\n"
        "  --threads N           OpenMP threads (default: all cores)\n"
        CLI_DEVICE_HELP
        "Reference-code quirks (off by default; the paper's evident intent is the default):\n"
        "  --cifar-meanstd       normalise CIFAR-10 with its mean/std as the reference search does\n"
        "                        (default: [-1, 1], the range of the generator's tanh)\n"
        "  --rising-cosine-g-lr  G's lr follows CosineAnnealingLR(eta_min 1e-3), which RISES from 2e-4 to\n"
        "                        1e-3 (default: constant 2e-4)\n"
        "  --d-sum-pool          D sums its last features over H x W as the code does (default: the mean\n"
        "                        its comment describes)\n"
        "Evaluation of the supernet during the search (as the reference's --eval_every):\n"
        "  --eval-every N        FID/KID/IS and precision/recall of the supernet's samples every N epochs\n"
        "                        and after the last, in search.csv (default: paper presets 4, as the\n"
        "                        reference; quick 0 = off). Needs a feature network below.\n"
        "  --random-baseline N   after the search, the reference's random-search baseline: N random\n"
        "                        genotypes evaluated on the trained supernet (shared weights, each edge's\n"
        "                        alpha peaked at its op), best by IS as the reference keeps it (and by\n"
        "                        FID): random_baseline.csv, genotype_random_best.json. The reference\n"
        "                        samples 200. Needs a feature network below; with --resume after the last\n"
        "                        epoch it runs on the finished search alone.\n"
        GAN_EVAL_HELP
        "Output:\n"
        "  --out DIR             output directory (default runs/gan_search)\n"
        "  --samples N           images per epoch grid, 8 per row (default 64; 0: none)\n"
        "  --resume              continue from DIR/search.ckpt (refused if the settings differ)\n"
        CLI_CONFIG_HELP
        "  -h, --help            this text\n",
        NG_FMNIST_DIR);
}

static int parse_args(int argc, char **argv, options *o) {
    int i;
    memset(o, 0, sizeof *o);
    o->dataset = "fashion_mnist"; o->out = "runs/gan_search"; o->preset = "quick";
    o->seed = 2; o->samples = 64; o->eval_every = -1;
    gan_eval_opts_default(&o->eval);
    o->gf = o->df = o->latent = o->epochs = o->batch = o->inner = o->worst = o->arch = -1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x = 0;
        int *ip = NULL;
        long lo = 1, hi = 1000000;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); exit(0); }
        if (!strcmp(a, "--resume")) { o->resume = 1; continue; }
        if (!strcmp(a, "--gumbel")) { o->gumbel = 1; continue; }
        if (!strcmp(a, "--plain-edges")) { o->plain_edges = 1; continue; }
        if (!strcmp(a, "--cifar-meanstd")) { o->cifar_meanstd = 1; continue; }
        if (!strcmp(a, "--rising-cosine-g-lr")) { o->rising_cosine = 1; continue; }
        if (!strcmp(a, "--d-sum-pool")) { o->d_sum_pool = 1; continue; }
        if ((x = cli_device_arg("gan_search", argc, argv, &i, &o->device)) != 0) { if (x < 0) return -1; continue; }
        if ((x = gan_eval_arg("gan_search", argc, argv, &i, &o->eval)) != 0) { if (x < 0) return -1; continue; }
        if (!v) { fprintf(stderr, "gan_search: %s needs a value (see --help)\n", a); return -1; }
        i++;
        if (!strcmp(a, "--dataset")) { o->dataset = v; continue; }
        if (!strcmp(a, "--data-dir")) { o->data_dir = v; continue; }
        if (!strcmp(a, "--out")) { o->out = v; continue; }
        if (!strcmp(a, "--preset")) { o->preset = v; continue; }
        if (!strcmp(a, "--seed")) { long s; if (cli_int("gan_search", a, v, 0, 2147483647L, &s)) return -1; o->seed = (uint64_t)s; continue; }
        if (!strcmp(a, "--limit")) { if (cli_int("gan_search", a, v, 2, 100000000L, &o->limit)) return -1; continue; }
        if (!strcmp(a, "--random-baseline")) { if (cli_int("gan_search", a, v, 0, 100000L, &o->random_baseline)) return -1; continue; }
        if (!strcmp(a, "--eval-every")) { if (cli_int("gan_search", a, v, 0, 1000000L, &o->eval_every)) return -1; continue; }
        if (!strcmp(a, "--gf")) ip = &o->gf;
        else if (!strcmp(a, "--df")) ip = &o->df;
        else if (!strcmp(a, "--latent")) ip = &o->latent;
        else if (!strcmp(a, "--epochs")) ip = &o->epochs;
        else if (!strcmp(a, "--batch")) ip = &o->batch;
        else if (!strcmp(a, "--inner-steps")) { ip = &o->inner; lo = 0; }
        else if (!strcmp(a, "--worst-steps")) { ip = &o->worst; lo = 0; }
        else if (!strcmp(a, "--arch-steps")) { ip = &o->arch; lo = 0; }
        else if (!strcmp(a, "--threads")) { ip = &o->threads; hi = 1024; }
        else if (!strcmp(a, "--samples")) { ip = &o->samples; lo = 0; hi = 4096; }
        else { fprintf(stderr, "gan_search: unknown option %s (see --help)\n", a); return -1; }
        if (cli_int("gan_search", a, v, lo, hi, &x)) return -1;
        *ip = (int)x;
    }
    return 0;
}

typedef struct search {
    options o;
    ng_image_set data;
    ng_image_sampler sampler;
    ng_gan_config gcfg;
    ng_bilevel_config bcfg;
    ng_gan_gen_search *G, *G_worst;
    ng_gan_disc *D, *D_worst;
    ng_ctx *ctx;
    ng_bilevel b;
    char settings[1024];      /* what a checkpoint must match to be resumed */
    cli_text csv;             /* the whole log, rewritten atomically every epoch */
    double t_start;           /* this process */
    int64_t units_done, units_left;   /* steps, for the ETA */
    int tty;
    int eval_every;           /* epochs between evaluations of the supernet (0: none) */
    int memory_shown;         /* the memory line was printed (after this run's first epoch) */
    gan_eval ev;
} search;

/* the supernet is evaluated during the search */
static int evaluating(const search *s) { return s->eval_every > 0 && gan_eval_active(&s->ev); }

static void csv_header(search *s) {
    int e, k;
    cli_printf(&s->csv, "epoch,seconds,d_loss,g_loss,d_worst_loss,g_worst_loss,minmax,maxmin,duality_gap");
    for (e = 0; e < NG_GAN_EDGES; e++)
        for (k = 0; k < ng_gan_edge_n_ops(e); k++) cli_printf(&s->csv, ",%s.%s", ng_gan_edge_name(e), ng_gan_op_name(e, k));
    gan_eval_csv_header(&s->csv);
    cli_printf(&s->csv, ",genotype\n");
}

/* softmax of edge e's alpha row into p */
static void edge_softmax(const ng_gan_gen_search *G, int e, double *p) {
    int k, n = ng_gan_edge_n_ops(e);
    float a[NG_GAN_N_NORMAL_OPS];
    double m = -1e300, z = 0;
    if (ng_gan_gen_search_alpha_row(G, e, a) != NG_OK) memset(a, 0, sizeof a);
    for (k = 0; k < n; k++) if (a[k] > m) m = a[k];
    for (k = 0; k < n; k++) z += (p[k] = exp(a[k] - m));
    for (k = 0; k < n; k++) p[k] /= z;
}

static void genotype_line(const ng_gan_genotype *g, char *buf, size_t cap) {
    size_t o = 0;
    int e;
    buf[0] = 0;
    for (e = 0; e < NG_GAN_EDGES && o < cap; e++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", e ? " " : "", ng_gan_op_name(e, g->op[e]));
}

/* one row per epoch; row: this epoch's evaluation, NULL when there was none */
static void csv_row(search *s, double seconds, const gan_eval_row *row) {
    const ng_bilevel_losses *l = &s->b.last;
    ng_gan_genotype geno;
    char line[1024];
    double p[NG_GAN_N_NORMAL_OPS];
    int e, k;
    cli_printf(&s->csv, "%lld,%.2f,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g", (long long)s->b.epoch, seconds, l->d_loss, l->g_loss,
               l->d_worst_loss, l->g_worst_loss, l->minmax, l->maxmin, l->gap);
    for (e = 0; e < NG_GAN_EDGES; e++) {
        edge_softmax(s->G, e, p);
        for (k = 0; k < ng_gan_edge_n_ops(e); k++) cli_printf(&s->csv, ",%.6f", p[k]);
    }
    gan_eval_csv_cells(&s->csv, row);   /* empty cells in epochs without an evaluation */
    ng_gan_gen_search_derive(s->G, &geno);
    genotype_line(&geno, line, sizeof line);
    cli_printf(&s->csv, ",\"%s\"\n", line);
}

static void progress(const ng_bilevel *b, const char *phase, int64_t step, int64_t total, void *user) {
    search *s = (search *)user;
    double el = ng_time_sec() - s->t_start, eta;
    char eta_s[32], el_s[32];
    s->units_done++;
    s->units_left--;
    eta = s->units_done > 0 ? el / (double)s->units_done * (double)(s->units_left > 0 ? s->units_left : 0) : 0;
    cli_duration(eta, eta_s, sizeof eta_s);
    cli_duration(el, el_s, sizeof el_s);
    fprintf(stderr, "%sepoch %lld/%d %-7s %3lld/%-3lld | D %.4f G %.4f | D_worst %.4f G_worst %.4f | gap %+.4f | %s, ETA %s%s",
            s->tty ? "\r" : "", (long long)b->epoch + 1, b->cfg.epochs, phase, (long long)step, (long long)total,
            b->last.d_loss, b->last.g_loss, b->last.d_worst_loss, b->last.g_worst_loss, b->last.gap, el_s, eta_s,
            s->tty ? "\033[K" : "\n");
    fflush(stderr);
}

static int64_t epoch_units(const ng_bilevel *b) {
    int64_t d, g, w, a;
    ng_bilevel_epoch_plan(b, &d, &g, &w, &a);
    return d + g + 2 * w + a;
}

static int fail(const char *what) {
    fprintf(stderr, "\ngan_search: %s: %s\n", what, ng_last_error());
    return 1;
}

static int load_data(search *s) {
    const options *o = &s->o;
    if (ng_gan_dataset_load(o->dataset, o->data_dir, &s->data) != NG_OK) {
        fprintf(stderr, "gan_search: %s\n", ng_last_error());
        if (!strcmp(o->dataset, "fashion_mnist")) fprintf(stderr, "  (install Debian's dataset-fashion-mnist or pass --data-dir)\n");
        return -1;
    }
    if (o->limit > 0 && o->limit < s->data.n) s->data.n = o->limit;
    if (s->data.n < 2 * s->bcfg.batch) {
        fprintf(stderr, "gan_search: %lld images are too few for two splits of batch %d\n", (long long)s->data.n, s->bcfg.batch);
        return -1;
    }
    return 0;
}

static int setup(search *s) {
    options *o = &s->o;
    ng_rng init;
    int quick = !strcmp(o->preset, "quick");
    if (ng_bilevel_preset(o->preset, &s->bcfg) != 0) {
        fprintf(stderr, "gan_search: unknown preset '%s' (quick, paper-s, paper-l)\n", o->preset);
        return -1;
    }
    s->eval_every = (int)(o->eval_every >= 0 ? o->eval_every : quick ? 0 : 4);
    if (o->epochs > 0) s->bcfg.epochs = o->epochs;
    if (o->batch > 0) s->bcfg.batch = o->batch;
    if (o->inner >= 0) s->bcfg.inner_steps = o->inner;
    if (o->worst >= 0) s->bcfg.worst_steps = o->worst;
    if (o->arch >= 0) s->bcfg.arch_steps = o->arch;
    s->bcfg.g_lr_rising_cosine = o->rising_cosine;
    if (ng_gan_config_preset(&s->gcfg, o->dataset) != NG_OK) {
        fprintf(stderr, "gan_search: %s\n", ng_last_error());
        return -1;
    }
    s->gcfg.gf_dim = o->gf > 0 ? o->gf : quick ? 32 : 256;
    s->gcfg.df_dim = o->df > 0 ? o->df : quick ? 32 : 128;
    if (o->latent > 0) s->gcfg.latent_dim = o->latent;
    s->bcfg.latent_dim = s->gcfg.latent_dim;
    s->gcfg.gumbel = o->gumbel;
    if (ng_gan_config_check(&s->gcfg) != NG_OK) { fprintf(stderr, "gan_search: %s\n", ng_last_error()); return -1; }
    if (o->cifar_meanstd && strcmp(o->dataset, "cifar10")) {
        fprintf(stderr, "gan_search: --cifar-meanstd applies to --dataset cifar10 only\n");
        return -1;
    }
    if (load_data(s)) return -1;
    snprintf(s->settings, sizeof s->settings,
             "dataset=%s images=%lld gf=%d df=%d latent=%d bottom=%d channels=%d gumbel=%d fused=%d batch=%d inner=%d "
             "worst=%d arch=%d meanstd=%d rising_cosine=%d d_sum_pool=%d seed=%llu",
             o->dataset, (long long)s->data.n, s->gcfg.gf_dim, s->gcfg.df_dim, s->gcfg.latent_dim, s->gcfg.bottom_width,
             s->gcfg.channels, s->gcfg.gumbel, !o->plain_edges, s->bcfg.batch, s->bcfg.inner_steps, s->bcfg.worst_steps,
             s->bcfg.arch_steps, o->cifar_meanstd, o->rising_cosine, o->d_sum_pool, (unsigned long long)o->seed);
    /* split by index: first half trains the weights, second half is the validation split */
    if (ng_image_sampler_init(&s->sampler, &s->data, s->data.n / 2,
                              o->cifar_meanstd ? NG_IMAGE_NORM_CIFAR_MEANSTD : NG_IMAGE_NORM_PM1, o->seed + 1) != NG_OK)
        { fail("data"); return -1; }
    ng_rng_seed(&init, o->seed);
    s->G = ng_gan_gen_search_create(&s->gcfg, "G", &init);
    s->G_worst = s->G ? ng_gan_gen_search_clone(s->G, "G_worst") : NULL;
    s->D = ng_gan_disc_create(&s->gcfg, "D", NG_GAN_INIT_PYTORCH, &init);
    s->D_worst = ng_gan_disc_create(&s->gcfg, "D_worst", NG_GAN_INIT_PYTORCH, &init);
    if (!s->G || !s->G_worst || !s->D || !s->D_worst) { fail("building the networks"); return -1; }
    s->G->fuse = s->G_worst->fuse = !o->plain_edges;
    s->D->pool_sum = s->D_worst->pool_sum = o->d_sum_pool;
    {
        ng_params *groups[] = {s->G->weights, s->G->buffers, s->G->alpha, s->G_worst->weights, s->G_worst->buffers,
                               s->G_worst->alpha, s->D->weights, s->D->buffers, s->D_worst->weights, s->D_worst->buffers};
        if (cli_to_device("gan_search", &o->device, groups, (int)(sizeof groups / sizeof groups[0]))) return -1;
    }
    {   /* the arena holds one step's activations and tape; host pages are only touched as used */
        long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGE_SIZE);
        size_t cap = pages > 0 && psize > 0 ? (size_t)pages * (size_t)psize / 4 * 3 : (size_t)8 << 30;
        if (!(s->ctx = ng_ctx_create_on(cli_arena_bytes(&o->device, cap), o->seed + 2, o->device.dev)))
            { fail("allocating the step arena"); return -1; }
    }
    if (ng_bilevel_init(&s->b, &s->bcfg, ng_gan_net_search(s->G), ng_gan_net_disc(s->D), ng_gan_net_search(s->G_worst),
                        ng_gan_net_disc(s->D_worst), s->ctx, o->seed + 3, ng_image_sampler_batch, &s->sampler,
                        (s->data.n / 2 + s->bcfg.batch - 1) / s->bcfg.batch) != NG_OK) {
        fail("search setup");
        return -1;
    }
    return 0;
}

static int save_state(search *s, const char *path) {
    ng_ckpt *ck = ng_ckpt_new();
    ng_status st = ck ? NG_OK : NG_ERR_NOMEM;
    if (st == NG_OK) st = ng_ckpt_put(ck, "search.settings", s->settings, strlen(s->settings));
    if (st == NG_OK) st = ng_bilevel_put(ck, &s->b);
    if (st == NG_OK) st = ng_image_sampler_put(ck, "search.data", &s->sampler);
    if (st == NG_OK) st = ng_ckpt_save(ck, path);
    ng_ckpt_free(ck);
    return st == NG_OK ? 0 : fail("saving the checkpoint");
}

static int load_state(search *s, const char *path) {
    ng_ckpt *ck = NULL;
    ng_status st;
    if (cli_resume_open("gan_search", path, "search.settings", s->settings, &ck)) return 1;
    st = ng_bilevel_get(ck, &s->b);
    if (st == NG_OK) st = ng_image_sampler_get(ck, "search.data", &s->sampler);
    ng_ckpt_free(ck);
    if (st != NG_OK) return fail("--resume");
    return 0;
}

/* The supernet's architecture logits, every edge's row, in host memory: read, written back,
   and peaked at a genotype's ops (+-40: the others weigh e^-80, so that the supernet computes
   that architecture with the shared weights). */
typedef float alpha_rows[NG_GAN_EDGES][NG_GAN_N_NORMAL_OPS];
static int get_alphas(search *s, alpha_rows a) {
    int e;
    for (e = 0; e < NG_GAN_EDGES; e++)
        if (ng_gan_gen_search_alpha_row(s->G, e, a[e]) != NG_OK) return fail("reading alpha");
    return 0;
}
static int set_alphas(search *s, alpha_rows a) {
    int e;
    for (e = 0; e < NG_GAN_EDGES; e++)
        if (ng_gan_gen_search_set_alpha_row(s->G, e, a[e]) != NG_OK) return fail("setting alpha");
    return 0;
}
static int peak_alphas(search *s, const ng_gan_genotype *g) {
    alpha_rows a;
    int e, k;
    for (e = 0; e < NG_GAN_EDGES; e++)
        for (k = 0; k < ng_gan_edge_n_ops(e); k++) a[e][k] = k == g->op[e] ? 40.0f : -40.0f;
    return set_alphas(s, a);
}

/* An 8-per-row grid of --samples images of the supernet as its alphas stand (fixed latents). */
static void sample_grid(search *s, const char *path) {
    int c = s->gcfg.channels, hw = 8 * s->gcfg.bottom_width, n = s->o.samples;
    float *img = (float *)malloc((size_t)n * (size_t)(c * hw * hw) * sizeof(float));
    if (!img || ng_gan_generate(ng_gan_net_search(s->G), s->gcfg.latent_dim, n, 64, s->o.seed + 1000, img,
                                (int64_t)n * c * hw * hw) != NG_OK ||
        ng_save_image_grid(path, img, n, c, hw, hw, 8, 2) != NG_OK)
        fprintf(stderr, "gan_search: note: no sample grid: %s\n", ng_last_error());
    free(img);
}

/* samples_epochNNN.png: the supernet; samples_epochNNN_derived.png: the epoch's derived
   genotype on the shared weights (the reference's preview of its discrete genotype), with the
   alphas restored bit for bit afterwards. */
static int write_samples(search *s, const char *dir) {
    ng_gan_genotype g;
    alpha_rows saved;
    char path[4200];
    if (s->o.samples <= 0) return 0;
    snprintf(path, sizeof path, "%s/samples_epoch%03lld.png", dir, (long long)s->b.epoch);
    sample_grid(s, path);
    ng_gan_gen_search_derive(s->G, &g);
    if (get_alphas(s, saved) || peak_alphas(s, &g)) return 1;
    snprintf(path, sizeof path, "%s/samples_epoch%03lld_derived.png", dir, (long long)s->b.epoch);
    sample_grid(s, path);
    return set_alphas(s, saved);
}

/* The reference's random-search baseline (alphagan.md 3.6): random genotypes ranked on the
   trained supernet by IS (as it keeps them), FID beside; the search's alphas are restored. */
static int random_baseline(search *s, const char *dir) {
    alpha_rows saved;
    ng_gan_genotype g, best_is, best_fid;
    double top_is = -1, top_fid = 1e300;
    cli_text csv = {NULL, 0, 0};
    char path[4200], line[1024];
    long k;
    int rc = 0;
    if (!gan_eval_active(&s->ev)) {
        fprintf(stderr, "gan_search: --random-baseline needs a feature network (--fid-net or --fid-inception)\n");
        return 1;
    }
    if (get_alphas(s, saved)) return 1;
    cli_printf(&csv, "sample,genotype,is,is_std,fid,kid,precision,recall\n");
    printf("random-search baseline: %ld random genotypes on the trained supernet\n", s->o.random_baseline);
    for (k = 0; k < s->o.random_baseline && rc == 0; k++) {
        gan_eval_row row;
        double is, fid;
        ng_rng r;
        ng_rng_seed(&r, s->o.seed + 1000 + (uint64_t)k);
        ng_gan_genotype_random(&g, &r);
        if (peak_alphas(s, &g) || gan_eval_run(&s->ev, ng_gan_net_search(s->G), s->gcfg.latent_dim, s->o.seed + 7, &row)) {
            rc = 1;
            break;
        }
        is = row.inc_ok ? row.inc_is : row.is;   /* the Inception's numbers when there are both */
        fid = row.inc_ok ? row.inc_fid : row.fid;
        genotype_line(&g, line, sizeof line);
        cli_printf(&csv, "%ld,\"%s\",%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n", k, line, is, row.inc_ok ? row.inc_is_std : row.is_std, fid,
                   row.inc_ok ? row.inc_kid : row.kid, row.inc_ok ? row.inc_precision : row.precision,
                   row.inc_ok ? row.inc_recall : row.recall);
        if (k == 0 || is > top_is) { top_is = is; best_is = g; }   /* the first one stands while the rest are NaN */
        if (k == 0 || fid < top_fid) { top_fid = fid; best_fid = g; }
        fprintf(stderr, "%srandom genotype %ld/%ld: IS %.3f, FID %.3f%s", s->tty ? "\r" : "", k + 1, s->o.random_baseline, is, fid,
                s->tty ? "\033[K" : "\n");
    }
    if (s->tty) fputc('\n', stderr);
    if (set_alphas(s, saved)) rc = 1;   /* the search's own alphas back */
    snprintf(path, sizeof path, "%s/random_baseline.csv", dir);
    if (rc == 0 && ng_file_write_atomic(path, csv.s, csv.len) != NG_OK) rc = fail("writing random_baseline.csv");
    free(csv.s);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/genotype_random_best.json", dir);
    if (ng_gan_genotype_save(&best_is, path) != NG_OK) return fail("writing genotype_random_best.json");
    genotype_line(&best_is, line, sizeof line);
    printf("random-search baseline: best IS %.3f: %s (%s; %s/random_baseline.csv)\n", top_is, line, path, dir);
    genotype_line(&best_fid, line, sizeof line);
    printf("random-search baseline: best FID %.3f: %s\n", top_fid, line);
    return 0;
}

static void final_report(search *s, const char *dir, double seconds) {
    ng_gan_genotype geno;
    char path[4200], dotp[4200], svgp[4200], pyp[4200], cmd[9000], t[32];
    char *py = NULL;
    size_t pn = 0;
    double p[NG_GAN_N_NORMAL_OPS];
    int e, k;
    ng_gan_gen_search_derive(s->G, &geno);
    snprintf(path, sizeof path, "%s/genotype.json", dir);
    if (ng_gan_genotype_save(&geno, path) != NG_OK) fprintf(stderr, "gan_search: %s\n", ng_last_error());
    snprintf(dotp, sizeof dotp, "%s/genotype.dot", dir);
    if (ng_gan_genotype_save_dot(&geno, "alphaGAN search", dotp) != NG_OK) fprintf(stderr, "gan_search: %s\n", ng_last_error());
    snprintf(svgp, sizeof svgp, "%s/genotype.svg", dir);
    if (ng_gan_genotype_save_svg(&geno, "alphaGAN search", svgp) != NG_OK) fprintf(stderr, "gan_search: %s\n", ng_last_error());
    snprintf(pyp, sizeof pyp, "%s/genotype.py", dir);   /* the reference code's form */
    if (ng_gan_genotype_to_python(&geno, "searched", &py, &pn) != NG_OK || !cli_append_newline(&py, &pn) ||
        ng_file_write_atomic(pyp, py, pn) != NG_OK)
        fprintf(stderr, "gan_search: %s\n", ng_last_error());
    cli_duration(seconds, t, sizeof t);
    printf("\nsearch finished: %lld epochs, %lld D steps, %s in this run\n", (long long)s->b.epoch,
           (long long)s->b.global_step, t);
    printf("derived genotype (argmax of softmax(alpha) per edge):\n");
    for (e = 0; e < NG_GAN_EDGES; e++) {
        edge_softmax(s->G, e, p);
        printf("  %-14s %-13s (p = %.3f;", ng_gan_edge_name(e), ng_gan_op_name(e, geno.op[e]), p[geno.op[e]]);
        for (k = 0; k < ng_gan_edge_n_ops(e); k++) printf(" %.3f", p[k]);
        printf(")\n");
    }
    if (py) printf("in the reference code's form (its models/genotypes.py; %s):\n  %s", pyp, py);
    free(py);
    printf("wrote %s, %s, %s", path, svgp, dotp);
    if (system("command -v dot >/dev/null 2>&1") == 0) {
        snprintf(cmd, sizeof cmd, "dot -Tpng '%s' -o '%s/genotype.png'", dotp, dir);
        if (system(cmd) == 0) printf(", %s/genotype.png", dir);
    } else {
        printf(" (install graphviz for genotype.png)");
    }
    printf(", %s/search.csv, %s/search.ckpt\n", dir, dir);
    printf("retrain it: build/gan_train --genotype %s --dataset %s\n", path, s->o.dataset);
}

int main(int argc, char **argv) {
    search s;
    char ckpt[4200], csvp[4200];
    double t_epoch;
    int rc = 0;
    memset(&s, 0, sizeof s);
    if (cli_expand_config("gan_search", &argc, &argv) || parse_args(argc, argv, &s.o)) return 2;
#ifdef _OPENMP
    if (s.o.threads > 0) omp_set_num_threads(s.o.threads);
#endif
    if (cli_make_dirs("gan_search", s.o.out) || cli_device_start("gan_search", &s.o.device)) return 1;
    snprintf(ckpt, sizeof ckpt, "%s/search.ckpt", s.o.out);
    snprintf(csvp, sizeof csvp, "%s/search.csv", s.o.out);
    if (setup(&s)) return 1;
    if ((s.eval_every > 0 || s.o.random_baseline > 0) && gan_eval_setup(&s.ev, "gan_search", &s.o.eval, s.o.dataset, &s.data, &s.o.device))
        return 1;
    if (s.o.resume) {
        if (load_state(&s, ckpt)) return 1;
        if (cli_csv_reload(&s.csv, csvp, (long long)s.b.epoch)) csv_header(&s);
        printf("resumed %s at epoch %lld\n", ckpt, (long long)s.b.epoch);
    } else {
        csv_header(&s);
    }
    s.tty = isatty(2);
    printf("%s\nalphaGAN search: %s | preset %s | %lld images (%lld train, %lld validation) | G %lld weights + %lld alphas, "
           "D %lld | %d epochs\n", ng_build_info(), s.o.dataset, s.o.preset, (long long)s.data.n,
           (long long)(s.data.n / 2), (long long)(s.data.n - s.data.n / 2), (long long)s.G->weights->numel,
           (long long)s.G->alpha->numel, (long long)s.D->weights->numel, s.bcfg.epochs);
    printf("settings: %s\n", s.settings);
    cli_run_record("gan_search", s.o.out, argc, argv, s.settings, s.o.resume);
    fflush(stdout);
    s.t_start = ng_time_sec();
    s.units_left = epoch_units(&s.b) * (int64_t)(s.bcfg.epochs - s.b.epoch);   /* G steps vary by a few: an estimate */
    while (s.b.epoch < s.bcfg.epochs) {
        t_epoch = ng_time_sec();
        if (ng_bilevel_epoch(&s.b, progress, &s) != NG_OK) { rc = fail("search"); break; }
        if (s.tty) fputc('\n', stderr);
        {
            gan_eval_row row;
            int now = evaluating(&s) && (s.b.epoch % s.eval_every == 0 || s.b.epoch == s.bcfg.epochs);
            double secs = ng_time_sec() - t_epoch;   /* the search's time, without the evaluation's */
            if (now && gan_eval_run(&s.ev, ng_gan_net_search(s.G), s.gcfg.latent_dim, s.o.seed + 7, &row)) { rc = 1; break; }
            if (now) {
                char when[64];
                snprintf(when, sizeof when, "epoch %lld", (long long)s.b.epoch);
                gan_eval_print(when, "supernet ", &row);
            }
            csv_row(&s, secs, now ? &row : NULL);
        }
        if (ng_file_write_atomic(csvp, s.csv.s, s.csv.len) != NG_OK) { rc = fail("writing the log"); break; }
        if (write_samples(&s, s.o.out)) { rc = 1; break; }
        if (save_state(&s, ckpt)) { rc = 1; break; }
        printf("epoch %lld: gap %+.4f (minmax %.4f, maxmin %.4f), D %.4f, G %.4f, %.1f s; checkpoint %s\n",
               (long long)s.b.epoch, s.b.last.gap, s.b.last.minmax, s.b.last.maxmin, s.b.last.d_loss, s.b.last.g_loss,
               ng_time_sec() - t_epoch, ckpt);
        if (!s.memory_shown) {   /* once, when the steps have reached their size */
            char mem[256];
            printf("%s\n", cli_memory(s.ctx, mem, sizeof mem));
            s.memory_shown = 1;
        }
        fflush(stdout);
    }
    if (rc == 0) final_report(&s, s.o.out, ng_time_sec() - s.t_start);
    if (rc == 0 && s.o.random_baseline > 0) rc = random_baseline(&s, s.o.out);
    ng_bilevel_free(&s.b);
    ng_gan_gen_search_free(s.G); ng_gan_gen_search_free(s.G_worst);
    ng_gan_disc_free(s.D); ng_gan_disc_free(s.D_worst);
    gan_eval_free(&s.ev);
    ng_image_sampler_free(&s.sampler);
    ng_image_set_free(&s.data);
    ng_ctx_free(s.ctx);
    free(s.csv.s);
    return rc;
}
