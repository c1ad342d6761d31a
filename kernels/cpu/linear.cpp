// Linear layer on the CPU: y[n, out] = x[n, in] * w[out, in]^T + b[out], through Eigen.
// Work is cut into fixed blocks of rows (never depending on the thread count), each block one
// single-threaded Eigen product, so the results are the same for any number of threads.
// GCC 12 reports a false "may be used uninitialized" inside Eigen's AVX-512 packing code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop
#include <algorithm>
#include <cstdint>

#include "engine/error.h"
#include "kernels/kernels.h"

namespace elr::kernels {
namespace {

template <class T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstMatrixMap = Eigen::Map<const RowMajor<T>>;
template <class T>
using MatrixMap = Eigen::Map<RowMajor<T>>;

constexpr int kRowsPerBlock = 32;
// Below this many multiply-adds the thread start-up costs more than the work.
constexpr int64_t kParallelMinFlops = 1 << 16;

void check_shape(const char* op, const LinearShape& sh) {
  ELR_CHECK(sh.n > 0 && sh.in > 0 && sh.out > 0, "{}: shape [n={}, in={}, out={}] must be positive", op, sh.n,
            sh.in, sh.out);
}

inline int block_count(int rows) { return (rows + kRowsPerBlock - 1) / kRowsPerBlock; }

}  // namespace

template <class T>
void linear_forward_cpu(const LinearShape& sh, const T* x, const T* w, const T* b, T* y) {
  check_shape("linear_forward", sh);
  const ConstMatrixMap<T> W(w, sh.out, sh.in);
  const int blocks = block_count(sh.n);
  const int64_t flops = int64_t(sh.n) * sh.in * sh.out;
#pragma omp parallel for schedule(static) if (flops >= kParallelMinFlops)
  for (int blk = 0; blk < blocks; ++blk) {
    const int r0 = blk * kRowsPerBlock, rows = std::min(kRowsPerBlock, sh.n - r0);
    const ConstMatrixMap<T> X(x + int64_t(r0) * sh.in, rows, sh.in);
    MatrixMap<T> Y(y + int64_t(r0) * sh.out, rows, sh.out);
    Y.noalias() = X * W.transpose();
    if (b) Y.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(b, sh.out);
  }
}

// dx = dy * w (blocks of batch rows), dw = dy^T * x (blocks of output rows), db = column sums of dy.
template <class T>
void linear_backward_cpu(const LinearShape& sh, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db) {
  check_shape("linear_backward", sh);
  const ConstMatrixMap<T> X(x, sh.n, sh.in), W(w, sh.out, sh.in), DY(dy, sh.n, sh.out);
  const int dx_blocks = block_count(sh.n), dw_blocks = block_count(sh.out);
  const int64_t flops = int64_t(sh.n) * sh.in * sh.out;
#pragma omp parallel if (flops >= kParallelMinFlops)
  {
#pragma omp for schedule(static) nowait
    for (int blk = 0; blk < dx_blocks; ++blk) {
      const int r0 = blk * kRowsPerBlock, rows = std::min(kRowsPerBlock, sh.n - r0);
      MatrixMap<T> DX(dx + int64_t(r0) * sh.in, rows, sh.in);
      DX.noalias() = DY.middleRows(r0, rows) * W;
    }
#pragma omp for schedule(static) nowait
    for (int blk = 0; blk < dw_blocks; ++blk) {
      const int o0 = blk * kRowsPerBlock, rows = std::min(kRowsPerBlock, sh.out - o0);
      MatrixMap<T> DW(dw + int64_t(o0) * sh.in, rows, sh.in);
      DW.noalias() = DY.middleCols(o0, rows).transpose() * X;
    }
  }
  if (db) {
    for (int o = 0; o < sh.out; ++o) {
      double sum = 0;
      for (int i = 0; i < sh.n; ++i) sum += double(dy[int64_t(i) * sh.out + o]);
      db[o] = T(sum);
    }
  }
}

#define ELR_INSTANTIATE_LINEAR(T)                                                                          \
  template void linear_forward_cpu<T>(const LinearShape&, const T*, const T*, const T*, T*);               \
  template void linear_backward_cpu<T>(const LinearShape&, const T*, const T*, const T*, T*, T*, T*);
ELR_INSTANTIATE_LINEAR(float)
ELR_INSTANTIATE_LINEAR(double)
#undef ELR_INSTANTIATE_LINEAR

}  // namespace elr::kernels
