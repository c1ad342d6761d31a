// Data-parallel training on the host: each rank runs the step on its share of the global batch, then
// the ranks average their gradients before the statistics, so the per-layer statistics, the LR
// control and the update see the gradient of the whole batch and every rank takes the same step.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/comm.h"
#include "layers/module.h"
#include "optim/batch.h"

namespace elr {

// Rank `rank`'s share of a global batch of `ranks` equal shares: its images and labels, in order
// (the 1-process run's data order, split).
Batch rank_share(const Batch& global, int rank, int ranks);

// Replaces every parameter's gradient with its mean over the ranks, `loss` with the mean of the
// ranks' losses (their shares are equal) and `correct` with the sum of their counts: one sum over
// the ranks in double, in rank order (the same bits on every rank and in every run).
void average_over_ranks(Communicator& ranks, const std::vector<Parameter*>& params, double& loss, int64_t& correct);

}  // namespace elr
