// NCCL's all-reduces as the engine's DeviceCollectives (engine/device_collectives.h), built into the
// GPU backend where CMake finds NCCL (the system's, or pip's nvidia-nccl package).
#pragma once
#include <memory>

#include "engine/device_collectives.h"

namespace elr::cuda_backend {

// Selects the GPU of `ranks.local_rank()` (modulo the GPUs this process sees), then joins the ranks'
// NCCL communicator (rank 0's unique id reaches the others through `ranks`).
std::unique_ptr<DeviceCollectives> make_nccl_collectives(Communicator& ranks);

}  // namespace elr::cuda_backend
