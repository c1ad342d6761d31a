// cuDNN glue: descriptors built per call (cheap next to the work), algorithm choice cached per
// conv shape, one growing workspace per handle.
#include "kernels/cudnn_glue.h"

#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "engine/cuda/check.h"
#include "engine/error.h"
#include "kernels/cudnn_glue_algorithms.h"

namespace elr::vendor {
namespace {

using kernels::Conv2dShape;

void check_shape(const Conv2dShape& sh, const char* op) {
  ELR_CHECK(sh.n >= 1 && sh.c >= 1 && sh.h >= 1 && sh.w >= 1 && sh.k >= 1 && sh.r >= 1 && sh.s >= 1 &&
                sh.stride >= 1 && sh.pad >= 0 && sh.h + 2 * sh.pad >= sh.r && sh.w + 2 * sh.pad >= sh.s,
            "{}: bad shape: input [{}, {}, {}, {}], weight [{}, {}, {}, {}], stride {}, pad {}", op, sh.n, sh.c,
            sh.h, sh.w, sh.k, sh.c, sh.r, sh.s, sh.stride, sh.pad);
}

// RAII wrappers for the descriptors of one call.
struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDesc(int n, int c, int h, int w) {
    ELR_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d));
    ELR_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w));
  }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
};

struct ConvDescs {
  TensorDesc x, y;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  explicit ConvDescs(const Conv2dShape& sh) : x(sh.n, sh.c, sh.h, sh.w), y(sh.n, sh.k, sh.p(), sh.q()) {
    ELR_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
    ELR_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, sh.k, sh.c, sh.r, sh.s));
    ELR_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
    // Cross-correlation, as the definition in kernels.h (and PyTorch).
    ELR_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, sh.pad, sh.pad, sh.stride, sh.stride, 1, 1,
                                                    CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    ELR_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, CUDNN_FMA_MATH));  // FP32 FMA only, no TF32
  }
  ~ConvDescs() {
    cudnnDestroyConvolutionDescriptor(conv);
    cudnnDestroyFilterDescriptor(w);
  }
  ConvDescs(const ConvDescs&) = delete;
  ConvDescs& operator=(const ConvDescs&) = delete;
};

struct Algos {
  cudnnConvolutionFwdAlgo_t forward;
  size_t forward_bytes;
  cudnnConvolutionBwdDataAlgo_t backward_data;
  size_t backward_data_bytes;
  cudnnConvolutionBwdFilterAlgo_t backward_filter;
  size_t backward_filter_bytes;
};

// The rule's numbers are cuDNN's (kernels/cudnn_glue_algorithms.h writes them out for the CPU tests).
template <size_t N, class Algo>
constexpr bool same_values(const ConvAlgorithm (&table)[N], Algo count) {
  for (size_t i = 0; i < N; ++i)
    if (table[i].value != int(i)) return false;
  return N == size_t(count);
}
static_assert(same_values(kForwardAlgorithms, CUDNN_CONVOLUTION_FWD_ALGO_COUNT));
static_assert(same_values(kBackwardDataAlgorithms, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT));
static_assert(same_values(kBackwardFilterAlgorithms, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT));
static_assert(CUDNN_CONVOLUTION_FWD_ALGO_DIRECT == 3 && CUDNN_CONVOLUTION_FWD_ALGO_FFT == 4 &&
              CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING == 5 && CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD == 6 &&
              CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED == 7);
static_assert(CUDNN_CONVOLUTION_BWD_DATA_ALGO_1 == 1 && CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT == 2 &&
              CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING == 3 && CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD == 4 &&
              CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED == 5);
static_assert(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1 == 1 && CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT == 2 &&
              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3 == 3 && CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD == 4 &&
              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED == 5 &&
              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING == 6);
static_assert(CUDNN_DEFAULT_MATH == kCudnnDefaultMath && CUDNN_FMA_MATH == kCudnnFmaMath &&
              CUDNN_DETERMINISTIC == kCudnnDeterministic);

// The first (fastest by cuDNN's heuristics) available result the rule accepts.
template <class Perf>
const Perf& pick(const std::vector<Perf>& results, int count, ConvPass pass, const char* pass_name,
                 const Conv2dShape& sh) {
  std::string offered;
  for (int i = 0; i < count; ++i) {
    const Perf& r = results[size_t(i)];
    if (r.status != CUDNN_STATUS_SUCCESS) continue;
    if (conv_algorithm_accepted(pass, int(r.algo), int(r.mathType), int(r.determinism))) return r;
    const ConvAlgorithm* a = conv_algorithm(pass, int(r.algo));
    offered += fmt::format("{}{} (math {}, {})", offered.empty() ? "" : ", ", a ? a->name : std::to_string(int(r.algo)),
                           int(r.mathType), r.determinism == CUDNN_DETERMINISTIC ? "deterministic" : "non-deterministic");
  }
  ELR_FAIL("cuDNN offers no deterministic direct-sum FP32 {} algorithm for input [{}, {}, {}, {}], weight [{}, {}, {}, "
           "{}]; it offered: {}",
           pass_name, sh.n, sh.c, sh.h, sh.w, sh.k, sh.c, sh.r, sh.s, offered.empty() ? "nothing" : offered);
}

}  // namespace

struct Cudnn::Impl {
  cudnnHandle_t handle = nullptr;
  cudaStream_t stream = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  std::map<std::array<int, 9>, Algos> algos;

  void* reserve(size_t bytes) {
    if (bytes > workspace_bytes) {
      if (workspace) ELR_CUDA_CHECK(cudaFree(workspace));
      workspace = nullptr;
      ELR_CUDA_CHECK(cudaMalloc(&workspace, bytes));
      workspace_bytes = bytes;
    }
    return workspace;
  }

  const Algos& algos_for(const Conv2dShape& sh, const ConvDescs& d) {
    const std::array<int, 9> key{sh.n, sh.c, sh.h, sh.w, sh.k, sh.r, sh.s, sh.stride, sh.pad};
    auto it = algos.find(key);
    if (it != algos.end()) return it->second;
    Algos a{};
    int count = 0;
    {
      std::vector<cudnnConvolutionFwdAlgoPerf_t> r(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
      ELR_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle, d.x.d, d.w, d.conv, d.y.d, int(r.size()),
                                                             &count, r.data()));
      const auto& best = pick(r, count, ConvPass::Forward, "forward", sh);
      a.forward = best.algo, a.forward_bytes = best.memory;
    }
    {
      std::vector<cudnnConvolutionBwdDataAlgoPerf_t> r(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
      ELR_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, d.w, d.y.d, d.conv, d.x.d, int(r.size()),
                                                                  &count, r.data()));
      const auto& best = pick(r, count, ConvPass::BackwardData, "backward data", sh);
      a.backward_data = best.algo, a.backward_data_bytes = best.memory;
    }
    {
      std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> r(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
      ELR_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, d.x.d, d.y.d, d.conv, d.w,
                                                                    int(r.size()), &count, r.data()));
      const auto& best = pick(r, count, ConvPass::BackwardFilter, "backward filter", sh);
      a.backward_filter = best.algo, a.backward_filter_bytes = best.memory;
    }
    // The heuristics' memory estimate can be below what the call asks: take the larger.
    size_t bytes = 0;
    ELR_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(handle, d.x.d, d.w, d.conv, d.y.d, a.forward, &bytes));
    a.forward_bytes = std::max(a.forward_bytes, bytes);
    ELR_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(handle, d.w, d.y.d, d.conv, d.x.d,
                                                                 a.backward_data, &bytes));
    a.backward_data_bytes = std::max(a.backward_data_bytes, bytes);
    ELR_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, d.x.d, d.y.d, d.conv, d.w,
                                                                   a.backward_filter, &bytes));
    a.backward_filter_bytes = std::max(a.backward_filter_bytes, bytes);
    return algos.emplace(key, a).first->second;
  }
};

Cudnn::Cudnn(kernels::Stream stream) : impl_(std::make_unique<Impl>()) {
  impl_->stream = reinterpret_cast<cudaStream_t>(stream);
  ELR_CUDNN_CHECK(cudnnCreate(&impl_->handle));
  ELR_CUDNN_CHECK(cudnnSetStream(impl_->handle, impl_->stream));
}

Cudnn::~Cudnn() {
  if (impl_->workspace) cudaFree(impl_->workspace);
  cudnnDestroy(impl_->handle);
}

void Cudnn::conv2d_forward(const Conv2dShape& sh, const float* x, const float* w, float* y) {
  check_shape(sh, "Cudnn::conv2d_forward");
  const ConvDescs d(sh);
  const Algos& a = impl_->algos_for(sh, d);
  const float one = 1.0f, zero = 0.0f;
  ELR_CUDNN_CHECK(cudnnConvolutionForward(impl_->handle, &one, d.x.d, x, d.w, w, d.conv, a.forward,
                                          impl_->reserve(a.forward_bytes), a.forward_bytes, &zero, d.y.d, y));
}

void Cudnn::conv2d_backward_data(const Conv2dShape& sh, const float* dy, const float* w, float* dx) {
  check_shape(sh, "Cudnn::conv2d_backward_data");
  const ConvDescs d(sh);
  const Algos& a = impl_->algos_for(sh, d);
  const float one = 1.0f, zero = 0.0f;
  ELR_CUDNN_CHECK(cudnnConvolutionBackwardData(impl_->handle, &one, d.w, w, d.y.d, dy, d.conv, a.backward_data,
                                               impl_->reserve(a.backward_data_bytes), a.backward_data_bytes,
                                               &zero, d.x.d, dx));
}

void Cudnn::conv2d_backward_weight(const Conv2dShape& sh, const float* x, const float* dy, float* dw) {
  check_shape(sh, "Cudnn::conv2d_backward_weight");
  const ConvDescs d(sh);
  const Algos& a = impl_->algos_for(sh, d);
  const float one = 1.0f, zero = 0.0f;
  ELR_CUDNN_CHECK(cudnnConvolutionBackwardFilter(impl_->handle, &one, d.x.d, x, d.y.d, dy, d.conv,
                                                 a.backward_filter, impl_->reserve(a.backward_filter_bytes),
                                                 a.backward_filter_bytes, &zero, d.w, dw));
}

Cudnn::ConvAlgos Cudnn::conv_algorithms(const Conv2dShape& sh) {
  check_shape(sh, "Cudnn::conv_algorithms");
  const ConvDescs d(sh);
  const Algos& a = impl_->algos_for(sh, d);
  return {int(a.forward), int(a.backward_data), int(a.backward_filter)};
}

namespace {

struct ReluDesc {
  cudnnActivationDescriptor_t d = nullptr;
  ReluDesc() {
    ELR_CUDNN_CHECK(cudnnCreateActivationDescriptor(&d));
    ELR_CUDNN_CHECK(cudnnSetActivationDescriptor(d, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0));
  }
  ~ReluDesc() { cudnnDestroyActivationDescriptor(d); }
  ReluDesc(const ReluDesc&) = delete;
  ReluDesc& operator=(const ReluDesc&) = delete;
};

void check_bn(const kernels::BatchNormShape& sh, const kernels::BatchNormParams& p, const char* op) {
  ELR_CHECK(sh.n > 0 && sh.c > 0 && sh.hw > 0, "{}: shape [n={}, c={}, hw={}] must be positive", op, sh.n, sh.c,
            sh.hw);
  ELR_CHECK(int64_t(sh.n) * sh.hw > 1, "{}: batch norm needs more than one value per channel", op);
  ELR_CHECK(p.eps >= CUDNN_BN_MIN_EPSILON, "{}: eps {} is below cuDNN's minimum {}", op, p.eps,
            CUDNN_BN_MIN_EPSILON);
}

}  // namespace

// x viewed as [n, c, hw, 1]; the per-channel tensors as [1, c, 1, 1].
void Cudnn::batchnorm_forward_train(const kernels::BatchNormShape& sh, const kernels::BatchNormParams& p,
                                    const float* x, const float* gamma, const float* beta, float* y,
                                    float* save_mean, float* save_invstd, float* running_mean,
                                    float* running_var) {
  check_bn(sh, p, "Cudnn::batchnorm_forward_train");
  const TensorDesc data(sh.n, sh.c, sh.hw, 1), channel(1, sh.c, 1, 1);
  const float one = 1.0f, zero = 0.0f;
  // cuDNN updates both running buffers or neither: without them, a factor of 0 and scratch space.
  float* scratch = nullptr;
  if (!running_mean || !running_var)
    ELR_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&scratch), 2 * size_t(sh.c) * sizeof(float)));
  const double factor = running_mean && running_var ? double(p.momentum) : 0.0;
  ELR_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
      impl_->handle, CUDNN_BATCHNORM_SPATIAL, &one, &zero, data.d, x, data.d, y, channel.d, gamma, beta, factor,
      running_mean && running_var ? running_mean : scratch, running_mean && running_var ? running_var : scratch + sh.c,
      double(p.eps), save_mean, save_invstd));
  if (scratch) ELR_CUDA_CHECK(cudaFree(scratch));  // synchronizes: only the no-running-stats case pays
  if (p.relu) {
    const ReluDesc relu;
    ELR_CUDNN_CHECK(cudnnActivationForward(impl_->handle, relu.d, &one, data.d, y, &zero, data.d, y));
  }
}

void Cudnn::batchnorm_backward(const kernels::BatchNormShape& sh, const kernels::BatchNormParams& p, const float* x,
                               const float* y, const float* dy, const float* gamma, const float* save_mean,
                               const float* save_invstd, float* dx, float* dgamma, float* dbeta) {
  check_bn(sh, p, "Cudnn::batchnorm_backward");
  const TensorDesc data(sh.n, sh.c, sh.hw, 1), channel(1, sh.c, 1, 1);
  const float one = 1.0f, zero = 0.0f;
  const size_t count = size_t(sh.n) * sh.c * sh.hw;
  const size_t bytes = ((p.relu ? count : 0) + ((dgamma && dbeta) ? 0 : 2 * size_t(sh.c))) * sizeof(float);
  float* scratch = bytes ? static_cast<float*>(impl_->reserve(bytes)) : nullptr;
  const float* grad = dy;
  if (p.relu) {  // dy * (y > 0), through cuDNN's ReLU backward (y stands in for its input)
    const ReluDesc relu;
    ELR_CUDNN_CHECK(
        cudnnActivationBackward(impl_->handle, relu.d, &one, data.d, y, data.d, dy, data.d, y, &zero, data.d, scratch));
    grad = scratch;
  }
  float* param_scratch = scratch ? scratch + (p.relu ? count : 0) : nullptr;
  ELR_CUDNN_CHECK(cudnnBatchNormalizationBackward(
      impl_->handle, CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero, data.d, x, data.d, grad, data.d, dx,
      channel.d, gamma, dgamma && dbeta ? dgamma : param_scratch, dgamma && dbeta ? dbeta : param_scratch + sh.c,
      double(p.eps), save_mean, save_invstd));
  if (!(dgamma && dbeta)) {  // one of them was asked for: copy it out of the scratch pair
    if (dgamma)
      ELR_CUDA_CHECK(cudaMemcpyAsync(dgamma, param_scratch, sh.c * sizeof(float), cudaMemcpyDeviceToDevice,
                                     impl_->stream));
    if (dbeta)
      ELR_CUDA_CHECK(cudaMemcpyAsync(dbeta, param_scratch + sh.c, sh.c * sizeof(float), cudaMemcpyDeviceToDevice,
                                     impl_->stream));
  }
}

}  // namespace elr::vendor
