/* GPU step benchmarks for bench/gpu_check.sh (built by `make cuda` as build/bench_gpu_steps;
   kept out of the bench directory top level so the CPU `make bench` never needs CUDA).

     build/bench_gpu_steps [--device cuda|cpu] [--width GF (256)] [--disc-width DF (128)]
                           [--gan-batch B (64)] [--iters N] [--arena-gb G | --arena-mb M]
                           [--text-hidden H (256)] [--text-len L (64)] [--text-batch N (128)]
                           [--text-vocab V (20000)] [--text-embed E (300)] [--inc-batch N (100)]
                           [--profile] [CASE...]     (--list: the cases)
     build/bench_gpu_steps --write-inception PATH   (the inception case's random weights as a
                           weight file, for gan_train --fid-inception in bench/gpu_check.sh)

   Cases (alphaGAN supernet at G width 256, D width 128, batch 64, 32x32 CIFAR-10 shapes,
   hinge loss; --width, --disc-width and --gan-batch shrink it for tests):
     alphagan_D   discriminator step: D(real) and D(G(z)) forward, backward into D's weights
     alphagan_G   generator step: D(G(z)) forward, backward into G's weights
     alphagan_arch architecture step: backward into alpha only
     textnas      TextNAS retraining step of the published 24-layer architecture, as
                  bench/textnas_step.c (H 256, E 300, L 64, batch 128, 5 classes, vocabulary
                  20,000, its synthetic batch; training mode, dropout 0.2): forward, cross
                  entropy, backward, Adam (lr 2e-3, eps 1e-3, wd 1e-6) on both groups
                  (ng_textnas_child_step, as the programs run it). The --text-* options
                  shrink it (tests).
                  At the end, on stderr: a checksum of the trained parameters.
     inception    the FID Inception-v3 forward (ng_inception_random weights) of --inc-batch
                  (100) RGB 32x32 images from host memory to pool3 features and 1008 logits in
                  host memory, as an evaluation runs it (ng_inception_forward: copies, resize
                  to 299x299, 94 convolutions, head); ms per batch.
   Each prints one line
     BENCH key=CASE device=D ms=<best step> peak_gpu_mb=<peak device memory in use> status=ok
   or, when the step cannot run on the device (an op without a CUDA kernel, no device),
     BENCH key=CASE device=D status=unsupported reason="<the library's message>"
   --profile (alphaGAN and TextNAS cases, on the GPU): after the timed steps, one more step
   with a device synchronisation around every kernel entry, printed as
     PROFILE key=CASE op=OP pass=forward|backward|optim ms=<sum> calls=<n> share=<% of kernels>
   for the largest rows (99% of the kernels' time, at most 20), then
     PROFILE key=CASE op=all pass=step ms=<the profiled step's wall time> kernels_ms=<sum>
   Every step's loss goes to stderr (to compare --device cpu with cuda, as
   tests/cuda_host_emu/bench.sh does).
   Timing: best of --iters steps after one warm-up, with a device synchronisation at the end
   of each step. peak_gpu_mb counts what the step uses, as torch.cuda.max_memory_allocated
   does: the arena's high-water mark, the parameter groups with their gradients and the
   optimizer state (see used_mb). The arena itself is reserved up front (--arena-gb: default
   64 for alphaGAN, 8 for TextNAS as bench/textnas_step.c); the whole device's use goes to
   stderr. */
#define NASGAN_IMPLEMENTATION
#include "nasgan.h"
#include <string.h>

static const char *cases[] = {"alphagan_D", "alphagan_G", "alphagan_arch", "textnas", "inception"};
static int inc_batch = 100;

static void report_fail(const char *key, const char *dev, const char *why) {
    char buf[1100];
    size_t i;
    snprintf(buf, sizeof buf, "%.1024s", why);
    for (i = 0; buf[i]; i++) if (buf[i] == '"') buf[i] = '\'';
    printf("BENCH key=%s device=%s status=unsupported reason=\"%s\"\n", key, dev, buf);
    fflush(stdout);
}

/* stderr: the step's time and loss (read back after the timed part), for cross-device checks */
static void print_step(const char *key, int it, double dt, double loss) {
    fprintf(stderr, "%s step %d: %.2f ms, loss %.7f\n", key, it, dt * 1e3, loss);
}

/* Device memory the step uses, comparable with torch.cuda.max_memory_allocated: the arena's
   high-water mark plus the parameter groups (values and gradients) and `state_floats` of
   optimizer state. (ng_cuda_peak_bytes, the whole device's use, also counts the arena's
   unused reserve; it goes to stderr.) */
static double used_mb(const ng_ctx *ctx, ng_params *const *gs, int n, int64_t state_floats) {
    double bytes = (double)(ctx->device == NG_CUDA ? ctx->dev_arena.peak : ctx->arena.peak) + 4.0 * (double)state_floats;
    int i;
    for (i = 0; i < n; i++)
        if (gs[i]) bytes += 4.0 * (double)gs[i]->numel * (gs[i]->grad ? 2 : 1);
    return bytes / 1048576.0;
}

static int move_all(ng_params **gs, int n, ng_device dev) {
    int i;
    for (i = 0; i < n; i++)
        if (gs[i] && ng_params_to_device(gs[i], dev) != NG_OK) return -1;
    return 0;
}

/* ---- --profile: where one step's device time goes, op by op ----
   The registered hooks table is copied with every kernel entry wrapped: synchronise, run the
   real entry, synchronise, add the wall time to the op's row (forward and backward apart;
   the fused optimizer kernels as one row). The syncs remove the overlap of host and device
   work, so the rows add up to more than a timed step; they say where the time goes. */
static int profile_on; /* --profile */
static const ng_cuda_hooks *prof_real;
static ng_cuda_hooks prof_hooks;
enum { PROF_ROWS = 2 * NG_OP_COUNT + 1, PROF_OPTIM = 2 * NG_OP_COUNT };
static double prof_sec[PROF_ROWS];
static long prof_calls[PROF_ROWS];
static double prof_t0;
static void prof_begin(void) { prof_real->synchronize(); prof_t0 = ng_time_sec(); }
static void prof_end(int row) {
    prof_real->synchronize();
    prof_sec[row] += ng_time_sec() - prof_t0;
    prof_calls[row]++;
}
static void prof_fw(ng_node *n) { prof_begin(); prof_real->fw[n->op](n); prof_end(2 * n->op); }
static void prof_bw(ng_node *n) { prof_begin(); prof_real->bw[n->op](n); prof_end(2 * n->op + 1); }
static void prof_adam(float *p, const float *g, float *m, float *v, int64_t n, float b1, float b2, float omb1, float omb2,
                      float step_size, float sqrt_bc2, float eps, float wd) {
    prof_begin();
    prof_real->adam(p, g, m, v, n, b1, b2, omb1, omb2, step_size, sqrt_bc2, eps, wd);
    prof_end(PROF_OPTIM);
}
/* 1 when a profiled step follows the timed ones (--profile, on the GPU) */
static int prof_extra(ng_device dev) { return profile_on && dev == NG_CUDA; }
/* on: the wrapped table, zeroed rows; off: the real table back */
static int profile_hooks(int on) {
    int op;
    if (on) {
        prof_real = ng_cuda_get_hooks();
        prof_hooks = *prof_real;
        for (op = 0; op < NG_OP_COUNT; op++) {
            if (prof_real->fw[op]) prof_hooks.fw[op] = prof_fw;
            if (prof_real->bw[op]) prof_hooks.bw[op] = prof_bw;
        }
        if (prof_real->adam) prof_hooks.adam = prof_adam;
        memset(prof_sec, 0, sizeof prof_sec);
        memset(prof_calls, 0, sizeof prof_calls);
    }
    ng_cuda_register(on ? &prof_hooks : prof_real);
    return ng_cuda_init(0) == NG_OK ? 0 : -1;   /* registering asks for it again; the context stays */
}
/* PROFILE lines, largest row first, for the rows making up 99% of the kernels' time (at most
   20), then one line with the step's wall time and the kernels' sum */
static void profile_print(const char *key, double step_sec) {
    double total = 0.0, shown = 0.0;
    int used[PROF_ROWS] = {0}, k, r, best;
    for (r = 0; r < PROF_ROWS; r++) total += prof_sec[r];
    for (k = 0; k < 20 && shown < 0.99 * total; k++) {
        for (best = -1, r = 0; r < PROF_ROWS; r++)
            if (!used[r] && prof_calls[r] && (best < 0 || prof_sec[r] > prof_sec[best])) best = r;
        if (best < 0) break;
        used[best] = 1;
        shown += prof_sec[best];
        printf("PROFILE key=%s op=%s pass=%s ms=%.3f calls=%ld share=%.1f%%\n", key,
               best == PROF_OPTIM ? "adam" : ng_op_name(best / 2), best == PROF_OPTIM ? "optim" : best % 2 ? "backward" : "forward",
               prof_sec[best] * 1e3, prof_calls[best], total > 0 ? 100.0 * prof_sec[best] / total : 0.0);
    }
    printf("PROFILE key=%s op=all pass=step ms=%.3f kernels_ms=%.3f\n", key, step_sec * 1e3, total * 1e3);
    fflush(stdout);
}

static int g_width = 256; /* --width: the generator's width (gf_dim) */
static int d_width = 0;   /* --disc-width: D's (df_dim); 0: the preset's 128 */
static int gan_batch = 64; /* --gan-batch */
static size_t arena_mb = 0;  /* --arena-gb / --arena-mb; 0: the case's default */
/* --text-*: the TextNAS shapes (bench/textnas_step.c's by default) */
static int t_hidden = 256, t_len = 64, t_batch = 128, t_vocab = 20000, t_embed = 300;
enum { TEXT_CLASSES = 5 };

static void run_alphagan(const char *key, ng_device dev, int iters) {
    const char *dname = dev == NG_CUDA ? "cuda" : "cpu";
    const int B = gan_batch;
    ng_gan_config cfg;
    ng_rng r;
    ng_gan_gen_search *G;
    ng_gan_disc *D;
    ng_ctx *ctx;
    ng_params *groups[5];
    float *z, *x;
    double best = 1e30;
    int it, i, mode = strcmp(key, "alphagan_D") == 0 ? 0 : strcmp(key, "alphagan_G") == 0 ? 1 : 2;
    ng_gan_config_preset(&cfg, "cifar10");
    cfg.gf_dim = g_width;
    /* D keeps the preset's width (alphaGAN's search uses df_dim 128 with gf_dim 256) */
    if (d_width) cfg.df_dim = d_width;
    ng_rng_seed(&r, 1);
    G = ng_gan_gen_search_create(&cfg, NULL, &r);
    D = ng_gan_disc_create(&cfg, "D", NG_GAN_INIT_XAVIER, &r);
    /* the supernet at batch 64 keeps every activation and gradient of the step */
    ctx = ng_ctx_create_on(arena_mb ? arena_mb << 20 : (size_t)64 << 30, 1, dev);
    z = (float *)malloc((size_t)B * cfg.latent_dim * sizeof(float));
    x = (float *)malloc((size_t)B * 3 * 32 * 32 * sizeof(float));
    if (!G || !D || !ctx || !z || !x) { report_fail(key, dname, ng_last_error()); goto out; }
    for (i = 0; i < B * cfg.latent_dim; i++) z[i] = (float)ng_rng_normal(&r);
    for (i = 0; i < B * 3 * 32 * 32; i++) x[i] = ng_rng_uniformf(&r, -1, 1);
    groups[0] = G->weights; groups[1] = G->buffers; groups[2] = G->alpha; groups[3] = D->weights; groups[4] = D->buffers;
    if (move_all(groups, 5, dev)) { report_fail(key, dname, ng_last_error()); goto out; }
    for (it = 0; it < iters + 1 + prof_extra(dev); it++) {
        ng_params *train[1];
        ng_tensor *fake, *loss;
        double t0, dt;
        if (it == iters + 1 && profile_hooks(1)) { report_fail(key, dname, ng_last_error()); goto out; }
        t0 = ng_time_sec();
        ng_ctx_reset(ctx);
        train[0] = mode == 0 ? D->weights : mode == 1 ? G->weights : G->alpha;
        ng_ctx_grad_for(ctx, train, 1);
        fake = ng_gan_gen_search_forward(ctx, G, ng_tensor_from(ctx, ng_shape2(B, cfg.latent_dim), z));
        if (mode == 0)
            loss = ng_hinge_loss_d(ctx, ng_gan_disc_forward(ctx, D, ng_tensor_from(ctx, ng_shape4(B, 3, 32, 32), x)),
                                   ng_gan_disc_forward(ctx, D, fake));
        else
            loss = ng_hinge_loss_g(ctx, ng_gan_disc_forward(ctx, D, fake));
        if (!loss || ng_backward(ctx, loss) != NG_OK) { report_fail(key, dname, ng_last_error()); goto out; }
        ng_params_zero_grad(train[0]);
        if (dev == NG_CUDA && ng_cuda_synchronize() != NG_OK) { report_fail(key, dname, ng_last_error()); goto out; }
        dt = ng_time_sec() - t0;
        if (it == iters + 1) {   /* the profiled step, after the timed ones */
            profile_hooks(0);
            profile_print(key, dt);
            continue;
        }
        if (it >= 1 && dt < best) best = dt;
        print_step(key, it, dt, ng_tensor_item(loss));
    }
    fprintf(stderr, "%s: arena peak %.1f MiB, whole device %.0f MiB\n", key,
            (double)(dev == NG_CUDA ? ctx->dev_arena.peak : ctx->arena.peak) / 1048576.0, (double)ng_cuda_peak_bytes() / 1048576.0);
    printf("BENCH key=%s device=%s ms=%.2f peak_gpu_mb=%.0f status=ok\n", key, dname, best * 1e3, used_mb(ctx, groups, 5, 0));
out:
    fflush(stdout);
    if (G) ng_gan_gen_search_free(G);
    if (D) ng_gan_disc_free(D);
    ng_ctx_free(ctx);
    free(z);
    free(x);
}

/* ---- TextNAS: bench/textnas_step.c's training step on a device ---- */

/* bench/textnas_step.c's batch, shared with bench/ref/textnas_step.py and gpu_steps.py: a pure
   function of example and position; lengths spread over 5..len (len 64: 5 + (37 i + 11) mod 60). */
static void text_make_batch(int32_t *ids, int32_t *lens, int32_t *labels, int n, int len, int vocab) {
    int i, t;
    for (i = 0; i < n; i++) {
        lens[i] = 5 + (37 * i + 11) % (len - 4);
        labels[i] = i % TEXT_CLASSES;
        for (t = 0; t < len; t++) ids[i * len + t] = t < lens[i] ? 2 + (131 * i + 17 * t + 7) % (vocab - 2) : 0;
    }
}

typedef struct text_run {
    ng_textnas_net net;
    ng_textnas_child child;   /* the library's training step (Adam on both groups) */
    ng_text_batch b;
} text_run;

/* The published architecture at the configured shapes on `dev`, trained as
   bench/textnas_step.c does (Adam lr 2e-3, eps 1e-3, wd 1e-6, no clipping). */
static ng_status text_setup(text_run *r, ng_device dev) {
    ng_textnas_hp hp;
    ng_textnas_arch arch;
    ng_status s;
    ng_textnas_arch_published(&arch);
    ng_textnas_hp_default(&hp, t_vocab, TEXT_CLASSES); /* E 300, dropout 0.2, BN after every layer */
    hp.hidden = t_hidden;
    hp.embed_dim = t_embed;
    if ((s = ng_textnas_net_init(&r->net, &hp, &arch, 1)) != NG_OK) return s;
    if ((s = ng_params_to_device(r->net.weights, dev)) != NG_OK || (s = ng_params_to_device(r->net.embed, dev)) != NG_OK ||
        (s = ng_params_to_device(r->net.buffers, dev)) != NG_OK)
        return s;
    return ng_textnas_child_init(&r->child, &r->net, 2e-3f, 1e-3f, 1e-6f, 0.0f);
}
static void text_free(text_run *r) {
    if (r->child.net) ng_textnas_child_free(&r->child);
    ng_textnas_net_free(&r->net);
}

/* One ng_textnas_child_step (forward, cross entropy, backward, Adam), synchronised. */
static ng_status text_step(text_run *r, ng_ctx *ctx, ng_device dev, double *loss_out) {
    ng_status s = ng_textnas_child_step(&r->child, ctx, NULL, NULL, &r->b);
    if (s != NG_OK) return s;
    *loss_out = r->child.loss;
    return dev == NG_CUDA ? ng_cuda_synchronize() : NG_OK;
}

/* Sum and sum of squares of the trained parameters (host copies), for cross-device checks. */
static void text_checksum(text_run *r, double *sum, double *sq) {
    int k;
    int64_t i;
    *sum = *sq = 0.0;
    for (k = 0; k < 2; k++) {
        ng_params *g = k == 0 ? r->net.weights : r->net.embed;
        const float *p;
        if (ng_params_sync_host(g) != NG_OK) { *sum = *sq = NAN; return; }
        p = g->device == NG_CUDA ? g->host_data : g->data;
        for (i = 0; i < g->numel; i++) { *sum += p[i]; *sq += (double)p[i] * p[i]; }
    }
}

static void run_textnas(ng_device dev, int iters) {
    const char *key = "textnas", *dname = dev == NG_CUDA ? "cuda" : "cpu";
    text_run r;
    ng_ctx *ctx = NULL;
    int32_t *ids = (int32_t *)malloc((size_t)t_batch * t_len * sizeof(int32_t));
    int32_t *lens = (int32_t *)malloc((size_t)t_batch * sizeof(int32_t)), *labels = (int32_t *)malloc((size_t)t_batch * sizeof(int32_t));
    double best = 1e30, sum, sq;
    int it;
    memset(&r, 0, sizeof r);
    if (!ids || !lens || !labels) { report_fail(key, dname, "out of host memory"); goto out; }
    text_make_batch(ids, lens, labels, t_batch, t_len, t_vocab);
    r.b.ids = ids; r.b.lengths = lens; r.b.labels = labels; r.b.n = t_batch; r.b.len = t_len;
    ctx = ng_ctx_create_on(arena_mb ? arena_mb << 20 : (size_t)8 << 30, 3, dev); /* seed 3: bench/textnas_step.c's */
    if (!ctx || text_setup(&r, dev) != NG_OK) { report_fail(key, dname, ng_last_error()); goto out; }
    for (it = 0; it < iters + 1; it++) {
        double t0 = ng_time_sec(), dt, loss = 0.0;
        if (text_step(&r, ctx, dev, &loss) != NG_OK) { report_fail(key, dname, ng_last_error()); goto out; }
        dt = ng_time_sec() - t0;
        if (it >= 1 && dt < best) best = dt;
        print_step(key, it, dt, loss);
    }
    text_checksum(&r, &sum, &sq);
    fprintf(stderr, "textnas: %lld weights + %lld embedding, arena peak %.1f MiB; after %d steps: sum %.9g, sum of squares %.9g\n",
            (long long)r.net.weights->numel, (long long)r.net.embed->numel,
            (double)(dev == NG_CUDA ? ctx->dev_arena.peak : ctx->arena.peak) / 1048576.0, iters + 1, sum, sq);
    if (prof_extra(dev)) {   /* one more step, profiled (after the checksum: it trains) */
        double t0, loss;
        ng_status st;
        if (profile_hooks(1)) { report_fail(key, dname, ng_last_error()); goto out; }
        t0 = ng_time_sec();
        st = text_step(&r, ctx, dev, &loss);
        t0 = ng_time_sec() - t0;
        profile_hooks(0);
        if (st != NG_OK) { report_fail(key, dname, ng_last_error()); goto out; }
        profile_print(key, t0);
    }
    {
        ng_params *gs[3];
        gs[0] = r.net.weights; gs[1] = r.net.embed; gs[2] = r.net.buffers;
        printf("BENCH key=%s device=%s ms=%.2f peak_gpu_mb=%.0f status=ok\n", key, dname, best * 1e3,
               used_mb(ctx, gs, 3, 2 * (r.net.weights->numel + r.net.embed->numel)));
    }
out:
    fflush(stdout);
    text_free(&r);
    ng_ctx_free(ctx);
    free(ids);
    free(lens);
    free(labels);
}

static void run_inception(ng_device dev, int iters) {
    const char *key = "inception", *dname = dev == NG_CUDA ? "cuda" : "cpu";
    const int64_t per = 3 * 32 * 32;
    float *x = (float *)malloc((size_t)inc_batch * per * sizeof(float));
    float *f = (float *)malloc((size_t)inc_batch * NG_INCEPTION_FEATURES * sizeof(float));
    float *lg = (float *)malloc((size_t)inc_batch * NG_INCEPTION_CLASSES * sizeof(float));
    ng_inception *net = NULL;
    double best = 1e30, sum = 0.0;
    ng_rng r;
    int64_t i;
    int it;
    if (!x || !f || !lg) { report_fail(key, dname, "out of host memory"); goto out; }
    ng_rng_seed(&r, 4);
    for (i = 0; i < inc_batch * per; i++) x[i] = ng_rng_uniformf(&r, -1, 1);
    if (ng_inception_random(1, &net) != NG_OK || ng_inception_to_device(net, dev) != NG_OK) {
        report_fail(key, dname, ng_last_error());
        goto out;
    }
    for (it = 0; it < iters + 1; it++) {
        double t0 = ng_time_sec(), dt;
        if (ng_inception_forward(net, x, inc_batch, 3, 32, 32, inc_batch, f, lg) != NG_OK) { report_fail(key, dname, ng_last_error()); goto out; }
        dt = ng_time_sec() - t0;      /* the outputs are in host memory: nothing left to wait for */
        if (it >= 1 && dt < best) best = dt;
        fprintf(stderr, "%s batch %d: %.2f ms\n", key, it, dt * 1e3);
    }
    for (i = 0; i < (int64_t)inc_batch * NG_INCEPTION_FEATURES; i++) sum += f[i];
    fprintf(stderr, "inception: %d images, %.0f images/s, sum of the features %.9g\n", inc_batch, inc_batch / best, sum);
    printf("BENCH key=%s device=%s ms=%.2f peak_gpu_mb=%.0f status=ok\n", key, dname, best * 1e3,
           dev == NG_CUDA ? (double)ng_cuda_peak_bytes() / 1048576.0 : 0.0);
out:
    fflush(stdout);
    ng_inception_free(net);
    free(x);
    free(f);
    free(lg);
}

/* --text-NAME VALUE sets a TextNAS shape: 0 done, 1 bad value (message printed), -1 not such an option */
static int text_option(const char *arg, const char *val) {
    static const struct { const char *name; int *v, lo, hi; } opts[] = {
        {"--text-hidden", &t_hidden, 4, 4096}, {"--text-len", &t_len, 5, 4096}, {"--text-batch", &t_batch, 1, 65536},
        {"--text-vocab", &t_vocab, 3, 10000000}, {"--text-embed", &t_embed, 1, 4096}};
    size_t k;
    for (k = 0; k < sizeof opts / sizeof opts[0]; k++) {
        int v = atoi(val);
        if (strcmp(arg, opts[k].name)) continue;
        if (v < opts[k].lo || v > opts[k].hi) {
            fprintf(stderr, "bench_gpu_steps: %s must be %d..%d\n", arg, opts[k].lo, opts[k].hi);
            return 1;
        }
        *opts[k].v = v;
        return 0;
    }
    return -1;
}

/* 1 when case `name` was asked for (no CASE arguments: every case) */
static int selected(const char *name, const char *const *sel, int n_sel) {
    int k;
    for (k = 0; k < n_sel; k++)
        if (strcmp(sel[k], name) == 0) return 1;
    return n_sel == 0;
}

int main(int argc, char **argv) {
    ng_device dev = NG_CUDA;
    int iters = 5, a, ran = 0, n_sel = 0, bad;
    const char *sel[16];
    size_t i;
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--write-inception") == 0 && a + 1 < argc) {
            ng_params *g = ng_params_create(NG_INCEPTION_GROUP, 0);
            ng_status st = g ? ng_inception_params_layout(g) : NG_ERR_NOMEM;
            if (st == NG_OK) st = ng_params_alloc(g);
            if (st == NG_OK) ng_inception_random_params(g, 1);
            if (st == NG_OK) st = ng_inception_save_params(g, argv[a + 1]);
            ng_params_free(g);
            if (st != NG_OK) { fprintf(stderr, "bench_gpu_steps: %s\n", ng_last_error()); return 1; }
            return 0;
        } else if (strcmp(argv[a], "--profile") == 0) {
            profile_on = 1;
        } else if (strcmp(argv[a], "--list") == 0) {
            for (i = 0; i < sizeof cases / sizeof cases[0]; i++) printf("%s\n", cases[i]);
            return 0;
        } else if (strcmp(argv[a], "--device") == 0 && a + 1 < argc) {
            dev = strcmp(argv[++a], "cpu") == 0 ? NG_CPU : NG_CUDA;
        } else if (strcmp(argv[a], "--width") == 0 && a + 1 < argc) {
            g_width = atoi(argv[++a]);
            if (g_width < 1 || g_width > 4096) { fprintf(stderr, "bench_gpu_steps: --width 1..4096\n"); return 2; }
        } else if (strcmp(argv[a], "--disc-width") == 0 && a + 1 < argc) {
            d_width = atoi(argv[++a]);
            if (d_width < 1 || d_width > 4096) { fprintf(stderr, "bench_gpu_steps: --disc-width 1..4096\n"); return 2; }
        } else if (strcmp(argv[a], "--gan-batch") == 0 && a + 1 < argc) {
            gan_batch = atoi(argv[++a]);
            if (gan_batch < 1 || gan_batch > 4096) { fprintf(stderr, "bench_gpu_steps: --gan-batch 1..4096\n"); return 2; }
        } else if (a + 1 < argc && (bad = text_option(argv[a], argv[a + 1])) >= 0) {
            if (bad) return 2;
            a++;
        } else if (strcmp(argv[a], "--inc-batch") == 0 && a + 1 < argc) {
            inc_batch = atoi(argv[++a]);
            if (inc_batch < 1 || inc_batch > 4096) { fprintf(stderr, "bench_gpu_steps: --inc-batch 1..4096\n"); return 2; }
        } else if (strcmp(argv[a], "--iters") == 0 && a + 1 < argc) {
            iters = atoi(argv[++a]);
            if (iters < 1 || iters > 1000) { fprintf(stderr, "bench_gpu_steps: --iters must be 1..1000\n"); return 2; }
        } else if (strcmp(argv[a], "--arena-gb") == 0 && a + 1 < argc) {
            int g = atoi(argv[++a]);
            if (g < 1 || g > 120) { fprintf(stderr, "bench_gpu_steps: --arena-gb must be 1..120\n"); return 2; }
            arena_mb = (size_t)g << 10;
        } else if (strcmp(argv[a], "--arena-mb") == 0 && a + 1 < argc) { /* small arenas for emulated runs */
            int m = atoi(argv[++a]);
            if (m < 1 || m > 120 << 10) { fprintf(stderr, "bench_gpu_steps: --arena-mb must be 1..122880\n"); return 2; }
            arena_mb = (size_t)m;
        } else if (argv[a][0] == '-') {
            fprintf(stderr, "bench_gpu_steps: unknown option %s\n", argv[a]);
            return 2;
        } else if (n_sel < 16) {
            sel[n_sel++] = argv[a];
        }
    }
    if (dev == NG_CUDA && ng_cuda_init(0) != NG_OK) {
        for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
            if (selected(cases[i], sel, n_sel)) report_fail(cases[i], "cuda", ng_last_error());
        return 0;
    }
    if (dev == NG_CUDA) fprintf(stderr, "bench_gpu_steps: %s\n", ng_cuda_device_info());
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!selected(cases[i], sel, n_sel)) continue;
        ran++;
        if (strcmp(cases[i], "textnas") == 0)
            run_textnas(dev, iters);
        else if (strcmp(cases[i], "inception") == 0)
            run_inception(dev, iters);
        else
            run_alphagan(cases[i], dev, iters);
    }
    return ran ? 0 : 2;
}
