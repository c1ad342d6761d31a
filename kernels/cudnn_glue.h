// cuDNN as the reference and the peer for the CUDA kernels (GPU parity tests, benchmarks):
// conv2d forward / backward-data / backward-filter and batch norm training forward / backward,
// NCHW FP32. Convolutions use FMA math only (no TF32 tensor cores) and, per shape, the fastest
// algorithm cuDNN's heuristics offer that is deterministic and sums directly (no FFT, no Winograd:
// kernels/cudnn_glue_algorithms.h). Built only with CUDA (elr_vendor_glue);
// plain C++ header, so callers need no cuDNN include. Errors throw through ELR_CUDNN_CHECK.
#pragma once
#include <memory>

#include "kernels/kernels.h"

namespace elr::vendor {

class Cudnn {
 public:
  explicit Cudnn(kernels::Stream stream = nullptr);
  ~Cudnn();
  Cudnn(const Cudnn&) = delete;
  Cudnn& operator=(const Cudnn&) = delete;

  // Same arguments and semantics as the conv2d_*_cpu / _cuda entry points (pointers on the device).
  void conv2d_forward(const kernels::Conv2dShape& sh, const float* x, const float* w, float* y);
  void conv2d_backward_data(const kernels::Conv2dShape& sh, const float* dy, const float* w, float* dx);
  void conv2d_backward_weight(const kernels::Conv2dShape& sh, const float* x, const float* dy, float* dw);

  // Batch norm (spatial), PyTorch semantics as batchnorm_*_cpu; p.relu applies a separate cuDNN
  // ReLU after the forward and masks dy before the backward (the "BN + ReLU" baseline).
  // running_mean / running_var may be null; dgamma / dbeta may be null.
  void batchnorm_forward_train(const kernels::BatchNormShape& sh, const kernels::BatchNormParams& p, const float* x,
                               const float* gamma, const float* beta, float* y, float* save_mean, float* save_invstd,
                               float* running_mean, float* running_var);
  void batchnorm_backward(const kernels::BatchNormShape& sh, const kernels::BatchNormParams& p, const float* x,
                          const float* y, const float* dy, const float* gamma, const float* save_mean,
                          const float* save_invstd, float* dx, float* dgamma, float* dbeta);

  // Names of the algorithms picked for a shape (forward, backward data, backward filter).
  struct ConvAlgos {
    int forward = -1, backward_data = -1, backward_filter = -1;
  };
  ConvAlgos conv_algorithms(const kernels::Conv2dShape& sh);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace elr::vendor
