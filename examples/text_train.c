/* Retrain a TextNAS architecture from scratch and evaluate it (docs: textnas.md section 4).

     make build/text_train && ./build/text_train --arch runs/text_search/arch.json
     ./build/text_train --arch published --dataset sst --data-dir sst/trees --sst-binary --embeddings glove.840B.300d.txt

   Settings of the authors' retraining scripts by default: H 256, batch 128, 10 epochs, Adam
   (eps 1e-3, L2 1e-6 on every parameter), lr 2e-3 cosine per epoch to 5e-6, dropout 0.2,
   Xavier init, seed 1234, no gradient clipping (the reference's clipping is a no-op).
   One difference on purpose: the best epoch is chosen by VALIDATION accuracy (the reference
   picks it on the test set); its test accuracy is the reported number.
   Writes into --out: train.csv (per epoch: lr, train loss/accuracy, validation and test
   accuracy), train.ckpt (resumable state, --resume), best.ckpt (weights of the best epoch),
   confusion.csv (the best epoch's test confusion matrix), arch.json and arch.svg (its picture),
   run.txt, and a final RESULT line. */
#define NASGAN_IMPLEMENTATION
#include "nasgan.h"

#include "cli.h"
#include "text_data.h"
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct options {
    text_data_opts data;
    const char *arch, *out;
    int resume, stop_after, threads, hidden, batch, epochs, steps_per_epoch;
    double lr, lr_min, dropout, weight_decay;
    uint64_t seed;
    cli_device device;
} options;

static void usage(FILE *f) {
    fprintf(f,
        "usage: text_train [options]\n"
        "Retrain a TextNAS architecture from scratch; accuracy per epoch, confusion matrix, best checkpoint.\n\n"
        "  --arch SPEC           an architecture JSON file (text_search's arch.json, or NNI's final_arc.json),\n"
        "                        published (the paper's, textnas.md 5.3; default), baseline (one conv k=3 layer +\n"
        "                        a max-pool layer), or random:SEED (uniform ops and inputs, skips with p 0.4)\n"
        TEXT_DATA_HELP
        "Training (textnas.md section 4 defaults):\n"
        "  --hidden N            H (default 256)\n"
        "  --epochs N            default 10\n"
        "  --steps-per-epoch N   default: one pass over the training split\n"
        "  --batch N             default 128\n"
        "  --lr X --lr-min X     Adam lr, cosine per epoch (default 2e-3 -> 5e-6)\n"
        "  --weight-decay X      L2 on every parameter (default 1e-6)\n"
        "  --dropout P           every dropout (default 0.2, i.e. keep 0.8)\n"
        "  --seed N  --threads N\n"
        CLI_DEVICE_HELP
        "Output:\n"
        "  --out DIR             default runs/text_train\n"
        "  --stop-after N        stop after N epochs in this run (the checkpoint is complete; --resume goes on)\n"
        "  --resume              continue from DIR/train.ckpt (refused if the settings differ)\n"
        CLI_CONFIG_HELP
        "  -h, --help\n");
}

static int parse_args(int argc, char **argv, options *o) {
    int i;
    memset(o, 0, sizeof *o);
    text_data_defaults(&o->data);
    o->arch = "published"; o->out = "runs/text_train"; o->seed = 1234;
    o->hidden = 256; o->batch = 128; o->epochs = 10;
    o->lr = 2e-3; o->lr_min = 5e-6; o->dropout = 0.2; o->weight_decay = 1e-6;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x = 0;
        int *ip = NULL, r;
        double *dp = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); exit(0); }
        if (!strcmp(a, "--resume")) { o->resume = 1; continue; }
        if ((r = text_data_arg("text_train", argc, argv, &i, &o->data)) != 0) { if (r < 0) return -1; continue; }
        if ((r = cli_device_arg("text_train", argc, argv, &i, &o->device)) != 0) { if (r < 0) return -1; continue; }
        if (!v) { fprintf(stderr, "text_train: %s needs a value (see --help)\n", a); return -1; }
        i++;
        if (!strcmp(a, "--arch")) { o->arch = v; continue; }
        if (!strcmp(a, "--out")) { o->out = v; continue; }
        if (!strcmp(a, "--seed")) { long s; if (cli_int("text_train", a, v, 0, 2147483647L, &s)) return -1; o->seed = (uint64_t)s; continue; }
        if (!strcmp(a, "--lr")) dp = &o->lr;
        else if (!strcmp(a, "--lr-min")) dp = &o->lr_min;
        else if (!strcmp(a, "--weight-decay")) dp = &o->weight_decay;
        else if (!strcmp(a, "--dropout")) dp = &o->dropout;
        if (dp) { if (cli_float("text_train", a, v, 0, dp == &o->dropout ? 0.95 : 10, dp)) return -1; continue; }
        if (!strcmp(a, "--hidden")) ip = &o->hidden;
        else if (!strcmp(a, "--batch")) ip = &o->batch;
        else if (!strcmp(a, "--epochs")) ip = &o->epochs;
        else if (!strcmp(a, "--steps-per-epoch")) ip = &o->steps_per_epoch;
        else if (!strcmp(a, "--stop-after")) ip = &o->stop_after;
        else if (!strcmp(a, "--threads")) ip = &o->threads;
        else { fprintf(stderr, "text_train: unknown option %s (see --help)\n", a); return -1; }
        if (cli_int("text_train", a, v, 1, 100000000L, &x)) return -1;
        *ip = (int)x;
    }
    return 0;
}

/* --arch SPEC -> architecture */
static int resolve_arch(const char *spec, ng_textnas_arch *a) {
    if (!strcmp(spec, "published")) { ng_textnas_arch_published(a); return 0; }
    if (!strcmp(spec, "baseline")) { ng_textnas_arch_baseline(a); return 0; }
    if (!strncmp(spec, "random:", 7)) {
        long seed;
        ng_rng r;
        if (cli_int("text_train", "--arch random:SEED", spec + 7, 0, 2147483647L, &seed)) return -1;
        ng_rng_seed(&r, (uint64_t)seed);
        ng_textnas_arch_random(a, 24, NG_TEXTNAS_CHOOSE_FROM, 0.4, &r);
        return 0;
    }
    if (ng_textnas_arch_load(spec, NG_TEXTNAS_CHOOSE_FROM, a) != NG_OK) {
        fprintf(stderr, "text_train: %s\n", ng_last_error());
        return -1;
    }
    return 0;
}

typedef struct trainer {
    options o;
    text_data data;
    ng_textnas_arch arch;
    ng_textnas_net net;
    ng_textnas_child child;
    ng_ctx *ctx;
    ng_text_sampler train;
    int64_t epoch, steps_per_epoch;
    double best_valid, best_test;
    int64_t best_epoch;
    char settings[1400];
    cli_text csv;
    int tty;
    int memory_shown;         /* the memory line was printed (after this run's first epoch) */
} trainer;

static int fail(const char *what) {
    fprintf(stderr, "\ntext_train: %s: %s\n", what, ng_last_error());
    return 1;
}

static int setup(trainer *t) {
    ng_textnas_hp hp;
    char archjson[96];
    if (resolve_arch(t->o.arch, &t->arch)) return -1;
    if (text_data_load("text_train", &t->o.data, &t->data)) return -1;
    ng_textnas_hp_default(&hp, t->data.vocab.size, t->data.num_classes);
    hp.n_layers = t->arch.n_layers;
    hp.hidden = t->o.hidden;
    hp.embed_dim = t->data.embed_dim;
    hp.p_embed = hp.p_cnn = hp.p_rnn = hp.p_att = (float)t->o.dropout;
    if (ng_textnas_net_init(&t->net, &hp, &t->arch, t->o.seed) != NG_OK) return fail("building the network");
    text_data_init_embedding(&t->data, &t->net, t->o.seed + 7);
    {
        ng_params *groups[] = {t->net.weights, t->net.embed, t->net.buffers};
        if (cli_to_device("text_train", &t->o.device, groups, 3)) return -1;
    }
    if (ng_textnas_child_init(&t->child, &t->net, (float)t->o.lr, 1e-3f, (float)t->o.weight_decay, 0.0f) != NG_OK)
        return fail("optimizer");
    {
        long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGE_SIZE);
        size_t cap = pages > 0 && psize > 0 ? (size_t)pages * (size_t)psize / 2 : (size_t)8 << 30;
        if (!(t->ctx = ng_ctx_create_on(cli_arena_bytes(&t->o.device, cap), t->o.seed + 3, t->o.device.dev)))
            return fail("allocating the step arena");
    }
    if (ng_text_sampler_init(&t->train, &t->data.split[0], t->o.seed + 4) != NG_OK) return fail("data");
    t->steps_per_epoch = t->o.steps_per_epoch > 0 ? t->o.steps_per_epoch : (t->data.split[0].n + t->o.batch - 1) / t->o.batch;
    t->best_valid = -1;
    {   /* the architecture's identity: a CRC of its JSON */
        char *text = NULL;
        size_t n = 0;
        if (ng_textnas_arch_to_json(&t->arch, &text, &n) != NG_OK) return fail("architecture");
        snprintf(archjson, sizeof archjson, "arch_crc32=%08x layers=%d", (unsigned)ng_crc32(0, text, n), t->arch.n_layers);
        free(text);
    }
    snprintf(t->settings, sizeof t->settings,
             "%s %s hidden=%d batch=%d epochs=%d steps_per_epoch=%lld lr=%g lr_min=%g wd=%g dropout=%g seed=%llu",
             t->data.settings, archjson, t->o.hidden, t->o.batch, t->o.epochs, (long long)t->steps_per_epoch, t->o.lr,
             t->o.lr_min, t->o.weight_decay, t->o.dropout, (unsigned long long)t->o.seed);
    return 0;
}

static int save_state(trainer *t, const char *path) {
    ng_ckpt *ck = ng_ckpt_new();
    ng_status st = ck ? NG_OK : NG_ERR_NOMEM;
    int64_t bits[2];
    memcpy(&bits[0], &t->best_valid, 8);
    memcpy(&bits[1], &t->best_test, 8);
    if (st == NG_OK) st = ng_ckpt_put(ck, "train.settings", t->settings, strlen(t->settings));
    if (st == NG_OK) st = ng_ckpt_put_i64(ck, "train.epoch", t->epoch);
    if (st == NG_OK) st = ng_ckpt_put_i64(ck, "train.best_epoch", t->best_epoch);
    if (st == NG_OK) st = ng_ckpt_put_i64(ck, "train.best_valid_bits", bits[0]);
    if (st == NG_OK) st = ng_ckpt_put_i64(ck, "train.best_test_bits", bits[1]);
    if (st == NG_OK) st = ng_textnas_child_put(ck, "child", &t->child);
    if (st == NG_OK) st = ng_text_sampler_put(ck, "data.train", &t->train);
    if (st == NG_OK) st = ng_ckpt_put_rng(ck, "train.ctx_rng", &t->ctx->rng);
    if (st == NG_OK) st = ng_ckpt_save(ck, path);
    ng_ckpt_free(ck);
    return st == NG_OK ? 0 : fail("saving the checkpoint");
}
static int load_state(trainer *t, const char *path) {
    ng_ckpt *ck = NULL;
    int64_t bits[2] = {0, 0};
    ng_status st;
    if (cli_resume_open("text_train", path, "train.settings", t->settings, &ck)) return 1;
    st = ng_ckpt_get_i64(ck, "train.epoch", &t->epoch);
    if (st == NG_OK) st = ng_ckpt_get_i64(ck, "train.best_epoch", &t->best_epoch);
    if (st == NG_OK) st = ng_ckpt_get_i64(ck, "train.best_valid_bits", &bits[0]);
    if (st == NG_OK) st = ng_ckpt_get_i64(ck, "train.best_test_bits", &bits[1]);
    if (st == NG_OK) st = ng_textnas_child_get(ck, "child", &t->child);
    if (st == NG_OK) st = ng_text_sampler_get(ck, "data.train", &t->train);
    if (st == NG_OK) st = ng_ckpt_get_rng(ck, "train.ctx_rng", &t->ctx->rng);
    ng_ckpt_free(ck);
    memcpy(&t->best_valid, &bits[0], 8);
    memcpy(&t->best_test, &bits[1], 8);
    return st == NG_OK ? 0 : fail("--resume");
}

/* The best epoch's weights and its test confusion matrix. */
static int save_best(trainer *t, const int64_t *conf) {
    char path[4200];
    cli_text c;
    int C = t->net.hp.n_classes, i, j;
    ng_ckpt *ck = ng_ckpt_new();
    ng_status st = ck ? NG_OK : NG_ERR_NOMEM;
    snprintf(path, sizeof path, "%s/best.ckpt", t->o.out);
    if (st == NG_OK) st = ng_ckpt_put(ck, "train.settings", t->settings, strlen(t->settings));
    if (st == NG_OK) st = ng_ckpt_put_params(ck, t->net.weights);
    if (st == NG_OK) st = ng_ckpt_put_params(ck, t->net.embed);
    if (st == NG_OK) st = ng_ckpt_put_params(ck, t->net.buffers);
    if (st == NG_OK) st = ng_ckpt_save(ck, path);
    ng_ckpt_free(ck);
    if (st != NG_OK) return fail("saving the best weights");
    memset(&c, 0, sizeof c);
    cli_printf(&c, "true\\predicted");
    for (j = 0; j < C; j++) cli_printf(&c, ",%s", t->data.split[0].class_names ? t->data.split[0].class_names[j] : "?");
    cli_printf(&c, "\n");
    for (i = 0; i < C; i++) {
        cli_printf(&c, "%s", t->data.split[0].class_names ? t->data.split[0].class_names[i] : "?");
        for (j = 0; j < C; j++) cli_printf(&c, ",%lld", (long long)conf[i * C + j]);
        cli_printf(&c, "\n");
    }
    snprintf(path, sizeof path, "%s/confusion.csv", t->o.out);
    st = ng_file_write_atomic(path, c.s, c.len);
    free(c.s);
    return st == NG_OK ? 0 : fail("writing the confusion matrix");
}

static int run_epoch(trainer *t) {
    int64_t k;
    double sum_loss = 0, sum_acc = 0, t0 = ng_time_sec(), vacc = 0, vloss = 0, tacc = 0;
    int64_t *conf = (int64_t *)calloc((size_t)t->net.hp.n_classes * (size_t)t->net.hp.n_classes, sizeof(int64_t));
    float lr = ng_lr_at(NG_LR_COSINE, (float)t->o.lr, (float)t->o.lr_min, t->epoch, t->o.epochs);
    if (!conf) return fail("out of memory");
    ng_textnas_child_set_lr(&t->child, lr);
    for (k = 0; k < t->steps_per_epoch; k++) {
        ng_text_batch b;
        if (ng_text_sampler_next(&t->train, t->o.batch, &b) != NG_OK ||
            ng_textnas_child_step(&t->child, t->ctx, NULL, NULL, &b) != NG_OK) {
            free(conf);
            return fail("training step");
        }
        sum_loss += t->child.loss;
        sum_acc += t->child.accuracy;
        if (t->tty || (k + 1) % 50 == 0 || k + 1 == t->steps_per_epoch) {
            double el = ng_time_sec() - t0, eta = el / (double)(k + 1) * (double)(t->steps_per_epoch - k - 1);
            char es[32];
            cli_duration(eta, es, sizeof es);
            fprintf(stderr, "%sepoch %lld/%d step %lld/%lld | loss %.4f acc %.3f | lr %.3g | epoch ETA %s%s", t->tty ? "\r" : "",
                    (long long)t->epoch + 1, t->o.epochs, (long long)k + 1, (long long)t->steps_per_epoch,
                    sum_loss / (double)(k + 1), sum_acc / (double)(k + 1), lr, es, t->tty ? "\033[K" : "\n");
        }
    }
    if (t->tty) fputc('\n', stderr);
    if (ng_textnas_evaluate(t->ctx, &t->net, NULL, NULL, &t->data.split[1], t->o.batch, 0, &vacc, &vloss, NULL) != NG_OK ||
        ng_textnas_evaluate(t->ctx, &t->net, NULL, NULL, &t->data.split[2], t->o.batch, 0, &tacc, NULL, conf) != NG_OK) {
        free(conf);
        return fail("evaluation");
    }
    t->epoch++;
    cli_printf(&t->csv, "%lld,%.2f,%.6g,%.6f,%.6f,%.6f,%.6f,%.6f\n", (long long)t->epoch, ng_time_sec() - t0, lr,
               sum_loss / (double)t->steps_per_epoch, sum_acc / (double)t->steps_per_epoch, vloss, vacc, tacc);
    printf("epoch %lld: train loss %.4f acc %.4f | validation %.4f | test %.4f | %.1f s%s\n", (long long)t->epoch,
           sum_loss / (double)t->steps_per_epoch, sum_acc / (double)t->steps_per_epoch, vacc, tacc, ng_time_sec() - t0,
           vacc > t->best_valid ? " (best so far)" : "");
    if (!t->memory_shown) {   /* once, when the steps have reached their size */
        char mem[256];
        printf("%s\n", cli_memory(t->ctx, mem, sizeof mem));
        t->memory_shown = 1;
    }
    fflush(stdout);
    if (vacc > t->best_valid) {
        t->best_valid = vacc;
        t->best_test = tacc;
        t->best_epoch = t->epoch;
        if (save_best(t, conf)) { free(conf); return 1; }
    }
    free(conf);
    return 0;
}

int main(int argc, char **argv) {
    trainer t;
    char ckpt[4200], csvp[4200], archp[4200];
    int rc = 0, stopped = 0;
    int64_t start_epoch;
    double t_start;
    memset(&t, 0, sizeof t);
    if (cli_expand_config("text_train", &argc, &argv) || parse_args(argc, argv, &t.o)) return 2;
#ifdef _OPENMP
    if (t.o.threads > 0) omp_set_num_threads(t.o.threads);
#endif
    if (cli_make_dirs("text_train", t.o.out) || cli_device_start("text_train", &t.o.device)) return 1;
    snprintf(ckpt, sizeof ckpt, "%s/train.ckpt", t.o.out);
    snprintf(csvp, sizeof csvp, "%s/train.csv", t.o.out);
    snprintf(archp, sizeof archp, "%s/arch.json", t.o.out);
    if (setup(&t)) return 1;
    if (t.o.resume) {
        if (load_state(&t, ckpt)) return 1;
        if (cli_csv_reload(&t.csv, csvp, (long long)t.epoch))
            cli_printf(&t.csv, "epoch,seconds,lr,train_loss,train_acc,valid_loss,valid_acc,test_acc\n");
        printf("resumed %s at epoch %lld\n", ckpt, (long long)t.epoch);
    } else {
        cli_printf(&t.csv, "epoch,seconds,lr,train_loss,train_acc,valid_loss,valid_acc,test_acc\n");
    }
    if (ng_textnas_arch_save(&t.arch, archp) != NG_OK) return fail("writing arch.json");
    {
        char *svg = NULL, svgp[4200];
        size_t sn = 0;
        snprintf(svgp, sizeof svgp, "%s/arch.svg", t.o.out);
        if (ng_textnas_arch_to_svg(&t.arch, t.o.arch, &svg, &sn) != NG_OK || ng_file_write_atomic(svgp, svg, sn) != NG_OK) {
            free(svg);
            return fail("writing arch.svg");
        }
        free(svg);
    }
    t.tty = isatty(2);
    printf("%s\nTextNAS retraining: arch %s (%d layers, %d skips) | %s | train %lld, valid %lld, test %lld | %d classes | "
           "%lld weights (+ %lld embedding) | %d epochs x %lld steps\n",
           ng_build_info(), t.o.arch, t.arch.n_layers, ng_textnas_arch_n_skips(&t.arch), t.o.data.dataset,
           (long long)t.data.split[0].n, (long long)t.data.split[1].n, (long long)t.data.split[2].n, t.data.num_classes,
           (long long)ng_textnas_net_count(&t.net), (long long)t.net.embed->numel, t.o.epochs, (long long)t.steps_per_epoch);
    printf("settings: %s\n", t.settings);
    cli_run_record("text_train", t.o.out, argc, argv, t.settings, t.o.resume);
    fflush(stdout);
    t_start = ng_time_sec();
    start_epoch = t.epoch;
    while (t.epoch < t.o.epochs) {
        if (t.o.stop_after > 0 && t.epoch - start_epoch >= t.o.stop_after) {
            printf("stopping after %d epochs (--stop-after); continue with --resume\n", t.o.stop_after);
            stopped = 1;
            break;
        }
        if (run_epoch(&t)) { rc = 1; break; }
        if (ng_file_write_atomic(csvp, t.csv.s, t.csv.len) != NG_OK) { rc = fail("writing the log"); break; }
        if (save_state(&t, ckpt)) { rc = 1; break; }
    }
    if (rc == 0 && !stopped) {
        char d[32];
        cli_duration(ng_time_sec() - t_start, d, sizeof d);
        printf("\nretraining finished in %s (this run); wrote %s, %s/best.ckpt, %s/confusion.csv, %s, %s/arch.svg\n", d, csvp,
               t.o.out, t.o.out, archp, t.o.out);
        printf("RESULT arch=%s dataset=%s epochs=%d best_epoch=%lld valid_acc=%.4f test_acc=%.4f\n", t.o.arch,
               t.o.data.dataset, t.o.epochs, (long long)t.best_epoch, t.best_valid, t.best_test);
    }
    ng_textnas_child_free(&t.child);
    ng_textnas_net_free(&t.net);
    ng_text_sampler_free(&t.train);
    text_data_free(&t.data);
    ng_ctx_free(t.ctx);
    free(t.csv.s);
    return rc;
}
