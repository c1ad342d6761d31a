#include "optim/layer_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/error.h"
#include "kernels/kernels.h"

namespace elr {

double LayerStats::e() const { return w2 > 0 ? std::sqrt(g2 / w2) : 0.0; }
double LayerStats::elr() const { return lr * e(); }
double LayerStats::elr_classic() const { return w2 > 0 ? lr / w2 : 0.0; }
double LayerStats::rel_update() const { return w2 > 0 ? std::sqrt(dw2 / w2) : 0.0; }
double LayerStats::base_grad() const { return std::sqrt(w2 * g2); }
double LayerStats::cosine() const { return (w2 > 0 && g2 > 0) ? gw / std::sqrt(w2 * g2) : 0.0; }

SpreadStats summarize_spread(const std::vector<LayerStats>& layers) {
  SpreadStats s;
  std::vector<double> elrs, es;
  for (const LayerStats& l : layers) {
    if (!l.scale_invariant) continue;
    const double elr = l.elr();
    if (elr > 0 && std::isfinite(elr)) {
      elrs.push_back(elr);
      es.push_back(l.e());
    } else {
      ++s.zero_layers;
    }
  }
  s.layers = static_cast<int>(elrs.size());
  if (elrs.empty()) {
    // No layer rotates at all (e.g. a dead net): a spread is undefined, not 0 (which would read as
    // "perfectly balanced").
    const double nan = std::numeric_limits<double>::quiet_NaN();
    s.spread = s.log10_std = s.first_last = s.critical_lr = nan;
    return s;
  }
  auto [mn, mx] = std::minmax_element(elrs.begin(), elrs.end());
  s.elr_min = *mn;
  s.elr_max = *mx;
  s.spread = *mx / *mn;
  s.first_last = elrs.front() / elrs.back();
  double mean = 0;
  for (double v : elrs) mean += std::log10(v);
  mean /= elrs.size();
  double var = 0;
  for (double v : elrs) var += (std::log10(v) - mean) * (std::log10(v) - mean);
  s.log10_std = std::sqrt(var / elrs.size());
  auto [emn, emx] = std::minmax_element(es.begin(), es.end());
  s.e_min = *emn;
  s.e_max = *emx;
  s.critical_lr = 1.0 / std::sqrt(s.e_min * s.e_max);
  return s;
}

LayerStats layer_stats_of(const Parameter& p, const kernels::TensorStats& sums) {
  LayerStats l;
  l.name = p.name;
  l.kind = p.kind;
  l.scale_invariant = p.scale_invariant;
  l.numel = p.value.numel();
  l.w2 = sums.w2;
  l.g2 = sums.g2;
  l.gw = sums.gw;
  l.v2 = sums.v2;
  return l;
}

std::vector<LayerStats> measure_layers(const std::vector<Parameter*>& params, const std::vector<Tensor>& momentum) {
  std::vector<LayerStats> out(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const Parameter& p = *params[i];
    ELR_CHECK(p.value.has_grad(), "layer statistics: parameter '{}' has no gradient (was backward run?)", p.name);
    const float* v = (i < momentum.size() && momentum[i].defined()) ? momentum[i].data() : nullptr;
    out[i] = layer_stats_of(p, kernels::tensor_stats_cpu(p.value.numel(), p.value.data(), p.value.grad().data(), v));
  }
  return out;
}

}  // namespace elr
