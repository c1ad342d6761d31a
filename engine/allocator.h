// The CPU allocator: 64-byte aligned blocks (one cache line, a full AVX-512 vector).
#pragma once
#include <cstddef>

namespace elr {

constexpr size_t kCpuAlignment = 64;
void* cpu_allocate(size_t bytes);
void cpu_deallocate(void* ptr);

}  // namespace elr
