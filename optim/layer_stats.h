// Per-layer statistics, measured every step before the update, and the ELR summaries derived from
// them (docs/outputs.md defines every quantity).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "layers/module.h"

namespace elr {

struct LayerStats {
  std::string name;
  ParamKind kind = ParamKind::Conv;
  bool scale_invariant = false;
  int64_t numel = 0;
  double w2 = 0, g2 = 0, gw = 0, v2 = 0;  // before the update; v is the momentum buffer
  double dw2 = 0;                         // the applied update |dW|^2
  double lr = 0;                          // this layer's learning rate at this step

  double e() const;           // |g| / |W| (ELR per unit LR); 0 when |W| = 0
  double elr() const;         // lr |g| / |W| (definition B, primary)
  double elr_classic() const; // lr / |W|^2 (definition A)
  double rel_update() const;  // |dW| / |W|
  double base_grad() const;   // |g| |W|: the gradient at unit weight norm, c of docs/science.md
  double cosine() const;      // <g, W> / (|g| |W|): ~0 for scale-invariant layers
};

// Spread of the ELR over the scale-invariant layers (layers with ELR = 0 are left out and counted;
// when none is left, spread, log10_std, first_last and critical_lr are NaN).
struct SpreadStats {
  int layers = 0;            // scale-invariant layers with ELR > 0
  int zero_layers = 0;       // scale-invariant layers with ELR = 0
  double elr_min = 0, elr_max = 0;
  double spread = 0;         // max / min
  double log10_std = 0;      // standard deviation of log10 ELR
  double first_last = 0;     // ELR of the first / ELR of the last scale-invariant layer
  double e_min = 0, e_max = 0;
  double critical_lr = 0;    // 1 / sqrt(e_max e_min)
};

SpreadStats summarize_spread(const std::vector<LayerStats>& layers);

// A parameter's identity (name, kind, scale invariance, size) with its sums |W|^2, |g|^2, <g, W>,
// |v|^2; dw2 and lr are left for the update to fill.
LayerStats layer_stats_of(const Parameter& p, const kernels::TensorStats& sums);

// |W|^2, |g|^2, <g, W>, |v|^2 for every parameter (momentum buffers may be undefined).
std::vector<LayerStats> measure_layers(const std::vector<Parameter*>& params, const std::vector<Tensor>& momentum);

}  // namespace elr
