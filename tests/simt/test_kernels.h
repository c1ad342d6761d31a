// Host entry points of the layer's test kernels (tests/simt/*.cu). Pointers are device memory;
// each function only launches, so the same calls run on the GPU and on the CPU layer.
#pragma once
#include <driver_types.h>

namespace elr::simt_tests {

// partial[b] = sum of x over block b's grid-stride share (warp shuffles + shared partials).
void block_sum(const float* x, float* partial, int n, int blocks, int threads, cudaStream_t s);
// C[M,N] = A[M,K] * B[K,N], row-major, 16x16 shared-memory tiles.
void tiled_sgemm(const float* a, const float* b, float* c, int m, int n, int k, cudaStream_t s);
// Per-channel mean and biased variance of x[N,C,HW] (BN statistics); one block per channel,
// double accumulation in dynamic shared memory.
void channel_stats(const float* x, float* mean, float* var, int n, int c, int hw, int threads,
                   cudaStream_t s);
// y = a * x + y, elementwise (no barriers: exercises the direct path).
void axpy(float a, const float* x, float* y, int n, cudaStream_t s);

// Warp intrinsics, __syncthreads_count and atomics on one 64-thread block; out holds
// kIntrinsicSlots ints per thread, counter two unsigned, fsum one float (all zeroed first).
constexpr int kIntrinsicSlots = 8;
void intrinsics(int* out, unsigned* counter, float* fsum, cudaStream_t s);

// ---- planted bugs: each must be caught --------------------------------------------------------
// Reverses each block's chunk through shared memory; `with_barrier` false omits __syncthreads.
void reverse_chunks(const float* x, float* y, int n, int threads, bool with_barrier, cudaStream_t s);
// Threads past n return before a __syncthreads the others reach.
void early_return(const float* x, float* y, int n, int threads, cudaStream_t s);
// Full-mask warp reduction launched with a block that is not a multiple of 32.
void full_mask_reduce(const float* x, float* y, int threads, cudaStream_t s);
// The lower half of each warp returns, the upper half shuffles with a full mask.
void shuffle_after_exit(const float* x, float* y, int threads, cudaStream_t s);
// Half the block waits at one __syncthreads, half at another.
void divergent_barrier(float* y, int threads, cudaStream_t s);
// Lane 0 shuffles with lane 1 while lane 1 waits at __syncthreads.
void warp_barrier_deadlock(float* y, cudaStream_t s);
// sums[i] += x[i] (the test orders it wrongly after the upload of sums).
void accumulate(float* sums, const float* x, int n, cudaStream_t s);
// out[b] = sum of block b's 256 values of x by a shared-memory tree; without the barrier between
// steps, a read races with the write of the step before.
void tree_sum(const float* x, float* out, int blocks, bool with_barrier, cudaStream_t s);
// 64 threads read 64 shared floats of which only the first 32 were written.
void uninitialized_shared(float* y, cudaStream_t s);
// y[t] = 1 + t's warp, published by lane 0 through shared memory; without the __syncwarp the
// other lanes' reads race with lane 0's write.
void warp_broadcast(float* y, bool with_syncwarp, cudaStream_t s);
// Writes y[0..n], one float past the end of y[n].
void off_by_one(float* y, int n, cudaStream_t s);
// 64 threads of one launch all write y[0].
void same_element(float* y, cudaStream_t s);
// A block of 2048 threads, twice the limit.
void fill_2048_threads(float* y, cudaStream_t s);
// A kernel with __launch_bounds__(128), launched with `threads` threads.
void bounded_fill(float* y, int threads, cudaStream_t s);
// out[0] = sum of x[0..count) staged in count * 4 bytes of dynamic shared memory; above 48 KB it
// needs opt_in_dynamic_shared first (cudaFuncSetAttribute).
void dynamic_shared_sum(const float* x, float* out, int count, cudaStream_t s);
cudaError_t opt_in_dynamic_shared(int bytes);
#if !defined(__CUDACC__)
// 64 KB of static __shared__ memory, which nvcc refuses to compile (so only the CPU build has it).
void big_static_shared(float* y, cudaStream_t s);
#endif

}  // namespace elr::simt_tests
