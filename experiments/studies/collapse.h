// The collapse of the base gradient (docs/science.md, "The collapse"): after a scale-invariant layer
// rotates by its ELR E in one step, its base gradient c = |g| |W| is multiplied by kappa(E), a law
// fitted on the one-step measurements of `elrscope critical`. The one-layer model of `elrscope ode`
// and the critical-LR predictions use it; power 0 is the constant-c model.
#pragma once
#include <vector>

namespace elr {

// kappa(E) = (1 + (E / scale)^2)^(-power / 2): 1 for E << scale, (scale / E)^power for E >> scale.
struct CollapseLaw {
  double scale = 1;
  double power = 0;  // 0: no collapse

  double kappa(double elr) const;
  bool active() const { return power != 0; }
};

// The model's ELR after one plain-SGD step (no momentum, no weight decay) at ELR u = lr e:
// |W|^2 grows by 1 + u^2 exactly, c by kappa(u), so ELR' = kappa(u) u / (1 + u^2).
double one_step_elr(double u, const CollapseLaw& law);
// max / min over the layers of one_step_elr(lr e_l): the spread after one step at lr.
double one_step_spread(const std::vector<double>& e, double lr, const CollapseLaw& law);
// The lr in [lo, hi] where one_step_spread is smallest: a 2^(1/64) grid, then golden-section
// refinement around the best grid point.
double one_step_spread_minimum(const std::vector<double>& e, const CollapseLaw& law, double lo, double hi);

// The law closest to the points (E_i, kappa_i) in log kappa (least squares), over the points with
// E > 0 and kappa > 0; at least 2 needed. rms_log10: the root-mean-square residual in log10 kappa.
struct CollapseFit {
  CollapseLaw law;
  int points = 0;
  double rms_log10 = 0;
};
CollapseFit fit_collapse(const std::vector<double>& elr, const std::vector<double>& kappa);

}  // namespace elr
