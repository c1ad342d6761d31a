// Every tolerance results are compared with, in one table, looked up by tensor name: the fixture
// tests name tensors "<op>.case<i>.<output>" (tests/fixtures), the op-case table
// "<op>.<case name>.<output>" (OpCase::tolerance_key), so one rule serves both.
//
// A value passes when |actual - expected| <= atol * sqrt(reduction length) + rtol * |expected|
// (the caller passes the length of the sum behind each output: fp32 rounding grows with it), and
// the whole tensor passes when it also keeps sum (a - e)^2 / sum e^2 <= nmse (check.h).
//
// Rules are glob patterns ('*' matches any run of characters, dots included); the FIRST match
// wins, so specific rules come before general ones and the last rule "*" is the default. The
// training bounds are about 10-100x the drift measured between float32 and float64 runs of the
// same fixtures (`gen_fixtures.py --drift`): final weights drift up to ~1e-6, losses ~1e-7
// relative, per-layer |g|^2 ~2e-6 relative.
#pragma once
#include <string>
#include <vector>

namespace elr::kernels {

struct Tolerance {
  double atol = 1e-6;   // per unit of sqrt(reduction length)
  double rtol = 1e-5;
  double nmse = 1e-10;  // normalized mean squared error bound for the whole tensor
  bool allow_all_zero = false;  // an all-zero expected tensor is otherwise a fixture bug
};

struct ToleranceRule {
  const char* pattern;
  Tolerance tol;
};

inline const std::vector<ToleranceRule>& tolerance_rules() {
  static const std::vector<ToleranceRule> rules = {
      // Initial values are inputs copied into a model: they must round-trip exactly (BN biases and
      // running means start at zero).
      {"init.*", {0.0, 0.0, 0.0, true}},
      // Pure selections: no arithmetic, so no rounding.
      {"relu.*", {0.0, 0.0, 0.0}},
      {"maxpool2d.*", {0.0, 0.0, 0.0}},
      // Overlapping windows: an input's gradient adds up to four outputs' (fp32 rounding).
      {"maxpool3x3s2.*.dx", {1e-6, 1e-6, 1e-12}},
      {"maxpool3x3s2.*", {0.0, 0.0, 0.0}},
      // Sums of squares in double of identical fp32 inputs; only summation order differs, which over
      // the millions of values of a benchmarked net moves them by ~1e-12 relative.
      {"tensor_stats.*", {0.0, 1e-10, 1e-18}},
      // |update|^2 in the fixture is measured as the fp32 weight difference: a few ulps of w.
      {"sgd.*.update2_*", {0.0, 3e-5, 1e-9}},
      {"sgd.*", {1e-7, 1e-6, 1e-12}},
      // BN backward subtracts two reductions of similar size; the batch variance cancels too, and
      // with two values per channel dx is almost all cancellation (~1e-4 relative in fp32).
      {"batchnorm_train.*.dx", {1e-6, 2e-5, 1e-8}},
      {"batchnorm_train.*.running_var", {1e-6, 1e-5, 1e-10}},
      {"batchnorm_*", {1e-6, 1e-5, 1e-10}},
      // An fp32 sum of K products drifts by up to ~u*K (its partial sums grow along the way): at the
      // benchmarks' K = 9 * 512, inputs in [-1, 1], that reaches about a fifth of this bound.
      {"conv2d.*", {1e-5, 1e-5, 1e-10}},
      {"linear.*", {1e-5, 1e-5, 1e-10}},
      {"global_avgpool.*", {1e-7, 1e-6, 1e-12}},
      {"cross_entropy.*", {1e-7, 1e-5, 1e-10}},
      // Training runs (train_tiny.bin, train_plain6.bin): errors compound over the steps.
      {"step*.loss", {1e-6, 1e-5, 1e-10}},
      {"step0.grad.*", {1e-6, 1e-4, 1e-8}},
      {"step*.layers.*.w2", {0.0, 1e-5, 1e-10}},
      {"step*.layers.*.g2", {0.0, 1e-4, 1e-8}},
      {"step*.layers.*.elr", {0.0, 1e-4, 1e-8}},
      {"final.*", {1e-5, 1e-4, 1e-8}},
      {"*", {1e-6, 1e-5, 1e-10}},
  };
  return rules;
}

// Glob match with '*' only; iterative with one backtrack point, which is enough for '*'.
inline bool glob_match(const std::string& pattern, const std::string& text) {
  size_t p = 0, t = 0, star = std::string::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

inline const ToleranceRule& tolerance_rule_for(const std::string& name) {
  for (const ToleranceRule& rule : tolerance_rules())
    if (glob_match(rule.pattern, name)) return rule;
  return tolerance_rules().back();  // unreachable while the table ends with "*"
}

}  // namespace elr::kernels
