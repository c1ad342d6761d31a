// One training batch as the step consumes it: images and labels on the host, and where in the
// data they came from (for the step's record and for checkpoints).
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace elr {

struct Batch {
  Tensor images;  // f32 [B, C, H, W] on the cpu, normalized
  Tensor labels;  // i32 [B]
  int64_t epoch = 0, index_in_epoch = 0;
};

}  // namespace elr
