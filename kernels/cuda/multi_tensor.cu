// Builds the device-side tensor list of the multi-tensor kernels: descriptors, the chunk-to-tensor
// map and the partials workspace. Done once at setup, so it simply waits for its uploads.
#include <vector>

#include "engine/error.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/multi_tensor.h"
#include "kernels/kernels.h"

namespace elr::kernels {
namespace {

template <class T>
T* upload(const std::vector<T>& host, const char* what) {
  T* device = nullptr;
  const size_t bytes = (host.empty() ? 1 : host.size()) * sizeof(T);
  cudaError_t e = cudaMalloc(reinterpret_cast<void**>(&device), bytes);
  ELR_CHECK(e == cudaSuccess, "make_multi_tensor_list: cudaMalloc of {} ({} bytes) failed: {}", what, bytes,
            cudaGetErrorString(e));
  if (!host.empty()) {
    e = cudaMemcpy(device, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice);
    ELR_CHECK(e == cudaSuccess, "make_multi_tensor_list: upload of {} failed: {}", what, cudaGetErrorString(e));
  }
  return device;
}

}  // namespace

MultiTensorList make_multi_tensor_list(const MultiTensorDesc* host_descs, int tensors) {
  ELR_CHECK(tensors >= 0, "make_multi_tensor_list: negative tensor count {}", tensors);
  std::vector<MultiTensorDesc> descs(host_descs, host_descs + tensors);
  std::vector<int32_t> first_chunk(size_t(tensors) + 1, 0), chunk_tensor;
  for (int t = 0; t < tensors; ++t) {
    ELR_CHECK(descs[t].count >= 0, "make_multi_tensor_list: tensor {} has a negative count {}", t, descs[t].count);
    ELR_CHECK(descs[t].count == 0 || (descs[t].w && descs[t].g),
              "make_multi_tensor_list: tensor {} ({} elements) has no weight or gradient pointer", t,
              descs[t].count);
    const int64_t chunks = (descs[t].count + kMultiTensorChunk - 1) / kMultiTensorChunk;
    ELR_CHECK(int64_t(chunk_tensor.size()) + chunks < (int64_t(1) << 31),
              "make_multi_tensor_list: too many chunks (tensor {} of {} elements)", t, descs[t].count);
    for (int64_t c = 0; c < chunks; ++c) chunk_tensor.push_back(t);
    first_chunk[t + 1] = int32_t(chunk_tensor.size());
  }
  MultiTensorList list;
  list.tensors = tensors;
  list.chunks = int(chunk_tensor.size());
  list.momentum_buffers = true;
  for (const MultiTensorDesc& d : descs)
    if (d.count > 0 && !d.v) list.momentum_buffers = false;
  list.descs = upload(descs, "descriptors");
  list.first_chunk = upload(first_chunk, "chunk offsets");
  list.chunk_tensor = upload(chunk_tensor, "chunk map");
  list.partials = upload(std::vector<double>(size_t(list.chunks) * cuda_detail::kPartialStride), "partials");
  // A cudaMemcpy from pageable memory may return before the data reaches the device, and the
  // engine's stream is non-blocking (not ordered after the legacy stream): without this wait the
  // zeroed partials could land after a kernel on that stream wrote its sums.
  const cudaError_t e = cudaStreamSynchronize(cudaStreamLegacy);
  ELR_CHECK(e == cudaSuccess, "make_multi_tensor_list: waiting for the uploads failed: {}", cudaGetErrorString(e));
  return list;
}

void free_multi_tensor_list(MultiTensorList& list) {
  cudaFree(const_cast<MultiTensorDesc*>(list.descs));
  cudaFree(const_cast<int32_t*>(list.first_chunk));
  cudaFree(const_cast<int32_t*>(list.chunk_tensor));
  cudaFree(list.partials);
  list = MultiTensorList{};
}

}  // namespace elr::kernels
