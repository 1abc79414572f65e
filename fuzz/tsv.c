/* libFuzzer target: bytes -> ng_tsv_parse (string and integer labels) -> vocabulary -> dataset. */
/* the implementation is compiled once, instrumented, into build/fuzz_impl.o (Makefile) */
#include "nasgan.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int mode;
    for (mode = 0; mode < 2; mode++) {
        ng_text_examples e;
        if (ng_tsv_parse((const char *)data, size, "fuzz.tsv", mode, &e) == NG_OK) {
            const ng_text_examples *sets[1];
            ng_vocab v;
            ng_text_dataset d;
            int64_t i;
            sets[0] = &e;
            for (i = 0; i < e.n; i++) if (e.labels[i] < 0 || e.labels[i] >= e.num_classes) __builtin_trap();
            if (ng_vocab_build(sets, 1, NULL, NULL, &v) == NG_OK) {
                if (ng_text_dataset_make(&e, &v, NULL, 16, &d) == NG_OK) {
                    for (i = 0; i < d.n * 16; i++) if (d.ids[i] < 0 || d.ids[i] >= v.size) __builtin_trap();
                    ng_text_dataset_free(&d);
                }
                ng_vocab_free(&v);
            }
        } else if (e.texts != NULL || ng_last_error()[0] == 0) {
            __builtin_trap();
        }
        ng_text_examples_free(&e);
    }
    return 0;
}
