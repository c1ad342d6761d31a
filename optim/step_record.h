// What one training step leaves behind for the logs: its loss, how many images it got right, the
// global learning rate and every layer's statistics (taken before the update).
#pragma once
#include <cstdint>
#include <vector>

#include "optim/layer_stats.h"

namespace elr {

struct StepRecord {
  int64_t step = 0;
  int64_t epoch = 0;
  int64_t batch_size = 0;
  double loss = 0;
  int64_t correct = 0;
  double global_lr = 0;
  std::vector<LayerStats> layers;
};

}  // namespace elr
