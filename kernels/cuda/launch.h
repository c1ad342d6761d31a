// The one way kernels are launched, in both builds of a .cu file:
//   ELR_LAUNCH(kernel, grid, block, shmem_bytes, stream, args...);
// nvcc: kernel<<<grid, block, shmem_bytes, stream>>>(args...) followed by a launch check
// (synchronizing when ELR_CUDA_SYNC_DEBUG=1). CPU layer: the simt scheduler runs the launch.
// Parenthesize template kernels: ELR_LAUNCH((scale<float, 4>), ...).
// Dynamic shared memory: ELR_DYNAMIC_SHARED(float, smem); inside the kernel, then carve by hand.
#pragma once

#if defined(__CUDACC__)
#include <cuda_runtime.h>

#include "engine/cuda/launch_check.h"

#define ELR_LAUNCH(kernel, grid, block, shmem_bytes, stream, ...)                  \
  do {                                                                             \
    kernel<<<(grid), (block), (shmem_bytes), (stream)>>>(__VA_ARGS__);             \
    ::elr::cuda::check_launch(#kernel, __FILE__, __LINE__);                        \
  } while (0)

#define ELR_DYNAMIC_SHARED(type, name)                                \
  extern __shared__ __align__(16) unsigned char elr_dynamic_shared_[]; \
  type* name = reinterpret_cast<type*>(elr_dynamic_shared_)

#elif defined(ELR_SIMT)

#define ELR_LAUNCH(kernel, grid, block, shmem_bytes, stream, ...)                          \
  ::elr::simt::launch(kernel, #kernel, dim3(grid), dim3(block), size_t(shmem_bytes), (stream), \
                      __FILE__, __LINE__, ##__VA_ARGS__)

#define ELR_DYNAMIC_SHARED(type, name) \
  type* name = reinterpret_cast<type*>(::elr::simt::dynamic_shared_memory())

#else
#error "kernels/cuda sources are built by nvcc or as C++ with -include kernels/simt/simt.h"
#endif
