/* libFuzzer target: bytes -> ng_agnews_parse (RFC 4180 quoting). */
/* the implementation is compiled once, instrumented, into build/fuzz_impl.o (Makefile) */
#include "nasgan.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ng_text_examples e;
    if (ng_agnews_parse((const char *)data, size, "fuzz.csv", &e) == NG_OK) {
        int64_t i;
        size_t total = 0;
        for (i = 0; i < e.n; i++) {
            if (e.labels[i] < 0 || e.labels[i] > 3) __builtin_trap();
            total += strlen(e.texts[i]);
        }
        if (total > size + (size_t)e.n) __builtin_trap();
    } else if (e.texts != NULL || ng_last_error()[0] == 0) {
        __builtin_trap();
    }
    ng_text_examples_free(&e);
    return 0;
}
