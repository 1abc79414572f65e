#!/bin/sh
# One-shot GPU check for a lent CUDA machine; finishes within 8 minutes (every step runs under
# `timeout`, sized from what is left of the budget).
#
#   bench/gpu_check.sh            (from anywhere; writes build/gpu_check.md and prints it)
#
# Steps:
#   1. environment: nvidia-smi, nvcc, the Python used for PyTorch (GPU_PYTHON, else the first of
#      python3, /usr/bin/python3 whose torch sees CUDA; printed with its torch version)
#   2. build: make cuda (build/nasgan_cuda.o, build/test_cuda, build/bench_gpu_steps, build/cuda/*),
#      linking cuBLAS and the CUDA runtime wherever bench/find_cuda_libs.sh finds them (the
#      toolkit's lib64/lib, or Python's nvidia wheels); zlib, OpenBLAS, utf8proc, stb are
#      used only where installed (the Makefile checks)
#   3. make test-cuda: every CUDA kernel against the CPU, sentinels, refusals, determinism;
#      then compute-sanitizer memcheck on build/test_cuda's op cases (out-of-bounds and
#      misaligned device accesses, which the host emulation cannot see; at most 60 s)
#   4. benchmarks: build/bench_gpu_steps vs bench/ref/gpu_steps.py on CUDA (alphaGAN supernet
#      D, G and arch steps at G width 256, D width 128, batch 64, 32x32; one TextNAS
#      retraining step of the published architecture, forward + backward + Adam, at H 256,
#      L 64, batch 128 as bench/textnas_step.c), a table of ms, ratio (nasgan / torch, below
#      1 = nasgan faster) and peak GPU memory, plus an estimate of a full alphaGAN(s) and (l)
#      search (99 epochs, step counts of docs alphagan.md 3.5, the 24 IS/FID evaluations
#      excluded); then the FID Inception-v3 forward of 100 RGB 32x32 images (one evaluation
#      batch, host memory in and out). The alphaGAN cases, TextNAS and Inception run as
#      separate processes with their own time limits, so a slow alphaGAN run cannot leave the
#      other rows empty.
#   5. the example programs with --device cuda at tiny sizes (build/cuda/): ok or FAILED each
#      (the GAN programs only where Fashion-MNIST is installed; gan_train evaluates with the
#      Fashion-MNIST CNN and, in a second run, with the FID Inception on random weights)
#   6. for each step slower than PyTorch's, one more step profiled on both sides
#      (bench_gpu_steps --profile, gpu_steps.py --profile): the ops taking the time, side by side
#   7. with the time left (30 s or more), compute-sanitizer racecheck on the same op cases
#      (shared-memory hazards, which the host emulation sees only when a block order exposes
#      them); a hazard fails the check only in nasgan's own kernels, not in cuBLAS's
# Without a GPU (or without nvcc, or torch without CUDA) the affected steps print why and are
# skipped; the script still writes the report. Exit status: 0 when nothing that ran failed.
# Environment: GPU_CHECK_BUDGET (seconds, default 470), GPU_PYTHON, BENCH_ITERS (default 5),
# JOBS (make -j, default: nproc).
set -u
cd "$(dirname "$0")/.." || exit 1
mkdir -p build
OUT=build/gpu_check.md
LOG=build/gpu_check.log
BUDGET=${GPU_CHECK_BUDGET:-470}
ITERS=${BENCH_ITERS:-5}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
START=$(date +%s)
status=0
: > "$LOG"

left() { echo $((BUDGET - ($(date +%s) - START))); }
# cap SECONDS [RESERVE]: the smaller of SECONDS and what is left minus RESERVE (default 10),
# never below 0. Callers skip a step when it is below their minimum: `timeout 0` would mean no
# limit at all, and a negative one makes timeout refuse to run anything.
cap() { l=$(( $(left) - ${2:-10} )); [ "$l" -lt 0 ] && l=0; [ "$l" -lt "$1" ] && echo "$l" || echo "$1"; }
say() { printf '%s\n' "$*" | tee -a "$LOG"; }
md() { printf '%s\n' "$*" >> "$OUT"; }

printf '# nasgan GPU check (%s)\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" > "$OUT"

# ---- 1. environment ----
say "== environment"
have_gpu=0
if command -v nvidia-smi >/dev/null 2>&1 && timeout 20 nvidia-smi -L >/dev/null 2>&1; then
    have_gpu=1
    gpu_name=$(timeout 20 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)
    say "GPU: $gpu_name"
else
    gpu_name="none"
    say "GPU: none visible (nvidia-smi missing or failing): GPU steps will be skipped"
fi
NVCC=$(command -v nvcc || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; } || echo "")
if [ -n "$NVCC" ]; then nvcc_ver=$("$NVCC" --version | tail -1); say "nvcc: $NVCC ($nvcc_ver)"; else nvcc_ver="none"; say "nvcc: not found: cannot build the CUDA backend"; fi
PY=""
py_desc="none"
for cand in ${GPU_PYTHON:-} python3 /usr/bin/python3; do
    command -v "$cand" >/dev/null 2>&1 || continue
    d=$(timeout 60 "$cand" -c 'import torch; print(torch.__version__, "cuda" if torch.cuda.is_available() else "nocuda", torch.version.cuda)' 2>/dev/null) || continue
    case "$d" in
        *" cuda "*) PY=$cand; py_desc="$cand: torch $d"; break ;;
        *) [ "$py_desc" = none ] && py_desc="$cand: torch $d (no CUDA)" ;;
    esac
done
say "PyTorch: $py_desc"
md "| item | value |"
md "|---|---|"
md "| GPU | $gpu_name |"
md "| nvcc | $nvcc_ver |"
md "| PyTorch | $py_desc |"
md ""

# ---- 2. build ----
say "== make cuda (limit $(cap 240)s)"
built=0
if [ -z "$NVCC" ]; then
    md "build: skipped (no nvcc)"
else
    CUDA_LIBS_FOUND=$(bench/find_cuda_libs.sh) || CUDA_LIBS_FOUND=""
    if [ -n "$CUDA_LIBS_FOUND" ]; then set -- CUDA_LIBS="$CUDA_LIBS_FOUND"; say "CUDA libraries: $CUDA_LIBS_FOUND"
    else set --; say "CUDA libraries: not found by bench/find_cuda_libs.sh; the Makefile's default"; fi
    # only the GPU at hand's architecture: one nvcc pass instead of three (sm_80, sm_90, PTX)
    cc=$(timeout 20 nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
    case "$cc" in
        [1-9][0-9]|[1-9][0-9][0-9]) set -- "$@" CUDA_ARCH="-gencode arch=compute_$cc,code=sm_$cc"; say "CUDA architecture: sm_$cc (this GPU's)" ;;
    esac
    make info >>"$LOG" 2>&1
    if timeout "$(cap 240)" make -j"$JOBS" cuda NVCC="$NVCC" "$@" >>"$LOG" 2>&1; then
        built=1
        md "build: \`make cuda\` ok"
        say "build ok"
    elif [ "$(cap 180)" -ge 30 ] && timeout "$(cap 180)" make -j"$JOBS" cuda NVCC="$NVCC" WERROR= "$@" >>"$LOG" 2>&1; then
        # any failure is retried without warnings as errors: a newer nvcc or host compiler than
        # CI's may warn (nvcc's own diagnostics read "error #NNN-D" under -Werror all-warnings);
        # measure anyway, and say so
        built=1
        status=1
        md "build: \`make cuda\` FAILED with warnings as errors, built with WERROR= (diagnostics in build/gpu_check.log)"
        say "build ok only without -Werror"
    else
        status=1
        md "build: \`make cuda\` FAILED (see build/gpu_check.log)"
        say "build FAILED"; tail -20 "$LOG"
    fi
fi
md ""

# ---- 3. test-cuda ----
t=$(cap 120 120)
say "== make test-cuda (limit ${t}s)"
if [ "$built" = 1 ] && [ "$t" -lt 20 ]; then
    status=1
    tres="NOT RUN: the build left less than 20 s of the budget"
    : > build/test_cuda.out
    say "test-cuda: $tres"; md "test-cuda: $tres"
elif [ "$built" = 1 ]; then
    if timeout "$t" make test-cuda NVCC="$NVCC" "$@" > build/test_cuda.out 2>&1; then
        tres="ok: $(tail -1 build/test_cuda.out)"
    else
        rc=$?
        status=1
        if [ $rc = 124 ]; then tres="TIMED OUT after ${t}s: $(grep -c '^PASS' build/test_cuda.out) cases passed, $(grep -c 'FAIL' build/test_cuda.out) failure lines so far"
        else tres="FAILED: $(grep -c 'FAIL' build/test_cuda.out) failure lines, last line: $(tail -1 build/test_cuda.out)"; fi
    fi
    cat build/test_cuda.out >> "$LOG"
    grep -E '^(FAIL|  FAIL)' build/test_cuda.out | head -20
    say "test-cuda: $tres"
    md "test-cuda: $tres"
    grep -q 'FAIL' build/test_cuda.out && { md ""; md '```'; grep -E 'FAIL' build/test_cuda.out | head -30 >> "$OUT"; md '```'; }
else
    md "test-cuda: skipped (not built)"
fi
md ""

# ---- compute-sanitizer on build/test_cuda's op cases: memcheck now (out-of-bounds and
# misaligned device accesses, which the host emulation cannot see), racecheck at the end with
# what is left (shared-memory hazards). A hazard counts as a failure only in nasgan's own
# kernels (nasgan_cuda.cu, the anonymous namespace); cuBLAS's are reported apart.
SAN=$(command -v compute-sanitizer || { [ -n "$NVCC" ] && [ -x "$(dirname "$NVCC")/compute-sanitizer" ] && echo "$(dirname "$NVCC")/compute-sanitizer"; } || echo "")
SAN_ROWS=build/gpu_sanitizer_rows.md
: > "$SAN_ROWS"
sanitize() { # TOOL LIMIT RESERVE
    tool=$1; t=$(cap "$2" "$3")
    if [ "$built" != 1 ] || [ "$have_gpu" != 1 ] || [ -z "$SAN" ]; then
        r="skipped (needs the build, a GPU and compute-sanitizer)"
    elif [ "$t" -lt 30 ]; then
        r="skipped (time budget spent)"
    else
        say "$tool (limit ${t}s)"
        so="build/sanitizer_$tool.out"
        if (cd build && timeout "$t" "$SAN" --tool "$tool" --error-exitcode 9 ./test_cuda "") > "$so" 2>&1; then
            r="ok: $(grep -m1 'ERROR SUMMARY\|RACECHECK SUMMARY' "$so" || echo 'no errors')"
        else
            rc=$?
            summary=$(grep -m1 'ERROR SUMMARY\|RACECHECK SUMMARY' "$so")
            if [ $rc = 124 ]; then r="incomplete: stopped after ${t}s, $(grep -c '^PASS' "$so") cases done (not a failure; $so)"
            elif [ $rc = 9 ] && ! grep -q 'nasgan_cuda\|anonymous namespace\|_GLOBAL__N_' "$so"; then
                r="hazards reported only outside nasgan's kernels (cuBLAS): $summary ($so)"
            else status=1; r="FAILED (exit $rc): $summary ($so)"; fi
        fi
        cat "$so" >> "$LOG"
    fi
    say "$tool: $r"
    printf '| %s | %s |\n' "$tool" "$r" >> "$SAN_ROWS"
}
sanitize memcheck 60 250

# ---- 4. benchmarks ----
say "== benchmarks"
NG_RES=build/gpu_bench_nasgan.txt
PT_RES=build/gpu_bench_torch.txt
: > "$NG_RES"; : > "$PT_RES"
GAN_CASES="alphagan_D alphagan_G alphagan_arch"
# bench WHO LIMIT RESERVE CASE...: one benchmark process for CASEs, its BENCH lines appended to
# WHO's result file; limit: the smaller of LIMIT and what is left minus RESERVE
bench() {
    who=$1; t=$(cap "$2" "$3"); shift 3
    if [ "$t" -lt 10 ]; then say "$who $*: skipped (time budget spent)"; return; fi
    say "$who $* (limit ${t}s)"
    if [ "$who" = nasgan ]; then
        timeout "$t" build/bench_gpu_steps --iters "$ITERS" "$@" > build/gpu_bench.tmp 2>>"$LOG" || say "nasgan bench: exited $? (timeout or failure)"
        res=$NG_RES
    else
        timeout "$t" "$PY" bench/ref/gpu_steps.py --device cuda --iters "$ITERS" "$@" > build/gpu_bench.tmp 2>>"$LOG" || say "torch bench: exited $? (timeout or failure)"
        res=$PT_RES
    fi
    # KEY_SUFFIX (set around a call): the rows of a variant run get their own key
    [ -n "${KEY_SUFFIX:-}" ] && sed -i "s/key=\([^ ]*\) /key=\1$KEY_SUFFIX /" build/gpu_bench.tmp
    tee -a "$res" < build/gpu_bench.tmp
}
# each run keeps time back for the runs after it (RESERVE)
if [ "$built" = 1 ] && [ "$have_gpu" = 1 ]; then
    bench nasgan 150 180 $GAN_CASES
    bench nasgan 90 120 textnas
    # the GRU's other implementation (per-step cuBLAS GEMM + cell kernel), for comparison
    export NASGAN_CUDA_GRU=cublas KEY_SUFFIX=_gru_cublas
    bench nasgan 60 110 textnas
    unset NASGAN_CUDA_GRU KEY_SUFFIX
else
    say "nasgan steps: skipped (needs the build and a GPU)"
fi
if [ -n "$PY" ] && [ "$have_gpu" = 1 ]; then
    bench torch 150 90 $GAN_CASES
    bench torch 90 50 textnas
else
    say "torch steps: skipped (needs PyTorch with CUDA and a GPU)"
fi
if [ "$built" = 1 ] && [ "$have_gpu" = 1 ]; then bench nasgan 40 50 inception; fi
if [ -n "$PY" ] && [ "$have_gpu" = 1 ]; then bench torch 40 10 inception; fi

field() { # FILE KEY NAME
    grep "key=$2 " "$1" 2>/dev/null | head -1 | tr ' ' '\n' | sed -n "s/^$3=//p" | head -1
}
md "| case | nasgan ms | torch ms | ratio | nasgan peak GPU MiB | torch peak GPU MiB | nasgan status |"
md "|---|---|---|---|---|---|---|"
for key in alphagan_D alphagan_G alphagan_arch textnas textnas_gru_cublas inception; do
    tkey=${key%_gru_cublas}   # a nasgan variant is compared with torch's same case
    nm=$(field "$NG_RES" $key ms); tm=$(field "$PT_RES" $tkey ms)
    np=$(field "$NG_RES" $key peak_gpu_mb); tp=$(field "$PT_RES" $tkey peak_gpu_mb)
    st=$(grep "key=$key " "$NG_RES" 2>/dev/null | head -1 | sed -n 's/.*status=\(.*\)$/\1/p')
    ratio=""
    [ -n "$nm" ] && [ -n "$tm" ] && ratio=$(awk -v a="$nm" -v b="$tm" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
    md "| $key | ${nm:--} | ${tm:--} | ${ratio:--} | ${np:--} | ${tp:--} | ${st:-not run} |"
done
md ""
md "textnas_gru_cublas: the same TextNAS step with NASGAN_CUDA_GRU=cublas (the GRU as one cuBLAS GEMM"
md "and one cell kernel per time step over every sequence, instead of the default fused kernel"
md "per step over the sequences still running)."
md "inception: ms per batch of 100 images (the FID Inception-v3 forward, host memory in and out);"
md "its peak: nasgan's is the device memory in use at its highest (cudaMemGetInfo: weights and"
md "buffers, also the CUDA context and cuBLAS's workspace), torch's torch.cuda.max_memory_allocated."
md "Peak GPU memory: nasgan's is what the step used (its arena's high-water mark + parameters,"
md "gradients and optimizer state; the arena itself is reserved whole up front), torch's is"
md "torch.cuda.max_memory_allocated."
if grep -q 'arena peak' "$LOG"; then
    md "What nasgan's steps used of their arenas:"; md ""
    grep -h 'arena peak' "$LOG" | sed 's/^/    /' >> "$OUT"
fi
md ""

# Full search estimate: per epoch (s) 22 D + 4.4 G + 22 D_worst + 22 G_worst + 20 alpha steps,
# (l) 391 D + 78 G + 391 D_worst + 391 G_worst + 20 alpha; an alpha step is two arch
# forward/backward passes (G vs D_worst, G_worst vs D); 99 epochs; no IS/FID evaluations.
est() { # D G A
    awk -v d="$1" -v g="$2" -v a="$3" 'BEGIN {
        if (d == "" || g == "" || a == "") { print "- | -"; exit }
        s = 99 * (44 * d + 26.4 * g + 40 * a) / 1000 / 3600; l = 99 * (782 * d + 469 * g + 40 * a) / 1000 / 3600
        printf "%.2f h | %.2f h", s, l }'
}
md "| estimate (99 epochs, steps only, no IS/FID) | alphaGAN(s) | alphaGAN(l) |"
md "|---|---|---|"
md "| nasgan | $(est "$(field "$NG_RES" alphagan_D ms)" "$(field "$NG_RES" alphagan_G ms)" "$(field "$NG_RES" alphagan_arch ms)") |"
md "| PyTorch | $(est "$(field "$PT_RES" alphagan_D ms)" "$(field "$PT_RES" alphagan_G ms)" "$(field "$PT_RES" alphagan_arch ms)") |"
md ""
# The reference also evaluates IS/FID at epochs 4, 8, ..., 96 on 50k samples (gan_search
# --eval-every 4 --eval-n 50000 --fid-inception): their Inception forwards alone, from the
# inception case's time per 100 images (sample generation not included).
inc_ms=$(field "$NG_RES" inception ms)
if [ -n "$inc_ms" ]; then
    md "Plus the reference's 24 evaluations of 50,000 samples: the Inception forwards alone take $(awk -v m="$inc_ms" 'BEGIN { printf "%.2f h", 24 * 500 * m / 1000 / 3600 }') on nasgan (same for (s) and (l); generating the samples is extra)."
    md ""
fi
grep -h 'status=unsupported' "$NG_RES" 2>/dev/null | sed 's/^/    /' > build/gpu_unsupported.txt
if [ -s build/gpu_unsupported.txt ]; then md "nasgan steps that could not run on the device:"; md ""; cat build/gpu_unsupported.txt >> "$OUT"; md ""; fi
# ---- 5. the example programs end to end on the GPU (tiny sizes; build/cuda/ from `make cuda`) ----
say "== examples with --device cuda"
if [ "$built" = 1 ] && [ "$have_gpu" = 1 ] && [ "$(left)" -gt 40 ]; then
    E=build/gpu_examples
    rm -rf "$E"; mkdir -p "$E/qs"
    awk 'BEGIN { split("red green blue fast slow big small night day word city cafe tree", w, " ");
                 for (s = 0; s < 3; s++) { f = s == 0 ? "train" : s == 1 ? "valid" : "test"; n = s == 0 ? 96 : 32;
                   for (i = 0; i < n; i++) { c = (i * 7 + s) % 3; line = c "\t";
                     for (k = 0; k <= (i % 7); k++) line = line w[1 + (c * 4 + k * (i % 5 + 1)) % 13] " ";
                     print line > ("'"$E"'/" f ".tsv") } } }'
    TD="--dataset tsv --train $E/train.tsv --valid $E/valid.tsv --test $E/test.tsv --max-len 8 --min-count 1"
    ex() { # NAME COMMAND...: one program, its verdict in the report
        name=$1; shift
        t=$(cap 60 5)
        if [ "$t" -lt 5 ]; then r="skipped (time budget spent)"
        elif timeout "$t" "$@" > "$E/$name.log" 2>&1; then r=ok
        else
            rc=$?
            status=1
            if [ $rc = 124 ]; then r="TIMED OUT after ${t}s (see $E/$name.log)"; else r="FAILED (exit $rc, see $E/$name.log)"; fi
        fi
        say "$name: $r"; md "| $name | $r |"
    }
    md "| example (--device cuda, tiny) | result |"
    md "|---|---|"
    ex quickstart sh -c "cd $E/qs && ../../cuda/quickstart --device cuda"
    # shellcheck disable=SC2086
    ex text_search_enas build/cuda/text_search --device cuda $TD --method enas --hidden 8 --layers 4 --batch 8 --child-steps 4 --ctrl-steps 2 --export 1 --eval-limit 16 --epochs 1 --out "$E/ts"
    # shellcheck disable=SC2086
    ex text_search_darts build/cuda/text_search --device cuda $TD --method darts --hidden 8 --layers 4 --batch 8 --child-steps 4 --eval-limit 16 --epochs 1 --out "$E/td"
    # shellcheck disable=SC2086
    ex text_train build/cuda/text_train --device cuda $TD --arch "$E/ts/arch.json" --hidden 8 --batch 8 --steps-per-epoch 4 --epochs 1 --out "$E/tt"
    if [ -d /usr/share/datasets/fashion-mnist ]; then
        G="--gf 8 --df 8 --latent 16 --limit 256 --batch 8 --inner-steps 2 --worst-steps 2 --arch-steps 2 --samples 16 --epochs 1"
        # shellcheck disable=SC2086
        ex gan_search build/cuda/gan_search --device cuda $G --out "$E/gs"
        ex fmnist_classifier build/cuda/fmnist_classifier --device cuda --limit 512 --epochs 1 --out "$E/cnn.ckpt"
        # evaluation with that CNN on the GPU too (its FID means nothing after one epoch)
        ex gan_train build/cuda/gan_train --device cuda --genotype "$E/gs/genotype.json" --gf 8 --df 8 --latent 16 --limit 256 --d-batch 8 --g-batch 8 --samples 16 --fid-net "$E/cnn.ckpt" --eval-n 64 --eval-every 2 --g-steps 4 --out "$E/gt"
        # and with the FID Inception on the GPU (random weights written by bench_gpu_steps: 95 MB)
        ex gan_train_inception sh -c "build/bench_gpu_steps --write-inception $E/inception.ngck && build/cuda/gan_train --device cuda --genotype $E/gs/genotype.json --gf 8 --df 8 --latent 16 --limit 256 --d-batch 8 --g-batch 8 --samples 16 --fid-net none --fid-inception $E/inception.ngck --inception-real-n 256 --eval-n 128 --g-steps 2 --out $E/gti"
    else
        md "| gan_search, gan_train, fmnist_classifier | skipped: no Fashion-MNIST here (Debian's dataset-fashion-mnist) |"
    fi
    md ""
else
    say "examples: skipped (needs the build, a GPU and 40 s of budget)"
fi

# ---- 6. where the time goes, for the steps slower than PyTorch's ----
# One more step of each such case with every kernel entry timed (bench_gpu_steps --profile)
# and under torch.profiler (gpu_steps.py --profile): the largest rows side by side, so that a
# ratio above 1 comes with the ops to work on. Skipped when every ratio is at most 1.
say "== profiles of the slower steps"
slow=""
paired=0
for key in alphagan_D alphagan_G alphagan_arch textnas; do
    nm=$(field "$NG_RES" $key ms); tm=$(field "$PT_RES" $key ms)
    [ -n "$nm" ] && [ -n "$tm" ] || continue
    paired=$((paired + 1))
    awk -v a="$nm" -v b="$tm" 'BEGIN { exit !(a > b) }' && slow="$slow $key"
done
if [ -n "$slow" ] && [ "$(left)" -gt 100 ]; then
    PROF_NG=build/gpu_profile_nasgan.txt PROF_PT=build/gpu_profile_torch.txt
    t=$(cap 60 70); say "nasgan --profile$slow (limit ${t}s)"
    # shellcheck disable=SC2086
    timeout "$t" build/bench_gpu_steps --iters 1 --profile $slow > "$PROF_NG" 2>>"$LOG" || say "nasgan profile: exited $?"
    t=$(cap 60 40); say "torch --profile$slow (limit ${t}s)"
    # shellcheck disable=SC2086
    timeout "$t" "$PY" bench/ref/gpu_steps.py --device cuda --iters 1 --profile $slow > "$PROF_PT" 2>>"$LOG" || say "torch profile: exited $?"
    cat "$PROF_NG" "$PROF_PT" >> "$LOG"
    # rows KEY FILE: "op (pass) | ms | share" for each op row, largest first
    rows() { grep "^PROFILE key=$1 " "$2" 2>/dev/null | grep -v ' op=all ' |
             sed -n 's/.* op=\([^ ]*\) pass=\([^ ]*\) ms=\([^ ]*\) calls=\([^ ]*\) share=\([^ ]*\)$/\1 (\2, \4 calls) | \3 | \5/p'; }
    for key in $slow; do
        rows "$key" "$PROF_NG" > build/gpu_prof_a.txt; rows "$key" "$PROF_PT" > build/gpu_prof_b.txt
        if [ ! -s build/gpu_prof_a.txt ] && [ ! -s build/gpu_prof_b.txt ]; then md "$key: no profile rows (see build/gpu_check.log)"; md ""; continue; fi
        md "$key, one profiled step: nasgan $(grep "^PROFILE key=$key op=all" "$PROF_NG" | sed 's/.* ms=\([^ ]*\) kernels_ms=\(.*\)/\1 ms (kernels \2 ms, a sync around each)/'),"
        md "torch $(grep "^PROFILE key=$key op=all" "$PROF_PT" | sed 's/.* ms=\([^ ]*\) kernels_ms=\(.*\)/\1 ms (aten ops'"'"' own device time \2 ms)/')"
        md ""
        md "| nasgan op | ms | share | torch op | ms | share |"
        md "|---|---|---|---|---|---|"
        awk -F' [|] ' 'FILENAME == ARGV[1] { a[FNR] = $1 " | " $2 " | " $3; n = FNR; next }
            { b[FNR] = $1 " | " $2 " | " $3; if (FNR > n) n = FNR }
            END { for (i = 1; i <= n; i++) print "| " (i in a ? a[i] : "- | - | -") " | " (i in b ? b[i] : "- | - | -") " |" }' \
            build/gpu_prof_a.txt build/gpu_prof_b.txt >> "$OUT"
        md ""
    done
elif [ -n "$slow" ]; then
    say "profiles: skipped (time budget spent)"
elif [ "$paired" = 0 ]; then
    say "profiles: skipped (no step timed on both sides)"
else
    say "profiles: skipped (no step slower than PyTorch's)"
fi

# ---- 7. racecheck with what is left of the budget, then both sanitizer verdicts ----
say "== compute-sanitizer"
sanitize racecheck 120 5
md "| compute-sanitizer on the op cases of build/test_cuda | result |"
md "|---|---|"
cat "$SAN_ROWS" >> "$OUT"
md ""

md "total time: $(( $(date +%s) - START )) s (budget $BUDGET s); log: build/gpu_check.log"

echo
cat "$OUT"
exit $status
