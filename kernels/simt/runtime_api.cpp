// The CUDA runtime API subset on the CPU: "device" memory is exact-size host memory filled with
// 0xFF (uninitialized floats read as NaN), all work runs synchronously, and stream capture
// records launches and async copies so a graph replays them in order. Capture is as strict as
// CUDA's global capture mode: while a stream captures, calls that would synchronize or allocate
// (cudaMalloc, cudaFree, cudaMemcpy, cudaMemset, cudaDeviceSynchronize, pinned allocation) fail
// and invalidate the capture, and so do async copies from or to pageable host memory (a graph
// would read that memory at replay time) and work on the legacy stream (stream 0).
#include "kernels/simt/simt.h"

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include <fmt/format.h>

#include "kernels/simt/control.h"
#include "kernels/simt/scheduler.h"

struct CUstream_st {
  cudaGraph_t capture = nullptr;  // the graph being recorded, if capturing
};
struct CUevent_st {
  std::chrono::steady_clock::time_point time;
  bool recorded = false;
};
struct CUgraph_st {
  std::vector<std::function<void()>> nodes;
  bool invalidated = false;  // an unsupported call happened during the capture
};
struct CUgraphExec_st {
  std::vector<std::function<void()>> nodes;
};

namespace elr::simt {
namespace {

thread_local cudaError_t tl_last_error = cudaSuccess;

cudaError_t fail(cudaError_t error) {
  tl_last_error = error;
  return error;
}

// Device allocations by address, so copies can check that device ranges are real.
struct Allocations {
  std::mutex mutex;
  std::map<const char*, size_t> sizes;

  bool contains(const void* ptr, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex);
    const char* p = static_cast<const char*>(ptr);
    auto it = sizes.upper_bound(p);
    if (it == sizes.begin()) return false;
    --it;
    return p + bytes <= it->first + it->second;
  }
};
Allocations& allocations() {
  static Allocations a;
  return a;
}

cudaError_t check_copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (bytes == 0) return cudaSuccess;
  if (!dst || !src) return cudaErrorInvalidValue;
  const bool dst_device = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool src_device = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (dst_device && !allocations().contains(dst, bytes)) return cudaErrorInvalidValue;
  if (src_device && !allocations().contains(src, bytes)) return cudaErrorInvalidValue;
  return cudaSuccess;
}

bool capturing(cudaStream_t stream) { return stream && stream->capture; }

// The graphs being captured (by any stream), and the pinned host allocations.
struct CaptureState {
  std::mutex mutex;
  std::vector<cudaGraph_t> active;
  std::map<const char*, size_t> pinned;

  bool pinned_contains(const void* ptr, size_t bytes) {
    const char* p = static_cast<const char*>(ptr);
    auto it = pinned.upper_bound(p);
    if (it == pinned.begin()) return false;
    --it;
    return p + bytes <= it->first + it->second;
  }
};
CaptureState& capture_state() {
  static CaptureState c;
  return c;
}

// While any stream captures: invalidates every active capture, records `error` and returns true.
bool fail_active_captures(cudaError_t error) {
  auto& c = capture_state();
  std::lock_guard<std::mutex> lock(c.mutex);
  if (c.active.empty()) return false;
  for (cudaGraph_t g : c.active) g->invalidated = true;
  tl_last_error = error;
  return true;
}

// A call CUDA forbids during a global-mode capture.
bool refuse_while_capturing() { return fail_active_captures(cudaErrorStreamCaptureUnsupported); }

// If `stream` is capturing a graph, records `work` as the graph's next node and returns true.
bool record_if_capturing(cudaStream_t stream, std::function<void()> work) {
  // The legacy stream synchronizes with every blocking stream, a capturing one too: the work is
  // dropped, the capture has failed anyway.
  if (!stream) return fail_active_captures(cudaErrorStreamCaptureImplicit);
  if (!capturing(stream)) return false;
  stream->capture->nodes.push_back(std::move(work));
  return true;
}

std::string dims(const dim3& d) { return fmt::format("({},{},{})", d.x, d.y, d.z); }

}  // namespace

// A kernel launch (the launch macro's expansion): checked against CUDA's launch limits, recorded
// when its stream captures, else run now.
void submit_launch(std::shared_ptr<const LaunchClosure> call, dim3 grid, dim3 block, size_t shmem_bytes,
                   cudaStream_t stream, const LaunchSite& site) {
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535 || threads == 0 ||
      threads > 1024 || block.z > 64) {
    tl_last_error = cudaErrorInvalidConfiguration;
    throw KernelError(Fault::BadLaunch, fmt::format("simt: bad launch of kernel '{}' at {}:{}: grid {} block {}",
                                                    site.kernel, site.file, site.line, dims(grid), dims(block)));
  }
  if (record_if_capturing(stream, [call, grid, block, shmem_bytes, site] {
        execute_launch(*call, grid, block, shmem_bytes, site);
      }))
    return;
  execute_launch(*call, grid, block, shmem_bytes, site);
}

}  // namespace elr::simt

using elr::simt::fail;

// ---- errors and devices --------------------------------------------------------------------------
cudaError_t cudaGetLastError(void) {
  cudaError_t e = elr::simt::tl_last_error;
  elr::simt::tl_last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError(void) { return elr::simt::tl_last_error; }

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureImplicit: return "cudaErrorStreamCaptureImplicit";
    case cudaErrorIllegalState: return "cudaErrorIllegalState";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    default: return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureImplicit:
      return "operation would make the legacy stream depend on a capturing blocking stream";
    case cudaErrorIllegalState: return "the operation cannot be performed in the present state";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    default: return "unknown error";
  }
}

cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return fail(cudaErrorInvalidValue);
  *count = 1;  // the emulated device
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice);
}
cudaError_t cudaGetDevice(int* device) {
  if (!device) return fail(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (!prop) return fail(cudaErrorInvalidValue);
  if (device != 0) return fail(cudaErrorInvalidDevice);
  std::memset(prop, 0, sizeof(*prop));
  std::snprintf(prop->name, sizeof(prop->name), "elr simt (CPU emulation)");
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 0x7fffffff;
  prop->maxGridSize[1] = prop->maxGridSize[2] = 65535;
  prop->sharedMemPerBlock = 48 * 1024;
  prop->multiProcessorCount = elr::simt::num_workers();
  prop->major = 9;
  prop->minor = 0;
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) {
  if (elr::simt::refuse_while_capturing()) return cudaErrorStreamCaptureUnsupported;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* version) {
  if (!version) return fail(cudaErrorInvalidValue);
  *version = CUDART_VERSION;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* version) {
  if (!version) return fail(cudaErrorInvalidValue);
  *version = CUDART_VERSION;
  return cudaSuccess;
}

// ---- memory ---------------------------------------------------------------------------------------
cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  if (!ptr) return fail(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (elr::simt::refuse_while_capturing()) return cudaErrorStreamCaptureUnsupported;
  if (bytes == 0) return cudaSuccess;
  void* p = std::malloc(bytes);  // exact size, so ASan sees one-past-the-end accesses
  if (!p) return fail(cudaErrorMemoryAllocation);
  std::memset(p, 0xFF, bytes);
  auto& a = elr::simt::allocations();
  std::lock_guard<std::mutex> lock(a.mutex);
  a.sizes[static_cast<const char*>(p)] = bytes;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  if (!ptr) return cudaSuccess;
  if (elr::simt::refuse_while_capturing()) return cudaErrorStreamCaptureUnsupported;
  auto& a = elr::simt::allocations();
  {
    std::lock_guard<std::mutex> lock(a.mutex);
    auto it = a.sizes.find(static_cast<const char*>(ptr));
    if (it == a.sizes.end()) return fail(cudaErrorInvalidValue);
    a.sizes.erase(it);
  }
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** ptr, size_t bytes) {
  if (!ptr) return fail(cudaErrorInvalidValue);
  if (elr::simt::refuse_while_capturing()) return cudaErrorStreamCaptureUnsupported;
  *ptr = bytes ? std::malloc(bytes) : nullptr;
  if (bytes && !*ptr) return fail(cudaErrorMemoryAllocation);
  if (*ptr) {
    auto& c = elr::simt::capture_state();
    std::lock_guard<std::mutex> lock(c.mutex);
    c.pinned[static_cast<const char*>(*ptr)] = bytes;
  }
  return cudaSuccess;
}
cudaError_t cudaHostAlloc(void** ptr, size_t bytes, unsigned int) { return cudaMallocHost(ptr, bytes); }
cudaError_t cudaFreeHost(void* ptr) {
  if (elr::simt::refuse_while_capturing()) return cudaErrorStreamCaptureUnsupported;
  {
    auto& c = elr::simt::capture_state();
    std::lock_guard<std::mutex> lock(c.mutex);
    c.pinned.erase(static_cast<const char*>(ptr));
  }
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  if (!free_bytes || !total_bytes) return fail(cudaErrorInvalidValue);
  *free_bytes = *total_bytes = size_t(16) << 30;
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (elr::simt::refuse_while_capturing()) return cudaErrorStreamCaptureUnsupported;
  if (cudaError_t e = elr::simt::check_copy(dst, src, bytes, kind)) return fail(e);
  if (bytes) std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  if (cudaError_t e = elr::simt::check_copy(dst, src, bytes, kind)) return fail(e);
  if (elr::simt::capturing(stream) && bytes) {
    const void* host = kind == cudaMemcpyHostToDevice ? src : kind == cudaMemcpyDeviceToHost ? dst : nullptr;
    auto& c = elr::simt::capture_state();
    bool pinned;
    {
      std::lock_guard<std::mutex> lock(c.mutex);
      pinned = !host || c.pinned_contains(host, bytes);
    }
    if (!pinned && elr::simt::refuse_while_capturing()) return cudaErrorStreamCaptureUnsupported;
  }
  auto copy = [dst, src, bytes] {
    if (bytes) std::memmove(dst, src, bytes);
  };
  if (!elr::simt::record_if_capturing(stream, copy)) copy();
  return cudaSuccess;
}

cudaError_t cudaMemset(void* ptr, int value, size_t bytes) {
  if (elr::simt::refuse_while_capturing()) return cudaErrorStreamCaptureUnsupported;
  if (bytes && !elr::simt::allocations().contains(ptr, bytes)) return fail(cudaErrorInvalidValue);
  if (bytes) std::memset(ptr, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream) {
  if (bytes && !elr::simt::allocations().contains(ptr, bytes)) return fail(cudaErrorInvalidValue);
  auto set = [ptr, value, bytes] {
    if (bytes) std::memset(ptr, value, bytes);
  };
  if (!elr::simt::record_if_capturing(stream, set)) set();
  return cudaSuccess;
}

// ---- streams and events ---------------------------------------------------------------------------
cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  if (!stream) return fail(cudaErrorInvalidValue);
  *stream = new CUstream_st;
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int) {
  return cudaStreamCreate(stream);
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (!stream) return fail(cudaErrorInvalidResourceHandle);
  delete stream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (stream && stream->capture) {
    stream->capture->invalidated = true;
    return fail(cudaErrorStreamCaptureUnsupported);
  }
  return cudaSuccess;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t event, unsigned int) {
  return event ? cudaSuccess : fail(cudaErrorInvalidResourceHandle);
}

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  if (!event) return fail(cudaErrorInvalidValue);
  *event = new CUevent_st;
  return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int) {
  return cudaEventCreate(event);
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (!event) return fail(cudaErrorInvalidResourceHandle);
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (!event) return fail(cudaErrorInvalidResourceHandle);
  auto mark = [event] {
    event->time = std::chrono::steady_clock::now();
    event->recorded = true;
  };
  if (!elr::simt::record_if_capturing(stream, mark)) mark();
  return cudaSuccess;
}
cudaError_t cudaEventQuery(cudaEvent_t event) {
  return event ? cudaSuccess : fail(cudaErrorInvalidResourceHandle);
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  return event ? cudaSuccess : fail(cudaErrorInvalidResourceHandle);
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms) return fail(cudaErrorInvalidValue);
  if (!start || !end) return fail(cudaErrorInvalidResourceHandle);
  if (!start->recorded || !end->recorded) return fail(cudaErrorInvalidResourceHandle);
  *ms = std::chrono::duration<float, std::milli>(end->time - start->time).count();
  return cudaSuccess;
}

// ---- graph capture and replay -------------------------------------------------------------------------
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode) {
  if (!stream) return fail(cudaErrorStreamCaptureUnsupported);  // the legacy stream cannot capture
  if (stream->capture) return fail(cudaErrorIllegalState);
  stream->capture = new CUgraph_st;
  auto& c = elr::simt::capture_state();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.active.push_back(stream->capture);
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  if (!stream || !graph) return fail(cudaErrorInvalidValue);
  if (!stream->capture) return fail(cudaErrorIllegalState);
  cudaGraph_t captured = stream->capture;
  stream->capture = nullptr;
  {
    auto& c = elr::simt::capture_state();
    std::lock_guard<std::mutex> lock(c.mutex);
    c.active.erase(std::find(c.active.begin(), c.active.end(), captured));
  }
  if (captured->invalidated) {
    delete captured;
    *graph = nullptr;
    return fail(cudaErrorStreamCaptureInvalidated);
  }
  *graph = captured;
  return cudaSuccess;
}
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  if (!status) return fail(cudaErrorInvalidValue);
  *status = stream && stream->capture ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusNone;
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (!exec || !graph) return fail(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st{graph->nodes};
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t* exec, cudaGraph_t graph,
                                          unsigned long long flags) {
  return cudaGraphInstantiate(exec, graph, flags);
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (!exec) return fail(cudaErrorInvalidResourceHandle);
  if (stream && stream->capture) {  // a graph launched into a capture becomes part of it
    for (const auto& node : exec->nodes) stream->capture->nodes.push_back(node);
    return cudaSuccess;
  }
  for (const auto& node : exec->nodes) node();  // kernel faults propagate as KernelError
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}
