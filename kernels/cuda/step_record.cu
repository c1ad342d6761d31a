// A training step's record into the device ring buffer the host drains asynchronously
// (experiments/cuda_train_step.cpp): one small block, so no host round trip per step.
#include "engine/error.h"
#include "kernels/cuda/launch.h"
#include "kernels/kernels.h"

namespace elr::kernels {
namespace {

constexpr int kThreads = 128;

__global__ void step_record_kernel(StepRecordArgs a) {
  const int64_t step = *a.step;
  double* slot = a.ring + (step % a.slots) * int64_t(kStepRecordHeader + kStepRecordPerLayer * a.layers);
  for (int i = threadIdx.x; i < a.layers; i += blockDim.x) {
    const TensorStats s = a.stats[i];
    double* row = slot + kStepRecordHeader + kStepRecordPerLayer * i;
    row[0] = s.w2;
    row[1] = s.g2;
    row[2] = s.gw;
    row[3] = s.v2;
    row[4] = a.dw2[i];
    row[5] = a.lrs[i];
  }
  __syncthreads();  // every thread has read *a.step before thread 0 advances it
  if (threadIdx.x == 0) {
    slot[0] = double(step);
    slot[1] = double(*a.loss);
    slot[2] = double(*a.correct);
    slot[3] = *a.global_lr;
    *a.step = step + 1;
  }
}

}  // namespace

void step_record_cuda(const StepRecordArgs& args, Stream stream) {
  ELR_CHECK(args.layers >= 0 && args.slots > 0, "step_record_cuda: {} layers, {} slots", args.layers, args.slots);
  ELR_CHECK(args.loss && args.correct && args.global_lr && args.step && args.ring &&
                (args.layers == 0 || (args.stats && args.lrs && args.dw2)),
            "step_record_cuda: a device pointer is null");
  ELR_LAUNCH(step_record_kernel, 1, kThreads, 0, stream, args);
}

}  // namespace elr::kernels
