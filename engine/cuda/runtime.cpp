#include "engine/cuda/runtime.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "engine/cuda/launch_check.h"
#include "engine/error.h"

namespace elr::cuda {

void throw_api_error(const char* library, const char* call, const char* file, int line, int code,
                     const std::string& message) {
  throw Error(fmt::format("{} call {} failed with {} ({}) ({}:{})", library, call, message, code,
                          file, line));
}

int device_count() noexcept {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear it: "no device" is a normal state, not a sticky error
    return 0;
  }
  return count;
}

std::string no_device_reason() {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return fmt::format("no CUDA device: {}", cudaGetErrorString(e));
  }
  return count > 0 ? "" : "no CUDA device";
}

std::vector<DeviceInfo> devices() {
  std::vector<DeviceInfo> out;
  const int count = device_count();
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop;
    ELR_CUDA_CHECK(cudaGetDeviceProperties(&prop, i));
    out.push_back({i, prop.name, prop.major, prop.minor, prop.totalGlobalMem, prop.multiProcessorCount});
  }
  return out;
}

namespace {
std::atomic<int>& sync_debug_flag() {
  static std::atomic<int> flag{[] {
    const char* v = std::getenv("ELR_CUDA_SYNC_DEBUG");
    return v && std::strcmp(v, "0") != 0 && *v ? 1 : 0;
  }()};
  return flag;
}
}  // namespace

bool sync_debug() { return sync_debug_flag().load() != 0; }
void set_sync_debug(bool on) { sync_debug_flag() = on ? 1 : 0; }

void check_launch(const char* kernel, const char* file, int line) {
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess && sync_debug()) e = cudaDeviceSynchronize();
  if (e != cudaSuccess)
    throw Error(fmt::format("CUDA launch of {} failed with {}: {} ({}:{}){}", kernel,
                            cudaGetErrorName(e), cudaGetErrorString(e), file, line,
                            sync_debug() ? "" : " (set ELR_CUDA_SYNC_DEBUG=1 to find the faulting launch)"));
}

Stream::Stream() { ELR_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
Stream::~Stream() {
  if (stream_) cudaStreamDestroy(stream_);
}
Stream::Stream(Stream&& other) noexcept : stream_(other.stream_) { other.stream_ = nullptr; }
Stream& Stream::operator=(Stream&& other) noexcept {
  if (this != &other) {
    if (stream_) cudaStreamDestroy(stream_);
    stream_ = other.stream_;
    other.stream_ = nullptr;
  }
  return *this;
}
void Stream::synchronize() const { ELR_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

Event::Event() { ELR_CUDA_CHECK(cudaEventCreate(&event_)); }
Event::~Event() {
  if (event_) cudaEventDestroy(event_);
}
void Event::record(cudaStream_t stream) { ELR_CUDA_CHECK(cudaEventRecord(event_, stream)); }
void Event::synchronize() const { ELR_CUDA_CHECK(cudaEventSynchronize(event_)); }
float Event::elapsed_ms_since(const Event& start) const {
  float ms = 0.0f;
  ELR_CUDA_CHECK(cudaEventElapsedTime(&ms, start.event_, event_));
  return ms;
}

void copy_to_device(void* dst, const void* src, size_t bytes, cudaStream_t stream) {
  ELR_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream));
}
void copy_to_host(void* dst, const void* src, size_t bytes, cudaStream_t stream) {
  ELR_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream));
  ELR_CUDA_CHECK(cudaStreamSynchronize(stream));  // the host reads it next
}
void copy_on_device(void* dst, const void* src, size_t bytes, cudaStream_t stream) {
  ELR_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream));
}

}  // namespace elr::cuda
