// The one comparison of results with expected values, used by the kernel tests, the fixture tests
// and the validation of both benchmark suites.
//
// Elementwise |actual - expected| <= atol * sqrt(reduction length) + rtol * |expected|, plus a bound
// on the normalized MSE sum (a - e)^2 / sum e^2 of the whole tensor (tolerances.h). NaN never passes
// (an output poisoned before the run and never written stays NaN); an all-zero expected tensor
// fails unless the tolerance (or the op case) allows it, since it would hide any error.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "kernels/optable/tolerances.h"

namespace elr::kernels {

struct Closeness {
  bool ok = false;
  std::string problem;        // why it failed, when it did
  size_t count = 0;           // values compared
  double max_abs_diff = 0;    // the largest |a - e| and where it is (an element of `actual`)
  size_t max_abs_index = 0;
  double worst_fraction = 0;  // the largest |a - e| / threshold and where it is (1 = at the threshold)
  size_t worst_index = 0;
  double worst_actual = 0, worst_expected = 0;
  double nmse = 0;
  double max_rel_error = 0;   // max |a - e| / max |e| (the benchmarks' summary of a run)
};

// Pure (no test-framework assertions), so tests can check the checker. `index` empty: expected[i]
// is actual[i]; otherwise it is actual[index[i]] (a large case checks a subset of its output).
template <class A, class E>
Closeness evaluate_closeness(const std::vector<A>& actual, const std::vector<E>& expected, const Tolerance& tol,
                             int64_t reduction_length = 1, const std::vector<int64_t>& index = {}) {
  Closeness c;
  c.count = expected.size();
  const bool mapped = !index.empty();
  if (mapped ? index.size() != expected.size() : actual.size() != expected.size()) {
    c.problem = fmt::format("size mismatch: actual has {} values, expected {}", mapped ? index.size() : actual.size(),
                            expected.size());
    return c;
  }
  bool all_zero = true;
  const double atol = tol.atol * std::sqrt(static_cast<double>(std::max<int64_t>(reduction_length, 1)));
  double err2 = 0, ref2 = 0, max_ref = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const size_t at = mapped ? static_cast<size_t>(index[i]) : i;
    if (at >= actual.size()) {
      c.problem = fmt::format("index {} outside the {} actual values", at, actual.size());
      return c;
    }
    const double a = static_cast<double>(actual[at]), e = static_cast<double>(expected[i]);
    if (e != 0) all_zero = false;
    const double diff = std::abs(a - e);
    const double threshold = atol + tol.rtol * std::abs(e);
    double fraction;
    if (!(diff <= threshold)) {  // also catches NaN
      fraction = threshold > 0 && std::isfinite(diff) ? diff / threshold : std::numeric_limits<double>::infinity();
    } else {
      fraction = threshold > 0 ? diff / threshold : 0.0;
    }
    if (i == 0 || fraction > c.worst_fraction) c.worst_fraction = fraction, c.worst_index = at, c.worst_actual = a,
                                               c.worst_expected = e;
    if (i == 0 || diff > c.max_abs_diff || std::isnan(diff)) c.max_abs_diff = diff, c.max_abs_index = at;
    err2 += (a - e) * (a - e);
    ref2 += e * e;
    max_ref = std::max(max_ref, std::abs(e));
  }
  c.nmse = ref2 > 0 ? err2 / ref2 : (err2 > 0 ? std::numeric_limits<double>::infinity() : 0.0);
  c.max_rel_error = max_ref > 0 ? c.max_abs_diff / max_ref : c.max_abs_diff;
  if (std::isnan(c.max_rel_error)) c.max_rel_error = std::numeric_limits<double>::infinity();
  if (expected.empty() && !tol.allow_all_zero) {
    c.problem = "there are no expected values";
  } else if (all_zero && !tol.allow_all_zero) {
    c.problem = "the expected values are all zeros (they would hide any error)";
  } else if (!(c.worst_fraction <= 1.0)) {
    c.problem = fmt::format("value [{}] outside |a-e| <= atol + rtol*|e|", c.worst_index);
  } else if (!(c.nmse <= tol.nmse)) {
    c.problem = fmt::format("normalized MSE {:.3g} above {:.3g}", c.nmse, tol.nmse);
  }
  c.ok = c.problem.empty();
  return c;
}

// Flat index -> "[i, j, k]" when the shape is known.
std::string format_index(size_t flat, const std::vector<int64_t>& shape);

// One line on a comparison: the rule, the worst value against its threshold, the largest
// difference and the NMSE, and the problem when it failed.
std::string describe_closeness(const Closeness& c, const std::string& rule, const Tolerance& tol,
                               int64_t reduction_length, const std::vector<int64_t>& shape = {});

}  // namespace elr::kernels
