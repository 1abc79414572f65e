/* The TextNAS space (src/textnas.c): the published architecture and NNI's JSON, parameter
   counts of the spec, exact zeros at padding through whole nets, gradients of a whole small
   net (path and relaxed), and the relaxed net's agreement with the path net at peaked alpha. */
#include "test.h"

static const int published_ops[24] = {5, 7, 3, 6, 1, 1, 0, 6, 5, 5, 7, 4, 1, 2, 0, 3, 2, 4, 3, 3, 5, 7, 7, 3};

/* tests/fixtures/<name>, from build/ or the repository root */
static char *read_fixture_text(const char *name, size_t *n) {
    const char *dirs[2] = {"../tests/fixtures", "tests/fixtures"};
    char path[256];
    int k;
    for (k = 0; k < 2; k++) {
        unsigned char *buf = NULL;
        snprintf(path, sizeof path, "%s/%s", dirs[k], name);
        if (ng_file_read_all(path, 1u << 20, &buf, n) == NG_OK) return (char *)buf;
    }
    return NULL;
}

TEST(textnas_published_arch) {
    ng_textnas_arch a, nni;
    size_t n = 0;
    char *text = read_fixture_text("nni_final_arc.json", &n);
    int i, ops[NG_TEXTNAS_N_OPS] = {0};
    ng_textnas_arch_published(&a);
    CHECK_OK(ng_textnas_arch_check(&a, 5));
    CHECK(a.n_layers == 24);
    for (i = 0; i < 24; i++) { CHECK(a.op[i] == published_ops[i]); ops[a.op[i]]++; }
    CHECK(ng_textnas_arch_n_skips(&a) == 101);
    CHECK(ops[NG_TEXTNAS_CONV7] == 5 && ops[NG_TEXTNAS_MAX_POOL] == 4 && ops[NG_TEXTNAS_ATTENTION] == 4);
    CHECK(a.input[3] == 2 && a.skip[3] == ((1u << 1) | (1u << 2)));      /* spec 5.3, layer 3 */
    CHECK(a.input[22] == 21 && ((a.skip[22] >> 21) & 1u));               /* skip = its own input */
    /* NNI's published file, byte for byte as shipped, loads to the same architecture */
    CHECK_MSG(text != NULL, "tests/fixtures/nni_final_arc.json: %s", ng_last_error());
    if (text) {
        CHECK_OK(ng_textnas_arch_parse(text, n, "nni_final_arc.json", 5, &nni));
        CHECK(ng_textnas_arch_eq(&a, &nni));
    }
    free(text);
}

TEST(textnas_json_round_trip) {
    ng_textnas_arch a, b;
    ng_rng r;
    char *text = NULL;
    size_t n = 0;
    int t;
    char path[512];
    ng_textnas_arch_published(&a);
    CHECK_OK(ng_textnas_arch_to_json(&a, &text, &n));
    CHECK_OK(ng_textnas_arch_parse(text, n, "mem", 5, &b));
    CHECK(ng_textnas_arch_eq(&a, &b));
    free(text);
    snprintf(path, sizeof path, "%s/arch.json", ng_test_tmpdir());
    CHECK_OK(ng_textnas_arch_save(&a, path));
    CHECK_OK(ng_textnas_arch_load(path, 5, &b));
    CHECK(ng_textnas_arch_eq(&a, &b));
    ng_rng_seed(&r, 7);
    for (t = 0; t < 50; t++) {
        int L = 1 + (int)ng_rng_below(&r, 30);
        ng_textnas_arch_random(&a, L, 5, 0.4, &r);
        CHECK_OK(ng_textnas_arch_check(&a, 5));
        text = NULL;
        CHECK_OK(ng_textnas_arch_to_json(&a, &text, &n));
        CHECK_OK(ng_textnas_arch_parse(text, n, "mem", 5, &b));
        CHECK(ng_textnas_arch_eq(&a, &b));
        free(text);
    }
}

/* The parse must fail with NG_ERR_FORMAT and a message containing `want`. */
static void expect_bad(const char *json, const char *want) {
    ng_textnas_arch a;
    ng_status s = ng_textnas_arch_parse(json, strlen(json), "bad.json", 5, &a);
    CHECK_MSG(s == NG_ERR_FORMAT, "accepted: %s", json);
    CHECK_MSG(strstr(ng_last_error(), want) != NULL && strstr(ng_last_error(), "bad.json") != NULL,
              "message '%s' lacks '%s'", ng_last_error(), want);
}
TEST(textnas_json_rejects) {
    const char *ok2 = "{\"LayerChoice1\": [true,false,false,false,false,false,false,false], \"InputChoice2\": [true], "
                      "\"LayerChoice3\": [false,false,false,false,false,false,false,true], \"InputChoice4\": [false]}";
    ng_textnas_arch a;
    CHECK_OK(ng_textnas_arch_parse(ok2, strlen(ok2), "ok.json", 5, &a));
    CHECK(a.n_layers == 2 && a.op[0] == 0 && a.op[1] == 7 && a.input[1] == 0 && a.skip[1] == 0);
    expect_bad("", "expected '{'");
    expect_bad("{}", "keys");
    expect_bad("{\"LayerChoice1\": [true,true,false,false,false,false,false,false]}", "exactly one true");
    expect_bad("{\"LayerChoice1\": [true,false,false]}", "8 booleans");
    expect_bad("{\"LayerChoice1\": [1,0,0,0,0,0,0,0]}", "true or false");
    expect_bad("{\"LayerChoice1\": [true,false,false,false,false,false,false,false], \"Foo\": []}", "unknown key");
    expect_bad("{\"LayerChoice1\": [true,false,false,false,false,false,false,false], "
               "\"LayerChoice1\": [true,false,false,false,false,false,false,false]}", "duplicate");
    expect_bad("{\"LayerChoice1\": [true,false,false,false,false,false,false,false], \"InputChoice2\": [true], "
               "\"LayerChoice3\": [false,false,false,false,false,false,false,true], \"LayerChoice4\": [false]}", "InputChoice4");
    expect_bad("{\"LayerChoice1\": [true,false,false,false,false,false,false,false], \"InputChoice2\": [true, false], "
               "\"LayerChoice3\": [false,false,false,false,false,false,false,true], \"InputChoice4\": [false]}", "input choice");
    expect_bad("{\"LayerChoice1\": [true,false,false,false,false,false,false,false]} x", "end of input");
    expect_bad("{\"LayerChoice1\": [true,false,false,false,false,false,false,false]", "',' or '}'");
}

static void small_hp(ng_textnas_hp *hp, int n_layers) {
    ng_textnas_hp_default(hp, 23, 3);
    hp->n_layers = n_layers;
    hp->hidden = 8;
    hp->embed_dim = 6;
    hp->heads = 2;
}

TEST(textnas_param_counts) {
    ng_textnas_hp hp;
    ng_textnas_net net;
    ng_textnas_arch a;
    ng_textnas_arch_published(&a);
    ng_textnas_hp_default(&hp, 50, 2);
    CHECK_OK(ng_textnas_net_init(&net, &hp, &a, 1));
    CHECK_MSG(ng_textnas_net_count(&net) == 6140186, "SST-2: %lld", (long long)ng_textnas_net_count(&net));
    CHECK(net.embed->numel == 50 * 300);
    ng_textnas_net_free(&net);
    hp.n_classes = 5;
    CHECK_OK(ng_textnas_net_init(&net, &hp, &a, 1));
    CHECK_MSG(ng_textnas_net_count(&net) == 6140957, "SST-5: %lld", (long long)ng_textnas_net_count(&net));
    ng_textnas_net_free(&net);
    /* the supernet: 24 x (conv 1/3/5/7 + BiGRU + attention) + 24 layer BNs + init conv + head */
    hp.n_classes = 2;
    CHECK_OK(ng_textnas_net_init(&net, &hp, NULL, 1));
    CHECK_MSG(ng_textnas_net_count(&net) == 24LL * (66304 + 197376 + 328448 + 459520 + 789504 + 197888) + 24 * 512 + 77568 + 24 + 512 + 2,
              "supernet: %lld", (long long)ng_textnas_net_count(&net));
    ng_textnas_net_free(&net);
    /* bad settings are refused */
    hp.hidden = 30;
    CHECK(ng_textnas_net_init(&net, &hp, NULL, 1) == NG_ERR_ARG);
}

/* ids/lengths of a batch with lengths 0 < len <= L, some full, one of length 1 */
static void make_batch(ng_rng *r, int64_t V, int64_t N, int L, int32_t *ids, int32_t *lens) {
    int64_t i, t;
    for (i = 0; i < N; i++) {
        lens[i] = i == 0 ? L : i == 1 ? 1 : 1 + (int32_t)ng_rng_below(r, (uint64_t)L);
        for (t = 0; t < L; t++) ids[i * L + t] = t < lens[i] ? 2 + (int32_t)ng_rng_below(r, (uint64_t)(V - 2)) : 0;
    }
}
static int zero_at_pads(const ng_tensor *x, const int32_t *lens, int64_t N, int L) {
    int64_t i, t, d, D = x->shape.d[2];
    for (i = 0; i < N; i++)
        for (t = lens[i]; t < L; t++)
            for (d = 0; d < D; d++) {
                float v = x->data[(i * L + t) * D + d];
                uint32_t bits;
                memcpy(&bits, &v, 4);
                if (bits != 0) return 0; /* +0.0 exactly */
            }
    return 1;
}

TEST(textnas_pads_exactly_zero) {
    enum { N = 5, L = 11 };
    ng_textnas_hp hp;
    ng_textnas_net net;
    ng_textnas_arch a;
    ng_ctx *ctx = ng_ctx_create(64u << 20, 3);
    ng_rng r;
    int32_t ids[N * L], lens[N];
    ng_text_batch b;
    ng_tensor *layers[NG_TEXTNAS_MAX_LAYERS], *logits;
    int i, mode;
    small_hp(&hp, 24);
    hp.p_embed = hp.p_cnn = hp.p_rnn = hp.p_att = 0.3f;
    ng_rng_seed(&r, 11);
    make_batch(&r, hp.vocab, N, L, ids, lens);
    b.ids = ids; b.lengths = lens; b.labels = NULL; b.n = N; b.len = L;
    ng_textnas_arch_published(&a);
    CHECK_OK(ng_textnas_net_init(&net, &hp, &a, 5));
    for (mode = 1; mode >= 0; mode--) { /* training (dropout, batch statistics), then eval */
        ng_ctx_reset(ctx);
        ng_ctx_set_training(ctx, mode);
        logits = ng_textnas_forward(ctx, &net, NULL, &b, layers);
        CHECK(logits != NULL && logits->shape.d[0] == N && logits->shape.d[1] == 3);
        for (i = 0; logits && i < 24; i++) CHECK_MSG(zero_at_pads(layers[i], lens, N, L), "mode %d layer %d", mode, i);
        for (i = 0; logits && i < N * 3; i++) CHECK(isfinite(logits->data[i]));
    }
    ng_textnas_net_free(&net);
    ng_ctx_free(ctx);
}

TEST(textnas_bad_batches) {
    ng_textnas_hp hp;
    ng_textnas_net net;
    ng_textnas_arch a;
    ng_ctx *ctx = ng_ctx_create(16u << 20, 3);
    int32_t ids[4] = {2, 3, 0, 99}, lens[2] = {2, 3};
    ng_text_batch b = {ids, lens, NULL, 2, 2};
    small_hp(&hp, 2);
    ng_textnas_arch_baseline(&a);
    CHECK_OK(ng_textnas_net_init(&net, &hp, &a, 5));
    CHECK(ng_textnas_forward(ctx, &net, NULL, &b, NULL) == NULL);
    CHECK(strstr(ng_last_error(), "length 3") != NULL);
    ng_ctx_reset(ctx);
    ctx->status = NG_OK;
    lens[1] = 2;
    CHECK(ng_textnas_forward(ctx, &net, NULL, &b, NULL) == NULL);
    CHECK(strstr(ng_last_error(), "token id 99") != NULL);
    ng_textnas_net_free(&net);
    ng_ctx_free(ctx);
}

/* ---- gradients of a whole small net, by central differences in the parameters ---- */
typedef struct net_case {
    ng_textnas_net *net;
    ng_textnas_alpha *alpha;    /* NULL: path forward of arch */
    const ng_textnas_arch *arch;
    ng_text_batch b;
    ng_ctx *ctx;
} net_case;
static double case_loss(net_case *c) {
    ng_tensor *logits, *loss;
    ng_ctx_reset(c->ctx);
    ng_rng_seed(&c->ctx->rng, 99);
    logits = c->alpha ? ng_textnas_forward_mixed(c->ctx, c->net, c->alpha, &c->b)
                      : ng_textnas_forward(c->ctx, c->net, c->arch, &c->b, NULL);
    loss = ng_cross_entropy(c->ctx, logits, c->b.labels);
    return loss ? (double)loss->data[0] : NAN;
}
/* backward once, then compare `count` entries of each tensor of group g with differences */
static void check_group_grads(net_case *c, ng_params *g, int per_tensor, double h) {
    ng_params *groups[3];
    ng_tensor *logits, *loss;
    int k, ng = 0, bad = 0, checked = 0;
    float *grad = (float *)malloc((size_t)g->numel * sizeof(float));
    groups[ng++] = c->net->embed;
    groups[ng++] = c->net->weights;
    if (c->alpha) groups[ng++] = c->alpha->params;
    ng_ctx_reset(c->ctx);
    ng_ctx_grad_for(c->ctx, groups, ng);
    for (k = 0; k < ng; k++) ng_params_zero_grad(groups[k]);
    ng_rng_seed(&c->ctx->rng, 99);
    logits = c->alpha ? ng_textnas_forward_mixed(c->ctx, c->net, c->alpha, &c->b)
                      : ng_textnas_forward(c->ctx, c->net, c->arch, &c->b, NULL);
    loss = ng_cross_entropy(c->ctx, logits, c->b.labels);
    CHECK_OK(ng_backward(c->ctx, loss));
    memcpy(grad, g->grad, (size_t)g->numel * sizeof(float));
    for (k = 0; k < g->n; k++) {
        ng_tensor *t = g->tensors[k];
        int j;
        for (j = 0; j < per_tensor && j < t->numel; j++) {
            int64_t e = (j * 7919) % t->numel;
            float keep = t->data[e];
            double up, dn, num, ana = grad[g->offsets[k] + e];
            t->data[e] = (float)(keep + h);
            up = case_loss(c);
            t->data[e] = (float)(keep - h);
            dn = case_loss(c);
            t->data[e] = keep;
            num = (up - dn) / (2 * h);
            checked++;
            if (fabs(num - ana) > 2e-3 + 5e-2 * fabs(num) && bad++ < 5)
                ng_test_fail(__FILE__, __LINE__, "%s[%lld]: analytic %.6g numeric %.6g", t->name, (long long)e, ana, num);
        }
    }
    CHECK(checked > 0);
    free(grad);
}
static void setup_case(net_case *c, ng_textnas_net *net, ng_textnas_hp *hp, int32_t *ids, int32_t *lens, int32_t *labels,
                       int N, int L) {
    ng_rng r;
    int i;
    ng_rng_seed(&r, 21);
    make_batch(&r, hp->vocab, N, L, ids, lens);
    for (i = 0; i < N; i++) labels[i] = i % hp->n_classes;
    c->net = net;
    c->b.ids = ids; c->b.lengths = lens; c->b.labels = labels; c->b.n = N; c->b.len = L;
    c->ctx = ng_ctx_create(64u << 20, 1);
    ng_ctx_set_training(c->ctx, 1); /* batch statistics; dropout 0 keeps the loss deterministic */
}

TEST(textnas_net_gradients) {
    enum { N = 4, L = 7 };
    ng_textnas_hp hp;
    ng_textnas_net net;
    ng_textnas_arch a;
    net_case c;
    int32_t ids[N * L], lens[N], labels[N];
    /* every op once, inputs from further back, skips (layer 6 skips to its own input too) */
    static const int ops[8] = {1, 6, 7, 4, 3, 5, 0, 2};
    int i;
    small_hp(&hp, 8);
    hp.p_embed = hp.p_cnn = hp.p_rnn = hp.p_att = 0.0f;
    memset(&a, 0, sizeof a);
    a.n_layers = 8;
    a.input[0] = -1;
    for (i = 0; i < 8; i++) a.op[i] = ops[i];
    for (i = 1; i < 8; i++) a.input[i] = i >= 3 ? i - 3 : 0;
    a.skip[2] = 1u; a.skip[4] = 3u; a.skip[6] = (1u << 3) | (1u << 5); a.skip[7] = 0x55u;
    CHECK_OK(ng_textnas_arch_check(&a, 5));
    CHECK_OK(ng_textnas_net_init(&net, &hp, &a, 8));
    memset(&c, 0, sizeof c);
    c.arch = &a;
    setup_case(&c, &net, &hp, ids, lens, labels, N, L);
    check_group_grads(&c, net.weights, 3, 1e-3);
    check_group_grads(&c, net.embed, 6, 1e-3);
    ng_ctx_free(c.ctx);
    ng_textnas_net_free(&net);
}

TEST(textnas_mixed_gradients) {
    enum { N = 3, L = 6 };
    ng_textnas_hp hp;
    ng_textnas_net net;
    ng_textnas_alpha al;
    net_case c;
    int32_t ids[N * L], lens[N], labels[N];
    ng_rng r;
    int64_t j;
    small_hp(&hp, 3);
    hp.p_embed = hp.p_cnn = hp.p_rnn = hp.p_att = 0.0f;
    hp.choose_from = 2;
    CHECK_OK(ng_textnas_net_init(&net, &hp, NULL, 8));
    CHECK_OK(ng_textnas_alpha_init(&al, 3, 2));
    ng_rng_seed(&r, 4);
    for (j = 0; j < al.params->numel; j++) al.params->data[j] = ng_rng_uniformf(&r, -1.0f, 1.0f);
    memset(&c, 0, sizeof c);
    c.alpha = &al;
    setup_case(&c, &net, &hp, ids, lens, labels, N, L);
    check_group_grads(&c, al.params, 8, 1e-3);
    check_group_grads(&c, net.weights, 2, 1e-3);
    ng_ctx_free(c.ctx);
    ng_textnas_alpha_free(&al);
    ng_textnas_net_free(&net);
}

/* With alpha peaked on one architecture (logits +-40), the relaxed supernet computes that
   architecture's path net: same logits up to the e^-80 leftovers of the other candidates. */
TEST(textnas_mixed_matches_path) {
    enum { N = 4, L = 9 };
    ng_textnas_hp hp;
    ng_textnas_net net;
    ng_textnas_alpha al;
    ng_textnas_arch a, d;
    ng_ctx *ctx = ng_ctx_create(64u << 20, 1);
    ng_rng r;
    int32_t ids[N * L], lens[N];
    ng_text_batch b;
    ng_tensor *x, *y;
    int i, j;
    small_hp(&hp, 6);
    hp.p_embed = hp.p_cnn = hp.p_rnn = hp.p_att = 0.0f;
    CHECK_OK(ng_textnas_net_init(&net, &hp, NULL, 8));
    CHECK_OK(ng_textnas_alpha_init(&al, 6, 5));
    ng_rng_seed(&r, 5);
    ng_textnas_arch_random(&a, 6, 5, 0.5, &r);
    for (i = 0; i < 6; i++) {
        al.op->data[i * 8 + a.op[i]] = 40.0f;
        if (i > 0) al.in[i]->data[a.input[i] - ng_textnas_input_first(i, 5)] = 40.0f;
        for (j = 0; j < i; j++) {
            float *pair = al.skip->data + (i * (i - 1) / 2 + j) * 2;
            pair[(a.skip[i] >> j) & 1u] = 40.0f;
            pair[1 - ((a.skip[i] >> j) & 1u)] = -40.0f;
        }
    }
    ng_textnas_alpha_derive(&al, &d);
    CHECK(ng_textnas_arch_eq(&a, &d));
    make_batch(&r, hp.vocab, N, L, ids, lens);
    b.ids = ids; b.lengths = lens; b.labels = NULL; b.n = N; b.len = L;
    ng_ctx_set_training(ctx, 1);
    x = ng_textnas_forward(ctx, &net, &a, &b, NULL);
    y = ng_textnas_forward_mixed(ctx, &net, &al, &b);
    CHECK(x && y);
    for (i = 0; x && y && i < N * 3; i++) CHECK_CLOSE(y->data[i], x->data[i], 1e-4, 1e-4);
    ng_textnas_alpha_free(&al);
    ng_textnas_net_free(&net);
    ng_ctx_free(ctx);
}

/* ---- training pieces (src/textnas_train.c) ---- */
static void tiny_dataset(ng_text_dataset *d, int64_t n, int L, int C, int64_t V, uint64_t seed) {
    ng_rng r;
    int64_t i, t;
    memset(d, 0, sizeof *d);
    d->n = n;
    d->max_len = L;
    d->num_classes = C;
    d->ids = (int32_t *)calloc((size_t)(n * L), sizeof(int32_t));
    d->lengths = (int32_t *)calloc((size_t)n, sizeof(int32_t));
    d->labels = (int32_t *)calloc((size_t)n, sizeof(int32_t));
    ng_rng_seed(&r, seed);
    for (i = 0; i < n; i++) {
        d->labels[i] = (int32_t)(i % C);
        d->lengths[i] = 1 + (int32_t)ng_rng_below(&r, (uint64_t)L);
        /* the label is readable from the tokens: class c uses ids 2 + c (mod V) more often */
        for (t = 0; t < d->lengths[i]; t++)
            d->ids[i * L + t] = ng_rng_uniform(&r) < 0.5 ? 2 + d->labels[i] : 2 + (int32_t)ng_rng_below(&r, (uint64_t)(V - 2));
    }
}

TEST(textnas_sampler_passes_and_resume) {
    ng_text_dataset d;
    ng_text_sampler a, b;
    ng_text_batch x, y;
    ng_ckpt *ck = ng_ckpt_new();
    int64_t seen[23] = {0};
    int k, i;
    tiny_dataset(&d, 23, 5, 3, 20, 1);
    for (i = 0; i < 23; i++) d.ids[i * 5] = 100 + i; /* tells the examples apart */
    CHECK_OK(ng_text_sampler_init(&a, &d, 9));
    /* two passes of 23 in batches of 5 (the short batch is topped up): every example twice */
    for (k = 0; k < 46 / 5 + 1; k++) {
        CHECK_OK(ng_text_sampler_next(&a, 5, &x));
        for (i = 0; i < 5 && k * 5 + i < 46; i++) {
            int64_t e = x.ids[i * 5] - 100;
            CHECK(e >= 0 && e < 23 && !memcmp(x.ids + i * 5, d.ids + e * 5, 5 * sizeof(int32_t)) &&
                  x.labels[i] == d.labels[e] && x.lengths[i] == d.lengths[e]);
            if (e >= 0 && e < 23) seen[e]++;
        }
    }
    for (i = 0; i < 23; i++) CHECK_MSG(seen[i] >= 2, "example %d seen %lld times", i, (long long)seen[i]);
    /* a restored copy continues with the same batches */
    CHECK_OK(ng_text_sampler_put(ck, "s", &a));
    CHECK_OK(ng_text_sampler_init(&b, &d, 12345));
    CHECK_OK(ng_text_sampler_get(ck, "s", &b));
    for (k = 0; k < 12; k++) {
        CHECK_OK(ng_text_sampler_next(&a, 4, &x));
        CHECK_OK(ng_text_sampler_next(&b, 4, &y));
        CHECK(!memcmp(x.ids, y.ids, 4 * 5 * sizeof(int32_t)) && !memcmp(x.labels, y.labels, 4 * sizeof(int32_t)));
    }
    ng_text_sampler_free(&a);
    ng_text_sampler_free(&b);
    ng_ckpt_free(ck);
    ng_text_dataset_free(&d);
}

/* A fixed net learns the tiny task; a resumed copy of the child continues bit for bit; the
   confusion matrix adds up. */
TEST(textnas_child_learns_and_resumes) {
    ng_text_dataset d;
    ng_textnas_hp hp;
    ng_textnas_net n1, n2;
    ng_textnas_child c1, c2;
    ng_textnas_arch a;
    ng_text_sampler s1, s2;
    ng_ctx *ctx = ng_ctx_create(64u << 20, 1);
    ng_ckpt *ck = ng_ckpt_new();
    double acc0 = 0, acc1 = 0;
    int64_t conf[9], sum = 0;
    int k, i;
    tiny_dataset(&d, 96, 8, 3, 23, 2);
    small_hp(&hp, 3);
    a.n_layers = 3; a.input[0] = -1; a.input[1] = 0; a.input[2] = 1;
    a.op[0] = NG_TEXTNAS_CONV3; a.op[1] = NG_TEXTNAS_RNN; a.op[2] = NG_TEXTNAS_ATTENTION;
    a.skip[0] = 0; a.skip[1] = 0; a.skip[2] = 1u;
    CHECK_OK(ng_textnas_net_init(&n1, &hp, &a, 3));
    CHECK_OK(ng_textnas_child_init(&c1, &n1, 1e-2f, 1e-3f, 1e-6f, 5.0f));
    CHECK_OK(ng_text_sampler_init(&s1, &d, 4));
    CHECK_OK(ng_textnas_evaluate(ctx, &n1, NULL, NULL, &d, 16, 0, &acc0, NULL, NULL));
    for (k = 0; k < 60; k++) {
        ng_text_batch b;
        CHECK_OK(ng_text_sampler_next(&s1, 16, &b));
        CHECK_OK(ng_textnas_child_step(&c1, ctx, NULL, NULL, &b));
        if (k == 29) { /* snapshot halfway */
            CHECK_OK(ng_textnas_child_put(ck, "child", &c1));
            CHECK_OK(ng_text_sampler_put(ck, "data", &s1));
            CHECK_OK(ng_ckpt_put_rng(ck, "ctx", &ctx->rng));
        }
    }
    CHECK_OK(ng_textnas_evaluate(ctx, &n1, NULL, NULL, &d, 16, 0, &acc1, NULL, conf));
    CHECK_MSG(acc1 > 0.8 && acc1 > acc0 + 0.3, "accuracy %.3f -> %.3f", acc0, acc1);
    for (i = 0; i < 9; i++) sum += conf[i];
    CHECK(sum == 96 && (double)(conf[0] + conf[4] + conf[8]) == acc1 * 96);
    /* resume from the snapshot in fresh objects: 30 more steps give the same weights, bit for bit */
    CHECK_OK(ng_textnas_net_init(&n2, &hp, &a, 77));
    CHECK_OK(ng_textnas_child_init(&c2, &n2, 1e-2f, 1e-3f, 1e-6f, 5.0f));
    CHECK_OK(ng_text_sampler_init(&s2, &d, 99));
    CHECK_OK(ng_textnas_child_get(ck, "child", &c2));
    CHECK_OK(ng_text_sampler_get(ck, "data", &s2));
    CHECK_OK(ng_ckpt_get_rng(ck, "ctx", &ctx->rng));
    for (k = 30; k < 60; k++) {
        ng_text_batch b;
        CHECK_OK(ng_text_sampler_next(&s2, 16, &b));
        CHECK_OK(ng_textnas_child_step(&c2, ctx, NULL, NULL, &b));
    }
    CHECK(c2.steps == 60);
    CHECK(!memcmp(n1.weights->data, n2.weights->data, (size_t)n1.weights->numel * sizeof(float)));
    CHECK(!memcmp(n1.embed->data, n2.embed->data, (size_t)n1.embed->numel * sizeof(float)));
    CHECK(!memcmp(n1.buffers->data, n2.buffers->data, (size_t)n1.buffers->numel * sizeof(float)));
    ng_text_sampler_free(&s1); ng_text_sampler_free(&s2);
    ng_textnas_child_free(&c1); ng_textnas_child_free(&c2);
    ng_textnas_net_free(&n1); ng_textnas_net_free(&n2);
    ng_ckpt_free(ck);
    ng_ctx_free(ctx);
    ng_text_dataset_free(&d);
}

/* An architecture step moves alpha only; a weight step of the relaxed net moves weights only. */
TEST(textnas_alpha_step_isolation) {
    ng_text_dataset d;
    ng_textnas_hp hp;
    ng_textnas_net net;
    ng_textnas_alpha al;
    ng_textnas_child c;
    ng_adam opt;
    ng_text_sampler s;
    ng_text_batch b;
    ng_ctx *ctx = ng_ctx_create(64u << 20, 1);
    float *w0, *a0;
    double loss = 0;
    tiny_dataset(&d, 32, 6, 3, 23, 3);
    small_hp(&hp, 3);
    CHECK_OK(ng_textnas_net_init(&net, &hp, NULL, 3));
    CHECK_OK(ng_textnas_alpha_init(&al, 3, 5));
    CHECK_OK(ng_adam_init(&opt, al.params, 3e-4f, 0.5f, 0.999f, 1e-8f, 1e-3f));
    CHECK_OK(ng_textnas_child_init(&c, &net, 1e-2f, 1e-3f, 0.0f, 5.0f));
    CHECK_OK(ng_text_sampler_init(&s, &d, 4));
    w0 = (float *)malloc((size_t)net.weights->numel * sizeof(float));
    a0 = (float *)malloc((size_t)al.params->numel * sizeof(float));
    memcpy(w0, net.weights->data, (size_t)net.weights->numel * sizeof(float));
    memcpy(a0, al.params->data, (size_t)al.params->numel * sizeof(float));
    CHECK_OK(ng_text_sampler_next(&s, 16, &b));
    CHECK_OK(ng_textnas_alpha_step(ctx, &net, &al, &opt, &b, &loss));
    CHECK(isfinite(loss) && loss > 0);
    CHECK(!memcmp(w0, net.weights->data, (size_t)net.weights->numel * sizeof(float)));
    CHECK(memcmp(a0, al.params->data, (size_t)al.params->numel * sizeof(float)) != 0);
    memcpy(a0, al.params->data, (size_t)al.params->numel * sizeof(float));
    CHECK_OK(ng_textnas_child_step(&c, ctx, NULL, &al, &b));
    CHECK(!memcmp(a0, al.params->data, (size_t)al.params->numel * sizeof(float)));
    CHECK(memcmp(w0, net.weights->data, (size_t)net.weights->numel * sizeof(float)) != 0);
    free(w0); free(a0);
    ng_text_sampler_free(&s);
    ng_textnas_child_free(&c);
    ng_adam_free(&opt);
    ng_textnas_alpha_free(&al);
    ng_textnas_net_free(&net);
    ng_ctx_free(ctx);
    ng_text_dataset_free(&d);
}

/* The collapse indicators of text_search's log: the op mixtures' normalised entropy (1 at the
   uniform start, ~0 once one op dominates every layer) and the count of pooling layers. */
TEST(textnas_alpha_op_entropy_and_param_free_count) {
    ng_textnas_alpha al;
    ng_textnas_arch a;
    int i, pools = 0;
    CHECK_OK(ng_textnas_alpha_init(&al, 4, 5));
    CHECK_CLOSE(ng_textnas_alpha_op_entropy(&al), 1.0, 1e-12, 0);
    for (i = 0; i < 4; i++) al.op->data[i * NG_TEXTNAS_N_OPS + (i % NG_TEXTNAS_N_OPS)] = 40.0f;   /* one op per layer */
    CHECK(ng_textnas_alpha_op_entropy(&al) < 1e-12);
    for (i = 0; i < NG_TEXTNAS_N_OPS; i++) al.op->data[i] = 0.0f;   /* layer 0 uniform again: mean 1/4 */
    CHECK_CLOSE(ng_textnas_alpha_op_entropy(&al), 0.25, 1e-12, 0);
    ng_textnas_alpha_free(&al);
    ng_textnas_arch_published(&a);
    for (i = 0; i < 24; i++) pools += published_ops[i] == 4 || published_ops[i] == 5;   /* the spec's avg/max pool indices */
    CHECK(pools == 6 && ng_textnas_arch_n_param_free(&a) == pools);
    for (i = 0; i < a.n_layers; i++) a.op[i] = NG_TEXTNAS_MAX_POOL;
    CHECK(ng_textnas_arch_n_param_free(&a) == a.n_layers);
}

/* --pf-dropout (P-DARTS's op-level dropout): in training mode the pools' outputs inside the
   mixtures are dropped, nothing else is; in evaluation mode nothing changes. */
TEST(textnas_mixed_pf_dropout) {
    enum { N = 3, L = 6 };
    const uint32_t pools = (1u << NG_TEXTNAS_AVG_POOL) | (1u << NG_TEXTNAS_MAX_POOL);
    ng_textnas_hp hp;
    ng_textnas_net net;
    ng_textnas_alpha al;
    ng_ctx *ctx = ng_ctx_create(64u << 20, 1);
    ng_rng r;
    int32_t ids[N * L], lens[N], labels[N] = {0, 1, 2};
    ng_text_batch b;
    float base[N * 3], with[N * 3];
    int run, i, differ;
    small_hp(&hp, 4);
    hp.p_embed = hp.p_cnn = hp.p_rnn = hp.p_att = 0.0f;
    CHECK_OK(ng_textnas_net_init(&net, &hp, NULL, 8));
    CHECK_OK(ng_textnas_alpha_init(&al, 4, 5));
    ng_rng_seed(&r, 6);
    make_batch(&r, hp.vocab, N, L, ids, lens);
    b.ids = ids; b.lengths = lens; b.labels = labels; b.n = N; b.len = L;
    for (run = 0; run < 3; run++) {   /* 0: no pools, training; 1: pools only, training; 2: pools only, evaluation */
        ng_tensor *y;
        al.op_mask = run == 0 ? 0xFFu & ~pools : pools;
        ng_ctx_set_training(ctx, run < 2);
        for (i = 0; i < 2; i++) {
            ng_ctx_reset(ctx);
            ng_rng_seed(&ctx->rng, 77);
            al.pf_dropout = i ? 0.5f : 0.0f;
            y = ng_textnas_forward_mixed(ctx, &net, &al, &b);
            CHECK(y != NULL);
            if (y) memcpy(i ? with : base, y->data, sizeof base);
        }
        differ = memcmp(base, with, sizeof base) != 0;
        CHECK(differ == (run == 1));
    }
    ng_textnas_alpha_free(&al);
    ng_textnas_net_free(&net);
    ng_ctx_free(ctx);
}

/* An op mask leaves ops out of the relaxed supernet: the same logits as the full mixture with
   those ops' alpha at -1e30, no gradient into their alpha, and derive never picks them (here
   even though their alpha is the largest). */
TEST(textnas_mixed_op_mask) {
    enum { N = 3, L = 6 };
    const uint32_t no_pools = 0xFFu & ~((1u << NG_TEXTNAS_AVG_POOL) | (1u << NG_TEXTNAS_MAX_POOL));
    ng_textnas_hp hp;
    ng_textnas_net net;
    ng_textnas_alpha al, full;
    ng_textnas_arch d;
    ng_ctx *ctx = ng_ctx_create(64u << 20, 1);
    ng_rng r;
    int32_t ids[N * L], lens[N], labels[N] = {0, 1, 2};
    ng_text_batch b;
    ng_tensor *x, *y, *loss;
    int64_t j;
    int i;
    small_hp(&hp, 4);
    hp.p_embed = hp.p_cnn = hp.p_rnn = hp.p_att = 0.0f;
    CHECK_OK(ng_textnas_net_init(&net, &hp, NULL, 8));
    CHECK_OK(ng_textnas_alpha_init(&al, 4, 5));
    CHECK_OK(ng_textnas_alpha_init(&full, 4, 5));
    ng_rng_seed(&r, 6);
    for (j = 0; j < al.params->numel; j++) al.params->data[j] = full.params->data[j] = ng_rng_uniformf(&r, -1.0f, 1.0f);
    al.op_mask = no_pools;
    for (i = 0; i < 4; i++) {   /* the pools look best, but are left out */
        al.op->data[i * 8 + NG_TEXTNAS_MAX_POOL] = 5.0f;
        full.op->data[i * 8 + NG_TEXTNAS_AVG_POOL] = full.op->data[i * 8 + NG_TEXTNAS_MAX_POOL] = -1e30f;
    }
    make_batch(&r, hp.vocab, N, L, ids, lens);
    b.ids = ids; b.lengths = lens; b.labels = labels; b.n = N; b.len = L;
    ng_ctx_set_training(ctx, 1);
    x = ng_textnas_forward_mixed(ctx, &net, &full, &b);
    y = ng_textnas_forward_mixed(ctx, &net, &al, &b);
    CHECK(x && y);
    for (i = 0; x && y && i < N * 3; i++) CHECK_CLOSE(y->data[i], x->data[i], 1e-6, 1e-5);
    ng_ctx_reset(ctx);
    ng_ctx_grad_for(ctx, &al.params, 1);
    ng_params_zero_grad(al.params);
    loss = ng_cross_entropy(ctx, ng_textnas_forward_mixed(ctx, &net, &al, &b), labels);
    CHECK_OK(ng_backward(ctx, loss));
    for (i = 0; i < 4; i++) {
        const float *g = al.params->grad + al.params->offsets[0] + i * 8;   /* "op" is the group's first tensor */
        CHECK(g[NG_TEXTNAS_AVG_POOL] == 0.0f && g[NG_TEXTNAS_MAX_POOL] == 0.0f && g[NG_TEXTNAS_CONV3] != 0.0f);
    }
    ng_textnas_alpha_derive(&al, &d);
    CHECK(ng_textnas_arch_n_param_free(&d) == 0);
    al.op_mask = 1u << NG_TEXTNAS_RNN;   /* a single op: every layer an RNN, entropy 0 */
    ng_textnas_alpha_derive(&al, &d);
    for (i = 0; i < 4; i++) CHECK(d.op[i] == NG_TEXTNAS_RNN);
    CHECK(ng_textnas_alpha_op_entropy(&al) == 0.0);
    ng_textnas_alpha_free(&al);
    ng_textnas_alpha_free(&full);
    ng_textnas_net_free(&net);
    ng_ctx_free(ctx);
}
