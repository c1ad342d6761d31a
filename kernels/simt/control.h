// Host-side controls of the CPU execution layer: thread and stream schedule, worker count, the
// memory checks, and the error the layer throws when it finds a bug (deadlock, divergent barrier,
// bad warp mask, race, uninitialized read, out-of-bounds access, launch beyond the limits...).
#pragma once
#include <cstdint>
#include <string>

#include "engine/error.h"

namespace elr::simt {

// Order in which a block's threads run between synchronization points, and in which work on
// different streams runs (kernels/simt/streams.h).
struct Schedule {
  enum class Kind { Forward, Reverse, Random };
  Kind kind = Kind::Forward;
  uint64_t seed = 0;
  // "forward", "reverse", "random" or "random:SEED"; throws elr::UserError otherwise.
  static Schedule parse(const std::string& text);
  std::string str() const;
};

// The schedule starts as $ELR_SIMT_SCHEDULE (default forward); set_schedule overrides it.
void set_schedule(const Schedule& schedule);
Schedule current_schedule();

// OS threads that run blocks (the launching thread included). Starts as $ELR_SIMT_WORKERS,
// default min(4, hardware threads).
void set_num_workers(int workers);
int num_workers();

// Fibers created so far on all workers (each is a CUDA thread's stack, reused across launches).
int fibers_created();

// Checks of the kernels' memory accesses. They need kernels built with the layer's access hooks
// (the *_checked test binaries, docs/kernels-on-cpu.md); synccheck, the launch limits, stream
// ordering and the pinned-memory guards are always on. Set once from $ELR_SIMT_CHECKS: a comma list
// of memcheck, racecheck, initcheck, racecheck-global (conflicting global writes within a launch:
// heavier), "all" (memcheck,racecheck,initcheck) or "none". A checked binary defaults to "all",
// any other binary to "none" and refuses the others.
struct Checks {
  bool memcheck = false, racecheck = false, initcheck = false, global_racecheck = false;
  static Checks parse(const std::string& text);  // throws elr::UserError on an unknown name
  std::string str() const;
  bool any() const { return memcheck || racecheck || initcheck || global_racecheck; }
};
const Checks& checks();
bool checks_built_in();  // this binary's kernels carry the access hooks

enum class Fault {
  BadLaunch,          // launch limits: a configuration or resource use the GPU would reject
  Deadlock,           // synccheck: no thread can make progress
  DivergentBarrier,   // synccheck: threads wait at different __syncthreads call sites
  ExitAtBarrier,      // synccheck: a thread returned while others wait at a barrier
  BadWarpMask,        // synccheck: mask names an absent or exited lane, or not the calling lane
  WarpOpMismatch,     // synccheck: lanes of one mask meet at different warp operations
  SharedRace,         // racecheck: __shared__ accesses of two threads with no barrier between
  GlobalRace,         // racecheck: two threads of one launch write the same global memory
  StreamRace,         // racecheck: two stream operations touch the same memory, nothing orders them
  HostRace,           // the host touched pinned memory a pending async copy uses
  UninitializedRead,  // initcheck: a read of memory nothing wrote
  OutOfBounds,        // memcheck: an access outside every allocation / the block's shared memory
  KernelException,    // the kernel body threw
  NotInKernel,        // a device intrinsic called outside a kernel
};
const char* fault_name(Fault fault);
const char* check_name(Fault fault);  // "synccheck", "racecheck", "initcheck", "memcheck", "launch"...

// Thrown by a launch (or a graph replay) when the scheduler finds a bug; the message names the
// kernel, its launch site, the block, and each waiting thread's file:line.
class KernelError : public Error {
 public:
  KernelError(Fault fault, const std::string& what) : Error(what), fault_(fault) {}
  Fault fault() const { return fault_; }

 private:
  Fault fault_;
};

}  // namespace elr::simt
