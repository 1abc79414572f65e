/* The runner: runs every TEST, prints PASS/FAIL lines and ends with "N passed, N failed".
   Optional argument: a substring to select tests. */
#define NASGAN_IMPLEMENTATION
#include "nasgan.h"
#include "test.h"
#include <setjmp.h>
#include <stdarg.h>
#include <unistd.h>

int ng_test_failures;
uint64_t ng_test_seed;
static jmp_buf *assert_jump;

void ng_test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    ng_test_failures++;
    if (ng_test_failures > 20) return; /* a broken op can fail thousands of elements */
    fprintf(stderr, "  %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (seed %llu)\n", (unsigned long long)ng_test_seed);
}

static void on_assert(const char *file, int line, const char *expr) {
    (void)file; (void)line; (void)expr;
    if (assert_jump) longjmp(*assert_jump, 1);
}

int ng_test_expect_assert(void (*fn)(void *), void *arg) {
    jmp_buf here, *outer = assert_jump;
    volatile int fired = 0;
    assert_jump = &here;
    if (setjmp(here) == 0) fn(arg);
    else fired = 1;
    assert_jump = outer;
    return fired;
}

const char *ng_test_tmpdir(void) {
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/nasgan-test-XXXXXX");
        if (!mkdtemp(dir)) { perror("mkdtemp"); exit(2); }
    }
    return dir;
}

#define TEST_DECL(name) void test_##name(void);
#include "tests_list.h"
#undef TEST_DECL

typedef struct { const char *name; void (*fn)(void); } test_entry;
static const test_entry all_tests[] = {
#define TEST_DECL(name) {#name, test_##name},
#include "tests_list.h"
#undef TEST_DECL
};

int main(int argc, char **argv) {
    static int passed = 0, failed = 0;
    size_t i;
    char cmd[300];
    ng_set_abort_handler(on_assert);
    printf("%s, %d threads\n", ng_build_info(), ng_num_threads());
    for (i = 0; i < sizeof all_tests / sizeof all_tests[0]; i++) {
        jmp_buf here;
        double t0;
        if (argc > 1 && !strstr(all_tests[i].name, argv[1])) continue;
        ng_test_failures = 0;
        ng_test_seed = 0;
        t0 = ng_time_sec();
        assert_jump = &here;
        if (setjmp(here) == 0) all_tests[i].fn();
        else ng_test_fail(__FILE__, __LINE__, "unexpected NG_ASSERT in test %s", all_tests[i].name);
        assert_jump = NULL;
        if (ng_test_failures) { failed++; printf("FAIL %s (%d failures)\n", all_tests[i].name, ng_test_failures); }
        else { passed++; printf("PASS %s (%.2fs)\n", all_tests[i].name, ng_time_sec() - t0); }
        fflush(stdout);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", ng_test_tmpdir());
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", ng_test_tmpdir());
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
