/* Host emulation of the CUDA runtime subset nasgan_cuda.cu uses (tests/cuda_host_emu/run.sh):
   "device" memory is host memory, a kernel launch runs every block in turn with one
   std::thread per CUDA thread (a std::barrier for __syncthreads, `static` for __shared__). */
#pragma once
#include <barrier>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>
#include <cmath>
typedef int cudaError_t;
enum { cudaSuccess = 0, cudaStreamNonBlocking = 1 };
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
typedef void *cudaStream_t;
struct cudaDeviceProp { char name[256]; size_t totalGlobalMem; int major, minor, multiProcessorCount; };
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
inline thread_local dim3 threadIdx;
inline dim3 blockIdx, blockDim, gridDim;
inline std::barrier<> *emu_bar;
#define __global__
#define __device__
#define __shared__ static
inline void __syncthreads() { emu_bar->arrive_and_wait(); }
/* Blocks run one after another (x fastest, then y, then z); threads of a block are numbered
   x fastest as on the GPU. One std::thread per thread of a block, created once per launch
   and reused for every block (creating grid x block threads dominated the run time). Per
   block: a fresh __syncthreads barrier that a thread leaves when its kernel body returns
   (exited threads no longer count, as on the GPU); `done` keeps a block's threads from
   starting the next block early; thread 0 sets up the next block between `done` and `start`. */
template <typename F> void emu_launch(dim3 grid, dim3 block, F f) {
    gridDim = grid;
    blockDim = block;
    unsigned nt = block.x * block.y * block.z;
    unsigned long nb = (unsigned long)grid.x * grid.y * grid.z;
    std::barrier<> start((std::ptrdiff_t)nt), done((std::ptrdiff_t)nt);
    std::unique_ptr<std::barrier<>> sync;
    auto setup = [&](unsigned long b) {
        blockIdx = dim3((unsigned)(b % grid.x), (unsigned)((b / grid.x) % grid.y), (unsigned)(b / ((unsigned long)grid.x * grid.y)));
        sync.reset(new std::barrier<>((std::ptrdiff_t)nt));
        emu_bar = sync.get();
    };
    std::vector<std::thread> ts;
    for (unsigned t = 0; t < nt; t++)
        ts.emplace_back([&, t] {
            threadIdx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
            for (unsigned long b = 0; b < nb; b++) {
                if (t == 0) setup(b);
                start.arrive_and_wait();
                f();
                emu_bar->arrive_and_drop();
                done.arrive_and_wait();
            }
        });
    for (auto &th : ts) th.join();
}
inline const char *cudaGetErrorString(cudaError_t) { return "emulated error"; }
inline cudaError_t cudaGetDeviceCount(int *n) { *n = 1; return 0; }
inline cudaError_t cudaMemGetInfo(size_t *fr, size_t *tot) { *fr = 0; *tot = 0; return 0; }
/* fresh "device" memory holds NaN bytes, so a kernel that reads what it never wrote shows */
inline cudaError_t cudaMalloc(void **p, size_t b) {
    *p = malloc(b ? b : 1);
    if (*p) memset(*p, 0xFF, b);
    return *p ? 0 : 2;
}
template <typename T> cudaError_t cudaMalloc(T **p, size_t b) { return cudaMalloc((void **)p, b); }
inline cudaError_t cudaFree(void *p) { free(p); return 0; }
inline cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t b, cudaMemcpyKind, cudaStream_t) { memmove(d, s, b); return 0; }
inline cudaError_t cudaMemsetAsync(void *p, int v, size_t b, cudaStream_t) { memset(p, v, b); return 0; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return 0; }
inline cudaError_t cudaGetLastError() { return 0; }
inline cudaError_t cudaSetDevice(int) { return 0; }
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int) {
    memset(p, 0, sizeof *p); strcpy(p->name, "host emulation"); p->major = 9; return 0;
}
/* pinned host memory and events: plain memory, and events that are always complete (every
   emulated copy and launch finishes before its call returns) */
typedef int cudaEvent_t;
enum { cudaHostAllocDefault = 0, cudaEventDisableTiming = 2 };
inline cudaError_t cudaHostAlloc(void **p, size_t b, unsigned) { *p = malloc(b ? b : 1); return *p ? 0 : 2; }
inline cudaError_t cudaFreeHost(void *p) { free(p); return 0; }
inline cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned) { *e = 1; return 0; }
inline cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return 0; }
inline cudaError_t cudaEventSynchronize(cudaEvent_t) { return 0; }
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, int) { *s = nullptr; return 0; }
