/* libFuzzer target: bytes -> ng_sst_parse in all four modes (fine/binary x sentences/phrases). */
/* the implementation is compiled once, instrumented, into build/fuzz_impl.o (Makefile) */
#include "nasgan.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int mode;
    for (mode = 0; mode < 4; mode++) {
        ng_sst_opts o;
        ng_text_examples e;
        o.binary = mode & 1;
        o.phrases = mode >> 1;
        if (ng_sst_parse((const char *)data, size, "fuzz.txt", &o, &e) == NG_OK) {
            int64_t i;
            for (i = 0; i < e.n; i++)
                if (e.labels[i] < 0 || e.labels[i] >= e.num_classes || e.texts[i][0] == 0) __builtin_trap();
        } else if (e.texts != NULL || ng_last_error()[0] == 0) {
            __builtin_trap();
        }
        ng_text_examples_free(&e);
    }
    return 0;
}
