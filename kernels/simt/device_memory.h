// "Device" memory on the CPU: cudaMalloc hands out 256-byte aligned blocks of one reserved address
// range (the arena), each followed by a redzone and filled with 0xFF (uninitialized floats read as
// NaN). Addresses are never reused, so a stale pointer never aliases a newer allocation. Under ASan
// the redzones and freed blocks are poisoned, so one-past-the-end accesses are reported.
// With memory checks on (kernels/simt/checks.h) the arena has shadows: per byte whether it is
// allocated and initialized, and per 4-byte granule who last wrote and read it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace elr::simt {

// Shadow of one byte: its state for memcheck and initcheck.
enum ByteState : uint8_t { kUnallocated = 0, kUninitialized = 1, kInitialized = 2 };

// Shadow of one 4-byte granule: for racecheck across stream operations (packed OpIds) and, with
// racecheck-global, across the threads of one launch.
struct GranuleShadow {
  uint64_t writer_op = 0, reader_op = 0;
  uint32_t launch = 0;  // launch serial of the last kernel write (0: none)
  uint32_t block = 0;   // its block (linear)
  uint32_t epoch = 0;   // its block's barrier count at the write
  uint16_t thread = 0;  // its thread (linear)
};

class DeviceMemory {
 public:
  DeviceMemory();
  void* allocate(size_t bytes);  // nullptr when the arena is exhausted
  bool free(void* ptr);          // false when ptr is no live allocation's start
  // [ptr, ptr + bytes) lies inside one live allocation.
  bool contains(const void* ptr, size_t bytes) const;
  uintptr_t arena_base() const { return base_; }
  size_t arena_bytes() const { return size_; }

  // Shadows (only with memory checks on; then every arena address has them).
  bool shadowed() const { return state_ != nullptr; }
  ByteState* state(uintptr_t address) { return reinterpret_cast<ByteState*>(state_ + (address - base_)); }
  GranuleShadow* granule(uintptr_t address) { return granules_ + (address - base_) / 4; }

  // Where an address is, for reports: "12 bytes past the end of a 400-byte allocation at 0x...".
  std::string describe(uintptr_t address) const;

 private:
  uintptr_t base_ = 0;
  size_t size_ = 0;
  uintptr_t next_ = 0;  // bump pointer
  unsigned char* state_ = nullptr;
  GranuleShadow* granules_ = nullptr;
};

DeviceMemory& device_memory();

}  // namespace elr::simt
