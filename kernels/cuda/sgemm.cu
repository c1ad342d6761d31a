// The linear layer on CUDA cores in FP32 through the tiled SGEMM of gemm_tiles.h:
//   forward  y[n, out]  = x[n, in] w[out, in]^T + b      (both operands contiguous in k: float4)
//   dx[n, in]  = dy[n, out] w[out, in]                   (w read along its rows: coalesced)
//   dw[out, in] = dy^T x                                 (k = batch: split into the caller's workspace,
//                                                          fixed-order reduction)
//   db[out]    = column sums of dy, one thread per column, rows in order, in double.
// Also holds the process-wide switches (tile override, TF32) shared with conv2d.cu.
#include <atomic>

#include "engine/error.h"
#include "kernels/cuda/gemm_tiles.h"
#include "kernels/cuda/launch.h"
#include "kernels/kernels.h"

namespace elr::kernels {
namespace {

std::atomic<GemmTiles> g_tiles{GemmTiles::Auto};
std::atomic<bool> g_tf32{false};

void check_shape(const char* op, const LinearShape& sh) {
  ELR_CHECK(sh.n > 0 && sh.in > 0 && sh.out > 0, "{}: shape [n={}, in={}, out={}] must be positive", op, sh.n,
            sh.in, sh.out);
}

struct LinearForwardProblem {
  using OperandA = gemm::RowsOperand;  // x [n, in]
  using OperandB = gemm::RowsOperand;  // w [out, in]
  OperandA a;
  OperandB b;
  int m, n, kdim;
  float* y;
  const float* bias;
  __device__ __forceinline__ void store(int row, int col, float value) const {
    y[int64_t(row) * n + col] = bias ? value + bias[col] : value;
  }
};

template <class A, class B>
struct PlainProblem {  // C[m, n] row-major
  using OperandA = A;
  using OperandB = B;
  OperandA a;
  OperandB b;
  int m, n, kdim;
  float* c;
  __device__ __forceinline__ void store(int row, int col, float value) const { c[int64_t(row) * n + col] = value; }
};

__global__ void column_sums_kernel(const float* __restrict__ dy, float* __restrict__ db, int rows, int cols) {
  const int col = blockIdx.x * blockDim.x + threadIdx.x;
  if (col >= cols) return;  // no barriers in this kernel
  double sum = 0.0;
  for (int row = 0; row < rows; ++row) sum += double(dy[int64_t(row) * cols + col]);
  db[col] = float(sum);
}

}  // namespace

void set_cuda_gemm_tiles(GemmTiles tiles) { g_tiles.store(tiles); }
GemmTiles cuda_gemm_tiles() { return g_tiles.load(); }
void set_cuda_conv_tf32(bool on) { g_tf32.store(on); }
bool cuda_conv_tf32() { return g_tf32.load(); }

void linear_forward_cuda(const LinearShape& sh, const float* x, const float* w, const float* b, float* y,
                         Stream stream) {
  check_shape("linear_forward_cuda", sh);
  LinearForwardProblem p{};
  p.a = {x, sh.n, sh.in, sh.in % 4 == 0 && gemm::aligned16(x)};
  p.b = {w, sh.out, sh.in, sh.in % 4 == 0 && gemm::aligned16(w)};
  p.m = sh.n, p.n = sh.out, p.kdim = sh.in;
  p.y = y, p.bias = b;
  gemm::run_gemm(p, /*allow_split=*/false, Workspace{}, stream);
}

size_t linear_backward_workspace_bytes(const LinearShape& sh) {
  check_shape("linear_backward_workspace_bytes", sh);
  return gemm::gemm_workspace_bytes(sh.out, sh.in, sh.n, /*allow_split=*/true);  // the dw GEMM
}

void linear_backward_cuda(const LinearShape& sh, const float* x, const float* w, const float* dy, float* dx,
                          float* dw, float* db, Workspace workspace, Stream stream) {
  check_shape("linear_backward_cuda", sh);
  if (dx) {
    PlainProblem<gemm::RowsOperand, gemm::ColumnsOperand> p{};
    p.a = {dy, sh.n, sh.out, sh.out % 4 == 0 && gemm::aligned16(dy)};
    p.b = {w, sh.in, sh.in};  // element (j, o) = w[o * in + j]
    p.m = sh.n, p.n = sh.in, p.kdim = sh.out;
    p.c = dx;
    gemm::run_gemm(p, /*allow_split=*/false, Workspace{}, stream);
  }
  if (dw) {
    PlainProblem<gemm::ColumnsOperand, gemm::ColumnsOperand> p{};
    p.a = {dy, sh.out, sh.out};  // element (o, i) = dy[i * out + o]
    p.b = {x, sh.in, sh.in};     // element (j, i) = x[i * in + j]
    p.m = sh.out, p.n = sh.in, p.kdim = sh.n;
    p.c = dw;
    gemm::run_gemm(p, /*allow_split=*/true, workspace, stream);
  }
  if (db) {
    constexpr int kThreads = 128;
    ELR_LAUNCH(column_sums_kernel, dim3(gemm::ceil_div(sh.out, kThreads)), dim3(kThreads), 0, stream, dy, db,
               sh.n, sh.out);
  }
}

}  // namespace elr::kernels
