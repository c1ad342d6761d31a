// The memory checks: what every load and store of a checked kernel goes through (access_hooks.cpp
// calls check_access), and what the runtime's copies and memsets record.
//   memcheck    an access outside every live device allocation (into a redzone or freed memory),
//               or outside the block's dynamic shared memory / between __shared__ variables
//   initcheck   a read of device memory or __shared__ memory nothing wrote (shared memory starts
//               uninitialized at every block)
//   racecheck   __shared__ accesses of two threads of a block (read-after-write, write-after-read,
//               write-after-write) with no __syncthreads between (within a warp, __syncwarp also
//               orders), and device memory touched by two stream operations nothing orders
//   racecheck-global  two threads of one launch writing the same device memory (atomics exempt)
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <vector_types.h>

#include "kernels/simt/control.h"
#include "kernels/simt/device_api.h"
#include "kernels/simt/streams.h"

namespace elr::simt {

enum class AccessKind { Read, Write, Atomic };

// One launch as the checks see it (null pointer: checks off).
struct LaunchChecks {
  LaunchSite site;
  OpContext op;
  uint32_t serial = 0;  // distinguishes launches in the device memory shadow
};

// The checks' view of the block an OS thread is running: which CUDA thread runs, how many
// barriers the block has passed, the __syncwarp history of each warp, and the shadow of its shared
// memory. Owned by the scheduler's runner (one per OS thread).
class BlockChecks {
 public:
  using FailFn = void (*)(void* context, Fault fault, const std::string& problem);
  BlockChecks(FailFn fail, void* context) : fail_(fail), fail_context_(context) {}

  void begin_block(const LaunchChecks* launch, long block, dim3 block_dim, unsigned char* dynamic_shared,
                   size_t dynamic_bytes, size_t dynamic_capacity);
  void end_block();
  void set_thread(int thread) { thread_ = thread; }
  void barrier() { ++epoch_; }
  void warp_synced(int warp, unsigned mask);

  void access(uintptr_t address, size_t bytes, AccessKind kind, const void* pc);

 private:
  // What the racecheck and initcheck know of one 4-byte granule of shared memory.
  struct SharedCell {
    static constexpr uint16_t kManyReaders = 0xffff;
    uint32_t serial = 0;               // the block that last touched it; any other: the cell is empty
    uint16_t writer = 0, reader = 0;   // thread + 1, 0 for none
    int16_t reader_warp = 0;           // the readers' warp, -1 for several
    uint32_t reader_lanes = 0;         // the readers' lanes in that warp
    uint32_t write_epoch = 0, read_epoch = 0;
    uint32_t write_wsync = 0, read_wsync = 0;  // the warp's __syncwarp count at the access
    const void* write_pc = nullptr;
    const void* read_pc = nullptr;
  };
  void shared_access(size_t granule_index, uintptr_t address, size_t bytes, AccessKind kind, const void* pc);
  void global_access(uintptr_t address, size_t bytes, AccessKind kind, const void* pc);
  bool ordered(int other, uint32_t other_epoch, uint32_t other_wsync) const;
  bool warp_synced_since(uint32_t since, unsigned lanes) const;
  std::string thread_name(int thread) const;
  std::string shared_name(uintptr_t address) const;
  void fail(Fault fault, const std::string& problem);

  FailFn fail_;
  void* fail_context_;
  const LaunchChecks* launch_ = nullptr;
  Checks on_;  // checks() and the arena's bounds, kept here for the accesses' fast path
  uintptr_t arena_base_ = 0;
  size_t arena_bytes_ = 0;
  uint64_t ordered_ops_[4] = {};  // stream operations this launch is known to come after
  unsigned next_ordered_ = 0;
  long block_ = 0;
  dim3 block_dim_{};
  uint32_t serial_ = 0;  // blocks run by this OS thread; a cell of an older block is empty
  int thread_ = -1;
  uint32_t epoch_ = 0;
  unsigned char* static_base_ = nullptr;  // this OS thread's thread-local block (static shared memory)
  size_t static_bytes_ = 0;
  unsigned char* dynamic_base_ = nullptr;
  size_t dynamic_bytes_ = 0, dynamic_capacity_ = 0;
  std::vector<SharedCell> cells_;
  std::vector<int> static_variable_;  // per granule of that block: a function-local thread_local's offset or -1
  struct WarpSyncs {
    uint32_t count = 0;
    unsigned masks[16] = {};
  };
  std::vector<WarpSyncs> warps_;
};

// The block checks of the calling OS thread while it runs a checked kernel thread, else null.
// Inline and constant-initialized: every access reads it straight from TLS.
inline thread_local BlockChecks* tl_block_checks = nullptr;

inline void check_access(const void* address, size_t bytes, AccessKind kind, const void* pc) {
  if (BlockChecks* c = tl_block_checks) c->access(uintptr_t(address), bytes, kind, pc);
}

// A copy or memset by the runtime, running as stream operation `op`: updates the device memory
// shadow and returns a racecheck report when an operation nothing orders touched the same memory.
// `src` is null for memsets; either side may be host memory.
std::string record_copy(const OpContext& op, void* dst, const void* src, size_t bytes, bool dst_device, bool src_device);

// A new launch serial for LaunchChecks.
uint32_t next_launch_serial();

}  // namespace elr::simt
