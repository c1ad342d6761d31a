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

#include "kernels/optable/op_case.h"

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

// Checks a backward case of the op-case table (its CPU kernel in double) against finite differences
// of its forward case, pairing tensors by name: each backward output "dX" is the gradient of the
// forward input "X", each backward input "dY" the loss weight of the forward output "Y", and the
// other backward inputs are forward inputs or outputs of the same name.
inline void check_case_gradients(const kernels::OpCase& backward) {
  using kernels::Values;
  const std::unique_ptr<kernels::OpCase> forward = backward.forward();
  REQUIRE(forward);
  const std::vector<kernels::TensorSpec> fspecs = forward->tensors(), bspecs = backward.tensors();
  auto find = [](const std::vector<kernels::TensorSpec>& specs, const std::string& name, bool written) {
    for (size_t i = 0; i < specs.size(); ++i)
      if (specs[i].name == name && specs[i].written() == written) return int(i);
    return -1;
  };
  std::vector<Values> inputs = forward->make_inputs();
  std::vector<GradInput> wrt;     // the forward inputs the backward differentiates
  std::vector<int> grad_outputs;  // ... and the backward outputs holding their gradients
  for (size_t i = 0; i < bspecs.size(); ++i) {
    const int x = bspecs[i].written() ? find(fspecs, bspecs[i].name.substr(1), false) : -1;
    if (bspecs[i].written() && bspecs[i].name[0] == 'd' && x >= 0) {
      wrt.push_back({fspecs[x].name, &inputs[x]});
      grad_outputs.push_back(int(i));
    }
  }
  std::vector<int> loss_outputs;  // forward outputs weighted by r, in the order of the backward's inputs
  for (const kernels::TensorSpec& b : bspecs) {
    const int y = !b.written() && b.name[0] == 'd' ? find(fspecs, b.name.substr(1), true) : -1;
    if (y >= 0) loss_outputs.push_back(y);
  }
  INFO(backward.id() << " against " << forward->kernel());
  REQUIRE(!wrt.empty());
  REQUIRE(!loss_outputs.empty());

  auto run_forward = [&] { return kernels::run_on_host(*forward, kernels::run_cpu_double, inputs, true); };
  auto loss_terms = [&] {
    const std::vector<Values> out = run_forward();
    std::vector<double> y;
    for (int i : loss_outputs) y.insert(y.end(), out[i].begin(), out[i].end());
    return y;
  };
  auto gradients = [&](const std::vector<double>& r) {
    const std::vector<Values> out = run_forward();
    std::vector<Values> binputs(bspecs.size());
    size_t used = 0;  // of r, handed out to the loss outputs in order
    for (size_t i = 0; i < bspecs.size(); ++i) {
      if (bspecs[i].written()) continue;
      const std::string& name = bspecs[i].name;
      const int as_input = find(fspecs, name, false), as_output = find(fspecs, name, true);
      const int weighted = name[0] == 'd' ? find(fspecs, name.substr(1), true) : -1;
      if (as_input >= 0) {
        binputs[i] = inputs[as_input];
      } else if (as_output >= 0) {
        binputs[i] = out[as_output];
      } else {
        REQUIRE(weighted >= 0);
        binputs[i].assign(r.begin() + long(used), r.begin() + long(used + out[weighted].size()));
        used += out[weighted].size();
      }
    }
    const std::vector<Values> grads = kernels::run_on_host(backward, kernels::run_cpu_double, binputs, true);
    std::vector<std::vector<double>> result;
    for (int i : grad_outputs) result.push_back(grads[i]);
    return result;
  };
  check_gradients(backward.id(), wrt, loss_terms, gradients);
}

}  // namespace elr::testing
