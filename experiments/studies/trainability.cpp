#include "experiments/studies/trainability.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "engine/error.h"
#include "engine/files.h"
#include "experiments/report/plot.h"
#include "experiments/run/run_logs.h"

namespace elr {

namespace {

constexpr const char* kMetaFile = "trainability.json";

std::string csv_number(double v) { return std::isfinite(v) ? format_double(v) : std::isnan(v) ? "" : "inf"; }

std::string md_number(double v) { return std::isfinite(v) ? fmt::format("{:.4g}", v) : std::isnan(v) ? "" : "inf"; }

std::string join(const std::vector<std::string>& cells, const char* separator, const char* before,
                 const char* after) {
  std::string s = before;
  for (size_t i = 0; i < cells.size(); ++i) s += (i ? separator : "") + cells[i];
  return s + after + "\n";
}
std::string csv_line(const std::vector<std::string>& cells) { return join(cells, ",", "", ""); }
std::string md_line(const std::vector<std::string>& cells) { return join(cells, " | ", "| ", " |"); }

std::vector<std::string> table_header(int64_t early_steps, double threshold) {
  return {"point",
          "index",
          "model",
          "depth",
          "lr",
          "warmup",
          "seed",
          fmt::format("mean_log10_spread_first_{}", early_steps),
          fmt::format("max_log10_spread_first_{}", early_steps),
          "mean_log10_spread_all",
          "max_log10_spread_all",
          fmt::format("first_step_spread_below_{}", format_double(threshold)),
          "steps",
          "train_loss",
          "test_accuracy",
          "diverged"};
}

std::vector<std::string> table_cells(const TrainabilityRow& r, bool markdown) {
  auto num = [&](double v) { return markdown ? md_number(v) : csv_number(v); };
  const TrainabilityPoint& p = r.point;
  return {p.id,
          std::to_string(p.index),
          p.model,
          std::to_string(p.depth),
          format_double(p.lr),
          p.warmup,
          std::to_string(p.seed),
          num(r.early_mean_log10_spread),
          num(r.early_max_log10_spread),
          num(r.mean_log10_spread),
          num(r.max_log10_spread),
          r.first_below >= 0 ? std::to_string(r.first_below) : "",
          std::to_string(r.steps),
          num(r.train_loss),
          num(r.test_accuracy),
          r.diverged ? "1" : "0"};
}

// Mean and maximum of log10 spread over the logged steps [from, to): the mean weights each logged
// value by the steps it stands for (up to the next logged step, or `to`), so that sparse logging
// later in a run does not tilt it toward the densely logged start. Null spreads are left out.
void spread_statistics(const std::vector<MetricsRow>& metrics, int64_t to, double& mean, double& max) {
  double weighted = 0, weights = 0;
  max = kNoValue;
  for (size_t i = 0; i < metrics.size() && metrics[i].step < to; ++i) {
    const double v = std::log10(metrics[i].spread);
    if (std::isnan(v)) continue;
    const int64_t next = i + 1 < metrics.size() ? std::min(metrics[i + 1].step, to) : to;
    const double w = static_cast<double>(std::max<int64_t>(next - metrics[i].step, 1));
    weighted += w * v;
    weights += w;
    if (!(v <= max)) max = v;
  }
  mean = weights > 0 ? weighted / weights : kNoValue;
}

TrainabilityRow read_row(const std::string& dir, const TrainabilityPoint& p, int64_t early_steps, double threshold) {
  TrainabilityRow r;
  r.point = p;
  const RunSummary summary = read_run_summary(dir + "/summary.json");
  r.steps = summary.steps;
  r.test_accuracy = summary.test_accuracy;
  r.diverged = summary.diverged;
  const std::vector<MetricsRow> metrics = read_metrics_jsonl(dir + "/metrics.jsonl");
  spread_statistics(metrics, early_steps, r.early_mean_log10_spread, r.early_max_log10_spread);
  spread_statistics(metrics, r.steps, r.mean_log10_spread, r.max_log10_spread);
  const int64_t tail_from = r.steps - std::max<int64_t>(1, (r.steps + 9) / 10);
  double loss_sum = 0;
  int64_t losses = 0;
  for (const MetricsRow& m : metrics) {
    if (r.first_below < 0 && m.spread < threshold) r.first_below = m.step;
    if (m.step >= tail_from && m.step < r.steps) {
      loss_sum += m.loss;
      ++losses;
    }
  }
  r.train_loss = losses > 0 ? loss_sum / static_cast<double>(losses) : kNoValue;
  return r;
}

std::string interval_md(const Interval& i) {
  if (i.n == 0) return "";
  if (i.n < 2) return md_number(i.mean);
  return fmt::format("{} [{}, {}]", md_number(i.mean), md_number(i.low), md_number(i.high));
}

}  // namespace

const std::vector<std::string>& trainability_warmups() {
  static const std::vector<std::string> names = {"none", "linear", "low-lr", "critical-warmup", "max-elr-warmup"};
  return names;
}

void apply_warmup(const std::string& name, int64_t warmup_steps, double warmup_lr, TrainConfig& c) {
  c.lr_control = LrControlKind::None;
  c.warmup_steps = 0;
  c.warmup_lr = 0;
  if (name == "none") return;
  if (name == "linear" || name == "low-lr") {
    if (warmup_steps <= 0) throw UserError(fmt::format("--warmup: the {} warm-up needs --warmup N > 0", name));
    if (name == "low-lr" && !(warmup_lr > 0))
      throw UserError("--warmup-lr: the low-lr warm-up needs --warmup-lr > 0 (the ResNet paper: 0.01)");
    c.warmup_steps = warmup_steps;
    c.warmup_lr = name == "low-lr" ? warmup_lr : 0;
    return;
  }
  if (name == "critical-warmup" || name == "max-elr-warmup") {
    c.lr_control = parse_lr_control(name);
    return;
  }
  throw UserError(fmt::format(
      "--warmups: unknown warm-up '{}' (expected none, linear, low-lr, critical-warmup or max-elr-warmup)", name));
}

std::vector<TrainabilityPoint> expand_trainability_grid(const TrainabilityGrid& g) {
  std::vector<TrainabilityPoint> points;
  for (const std::string& model : g.models)
    for (int64_t depth : g.depths)
      for (double lr : g.lrs)
        for (const std::string& warmup : g.warmups)
          for (uint64_t seed : g.seeds) {
            TrainabilityPoint p;
            p.index = static_cast<int64_t>(points.size());
            p.model = model;
            p.depth = depth;
            p.lr = lr;
            p.warmup = warmup;
            p.seed = seed;
            p.id = fmt::format("{}_d{}_lr{}_{}_s{}", model, depth, format_double(lr), warmup, seed);
            points.push_back(p);
          }
  return points;
}

TrainConfig trainability_point_config(const TrainabilityConfig& c, const TrainabilityPoint& p) {
  TrainConfig t = c.base;
  t.model.name = p.model;
  t.model.depth = static_cast<int>(p.depth);
  t.lr = p.lr;
  t.seed = p.seed;
  apply_warmup(p.warmup, c.base.warmup_steps, c.base.warmup_lr, t);
  t.out = grid_point_dir(c.out, p.id);
  t.progress = false;  // the study shows its own progress
  return t;
}

nlohmann::json trainability_to_json(const TrainabilityConfig& c) {
  nlohmann::json fixed = config_to_json(c.base);
  // Varied per point (the warm-up's length and low lr stay: they define the linear and low-lr
  // warm-ups); the thread count does not change results.
  for (const char* k : {"model", "depth", "lr", "lr_control", "seed", "threads", "out"}) fixed.erase(k);
  nlohmann::json seeds = nlohmann::json::array();
  for (uint64_t s : c.grid.seeds) seeds.push_back(s);
  return {{"grid",
           {{"models", c.grid.models},
            {"depths", c.grid.depths},
            {"lrs", c.grid.lrs},
            {"warmups", c.grid.warmups},
            {"seeds", seeds},
            {"order", "model, depth, lr, warmup, seed (seed varies fastest)"}}},
          {"points", expand_trainability_grid(c.grid).size()},
          {"fixed", fixed},
          {"table", {{"early_steps", c.early_steps}, {"spread_threshold", c.spread_threshold}}}};
}

TrainabilityGrid trainability_grid_from_json(const nlohmann::json& j) {
  const nlohmann::json& grid = j.at("grid");
  TrainabilityGrid g;
  g.models = grid.at("models").get<std::vector<std::string>>();
  g.depths = grid.at("depths").get<std::vector<int64_t>>();
  g.lrs = grid.at("lrs").get<std::vector<double>>();
  g.warmups = grid.at("warmups").get<std::vector<std::string>>();
  g.seeds = grid.at("seeds").get<std::vector<uint64_t>>();
  return g;
}

std::vector<TrainabilityRow> collect_trainability_rows(const std::string& dir, int64_t early_steps,
                                                       double spread_threshold) {
  const std::string meta = dir + "/" + kMetaFile;
  if (!path_exists(meta)) throw UserError(fmt::format("'{}' is not a trainability study (no {})", dir, kMetaFile));
  std::vector<TrainabilityRow> rows;
  for (const TrainabilityPoint& p : expand_trainability_grid(trainability_grid_from_json(read_json(meta))))
    if (grid_point_finished(dir, p.id))
      rows.push_back(read_row(grid_point_dir(dir, p.id), p, early_steps, spread_threshold));
  return rows;
}

std::vector<TrainabilityGroup> group_trainability_rows(const std::vector<TrainabilityRow>& rows,
                                                       const TrainabilityGrid& grid) {
  std::vector<TrainabilityGroup> groups;
  for (const std::string& model : grid.models)
    for (int64_t depth : grid.depths)
      for (double lr : grid.lrs)
        for (const std::string& warmup : grid.warmups) {
          TrainabilityGroup g;
          g.model = model;
          g.depth = depth;
          g.lr = lr;
          g.warmup = warmup;
          std::vector<double> spread, loss;
          for (const TrainabilityRow& r : rows) {
            const TrainabilityPoint& p = r.point;
            if (p.model != model || p.depth != depth || p.lr != lr || p.warmup != warmup) continue;
            ++g.runs;
            g.diverged += r.diverged;
            g.early_log10_spread.push_back(r.early_mean_log10_spread);
            g.test_accuracy.push_back(r.test_accuracy);
            spread.push_back(r.mean_log10_spread);
            loss.push_back(r.train_loss);
          }
          if (g.runs == 0) continue;
          g.early_spread = mean_interval(g.early_log10_spread);
          g.spread = mean_interval(spread);
          g.accuracy = mean_interval(g.test_accuracy);
          g.loss = mean_interval(loss);
          groups.push_back(std::move(g));
        }
  return groups;
}

std::string trainability_table_csv(const std::vector<TrainabilityRow>& rows, int64_t early_steps, double threshold) {
  std::string out = csv_line(table_header(early_steps, threshold));
  for (const TrainabilityRow& r : rows) out += csv_line(table_cells(r, false));
  return out;
}

std::string trainability_table_markdown(const std::vector<TrainabilityRow>& rows, int64_t early_steps,
                                        double threshold) {
  const std::vector<std::string> h = table_header(early_steps, threshold);
  std::string out = md_line(h) + md_line(std::vector<std::string>(h.size(), "---"));
  for (const TrainabilityRow& r : rows) out += md_line(table_cells(r, true));
  return out;
}

std::string trainability_groups_csv(const std::vector<TrainabilityGroup>& groups) {
  std::vector<std::string> h = {"model", "depth", "lr", "warmup", "runs", "diverged"};
  for (const char* q : {"early_log10_spread", "log10_spread", "test_accuracy", "train_loss"})
    for (const char* part : {"n", "mean", "low", "high"}) h.push_back(fmt::format("{}_{}", q, part));
  std::string out = csv_line(h);
  for (const TrainabilityGroup& g : groups) {
    std::vector<std::string> c = {g.model,           std::to_string(g.depth),   format_double(g.lr),
                                  g.warmup,          std::to_string(g.runs),    std::to_string(g.diverged)};
    for (const Interval* i : {&g.early_spread, &g.spread, &g.accuracy, &g.loss})
      for (double v : {static_cast<double>(i->n), i->mean, i->low, i->high}) c.push_back(csv_number(v));
    out += csv_line(c);
  }
  return out;
}

std::string trainability_groups_markdown(const std::vector<TrainabilityGroup>& groups) {
  const std::vector<std::string> h = {"model", "depth", "lr", "warm-up", "runs", "diverged", "early log10 spread",
                                      "log10 spread, whole run", "test accuracy", "train loss"};
  std::string out = md_line(h) + md_line(std::vector<std::string>(h.size(), "---"));
  for (const TrainabilityGroup& g : groups)
    out += md_line({g.model, std::to_string(g.depth), format_double(g.lr), g.warmup, std::to_string(g.runs),
                    std::to_string(g.diverged), interval_md(g.early_spread), interval_md(g.spread),
                    interval_md(g.accuracy), interval_md(g.loss)});
  return out;
}

TrainabilityOutputs write_trainability_outputs(const std::string& dir, int64_t early_steps, double spread_threshold,
                                               bool plots) {
  const TrainabilityGrid grid = trainability_grid_from_json(read_json(dir + "/" + kMetaFile));
  const std::vector<TrainabilityRow> rows = collect_trainability_rows(dir, early_steps, spread_threshold);
  const std::vector<TrainabilityGroup> groups = group_trainability_rows(rows, grid);
  TrainabilityOutputs o;
  o.rows = static_cast<int64_t>(rows.size());
  o.total_points = static_cast<int64_t>(expand_trainability_grid(grid).size());
  o.verdict = trainability_verdict(groups, grid, early_steps, o.rows, o.total_points);
  write_shared_file(dir + "/table.csv", trainability_table_csv(rows, early_steps, spread_threshold));
  write_shared_file(dir + "/table.md", trainability_table_markdown(rows, early_steps, spread_threshold));
  write_shared_file(dir + "/groups.csv", trainability_groups_csv(groups));
  write_shared_file(dir + "/groups.md", trainability_groups_markdown(groups));
  write_shared_file(dir + "/verdict.md", o.verdict);
  if (plots) o.figures = render_trainability_figures(dir, rows, groups, grid, early_steps);
  return o;
}

TrainabilityOutcome run_trainability(const TrainabilityConfig& c) {
  if (c.out.empty()) throw UserError("--out: the study directory is required");
  reject_duplicates(c.grid.models, "--models");
  reject_duplicates(c.grid.depths, "--depths");
  reject_duplicates(c.grid.lrs, "--lrs");
  reject_duplicates(c.grid.warmups, "--warmups");
  reject_duplicates(c.grid.seeds, "--seeds");
  for (const std::string& m : c.grid.models)
    if (m != "resnet" && m != "resnet-noshort")
      throw UserError(fmt::format("--models: '{}' is not resnet or resnet-noshort", m));
  if (c.early_steps < 1) throw UserError(fmt::format("--early-steps: must be at least 1, got {}", c.early_steps));
  if (!(c.spread_threshold > 0))
    throw UserError(fmt::format("--spread-threshold: must be positive, got {}", c.spread_threshold));
  if (c.plots && find_gnuplot().empty())
    throw UserError(fmt::format("the figures need gnuplot, which is not on PATH ({}); --no-plots skips them",
                                gnuplot_install_hint()));
  const std::vector<TrainabilityPoint> points = expand_trainability_grid(c.grid);
  if (points.empty()) throw UserError("the grid is empty: every list needs at least one value");
  GridRun run;
  run.out = c.out;
  run.meta_file = kMetaFile;
  run.meta = trainability_to_json(c);
  run.kind = "trainability";
  run.shard_index = c.shard_index;
  run.shard_count = c.shard_count;
  run.jobs = c.jobs;
  run.progress = c.progress;
  std::vector<GridPoint> grid_points;
  for (const TrainabilityPoint& p : points) {
    TrainConfig t;
    try {
      t = trainability_point_config(c, p);
    } catch (const UserError& e) {
      throw UserError(fmt::format("point {}: {}", p.id, e.what()));
    }
    grid_points.push_back({p.index, p.id, t});
  }
  TrainabilityOutcome o;
  static_cast<GridOutcome&>(o) = run_grid(run, grid_points);
  if (o.interrupted_by) return o;
  o.outputs = write_trainability_outputs(c.out, c.early_steps, c.spread_threshold, c.plots);
  return o;
}

}  // namespace elr
