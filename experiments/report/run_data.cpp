#include "experiments/report/run_data.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "engine/error.h"
#include "engine/files.h"

namespace elr {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double finite_or_nan(double v) { return std::isfinite(v) ? v : kNaN; }

std::string folder_name(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  const size_t slash = d.find_last_of('/');
  return slash == std::string::npos ? d : d.substr(slash + 1);
}

}  // namespace

bool is_run_dir(const std::string& dir) { return path_exists(dir + "/config.json"); }

RunData load_run(const std::string& dir) {
  RunData r;
  r.dir = dir;
  r.label = folder_name(dir);
  // A run folder has these three from its first step on; summary.json comes at the end.
  for (const char* file : {"config.json", "metrics.jsonl", "layers.csv"})
    if (!path_exists(dir + "/" + file))
      throw UserError(fmt::format("report: '{}/{}' is missing: a run directory has config.json, metrics.jsonl and "
                                  "layers.csv",
                                  dir, file));
  r.config = read_json(dir + "/config.json");
  if (path_exists(dir + "/summary.json")) r.summary = read_run_summary(dir + "/summary.json");
  r.metrics = read_metrics_jsonl(dir + "/metrics.jsonl");
  {
    std::map<int64_t, LayerSeries> by_layer;
    for (const LayerRow& row : read_layers_csv(dir + "/layers.csv")) {
      if (!row.scale_invariant) continue;
      LayerSeries& s = by_layer[row.layer];
      s.layer = row.layer;
      s.name = row.name;
      s.steps.push_back(row.step);
      s.w2.push_back(finite_or_nan(row.w2));
      s.g_norm.push_back(finite_or_nan(std::sqrt(row.g2)));
      s.elr.push_back(finite_or_nan(row.elr.value_or(kNaN)));
      s.lr.push_back(finite_or_nan(row.lr));
    }
    for (auto& kv : by_layer) r.layers.push_back(std::move(kv.second));
  }
  return r;
}

SpreadSummary summarize_run_spread(const std::vector<MetricsRow>& metrics, int64_t first_steps, double threshold) {
  SpreadSummary s;
  if (metrics.empty()) return s;
  if (metrics.front().step == 0) s.step0 = metrics.front().spread;
  s.last = metrics.back().spread;
  double sum_first = 0, sum_run = 0, max_first = -INFINITY, max_run = -INFINITY;
  int64_t n_first = 0, n_run = 0;
  for (const MetricsRow& m : metrics) {
    if (!(std::isfinite(m.spread) && m.spread > 0)) continue;
    const double l = std::log10(m.spread);
    sum_run += l;
    max_run = std::max(max_run, l);
    ++n_run;
    if (m.step < first_steps) {
      sum_first += l;
      max_first = std::max(max_first, l);
      ++n_first;
    }
    if (s.first_below < 0 && m.spread < threshold) s.first_below = m.step;
  }
  if (n_first > 0) {
    s.mean_log10_first = sum_first / n_first;
    s.max_log10_first = max_first;
  }
  if (n_run > 0) {
    s.mean_log10_run = sum_run / n_run;
    s.max_log10_run = max_run;
  }
  return s;
}

double late_batch_accuracy(const std::vector<MetricsRow>& metrics, size_t count) {
  if (metrics.empty()) return kNaN;
  const size_t n = std::min(count, metrics.size());
  double sum = 0;
  for (size_t i = metrics.size() - n; i < metrics.size(); ++i) sum += metrics[i].accuracy;
  return sum / n;
}

}  // namespace elr
