/* Loader for the PyTorch reference fixtures (tests/fixtures/NAME.ngfx, written by
   tests/ref/make_fixtures.py; the format is described there and in tests/ref/README.md).

   Fixtures are found by name (e.g. "conv2d" -> conv2d.ngfx) in, in this order: the directory
   in the environment variable NG_FIXTURES, ../tests/fixtures (the runner runs from build/),
   tests/fixtures (from the repository root). Failures return NULL with ng_last_error() naming
   the file, the byte offset and what was expected. */
#ifndef NG_FIXTURE_H
#define NG_FIXTURE_H
#include "nasgan.h"

#define FX_VERSION 1
enum { FX_F32 = 1, FX_I32 = 2 };

typedef struct fx_array {
    char name[128];
    int dtype;             /* FX_F32 or FX_I32 */
    int ndim;              /* 0..4; 0 is a scalar with one element */
    int64_t dims[4];
    int64_t n;             /* number of elements */
    float *f;              /* (n) when dtype == FX_F32, else NULL */
    int32_t *i;            /* (n) when dtype == FX_I32, else NULL */
} fx_array;

typedef struct fx_file {
    char path[512];
    int n;
    fx_array *a;           /* (n), in file order */
} fx_file;

/* Parse one file by path. */
fx_file *fx_load_path(const char *path);
/* Locate `name`.ngfx in the fixture directories (see above) and parse it. */
fx_file *fx_open(const char *name);
void fx_free(fx_file *f);
/* The array called `name`, or NULL. */
const fx_array *fx_find(const fx_file *f, const char *name);
/* CRC-32 (zlib/PNG polynomial), as stored at the end of a fixture. */
uint32_t fx_crc32(const void *data, size_t n);
/* The shape of an array as an ng_shape (ndim 0 stays 0-d). */
ng_shape fx_shape(const fx_array *a);
#endif
