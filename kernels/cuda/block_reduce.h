// Deterministic reductions shared by the kernels in this folder: the summation order depends only
// on blockDim, never on timing, so repeated runs give the same bits (no atomics).
#pragma once
#include <cmath>
#include <cstdint>

namespace elr::kernels::cuda_detail {

constexpr unsigned kFullMask = 0xffffffffu;

// Sums the N values of every thread over the block: shuffle tree in each warp, then warp 0 adds
// the warp totals. Every thread of the block must call it (it has barriers); blockDim.x must be a
// multiple of 32 and at most 1024. Returns the totals in every thread's v.
template <int N>
__device__ __forceinline__ void block_sum(double (&v)[N]) {
  __shared__ double warp_totals[N][32];
  __shared__ double totals[N];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int k = 0; k < N; ++k)
    for (int offset = 16; offset > 0; offset /= 2) v[k] += __shfl_down_sync(kFullMask, v[k], offset);
  if (lane == 0)
    for (int k = 0; k < N; ++k) warp_totals[k][warp] = v[k];
  __syncthreads();
  if (warp == 0) {
    for (int k = 0; k < N; ++k) {
      double t = lane < warps ? warp_totals[k][lane] : 0.0;
      for (int offset = 16; offset > 0; offset /= 2) t += __shfl_down_sync(kFullMask, t, offset);
      if (lane == 0) totals[k] = t;
    }
  }
  __syncthreads();
  // A later call writes totals only after its first barrier, which every thread reaches after
  // this read: no trailing barrier needed.
  for (int k = 0; k < N; ++k) v[k] = totals[k];
}

// Sums v over the 32 lanes of a full warp; lane 0's total is returned in every lane (so all lanes
// use the same bits).
__device__ __forceinline__ double warp_sum(double v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(kFullMask, v, offset);
  return __shfl_sync(kFullMask, v, 0);
}

__device__ __forceinline__ bool is_nan(float v) { return v != v; }
__device__ __forceinline__ bool is_finite(double v) { return v == v && v - v == 0.0; }

// Grid size for a grid-stride elementwise kernel: enough blocks to fill a GPU, never more than
// the work needs.
inline int elementwise_blocks(int64_t count, int threads) {
  const int64_t needed = (count + threads - 1) / threads;
  const int64_t cap = 4096;
  return int(needed < 1 ? 1 : (needed < cap ? needed : cap));
}

}  // namespace elr::kernels::cuda_detail
