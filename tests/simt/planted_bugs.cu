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

}  // namespace elr::simt_tests
