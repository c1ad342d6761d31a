// Pinned host memory (cudaMallocHost) and the host's side of the asynchronous copies that use it.
// While a copy may still read a pinned buffer (host to device) the host must not write it, and
// while a copy may still write one (device to host) the host must not touch it, until the host has
// synchronized with the copy (cudaStreamSynchronize, cudaEventSynchronize, ...). The layer holds
// the host to this with page protection: pinned buffers are whole pages, an access the pending copy
// forbids traps (SIGSEGV), is recorded, and the access then proceeds; the next runtime call
// reports it (take_host_race), or the process reports it at exit.
#pragma once
#include <cstddef>
#include <string>

#include "kernels/simt/streams.h"

namespace elr::simt {

void* pinned_allocate(size_t bytes);
bool pinned_free(void* ptr);  // false when ptr is not a pinned allocation
bool is_pinned(const void* ptr, size_t bytes);

enum class HostUse { DeviceReads, DeviceWrites };
// Protects [ptr, ptr + bytes) of a pinned buffer until the host observes operation `op`.
// `what` and `caller` describe the operation (Work) for the report.
void guard_pinned(const void* ptr, size_t bytes, HostUse use, OpId op, const std::string& what, const void* caller);
// Lifts the guards of every operation the host has observed.
void release_guards(const Clock& host_observed);

// The layer's own access to pinned memory while it runs a copy.
class PinnedAccess {
 public:
  PinnedAccess(const void* ptr, size_t bytes);
  ~PinnedAccess();
  PinnedAccess(const PinnedAccess&) = delete;
  PinnedAccess& operator=(const PinnedAccess&) = delete;

 private:
  const void* ptr_;
  size_t bytes_;
};

// The first forbidden host access since the last call, described; "" when there was none.
std::string take_host_race();

}  // namespace elr::simt
