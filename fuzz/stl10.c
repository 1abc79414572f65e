/* libFuzzer target: the input as an STL-10 X file (ng_stl10_parse: accepted images must be
   the exact transpose of the bytes) and as a y file for a set of that many images
   (ng_stl10_parse_labels); every input must be accepted or refused cleanly, with a message
   naming the file. Inputs under 256 bytes are also resized as one plane (PIL bilinear) with
   sizes 1..16 -> 1..40 taken from their first bytes. */
/* the implementation is compiled once, instrumented, into build/fuzz_impl.o (Makefile) */
#include "nasgan.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ng_image_set s, l;
    if (ng_stl10_parse(data, size, "fuzz_X.bin", &s) == NG_OK) {
        int64_t i;
        int c, y, x;
        if (size == 0 || size % 27648 != 0 || s.n != (int64_t)(size / 27648) || s.c != 3 || s.h != 96 || s.w != 96 || s.labels)
            __builtin_trap();
        for (i = 0; i < s.n; i++)
            for (c = 0; c < 3; c++)
                for (y = 0; y < 96; y++)
                    for (x = 0; x < 96; x++)
                        if (s.pixels[((i * 3 + c) * 96 + y) * 96 + x] != data[i * 27648 + c * 9216 + x * 96 + y]) __builtin_trap();
    } else if (s.pixels != NULL || s.n != 0 || ng_last_error()[0] == 0 || strstr(ng_last_error(), "fuzz_X.bin") == NULL) {
        __builtin_trap();
    }
    ng_image_set_free(&s);
    /* the same bytes as a labels file for a set of `size` images */
    memset(&l, 0, sizeof l);
    l.n = (int64_t)size;
    if (ng_stl10_parse_labels(data, size, "fuzz_y.bin", &l) == NG_OK) {
        size_t i;
        if (!l.labels) __builtin_trap();
        for (i = 0; i < size; i++)
            if (data[i] < 1 || data[i] > 10 || l.labels[i] != data[i] - 1) __builtin_trap();
    } else if (l.labels != NULL || strstr(ng_last_error(), "fuzz_y.bin") == NULL) {
        __builtin_trap();
    }
    free(l.labels);
    /* a plane resize with sizes from the first bytes */
    if (size >= 4 && size < 256) {
        int h = 1 + data[0] % 16, w = 1 + data[1] % 16, oh = 1 + data[2] % 40, ow = 1 + data[3] % 40;
        unsigned char src[256], *o = (unsigned char *)malloc((size_t)oh * ow);
        size_t k;
        if (!o) __builtin_trap();
        for (k = 0; k < sizeof src; k++) src[k] = data[k % size];
        if (ng_image_resize_bilinear_pil(src, 1, h, w, o, oh, ow) != NG_OK) __builtin_trap();
        free(o);
    }
    return 0;
}
