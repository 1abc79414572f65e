/* Retrain a GAN generator architecture (a genotype) against alphaGAN's fixed discriminator,
   then report FID / KID / IS analogues in the feature space of nasgan's Fashion-MNIST CNN and,
   with --fid-inception, FID / KID / IS with the FID Inception-v3 (comparable to papers when the
   weights are pytorch-fid's, converted by scripts/convert_inception.py).

     make build/gan_train && ./build/gan_train --genotype runs/search/genotype.json --g-steps 2000
     ./build/gan_train --genotype alphaGAN_l --dataset cifar10 --data-dir cifar-10-batches-bin

   Settings follow alphagan.md section 4 (train_geno_gan.py): D batch 64, G batch 128,
   n_critic 5, Adam 2e-4 with betas (0.0, 0.9) ((0.5, 0.9) on STL-10), constant lr, EMA 0.999
   of G's parameters, Xavier init of every Conv2d. Evaluation uses the EMA weights in eval
   mode. Writes into --out: train.csv (one row per evaluation), samples_stepNNNNNN.png,
   train.ckpt (resumable state, --resume), generator.ckpt (EMA weights), genotype.json and genotype.svg (its picture), run.txt. */
#define NASGAN_IMPLEMENTATION
#include "nasgan.h"

#include "cli.h"
#include "gan_eval.h"
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct options {
    const char *genotype, *dataset, *data_dir, *out;
    int resume, threads, d_sum_pool, samples, d_batch, g_batch, gf, df, latent;
    long limit, g_steps, eval_every, ckpt_every;
    gan_eval_opts eval;
    double lr, beta1, beta2, ema_decay;
    uint64_t seed;
    cli_device device;
} options;

static void usage(FILE *f) {
    fprintf(f,
        "usage: gan_train [options]\n"
        "Retrain a generator genotype with alphaGAN's discriminator; report FID/KID/IS analogues.\n\n"
        "  --genotype SPEC     a genotype JSON file (from gan_search), a built-in (alphaGAN_l, alphaGAN_s),\n"
        "                      random:SEED (uniform over the search space), or the reference code's form:\n"
        "                      FILE.py[:NAME] (e.g. its models/genotypes.py:alphaGAN_l, or gan_search's\n"
        "                      genotype.py) or \"Genotype_gen(normal=...)\" itself (default alphaGAN_s)\n"
        "  --dataset NAME      fashion_mnist (default), cifar10, stl10 (see gan_search --help)\n"
        "  --data-dir DIR      where the dataset's files are\n"
        "  --limit N           use only the first N training images\n"
        "  --g-steps N         G steps to train (default: the reference's 50,000; 80,000 on stl10).\n"
        "                      One G step every 5 D steps, so D takes 5x as many steps.\n"
        "  --gf N  --df N      widths (default 256 and 128, as the paper)\n"
        "  --latent N          latent size (default 128)\n"
        "  --d-batch N         D batch (default 64)       --g-batch N   G batch (default 128)\n"
        "  --lr X              Adam lr of G and D (default 2e-4)\n"
        "  --beta1 X --beta2 X Adam betas (default by dataset: 0.0/0.9, stl10 0.5/0.9)\n"
        "  --ema-decay X       decay of the EMA of G's weights that is evaluated (default 0.999; after\n"
        "                      t G steps the initial weights still weigh decay^t: lower it for short runs)\n"
        "  --d-sum-pool        the reference code's sum over H x W in D (default: the mean)\n"
        "  --seed N            (default 12345, as the reference)\n"
        "  --threads N         OpenMP threads (default: all cores)\n"
        CLI_DEVICE_HELP
        "                      (with cuda, G and D train and both feature networks run on the GPU;\n"
        "                      FID/KID/IS themselves are computed on the CPU from the features)\n"
        GAN_EVAL_HELP
        "  --eval-every N        evaluate every N G steps (default: only at the end)\n"
        "Output:\n"
        "  --out DIR           output directory (default runs/gan_train)\n"
        "  --samples N         images in each sample grid, 8 per row (default 64; 0: none)\n"
        "  --ckpt-every N      save the resumable state every N G steps (default 500)\n"
        "  --resume            continue from DIR/train.ckpt (refused if the settings differ)\n"
        CLI_CONFIG_HELP
        "  -h, --help          this text\n");
}

static int parse_args(int argc, char **argv, options *o) {
    int i;
    memset(o, 0, sizeof *o);
    o->genotype = "alphaGAN_s"; o->dataset = "fashion_mnist"; o->out = "runs/gan_train";
    gan_eval_opts_default(&o->eval);
    o->seed = 12345; o->samples = 64; o->ckpt_every = 500;
    o->gf = 256; o->df = 128; o->latent = 128; o->g_steps = -1; o->lr = -1; o->beta1 = -1; o->beta2 = -1;
    o->ema_decay = -1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x = 0;
        int *ip = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); exit(0); }
        if (!strcmp(a, "--resume")) { o->resume = 1; continue; }
        if (!strcmp(a, "--d-sum-pool")) { o->d_sum_pool = 1; continue; }
        if ((x = cli_device_arg("gan_train", argc, argv, &i, &o->device)) != 0) { if (x < 0) return -1; continue; }
        if ((x = gan_eval_arg("gan_train", argc, argv, &i, &o->eval)) != 0) { if (x < 0) return -1; continue; }
        if (!v) { fprintf(stderr, "gan_train: %s needs a value (see --help)\n", a); return -1; }
        i++;
        if (!strcmp(a, "--genotype")) o->genotype = v;
        else if (!strcmp(a, "--dataset")) o->dataset = v;
        else if (!strcmp(a, "--data-dir")) o->data_dir = v;
        else if (!strcmp(a, "--out")) o->out = v;
        else if (!strcmp(a, "--seed")) { if (cli_int("gan_train", a, v, 0, 2147483647L, &x)) return -1; o->seed = (uint64_t)x; }
        else if (!strcmp(a, "--limit")) { if (cli_int("gan_train", a, v, 2, 100000000L, &o->limit)) return -1; }
        else if (!strcmp(a, "--g-steps")) { if (cli_int("gan_train", a, v, 1, 100000000L, &o->g_steps)) return -1; }
        else if (!strcmp(a, "--eval-every")) { if (cli_int("gan_train", a, v, 1, 100000000L, &o->eval_every)) return -1; }
        else if (!strcmp(a, "--ckpt-every")) { if (cli_int("gan_train", a, v, 1, 100000000L, &o->ckpt_every)) return -1; }
        else if (!strcmp(a, "--lr")) { if (cli_float("gan_train", a, v, 1e-12, 10, &o->lr)) return -1; }
        else if (!strcmp(a, "--beta1")) { if (cli_float("gan_train", a, v, 0, 0.999999, &o->beta1)) return -1; }
        else if (!strcmp(a, "--beta2")) { if (cli_float("gan_train", a, v, 0, 0.999999, &o->beta2)) return -1; }
        else if (!strcmp(a, "--ema-decay")) { if (cli_float("gan_train", a, v, 0, 1, &o->ema_decay)) return -1; }
        else {
            if (!strcmp(a, "--gf")) ip = &o->gf;
            else if (!strcmp(a, "--df")) ip = &o->df;
            else if (!strcmp(a, "--latent")) ip = &o->latent;
            else if (!strcmp(a, "--d-batch")) ip = &o->d_batch;
            else if (!strcmp(a, "--g-batch")) ip = &o->g_batch;
            else if (!strcmp(a, "--threads")) ip = &o->threads;
            else if (!strcmp(a, "--samples")) ip = &o->samples;
            else { fprintf(stderr, "gan_train: unknown option %s (see --help)\n", a); return -1; }
            if (cli_int("gan_train", a, v, ip == &o->samples ? 0 : 1, 65536L, &x)) return -1;
            *ip = (int)x;
        }
    }
    return 0;
}

/* "random:SEED", a built-in name, or a JSON file */
static int resolve_genotype(const char *spec, ng_gan_genotype *g) {
    if (!strncmp(spec, "random:", 7)) {
        long seed;
        ng_rng r;
        if (cli_int("gan_train", "--genotype random:", spec + 7, 0, 2147483647L, &seed)) return -1;
        ng_rng_seed(&r, (uint64_t)seed);
        ng_gan_genotype_random(g, &r);
        return 0;
    }
    if (ng_gan_genotype_builtin(spec, g) == NG_OK) return 0;
    ng_clear_error();
    if (!strncmp(spec, "Genotype_gen(", 13)) {   /* the reference code's form, given inline */
        if (ng_gan_genotype_parse_python(spec, strlen(spec), "--genotype", NULL, g) == NG_OK) return 0;
    } else if (strstr(spec, ".py")) {   /* FILE.py or FILE.py:NAME, e.g. the reference's models/genotypes.py */
        const char *colon = strstr(spec, ".py:");
        char path[4096];
        unsigned char *text = NULL;
        size_t n = 0, pl = colon ? (size_t)(colon + 3 - spec) : strlen(spec);
        if (pl < sizeof path) {
            memcpy(path, spec, pl);
            path[pl] = '\0';
            if (ng_file_read_all(path, (size_t)1 << 24, &text, &n) == NG_OK &&
                ng_gan_genotype_parse_python((const char *)text, n, path, colon ? colon + 4 : NULL, g) == NG_OK) {
                free(text);
                return 0;
            }
            free(text);
        }
    } else if (ng_gan_genotype_load(spec, g) == NG_OK) {
        return 0;
    }
    fprintf(stderr, "gan_train: --genotype %s: %s\n", spec, ng_last_error());
    return -1;
}

typedef struct trainer {
    options o;
    ng_gan_genotype geno;
    ng_gan_config gcfg;
    ng_gan_train_config tcfg;
    ng_image_set data;
    ng_image_sampler sampler;
    ng_gan_gen_fixed *G;
    ng_gan_disc *D;
    ng_ctx *ctx;
    ng_gan_trainer t;
    gan_eval ev;                    /* FID/KID/IS of the EMA generator */
    char settings[2048];
    cli_text csv;
    double t_start;
    int64_t g_steps_at_start;
    int tty;
} trainer;

static int fail(const char *what) {
    fprintf(stderr, "\ngan_train: %s: %s\n", what, ng_last_error());
    return 1;
}

static int setup(trainer *r) {
    options *o = &r->o;
    ng_rng init;
    char *json = NULL;
    size_t jn = 0;
    if (resolve_genotype(o->genotype, &r->geno)) return -1;
    if (ng_gan_config_preset(&r->gcfg, o->dataset) != NG_OK || ng_gan_train_preset(o->dataset, &r->tcfg) != NG_OK) {
        fprintf(stderr, "gan_train: %s\n", ng_last_error());
        return -1;
    }
    r->gcfg.gf_dim = o->gf; r->gcfg.df_dim = o->df; r->gcfg.latent_dim = r->tcfg.latent_dim = o->latent;
    if (o->g_steps > 0) r->tcfg.max_g_steps = o->g_steps;
    if (o->d_batch > 0) r->tcfg.d_batch = o->d_batch;
    if (o->g_batch > 0) r->tcfg.g_batch = o->g_batch;
    if (o->lr > 0) r->tcfg.lr_g = r->tcfg.lr_d = (float)o->lr;
    if (o->beta1 >= 0) r->tcfg.beta1 = (float)o->beta1;
    if (o->beta2 >= 0) r->tcfg.beta2 = (float)o->beta2;
    if (o->ema_decay >= 0) r->tcfg.ema_decay = (float)o->ema_decay;
    if (ng_gan_config_check(&r->gcfg) != NG_OK) { fprintf(stderr, "gan_train: %s\n", ng_last_error()); return -1; }
    if (ng_gan_dataset_load(o->dataset, o->data_dir, &r->data) != NG_OK) {
        fprintf(stderr, "gan_train: %s\n", ng_last_error());
        return -1;
    }
    if (o->limit > 0 && o->limit < r->data.n) r->data.n = o->limit;
    if (ng_image_sampler_init(&r->sampler, &r->data, r->data.n, NG_IMAGE_NORM_PM1, o->seed + 1) != NG_OK) return fail("data");
    if (ng_gan_genotype_to_json(&r->geno, &json, &jn) != NG_OK) return fail("genotype");
    snprintf(r->settings, sizeof r->settings,
             "dataset=%s images=%lld gf=%d df=%d latent=%d d_batch=%d g_batch=%d n_critic=%d lr=%.9g/%.9g betas=%.9g/%.9g "
             "ema=%.9g d_sum_pool=%d seed=%llu genotype=%s",
             o->dataset, (long long)r->data.n, r->gcfg.gf_dim, r->gcfg.df_dim, r->gcfg.latent_dim, r->tcfg.d_batch,
             r->tcfg.g_batch, r->tcfg.n_critic, r->tcfg.lr_g, r->tcfg.lr_d, r->tcfg.beta1, r->tcfg.beta2, r->tcfg.ema_decay,
             o->d_sum_pool, (unsigned long long)o->seed, json);
    free(json);
    ng_rng_seed(&init, o->seed);
    r->G = ng_gan_gen_fixed_create(&r->gcfg, &r->geno, "G", NG_GAN_INIT_XAVIER, &init);
    r->D = ng_gan_disc_create(&r->gcfg, "D", NG_GAN_INIT_XAVIER, &init);
    if (!r->G || !r->D) return fail("building the networks");
    r->D->pool_sum = o->d_sum_pool;
    {
        ng_params *groups[] = {r->G->weights, r->G->buffers, r->D->weights, r->D->buffers};
        if (cli_to_device("gan_train", &o->device, groups, 4)) return 1;
    }
    {
        long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGE_SIZE);
        size_t cap = pages > 0 && psize > 0 ? (size_t)pages * (size_t)psize / 4 * 3 : (size_t)8 << 30;
        if (!(r->ctx = ng_ctx_create_on(cli_arena_bytes(&o->device, cap), o->seed + 2, o->device.dev)))
            return fail("allocating the step arena");
    }
    if (ng_gan_trainer_init(&r->t, &r->tcfg, ng_gan_net_fixed(r->G), ng_gan_net_disc(r->D), r->ctx, o->seed + 3,
                            ng_image_sampler_batch, &r->sampler) != NG_OK)
        return fail("trainer setup");
    return 0;
}

/* FID/KID/IS of eval_n samples of the EMA generator (eval mode), as the reference evaluates. */
static int evaluate(trainer *r, gan_eval_row *row) {
    int rc;
    ng_ema_swap(&r->t.ema);
    rc = gan_eval_run(&r->ev, ng_gan_net_fixed(r->G), r->gcfg.latent_dim, r->o.seed + 7, row);
    ng_ema_swap(&r->t.ema);
    return rc;
}

static void write_samples(trainer *r) {
    int c = r->gcfg.channels, hw = 8 * r->gcfg.bottom_width, n = r->o.samples;
    float *img;
    char path[4200];
    if (n <= 0) return;
    img = (float *)malloc((size_t)n * (size_t)(c * hw * hw) * sizeof(float));
    snprintf(path, sizeof path, "%s/samples_step%06lld.png", r->o.out, (long long)r->t.g_steps);
    ng_ema_swap(&r->t.ema);
    if (!img || ng_gan_generate(ng_gan_net_fixed(r->G), r->gcfg.latent_dim, n, 64, r->o.seed + 1000, img,
                                (int64_t)n * c * hw * hw) != NG_OK ||
        ng_save_image_grid(path, img, n, c, hw, hw, 8, 2) != NG_OK)
        fprintf(stderr, "gan_train: note: no sample grid: %s\n", ng_last_error());
    ng_ema_swap(&r->t.ema);
    free(img);
}

static int save_state(trainer *r, const char *path) {
    ng_ckpt *ck = ng_ckpt_new();
    ng_status st = ck ? NG_OK : NG_ERR_NOMEM;
    if (st == NG_OK) st = ng_ckpt_put(ck, "train.settings", r->settings, strlen(r->settings));
    if (st == NG_OK) st = ng_gan_trainer_put(ck, &r->t);
    if (st == NG_OK) st = ng_image_sampler_put(ck, "train.data", &r->sampler);
    if (st == NG_OK) st = ng_ckpt_save(ck, path);
    ng_ckpt_free(ck);
    return st == NG_OK ? 0 : fail("saving the checkpoint");
}

static int load_state(trainer *r, const char *path) {
    ng_ckpt *ck = NULL;
    ng_status st;
    if (cli_resume_open("gan_train", path, "train.settings", r->settings, &ck)) return 1;
    st = ng_gan_trainer_get(ck, &r->t);
    if (st == NG_OK) st = ng_image_sampler_get(ck, "train.data", &r->sampler);
    ng_ckpt_free(ck);
    return st == NG_OK ? 0 : fail("--resume");
}

/* The EMA generator (weights + running statistics) as a checkpoint of its own. */
static int save_generator(trainer *r, const char *path) {
    ng_ckpt *ck = ng_ckpt_new();
    ng_status st;
    ng_ema_swap(&r->t.ema);
    st = ck ? ng_ckpt_put_params(ck, r->G->weights) : NG_ERR_NOMEM;
    ng_ema_swap(&r->t.ema);
    if (st == NG_OK) st = ng_ckpt_put_params(ck, r->G->buffers);
    if (st == NG_OK) st = ng_ckpt_save(ck, path);
    ng_ckpt_free(ck);
    return st == NG_OK ? 0 : fail("saving the generator");
}

/* train.csv: losses, then the evaluation columns (empty where not computed). */
static void csv_header(trainer *r) {
    cli_printf(&r->csv, "g_step,d_step,seconds,d_loss,g_loss");
    gan_eval_csv_header(&r->csv);
    cli_printf(&r->csv, "\n");
}

static void csv_row(trainer *r, double secs, const gan_eval_row *row) {
    cli_printf(&r->csv, "%lld,%lld,%.1f,%.6g,%.6g", (long long)r->t.g_steps, (long long)r->t.d_steps, secs, r->t.d_loss,
               r->t.g_loss);
    gan_eval_csv_cells(&r->csv, row);
    cli_printf(&r->csv, "\n");
}

static void progress(trainer *r) {
    double el = ng_time_sec() - r->t_start, eta;
    int64_t done = r->t.g_steps - r->g_steps_at_start, left = r->tcfg.max_g_steps - r->t.g_steps;
    char e1[32], e2[32];
    eta = done > 0 ? el / (double)done * (double)left : 0;
    cli_duration(el, e1, sizeof e1);
    cli_duration(eta, e2, sizeof e2);
    fprintf(stderr, "%sG step %lld/%lld (D %lld) | D %.4f G %.4f | %s, ETA %s%s", r->tty ? "\r" : "",
            (long long)r->t.g_steps, (long long)r->tcfg.max_g_steps, (long long)r->t.d_steps, r->t.d_loss, r->t.g_loss,
            e1, e2, r->tty ? "\033[K" : "\n");
    fflush(stderr);
}

int main(int argc, char **argv) {
    trainer r;
    char ckpt[4200], csvp[4200], path[4200];
    gan_eval_row row;
    int rc = 0, progress_every;
    memset(&r, 0, sizeof r);
    if (cli_expand_config("gan_train", &argc, &argv) || parse_args(argc, argv, &r.o)) return 2;
#ifdef _OPENMP
    if (r.o.threads > 0) omp_set_num_threads(r.o.threads);
#endif
    if (cli_make_dirs("gan_train", r.o.out) || cli_device_start("gan_train", &r.o.device)) return 1;
    snprintf(ckpt, sizeof ckpt, "%s/train.ckpt", r.o.out);
    snprintf(csvp, sizeof csvp, "%s/train.csv", r.o.out);
    if (setup(&r) || gan_eval_setup(&r.ev, "gan_train", &r.o.eval, r.o.dataset, &r.data, &r.o.device)) return 1;
    snprintf(path, sizeof path, "%s/genotype.json", r.o.out);
    if (ng_gan_genotype_save(&r.geno, path) != NG_OK) return fail("writing genotype.json");
    snprintf(path, sizeof path, "%s/genotype.svg", r.o.out);
    if (ng_gan_genotype_save_svg(&r.geno, r.o.genotype, path) != NG_OK) return fail("writing genotype.svg");
    if (r.o.resume) {
        if (load_state(&r, ckpt)) return 1;
        if (cli_csv_reload(&r.csv, csvp, (long long)r.t.g_steps))
            csv_header(&r);
        printf("resumed %s at G step %lld\n", ckpt, (long long)r.t.g_steps);
    } else {
        csv_header(&r);
    }
    cli_run_record("gan_train", r.o.out, argc, argv, r.settings, r.o.resume);
    r.tty = isatty(2);
    progress_every = r.tty ? 1 : 50;
    printf("%s\ngan_train: %s on %s (%lld images) | G %lld params, D %lld | %lld G steps, D batch %d, G batch %d, "
           "betas %.2g/%.2g\n", ng_build_info(), r.o.genotype, r.o.dataset, (long long)r.data.n,
           (long long)r.G->weights->numel, (long long)r.D->weights->numel, (long long)r.tcfg.max_g_steps, r.tcfg.d_batch,
           r.tcfg.g_batch, r.tcfg.beta1, r.tcfg.beta2);
    fflush(stdout);
    r.t_start = ng_time_sec();
    r.g_steps_at_start = r.t.g_steps;
    while (r.t.g_steps < r.tcfg.max_g_steps) {
        int64_t before = r.t.g_steps;
        if (ng_gan_trainer_step(&r.t) != NG_OK) { rc = fail("training"); break; }
        if (r.t.g_steps == before) continue;   /* a D-only step */
        if (r.t.g_steps % progress_every == 0) progress(&r);
        if (r.o.eval_every > 0 && r.t.g_steps % r.o.eval_every == 0 && r.t.g_steps < r.tcfg.max_g_steps) {
            if (evaluate(&r, &row)) { rc = 1; break; }
            write_samples(&r);
            csv_row(&r, ng_time_sec() - r.t_start, &row);
            if (ng_file_write_atomic(csvp, r.csv.s, r.csv.len) != NG_OK) { rc = fail("writing the log"); break; }
            if (gan_eval_active(&r.ev)) {
                char when[64];
                snprintf(when, sizeof when, "\nG step %lld", (long long)r.t.g_steps);
                gan_eval_print(when, "", &row);
            }
        }
        if (r.t.g_steps % r.o.ckpt_every == 0 && save_state(&r, ckpt)) { rc = 1; break; }
    }
    if (r.tty) fputc('\n', stderr);
    if (rc == 0) {
        double secs = ng_time_sec() - r.t_start;
        char t[32], nbuf[32], mem[256];
        if (save_state(&r, ckpt) || evaluate(&r, &row)) rc = 1;
        write_samples(&r);
        snprintf(path, sizeof path, "%s/generator.ckpt", r.o.out);
        if (rc == 0 && save_generator(&r, path)) rc = 1;
        csv_row(&r, secs, &row);
        if (rc == 0 && ng_file_write_atomic(csvp, r.csv.s, r.csv.len) != NG_OK) rc = fail("writing the log");
        cli_duration(secs, t, sizeof t);
        printf("trained %lld G steps (%lld D steps) in %s; wrote %s, %s, %s/genotype.json\n%s\n", (long long)r.t.g_steps,
               (long long)r.t.d_steps, t, path, csvp, r.o.out, cli_memory(r.ctx, mem, sizeof mem));
        if (rc == 0 && row.ok)
            printf("RESULT genotype=%s g_steps=%lld fid=%.4f kid=%.5f kid_std=%.5f is=%.3f is_std=%.3f precision=%.4f "
                   "recall=%.4f n=%d (Fashion-MNIST CNN features; not comparable to Inception FID)\n",
                   r.o.genotype, (long long)r.t.g_steps, row.fid, row.kid, row.kid_std, row.is, row.is_std, row.precision,
                   row.recall, r.o.eval.eval_n);
        if (rc == 0 && row.inc_ok)
            printf("RESULT_INCEPTION genotype=%s g_steps=%lld inception_fid=%.4f inception_kid=%.5f kid_std=%.5f "
                   "inception_is=%.3f is_std=%.3f inception_precision=%.4f inception_recall=%.4f n=%d n_real=%s "
                   "(FID Inception-v3 pool3 features, %s)\n",
                   r.o.genotype, (long long)r.t.g_steps, row.inc_fid, row.inc_kid, row.inc_kid_std, row.inc_is,
                   row.inc_is_std, row.inc_precision, row.inc_recall, r.o.eval.eval_n, gan_eval_n_text(r.ev.inc_stats.n, nbuf, sizeof nbuf), r.ev.inc_stats.net_id);
    }
    ng_gan_trainer_free(&r.t);
    ng_gan_gen_fixed_free(r.G);
    ng_gan_disc_free(r.D);
    ng_image_sampler_free(&r.sampler);
    ng_image_set_free(&r.data);
    gan_eval_free(&r.ev);
    ng_ctx_free(r.ctx);
    free(r.csv.s);
    return rc;
}
