// Fill, ReLU and the residual add (+ ReLU) on the GPU, as kernels/cpu/elementwise.cpp: grid-stride loops,
// every element independent. NaN passes through the ReLU (v < 0 is false for NaN).
#include "kernels/cuda/block_reduce.h"
#include "kernels/cuda/launch.h"
#include "kernels/kernels.h"

namespace elr::kernels {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float relu(float v) { return v < 0.0f ? 0.0f : v; }

#define ELR_GRID_STRIDE(i, count) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (count); i += int64_t(gridDim.x) * blockDim.x)

__global__ void fill_kernel(int64_t count, float value, float* __restrict__ y) {
  ELR_GRID_STRIDE(i, count) y[i] = value;
}

__global__ void relu_forward_kernel(int64_t count, const float* __restrict__ x, float* __restrict__ y) {
  ELR_GRID_STRIDE(i, count) y[i] = relu(x[i]);
}

__global__ void relu_backward_kernel(int64_t count, const float* __restrict__ y, const float* __restrict__ dy,
                                     float* __restrict__ dx) {
  ELR_GRID_STRIDE(i, count) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

__global__ void add_forward_kernel(int64_t count, bool relu_after, const float* __restrict__ a,
                                   const float* __restrict__ b, float* __restrict__ y) {
  ELR_GRID_STRIDE(i, count) {
    const float s = a[i] + b[i];
    y[i] = relu_after ? relu(s) : s;
  }
}

__global__ void add_backward_kernel(int64_t count, bool relu_after, const float* __restrict__ y,
                                    const float* __restrict__ dy, float* __restrict__ da, float* __restrict__ db) {
  ELR_GRID_STRIDE(i, count) {
    const float g = (!relu_after || y[i] > 0.0f) ? dy[i] : 0.0f;
    da[i] = g;
    db[i] = g;
  }
}

#undef ELR_GRID_STRIDE

int blocks_for(int64_t count) { return cuda_detail::elementwise_blocks(count, kThreads); }

}  // namespace

void fill_cuda(int64_t count, float value, float* y, Stream stream) {
  if (count <= 0) return;
  ELR_LAUNCH(fill_kernel, blocks_for(count), kThreads, 0, stream, count, value, y);
}

void relu_forward_cuda(int64_t count, const float* x, float* y, Stream stream) {
  if (count <= 0) return;
  ELR_LAUNCH(relu_forward_kernel, blocks_for(count), kThreads, 0, stream, count, x, y);
}

void relu_backward_cuda(int64_t count, const float* y, const float* dy, float* dx, Stream stream) {
  if (count <= 0) return;
  ELR_LAUNCH(relu_backward_kernel, blocks_for(count), kThreads, 0, stream, count, y, dy, dx);
}

void add_forward_cuda(int64_t count, bool relu, const float* a, const float* b, float* y, Stream stream) {
  if (count <= 0) return;
  ELR_LAUNCH(add_forward_kernel, blocks_for(count), kThreads, 0, stream, count, relu, a, b, y);
}

void add_backward_cuda(int64_t count, bool relu, const float* y, const float* dy, float* da, float* db,
                       Stream stream) {
  if (count <= 0) return;
  ELR_LAUNCH(add_backward_kernel, blocks_for(count), kThreads, 0, stream, count, relu, y, dy, da, db);
}

}  // namespace elr::kernels
