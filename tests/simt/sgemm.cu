// Tiled SGEMM: each 16x16 block computes a 16x16 tile of C, staging A and B tiles in shared
// memory. Out-of-range threads load zeros and skip the store but reach every barrier.
#include "kernels/cuda/launch.h"
#include "tests/simt/test_kernels.h"

namespace elr::simt_tests {
namespace {

constexpr int kTile = 16;

template <int Tile>
__global__ void tiled_sgemm_kernel(const float* __restrict__ a, const float* __restrict__ b,
                                   float* __restrict__ c, int m, int n, int k) {
  __shared__ float a_tile[Tile][Tile];
  __shared__ float b_tile[Tile][Tile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int row = blockIdx.y * Tile + ty, col = blockIdx.x * Tile + tx;
  float acc = 0.0f;
  for (int k0 = 0; k0 < k; k0 += Tile) {
    a_tile[ty][tx] = (row < m && k0 + tx < k) ? a[row * k + k0 + tx] : 0.0f;
    b_tile[ty][tx] = (k0 + ty < k && col < n) ? b[(k0 + ty) * n + col] : 0.0f;
    __syncthreads();
    for (int kk = 0; kk < Tile; ++kk) acc += a_tile[ty][kk] * b_tile[kk][tx];
    __syncthreads();
  }
  if (row < m && col < n) c[row * n + col] = acc;
}

}  // namespace

void tiled_sgemm(const float* a, const float* b, float* c, int m, int n, int k, cudaStream_t s) {
  dim3 grid((n + kTile - 1) / kTile, (m + kTile - 1) / kTile);
  ELR_LAUNCH((tiled_sgemm_kernel<kTile>), grid, dim3(kTile, kTile), 0, s, a, b, c, m, n, k);
}

}  // namespace elr::simt_tests
