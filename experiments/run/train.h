// `elrscope train`: one training run on a BN network with per-layer statistics every step, written
// to a run directory (docs/outputs.md).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layers/models.h"
#include "optim/layer_stats.h"

namespace elr {

struct TrainConfig {
  ModelConfig model;
  std::string dataset = "fashion-mnist";  // fashion-mnist | cifar10 | cifar100 | synthetic
  std::string data_dir;                   // empty: the data set's default folder
  int64_t synthetic_size = 2048;          // training images of the synthetic set (test: a quarter)
  int64_t batch = 128;
  int64_t steps = 0;                      // > 0: exactly this many steps, else `epochs`
  double epochs = 1.0;
  double lr = 0.1;
  double momentum = 0.9;
  bool nesterov = false;
  double weight_decay = 0.0;
  std::string schedule = "cosine";         // constant | step | cosine (to 0 over the run)
  int64_t warmup_steps = 0;
  std::string lr_control = "none";
  double target_elr = 0.0;
  uint64_t seed = 0;
  int64_t log_every = 0;                  // 0: every step for the first 200 steps, then every 10
  std::string out;                        // run directory; empty: runs/<model>-<depth>-<time>
  std::string device = "cpu";
  bool cuda_graph = true;                 // cuda: replay the step as a CUDA graph (after one eager step)
  bool tf32 = false;                      // cuda: conv and linear GEMMs on TF32 tensor cores (sm_80+)
  int threads = 0;                        // 0: all cores
  int augment = -1;                       // -1: on for CIFAR, off otherwise
  bool evaluate = true;                   // test accuracy at the end
  std::string on_divergence = "stop";     // stop | continue
  bool progress = true;                   // progress line on stderr
  int64_t checkpoint_every = 0;           // > 0: checkpoint every N steps (always one at the end)
  bool resume = false;                    // continue the run in `out` from its checkpoint
};

nlohmann::json config_to_json(const TrainConfig& c);
// The inverse of config_to_json (for --resume); UserError naming the file on a bad config.
TrainConfig config_from_json(const nlohmann::json& j, const std::string& source);
// Throws UserError naming the option for every invalid or contradictory setting.
void validate_train_config(const TrainConfig& c);
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

}  // namespace elr
