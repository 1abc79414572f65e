/* libFuzzer target: bytes -> ng_wordvec_parse -> ng_wordvec_init_embedding with a tiny vocabulary. */
/* the implementation is compiled once, instrumented, into build/fuzz_impl.o (Makefile) */
#include "nasgan.h"
#include <stdlib.h>
#include <math.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ng_wordvec w;
    if (ng_wordvec_parse((const char *)data, size, "fuzz.vec", NULL, &w) == NG_OK) {
        ng_text_examples e;
        const ng_text_examples *sets[1];
        ng_vocab v;
        ng_rng r;
        int64_t i, found;
        if (w.dim < 1 || w.dim > NG_WORDVEC_MAX_DIM) __builtin_trap();
        for (i = 0; i < w.n * w.dim; i++) if (!isfinite(w.vecs[i])) __builtin_trap();
        memset(&e, 0, sizeof e);
        for (i = 0; i < w.n && i < 4; i++) ng_text_examples_add(&e, 0, w.words[i], strlen(w.words[i]));
        sets[0] = &e;
        if (ng_vocab_build(sets, 1, NULL, NULL, &v) == NG_OK) {
            float *table = (float *)malloc((size_t)v.size * (size_t)w.dim * sizeof(float));
            if (table) {
                ng_rng_seed(&r, 1);
                ng_wordvec_init_embedding(&w, &v, &r, table, &found);
                if (found > v.size) __builtin_trap();
                free(table);
            }
            ng_vocab_free(&v);
        }
        ng_text_examples_free(&e);
    } else if (w.vecs != NULL || ng_last_error()[0] == 0) {
        __builtin_trap();
    }
    ng_wordvec_free(&w);
    return 0;
}
