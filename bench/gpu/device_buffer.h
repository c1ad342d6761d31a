// Device memory for the GPU benchmark rows: an owning buffer with upload, download and poisoning
// (0xFF bytes: NaN floats, -1 integers, so an output the kernel leaves unwritten fails validation).
// Host C++ against the CUDA runtime API: the same code runs on a GPU and on the CPU execution layer.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>
#include <vector>

#include "engine/cuda/check.h"
#include "engine/error.h"

namespace elr::bench::gpu {

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t count) : count_(count) {
    if (count_ > 0) ELR_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&ptr_), count_ * sizeof(T)));
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), count_(o.count_) { o.ptr_ = nullptr, o.count_ = 0; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(count_, o.count_);
    return *this;
  }

  T* get() const { return ptr_; }
  size_t size() const { return count_; }
  size_t bytes() const { return count_ * sizeof(T); }

  // Synchronous copies (validation and setup only, never inside a timed interval).
  void upload(const std::vector<T>& host) {
    ELR_CHECK(host.size() == count_, "DeviceBuffer::upload: {} values into a buffer of {}", host.size(), count_);
    if (count_ > 0) ELR_CUDA_CHECK(cudaMemcpy(ptr_, host.data(), bytes(), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(count_);
    ELR_CUDA_CHECK(cudaDeviceSynchronize());
    if (count_ > 0) ELR_CUDA_CHECK(cudaMemcpy(host.data(), ptr_, bytes(), cudaMemcpyDeviceToHost));
    return host;
  }
  void poison(cudaStream_t stream) {
    if (count_ > 0) ELR_CUDA_CHECK(cudaMemsetAsync(ptr_, 0xff, bytes(), stream));
  }

 private:
  T* ptr_ = nullptr;
  size_t count_ = 0;
};

}  // namespace elr::bench::gpu
