// Training checkpoints in safetensors: parameters and BN running statistics under their
// state_dict names, momentum buffers under "optimizer.momentum.<name>", and the rest of the state
// (step, data position, controller state, config) in the metadata. Written atomically, so the last
// good checkpoint survives a failed write. The metadata "checksum" (FNV-1a, 64 bits, in hex) covers
// the data section (every tensor's bytes, in name order) and every other metadata entry.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/safetensors.h"
#include "experiments/run/train_config.h"
#include "layers/module.h"
#include "optim/sgd.h"

namespace elr {

// Everything besides tensors that an exact resume needs.
struct TrainState {
  int64_t next_step = 0;                  // the first step still to run
  int64_t data_epoch = 0, data_index = 0; // where the loader reads next
  int64_t correct = 0, seen = 0;          // running train-accuracy counts
  double reference_elr = 0;               // uniform-elr target, once fixed
  double last_loss = 0;                   // of step next_step - 1: the summary's final loss when none is left
};

constexpr const char* kCheckpointFile = "checkpoint.safetensors";

// The value of the metadata "checksum" for these tensors and metadata.
std::string checkpoint_checksum(const SafeTensorsFile& f);

void save_checkpoint(const std::string& path, Module& model, Sgd& sgd, const TrainState& state,
                     const nlohmann::json& config);
// Restores model and optimizer in place. UserError naming the file when it is damaged (checksum),
// does not hold exactly the model's tensors (a missing, extra or reshaped tensor, named), or, with
// `run`, was written under settings that differ from the run's in one that changes its numbers
// (named, with both values).
TrainState load_checkpoint(const std::string& path, Module& model, Sgd& sgd, const TrainConfig* run = nullptr);

}  // namespace elr
