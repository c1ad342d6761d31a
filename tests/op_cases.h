// The op-case table: the shapes every op is tested at. Gradient checks (double, CPU), parity tests
// (fast path vs oracle, later CUDA vs CPU) and benchmarks all draw from it. Every case has a name
// that can be pasted into a Catch2 filter to rerun it alone.
#pragma once
#include <fmt/format.h>

#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace elr::testing {

inline std::string case_name(const kernels::Conv2dShape& s) {
  return fmt::format("conv2d(n={},c={},h={},w={},k={},r={},s={},stride={},pad={})", s.n, s.c, s.h, s.w, s.k, s.r,
                     s.s, s.stride, s.pad);
}
inline std::string case_name(const kernels::BatchNormShape& s) {
  return fmt::format("batchnorm(n={},c={},hw={})", s.n, s.c, s.hw);
}
inline std::string case_name(const kernels::LinearShape& s) {
  return fmt::format("linear(n={},in={},out={})", s.n, s.in, s.out);
}
inline std::string case_name(const kernels::PoolShape& s) {
  return fmt::format("pool(n={},c={},h={},w={})", s.n, s.c, s.h, s.w);
}
inline std::string case_name(const kernels::CrossEntropyShape& s) {
  return fmt::format("cross_entropy(n={},classes={})", s.n, s.classes);
}

// Small enough for finite differences in double; covering 3x3 and 1x1, stride 1 and 2, padding,
// C = 1, odd H and W.
inline std::vector<kernels::Conv2dShape> conv_cases() {
  using S = kernels::Conv2dShape;
  return {
      S{2, 3, 5, 5, 4, 3, 3, 1, 1},  S{1, 1, 7, 6, 2, 3, 3, 1, 1},  S{2, 2, 7, 7, 3, 3, 3, 2, 1},
      S{2, 4, 6, 5, 3, 1, 1, 1, 0},  S{2, 3, 7, 9, 2, 1, 1, 2, 0},  S{1, 2, 5, 5, 2, 3, 3, 1, 0},
      S{3, 2, 4, 4, 5, 3, 3, 2, 1},  S{1, 5, 3, 3, 1, 3, 3, 1, 1},
  };
}
inline std::vector<kernels::BatchNormShape> batchnorm_cases() {
  using S = kernels::BatchNormShape;
  return {S{4, 3, 5}, S{2, 1, 9}, S{3, 5, 1}, S{1, 2, 7}, S{5, 4, 3}};
}
inline std::vector<kernels::LinearShape> linear_cases() {
  using S = kernels::LinearShape;
  return {S{3, 5, 4}, S{1, 1, 1}, S{4, 7, 10}, S{2, 16, 3}};
}
inline std::vector<kernels::PoolShape> pool_cases() {
  using S = kernels::PoolShape;
  return {S{2, 3, 4, 4}, S{1, 1, 5, 7}, S{2, 2, 6, 3}, S{1, 4, 1, 2}};
}
inline std::vector<kernels::CrossEntropyShape> cross_entropy_cases() {
  using S = kernels::CrossEntropyShape;
  return {S{4, 3}, S{1, 10}, S{7, 2}, S{5, 1}};
}

}  // namespace elr::testing
