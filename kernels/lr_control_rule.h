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

}  // namespace lr_rule_detail

// Writes every layer's lr into lrs[layers] and returns the global lr (the scheduled lr, capped by
// the critical LR under critical-warmup). stats: |W|^2 and |g|^2 per layer (gw, v2 unused);
// flags: kLayerScaleInvariant, kLayerLarsWeight, kLayerAffine per layer; scheduled_lr: this step's
// scheduled_lr(schedule, step); base_lr: schedule.lr; reference_elr: in/out, the uniform-elr
// target at schedule factor 1, set from this step's median e when it is <= 0; affine_lr_scale:
// the kLayerAffine tensors' lr is multiplied by it after the kind has decided (1: unchanged).
ELR_HOST_DEVICE inline double lr_control_rule(int layers, const TensorStats* stats, const uint8_t* flags,
                                              LrControlKind kind, double scheduled_lr, double base_lr,
                                              double lars_trust, double affine_lr_scale, double* reference_elr,
                                              double* lrs) {
  using namespace lr_rule_detail;
  double global = scheduled_lr;
  for (int i = 0; i < layers; ++i) lrs[i] = scheduled_lr;
  switch (kind) {
    case LrControlKind::None:
      break;
    case LrControlKind::CriticalWarmup: {
      // 1 / sqrt(e_min e_max) over the scale-invariant layers with a positive, finite ELR at the
      // scheduled lr (summarize_spread's critical_lr).
      int counted = 0;
      double e_min = 0, e_max = 0;
      for (int i = 0; i < layers; ++i) {
        if (!(flags[i] & kLayerScaleInvariant)) continue;
        const double e = layer_e(stats[i]), elr = scheduled_lr * e;
        if (!(elr > 0 && is_finite(elr))) continue;
        if (counted == 0 || e < e_min) e_min = e;
        if (counted == 0 || e > e_max) e_max = e;
        ++counted;
      }
      if (counted > 0) {
        const double critical = 1.0 / sqrt(e_min * e_max);
        if (critical > 0) global = critical < scheduled_lr ? critical : scheduled_lr;
      }
      for (int i = 0; i < layers; ++i) lrs[i] = global;
      break;
    }
    case LrControlKind::UniformElr: {
      if (*reference_elr <= 0) {
        int m = 0;
        for (int i = 0; i < layers; ++i) m += rotates(stats[i], flags[i]);
        if (m > 0) *reference_elr = base_lr * median_e(layers, stats, flags, m);
      }
      const double elr_target = *reference_elr * (scheduled_lr / base_lr);
      for (int i = 0; i < layers; ++i)
        if (rotates(stats[i], flags[i])) lrs[i] = elr_target / layer_e(stats[i]);
      break;
    }
    case LrControlKind::Lars: {
      for (int i = 0; i < layers; ++i) {
        const TensorStats& s = stats[i];
        if ((flags[i] & kLayerLarsWeight) && s.g2 > 0 && s.w2 > 0)
          lrs[i] = scheduled_lr * lars_trust * sqrt(s.w2 / s.g2);
      }
      break;
    }
  }
  if (affine_lr_scale != 1.0)
    for (int i = 0; i < layers; ++i)
      if (flags[i] & kLayerAffine) lrs[i] *= affine_lr_scale;
  return global;
}

}  // namespace elr::kernels
