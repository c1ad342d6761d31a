// Per-layer learning rates decided on the device from the statistics of this step: the rule of
// kernels/lr_control_rule.h (the one LrController::decide runs on the host) in one thread, with
// no host round trip between the statistics and the SGD update.
#include "engine/error.h"
#include "kernels/cuda/launch.h"
#include "kernels/kernels.h"
#include "kernels/lr_control_rule.h"

namespace elr::kernels {
namespace {

__global__ void lr_control_kernel(int layers, const TensorStats* __restrict__ stats,
                                  const uint8_t* __restrict__ flags, LrControlArgs args,
                                  double* __restrict__ reference_elr, double* __restrict__ lrs,
                                  double* __restrict__ global_lr) {
  const int64_t step = args.step ? *args.step : args.step_index;
  double scheduled = args.target_lr;
  if (args.schedule)
    scheduled = args.schedule[step < 0 ? 0 : step >= args.schedule_steps ? args.schedule_steps - 1 : step];
  const double global = lr_control_rule(layers, stats, flags, args, step, scheduled, reference_elr, lrs);
  if (global_lr) *global_lr = global;
}

}  // namespace

void lr_control_cuda(int layers, const TensorStats* stats, const uint8_t* layer_flags, const LrControlArgs& args,
                     double* reference_elr, double* lrs, double* global_lr, Stream stream) {
  ELR_CHECK(layers >= 0, "lr_control_cuda: negative layer count {}", layers);
  ELR_CHECK(!args.schedule || (args.step && args.schedule_steps > 0),
            "lr_control_cuda: a schedule table needs a step counter and a positive length ({})", args.schedule_steps);
  ELR_LAUNCH(lr_control_kernel, 1, 1, 0, stream, layers, stats, layer_flags, args, reference_elr, lrs, global_lr);
}

}  // namespace elr::kernels
