// The benchmark harness validates before it times: broken kernels yield a validation error naming
// the case and no time, correct ones pass and are timed. Small shapes and 1-2 repeats; nothing
// asserts on speed.
#include <catch2/catch.hpp>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "bench/cpu/kernel_bench.h"
#include "bench/cpu/step_bench.h"
#include "bench/report.h"
#include "kernels/optable/case_lists.h"
#include "kernels/optable/networks.h"
#include "kernels/optable/ops.h"

using namespace elr;
using namespace elr::bench;
using namespace elr::kernels;

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
  CHECK(r.error.find(r.shape) != std::string::npos);  // the message names the case
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

// Batch 3, so the first and the last images are distinct from the middle one.
const Conv2dShape kConv{3, 4, 6, 6, 5, 3, 3, 1, 1};
const BatchNormShape kBn{3, 4, 10};
const PoolShape kPool{2, 3, 6, 6};
const std::vector<int64_t> kTensors = {40, 7};

// The table's CPU entry, then `damage` on the outputs.
OpEntry damaged(std::function<void(const OpCase&, const OpArgs&)> damage) {
  return [damage](const OpCase& c, const OpArgs& a) {
    c.cpu(a);
    damage(c, a);
  };
}

}  // namespace

TEST_CASE("bench: a conv forward that drops an input channel stops with a validation error", "[bench]") {
  const OpEntry broken = [](const OpCase& c, const OpArgs& a) {  // tensors: x, w -> y
    const Conv2dShape& s = as<Conv2dForward>(c).shape;
    std::vector<float> xc(a.at<float>(0), a.at<float>(0) + int64_t(s.n) * s.c * s.h * s.w);
    for (int n = 0; n < s.n; ++n)  // the last input channel of every image is lost
      std::fill_n(xc.begin() + (int64_t(n) * s.c + s.c - 1) * s.h * s.w, s.h * s.w, 0.0f);
    conv2d_forward_cpu<float>(s, xc.data(), a.at<float>(1), a.at<float>(2));
  };
  require_stopped(bench_cpu_case(Conv2dForward(kConv), broken, quick_options()));
}

TEST_CASE("bench: a conv forward that skips the last image stops with a validation error", "[bench]") {
  const OpEntry broken = [](const OpCase& c, const OpArgs& a) {
    Conv2dShape fewer = as<Conv2dForward>(c).shape;
    fewer.n -= 1;  // the last image's output is left unwritten
    conv2d_forward_cpu<float>(fewer, a.at<float>(0), a.at<float>(1), a.at<float>(2));
  };
  require_stopped(bench_cpu_case(Conv2dForward(kConv), broken, quick_options()));
}

TEST_CASE("bench: conv backward kernels with a wrong scale or a transposed filter stop", "[bench]") {
  const OpEntry scaled = damaged([](const OpCase&, const OpArgs& a) { a.at<float>(2)[0] *= 1.5f; });
  require_stopped(bench_cpu_case(Conv2dBackwardData(kConv), scaled, quick_options()));
  const OpEntry flipped = damaged([](const OpCase&, const OpArgs& a) {
    std::swap(a.at<float>(2)[0], a.at<float>(2)[kConv.r * kConv.s - 1]);  // first filter tap swapped with the last
  });
  require_stopped(bench_cpu_case(Conv2dBackwardWeight(kConv), flipped, quick_options()));
}

TEST_CASE("bench: a batch norm that forgets the mean stops with a validation error", "[bench]") {
  // Tensors: x, gamma, beta, running_mean, running_var -> y, save_mean, save_invstd.
  const OpEntry no_mean = damaged([](const OpCase& c, const OpArgs& a) {
    const auto& b = as<BatchNormTrainForward>(c);
    const float *x = a.at<float>(0), *gamma = a.at<float>(1), *beta = a.at<float>(2), *invstd = a.at<float>(7);
    float* y = a.at<float>(5);
    for (int n = 0; n < b.shape.n; ++n)  // y = gamma * x * invstd + beta (+ ReLU): the centering is gone
      for (int ch = 0; ch < b.shape.c; ++ch)
        for (int i = 0; i < b.shape.hw; ++i) {
          const int64_t j = (int64_t(n) * b.shape.c + ch) * b.shape.hw + i;
          const float v = gamma[ch] * x[j] * invstd[ch] + beta[ch];
          y[j] = b.params.relu ? std::max(0.0f, v) : v;
        }
  });
  require_stopped(bench_cpu_case(BatchNormTrainForward(kBn, true), no_mean, quick_options()));
  require_stopped(bench_cpu_case(BatchNormTrainForward(kBn, false), no_mean, quick_options()));
}

TEST_CASE("bench: a batch norm backward that ignores the ReLU mask stops", "[bench]") {
  const OpEntry no_mask = [](const OpCase& c, const OpArgs& a) {
    BatchNormBackward(as<BatchNormBackward>(c).shape, /*relu=*/false).cpu(a);
  };
  require_stopped(bench_cpu_case(BatchNormBackward(kBn, true), no_mask, quick_options()));
}

TEST_CASE("bench: broken pooling, loss, statistics and SGD kernels stop", "[bench]") {
  const OpEntry first_not_max = damaged([](const OpCase&, const OpArgs& a) {
    int32_t* arg = a.at<int32_t>(2);
    arg[0] = arg[0] % 2 == 0 ? arg[0] + 1 : arg[0] - 1;  // a neighbour's index
  });
  require_stopped(bench_cpu_case(MaxPoolForward(kPool), first_not_max, quick_options()));
  const OpEntry sum_not_mean = damaged([](const OpCase&, const OpArgs& a) {
    for (int i = 0; i < kPool.n * kPool.c; ++i) a.at<float>(1)[i] *= float(kPool.h * kPool.w);
  });
  require_stopped(bench_cpu_case(AvgPoolForward(kPool), sum_not_mean, quick_options()));
  const OpEntry no_batch_mean = [](const OpCase& c, const OpArgs& a) {  // probs, labels, dloss -> dlogits
    const CrossEntropyShape& s = as<CrossEntropyBackward>(c).shape;
    cross_entropy_backward_cpu<float>(s, a.at<float>(0), a.at<int32_t>(1), *a.at<float>(2) * s.n, a.at<float>(3));
  };
  require_stopped(bench_cpu_case(CrossEntropyBackward({8, 10}), no_batch_mean, quick_options()));
  const OpEntry no_momentum = [](const OpCase& c, const OpArgs& a) {  // w, g, v -> stats: |v|^2 left at 0
    const auto& t = as<TensorStatsCase>(c);
    for (size_t i = 0; i < t.sizes.size(); ++i)
      a.at<TensorStats>(3)[i] =
          tensor_stats_cpu(t.sizes[i], a.at<float>(0) + t.offsets[i], a.at<float>(1) + t.offsets[i], nullptr);
  };
  require_stopped(bench_cpu_case(TensorStatsCase(kTensors, "two tensors"), no_momentum, quick_options()));
  const OpEntry no_weight_decay = [](const OpCase& c, const OpArgs& a) {
    const auto& t = as<SgdCase>(c);
    SgdParams p = t.params;
    p.weight_decay = 0;
    SgdCase(t.sizes, t.label, p).cpu(a);
  };
  require_stopped(
      bench_cpu_case(SgdCase(kTensors, "two tensors", benchmark_sgd_params()), no_weight_decay, quick_options()));
}

TEST_CASE("bench: the engine's kernels pass validation and are timed", "[bench]") {
  const BenchOptions o = quick_options();
  std::vector<OpCasePtr> cases = conv2d_cases(kConv);
  for (const OpCasePtr& c : conv2d_cases(Conv2dShape{3, 4, 7, 7, 6, 1, 1, 2, 0})) cases.push_back(c);
  for (bool relu : {false, true})
    for (const OpCasePtr& c : batchnorm_cases(kBn, relu)) cases.push_back(c);
  for (const OpCasePtr& c : pool_cases(kPool)) cases.push_back(c);
  for (const OpCasePtr& c : cross_entropy_cases({8, 10})) cases.push_back(c);
  const std::vector<int64_t> tensors = {40, 7, 1000};
  cases.push_back(std::make_shared<TensorStatsCase>(tensors, "three tensors"));
  cases.push_back(std::make_shared<SgdCase>(tensors, "three tensors", benchmark_sgd_params()));
  for (const OpCasePtr& c : cases) require_timed(bench_cpu_case(*c, run_cpu, o));
}

TEST_CASE("bench: a failed row reaches the report as an error without a time", "[bench]") {
  BenchReport report;
  report.kernels.push_back(bench_cpu_case(Conv2dForward(kConv), run_cpu, quick_options()));
  report.kernels.push_back(bench_cpu_case(Conv2dForward(kConv), damaged([](const OpCase&, const OpArgs& a) {
                                            a.at<float>(2)[0] += 1.0f;
                                          }),
                                          quick_options()));
  CHECK(report.validation_failures() == 1);
  const nlohmann::json j = to_json(report);
  CHECK(j["kernels"][0].contains("median_s"));
  CHECK_FALSE(j["kernels"][1].contains("median_s"));
  CHECK(j["kernels"][1]["error"].get<std::string>().find("validation failed") != std::string::npos);
  CHECK(to_markdown(report).find("validation failed") != std::string::npos);
}

TEST_CASE("bench: the benchmarked layers are the ones build_model makes", "[bench]") {
  for (const NetSpec& net : benchmark_nets()) {
    INFO(net.label());
    ModelConfig mc;
    mc.name = net.model;
    mc.depth = net.depth;
    mc.width = net.width;
    mc.in_channels = net.in_channels;
    mc.image_size = net.image_size;
    mc.classes = net.classes;
    std::vector<std::vector<int64_t>> conv_weights;
    std::vector<int64_t> sizes;
    const std::shared_ptr<Module> model = build_model(mc);
    for (const Parameter* p : model->parameters()) {
      if (p->kind == ParamKind::Conv) conv_weights.push_back(p->value.shape());
      sizes.push_back(p->value.numel());
    }
    const NetLayers layers = net_layers(net, 128);
    CHECK(layers.parameter_sizes == sizes);
    CHECK(parameter_sizes(mc) == sizes);
    REQUIRE(layers.convs.size() == conv_weights.size());
    for (size_t i = 0; i < layers.convs.size(); ++i) {
      const Conv2dShape& s = layers.convs[i].conv;
      CHECK(std::vector<int64_t>{s.k, s.c, s.r, s.s} == conv_weights[i]);
      CHECK(s.n == 128);
      CHECK(s.pad == s.r / 2);
    }
    // The last conv's output (after vgg's pools) feeds the classifier through the global average pool.
    CHECK(layers.avgpool.c == layers.convs.back().conv.k);
    CHECK(layers.avgpool.h >= 1);
    CHECK(layers.classifier.in == layers.avgpool.c);
    CHECK(layers.classifier.out == net.classes);
  }
  // 3x32x32 CIFAR: resnet ends at 8x8, vgg-11 at 1x1 after five pools.
  CHECK(net_layers(benchmark_nets()[0], 4).avgpool.h == 8);
  CHECK(net_layers(benchmark_nets()[2], 4).maxpools.size() == 5);
  CHECK(net_layers(benchmark_nets()[2], 4).avgpool.h == 1);
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
