// Kernels with deliberate bugs. The layer's tests launch them and require each bug to be caught;
// if the layer's checks break, those tests fail. Never copy these patterns.
#include "kernels/cuda/launch.h"
#include "tests/simt/test_kernels.h"

namespace elr::simt_tests {
namespace {

// Missing barrier (when with_barrier is false): threads read slots other threads have not written.
__global__ void reverse_chunks_kernel(const float* x, float* y, int n, bool with_barrier) {
  ELR_DYNAMIC_SHARED(float, chunk);
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  chunk[threadIdx.x] = i < n ? x[i] : 0.0f;
  if (with_barrier) __syncthreads();
  if (i < n) y[i] = chunk[blockDim.x - 1 - threadIdx.x];
}

// Return before a barrier.
__global__ void early_return_kernel(const float* x, float* y, int n) {
  __shared__ float staged[1024];
  const int t = threadIdx.x;
  if (t >= n) return;
  staged[t] = x[t];
  __syncthreads();
  y[t] = staged[n - 1 - t];
}

// Full mask although the last warp is partial.
__global__ void full_mask_reduce_kernel(const float* x, float* y) {
  float v = x[threadIdx.x];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  if (threadIdx.x % 32 == 0) y[threadIdx.x / 32] = v;
}

// Full mask although half the warp has returned.
__global__ void shuffle_after_exit_kernel(const float* x, float* y) {
  const int lane = threadIdx.x % 32;
  if (lane < 16) return;
  y[threadIdx.x] = __shfl_xor_sync(0xffffffffu, x[threadIdx.x], 1);
}

__global__ void divergent_barrier_kernel(float* y) {
  if (threadIdx.x < blockDim.x / 2) {
    __syncthreads();
    y[threadIdx.x] = 1.0f;
  } else {
    __syncthreads();
    y[threadIdx.x] = 2.0f;
  }
}

__global__ void warp_barrier_deadlock_kernel(float* y) {
  const int lane = threadIdx.x % 32;
  float v = float(lane);
  if (lane == 0) v = __shfl_sync(0x3u, v, 1);
  __syncthreads();
  y[threadIdx.x] = v;
}

// sums[i] += x[i]: correct on its own; the planted bug is in how the test orders it after the
// upload of sums (the multi-tensor list's old pattern).
__global__ void accumulate_kernel(float* sums, const float* x, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) sums[i] += x[i];
}

// Tree reduction in shared memory; without `with_barrier` a thread adds a partial sum another
// thread of the same step has not finished writing.
__global__ void tree_sum_kernel(const float* x, float* out, bool with_barrier) {
  __shared__ float partial[256];
  const int t = threadIdx.x;
  partial[t] = x[blockIdx.x * blockDim.x + t];
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (unsigned(t) < stride) partial[t] += partial[t + stride];
    if (with_barrier) __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = partial[0];
}

// Only the first warp fills the cache, but every thread reads its own slot.
__global__ void uninitialized_shared_kernel(float* y) {
  __shared__ float cache[64];
  if (threadIdx.x < 32) cache[threadIdx.x] = 1.0f;
  __syncthreads();
  y[threadIdx.x] = cache[threadIdx.x];
}

// Lane 0 of each warp publishes a value in shared memory for its warp; without the __syncwarp the
// other lanes may read it before it is written.
__global__ void warp_broadcast_kernel(float* y, bool with_syncwarp) {
  __shared__ float value[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) value[warp] = float(warp + 1);
  if (with_syncwarp) __syncwarp();
  y[threadIdx.x] = value[warp];
}

// i <= n instead of i < n: the last thread writes one float past the end of y.
__global__ void off_by_one_kernel(float* y, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i <= n) y[i] = 2.0f;
}

// Every thread writes the same element: a write conflict inside one launch.
__global__ void same_element_kernel(float* y) { y[0] = float(threadIdx.x); }

__global__ void fill_kernel(float* y, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = 1.0f;
}

__global__ void __launch_bounds__(128) bounded_fill_kernel(float* y) { y[threadIdx.x] = 1.0f; }

// Sums `count` floats staged through dynamic shared memory (count * 4 bytes of it).
__global__ void dynamic_shared_sum_kernel(const float* x, float* out, int count) {
  ELR_DYNAMIC_SHARED(float, staged);
  for (int i = threadIdx.x; i < count; i += blockDim.x) staged[i] = x[i];
  __syncthreads();
  if (threadIdx.x == 0) {
    float s = 0.0f;
    for (int i = 0; i < count; ++i) s += staged[i];
    out[0] = s;
  }
}

#if !defined(__CUDACC__)  // ptxas rejects more than 48 KB of static shared memory; the CPU layer must too
__global__ void big_static_shared_kernel(float* y) {
  __shared__ float big[16384];  // 64 KB
  big[threadIdx.x] = 1.0f;
  __syncthreads();
  y[threadIdx.x] = big[(threadIdx.x + 1) % blockDim.x];
}
#endif

}  // namespace

void reverse_chunks(const float* x, float* y, int n, int threads, bool with_barrier, cudaStream_t s) {
  ELR_LAUNCH(reverse_chunks_kernel, (n + threads - 1) / threads, threads, threads * sizeof(float), s,
             x, y, n, with_barrier);
}
void early_return(const float* x, float* y, int n, int threads, cudaStream_t s) {
  ELR_LAUNCH(early_return_kernel, 1, threads, 0, s, x, y, n);
}
void full_mask_reduce(const float* x, float* y, int threads, cudaStream_t s) {
  ELR_LAUNCH(full_mask_reduce_kernel, 1, threads, 0, s, x, y);
}
void shuffle_after_exit(const float* x, float* y, int threads, cudaStream_t s) {
  ELR_LAUNCH(shuffle_after_exit_kernel, 1, threads, 0, s, x, y);
}
void divergent_barrier(float* y, int threads, cudaStream_t s) {
  ELR_LAUNCH(divergent_barrier_kernel, 1, threads, 0, s, y);
}
void warp_barrier_deadlock(float* y, cudaStream_t s) {
  ELR_LAUNCH(warp_barrier_deadlock_kernel, 1, 64, 0, s, y);
}
void accumulate(float* sums, const float* x, int n, cudaStream_t s) {
  ELR_LAUNCH(accumulate_kernel, (n + 127) / 128, 128, 0, s, sums, x, n);
}
void tree_sum(const float* x, float* out, int blocks, bool with_barrier, cudaStream_t s) {
  ELR_LAUNCH(tree_sum_kernel, blocks, 256, 0, s, x, out, with_barrier);
}
void uninitialized_shared(float* y, cudaStream_t s) { ELR_LAUNCH(uninitialized_shared_kernel, 1, 64, 0, s, y); }
void warp_broadcast(float* y, bool with_syncwarp, cudaStream_t s) {
  ELR_LAUNCH(warp_broadcast_kernel, 1, 64, 0, s, y, with_syncwarp);
}
void off_by_one(float* y, int n, cudaStream_t s) { ELR_LAUNCH(off_by_one_kernel, (n + 64) / 64, 64, 0, s, y, n); }
void same_element(float* y, cudaStream_t s) { ELR_LAUNCH(same_element_kernel, 1, 64, 0, s, y); }
void fill_2048_threads(float* y, cudaStream_t s) { ELR_LAUNCH(fill_kernel, 1, 2048, 0, s, y, 2048); }
void bounded_fill(float* y, int threads, cudaStream_t s) { ELR_LAUNCH(bounded_fill_kernel, 1, threads, 0, s, y); }
void dynamic_shared_sum(const float* x, float* out, int count, cudaStream_t s) {
  ELR_LAUNCH(dynamic_shared_sum_kernel, 1, 256, count * sizeof(float), s, x, out, count);
}
cudaError_t opt_in_dynamic_shared(int bytes) {
  return cudaFuncSetAttribute(dynamic_shared_sum_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
}
#if !defined(__CUDACC__)
void big_static_shared(float* y, cudaStream_t s) { ELR_LAUNCH(big_static_shared_kernel, 1, 64, 0, s, y); }
#endif

}  // namespace elr::simt_tests
