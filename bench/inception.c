/* FID Inception-v3 forward benchmark (src/inception.c): images per second.
   Usage: bench_inception CASE | --list. Prints one line:
     BENCH key=CASE ms=<best of runs, per batch> peak_mb=<peak RSS, MiB> gflops=<x> img_s=<images/s>
   Cases:
     fwd_b16_32px     16 CIFAR-sized RGB images (32x32, resized to 299x299 inside), one batch
     fwd_b1_32px      one image
   Weights: ng_inception_random (He-uniform convolutions, batch norms near identity); the
   speed does not depend on the values. A weight file can be given with INCEPTION_WEIGHTS=path.
   Timing: best of up to 5 runs after one warm-up. Threads: OMP_NUM_THREADS. */
#define NASGAN_IMPLEMENTATION
#include "nasgan.h"
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/resource.h>

#define GFLOP_PER_IMAGE 11.43  /* 2 x 5.713 G multiply-adds (convolutions and fc) per 299x299 image */

int main(int argc, char **argv) {
    const char *cases[] = {"fwd_b16_32px", "fwd_b1_32px"};
    const char *wpath = getenv("INCEPTION_WEIGHTS");
    ng_inception *net = NULL;
    float *x, *f;
    double best = 1e30;
    int i, b, run;
    struct rusage ru;
    if (argc < 2) { fprintf(stderr, "usage: %s CASE | --list\n", argv[0]); return 2; }
    if (!strcmp(argv[1], "--list")) { for (i = 0; i < 2; i++) printf("%s\n", cases[i]); return 0; }
    if (!strcmp(argv[1], cases[0])) b = 16;
    else if (!strcmp(argv[1], cases[1])) b = 1;
    else { fprintf(stderr, "unknown case %s\n", argv[1]); return 2; }
    if (wpath) { if (ng_inception_load(wpath, &net) != NG_OK) { fprintf(stderr, "%s\n", ng_last_error()); return 1; } }
    else ng_inception_random(1, &net);
    if (!net) { fprintf(stderr, "no network: %s\n", ng_last_error()); return 1; }
    x = (float *)malloc((size_t)b * 3 * 32 * 32 * sizeof(float));
    f = (float *)malloc((size_t)b * NG_INCEPTION_FEATURES * sizeof(float));
    for (i = 0; i < b * 3 * 32 * 32; i++) x[i] = (float)((i * 7919) % 255) / 127.5f - 1.0f;
    for (run = 0; run < 6; run++) {
        double t0 = ng_time_sec(), dt;
        if (ng_inception_forward(net, x, b, 3, 32, 32, b, f, NULL) != NG_OK) { fprintf(stderr, "%s\n", ng_last_error()); return 1; }
        dt = ng_time_sec() - t0;
        if (run > 0 && dt < best) best = dt;
    }
    getrusage(RUSAGE_SELF, &ru);
    printf("BENCH key=%s ms=%.1f peak_mb=%.0f gflops=%.1f img_s=%.2f\n", argv[1], best * 1e3, ru.ru_maxrss / 1024.0,
           GFLOP_PER_IMAGE * b / best, b / best);
    free(x); free(f);
    ng_inception_free(net);
    return 0;
}
