#include "engine/allocator.h"

#include <malloc.h>

#include <cstdlib>
#include <new>

#include "engine/error.h"

namespace elr {

namespace {

// Activations are megabytes, freed and allocated again every step. By default glibc hands such
// blocks back to the kernel (munmap, or trimming the heap) and faults their pages in again on the
// next step, about 10% of a CPU training step. Keep blocks up to 32 MiB (glibc's largest mmap
// threshold) in the heap, and the heap's top untrimmed up to 1 GiB.
void keep_freed_blocks() {
  static const bool done = [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    return true;
  }();
  (void)done;
}

}  // namespace

void* cpu_allocate(size_t bytes) {
  keep_freed_blocks();
  if (bytes == 0) bytes = kCpuAlignment;
  size_t rounded = (bytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
  void* p = std::aligned_alloc(kCpuAlignment, rounded);
  ELR_CHECK(p != nullptr, "out of host memory allocating {} bytes", bytes);
  return p;
}

void cpu_deallocate(void* ptr) { std::free(ptr); }

}  // namespace elr
