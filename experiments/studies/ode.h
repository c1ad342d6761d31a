// `elrscope ode`: the scale-invariance model of one layer (docs/science.md, "[MODEL] Dynamics of
// one scale-invariant layer"), iterated per layer from step 0's |W|^2 and e, under the run's
// learning rate, momentum, weight decay and lr-control, and compared with the measured layers.csv
// (docs/explode-and-ode.md describes the model and its assumptions).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "experiments/studies/collapse.h"
#include "optim/lr_control.h"

namespace elr {

// One scale-invariant layer at step 0.
struct OdeLayerStart {
  int layer = 0;     // position in the model's parameter list (layers.csv's `layer`)
  std::string name;
  double w2 = 0;     // |W_0|^2
  double e = 0;      // |g_0| / |W_0|
};

struct OdeSettings {
  double lr = 0.1;
  double momentum = 0;          // heavy ball, PyTorch convention: v_0 = d_0, v = momentum v + d
  bool dampened = false;        // v_0 = (1 - momentum) d_0, v = momentum v + (1 - momentum) d
  double weight_decay = 0;      // d = g + wd W
  ScheduleKind schedule = ScheduleKind::Constant;
  int64_t warmup_steps = 0;
  double warmup_lr = 0;
  int64_t total_steps = 1;      // of the schedule (cosine, step milestones)
  LrControlKind lr_control = LrControlKind::None;
  double target_elr = 0;
  TargetElrRule target_elr_rule = TargetElrRule::Model;
  double grad_corr = 0;         // assumed cosine between g_t and the part of v_{t-1} orthogonal to W_t
  CollapseLaw collapse;         // c_{t+1} = kappa(ELR_t) c_t; power 0: c held fixed
  int64_t steps = 100;          // predict steps 0..steps
};

// The model's state of one layer before step `step`'s update.
struct OdePoint {
  double w2 = 0;   // |W_t|^2
  double c = 0;    // the base gradient |g_t| |W_t|
  double lr = 0;   // the layer's learning rate at step t (from the lr controller)
  double elr = 0;  // lr |g_t| / |W_t| with |g_t| = c / |W_t|
};

// trajectory[t][l]: layer l (in `start` order) before the update of step t, for t = 0..steps.
std::vector<std::vector<OdePoint>> predict_trajectory(const std::vector<OdeLayerStart>& start, const OdeSettings& s);

struct OdeConfig {
  std::string run_dir;       // a run directory of `elrscope train` (config.json, layers.csv)
  std::string from_explode;  // or an explode_layers.csv
  int depth = 0;             // --from-explode: which depth (0: the only one in the file)
  // Not given: the run's (explode: lr 0.1, momentum 0, weight decay 0, lr control none, 100 steps;
  // a run: its last logged step). Given, they are checked as `elrscope train` checks them.
  std::optional<double> lr, momentum, weight_decay;
  std::optional<LrControlKind> lr_control;
  double grad_corr = 0;
  CollapseLaw collapse;      // power 0: c held fixed
  std::optional<int64_t> steps;
  std::string out;           // empty: RUN/ode.csv, or ode-depth<D>.csv next to the explode file
};

struct OdeRow {
  int64_t step = 0;
  int layer = 0;
  std::string name;
  double w2_pred = 0, elr_pred = 0, c_pred = 0;
  bool measured = false;
  double w2_meas = 0, elr_meas = 0, c_meas = 0;
  double rel_err_w2() const { return (w2_pred - w2_meas) / w2_meas; }
  double rel_err_elr() const { return (elr_pred - elr_meas) / elr_meas; }
};

struct OdeComparison {
  std::string source;                 // what the start values came from
  OdeSettings settings;
  std::vector<OdeRow> rows;           // step-major, every predicted step and layer
  std::vector<int64_t> measured_steps;
  std::string out_path;
};

// Reads the start values (and measurements) and predicts; throws UserError on bad input.
OdeComparison run_ode(const OdeConfig& c);
void write_ode_csv(const std::string& path, const OdeComparison& r);
// Per-layer errors at the given steps (those that were measured and predicted).
std::string format_ode_errors(const OdeComparison& r, const std::vector<int64_t>& steps);

}  // namespace elr
