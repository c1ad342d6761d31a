// Checked after every kernel launch (ELR_LAUNCH): reports launch errors with the kernel's name and
// launch site; with ELR_CUDA_SYNC_DEBUG=1 it also synchronizes so faults surface at their launch.
#pragma once

namespace elr::cuda {

void check_launch(const char* kernel, const char* file, int line);

}  // namespace elr::cuda
