// The LR-control rule, written once: per-layer learning rates from one step's layer statistics,
// run on the host by LrController::decide (optim/lr_control.cpp) and on the device by
// lr_control_cuda (kernels/cuda/lr_control.cu, one thread), so both give the same bits. A header
// of inline functions, __host__ __device__ under nvcc and plain C++ elsewhere (g++ and the CPU
// execution layer): the CPU library includes it without linking CUDA code. Layers number in the
// tens: each kind is a pass or two over them in layer order, in double (docs/outputs.md).
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/kernels.h"

#if defined(__CUDACC__)
#define ELR_HOST_DEVICE __host__ __device__
#else
#define ELR_HOST_DEVICE
#endif

namespace elr::kernels {

namespace lr_rule_detail {

// |g| / |W| (LayerStats::e); 0 when |W| = 0.
ELR_HOST_DEVICE inline double layer_e(const TensorStats& s) { return s.w2 > 0 ? sqrt(s.g2 / s.w2) : 0.0; }

ELR_HOST_DEVICE inline bool is_finite(double v) { return v == v && v - v == 0.0; }

// A layer uniform-elr rescales, and whose e enters its reference: scale-invariant with e > 0.
ELR_HOST_DEVICE inline bool rotates(const TensorStats& s, uint8_t flags) {
  return (flags & kLayerScaleInvariant) && layer_e(s) > 0;
}

// The value of rank m / 2 in sorted order among the m rotating layers' e (what std::nth_element
// at m / 2 selects), by counting ranks: no sort, no scratch memory.
ELR_HOST_DEVICE inline double median_e(int layers, const TensorStats* stats, const uint8_t* flags, int m) {
  const int rank = m / 2;
  for (int i = 0; i < layers; ++i) {
    if (!rotates(stats[i], flags[i])) continue;
    const double ei = layer_e(stats[i]);
    int less = 0, less_or_equal = 0;
    for (int j = 0; j < layers; ++j) {
      if (!rotates(stats[j], flags[j])) continue;
      const double ej = layer_e(stats[j]);
      less += ej < ei;
      less_or_equal += ej <= ei;
    }
    if (less <= rank && rank < less_or_equal) return ei;
  }
  return 0.0;  // unreachable for m > 0
}

// The smallest e among the rotating layers; 0 when there is none.
ELR_HOST_DEVICE inline double min_e(int layers, const TensorStats* stats, const uint8_t* flags) {
  double smallest = 0;
  for (int i = 0; i < layers; ++i)
    if (rotates(stats[i], flags[i]) && (smallest == 0 || layer_e(stats[i]) < smallest)) smallest = layer_e(stats[i]);
  return smallest;
}

// The smallest and largest e over the scale-invariant layers with a positive, finite ELR at lr
// (summarize_spread's layers); false when there is none.
ELR_HOST_DEVICE inline bool e_extremes(int layers, const TensorStats* stats, const uint8_t* flags, double lr,
                                       double* e_min, double* e_max) {
  int counted = 0;
  for (int i = 0; i < layers; ++i) {
    if (!(flags[i] & kLayerScaleInvariant)) continue;
    const double e = layer_e(stats[i]), elr = lr * e;
    if (!(elr > 0 && is_finite(elr))) continue;
    if (counted == 0 || e < *e_min) *e_min = e;
    if (counted == 0 || e > *e_max) *e_max = e;
    ++counted;
  }
  return counted > 0;
}

// uniform-elr's target at schedule factor 1 on this step: the reference itself (growth 0), or the
// ELR that the one-layer model gives a free layer starting from it: 1/E^2 grows by `growth` per
// step, and E stays at or above `floor` (docs/science.md).
ELR_HOST_DEVICE inline double uniform_elr_target(double reference, int64_t step, double growth, double floor) {
  if (!(growth > 0) || !(reference > 0)) return reference;
  const double decayed = 1.0 / sqrt(1.0 / (reference * reference) + growth * static_cast<double>(step));
  return decayed > floor ? decayed : floor;
}

}  // namespace lr_rule_detail

// Writes every layer's lr into lrs[layers] and returns the global lr (the scheduled lr, capped under
// critical-warmup and max-elr-warmup). stats: |W|^2 and |g|^2 per layer (gw, v2 unused); flags:
// kLayerScaleInvariant, kLayerLarsWeight, kLayerAffine per layer; args: the kind and its settings
// (its target_lr and step fields are not read: `step` and `scheduled_lr`, this step's
// scheduled_lr(schedule, step), are given; the kLayerAffine tensors' lr is multiplied by
// args.affine_lr_scale after the kind has decided); reference_elr: in/out, the uniform-elr reference
// at schedule factor 1, set from this step's smallest or median e when it is <= 0.
ELR_HOST_DEVICE inline double lr_control_rule(int layers, const TensorStats* stats, const uint8_t* flags,
                                              const LrControlArgs& args, int64_t step, double scheduled_lr,
                                              double* reference_elr, double* lrs) {
  using namespace lr_rule_detail;
  double global = scheduled_lr;
  for (int i = 0; i < layers; ++i) lrs[i] = scheduled_lr;
  switch (args.kind) {
    case LrControlKind::None:
      break;
    case LrControlKind::CriticalWarmup:
    case LrControlKind::MaxElrWarmup: {
      // The same lr for every tensor, capped at 1 / sqrt(e_min e_max) (critical-warmup: one step
      // does not widen the spread, in the model) or at 1 / e_max (max-elr-warmup: no layer
      // rotates by more than 1 rad).
      double e_min = 0, e_max = 0;
      if (e_extremes(layers, stats, flags, scheduled_lr, &e_min, &e_max)) {
        const double cap = 1.0 / (args.kind == LrControlKind::CriticalWarmup ? sqrt(e_min * e_max) : e_max);
        if (cap > 0) global = cap < scheduled_lr ? cap : scheduled_lr;
      }
      for (int i = 0; i < layers; ++i) lrs[i] = global;
      break;
    }
    case LrControlKind::UniformElr: {
      if (*reference_elr <= 0) {
        int m = 0;
        for (int i = 0; i < layers; ++i) m += rotates(stats[i], flags[i]);
        if (m > 0)
          *reference_elr = args.base_lr * (args.reference_min_e ? min_e(layers, stats, flags)
                                                                : median_e(layers, stats, flags, m));
      }
      const double elr_target = uniform_elr_target(*reference_elr, step, args.elr_growth, args.elr_floor) *
                                (scheduled_lr / args.base_lr);
      for (int i = 0; i < layers; ++i)
        if (rotates(stats[i], flags[i])) lrs[i] = elr_target / layer_e(stats[i]);
      break;
    }
    case LrControlKind::Lars: {
      for (int i = 0; i < layers; ++i) {
        const TensorStats& s = stats[i];
        if ((flags[i] & kLayerLarsWeight) && s.g2 > 0 && s.w2 > 0)
          lrs[i] = scheduled_lr * args.lars_trust * sqrt(s.w2 / s.g2);
      }
      break;
    }
  }
  if (args.affine_lr_scale != 1.0)
    for (int i = 0; i < layers; ++i)
      if (flags[i] & kLayerAffine) lrs[i] *= args.affine_lr_scale;
  return global;
}

}  // namespace elr::kernels
