// Per-layer learning rates decided on the device from the statistics of this step, with the
// semantics of LrController::decide (optim/lr_control.cpp) and summarize_spread
// (optim/layer_stats.cpp). Layers number in the tens, so one thread does it all in double, in
// layer order: no host round trip between the statistics and the SGD update.
#include "engine/error.h"
#include "kernels/cuda/block_reduce.h"
#include "kernels/cuda/launch.h"
#include "kernels/kernels.h"

namespace elr::kernels {
namespace {

using cuda_detail::is_finite;

// |g| / |W| (LayerStats::e); 0 when |W| = 0.
__device__ __forceinline__ double layer_e(const TensorStats& s) { return s.w2 > 0 ? sqrt(s.g2 / s.w2) : 0.0; }

// The element std::nth_element(es, es + m / 2) selects: the value of rank m / 2 in sorted order,
// over the scale-invariant layers with e > 0 (m of them).
__device__ double median_e(int layers, const TensorStats* stats, const uint8_t* flags, int m) {
  const int rank = m / 2;
  for (int i = 0; i < layers; ++i) {
    const double ei = layer_e(stats[i]);
    if (!(flags[i] & kLayerScaleInvariant) || !(ei > 0)) continue;
    int less = 0, less_or_equal = 0;
    for (int j = 0; j < layers; ++j) {
      const double ej = layer_e(stats[j]);
      if (!(flags[j] & kLayerScaleInvariant) || !(ej > 0)) continue;
      less += ej < ei;
      less_or_equal += ej <= ei;
    }
    if (less <= rank && rank < less_or_equal) return ei;
  }
  return 0.0;  // unreachable for m > 0
}

__global__ void lr_control_kernel(int layers, const TensorStats* __restrict__ stats,
                                  const uint8_t* __restrict__ flags, LrControlArgs args,
                                  double* __restrict__ reference_elr, double* __restrict__ lrs,
                                  double* __restrict__ global_lr) {
  double target = args.target_lr;
  if (args.schedule) {
    const int64_t s = *args.step;
    target = args.schedule[s < 0 ? 0 : s >= args.schedule_steps ? args.schedule_steps - 1 : s];
  }
  double global = target;
  for (int i = 0; i < layers; ++i) lrs[i] = target;
  switch (args.kind) {
    case LrControlKind::None:
      break;
    case LrControlKind::CriticalWarmup: {
      // summarize_spread with every layer's lr = target: layers with a positive, finite ELR count.
      int counted = 0;
      double e_min = 0, e_max = 0;
      for (int i = 0; i < layers; ++i) {
        if (!(flags[i] & kLayerScaleInvariant)) continue;
        const double e = layer_e(stats[i]), elr = target * e;
        if (!(elr > 0 && is_finite(elr))) continue;
        if (counted == 0 || e < e_min) e_min = e;
        if (counted == 0 || e > e_max) e_max = e;
        ++counted;
      }
      if (counted > 0) {
        const double critical = 1.0 / sqrt(e_min * e_max);
        if (critical > 0) global = critical < target ? critical : target;
      }
      for (int i = 0; i < layers; ++i) lrs[i] = global;
      break;
    }
    case LrControlKind::UniformElr: {
      if (*reference_elr <= 0) {
        int m = 0;
        for (int i = 0; i < layers; ++i) m += (flags[i] & kLayerScaleInvariant) && layer_e(stats[i]) > 0;
        if (m > 0) *reference_elr = args.base_lr * median_e(layers, stats, flags, m);
      }
      const double elr_target = *reference_elr * (target / args.base_lr);
      for (int i = 0; i < layers; ++i) {
        const double e = layer_e(stats[i]);
        if ((flags[i] & kLayerScaleInvariant) && e > 0) lrs[i] = elr_target / e;
      }
      break;
    }
    case LrControlKind::Lars: {
      for (int i = 0; i < layers; ++i) {
        const TensorStats& s = stats[i];
        if ((flags[i] & kLayerLarsWeight) && s.g2 > 0 && s.w2 > 0)
          lrs[i] = target * args.lars_trust * sqrt(s.w2 / s.g2);
      }
      break;
    }
  }
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
