/* libFuzzer target: bytes -> ng_ckpt_parse, twice: as given (exercises magic, version and
   CRC checks) and with the trailing CRC32 recomputed (so mutations reach the record parser).
   On success every record is queried and restores are tried into a small fixed group and
   hand-built Adam/SGD/EMA/RNG states. */
/* the implementation is compiled once, instrumented, into build/fuzz_impl.o (Makefile) */
#include "nasgan.h"
#include <stdlib.h>
#include <string.h>

static ng_params *fz_group;
static ng_adam fz_adam;
static ng_sgd fz_sgd;
static ng_ema fz_ema;
static float fz_state[4][9];

static void fz_setup(void) {
    if (fz_group) return;
    /* the same layout as fuzz/tools/make_seeds.c writes: group "g" = w (2, 3) + b (3) */
    fz_group = ng_params_create("g", 1);
    ng_params_add(fz_group, "w", ng_shape2(2, 3));
    ng_params_add(fz_group, "b", ng_shape1(3));
    if (ng_params_alloc(fz_group) != NG_OK) __builtin_trap();
    fz_adam.group = fz_group; fz_adam.m = fz_state[0]; fz_adam.v = fz_state[1];
    fz_sgd.group = fz_group; fz_sgd.buf = fz_state[2];
    fz_ema.group = fz_group; fz_ema.shadow = fz_state[3];
}

static void fz_query(const ng_ckpt *ck) {
    int i, n = ng_ckpt_count(ck);
    int64_t v;
    ng_rng r;
    size_t len;
    for (i = 0; i < n; i++) {
        const char *key = ng_ckpt_key_at(ck, i);
        const unsigned char *p = (const unsigned char *)ng_ckpt_get(ck, key, &len);
        unsigned sum = 0;
        size_t k;
        if (!key || !p) __builtin_trap();
        for (k = 0; k < len; k++) sum += p[k];
        (void)sum;
        ng_ckpt_get_i64(ck, key, &v);
        ng_ckpt_get_rng(ck, key, &r);
        ng_ckpt_get_adam(ck, key, &fz_adam);
        ng_ckpt_get_sgd(ck, key, &fz_sgd);
        ng_ckpt_get_ema(ck, key, &fz_ema);
    }
    ng_ckpt_get_params(ck, fz_group);
    ng_ckpt_get_adam(ck, "adam", &fz_adam);
    ng_ckpt_get_rng(ck, "rng", &r);
    ng_ckpt_get_i64(ck, "step", &v);
}

static void fz_one(const unsigned char *buf, size_t n) {
    ng_ckpt *ck = NULL;
    ng_status st = ng_ckpt_parse(buf, n, "fuzz.ckpt", &ck);
    if (st == NG_OK) {
        unsigned char *out;
        size_t on;
        if (!ck) __builtin_trap();
        fz_query(ck);
        /* a parsed checkpoint serialises back to the same bytes */
        if (ng_ckpt_serialize(ck, &out, &on) != NG_OK || on != n || memcmp(out, buf, n) != 0) __builtin_trap();
        free(out);
        ng_ckpt_free(ck);
    } else if (ck != NULL || strstr(ng_last_error(), "fuzz.ckpt") == NULL) {
        __builtin_trap();   /* a refusal must leave nothing allocated and name the input */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_setup();
    fz_one(data, size);
    if (size >= 16) {
        unsigned char *c = (unsigned char *)malloc(size);
        uint32_t crc;
        memcpy(c, data, size);
        crc = ng_crc32(0, c, size - 4);
        c[size - 4] = (unsigned char)crc; c[size - 3] = (unsigned char)(crc >> 8);
        c[size - 2] = (unsigned char)(crc >> 16); c[size - 1] = (unsigned char)(crc >> 24);
        fz_one(c, size);
        free(c);
    }
    return 0;
}
