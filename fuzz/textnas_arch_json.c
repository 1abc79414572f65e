/* libFuzzer target: bytes -> ng_textnas_arch_parse (NNI final_arc.json layout). Every input
   must be accepted or refused cleanly; an accepted architecture must pass ng_textnas_arch_check,
   survive a write/read round trip unchanged, and draw as DOT. Any crash, sanitizer report or
   leak is a bug. */
/* the implementation is compiled once, instrumented, into build/fuzz_impl.o (Makefile) */
#include "nasgan.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ng_textnas_arch a, back;
    char *text = NULL, *dot = NULL;
    size_t n = 0, dn = 0;
    ng_clear_error();
    if (ng_textnas_arch_parse((const char *)data, size, "fuzz.json", 5, &a) == NG_OK) {
        if (ng_textnas_arch_check(&a, 5) != NG_OK) __builtin_trap();
        if (ng_textnas_arch_to_json(&a, &text, &n) != NG_OK) __builtin_trap();
        if (ng_textnas_arch_parse(text, n, "fuzz.json (rewritten)", 5, &back) != NG_OK) __builtin_trap();
        if (!ng_textnas_arch_eq(&a, &back)) __builtin_trap();
        if (ng_textnas_arch_to_dot(&a, "fuzz", &dot, &dn) != NG_OK || dn == 0) __builtin_trap();
    } else if (strstr(ng_last_error(), "fuzz.json") == NULL) {
        __builtin_trap();   /* every refusal names the source */
    }
    free(text);
    free(dot);
    return 0;
}
