/* An example program built against the fake CUDA device of tests/cuda_fake.h, so that its
   `--device cuda` path runs (and is checked against `--device cpu`) on machines without a GPU:

     cc ... -D_GNU_SOURCE -DNG_FAKE_CUDA_AUTO -DNG_FAKE_EXAMPLE='"examples/gan_search.c"' tests/cuda_fake_example.c

   (`make check-examples-cuda` builds every example this way into build/fake_cuda/). */
#ifndef NG_FAKE_EXAMPLE
#error "define NG_FAKE_EXAMPLE as the quoted path of the example's source file"
#endif
#include NG_FAKE_EXAMPLE
#include "tests/cuda_fake.h"
