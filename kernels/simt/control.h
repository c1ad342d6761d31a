// Host-side controls of the CPU execution layer: thread schedule, worker count, and the error a
// launch throws when the scheduler finds a bug (deadlock, divergent barrier, bad warp mask...).
#pragma once
#include <cstdint>
#include <string>

#include "engine/error.h"

namespace elr::simt {

// Order in which a block's threads run between synchronization points.
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

enum class Fault {
  BadLaunch,         // launch configuration the GPU would reject
  Deadlock,          // no thread can make progress
  DivergentBarrier,  // threads wait at different __syncthreads call sites
  ExitAtBarrier,     // a thread returned while others wait at a barrier
  BadWarpMask,       // mask names an absent or exited lane, or not the calling lane
  WarpOpMismatch,    // lanes of one mask meet at different warp operations
  KernelException,   // the kernel body threw
  NotInKernel,       // a device intrinsic called outside a kernel
};
const char* fault_name(Fault fault);

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
