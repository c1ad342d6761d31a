// BatchNorm2d (+ fused ReLU) on the GPU with the semantics of kernels/cpu/batchnorm.cpp.
// Training forward and backward split each channel of the [n, c, hw] view into chunks of about
// kValuesPerBlock values, one block per (channel, chunk), so even a few channels fill the GPU:
//   1. a partials kernel: each block reduces its chunk in double and writes its sums to the
//      workspace (forward: sum(x - k), sum((x - k)^2) with k a value of the channel, so a large
//      mean does not cancel the variance; backward: sum g, sum g * (x - mean));
//   2. a finishing kernel on the same grid: thread 0 of every block adds the channel's partials in
//      chunk order (so every block, and every run, gets the same bits; no atomics), then the block
//      writes its chunk; the chunk-0 block writes the per-channel outputs.
// Values are walked as (sample, position) with a running offset: no 64-bit division per value.
// Eval is elementwise.
#include "engine/error.h"
#include "kernels/cuda/block_reduce.h"
#include "kernels/cuda/launch.h"
#include "kernels/kernels.h"

namespace elr::kernels {
namespace {

using cuda_detail::block_sum;

constexpr int kChunkThreads = 256;
constexpr int64_t kValuesPerBlock = 2048;
constexpr int kMaxChunks = 128;
constexpr int kEvalThreads = 256;

// How a channel's count = n * hw values are split: `chunks` blocks of `per` values (the last one
// shorter).
struct Split {
  int chunks = 1;
  int64_t per = 1;
};

Split split_of(const BatchNormShape& sh) {
  const int64_t count = int64_t(sh.n) * sh.hw;
  const int64_t wanted = (count + kValuesPerBlock - 1) / kValuesPerBlock;
  Split s;
  s.chunks = int(wanted < 1 ? 1 : (wanted > kMaxChunks ? kMaxChunks : wanted));
  s.per = (count + s.chunks - 1) / s.chunks;
  return s;
}

// Threads per block: enough for a chunk, a multiple of 32, at most kChunkThreads.
int chunk_threads(int64_t per) {
  const int64_t warps = (per + 31) / 32;
  return int(warps >= kChunkThreads / 32 ? kChunkThreads : warps * 32);
}

// Walks the values k = begin + threadIdx.x, k += blockDim.x, k < end of channel ch; value k is
// sample k / hw, position k % hw, at offset (sample * c + ch) * hw + position. One division when
// the walk starts, then the offset advances by a fixed step and one carry into the next sample.
struct ChannelWalk {
  int64_t k, end, offset, step, carry;
  int position, hw, position_step;

  __device__ ChannelWalk(int c, int hw_, int ch, int64_t begin, int64_t end_) : end(end_), hw(hw_) {
    k = begin + threadIdx.x;
    const int64_t sample = k / hw;
    position = int(k - sample * hw);
    offset = (sample * c + ch) * hw + position;
    const int64_t row_stride = int64_t(c) * hw;
    position_step = int(blockDim.x % unsigned(hw));
    step = int64_t(blockDim.x / unsigned(hw)) * row_stride + position_step;
    carry = row_stride - hw;
  }
  __device__ bool more() const { return k < end; }
  __device__ void next() {
    k += blockDim.x;
    offset += step;
    position += position_step;
    if (position >= hw) {
      position -= hw;
      offset += carry;
    }
  }
};

// The chunk of block (blockIdx.x = channel, blockIdx.y = chunk).
__device__ __forceinline__ ChannelWalk chunk_walk(int c, int hw, int64_t count, int64_t per) {
  const int64_t begin = int64_t(blockIdx.y) * per;
  const int64_t end = begin + per < count ? begin + per : count;
  return ChannelWalk(c, hw, blockIdx.x, begin < count ? begin : count, end);
}

// The sums of the channel's chunks, added in chunk order by thread 0; returned in every thread.
__device__ void channel_sums(const double* __restrict__ partials, double (&sums)[2]) {
  __shared__ double shared[2];
  if (threadIdx.x == 0) {
    const double* p = partials + int64_t(blockIdx.x) * gridDim.y * 2;
    double a = 0.0, b = 0.0;
    for (unsigned chunk = 0; chunk < gridDim.y; ++chunk) {
      a += p[2 * chunk];
      b += p[2 * chunk + 1];
    }
    shared[0] = a, shared[1] = b;
  }
  __syncthreads();
  sums[0] = shared[0], sums[1] = shared[1];
}

__device__ __forceinline__ void write_partials(double* __restrict__ partials, const double (&sums)[2]) {
  if (threadIdx.x == 0) {
    double* p = partials + (int64_t(blockIdx.x) * gridDim.y + blockIdx.y) * 2;
    p[0] = sums[0], p[1] = sums[1];
  }
}

__device__ __forceinline__ double relu_if(bool relu, double v) { return (relu && v < 0) ? 0.0 : v; }

// The shift k of channel ch: its first value.
__device__ __forceinline__ double channel_shift(const float* x, int hw, int ch) { return double(x[int64_t(ch) * hw]); }

__global__ void batchnorm_train_partials_kernel(int c, int hw, int64_t count, int64_t per,
                                                const float* __restrict__ x, double* __restrict__ partials) {
  const double shift = channel_shift(x, hw, blockIdx.x);
  double sums[2] = {0.0, 0.0};  // sum(x - k), sum((x - k)^2)
  for (ChannelWalk w = chunk_walk(c, hw, count, per); w.more(); w.next()) {
    const double d = double(x[w.offset]) - shift;
    sums[0] += d;
    sums[1] += d * d;
  }
  block_sum(sums);
  write_partials(partials, sums);
}

__global__ void batchnorm_train_finish_kernel(int c, int hw, int64_t count, int64_t per, float momentum, float eps,
                                              bool relu, const float* __restrict__ x,
                                              const float* __restrict__ gamma, const float* __restrict__ beta,
                                              const double* __restrict__ partials, float* __restrict__ y,
                                              float* __restrict__ save_mean, float* __restrict__ save_invstd,
                                              float* __restrict__ running_mean, float* __restrict__ running_var) {
  const int ch = blockIdx.x;
  double sums[2];
  channel_sums(partials, sums);
  const double n_values = double(count);
  const double shifted_mean = sums[0] / n_values;
  const double mean = channel_shift(x, hw, ch) + shifted_mean;
  const double squared_deviations = fmax(0.0, sums[1] - sums[0] * shifted_mean);  // sum (x - mean)^2
  const double invstd = 1.0 / sqrt(squared_deviations / n_values + double(eps));
  const double scale = double(gamma[ch]) * invstd, shift = double(beta[ch]);
  for (ChannelWalk w = chunk_walk(c, hw, count, per); w.more(); w.next())
    y[w.offset] = float(relu_if(relu, (double(x[w.offset]) - mean) * scale + shift));
  if (blockIdx.y == 0 && threadIdx.x == 0) {
    save_mean[ch] = float(mean);
    save_invstd[ch] = float(invstd);
    const double m = momentum;
    if (running_mean) running_mean[ch] = float((1.0 - m) * double(running_mean[ch]) + m * mean);
    if (running_var)
      running_var[ch] = float((1.0 - m) * double(running_var[ch]) + m * squared_deviations / (n_values - 1.0));
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

// g = dy masked by the ReLU (y > 0).
__device__ __forceinline__ double masked_grad(bool relu, const float* y, const float* dy, int64_t o) {
  return (relu && !(y[o] > 0.0f)) ? 0.0 : double(dy[o]);
}

__global__ void batchnorm_backward_partials_kernel(int c, int hw, int64_t count, int64_t per, bool relu,
                                                   const float* __restrict__ x, const float* __restrict__ y,
                                                   const float* __restrict__ dy, const float* __restrict__ save_mean,
                                                   double* __restrict__ partials) {
  const double mean = double(save_mean[blockIdx.x]);
  double sums[2] = {0.0, 0.0};  // sum(g), sum(g * (x - mean))
  for (ChannelWalk w = chunk_walk(c, hw, count, per); w.more(); w.next()) {
    const double g = masked_grad(relu, y, dy, w.offset);
    sums[0] += g;
    sums[1] += g * (double(x[w.offset]) - mean);
  }
  block_sum(sums);
  write_partials(partials, sums);
}

// With xhat = (x - mean) * invstd, per channel over N values:
//   dbeta = sum(g), dgamma = sum(g * xhat), dx = gamma * invstd / N * (N * g - dbeta - xhat * dgamma).
__global__ void batchnorm_backward_finish_kernel(int c, int hw, int64_t count, int64_t per, bool relu,
                                                 const float* __restrict__ x, const float* __restrict__ y,
                                                 const float* __restrict__ dy, const float* __restrict__ gamma,
                                                 const float* __restrict__ save_mean,
                                                 const float* __restrict__ save_invstd,
                                                 const double* __restrict__ partials, float* __restrict__ dx,
                                                 float* __restrict__ dgamma, float* __restrict__ dbeta) {
  const int ch = blockIdx.x;
  double sums[2];
  channel_sums(partials, sums);
  const double mean = double(save_mean[ch]), invstd = double(save_invstd[ch]);
  const double grad_beta = sums[0], grad_gamma = sums[1] * invstd;
  const double n_values = double(count);
  const double factor = double(gamma[ch]) * invstd / n_values;
  for (ChannelWalk w = chunk_walk(c, hw, count, per); w.more(); w.next()) {
    const double g = masked_grad(relu, y, dy, w.offset);
    dx[w.offset] = float(factor * (n_values * g - grad_beta - (double(x[w.offset]) - mean) * invstd * grad_gamma));
  }
  if (blockIdx.y == 0 && threadIdx.x == 0) {
    if (dgamma) dgamma[ch] = float(grad_gamma);
    if (dbeta) dbeta[ch] = float(grad_beta);
  }
}

void check_shape(const char* op, const BatchNormShape& sh) {
  ELR_CHECK(sh.n > 0 && sh.c > 0 && sh.hw > 0, "{}: shape [n={}, c={}, hw={}] must be positive", op, sh.n, sh.c,
            sh.hw);
}

double* partials_of(const char* op, const BatchNormShape& sh, const Workspace& workspace) {
  const size_t needed = batchnorm_workspace_bytes(sh);
  ELR_CHECK(workspace.data && workspace.bytes >= needed,
            "{}: the workspace has {} bytes at {}; shape [n={}, c={}, hw={}] needs {} (batchnorm_workspace_bytes)",
            op, workspace.bytes, workspace.data, sh.n, sh.c, sh.hw, needed);
  return static_cast<double*>(workspace.data);
}

}  // namespace

size_t batchnorm_workspace_bytes(const BatchNormShape& sh) {
  return size_t(sh.c > 0 ? sh.c : 0) * size_t(split_of(sh).chunks) * 2 * sizeof(double);
}

void batchnorm_forward_train_cuda(const BatchNormShape& sh, const BatchNormParams& p, const float* x,
                                  const float* gamma, const float* beta, float* y, float* save_mean,
                                  float* save_invstd, float* running_mean, float* running_var, Workspace workspace,
                                  Stream stream) {
  check_shape("batchnorm_forward_train_cuda", sh);
  const int64_t count = int64_t(sh.n) * sh.hw;
  ELR_CHECK(count > 1,
            "batchnorm: training needs more than one value per channel to compute a batch variance "
            "(input [n={}, c={}, hw={}] has n*h*w = {}); use a larger batch or eval mode",
            sh.n, sh.c, sh.hw, count);
  double* partials = partials_of("batchnorm_forward_train_cuda", sh, workspace);
  const Split s = split_of(sh);
  const dim3 grid(unsigned(sh.c), unsigned(s.chunks));
  ELR_LAUNCH(batchnorm_train_partials_kernel, grid, chunk_threads(s.per), 0, stream, sh.c, sh.hw, count, s.per, x,
             partials);
  ELR_LAUNCH(batchnorm_train_finish_kernel, grid, chunk_threads(s.per), 0, stream, sh.c, sh.hw, count, s.per,
             p.momentum, p.eps, p.relu, x, gamma, beta, partials, y, save_mean, save_invstd, running_mean,
             running_var);
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
                             float* dx, float* dgamma, float* dbeta, Workspace workspace, Stream stream) {
  check_shape("batchnorm_backward_cuda", sh);
  const int64_t count = int64_t(sh.n) * sh.hw;
  double* partials = partials_of("batchnorm_backward_cuda", sh, workspace);
  const Split s = split_of(sh);
  const dim3 grid(unsigned(sh.c), unsigned(s.chunks));
  ELR_LAUNCH(batchnorm_backward_partials_kernel, grid, chunk_threads(s.per), 0, stream, sh.c, sh.hw, count, s.per,
             p.relu, x, y, dy, save_mean, partials);
  ELR_LAUNCH(batchnorm_backward_finish_kernel, grid, chunk_threads(s.per), 0, stream, sh.c, sh.hw, count, s.per,
             p.relu, x, y, dy, gamma, save_mean, save_invstd, partials, dx, dgamma, dbeta);
}

}  // namespace elr::kernels
