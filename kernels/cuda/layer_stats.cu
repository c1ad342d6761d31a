// Per-tensor statistics |W|^2, |g|^2, <g, W>, |v|^2 for every parameter tensor in one launch:
// one block per chunk writes its partials in double, then one block per tensor adds them in chunk
// order (cuda_detail::finish_partials_kernel). No atomics: the same bits on every run.
#include "kernels/cuda/launch.h"
#include "kernels/cuda/multi_tensor.h"
#include "kernels/kernels.h"

namespace elr::kernels {
namespace {

using namespace cuda_detail;

static_assert(sizeof(TensorStats) == 4 * sizeof(double), "TensorStats is read as four doubles");

__global__ void tensor_stats_chunk_kernel(MultiTensorList list) {
  const ChunkRange r = chunk_range(list, blockIdx.x);
  const MultiTensorDesc d = list.descs[r.tensor];
  double s[4] = {0.0, 0.0, 0.0, 0.0};
  for (int64_t i = r.begin + threadIdx.x; i < r.end; i += blockDim.x) {
    const double w = d.w[i], g = d.g[i];
    s[0] += w * w;
    s[1] += g * g;
    s[2] += g * w;
    if (d.v) s[3] += double(d.v[i]) * double(d.v[i]);
  }
  block_sum(s);
  if (threadIdx.x == 0)
    for (int k = 0; k < 4; ++k) list.partials[int64_t(blockIdx.x) * kPartialStride + k] = s[k];
}

}  // namespace

void tensor_stats_cuda(const MultiTensorList& list, TensorStats* stats, Stream stream) {
  if (list.chunks > 0) ELR_LAUNCH(tensor_stats_chunk_kernel, list.chunks, kChunkThreads, 0, stream, list);
  if (list.tensors > 0)
    ELR_LAUNCH((finish_partials_kernel<4>), list.tensors, kFinishThreads, 0, stream, list,
               reinterpret_cast<double*>(stats));
}

}  // namespace elr::kernels
