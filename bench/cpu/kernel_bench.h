// The kernel benchmark harness: every CPU kernel is validated against a reference at the benchmarked
// shape and only then timed. The kernel under test is a function object, so a test can hand in a
// deliberately broken one; a failed validation turns the row into a validation error, never a time.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/error.h"
#include "kernels/kernels.h"
#include "layers/models.h"

namespace elr::bench {

// A kernel's output differs from its reference by more than the tolerance.
class ValidationError : public Error {
 public:
  explicit ValidationError(const std::string& what) : Error(what) {}
};

struct BenchOptions {
  int repeats = 5;            // timed repeats; median and min are reported
  int warmup = 1;             // untimed calls before the repeats
  bool flush_cache = true;    // evict the caches (writes a buffer larger than L3) before each repeat
  double min_repeat_s = 1e-3; // tiny kernels: each repeat runs the kernel enough times to last this long
  double peak_gflops = 0;     // the assumed FP32 peak, for the conv rows' share (0: not reported)
};

struct KernelRow {
  std::string kernel;        // "conv2d forward"
  std::string shape;         // the case name (tests/op_cases.h style)
  std::string nets;          // the nets that use this shape
  bool valid = false;        // validation passed; the times below are only set when true
  std::string error;         // the validation error (or another failure) instead of a time
  double max_rel_error = 0;  // worst |got - reference| / max |reference| over the checked outputs
  double median_s = 0, min_s = 0;
  int repeats = 0;
  double flop = 0;   // per call; 0 for memory-bound kernels
  double bytes = 0;  // minimal memory traffic per call (each input read once, each output written once)
  double peak_gflops = 0;
  double load_avg = 0;  // 1-minute load average when the row was measured
  double gflops() const { return valid && flop > 0 ? flop / median_s * 1e-9 : 0; }
  double gbs() const { return valid && bytes > 0 ? bytes / median_s * 1e-9 : 0; }
  double peak_share() const { return peak_gflops > 0 ? gflops() / peak_gflops : 0; }
};

// Inputs for the benchmarked kernels (seeded, so every run and every suite sees the same data).
std::vector<float> random_floats(int64_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f);
std::vector<int32_t> random_labels(int n, int classes, uint32_t seed);
std::vector<double> to_double(const std::vector<float>& v);

// ---- the kernels under test (signatures of kernels/kernels.h, fp32) ----------------------------
using ConvForwardFn = std::function<void(const kernels::Conv2dShape&, const float* x, const float* w, float* y)>;
using ConvBackwardDataFn =
    std::function<void(const kernels::Conv2dShape&, const float* dy, const float* w, float* dx)>;
using ConvBackwardWeightFn =
    std::function<void(const kernels::Conv2dShape&, const float* x, const float* dy, float* dw)>;
using BnForwardFn = std::function<void(const kernels::BatchNormShape&, const kernels::BatchNormParams&, const float* x,
                                       const float* gamma, const float* beta, float* y, float* save_mean,
                                       float* save_invstd, float* running_mean, float* running_var)>;
using BnBackwardFn =
    std::function<void(const kernels::BatchNormShape&, const kernels::BatchNormParams&, const float* x, const float* y,
                       const float* dy, const float* gamma, const float* save_mean, const float* save_invstd,
                       float* dx, float* dgamma, float* dbeta)>;
using MaxPoolForwardFn = std::function<void(const kernels::PoolShape&, const float* x, float* y, int32_t* argmax)>;
using MaxPoolBackwardFn = std::function<void(const kernels::PoolShape&, const int32_t* argmax, const float* dy, float* dx)>;
using AvgPoolForwardFn = std::function<void(const kernels::PoolShape&, const float* x, float* y)>;
using AvgPoolBackwardFn = std::function<void(const kernels::PoolShape&, const float* dy, float* dx)>;
using CrossEntropyForwardFn = std::function<void(const kernels::CrossEntropyShape&, const float* logits,
                                                 const int32_t* labels, float* loss, float* probs, int64_t* correct)>;
using CrossEntropyBackwardFn = std::function<void(const kernels::CrossEntropyShape&, const float* probs,
                                                  const int32_t* labels, float dloss, float* dlogits)>;
using TensorStatsFn = std::function<kernels::TensorStats(int64_t count, const float* w, const float* g, const float* v)>;
using SgdUpdateFn = std::function<double(int64_t count, const kernels::SgdParams&, float* w, const float* g, float* v)>;

// The engine's CPU kernels.
struct CpuKernels {
  ConvForwardFn conv_forward = kernels::conv2d_forward_cpu<float>;
  ConvBackwardDataFn conv_backward_data = kernels::conv2d_backward_data_cpu<float>;
  ConvBackwardWeightFn conv_backward_weight = kernels::conv2d_backward_weight_cpu<float>;
  BnForwardFn bn_forward = kernels::batchnorm_forward_train_cpu<float>;
  BnBackwardFn bn_backward = kernels::batchnorm_backward_cpu<float>;
  MaxPoolForwardFn maxpool_forward = kernels::maxpool2x2_forward_cpu<float>;
  MaxPoolBackwardFn maxpool_backward = kernels::maxpool2x2_backward_cpu<float>;
  AvgPoolForwardFn avgpool_forward = kernels::global_avgpool_forward_cpu<float>;
  AvgPoolBackwardFn avgpool_backward = kernels::global_avgpool_backward_cpu<float>;
  CrossEntropyForwardFn cross_entropy_forward = kernels::cross_entropy_forward_cpu<float>;
  CrossEntropyBackwardFn cross_entropy_backward = kernels::cross_entropy_backward_cpu<float>;
  TensorStatsFn tensor_stats = kernels::tensor_stats_cpu;
  SgdUpdateFn sgd_update = kernels::sgd_update_cpu;
};

// ---- rows: validate at the shape, then time ------------------------------------------------------
// Conv: outputs of the first and last image are checked against the double oracle (the weight
// gradient with dy nonzero on those two images only), so the check stays cheap at batch 128.
KernelRow bench_conv_forward(const kernels::Conv2dShape& s, const ConvForwardFn& f, const BenchOptions& o);
KernelRow bench_conv_backward_data(const kernels::Conv2dShape& s, const ConvBackwardDataFn& f, const BenchOptions& o);
KernelRow bench_conv_backward_weight(const kernels::Conv2dShape& s, const ConvBackwardWeightFn& f,
                                     const BenchOptions& o);
// BN (with the fused ReLU when relu): every output against a double reference.
KernelRow bench_bn_forward(const kernels::BatchNormShape& s, bool relu, const BnForwardFn& f, const BenchOptions& o);
KernelRow bench_bn_backward(const kernels::BatchNormShape& s, bool relu, const BnBackwardFn& f, const BenchOptions& o);
KernelRow bench_maxpool_forward(const kernels::PoolShape& s, const MaxPoolForwardFn& f, const BenchOptions& o);
KernelRow bench_maxpool_backward(const kernels::PoolShape& s, const MaxPoolBackwardFn& f, const BenchOptions& o);
KernelRow bench_avgpool_forward(const kernels::PoolShape& s, const AvgPoolForwardFn& f, const BenchOptions& o);
KernelRow bench_avgpool_backward(const kernels::PoolShape& s, const AvgPoolBackwardFn& f, const BenchOptions& o);
KernelRow bench_cross_entropy_forward(const kernels::CrossEntropyShape& s, const CrossEntropyForwardFn& f,
                                      const BenchOptions& o);
KernelRow bench_cross_entropy_backward(const kernels::CrossEntropyShape& s, const CrossEntropyBackwardFn& f,
                                       const BenchOptions& o);
// Over every parameter tensor of a net (`sizes` = their element counts), one call per tensor.
KernelRow bench_tensor_stats(const std::vector<int64_t>& sizes, const std::string& label, const TensorStatsFn& f,
                             const BenchOptions& o);
KernelRow bench_sgd_update(const std::vector<int64_t>& sizes, const std::string& label, const SgdUpdateFn& f,
                           const BenchOptions& o);

// ---- shapes ------------------------------------------------------------------------------------
struct ConvLayer {
  kernels::Conv2dShape conv;
  bool relu = true;  // the BN after this conv fuses a ReLU
};
// Every conv (with its BN) of the net that build_model(c) makes, in parameter order, at batch n.
std::vector<ConvLayer> conv_layers(const ModelConfig& c, int n);
// The 2x2 max-pool inputs (vgg) and the global-average-pool input of the net.
std::vector<kernels::PoolShape> maxpool_inputs(const ModelConfig& c, int n);
kernels::PoolShape avgpool_input(const ModelConfig& c, int n);
// Element counts of every parameter tensor of build_model(c).
std::vector<int64_t> parameter_sizes(const ModelConfig& c);
// The CIFAR nets of the kernel suite: resnet-20, resnet-56, vgg-11, plain-20 (3x32x32, 10 classes).
std::vector<std::pair<std::string, ModelConfig>> kernel_suite_nets();

// ---- the CPU kernel suite -----------------------------------------------------------------------
struct KernelSuiteConfig {
  int batch = 128;
  bool full = false;  // all deduplicated shapes; otherwise a representative subset
  BenchOptions options;
  CpuKernels kernels;
  std::function<void(const KernelRow&)> on_row;  // progress (may be empty)
};
std::vector<KernelRow> run_kernel_suite(const KernelSuiteConfig& c);

// Timing helper shared by the rows: `warmup` untimed calls, then per repeat (after an optional cache
// flush) enough calls to last min_repeat_s; per-call median and min.
struct Timing {
  double median_s = 0, min_s = 0;
  int repeats = 0;
};
Timing time_kernel(const BenchOptions& o, const std::function<void()>& call);
double load_average_1min();  // /proc/loadavg, 0 when unreadable

}  // namespace elr::bench
