// Whole training-step benchmark: the engine's step (forward, loss, backward, per-layer statistics,
// LR control, SGD update) against the PyTorch peer (bench/pytorch_train_step.py, kept running as a
// server), interleaved block by block in the same sitting so the ratio holds on a noisy machine.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/comm.h"
#include "layers/models.h"
#include "optim/batch.h"

namespace elr::bench {

struct StepNet {
  std::string label;  // "resnet-20"
  ModelConfig model;  // in_channels, image_size, classes set
  int batch = 128;
};
// plain-20, resnet-20, resnet-56 on 3x32x32 and the default run's plain-10 (width 32) on 1x28x28.
std::vector<StepNet> default_step_nets();
// "resnet-20 (width 16), batch 128, 3x32x32"
std::string describe_step_net(const StepNet& net);
// A few fixed synthetic batches (normal images, uniform labels) of the net's shape, used in turn by
// the CPU and the GPU step rows.
std::vector<Batch> synthetic_batches(const StepNet& net, uint64_t seed);
// The median and the minimum of step times (0 when there are none).
double median_of(std::vector<double> v);
double minimum_of(const std::vector<double>& v);

// One engine step's times (seconds).
struct EngineStepTimes {
  double step_s = 0;       // forward + loss + backward + statistics + LR control + update
  double forward_s = 0;    // forward + loss
  double backward_s = 0;
  double update_s = 0;     // Sgd::step (statistics, LR control, update) + the spread summary
  double stats_s = 0;      // the statistics + LR control + spread summary alone (part of update_s)
  double all_reduce_s = 0; // several ranks: averaging the gradients over them (waits for the slowest rank)
};

// The engine's training step (HostTrainStep, as `elrscope train` runs it on the CPU) on fixed
// synthetic batches (normal inputs, uniform labels). With `ranks` (more than one), each rank steps on
// its share of every batch and the gradients are averaged over the ranks, as in a data-parallel run.
class EngineStep {
 public:
  EngineStep(const StepNet& net, uint64_t seed = 0, Communicator* ranks = nullptr);
  ~EngineStep();
  EngineStepTimes run();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The PyTorch peer as a child process: built once, then asked for blocks of timed steps.
class PytorchPeer {
 public:
  // Throws elr::Error when the interpreter or torch is missing, or the script fails to start.
  // device: "cpu" or "cuda" (the script's --device).
  PytorchPeer(const std::string& python, const std::string& script, const StepNet& net, int threads,
              const std::string& device = "cpu");
  ~PytorchPeer();
  PytorchPeer(const PytorchPeer&) = delete;
  PytorchPeer& operator=(const PytorchPeer&) = delete;
  std::vector<double> run(int steps);  // seconds per step
  const std::string& version() const { return version_; }

 private:
  std::string request(const std::string& line);
  int pid_ = -1;
  std::FILE* to_child_ = nullptr;
  std::FILE* from_child_ = nullptr;
  std::string version_;
};

struct StepBenchConfig {
  int threads = 2;           // OpenMP threads of the engine and torch.set_num_threads of the peer
  int rounds = 3;            // interleaved rounds: engine block, PyTorch block
  int steps_per_round = 2;   // timed steps per block (after one untimed step per block)
  int warmup = 1;            // untimed steps per side before the first round
  bool pytorch = true;
  Communicator* ranks = nullptr;  // several: the data-parallel step over them (no PyTorch peer)
  std::string python = "/usr/bin/python3";
  std::string script;        // default: <source>/bench/pytorch_train_step.py
};

struct StepRow {
  std::string net;          // "resnet-20"
  std::string description;  // "resnet-20 (width 16), batch 128, 3x32x32"
  int batch = 0;
  int threads = 0;
  int ranks = 1;            // processes sharing each batch (mpirun -np N elrscope bench)
  std::vector<double> engine_s, pytorch_s, stats_s;  // every timed step, in order
  double engine_median_s = 0, engine_min_s = 0;
  double forward_median_s = 0, backward_median_s = 0, update_median_s = 0;
  double stats_median_s = 0, stats_min_s = 0;
  double stats_share = 0;      // statistics + LR control / step, medians
  double stats_share_min = 0;  // the same from the minima (robust to descheduled threads on a busy machine)
  double all_reduce_median_s = 0, all_reduce_share = 0;  // several ranks: the gradient all-reduce, share of the step
  double pytorch_median_s = 0, pytorch_min_s = 0;
  double ratio = 0;         // engine median / PyTorch median (0 when PyTorch did not run)
  std::string pytorch_error;  // why the PyTorch side has no time
  std::string pytorch_version;
  double load_avg_start = 0, load_avg_end = 0;
};

StepRow bench_step(const StepNet& net, const StepBenchConfig& c);
std::string default_pytorch_script();

}  // namespace elr::bench
