// Training checkpoints in safetensors: parameters and BN running statistics under their
// state_dict names, momentum buffers under "optimizer.momentum.<name>", and the rest of the state
// (step, data position, controller state, config) in the metadata. Written atomically.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "layers/module.h"
#include "optim/sgd.h"

namespace elr {

// Everything besides tensors that an exact resume needs.
struct TrainState {
  int64_t next_step = 0;                  // the first step still to run
  int64_t data_epoch = 0, data_index = 0; // where the loader reads next
  int64_t correct = 0, seen = 0;          // running train-accuracy counts
  double reference_elr = 0;               // uniform-elr target, once fixed
};

constexpr const char* kCheckpointFile = "checkpoint.safetensors";

void save_checkpoint(const std::string& path, Module& model, Sgd& sgd, const TrainState& state,
                     const nlohmann::json& config);
// Restores model and optimizer in place; UserError naming the file when it is corrupt or does not
// match the model (missing tensor, wrong shape).
TrainState load_checkpoint(const std::string& path, Module& model, Sgd& sgd);

}  // namespace elr
