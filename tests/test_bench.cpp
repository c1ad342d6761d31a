// The benchmark harness validates before it times: broken kernels yield a validation error and no
// time, correct ones pass and are timed. Small shapes and 1-2 repeats; nothing asserts on speed.
#include <catch2/catch.hpp>

#include <omp.h>

#include <cmath>
#include <vector>

#include "bench/cpu/kernel_bench.h"
#include "bench/cpu/step_bench.h"
#include "bench/report.h"

using namespace elr;
using namespace elr::bench;
using kernels::BatchNormShape;
using kernels::Conv2dShape;

namespace {

BenchOptions quick_options() {
  BenchOptions o;
  o.repeats = 2;
  o.warmup = 0;
  o.flush_cache = false;
  o.min_repeat_s = 0;
  return o;
}

void require_stopped(const KernelRow& r) {
  INFO(r.kernel << " " << r.shape << ": " << r.error);
  CHECK_FALSE(r.valid);
  CHECK(r.error.find("validation failed") != std::string::npos);
  CHECK(r.median_s == 0);
  CHECK(r.min_s == 0);
  CHECK(r.repeats == 0);
}

void require_timed(const KernelRow& r) {
  INFO(r.kernel << " " << r.shape << ": " << r.error);
  REQUIRE(r.valid);
  CHECK(r.error.empty());
  CHECK(r.median_s > 0);
  CHECK(r.min_s > 0);
  CHECK(r.min_s <= r.median_s);
  CHECK(r.max_rel_error < 1e-4);
}

// Batch 3, so the validation's first and last images are distinct from the middle one.
const Conv2dShape kConv{3, 4, 6, 6, 5, 3, 3, 1, 1};
const BatchNormShape kBn{3, 4, 10};

}  // namespace

TEST_CASE("bench: a conv forward that drops an input channel stops with a validation error", "[bench]") {
  const ConvForwardFn broken = [](const Conv2dShape& s, const float* x, const float* w, float* y) {
    std::vector<float> xc(x, x + int64_t(s.n) * s.c * s.h * s.w);
    for (int n = 0; n < s.n; ++n)  // the last input channel of every image is lost
      std::fill_n(xc.begin() + (int64_t(n) * s.c + s.c - 1) * s.h * s.w, s.h * s.w, 0.0f);
    kernels::conv2d_forward_cpu<float>(s, xc.data(), w, y);
  };
  require_stopped(bench_conv_forward(kConv, broken, quick_options()));
}

TEST_CASE("bench: a conv forward that skips the last image stops with a validation error", "[bench]") {
  const ConvForwardFn broken = [](const Conv2dShape& s, const float* x, const float* w, float* y) {
    Conv2dShape fewer = s;
    fewer.n = s.n - 1;  // the last image's output is left unwritten
    kernels::conv2d_forward_cpu<float>(fewer, x, w, y);
  };
  require_stopped(bench_conv_forward(kConv, broken, quick_options()));
}

TEST_CASE("bench: conv backward kernels with a wrong scale or a transposed filter stop", "[bench]") {
  const ConvBackwardDataFn scaled = [](const Conv2dShape& s, const float* dy, const float* w, float* dx) {
    kernels::conv2d_backward_data_cpu<float>(s, dy, w, dx);
    dx[0] *= 1.5f;
  };
  require_stopped(bench_conv_backward_data(kConv, scaled, quick_options()));
  const ConvBackwardWeightFn flipped = [](const Conv2dShape& s, const float* x, const float* dy, float* dw) {
    kernels::conv2d_backward_weight_cpu<float>(s, x, dy, dw);
    std::swap(dw[0], dw[s.r * s.s - 1]);  // first filter tap swapped with the last
  };
  require_stopped(bench_conv_backward_weight(kConv, flipped, quick_options()));
}

TEST_CASE("bench: a batch norm that forgets the mean stops with a validation error", "[bench]") {
  const BnForwardFn no_mean = [](const BatchNormShape& s, const kernels::BatchNormParams& p, const float* x,
                                 const float* gamma, const float* beta, float* y, float* mean, float* invstd,
                                 float* rm, float* rv) {
    kernels::batchnorm_forward_train_cpu<float>(s, p, x, gamma, beta, y, mean, invstd, rm, rv);
    for (int n = 0; n < s.n; ++n)  // y = gamma * x * invstd + beta (+ ReLU): the centering is gone
      for (int c = 0; c < s.c; ++c)
        for (int i = 0; i < s.hw; ++i) {
          const int64_t j = (int64_t(n) * s.c + c) * s.hw + i;
          const float v = gamma[c] * x[j] * invstd[c] + beta[c];
          y[j] = p.relu ? std::max(0.0f, v) : v;
        }
  };
  require_stopped(bench_bn_forward(kBn, true, no_mean, quick_options()));
  require_stopped(bench_bn_forward(kBn, false, no_mean, quick_options()));
}

TEST_CASE("bench: a batch norm backward that ignores the ReLU mask stops", "[bench]") {
  const BnBackwardFn no_mask = [](const BatchNormShape& s, const kernels::BatchNormParams& p, const float* x,
                                  const float* y, const float* dy, const float* gamma, const float* mean,
                                  const float* invstd, float* dx, float* dgamma, float* dbeta) {
    kernels::BatchNormParams plain = p;
    plain.relu = false;
    kernels::batchnorm_backward_cpu<float>(s, plain, x, y, dy, gamma, mean, invstd, dx, dgamma, dbeta);
  };
  require_stopped(bench_bn_backward(kBn, true, no_mask, quick_options()));
}

TEST_CASE("bench: broken pooling, loss, statistics and SGD kernels stop", "[bench]") {
  const kernels::PoolShape pool{2, 3, 6, 6};
  const MaxPoolForwardFn first_not_max = [](const kernels::PoolShape& s, const float* x, float* y, int32_t* arg) {
    kernels::maxpool2x2_forward_cpu<float>(s, x, y, arg);
    arg[0] = arg[0] % 2 == 0 ? arg[0] + 1 : arg[0] - 1;  // a neighbour's index
  };
  require_stopped(bench_maxpool_forward(pool, first_not_max, quick_options()));
  const AvgPoolForwardFn sum_not_mean = [](const kernels::PoolShape& s, const float* x, float* y) {
    kernels::global_avgpool_forward_cpu<float>(s, x, y);
    for (int i = 0; i < s.n * s.c; ++i) y[i] *= float(s.h * s.w);
  };
  require_stopped(bench_avgpool_forward(pool, sum_not_mean, quick_options()));
  const CrossEntropyBackwardFn no_batch_mean = [](const kernels::CrossEntropyShape& s, const float* probs,
                                                  const int32_t* labels, float dloss, float* dlogits) {
    kernels::cross_entropy_backward_cpu<float>(s, probs, labels, dloss * s.n, dlogits);
  };
  require_stopped(bench_cross_entropy_backward({8, 10}, no_batch_mean, quick_options()));
  const TensorStatsFn no_momentum = [](int64_t count, const float* w, const float* g, const float* v) {
    return kernels::tensor_stats_cpu(count, w, g, nullptr);  // |v|^2 left at 0
  };
  require_stopped(bench_tensor_stats({40, 7}, "two tensors", no_momentum, quick_options()));
  const SgdUpdateFn no_weight_decay = [](int64_t count, const kernels::SgdParams& p, float* w, const float* g, float* v) {
    kernels::SgdParams q = p;
    q.weight_decay = 0;
    return kernels::sgd_update_cpu(count, q, w, g, v);
  };
  require_stopped(bench_sgd_update({40, 7}, "two tensors", no_weight_decay, quick_options()));
}

TEST_CASE("bench: the engine's kernels pass validation and are timed", "[bench]") {
  const BenchOptions o = quick_options();
  const CpuKernels k;
  require_timed(bench_conv_forward(kConv, k.conv_forward, o));
  require_timed(bench_conv_backward_data(kConv, k.conv_backward_data, o));
  require_timed(bench_conv_backward_weight(kConv, k.conv_backward_weight, o));
  const Conv2dShape strided{3, 4, 7, 7, 6, 1, 1, 2, 0};
  require_timed(bench_conv_forward(strided, k.conv_forward, o));
  require_timed(bench_conv_backward_weight(strided, k.conv_backward_weight, o));
  for (bool relu : {false, true}) {
    require_timed(bench_bn_forward(kBn, relu, k.bn_forward, o));
    require_timed(bench_bn_backward(kBn, relu, k.bn_backward, o));
  }
  const kernels::PoolShape pool{2, 3, 6, 6};
  require_timed(bench_maxpool_forward(pool, k.maxpool_forward, o));
  require_timed(bench_maxpool_backward(pool, k.maxpool_backward, o));
  require_timed(bench_avgpool_forward(pool, k.avgpool_forward, o));
  require_timed(bench_avgpool_backward(pool, k.avgpool_backward, o));
  require_timed(bench_cross_entropy_forward({8, 10}, k.cross_entropy_forward, o));
  require_timed(bench_cross_entropy_backward({8, 10}, k.cross_entropy_backward, o));
  require_timed(bench_tensor_stats({40, 7, 1000}, "three tensors", k.tensor_stats, o));
  require_timed(bench_sgd_update({40, 7, 1000}, "three tensors", k.sgd_update, o));
}

TEST_CASE("bench: a failed row reaches the report as an error without a time", "[bench]") {
  BenchReport report;
  report.kernels.push_back(bench_conv_forward(kConv, CpuKernels{}.conv_forward, quick_options()));
  report.kernels.push_back(bench_conv_forward(
      kConv, [](const Conv2dShape& s, const float* x, const float* w, float* y) {
        kernels::conv2d_forward_cpu<float>(s, x, w, y);
        y[0] += 1.0f;
      },
      quick_options()));
  CHECK(report.validation_failures() == 1);
  const nlohmann::json j = to_json(report);
  CHECK(j["kernels"][0].contains("median_s"));
  CHECK_FALSE(j["kernels"][1].contains("median_s"));
  CHECK(j["kernels"][1]["error"].get<std::string>().find("validation failed") != std::string::npos);
  CHECK(to_markdown(report).find("validation failed") != std::string::npos);
}

TEST_CASE("bench: the benchmarked conv layers are the ones build_model makes", "[bench]") {
  for (const auto& [label, mc] : kernel_suite_nets()) {
    INFO(label);
    std::vector<std::vector<int64_t>> conv_weights;
    const std::shared_ptr<Module> model = build_model(mc);
    for (const Parameter* p : model->parameters())
      if (p->kind == ParamKind::Conv) conv_weights.push_back(p->value.shape());
    const std::vector<ConvLayer> layers = conv_layers(mc, 128);
    REQUIRE(layers.size() == conv_weights.size());
    int size = mc.image_size;
    for (size_t i = 0; i < layers.size(); ++i) {
      const Conv2dShape& s = layers[i].conv;
      CHECK(std::vector<int64_t>{s.k, s.c, s.r, s.s} == conv_weights[i]);
      CHECK(s.n == 128);
      CHECK(s.pad == s.r / 2);
      size = std::min(size, s.p());
    }
    // The last conv's output (after vgg's pools) feeds the classifier through the global average pool.
    const kernels::PoolShape gap = avgpool_input(mc, 128);
    CHECK(gap.c == layers.back().conv.k);
    CHECK(gap.h >= 1);
  }
  // 3x32x32 CIFAR: resnet ends at 8x8, vgg-11 at 1x1 after five pools.
  CHECK(avgpool_input(kernel_suite_nets()[0].second, 4).h == 8);
  CHECK(maxpool_inputs(kernel_suite_nets()[2].second, 4).size() == 5);
  CHECK(avgpool_input(kernel_suite_nets()[2].second, 4).h == 1);
}

TEST_CASE("bench: the CPU step row runs the training run's host step and keeps every timed step", "[bench][step]") {
  StepNet net;
  net.label = "plain-4";
  net.model.name = "plain";
  net.model.depth = 4;
  net.model.width = 8;
  net.model.in_channels = 3;
  net.model.image_size = 8;
  net.model.classes = 10;
  net.batch = 4;
  StepBenchConfig c;
  c.threads = omp_get_max_threads();
  c.rounds = 2;
  c.steps_per_round = 2;
  c.warmup = 1;
  c.pytorch = false;
  const StepRow row = bench_step(net, c);
  CHECK(row.net == "plain-4");
  CHECK(row.description.find("batch 4, 3x8x8") != std::string::npos);
  CHECK(row.engine_s.size() == 4);
  CHECK(row.stats_s.size() == 4);
  CHECK(row.pytorch_s.empty());
  CHECK(row.pytorch_error == "not run (--no-pytorch)");
  CHECK(row.ratio == 0);  // no PyTorch time, no ratio
}
