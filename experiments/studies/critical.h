// `elrscope critical`: the critical learning rate during training. From the states a run kept
// (--keep-checkpoints), one plain-SGD step is taken at every lr of a 2^(1/4) grid around the
// step's 1/sqrt(e_max e_min), and the spread of the ELRs after it is measured on the next batch:
// the empirical minimum of the post-step spread against the constant-c model's and the
// collapse-corrected model's (experiments/studies/collapse.h). The same probes measure the
// collapse of the base gradient, kappa = c_1 / c_0 per layer, and fit its law
// (docs/science.md, "The collapse" and "The critical LR during training").
#pragma once
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "experiments/studies/collapse.h"

namespace elr {

struct CriticalConfig {
  std::vector<std::string> runs;                // run directories with kept checkpoints
  std::vector<int64_t> at = {0, 10, 100, 1000};  // steps; a step the run did not keep is skipped (said)
  int64_t batches = 1;        // step batches per state, each probed on the batch after it
  double octaves_below = 5;   // the lr grid: critical LR x 2^(k / per_octave), k from -below x per_octave
  double octaves_above = 2;   // to above x per_octave
  int per_octave = 4;
  std::optional<CollapseLaw> collapse;  // for the corrected prediction; default: fitted on the step-0 probes
  std::string out;            // folder of the outputs (probes are reused when their settings match)
  int threads = 0;            // 0: all cores
  bool progress = true;
};

// One scale-invariant layer after one probe step at `lr` from the state before `step`, batch
// `batch` (0: the batch the run took at that step). e = |g| / |W|, c = |g| |W|: 0 at the state on
// the step batch, 0_probe at the state on the probe batch (the batch after it), 1 after the step
// on the probe batch.
struct ProbeLayer {
  int64_t step = 0, batch = 0;
  double lr = 0;
  int layer = 0;  // position in the model's parameter list
  std::string name;
  double e0 = 0, c0 = 0, c0_probe = 0, e1 = 0, c1 = 0;
  double elr0() const { return lr * e0; }
  double kappa() const { return c0_probe > 0 ? c1 / c0_probe : std::nan(""); }  // the step's effect alone
};

// The losses of one probe: before the step on the step batch, after it on the probe batch.
struct ProbeLoss {
  int64_t step = 0, batch = 0;
  double lr = 0, loss0 = 0, loss1 = 0;
};

struct RunProbes {
  std::string run_dir, name, group;  // group: "<model>-<depth>"
  uint64_t seed = 0;
  std::vector<int64_t> steps;        // the probed steps (kept by the run)
  std::vector<ProbeLayer> layers;
  std::vector<ProbeLoss> losses;
};

// Per run and step: the post-step spread's minimum, measured on the lr grid (geometric mean over
// the batches) and predicted (geometric mean over the batches of each batch's minimum).
struct CriticalPoint {
  std::string run, group;
  uint64_t seed = 0;
  int64_t step = 0;
  int batches = 0;
  double critical_lr = 0;   // 1 / sqrt(e_max e_min) at the state (geometric mean over the batches)
  double lr_min_meas = 0, spread_min_meas = 0;
  bool at_grid_edge = false;  // the measured minimum is the grid's first or last lr
  double lr_min_model = 0;  // constant c
  double lr_min_kappa = 0;  // with the collapse
  // Distance measured / predicted in steps of the grid (per_octave x log2 of the ratio).
  double steps_model = 0, steps_kappa = 0;
};

struct KappaFitRow {
  std::string group;  // "all", or "<model>-<depth>"
  int64_t step = 0;
  CollapseFit fit;
};

struct CriticalResult {
  CollapseLaw law;          // the law the corrected predictions use
  bool law_fitted = false;  // fitted here (else given)
  std::vector<RunProbes> runs;
  std::vector<CriticalPoint> points;
  std::vector<KappaFitRow> fits;
  std::vector<std::string> notes;  // steps skipped, probes reused
};

// Throws UserError naming the option for invalid settings.
void validate_critical_config(const CriticalConfig& c);
// The lr grid of one state: critical_lr x 2^(k / per_octave).
std::vector<double> critical_lr_grid(const CriticalConfig& c, double critical_lr);
CriticalResult run_critical(const CriticalConfig& c);
// critical_summary.csv, kappa_fit.csv, kappa_bins.csv and per run <name>/spread.csv in c.out.
void write_critical_outputs(const CriticalConfig& c, const CriticalResult& r);
std::string format_critical_table(const CriticalConfig& c, const CriticalResult& r);

}  // namespace elr
