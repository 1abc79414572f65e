/* libFuzzer target: bytes -> ng_tokenize (strict, then with replacement and casefold). Strict
   mode must accept exactly the valid UTF-8 inputs' tokens or refuse with a message; with
   replace_invalid every input must be accepted, and no token may be empty. */
/* the implementation is compiled once, instrumented, into build/fuzz_impl.o (Makefile) */
#include "nasgan.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ng_text_opts o = ng_text_opts_default();
    ng_tokens t;
    int64_t i;
    if (ng_tokenize((const char *)data, size, &o, "fuzz", 1, &t) != NG_OK) {
        if (t.n != 0 || t.tok != NULL || ng_last_error()[0] == 0) __builtin_trap();
    } else {
        for (i = 0; i < t.n; i++) if (t.tok[i][0] == 0) __builtin_trap();
    }
    ng_tokens_free(&t);
    o.replace_invalid = 1;
    o.casefold = 1;
    if (ng_tokenize((const char *)data, size, &o, "fuzz", 1, &t) != NG_OK) {
#ifdef NG_USE_UTF8PROC
        __builtin_trap();
#endif
    } else {
        for (i = 0; i < t.n; i++) if (t.tok[i][0] == 0) __builtin_trap();
    }
    ng_tokens_free(&t);
    return 0;
}
