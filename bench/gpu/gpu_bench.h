// The GPU kernel suite of `elrscope bench --suite gpu-kernels`: every CUDA kernel of kernels/cuda is
// validated against the CPU reference at the benchmarked shape (outputs poisoned first, copied
// back, compared with the engine's CPU kernels in double or the naive conv oracle), and only then
// timed with CUDA events on its stream, interleaved with the cuDNN / cuBLAS call doing the same
// operation. A failed validation makes the row an error, never a time.
//
// The kernels are function objects, so the CI test (tests/bench_gpu/) hands in broken ones; this
// code is host C++ against the CUDA runtime API and builds both for a GPU and for the CPU
// execution layer (kernels/simt), where there is no vendor peer and the times mean nothing.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/gpu_hook.h"
#include "kernels/kernels.h"

namespace elr::bench::gpu {

using kernels::BatchNormParams;
using kernels::BatchNormShape;
using kernels::Conv2dShape;
using kernels::CrossEntropyShape;
using kernels::LinearShape;
using kernels::PoolShape;
using kernels::Stream;
using bench::GpuDeviceInfo;
using bench::GpuKernelRow;

// ---- the kernels under test (kernels/kernels.h CUDA signatures) ------------------------------------
using ConvForwardCuda = std::function<void(const Conv2dShape&, const float* x, const float* w, float* y, Stream)>;
using ConvBackwardDataCuda =
    std::function<void(const Conv2dShape&, const float* dy, const float* w, float* dx, Stream)>;
using ConvBackwardWeightCuda = std::function<void(const Conv2dShape&, const float* x, const float* dy, float* dw,
                                                  kernels::Workspace, Stream)>;
using BnForwardCuda = std::function<void(const BatchNormShape&, const BatchNormParams&, const float* x,
                                         const float* gamma, const float* beta, float* y, float* save_mean,
                                         float* save_invstd, float* running_mean, float* running_var, Stream)>;
using BnBackwardCuda =
    std::function<void(const BatchNormShape&, const BatchNormParams&, const float* x, const float* y, const float* dy,
                       const float* gamma, const float* save_mean, const float* save_invstd, float* dx,
                       float* dgamma, float* dbeta, Stream)>;
using MaxPoolForwardCuda = std::function<void(const PoolShape&, const float* x, float* y, int32_t* argmax, Stream)>;
using MaxPoolBackwardCuda =
    std::function<void(const PoolShape&, const int32_t* argmax, const float* dy, float* dx, Stream)>;
using AvgPoolForwardCuda = std::function<void(const PoolShape&, const float* x, float* y, Stream)>;
using AvgPoolBackwardCuda = std::function<void(const PoolShape&, const float* dy, float* dx, Stream)>;
using CrossEntropyForwardCuda = std::function<void(const CrossEntropyShape&, const float* logits,
                                                   const int32_t* labels, float* loss, float* probs,
                                                   int64_t* correct, Stream)>;
using CrossEntropyBackwardCuda = std::function<void(const CrossEntropyShape&, const float* probs,
                                                    const int32_t* labels, float dloss, float* dlogits, Stream)>;
using TensorStatsCuda = std::function<void(const kernels::MultiTensorList&, kernels::TensorStats* stats, Stream)>;
using SgdUpdateCuda = std::function<void(const kernels::MultiTensorList&, const kernels::SgdParams&,
                                         const double* lrs, double* dw2, Stream)>;
using LinearForwardCuda =
    std::function<void(const LinearShape&, const float* x, const float* w, const float* b, float* y, Stream)>;
using LinearBackwardCuda = std::function<void(const LinearShape&, const float* x, const float* w, const float* dy,
                                              float* dx, float* dw, float* db, kernels::Workspace, Stream)>;

// The engine's CUDA kernels.
struct GpuKernels {
  ConvForwardCuda conv_forward = kernels::conv2d_forward_cuda;
  ConvBackwardDataCuda conv_backward_data = kernels::conv2d_backward_data_cuda;
  ConvBackwardWeightCuda conv_backward_weight = kernels::conv2d_backward_weight_cuda;
  BnForwardCuda bn_forward = kernels::batchnorm_forward_train_cuda;
  BnBackwardCuda bn_backward = kernels::batchnorm_backward_cuda;
  MaxPoolForwardCuda maxpool_forward = kernels::maxpool2x2_forward_cuda;
  MaxPoolBackwardCuda maxpool_backward = kernels::maxpool2x2_backward_cuda;
  AvgPoolForwardCuda avgpool_forward = kernels::global_avgpool_forward_cuda;
  AvgPoolBackwardCuda avgpool_backward = kernels::global_avgpool_backward_cuda;
  CrossEntropyForwardCuda cross_entropy_forward = kernels::cross_entropy_forward_cuda;
  CrossEntropyBackwardCuda cross_entropy_backward = kernels::cross_entropy_backward_cuda;
  TensorStatsCuda tensor_stats = kernels::tensor_stats_cuda;
  SgdUpdateCuda sgd_update = kernels::sgd_update_cuda;
  LinearForwardCuda linear_forward = kernels::linear_forward_cuda;
  LinearBackwardCuda linear_backward = kernels::linear_backward_cuda;
};

// The vendor libraries doing the same operations (bound to the suite's stream; the Stream argument
// is ignored). Empty: no peer for that row.
struct VendorKernels {
  ConvForwardCuda conv_forward;
  ConvBackwardDataCuda conv_backward_data;
  ConvBackwardWeightCuda conv_backward_weight;
  BnForwardCuda bn_forward;    // cuDNN BN, then a separate cuDNN ReLU when p.relu
  BnBackwardCuda bn_backward;  // dy masked by a separate pass when p.relu, then cuDNN BN backward
  LinearForwardCuda linear_forward;
  LinearBackwardCuda linear_backward;
  std::string conv_name = "cuDNN", bn_name = "cuDNN BN + ReLU", linear_name = "cuBLAS";
};

struct GpuBenchOptions {
  int repeats = 7;           // timed runs of each side; median and min reported
  int warmup = 1;            // untimed runs of each side first
  bool flush_l2 = true;      // overwrite a buffer larger than the L2 before each timed run
  size_t flush_bytes = 0;    // 0: four times the device's L2 (at least 8 MiB)
};

// ---- shapes ---------------------------------------------------------------------------------------
template <class S>
struct ShapeUse {
  S shape;
  std::string nets;  // the nets that use it, or "large"
};
struct BnUse {
  BatchNormShape shape;
  bool relu = false;
  std::string nets;
};
struct ParamListUse {
  std::vector<int64_t> sizes;  // element counts of the parameter tensors
  std::string label;           // "resnet-20"
};
struct GpuShapeSet {
  std::vector<ShapeUse<Conv2dShape>> convs;
  std::vector<BnUse> bns;
  std::vector<ShapeUse<PoolShape>> maxpools, avgpools;
  std::vector<ShapeUse<CrossEntropyShape>> losses;
  std::vector<ShapeUse<LinearShape>> linears;
  std::vector<ParamListUse> param_lists;
};
// The layer shapes of resnet-20, resnet-56, vgg-11 and plain-20 on CIFAR at `batch`, deduplicated
// (the CPU suite's lists); without `full` the CPU suite's representative subset. `large` adds a few
// large shapes (where % of HBM / FP32 peak is the right yardstick).
GpuShapeSet gpu_suite_shapes(int batch, bool full, bool large);

// ---- the suite ------------------------------------------------------------------------------------
struct GpuKernelSuiteConfig {
  GpuShapeSet shapes;
  GpuBenchOptions options;
  GpuKernels kernels;
  VendorKernels vendor;
  Stream stream = nullptr;  // every launch and every timing event goes to this stream
  std::function<void(const GpuKernelRow&)> on_row;
};
std::vector<GpuKernelRow> run_gpu_kernel_suite(const GpuKernelSuiteConfig& c);
int validation_failures(const std::vector<GpuKernelRow>& rows);

// ---- the device -----------------------------------------------------------------------------------
// Name, clocks and peaks of device 0 (driver/runtime versions; vendor versions are filled by the caller).
GpuDeviceInfo query_device_info();

}  // namespace elr::bench::gpu
