// BatchNorm2d on the CPU with PyTorch semantics and an optional fused ReLU.
// x is viewed as [n, c, hw]; element (i, ch, j) lives at (i * c + ch) * hw + j.
// Channels are spread over OpenMP threads; each channel's sums run in one thread in a fixed order,
// so results do not depend on the number of threads. Each row (hw contiguous values) is reduced in
// T with a SIMD reduction and rows are added in double; the elementwise passes compute in T (two
// passes over x in the forward, two in the backward). Each kernel is two halves per channel (moments
// and apply, sums and dx), also entry points of their own for statistics over several ranks.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "engine/error.h"
#include "kernels/kernels.h"

namespace elr::kernels {
namespace {

// Below this many elements the thread start-up costs more than the work.
constexpr int64_t kParallelMinElements = 1 << 14;

void check_shape(const char* op, const BatchNormShape& sh) {
  ELR_CHECK(sh.n > 0 && sh.c > 0 && sh.hw > 0, "{}: shape [n={}, c={}, hw={}] must be positive", op, sh.n, sh.c,
            sh.hw);
}

// Row i of channel ch: the hw contiguous values of sample i.
inline int64_t row_offset(const BatchNormShape& sh, int i, int ch) { return (int64_t(i) * sh.c + ch) * sh.hw; }

inline double relu_if(bool relu, double v) { return (relu && v < 0) ? 0.0 : v; }  // NaN passes through

}  // namespace

namespace {

// One channel's moments (batchnorm_moments_cpu).
template <class T>
BatchNormMoments channel_moments(const BatchNormShape& sh, int ch, const T* x) {
  // One pass over the channel for sum(x - k) and sum((x - k)^2), shifted by k = the mean of the
  // first row: k sits within a few standard errors of the batch mean, so the variance
  // E[(x-k)^2] - E[x-k]^2 loses almost nothing to cancellation. Each row is reduced in T with a
  // SIMD reduction (a fixed order for a given build), rows are added in double, in order.
  const int64_t count = int64_t(sh.n) * sh.hw;
  const T* first = x + row_offset(sh, 0, ch);
  double first_sum = 0;
  for (int j = 0; j < sh.hw; ++j) first_sum += double(first[j]);
  const T k = T(first_sum / sh.hw);
  double sum = 0, squares = 0;
  for (int i = 0; i < sh.n; ++i) {
    const T* xr = x + row_offset(sh, i, ch);
    T row = 0, row_squares = 0;
#pragma omp simd reduction(+ : row, row_squares)
    for (int j = 0; j < sh.hw; ++j) {
      const T d = xr[j] - k;
      row += d;
      row_squares += d * d;
    }
    sum += double(row);
    squares += double(row_squares);
  }
  BatchNormMoments m;
  m.count = double(count);
  m.shift = double(k);
  m.mean = sum / double(count);
  m.m2 = std::max(0.0, squares - sum * m.mean);  // sum (x - mean)^2
  return m;
}

// One channel of the training forward from its moments (batchnorm_forward_apply_cpu).
template <class T>
void channel_apply(const BatchNormShape& sh, const BatchNormParams& p, int ch, const T* x, const T* gamma,
                   const T* beta, const BatchNormMoments& m, T* y, T* save_mean, T* save_invstd, T* running_mean,
                   T* running_var) {
  const double momentum = p.momentum, eps = p.eps;
  const T k = T(m.shift);
  const double mean = double(k) + m.mean;
  const double var_biased = m.m2 / m.count;
  const double invstd = 1.0 / std::sqrt(var_biased + eps);
  // y = (x - k) * scale + (shift - (mean - k) * scale) in T: x - k is exact for x near k (a float
  // mean would be off by half an ulp of the mean, which is large next to a small spread).
  const T scale = T(double(gamma[ch]) * invstd);
  const T shift = T(double(beta[ch]) - m.mean * double(scale));
  const bool relu = p.relu;
  for (int i = 0; i < sh.n; ++i) {
    const T* xr = x + row_offset(sh, i, ch);
    T* yr = y + row_offset(sh, i, ch);
    if (relu) {
#pragma omp simd
      for (int j = 0; j < sh.hw; ++j) {
        const T v = (xr[j] - k) * scale + shift;
        yr[j] = v < T(0) ? T(0) : v;  // NaN passes through
      }
    } else {
#pragma omp simd
      for (int j = 0; j < sh.hw; ++j) yr[j] = (xr[j] - k) * scale + shift;
    }
  }

  save_mean[ch] = T(mean);
  save_invstd[ch] = T(invstd);
  if (running_mean) running_mean[ch] = T((1.0 - momentum) * double(running_mean[ch]) + momentum * mean);
  if (running_var) {
    const double var_unbiased = m.m2 / (m.count - 1);
    running_var[ch] = T((1.0 - momentum) * double(running_var[ch]) + momentum * var_unbiased);
  }
}

void check_train_count(double count, const BatchNormShape& sh) {
  ELR_CHECK(count > 1,
            "batchnorm: training needs more than one value per channel to compute a batch variance "
            "(input [n={}, c={}, hw={}] has n*h*w = {}); use a larger batch or eval mode",
            sh.n, sh.c, sh.hw, count);
}

}  // namespace

template <class T>
void batchnorm_forward_train_cpu(const BatchNormShape& sh, const BatchNormParams& p, const T* x, const T* gamma,
                                 const T* beta, T* y, T* save_mean, T* save_invstd, T* running_mean,
                                 T* running_var) {
  check_shape("batchnorm_forward_train", sh);
  const int64_t count = int64_t(sh.n) * sh.hw;  // values per channel
  check_train_count(double(count), sh);
  const int64_t total = count * sh.c;
#pragma omp parallel for schedule(static) if (total >= kParallelMinElements)
  for (int ch = 0; ch < sh.c; ++ch)
    channel_apply(sh, p, ch, x, gamma, beta, channel_moments(sh, ch, x), y, save_mean, save_invstd, running_mean,
                  running_var);
}

template <class T>
void batchnorm_moments_cpu(const BatchNormShape& sh, const T* x, BatchNormMoments* moments) {
  check_shape("batchnorm_moments", sh);
#pragma omp parallel for schedule(static) if (int64_t(sh.n) * sh.hw * sh.c >= kParallelMinElements)
  for (int ch = 0; ch < sh.c; ++ch) moments[ch] = channel_moments(sh, ch, x);
}

BatchNormMoments combine_batchnorm_moments(const BatchNormMoments& a, const BatchNormMoments& b) {
  if (b.count == 0) return a;
  if (a.count == 0) return b;
  BatchNormMoments m;
  m.count = a.count + b.count;
  m.shift = a.shift;
  const double delta = (b.shift - a.shift) + (b.mean - a.mean);  // b's mean minus a's
  m.mean = a.mean + delta * (b.count / m.count);
  m.m2 = a.m2 + b.m2 + delta * delta * (a.count * b.count / m.count);
  return m;
}

template <class T>
void batchnorm_forward_apply_cpu(const BatchNormShape& sh, const BatchNormParams& p, const T* x, const T* gamma,
                                 const T* beta, const BatchNormMoments* moments, T* y, T* save_mean, T* save_invstd,
                                 T* running_mean, T* running_var) {
  check_shape("batchnorm_forward_apply", sh);
  check_train_count(moments[0].count, sh);
#pragma omp parallel for schedule(static) if (int64_t(sh.n) * sh.hw * sh.c >= kParallelMinElements)
  for (int ch = 0; ch < sh.c; ++ch)
    channel_apply(sh, p, ch, x, gamma, beta, moments[ch], y, save_mean, save_invstd, running_mean, running_var);
}

template <class T>
void batchnorm_forward_eval_cpu(const BatchNormShape& sh, const BatchNormParams& p, const T* x, const T* gamma,
                                const T* beta, const T* running_mean, const T* running_var, T* y) {
  check_shape("batchnorm_forward_eval", sh);
  const double eps = p.eps;
  const int64_t total = int64_t(sh.n) * sh.c * sh.hw;
#pragma omp parallel for schedule(static) if (total >= kParallelMinElements)
  for (int ch = 0; ch < sh.c; ++ch) {
    const double mean = double(running_mean[ch]);
    const double scale = double(gamma[ch]) / std::sqrt(double(running_var[ch]) + eps);
    const double shift = double(beta[ch]);
    const bool relu = p.relu;
    for (int i = 0; i < sh.n; ++i) {
      const T* xr = x + row_offset(sh, i, ch);
      T* yr = y + row_offset(sh, i, ch);
#pragma omp simd
      for (int j = 0; j < sh.hw; ++j) yr[j] = T(relu_if(relu, (double(xr[j]) - mean) * scale + shift));
    }
  }
}

// With g = dy masked by the ReLU (y > 0) and xhat = (x - mean) * invstd, per channel over N values:
//   dbeta = sum(g), dgamma = sum(g * xhat), dx = gamma * invstd / N * (N * g - dbeta - xhat * dgamma).
// The last two terms are the gradients through the batch mean and variance.
// dgamma / dbeta may be null when the caller does not need them.
namespace {

// One channel's sums. With the ReLU, the pass stores g (dy, masked where y <= 0) into dx, so the dx
// pass reads it back without the mask; kRelu is a template argument so both passes vectorize.
template <bool kRelu, class T>
BatchNormGradSums channel_grad_sums(const BatchNormShape& sh, int ch, const T* x, const T* y, const T* dy,
                                    const T* save_mean, T* dx) {
  const T mean_t = save_mean[ch];
  double sum_g = 0, sum_g_xc = 0;  // sum(g), sum(g * (x - mean)): rows in T, rows added in double
  for (int i = 0; i < sh.n; ++i) {
    const int64_t o = row_offset(sh, i, ch);
    const T *xr = x + o, *yr = y + o, *dyr = dy + o;
    T* gr = dx + o;
    if constexpr (kRelu) {
#pragma omp simd
      for (int j = 0; j < sh.hw; ++j) gr[j] = yr[j] > T(0) ? dyr[j] : T(0);
    } else {
      gr = const_cast<T*>(dyr);
    }
    T row_g = 0, row_g_xc = 0;
#pragma omp simd reduction(+ : row_g, row_g_xc)
    for (int j = 0; j < sh.hw; ++j) {
      row_g += gr[j];
      row_g_xc += gr[j] * (xr[j] - mean_t);
    }
    sum_g += double(row_g);
    sum_g_xc += double(row_g_xc);
  }
  BatchNormGradSums s;
  s.count = double(int64_t(sh.n) * sh.hw);
  s.g = sum_g;
  s.g_xc = sum_g_xc;
  return s;
}

template <class T>
void write_param_grads(int ch, const BatchNormGradSums& s, const T* save_invstd, T* dgamma, T* dbeta) {
  if (dgamma) dgamma[ch] = T(s.g_xc * double(save_invstd[ch]));
  if (dbeta) dbeta[ch] = T(s.g);
}

// One channel's dx from the sums over the whole batch.
template <bool kRelu, class T>
void channel_dx(const BatchNormShape& sh, int ch, const T* x, const T* dy, const T* gamma, const T* save_mean,
                const T* save_invstd, const BatchNormGradSums& s, T* dx) {
  const double n_values = s.count;
  const double invstd = double(save_invstd[ch]);
  const T mean_t = save_mean[ch];
  const double grad_beta = s.g, grad_gamma = s.g_xc * invstd;
  const double factor = double(gamma[ch]) * invstd / n_values;
  // dx = a * g - b - (x - mean) * c, the coefficients rounded to T once.
  const T a = T(factor * n_values), b = T(factor * grad_beta), c = T(factor * invstd * grad_gamma);
  for (int i = 0; i < sh.n; ++i) {
    const int64_t o = row_offset(sh, i, ch);
    const T* xr = x + o;
    const T* gr = kRelu ? dx + o : dy + o;
    T* dxr = dx + o;
#pragma omp simd
    for (int j = 0; j < sh.hw; ++j) dxr[j] = a * gr[j] - b - (xr[j] - mean_t) * c;
  }
}

template <bool kRelu, class T>
void backward_channel(const BatchNormShape& sh, int ch, const T* x, const T* y, const T* dy, const T* gamma,
                      const T* save_mean, const T* save_invstd, T* dx, T* dgamma, T* dbeta) {
  const BatchNormGradSums s = channel_grad_sums<kRelu>(sh, ch, x, y, dy, save_mean, dx);
  channel_dx<kRelu>(sh, ch, x, dy, gamma, save_mean, save_invstd, s, dx);
  write_param_grads(ch, s, save_invstd, dgamma, dbeta);
}

}  // namespace

template <class T>
void batchnorm_backward_cpu(const BatchNormShape& sh, const BatchNormParams& p, const T* x, const T* y,
                            const T* dy, const T* gamma, const T* save_mean, const T* save_invstd, T* dx,
                            T* dgamma, T* dbeta) {
  check_shape("batchnorm_backward", sh);
  const int64_t count = int64_t(sh.n) * sh.hw;
#pragma omp parallel for schedule(static) if (count * sh.c >= kParallelMinElements)
  for (int ch = 0; ch < sh.c; ++ch) {
    if (p.relu)
      backward_channel<true>(sh, ch, x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
    else
      backward_channel<false>(sh, ch, x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
  }
}

template <class T>
void batchnorm_backward_sums_cpu(const BatchNormShape& sh, const BatchNormParams& p, const T* x, const T* y,
                                 const T* dy, const T* save_mean, const T* save_invstd, T* dx, BatchNormGradSums* sums,
                                 T* dgamma, T* dbeta) {
  check_shape("batchnorm_backward_sums", sh);
#pragma omp parallel for schedule(static) if (int64_t(sh.n) * sh.hw * sh.c >= kParallelMinElements)
  for (int ch = 0; ch < sh.c; ++ch) {
    sums[ch] = p.relu ? channel_grad_sums<true>(sh, ch, x, y, dy, save_mean, dx)
                      : channel_grad_sums<false>(sh, ch, x, y, dy, save_mean, dx);
    write_param_grads(ch, sums[ch], save_invstd, dgamma, dbeta);
  }
}

template <class T>
void batchnorm_backward_dx_cpu(const BatchNormShape& sh, const BatchNormParams& p, const T* x, const T* dy,
                               const T* gamma, const T* save_mean, const T* save_invstd, const BatchNormGradSums* sums,
                               T* dx) {
  check_shape("batchnorm_backward_dx", sh);
#pragma omp parallel for schedule(static) if (int64_t(sh.n) * sh.hw * sh.c >= kParallelMinElements)
  for (int ch = 0; ch < sh.c; ++ch) {
    if (p.relu)
      channel_dx<true>(sh, ch, x, dy, gamma, save_mean, save_invstd, sums[ch], dx);
    else
      channel_dx<false>(sh, ch, x, dy, gamma, save_mean, save_invstd, sums[ch], dx);
  }
}

#define ELR_INSTANTIATE_BATCHNORM(T)                                                                          \
  template void batchnorm_forward_train_cpu<T>(const BatchNormShape&, const BatchNormParams&, const T*,       \
                                               const T*, const T*, T*, T*, T*, T*, T*);                       \
  template void batchnorm_forward_eval_cpu<T>(const BatchNormShape&, const BatchNormParams&, const T*,        \
                                              const T*, const T*, const T*, const T*, T*);                    \
  template void batchnorm_backward_cpu<T>(const BatchNormShape&, const BatchNormParams&, const T*, const T*,  \
                                          const T*, const T*, const T*, const T*, T*, T*, T*);              \
  template void batchnorm_moments_cpu<T>(const BatchNormShape&, const T*, BatchNormMoments*);                \
  template void batchnorm_forward_apply_cpu<T>(const BatchNormShape&, const BatchNormParams&, const T*,       \
                                               const T*, const T*, const BatchNormMoments*, T*, T*, T*, T*,  \
                                               T*);                                                          \
  template void batchnorm_backward_sums_cpu<T>(const BatchNormShape&, const BatchNormParams&, const T*,       \
                                               const T*, const T*, const T*, const T*, T*,                   \
                                               BatchNormGradSums*, T*, T*);                                  \
  template void batchnorm_backward_dx_cpu<T>(const BatchNormShape&, const BatchNormParams&, const T*,         \
                                             const T*, const T*, const T*, const T*,                         \
                                             const BatchNormGradSums*, T*);
ELR_INSTANTIATE_BATCHNORM(float)
ELR_INSTANTIATE_BATCHNORM(double)
#undef ELR_INSTANTIATE_BATCHNORM

}  // namespace elr::kernels
