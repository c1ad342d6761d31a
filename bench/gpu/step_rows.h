// Whole-step rows of `elrscope bench --suite gpu-step`: the engine's training step on the CUDA
// device (make_train_step's CudaTrainStep) eager and replayed as a CUDA graph, PyTorch eager on the
// same GPU (TF32 off), and the statistics + LR-control kernels alone on the net's parameter list.
// Blocks interleaved round by round.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "bench/cpu/step_bench.h"
#include "bench/gpu_hook.h"
#include "kernels/kernels.h"

namespace elr::bench::gpu {

// plain-20 (width 32), resnet-20 and resnet-56 (width 16), batch 128, 3x32x32.
std::vector<StepNet> gpu_step_nets();
// plain-4 (width 8), batch 4, 3x8x8: `elrscope bench --tiny` (the CPU execution layer's dry run).
StepNet tiny_step_net();

GpuStepRow bench_gpu_step(const StepNet& net, const GpuBenchRequest& request);

// Median and min seconds of tensor_stats_cuda + lr_control_cuda over tensors of these sizes.
struct StatsTiming {
  double median_s = 0, min_s = 0;
};
StatsTiming time_stats_lr_control(const std::vector<int64_t>& sizes, int repeats, kernels::Stream stream);

}  // namespace elr::bench::gpu
