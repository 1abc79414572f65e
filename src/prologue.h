/* nasgan.h - neural architecture search for GANs and text, in one C header.
   GENERATED from src/ by `make nasgan.h` (scripts/amalgamate.sh). Do not edit by hand.

   QUICK START
     In exactly ONE C or C++ file:
         #define NASGAN_IMPLEMENTATION
         #include "nasgan.h"
     and include "nasgan.h" without the define anywhere else. Link with -lm -lz, plus
     -fopenmp for threads and -lopenblas when built with NG_USE_OPENBLAS.

         ng_ctx *ctx = ng_ctx_create(256u << 20, 42);         // step arena + RNG seed
         ng_params *w = ng_params_create("net", 1);           // trainable parameter group
         ng_tensor *W = ng_params_add(w, "fc.weight", ng_shape2(10, 784));
         ng_tensor *b = ng_params_add(w, "fc.bias", ng_shape1(10));
         ng_params_alloc(w);                                  // then ng_init_* the values
         ng_adam opt; ng_adam_init(&opt, w, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f);
         ...                                                  // each step:
         ng_ctx_reset(ctx);
         ng_ctx_grad_for(ctx, &w, 1);                         // differentiate w.r.t. w only
         ng_tensor *loss = ng_cross_entropy(ctx, ng_linear(ctx, x, W, b), labels);
         ng_backward(ctx, loss);                              // grads accumulate into w->grad
         ng_adam_step(&opt); ng_params_zero_grad(w);

   BUILD OPTIONS (define before including)
     NASGAN_IMPLEMENTATION   emit the implementation in this translation unit
     NG_USE_OPENBLAS         route ng_sgemm through cblas_sgemm when the context asks for it
     NG_NO_ZLIB              build without zlib (gzip readers then return NG_ERR_UNSUPPORTED)
     NG_USE_UTF8PROC         the text tokenizer through utf8proc (Debian libutf8proc-dev, link
                             -lutf8proc); without it ng_tokenize returns NG_ERR_UNSUPPORTED
     NG_USE_STB              PNG sample grids through stb_image_write (Debian libstb-dev:
                             -I/usr/include/stb, link -lstb); without it they return
                             NG_ERR_UNSUPPORTED
     NG_GEMM_AVX512          use the AVX-512 SGEMM micro-kernel (default: AVX2+FMA; see @@GEMM)
     NG_ASSERT(x)            replace the programmer-error check (default prints and aborts)

   SHAPE LEGEND (comments on fields and arguments)
     N batch, C channels, H height, W width, K candidates/classes, L sequence length,
     D feature size, O output features, I input features, E edges

   CONTENTS (greppable banners, same order in declarations and implementation)
     @@BASE     status codes, errors, RNG, arena, build info
     @@TENSOR   tensors and parameter groups
     @@TAPE     context, tape, backward, op table
     @@GEMM     built-in blocked SGEMM and the OpenBLAS path
     @@OPS      dense, activation, loss, convolution, normalisation and sequence ops
     @@NAS      mixed (softmax-weighted) ops
     @@OPTIM    Adam, SGD, EMA, schedules, clipping, initialisers
     @@IO       CRC32, atomic files, checkpoints
     @@DATA     IDX (MNIST-family) reader
     @@MODELS   the Fashion-MNIST CNN (feature network for FID/KID/IS)
     @@LINALG   symmetric eigensolver (double), double matrix product
     @@TEXT     text pipeline (utf8proc), vocabulary, text readers, word vectors
     @@GAN_DATA CIFAR-10, STL-10 and Fashion-MNIST image sets, PIL-exact resize, PNG grids
     @@GAN      alphaGAN generator search space, fixed generator, discriminator, genotypes
     @@METRICS  feature statistics, FID, KID, IS, offline evaluation
     @@NPZ      numpy .npy / .npz arrays; pytorch-fid / TTUR statistics files
     @@BILEVEL  alphaGAN's alternating duality-gap search
     @@GANTRAIN retraining a derived generator, sampling, image batches for both
     @@TEXTNAS  the TextNAS search space
     @@CUDA     the GPU backend's C side (link nasgan_cuda.o from `make cuda` for the kernels)

   ERRORS
     Programmer misuse (shape mismatch) -> NG_ASSERT: prints file:line, calls the hook set by
     ng_set_abort_handler, aborts. Recoverable failures (I/O, formats, memory) -> ng_status < 0
     plus ng_last_error(). Ops return NULL after a failure (e.g. arena exhausted) and every op
     given a NULL input returns NULL, so a failed step surfaces as a NULL loss and
     ng_ctx_status(ctx) says why. Library code never calls exit().

   LICENSE: MIT, see the end of this file.
*/
#ifndef NASGAN_H
#define NASGAN_H

/* The implementation uses POSIX (clock_gettime, fsync, rename). Include nasgan.h first in the
   implementation file so this takes effect even under -std=c99. */
#if defined(NASGAN_IMPLEMENTATION) && !defined(_WIN32) && !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif
