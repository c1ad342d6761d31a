// The CUDA kernels of kernels/cuda (batch norm, elementwise, pooling, cross-entropy, statistics,
// LR control, SGD) against the CPU references of kernels/cpu and optim/, over the op-case table and
// larger or odd shapes (C = 1, C >= 64, n*hw not a multiple of the block size). Built into the
// emulated test binary (run under two schedules by CTest) and, with ELR_CUDA_OPS_ON_GPU, into a
// GPU test binary. The reductions must give the same bits on every run and every schedule.
#include <catch2/catch.hpp>
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "optim/layer_stats.h"
#include "optim/lr_control.h"
#include "tests/op_cases.h"
#include "tests/simt/test_support.h"

#ifndef ELR_CUDA_OPS_ON_GPU
#include "tests/simt/schedule_scope.h"
#endif

namespace k = elr::kernels;
using elr::simt_tests::check_cuda;
using elr::simt_tests::random_values;

namespace {

// A device array of any trivially copyable type.
template <class T>
class Dev {
 public:
  explicit Dev(size_t count) : count_(count) {
    check_cuda(cudaMalloc(reinterpret_cast<void**>(&ptr_), (count ? count : 1) * sizeof(T)), "cudaMalloc");
  }
  explicit Dev(const std::vector<T>& host) : Dev(host.size()) { upload(host); }
  ~Dev() { cudaFree(ptr_); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  T* get() const { return ptr_; }
  void upload(const std::vector<T>& host) {
    if (count_) check_cuda(cudaMemcpy(ptr_, host.data(), count_ * sizeof(T), cudaMemcpyHostToDevice), "H2D");
  }
  std::vector<T> download() const {
    std::vector<T> host(count_);
    check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    if (count_) check_cuda(cudaMemcpy(host.data(), ptr_, count_ * sizeof(T), cudaMemcpyDeviceToHost), "D2H");
    return host;
  }

 private:
  T* ptr_ = nullptr;
  size_t count_;
};

// Elementwise |got - want| <= atol + rtol * |want|; reports the worst element with its index.
template <class A, class B>
void check_close(const std::string& what, const std::vector<A>& got, const std::vector<B>& want, double rtol,
                 double atol, bool zero_reference_ok = false) {
  REQUIRE(got.size() == want.size());
  double worst_ratio = 0;
  size_t worst = 0;
  bool any_nonzero = false;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = double(got[i]), w = double(want[i]);
    const double limit = atol + rtol * std::fabs(w);
    const double ratio = std::isnan(g) != std::isnan(w) ? INFINITY : (std::isnan(w) ? 0 : std::fabs(g - w) / limit);
    if (!(ratio <= worst_ratio)) worst_ratio = ratio, worst = i;
    any_nonzero |= w != 0;
  }
  INFO(what << ": worst element " << worst << " got " << (got.empty() ? 0.0 : double(got[worst])) << " want "
            << (want.empty() ? 0.0 : double(want[worst])) << " (" << 100 * worst_ratio << "% of the tolerance)");
  CHECK(worst_ratio <= 1.0);
  CHECK((any_nonzero || got.empty() || zero_reference_ok));  // else the comparison could be vacuous
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

std::vector<float> shifted(std::vector<float> v, float scale, float offset) {
  for (float& x : v) x = x * scale + offset;
  return v;
}

// Values on a coarse grid, so that ties (max-pool windows, arg-max of logits) occur.
std::vector<float> quantized(size_t count, uint64_t seed, float levels) {
  std::vector<float> v = random_values(count, seed);
  for (float& x : v) x = std::round(x * levels) / levels;
  return v;
}

#ifndef ELR_CUDA_OPS_ON_GPU
using elr::simt_tests::ScheduleScope;
#endif

// Runs `f` (returning a vector) under several schedules (emulated) or repeatedly (GPU) and checks
// that every result has the same bits as the first.
template <class F>
void check_repeatable(const char* what, F f) {
  const auto first = f();
#ifndef ELR_CUDA_OPS_ON_GPU
  for (const char* schedule : {"forward", "reverse", "random:7"}) {
    for (int workers : {1, 3}) {
      ScheduleScope scope(schedule, workers);
      INFO(what << " under schedule " << schedule << ", " << workers << " workers");
      CHECK(same_bits(f(), first));
    }
  }
#else
  for (int repeat = 0; repeat < 3; ++repeat) {
    INFO(what << ", repeat " << repeat);
    CHECK(same_bits(f(), first));
  }
#endif
}

// ---- batch norm -------------------------------------------------------------------------------
std::vector<k::BatchNormShape> batchnorm_shapes() {
  std::vector<k::BatchNormShape> shapes = elr::testing::batchnorm_cases();
  // C >= 64; C = 1 with n*hw past several 512-thread strides; n*hw odd and not a block multiple.
  for (k::BatchNormShape s : {k::BatchNormShape{3, 64, 10}, k::BatchNormShape{2, 1, 1333},
                              k::BatchNormShape{7, 5, 33}, k::BatchNormShape{1, 3, 2}, k::BatchNormShape{2, 70, 3}})
    shapes.push_back(s);
  return shapes;
}

struct BnForward {
  std::vector<float> y, mean, invstd, running_mean, running_var;
};

BnForward bn_forward_cpu(const k::BatchNormShape& sh, const k::BatchNormParams& p, const std::vector<float>& x,
                         const std::vector<float>& gamma, const std::vector<float>& beta) {
  BnForward r{std::vector<float>(x.size()), std::vector<float>(sh.c), std::vector<float>(sh.c),
              random_values(sh.c, 41), shifted(random_values(sh.c, 42), 0.5f, 1.0f)};
  k::batchnorm_forward_train_cpu<float>(sh, p, x.data(), gamma.data(), beta.data(), r.y.data(), r.mean.data(),
                                        r.invstd.data(), r.running_mean.data(), r.running_var.data());
  return r;
}

BnForward bn_forward_cuda(const k::BatchNormShape& sh, const k::BatchNormParams& p, const std::vector<float>& x,
                          const std::vector<float>& gamma, const std::vector<float>& beta) {
  Dev<float> dx(x), dg(gamma), db(beta), dy(x.size()), dm(size_t(sh.c)), ds(size_t(sh.c));
  Dev<float> rm(random_values(sh.c, 41)), rv(shifted(random_values(sh.c, 42), 0.5f, 1.0f));
  k::batchnorm_forward_train_cuda(sh, p, dx.get(), dg.get(), db.get(), dy.get(), dm.get(), ds.get(), rm.get(),
                                  rv.get(), nullptr);
  return {dy.download(), dm.download(), ds.download(), rm.download(), rv.download()};
}

TEST_CASE("cuda batchnorm forward (train) matches the CPU", "[cuda_ops][batchnorm]") {
  for (const auto& sh : batchnorm_shapes()) {
    for (bool relu : {false, true}) {
      k::BatchNormParams p;
      p.relu = relu;
      p.momentum = 0.2f;
      const size_t count = size_t(sh.n) * sh.c * sh.hw;
      // A large mean next to a small spread: a one-pass E[x^2] - E[x]^2 would lose the variance.
      const auto x = shifted(random_values(count, 1), 0.5f, 20.0f);
      const auto gamma = shifted(random_values(sh.c, 2), 0.5f, 1.0f), beta = random_values(sh.c, 3);
      INFO(elr::testing::case_name(sh) << " relu=" << relu);
      const BnForward want = bn_forward_cpu(sh, p, x, gamma, beta), got = bn_forward_cuda(sh, p, x, gamma, beta);
      check_close("y", got.y, want.y, 1e-5, 1e-5);
      check_close("save_mean", got.mean, want.mean, 1e-6, 1e-6);
      check_close("save_invstd", got.invstd, want.invstd, 1e-5, 1e-6);
      check_close("running_mean", got.running_mean, want.running_mean, 1e-6, 1e-6);
      check_close("running_var", got.running_var, want.running_var, 1e-5, 1e-6);
    }
  }
  k::BatchNormShape single{1, 2, 1};
  Dev<float> buf(8);
  CHECK_THROWS_WITH(k::batchnorm_forward_train_cuda(single, {}, buf.get(), buf.get(), buf.get(), buf.get(),
                                                    buf.get(), buf.get(), nullptr, nullptr, nullptr),
                    Catch::Contains("n*h*w = 1"));
}

TEST_CASE("cuda batchnorm forward (eval) matches the CPU", "[cuda_ops][batchnorm]") {
  for (const auto& sh : batchnorm_shapes()) {
    for (bool relu : {false, true}) {
      k::BatchNormParams p;
      p.relu = relu;
      const size_t count = size_t(sh.n) * sh.c * sh.hw;
      const auto x = random_values(count, 4), gamma = random_values(sh.c, 5), beta = random_values(sh.c, 6);
      const auto rmean = random_values(sh.c, 7), rvar = shifted(random_values(sh.c, 8), 0.4f, 0.5f);
      std::vector<float> want(count);
      k::batchnorm_forward_eval_cpu<float>(sh, p, x.data(), gamma.data(), beta.data(), rmean.data(), rvar.data(),
                                           want.data());
      Dev<float> dx(x), dg(gamma), db(beta), dm(rmean), dv(rvar), dy(count);
      k::batchnorm_forward_eval_cuda(sh, p, dx.get(), dg.get(), db.get(), dm.get(), dv.get(), dy.get(), nullptr);
      INFO(elr::testing::case_name(sh) << " relu=" << relu);
      check_close("y", dy.download(), want, 1e-5, 1e-6);
    }
  }
}

TEST_CASE("cuda batchnorm backward matches the CPU", "[cuda_ops][batchnorm]") {
  for (const auto& sh : batchnorm_shapes()) {
    for (bool relu : {false, true}) {
      k::BatchNormParams p;
      p.relu = relu;
      const size_t count = size_t(sh.n) * sh.c * sh.hw;
      const auto x = shifted(random_values(count, 11), 1.0f, 0.3f);
      const auto gamma = shifted(random_values(sh.c, 12), 0.5f, 1.0f), beta = random_values(sh.c, 13);
      // dy with a non-zero mean, so the batch-mean term of the gradient matters.
      const auto dy = shifted(random_values(count, 14), 1.0f, 0.5f);
      const BnForward fwd = bn_forward_cpu(sh, p, x, gamma, beta);
      std::vector<float> dx(count), dgamma(sh.c), dbeta(sh.c);
      k::batchnorm_backward_cpu<float>(sh, p, x.data(), fwd.y.data(), dy.data(), gamma.data(), fwd.mean.data(),
                                       fwd.invstd.data(), dx.data(), dgamma.data(), dbeta.data());
      Dev<float> d_x(x), d_y(fwd.y), d_dy(dy), d_gamma(gamma), d_mean(fwd.mean), d_invstd(fwd.invstd);
      Dev<float> d_dx(count), d_dgamma(size_t(sh.c)), d_dbeta(size_t(sh.c));
      k::batchnorm_backward_cuda(sh, p, d_x.get(), d_y.get(), d_dy.get(), d_gamma.get(), d_mean.get(),
                                 d_invstd.get(), d_dx.get(), d_dgamma.get(), d_dbeta.get(), nullptr);
      INFO(elr::testing::case_name(sh) << " relu=" << relu);
      double scale = 0;  // dx is a difference of terms of this size: the tolerance scales with it
      for (float v : dx) scale = std::max(scale, double(std::fabs(v)));
      check_close("dx", d_dx.download(), dx, 1e-4, 1e-5 * (1 + scale));
      check_close("dgamma", d_dgamma.download(), dgamma, 1e-5, 1e-5);
      check_close("dbeta", d_dbeta.download(), dbeta, 1e-5, 1e-5);
      // dgamma / dbeta are optional.
      k::batchnorm_backward_cuda(sh, p, d_x.get(), d_y.get(), d_dy.get(), d_gamma.get(), d_mean.get(),
                                 d_invstd.get(), d_dx.get(), nullptr, nullptr, nullptr);
      check_close("dx without dgamma/dbeta", d_dx.download(), dx, 1e-4, 1e-5 * (1 + scale));
    }
  }
}

TEST_CASE("cuda batchnorm is bitwise repeatable", "[cuda_ops][batchnorm]") {
  const k::BatchNormShape sh{3, 4, 45};
  k::BatchNormParams p;
  p.relu = true;
  const size_t count = size_t(sh.n) * sh.c * sh.hw;
  const auto x = random_values(count, 21), dy = random_values(count, 22);
  const auto gamma = shifted(random_values(sh.c, 23), 0.5f, 1.0f), beta = random_values(sh.c, 24);
  check_repeatable("batchnorm forward + backward", [&] {
    BnForward f = bn_forward_cuda(sh, p, x, gamma, beta);
    Dev<float> d_x(x), d_y(f.y), d_dy(dy), d_gamma(gamma), d_mean(f.mean), d_invstd(f.invstd), d_dx(count),
        d_dgamma(size_t(sh.c)), d_dbeta(size_t(sh.c));
    k::batchnorm_backward_cuda(sh, p, d_x.get(), d_y.get(), d_dy.get(), d_gamma.get(), d_mean.get(),
                               d_invstd.get(), d_dx.get(), d_dgamma.get(), d_dbeta.get(), nullptr);
    std::vector<float> all = f.y;
    for (const auto& v : {f.mean, f.invstd, f.running_var, d_dx.download(), d_dgamma.download(), d_dbeta.download()})
      all.insert(all.end(), v.begin(), v.end());
    return all;
  });
}

// ---- elementwise ------------------------------------------------------------------------------
TEST_CASE("cuda relu and residual add match the CPU exactly", "[cuda_ops][elementwise]") {
  for (int64_t count : {int64_t(1), int64_t(255), int64_t(257), int64_t(10007)}) {
    INFO("count " << count);
    const auto a = random_values(count, 31), b = random_values(count, 32), dy = random_values(count, 33);
    Dev<float> da(a), db(b), ddy(dy), out1(count), out2(count);
    std::vector<float> w1(count), w2(count);

    k::relu_forward_cpu<float>(count, a.data(), w1.data());
    k::relu_forward_cuda(count, da.get(), out1.get(), nullptr);
    CHECK(same_bits(out1.download(), w1));
    k::relu_backward_cpu<float>(count, a.data(), dy.data(), w1.data());
    k::relu_backward_cuda(count, da.get(), ddy.get(), out1.get(), nullptr);
    CHECK(same_bits(out1.download(), w1));

    for (bool relu : {false, true}) {
      INFO("relu " << relu);
      k::add_forward_cpu<float>(count, relu, a.data(), b.data(), w1.data());
      k::add_forward_cuda(count, relu, da.get(), db.get(), out1.get(), nullptr);
      CHECK(same_bits(out1.download(), w1));
      k::add_backward_cpu<float>(count, relu, a.data(), dy.data(), w1.data(), w2.data());
      k::add_backward_cuda(count, relu, da.get(), ddy.get(), out1.get(), out2.get(), nullptr);
      CHECK(same_bits(out1.download(), w1));
      CHECK(same_bits(out2.download(), w2));
    }
  }
}

// ---- pooling ----------------------------------------------------------------------------------
TEST_CASE("cuda max-pool and global average pool match the CPU", "[cuda_ops][pooling]") {
  std::vector<k::PoolShape> shapes = elr::testing::pool_cases();
  for (k::PoolShape s : {k::PoolShape{2, 3, 9, 11}, k::PoolShape{1, 64, 6, 6}, k::PoolShape{3, 5, 1, 1},
                         k::PoolShape{2, 7, 15, 4}})
    shapes.push_back(s);
  for (const auto& sh : shapes) {
    INFO(elr::testing::case_name(sh));
    const size_t in = size_t(sh.n) * sh.c * sh.h * sh.w, out = size_t(sh.n) * sh.c * (sh.h / 2) * (sh.w / 2);
    const size_t planes = size_t(sh.n) * sh.c;
    const auto x = quantized(in, 51, 3.0f);  // many ties: the first maximum must win
    const auto dy = random_values(out, 52), dyg = random_values(planes, 53);

    std::vector<float> y(out), dx(in);
    std::vector<int32_t> argmax(out);
    k::maxpool2x2_forward_cpu<float>(sh, x.data(), y.data(), argmax.data());
    k::maxpool2x2_backward_cpu<float>(sh, argmax.data(), dy.data(), dx.data());
    Dev<float> d_x(x), d_y(out), d_dy(dy), d_dx(in);
    Dev<int32_t> d_arg(out);
    if (out > 0) k::maxpool2x2_forward_cuda(sh, d_x.get(), d_y.get(), d_arg.get(), nullptr);
    CHECK(same_bits(d_y.download(), y));
    CHECK(same_bits(d_arg.download(), argmax));
    d_arg.upload(argmax);
    k::maxpool2x2_backward_cuda(sh, d_arg.get(), d_dy.get(), d_dx.get(), nullptr);
    CHECK(same_bits(d_dx.download(), dx));

    std::vector<float> g(planes), gdx(in);
    k::global_avgpool_forward_cpu<float>(sh, x.data(), g.data());
    k::global_avgpool_backward_cpu<float>(sh, dyg.data(), gdx.data());
    Dev<float> d_g(planes), d_dyg(dyg);
    k::global_avgpool_forward_cuda(sh, d_x.get(), d_g.get(), nullptr);
    k::global_avgpool_backward_cuda(sh, d_dyg.get(), d_dx.get(), nullptr);
    const auto got_g = d_g.download();
    bool all_zero = true;
    for (float v : g) all_zero &= v == 0;
    if (!all_zero) check_close("avgpool y", got_g, g, 1e-6, 1e-7);
    check_close("avgpool dx", d_dx.download(), gdx, 1e-6, 1e-7);
  }
}

// ---- softmax cross-entropy ----------------------------------------------------------------------
TEST_CASE("cuda softmax cross-entropy matches the CPU", "[cuda_ops][cross_entropy]") {
  std::vector<k::CrossEntropyShape> shapes = elr::testing::cross_entropy_cases();
  for (k::CrossEntropyShape s : {k::CrossEntropyShape{37, 10}, k::CrossEntropyShape{300, 7},
                                 k::CrossEntropyShape{3, 100}, k::CrossEntropyShape{2, 33}})
    shapes.push_back(s);
  for (const auto& sh : shapes) {
    INFO(elr::testing::case_name(sh));
    const size_t count = size_t(sh.n) * sh.classes;
    std::vector<float> logits = quantized(count, 61, 2.0f);  // ties between classes
    for (float& z : logits) z *= 4.0f;
    std::vector<int32_t> labels(sh.n);
    const auto r = random_values(sh.n, 62);
    for (int i = 0; i < sh.n; ++i) labels[i] = int32_t((r[i] + 1.0f) * 0.5f * sh.classes) % sh.classes;
    // Make some rows correct so the count is not trivially zero.
    for (int i = 0; i < sh.n; i += 3) logits[size_t(i) * sh.classes + labels[i]] = 9.0f;

    float loss = 0;
    int64_t correct = -1;
    std::vector<float> probs(count), dlogits(count);
    k::cross_entropy_forward_cpu<float>(sh, logits.data(), labels.data(), &loss, probs.data(), &correct);
    k::cross_entropy_backward_cpu<float>(sh, probs.data(), labels.data(), 0.7f, dlogits.data());

    Dev<float> d_logits(logits), d_loss(1), d_probs(count), d_dlogits(count);
    Dev<int32_t> d_labels(labels);
    Dev<int64_t> d_correct(1);
    k::cross_entropy_forward_cuda(sh, d_logits.get(), d_labels.get(), d_loss.get(), d_probs.get(), d_correct.get(),
                                  nullptr);
    check_close("loss", d_loss.download(), std::vector<float>{loss}, 1e-5, 1e-6, sh.classes == 1);
    CHECK(d_correct.download()[0] == correct);
    check_close("probs", d_probs.download(), probs, 1e-5, 1e-7);
    d_probs.upload(probs);
    k::cross_entropy_backward_cuda(sh, d_probs.get(), d_labels.get(), 0.7f, d_dlogits.get(), nullptr);
    check_close("dlogits", d_dlogits.download(), dlogits, 1e-5, 1e-8, sh.classes == 1);

    // A label out of range makes the loss NaN instead of reading out of bounds.
    std::vector<int32_t> bad = labels;
    bad[sh.n - 1] = sh.classes;
    d_labels.upload(bad);
    k::cross_entropy_forward_cuda(sh, d_logits.get(), d_labels.get(), d_loss.get(), d_probs.get(), nullptr, nullptr);
    CHECK(std::isnan(d_loss.download()[0]));
  }
}

TEST_CASE("cuda cross-entropy loss and count are bitwise repeatable", "[cuda_ops][cross_entropy]") {
  const k::CrossEntropyShape sh{70, 10};
  const auto logits = random_values(size_t(sh.n) * sh.classes, 71);
  std::vector<int32_t> labels(sh.n);
  for (int i = 0; i < sh.n; ++i) labels[i] = (i * 7) % sh.classes;
  check_repeatable("cross-entropy forward", [&] {
    Dev<float> d_logits(logits), d_loss(1), d_probs(logits.size());
    Dev<int32_t> d_labels(labels);
    Dev<int64_t> d_correct(1);
    k::cross_entropy_forward_cuda(sh, d_logits.get(), d_labels.get(), d_loss.get(), d_probs.get(), d_correct.get(),
                                  nullptr);
    std::vector<float> out = d_probs.download();
    out.push_back(d_loss.download()[0]);
    out.push_back(float(d_correct.download()[0]));
    return out;
  });
}

// ---- multi-tensor statistics and SGD ------------------------------------------------------------
// A set of parameter tensors on the device: sizes around the chunk size, an empty one, a large one.
struct TensorSet {
  std::vector<int64_t> sizes;
  std::vector<std::vector<float>> w, g, v;
  std::vector<std::unique_ptr<Dev<float>>> dw, dg, dv;
  std::vector<k::MultiTensorDesc> descs;

  TensorSet(std::vector<int64_t> s, bool momentum, uint64_t seed) : sizes(std::move(s)) {
    for (size_t t = 0; t < sizes.size(); ++t) {
      const int64_t n = sizes[t];
      w.push_back(shifted(random_values(n, seed + 3 * t), 0.3f, 0.05f));
      g.push_back(shifted(random_values(n, seed + 3 * t + 1), 0.01f, 0.001f));
      v.push_back(momentum ? shifted(random_values(n, seed + 3 * t + 2), 0.02f, 0.0f) : std::vector<float>());
      dw.push_back(std::make_unique<Dev<float>>(w.back()));
      dg.push_back(std::make_unique<Dev<float>>(g.back()));
      dv.push_back(momentum ? std::make_unique<Dev<float>>(v.back()) : nullptr);
      descs.push_back({dw.back()->get(), dg.back()->get(), momentum ? dv.back()->get() : nullptr, n});
    }
  }
};

const std::vector<int64_t> kTensorSizes = {1, 4095, 4096, 4097, 0, 33, 12289, 70000};

std::vector<double> stats_as_doubles(const std::vector<k::TensorStats>& s) {
  std::vector<double> out;
  for (const auto& t : s) out.insert(out.end(), {t.w2, t.g2, t.gw, t.v2});
  return out;
}

std::vector<k::TensorStats> run_tensor_stats(TensorSet& set) {
  k::MultiTensorList list = k::make_multi_tensor_list(set.descs.data(), int(set.descs.size()));
  Dev<k::TensorStats> stats(set.descs.size());
  k::tensor_stats_cuda(list, stats.get(), nullptr);
  auto out = stats.download();
  k::free_multi_tensor_list(list);
  return out;
}

TEST_CASE("cuda multi-tensor statistics match the CPU", "[cuda_ops][stats]") {
  for (bool momentum : {false, true}) {
    INFO("momentum buffers " << momentum);
    TensorSet set(kTensorSizes, momentum, 100);
    const auto got = run_tensor_stats(set);
    std::vector<k::TensorStats> want;
    for (size_t t = 0; t < set.sizes.size(); ++t)
      want.push_back(k::tensor_stats_cpu(set.sizes[t], set.w[t].data(), set.g[t].data(),
                                         momentum ? set.v[t].data() : nullptr));
    // Both sum in double, in different orders: agreement to ~1e-13 relative.
    check_close("stats", stats_as_doubles(got), stats_as_doubles(want), 1e-12, 1e-300);
  }
  // An empty list launches nothing.
  k::MultiTensorList empty = k::make_multi_tensor_list(nullptr, 0);
  k::tensor_stats_cuda(empty, nullptr, nullptr);
  k::free_multi_tensor_list(empty);
}

TEST_CASE("cuda multi-tensor statistics are bitwise repeatable", "[cuda_ops][stats]") {
  TensorSet set({4097, 9000, 70000, 5}, true, 200);
  check_repeatable("tensor statistics", [&] { return stats_as_doubles(run_tensor_stats(set)); });
}

TEST_CASE("cuda SGD matches sgd_update_cpu", "[cuda_ops][sgd]") {
  struct Case {
    float momentum, wd;
    bool nesterov, first, per_tensor_lr;
  };
  for (const Case& c : {Case{0, 0, false, true, false}, Case{0, 5e-4f, false, false, true},
                        Case{0.9f, 5e-4f, false, true, false}, Case{0.9f, 5e-4f, false, false, true},
                        Case{0.9f, 0, true, false, true}}) {
    INFO("momentum " << c.momentum << " wd " << c.wd << " nesterov " << c.nesterov << " first " << c.first
                     << " per-tensor lr " << c.per_tensor_lr);
    const bool momentum = c.momentum != 0;
    TensorSet set(kTensorSizes, momentum, 300);
    std::vector<double> lrs;
    for (size_t t = 0; t < set.sizes.size(); ++t) lrs.push_back(0.05 + 0.01 * double(t));
    k::SgdParams p;
    p.lr = 0.1f;
    p.momentum = c.momentum;
    p.weight_decay = c.wd;
    p.nesterov = c.nesterov;
    p.first_step = c.first;

    k::MultiTensorList list = k::make_multi_tensor_list(set.descs.data(), int(set.descs.size()));
    Dev<double> d_lrs(lrs), d_dw2(set.sizes.size());
    k::sgd_update_cuda(list, p, c.per_tensor_lr ? d_lrs.get() : nullptr, d_dw2.get(), nullptr);
    const auto dw2 = d_dw2.download();
    k::free_multi_tensor_list(list);

    for (size_t t = 0; t < set.sizes.size(); ++t) {
      INFO("tensor " << t << " of " << set.sizes[t] << " elements");
      k::SgdParams pt = p;
      if (c.per_tensor_lr) pt.lr = float(lrs[t]);
      if (set.sizes[t] == 0) {
        CHECK(dw2[t] == 0.0);
        continue;
      }
      std::vector<float> w = set.w[t], v = set.v[t];
      const double want_dw2 = k::sgd_update_cpu(set.sizes[t], pt, w.data(), set.g[t].data(),
                                                momentum ? v.data() : nullptr);
      check_close("w", set.dw[t]->download(), w, 1e-6, 1e-9);
      if (momentum) check_close("v", set.dv[t]->download(), v, 1e-6, 1e-9);
      check_close("dw2", std::vector<double>{dw2[t]}, std::vector<double>{want_dw2}, 1e-5, 1e-30);
    }
  }
  // Momentum without buffers is refused on the host.
  TensorSet plain({10}, false, 400);
  k::MultiTensorList list = k::make_multi_tensor_list(plain.descs.data(), 1);
  k::SgdParams p;
  p.momentum = 0.9f;
  Dev<double> dw2(1);
  CHECK_THROWS_WITH(k::sgd_update_cuda(list, p, nullptr, dw2.get(), nullptr), Catch::Contains("momentum buffer"));
  k::free_multi_tensor_list(list);
}

TEST_CASE("cuda SGD |dW|^2 and weights are bitwise repeatable", "[cuda_ops][sgd]") {
  check_repeatable("sgd", [] {
    TensorSet set({4097, 70000, 3}, true, 500);
    k::MultiTensorList list = k::make_multi_tensor_list(set.descs.data(), 3);
    k::SgdParams p;
    p.momentum = 0.9f;
    p.weight_decay = 1e-4f;
    p.first_step = false;
    Dev<double> dw2(3);
    k::sgd_update_cuda(list, p, nullptr, dw2.get(), nullptr);
    std::vector<double> out = dw2.download();
    for (int t = 0; t < 3; ++t)
      for (float x : set.dw[t]->download()) out.push_back(x);
    k::free_multi_tensor_list(list);
    return out;
  });
}

// ---- LR control -------------------------------------------------------------------------------
// Layers like a small BN network: scale-invariant convs, BN weights/biases, a classifier.
std::vector<elr::LayerStats> make_layers(uint64_t seed, int count) {
  std::vector<elr::LayerStats> layers;
  const auto r = random_values(size_t(count) * 3, seed);
  for (int i = 0; i < count; ++i) {
    elr::LayerStats l;
    const int role = i % 5;
    l.kind = role < 2 ? elr::ParamKind::Conv
                      : role == 2 ? elr::ParamKind::BnWeight : role == 3 ? elr::ParamKind::BnBias
                                                                          : elr::ParamKind::Classifier;
    l.name = role == 4 ? (i % 2 ? "fc.weight" : "fc.bias") : fmt::format("layers.{}.x", i);
    l.scale_invariant = role < 2;
    l.w2 = std::pow(10.0, 2.0 * double(r[3 * i]));
    l.g2 = std::pow(10.0, 3.0 * double(r[3 * i + 1]) - 2.0);
    l.gw = 0.01 * double(r[3 * i + 2]);
    layers.push_back(l);
  }
  layers[1].w2 = 0;  // e = 0: left out of every decision
  layers[5].g2 = 0;
  layers[6].w2 = layers[0].w2;  // two scale-invariant layers with the same e (a tie for the median)
  layers[6].g2 = layers[0].g2;
  layers[10].g2 = INFINITY;  // e = inf: no finite ELR (critical-warmup), lr 0 (uniform-elr, lars)
  return layers;
}

// The bit patterns, so that the comparison tells -0 from 0 and would catch a NaN.
std::vector<uint64_t> bits_of(const std::vector<double>& values) {
  std::vector<uint64_t> out(values.size());
  std::memcpy(out.data(), values.data(), values.size() * sizeof(double));
  return out;
}

uint8_t layer_flags(const elr::LayerStats& l) {
  const bool weight = l.kind == elr::ParamKind::Conv || l.kind == elr::ParamKind::Linear ||
                      (l.kind == elr::ParamKind::Classifier && l.name.size() > 7 &&
                       l.name.compare(l.name.size() - 7, 7, ".weight") == 0);
  return uint8_t((l.scale_invariant ? k::kLayerScaleInvariant : 0) | (weight ? k::kLayerLarsWeight : 0));
}

TEST_CASE("cuda LR control gives the same bits as LrController::decide for every kind", "[cuda_ops][lr_control]") {
  // Both run kernels/lr_control_rule.h: the device's learning rates, global lr and uniform-elr
  // reference are the host's, bit for bit.
  struct Variant {
    k::LrControlKind kind;
    elr::TargetElrRule rule = elr::TargetElrRule::Model;
    double weight_decay = 0;  // uniform-elr's model target: its floor
  };
  const std::vector<Variant> variants = {{k::LrControlKind::None},
                                         {k::LrControlKind::CriticalWarmup},
                                         {k::LrControlKind::MaxElrWarmup},
                                         {k::LrControlKind::UniformElr},
                                         {k::LrControlKind::UniformElr, elr::TargetElrRule::Model, 5e-4},
                                         {k::LrControlKind::UniformElr, elr::TargetElrRule::Step0},
                                         {k::LrControlKind::Lars}};
  for (const Variant& v : variants) {
    for (int layer_count : {11, 14}) {  // odd and even numbers of scale-invariant layers (median)
      for (double base_lr : {0.1, 50.0}) {  // critical LR above and below the target
        INFO(elr::lr_control_name(v.kind) << ", rule " << elr::target_elr_rule_name(v.rule) << ", wd "
                                          << v.weight_decay << ", " << layer_count << " layers, base lr " << base_lr);
        elr::ScheduleConfig schedule;
        schedule.kind = elr::ScheduleKind::Cosine;
        schedule.lr = base_lr;
        schedule.total_steps = 100;
        elr::LrControlConfig config;
        config.kind = v.kind;
        config.target_rule = v.rule;
        config.momentum = 0.9;
        config.weight_decay = v.weight_decay;
        elr::LrController controller(schedule, config);
        Dev<double> reference(std::vector<double>{0.0});
        for (int64_t step : {int64_t(0), int64_t(30)}) {  // uniform-elr freezes its reference at step 0
          INFO("step " << step);
          std::vector<elr::LayerStats> layers = make_layers(700 + uint64_t(step), layer_count);
          std::vector<k::TensorStats> stats;
          std::vector<uint8_t> flags;
          for (const auto& l : layers) {
            stats.push_back({l.w2, l.g2, l.gw, l.v2});
            flags.push_back(layer_flags(l));
          }
          const double want_global = controller.decide(step, layers);
          k::LrControlArgs args = elr::lr_control_args(schedule, config);
          args.target_lr = elr::scheduled_lr(schedule, step);
          args.step_index = step;
          Dev<k::TensorStats> d_stats(stats);
          Dev<uint8_t> d_flags(flags);
          Dev<double> d_lrs(layers.size()), d_global(1);
          k::lr_control_cuda(layer_count, d_stats.get(), d_flags.get(), args, reference.get(), d_lrs.get(),
                             d_global.get(), nullptr);
          std::vector<double> want_lrs;
          for (const auto& l : layers) want_lrs.push_back(l.lr);
          CHECK(bits_of(d_lrs.download()) == bits_of(want_lrs));
          CHECK(bits_of(d_global.download()) == bits_of({want_global}));
          CHECK(bits_of(reference.download()) == bits_of({controller.reference_elr()}));
        }
      }
    }
  }
}

TEST_CASE("cuda statistics, LR control and SGD chain on the device", "[cuda_ops][lr_control][sgd]") {
  // One step without host synchronization: statistics -> per-layer LRs -> SGD reading them.
  TensorSet set({300, 5000, 20}, true, 800);
  const std::vector<uint8_t> flags = {k::kLayerScaleInvariant | k::kLayerLarsWeight, k::kLayerLarsWeight, 0};
  k::MultiTensorList list = k::make_multi_tensor_list(set.descs.data(), 3);
  Dev<k::TensorStats> stats(3);
  Dev<uint8_t> d_flags(flags);
  Dev<double> reference(std::vector<double>{0.0}), lrs(3), dw2(3);
  k::LrControlArgs args;
  args.kind = k::LrControlKind::Lars;
  args.target_lr = args.base_lr = 0.5;
  k::SgdParams p;
  p.momentum = 0.9f;
  k::tensor_stats_cuda(list, stats.get(), nullptr);
  k::lr_control_cuda(3, stats.get(), d_flags.get(), args, reference.get(), lrs.get(), nullptr, nullptr);
  k::sgd_update_cuda(list, p, lrs.get(), dw2.get(), nullptr);
  const auto got_lrs = lrs.download();
  k::free_multi_tensor_list(list);
  for (int t = 0; t < 3; ++t) {
    INFO("tensor " << t);
    const k::TensorStats s = k::tensor_stats_cpu(set.sizes[t], set.w[t].data(), set.g[t].data(), set.v[t].data());
    const double lr = (flags[t] & k::kLayerLarsWeight) ? 0.5 * args.lars_trust * std::sqrt(s.w2 / s.g2) : 0.5;
    CHECK(got_lrs[t] == Approx(lr).epsilon(1e-12));
    k::SgdParams pt = p;
    pt.lr = float(got_lrs[t]);
    std::vector<float> w = set.w[t], v = set.v[t];
    k::sgd_update_cpu(set.sizes[t], pt, w.data(), set.g[t].data(), v.data());
    check_close("w", set.dw[t]->download(), w, 1e-6, 1e-9);
  }
}

}  // namespace
