/* TextNAS: search a text-representation architecture (arXiv:1912.10729), two ways.

     make build/text_search && ./build/text_search --out runs/text_search        (quick, WordNet)
     ./build/text_search --method darts --out runs/text_darts
     ./build/text_search --preset nni --dataset sst --data-dir sst/trees --embeddings glove.840B.300d.txt

   --method enas (the paper's): an LSTM controller samples one architecture per training batch
   of the weight-sharing supernet; then controller steps by REINFORCE with the sampled child's
   accuracy on a validation batch as reward (docs: textnas.md 3.1, NNI's release). At the end,
   --export architectures are sampled, scored with the shared weights on the validation split,
   and the best is written.
   --method darts (beyond the paper): every choice relaxed (softmax over the 8 ops and the input
   candidates, a sigmoid gate per skip); alternating weight steps on training batches and
   architecture steps on validation batches (first-order), then argmax.
   Writes into --out: search.csv (one row per epoch), search.ckpt (the whole state after every
   epoch; --resume continues bit for bit), arch.json (NNI final_arc.json layout: retrain it with
   text_train --arch), arch.svg (the picture), arch.dot (+ arch.png with graphviz). */
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
    const char *method, *preset, *out;
    int resume, stop_after, threads, hidden, layers, batch, epochs, child_steps, ctrl_steps, export_n, warmup;
    long eval_limit;
    double lr, lr_min, dropout, alpha_lr, pf_dropout;
    uint64_t seed;
    cli_device device;
    uint32_t op_mask;         /* --ops: the candidate ops (bit k: op k); 0 = all 8 */
} options;

static void usage(FILE *f) {
    fprintf(f,
        "usage: text_search [options]\n"
        "TextNAS: search a text-representation architecture (24 layers of conv 1/3/5/7, avg/max pool,\n"
        "BiGRU, 4-head self-attention; input choice among the last 5 layers; any skips).\n\n"
        TEXT_DATA_HELP
        "Search:\n"
        "  --method NAME         enas (default: the paper's controller + shared weights) or darts\n"
        "                        (differentiable relaxation with the alternating optimizer)\n"
        "  --preset NAME         quick (default: H 32, 3 epochs of 150 child steps, minutes on a CPU) or\n"
        "                        nni (NNI's release: H 256, 10 epochs x 3000 child + 500 controller steps,\n"
        "                        batch 128, dropout 0.5, Adam 5e-3 cosine to 1e-5, eps 1e-3, wd 2e-6, clip 5)\n"
        "  --epochs N  --batch N  --hidden N  --layers N\n"
        "  --child-steps N       weight steps per epoch\n"
        "  --ctrl-steps N        enas: controller steps per epoch; darts: architecture steps per epoch\n"
        "                        (default: as many as weight steps)\n"
        "  --lr X  --lr-min X    child Adam, cosine per epoch\n"
        "  --warmup-epochs N     train the shared weights alone for the first N epochs (no controller or\n"
        "                        architecture steps; default 0, as NNI; against darts' collapse onto pools)\n"
        "  --alpha-lr X          darts: architecture Adam (betas 0.5/0.999, wd 1e-3); default 3e-4 with\n"
        "                        --preset nni, 3e-2 with quick (450 architecture steps against nni's\n"
        "                        30,000; measured in docs/RESULTS.md)\n"
        "  --pf-dropout P        darts: dropout P on the pools' outputs inside the mixtures (weight and\n"
        "                        architecture steps), decayed as P-DARTS does: P (E-e-1)/E in warm-up epoch\n"
        "                        e of E, then P exp(-0.2 (e - warm-up)); beyond the paper, against the\n"
        "                        collapse onto pools (default 0: off)\n"
        "  --ops LIST            the candidate ops, comma-separated (default all 8: conv1,conv3,conv5,\n"
        "                        conv7,avg_pool,max_pool,rnn,attention); e.g. leave out the pools when a\n"
        "                        search collapses onto them (beyond the paper; both methods)\n"
        "  --dropout P           every dropout of the child (nni 0.5, quick 0.2)\n"
        "  --export N            enas: architectures sampled at the end and ranked (default 20)\n"
        "  --eval-limit N        validation examples used to rank/report (default 2000; 0: all)\n"
        "  --seed N  --threads N\n"
        CLI_DEVICE_HELP
        "                        (with cuda the supernet, its optimizers and alpha run on the GPU; the\n"
        "                        ENAS controller, a small LSTM, stays on the CPU)\n"
        "Output:\n"
        "  --out DIR             default runs/text_search\n"
        "  --stop-after N        stop after N epochs in this run (the checkpoint is complete; --resume goes on)\n"
        "  --resume              continue from DIR/search.ckpt (refused if the settings differ)\n"
        CLI_CONFIG_HELP
        "  -h, --help\n");
}

/* "conv3,rnn,attention" -> a bit per op; -1 after printing what was wrong */
static int parse_ops(const char *list, uint32_t *mask) {
    char name[32];
    const char *p = list;
    *mask = 0;
    while (*p) {
        size_t l = strcspn(p, ",");
        int k;
        if (l == 0 || l >= sizeof name) { fprintf(stderr, "text_search: --ops: empty or overlong name in '%s'\n", list); return -1; }
        memcpy(name, p, l);
        name[l] = '\0';
        if ((k = ng_textnas_op_index(name)) < 0) {
            fprintf(stderr, "text_search: --ops: unknown op '%s' (conv1, conv3, conv5, conv7, avg_pool, max_pool, rnn, attention)\n", name);
            return -1;
        }
        *mask |= 1u << k;
        p += l + (p[l] == ',');
    }
    if (!*mask) { fprintf(stderr, "text_search: --ops needs at least one op\n"); return -1; }
    if (*mask == (1u << NG_TEXTNAS_N_OPS) - 1) *mask = 0;   /* all of them: the paper's space */
    return 0;
}

static int parse_args(int argc, char **argv, options *o) {
    int i;
    memset(o, 0, sizeof *o);
    text_data_defaults(&o->data);
    o->method = "enas"; o->preset = "quick"; o->out = "runs/text_search";
    o->seed = 1234; o->export_n = 20; o->eval_limit = 2000;
    o->hidden = o->layers = o->batch = o->epochs = o->child_steps = o->ctrl_steps = -1;
    o->lr = o->lr_min = o->dropout = o->alpha_lr = -1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x = 0;
        int *ip = NULL, r;
        double *dp = NULL;
        long lo = 1, hi = 100000000L;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); exit(0); }
        if (!strcmp(a, "--resume")) { o->resume = 1; continue; }
        if ((r = text_data_arg("text_search", argc, argv, &i, &o->data)) != 0) { if (r < 0) return -1; continue; }
        if ((r = cli_device_arg("text_search", argc, argv, &i, &o->device)) != 0) { if (r < 0) return -1; continue; }
        if (!v) { fprintf(stderr, "text_search: %s needs a value (see --help)\n", a); return -1; }
        i++;
        if (!strcmp(a, "--method")) { o->method = v; continue; }
        if (!strcmp(a, "--preset")) { o->preset = v; continue; }
        if (!strcmp(a, "--out")) { o->out = v; continue; }
        if (!strcmp(a, "--seed")) { long s; if (cli_int("text_search", a, v, 0, 2147483647L, &s)) return -1; o->seed = (uint64_t)s; continue; }
        if (!strcmp(a, "--ops")) { if (parse_ops(v, &o->op_mask)) return -1; continue; }
        if (!strcmp(a, "--eval-limit")) { if (cli_int("text_search", a, v, 0, 1000000000L, &o->eval_limit)) return -1; continue; }
        if (!strcmp(a, "--lr")) dp = &o->lr;
        else if (!strcmp(a, "--lr-min")) dp = &o->lr_min;
        else if (!strcmp(a, "--alpha-lr")) dp = &o->alpha_lr;
        else if (!strcmp(a, "--dropout")) dp = &o->dropout;
        else if (!strcmp(a, "--pf-dropout")) dp = &o->pf_dropout;
        if (dp) { if (cli_float("text_search", a, v, 0, dp == &o->dropout || dp == &o->pf_dropout ? 0.95 : 10, dp)) return -1; continue; }
        if (!strcmp(a, "--hidden")) ip = &o->hidden;
        else if (!strcmp(a, "--layers")) { ip = &o->layers; hi = NG_TEXTNAS_MAX_LAYERS - 1; }
        else if (!strcmp(a, "--batch")) ip = &o->batch;
        else if (!strcmp(a, "--epochs")) ip = &o->epochs;
        else if (!strcmp(a, "--child-steps")) ip = &o->child_steps;
        else if (!strcmp(a, "--ctrl-steps")) { ip = &o->ctrl_steps; lo = 0; }
        else if (!strcmp(a, "--export")) ip = &o->export_n;
        else if (!strcmp(a, "--warmup-epochs")) { ip = &o->warmup; lo = 0; }
        else if (!strcmp(a, "--stop-after")) ip = &o->stop_after;
        else if (!strcmp(a, "--threads")) { ip = &o->threads; hi = 1024; }
        else { fprintf(stderr, "text_search: unknown option %s (see --help)\n", a); return -1; }
        if (cli_int("text_search", a, v, lo, hi, &x)) return -1;
        *ip = (int)x;
    }
    if (strcmp(o->method, "enas") && strcmp(o->method, "darts")) {
        fprintf(stderr, "text_search: unknown --method '%s' (enas, darts)\n", o->method);
        return -1;
    }
    if (strcmp(o->preset, "quick") && strcmp(o->preset, "nni")) {
        fprintf(stderr, "text_search: unknown --preset '%s' (quick, nni)\n", o->preset);
        return -1;
    }
    if (o->pf_dropout > 0 && strcmp(o->method, "darts")) {
        fprintf(stderr, "text_search: --pf-dropout applies to --method darts (the controller samples discrete architectures)\n");
        return -1;
    }
    return 0;
}

/* The run's settings after the preset and the overrides. */
typedef struct plan {
    int hidden, layers, batch, epochs, child_steps, ctrl_steps;
    float lr, lr_min, dropout, alpha_lr;
} plan;
static void make_plan(const options *o, plan *p) {
    int nni = !strcmp(o->preset, "nni");
    p->hidden = o->hidden > 0 ? o->hidden : nni ? 256 : 32;
    p->layers = o->layers > 0 ? o->layers : 24;
    p->batch = o->batch > 0 ? o->batch : nni ? 128 : 64;
    p->epochs = o->epochs > 0 ? o->epochs : nni ? 10 : 3;
    p->child_steps = o->child_steps > 0 ? o->child_steps : nni ? 3000 : 150;
    p->ctrl_steps = o->ctrl_steps >= 0 ? o->ctrl_steps : !strcmp(o->method, "darts") ? p->child_steps : nni ? 500 : 50;
    p->lr = o->lr > 0 ? (float)o->lr : 5e-3f;
    p->lr_min = o->lr_min >= 0 ? (float)o->lr_min : 1e-5f;
    p->dropout = o->dropout >= 0 ? (float)o->dropout : nni ? 0.5f : 0.2f;
    /* quick: 100x NNI's lr for its 450 architecture steps against NNI's 30,000; at 3e-4 the
       mixtures stay uniform to 5 digits and derive picks noise (docs/RESULTS.md, TextNAS) */
    p->alpha_lr = o->alpha_lr > 0 ? (float)o->alpha_lr : nni ? 3e-4f : 3e-2f;
}

typedef struct search {
    options o;
    plan p;
    int darts;
    text_data data;
    ng_textnas_net net;
    ng_textnas_child child;
    ng_textnas_ctrl ctrl;
    ng_textnas_alpha alpha;
    ng_adam alpha_opt;
    ng_ctx *ctx, *ctrl_ctx;
    ng_text_sampler train, valid;
    ng_rng rng;                 /* architecture sampling */
    int64_t epoch;
    char settings[1400];
    cli_text csv;
    int tty;
    int warned_collapse;       /* the pool-collapse note was printed */
    double t_start;
    int64_t units_done, units_left;
    /* epoch statistics */
    double sum_loss, sum_acc, sum_reward, sum_alpha_loss;
    int64_t n_child, n_ctrl;
} search;

static int fail(const char *what) {
    fprintf(stderr, "\ntext_search: %s: %s\n", what, ng_last_error());
    return 1;
}

static int setup(search *s) {
    ng_textnas_hp hp;
    ng_textnas_ctrl_hp chp;
    s->darts = !strcmp(s->o.method, "darts");
    make_plan(&s->o, &s->p);
    if (text_data_load("text_search", &s->o.data, &s->data)) return -1;
    ng_textnas_hp_default(&hp, s->data.vocab.size, s->data.num_classes);
    hp.n_layers = s->p.layers;
    hp.hidden = s->p.hidden;
    hp.embed_dim = s->data.embed_dim;
    hp.p_embed = hp.p_cnn = hp.p_rnn = hp.p_att = s->p.dropout;
    hp.xavier = 0; /* NNI's search keeps PyTorch's default init */
    if (ng_textnas_net_init(&s->net, &hp, NULL, s->o.seed) != NG_OK) return fail("building the supernet");
    text_data_init_embedding(&s->data, &s->net, s->o.seed + 7);
    {
        ng_params *groups[] = {s->net.weights, s->net.embed, s->net.buffers};
        if (cli_to_device("text_search", &s->o.device, groups, 3)) return -1;
    }
    if (ng_textnas_child_init(&s->child, &s->net, s->p.lr, 1e-3f, 2e-6f, 5.0f) != NG_OK) return fail("optimizer");
    if (s->darts) {
        if (ng_textnas_alpha_init(&s->alpha, hp.n_layers, hp.choose_from) != NG_OK) return fail("architecture parameters");
        s->alpha.op_mask = s->o.op_mask;
        if (cli_to_device("text_search", &s->o.device, &s->alpha.params, 1) ||
            ng_adam_init(&s->alpha_opt, s->alpha.params, s->p.alpha_lr, 0.5f, 0.999f, 1e-8f, 1e-3f) != NG_OK)
            return fail("architecture parameters");
    } else {
        ng_textnas_ctrl_hp_default(&chp);
        chp.n_layers = hp.n_layers;
        chp.op_mask = s->o.op_mask;
        if (ng_textnas_ctrl_init(&s->ctrl, &chp, s->o.seed + 1) != NG_OK) return fail("controller");
        if (!(s->ctrl_ctx = ng_ctx_create(ng_textnas_ctrl_arena_bytes(&chp), s->o.seed + 2))) return fail("controller arena");
    }
    {   /* one step's activations and tape; pages are only touched as used */
        long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGE_SIZE);
        size_t cap = pages > 0 && psize > 0 ? (size_t)pages * (size_t)psize / 2 : (size_t)8 << 30;
        if (!(s->ctx = ng_ctx_create_on(cli_arena_bytes(&s->o.device, cap), s->o.seed + 3, s->o.device.dev)))
            return fail("allocating the step arena");
    }
    if (ng_text_sampler_init(&s->train, &s->data.split[0], s->o.seed + 4) != NG_OK ||
        ng_text_sampler_init(&s->valid, &s->data.split[1], s->o.seed + 5) != NG_OK)
        return fail("data");
    ng_rng_seed(&s->rng, s->o.seed + 6);
    snprintf(s->settings, sizeof s->settings,
             "%s method=%s hidden=%d layers=%d batch=%d epochs=%d child_steps=%d ctrl_steps=%d lr=%g lr_min=%g dropout=%g "
             "alpha_lr=%g warmup=%d seed=%llu",
             s->data.settings, s->o.method, s->p.hidden, s->p.layers, s->p.batch, s->p.epochs, s->p.child_steps,
             s->p.ctrl_steps, s->p.lr, s->p.lr_min, s->p.dropout, s->p.alpha_lr, s->o.warmup, (unsigned long long)s->o.seed);
    if (s->o.op_mask) {   /* only when restricted, so that earlier checkpoints still resume */
        size_t l = strlen(s->settings);
        snprintf(s->settings + l, sizeof s->settings - l, " ops=0x%02x", (unsigned)s->o.op_mask);
    }
    if (s->o.pf_dropout > 0) {   /* likewise */
        size_t l = strlen(s->settings);
        snprintf(s->settings + l, sizeof s->settings - l, " pf_dropout=%g", s->o.pf_dropout);
    }
    return 0;
}

/* ---- checkpoint ---- */
static int save_state(search *s, const char *path) {
    ng_ckpt *ck = ng_ckpt_new();
    ng_status st = ck ? NG_OK : NG_ERR_NOMEM;
    if (st == NG_OK) st = ng_ckpt_put(ck, "search.settings", s->settings, strlen(s->settings));
    if (st == NG_OK) st = ng_ckpt_put_i64(ck, "search.epoch", s->epoch);
    if (st == NG_OK) st = ng_textnas_child_put(ck, "child", &s->child);
    if (st == NG_OK && s->darts) st = ng_ckpt_put_params(ck, s->alpha.params);
    if (st == NG_OK && s->darts) st = ng_ckpt_put_adam(ck, "alpha.adam", &s->alpha_opt);
    if (st == NG_OK && !s->darts) st = ng_textnas_ctrl_put(ck, "ctrl", &s->ctrl);
    if (st == NG_OK) st = ng_text_sampler_put(ck, "data.train", &s->train);
    if (st == NG_OK) st = ng_text_sampler_put(ck, "data.valid", &s->valid);
    if (st == NG_OK) st = ng_ckpt_put_rng(ck, "search.rng", &s->rng);
    if (st == NG_OK) st = ng_ckpt_put_rng(ck, "search.ctx_rng", &s->ctx->rng);
    if (st == NG_OK) st = ng_ckpt_save(ck, path);
    ng_ckpt_free(ck);
    return st == NG_OK ? 0 : fail("saving the checkpoint");
}
static int load_state(search *s, const char *path) {
    ng_ckpt *ck = NULL;
    ng_status st;
    if (cli_resume_open("text_search", path, "search.settings", s->settings, &ck)) return 1;
    st = ng_ckpt_get_i64(ck, "search.epoch", &s->epoch);
    if (st == NG_OK) st = ng_textnas_child_get(ck, "child", &s->child);
    if (st == NG_OK && s->darts) st = ng_ckpt_get_params(ck, s->alpha.params);
    if (st == NG_OK && s->darts) st = ng_ckpt_get_adam(ck, "alpha.adam", &s->alpha_opt);
    if (st == NG_OK && !s->darts) st = ng_textnas_ctrl_get(ck, "ctrl", &s->ctrl);
    if (st == NG_OK) st = ng_text_sampler_get(ck, "data.train", &s->train);
    if (st == NG_OK) st = ng_text_sampler_get(ck, "data.valid", &s->valid);
    if (st == NG_OK) st = ng_ckpt_get_rng(ck, "search.rng", &s->rng);
    if (st == NG_OK) st = ng_ckpt_get_rng(ck, "search.ctx_rng", &s->ctx->rng);
    ng_ckpt_free(ck);
    return st == NG_OK ? 0 : fail("--resume");
}

/* ---- progress and log ---- */
static void progress(search *s, const char *phase, int64_t step, int64_t total) {
    double el = ng_time_sec() - s->t_start, eta;
    char eta_s[32], el_s[32];
    s->units_done++;
    s->units_left--;
    if (!s->tty && step != total && step % 25 != 0) return;
    eta = el / (double)s->units_done * (double)(s->units_left > 0 ? s->units_left : 0);
    cli_duration(eta, eta_s, sizeof eta_s);
    cli_duration(el, el_s, sizeof el_s);
    fprintf(stderr, "%sepoch %lld/%d %-5s %4lld/%-4lld | loss %.4f acc %.3f | %s %.4f | %s, ETA %s%s", s->tty ? "\r" : "",
            (long long)s->epoch + 1, s->p.epochs, phase, (long long)step, (long long)total, s->child.loss, s->child.accuracy,
            s->darts ? "alpha loss" : "reward baseline",
            s->darts ? s->sum_alpha_loss / (double)(s->n_ctrl ? s->n_ctrl : 1) : s->ctrl.baseline,
            el_s, eta_s, s->tty ? "\033[K" : "\n");
    fflush(stderr);
}

static void arch_line(const ng_textnas_arch *a, char *buf, size_t cap) {
    size_t o = 0;
    int i, j;
    buf[0] = 0;
    for (i = 0; i < a->n_layers && o < cap; i++) {
        o += (size_t)snprintf(buf + o, cap - o, "%s%d:%s<%d", i ? " " : "", i, ng_textnas_op_name(a->op[i]), a->input[i]);
        for (j = 0; j < i && o < cap; j++)
            if ((a->skip[i] >> j) & 1u) o += (size_t)snprintf(buf + o, cap - o, "+%d", j);
    }
}
static void csv_header(search *s) {
    cli_printf(&s->csv, "epoch,seconds,lr,train_loss,train_acc,%s,valid_acc,param_free,arch\n",
               s->darts ? "alpha_loss,op_entropy" : "reward,baseline");
}

/* ---- one epoch ---- */
typedef struct reward_ctx { search *s; ng_status st; } reward_ctx;
static double enas_reward(const ng_textnas_arch *arch, void *user) {
    reward_ctx *r = (reward_ctx *)user;
    ng_text_batch b;
    double acc = NAN;
    if ((r->st = ng_text_sampler_next(&r->s->valid, r->s->p.batch, &b)) != NG_OK) return NAN;
    r->st = ng_textnas_batch_accuracy(r->s->ctx, &r->s->net, arch, &b, &acc);
    return acc;
}
/* --pf-dropout's rate in the current epoch: P-DARTS's schedule (linear decay over the warm-up
   epochs, then exp(-0.2) per architecture epoch) */
static float pf_dropout_at(const search *s) {
    double p0 = s->o.pf_dropout, e = (double)s->epoch, E = s->p.epochs, w = s->o.warmup;
    if (p0 <= 0) return 0.0f;
    return (float)(e < w ? p0 * (E - e - 1) / E : p0 * exp(-0.2 * (e - w)));
}
static int run_epoch(search *s) {
    ng_text_batch b;
    ng_textnas_arch arch;
    int64_t k;
    int arch_steps = s->epoch >= s->o.warmup; /* --warmup-epochs: weights alone first */
    if (s->darts) s->alpha.pf_dropout = pf_dropout_at(s);
    ng_textnas_child_set_lr(&s->child, ng_lr_at(NG_LR_COSINE, s->p.lr, s->p.lr_min, s->epoch, s->p.epochs));
    s->sum_loss = s->sum_acc = s->sum_reward = s->sum_alpha_loss = 0;
    s->n_child = s->n_ctrl = 0;
    for (k = 0; k < s->p.child_steps; k++) {
        if (ng_text_sampler_next(&s->train, s->p.batch, &b) != NG_OK) return fail("data");
        if (!s->darts && ng_textnas_ctrl_sample_arch(&s->ctrl, &s->rng, &arch) != NG_OK) return fail("controller sample");
        if (ng_textnas_child_step(&s->child, s->ctx, s->darts ? NULL : &arch, s->darts ? &s->alpha : NULL, &b) != NG_OK)
            return fail("child step");
        s->sum_loss += s->child.loss;
        s->sum_acc += s->child.accuracy;
        s->n_child++;
        if (s->darts && arch_steps && k < s->p.ctrl_steps) { /* alternate: one architecture step per weight step */
            double l;
            if (ng_text_sampler_next(&s->valid, s->p.batch, &b) != NG_OK) return fail("data");
            if (ng_textnas_alpha_step(s->ctx, &s->net, &s->alpha, &s->alpha_opt, &b, &l) != NG_OK) return fail("alpha step");
            s->sum_alpha_loss += l;
            s->n_ctrl++;
        }
        progress(s, "child", k + 1, s->p.child_steps);
    }
    for (k = 0; !s->darts && arch_steps && k < s->p.ctrl_steps; k++) {
        reward_ctx r;
        r.s = s;
        r.st = NG_OK;
        if (ng_textnas_ctrl_step(&s->ctrl, s->ctrl_ctx, &s->rng, enas_reward, &r, NULL) != NG_OK || r.st != NG_OK)
            return fail("controller step");
        s->sum_reward += s->ctrl.last.reward;
        s->n_ctrl++;
        progress(s, "ctrl", k + 1, s->p.ctrl_steps);
    }
    return 0;
}

/* The epoch's architecture: darts' argmax; enas' most likely-looking sample (one draw from a
   copy of the sampling RNG, so logging does not change the search). */
static int current_arch(search *s, ng_textnas_arch *a) {
    if (s->darts) { ng_textnas_alpha_derive(&s->alpha, a); return 0; }
    {
        ng_rng r = s->rng;
        return ng_textnas_ctrl_sample_arch(&s->ctrl, &r, a) == NG_OK ? 0 : fail("controller sample");
    }
}

/* Differentiable searches tend to end on parameter-free ops (docs/ecosystem.md 4(a)); say so
   once, when over half the layers of the current architecture are pools. */
static void warn_collapse(search *s, const ng_textnas_arch *a) {
    int n = ng_textnas_arch_n_param_free(a);
    if (s->warned_collapse || 2 * n <= a->n_layers) return;
    s->warned_collapse = 1;
    fprintf(stderr, "%stext_search: note: %d of %d layers are parameter-free pools in epoch %lld's architecture, the "
            "known collapse of %s searches; consider --warmup-epochs, --pf-dropout, fewer epochs, --ops without the pools, or "
            "comparing with --method %s\n", s->tty ? "\n" : "", n, a->n_layers, (long long)s->epoch,
            s->darts ? "differentiable" : "controller", s->darts ? "enas" : "darts");
}

static int csv_row(search *s, double seconds, double *valid_acc) {
    ng_textnas_arch a;
    char line[2048];
    if (current_arch(s, &a)) return 1;
    if (ng_textnas_evaluate(s->ctx, &s->net, &a, NULL, &s->data.split[1], s->p.batch, s->o.eval_limit, valid_acc, NULL, NULL) != NG_OK)
        return fail("validation");
    arch_line(&a, line, sizeof line);
    cli_printf(&s->csv, "%lld,%.2f,%.6g,%.6f,%.6f,", (long long)s->epoch, seconds, s->child.adam_w.lr,
               s->sum_loss / (double)s->n_child, s->sum_acc / (double)s->n_child);
    if (s->darts)
        cli_printf(&s->csv, "%.6f,%.6f", s->sum_alpha_loss / (double)(s->n_ctrl ? s->n_ctrl : 1), ng_textnas_alpha_op_entropy(&s->alpha));
    else cli_printf(&s->csv, "%.6f,%.6f", s->sum_reward / (double)(s->n_ctrl ? s->n_ctrl : 1), s->ctrl.baseline);
    cli_printf(&s->csv, ",%.6f,%d,\"%s\"\n", *valid_acc, ng_textnas_arch_n_param_free(&a), line);
    warn_collapse(s, &a);
    return 0;
}

/* ---- the end: pick, save and draw the architecture ---- */
static int final_arch(search *s, ng_textnas_arch *best, double *best_acc) {
    int k;
    if (s->darts) {
        ng_textnas_alpha_derive(&s->alpha, best);
        if (ng_textnas_evaluate(s->ctx, &s->net, best, NULL, &s->data.split[1], s->p.batch, s->o.eval_limit, best_acc, NULL,
                                NULL) != NG_OK)
            return fail("validation");
        return 0;
    }
    {   /* sample --export architectures from the final controller and rank them */
        ng_textnas_arch *cand = (ng_textnas_arch *)calloc((size_t)s->o.export_n, sizeof *cand);
        ng_rng r = s->rng;
        *best_acc = -1;
        if (!cand || ng_textnas_ctrl_export(&s->ctrl, &r, s->o.export_n, cand) != NG_OK) { free(cand); return fail("export"); }
        for (k = 0; k < s->o.export_n; k++) {
            double acc;
            char path[4300];
            if (ng_textnas_evaluate(s->ctx, &s->net, &cand[k], NULL, &s->data.split[1], s->p.batch, s->o.eval_limit, &acc, NULL,
                                    NULL) != NG_OK) {
                free(cand);
                return fail("validation");
            }
            snprintf(path, sizeof path, "%s/archs/arch_%02d.json", s->o.out, k);
            if (ng_textnas_arch_save(&cand[k], path) != NG_OK) fprintf(stderr, "text_search: %s\n", ng_last_error());
            printf("  sampled architecture %2d: shared-weight validation accuracy %.4f (%d skips)\n", k, acc,
                   ng_textnas_arch_n_skips(&cand[k]));
            if (acc > *best_acc) { *best_acc = acc; *best = cand[k]; }
        }
        free(cand);
    }
    return 0;
}
static void final_report(search *s, double seconds) {
    ng_textnas_arch a;
    double acc = 0;
    char path[4200], dotp[4200], svgp[4200], cmd[9000], t[32], line[2048];
    const char *title = s->darts ? "TextNAS (differentiable search)" : "TextNAS (ENAS search)";
    char *dot = NULL, *svg = NULL;
    size_t dn = 0, sn = 0;
    if (final_arch(s, &a, &acc)) return;
    snprintf(path, sizeof path, "%s/arch.json", s->o.out);
    if (ng_textnas_arch_save(&a, path) != NG_OK) fprintf(stderr, "text_search: %s\n", ng_last_error());
    snprintf(dotp, sizeof dotp, "%s/arch.dot", s->o.out);
    if (ng_textnas_arch_to_dot(&a, title, &dot, &dn) != NG_OK || ng_file_write_atomic(dotp, dot, dn) != NG_OK)
        fprintf(stderr, "text_search: %s\n", ng_last_error());
    snprintf(svgp, sizeof svgp, "%s/arch.svg", s->o.out);
    if (ng_textnas_arch_to_svg(&a, title, &svg, &sn) != NG_OK || ng_file_write_atomic(svgp, svg, sn) != NG_OK)
        fprintf(stderr, "text_search: %s\n", ng_last_error());
    free(dot);
    free(svg);
    cli_duration(seconds, t, sizeof t);
    arch_line(&a, line, sizeof line);
    printf("\nsearch finished: %lld epochs, %lld child steps, %s in this run\n", (long long)s->epoch, (long long)s->child.steps, t);
    printf("architecture (shared-weight validation accuracy %.4f, %d skips):\n  %s\n", acc, ng_textnas_arch_n_skips(&a), line);
    printf("wrote %s, %s, %s", path, svgp, dotp);
    if (system("command -v dot >/dev/null 2>&1") == 0) {
        snprintf(cmd, sizeof cmd, "dot -Tpng '%s' -o '%s/arch.png'", dotp, s->o.out);
        if (system(cmd) == 0) printf(", %s/arch.png", s->o.out);
    } else {
        printf(" (install graphviz for arch.png)");
    }
    printf(", %s/search.csv, %s/search.ckpt\n", s->o.out, s->o.out);
    printf("retrain it: build/text_train --arch %s --dataset %s\n", path, s->o.data.dataset);
}

int main(int argc, char **argv) {
    search s;
    char ckpt[4200], csvp[4200], archs[4200];
    int rc = 0, stopped = 0;
    int64_t start_epoch;
    memset(&s, 0, sizeof s);
    if (cli_expand_config("text_search", &argc, &argv) || parse_args(argc, argv, &s.o)) return 2;
#ifdef _OPENMP
    if (s.o.threads > 0) omp_set_num_threads(s.o.threads);
#endif
    snprintf(archs, sizeof archs, "%s/archs", s.o.out);
    if (cli_make_dirs("text_search", s.o.out) || cli_make_dirs("text_search", archs) ||
        cli_device_start("text_search", &s.o.device))
        return 1;
    snprintf(ckpt, sizeof ckpt, "%s/search.ckpt", s.o.out);
    snprintf(csvp, sizeof csvp, "%s/search.csv", s.o.out);
    if (setup(&s)) return 1;
    if (s.o.resume) {
        if (load_state(&s, ckpt)) return 1;
        if (cli_csv_reload(&s.csv, csvp, (long long)s.epoch)) csv_header(&s);
        printf("resumed %s at epoch %lld\n", ckpt, (long long)s.epoch);
    } else {
        csv_header(&s);
    }
    start_epoch = s.epoch;
    s.tty = isatty(2);
    printf("%s\nTextNAS search (%s): %s | train %lld, valid %lld, test %lld | %d classes | vocab %lld | supernet %lld weights "
           "(+ %lld embedding) | %d epochs\n",
           ng_build_info(), s.o.method, s.o.data.dataset, (long long)s.data.split[0].n, (long long)s.data.split[1].n,
           (long long)s.data.split[2].n, s.data.num_classes, (long long)s.data.vocab.size, (long long)ng_textnas_net_count(&s.net),
           (long long)s.net.embed->numel, s.p.epochs);
    printf("settings: %s\n", s.settings);
    cli_run_record("text_search", s.o.out, argc, argv, s.settings, s.o.resume);
    fflush(stdout);
    s.t_start = ng_time_sec();
    s.units_left = (int64_t)(s.p.child_steps + (s.darts ? 0 : s.p.ctrl_steps)) * (s.p.epochs - s.epoch);
    while (s.epoch < s.p.epochs) {
        double t0 = ng_time_sec(), vacc = 0;
        if (s.o.stop_after > 0 && s.epoch - start_epoch >= s.o.stop_after) {
            printf("stopping after %d epochs (--stop-after); continue with --resume\n", s.o.stop_after);
            stopped = 1;
            break;
        }
        if (run_epoch(&s)) { rc = 1; break; }
        if (s.tty) fputc('\n', stderr);
        s.epoch++;
        if (csv_row(&s, ng_time_sec() - t0, &vacc)) { rc = 1; break; }
        if (ng_file_write_atomic(csvp, s.csv.s, s.csv.len) != NG_OK) { rc = fail("writing the log"); break; }
        if (save_state(&s, ckpt)) { rc = 1; break; }
        printf("epoch %lld: train loss %.4f acc %.4f | %s %.4f | validation accuracy of the current architecture %.4f | %.1f s; "
               "checkpoint %s\n",
               (long long)s.epoch, s.sum_loss / (double)s.n_child, s.sum_acc / (double)s.n_child,
               s.darts ? "alpha loss" : "mean reward",
               (s.darts ? s.sum_alpha_loss : s.sum_reward) / (double)(s.n_ctrl ? s.n_ctrl : 1), vacc, ng_time_sec() - t0, ckpt);
        if (s.darts && s.alpha.pf_dropout > 0) printf("  (pools' dropout this epoch %.3f)\n", s.alpha.pf_dropout);
        if (s.epoch == start_epoch + 1) {   /* once, when the steps have reached their size */
            char mem[256];
            printf("%s\n", cli_memory(s.ctx, mem, sizeof mem));
        }
        fflush(stdout);
    }
    if (rc == 0 && !stopped) final_report(&s, ng_time_sec() - s.t_start);
    ng_textnas_child_free(&s.child);
    if (s.darts) { ng_adam_free(&s.alpha_opt); ng_textnas_alpha_free(&s.alpha); }
    else ng_textnas_ctrl_free(&s.ctrl);
    ng_textnas_net_free(&s.net);
    ng_text_sampler_free(&s.train);
    ng_text_sampler_free(&s.valid);
    text_data_free(&s.data);
    ng_ctx_free(s.ctx);
    ng_ctx_free(s.ctrl_ctx);
    free(s.csv.s);
    return rc;
}
