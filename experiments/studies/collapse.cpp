#include "experiments/studies/collapse.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace elr {

namespace {

// The residual sum of squares of the best power for this scale (log kappa is linear in the power).
struct ScaleFit {
  double power = 0, rss = 0;
};

ScaleFit fit_power(const std::vector<double>& e, const std::vector<double>& log_kappa, double scale) {
  double sxx = 0, sxy = 0, syy = 0;
  for (size_t i = 0; i < e.size(); ++i) {
    const double r = e[i] / scale;
    const double x = -0.5 * std::log1p(r * r);
    sxx += x * x;
    sxy += x * log_kappa[i];
    syy += log_kappa[i] * log_kappa[i];
  }
  ScaleFit f;
  f.power = sxx > 0 ? sxy / sxx : 0.0;
  f.rss = syy - f.power * sxy;
  return f;
}

// Golden-section search for the minimum of f on [a, b] (f unimodal there).
template <class F>
double golden_minimum(F&& f, double a, double b, int iterations = 60) {
  const double k = (std::sqrt(5.0) - 1) / 2;
  double c = b - k * (b - a), d = a + k * (b - a);
  double fc = f(c), fd = f(d);
  for (int i = 0; i < iterations; ++i) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - k * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + k * (b - a);
      fd = f(d);
    }
  }
  return (a + b) / 2;
}

}  // namespace

double CollapseLaw::kappa(double elr) const {
  if (power == 0) return 1.0;
  const double r = elr / scale;
  return std::pow(1.0 + r * r, -power / 2);
}

double one_step_elr(double u, const CollapseLaw& law) { return law.kappa(u) * u / (1.0 + u * u); }

double one_step_spread(const std::vector<double>& e, double lr, const CollapseLaw& law) {
  double lo = 0, hi = 0;
  bool any = false;
  for (double el : e) {
    if (!(el > 0)) continue;
    const double v = one_step_elr(lr * el, law);
    lo = any ? std::min(lo, v) : v;
    hi = any ? std::max(hi, v) : v;
    any = true;
  }
  return any && lo > 0 ? hi / lo : std::nan("");
}

double one_step_spread_minimum(const std::vector<double>& e, const CollapseLaw& law, double lo, double hi) {
  ELR_CHECK(lo > 0 && hi > lo, "one_step_spread_minimum: bad lr range [{}, {}]", lo, hi);
  const double step = std::log(2.0) / 64;
  const int n = static_cast<int>(std::ceil(std::log(hi / lo) / step));
  double best_log = std::log(lo), best = INFINITY;
  for (int k = 0; k <= n; ++k) {
    const double log_lr = std::log(lo) + k * step;
    const double s = one_step_spread(e, std::exp(log_lr), law);
    if (s < best) {
      best = s;
      best_log = log_lr;
    }
  }
  const double a = std::max(std::log(lo), best_log - step), b = std::min(std::log(hi), best_log + step);
  return std::exp(golden_minimum([&](double x) { return one_step_spread(e, std::exp(x), law); }, a, b));
}

CollapseFit fit_collapse(const std::vector<double>& elr, const std::vector<double>& kappa) {
  ELR_CHECK(elr.size() == kappa.size(), "fit_collapse: {} ELRs but {} kappas", elr.size(), kappa.size());
  std::vector<double> e, y;
  for (size_t i = 0; i < elr.size(); ++i)
    if (elr[i] > 0 && kappa[i] > 0 && std::isfinite(elr[i]) && std::isfinite(kappa[i])) {
      e.push_back(elr[i]);
      y.push_back(std::log(kappa[i]));
    }
  if (e.size() < 2) throw UserError(fmt::format("kappa fit: {} usable points (E > 0, kappa > 0); need 2", e.size()));
  const auto [emin, emax] = std::minmax_element(e.begin(), e.end());
  // Scales from far below to far above the measured ELRs, 2^(1/16) apart, then refined.
  const double lo = std::log(*emin / 1000), hi = std::log(*emax * 1000), step = std::log(2.0) / 16;
  double best_log = lo, best = INFINITY;
  for (double s = lo; s <= hi; s += step) {
    const double rss = fit_power(e, y, std::exp(s)).rss;
    if (rss < best) {
      best = rss;
      best_log = s;
    }
  }
  const double scale =
      std::exp(golden_minimum([&](double s) { return fit_power(e, y, std::exp(s)).rss; }, best_log - step,
                              best_log + step));
  const ScaleFit f = fit_power(e, y, scale);
  CollapseFit out;
  out.law.scale = scale;
  out.law.power = f.power;
  out.points = static_cast<int>(e.size());
  out.rms_log10 = std::sqrt(std::max(0.0, f.rss) / e.size()) / std::log(10.0);
  return out;
}

}  // namespace elr
