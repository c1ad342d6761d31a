// The scheduler's entry for the runtime layer (runtime_api.cpp): run one launch's blocks now. The
// scheduler knows nothing of streams, graphs or the runtime's error state; the runtime checks the
// launch configuration, records launches into a capture, and calls this to run the rest.
#pragma once
#include <cstddef>

#include "kernels/simt/device_api.h"

namespace elr::simt {

// Runs every block of the launch on the worker pool under the current schedule; throws
// KernelError (kernels/simt/control.h) naming the kernel, the block and the fault when a thread
// faults or the block deadlocks.
void execute_launch(const LaunchClosure& call, dim3 grid, dim3 block, size_t shmem_bytes, const LaunchSite& site);

}  // namespace elr::simt
