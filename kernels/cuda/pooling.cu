// 2x2 stride-2 max-pool, 3x3 stride-2 max-pool (padding 1) and global average pool on the GPU, as
// kernels/cpu/pooling.cpp. Max-pool backward runs one thread per input element (each reads the
// arg-max of the windows that hold it), so it needs no memset, no scatter and no atomics. Global
// average pool reduces one plane per warp, in double.
#include <limits>

#include "engine/error.h"
#include "kernels/cuda/block_reduce.h"
#include "kernels/cuda/launch.h"
#include "kernels/kernels.h"

namespace elr::kernels {
namespace {

using cuda_detail::is_nan;

constexpr int kThreads = 256;

__global__ void maxpool2x2_forward_kernel(int64_t outputs, int h, int w, const float* __restrict__ x,
                                          float* __restrict__ y, int32_t* __restrict__ argmax) {
  const int oh = h / 2, ow = w / 2;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < outputs; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t plane = o / (int64_t(oh) * ow);
    const int rem = int(o - plane * oh * ow), i = rem / ow, j = rem - (rem / ow) * ow;
    // Window in row-major order; strict > keeps the first maximum, a NaN wins (as the CPU).
    int64_t best = plane * h * w + int64_t(2 * i) * w + 2 * j;
    const int64_t window[3] = {best + 1, best + w, best + w + 1};
    for (int t = 0; t < 3; ++t) {
      const int64_t k = window[t];
      if (x[k] > x[best] || (is_nan(x[k]) && !is_nan(x[best]))) best = k;
    }
    y[o] = x[best];
    argmax[o] = int32_t(best);
  }
}

__global__ void maxpool2x2_backward_kernel(int64_t inputs, int h, int w, const int32_t* __restrict__ argmax,
                                           const float* __restrict__ dy, float* __restrict__ dx) {
  const int oh = h / 2, ow = w / 2;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < inputs; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t plane = k / (int64_t(h) * w);
    const int rem = int(k - plane * h * w), r = rem / w, s = rem - (rem / w) * w;
    float g = 0.0f;
    if (r / 2 < oh && s / 2 < ow) {  // rows/columns past an odd edge belong to no window
      const int64_t o = plane * oh * ow + int64_t(r / 2) * ow + s / 2;
      if (argmax[o] == k) g = dy[o];
    }
    dx[k] = g;
  }
}

// One thread per output; the window is clipped to the image (the padding is -inf and never wins).
__global__ void maxpool3x3s2_forward_kernel(int64_t outputs, int h, int w, int oh, int ow, const float* __restrict__ x,
                                            float* __restrict__ y, int32_t* __restrict__ argmax) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < outputs; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t plane = o / (int64_t(oh) * ow);
    const int rem = int(o - plane * oh * ow), i = rem / ow, j = rem - (rem / ow) * ow;
    const int r0 = max(2 * i - 1, 0), r1 = min(2 * i + 1, h - 1);
    const int s0 = max(2 * j - 1, 0), s1 = min(2 * j + 1, w - 1);
    const int64_t in_base = plane * h * w;
    // Row-major order; strict > keeps the first maximum, a NaN wins (as the CPU).
    int64_t best = in_base + int64_t(r0) * w + s0;
    for (int r = r0; r <= r1; ++r) {
      for (int s = s0; s <= s1; ++s) {
        const int64_t k = in_base + int64_t(r) * w + s;
        if (x[k] > x[best] || (is_nan(x[k]) && !is_nan(x[best]))) best = k;
      }
    }
    y[o] = x[best];
    argmax[o] = int32_t(best);
  }
}

// Input row r lies in the windows of output rows r/2 .. (r+1)/2 (at most two), likewise columns:
// the gradient adds those outputs in output order, as the CPU's scatter does.
__global__ void maxpool3x3s2_backward_kernel(int64_t inputs, int h, int w, int oh, int ow,
                                             const int32_t* __restrict__ argmax, const float* __restrict__ dy,
                                             float* __restrict__ dx) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < inputs; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t plane = k / (int64_t(h) * w);
    const int rem = int(k - plane * h * w), r = rem / w, s = rem - (rem / w) * w;
    const int i1 = min((r + 1) / 2, oh - 1), j1 = min((s + 1) / 2, ow - 1);
    float g = 0.0f;
    for (int i = r / 2; i <= i1; ++i) {
      for (int j = s / 2; j <= j1; ++j) {
        const int64_t o = (plane * oh + i) * ow + j;
        if (argmax[o] == k) g += dy[o];
      }
    }
    dx[k] = g;
  }
}

// One warp per (n, c) plane; lanes stride over the plane in double, then a shuffle tree.
__global__ void global_avgpool_forward_kernel(int planes, int hw, const float* __restrict__ x, float* __restrict__ y) {
  const int plane = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (plane < planes) {  // uniform over the warp: the whole warp skips or runs the shuffles
    const float* xp = x + int64_t(plane) * hw;
    double sum = 0.0;
    for (int k = lane; k < hw; k += 32) sum += double(xp[k]);
    sum = cuda_detail::warp_sum(sum);
    if (lane == 0) y[plane] = float(sum / double(hw));
  }
}

__global__ void global_avgpool_backward_kernel(int64_t inputs, int hw, const float* __restrict__ dy,
                                               float* __restrict__ dx) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < inputs; k += int64_t(gridDim.x) * blockDim.x)
    dx[k] = float(double(dy[k / hw]) / double(hw));
}

void check_shape(const char* op, const PoolShape& sh) {
  ELR_CHECK(sh.n > 0 && sh.c > 0 && sh.h > 0 && sh.w > 0, "{}: shape [n={}, c={}, h={}, w={}] must be positive",
            op, sh.n, sh.c, sh.h, sh.w);
}

int64_t numel(const PoolShape& sh) { return int64_t(sh.n) * sh.c * sh.h * sh.w; }

}  // namespace

void maxpool2x2_forward_cuda(const PoolShape& sh, const float* x, float* y, int32_t* argmax, Stream stream) {
  check_shape("maxpool2x2_forward_cuda", sh);
  ELR_CHECK(numel(sh) <= std::numeric_limits<int32_t>::max(),
            "maxpool2x2_forward_cuda: input [n={}, c={}, h={}, w={}] is too large for int32 arg-max indices", sh.n,
            sh.c, sh.h, sh.w);
  const int64_t outputs = int64_t(sh.n) * sh.c * (sh.h / 2) * (sh.w / 2);
  if (outputs == 0) return;
  ELR_LAUNCH(maxpool2x2_forward_kernel, cuda_detail::elementwise_blocks(outputs, kThreads), kThreads, 0, stream,
             outputs, sh.h, sh.w, x, y, argmax);
}

void maxpool2x2_backward_cuda(const PoolShape& sh, const int32_t* argmax, const float* dy, float* dx, Stream stream) {
  check_shape("maxpool2x2_backward_cuda", sh);
  const int64_t inputs = numel(sh);
  ELR_LAUNCH(maxpool2x2_backward_kernel, cuda_detail::elementwise_blocks(inputs, kThreads), kThreads, 0, stream,
             inputs, sh.h, sh.w, argmax, dy, dx);
}

void maxpool3x3s2_forward_cuda(const PoolShape& sh, const float* x, float* y, int32_t* argmax, Stream stream) {
  check_shape("maxpool3x3s2_forward_cuda", sh);
  ELR_CHECK(numel(sh) <= std::numeric_limits<int32_t>::max(),
            "maxpool3x3s2_forward_cuda: input [n={}, c={}, h={}, w={}] is too large for int32 arg-max indices", sh.n,
            sh.c, sh.h, sh.w);
  const int oh = maxpool3x3s2_size(sh.h), ow = maxpool3x3s2_size(sh.w);
  const int64_t outputs = int64_t(sh.n) * sh.c * oh * ow;
  ELR_LAUNCH(maxpool3x3s2_forward_kernel, cuda_detail::elementwise_blocks(outputs, kThreads), kThreads, 0, stream,
             outputs, sh.h, sh.w, oh, ow, x, y, argmax);
}

void maxpool3x3s2_backward_cuda(const PoolShape& sh, const int32_t* argmax, const float* dy, float* dx,
                                Stream stream) {
  check_shape("maxpool3x3s2_backward_cuda", sh);
  const int64_t inputs = numel(sh);
  ELR_LAUNCH(maxpool3x3s2_backward_kernel, cuda_detail::elementwise_blocks(inputs, kThreads), kThreads, 0, stream,
             inputs, sh.h, sh.w, maxpool3x3s2_size(sh.h), maxpool3x3s2_size(sh.w), argmax, dy, dx);
}

void global_avgpool_forward_cuda(const PoolShape& sh, const float* x, float* y, Stream stream) {
  check_shape("global_avgpool_forward_cuda", sh);
  const int planes = sh.n * sh.c, warps_per_block = kThreads / 32;
  ELR_LAUNCH(global_avgpool_forward_kernel, (planes + warps_per_block - 1) / warps_per_block, kThreads, 0, stream,
             planes, sh.h * sh.w, x, y);
}

void global_avgpool_backward_cuda(const PoolShape& sh, const float* dy, float* dx, Stream stream) {
  check_shape("global_avgpool_backward_cuda", sh);
  const int64_t inputs = numel(sh);
  ELR_LAUNCH(global_avgpool_backward_kernel, cuda_detail::elementwise_blocks(inputs, kThreads), kThreads, 0, stream,
             inputs, sh.h * sh.w, dy, dx);
}

}  // namespace elr::kernels
