// Parameter initialization matching torch.nn.init in distribution (the draws come from Philox, so
// they are reproducible on any device; values themselves differ from PyTorch's generator).
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace elr::init {

// kaiming_normal_(mode='fan_out', nonlinearity='relu'): N(0, 2 / fan_out), fan_out = dim0 * receptive field.
void kaiming_normal_fan_out(Tensor& w, uint64_t seed, uint64_t stream);
// U(-bound, bound).
void uniform(Tensor& t, float bound, uint64_t seed, uint64_t stream);
// fan_in of a weight [out, in, ...] = in * receptive field.
int64_t fan_in(const Tensor& w);
void constant(Tensor& t, float value);

}  // namespace elr::init
