#include "engine/cuda/caching_allocator.h"

#include <cuda_runtime_api.h>

#include <fmt/format.h>

#include "engine/cuda/check.h"
#include "engine/error.h"

namespace elr::cuda {

size_t CachingAllocator::size_class(size_t bytes) {
  constexpr size_t kStep = 512, kSmall = size_t(1) << 20, kLarge = size_t(64) << 20;
  if (bytes == 0) bytes = 1;
  if (bytes <= kSmall) return (bytes + kStep - 1) / kStep * kStep;
  if (bytes <= kLarge) {
    size_t c = kSmall;
    while (c < bytes) c *= 2;
    return c;
  }
  constexpr size_t kHuge = size_t(2) << 20;
  return (bytes + kHuge - 1) / kHuge * kHuge;
}

CachingAllocator::~CachingAllocator() { release_cached(); }

void* CachingAllocator::allocate(size_t bytes) {
  const size_t size = size_class(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  void* ptr = nullptr;
  auto it = free_.find(size);
  if (it != free_.end() && !it->second.empty()) {
    ptr = it->second.back();
    it->second.pop_back();
    cached_ -= size;
  } else {
    cudaError_t e = cudaMalloc(&ptr, size);
    if (e == cudaErrorMemoryAllocation) {  // give the cache back and try once more
      cudaGetLastError();
      for (auto& [s, blocks] : free_)
        for (void* p : blocks) cudaFree(p);
      free_.clear();
      cached_ = 0;
      e = cudaMalloc(&ptr, size);
    }
    if (e != cudaSuccess)
      throw Error(fmt::format("CUDA out of memory allocating {} bytes ({} in use): {}", bytes,
                              in_use_, cudaGetErrorString(e)));
  }
  live_[ptr] = size;
  in_use_ += size;
  return ptr;
}

void CachingAllocator::deallocate(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  ELR_CHECK(it != live_.end(), "CachingAllocator::deallocate: {} was not allocated here", ptr);
  free_[it->second].push_back(ptr);
  in_use_ -= it->second;
  cached_ += it->second;
  live_.erase(it);
}

void CachingAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [size, blocks] : free_)
    for (void* p : blocks) cudaFree(p);
  free_.clear();
  cached_ = 0;
}

size_t CachingAllocator::bytes_in_use() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return in_use_;
}
size_t CachingAllocator::bytes_cached() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cached_;
}

CachingAllocator& device_allocator() {
  static CachingAllocator* allocator = new CachingAllocator;  // outlives static destructors
  return *allocator;
}

PinnedBuffer::PinnedBuffer(size_t bytes) : bytes_(bytes) {
  ELR_CUDA_CHECK(cudaMallocHost(&ptr_, bytes));
}
PinnedBuffer::~PinnedBuffer() {
  if (ptr_) cudaFreeHost(ptr_);
}

}  // namespace elr::cuda
