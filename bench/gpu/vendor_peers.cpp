#include "bench/gpu/vendor_peers.h"

#include <cublas_v2.h>
#include <cudnn.h>

#include <fmt/format.h>

#include "kernels/optable/ops.h"

namespace elr::bench::gpu {

VendorPeer VendorPeers::peer(const kernels::OpCase& c) {
  using namespace kernels;
  using A = const OpArgs&;
  switch (c.op()) {
    case Op::Conv2dForward:
      return {"cuDNN", [this](const OpCase& c, A a) {
                cudnn_.conv2d_forward(as<Conv2dForward>(c).shape, a.at<float>(0), a.at<float>(1), a.at<float>(2));
              }};
    case Op::Conv2dBackwardData:
      return {"cuDNN", [this](const OpCase& c, A a) {
                cudnn_.conv2d_backward_data(as<Conv2dBackwardData>(c).shape, a.at<float>(0), a.at<float>(1),
                                            a.at<float>(2));
              }};
    case Op::Conv2dBackwardWeight:
      return {"cuDNN", [this](const OpCase& c, A a) {
                cudnn_.conv2d_backward_weight(as<Conv2dBackwardWeight>(c).shape, a.at<float>(0), a.at<float>(1),
                                              a.at<float>(2));
              }};
    case Op::BatchNormTrainForward:  // tensors: x, gamma, beta, running_mean, running_var, y, save_mean, save_invstd
      return {"cuDNN BN + ReLU", [this](const OpCase& c, A a) {
                const auto& b = as<BatchNormTrainForward>(c);
                cudnn_.batchnorm_forward_train(b.shape, b.params, a.at<float>(0), a.at<float>(1), a.at<float>(2),
                                               a.at<float>(5), a.at<float>(6), a.at<float>(7), a.at<float>(3),
                                               a.at<float>(4));
              }};
    case Op::BatchNormBackward:  // x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta
      return {"cuDNN BN + ReLU", [this](const OpCase& c, A a) {
                const auto& b = as<BatchNormBackward>(c);
                cudnn_.batchnorm_backward(b.shape, b.params, a.at<float>(0), a.at<float>(1), a.at<float>(2),
                                          a.at<float>(3), a.at<float>(4), a.at<float>(5), a.at<float>(6),
                                          a.at<float>(7), a.at<float>(8));
              }};
    case Op::LinearForward:
      return {"cuBLAS", [this](const OpCase& c, A a) {
                cublas_.linear_forward(as<LinearForward>(c).shape, a.at<float>(0), a.at<float>(1), a.at<float>(2),
                                       a.at<float>(3));
              }};
    case Op::LinearBackward:
      return {"cuBLAS", [this](const OpCase& c, A a) {
                cublas_.linear_backward(as<LinearBackward>(c).shape, a.at<float>(0), a.at<float>(1), a.at<float>(2),
                                        a.at<float>(3), a.at<float>(4), a.at<float>(5));
              }};
    default:
      return {};
  }
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
