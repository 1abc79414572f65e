/* Train the Fashion-MNIST CNN (nasgan's feature network for FID/KID/IS) and report test
   accuracy. Reads the IDX .gz files of Debian's dataset-fashion-mnist package.

     make build/fmnist_classifier && ./build/fmnist_classifier --out fmnist_cnn.ckpt
     ./build/fmnist_classifier --eval fmnist_cnn.ckpt

   Writes: the weights (--out), a per-epoch CSV log (--log), and a resumable training state
   after every epoch (<out>.state; continue with --resume <out>.state). */
#define NASGAN_IMPLEMENTATION
#include "nasgan.h"

#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct options {
    const char *data_dir, *out, *log, *resume, *eval;
    int epochs, batch, threads;
    long limit;
    float lr;
    uint64_t seed;
    cli_device device;
} options;

static void usage(FILE *f) {
    fprintf(f,
            "usage: fmnist_classifier [options]\n"
            "Train a small CNN on Fashion-MNIST; it becomes the feature network for FID/KID/IS.\n\n"
            "  --data-dir DIR   IDX .gz files (default /usr/share/datasets/fashion-mnist)\n"
            "  --epochs N       training epochs (default 4)\n"
            "  --batch N        batch size (default 128)\n"
            "  --lr X           Adam learning rate, cosine-decayed to 0 (default 1e-3)\n"
            "  --seed N         seed for initialisation, shuffling and dropout (default 1)\n"
            "  --threads N      OpenMP threads (default: all cores)\n"
            "  --limit N        train on the first N images only (quick runs)\n"
            "  --out PATH       where to save the weights (default fmnist_cnn.ckpt)\n"
            "  --log PATH       per-epoch CSV log (default <out>.csv)\n"
            "  --resume PATH    continue from a training state written after an epoch (<out>.state)\n"
            "  --eval PATH      only evaluate saved weights on the test set\n"
            CLI_DEVICE_HELP
            "  -h, --help       this text\n");
}

static int parse_args(int argc, char **argv, options *o) {
    int i;
    memset(o, 0, sizeof *o);
    o->data_dir = "/usr/share/datasets/fashion-mnist";
    o->out = "fmnist_cnn.ckpt";
    o->epochs = 4; o->batch = 128; o->lr = 1e-3f; o->seed = 1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); exit(0); }
        if ((r = cli_device_arg("fmnist_classifier", argc, argv, &i, &o->device)) != 0) { if (r < 0) return -1; continue; }
        if (!v) { fprintf(stderr, "fmnist_classifier: %s needs a value (see --help)\n", a); return -1; }
        if (!strcmp(a, "--data-dir")) o->data_dir = v;
        else if (!strcmp(a, "--epochs")) o->epochs = atoi(v);
        else if (!strcmp(a, "--batch")) o->batch = atoi(v);
        else if (!strcmp(a, "--lr")) o->lr = (float)atof(v);
        else if (!strcmp(a, "--seed")) o->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--threads")) o->threads = atoi(v);
        else if (!strcmp(a, "--limit")) o->limit = atol(v);
        else if (!strcmp(a, "--out")) o->out = v;
        else if (!strcmp(a, "--log")) o->log = v;
        else if (!strcmp(a, "--resume")) o->resume = v;
        else if (!strcmp(a, "--eval")) o->eval = v;
        else { fprintf(stderr, "fmnist_classifier: unknown option %s (see --help)\n", a); return -1; }
        i++;
    }
    if (o->epochs < 1 || o->batch < 1 || !(o->lr > 0.0f)) {
        fprintf(stderr, "fmnist_classifier: --epochs, --batch and --lr must be positive\n");
        return -1;
    }
    return 0;
}

static int load_split(const char *dir, const char *prefix, ng_mnist *m) {
    char img[1024], lab[1024];
    snprintf(img, sizeof img, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(lab, sizeof lab, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    if (ng_mnist_load(img, lab, NG_FMNIST_CLASSES, m) != NG_OK) {
        fprintf(stderr, "fmnist_classifier: %s\n", ng_last_error());
        fprintf(stderr, "  (install Debian's dataset-fashion-mnist or pass --data-dir)\n");
        return -1;
    }
    return 0;
}

/* Gather a batch: images into (B,1,28,28) floats, labels into int32. */
static ng_tensor *make_batch(ng_ctx *ctx, const ng_mnist *m, const int64_t *idx, int64_t b, int32_t *labels) {
    ng_tensor *x = ng_tensor_new(ctx, ng_shape4(b, 1, m->h, m->w));
    float *h = ng_tensor_host_write(ctx, x);   /* x->data itself on the CPU */
    int64_t i, j, hw = m->h * m->w;
    if (!h) return NULL;
    for (i = 0; i < b; i++) {
        const unsigned char *px = m->images + idx[i] * hw;
        for (j = 0; j < hw; j++) h[i * hw + j] = (float)px[j] * (2.0f / 255.0f) - 1.0f;
        labels[i] = m->labels[idx[i]];
    }
    return ng_tensor_host_done(x, h) == NG_OK ? x : NULL;
}

static int64_t count_correct(ng_ctx *ctx, const ng_tensor *logits, const int32_t *labels) {
    int64_t r, k, K = logits->shape.d[1], ok = 0;
    const float *lg = ng_tensor_host_read(ctx, logits);
    if (!lg) return 0;
    for (r = 0; r < logits->shape.d[0]; r++) {
        int64_t best = 0;
        for (k = 1; k < K; k++)
            if (lg[r * K + k] > lg[r * K + best]) best = k;
        ok += best == labels[r];
    }
    return ok;
}

static double evaluate(ng_ctx *ctx, ng_fmnist_cnn *net, const ng_mnist *test) {
    int64_t start, correct = 0, bs = 500;
    int64_t *idx = (int64_t *)malloc((size_t)bs * sizeof *idx);
    int32_t *labels = (int32_t *)malloc((size_t)bs * sizeof *labels);
    ng_ctx_set_training(ctx, 0);
    ctx->no_grad = 1;
    for (start = 0; start < test->n; start += bs) {
        int64_t b = test->n - start < bs ? test->n - start : bs, i;
        ng_tensor *logits;
        for (i = 0; i < b; i++) idx[i] = start + i;
        ng_ctx_reset(ctx);
        logits = ng_fmnist_cnn_forward(ctx, net, make_batch(ctx, test, idx, b, labels), NULL);
        if (!logits) { fprintf(stderr, "fmnist_classifier: evaluation failed: %s\n", ng_last_error()); exit(1); }
        correct += count_correct(ctx, logits, labels);
    }
    ctx->no_grad = 0;
    ng_ctx_set_training(ctx, 1);
    free(idx);
    free(labels);
    return test->n ? 100.0 * (double)correct / (double)test->n : 0.0;
}

static void die(const char *what) {
    fprintf(stderr, "fmnist_classifier: %s: %s\n", what, ng_last_error());
    exit(1);
}

/* Training state: weights, BN statistics, Adam, both RNGs and the finished epoch count. */
static void save_state(const char *path, ng_fmnist_cnn *net, ng_adam *opt, ng_ctx *ctx, ng_rng *data_rng, int64_t epoch) {
    ng_ckpt *ck = ng_ckpt_new();
    if (!ck || ng_ckpt_put_params(ck, net->weights) || ng_ckpt_put_params(ck, net->buffers) ||
        ng_ckpt_put_adam(ck, "adam", opt) || ng_ckpt_put_rng(ck, "rng.ctx", &ctx->rng) ||
        ng_ckpt_put_rng(ck, "rng.data", data_rng) || ng_ckpt_put_i64(ck, "epoch", epoch) || ng_ckpt_save(ck, path))
        die("saving the training state");
    ng_ckpt_free(ck);
}
static int64_t load_state(const char *path, ng_fmnist_cnn *net, ng_adam *opt, ng_ctx *ctx, ng_rng *data_rng) {
    ng_ckpt *ck = NULL;
    int64_t epoch = 0;
    if (ng_ckpt_load(path, &ck) || ng_ckpt_get_params(ck, net->weights) || ng_ckpt_get_params(ck, net->buffers) ||
        ng_ckpt_get_adam(ck, "adam", opt) || ng_ckpt_get_rng(ck, "rng.ctx", &ctx->rng) ||
        ng_ckpt_get_rng(ck, "rng.data", data_rng) || ng_ckpt_get_i64(ck, "epoch", &epoch))
        die("resuming");
    ng_ckpt_free(ck);
    return epoch;
}

int main(int argc, char **argv) {
    options o;
    ng_mnist train, test;
    ng_rng init_rng, data_rng;
    ng_fmnist_cnn *net;
    ng_ctx *ctx;
    ng_adam opt;
    int64_t *perm, epoch, first_epoch = 0, steps_per_epoch, total_steps, n_train;
    int32_t *labels;
    char log_path[1024], state_path[1024];
    FILE *log;
    double t_start;

    if (parse_args(argc, argv, &o)) return 2;
    if (o.threads > 0) ng_set_num_threads(o.threads);
    printf("%s, %d threads\n", ng_build_info(), ng_num_threads());
    if (load_split(o.data_dir, "t10k", &test)) return 1;

    ng_rng_seed(&init_rng, o.seed);
    ng_rng_seed(&data_rng, o.seed ^ 0x5eedull);
    if (cli_device_start("fmnist_classifier", &o.device)) return 1;
    net = ng_fmnist_cnn_create(&init_rng);
    ctx = ng_ctx_create_on((size_t)256 << 20, o.seed, o.device.dev);
    if (!net || !ctx) die("setup");
    if (cli_to_device("fmnist_classifier", &o.device, &net->weights, 1) ||
        cli_to_device("fmnist_classifier", &o.device, &net->buffers, 1))
        return 1;

    if (o.eval) {
        if (ng_fmnist_cnn_load(net, o.eval) != NG_OK) die("loading weights");
        printf("test accuracy %.2f%% (%s, %lld images)\n", evaluate(ctx, net, &test), o.eval, (long long)test.n);
        return 0;
    }
    if (load_split(o.data_dir, "train", &train)) return 1;
    n_train = o.limit > 0 && o.limit < train.n ? o.limit : train.n;
    steps_per_epoch = (n_train + o.batch - 1) / o.batch;
    total_steps = steps_per_epoch * o.epochs;
    if (ng_adam_init(&opt, net->weights, o.lr, 0.9f, 0.999f, 1e-8f, 0.0f) != NG_OK) die("optimizer");
    snprintf(state_path, sizeof state_path, "%s.state", o.out);
    if (o.resume) {
        first_epoch = load_state(o.resume, net, &opt, ctx, &data_rng);
        printf("resumed from %s after epoch %lld\n", o.resume, (long long)first_epoch);
    }
    if (o.log) snprintf(log_path, sizeof log_path, "%s", o.log);
    else snprintf(log_path, sizeof log_path, "%s.csv", o.out);
    log = fopen(log_path, o.resume ? "a" : "w");
    if (!log) { fprintf(stderr, "fmnist_classifier: cannot open log %s\n", log_path); return 1; }
    if (!o.resume) fprintf(log, "epoch,train_loss,train_acc,test_acc,seconds\n");

    perm = (int64_t *)malloc((size_t)n_train * sizeof *perm);
    labels = (int32_t *)malloc((size_t)o.batch * sizeof *labels);
    printf("training on %lld images, %d epochs of %lld steps, batch %d\n", (long long)n_train, o.epochs,
           (long long)steps_per_epoch, o.batch);
    t_start = ng_time_sec();
    for (epoch = first_epoch; epoch < o.epochs; epoch++) {
        int64_t i, step, seen = 0, correct = 0;
        double loss_sum = 0.0, t_epoch = ng_time_sec(), t_print = t_epoch, acc;
        for (i = 0; i < n_train; i++) perm[i] = i;
        for (i = n_train - 1; i > 0; i--) { /* Fisher-Yates */
            int64_t j = (int64_t)ng_rng_below(&data_rng, (uint64_t)i + 1), t = perm[i];
            perm[i] = perm[j]; perm[j] = t;
        }
        for (step = 0; step < steps_per_epoch; step++) {
            int64_t b = n_train - step * o.batch < o.batch ? n_train - step * o.batch : o.batch;
            int64_t global = epoch * steps_per_epoch + step;
            ng_tensor *x, *logits, *loss;
            ng_ctx_reset(ctx);
            ng_ctx_grad_for(ctx, &net->weights, 1);
            x = make_batch(ctx, &train, perm + step * o.batch, b, labels);
            logits = ng_fmnist_cnn_forward(ctx, net, x, NULL);
            loss = ng_cross_entropy(ctx, logits, labels);
            if (!loss || ng_backward(ctx, loss) != NG_OK) die("training step");
            opt.lr = ng_lr_at(NG_LR_COSINE, o.lr, 0.0f, global, total_steps);
            ng_adam_step(&opt);
            ng_params_zero_grad(net->weights);
            loss_sum += ng_tensor_item(loss) * (double)b;
            correct += count_correct(ctx, logits, labels);
            seen += b;
            if (ng_time_sec() - t_print > 10.0 || step == steps_per_epoch - 1) {
                double el = ng_time_sec() - t_start, done = (double)(global + 1 - first_epoch * steps_per_epoch);
                char eta[32];
                cli_duration(el / done * (double)(total_steps - global - 1), eta, sizeof eta);
                printf("epoch %lld/%d step %lld/%lld loss %.4f acc %.2f%% lr %.2e %.0f img/s ETA %s\n",
                       (long long)epoch + 1, o.epochs, (long long)step + 1, (long long)steps_per_epoch,
                       loss_sum / (double)seen, 100.0 * (double)correct / (double)seen, opt.lr,
                       (double)seen / (ng_time_sec() - t_epoch), eta);
                fflush(stdout);
                t_print = ng_time_sec();
            }
        }
        acc = evaluate(ctx, net, &test);
        printf("epoch %lld: train loss %.4f, train acc %.2f%%, test acc %.2f%%, %.1fs\n", (long long)epoch + 1,
               loss_sum / (double)seen, 100.0 * (double)correct / (double)seen, acc, ng_time_sec() - t_epoch);
        fprintf(log, "%lld,%.6f,%.4f,%.4f,%.2f\n", (long long)epoch + 1, loss_sum / (double)seen,
                100.0 * (double)correct / (double)seen, acc, ng_time_sec() - t_epoch);
        fflush(log);
        save_state(state_path, net, &opt, ctx, &data_rng, epoch + 1);
    }
    if (ng_fmnist_cnn_save(net, o.out) != NG_OK) die("saving weights");
    printf("final test accuracy %.2f%%; weights saved to %s (log %s, %.1fs in total)\n", evaluate(ctx, net, &test),
           o.out, log_path, ng_time_sec() - t_start);
    fclose(log);
    free(perm); free(labels);
    ng_adam_free(&opt);
    ng_fmnist_cnn_free(net);
    ng_ctx_free(ctx);
    ng_mnist_free(&train);
    ng_mnist_free(&test);
    return 0;
}
