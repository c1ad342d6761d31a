// The CUDA backend's runtime layer: device discovery that never crashes without a driver or GPU,
// RAII streams and events, and the sync-debug switch. Host C++ against cuda_runtime_api.h.
#pragma once
#include <cuda_runtime_api.h>

#include <string>
#include <vector>

#include "engine/cuda/check.h"

namespace elr::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;
  size_t total_memory = 0;
  int multiprocessors = 0;
};

// Number of usable CUDA devices; 0 (never an exception) when there is no driver or no GPU.
int device_count() noexcept;
// Why there is no device ("no CUDA device: <runtime error>"), or "" when there is one.
std::string no_device_reason();
std::vector<DeviceInfo> devices();

// $ELR_CUDA_SYNC_DEBUG=1: synchronize and check after every launch (read once; settable).
bool sync_debug();
void set_sync_debug(bool on);

class Stream {
 public:
  Stream();
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  Stream(Stream&& other) noexcept;
  Stream& operator=(Stream&& other) noexcept;
  cudaStream_t get() const { return stream_; }
  void synchronize() const;

 private:
  cudaStream_t stream_ = nullptr;
};

class Event {
 public:
  Event();
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return event_; }
  void record(cudaStream_t stream);
  void synchronize() const;
  // Milliseconds from `start` to this event (both recorded and complete).
  float elapsed_ms_since(const Event& start) const;

 private:
  cudaEvent_t event_ = nullptr;
};

void copy_to_device(void* dst, const void* src, size_t bytes, cudaStream_t stream);
void copy_to_host(void* dst, const void* src, size_t bytes, cudaStream_t stream);
void copy_on_device(void* dst, const void* src, size_t bytes, cudaStream_t stream);

}  // namespace elr::cuda
