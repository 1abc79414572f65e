/* Tiny test harness: TEST(name) functions are collected by the Makefile into
   build/tests_list.h; CHECK* record failures and keep going; an NG_ASSERT inside a test fails
   that test (the abort hook jumps back to the runner) instead of killing the suite. */
#ifndef NG_TEST_H
#define NG_TEST_H
#include "nasgan.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST(name) void test_##name(void)

extern int ng_test_failures;      /* failures in the running test */
extern uint64_t ng_test_seed;     /* seed of the running test (printed on failure) */
void ng_test_fail(const char *file, int line, const char *fmt, ...);
/* Expect the next NG_ASSERT: returns 1 if `fn(arg)` triggered one. */
int ng_test_expect_assert(void (*fn)(void *), void *arg);
/* Temporary directory unique to this run (created on first use). */
const char *ng_test_tmpdir(void);

#define CHECK(c) do { if (!(c)) ng_test_fail(__FILE__, __LINE__, "CHECK(%s)", #c); } while (0)
#define CHECK_MSG(c, ...) do { if (!(c)) ng_test_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)
/* |a - b| <= atol + rtol |b|, and both finite (NaN/Inf always fail) */
#define CHECK_CLOSE(a, b, atol, rtol) do { double a_ = (a), b_ = (b); \
    if (!isfinite(a_) || !isfinite(b_) || fabs(a_ - b_) > (atol) + (rtol) * fabs(b_)) \
        ng_test_fail(__FILE__, __LINE__, "CHECK_CLOSE(%s, %s): %.9g vs %.9g", #a, #b, a_, b_); } while (0)
#define CHECK_OK(expr) do { ng_status s_ = (expr); if (s_ != NG_OK) \
    ng_test_fail(__FILE__, __LINE__, "%s -> %s: %s", #expr, ng_status_str(s_), ng_last_error()); } while (0)

/* ---- gradient check ---- */
typedef struct gc_input {
    ng_shape shape;
    int needs_grad;      /* compare this input's gradient */
    float lo, hi;        /* uniform init range (both 0: [-1, 1]) */
    int positive;        /* keep away from 0 (e.g. variances) */
} gc_input;

/* Build the op's output from the inputs; `user` carries extra arguments. Must be a pure
   function of the inputs (stateful ops restore their state in the callback). */
typedef ng_tensor *(*gc_forward)(ng_ctx *ctx, ng_tensor **in, void *user);

typedef struct gc_opts {
    double h;            /* finite-difference step (default 1e-3) */
    double atol, rtol;   /* default 2e-3, 2e-2 */
    double floor;        /* each checked input's max |grad| must exceed this (default 1e-4) */
    int training;        /* ctx->training during the check (default 1 via gc_default) */
} gc_opts;
gc_opts gc_default(void);
/* Returns the number of mismatching elements (0 = pass) and reports via ng_test_fail. */
int gradcheck(const char *name, gc_forward f, void *user, const gc_input *inputs, int n_in,
              uint64_t seed, gc_opts o);

/* Fill with uniform [lo, hi) values from a seeded RNG. */
void fill_uniform(float *x, int64_t n, ng_rng *r, float lo, float hi);
#endif
