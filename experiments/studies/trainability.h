// `elrscope trainability`: the paper's central experiment (its Section 4, Figure 5). CIFAR ResNets v1
// with shortcuts ("Short", resnet) and without ("No Short", resnet-noshort), trained with and without
// warm-ups: does a net without shortcuts reach a high ELR spread early and train badly, and do the
// warm-ups fix it? A grid model x depth x lr x warm-up x seed, run by the sweep machinery (run_grid:
// shards, resume); per run the spread statistics of its metrics.jsonl and how it ended; per setting
// the means over seeds with t-based 95% intervals; a verdict computed from those by a stated rule; and
// gnuplot figures (docs/trainability.md).
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiments/run/train_config.h"
#include "experiments/studies/sweep.h"

namespace elr {

// The warm-ups compared: none; linear (lr/N, 2lr/N, ... up to lr over N steps); low-lr (the ResNet
// paper's: a constant low lr for N steps, then the base lr); critical-warmup and max-elr-warmup (the
// lr controls, parameter-free).
const std::vector<std::string>& trainability_warmups();
// Sets a run's warm-up: N = warmup_steps and the low lr = warmup_lr (UserError for an unknown name).
void apply_warmup(const std::string& name, int64_t warmup_steps, double warmup_lr, TrainConfig& c);

// The varied settings. Grid order: model outermost, then depth, lr, warm-up, and seed innermost.
struct TrainabilityGrid {
  std::vector<std::string> models{"resnet", "resnet-noshort"};
  std::vector<int64_t> depths{20, 56};
  std::vector<double> lrs{0.1};
  std::vector<std::string> warmups{"none", "low-lr", "critical-warmup", "max-elr-warmup"};
  std::vector<uint64_t> seeds{0, 1, 2};
};

struct TrainabilityPoint {
  int64_t index = 0;
  std::string id;  // e.g. resnet-noshort_d56_lr0.1_low-lr_s0
  std::string model;
  int64_t depth = 0;
  double lr = 0;
  std::string warmup;
  uint64_t seed = 0;
};

struct TrainabilityConfig {
  // The fixed settings. Per point its model, depth, lr, seed, lr control and warm-up are replaced;
  // base.warmup_steps and base.warmup_lr are the length and the low lr of the linear and low-lr
  // warm-ups.
  TrainConfig base;
  TrainabilityGrid grid;
  std::string out;           // the study directory
  int64_t shard_index = 0, shard_count = 1;
  int jobs = 1;               // runs at the same time, each in its own process
  int64_t early_steps = 100;  // the table's early window: steps 0 .. early_steps - 1
  double spread_threshold = 2;
  bool plots = true;          // figures (gnuplot)
  bool progress = true;
};

std::vector<TrainabilityPoint> expand_trainability_grid(const TrainabilityGrid& g);
TrainConfig trainability_point_config(const TrainabilityConfig& c, const TrainabilityPoint& p);
// trainability.json: the grid, the fixed settings and the table settings; and the grid read back.
nlohmann::json trainability_to_json(const TrainabilityConfig& c);
TrainabilityGrid trainability_grid_from_json(const nlohmann::json& j);

constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

// One finished run, from its metrics.jsonl and summary.json. Spreads that are null (no layer with a
// positive ELR) are left out of the means and maxima.
struct TrainabilityRow {
  TrainabilityPoint point;
  double early_mean_log10_spread = kNoValue;  // mean of log10 spread over the logged steps < early_steps
  double early_max_log10_spread = kNoValue;
  double mean_log10_spread = kNoValue;        // over every logged step
  double max_log10_spread = kNoValue;
  int64_t first_below = -1;                   // first logged step with spread < threshold; -1: none
  int64_t steps = 0;
  double train_loss = kNoValue;               // mean batch loss over the last tenth of the logged steps
  double test_accuracy = kNoValue;            // NaN: not evaluated, or diverged
  bool diverged = false;
};
std::vector<TrainabilityRow> collect_trainability_rows(const std::string& dir, int64_t early_steps,
                                                       double spread_threshold);

// Mean over seeds and its t-based 95% interval, mean +- t(0.975, n-1) s / sqrt(n), over the finite
// values (n of them; no interval for n < 2).
struct Interval {
  int64_t n = 0;
  double mean = kNoValue, low = kNoValue, high = kNoValue;
};
Interval mean_interval(const std::vector<double>& values);
// Welch's 95% interval of mean(a) - mean(b) (Welch-Satterthwaite degrees of freedom); no interval
// unless both have n >= 2.
Interval difference_interval(const std::vector<double>& a, const std::vector<double>& b);
// The p-quantile of Student's t distribution with df > 0 degrees of freedom.
double student_t_quantile(double p, double df);

// One setting (model, depth, lr, warm-up) over its finished seeds.
struct TrainabilityGroup {
  std::string model;
  int64_t depth = 0;
  double lr = 0;
  std::string warmup;
  int64_t runs = 0, diverged = 0;
  std::vector<double> early_log10_spread, test_accuracy;  // per run, for the verdict's differences
  Interval early_spread, spread, accuracy, loss;          // of early_mean_log10_spread, mean_log10_spread, ...
};
// Groups in grid order (model, depth, lr, warm-up).
std::vector<TrainabilityGroup> group_trainability_rows(const std::vector<TrainabilityRow>& rows,
                                                       const TrainabilityGrid& grid);

// The verdict as Markdown: for every depth and lr, whether No-Short without warm-up has a higher
// early spread and a lower test accuracy than Short, and what each warm-up changes, by the rule the
// text states (Welch intervals of the differences).
std::string trainability_verdict(const std::vector<TrainabilityGroup>& groups, const TrainabilityGrid& grid,
                                 int64_t early_steps, int64_t finished, int64_t total);

std::string trainability_table_csv(const std::vector<TrainabilityRow>& rows, int64_t early_steps, double threshold);
std::string trainability_table_markdown(const std::vector<TrainabilityRow>& rows, int64_t early_steps,
                                        double threshold);
std::string trainability_groups_csv(const std::vector<TrainabilityGroup>& groups);
std::string trainability_groups_markdown(const std::vector<TrainabilityGroup>& groups);

// The figures, drawn by gnuplot into DIR/figures/ (from a private folder, file by file, so that shards
// finishing together do not mix their files): test accuracy against the early spread, test accuracy
// against lr per depth, and log10 spread against step per depth (means over seeds). Returns their
// names.
std::vector<std::string> render_trainability_figures(const std::string& dir, const std::vector<TrainabilityRow>& rows,
                                                     const std::vector<TrainabilityGroup>& groups,
                                                     const TrainabilityGrid& grid, int64_t early_steps);

// Everything built from the finished points: table.csv/.md (one row per run), groups.csv/.md (one
// per setting), verdict.md, and with `plots` the figures in DIR/figures/ (gnuplot). Returns the
// verdict.
struct TrainabilityOutputs {
  int64_t rows = 0, total_points = 0;
  std::string verdict;
  std::vector<std::string> figures;  // names of the rendered figures (<name>.svg, <name>.png)
};
TrainabilityOutputs write_trainability_outputs(const std::string& dir, int64_t early_steps, double spread_threshold,
                                               bool plots);

struct TrainabilityOutcome : GridOutcome {
  TrainabilityOutputs outputs;
};
// Runs this shard's unfinished points (run_grid), then writes the outputs from every finished point.
TrainabilityOutcome run_trainability(const TrainabilityConfig& c);

}  // namespace elr
