#include "layers/init.h"

#include <cmath>

#include "engine/error.h"
#include "engine/rng.h"

namespace elr::init {

namespace {
int64_t receptive_field(const Tensor& w) {
  int64_t r = 1;
  for (int i = 2; i < w.ndim(); ++i) r *= w.dim(i);
  return r;
}
}  // namespace

int64_t fan_in(const Tensor& w) {
  ELR_CHECK(w.ndim() >= 2, "fan_in: weight {} needs at least 2 dimensions", w.str());
  return w.dim(1) * receptive_field(w);
}

void kaiming_normal_fan_out(Tensor& w, uint64_t seed, uint64_t stream) {
  ELR_CHECK(w.ndim() >= 2, "kaiming_normal: weight {} needs at least 2 dimensions", w.str());
  const double stddev = std::sqrt(2.0 / static_cast<double>(w.dim(0) * receptive_field(w)));
  std::vector<float> v(static_cast<size_t>(w.numel()));
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<float>(stddev * philox_normal(seed, kStreamInit + stream, i));
  w.copy_from(Tensor::from_vector(w.shape(), v));
}

void uniform(Tensor& t, float bound, uint64_t seed, uint64_t stream) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = bound * (2.0f * u32_to_unit_float(philox_u32(seed, kStreamInit + stream, i)) - 1.0f);
  t.copy_from(Tensor::from_vector(t.shape(), v));
}

void constant(Tensor& t, float value) { t.copy_from(Tensor::full(t.shape(), value, Device::cpu())); }

}  // namespace elr::init
