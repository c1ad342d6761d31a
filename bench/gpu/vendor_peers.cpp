#include "bench/gpu/vendor_peers.h"

#include <cublas_v2.h>
#include <cudnn.h>

#include <fmt/format.h>

namespace elr::bench::gpu {

VendorKernels VendorPeers::kernels() {
  VendorKernels v;
  v.conv_forward = [this](const Conv2dShape& s, const float* x, const float* w, float* y, Stream) {
    cudnn_.conv2d_forward(s, x, w, y);
  };
  v.conv_backward_data = [this](const Conv2dShape& s, const float* dy, const float* w, float* dx, Stream) {
    cudnn_.conv2d_backward_data(s, dy, w, dx);
  };
  v.conv_backward_weight = [this](const Conv2dShape& s, const float* x, const float* dy, float* dw, kernels::Workspace,
                                   Stream) {
    cudnn_.conv2d_backward_weight(s, x, dy, dw);
  };
  v.bn_forward = [this](const BatchNormShape& s, const BatchNormParams& p, const float* x, const float* gamma,
                        const float* beta, float* y, float* mean, float* invstd, float* rm, float* rv, Stream) {
    cudnn_.batchnorm_forward_train(s, p, x, gamma, beta, y, mean, invstd, rm, rv);
  };
  v.bn_backward = [this](const BatchNormShape& s, const BatchNormParams& p, const float* x, const float* y,
                         const float* dy, const float* gamma, const float* mean, const float* invstd, float* dx,
                         float* dgamma, float* dbeta, Stream) {
    cudnn_.batchnorm_backward(s, p, x, y, dy, gamma, mean, invstd, dx, dgamma, dbeta);
  };
  v.linear_forward = [this](const LinearShape& s, const float* x, const float* w, const float* b, float* y, Stream) {
    cublas_.linear_forward(s, x, w, b, y);
  };
  v.linear_backward = [this](const LinearShape& s, const float* x, const float* w, const float* dy, float* dx,
                             float* dw, float* db, kernels::Workspace,
                             Stream) { cublas_.linear_backward(s, x, w, dy, dx, dw, db); };
  return v;
}

std::string VendorPeers::cudnn_version() {
  const size_t v = cudnnGetVersion();  // major * 10000 + minor * 100 + patch (cuDNN 9)
  return fmt::format("{}.{}.{}", v / 10000, (v / 100) % 100, v % 100);
}

std::string VendorPeers::cublas_version() {
  int major = 0, minor = 0, patch = 0;
  cublasGetProperty(MAJOR_VERSION, &major);
  cublasGetProperty(MINOR_VERSION, &minor);
  cublasGetProperty(PATCH_LEVEL, &patch);
  return fmt::format("{}.{}.{}", major, minor, patch);
}

}  // namespace elr::bench::gpu
