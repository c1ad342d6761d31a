// The CUDA backend: device memory through the caching allocator, one engine stream, and the table
// of CUDA kernels (engine/device_ops.h). Built twice, like the kernels: against the CUDA runtime
// for GPUs, and against the CPU execution layer (kernels/simt) so tests drive the whole CUDA
// training path without a GPU.
#pragma once
#include <string>

namespace elr::cuda_backend {

// Registers the backend once a CUDA device is found. Returns false, with the reason, when none is.
bool start(std::string* why_not = nullptr);

}  // namespace elr::cuda_backend
