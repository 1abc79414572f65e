# nasgan build. `make demo` and `make test` install missing Debian packages first.
CC      ?= gcc
CXX     ?= g++
ARCH    ?= -march=native
OPT     ?= -O3
CFLAGS  ?= $(OPT) $(ARCH) -fopenmp -Wall -Wextra -std=c11
LDLIBS  ?= -lm
# zlib (gzip-compressed data files) is optional: used when its header is installed (zlib1g-dev);
# without it the build defines NG_NO_ZLIB and .gz inputs are refused with a clear error.
ifneq ($(wildcard /usr/include/zlib.h),)
  HAVE_ZLIB ?= 1
else
  HAVE_ZLIB ?= 0
endif
ifeq ($(HAVE_ZLIB),1)
  LDLIBS += -lz
else
  CFLAGS += -DNG_NO_ZLIB
endif
# OpenBLAS is optional: used when its development files are installed (reported by the build).
BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS   := $(shell pkg-config --libs-only-L openblas 2>/dev/null)
ifneq ($(BLAS_CFLAGS)$(BLAS_LIBS),)
  HAVE_OPENBLAS ?= 1
else
  HAVE_OPENBLAS ?= 0
endif
# utf8proc is optional: the text tokenizer needs it (NG_USE_UTF8PROC); detected by its header.
ifneq ($(wildcard /usr/include/utf8proc.h),)
  HAVE_UTF8PROC ?= 1
else
  HAVE_UTF8PROC ?= 0
endif
ifeq ($(HAVE_UTF8PROC),1)
  CFLAGS += -DNG_USE_UTF8PROC
  LDLIBS += -lutf8proc
  UTF8PROC_FUZZ := -DNG_USE_UTF8PROC -lutf8proc
endif
ifeq ($(HAVE_OPENBLAS),1)
  CFLAGS += -DNG_USE_OPENBLAS $(BLAS_CFLAGS)
  LDLIBS += $(BLAS_LIBS) -lopenblas
endif

# stb_image_write (PNG sample grids) is optional: used when Debian's libstb-dev is installed.
STB_DIR ?= /usr/include/stb
ifneq ($(wildcard $(STB_DIR)/stb_image_write.h),)
  HAVE_STB ?= 1
else
  HAVE_STB ?= 0
endif
ifeq ($(HAVE_STB),1)
  STB_CFLAGS := -DNG_USE_STB -I$(STB_DIR)
  STB_LIBS   := -lstb
  CFLAGS += $(STB_CFLAGS)
  LDLIBS += $(STB_LIBS)
endif

B := build
SRC_PARTS := $(wildcard src/*.h src/*.c) src/parts.txt
TEST_SRCS := $(filter-out tests/test_main.c tests/test_cuda.c,$(wildcard tests/test_*.c)) tests/gradcheck.c tests/fixture.c
# Python with torch and numpy, used only by `make fixtures` (never by `make test`).
TORCH_PYTHON ?= /usr/bin/python3
EXAMPLES  := $(patsubst examples/%.c,$(B)/%,$(wildcard examples/*.c))
BENCHES   := $(patsubst bench/%.c,$(B)/bench_%,$(wildcard bench/*.c))

.PHONY: all test demo demo-text demo-classifier examples check-examples bench fuzz fuzz-run fuzz-seeds asan check-header deps-test deps-demo clean info

all: nasgan.h examples $(B)/test_runner

info:
	@echo "OpenBLAS: $(if $(filter 1,$(HAVE_OPENBLAS)),on ($(BLAS_CFLAGS)),off (install libopenblas-dev to enable))"
	@echo "stb (PNG grids): $(if $(filter 1,$(HAVE_STB)),on ($(STB_CFLAGS) $(STB_LIBS)),off (install libstb-dev to enable))"
	@echo "utf8proc: $(if $(filter 1,$(HAVE_UTF8PROC)),on (text tokenizer),off (install libutf8proc-dev to enable the text tokenizer))"
	@echo "zlib: $(if $(filter 1,$(HAVE_ZLIB)),on (.gz data files),off (install zlib1g-dev to read .gz data files))"

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
	$(TORCH_PYTHON) tests/ref/make_npz_fixtures.py
	$(TORCH_PYTHON) tests/ref/make_tf1_resize_fixture.py
	$(TORCH_PYTHON) tests/ref/make_pil_fixtures.py
	$(TORCH_PYTHON) tests/ref/make_textnas_ctrl_fixture.py
	$(TORCH_PYTHON) tests/ref/make_inception_fixture.py
	$(TORCH_PYTHON) tests/ref/make_textnas_net_fixture.py

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
	if [ -f $(STB_DIR)/stb_image_write.h ]; then $(CC) -std=c99 -Wall -Wextra -Werror -DNG_USE_STB -I$(STB_DIR) -I. -c $(B)/hdr.c -o $(B)/hdr99stb.o; fi
	$(CC) -std=c99 -Wall -Wextra -Werror $(if $(filter 1,$(HAVE_UTF8PROC)),-DNG_USE_UTF8PROC) -I. -c $(B)/hdr.c -o $(B)/hdr99u.o
	$(CXX) -std=c++11 -Wall -Wextra -Werror $(if $(filter 1,$(HAVE_UTF8PROC)),-DNG_USE_UTF8PROC) -I. -c $(B)/hdr.cpp -o $(B)/hdrxxu.o
	$(CXX) -std=c++11 -Wall -Wextra -Werror -I. -c $(B)/hdr.cpp -o $(B)/hdrxx.o
	if [ -f $(STB_DIR)/stb_image_write.h ]; then $(CXX) -std=c++11 -Wall -Wextra -Werror -DNG_USE_STB -I$(STB_DIR) -I. -c $(B)/hdr.cpp -o $(B)/hdrxxstb.o; fi
	$(CXX) -std=c++17 -fopenmp -Wall -Wextra -Werror -I. -c $(B)/hdr.cpp -o $(B)/hdrxx17.o
	@echo "header compiles as C99, C11 and C++11/17"

# ---- examples and demo ----
examples: $(EXAMPLES)
# Example programs and the CUDA build compile with warnings as errors. WERROR= (empty) allows
# them: bench/gpu_check.sh retries so on a machine whose compilers warn where these do not,
# rather than lose its one GPU run.
WERROR ?= -Werror
.PRECIOUS: $(B)/obj/%.o
# Each example is compiled once (the whole header: ~20 s at -O3) and linked twice: here for the
# CPU, and with build/nasgan_cuda.o under build/cuda/ (`make cuda`), which registers the GPU
# backend from a static initialiser, so the object itself does not change.
$(B)/obj/%.o: examples/%.c examples/cli.h examples/text_data.h nasgan.h | $(B)
	@mkdir -p $(B)/obj
	$(CC) $(CFLAGS) $(WERROR) -I. -c -o $@ $<
$(B)/%: $(B)/obj/%.o
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

# End-to-end checks of the example programs (resume bit for bit, refused checkpoints); seconds.
check-examples: deps-demo examples $(B)/bench_gpu_steps_cpu
	./scripts/check_examples.sh

# bench/gpu/steps.c without CUDA: check_examples.sh takes its --write-inception weights
$(B)/bench_gpu_steps_cpu: bench/gpu/steps.c nasgan.h | $(B)
	$(CC) $(CFLAGS) -I. -o $@ $< $(LDLIBS)

demo: deps-demo info
	$(MAKE) --no-print-directory $(B)/fmnist_classifier $(B)/gan_search $(B)/gan_train
	./scripts/demo.sh

# TextNAS on WordNet glosses: search (ENAS, quick) -> derive -> retrain -> test accuracy.
demo-text: deps-test info
	$(MAKE) --no-print-directory $(B)/text_search $(B)/text_train
	./scripts/demo_text.sh

# The Fashion-MNIST CNN alone, trained to >= 90% test accuracy (4 epochs).
demo-classifier: deps-demo info
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
FUZZ_SAN := -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_DEFS := $(STB_CFLAGS) $(filter -D%,$(UTF8PROC_FUZZ))
# The library is compiled once with coverage instrumentation (fuzzer-no-link); each target is
# only its harness linked against it (12 full-header compiles took ~2.5 min of CI).
$(B)/fuzz_impl.o: nasgan.h | $(B) deps-fuzz
	printf '#define NASGAN_IMPLEMENTATION\n#include "nasgan.h"\n' > $(B)/fuzz_impl.c
	clang $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(FUZZ_DEFS) -I. -c $(B)/fuzz_impl.c -o $@
$(B)/fuzz_%: fuzz/%.c $(B)/fuzz_impl.o nasgan.h | $(B)
	clang $(FUZZ_SAN) -Wall -Werror -fsanitize=fuzzer $(FUZZ_DEFS) -I. -o $@ $< $(B)/fuzz_impl.o $(filter -l%,$(UTF8PROC_FUZZ)) -lz -lm $(STB_LIBS)
# Regenerate the committed seed inputs (small valid files) in fuzz/seeds/<target>/.
fuzz-seeds: nasgan.h | $(B)
	$(CC) -O1 -Wall -Wextra -I. -o $(B)/make_seeds fuzz/tools/make_seeds.c -lz -lm
	mkdir -p fuzz/seeds/idx fuzz/seeds/ckpt fuzz/seeds/genotype_json fuzz/seeds/cifar10 fuzz/seeds/stl10 \
	  fuzz/seeds/tokenizer fuzz/seeds/tsv fuzz/seeds/agnews_csv fuzz/seeds/sst fuzz/seeds/wordvec \
	  fuzz/seeds/textnas_arch_json fuzz/seeds/inception
	$(B)/make_seeds fuzz/seeds
	cp tests/fixtures/nni_final_arc.json fuzz/seeds/textnas_arch_json/published.json
	mkdir -p fuzz/seeds/npz && cp tests/fixtures/npz/* fuzz/seeds/npz/
# Run every target for FUZZ_SECONDS each; any crash, leak or hang fails. Each target is its own
# goal, so `make -j2 fuzz-run` fuzzes two at a time (libFuzzer uses one core).
FUZZ_SECONDS ?= 30
FUZZ_RUNS := $(patsubst $(B)/fuzz_%,fuzz-run-%,$(FUZZ_TARGETS))
.PHONY: fuzz-run $(FUZZ_RUNS)
fuzz-run: $(FUZZ_RUNS)
	@echo "fuzzing: no crashes"
$(FUZZ_RUNS): fuzz-run-%: $(B)/fuzz_%
	@mkdir -p $(B)/corpus/fuzz_$*
	@if [ -d fuzz/seeds/$* ]; then cp -n fuzz/seeds/$*/* $(B)/corpus/fuzz_$*/ 2>/dev/null || true; fi
	@echo "fuzzing fuzz_$* for $(FUZZ_SECONDS)s"
	@$(B)/fuzz_$* -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
	  $(B)/corpus/fuzz_$* >$(B)/fuzz_$*.log 2>&1 || { tail -40 $(B)/fuzz_$*.log; echo "fuzz_$*: FAILED (log: $(B)/fuzz_$*.log)"; exit 1; }

$(B):
	mkdir -p $(B)

clean:
	rm -rf $(B)

# ---- CUDA backend (needs nvcc; the CPU build above never does) ----
# `make cuda`: build/nasgan_cuda.o (kernels + cuBLAS) and the programs linked with it:
# build/test_cuda (tests/test_cuda.c) and build/bench_gpu_steps (bench/gpu/steps.c, outside `make bench`).
NVCC      ?= $(or $(wildcard /usr/local/cuda/bin/nvcc),nvcc)
CUDA_HOME ?= /usr/local/cuda
CUDA_ARCH ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
NVCCFLAGS ?= -O3 -std=c++17 $(CUDA_ARCH) -Xcompiler -Wall,-Wextra $(if $(WERROR),-Xcompiler -Werror -Werror all-warnings)
CUDA_LIBS ?= -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lstdc++
.PHONY: cuda test-cuda test-cuda-emu test-cuda-host-emu check-examples-cuda
CUDA_EXAMPLES := $(patsubst examples/%.c,$(B)/cuda/%,$(wildcard examples/*.c))
FAKE_EXAMPLES := $(patsubst examples/%.c,$(B)/fake_cuda/%,$(wildcard examples/*.c))
cuda: $(B)/test_cuda $(B)/bench_gpu_steps $(CUDA_EXAMPLES)
# the example programs linked with the backend: `build/cuda/gan_search --device cuda ...`
$(B)/cuda/%: $(B)/obj/%.o $(B)/nasgan_cuda.o
	@mkdir -p $(B)/cuda
	$(CC) $(CFLAGS) -o $@ $< $(B)/nasgan_cuda.o $(CUDA_LIBS) $(LDLIBS)
# the example programs on the fake device of tests/cuda_fake.h (no GPU, no nvcc needed)
$(B)/fake_cuda/%: examples/%.c tests/cuda_fake.h tests/cuda_fake_example.c examples/cli.h examples/text_data.h nasgan.h
	@mkdir -p $(B)/fake_cuda
	$(CC) $(CFLAGS) -Werror -D_GNU_SOURCE -DNG_FAKE_CUDA_AUTO -DNG_FAKE_EXAMPLE='"examples/$*.c"' -I. -o $@ tests/cuda_fake_example.c $(LDLIBS)
# every example with --device cuda on the fake device: same results as --device cpu, bit for bit
check-examples-cuda: deps-demo examples $(FAKE_EXAMPLES)
	./scripts/check_examples_cuda.sh
$(B)/nasgan_cuda.o: nasgan_cuda.cu nasgan.h | $(B)
	$(NVCC) $(NVCCFLAGS) -I. -c nasgan_cuda.cu -o $@
$(B)/test_cuda: tests/test_cuda.c $(B)/nasgan_cuda.o nasgan.h | $(B)
	$(CC) $(CFLAGS) $(WERROR) -I. -o $@ tests/test_cuda.c $(B)/nasgan_cuda.o $(CUDA_LIBS) $(LDLIBS)
$(B)/bench_gpu_steps: bench/gpu/steps.c $(B)/nasgan_cuda.o nasgan.h | $(B)
	$(CC) $(CFLAGS) $(WERROR) -I. -o $@ bench/gpu/steps.c $(B)/nasgan_cuda.o $(CUDA_LIBS) $(LDLIBS)
# Every CUDA kernel against the CPU; prints "skipped" and succeeds without a device.
test-cuda: $(B)/test_cuda
	cd $(B) && ./test_cuda
# The same harness against an emulated device (host memory, CPU kernels, only the ops that
# nasgan_cuda.cu covers): checks the harness and the host glue without a GPU or nvcc.
test-cuda-emu: nasgan.h | $(B)
	$(CC) -O2 -g -fopenmp -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE -DNG_PARITY_EMULATE -I. -o $(B)/test_cuda_emu tests/test_cuda.c $(LDLIBS)
	cd $(B) && ./test_cuda_emu
# nasgan_cuda.cu's own kernels compiled for the host (fake CUDA runtime and cuBLAS in
# tests/cuda_host_emu/, each CUDA thread a fiber) against the CPU ops: checks index
# arithmetic, launch bounds and GEMM arguments without a GPU (g++ with C++20; seconds); then
# bench/gpu/steps.c's TextNAS and alphaGAN steps at tiny sizes on that emulated device against
# --device cpu, and each benchmark case at full size as a dry run (tests/cuda_host_emu/bench.sh);
# last, the example programs at their published sizes as dry runs (dry_examples.sh: every
# launch and GEMM of a real-size run checked, no arithmetic). Every op case runs a second time
# with blocks and threads in reverse order (EMU_REVERSE=1): a result that depends on the order
# is a race. HOST_EMU_CASES: op-case name substrings, and "+NAME" for the whole-program checks:
# optim, refusals, determinism (two 20-step runs of a small conv net), supernet (one D, G and
# arch step, about 7 s emulated) and inception (the FID Inception-v3 forward, about 20 s);
# +search (20 supernet steps, twice, about 75 s emulated) is left to the GPU.
HOST_EMU_CASES ?= matmul linear add sub mul scale sum mean reshape concat slice relu tanh sigmoid softmax dropout \
  cross hinge bce conv batch_norm spectral mixed upsample avg_pool2 sum_hw embedding seq_ "text chain" \
  +optim +refusals +determinism +supernet +inception
test-cuda-host-emu: deps-demo nasgan.h $(patsubst examples/%.c,$(B)/obj/%.o,$(wildcard examples/*.c))
	./tests/cuda_host_emu/run.sh $(HOST_EMU_CASES)
	EMU_REVERSE=1 ./tests/cuda_host_emu/run.sh ""
	./tests/cuda_host_emu/bench.sh
	EMU_LDLIBS="$(LDLIBS)" ./tests/cuda_host_emu/dry_examples.sh
