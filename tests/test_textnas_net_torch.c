/* A whole TextNAS child network against PyTorch: tests/fixtures/textnas_net.ngfx, written by
   tests/ref/make_textnas_net_fixture.py from its own nn.Module implementation of textnas.md
   1.3-1.5 (channel-first, nn.Conv1d / nn.BatchNorm1d / packed nn.GRU / the masked attention).
   Per case: an 8-layer architecture using all 8 ops, inputs from further back and skips, one
   training-mode step (dropout 0, BN batch statistics) of a fixed ng_textnas_net built from the
   stored cfg, with the stored weights and running statistics copied in by name. Compared:
   logits, mean cross-entropy, the gradient of every trainable tensor (embedding included) and
   every BN running statistic after the step; the two nets must hold exactly the same tensors.
   Cases: "nni" (bn_always = 1, BN after every layer) and "ms" (BN only on layers with skips).

   Tolerance |got - ref| <= NET_ATOL + NET_RTOL |ref| (ref = float64 PyTorch rounded to float32):
   1e-5 / 1e-4, for a chain of ~12 batch norms, each of whose input gradients is a cancelling
   difference of sums scaled by 1/std; the script checks that PyTorch's own float32 run stays
   below half of it (measured: 0.009 and 0.023 of it; this C code: 0.010). Set NG_SEQ_TOL_REPORT to print the worst error
   as a fraction of the tolerance. */
#include "test.h"
#include "fixture.h"

#define NET_ATOL 1e-5
#define NET_RTOL 1e-4

static const fx_array *tn_arr(const fx_file *f, const char *cs, const char *field) {
    char nm[200];
    const fx_array *a;
    snprintf(nm, sizeof nm, "%s/%s", cs, field);
    a = fx_find(f, nm);
    if (!a) ng_test_fail(__FILE__, __LINE__, "textnas_net: no array %s", nm);
    return a;
}
/* worst |err| / tolerance; fails the test for each differing array */
static double tn_cmp(const char *cs, const char *what, const float *got, int64_t n, const fx_array *ref) {
    int64_t j, bad = 0, first = 0;
    double worst = 0.0;
    if (!ref) return INFINITY;
    if (ref->dtype != FX_F32 || ref->n != n) {
        ng_test_fail(__FILE__, __LINE__, "textnas_net %s %s: %lld elements, PyTorch has %lld", cs, what, (long long)n, (long long)ref->n);
        return INFINITY;
    }
    for (j = 0; j < n; j++) {
        double g = got[j], r = ref->f[j], lim = NET_ATOL + NET_RTOL * fabs(r), ratio = fabs(g - r) / lim;
        if (!isfinite(g)) ratio = INFINITY;
        if (!(ratio <= 1.0)) { if (!bad) first = j; bad++; }
        if (!(ratio <= worst)) worst = ratio;
    }
    if (bad)
        ng_test_fail(__FILE__, __LINE__, "textnas_net %s %s: %lld of %lld differ from PyTorch; first at %lld: %.9g vs %.9g",
                     cs, what, (long long)bad, (long long)n, (long long)first, got[first], ref->f[first]);
    return worst;
}
/* Copy "<cs>/<pfx>/<name>" into every tensor of g (a missing or misshapen array fails). */
static void tn_load(const fx_file *f, const char *cs, const char *pfx, ng_params *g) {
    int k;
    char field[160];
    for (k = 0; k < g->n; k++) {
        ng_tensor *t = g->tensors[k];
        const fx_array *a;
        snprintf(field, sizeof field, "%s/%s", pfx, t->name);
        a = tn_arr(f, cs, field);
        if (!a) continue;
        if (a->dtype != FX_F32 || a->n != t->numel) {
            ng_test_fail(__FILE__, __LINE__, "textnas_net %s %s: shape differs", cs, field);
            continue;
        }
        memcpy(t->data, a->f, (size_t)t->numel * sizeof(float));
    }
}
static int tn_count(const fx_file *f, const char *cs, const char *pfx) {
    char p[64];
    int k, n = 0;
    snprintf(p, sizeof p, "%s/%s/", cs, pfx);
    for (k = 0; k < f->n; k++) n += strncmp(f->a[k].name, p, strlen(p)) == 0;
    return n;
}

TEST(textnas_torch_net) {
    static const char *const cases[2] = {"nni", "ms"};
    fx_file *f = fx_open("textnas_net");
    ng_ctx *ctx = ng_ctx_create(16u << 20, 1);
    int c, i, k;
    if (!f) { ng_test_fail(__FILE__, __LINE__, "%s", ng_last_error()); ng_ctx_free(ctx); return; }
    for (c = 0; c < 2; c++) {
        const char *cs = cases[c];
        const fx_array *cfg = tn_arr(f, cs, "cfg"), *in = tn_arr(f, cs, "input"), *op = tn_arr(f, cs, "op"),
                       *sk = tn_arr(f, cs, "skip"), *ids = tn_arr(f, cs, "ids"), *lens = tn_arr(f, cs, "lens"),
                       *lab = tn_arr(f, cs, "labels");
        ng_textnas_hp hp;
        ng_textnas_arch arch;
        ng_textnas_net net;
        ng_text_batch b;
        ng_params *groups[2];
        ng_tensor *logits, *loss;
        double worst = 0.0;
        if (!cfg || !in || !op || !sk || !ids || !lens || !lab || cfg->n != 7 || ids->ndim != 2) continue;
        /* cfg [n_layers, H, E, V, C, heads, bn_always]; dropout 0 so the step is deterministic */
        ng_textnas_hp_default(&hp, cfg->i[3], cfg->i[4]);
        hp.n_layers = cfg->i[0];
        hp.hidden = cfg->i[1];
        hp.embed_dim = cfg->i[2];
        hp.heads = cfg->i[5];
        hp.bn_always = cfg->i[6];
        hp.p_embed = hp.p_cnn = hp.p_rnn = hp.p_att = 0.0f;
        memset(&arch, 0, sizeof arch);
        arch.n_layers = hp.n_layers;
        for (i = 0; i < hp.n_layers; i++) {
            arch.input[i] = in->i[i];
            arch.op[i] = op->i[i];
            arch.skip[i] = (uint32_t)sk->i[i];
        }
        CHECK_OK(ng_textnas_net_init(&net, &hp, &arch, 1));
        if (!net.weights) continue;
        /* the same tensors on both sides: every C tensor is found by name (tn_load fails
           otherwise) and the fixture has no others */
        CHECK_MSG(tn_count(f, cs, "p") == net.weights->n + net.embed->n, "%s: PyTorch has %d trainable tensors, nasgan %d", cs,
                  tn_count(f, cs, "p"), net.weights->n + net.embed->n);
        CHECK_MSG(tn_count(f, cs, "b0") == net.buffers->n, "%s: PyTorch has %d statistics, nasgan %d", cs, tn_count(f, cs, "b0"),
                  net.buffers->n);
        tn_load(f, cs, "p", net.weights);
        tn_load(f, cs, "p", net.embed);
        tn_load(f, cs, "b0", net.buffers);

        b.ids = ids->i;
        b.lengths = lens->i;
        b.labels = lab->i;
        b.n = ids->dims[0];
        b.len = (int)ids->dims[1];
        groups[0] = net.weights;
        groups[1] = net.embed;
        ng_ctx_reset(ctx);
        ng_ctx_set_training(ctx, 1);
        ng_ctx_grad_for(ctx, groups, 2);
        ng_params_zero_grad(net.weights);
        ng_params_zero_grad(net.embed);
        logits = ng_textnas_forward(ctx, &net, NULL, &b, NULL);
        loss = logits ? ng_cross_entropy(ctx, logits, b.labels) : NULL;
        CHECK_MSG(loss != NULL, "%s: forward failed: %s", cs, ng_last_error());
        if (loss) {
            double w;
            CHECK_OK(ng_backward(ctx, loss));
            w = tn_cmp(cs, "logits", logits->data, logits->numel, tn_arr(f, cs, "logits"));
            if (w > worst) worst = w;
            w = tn_cmp(cs, "loss", loss->data, 1, tn_arr(f, cs, "loss"));
            if (w > worst) worst = w;
            for (k = 0; k < 2; k++) {
                int t;
                for (t = 0; t < groups[k]->n; t++) {
                    const ng_tensor *p = groups[k]->tensors[t];
                    char field[160];
                    snprintf(field, sizeof field, "g/%s", p->name);
                    w = tn_cmp(cs, field, p->grad, p->numel, tn_arr(f, cs, field));
                    if (w > worst) worst = w;
                }
            }
            for (k = 0; k < net.buffers->n; k++) {
                const ng_tensor *p = net.buffers->tensors[k];
                char field[160];
                snprintf(field, sizeof field, "b/%s", p->name);
                w = tn_cmp(cs, field, p->data, p->numel, tn_arr(f, cs, field));
                if (w > worst) worst = w;
            }
        }
        if (getenv("NG_SEQ_TOL_REPORT")) printf("  textnas_net %s: worst error / tolerance = %.3g\n", cs, worst);
        ng_textnas_net_free(&net);
    }
    fx_free(f);
    ng_ctx_free(ctx);
}
