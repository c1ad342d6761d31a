// The intervals of the trainability study: t-based 95% intervals of a mean and Welch's interval of a
// difference of two means, with Student's t quantile from the regularized incomplete beta function.
#include <cmath>

#include "engine/error.h"
#include "experiments/studies/trainability.h"

namespace elr {

namespace {

// The regularized incomplete beta function I_x(a, b), by its continued fraction (modified Lentz),
// used where it converges fast (x < (a + 1) / (a + b + 2)) and through I_x(a, b) = 1 - I_{1-x}(b, a)
// elsewhere.
double incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  if (x > (a + 1) / (a + b + 2)) return 1 - incomplete_beta(b, a, 1 - x);
  const double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) +
                                b * std::log1p(-x)) / a;
  const double tiny = 1e-300;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  d = 1 / (std::abs(d) < tiny ? tiny : d);
  double f = d;
  for (int m = 1; m <= 300; ++m) {
    for (int half = 0; half < 2; ++half) {
      const double num = half == 0 ? m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
                                   : -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
      d = 1 + num * d;
      d = 1 / (std::abs(d) < tiny ? tiny : d);
      c = 1 + num / c;
      if (std::abs(c) < tiny) c = tiny;
      f *= c * d;
      if (half == 1 && std::abs(c * d - 1) < 1e-15) return front * f;
    }
  }
  return front * f;
}

// P(T <= t) for Student's t with df degrees of freedom.
double student_t_cdf(double t, double df) {
  const double tail = 0.5 * incomplete_beta(df / 2, 0.5, df / (df + t * t));
  return t >= 0 ? 1 - tail : tail;
}

double sample_mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double sample_variance(const std::vector<double>& v, double mean) {
  double s = 0;
  for (double x : v) s += (x - mean) * (x - mean);
  return s / static_cast<double>(v.size() - 1);
}

std::vector<double> finite_values(const std::vector<double>& values) {
  std::vector<double> out;
  for (double v : values)
    if (std::isfinite(v)) out.push_back(v);
  return out;
}

}  // namespace

double student_t_quantile(double p, double df) {
  ELR_CHECK(p > 0 && p < 1 && df > 0, "student_t_quantile: p = {} must be in (0, 1) and df = {} positive", p, df);
  if (p < 0.5) return -student_t_quantile(1 - p, df);
  double low = 0, high = 1;
  while (student_t_cdf(high, df) < p) high *= 2;
  for (int i = 0; i < 200 && high - low > 1e-13 * high; ++i) {
    const double mid = 0.5 * (low + high);
    (student_t_cdf(mid, df) < p ? low : high) = mid;
  }
  return 0.5 * (low + high);
}

Interval mean_interval(const std::vector<double>& values) {
  const std::vector<double> v = finite_values(values);
  Interval r;
  r.n = static_cast<int64_t>(v.size());
  if (v.empty()) return r;
  r.mean = sample_mean(v);
  if (v.size() < 2) return r;
  const double half = student_t_quantile(0.975, static_cast<double>(v.size() - 1)) *
                      std::sqrt(sample_variance(v, r.mean) / static_cast<double>(v.size()));
  r.low = r.mean - half;
  r.high = r.mean + half;
  return r;
}

Interval difference_interval(const std::vector<double>& a_values, const std::vector<double>& b_values) {
  const std::vector<double> a = finite_values(a_values), b = finite_values(b_values);
  Interval r;
  r.n = static_cast<int64_t>(std::min(a.size(), b.size()));
  if (a.empty() || b.empty()) return r;
  const double ma = sample_mean(a), mb = sample_mean(b);
  r.mean = ma - mb;
  if (a.size() < 2 || b.size() < 2) return r;
  const double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  const double qa = sample_variance(a, ma) / na, qb = sample_variance(b, mb) / nb;
  const double se = std::sqrt(qa + qb);
  if (se == 0) {  // every run of both settings gave the same value
    r.low = r.high = r.mean;
    return r;
  }
  const double df = (qa + qb) * (qa + qb) / (qa * qa / (na - 1) + qb * qb / (nb - 1));
  const double half = student_t_quantile(0.975, df) * se;
  r.low = r.mean - half;
  r.high = r.mean + half;
  return r;
}

}  // namespace elr
