// Softmax cross-entropy (mean over the batch) on the GPU, as kernels/cpu/cross_entropy.cpp.
// The forward runs on several blocks: warp w of the grid handles rows w, w + warps, ... (a fixed
// assignment), lane 0 keeps the warp's running loss and hit count, each block reduces its warps
// into a partial in the workspace, and one thread adds the partials in block order: the mean loss
// and the correct count have the same bits on every run, with no atomics.
#include <climits>

#include "engine/error.h"
#include "kernels/cuda/block_reduce.h"
#include "kernels/cuda/launch.h"
#include "kernels/kernels.h"

namespace elr::kernels {
namespace {

using cuda_detail::kFullMask;

constexpr int kForwardThreads = 256;
constexpr int kRowsPerWarp = 2;  // rows each warp handles when the grid is not capped
constexpr int kMaxForwardBlocks = 1024;
constexpr int kBackwardThreads = 256;

__device__ __forceinline__ double quiet_nan() { return __longlong_as_double(0x7ff8000000000000ll); }

// The grid of the forward: threads per block and blocks.
struct ForwardGrid {
  int threads = 32, blocks = 1;
};

ForwardGrid forward_grid(const CrossEntropyShape& sh) {
  ForwardGrid g;
  const int warps = sh.n < kForwardThreads / 32 ? sh.n : kForwardThreads / 32;
  g.threads = warps * 32;
  const int64_t rows_per_block = int64_t(warps) * kRowsPerWarp;
  const int64_t blocks = (sh.n + rows_per_block - 1) / rows_per_block;
  g.blocks = int(blocks < kMaxForwardBlocks ? blocks : kMaxForwardBlocks);
  return g;
}

__global__ void cross_entropy_forward_kernel(int n, int classes, const float* __restrict__ logits,
                                             const int32_t* __restrict__ labels, float* __restrict__ probs,
                                             double* __restrict__ partials) {
  const int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  const int grid_warps = gridDim.x * warps, first_row = blockIdx.x * warps + (threadIdx.x >> 5);
  double totals[2] = {0.0, 0.0};  // sum of row losses, rows whose arg-max is the label (lane 0 only)
  for (int row = first_row; row < n; row += grid_warps) {  // warp-uniform trip count
    const float* z = logits + int64_t(row) * classes;
    // First maximum: each lane's first maximum, then the larger value / smaller index wins.
    float best = -INFINITY;
    int top = INT_MAX;
    for (int k = lane; k < classes; k += 32)
      if (z[k] > best || (top == INT_MAX && z[k] == best)) best = z[k], top = k;
    for (int offset = 16; offset > 0; offset /= 2) {
      const float other = __shfl_xor_sync(kFullMask, best, offset);
      const int other_top = __shfl_xor_sync(kFullMask, top, offset);
      if (other > best || (other == best && other_top < top)) best = other, top = other_top;
    }
    if (top == INT_MAX) top = 0;  // every logit NaN: the CPU keeps index 0 as well
    const double zmax = double(z[top]);
    double sum = 0.0;
    for (int k = lane; k < classes; k += 32) sum += exp(double(z[k]) - zmax);
    sum = cuda_detail::warp_sum(sum);
    float* prob = probs + int64_t(row) * classes;
    for (int k = lane; k < classes; k += 32) prob[k] = float(exp(double(z[k]) - zmax) / sum);
    if (lane == 0) {
      const int label = labels[row];
      const bool valid = label >= 0 && label < classes;
      totals[0] += valid ? zmax + log(sum) - double(z[label]) : quiet_nan();
      totals[1] += (valid && top == label) ? 1.0 : 0.0;
    }
  }
  cuda_detail::block_sum(totals);
  if (threadIdx.x == 0) partials[2 * blockIdx.x] = totals[0], partials[2 * blockIdx.x + 1] = totals[1];
}

// One thread adds the blocks' partials in block order.
__global__ void cross_entropy_finish_kernel(int n, int blocks, const double* __restrict__ partials,
                                            float* __restrict__ loss, int64_t* __restrict__ correct) {
  double total_loss = 0.0, hits = 0.0;
  for (int b = 0; b < blocks; ++b) {
    total_loss += partials[2 * b];
    hits += partials[2 * b + 1];
  }
  *loss = float(total_loss / double(n));
  if (correct) *correct = int64_t(hits);
}

__global__ void cross_entropy_backward_kernel(int64_t total, int classes, const float* __restrict__ probs,
                                              const int32_t* __restrict__ labels, double scale,
                                              float* __restrict__ dlogits) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = i / classes;
    const int k = int(i - row * classes), label = labels[row];
    const bool valid = label >= 0 && label < classes;
    const double onehot = k == label ? 1.0 : 0.0;
    dlogits[i] = valid ? float(scale * (double(probs[i]) - onehot)) : float(quiet_nan());
  }
}

void check_shape(const char* op, const CrossEntropyShape& sh) {
  ELR_CHECK(sh.n > 0 && sh.classes > 0, "{}: shape [n={}, classes={}] must be positive", op, sh.n, sh.classes);
}

}  // namespace

size_t cross_entropy_forward_workspace_bytes(const CrossEntropyShape& sh) {
  return sh.n > 0 ? size_t(forward_grid(sh).blocks) * 2 * sizeof(double) : 0;
}

void cross_entropy_forward_cuda(const CrossEntropyShape& sh, const float* logits, const int32_t* labels,
                                float* loss, float* probs, int64_t* correct, Workspace workspace, Stream stream) {
  check_shape("cross_entropy_forward_cuda", sh);
  const size_t needed = cross_entropy_forward_workspace_bytes(sh);
  ELR_CHECK(workspace.data && workspace.bytes >= needed,
            "cross_entropy_forward_cuda: the workspace has {} bytes at {}; shape [n={}, classes={}] needs {} "
            "(cross_entropy_forward_workspace_bytes)",
            workspace.bytes, workspace.data, sh.n, sh.classes, needed);
  double* partials = static_cast<double*>(workspace.data);
  const ForwardGrid g = forward_grid(sh);
  ELR_LAUNCH(cross_entropy_forward_kernel, g.blocks, g.threads, 0, stream, sh.n, sh.classes, logits, labels, probs,
             partials);
  ELR_LAUNCH(cross_entropy_finish_kernel, 1, 1, 0, stream, sh.n, g.blocks, partials, loss, correct);
}

void cross_entropy_backward_cuda(const CrossEntropyShape& sh, const float* probs, const int32_t* labels,
                                 float dloss, float* dlogits, Stream stream) {
  check_shape("cross_entropy_backward_cuda", sh);
  const int64_t total = int64_t(sh.n) * sh.classes;
  ELR_LAUNCH(cross_entropy_backward_kernel, cuda_detail::elementwise_blocks(total, kBackwardThreads),
             kBackwardThreads, 0, stream, total, sh.classes, probs, labels, double(dloss) / double(sh.n), dlogits);
}

}  // namespace elr::kernels
