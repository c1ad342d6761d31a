// cuBLAS as the reference and the peer for the hand-written SGEMM (GPU parity tests, benchmarks):
// row-major SGEMM and the linear layer's forward and backward, FP32 (default math: no TF32).
// Built only with CUDA (elr_vendor_glue); plain C++ header. Errors throw through ELR_CUBLAS_CHECK.
#pragma once
#include <memory>

#include "kernels/kernels.h"

namespace elr::vendor {

class Cublas {
 public:
  explicit Cublas(kernels::Stream stream = nullptr);
  ~Cublas();
  Cublas(const Cublas&) = delete;
  Cublas& operator=(const Cublas&) = delete;

  // Row-major C[m, n] = alpha * op(A) op(B) + beta * C; op(A) is [m, k] (A stored [k, m] when
  // trans_a), op(B) is [k, n] (B stored [n, k] when trans_b); ld* are row strides.
  void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
             int ldb, float beta, float* c, int ldc);

  // Same arguments and semantics as linear_forward_cpu / linear_backward_cpu (device pointers);
  // b, dx, dw, db may be null.
  void linear_forward(const kernels::LinearShape& sh, const float* x, const float* w, const float* b, float* y);
  void linear_backward(const kernels::LinearShape& sh, const float* x, const float* w, const float* dy, float* dx,
                       float* dw, float* db);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace elr::vendor
