/* ======================================================================================== */
/* @@MODELS                                                                                 */
/* ======================================================================================== */
ng_fmnist_cnn *ng_fmnist_cnn_create(ng_rng *r) {
    ng_fmnist_cnn *net = (ng_fmnist_cnn *)calloc(1, sizeof *net);
    ng_params *w, *b;
    if (!net) { ng_fail(NG_ERR_NOMEM, "fmnist_cnn: out of memory"); return NULL; }
    net->weights = w = ng_params_create("fmnist_cnn", 1);
    net->buffers = b = ng_params_create("fmnist_cnn.buffers", 0);
    if (!w || !b) goto fail;
    net->dropout = 0.3f;
    net->conv1_w = ng_params_add(w, "conv1.weight", ng_shape4(32, 1, 3, 3));
    net->conv1_b = ng_params_add(w, "conv1.bias", ng_shape1(32));
    net->bn1_g = ng_params_add(w, "bn1.weight", ng_shape1(32));
    net->bn1_b = ng_params_add(w, "bn1.bias", ng_shape1(32));
    net->conv2_w = ng_params_add(w, "conv2.weight", ng_shape4(64, 32, 3, 3));
    net->conv2_b = ng_params_add(w, "conv2.bias", ng_shape1(64));
    net->bn2_g = ng_params_add(w, "bn2.weight", ng_shape1(64));
    net->bn2_b = ng_params_add(w, "bn2.bias", ng_shape1(64));
    net->fc1_w = ng_params_add(w, "fc1.weight", ng_shape2(NG_FMNIST_FEATURES, 64 * 7 * 7));
    net->fc1_b = ng_params_add(w, "fc1.bias", ng_shape1(NG_FMNIST_FEATURES));
    net->fc2_w = ng_params_add(w, "fc2.weight", ng_shape2(NG_FMNIST_CLASSES, NG_FMNIST_FEATURES));
    net->fc2_b = ng_params_add(w, "fc2.bias", ng_shape1(NG_FMNIST_CLASSES));
    net->bn1_mean = ng_params_add(b, "bn1.running_mean", ng_shape1(32));
    net->bn1_var = ng_params_add(b, "bn1.running_var", ng_shape1(32));
    net->bn2_mean = ng_params_add(b, "bn2.running_mean", ng_shape1(64));
    net->bn2_var = ng_params_add(b, "bn2.running_var", ng_shape1(64));
    if (!net->fc2_b || !net->bn2_var || ng_params_alloc(w) != NG_OK || ng_params_alloc(b) != NG_OK) goto fail;
    ng_init_kaiming_uniform_default(net->conv1_w, r);
    ng_init_bias_default(net->conv1_b, net->conv1_w, r);
    ng_init_kaiming_uniform_default(net->conv2_w, r);
    ng_init_bias_default(net->conv2_b, net->conv2_w, r);
    ng_init_kaiming_uniform_default(net->fc1_w, r);
    ng_init_bias_default(net->fc1_b, net->fc1_w, r);
    ng_init_kaiming_uniform_default(net->fc2_w, r);
    ng_init_bias_default(net->fc2_b, net->fc2_w, r);
    ng_init_constant(net->bn1_g, 1.0f);
    ng_init_constant(net->bn2_g, 1.0f);
    ng_init_constant(net->bn1_var, 1.0f);
    ng_init_constant(net->bn2_var, 1.0f);
    return net;
fail:
    ng_fmnist_cnn_free(net);
    return NULL;
}

void ng_fmnist_cnn_free(ng_fmnist_cnn *net) {
    if (!net) return;
    ng_params_free(net->weights);
    ng_params_free(net->buffers);
    free(net);
}

ng_tensor *ng_fmnist_cnn_forward(ng_ctx *ctx, ng_fmnist_cnn *net, ng_tensor *x, ng_tensor **features) {
    ng_tensor *h;
    int64_t n = x ? x->shape.d[0] : 0;
    h = ng_conv2d(ctx, x, net->conv1_w, net->conv1_b, 1, 1, 1);
    h = ng_batch_norm(ctx, h, net->bn1_g, net->bn1_b, net->bn1_mean, net->bn1_var, 0.1f, 1e-5f);
    h = ng_avg_pool2d(ctx, ng_relu(ctx, h));
    h = ng_conv2d(ctx, h, net->conv2_w, net->conv2_b, 1, 1, 1);
    h = ng_batch_norm(ctx, h, net->bn2_g, net->bn2_b, net->bn2_mean, net->bn2_var, 0.1f, 1e-5f);
    h = ng_avg_pool2d(ctx, ng_relu(ctx, h));
    h = ng_relu(ctx, ng_linear(ctx, ng_reshape(ctx, h, ng_shape2(n, 64 * 7 * 7)), net->fc1_w, net->fc1_b));
    if (features) *features = h;
    return ng_linear(ctx, ng_dropout(ctx, h, net->dropout), net->fc2_w, net->fc2_b);
}

ng_status ng_fmnist_cnn_save(const ng_fmnist_cnn *net, const char *path) {
    ng_ckpt *ck = ng_ckpt_new();
    ng_status s;
    if (!ck) return NG_ERR_NOMEM;
    s = ng_ckpt_put_params(ck, net->weights);
    if (s == NG_OK) s = ng_ckpt_put_params(ck, net->buffers);
    if (s == NG_OK) s = ng_ckpt_save(ck, path);
    ng_ckpt_free(ck);
    return s;
}

ng_status ng_fmnist_cnn_load(ng_fmnist_cnn *net, const char *path) {
    ng_ckpt *ck = NULL;
    ng_status s = ng_ckpt_load(path, &ck);
    if (s == NG_OK) s = ng_ckpt_get_params(ck, net->weights);
    if (s == NG_OK) s = ng_ckpt_get_params(ck, net->buffers);
    ng_ckpt_free(ck);
    return s;
}

ng_tensor *ng_images_u8_to_tensor(ng_ctx *ctx, const unsigned char *px, int64_t n, int64_t h, int64_t w) {
    ng_tensor *t = ng_tensor_new(ctx, ng_shape4(n, 1, h, w));
    float *host = ng_tensor_host_write(ctx, t);
    int64_t i;
    if (!host) return NULL;
    for (i = 0; i < t->numel; i++) host[i] = (float)px[i] * (2.0f / 255.0f) - 1.0f;
    return ng_tensor_host_done(t, host) == NG_OK ? t : NULL;
}
