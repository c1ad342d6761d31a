// BN-style per-channel statistics of x[N,C,HW]: one block per channel, each thread accumulates
// sum and sum of squares in double, then a shared-memory tree reduction in dynamic shared memory.
#include "kernels/cuda/launch.h"
#include "tests/simt/test_kernels.h"

namespace elr::simt_tests {
namespace {

__global__ void channel_stats_kernel(const float* __restrict__ x, float* __restrict__ mean,
                                     float* __restrict__ var, int n, int c, int hw) {
  ELR_DYNAMIC_SHARED(double, shared);
  double* sums = shared;
  double* squares = shared + blockDim.x;
  const int channel = blockIdx.x;
  double s = 0.0, q = 0.0;
  for (int i = threadIdx.x; i < n * hw; i += blockDim.x) {
    const int sample = i / hw, pos = i % hw;
    const double v = x[(size_t(sample) * c + channel) * hw + pos];
    s += v;
    q += v * v;
  }
  sums[threadIdx.x] = s;
  squares[threadIdx.x] = q;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      sums[threadIdx.x] += sums[threadIdx.x + stride];
      squares[threadIdx.x] += squares[threadIdx.x + stride];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const double count = double(n) * hw;
    const double m = sums[0] / count;
    mean[channel] = float(m);
    var[channel] = float(squares[0] / count - m * m);
  }
}

}  // namespace

void channel_stats(const float* x, float* mean, float* var, int n, int c, int hw, int threads,
                   cudaStream_t s) {
  ELR_LAUNCH(channel_stats_kernel, c, threads, 2 * threads * sizeof(double), s, x, mean, var, n, c,
             hw);
}

}  // namespace elr::simt_tests
