#!/bin/sh
# The example programs with --device cuda at their full published sizes, linked with
# nasgan_cuda.cu's kernels compiled for the host (build.sh), as dry runs (EMU_DRY=1, see
# cuda_runtime.h: launches check their configuration and run no block, cuBLAS checks its
# arguments and operands and computes nothing). Results are garbage; what is checked is that
# every launch and every GEMM of a real-size run is one a GPU accepts, that device memory is
# only touched by the device, and that each program's device path runs end to end (data,
# steps, evaluation, checkpoint, outputs). A few steps each:
#   gan_search --preset paper-s (G 256, D 128, batch 64), one epoch on 1,280 Fashion-MNIST images
#   gan_train on its genotype (G 256, D 128), 4 G steps, FID/KID/IS with the random-weight
#             Inception (bench/gpu/steps.c --write-inception's weights; 20 images)
#   text_search --preset nni (H 256, batch 128, 24 layers) with enas and with darts, on WordNet
#   text_train on the ENAS architecture (H 256), 3 steps
# Needs build/obj/*.o (`make examples`), Fashion-MNIST and WordNet (Debian packages), and
# EMU_LDLIBS (the Makefile's LDLIBS). Usage: tests/cuda_host_emu/dry_examples.sh (repository root)
set -e
B=build/cuda_host_emu
D=$B/dry_examples
tests/cuda_host_emu/build.sh
rm -rf $D
mkdir -p $D
for p in gan_search gan_train text_search text_train; do
    # shellcheck disable=SC2086
    g++ -fopenmp -rdynamic -o $D/$p build/obj/$p.o $B/nasgan_cuda_emu.o ${EMU_LDLIBS:--lz -lm} -lpthread
done
# the random Inception weights of bench/gpu/steps.c (bench.sh builds it for the emulated device)
if [ ! -x $B/bench_gpu_steps_host_emu ]; then
    gcc -std=c11 -O2 -march=native -g -fopenmp -Wall -Wextra -Werror -I. -c bench/gpu/steps.c -o $B/steps.o
    g++ -fopenmp -rdynamic -o $B/bench_gpu_steps_host_emu $B/steps.o $B/nasgan_cuda_emu.o -lz -lm -lpthread
fi
fail=0
# dry NAME PROGRAM ARGS...: one dry run, its log kept as $D/NAME.log
dry() {
    name=$1 prog=$2; shift 2
    if EMU_DRY=1 "$D/$prog" --device cuda "$@" > "$D/$name.log" 2>&1; then
        echo "dry run at full size: $name ok"
    else
        echo "FAIL dry run at full size: $name (exit $?; $D/$name.log):"; tail -5 "$D/$name.log"; fail=1
    fi
}
dry gan_search gan_search --preset paper-s --epochs 1 --limit 1280 --gpu-mem 24 --samples 8 --fid-net none --out $D/gs
$B/bench_gpu_steps_host_emu --write-inception $D/inception.ngck
dry gan_train gan_train --genotype $D/gs/genotype.json --limit 1280 --g-steps 4 --gpu-mem 24 --samples 8 \
    --fid-net none --fid-inception $D/inception.ngck --inception-real-n 20 --eval-n 20 --out $D/gt
TS="--preset nni --epochs 1 --child-steps 3 --ctrl-steps 2 --eval-limit 256"
# shellcheck disable=SC2086
dry text_search_enas text_search $TS --export 2 --gpu-mem 16 --out $D/ts
# shellcheck disable=SC2086
dry text_search_darts text_search $TS --method darts --gpu-mem 60 --out $D/td
dry text_train text_train --arch $D/ts/arch.json --epochs 1 --steps-per-epoch 3 --gpu-mem 16 --out $D/tt
[ $fail = 0 ] && echo "dry runs of the example programs: ok" || echo "dry runs of the example programs: FAILED"
exit $fail
