// Lab: fused BatchNorm + ReLU, training forward and backward, over the [n, c, hw] view.
// Variants (each validated against batchnorm_*_cpu before it is timed):
//   1 production   batchnorm_*_cuda: each channel split over blocks of about 2048 values; a partials
//                  kernel (shifted sums in double) and a finishing kernel on the same grid that adds
//                  the channel's partials in order and writes its chunk (x read twice in each pass).
//   2 one-block    the previous production: one block per channel; forward = mean pass,
//                  squared-deviation pass, writing pass (x read 3 times); backward = one reduction
//                  + one pass; a 64-bit division per value for its offset.
//   3 welford      one block per channel; per-thread Welford in float, merged by count in a fixed
//                  tree (double): x read twice in the forward (backward: production's).
//   4 split        S blocks per channel write Welford partials (or backward sums); a finishing
//                  kernel merges them by count in order; an elementwise kernel normalizes.
// The production variant must also give the same bits on a repeat; its largest difference from
// the one-block variant is printed.
// Usage: elr_lab_bn_relu [--small] [--repeats N]
#include <cstring>
#include <string>
#include <vector>

#include "bench/labs/lab_timing.h"
#include "kernels/cuda/block_reduce.h"
#include "kernels/cuda/launch.h"
#include "kernels/kernels.h"

using namespace elr;
using namespace elr::labs;
namespace k = elr::kernels;

namespace {

constexpr int kThreads = 256;  // power of two: the Welford tree halves it

__device__ __forceinline__ int64_t channel_offset(int64_t i, int hw, int c, int ch) {
  const int64_t row = i / hw;
  return (row * c + ch) * hw + (i - row * hw);
}

// Chan's merge of (count, mean, M2) triples.
__device__ __forceinline__ void welford_merge(double& n, double& mean, double& m2, double nb, double mb, double m2b) {
  if (nb == 0) return;
  const double total = n + nb, delta = mb - mean;
  mean += delta * nb / total;
  m2 += m2b + delta * delta * n * nb / total;
  n = total;
}

// Per-thread Welford in float over [begin, end) with stride blockDim, then a fixed tree merge in
// shared memory. Result in thread 0's (n, mean, m2).
__device__ void block_welford(const float* x, int hw, int c, int ch, int64_t begin, int64_t end, double& n,
                              double& mean, double& m2) {
  __shared__ double sn[kThreads], smean[kThreads], sm2[kThreads];
  float fmean = 0, fm2 = 0;
  int count = 0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const float v = x[channel_offset(i, hw, c, ch)];
    ++count;
    const float d = v - fmean;
    fmean += d / float(count);
    fm2 += d * (v - fmean);
  }
  sn[threadIdx.x] = count, smean[threadIdx.x] = fmean, sm2[threadIdx.x] = fm2;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (int(threadIdx.x) < stride) {
      double a = sn[threadIdx.x], am = smean[threadIdx.x], a2 = sm2[threadIdx.x];
      welford_merge(a, am, a2, sn[threadIdx.x + stride], smean[threadIdx.x + stride], sm2[threadIdx.x + stride]);
      sn[threadIdx.x] = a, smean[threadIdx.x] = am, sm2[threadIdx.x] = a2;
    }
    __syncthreads();
  }
  n = sn[0], mean = smean[0], m2 = sm2[0];
}

__device__ __forceinline__ void finish_channel(int ch, double count, double mean, double m2, float eps,
                                               float momentum, float* save_mean, float* save_invstd,
                                               float* running_mean, float* running_var) {
  save_mean[ch] = float(mean);
  save_invstd[ch] = float(1.0 / sqrt(m2 / count + double(eps)));
  running_mean[ch] = float((1.0 - momentum) * double(running_mean[ch]) + momentum * mean);
  running_var[ch] = float((1.0 - momentum) * double(running_var[ch]) + momentum * m2 / (count - 1));
}

__global__ void normalize_kernel(int64_t total, int c, int hw, const float* x, const float* gamma, const float* beta,
                                 const float* mean, const float* invstd, float* y) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const int ch = int((o / hw) % c);
    const float v = (x[o] - mean[ch]) * invstd[ch] * gamma[ch] + beta[ch];
    y[o] = v < 0.0f ? 0.0f : v;
  }
}

// ---- variant 2: one block per channel, two-pass statistics (the previous production kernels) ----
__global__ void one_block_forward_kernel(int n, int c, int hw, float momentum, float eps, const float* x,
                                         const float* gamma, const float* beta, float* y, float* save_mean,
                                         float* save_invstd, float* running_mean, float* running_var) {
  const int ch = blockIdx.x;
  const int64_t count = int64_t(n) * hw;
  double sum[1] = {0.0};
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) sum[0] += double(x[channel_offset(i, hw, c, ch)]);
  k::cuda_detail::block_sum(sum);
  const double mean = sum[0] / double(count);
  double squares[1] = {0.0};
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
    const double d = double(x[channel_offset(i, hw, c, ch)]) - mean;
    squares[0] += d * d;
  }
  k::cuda_detail::block_sum(squares);
  const double invstd = 1.0 / sqrt(squares[0] / double(count) + double(eps));
  const double scale = double(gamma[ch]) * invstd, shift = double(beta[ch]);
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
    const int64_t o = channel_offset(i, hw, c, ch);
    const double v = (double(x[o]) - mean) * scale + shift;
    y[o] = float(v < 0 ? 0.0 : v);
  }
  if (threadIdx.x == 0)
    finish_channel(ch, double(count), mean, squares[0], eps, momentum, save_mean, save_invstd, running_mean,
                   running_var);
}

__global__ void one_block_backward_kernel(int n, int c, int hw, const float* x, const float* y, const float* dy,
                                          const float* gamma, const float* save_mean, const float* save_invstd,
                                          float* dx, float* dgamma, float* dbeta) {
  const int ch = blockIdx.x;
  const int64_t count = int64_t(n) * hw;
  const double mean = double(save_mean[ch]), invstd = double(save_invstd[ch]);
  double sums[2] = {0.0, 0.0};
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
    const int64_t o = channel_offset(i, hw, c, ch);
    const double g = y[o] > 0.0f ? double(dy[o]) : 0.0;
    sums[0] += g;
    sums[1] += g * (double(x[o]) - mean);
  }
  k::cuda_detail::block_sum(sums);
  const double grad_beta = sums[0], grad_gamma = sums[1] * invstd, n_values = double(count);
  const double factor = double(gamma[ch]) * invstd / n_values;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
    const int64_t o = channel_offset(i, hw, c, ch);
    const double g = y[o] > 0.0f ? double(dy[o]) : 0.0;
    dx[o] = float(factor * (n_values * g - grad_beta - (double(x[o]) - mean) * invstd * grad_gamma));
  }
  if (threadIdx.x == 0) dgamma[ch] = float(grad_gamma), dbeta[ch] = float(grad_beta);
}

// Threads of a one-block-per-channel launch: enough for the channel, a multiple of 32, at most 512.
int one_block_threads(int64_t count) {
  const int64_t warps = (count + 31) / 32;
  return int(warps >= 16 ? 512 : warps * 32);
}

// ---- variant 3: one block per channel, Welford ----
__global__ void welford_forward_kernel(int n, int c, int hw, float eps, float momentum, const float* x,
                                       const float* gamma, const float* beta, float* y, float* save_mean,
                                       float* save_invstd, float* running_mean, float* running_var) {
  const int ch = blockIdx.x;
  const int64_t count = int64_t(n) * hw;
  double cnt, mean, m2;
  block_welford(x, hw, c, ch, 0, count, cnt, mean, m2);
  const double invstd = 1.0 / sqrt(m2 / cnt + double(eps));
  const float fmean = float(mean), scale = float(double(gamma[ch]) * invstd), shift = beta[ch];
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
    const int64_t o = channel_offset(i, hw, c, ch);
    const float v = (x[o] - fmean) * scale + shift;
    y[o] = v < 0.0f ? 0.0f : v;
  }
  if (threadIdx.x == 0) finish_channel(ch, cnt, mean, m2, eps, momentum, save_mean, save_invstd, running_mean, running_var);
}

// ---- variant 4: S blocks per channel ----
__global__ void split_partials_kernel(int n, int c, int hw, int splits, const float* x, double* partials) {
  const int ch = blockIdx.x, s = blockIdx.y;
  const int64_t count = int64_t(n) * hw, per = (count + splits - 1) / splits;
  const int64_t begin = s * per, end = begin + per < count ? begin + per : count;
  double cnt, mean, m2;
  block_welford(x, hw, c, ch, begin < count ? begin : count, end, cnt, mean, m2);
  if (threadIdx.x == 0) {
    double* p = partials + (int64_t(ch) * splits + s) * 3;
    p[0] = cnt, p[1] = mean, p[2] = m2;
  }
}

__global__ void split_finish_kernel(int c, int splits, float eps, float momentum, const double* partials,
                                    float* save_mean, float* save_invstd, float* running_mean, float* running_var) {
  const int ch = blockIdx.x * blockDim.x + threadIdx.x;
  if (ch < c) {
    double cnt = 0, mean = 0, m2 = 0;
    for (int s = 0; s < splits; ++s) {  // merged by count in split order
      const double* p = partials + (int64_t(ch) * splits + s) * 3;
      welford_merge(cnt, mean, m2, p[0], p[1], p[2]);
    }
    finish_channel(ch, cnt, mean, m2, eps, momentum, save_mean, save_invstd, running_mean, running_var);
  }
}

__global__ void split_backward_partials_kernel(int n, int c, int hw, int splits, const float* x, const float* y,
                                               const float* dy, const float* mean, double* partials) {
  const int ch = blockIdx.x, s = blockIdx.y;
  const int64_t count = int64_t(n) * hw, per = (count + splits - 1) / splits;
  const int64_t begin = s * per, end = begin + per < count ? begin + per : count;
  const float m = mean[ch];
  double sums[2] = {0, 0};
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const int64_t o = channel_offset(i, hw, c, ch);
    const float g = y[o] > 0.0f ? dy[o] : 0.0f;
    sums[0] += g;
    sums[1] += double(g) * double(x[o] - m);
  }
  k::cuda_detail::block_sum(sums);
  if (threadIdx.x == 0) {
    partials[(int64_t(ch) * splits + s) * 2] = sums[0];
    partials[(int64_t(ch) * splits + s) * 2 + 1] = sums[1];
  }
}

__global__ void split_backward_finish_kernel(int c, int splits, const double* partials, const float* invstd,
                                             float* dgamma, float* dbeta) {
  const int ch = blockIdx.x * blockDim.x + threadIdx.x;
  if (ch < c) {
    double g = 0, gx = 0;
    for (int s = 0; s < splits; ++s) g += partials[(int64_t(ch) * splits + s) * 2], gx += partials[(int64_t(ch) * splits + s) * 2 + 1];
    dbeta[ch] = float(g);
    dgamma[ch] = float(gx * double(invstd[ch]));
  }
}

__global__ void split_backward_dx_kernel(int64_t total, int c, int hw, int64_t count, const float* x, const float* y,
                                         const float* dy, const float* gamma, const float* mean, const float* invstd,
                                         const float* dgamma, const float* dbeta, float* dx) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const int ch = int((o / hw) % c);
    const float g = y[o] > 0.0f ? dy[o] : 0.0f, is = invstd[ch];
    const float xhat = (x[o] - mean[ch]) * is;
    dx[o] = gamma[ch] * is / float(count) * (float(count) * g - dbeta[ch] - xhat * dgamma[ch]);
  }
}

int split_count(const k::BatchNormShape& sh, int sms) {
  const int64_t count = int64_t(sh.n) * sh.hw;
  int s = (4 * sms + sh.c - 1) / sh.c;                    // about four blocks per SM in total
  s = int(std::min<int64_t>(s, (count + 4095) / 4096));  // at least 4096 values per block
  return std::max(1, std::min(s, 256));
}

struct Buffers {
  float *x, *dy, *gamma, *beta, *y, *mean, *invstd, *rmean, *rvar, *dx, *dgamma, *dbeta;
  double* partials;
  void* workspace;  // the production kernels'
};

// Largest |a - b| / (1 + |b|).
double max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])) / (1.0 + std::fabs(double(b[i]))));
  return worst;
}

void run_shape(const k::BatchNormShape& sh, const Options& opt, L2Flusher& flusher, int sms, bool& all_valid) {
  const size_t total = size_t(sh.n) * sh.c * sh.hw;
  const std::string shape = "n=" + std::to_string(sh.n) + ",c=" + std::to_string(sh.c) + ",hw=" + std::to_string(sh.hw);
  k::BatchNormParams p;
  p.relu = true;
  const auto x = random_values(total, 1, 1.0f, 0.5f), dy = random_values(total, 2);
  const auto gamma = random_values(sh.c, 3, 0.5f, 1.0f), beta = random_values(sh.c, 4);
  const std::vector<float> rm0(sh.c, 0.0f), rv0(sh.c, 1.0f);

  // CPU reference.
  std::vector<float> y(total), mean(sh.c), invstd(sh.c), rm = rm0, rv = rv0, dx(total), dgamma(sh.c), dbeta(sh.c);
  k::batchnorm_forward_train_cpu<float>(sh, p, x.data(), gamma.data(), beta.data(), y.data(), mean.data(),
                                        invstd.data(), rm.data(), rv.data());
  k::batchnorm_backward_cpu<float>(sh, p, x.data(), y.data(), dy.data(), gamma.data(), mean.data(), invstd.data(),
                                   dx.data(), dgamma.data(), dbeta.data());
  double dx_scale = 0;
  for (float v : dx) dx_scale = std::max(dx_scale, double(std::fabs(v)));

  const int splits = split_count(sh, sms);
  Buffers b{upload(x), upload(dy), upload(gamma), upload(beta), upload(y), upload(mean), upload(invstd), upload(rm0),
            upload(rv0), upload(dx), upload(dgamma), upload(dbeta), nullptr, nullptr};
  check(cudaMalloc(reinterpret_cast<void**>(&b.partials), size_t(sh.c) * splits * 3 * sizeof(double)), "cudaMalloc");
  const size_t workspace_bytes = k::batchnorm_workspace_bytes(sh);
  check(cudaMalloc(&b.workspace, workspace_bytes), "cudaMalloc");
  const k::Workspace ws{b.workspace, workspace_bytes};
  const int64_t count = int64_t(sh.n) * sh.hw;
  const int ew_blocks = int(std::min<int64_t>((int64_t(total) + kThreads - 1) / kThreads, 8 * sms));

  auto forward = [&](int variant) {
    switch (variant) {
      case 1:
        k::batchnorm_forward_train_cuda(sh, p, b.x, b.gamma, b.beta, b.y, b.mean, b.invstd, b.rmean, b.rvar, ws,
                                        nullptr);
        break;
      case 2:
        ELR_LAUNCH(one_block_forward_kernel, sh.c, one_block_threads(count), 0, nullptr, sh.n, sh.c, sh.hw, p.momentum,
                   p.eps, b.x, b.gamma, b.beta, b.y, b.mean, b.invstd, b.rmean, b.rvar);
        break;
      case 3:
        ELR_LAUNCH(welford_forward_kernel, sh.c, kThreads, 0, nullptr, sh.n, sh.c, sh.hw, p.eps, p.momentum, b.x,
                   b.gamma, b.beta, b.y, b.mean, b.invstd, b.rmean, b.rvar);
        break;
      case 4:
        ELR_LAUNCH(split_partials_kernel, dim3(sh.c, splits), kThreads, 0, nullptr, sh.n, sh.c, sh.hw, splits, b.x,
                   b.partials);
        ELR_LAUNCH(split_finish_kernel, (sh.c + 127) / 128, 128, 0, nullptr, sh.c, splits, p.eps, p.momentum,
                   b.partials, b.mean, b.invstd, b.rmean, b.rvar);
        ELR_LAUNCH(normalize_kernel, ew_blocks, kThreads, 0, nullptr, int64_t(total), sh.c, sh.hw, b.x, b.gamma,
                   b.beta, b.mean, b.invstd, b.y);
        break;
    }
  };
  auto backward = [&](int variant) {
    if (variant == 2) {
      ELR_LAUNCH(one_block_backward_kernel, sh.c, one_block_threads(count), 0, nullptr, sh.n, sh.c, sh.hw, b.x, b.y,
                 b.dy, b.gamma, b.mean, b.invstd, b.dx, b.dgamma, b.dbeta);
    } else if (variant == 4) {
      ELR_LAUNCH(split_backward_partials_kernel, dim3(sh.c, splits), kThreads, 0, nullptr, sh.n, sh.c, sh.hw,
                 splits, b.x, b.y, b.dy, b.mean, b.partials);
      ELR_LAUNCH(split_backward_finish_kernel, (sh.c + 127) / 128, 128, 0, nullptr, sh.c, splits, b.partials,
                 b.invstd, b.dgamma, b.dbeta);
      ELR_LAUNCH(split_backward_dx_kernel, ew_blocks, kThreads, 0, nullptr, int64_t(total), sh.c, sh.hw, count, b.x,
                 b.y, b.dy, b.gamma, b.mean, b.invstd, b.dgamma, b.dbeta, b.dx);
    } else {  // variants 1 and 3 share the production backward
      k::batchnorm_backward_cuda(sh, p, b.x, b.y, b.dy, b.gamma, b.mean, b.invstd, b.dx, b.dgamma, b.dbeta, ws,
                                 nullptr);
    }
  };
  // Every output of a forward (from fresh running statistics) and a backward (from the reference
  // forward's outputs), back to back.
  auto outputs = [&](int variant) {
    check(cudaMemcpy(b.rmean, rm0.data(), sh.c * sizeof(float), cudaMemcpyHostToDevice), "H2D");
    check(cudaMemcpy(b.rvar, rv0.data(), sh.c * sizeof(float), cudaMemcpyHostToDevice), "H2D");
    forward(variant);
    std::vector<float> all;
    for (const auto& v : {download(b.y, total), download(b.mean, sh.c), download(b.invstd, sh.c),
                          download(b.rmean, sh.c), download(b.rvar, sh.c)})
      all.insert(all.end(), v.begin(), v.end());
    check(cudaMemcpy(b.y, y.data(), total * sizeof(float), cudaMemcpyHostToDevice), "H2D");
    check(cudaMemcpy(b.mean, mean.data(), sh.c * sizeof(float), cudaMemcpyHostToDevice), "H2D");
    check(cudaMemcpy(b.invstd, invstd.data(), sh.c * sizeof(float), cudaMemcpyHostToDevice), "H2D");
    backward(variant);
    for (const auto& v : {download(b.dx, total), download(b.dgamma, sh.c), download(b.dbeta, sh.c)})
      all.insert(all.end(), v.begin(), v.end());
    return all;
  };
  const std::vector<float> production = outputs(1), again = outputs(1), one_block = outputs(2);
  const bool repeatable = std::memcmp(production.data(), again.data(), production.size() * sizeof(float)) == 0;
  std::printf("%-12s %-28s %-28s production vs one-block: max |diff| / (1 + |one-block|) = %.2e; repeat %s\n",
              "bn_relu", "", shape.c_str(), max_difference(production, one_block),
              repeatable ? "bitwise equal" : "DIFFERS");
  all_valid &= repeatable;

  const char* names[] = {"", "1-production", "2-one-block", "3-welford-block", "4-split-channel"};
  for (int variant = 1; variant <= 4; ++variant) {
    // Validate the forward (fresh running statistics: one momentum update) ...
    check(cudaMemcpy(b.rmean, rm0.data(), sh.c * sizeof(float), cudaMemcpyHostToDevice), "H2D");
    check(cudaMemcpy(b.rvar, rv0.data(), sh.c * sizeof(float), cudaMemcpyHostToDevice), "H2D");
    forward(variant);
    double err = std::max({error_ratio(download(b.y, total), y, 1e-4, 1e-5),
                           error_ratio(download(b.mean, sh.c), mean, 1e-5, 1e-6),
                           error_ratio(download(b.invstd, sh.c), invstd, 1e-4, 1e-6),
                           error_ratio(download(b.rvar, sh.c), rv, 1e-4, 1e-6)});
    bool valid = err <= 1;
    const double fwd_ms = valid ? median_ms([&] { forward(variant); }, opt.repeats, flusher) : 0;
    report("bn_relu_fwd", names[variant], shape, valid, err, fwd_ms, 8.0 * total);
    all_valid &= valid;

    // ... then the backward, from the reference forward's outputs.
    check(cudaMemcpy(b.y, y.data(), total * sizeof(float), cudaMemcpyHostToDevice), "H2D");
    check(cudaMemcpy(b.mean, mean.data(), sh.c * sizeof(float), cudaMemcpyHostToDevice), "H2D");
    check(cudaMemcpy(b.invstd, invstd.data(), sh.c * sizeof(float), cudaMemcpyHostToDevice), "H2D");
    backward(variant);
    err = std::max({error_ratio(download(b.dx, total), dx, 1e-3, 1e-4 * (1 + dx_scale)),
                    error_ratio(download(b.dgamma, sh.c), dgamma, 1e-4, 1e-4),
                    error_ratio(download(b.dbeta, sh.c), dbeta, 1e-4, 1e-4)});
    valid = err <= 1;
    const double bwd_ms = valid ? median_ms([&] { backward(variant); }, opt.repeats, flusher) : 0;
    report("bn_relu_bwd", names[variant], shape, valid, err, bwd_ms, 16.0 * total);
    all_valid &= valid;
  }
  for (void* ptr : {(void*)b.x, (void*)b.dy, (void*)b.gamma, (void*)b.beta, (void*)b.y, (void*)b.mean,
                    (void*)b.invstd, (void*)b.rmean, (void*)b.rvar, (void*)b.dx, (void*)b.dgamma, (void*)b.dbeta,
                    (void*)b.partials, b.workspace})
    cudaFree(ptr);
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse_options(argc, argv);
  print_device();
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  const int sms = std::max(1, prop.multiProcessorCount);
  // CIFAR ResNet activations at batch 128, plus C = 1 and odd sizes.
  std::vector<k::BatchNormShape> shapes = {{128, 64, 32 * 32}, {128, 128, 16 * 16}, {128, 256, 8 * 8},
                                           {128, 512, 4 * 4},  {128, 16, 32 * 32},  {63, 1, 777}};
  // Small: the production kernels split the channels of the last shape over three blocks each.
  if (opt.small) shapes = {{4, 3, 37}, {2, 1, 300}, {3, 8, 16}, {5, 2, 1000}};
  L2Flusher flusher(opt.small ? (1u << 20) : (256u << 20));
  bool all_valid = true;
  for (const auto& sh : shapes) run_shape(sh, opt, flusher, sms, all_valid);
  std::printf("%s\n", all_valid ? "all variants valid" : "SOME VARIANTS FAILED VALIDATION");
  return all_valid ? 0 : 1;
}
