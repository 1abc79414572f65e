/* libFuzzer target: bytes -> ng_cifar10_parse (one CIFAR-10 batch file). Every input must be
   accepted or refused cleanly; an accepted one must describe the buffer exactly. The first
   byte also picks a resize of the first image (PIL bilinear, sizes 1..64) to exercise
   ng_image_resize_bilinear_pil on arbitrary sizes. */
/* the implementation is compiled once, instrumented, into build/fuzz_impl.o (Makefile) */
#include "nasgan.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ng_image_set s;
    if (ng_cifar10_parse(data, size, "fuzz.bin", &s) == NG_OK) {
        int64_t r;
        if (size == 0 || size % 3073 != 0 || s.n != (int64_t)(size / 3073) || s.c != 3 || s.h != 32 || s.w != 32 || !s.labels)
            __builtin_trap();
        for (r = 0; r < s.n; r++) {
            if (s.labels[r] != data[r * 3073] || s.labels[r] > 9) __builtin_trap();
            if (memcmp(s.pixels + r * 3072, data + r * 3073 + 1, 3072) != 0) __builtin_trap();
        }
        {
            int oh = 1 + data[1] % 64, ow = 1 + data[2] % 64;
            unsigned char *o = (unsigned char *)malloc((size_t)3 * oh * ow);
            if (!o) __builtin_trap();
            if (ng_image_resize_bilinear_pil(s.pixels, 3, 32, 32, o, oh, ow) != NG_OK) __builtin_trap();
            free(o);
        }
    } else if (s.pixels != NULL || s.labels != NULL || s.n != 0 || ng_last_error()[0] == 0 ||
               strstr(ng_last_error(), "fuzz.bin") == NULL) {
        __builtin_trap();
    }
    ng_image_set_free(&s);
    return 0;
}
