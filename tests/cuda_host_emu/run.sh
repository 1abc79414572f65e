#!/bin/sh
# Runs tests/test_cuda.c against nasgan_cuda.cu compiled for the HOST (no GPU, no nvcc):
# fake cuda_runtime.h / cublas_v2.h in this folder, kernel launches rewritten to run every
# block with each CUDA thread as a fiber (cuda_runtime.h), cuBLAS as naive column-major
# loops (build.sh). It checks the kernels' index arithmetic, launch bounds and GEMM arguments
# against the CPU ops; it says nothing about real-GPU behaviour (memory model, warp timing,
# cuBLAS itself). tests/cuda_host_emu/bench.sh runs whole training steps the same way.
# Usage: tests/cuda_host_emu/run.sh [case-name-substring ...]   (from the repository root)
#   "+NAME" runs only the whole-program checks whose name contains NAME: +refusals, +optim,
#   +determinism, +supernet, +search; "" runs every op case. HOST_EMU_BUILD=dir: another
#   build folder. EMU_REVERSE=1: blocks, and threads between barriers, run in reverse order
#   (with the forward run, catches shared-memory races and order-dependent blocks).
set -e
B=${HOST_EMU_BUILD:-build/cuda_host_emu}
mkdir -p $B
tests/cuda_host_emu/build.sh
gcc -std=c11 -O2 -march=native -g -fopenmp -Wall -Wextra -I. -c tests/test_cuda.c -o $B/test_cuda.o
g++ -fopenmp -rdynamic -o $B/test_cuda_host_emu $B/test_cuda.o $B/nasgan_cuda_emu.o -lz -lm -lpthread
cd $B
if [ $# -eq 0 ]; then ./test_cuda_host_emu; else for f in "$@"; do ./test_cuda_host_emu "$f"; done; fi
