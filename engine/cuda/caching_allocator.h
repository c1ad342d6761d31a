// Device memory for the CUDA backend: a caching allocator with size-class free lists (cudaMalloc
// and cudaFree synchronize the device, so blocks are kept and reused), and pinned host buffers.
// Freed blocks are reused in program order, which is safe while all work runs on one stream.
#pragma once
#include <cstddef>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace elr::cuda {

class CachingAllocator {
 public:
  ~CachingAllocator();
  void* allocate(size_t bytes);
  void deallocate(void* ptr);
  // Returns every cached block to the driver.
  void release_cached();
  size_t bytes_in_use() const;
  size_t bytes_cached() const;
  // Size class of a request: 512-byte steps up to 1 MiB, then powers of two up to 64 MiB, then
  // 2 MiB steps (large blocks are rare and exact-ish sizes waste less).
  static size_t size_class(size_t bytes);

 private:
  mutable std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
  std::unordered_map<void*, size_t> live_;
  size_t in_use_ = 0, cached_ = 0;
};

// The backend's process-wide allocator.
CachingAllocator& device_allocator();

// Page-locked host memory (fast, asynchronous copies).
class PinnedBuffer {
 public:
  explicit PinnedBuffer(size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void* data() const { return ptr_; }
  size_t size() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace elr::cuda
