# nasgan build. `make demo` and `make test` install missing Debian packages first.
CC      ?= gcc
CXX     ?= g++
ARCH    ?= -march=native
OPT     ?= -O3
CFLAGS  ?= $(OPT) $(ARCH) -fopenmp -Wall -Wextra -std=c11
LDLIBS  ?= -lz -lm
# OpenBLAS is optional: used when its development files are installed (reported by the build).
BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS   := $(shell pkg-config --libs-only-L openblas 2>/dev/null)
ifneq ($(BLAS_CFLAGS)$(BLAS_LIBS),)
  HAVE_OPENBLAS ?= 1
else
  HAVE_OPENBLAS ?= 0
endif
ifeq ($(HAVE_OPENBLAS),1)
  CFLAGS += -DNG_USE_OPENBLAS $(BLAS_CFLAGS)
  LDLIBS += $(BLAS_LIBS) -lopenblas
endif

B := build
SRC_PARTS := $(wildcard src/*.h src/*.c) src/parts.txt
TEST_SRCS := $(filter-out tests/test_main.c,$(wildcard tests/test_*.c)) tests/gradcheck.c tests/fixture.c
# Python with torch and numpy, used only by `make fixtures` (never by `make test`).
TORCH_PYTHON ?= /usr/bin/python3
EXAMPLES  := $(patsubst examples/%.c,$(B)/%,$(wildcard examples/*.c))
BENCHES   := $(patsubst bench/%.c,$(B)/bench_%,$(wildcard bench/*.c))

.PHONY: all test demo examples bench fuzz fuzz-run fuzz-seeds asan check-header deps-test deps-demo clean info

all: nasgan.h examples $(B)/test_runner

info:
	@echo "OpenBLAS: $(if $(filter 1,$(HAVE_OPENBLAS)),on ($(BLAS_CFLAGS)),off (install libopenblas-dev to enable))"

nasgan.h: $(SRC_PARTS) scripts/amalgamate.sh
	./scripts/amalgamate.sh nasgan.h

deps-%:
	@./scripts/install-deps.sh $*

# ---- tests ----
$(B)/tests_list.h: $(TEST_SRCS) | $(B)
	grep -ho '^TEST([A-Za-z0-9_]*)' $(TEST_SRCS) | sed 's/^TEST(\(.*\))/TEST_DECL(\1)/' > $@.tmp && mv $@.tmp $@

$(B)/test_runner: nasgan.h tests/test_main.c tests/test.h tests/fixture.h $(TEST_SRCS) $(B)/tests_list.h | $(B)
	$(CC) $(CFLAGS) -I. -Itests -I$(B) -o $@ tests/test_main.c $(TEST_SRCS) $(LDLIBS)

test: deps-test info
	$(MAKE) --no-print-directory $(B)/test_runner
	cd $(B) && ./test_runner

# Regenerate the committed PyTorch references in tests/fixtures/ (needs torch; see tests/ref/README.md).
.PHONY: fixtures
fixtures:
	$(TORCH_PYTHON) tests/ref/make_fixtures.py
	$(TORCH_PYTHON) tests/ref/make_metric_fixtures.py
	$(TORCH_PYTHON) tests/ref/make_textnas_ctrl_fixture.py

# AddressSanitizer + UndefinedBehaviorSanitizer build of the whole suite.
asan: deps-test nasgan.h $(B)/tests_list.h
	$(CC) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	  $(filter-out $(OPT),$(CFLAGS)) -I. -Itests -I$(B) -o $(B)/test_runner_asan tests/test_main.c $(TEST_SRCS) $(LDLIBS)
	cd $(B) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./test_runner_asan

# The header on its own as C99, C11 and C++ with warnings as errors.
check-header: nasgan.h
	printf '#define NASGAN_IMPLEMENTATION\n#include "nasgan.h"\nint main(void){return 0;}\n' > $(B)/hdr.c
	cp $(B)/hdr.c $(B)/hdr.cpp
	$(CC) -std=c99 -Wall -Wextra -Werror -I. -c $(B)/hdr.c -o $(B)/hdr99.o
	$(CC) -std=c11 -fopenmp -Wall -Wextra -Werror -I. -c $(B)/hdr.c -o $(B)/hdr11.o
	$(CC) -std=c99 -Wall -Wextra -Werror -DNG_NO_ZLIB -I. -c $(B)/hdr.c -o $(B)/hdr99nz.o
	$(CC) -std=c11 -Wall -Wextra -Werror -DNG_USE_OPENBLAS $(BLAS_CFLAGS) -I. -c $(B)/hdr.c -o $(B)/hdr11b.o
	$(CXX) -std=c++11 -Wall -Wextra -Werror -I. -c $(B)/hdr.cpp -o $(B)/hdrxx.o
	$(CXX) -std=c++17 -fopenmp -Wall -Wextra -Werror -I. -c $(B)/hdr.cpp -o $(B)/hdrxx17.o
	@echo "header compiles as C99, C11 and C++11/17"

# ---- examples and demo ----
examples: $(EXAMPLES)
$(B)/%: examples/%.c nasgan.h | $(B)
	$(CC) $(CFLAGS) -I. -o $@ $< $(LDLIBS)

demo: deps-demo info
	$(MAKE) --no-print-directory $(B)/fmnist_classifier
	./$(B)/fmnist_classifier --out $(B)/fmnist_cnn.ckpt

# ---- benchmarks (timing programs, never tests); BENCH_FILTER=substring selects cases ----
bench: deps-bench $(BENCHES)
	./bench/run.sh $(BENCH_FILTER)

$(B)/bench_%: bench/%.c nasgan.h | $(B)
	$(CC) $(CFLAGS) -I. -o $@ $< $(LDLIBS)

# ---- fuzzing (clang libFuzzer) ----
FUZZ_TARGETS := $(patsubst fuzz/%.c,$(B)/fuzz_%,$(wildcard fuzz/*.c))
fuzz: deps-fuzz nasgan.h $(FUZZ_TARGETS)
$(B)/fuzz_%: fuzz/%.c nasgan.h | $(B)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I. -o $@ $< -lz -lm
# Regenerate the committed seed inputs (small valid files) in fuzz/seeds/<target>/.
fuzz-seeds: nasgan.h | $(B)
	$(CC) -O1 -Wall -Wextra -I. -o $(B)/make_seeds fuzz/tools/make_seeds.c -lz -lm
	mkdir -p fuzz/seeds/idx fuzz/seeds/ckpt fuzz/seeds/genotype_json
	$(B)/make_seeds fuzz/seeds
# Run every target for FUZZ_SECONDS each; any crash, leak or hang fails.
FUZZ_SECONDS ?= 30
fuzz-run: fuzz
	@for t in $(FUZZ_TARGETS); do \
	  name=$$(basename $$t); mkdir -p $(B)/corpus/$$name; \
	  if [ -d fuzz/seeds/$${name#fuzz_} ]; then cp -n fuzz/seeds/$${name#fuzz_}/* $(B)/corpus/$$name/ 2>/dev/null || true; fi; \
	  echo "fuzzing $$name for $(FUZZ_SECONDS)s"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 $(B)/corpus/$$name >$(B)/$$name.log 2>&1 \
	    || { tail -40 $(B)/$$name.log; exit 1; }; \
	done; echo "fuzzing: no crashes"

$(B):
	mkdir -p $(B)

clean:
	rm -rf $(B)
