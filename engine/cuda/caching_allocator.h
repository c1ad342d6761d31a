// Device memory for the CUDA backend: a caching allocator with size-class free lists (cudaMalloc
// and cudaFree synchronize the device, so blocks are kept and reused), and pinned host buffers.
// Freed blocks are reused in program order, which is safe while all work runs on one stream.
//
// CUDA graphs: between begin_graph_pool() and end_graph_pool() (a stream capture) allocations
// come from a private pool: its own free blocks first, then blocks taken over from the general
// cache, never cudaMalloc (not allowed while capturing; a miss throws GraphPoolMiss). The pool's
// blocks stay reserved for the graph, which replays into the same addresses, until
// release_graph_pool(): only then do they return to the general cache.
#pragma once
#include <cstddef>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/error.h"

namespace elr::cuda {

// An allocation during graph capture that the cache could not serve without cudaMalloc.
class GraphPoolMiss : public Error {
 public:
  explicit GraphPoolMiss(const std::string& what) : Error(what) {}
};

class CachingAllocator {
 public:
  ~CachingAllocator();
  void* allocate(size_t bytes);
  void deallocate(void* ptr);
  // Returns every block of the general cache to the driver (graph pools keep theirs).
  void release_cached();
  size_t bytes_in_use() const;
  size_t bytes_cached() const;
  // Size class of a request: 512-byte steps up to 1 MiB, then powers of two up to 64 MiB, then
  // 2 MiB steps (large blocks are rare and exact-ish sizes waste less).
  static size_t size_class(size_t bytes);

  // Opens a private pool for the allocations of a capture; returns its id (> 0).
  int begin_graph_pool();
  // Stops drawing from the open pool; its blocks stay reserved.
  void end_graph_pool();
  // The graph is gone: the pool's free blocks, and its live ones once freed, go back to the cache.
  void release_graph_pool(int pool);
  size_t graph_pool_bytes(int pool) const;  // blocks held by a pool, free or live

 private:
  struct Block {
    size_t size = 0;
    int pool = 0;  // 0: the general cache
  };
  using FreeLists = std::map<size_t, std::vector<void*>>;
  void* take_free(FreeLists& lists, size_t size);

  mutable std::mutex mutex_;
  FreeLists free_;                       // the general cache
  std::map<int, FreeLists> pool_free_;   // graph pools' free blocks
  std::map<int, size_t> pool_bytes_;
  std::unordered_map<void*, Block> live_;
  int open_pool_ = 0, next_pool_ = 1;
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
