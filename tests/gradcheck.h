// Finite-difference gradient checks in double with a random-weighted loss L = sum_i r_i * y_i
// (a plain sum of a BN output has zero gradient). Coordinates where the function has a kink
// (ReLU at 0, max-pool ties) are detected by one-sided differences that disagree, and skipped.
#pragma once
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace elr::testing {

inline std::vector<double> random_vector(size_t n, uint32_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

struct GradInput {
  std::string name;
  std::vector<double>* values;  // perturbed in place during the check, restored after
};

// forward(): computes the op's outputs (concatenated) from the current inputs.
// backward(dy): returns the analytic gradient of every input, in the order of `inputs`.
inline void check_gradients(const std::string& case_name, const std::vector<GradInput>& inputs,
                            const std::function<std::vector<double>()>& forward,
                            const std::function<std::vector<std::vector<double>>(const std::vector<double>&)>& backward,
                            double rtol = 1e-6, double atol = 1e-8, uint32_t seed = 7) {
  INFO(case_name);
  std::vector<double> y0 = forward();
  std::vector<double> r = random_vector(y0.size(), seed);
  auto loss = [&]() {
    std::vector<double> y = forward();
    double l = 0;
    for (size_t i = 0; i < y.size(); ++i) l += r[i] * y[i];
    return l;
  };
  std::vector<std::vector<double>> analytic = backward(r);
  REQUIRE(analytic.size() == inputs.size());
  const double h = 1e-6;
  for (size_t a = 0; a < inputs.size(); ++a) {
    std::vector<double>& x = *inputs[a].values;
    REQUIRE(analytic[a].size() == x.size());
    size_t checked = 0, skipped = 0;
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double x0 = x[i];
      const double l0 = loss();
      x[i] = x0 + h;
      const double lp = loss();
      x[i] = x0 - h;
      const double lm = loss();
      x[i] = x0;
      const double right = (lp - l0) / h, left = (l0 - lm) / h;
      if (std::abs(right - left) > 1e-3 * (std::abs(right) + std::abs(left)) + 1e-5) {
        ++skipped;  // a kink: the one-sided slopes disagree
        continue;
      }
      const double numeric = (lp - lm) / (2 * h);
      const double err = std::abs(numeric - analytic[a][i]);
      const double tol = atol + 1e-4 * std::abs(numeric) + rtol;
      worst = std::max(worst, err / tol);
      if (err > tol) {
        FAIL_CHECK(fmt::format("{}: d{}[{}] analytic {:.10g} numeric {:.10g} (|diff| {:.3g})", case_name,
                               inputs[a].name, i, analytic[a][i], numeric, err));
        return;
      }
      ++checked;
    }
    INFO(fmt::format("d{}: {} checked, {} kinks skipped, worst {:.2f} of tolerance", inputs[a].name, checked,
                     skipped, worst));
    CHECK(checked > skipped);
  }
}

}  // namespace elr::testing
