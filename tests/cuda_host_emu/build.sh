#!/bin/sh
# Builds build/cuda_host_emu/nasgan_cuda_emu.o: nasgan_cuda.cu's kernels compiled for the host
# against the fake CUDA runtime and cuBLAS in this folder (see run.sh). Skipped when the object
# is newer than all its sources and was built with the same EMU_CXXFLAGS (e.g.
# EMU_CXXFLAGS=-DEMU_OS_THREADS: one std::thread per CUDA thread). HOST_EMU_BUILD=dir: another
# build folder. Run from the repository root.
set -e
B=${HOST_EMU_BUILD:-build/cuda_host_emu}
O=$B/nasgan_cuda_emu.o
FLAGS="-std=c++20 -O1 -g -Wall -Wextra -Wno-unused-parameter -Wno-unknown-pragmas ${EMU_CXXFLAGS:-}"
mkdir -p $B
stale=0
[ -f $O ] && [ "$(cat $O.flags 2>/dev/null)" = "$FLAGS" ] || stale=1
for f in nasgan_cuda.cu nasgan.h tests/cuda_host_emu/cuda_runtime.h tests/cuda_host_emu/cublas_v2.h tests/cuda_host_emu/transform.py; do
    [ "$f" -nt $O ] && stale=1
done
[ $stale = 1 ] || exit 0
python3 tests/cuda_host_emu/transform.py nasgan_cuda.cu $B/nasgan_cuda_emu.cpp
g++ $FLAGS -Itests/cuda_host_emu -I. -c $B/nasgan_cuda_emu.cpp -o $O
echo "$FLAGS" > $O.flags
