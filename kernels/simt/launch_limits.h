// sm_90's launch limits, which the GPU enforces and the CPU layer must too: threads per block, block
// and grid dimensions, the kernel's __launch_bounds__, and shared memory (48 KB of static at most;
// dynamic up to 48 KB minus the static size unless raised per kernel with cudaFuncSetAttribute's
// cudaFuncAttributeMaxDynamicSharedMemorySize, up to 227 KB in all).
#pragma once
#include <cstddef>
#include <string>

#include <driver_types.h>
#include <vector_types.h>

namespace elr::simt {

// "" when a launch of `kernel` (its function's address; null: not known) is within the limits,
// else what is wrong, with the error the runtime returns for it in *error.
std::string launch_limits_problem(dim3 grid, dim3 block, size_t dynamic_shared_bytes, const void* kernel,
                                  cudaError_t* error);

// cudaFuncAttributeMaxDynamicSharedMemorySize: false when `bytes` is out of range.
bool set_max_dynamic_shared(const void* kernel, int bytes);
size_t max_dynamic_shared(const void* kernel);

}  // namespace elr::simt
