// `elrscope train`: one training run on a BN network with per-layer statistics every step, written
// to a run directory (docs/outputs.md).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "experiments/data/dataset.h"
#include "experiments/run/train_config.h"
#include "optim/layer_stats.h"

namespace elr {

// What a run trains on and with, for train() and for studies that continue a run's state from one
// of its checkpoints: its training set, its model's settings (the data set's image shape and
// classes filled in), and whether its batches are augmented.
Dataset load_training_set(const TrainConfig& c);
ModelConfig run_model_config(const TrainConfig& c, const Dataset& train);
bool run_augments(const TrainConfig& c);

// True for steps that are written to metrics.jsonl and layers.csv.
bool is_logged_step(int64_t step, int64_t log_every, int64_t total_steps);

struct TrainResult {
  std::string run_dir;
  int64_t steps = 0;
  double final_loss = 0;
  double train_accuracy = 0;   // mean batch accuracy over the run
  double test_accuracy = -1;   // -1 when not evaluated
  bool diverged = false;
  int64_t diverged_step = -1;
  std::string divergence;      // what was non-finite or too large, and where
  int interrupted_by = 0;      // SIGINT or SIGTERM when one stopped the run (0: none)
  bool already_finished = false;  // --resume of a run that had ended: nothing was done or written
  int64_t first_step = 0;      // where this process began (> 0 when resumed)
  double seconds = 0;          // of this process's steps
  double steps_per_second = 0;
  std::string step_mode;       // "cpu", "cuda graph" or "cuda eager"
  std::string cuda_graph_note; // why a CUDA run has no graph ("" when it has one)
};

// Called after every step with that step's statistics (before they are written). On a CUDA device
// the statistics reach the host every few steps, so the calls come in bursts, in step order.
using StepHook = std::function<void(int64_t step, double loss, const std::vector<LayerStats>& layers)>;

// Runs `config` in its run directory (docs/outputs.md: how a run directory is claimed, locked,
// interrupted, resumed and extended). SIGINT and SIGTERM end it early with a checkpoint
// (interrupted_by); a failed write ends it with a WriteError that says what is left to resume.
TrainResult train(const TrainConfig& config, const StepHook& hook = nullptr);

class DataLoader;
// Runs `batches` batches of `loader` through the model in training mode without updates (--bn-
// recalibrate), so that the BN running statistics, exponential averages with momentum 0.1, become
// those of the current weights: the statistics from before weigh 0.9^batches afterwards.
void recalibrate_batch_norm(Module& model, DataLoader& loader, int64_t batches, Device device);

}  // namespace elr
