// Capturing work of one stream into a CUDA graph and replaying it. The allocations made during
// the capture come from a private pool of the caching allocator (engine/cuda/caching_allocator.h):
// the graph replays into those addresses, so the pool lives as long as the graph.
#pragma once
#include <cuda_runtime_api.h>

namespace elr::cuda {

class Graph {
 public:
  Graph(cudaGraphExec_t exec, int pool) : exec_(exec), pool_(pool) {}
  ~Graph();  // destroys the executable graph and releases its pool
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  void launch(cudaStream_t stream) const;

 private:
  cudaGraphExec_t exec_;
  int pool_;
};

// Starts capturing `stream` (global mode: any synchronizing call fails the capture) and opens
// the allocator's pool. Throws when the capture cannot start (e.g. ELR_CUDA_SYNC_DEBUG=1, which
// synchronizes after every launch).
void begin_capture(cudaStream_t stream);
// Ends the capture and instantiates the graph; on failure throws, with the pool released.
Graph* end_capture(cudaStream_t stream);
// Ends a capture interrupted by an error (ignoring what the capture says) and releases its pool.
void abort_capture(cudaStream_t stream);

}  // namespace elr::cuda
