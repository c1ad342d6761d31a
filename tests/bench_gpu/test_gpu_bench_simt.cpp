// The GPU kernel suite's harness (bench/gpu) on the CPU execution layer, at tiny shapes: every CUDA
// kernel validates against the CPU reference and gets a time; a broken kernel (one output element
// perturbed, one output left unwritten, or a launch that throws) becomes a validation error with no
// time. Timings here mean nothing; only the logic is under test.
#include <catch2/catch.hpp>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <set>
#include <string>

#include "bench/cpu/kernel_bench.h"
#include "bench/gpu/gpu_bench.h"
#include "engine/error.h"
#include "tests/op_cases.h"

using namespace elr;
namespace g = elr::bench::gpu;
namespace k = elr::kernels;

namespace {

g::GpuShapeSet tiny_shapes() {
  g::GpuShapeSet s;
  s.convs.push_back({k::Conv2dShape{2, 3, 6, 6, 4, 3, 3, 1, 1}, "tiny"});
  s.convs.push_back({k::Conv2dShape{3, 4, 7, 5, 6, 1, 1, 2, 0}, "tiny"});
  s.bns.push_back({k::BatchNormShape{2, 4, 9}, true, "tiny"});
  s.bns.push_back({k::BatchNormShape{3, 2, 5}, false, "tiny"});
  s.maxpools.push_back({k::PoolShape{2, 3, 4, 6}, "tiny"});
  s.avgpools.push_back({k::PoolShape{2, 4, 3, 3}, "tiny"});
  s.losses.push_back({k::CrossEntropyShape{5, 10}, "tiny"});
  s.linears.push_back({k::LinearShape{3, 5, 4}, "tiny"});
  s.param_lists.push_back({{100, 37, 5000}, "tiny"});
  return s;
}

struct StreamGuard {
  cudaStream_t stream = nullptr;
  StreamGuard() { REQUIRE(cudaStreamCreate(&stream) == cudaSuccess); }
  ~StreamGuard() { cudaStreamDestroy(stream); }
};

g::GpuKernelSuiteConfig tiny_config(cudaStream_t stream) {
  g::GpuKernelSuiteConfig c;
  c.shapes = tiny_shapes();
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

const g::GpuKernelRow& find_row(const std::vector<g::GpuKernelRow>& rows, const std::string& kernel,
                                const std::string& shape) {
  auto it = std::find_if(rows.begin(), rows.end(),
                         [&](const g::GpuKernelRow& r) { return r.kernel == kernel && r.shape == shape; });
  REQUIRE(it != rows.end());
  return *it;
}

void check_timed(const g::GpuKernelRow& r) {
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

void check_validation_error(const g::GpuKernelRow& r, const std::string& output) {
  INFO(r.kernel << " " << r.shape << ": " << r.error);
  CHECK_FALSE(r.valid);
  CHECK(r.error.find("validation failed") != std::string::npos);
  CHECK(r.error.find("'" + output + "'") != std::string::npos);
  CHECK(r.median_s == 0);
  CHECK(r.min_s == 0);
  CHECK(r.repeats == 0);
}

}  // namespace

TEST_CASE("gpu bench: every CUDA kernel validates and is timed at tiny shapes", "[gpu_bench]") {
  StreamGuard sg;
  const auto rows = g::run_gpu_kernel_suite(tiny_config(sg.stream));
  // 3 conv directions x 2 shapes, 2 BN x 2, pooling 2 + 2, loss 2, linear 2, stats + SGD 2.
  REQUIRE(rows.size() == 20);
  for (const auto& r : rows) check_timed(r);
  CHECK(g::validation_failures(rows) == 0);
  std::set<std::string> kernels;
  for (const auto& r : rows) kernels.insert(r.kernel);
  for (const char* expected :
       {"conv2d forward", "conv2d backward-data", "conv2d backward-weight", "batchnorm+relu forward",
        "batchnorm backward", "maxpool 2x2 forward", "maxpool 2x2 backward", "global avgpool forward",
        "global avgpool backward", "softmax cross-entropy forward", "softmax cross-entropy backward",
        "linear forward (SGEMM + bias)", "linear backward (dx, dW, db)", "layer statistics (multi-tensor)",
        "sgd update (multi-tensor, momentum 0.9, wd)"})
    CHECK(kernels.count(expected) == 1);
  // The memory-bound rows carry their traffic, the GEMM-like rows their FLOP.
  CHECK(find_row(rows, "conv2d forward", testing::case_name(tiny_shapes().convs[0].shape)).flop ==
        2.0 * 2 * 4 * 3 * 9 * 36);
  CHECK(find_row(rows, "batchnorm backward", testing::case_name(k::BatchNormShape{3, 2, 5})).bytes == 16.0 * 30);
}

TEST_CASE("gpu bench: a kernel that perturbs one output element is a validation error, not a time",
          "[gpu_bench]") {
  StreamGuard sg;
  g::GpuKernelSuiteConfig c = tiny_config(sg.stream);
  const k::Conv2dShape conv0 = c.shapes.convs[0].shape;
  // The last element of the output: in the last image, which the conv validation checks.
  c.kernels.conv_forward = [](const k::Conv2dShape& s, const float* x, const float* w, float* y, k::Stream st) {
    k::conv2d_forward_cuda(s, x, w, y, st);
    if (s.c == 3) perturb(y, int64_t(s.n) * s.k * s.p() * s.q() - 1, 0.5f, st);
  };
  c.kernels.sgd_update = [](const k::MultiTensorList& list, const k::SgdParams& p, const double* lrs, double* dw2,
                            k::Stream st) {
    k::sgd_update_cuda(list, p, lrs, dw2, st);
    k::MultiTensorDesc second{};
    REQUIRE(cudaMemcpy(&second, list.descs + 1, sizeof second, cudaMemcpyDeviceToHost) == cudaSuccess);
    perturb(second.w, 20, 1e-3f, st);
  };
  const auto rows = g::run_gpu_kernel_suite(c);
  REQUIRE(rows.size() == 20);
  check_validation_error(find_row(rows, "conv2d forward", testing::case_name(conv0)), "y");
  check_validation_error(find_row(rows, "sgd update (multi-tensor, momentum 0.9, wd)", "tiny (3 tensors, 5137 values)"),
                         "w");
  // The other shape of the broken conv kernel, and every other kernel, still validate and are timed.
  check_timed(find_row(rows, "conv2d forward", testing::case_name(c.shapes.convs[1].shape)));
  check_timed(find_row(rows, "conv2d backward-data", testing::case_name(conv0)));
  CHECK(g::validation_failures(rows) == 2);
}

TEST_CASE("gpu bench: unwritten outputs and failing launches are validation errors", "[gpu_bench]") {
  StreamGuard sg;
  g::GpuKernelSuiteConfig c = tiny_config(sg.stream);
  c.shapes.convs.resize(1);
  // Leaves dbeta as it found it (poisoned NaN) for the ReLU case.
  c.kernels.bn_backward = [](const k::BatchNormShape& s, const k::BatchNormParams& p, const float* x, const float* y,
                             const float* dy, const float* gamma, const float* mean, const float* invstd, float* dx,
                             float* dgamma, float* dbeta, k::Stream st) {
    k::batchnorm_backward_cuda(s, p, x, y, dy, gamma, mean, invstd, dx, dgamma, p.relu ? nullptr : dbeta, st);
  };
  // One statistic of one tensor overwritten with a NaN.
  c.kernels.tensor_stats = [](const k::MultiTensorList& list, k::TensorStats* stats, k::Stream st) {
    k::tensor_stats_cuda(list, stats, st);
    REQUIRE(cudaStreamSynchronize(st) == cudaSuccess);
    REQUIRE(cudaMemset(&stats[2].gw, 0xff, sizeof(double)) == cudaSuccess);
  };
  c.kernels.linear_forward = [](const k::LinearShape&, const float*, const float*, const float*, float*, k::Stream) {
    ELR_FAIL("linear_forward_cuda: launch failed on purpose");
  };
  const auto rows = g::run_gpu_kernel_suite(c);
  REQUIRE(rows.size() == 17);
  check_validation_error(find_row(rows, "batchnorm+relu backward", testing::case_name(k::BatchNormShape{2, 4, 9}) + "+relu"), "dbeta");
  check_timed(find_row(rows, "batchnorm backward", testing::case_name(k::BatchNormShape{3, 2, 5})));
  const auto& stats = find_row(rows, "layer statistics (multi-tensor)", "tiny (3 tensors, 5137 values)");
  CHECK_FALSE(stats.valid);
  CHECK(stats.error.find("'gw' of tensor 2") != std::string::npos);
  CHECK(stats.median_s == 0);
  const auto& linear = find_row(rows, "linear forward (SGEMM + bias)", testing::case_name(k::LinearShape{3, 5, 4}));
  CHECK_FALSE(linear.valid);
  CHECK(linear.error.find("launch failed on purpose") != std::string::npos);
  CHECK(linear.median_s == 0);
  CHECK(g::validation_failures(rows) == 3);
}

TEST_CASE("gpu bench: the suite's shapes are the CPU suite's layer shapes plus large ones", "[gpu_bench]") {
  const g::GpuShapeSet quick = g::gpu_suite_shapes(128, false, true);
  const g::GpuShapeSet full = g::gpu_suite_shapes(128, true, true);
  const g::GpuShapeSet cifar = g::gpu_suite_shapes(128, true, false);
  auto has_conv = [](const g::GpuShapeSet& s, const k::Conv2dShape& c) {
    return std::any_of(s.convs.begin(), s.convs.end(),
                       [&](const auto& u) { return testing::case_name(u.shape) == testing::case_name(c); });
  };
  for (const auto& [label, mc] : bench::kernel_suite_nets()) {
    for (const bench::ConvLayer& l : bench::conv_layers(mc, 128)) {
      INFO(label << " " << testing::case_name(l.conv));
      CHECK(has_conv(full, l.conv));
      if (label != "vgg-11") CHECK(has_conv(quick, l.conv));
    }
  }
  CHECK(full.convs.size() > quick.convs.size());
  CHECK(full.param_lists.size() == quick.param_lists.size() + 1);  // vgg-11's list only with --full
  // Large shapes come only when asked for, and are labelled.
  CHECK(std::none_of(cifar.convs.begin(), cifar.convs.end(), [](const auto& u) { return u.nets == "large"; }));
  CHECK(std::any_of(quick.bns.begin(), quick.bns.end(), [](const auto& u) { return u.nets == "large"; }));
  // The resnet-20 stem is shared with resnet-56 and named so.
  const k::Conv2dShape stem{128, 3, 32, 32, 16, 3, 3, 1, 1};
  auto it = std::find_if(quick.convs.begin(), quick.convs.end(),
                         [&](const auto& u) { return testing::case_name(u.shape) == testing::case_name(stem); });
  REQUIRE(it != quick.convs.end());
  CHECK(it->nets == "resnet-20 resnet-56");
}
