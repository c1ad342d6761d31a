// `elrscope train`: one training run on a BN network with per-layer statistics every step, written
// to a run directory (docs/outputs.md).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "experiments/run/train_config.h"
#include "optim/layer_stats.h"

namespace elr {

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
  std::string divergence;      // what was non-finite, and where
  double seconds = 0;
  double steps_per_second = 0;
  std::string step_mode;       // "cpu", "cuda graph" or "cuda eager"
  std::string cuda_graph_note; // why a CUDA run has no graph ("" when it has one)
};

// Called after every step with that step's statistics (before they are written). On a CUDA device
// the statistics reach the host every few steps, so the calls come in bursts, in step order.
using StepHook = std::function<void(int64_t step, double loss, const std::vector<LayerStats>& layers)>;

TrainResult train(const TrainConfig& config, const StepHook& hook = nullptr);

class DataLoader;
// Runs `batches` batches of `loader` through the model in training mode without updates (--bn-
// recalibrate), so that the BN running statistics, exponential averages with momentum 0.1, become
// those of the current weights: the statistics from before weigh 0.9^batches afterwards.
void recalibrate_batch_norm(Module& model, DataLoader& loader, int64_t batches, Device device);

}  // namespace elr
