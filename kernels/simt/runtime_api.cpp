// The CUDA runtime API subset on the CPU. Device memory is the arena of device_memory.h, pinned
// memory is guarded by pinned_memory.h, and every launch, copy, memset and event record is an
// operation on its stream's queue (streams.h), run when the schedule or a synchronization says so.
// Copies follow CUDA's documented host synchronization: a pageable host-to-device cudaMemcpy stages
// the data and may return before it reaches the device; device-to-host copies (and async ones into
// pageable memory) return when done; device-to-device copies and cudaMemset do not wait.
// Stream capture records the work instead, and a graph launch is one operation on its stream.
// Capture is as strict as CUDA's global capture mode: while a stream captures, calls that would
// synchronize or allocate (cudaMalloc, cudaFree, cudaMemcpy, cudaMemset, cudaDeviceSynchronize,
// pinned allocation) fail and invalidate the capture, and so do async copies from or to pageable
// host memory (a graph would read that memory at replay time) and work on the legacy stream.
#include "kernels/simt/simt.h"

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <fmt/format.h>

#include "kernels/simt/checks.h"
#include "kernels/simt/control.h"
#include "kernels/simt/device_memory.h"
#include "kernels/simt/executable.h"
#include "kernels/simt/launch_limits.h"
#include "kernels/simt/pinned_memory.h"
#include "kernels/simt/scheduler.h"
#include "kernels/simt/streams.h"

// The runtime's records of events and graph nodes.
namespace elr::simt::runtime_detail {

struct EventState {
  Clock clock;  // the record operation's clock (covers it)
  bool recorded = false, happened = false;
  std::chrono::steady_clock::time_point time;
};

// Pinned host memory an operation reads or writes, guarded while the operation is unobserved.
struct PinnedUse {
  const void* ptr;
  size_t bytes;
  HostUse use;
};

// A unit of work for a stream or a graph: launch, copy, memset or event record.
struct Node {
  Work work;
  std::shared_ptr<EventState> event;  // set for an event record
  std::vector<PinnedUse> pinned;
};

}  // namespace elr::simt::runtime_detail

struct CUstream_st {
  elr::simt::StreamId id = elr::simt::kLegacyStream;
  cudaGraph_t capture = nullptr;  // the graph being recorded, if capturing
};
struct CUevent_st {
  using State = elr::simt::runtime_detail::EventState;
  std::shared_ptr<State> state = std::make_shared<State>();
};
struct CUgraph_st {
  std::vector<elr::simt::runtime_detail::Node> nodes;
  bool invalidated = false;  // an unsupported call happened during the capture
};
struct CUgraphExec_st {
  std::shared_ptr<const std::vector<elr::simt::runtime_detail::Node>> nodes;
};

namespace elr::simt {
namespace {

using namespace runtime_detail;

thread_local cudaError_t tl_last_error = cudaSuccess;

cudaError_t fail(cudaError_t error) {
  tl_last_error = error;
  return error;
}

CUstream_st g_legacy_stream{kLegacyStream};
CUstream_st g_per_thread_stream{kPerThreadStream};

// The stream behind a handle: 0 and cudaStreamLegacy are the legacy stream.
CUstream_st* resolve(cudaStream_t stream) {
  if (stream == nullptr || stream == cudaStreamLegacy) return &g_legacy_stream;
  if (stream == cudaStreamPerThread) return &g_per_thread_stream;
  return stream;
}

std::unique_lock<std::recursive_mutex> lock_device() { return std::unique_lock<std::recursive_mutex>(streams().mutex()); }

// A fault of an operation that ran inside a call that cannot throw (cudaFree, destroys), thrown by
// the next call that can; likewise a forbidden host access to pinned memory.
std::unique_ptr<KernelError> g_deferred_fault;

void raise_pending() {
  if (g_deferred_fault) {
    KernelError e = *g_deferred_fault;
    g_deferred_fault.reset();
    throw e;
  }
  const std::string race = take_host_race();
  if (!race.empty()) throw KernelError(Fault::HostRace, race);
}

template <class F>
void without_throwing(F f) {
  try {
    f();
  } catch (const KernelError& e) {
    if (!g_deferred_fault) g_deferred_fault = std::make_unique<KernelError>(e);
  }
}

// The host waits for everything `clock` covers; later work comes after it, and the pinned memory
// of what it observed is the host's again.
void host_sync(const Clock& clock) {
  streams().host_wait(clock);
  release_guards(streams().host_clock());
}

cudaError_t check_copy(void* dst, const void* src, size_t bytes, bool dst_device, bool src_device) {
  if (bytes == 0) return cudaSuccess;
  if (!dst || !src) return cudaErrorInvalidValue;
  if (dst_device && !device_memory().contains(dst, bytes)) return cudaErrorInvalidValue;
  if (src_device && !device_memory().contains(src, bytes)) return cudaErrorInvalidValue;
  return cudaSuccess;
}

// The graphs being captured, by any stream.
std::vector<cudaGraph_t> g_active_captures;

// While any stream captures: invalidates every active capture, records `error` and returns true.
bool fail_active_captures(cudaError_t error) {
  if (g_active_captures.empty()) return false;
  for (cudaGraph_t g : g_active_captures) g->invalidated = true;
  tl_last_error = error;
  return true;
}

// A call CUDA forbids during a global-mode capture.
bool refuse_while_capturing() { return fail_active_captures(cudaErrorStreamCaptureUnsupported); }

// Queues `node` on the stream, or records it when the stream captures. Returns the operation's
// clock (empty when recorded or dropped).
Clock submit(CUstream_st* stream, Node node) {
  if (stream->capture) {
    stream->capture->nodes.push_back(std::move(node));
    return Clock{};
  }
  // The legacy stream synchronizes with every blocking stream, a capturing one too: the work is
  // dropped, the capture has failed anyway.
  if (stream->id == kLegacyStream && fail_active_captures(cudaErrorStreamCaptureImplicit)) return Clock{};
  std::shared_ptr<EventState> event = node.event;
  std::vector<PinnedUse> pinned = std::move(node.pinned);
  if (event) event->happened = false;
  const std::string what = node.work.what;
  const void* caller = node.work.caller;
  Clock clock = streams().enqueue(stream->id, std::move(node.work));
  const OpId op{stream->id, clock.get(stream->id)};
  if (event) event->clock = clock, event->recorded = true;
  for (const PinnedUse& p : pinned) guard_pinned(p.ptr, p.bytes, p.use, op, what, caller);
  return clock;
}

std::string on_stream(const CUstream_st* stream) { return "on " + streams().stream_name(stream->id); }

const char* direction(bool dst_device, bool src_device) {
  if (dst_device) return src_device ? "device-to-device" : "host-to-device";
  return src_device ? "device-to-host" : "host-to-host";
}

// cudaMemcpy / cudaMemcpyAsync: validates, then queues the copy with CUDA's host synchronization.
cudaError_t copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t handle, bool async,
                 const void* caller) {
  auto lock = lock_device();
  raise_pending();
  CUstream_st* stream = resolve(handle);
  bool dst_device = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  bool src_device = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (kind == cudaMemcpyDefault) {
    dst_device = device_memory().contains(dst, 1);
    src_device = device_memory().contains(src, 1);
  }
  if (!async && refuse_while_capturing()) return cudaErrorStreamCaptureUnsupported;
  if (cudaError_t e = check_copy(dst, src, bytes, dst_device, src_device)) return fail(e);
  if (bytes == 0) return cudaSuccess;
  const void* host = dst_device ? (src_device ? nullptr : src) : dst;
  const bool pinned = host && is_pinned(host, bytes);
  if (stream->capture && host && !pinned && refuse_while_capturing()) return cudaErrorStreamCaptureUnsupported;

  Node node;
  node.work.what = fmt::format("{} {} of {} bytes {}", async ? "cudaMemcpyAsync" : "cudaMemcpy",
                               direction(dst_device, src_device), bytes, on_stream(stream));
  node.work.caller = caller;
  const bool staged = !src_device && !pinned;  // pageable source: the driver copies it out first
  std::shared_ptr<std::vector<unsigned char>> staging;
  if (staged) {
    staging = std::make_shared<std::vector<unsigned char>>(static_cast<const unsigned char*>(src),
                                                           static_cast<const unsigned char*>(src) + bytes);
    src = staging->data();
  }
  node.work.run = [dst, src, bytes, dst_device, src_device, staging, host](const OpContext& op) {
    {
      PinnedAccess access(host && !staging ? host : nullptr, host && !staging ? bytes : 0);
      std::memmove(dst, src, bytes);
    }
    const std::string race = record_copy(op, dst, staging ? nullptr : src, bytes, dst_device, src_device);
    if (!race.empty()) throw KernelError(Fault::StreamRace, "simt: " + race);
  };
  bool waits;  // returns only when the copy is done
  if (!dst_device && !src_device)
    waits = true;  // host to host: fully synchronous
  else if (!dst_device)
    waits = !async || !pinned;  // device to host: done on return, unless async into pinned memory
  else if (!src_device)
    waits = !async && pinned;  // host to device: synchronous from pinned memory, staged from pageable
  else
    waits = false;  // device to device: never waits for the copy
  if (async && pinned && !waits)
    node.pinned.push_back({host, bytes, dst_device ? HostUse::DeviceReads : HostUse::DeviceWrites});
  // cudaMemcpy from pageable memory first synchronizes the stream, then returns once staged.
  if (!async && staged && dst_device) host_sync(streams().stream_clock(stream->id));
  const Clock clock = submit(stream, std::move(node));
  if (waits && !clock.entries().empty()) host_sync(clock);
  return cudaSuccess;
}

cudaError_t memset(void* ptr, int value, size_t bytes, cudaStream_t handle, bool async, const void* caller) {
  auto lock = lock_device();
  raise_pending();
  if (!async && refuse_while_capturing()) return cudaErrorStreamCaptureUnsupported;
  if (bytes && !device_memory().contains(ptr, bytes)) return fail(cudaErrorInvalidValue);
  if (bytes == 0) return cudaSuccess;
  CUstream_st* stream = resolve(handle);
  Node node;
  node.work.what = fmt::format("{} of {} bytes {}", async ? "cudaMemsetAsync" : "cudaMemset", bytes, on_stream(stream));
  node.work.caller = caller;
  node.work.run = [ptr, value, bytes](const OpContext& op) {
    std::memset(ptr, value, bytes);
    const std::string race = record_copy(op, ptr, nullptr, bytes, true, false);
    if (!race.empty()) throw KernelError(Fault::StreamRace, "simt: " + race);
  };
  submit(stream, std::move(node));  // asynchronous for device memory, cudaMemset too
  return cudaSuccess;
}

// Host synchronization on one stream, or on a query of it.
cudaError_t query(const Clock& clock) {
  if (!streams().complete(clock)) streams().progress(clock);  // the schedule moves on while polled
  if (!streams().complete(clock)) return cudaErrorNotReady;
  host_sync(clock);
  return cudaSuccess;
}

std::string dims(const dim3& d) { return fmt::format("({},{},{})", d.x, d.y, d.z); }
}  // namespace

// A kernel launch (the launch macro's expansion): checked against the launch limits, recorded
// when its stream captures, else queued on its stream.
void submit_launch(std::shared_ptr<const LaunchClosure> call, dim3 grid, dim3 block, size_t shmem_bytes,
                   cudaStream_t handle, const LaunchSite& site) {
  auto lock = lock_device();
  raise_pending();
  cudaError_t error = cudaSuccess;
  const std::string problem = launch_limits_problem(grid, block, shmem_bytes, site.address, &error);
  if (!problem.empty()) {
    tl_last_error = error;
    throw KernelError(Fault::BadLaunch, fmt::format("simt: launch limits: bad launch of kernel '{}' at {}:{}: grid {} "
                                                    "block {}, {} bytes of dynamic shared memory: {}",
                                                    site.kernel, site.file, site.line, dims(grid), dims(block),
                                                    shmem_bytes, problem));
  }
  CUstream_st* stream = resolve(handle);
  Node node;
  node.work.what =
      fmt::format("kernel '{}' (launched at {}:{}) {}", site.kernel, site.file, site.line, on_stream(stream));
  node.work.run = [call, grid, block, shmem_bytes, site](const OpContext& op) {
    if (!checks().any()) return execute_launch(*call, grid, block, shmem_bytes, site, nullptr);
    const LaunchChecks launch_checks{site, op, next_launch_serial()};
    execute_launch(*call, grid, block, shmem_bytes, site, &launch_checks);
  };
  submit(stream, std::move(node));
}

}  // namespace elr::simt

using elr::simt::fail;
using elr::simt::lock_device;
using elr::simt::raise_pending;
using elr::simt::streams;

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
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorInvalidDeviceFunction: return "cudaErrorInvalidDeviceFunction";
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
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorInvalidDeviceFunction: return "invalid device function";
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
  prop->sharedMemPerBlockOptin = 227 * 1024;
  prop->multiProcessorCount = elr::simt::num_workers();
  prop->major = 9;
  prop->minor = 0;
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) {
  auto lock = lock_device();
  raise_pending();
  if (elr::simt::refuse_while_capturing()) return cudaErrorStreamCaptureUnsupported;
  elr::simt::host_sync(streams().device_clock());
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

// ---- kernels --------------------------------------------------------------------------------------
cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (!func) return fail(cudaErrorInvalidDeviceFunction);
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaSuccess;  // carveout etc.: no effect here
  return elr::simt::set_max_dynamic_shared(func, value) ? cudaSuccess : fail(cudaErrorInvalidValue);
}
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attr, const void* func) {
  if (!attr) return fail(cudaErrorInvalidValue);
  if (!func) return fail(cudaErrorInvalidDeviceFunction);
  auto lock = lock_device();
  const elr::simt::KernelInfo& info = elr::simt::kernel_info(func);
  std::memset(attr, 0, sizeof(*attr));
  attr->sharedSizeBytes = info.static_shared_bytes;
  attr->maxThreadsPerBlock = info.max_threads > 0 ? info.max_threads : 1024;
  attr->maxDynamicSharedSizeBytes = int(elr::simt::max_dynamic_shared(func));
  attr->binaryVersion = attr->ptxVersion = 90;
  return cudaSuccess;
}

// ---- memory ---------------------------------------------------------------------------------------
cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  if (!ptr) return fail(cudaErrorInvalidValue);
  *ptr = nullptr;
  auto lock = lock_device();
  if (elr::simt::refuse_while_capturing()) return cudaErrorStreamCaptureUnsupported;
  if (bytes == 0) return cudaSuccess;
  *ptr = elr::simt::device_memory().allocate(bytes);
  return *ptr ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}

cudaError_t cudaFree(void* ptr) {
  if (!ptr) return cudaSuccess;
  auto lock = lock_device();
  if (elr::simt::refuse_while_capturing()) return cudaErrorStreamCaptureUnsupported;
  // cudaFree waits for the device to finish what it queued: nothing pending may touch freed memory.
  elr::simt::without_throwing([] { streams().drain(); });
  return elr::simt::device_memory().free(ptr) ? cudaSuccess : fail(cudaErrorInvalidValue);
}

cudaError_t cudaMallocHost(void** ptr, size_t bytes) {
  if (!ptr) return fail(cudaErrorInvalidValue);
  auto lock = lock_device();
  if (elr::simt::refuse_while_capturing()) return cudaErrorStreamCaptureUnsupported;
  *ptr = bytes ? elr::simt::pinned_allocate(bytes) : nullptr;
  if (bytes && !*ptr) return fail(cudaErrorMemoryAllocation);
  return cudaSuccess;
}
cudaError_t cudaHostAlloc(void** ptr, size_t bytes, unsigned int) { return cudaMallocHost(ptr, bytes); }
cudaError_t cudaFreeHost(void* ptr) {
  if (!ptr) return cudaSuccess;
  auto lock = lock_device();
  if (elr::simt::refuse_while_capturing()) return cudaErrorStreamCaptureUnsupported;
  elr::simt::without_throwing([] { streams().drain(); });
  return elr::simt::pinned_free(ptr) ? cudaSuccess : fail(cudaErrorInvalidValue);
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  if (!free_bytes || !total_bytes) return fail(cudaErrorInvalidValue);
  *free_bytes = *total_bytes = size_t(16) << 30;
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  return elr::simt::copy(dst, src, bytes, kind, nullptr, false, __builtin_return_address(0));
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  return elr::simt::copy(dst, src, bytes, kind, stream, true, __builtin_return_address(0));
}

cudaError_t cudaMemset(void* ptr, int value, size_t bytes) {
  return elr::simt::memset(ptr, value, bytes, nullptr, false, __builtin_return_address(0));
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream) {
  return elr::simt::memset(ptr, value, bytes, stream, true, __builtin_return_address(0));
}

// ---- streams and events ---------------------------------------------------------------------------
cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, cudaStreamDefault); }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  if (!stream) return fail(cudaErrorInvalidValue);
  *stream = new CUstream_st{streams().create((flags & cudaStreamNonBlocking) == 0)};
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (!stream || stream == cudaStreamLegacy || stream == cudaStreamPerThread)
    return fail(cudaErrorInvalidResourceHandle);
  auto lock = lock_device();
  elr::simt::without_throwing([stream] { streams().destroy(stream->id); });
  delete stream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t handle) {
  auto lock = lock_device();
  raise_pending();
  CUstream_st* stream = elr::simt::resolve(handle);
  if (stream->capture) {
    stream->capture->invalidated = true;
    return fail(cudaErrorStreamCaptureUnsupported);
  }
  elr::simt::host_sync(streams().stream_clock(stream->id));
  return cudaSuccess;
}
cudaError_t cudaStreamQuery(cudaStream_t handle) {
  auto lock = lock_device();
  raise_pending();
  return elr::simt::query(streams().stream_clock(elr::simt::resolve(handle)->id));
}
cudaError_t cudaStreamWaitEvent(cudaStream_t handle, cudaEvent_t event, unsigned int) {
  if (!event) return fail(cudaErrorInvalidResourceHandle);
  auto lock = lock_device();
  raise_pending();
  CUstream_st* stream = elr::simt::resolve(handle);
  // A capture's graph runs in recorded order: a wait inside it adds nothing.
  if (!stream->capture && event->state->recorded) streams().wait(stream->id, event->state->clock);
  return cudaSuccess;
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
  delete event;  // a pending record keeps its state alive
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t handle) {
  if (!event) return fail(cudaErrorInvalidResourceHandle);
  auto lock = lock_device();
  raise_pending();
  CUstream_st* stream = elr::simt::resolve(handle);
  elr::simt::runtime_detail::Node node;
  node.event = event->state;
  node.work.what = "cudaEventRecord " + elr::simt::on_stream(stream);
  node.work.run = [state = event->state](const elr::simt::OpContext&) {
    state->time = std::chrono::steady_clock::now();
    state->happened = true;
  };
  elr::simt::submit(stream, std::move(node));
  return cudaSuccess;
}
cudaError_t cudaEventQuery(cudaEvent_t event) {
  if (!event) return fail(cudaErrorInvalidResourceHandle);
  auto lock = lock_device();
  raise_pending();
  return event->state->recorded ? elr::simt::query(event->state->clock) : cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (!event) return fail(cudaErrorInvalidResourceHandle);
  auto lock = lock_device();
  raise_pending();
  if (event->state->recorded) elr::simt::host_sync(event->state->clock);
  return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms) return fail(cudaErrorInvalidValue);
  if (!start || !end) return fail(cudaErrorInvalidResourceHandle);
  auto lock = lock_device();
  if (!start->state->recorded || !end->state->recorded) return fail(cudaErrorInvalidResourceHandle);
  if (!start->state->happened || !end->state->happened) return fail(cudaErrorNotReady);
  *ms = std::chrono::duration<float, std::milli>(end->state->time - start->state->time).count();
  return cudaSuccess;
}

// ---- graph capture and replay -------------------------------------------------------------------------
cudaError_t cudaStreamBeginCapture(cudaStream_t handle, cudaStreamCaptureMode) {
  auto lock = lock_device();
  CUstream_st* stream = elr::simt::resolve(handle);
  if (stream->id == elr::simt::kLegacyStream) return fail(cudaErrorStreamCaptureUnsupported);
  if (stream->capture) return fail(cudaErrorIllegalState);
  stream->capture = new CUgraph_st;
  elr::simt::g_active_captures.push_back(stream->capture);
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t handle, cudaGraph_t* graph) {
  if (!handle || !graph) return fail(cudaErrorInvalidValue);
  auto lock = lock_device();
  CUstream_st* stream = elr::simt::resolve(handle);
  if (!stream->capture) return fail(cudaErrorIllegalState);
  cudaGraph_t captured = stream->capture;
  stream->capture = nullptr;
  auto& active = elr::simt::g_active_captures;
  active.erase(std::find(active.begin(), active.end(), captured));
  if (captured->invalidated) {
    delete captured;
    *graph = nullptr;
    return fail(cudaErrorStreamCaptureInvalidated);
  }
  *graph = captured;
  return cudaSuccess;
}
cudaError_t cudaStreamIsCapturing(cudaStream_t handle, cudaStreamCaptureStatus* status) {
  if (!status) return fail(cudaErrorInvalidValue);
  auto lock = lock_device();
  *status = elr::simt::resolve(handle)->capture ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusNone;
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (!exec || !graph) return fail(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st{std::make_shared<const std::vector<elr::simt::runtime_detail::Node>>(graph->nodes)};
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long flags) {
  return cudaGraphInstantiate(exec, graph, flags);
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t handle) {
  if (!exec) return fail(cudaErrorInvalidResourceHandle);
  auto lock = lock_device();
  raise_pending();
  CUstream_st* stream = elr::simt::resolve(handle);
  if (stream->capture) {  // a graph launched into a capture becomes part of it
    for (const auto& node : *exec->nodes) stream->capture->nodes.push_back(node);
    return cudaSuccess;
  }
  // One operation on the stream runs the nodes in order (kernel faults propagate as KernelError).
  elr::simt::runtime_detail::Node graph;
  graph.work.what = fmt::format("graph launch of {} node(s) {}", exec->nodes->size(), elr::simt::on_stream(stream));
  graph.work.run = [nodes = exec->nodes](const elr::simt::OpContext& op) {
    for (const auto& node : *nodes) node.work.run(op);
  };
  for (const auto& node : *exec->nodes) {
    graph.pinned.insert(graph.pinned.end(), node.pinned.begin(), node.pinned.end());
    if (node.event) node.event->happened = false;
  }
  const elr::simt::Clock clock = elr::simt::submit(stream, std::move(graph));
  for (const auto& node : *exec->nodes)
    if (node.event) node.event->clock = clock, node.event->recorded = true;
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;  // a pending launch keeps its nodes alive
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}
