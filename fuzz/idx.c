/* libFuzzer target: bytes -> (gunzip if gzip magic, small cap) -> ng_idx_parse. Any crash,
   sanitizer report or leak is a bug; every input must be accepted or refused cleanly. */
/* the implementation is compiled once, instrumented, into build/fuzz_impl.o (Makefile) */
#include "nasgan.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const unsigned char *buf = data;
    unsigned char *z = NULL;
    size_t n = size, zn = 0;
    ng_idx idx;
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
        if (ng_gunzip(data, size, "fuzz.gz", 1 << 20, &z, &zn) != NG_OK) {
            if (z != NULL || ng_last_error()[0] == 0) __builtin_trap();
            return 0;
        }
        buf = z;
        n = zn;
    }
    if (ng_idx_parse(buf, n, "fuzz.idx", &idx) == NG_OK) {
        /* touch every byte: the reported shape must describe the buffer exactly */
        int64_t i;
        unsigned sum = 0;
        if (idx.count != (int64_t)(n - 4 - 4 * (size_t)idx.ndim)) __builtin_trap();
        for (i = 0; i < idx.count; i++) sum += idx.data[i];
        (void)sum;
    } else if (idx.data != NULL || ng_last_error()[0] == 0) {
        __builtin_trap();
    }
    ng_idx_free(&idx);
    free(z);
    return 0;
}
