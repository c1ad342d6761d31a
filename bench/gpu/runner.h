// The GPU suites as one runner for `elrscope bench` (registered by register_runner.cpp).
#pragma once
#include "bench/gpu_hook.h"

namespace elr::bench::gpu {

// Throws elr::UserError "no CUDA device: <reason>" when there is no usable GPU.
GpuBenchResults run_gpu_bench(const GpuBenchRequest& request);

}  // namespace elr::bench::gpu
