// Block reduction: grid-stride partial sums, warp shuffles, per-warp partials in shared memory,
// then warp 0 alone reduces them (other warps are then parked at no barrier at all).
#include "kernels/cuda/launch.h"
#include "tests/simt/test_kernels.h"

namespace elr::simt_tests {
namespace {

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

__global__ void block_sum_kernel(const float* __restrict__ x, float* __restrict__ partial, int n) {
  __shared__ float warp_partials[32];
  float v = 0.0f;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) v += x[i];
  v = warp_sum(v);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_partials[warp] = v;
  __syncthreads();
  if (warp == 0) {
    const int warps = blockDim.x / 32;
    v = lane < warps ? warp_partials[lane] : 0.0f;
    v = warp_sum(v);
    if (lane == 0) partial[blockIdx.x] = v;
  }
}

__global__ void axpy_kernel(float a, const float* __restrict__ x, float* __restrict__ y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}

}  // namespace

void block_sum(const float* x, float* partial, int n, int blocks, int threads, cudaStream_t s) {
  ELR_LAUNCH(block_sum_kernel, blocks, threads, 0, s, x, partial, n);
}

void axpy(float a, const float* x, float* y, int n, cudaStream_t s) {
  ELR_LAUNCH(axpy_kernel, (n + 255) / 256, 256, 0, s, a, x, y, n);
}

}  // namespace elr::simt_tests
