// One warp-pair kernel exercising the intrinsics the layer emulates, each result written to its
// own slot so the test can check every lane against values computed by hand.
#include "kernels/cuda/launch.h"
#include "tests/simt/test_kernels.h"

namespace elr::simt_tests {
namespace {

__global__ void intrinsics_kernel(int* out, unsigned* counter, float* fsum) {
  const int t = threadIdx.x, lane = t % 32;
  int* o = out + t * kIntrinsicSlots;
  o[0] = __shfl_sync(0xffffffffu, t * 10, 3);            // lane 3 of this warp
  o[1] = __shfl_up_sync(0xffffffffu, t, 2);               // t-2, own value in lanes 0,1
  o[2] = __shfl_xor_sync(0xffffffffu, t, 5, 8);           // within groups of 8
  o[3] = int(__ballot_sync(0xffffffffu, lane % 3 == 0));
  o[4] = __any_sync(0xffffffffu, t == 40);
  o[5] = __all_sync(0xffffffffu, lane < 31);
  o[6] = __syncthreads_count(t % 4 == 0);
  o[7] = __shfl_down_sync(0x0000ffffu << (lane & 16), lane, 4, 16);  // two 16-lane groups
  atomicAdd(counter, 1u);
  atomicMax(counter + 1, unsigned(t * 7 % 50));
  atomicAdd(fsum, 0.5f);
}

}  // namespace

void intrinsics(int* out, unsigned* counter, float* fsum, cudaStream_t s) {
  ELR_LAUNCH(intrinsics_kernel, 1, 64, 0, s, out, counter, fsum);
}

}  // namespace elr::simt_tests
