#include "kernels/optable/random.h"

#include <random>

namespace elr::kernels {

std::vector<float> random_floats(int64_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(gen);
  return v;
}

std::vector<int32_t> random_labels(int n, int classes, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int32_t> dist(0, classes - 1);
  std::vector<int32_t> v(n);
  for (int32_t& l : v) l = dist(gen);
  return v;
}

Values random_values(int64_t n, uint32_t seed, float lo, float hi) {
  const std::vector<float> v = random_floats(n, seed, lo, hi);
  return Values(v.begin(), v.end());
}

}  // namespace elr::kernels
