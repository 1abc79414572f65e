/* libFuzzer target: bytes -> ng_npy_parse (when they start like a .npy) or ng_npz_parse_member
   for the members "mu" and "sigma" (pytorch-fid statistics). Any crash, sanitizer report or
   leak is a bug; every input must be accepted or refused cleanly. */
/* the implementation is compiled once, instrumented, into build/fuzz_impl.o (Makefile) */
#include "nasgan.h"
#include <stdlib.h>
#include <string.h>

/* an accepted array must describe itself: count = product of the shape, every value readable */
static void check_array(const ng_npy *a) {
    int64_t count = 1, i;
    double sum = 0;
    int d;
    for (d = 0; d < a->ndim; d++) count *= a->shape[d];
    if (a->ndim < 0 || a->ndim > NG_NPY_MAX_DIMS || count != a->count || !a->data) __builtin_trap();
    for (i = 0; i < a->count; i++) sum += a->data[i];
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const keys[2] = {"mu", "sigma"};
    ng_npy a;
    int k;
    if (size >= 6 && memcmp(data, "\x93NUMPY", 6) == 0) {
        if (ng_npy_parse(data, size, "fuzz.npy", &a) == NG_OK) check_array(&a);
        else if (a.data != NULL || ng_last_error()[0] == 0) __builtin_trap();
        ng_npy_free(&a);
        return 0;
    }
    for (k = 0; k < 2; k++) {
        if (ng_npz_parse_member(data, size, "fuzz.npz", keys[k], &a) == NG_OK) check_array(&a);
        else if (a.data != NULL || ng_last_error()[0] == 0) __builtin_trap();
        ng_npy_free(&a);
    }
    return 0;
}
