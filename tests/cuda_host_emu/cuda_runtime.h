/* Host emulation of the CUDA runtime subset nasgan_cuda.cu uses (tests/cuda_host_emu/run.sh):
   "device" memory is host memory; a kernel launch runs every block in turn, each CUDA thread
   of a block as a fiber (its own stack) on the calling thread: a fiber runs until __syncthreads or
   its end, then the next one; rounds repeat until every fiber has ended (kernels without a
   barrier: plain calls, see emu_launch). `static` stands for __shared__ (transform.py; with
   fibers, EMU_SHARED fills it with NaN bytes when a block first reaches it). Build with
   -DEMU_OS_THREADS for one std::thread per CUDA thread instead (a std::barrier for
   __syncthreads): the same results, many times slower (thread creation). Device memory is
   guarded against host access (see emu_device_scope). */
#pragma once
#include <barrier>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>
#include <cmath>
#include <ucontext.h>
#include <csignal>
#include <execinfo.h>
#include <sys/mman.h>
#include <unistd.h>
typedef int cudaError_t;
enum { cudaSuccess = 0, cudaStreamNonBlocking = 1 };
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
typedef void *cudaStream_t;
struct cudaDeviceProp { char name[256]; size_t totalGlobalMem; int major, minor, multiProcessorCount; };
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
inline dim3 blockIdx, blockDim, gridDim;
/* block b of a launch and thread t of a block, x fastest, as on the GPU */
inline dim3 emu_block_index(unsigned long b) {
    return dim3((unsigned)(b % gridDim.x), (unsigned)((b / gridDim.x) % gridDim.y), (unsigned)(b / ((unsigned long)gridDim.x * gridDim.y)));
}
inline dim3 emu_thread_index(unsigned t) {
    return dim3(t % blockDim.x, (t / blockDim.x) % blockDim.y, t / (blockDim.x * blockDim.y));
}
/* What a GPU refuses at launch ("invalid configuration argument"): an empty grid or block,
   more than 1024 threads a block, block z above 64, grid y or z above 65535. */
inline void emu_check_config(dim3 grid, dim3 block) {
    unsigned long nt = (unsigned long)block.x * block.y * block.z;
    if (!grid.x || !grid.y || !grid.z || !nt || nt > 1024 || block.x > 1024 || block.y > 1024 || block.z > 64 ||
        grid.y > 65535 || grid.z > 65535) {
        fprintf(stderr, "host emulation: invalid launch configuration grid (%u,%u,%u) block (%u,%u,%u): a GPU refuses it\n",
                grid.x, grid.y, grid.z, block.x, block.y, block.z);
        abort();
    }
}
/* EMU_REVERSE=1 in the environment: blocks, and the threads of a block between two barriers,
   run in reverse order. A kernel whose result depends on that order has a race on the GPU
   (a shared-memory read not separated by __syncthreads from another thread's write, or a
   block reading what another block writes); run.sh runs the op cases both ways. */
inline bool emu_reverse() { static const bool on = getenv("EMU_REVERSE") && atoi(getenv("EMU_REVERSE")); return on; }
inline unsigned long emu_order(unsigned long i, unsigned long n) { return emu_reverse() ? n - 1 - i : i; }
/* EMU_DRY=1 in the environment: a dry run. Launches check their configuration and run no
   block, cuBLAS checks its arguments and the extent of its operands and computes nothing,
   memsets and the NaN fill of fresh allocations are skipped; copies still happen. The host
   code runs at full size in seconds (results are garbage): launch configurations, GEMM
   arguments, allocations and the arena's peak at the real shapes (run.sh's dry case). */
inline bool emu_dry() { static const bool on = getenv("EMU_DRY") && atoi(getenv("EMU_DRY")); return on; }
/* what every launch does first: check the configuration, set gridDim and blockDim; *nt threads
   a block, *nb blocks */
inline void emu_launch_begin(dim3 grid, dim3 block, unsigned *nt, unsigned long *nb) {
    emu_check_config(grid, block);
    gridDim = grid;
    blockDim = block;
    *nt = block.x * block.y * block.z;
    *nb = emu_dry() ? 0 : (unsigned long)grid.x * grid.y * grid.z;
}
#define __global__
#define __device__
#define __launch_bounds__(...)   /* a compiler hint: no effect on the host */
#define __shared__ static
/* rounded single-precision arithmetic without FMA contraction (volatile keeps the compiler
   from fusing a product into a following sum, as the intrinsics do on a GPU) */
inline float __fmul_rn(float a, float b) { volatile float r = a * b; return r; }
inline float __fadd_rn(float a, float b) { volatile float r = a + b; return r; }
inline float __fsub_rn(float a, float b) { volatile float r = a - b; return r; }
inline float __fdiv_rn(float a, float b) { volatile float r = a / b; return r; }

/* Guard: "device" allocations are mapped inaccessible (PROT_NONE) except while the emulated
   runtime works on them (a kernel launch, a copy, a memset, a GEMM: emu_device_scope), so host
   code that reads or writes device memory directly -- a crash or garbage on a real GPU, and
   invisible in an emulation where device memory is host memory -- stops here with SIGSEGV and a
   message naming the allocation and a backtrace. EMU_NO_GUARD=1 in the environment: plain
   malloc'd "device" memory instead. */
struct emu_region { char *p; size_t n; };
inline std::vector<emu_region> emu_regions;
inline int emu_open_depth;
inline bool emu_guard_on() { static const bool on = !getenv("EMU_NO_GUARD"); return on; }
inline void emu_protect(int prot) { for (auto &r : emu_regions) mprotect(r.p, r.n, prot); }
struct emu_device_scope {
    emu_device_scope() { if (emu_open_depth++ == 0) emu_protect(PROT_READ | PROT_WRITE); }
    ~emu_device_scope() { if (--emu_open_depth == 0) emu_protect(PROT_NONE); }
};
/* Aborts unless bytes [p, p + bytes) lie in one device allocation (when guarded: the regions
   are known); `what` names the operand. */
inline void emu_check_extent(const void *p, size_t bytes, const char *what) {
    const char *a = (const char *)p;
    if (!emu_guard_on() || bytes == 0) return;
    for (auto &r : emu_regions)
        if (a >= r.p && a < r.p + r.n) {
            if ((size_t)(a - r.p) + bytes <= r.n) return;
            fprintf(stderr, "host emulation: %s ends %zu bytes past its %zu-byte device allocation\n", what,
                    (size_t)(a - r.p) + bytes - r.n, r.n);
            abort();
        }
    fprintf(stderr, "host emulation: %s at %p is not in device memory\n", what, p);
    abort();
}
inline void emu_segv(int, siginfo_t *si, void *) {
    char *a = (char *)si->si_addr, msg[256];
    for (auto &r : emu_regions)
        if (a >= r.p && a < r.p + r.n) {
            int n = snprintf(msg, sizeof msg, "host emulation: host code touched device memory at %p (offset %zu of a %zu-byte "
                             "allocation) outside any kernel, copy or GEMM; backtrace:\n", (void *)a, (size_t)(a - r.p), r.n);
            void *bt[48];
            if (write(2, msg, (size_t)n) < 0) abort();
            backtrace_symbols_fd(bt, backtrace(bt, 48), 2);
            abort();
        }
    signal(SIGSEGV, SIG_DFL); /* not a device address: the usual crash */
}
inline void emu_guard_install() {
    static bool done = false;
    struct sigaction sa;
    if (done) return;
    done = true;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = emu_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, nullptr);
}
#ifdef EMU_OS_THREADS
#define EMU_SHARED(a) ((void)0)
inline thread_local dim3 threadIdx;
inline std::barrier<> *emu_bar;
inline void __syncthreads() { emu_bar->arrive_and_wait(); }
template <typename F> void emu_launch(dim3 grid, dim3 block, F f) {   /* blocks in emu_order */
    unsigned nt;
    unsigned long nb;
    emu_launch_begin(grid, block, &nt, &nb);
    if (nb == 0) return;   /* a dry run (EMU_DRY) */
    emu_device_scope scope;
    for (unsigned long b = 0; b < nb; b++) {
        blockIdx = emu_block_index(emu_order(b, nb));
        std::barrier<> bar((std::ptrdiff_t)nt);
        emu_bar = &bar;
        std::vector<std::thread> ts;
        for (unsigned t = 0; t < nt; t++)
            ts.emplace_back([&, t] { threadIdx = emu_thread_index(t); f(); bar.arrive_and_drop(); });
        for (auto &th : ts) th.join();
    }
}
#else
/* Shared memory is a static array that outlives its block; so that a read of an element no
   thread of the current block wrote shows (as garbage would on the GPU), the first thread of
   each block to reach the declaration fills the array with NaN bytes. */
inline unsigned long emu_block_serial;          /* counts blocks over all launches */
inline std::vector<std::pair<void *, unsigned long>> emu_shared_seen;
inline void emu_shared_fresh(void *a, size_t bytes) {
    for (auto &e : emu_shared_seen)
        if (e.first == a) {
            if (e.second != emu_block_serial) { memset(a, 0xFF, bytes); e.second = emu_block_serial; }
            return;
        }
    memset(a, 0xFF, bytes);
    emu_shared_seen.push_back({a, emu_block_serial});
}
#define EMU_SHARED(a) emu_shared_fresh((void *)(a), sizeof(a))
inline dim3 threadIdx;                          /* set before each switch to a fiber */
inline constexpr size_t emu_stack_bytes = 256 << 10;
inline std::vector<std::unique_ptr<char[]>> emu_stacks; /* one per fiber, kept between launches */
inline unsigned emu_cur;
inline bool emu_direct;                         /* threads run as plain calls (see emu_launch) */
inline void (*emu_body)(void *);
inline void *emu_arg;
inline void emu_barrier_misuse() {
    fprintf(stderr, "host emulation: thread (%u,%u,%u) of block (%u,%u,%u) reached __syncthreads, thread 0 of the "
            "launch had ended without one: run with -DEMU_OS_THREADS\n", threadIdx.x, threadIdx.y, threadIdx.z,
            blockIdx.x, blockIdx.y, blockIdx.z);
    abort();
}
#if defined(__x86_64__) && !defined(EMU_UCONTEXT)
/* Fiber switch by hand: saves the callee-saved registers on the current stack, stores its
   pointer, loads the other. glibc's swapcontext also saves the signal mask, one system call
   per switch: ~80% of the emulated supernet check's time went there. EMU_UCONTEXT: the
   portable ucontext version (also used off x86-64). */
extern "C" void emu_switch_stack(void **save_sp, void *load_sp);
asm(".text\n"
    ".globl emu_switch_stack\n"
    ".type emu_switch_stack,@function\n"
    "emu_switch_stack:\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
    "  ret\n"
    ".size emu_switch_stack,.-emu_switch_stack\n");
struct emu_fiber { void *sp; bool done; };
inline std::vector<emu_fiber> emu_fibers;
inline void *emu_sched_sp;                      /* the launching code, between fibers */
[[noreturn]] inline void emu_fiber_entry() {
    emu_body(emu_arg);
    emu_fibers[emu_cur].done = true;
    emu_switch_stack(&emu_fibers[emu_cur].sp, emu_sched_sp);
    __builtin_unreachable();
}
inline void __syncthreads() {
    if (emu_direct) emu_barrier_misuse();
    emu_switch_stack(&emu_fibers[emu_cur].sp, emu_sched_sp);
}
/* A fresh stack as emu_switch_stack leaves it: six zero registers, then emu_fiber_entry as the
   return address, which then sees the stack alignment of a function just called. */
inline void emu_fiber_start(unsigned t) {
    uintptr_t top = ((uintptr_t)emu_stacks[t].get() + emu_stack_bytes) & ~(uintptr_t)15;
    void **sp = (void **)top;
    *--sp = nullptr;                            /* emu_fiber_entry's own (absent) return address */
    *--sp = (void *)emu_fiber_entry;
    for (int r = 0; r < 6; r++) *--sp = nullptr;
    emu_fibers[t].sp = sp;
    emu_fibers[t].done = false;
}
/* Runs fiber t to its next barrier or its end; 1 if it has not ended. */
inline unsigned emu_fiber_resume(unsigned t) {
    emu_cur = t;
    threadIdx = emu_thread_index(t);
    emu_switch_stack(&emu_sched_sp, emu_fibers[t].sp);
    return !emu_fibers[t].done;
}
#else
struct emu_fiber { ucontext_t ctx; bool done; };
inline ucontext_t emu_sched;                    /* the launching code, between fibers */
inline std::vector<emu_fiber> emu_fibers;
inline void emu_fiber_main() { emu_body(emu_arg); emu_fibers[emu_cur].done = true; } /* returns to emu_sched */
inline void __syncthreads() {
    if (emu_direct) emu_barrier_misuse();
    swapcontext(&emu_fibers[emu_cur].ctx, &emu_sched);
}
inline void emu_fiber_start(unsigned t) {
    emu_fiber &fb = emu_fibers[t];
    getcontext(&fb.ctx);
    fb.ctx.uc_stack.ss_sp = emu_stacks[t].get();
    fb.ctx.uc_stack.ss_size = emu_stack_bytes;
    fb.ctx.uc_link = &emu_sched;
    fb.done = false;
    makecontext(&fb.ctx, emu_fiber_main, 0);
}
/* Runs fiber t to its next barrier or its end; 1 if it has not ended. */
inline unsigned emu_fiber_resume(unsigned t) {
    emu_cur = t;
    threadIdx = emu_thread_index(t);
    swapcontext(&emu_sched, &emu_fibers[t].ctx);
    return !emu_fibers[t].done;
}
#endif
/* The first thread of the first block (in the order above) runs first as a fiber. When it
   ends without reaching __syncthreads the kernel is taken to have no barrier and every other
   thread runs as a plain call (most kernels: element loops; far cheaper than a context
   switch); a barrier reached after that aborts with a message. Otherwise each block runs as
   fibers in rounds. */
template <typename F> void emu_launch(dim3 grid, dim3 block, F f) {
    unsigned nt;
    unsigned long nb;
    emu_launch_begin(grid, block, &nt, &nb);
    if (nb == 0) return;   /* a dry run (EMU_DRY) */
    emu_device_scope scope;
    emu_body = [](void *p) { (*(F *)p)(); };
    emu_arg = &f;
    emu_fibers.resize(nt);
    while (emu_stacks.size() < nt) emu_stacks.emplace_back(new char[emu_stack_bytes]);
    emu_direct = false;
    for (unsigned long i = 0; i < nb; i++) {
        unsigned first = 0, running = 0;
        blockIdx = emu_block_index(emu_order(i, nb));
        emu_block_serial++;
        if (i == 0) {
            unsigned t0 = (unsigned)emu_order(0, nt);
            emu_fiber_start(t0);
            running = emu_fiber_resume(t0);
            emu_direct = !running;
            first = 1;
        }
        if (emu_direct) {
            for (unsigned k = first; k < nt; k++) { threadIdx = emu_thread_index((unsigned)emu_order(k, nt)); f(); }
            continue;
        }
        for (unsigned k = first; k < nt; k++) {
            unsigned t = (unsigned)emu_order(k, nt);
            emu_fiber_start(t);
            running += emu_fiber_resume(t);
        }
        while (running) { /* one round: every fiber to its next barrier or end */
            running = 0;
            for (unsigned k = 0; k < nt; k++) {
                unsigned t = (unsigned)emu_order(k, nt);
                if (!emu_fibers[t].done) running += emu_fiber_resume(t);
            }
        }
    }
    emu_direct = false;
}
#endif
inline const char *cudaGetErrorString(cudaError_t) { return "emulated error"; }
inline cudaError_t cudaGetDeviceCount(int *n) { *n = 1; return 0; }
/* an H200's 141 GiB, less the live allocations (tracked when guarded): the backend's peak
   of device memory in use then counts the emulated run's allocations */
inline cudaError_t cudaMemGetInfo(size_t *fr, size_t *tot);
/* n bytes (a multiple of the page size) of fresh mapping, not counted against the commit limit
   until touched (MAP_NORESERVE: a dry run reserves the benchmarks' 64 GiB arena as the GPU
   would and touches little of it); from 2 MiB up aligned to 2 MiB and
   advised onto transparent huge pages, so that the guard's mprotect calls change a few page
   directory entries instead of walking every 4 KiB page (the parity test's 256 MiB arena) */
inline void *emu_map(size_t &n) {
    const size_t huge = (size_t)2 << 20;
    char *m, *a;
    if (n < huge) {
        m = (char *)mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        return m == MAP_FAILED ? nullptr : m;
    }
    n = (n + huge - 1) / huge * huge;
    m = (char *)mmap(nullptr, n + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    a = (char *)(((uintptr_t)m + huge - 1) / huge * huge);
    if (a > m) munmap(m, (size_t)(a - m));
    munmap(a + n, (size_t)(m + huge - a));
    madvise(a, n, MADV_HUGEPAGE);
    return a;
}
/* fresh "device" memory holds NaN bytes, so a kernel that reads what it never wrote shows */
inline cudaError_t cudaMalloc(void **p, size_t b) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = ((b ? b : 1) + page - 1) / page * page;
    if (!emu_guard_on()) {
        *p = malloc(b ? b : 1);
        if (*p && !emu_dry()) memset(*p, 0xFF, b);
        return *p ? 0 : 2;
    }
    emu_guard_install();
    if (!(*p = emu_map(n))) return 2;
    if (!emu_dry()) memset(*p, 0xFF, b);
    emu_regions.push_back({(char *)*p, n});
    if (emu_open_depth == 0) mprotect(*p, n, PROT_NONE);
    return 0;
}
template <typename T> cudaError_t cudaMalloc(T **p, size_t b) { return cudaMalloc((void **)p, b); }
inline cudaError_t cudaMemGetInfo(size_t *fr, size_t *tot) {
    size_t used = 0;
    for (auto &r : emu_regions) used += r.n;
    *tot = (size_t)141 << 30;
    *fr = *tot - (used < *tot ? used : *tot);
    return 0;
}
inline cudaError_t cudaFree(void *p) {
    if (!emu_guard_on()) { free(p); return 0; }
    for (size_t i = 0; i < emu_regions.size(); i++)
        if (emu_regions[i].p == p) {
            munmap(p, emu_regions[i].n);
            emu_regions.erase(emu_regions.begin() + (std::ptrdiff_t)i);
            return 0;
        }
    return p ? 1 : 0;
}
inline cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t b, cudaMemcpyKind, cudaStream_t) {
    emu_device_scope scope;
    memmove(d, s, b);
    return 0;
}
inline cudaError_t cudaMemsetAsync(void *p, int v, size_t b, cudaStream_t) {
    if (emu_dry()) return 0;
    emu_device_scope scope;
    memset(p, v, b);
    return 0;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return 0; }
inline cudaError_t cudaGetLastError() { return 0; }
inline cudaError_t cudaSetDevice(int) { return 0; }
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int) {
    memset(p, 0, sizeof *p); strcpy(p->name, "host emulation"); p->major = 9; return 0;
}
/* pinned host memory and events: plain host memory (not guarded), and events that are always
   complete (every emulated copy and launch finishes before its call returns) */
typedef int cudaEvent_t;
enum { cudaHostAllocDefault = 0, cudaEventDisableTiming = 2 };
inline cudaError_t cudaHostAlloc(void **p, size_t b, unsigned) { *p = malloc(b ? b : 1); return *p ? 0 : 2; }
inline cudaError_t cudaFreeHost(void *p) { free(p); return 0; }
inline cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned) { *e = 1; return 0; }
inline cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return 0; }
inline cudaError_t cudaEventSynchronize(cudaEvent_t) { return 0; }
inline cudaError_t cudaEventDestroy(cudaEvent_t) { return 0; }
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, int) { *s = nullptr; return 0; }
inline cudaError_t cudaStreamDestroy(cudaStream_t) { return 0; }
