// The scheduler's entry for the runtime layer (runtime_api.cpp): run one launch's blocks now. The
// scheduler knows nothing of streams, graphs or the runtime's error state; the runtime checks the
// launch against the limits, queues it on its stream or records it into a capture, and calls this
// when the launch runs.
#pragma once
#include <cstddef>

#include "kernels/simt/device_api.h"

namespace elr::simt {

struct LaunchChecks;

// Runs every block of the launch on the worker pool under the current schedule; throws
// KernelError (kernels/simt/control.h) naming the kernel, the block and the fault when a thread
// faults or the block deadlocks. `checks` (kernels/simt/checks.h) is null when the memory checks are off.
void execute_launch(const LaunchClosure& call, dim3 grid, dim3 block, size_t shmem_bytes, const LaunchSite& site,
                    const LaunchChecks* checks);

}  // namespace elr::simt
