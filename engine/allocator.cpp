#include "engine/allocator.h"

#include <cstdlib>
#include <new>

#include "engine/error.h"

namespace elr {

void* cpu_allocate(size_t bytes) {
  if (bytes == 0) bytes = kCpuAlignment;
  size_t rounded = (bytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
  void* p = std::aligned_alloc(kCpuAlignment, rounded);
  ELR_CHECK(p != nullptr, "out of host memory allocating {} bytes", bytes);
  return p;
}

void cpu_deallocate(void* ptr) { std::free(ptr); }

}  // namespace elr
