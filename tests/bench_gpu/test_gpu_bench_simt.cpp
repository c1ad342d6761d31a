// The GPU kernel suite's harness (bench/gpu) on the CPU execution layer, at tiny shapes: every CUDA
// kernel validates against the op-case table's reference and gets a time; a broken kernel (one
// output element perturbed, one output left unwritten, or a launch that throws) becomes a
// validation error naming the case, with no time. Timings here mean nothing; only the logic is
// under test.
#include <catch2/catch.hpp>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <set>
#include <string>

#include "bench/gpu/gpu_bench.h"
#include "engine/error.h"
#include "kernels/optable/networks.h"
#include "kernels/optable/ops.h"

using namespace elr;
namespace g = elr::bench::gpu;
namespace k = elr::kernels;

namespace {

// The cases of the tiny suite the checks below look up: its two conv shapes, its SGD tensor list.
const std::vector<k::NetworkCase> kTiny = g::tiny_network_cases();
const k::Conv2dShape kConv0 = k::as<k::Conv2dForward>(*kTiny[0].op).shape;
const k::Conv2dShape kConv1 = k::as<k::Conv2dForward>(*kTiny[3].op).shape;
const std::vector<int64_t> kTensors = k::as<k::SgdCase>(*kTiny.back().op).sizes;

struct StreamGuard {
  cudaStream_t stream = nullptr;
  StreamGuard() { REQUIRE(cudaStreamCreate(&stream) == cudaSuccess); }
  ~StreamGuard() { cudaStreamDestroy(stream); }
};

g::GpuKernelSuiteConfig tiny_config(cudaStream_t stream) {
  g::GpuKernelSuiteConfig c;
  c.cases = g::tiny_network_cases();
  c.options.repeats = 3;
  c.options.warmup = 1;
  c.options.flush_bytes = 1 << 16;
  c.stream = stream;
  return c;
}

// Adds `delta` to one element of a device array (after the stream's work is done).
template <class T>
void perturb(T* device, int64_t index, T delta, cudaStream_t stream) {
  REQUIRE(cudaStreamSynchronize(stream) == cudaSuccess);
  T v{};
  REQUIRE(cudaMemcpy(&v, device + index, sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
  v += delta;
  REQUIRE(cudaMemcpy(device + index, &v, sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
}

const bench::KernelRow& find_row(const std::vector<bench::KernelRow>& rows, const std::string& kernel,
                                 const std::string& shape) {
  auto it = std::find_if(rows.begin(), rows.end(),
                         [&](const bench::KernelRow& r) { return r.kernel == kernel && r.shape == shape; });
  REQUIRE(it != rows.end());
  return *it;
}

void check_timed(const bench::KernelRow& r) {
  INFO(r.kernel << " " << r.shape << ": " << r.error);
  CHECK(r.valid);
  CHECK(r.error.empty());
  CHECK(r.repeats == 3);
  CHECK(r.median_s > 0);
  CHECK(r.min_s > 0);
  CHECK(r.min_s <= r.median_s);
  CHECK(r.max_rel_error < 1e-4);
  CHECK(r.vendor.empty());  // no cuDNN / cuBLAS on the CPU execution layer
}

// A validation error naming the case, the output and (when given) the element.
void check_validation_error(const bench::KernelRow& r, const std::string& output, const std::string& element = "") {
  INFO(r.kernel << " " << r.shape << ": " << r.error);
  CHECK_FALSE(r.valid);
  CHECK(r.error.find("validation failed: " + r.kernel + " " + r.shape) != std::string::npos);
  CHECK(r.error.find("'" + output + "'") != std::string::npos);
  CHECK(r.error.find(element) != std::string::npos);
  CHECK(r.median_s == 0);
  CHECK(r.min_s == 0);
  CHECK(r.repeats == 0);
}

}  // namespace

TEST_CASE("gpu bench: every CUDA kernel validates and is timed at tiny shapes", "[gpu_bench]") {
  StreamGuard sg;
  const auto rows = g::run_gpu_kernel_suite(tiny_config(sg.stream));
  REQUIRE(rows.size() == 20);
  for (const auto& r : rows) check_timed(r);
  CHECK(bench::validation_failures(rows) == 0);
  std::set<std::string> kernels;
  for (const auto& r : rows) kernels.insert(r.kernel);
  for (const char* expected :
       {"conv2d forward", "conv2d backward-data", "conv2d backward-weight", "batchnorm+relu forward",
        "batchnorm backward", "maxpool2x2 forward", "maxpool2x2 backward", "global avgpool forward",
        "global avgpool backward", "softmax cross-entropy forward", "softmax cross-entropy backward",
        "linear forward", "linear backward", "layer statistics", "sgd update (momentum 0.9, wd)"})
    CHECK(kernels.count(expected) == 1);
  // The memory-bound rows carry their traffic, the GEMM-like rows their FLOP.
  CHECK(find_row(rows, "conv2d forward", k::Conv2dForward(kConv0).name()).flop == 2.0 * 2 * 4 * 3 * 9 * 36);
  CHECK(find_row(rows, "batchnorm backward", k::BatchNormBackward({3, 2, 5}, false).name()).bytes == 16.0 * 30);
}

TEST_CASE("gpu bench: a kernel that perturbs one output element is a validation error, not a time",
          "[gpu_bench]") {
  StreamGuard sg;
  g::GpuKernelSuiteConfig c = tiny_config(sg.stream);
  c.ours = [](const k::OpCase& op, const k::OpArgs& a) {
    k::run_cuda(op, a);
    // conv forward (x, w -> y) at the first shape: the last element of y, in the last image.
    if (op.op() == k::Op::Conv2dForward && k::as<k::Conv2dForward>(op).shape.c == 3)
      perturb(a.at<float>(2), int64_t(kConv0.n) * kConv0.k * kConv0.p() * kConv0.q() - 1, 0.5f, a.stream);
    // SGD (w, g, v -> dw2): element 20 of the second tensor's weights.
    if (op.op() == k::Op::SgdUpdate) perturb(a.at<float>(0), kTensors[0] + 20, 1e-3f, a.stream);
  };
  const auto rows = g::run_gpu_kernel_suite(c);
  REQUIRE(rows.size() == 20);
  check_validation_error(find_row(rows, "conv2d forward", k::Conv2dForward(kConv0).name()), "y", "[1, 3, 5, 5]");
  check_validation_error(find_row(rows, "sgd update (momentum 0.9, wd)", "tiny (3 tensors, 5137 values)"), "w",
                         "[120]");
  // The other shape of the broken conv kernel, and every other kernel, still validate and are timed.
  check_timed(find_row(rows, "conv2d forward", k::Conv2dForward(kConv1).name()));
  check_timed(find_row(rows, "conv2d backward-data", k::Conv2dForward(kConv0).name()));
  CHECK(bench::validation_failures(rows) == 2);
}

TEST_CASE("gpu bench: unwritten outputs and failing launches are validation errors", "[gpu_bench]") {
  StreamGuard sg;
  g::GpuKernelSuiteConfig c = tiny_config(sg.stream);
  c.cases.erase(c.cases.begin() + 3, c.cases.begin() + 6);  // one conv shape
  c.ours = [](const k::OpCase& op, const k::OpArgs& a) {
    if (op.op() == k::Op::BatchNormBackward && k::as<k::BatchNormBackward>(op).params.relu) {
      // x, y, dy, gamma, save_mean, save_invstd -> dx, dgamma, dbeta: dbeta left as it was (poisoned).
      const auto& b = k::as<k::BatchNormBackward>(op);
      return k::batchnorm_backward_cuda(b.shape, b.params, a.at<float>(0), a.at<float>(1), a.at<float>(2),
                                        a.at<float>(3), a.at<float>(4), a.at<float>(5), a.at<float>(6),
                                        a.at<float>(7), nullptr, a.workspace, a.stream);
    }
    if (op.op() == k::Op::LinearForward) ELR_FAIL("linear_forward_cuda: launch failed on purpose");
    k::run_cuda(op, a);
    if (op.op() == k::Op::TensorStats) {  // w, g, v -> stats [tensors, 4]: one statistic overwritten with a NaN
      REQUIRE(cudaStreamSynchronize(a.stream) == cudaSuccess);
      REQUIRE(cudaMemset(&a.at<k::TensorStats>(3)[2].gw, 0xff, sizeof(double)) == cudaSuccess);
    }
  };
  const auto rows = g::run_gpu_kernel_suite(c);
  REQUIRE(rows.size() == 17);
  check_validation_error(find_row(rows, "batchnorm+relu backward", k::BatchNormBackward({2, 4, 9}, true).name()),
                         "dbeta");
  check_timed(find_row(rows, "batchnorm backward", k::BatchNormBackward({3, 2, 5}, false).name()));
  check_validation_error(find_row(rows, "layer statistics", "tiny (3 tensors, 5137 values)"), "stats", "[2, 2]");
  const auto& linear = find_row(rows, "linear forward", k::LinearForward({3, 5, 4}).name());
  CHECK_FALSE(linear.valid);
  CHECK(linear.error.find("launch failed on purpose") != std::string::npos);
  CHECK(linear.median_s == 0);
  CHECK(bench::validation_failures(rows) == 3);
}

TEST_CASE("gpu bench: the suite's cases are the CPU suite's layer shapes plus large ones", "[gpu_bench]") {
  const auto quick = k::network_cases(128, false, true);
  const auto full = k::network_cases(128, true, true);
  const auto cifar = k::network_cases(128, true, false);
  auto has = [](const std::vector<k::NetworkCase>& cases, const std::string& id) {
    return std::any_of(cases.begin(), cases.end(), [&](const k::NetworkCase& c) { return c.op->id() == id; });
  };
  auto count = [](const std::vector<k::NetworkCase>& cases, k::Op op) {
    return std::count_if(cases.begin(), cases.end(), [&](const k::NetworkCase& c) { return c.op->op() == op; });
  };
  for (const k::NetSpec& net : k::benchmark_nets()) {
    for (const k::ConvLayer& l : k::net_layers(net, net.batch > 0 ? net.batch : 128).convs) {
      const std::string id = k::Conv2dBackwardWeight(l.conv).id();
      INFO(net.label() << " " << id);
      CHECK(has(full, id));
      if (k::in_quick_subset(net.label())) CHECK(has(quick, id));
    }
  }
  CHECK(count(full, k::Op::Conv2dForward) > count(quick, k::Op::Conv2dForward));
  // vgg-11's and resnet-imagenet-50's parameter lists only with --full.
  CHECK(count(full, k::Op::SgdUpdate) == count(quick, k::Op::SgdUpdate) + 2);
  // The ImageNet stem, 7x7 stride-2 conv and 3x3 stride-2 max-pool, is in the quick subset.
  CHECK(has(quick, k::Conv2dForward(k::Conv2dShape{32, 3, 224, 224, 64, 7, 7, 2, 3}).id()));
  CHECK(has(quick, k::MaxPool3x3s2Forward(k::PoolShape{32, 64, 112, 112}).id()));
  CHECK(has(quick, k::MaxPool3x3s2Backward(k::PoolShape{32, 64, 112, 112}).id()));
  // Large shapes come only when asked for, and are labelled.
  CHECK(std::none_of(cifar.begin(), cifar.end(), [](const k::NetworkCase& c) { return c.nets == "large"; }));
  CHECK(std::any_of(quick.begin(), quick.end(), [](const k::NetworkCase& c) {
    return c.nets == "large" && c.op->op() == k::Op::BatchNormTrainForward;
  }));
  // The resnet-20 stem is shared with resnet-56 and named so.
  const std::string stem = k::Conv2dForward(k::Conv2dShape{128, 3, 32, 32, 16, 3, 3, 1, 1}).id();
  auto it = std::find_if(quick.begin(), quick.end(), [&](const k::NetworkCase& c) { return c.op->id() == stem; });
  REQUIRE(it != quick.end());
  CHECK(it->nets == "resnet-20 resnet-56");
}
