
#ifdef __cplusplus
}
#endif
#endif /* NASGAN_H */

/* ======================================================================================== */
/*                                    IMPLEMENTATION                                        */
/* ======================================================================================== */
#if defined(NASGAN_IMPLEMENTATION) && !defined(NASGAN_IMPLEMENTATION_DONE)
#define NASGAN_IMPLEMENTATION_DONE

#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <math.h>
#include <errno.h>
#include <float.h>
#ifndef _WIN32
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <time.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif
#ifndef NG_NO_ZLIB
#include <zlib.h>
#endif
#ifdef NG_USE_OPENBLAS
#include <cblas.h>
#endif
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define NG__HAVE_AVX2 1
#endif

#ifdef __cplusplus
#define NG__CAST(T, x) static_cast<T>(x)
#else
#define NG__CAST(T, x) ((T)(x))
#endif

/* Scalar formulas shared by the CPU ops and the CUDA kernels are written once with NG__HD. */
#ifdef __CUDACC__
#define NG__HD __host__ __device__
#else
#define NG__HD
#endif

/* OpenMP through _Pragma so builds without -fopenmp see no unknown pragmas. */
#define NG__PRAGMA(x) _Pragma(#x)
#ifdef _OPENMP
#define NG__OMP_FOR(cond) NG__PRAGMA(omp parallel for if (cond))
#define NG__OMP(x) NG__PRAGMA(omp x)
#else
#define NG__OMP_FOR(cond)
#define NG__OMP(x)
#endif
