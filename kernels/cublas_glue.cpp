// cuBLAS glue: row-major products through the column-major API (C^T = op(B)^T op(A)^T), the bias
// and its gradient as rank-1 / matrix-vector products against a vector of ones kept on the device.
#include "kernels/cublas_glue.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <vector>

#include "engine/cuda/check.h"
#include "engine/error.h"

namespace elr::vendor {

struct Cublas::Impl {
  cublasHandle_t handle = nullptr;
  cudaStream_t stream = nullptr;
  float* ones = nullptr;
  int ones_count = 0;

  const float* ones_of(int count) {
    if (count > ones_count) {
      if (ones) ELR_CUDA_CHECK(cudaFree(ones));
      ones = nullptr;
      ELR_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&ones), size_t(count) * sizeof(float)));
      const std::vector<float> host(size_t(count), 1.0f);
      ELR_CUDA_CHECK(cudaMemcpy(ones, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice));
      ones_count = count;
    }
    return ones;
  }
};

Cublas::Cublas(kernels::Stream stream) : impl_(std::make_unique<Impl>()) {
  impl_->stream = reinterpret_cast<cudaStream_t>(stream);
  ELR_CUBLAS_CHECK(cublasCreate(&impl_->handle));
  ELR_CUBLAS_CHECK(cublasSetStream(impl_->handle, impl_->stream));
  ELR_CUBLAS_CHECK(cublasSetMathMode(impl_->handle, CUBLAS_DEFAULT_MATH));  // FP32, no TF32 tensor cores
}

Cublas::~Cublas() {
  if (impl_->ones) cudaFree(impl_->ones);
  cublasDestroy(impl_->handle);
}

void Cublas::sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                   const float* b, int ldb, float beta, float* c, int ldc) {
  ELR_CHECK(m > 0 && n > 0 && k > 0, "Cublas::sgemm: sizes m={}, n={}, k={} must be positive", m, n, k);
  // Row-major X is column-major X^T: C^T[n, m] = op(B)^T op(A)^T.
  ELR_CUBLAS_CHECK(cublasSgemm(impl_->handle, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                               n, m, k, &alpha, b, ldb, a, lda, &beta, c, ldc));
}

void Cublas::linear_forward(const kernels::LinearShape& sh, const float* x, const float* w, const float* b,
                            float* y) {
  ELR_CHECK(sh.n > 0 && sh.in > 0 && sh.out > 0, "Cublas::linear_forward: shape [n={}, in={}, out={}]", sh.n, sh.in,
            sh.out);
  sgemm(false, true, sh.n, sh.out, sh.in, 1.0f, x, sh.in, w, sh.in, 0.0f, y, sh.out);
  if (b) sgemm(false, false, sh.n, sh.out, 1, 1.0f, impl_->ones_of(sh.n), 1, b, sh.out, 1.0f, y, sh.out);
}

void Cublas::linear_backward(const kernels::LinearShape& sh, const float* x, const float* w, const float* dy,
                             float* dx, float* dw, float* db) {
  ELR_CHECK(sh.n > 0 && sh.in > 0 && sh.out > 0, "Cublas::linear_backward: shape [n={}, in={}, out={}]", sh.n,
            sh.in, sh.out);
  if (dx) sgemm(false, false, sh.n, sh.in, sh.out, 1.0f, dy, sh.out, w, sh.in, 0.0f, dx, sh.in);
  if (dw) sgemm(true, false, sh.out, sh.in, sh.n, 1.0f, dy, sh.out, x, sh.in, 0.0f, dw, sh.in);
  if (db) sgemm(true, false, sh.out, 1, sh.n, 1.0f, dy, sh.out, impl_->ones_of(sh.n), 1, 0.0f, db, 1);
}

}  // namespace elr::vendor
