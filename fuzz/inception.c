/* libFuzzer target: bytes -> ng_inception_parse (the FID Inception-v3 weight-file loader), twice:
   as given (magic, version and CRC checks of the checkpoint layer) and with the trailing CRC32
   recomputed, so mutations reach the format record and the tensor-table checks. A complete
   file is 95 MB, far beyond fuzzing sizes: every input must be refused, with nothing allocated
   and a message naming the input. */
/* the implementation is compiled once, instrumented, into build/fuzz_impl.o (Makefile) */
#include "nasgan.h"
#include <stdlib.h>
#include <string.h>

static void fz_one(const unsigned char *buf, size_t n) {
    ng_inception *net = NULL;
    ng_status st = ng_inception_parse(buf, n, "fuzz.ngck", &net);
    if (st == NG_OK) {
        char id[NG_FEAT_ID_MAX];
        if (!net) __builtin_trap();
        ng_inception_identity(net, id, sizeof id);
        ng_inception_free(net);
    } else if (net != NULL || strstr(ng_last_error(), "fuzz.ngck") == NULL) {
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
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
