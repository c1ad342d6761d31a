// The cuDNN / cuBLAS peers of the kernel suite, bound to the suite's stream (GPU builds only).
#pragma once
#include <string>

#include "bench/gpu/gpu_bench.h"
#include "kernels/cublas_glue.h"
#include "kernels/cudnn_glue.h"

namespace elr::bench::gpu {

class VendorPeers {
 public:
  explicit VendorPeers(Stream stream) : cudnn_(stream), cublas_(stream) {}
  // The peer of a case (conv: cuDNN; BN: cuDNN BN, then a separate ReLU when fused; linear: cuBLAS),
  // or none. Its entry uses this object's handles: keep it alive while the entry is used.
  VendorPeer peer(const kernels::OpCase& c);
  static std::string cudnn_version();
  static std::string cublas_version();

 private:
  vendor::Cudnn cudnn_;
  vendor::Cublas cublas_;
};

}  // namespace elr::bench::gpu
