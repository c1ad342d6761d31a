// Seeded inputs: the op cases' and the benchmarks' (the same seed gives the same values everywhere).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/optable/op_case.h"

namespace elr::kernels {

// Uniform floats in [lo, hi) from std::mt19937 seeded with `seed`.
std::vector<float> random_floats(int64_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f);
// Uniform labels in [0, classes).
std::vector<int32_t> random_labels(int n, int classes, uint32_t seed);
// random_floats widened, for an op case's inputs.
Values random_values(int64_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f);

}  // namespace elr::kernels
