// Times work on a stream with a pair of CUDA events: the seconds between a record before and a
// record after, waited for on the host. Host C++ against the CUDA runtime API (GPU and CPU layer).
#pragma once
#include <cuda_runtime_api.h>

#include "engine/cuda/check.h"

namespace elr::bench::gpu {

class EventTimer {
 public:
  EventTimer() {
    ELR_CUDA_CHECK(cudaEventCreate(&start_));
    ELR_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~EventTimer() {
    if (start_) cudaEventDestroy(start_);
    if (stop_) cudaEventDestroy(stop_);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  // Seconds that `enqueue` (which puts work on `stream`) takes on the device.
  template <class F>
  double seconds(cudaStream_t stream, F&& enqueue) {
    ELR_CUDA_CHECK(cudaEventRecord(start_, stream));
    enqueue();
    ELR_CUDA_CHECK(cudaEventRecord(stop_, stream));
    ELR_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0;
    ELR_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return ms * 1e-3;
  }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

}  // namespace elr::bench::gpu
