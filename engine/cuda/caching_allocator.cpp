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

void* CachingAllocator::take_free(FreeLists& lists, size_t size) {
  auto it = lists.find(size);
  if (it == lists.end() || it->second.empty()) return nullptr;
  void* ptr = it->second.back();
  it->second.pop_back();
  return ptr;
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t size = size_class(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  void* ptr = nullptr;
  if (open_pool_ > 0) {
    ptr = take_free(pool_free_[open_pool_], size);
    if (!ptr) {
      ptr = take_free(free_, size);
      if (!ptr)
        throw GraphPoolMiss(fmt::format("graph capture: an allocation of {} bytes found no cached block (cudaMalloc "
                                        "is not allowed while capturing; the warm-up step should have cached it)",
                                        bytes));
      pool_bytes_[open_pool_] += size;
    }
    cached_ -= size;
  } else if ((ptr = take_free(free_, size))) {
    cached_ -= size;
  } else {
    cudaError_t e = cudaMalloc(&ptr, size);
    if (e == cudaErrorMemoryAllocation) {  // give the general cache back and try once more
      cudaGetLastError();
      for (auto& [s, blocks] : free_)
        for (void* p : blocks) {
          cudaFree(p);
          cached_ -= s;
        }
      free_.clear();
      e = cudaMalloc(&ptr, size);
    }
    if (e != cudaSuccess)
      throw Error(fmt::format("CUDA out of memory allocating {} bytes ({} in use): {}", bytes,
                              in_use_, cudaGetErrorString(e)));
  }
  live_[ptr] = Block{size, open_pool_};
  in_use_ += size;
  return ptr;
}

void CachingAllocator::deallocate(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(ptr);
  ELR_CHECK(it != live_.end(), "CachingAllocator::deallocate: {} was not allocated here", ptr);
  const Block block = it->second;
  live_.erase(it);
  in_use_ -= block.size;
  cached_ += block.size;
  auto pool = pool_free_.find(block.pool);
  if (block.pool > 0 && pool != pool_free_.end())
    pool->second[block.size].push_back(ptr);
  else
    free_[block.size].push_back(ptr);
}

void CachingAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [size, blocks] : free_)
    for (void* p : blocks) {
      cudaFree(p);
      cached_ -= size;
    }
  free_.clear();
}

int CachingAllocator::begin_graph_pool() {
  std::lock_guard<std::mutex> lock(mutex_);
  ELR_CHECK(open_pool_ == 0, "CachingAllocator: graph pool {} is still open", open_pool_);
  open_pool_ = next_pool_++;
  pool_free_[open_pool_];
  pool_bytes_[open_pool_] = 0;
  return open_pool_;
}

void CachingAllocator::end_graph_pool() {
  std::lock_guard<std::mutex> lock(mutex_);
  open_pool_ = 0;
}

void CachingAllocator::release_graph_pool(int pool) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (open_pool_ == pool) open_pool_ = 0;
  auto it = pool_free_.find(pool);
  if (it == pool_free_.end()) return;
  for (auto& [size, blocks] : it->second)
    for (void* p : blocks) free_[size].push_back(p);
  pool_free_.erase(it);
  pool_bytes_.erase(pool);
  for (auto& [ptr, block] : live_)
    if (block.pool == pool) block.pool = 0;  // freed later: to the general cache
}

size_t CachingAllocator::graph_pool_bytes(int pool) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = pool_bytes_.find(pool);
  return it == pool_bytes_.end() ? 0 : it->second;
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
