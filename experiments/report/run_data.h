// A run directory as the report reads it (through experiments/run/run_logs): its settings, how it
// ended, the per-step log and the series of every scale-invariant layer; and the numbers that
// summarize its ELR spread.
#pragma once
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiments/run/run_logs.h"

namespace elr {

// One scale-invariant tensor over the logged steps (equal-length vectors; NaN where a value is not
// finite, or for elr where the cell is empty).
struct LayerSeries {
  int64_t layer = 0;  // position in the parameter list
  std::string name;
  std::vector<int64_t> steps;
  std::vector<double> w2, g_norm, elr, lr;
};

struct RunData {
  std::string dir;
  std::string label;                  // short name for keys and tables: the folder's name
  nlohmann::json config;              // config.json; an empty object when it is missing
  std::optional<RunSummary> summary;  // none: the run has not finished
  std::vector<MetricsRow> metrics;
  std::vector<LayerSeries> layers;  // input side first
  int64_t last_step() const { return metrics.empty() ? 0 : metrics.back().step; }
  // The step at which the run diverged, or -1.
  int64_t diverged_step() const { return summary && summary->diverged ? summary->diverged_step : -1; }
};

bool is_run_dir(const std::string& dir);  // layers.csv or summary.json
RunData load_run(const std::string& dir);

// The spread (max/min ELR) over the logged steps, counting only positive finite values: a step
// whose scale-invariant layers all have zero gradient (a dead network, spread 0) or a non-finite
// one is left out.
struct SpreadSummary {
  double step0 = std::numeric_limits<double>::quiet_NaN();  // as logged (NaN: not logged)
  double last = std::numeric_limits<double>::quiet_NaN();   // at the last logged step
  double mean_log10_first = std::numeric_limits<double>::quiet_NaN(), max_log10_first = mean_log10_first;
  double mean_log10_run = mean_log10_first, max_log10_run = mean_log10_first;
  int64_t first_below = -1;  // the first logged step with spread < threshold; -1: never
};
// `first_steps`: the "first N steps" are the logged steps < first_steps.
SpreadSummary summarize_run_spread(const std::vector<MetricsRow>& metrics, int64_t first_steps, double threshold);

// Mean batch accuracy over the last `count` logged steps (NaN without metrics).
double late_batch_accuracy(const std::vector<MetricsRow>& metrics, size_t count);

}  // namespace elr
