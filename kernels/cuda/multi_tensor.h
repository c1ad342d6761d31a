// Pieces shared by the multi-tensor kernels (layer_stats.cu, sgd.cu): the block-to-chunk map and
// the finishing kernel that adds a tensor's per-chunk partials in chunk order.
#pragma once
#include <cstdint>

#include "kernels/cuda/block_reduce.h"
#include "kernels/kernels.h"

namespace elr::kernels::cuda_detail {

constexpr int kChunkThreads = 256;   // threads of a chunk block (kMultiTensorChunk / 256 elements each)
constexpr int kFinishThreads = 256;  // threads of a finishing block
constexpr int kPartialStride = 4;    // doubles per chunk in MultiTensorList::partials

// The element range [begin, end) of chunk `chunk` inside its tensor.
struct ChunkRange {
  int tensor;
  int64_t begin, end;
};
__device__ __forceinline__ ChunkRange chunk_range(const MultiTensorList& list, int chunk) {
  const int t = list.chunk_tensor[chunk];
  const int64_t begin = int64_t(chunk - list.first_chunk[t]) * kMultiTensorChunk;
  const int64_t count = list.descs[t].count;
  return {t, begin, begin + kMultiTensorChunk < count ? begin + kMultiTensorChunk : count};
}

// One block per tensor: out[t * N + k] = sum over the tensor's chunks of partials[chunk * 4 + k],
// each thread over a fixed stride of chunks, then a block reduction: the same bits every run.
template <int N>
__global__ void finish_partials_kernel(MultiTensorList list, double* __restrict__ out) {
  const int t = blockIdx.x;
  double sums[N];
  for (int k = 0; k < N; ++k) sums[k] = 0.0;
  for (int chunk = list.first_chunk[t] + threadIdx.x; chunk < list.first_chunk[t + 1]; chunk += blockDim.x)
    for (int k = 0; k < N; ++k) sums[k] += list.partials[int64_t(chunk) * kPartialStride + k];
  block_sum(sums);
  if (threadIdx.x == 0)
    for (int k = 0; k < N; ++k) out[int64_t(t) * N + k] = sums[k];
}

}  // namespace elr::kernels::cuda_detail
