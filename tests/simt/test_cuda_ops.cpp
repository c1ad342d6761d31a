// The CUDA kernels of kernels/cuda (batch norm, elementwise, pooling, cross-entropy, statistics,
// SGD) against the CPU kernels of kernels/cpu over the op-case table (its small cases plus larger or
// odd shapes: C = 1, C >= 64, n*hw not a multiple of the block size), and the LR-control kernel
// against optim/. Built into the emulated test binary (run under two schedules by CTest) and, with
// ELR_CUDA_OPS_ON_GPU, into a GPU test binary. The reductions must give the same bits on every run
// and every schedule.
#include <catch2/catch.hpp>
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/optable/case_lists.h"
#include "kernels/optable/cuda_column.h"
#include "kernels/optable/ops.h"
#include "optim/layer_stats.h"
#include "optim/lr_control.h"
#include "tests/op_sections.h"
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

// Elementwise |got - want| <= atol + rtol * |want| through the one checker (kernels/optable/check.h).
template <class A, class B>
void check_close(const std::string& what, const std::vector<A>& got, const std::vector<B>& want, double rtol,
                 double atol, bool zero_reference_ok = false) {
  const k::Tolerance tol{atol, rtol, std::numeric_limits<double>::infinity(), zero_reference_ok};
  const k::Closeness c = k::evaluate_closeness(got, want, tol);
  INFO(what << ": " << k::describe_closeness(c, "given", tol, 1));
  CHECK(c.ok);
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

std::vector<float> shifted(std::vector<float> v, float scale, float offset) {
  for (float& x : v) x = x * scale + offset;
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

// The written tensors of one CUDA run of a case, back to back.
std::vector<double> cuda_results(const k::OpCase& c, const std::vector<k::Values>& inputs) {
  std::vector<double> all;
  for (const k::Values& v : k::run_on_device(c, k::run_cuda, inputs)) all.insert(all.end(), v.begin(), v.end());
  return all;
}

// The table's small cases of these kernels (conv and linear: test_cuda_conv.cpp), plus larger and odd
// shapes: C >= 64, C = 1 with n*hw past several 512-thread strides, counts around the block size,
// BN channels split over several blocks (chunks ending inside a sample, hw below the block size),
// a loss over many blocks.
std::vector<k::OpCasePtr> parity_cases() {
  std::vector<k::OpCasePtr> cases;
  for (const k::OpCasePtr& c : k::small_cases()) {
    const k::Op op = c->op();
    const bool gemm = op == k::Op::Conv2dForward || op == k::Op::Conv2dBackwardData ||
                      op == k::Op::Conv2dBackwardWeight || op == k::Op::LinearForward || op == k::Op::LinearBackward;
    if (!gemm) cases.push_back(c);
  }
  auto append = [&](const std::vector<k::OpCasePtr>& more) { cases.insert(cases.end(), more.begin(), more.end()); };
  for (k::BatchNormShape s : {k::BatchNormShape{3, 64, 10}, k::BatchNormShape{2, 1, 1333}, k::BatchNormShape{7, 5, 33},
                              k::BatchNormShape{1, 3, 2}, k::BatchNormShape{2, 70, 3}, k::BatchNormShape{5, 3, 1000},
                              k::BatchNormShape{260, 2, 17}})
    for (bool relu : {false, true}) append(k::batchnorm_cases(s, relu));
  for (int64_t count : {int64_t(1), int64_t(255), int64_t(257), int64_t(10007)}) {
    append(k::relu_cases(count));
    for (bool relu : {false, true}) append(k::add_cases(count, relu));
  }
  for (k::PoolShape s : {k::PoolShape{2, 3, 9, 11}, k::PoolShape{1, 64, 6, 6}, k::PoolShape{3, 5, 1, 1},
                         k::PoolShape{2, 7, 15, 4}})
    append(k::pool_cases(s));
  for (k::CrossEntropyShape s : {k::CrossEntropyShape{37, 10}, k::CrossEntropyShape{300, 7},
                                 k::CrossEntropyShape{3, 100}, k::CrossEntropyShape{2, 33},
                                 k::CrossEntropyShape{1000, 3}})
    append(k::cross_entropy_cases(s));
  return cases;
}

TEST_CASE("cuda kernels match the CPU kernels on every op case", "[cuda_ops]") {
  elr::testing::for_each_case(parity_cases(), [](const k::OpCase& c) {
    const std::vector<k::Values> inputs = c.make_inputs();
    const k::CaseCheck check = k::check_case(c, k::run_on_device(c, k::run_cuda, inputs),
                                             k::as_expected(k::run_on_host(c, k::run_cpu, inputs)));
    INFO(check.message);
    CHECK(check.ok);
  });
}

// ---- batch norm -------------------------------------------------------------------------------
TEST_CASE("cuda batchnorm: one value per channel in training is a clear error", "[cuda_ops][batchnorm]") {
  k::BatchNormShape single{1, 2, 1};
  Dev<float> buf(8);
  CHECK_THROWS_WITH(k::batchnorm_forward_train_cuda(single, {}, buf.get(), buf.get(), buf.get(), buf.get(),
                                                    buf.get(), buf.get(), nullptr, nullptr, {}, nullptr),
                    Catch::Contains("n*h*w = 1"));
}

// A one-pass E[x^2] - E[x]^2 would lose the variance of a large mean next to a small spread.
TEST_CASE("cuda batchnorm keeps the variance of a large mean with a small spread", "[cuda_ops][batchnorm]") {
  for (bool relu : {false, true}) {
    const k::BatchNormTrainForward c(k::BatchNormShape{3, 5, 33}, relu);
    std::vector<k::Values> inputs = c.make_inputs();
    for (double& x : inputs[0]) x = double(float(x * 0.25 + 20.0));  // x: mean 20, spread 0.5
    const k::Tolerance tol{1e-5, 1e-5, 1e-9};
    const k::CaseCheck check = k::check_case(c, k::run_on_device(c, k::run_cuda, inputs),
                                             k::as_expected(k::run_on_host(c, k::run_cpu, inputs)), tol);
    INFO(check.message);
    CHECK(check.ok);
  }
}

TEST_CASE("cuda batchnorm backward: dgamma and dbeta are optional", "[cuda_ops][batchnorm]") {
  // Tensors: x, y, dy, gamma, save_mean, save_invstd -> dx, dgamma, dbeta.
  const k::BatchNormBackward c(k::BatchNormShape{4, 3, 5}, true);
  const k::OpEntry dx_only = [](const k::OpCase& op, const k::OpArgs& a) {
    const auto& b = k::as<k::BatchNormBackward>(op);
    k::batchnorm_backward_cuda(b.shape, b.params, a.at<float>(0), a.at<float>(1), a.at<float>(2), a.at<float>(3),
                               a.at<float>(4), a.at<float>(5), a.at<float>(6), nullptr, nullptr, a.workspace,
                               a.stream);
  };
  const std::vector<k::Values> inputs = c.make_inputs();
  CHECK(k::run_on_device(c, dx_only, inputs)[6] == k::run_on_device(c, k::run_cuda, inputs)[6]);
}

TEST_CASE("cuda batchnorm: a workspace smaller than batchnorm_workspace_bytes is a clear error",
          "[cuda_ops][batchnorm]") {
  const k::BatchNormShape sh{5, 3, 1000};
  const size_t bytes = k::batchnorm_workspace_bytes(sh);
  Dev<float> buf(size_t(5) * 3 * 1000);
  Dev<double> partials(bytes / sizeof(double));
  const k::Workspace short_by_one{partials.get(), bytes - sizeof(double)};
  CHECK_THROWS_WITH(k::batchnorm_forward_train_cuda(sh, {}, buf.get(), buf.get(), buf.get(), buf.get(), buf.get(),
                                                    buf.get(), nullptr, nullptr, short_by_one, nullptr),
                    Catch::Contains("batchnorm_workspace_bytes"));
  CHECK_THROWS_WITH(k::batchnorm_backward_cuda(sh, {}, buf.get(), buf.get(), buf.get(), buf.get(), buf.get(), buf.get(),
                                               buf.get(), nullptr, nullptr, k::Workspace{}, nullptr),
                    Catch::Contains("batchnorm_workspace_bytes"));
}

TEST_CASE("cuda batchnorm is bitwise repeatable", "[cuda_ops][batchnorm]") {
  // n*hw = 4444: each channel splits over several blocks whose chunks end inside a sample.
  const k::BatchNormTrainForward forward(k::BatchNormShape{4, 3, 1111}, true);
  REQUIRE(k::batchnorm_workspace_bytes(forward.shape) >= 2 * 3 * 2 * sizeof(double));
  const k::BatchNormBackward backward(forward.shape, true);
  const std::vector<k::Values> fin = forward.make_inputs(), bin = backward.make_inputs();
  check_repeatable("batchnorm forward + backward", [&] {
    std::vector<double> all = cuda_results(forward, fin);
    for (double v : cuda_results(backward, bin)) all.push_back(v);
    return all;
  });
}

// ---- softmax cross-entropy ----------------------------------------------------------------------
TEST_CASE("cuda cross-entropy: a label out of range makes the loss NaN", "[cuda_ops][cross_entropy]") {
  // Tensors: logits, labels -> loss, probs, correct.
  const k::CrossEntropyForward c(k::CrossEntropyShape{37, 10});
  std::vector<k::Values> inputs = c.make_inputs();
  inputs[1].back() = c.shape.classes;
  CHECK(std::isnan(k::run_on_device(c, k::run_cuda, inputs)[2][0]));
}

TEST_CASE("cuda cross-entropy loss and count are bitwise repeatable", "[cuda_ops][cross_entropy]") {
  const k::CrossEntropyForward c(k::CrossEntropyShape{70, 10});  // several blocks' partials
  REQUIRE(k::cross_entropy_forward_workspace_bytes(c.shape) >= 2 * 2 * sizeof(double));
  const std::vector<k::Values> inputs = c.make_inputs();
  check_repeatable("cross-entropy forward", [&] { return cuda_results(c, inputs); });
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

TEST_CASE("cuda multi-tensor statistics: an empty list launches nothing", "[cuda_ops][stats]") {
  k::MultiTensorList empty = k::make_multi_tensor_list(nullptr, 0);
  k::tensor_stats_cuda(empty, nullptr, nullptr);
  k::free_multi_tensor_list(empty);
}

TEST_CASE("cuda multi-tensor statistics are bitwise repeatable", "[cuda_ops][stats]") {
  const k::TensorStatsCase c({4097, 9000, 70000, 5}, "repeat");
  const std::vector<k::Values> inputs = c.make_inputs();
  check_repeatable("tensor statistics", [&] { return cuda_results(c, inputs); });
}

TEST_CASE("cuda SGD: momentum without buffers is refused on the host", "[cuda_ops][sgd]") {
  TensorSet plain({10}, false, 400);
  k::MultiTensorList list = k::make_multi_tensor_list(plain.descs.data(), 1);
  k::SgdParams p;
  p.momentum = 0.9f;
  Dev<double> dw2(1);
  CHECK_THROWS_WITH(k::sgd_update_cuda(list, p, nullptr, dw2.get(), nullptr), Catch::Contains("momentum buffer"));
  k::free_multi_tensor_list(list);
}

TEST_CASE("cuda SGD |dW|^2 and weights are bitwise repeatable", "[cuda_ops][sgd]") {
  k::SgdParams p;
  p.momentum = 0.9f;
  p.weight_decay = 1e-4f;
  p.first_step = false;
  const k::SgdCase c({4097, 70000, 3}, "repeat", p);
  const std::vector<k::Values> inputs = c.make_inputs();
  check_repeatable("sgd", [&] { return cuda_results(c, inputs); });
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

uint8_t layer_flags(const elr::LayerStats& l) { return elr::lr_control_flags(l.scale_invariant, l.kind, l.name); }

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
        for (double affine_scale : {1.0, 0.0, 0.37}) {  // --affine-lr-scale: unchanged, frozen, scaled
          INFO(elr::lr_control_name(v.kind) << ", rule " << elr::target_elr_rule_name(v.rule) << ", wd "
                                            << v.weight_decay << ", " << layer_count << " layers, base lr " << base_lr
                                            << ", affine lr scale " << affine_scale);
          elr::ScheduleConfig schedule;
          schedule.kind = elr::ScheduleKind::Cosine;
          schedule.lr = base_lr;
          schedule.total_steps = 100;
          elr::LrControlConfig config;
          config.kind = v.kind;
          config.target_rule = v.rule;
          config.momentum = 0.9;
          config.weight_decay = v.weight_decay;
          config.affine_lr_scale = affine_scale;
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
            if (affine_scale == 0)  // frozen: the BN parameters and the classifier get lr 0
              for (const auto& l : layers)
                if (layer_flags(l) & k::kLayerAffine) CHECK(l.lr == 0);
            }
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
