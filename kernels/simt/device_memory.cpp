#include "kernels/simt/device_memory.h"

#include <sys/mman.h>

#include <cstring>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "kernels/simt/control.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace elr::simt {
namespace {

constexpr size_t kArenaBytes = size_t(16) << 30;  // address space only: pages exist once touched
constexpr size_t kAlign = 256;                     // cudaMalloc's alignment
constexpr size_t kRedzone = 256;
constexpr uintptr_t kPage = 4096;

struct Allocation {
  size_t bytes = 0;
  bool live = true;
};
std::mutex g_mutex;
std::map<uintptr_t, Allocation> g_allocations;  // freed ones stay, for reports

void* reserve(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

// Gives back the whole pages of [begin, end) (they read as zeros afterwards).
void discard(uintptr_t begin, uintptr_t end) {
  const uintptr_t first = (begin + kPage - 1) & ~(kPage - 1), last = end & ~(kPage - 1);
  if (first < last) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

}  // namespace

DeviceMemory::DeviceMemory() {
  void* arena = reserve(kArenaBytes);
  if (!arena) return;
  base_ = uintptr_t(arena);
  size_ = kArenaBytes;
  next_ = base_;
  if (checks().any()) {
    state_ = static_cast<unsigned char*>(reserve(kArenaBytes));
    granules_ = static_cast<GranuleShadow*>(reserve(kArenaBytes / 4 * sizeof(GranuleShadow)));
    if (!state_ || !granules_) throw Error("simt: cannot reserve the shadow of device memory for the checks");
  }
}

void* DeviceMemory::allocate(size_t bytes) {
  std::lock_guard<std::mutex> lock(g_mutex);
  const uintptr_t p = next_;
  const uintptr_t end = (p + bytes + kAlign - 1) / kAlign * kAlign + kRedzone;
  if (!size_ || end > base_ + size_) return nullptr;
  next_ = end;
  g_allocations[p] = Allocation{bytes, true};
#if defined(__SANITIZE_ADDRESS__)
  __asan_poison_memory_region(reinterpret_cast<void*>(p + bytes), end - (p + bytes));  // the redzone
#endif
  std::memset(reinterpret_cast<void*>(p), 0xFF, bytes);  // uninitialized floats read as NaN
  if (state_) std::memset(state(p), kUninitialized, bytes);
  return reinterpret_cast<void*>(p);
}

bool DeviceMemory::free(void* ptr) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_allocations.find(uintptr_t(ptr));
  if (it == g_allocations.end() || !it->second.live) return false;
  it->second.live = false;
  const uintptr_t p = it->first, end = p + it->second.bytes;
#if defined(__SANITIZE_ADDRESS__)
  __asan_poison_memory_region(ptr, it->second.bytes);
#endif
  discard(p, end);
  if (state_) {
    std::memset(state(p), kUnallocated, it->second.bytes);
    discard(uintptr_t(state(p)), uintptr_t(state(end)));
    discard(uintptr_t(granule(p)), uintptr_t(granule(end + 3)));
  }
  return true;
}

bool DeviceMemory::contains(const void* ptr, size_t bytes) const {
  std::lock_guard<std::mutex> lock(g_mutex);
  const uintptr_t p = uintptr_t(ptr);
  auto it = g_allocations.upper_bound(p);
  if (it == g_allocations.begin()) return false;
  --it;
  return it->second.live && p + bytes <= it->first + it->second.bytes;
}

std::string DeviceMemory::describe(uintptr_t address) const {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_allocations.upper_bound(address);
  if (it == g_allocations.begin()) return fmt::format("{} is before every device allocation", (void*)address);
  --it;
  const uintptr_t start = it->first;
  const size_t bytes = it->second.bytes;
  const char* freed = it->second.live ? "" : "freed ";
  if (address < start + bytes)
    return fmt::format("{} bytes into a {}{}-byte device allocation at {}", address - start, freed, bytes, (void*)start);
  return fmt::format("{} bytes past the end of a {}{}-byte device allocation at {}", address - (start + bytes), freed,
                     bytes, (void*)start);
}

DeviceMemory& device_memory() {
  static DeviceMemory* memory = new DeviceMemory;  // outlives static destructors that free memory
  return *memory;
}

}  // namespace elr::simt
