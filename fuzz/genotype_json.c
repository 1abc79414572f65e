/* libFuzzer target: bytes -> ng_gan_genotype_parse (the strict genotype JSON reader) and
   ng_gan_genotype_parse_python (the reference code's Genotype_gen form). Every input must be
   accepted or refused cleanly; an accepted genotype must be valid, survive a write/read round
   trip unchanged, and draw as DOT and SVG. Any crash, sanitizer report or leak is a bug. */
/* the implementation is compiled once, instrumented, into build/fuzz_impl.o (Makefile) */
#include "nasgan.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ng_gan_genotype g, back;
    char *text = NULL, *dot = NULL;
    size_t n = 0, dn = 0;
    ng_clear_error();
    if (ng_gan_genotype_parse((const char *)data, size, "fuzz.json", &g) == NG_OK) {
        if (!ng_gan_genotype_valid(&g)) __builtin_trap();
        if (ng_gan_genotype_to_json(&g, &text, &n) != NG_OK) __builtin_trap();
        if (ng_gan_genotype_parse(text, n, "fuzz.json (rewritten)", &back) != NG_OK) __builtin_trap();
        if (!ng_gan_genotype_eq(&g, &back)) __builtin_trap();
        if (ng_gan_genotype_to_dot(&g, "fuzz", &dot, &dn) != NG_OK || dn == 0) __builtin_trap();
    } else if (strstr(ng_last_error(), "fuzz.json") == NULL) {
        __builtin_trap();   /* every refusal names the source */
    }
    free(text);
    free(dot);
    text = dot = NULL;
    ng_clear_error();
    if (ng_gan_genotype_parse_python((const char *)data, size, "fuzz.py", NULL, &g) == NG_OK) {
        if (!ng_gan_genotype_valid(&g)) __builtin_trap();
        if (ng_gan_genotype_to_python(&g, "x", &text, &n) != NG_OK) __builtin_trap();
        if (ng_gan_genotype_parse_python(text, n, "fuzz.py (rewritten)", "x", &back) != NG_OK) __builtin_trap();
        if (!ng_gan_genotype_eq(&g, &back)) __builtin_trap();
        if (ng_gan_genotype_to_svg(&g, "fuzz", &dot, &dn) != NG_OK || dn == 0) __builtin_trap();
    } else if (strstr(ng_last_error(), "fuzz.py") == NULL) {
        __builtin_trap();
    }
    free(text);
    free(dot);
    return 0;
}
