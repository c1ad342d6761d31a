// Kernel rows: inputs, a reference (the double conv oracle, or a plain double loop written here),
// the validation at the benchmarked shape, then the timing.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <random>

#include "bench/cpu/kernel_bench.h"
#include "tests/op_cases.h"

namespace elr::bench {

std::vector<float> random_floats(int64_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(gen);
  return v;
}

std::vector<int32_t> random_labels(int n, int classes, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int32_t> dist(0, classes - 1);
  std::vector<int32_t> v(n);
  for (int32_t& l : v) l = dist(gen);
  return v;
}

std::vector<double> to_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

namespace {

using kernels::BatchNormShape;
using kernels::Conv2dShape;
using kernels::CrossEntropyShape;
using kernels::PoolShape;
using Clock = std::chrono::steady_clock;

// Outputs start as NaN so a kernel that leaves part of its output unwritten fails validation.
std::vector<float> poisoned(int64_t n) {
  return std::vector<float>(static_cast<size_t>(n), std::numeric_limits<float>::quiet_NaN());
}

// max |got - ref| / max |ref|; infinite when anything is not finite.
double rel_error(const float* got, const double* ref, int64_t n) {
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(got[i])) return std::numeric_limits<double>::infinity();
    diff = std::max(diff, std::abs(static_cast<double>(got[i]) - ref[i]));
    scale = std::max(scale, std::abs(ref[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

// Collects the checks of one validation; throws ValidationError naming the first failing output.
class Checker {
 public:
  Checker(std::string what, double tol) : what_(std::move(what)), tol_(tol) {}
  void check(const char* output, const float* got, const double* ref, int64_t n) {
    const double e = rel_error(got, ref, n);
    worst_ = std::max(worst_, e);
    if (!(e <= tol_))
      throw ValidationError(fmt::format("validation failed: {} output '{}' differs from the reference by {:.3g} "
                                        "(relative to its largest value; tolerance {:.1g})",
                                        what_, output, e, tol_));
  }
  void check(const char* output, const std::vector<float>& got, const std::vector<double>& ref) {
    check(output, got.data(), ref.data(), static_cast<int64_t>(ref.size()));
  }
  double worst() const { return worst_; }

 private:
  std::string what_;
  double tol_;
  double worst_ = 0;
};

void flush_caches() {
  static std::vector<char> junk(64 << 20);  // larger than the L3
  static char value = 0;
  ++value;
  std::fill(junk.begin(), junk.end(), value);
}

// Validates, then times; a validation failure (or any other error) becomes the row's error.
KernelRow make_row(std::string kernel, std::string shape, double flop, double bytes, const BenchOptions& o,
                   const std::function<double()>& validate, const std::function<void()>& call) {
  KernelRow row;
  row.kernel = std::move(kernel);
  row.shape = std::move(shape);
  row.flop = flop;
  row.bytes = bytes;
  row.peak_gflops = flop > 0 ? o.peak_gflops : 0;
  try {
    row.max_rel_error = validate();
  } catch (const std::exception& e) {
    row.error = e.what();
    return row;
  }
  row.valid = true;
  row.load_avg = load_average_1min();
  const Timing t = time_kernel(o, call);
  row.median_s = t.median_s;
  row.min_s = t.min_s;
  row.repeats = t.repeats;
  return row;
}

int64_t numel(const Conv2dShape& s) { return int64_t(s.n) * s.c * s.h * s.w; }
int64_t out_numel(const Conv2dShape& s) { return int64_t(s.n) * s.k * s.p() * s.q(); }
int64_t weight_numel(const Conv2dShape& s) { return int64_t(s.k) * s.c * s.r * s.s; }
double conv_flop(const Conv2dShape& s) { return 2.0 * s.n * s.k * double(s.c) * s.r * s.s * s.p() * s.q(); }

// The images the conv validation checks: the first and the last.
std::vector<int> checked_images(int n) { return n == 1 ? std::vector<int>{0} : std::vector<int>{0, n - 1}; }

// Copies the checked images of an [n, per_image] tensor into a compact [m, per_image] one.
std::vector<double> gather_images(const std::vector<float>& t, int64_t per_image, const std::vector<int>& images) {
  std::vector<double> out;
  out.reserve(images.size() * per_image);
  for (int i : images) out.insert(out.end(), t.begin() + i * per_image, t.begin() + (i + 1) * per_image);
  return out;
}
std::vector<float> gather_images_f(const std::vector<float>& t, int64_t per_image, const std::vector<int>& images) {
  std::vector<float> out;
  for (int i : images) out.insert(out.end(), t.begin() + i * per_image, t.begin() + (i + 1) * per_image);
  return out;
}

// ---- double references (plain loops) ------------------------------------------------------------
struct BnReference {
  std::vector<double> y, mean, invstd, running_mean, running_var;
};
BnReference bn_reference_forward(const BatchNormShape& s, const kernels::BatchNormParams& p, const std::vector<float>& x,
                                 const std::vector<float>& gamma, const std::vector<float>& beta,
                                 const std::vector<float>& rm0, const std::vector<float>& rv0) {
  BnReference r;
  const int64_t m = int64_t(s.n) * s.hw;
  r.y.resize(x.size());
  for (int c = 0; c < s.c; ++c) {
    double sum = 0;
    for (int n = 0; n < s.n; ++n)
      for (int i = 0; i < s.hw; ++i) sum += x[(int64_t(n) * s.c + c) * s.hw + i];
    const double mean = sum / m;
    double sq = 0;
    for (int n = 0; n < s.n; ++n)
      for (int i = 0; i < s.hw; ++i) {
        const double d = x[(int64_t(n) * s.c + c) * s.hw + i] - mean;
        sq += d * d;
      }
    const double var = sq / m, invstd = 1.0 / std::sqrt(var + p.eps);
    for (int n = 0; n < s.n; ++n)
      for (int i = 0; i < s.hw; ++i) {
        const int64_t j = (int64_t(n) * s.c + c) * s.hw + i;
        double v = gamma[c] * (x[j] - mean) * invstd + beta[c];
        r.y[j] = p.relu ? std::max(0.0, v) : v;
      }
    r.mean.push_back(mean);
    r.invstd.push_back(invstd);
    r.running_mean.push_back((1.0 - p.momentum) * rm0[c] + p.momentum * mean);
    r.running_var.push_back((1.0 - p.momentum) * rv0[c] + p.momentum * var * m / (m - 1));
  }
  return r;
}

}  // namespace

double load_average_1min() {
  std::ifstream in("/proc/loadavg");
  double v = 0;
  return (in >> v) ? v : 0;
}

Timing time_kernel(const BenchOptions& o, const std::function<void()>& call) {
  for (int i = 0; i < o.warmup; ++i) call();
  // Calls per repeat: enough that a repeat lasts min_repeat_s (one call for all but tiny kernels).
  const auto t0 = Clock::now();
  call();
  const double once = std::chrono::duration<double>(Clock::now() - t0).count();
  const int calls = once >= o.min_repeat_s ? 1 : static_cast<int>(std::min(10000.0, std::ceil(o.min_repeat_s / std::max(once, 1e-8))));
  std::vector<double> t;
  for (int r = 0; r < std::max(o.repeats, 1); ++r) {
    if (o.flush_cache) flush_caches();
    const auto start = Clock::now();
    for (int i = 0; i < calls; ++i) call();
    t.push_back(std::chrono::duration<double>(Clock::now() - start).count() / calls);
  }
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t.front(), static_cast<int>(t.size())};
}

// ---- conv ------------------------------------------------------------------------------------------
KernelRow bench_conv_forward(const Conv2dShape& s, const ConvForwardFn& f, const BenchOptions& o) {
  auto x = random_floats(numel(s), 1), w = random_floats(weight_numel(s), 2);
  std::vector<float> y(out_numel(s));
  auto validate = [&] {
    auto got = poisoned(out_numel(s));
    f(s, x.data(), w.data(), got.data());
    const auto images = checked_images(s.n);
    Conv2dShape small = s;
    small.n = static_cast<int>(images.size());
    const auto xs = gather_images(x, numel(s) / s.n, images), wd = to_double(w);
    std::vector<double> ref(out_numel(small));
    kernels::conv2d_forward_naive<double>(small, xs.data(), wd.data(), ref.data());
    Checker ck("conv2d forward", 1e-4);
    ck.check("y", gather_images_f(got, out_numel(s) / s.n, images), ref);
    return ck.worst();
  };
  const double bytes = 4.0 * (numel(s) + weight_numel(s) + out_numel(s));
  return make_row("conv2d forward", testing::case_name(s), conv_flop(s), bytes, o, validate,
                  [&] { f(s, x.data(), w.data(), y.data()); });
}

KernelRow bench_conv_backward_data(const Conv2dShape& s, const ConvBackwardDataFn& f, const BenchOptions& o) {
  auto dy = random_floats(out_numel(s), 3), w = random_floats(weight_numel(s), 2);
  std::vector<float> dx(numel(s));
  auto validate = [&] {
    auto got = poisoned(numel(s));
    f(s, dy.data(), w.data(), got.data());
    const auto images = checked_images(s.n);
    Conv2dShape small = s;
    small.n = static_cast<int>(images.size());
    const auto dys = gather_images(dy, out_numel(s) / s.n, images), wd = to_double(w);
    std::vector<double> ref(numel(small));
    kernels::conv2d_backward_data_naive<double>(small, dys.data(), wd.data(), ref.data());
    Checker ck("conv2d backward-data", 1e-4);
    ck.check("dx", gather_images_f(got, numel(s) / s.n, images), ref);
    return ck.worst();
  };
  const double bytes = 4.0 * (numel(s) + weight_numel(s) + out_numel(s));
  return make_row("conv2d backward-data", testing::case_name(s), conv_flop(s), bytes, o, validate,
                  [&] { f(s, dy.data(), w.data(), dx.data()); });
}

KernelRow bench_conv_backward_weight(const Conv2dShape& s, const ConvBackwardWeightFn& f, const BenchOptions& o) {
  auto x = random_floats(numel(s), 1), dy = random_floats(out_numel(s), 3);
  std::vector<float> dw(weight_numel(s));
  auto validate = [&] {
    // dy is zero outside the checked images, so the oracle on those images alone is exact.
    const auto images = checked_images(s.n);
    const int64_t per_out = out_numel(s) / s.n;
    std::vector<float> dy_sparse(dy.size(), 0.0f);
    for (int i : images) std::copy(dy.begin() + i * per_out, dy.begin() + (i + 1) * per_out, dy_sparse.begin() + i * per_out);
    auto got = poisoned(weight_numel(s));
    f(s, x.data(), dy_sparse.data(), got.data());
    Conv2dShape small = s;
    small.n = static_cast<int>(images.size());
    const auto xs = gather_images(x, numel(s) / s.n, images), dys = gather_images(dy, per_out, images);
    std::vector<double> ref(weight_numel(s));
    kernels::conv2d_backward_weight_naive<double>(small, xs.data(), dys.data(), ref.data());
    Checker ck("conv2d backward-weight", 1e-4);
    ck.check("dw", got.data(), ref.data(), weight_numel(s));
    return ck.worst();
  };
  const double bytes = 4.0 * (numel(s) + weight_numel(s) + out_numel(s));
  return make_row("conv2d backward-weight", testing::case_name(s), conv_flop(s), bytes, o, validate,
                  [&] { f(s, x.data(), dy.data(), dw.data()); });
}

// ---- batch norm --------------------------------------------------------------------------------
namespace {
std::string bn_case(const BatchNormShape& s, bool relu) { return testing::case_name(s) + (relu ? "+relu" : ""); }
}  // namespace

KernelRow bench_bn_forward(const BatchNormShape& s, bool relu, const BnForwardFn& f, const BenchOptions& o) {
  const int64_t count = int64_t(s.n) * s.c * s.hw;
  kernels::BatchNormParams p;
  p.relu = relu;
  // A per-channel offset, so a kernel that forgets the mean is caught.
  auto x = random_floats(count, 4, 0.5f, 2.5f);
  auto gamma = random_floats(s.c, 5, 0.5f, 1.5f), beta = random_floats(s.c, 6, -0.5f, 0.5f);
  auto rm = random_floats(s.c, 7), rv = random_floats(s.c, 8, 0.5f, 1.5f);
  std::vector<float> y(count), mean(s.c), invstd(s.c);
  auto validate = [&] {
    auto got_y = poisoned(count), got_mean = poisoned(s.c), got_invstd = poisoned(s.c);
    auto got_rm = rm, got_rv = rv;
    f(s, p, x.data(), gamma.data(), beta.data(), got_y.data(), got_mean.data(), got_invstd.data(), got_rm.data(),
      got_rv.data());
    const BnReference r = bn_reference_forward(s, p, x, gamma, beta, rm, rv);
    Checker ck("batchnorm forward", 1e-4);
    ck.check("y", got_y, r.y);
    ck.check("save_mean", got_mean, r.mean);
    ck.check("save_invstd", got_invstd, r.invstd);
    ck.check("running_mean", got_rm, r.running_mean);
    ck.check("running_var", got_rv, r.running_var);
    return ck.worst();
  };
  return make_row(relu ? "batchnorm+relu forward" : "batchnorm forward", bn_case(s, relu), 0, 8.0 * count, o, validate,
                  [&] {
                    f(s, p, x.data(), gamma.data(), beta.data(), y.data(), mean.data(), invstd.data(), rm.data(),
                      rv.data());
                  });
}

KernelRow bench_bn_backward(const BatchNormShape& s, bool relu, const BnBackwardFn& f, const BenchOptions& o) {
  const int64_t count = int64_t(s.n) * s.c * s.hw;
  kernels::BatchNormParams p;
  p.relu = relu;
  auto x = random_floats(count, 4, 0.5f, 2.5f), dy = random_floats(count, 9);
  auto gamma = random_floats(s.c, 5, 0.5f, 1.5f), beta = random_floats(s.c, 6, -0.5f, 0.5f);
  auto rm = random_floats(s.c, 7), rv = random_floats(s.c, 8, 0.5f, 1.5f);
  // The backward's inputs come from the reference forward, so this row does not depend on the forward kernel.
  const BnReference fwd = bn_reference_forward(s, p, x, gamma, beta, rm, rv);
  const std::vector<float> y(fwd.y.begin(), fwd.y.end()), mean(fwd.mean.begin(), fwd.mean.end()),
      invstd(fwd.invstd.begin(), fwd.invstd.end());
  std::vector<float> dx(count), dgamma(s.c), dbeta(s.c);
  auto validate = [&] {
    auto got_dx = poisoned(count), got_dg = poisoned(s.c), got_db = poisoned(s.c);
    f(s, p, x.data(), y.data(), dy.data(), gamma.data(), mean.data(), invstd.data(), got_dx.data(), got_dg.data(),
      got_db.data());
    const double m = double(s.n) * s.hw;
    std::vector<double> ref_dx(count), ref_dg(s.c), ref_db(s.c);
    for (int c = 0; c < s.c; ++c) {
      double db = 0, dg = 0;
      auto at = [&](int n, int i) { return (int64_t(n) * s.c + c) * s.hw + i; };
      auto g_eff = [&](int64_t j) { return (!relu || y[j] > 0) ? double(dy[j]) : 0.0; };
      for (int n = 0; n < s.n; ++n)
        for (int i = 0; i < s.hw; ++i) {
          const int64_t j = at(n, i);
          db += g_eff(j);
          dg += g_eff(j) * (x[j] - double(mean[c])) * invstd[c];
        }
      for (int n = 0; n < s.n; ++n)
        for (int i = 0; i < s.hw; ++i) {
          const int64_t j = at(n, i);
          const double xhat = (x[j] - double(mean[c])) * invstd[c];
          ref_dx[j] = gamma[c] * double(invstd[c]) / m * (m * g_eff(j) - db - xhat * dg);
        }
      ref_dg[c] = dg;
      ref_db[c] = db;
    }
    Checker ck("batchnorm backward", 1e-4);
    ck.check("dx", got_dx, ref_dx);
    ck.check("dgamma", got_dg, ref_dg);
    ck.check("dbeta", got_db, ref_db);
    return ck.worst();
  };
  return make_row(relu ? "batchnorm+relu backward" : "batchnorm backward", bn_case(s, relu), 0, 16.0 * count, o,
                  validate, [&] {
                    f(s, p, x.data(), y.data(), dy.data(), gamma.data(), mean.data(), invstd.data(), dx.data(),
                      dgamma.data(), dbeta.data());
                  });
}

// ---- pooling -----------------------------------------------------------------------------------
namespace {
int64_t pool_in(const PoolShape& s) { return int64_t(s.n) * s.c * s.h * s.w; }
int64_t pool_out(const PoolShape& s) { return int64_t(s.n) * s.c * (s.h / 2) * (s.w / 2); }

void maxpool_reference(const PoolShape& s, const std::vector<float>& x, std::vector<double>& y,
                       std::vector<int32_t>& arg) {
  const int oh = s.h / 2, ow = s.w / 2;
  y.assign(pool_out(s), 0);
  arg.assign(pool_out(s), -1);
  for (int64_t nc = 0; nc < int64_t(s.n) * s.c; ++nc)
    for (int i = 0; i < oh; ++i)
      for (int j = 0; j < ow; ++j) {
        const int64_t o = (nc * oh + i) * ow + j;
        int64_t best = -1;
        for (int di = 0; di < 2; ++di)
          for (int dj = 0; dj < 2; ++dj) {
            const int64_t idx = (nc * s.h + 2 * i + di) * s.w + 2 * j + dj;
            if (best < 0 || x[idx] > x[best]) best = idx;
          }
        y[o] = x[best];
        arg[o] = static_cast<int32_t>(best);
      }
}
}  // namespace

KernelRow bench_maxpool_forward(const PoolShape& s, const MaxPoolForwardFn& f, const BenchOptions& o) {
  auto x = random_floats(pool_in(s), 10);
  std::vector<float> y(pool_out(s));
  std::vector<int32_t> arg(pool_out(s));
  auto validate = [&] {
    auto got = poisoned(pool_out(s));
    std::vector<int32_t> got_arg(pool_out(s), -7);
    f(s, x.data(), got.data(), got_arg.data());
    std::vector<double> ref;
    std::vector<int32_t> ref_arg;
    maxpool_reference(s, x, ref, ref_arg);
    Checker ck("maxpool2x2 forward", 1e-6);
    ck.check("y", got, ref);
    for (size_t i = 0; i < ref_arg.size(); ++i)
      if (got_arg[i] != ref_arg[i])
        throw ValidationError(fmt::format("validation failed: maxpool2x2 forward output 'argmax' at {} is {}, the "
                                          "reference has {}", i, got_arg[i], ref_arg[i]));
    return ck.worst();
  };
  return make_row("maxpool2x2 forward", testing::case_name(s), 0, 4.0 * pool_in(s) + 8.0 * pool_out(s), o, validate,
                  [&] { f(s, x.data(), y.data(), arg.data()); });
}

KernelRow bench_maxpool_backward(const PoolShape& s, const MaxPoolBackwardFn& f, const BenchOptions& o) {
  auto x = random_floats(pool_in(s), 10), dy = random_floats(pool_out(s), 11);
  std::vector<double> y_ref;
  std::vector<int32_t> arg;
  maxpool_reference(s, x, y_ref, arg);
  std::vector<float> dx(pool_in(s));
  auto validate = [&] {
    auto got = poisoned(pool_in(s));
    f(s, arg.data(), dy.data(), got.data());
    std::vector<double> ref(pool_in(s), 0.0);
    for (size_t i = 0; i < arg.size(); ++i) ref[arg[i]] += dy[i];
    Checker ck("maxpool2x2 backward", 1e-6);
    ck.check("dx", got, ref);
    return ck.worst();
  };
  return make_row("maxpool2x2 backward", testing::case_name(s), 0, 8.0 * pool_out(s) + 4.0 * pool_in(s), o, validate,
                  [&] { f(s, arg.data(), dy.data(), dx.data()); });
}

KernelRow bench_avgpool_forward(const PoolShape& s, const AvgPoolForwardFn& f, const BenchOptions& o) {
  const int64_t hw = int64_t(s.h) * s.w, nc = int64_t(s.n) * s.c;
  auto x = random_floats(pool_in(s), 12);
  std::vector<float> y(nc);
  auto validate = [&] {
    auto got = poisoned(nc);
    f(s, x.data(), got.data());
    std::vector<double> ref(nc, 0.0);
    for (int64_t i = 0; i < nc; ++i) {
      for (int64_t j = 0; j < hw; ++j) ref[i] += x[i * hw + j];
      ref[i] /= double(hw);
    }
    Checker ck("global avgpool forward", 1e-5);
    ck.check("y", got, ref);
    return ck.worst();
  };
  return make_row("global avgpool forward", testing::case_name(s), 0, 4.0 * (pool_in(s) + nc), o, validate,
                  [&] { f(s, x.data(), y.data()); });
}

KernelRow bench_avgpool_backward(const PoolShape& s, const AvgPoolBackwardFn& f, const BenchOptions& o) {
  const int64_t hw = int64_t(s.h) * s.w, nc = int64_t(s.n) * s.c;
  auto dy = random_floats(nc, 13);
  std::vector<float> dx(pool_in(s));
  auto validate = [&] {
    auto got = poisoned(pool_in(s));
    f(s, dy.data(), got.data());
    std::vector<double> ref(pool_in(s));
    for (int64_t i = 0; i < pool_in(s); ++i) ref[i] = dy[i / hw] / double(hw);
    Checker ck("global avgpool backward", 1e-6);
    ck.check("dx", got, ref);
    return ck.worst();
  };
  return make_row("global avgpool backward", testing::case_name(s), 0, 4.0 * (pool_in(s) + nc), o, validate,
                  [&] { f(s, dy.data(), dx.data()); });
}

// ---- softmax cross-entropy -----------------------------------------------------------------------
namespace {
// Probabilities (row softmax), mean loss and the number of rows whose arg-max is the label.
void cross_entropy_reference(const CrossEntropyShape& s, const std::vector<float>& logits,
                             const std::vector<int32_t>& labels, std::vector<double>& probs, double& loss,
                             int64_t& correct) {
  probs.assign(logits.size(), 0);
  loss = 0;
  correct = 0;
  for (int i = 0; i < s.n; ++i) {
    const float* row = logits.data() + int64_t(i) * s.classes;
    const int best = static_cast<int>(std::max_element(row, row + s.classes) - row);
    const double mx = row[best];
    double z = 0;
    for (int j = 0; j < s.classes; ++j) z += std::exp(row[j] - mx);
    for (int j = 0; j < s.classes; ++j) probs[int64_t(i) * s.classes + j] = std::exp(row[j] - mx) / z;
    loss += std::log(z) - (row[labels[i]] - mx);
    correct += best == labels[i];
  }
  loss /= s.n;
}
}  // namespace

KernelRow bench_cross_entropy_forward(const CrossEntropyShape& s, const CrossEntropyForwardFn& f,
                                      const BenchOptions& o) {
  const int64_t count = int64_t(s.n) * s.classes;
  auto logits = random_floats(count, 14, -3.0f, 3.0f);
  const auto labels = random_labels(s.n, s.classes, 15);
  std::vector<float> probs(count);
  float loss = 0;
  int64_t correct = 0;
  auto validate = [&] {
    auto got = poisoned(count);
    float got_loss = std::numeric_limits<float>::quiet_NaN();
    int64_t got_correct = -1;
    f(s, logits.data(), labels.data(), &got_loss, got.data(), &got_correct);
    std::vector<double> ref;
    double ref_loss;
    int64_t ref_correct;
    cross_entropy_reference(s, logits, labels, ref, ref_loss, ref_correct);
    Checker ck("cross-entropy forward", 1e-5);
    ck.check("probs", got, ref);
    ck.check("loss", &got_loss, &ref_loss, 1);
    if (got_correct != ref_correct)
      throw ValidationError(fmt::format("validation failed: cross-entropy forward output 'correct' is {}, the "
                                        "reference has {}", got_correct, ref_correct));
    return ck.worst();
  };
  return make_row("softmax cross-entropy forward", testing::case_name(s), 0, 8.0 * count + 4.0 * s.n, o, validate,
                  [&] { f(s, logits.data(), labels.data(), &loss, probs.data(), &correct); });
}

KernelRow bench_cross_entropy_backward(const CrossEntropyShape& s, const CrossEntropyBackwardFn& f,
                                       const BenchOptions& o) {
  const int64_t count = int64_t(s.n) * s.classes;
  auto logits = random_floats(count, 14, -3.0f, 3.0f);
  const auto labels = random_labels(s.n, s.classes, 15);
  std::vector<double> ref_probs;
  double ref_loss;
  int64_t ref_correct;
  cross_entropy_reference(s, logits, labels, ref_probs, ref_loss, ref_correct);
  const std::vector<float> probs(ref_probs.begin(), ref_probs.end());
  const float dloss = 0.75f;
  std::vector<float> dlogits(count);
  auto validate = [&] {
    auto got = poisoned(count);
    f(s, probs.data(), labels.data(), dloss, got.data());
    std::vector<double> ref(count);
    for (int i = 0; i < s.n; ++i)
      for (int j = 0; j < s.classes; ++j) {
        const int64_t k = int64_t(i) * s.classes + j;
        ref[k] = dloss * (probs[k] - (j == labels[i] ? 1.0 : 0.0)) / s.n;
      }
    Checker ck("cross-entropy backward", 1e-5);
    ck.check("dlogits", got, ref);
    return ck.worst();
  };
  return make_row("softmax cross-entropy backward", testing::case_name(s), 0, 8.0 * count + 4.0 * s.n, o, validate,
                  [&] { f(s, probs.data(), labels.data(), dloss, dlogits.data()); });
}

// ---- optimizer -----------------------------------------------------------------------------------
namespace {
struct ParamSet {
  std::vector<std::vector<float>> w, g, v;
  int64_t total = 0;
};
ParamSet random_params(const std::vector<int64_t>& sizes) {
  ParamSet p;
  uint32_t seed = 100;
  for (int64_t n : sizes) {
    p.w.push_back(random_floats(n, seed++));
    p.g.push_back(random_floats(n, seed++, -0.1f, 0.1f));
    p.v.push_back(random_floats(n, seed++, -0.2f, 0.2f));
    p.total += n;
  }
  return p;
}
std::string sizes_case(const std::vector<int64_t>& sizes, const std::string& label, int64_t total) {
  return fmt::format("{} ({} tensors, {} values)", label, sizes.size(), total);
}
}  // namespace

KernelRow bench_tensor_stats(const std::vector<int64_t>& sizes, const std::string& label, const TensorStatsFn& f,
                             const BenchOptions& o) {
  ParamSet p = random_params(sizes);
  auto validate = [&] {
    Checker ck("layer statistics", 1e-6);
    for (size_t t = 0; t < sizes.size(); ++t) {
      const kernels::TensorStats got = f(sizes[t], p.w[t].data(), p.g[t].data(), p.v[t].data());
      double ref[4] = {0, 0, 0, 0};
      for (int64_t i = 0; i < sizes[t]; ++i) {
        const double w = p.w[t][i], g = p.g[t][i], v = p.v[t][i];
        ref[0] += w * w;
        ref[1] += g * g;
        ref[2] += g * w;
        ref[3] += v * v;
      }
      // Each statistic is checked relative to its own magnitude (|<g, W>| can be far below |g||W|).
      const double got_v[4] = {got.w2, got.g2, got.gw, got.v2};
      const char* names[4] = {"w2", "g2", "gw", "v2"};
      for (int k = 0; k < 4; ++k) {
        const double tol_scale = k == 2 ? std::sqrt(ref[0] * ref[1]) : std::abs(ref[k]);
        const double e = std::abs(got_v[k] - ref[k]) / std::max(tol_scale, 1e-300);
        if (!(e <= 1e-6))
          throw ValidationError(fmt::format("validation failed: layer statistics output '{}' of tensor {} ({} values) "
                                            "is {}, the reference has {}", names[k], t, sizes[t], got_v[k], ref[k]));
      }
    }
    return ck.worst();
  };
  volatile double sink = 0;
  return make_row("layer statistics", sizes_case(sizes, label, p.total), 0, 12.0 * p.total, o, validate, [&] {
    double acc = 0;
    for (size_t t = 0; t < sizes.size(); ++t) acc += f(sizes[t], p.w[t].data(), p.g[t].data(), p.v[t].data()).w2;
    sink = acc;
  });
}

KernelRow bench_sgd_update(const std::vector<int64_t>& sizes, const std::string& label, const SgdUpdateFn& f,
                           const BenchOptions& o) {
  ParamSet p = random_params(sizes);
  kernels::SgdParams sp;
  sp.lr = 0.1f;
  sp.momentum = 0.9f;
  sp.weight_decay = 5e-4f;
  sp.first_step = false;
  auto validate = [&] {
    Checker ck("sgd update", 1e-6);
    for (size_t t = 0; t < sizes.size(); ++t) {
      auto w = p.w[t], v = p.v[t];
      const double dw2 = f(sizes[t], sp, w.data(), p.g[t].data(), v.data());
      std::vector<double> ref_w(sizes[t]), ref_v(sizes[t]);
      double ref_dw2 = 0;
      for (int64_t i = 0; i < sizes[t]; ++i) {
        const double d = double(p.g[t][i]) + double(sp.weight_decay) * p.w[t][i];
        ref_v[i] = double(sp.momentum) * p.v[t][i] + d;
        const double step = double(sp.lr) * ref_v[i];
        ref_w[i] = p.w[t][i] - step;
        ref_dw2 += step * step;
      }
      ck.check("w", w, ref_w);
      ck.check("v", v, ref_v);
      ck.check("|dW|^2", std::vector<float>{static_cast<float>(dw2)}, std::vector<double>{ref_dw2});
    }
    return ck.worst();
  };
  volatile double sink = 0;
  return make_row("sgd update (momentum 0.9, wd)", sizes_case(sizes, label, p.total), 0, 20.0 * p.total, o, validate,
                  [&] {
                    double acc = 0;
                    for (size_t t = 0; t < sizes.size(); ++t)
                      acc += f(sizes[t], sp, p.w[t].data(), p.g[t].data(), p.v[t].data());
                    sink = acc;
                  });
}

}  // namespace elr::bench
