// BatchNorm2d (+ fused ReLU) on the GPU with the semantics of kernels/cpu/batchnorm.cpp.
// Training forward and backward run one block per channel over the [n, c, hw] view: the block
// reduces the channel in double in a fixed order (no atomics, so every run gives the same bits),
// then normalizes. Forward: two passes (mean, then squared deviations: no cancellation when
// |mean| >> std) and one writing pass. Backward: one reduction (sum g, sum g * (x - mean)) and one
// elementwise pass. Eval is elementwise.
#include "engine/error.h"
#include "kernels/cuda/block_reduce.h"
#include "kernels/cuda/launch.h"
#include "kernels/kernels.h"

namespace elr::kernels {
namespace {

using cuda_detail::block_sum;

constexpr int kChannelThreads = 512;
constexpr int kEvalThreads = 256;

// Element k of a channel's n*hw values: sample k / hw, position k % hw.
__device__ __forceinline__ int64_t channel_offset(int64_t k, int hw, int c, int ch) {
  const int64_t i = k / hw;
  return (i * c + ch) * hw + (k - i * hw);
}

__device__ __forceinline__ double relu_if(bool relu, double v) { return (relu && v < 0) ? 0.0 : v; }

__global__ void batchnorm_train_kernel(int n, int c, int hw, float momentum, float eps, bool relu,
                                       const float* __restrict__ x, const float* __restrict__ gamma,
                                       const float* __restrict__ beta, float* __restrict__ y,
                                       float* __restrict__ save_mean, float* __restrict__ save_invstd,
                                       float* __restrict__ running_mean, float* __restrict__ running_var) {
  const int ch = blockIdx.x;
  const int64_t count = int64_t(n) * hw;
  double sum[1] = {0.0};
  for (int64_t k = threadIdx.x; k < count; k += blockDim.x) sum[0] += double(x[channel_offset(k, hw, c, ch)]);
  block_sum(sum);
  const double mean = sum[0] / double(count);

  double squares[1] = {0.0};
  for (int64_t k = threadIdx.x; k < count; k += blockDim.x) {
    const double d = double(x[channel_offset(k, hw, c, ch)]) - mean;
    squares[0] += d * d;
  }
  block_sum(squares);
  const double invstd = 1.0 / sqrt(squares[0] / double(count) + double(eps));
  const double scale = double(gamma[ch]) * invstd, shift = double(beta[ch]);

  for (int64_t k = threadIdx.x; k < count; k += blockDim.x) {
    const int64_t o = channel_offset(k, hw, c, ch);
    y[o] = float(relu_if(relu, (double(x[o]) - mean) * scale + shift));
  }
  if (threadIdx.x == 0) {
    save_mean[ch] = float(mean);
    save_invstd[ch] = float(invstd);
    const double m = momentum;
    if (running_mean) running_mean[ch] = float((1.0 - m) * double(running_mean[ch]) + m * mean);
    if (running_var)
      running_var[ch] = float((1.0 - m) * double(running_var[ch]) + m * squares[0] / double(count - 1));
  }
}

__global__ void batchnorm_eval_kernel(int64_t total, int c, int hw, float eps, bool relu,
                                      const float* __restrict__ x, const float* __restrict__ gamma,
                                      const float* __restrict__ beta, const float* __restrict__ running_mean,
                                      const float* __restrict__ running_var, float* __restrict__ y) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const int ch = int((o / hw) % c);
    const double scale = double(gamma[ch]) / sqrt(double(running_var[ch]) + double(eps));
    y[o] = float(relu_if(relu, (double(x[o]) - double(running_mean[ch])) * scale + double(beta[ch])));
  }
}

// With g = dy masked by the ReLU (y > 0) and xhat = (x - mean) * invstd, per channel over N values:
//   dbeta = sum(g), dgamma = sum(g * xhat), dx = gamma * invstd / N * (N * g - dbeta - xhat * dgamma).
__global__ void batchnorm_backward_kernel(int n, int c, int hw, bool relu, const float* __restrict__ x,
                                          const float* __restrict__ y, const float* __restrict__ dy,
                                          const float* __restrict__ gamma, const float* __restrict__ save_mean,
                                          const float* __restrict__ save_invstd, float* __restrict__ dx,
                                          float* __restrict__ dgamma, float* __restrict__ dbeta) {
  const int ch = blockIdx.x;
  const int64_t count = int64_t(n) * hw;
  const double mean = double(save_mean[ch]), invstd = double(save_invstd[ch]);
  double sums[2] = {0.0, 0.0};  // sum(g), sum(g * (x - mean))
  for (int64_t k = threadIdx.x; k < count; k += blockDim.x) {
    const int64_t o = channel_offset(k, hw, c, ch);
    const double g = (relu && !(y[o] > 0.0f)) ? 0.0 : double(dy[o]);
    sums[0] += g;
    sums[1] += g * (double(x[o]) - mean);
  }
  block_sum(sums);
  const double grad_beta = sums[0], grad_gamma = sums[1] * invstd;
  const double n_values = double(count);
  const double factor = double(gamma[ch]) * invstd / n_values;
  for (int64_t k = threadIdx.x; k < count; k += blockDim.x) {
    const int64_t o = channel_offset(k, hw, c, ch);
    const double g = (relu && !(y[o] > 0.0f)) ? 0.0 : double(dy[o]);
    dx[o] = float(factor * (n_values * g - grad_beta - (double(x[o]) - mean) * invstd * grad_gamma));
  }
  if (threadIdx.x == 0) {
    if (dgamma) dgamma[ch] = float(grad_gamma);
    if (dbeta) dbeta[ch] = float(grad_beta);
  }
}

void check_shape(const char* op, const BatchNormShape& sh) {
  ELR_CHECK(sh.n > 0 && sh.c > 0 && sh.hw > 0, "{}: shape [n={}, c={}, hw={}] must be positive", op, sh.n, sh.c,
            sh.hw);
}

// Threads per channel block: enough for the channel, a multiple of 32, at most kChannelThreads.
int channel_threads(int64_t count) {
  const int64_t warps = (count + 31) / 32;
  return int(warps >= kChannelThreads / 32 ? kChannelThreads : warps * 32);
}

}  // namespace

void batchnorm_forward_train_cuda(const BatchNormShape& sh, const BatchNormParams& p, const float* x,
                                  const float* gamma, const float* beta, float* y, float* save_mean,
                                  float* save_invstd, float* running_mean, float* running_var, Stream stream) {
  check_shape("batchnorm_forward_train_cuda", sh);
  const int64_t count = int64_t(sh.n) * sh.hw;
  ELR_CHECK(count > 1,
            "batchnorm: training needs more than one value per channel to compute a batch variance "
            "(input [n={}, c={}, hw={}] has n*h*w = {}); use a larger batch or eval mode",
            sh.n, sh.c, sh.hw, count);
  ELR_LAUNCH(batchnorm_train_kernel, sh.c, channel_threads(count), 0, stream, sh.n, sh.c, sh.hw, p.momentum,
             p.eps, p.relu, x, gamma, beta, y, save_mean, save_invstd, running_mean, running_var);
}

void batchnorm_forward_eval_cuda(const BatchNormShape& sh, const BatchNormParams& p, const float* x,
                                 const float* gamma, const float* beta, const float* running_mean,
                                 const float* running_var, float* y, Stream stream) {
  check_shape("batchnorm_forward_eval_cuda", sh);
  const int64_t total = int64_t(sh.n) * sh.c * sh.hw;
  ELR_LAUNCH(batchnorm_eval_kernel, cuda_detail::elementwise_blocks(total, kEvalThreads), kEvalThreads, 0, stream,
             total, sh.c, sh.hw, p.eps, p.relu, x, gamma, beta, running_mean, running_var, y);
}

void batchnorm_backward_cuda(const BatchNormShape& sh, const BatchNormParams& p, const float* x, const float* y,
                             const float* dy, const float* gamma, const float* save_mean, const float* save_invstd,
                             float* dx, float* dgamma, float* dbeta, Stream stream) {
  check_shape("batchnorm_backward_cuda", sh);
  const int64_t count = int64_t(sh.n) * sh.hw;
  ELR_LAUNCH(batchnorm_backward_kernel, sh.c, channel_threads(count), 0, stream, sh.n, sh.c, sh.hw, p.relu, x, y,
             dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
}

}  // namespace elr::kernels
