#!/bin/sh
# Runs bench/gpu/steps.c against nasgan_cuda.cu's kernels compiled for the host (build.sh; no
# GPU, no nvcc) at tiny sizes: the whole TextNAS training step (forward, cross entropy,
# backward, ng_cuda_adam_step), the alphaGAN architecture step and the FID Inception forward
# (2 images) on the emulated device, each also with --device cpu; then compares every step's
# loss, the TextNAS parameter checksum (after two Adam steps) and the sum of the Inception
# features between the two. Fails when a case does not report status=ok or a
# figure differs by more than REL_TOL (default 1e-4, relative: float reassociation between the
# CPU ops and the kernels stays far below it; a wrong kernel does not). Also checks the rows
# of --profile (one more step, each kernel entry timed) on the emulated device, and runs every
# case at full size as a dry run (below).
# Usage: tests/cuda_host_emu/bench.sh   (from the repository root; about 30 s of CPU)
set -e
B=build/cuda_host_emu
REL_TOL=${REL_TOL:-1e-4}
mkdir -p $B
tests/cuda_host_emu/build.sh
gcc -std=c11 -O2 -march=native -g -fopenmp -Wall -Wextra -Werror -I. -c bench/gpu/steps.c -o $B/steps.o
g++ -fopenmp -rdynamic -o $B/bench_gpu_steps_host_emu $B/steps.o $B/nasgan_cuda_emu.o -lz -lm -lpthread
cd $B
TEXT="--text-hidden 8 --text-len 8 --text-batch 4 --text-vocab 50 --text-embed 8"
GAN="--width 4 --disc-width 4 --gan-batch 1"
fail=0
# run CASE OPTIONS: both devices, stdout and stderr kept as bench_emu.CASE.DEVICE.{out,err}
run() {
    for dev in cpu cuda; do
        ./bench_gpu_steps_host_emu --device $dev --iters 1 --arena-mb 8 --profile $2 $1 > bench_emu.$1.$dev.out 2> bench_emu.$1.$dev.err
        cat bench_emu.$1.$dev.out
        grep -q "key=$1 device=$dev .*status=ok" bench_emu.$1.$dev.out || { echo "FAIL $1 on $dev:"; cat bench_emu.$1.$dev.err; fail=1; }
    done
}
# figures FILE: "label value" for each step loss and parameter checksum in a run's stderr
figures() {
    awk '$2 == "step" && $(NF - 1) == "loss" { print $1 "_step_" $3 "_loss", $NF }
         /sum of squares/ { for (i = 1; i < NF; i++) {
             if ($i == "sum" && $(i + 1) != "of") print $1 "_parameter_sum", $(i + 1)
             if ($i == "squares") print $1 "_parameter_sum_of_squares", $(i + 1) } }
         /sum of the features/ { print $1 "_feature_sum", $NF }' "$1" | tr -d ':,'
}
# compare CASE: the two devices' figures, each within REL_TOL
compare() {
    figures bench_emu.$1.cpu.err > bench_emu.$1.cpu.fig
    figures bench_emu.$1.cuda.err > bench_emu.$1.cuda.fig
    paste -d ' ' bench_emu.$1.cpu.fig bench_emu.$1.cuda.fig | awk -v tol="$REL_TOL" '
        function abs(x) { return x < 0 ? -x : x }
        $1 != $3 { print "figure mismatch: " $1 " / " $3; bad = 1; next }
        {   d = abs($2 - $4); r = d / (abs($2) > 0 ? abs($2) : 1)
            printf "%-40s cpu %-14s cuda %-14s |diff| %.3g (rel %.3g)\n", $1, $2, $4, d, r
            if (!(r <= tol)) bad = 1 }
        END { if (NR == 0) { print "no figures"; bad = 1 }; exit bad }' ||
        { echo "FAIL $1: cpu and emulated cuda differ by more than $REL_TOL"; fail=1; }
}
run textnas "$TEXT"
run alphagan_arch "$GAN"
run inception "--inc-batch 2"
# profile CASE: --profile's rows on the emulated device: some op rows, and the kernels' sum
# within the profiled step's wall time (each row times a part of the step)
profile() {
    awk -v k="$1" '$1 == "PROFILE" && $2 == "key=" k {
            for (i = 3; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
            if (f["op"] == "all") { step = f["ms"]; kern = f["kernels_ms"]; all++ } else rows++ }
        END { ok = all == 1 && rows >= 3 && kern > 0 && kern <= step
              printf "profile %s: %d rows, kernels %.1f ms of a %.1f ms step: %s\n", k, rows, kern, step, ok ? "ok" : "FAIL"
              exit !ok }' bench_emu.$1.cuda.out || fail=1
}
[ $fail = 0 ] && compare textnas && compare alphagan_arch && compare inception && profile textnas && profile alphagan_arch
# Every case once more at bench/gpu_check.sh's full sizes as a dry run (EMU_DRY=1: launches
# check their configuration and run nothing; cuBLAS checks its arguments and operand extents
# and computes nothing): launch limits, GEMM arguments, allocations and the device memory a
# step uses, at the real shapes, in seconds. peak_gpu_mb is the figure the GPU run reports.
for c in alphagan_D alphagan_G alphagan_arch textnas inception; do
    if EMU_DRY=1 ./bench_gpu_steps_host_emu --iters 1 "$c" > "dry.$c.out" 2> "dry.$c.err" &&
       grep -q "key=$c device=cuda .*status=ok" "dry.$c.out"; then
        echo "dry run at full size: $c ok, $(grep -o 'peak_gpu_mb=[0-9]*' "dry.$c.out") (device memory the step uses)"
    else
        echo "FAIL dry run at full size: $c"; tail -5 "dry.$c.err"; cat "dry.$c.out"; fail=1
    fi
done
[ $fail = 0 ] && echo "bench on the emulated device: ok" || echo "bench on the emulated device: FAILED"
exit $fail
