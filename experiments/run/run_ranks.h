// A training run over several ranks (docs/scale.md): what every rank must agree on before the first
// step (a global batch that splits into equal shares, the same settings, the world size of the run
// being resumed), and the one stop that every rank takes at the same step.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/comm.h"
#include "experiments/run/train_config.h"

namespace elr {

// UserError naming the option when the run cannot be spread over `ranks` ranks: a global --batch that
// does not split into equal shares (or, with per-rank batch norm, into shares of at least 2 images),
// --bn-groups that do not divide a share, a CUDA device other than each rank's own.
void check_rank_layout(const TrainConfig& cfg, int ranks);

// A 64-bit hash (FNV-1a) of the settings as config.json writes them.
uint64_t settings_hash(const TrainConfig& cfg);

// Every rank compares its settings' hash with rank 0's: on a difference rank 0 throws UserError
// naming the rank, and the other ranks OtherRankFailed.
void check_same_settings(Communicator& ranks, const TrainConfig& cfg);

// UserError when the run in `dir` (its config.json: `config`) ran on another number of ranks than
// `ranks`: per-rank batch norm statistics and the order of the gradient sums depend on it.
void check_resume_world_size(const nlohmann::json& config, const std::string& dir, int ranks);

// The signal that stops the run at this step on every rank: the first rank's (in rank order) that
// received SIGINT or SIGTERM, 0 while none has.
int agreed_stop_signal(Communicator& ranks, int local_signal);

}  // namespace elr
