#include "experiments/studies/sweep.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "engine/error.h"
#include "engine/files.h"
#include "experiments/run/interrupt.h"
#include "experiments/run/progress.h"
#include "experiments/run/run_dir.h"
#include "experiments/run/run_logs.h"

namespace elr {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<std::string> split_words(const std::string& text) {
  std::string t = text;
  for (char& ch : t)
    if (ch == ',') ch = ' ';
  std::istringstream in(t);
  std::vector<std::string> words;
  std::string w;
  while (in >> w) words.push_back(w);
  return words;
}

// Cells of the table: shortest round-trip text; empty when absent.
std::string csv_number(double v) { return format_double(v); }

std::string md_number(double v) {
  if (std::isnan(v)) return "nan";
  return fmt::format("{:.4g}", v);
}

std::vector<std::string> header(const std::vector<int64_t>& spread_steps, double threshold) {
  std::vector<std::string> h = {"point", "index", "lr", "depth", "momentum", "lr_control", "seed"};
  for (int64_t s : spread_steps) h.push_back(fmt::format("spread_step_{}", s));
  h.push_back(fmt::format("first_step_spread_below_{}", format_double(threshold)));
  for (const char* c : {"steps", "final_loss", "train_accuracy", "test_accuracy", "diverged"}) h.push_back(c);
  return h;
}

// The cells of one row, as CSV text (markdown = false) or rounded for reading (markdown = true).
std::vector<std::string> row_cells(const SweepRow& r, bool markdown) {
  auto num = [&](double v) { return markdown ? md_number(v) : csv_number(v); };
  const SweepPoint& p = r.point;
  std::vector<std::string> c = {p.id,          std::to_string(p.index), format_double(p.lr), std::to_string(p.depth),
                                format_double(p.momentum), p.lr_control, std::to_string(p.seed)};
  for (size_t i = 0; i < r.spread_at.size(); ++i) c.push_back(r.spread_logged[i] ? num(r.spread_at[i]) : "");
  c.push_back(r.first_below >= 0 ? std::to_string(r.first_below) : "");
  c.push_back(std::to_string(r.steps));
  c.push_back(num(r.final_loss));
  c.push_back(num(r.train_accuracy));
  c.push_back(r.test_accuracy >= 0 ? num(r.test_accuracy) : "");
  c.push_back(r.diverged ? "1" : "0");
  return c;
}

SweepRow read_row(const std::string& dir, const SweepPoint& p, const std::vector<int64_t>& spread_steps,
                  double threshold) {
  SweepRow r;
  r.point = p;
  r.spread_at.assign(spread_steps.size(), kNaN);
  r.spread_logged.assign(spread_steps.size(), false);
  const RunSummary summary = read_run_summary(dir + "/summary.json");
  r.steps = summary.steps;
  r.final_loss = summary.final_loss;
  r.train_accuracy = summary.train_accuracy;
  r.test_accuracy = std::isnan(summary.test_accuracy) ? -1 : summary.test_accuracy;
  r.diverged = summary.diverged;

  for (const MetricsRow& m : read_metrics_jsonl(dir + "/metrics.jsonl")) {
    for (size_t i = 0; i < spread_steps.size(); ++i)
      if (spread_steps[i] == m.step) {
        r.spread_at[i] = m.spread;
        r.spread_logged[i] = true;
      }
    if (r.first_below < 0 && m.spread < threshold) r.first_below = m.step;
  }
  return r;
}

// Trains the points `jobs` at a time, each in a child process (the parent trains nothing itself, so
// no OpenMP team exists when it forks); `done` is called in the parent as each one ends. After a
// failed or interrupted point no new one starts and the running ones finish; a failure is thrown,
// an interrupt returned (its signal; 0: none).
int train_in_processes(const std::vector<const GridPoint*>& points, int jobs,
                       const std::function<void(const GridPoint&)>& done) {
  std::map<pid_t, const GridPoint*> running;
  std::string failure;
  int interrupted_by = 0;
  size_t next = 0;
  auto may_start = [&] { return next < points.size() && failure.empty() && !interrupted_by; };
  while (may_start() || !running.empty()) {
    while (may_start() && running.size() < static_cast<size_t>(jobs)) {
      const GridPoint* p = points[next++];
      std::fflush(nullptr);
      const pid_t pid = ::fork();
      if (pid < 0) throw UserError(fmt::format("point {}: cannot start its process (fork failed)", p->id));
      if (pid == 0) {
        int code = 0;
        try {
          const TrainResult r = train(p->config);
          if (r.interrupted_by) code = interrupted_exit_code(r.interrupted_by);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "elrscope: point %s: %s\n", p->id.c_str(), e.what());
          code = 1;
        }
        std::fflush(nullptr);
        ::_exit(code);
      }
      running[pid] = p;
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      throw UserError("waiting for the points' processes failed");
    }
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    const GridPoint& p = *it->second;
    running.erase(it);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 0)
      done(p);
    else if (code == interrupted_exit_code(SIGINT) || code == interrupted_exit_code(SIGTERM))
      interrupted_by = code - 128;  // its checkpoint lets the grid continue
    else if (failure.empty())
      failure = fmt::format("point {}: its training process failed ({})", p.id,
                            WIFEXITED(status) ? fmt::format("exit {}", WEXITSTATUS(status)) : "killed by a signal");
  }
  if (!failure.empty()) throw UserError(failure);
  return interrupted_by;
}

}  // namespace

void write_shared_file(const std::string& path, const std::string& contents) {
  const std::string mine = fmt::format("{}.{}", path, ::getpid());
  write_file_atomic(mine, contents);
  if (std::rename(mine.c_str(), path.c_str()) != 0) throw UserError(fmt::format("cannot rename '{}' to '{}'", mine, path));
}

std::string grid_point_dir(const std::string& grid_dir, const std::string& id) { return grid_dir + "/points/" + id; }

bool grid_point_finished(const std::string& grid_dir, const std::string& id) {
  return run_finished(grid_point_dir(grid_dir, id));
}

GridOutcome run_grid(const GridRun& run, const std::vector<GridPoint>& points) {
  // Every point's settings are checked before any work starts.
  for (const GridPoint& p : points) {
    try {
      validate_train_config(p.config);
    } catch (const UserError& e) {
      throw UserError(fmt::format("point {}: {}", p.id, e.what()));
    }
  }

  make_directories(run.out + "/points");
  const std::string meta_path = run.out + "/" + run.meta_file;
  if (path_exists(meta_path)) {
    const nlohmann::json old = read_json(meta_path);
    if (!old.is_object())
      throw UserError(fmt::format("'{}' is not a {} description: not a JSON object", meta_path, run.kind));
    if (old.value("grid", nlohmann::json()) != run.meta["grid"] || old.value("fixed", nlohmann::json()) != run.meta["fixed"])
      throw UserError(fmt::format("--out: '{}' holds a {} with a different grid or fixed settings (see {}); "
                                  "use another directory",
                                  run.out, run.kind, meta_path));
  } else {
    write_shared_file(meta_path, run.meta.dump(2) + "\n");
  }

  GridOutcome o;
  o.total_points = static_cast<int64_t>(points.size());
  // An unfinished point continues from its checkpoint; one that had not written config.json starts anew.
  std::vector<GridPoint> todo_points;
  for (const GridPoint& p : points) {
    if (p.index % run.shard_count != run.shard_index) continue;
    ++o.shard_points;
    if (grid_point_finished(run.out, p.id)) {
      ++o.skipped;
      continue;
    }
    todo_points.push_back(p);
    TrainConfig& c = todo_points.back().config;
    c.resume = path_exists(c.out + "/config.json");
    c.overwrite = !c.resume;
  }
  std::vector<const GridPoint*> todo;
  for (const GridPoint& p : todo_points) todo.push_back(&p);
  if (run.progress)
    std::fprintf(stderr, "%s: %lld points, shard %lld/%lld: %lld points, %lld already finished, %lld to run\n",
                 run.kind.c_str(), static_cast<long long>(o.total_points), static_cast<long long>(run.shard_index),
                 static_cast<long long>(run.shard_count), static_cast<long long>(o.shard_points),
                 static_cast<long long>(o.skipped), static_cast<long long>(todo.size()));

  Progress progress(static_cast<int64_t>(todo.size()), run.progress);
  auto finished = [&](const GridPoint& p, double final_loss, double test_accuracy, bool diverged) {
    ++o.ran;
    if (diverged) ++o.diverged;
    progress.update(o.ran, fmt::format("{} loss {:.4g}{}", p.id, final_loss,
                                       diverged ? " diverged" : test_accuracy >= 0 ? fmt::format(" test acc {:.3f}", test_accuracy) : ""));
  };
  if (run.jobs <= 1) {
    for (const GridPoint* p : todo) {
      const TrainResult r = train(p->config);
      if (r.interrupted_by) {
        o.interrupted_by = r.interrupted_by;
        break;
      }
      finished(*p, r.final_loss, r.test_accuracy, r.diverged);
    }
  } else {
    o.interrupted_by = train_in_processes(todo, run.jobs, [&](const GridPoint& p) {
      const RunSummary s = read_run_summary(grid_point_dir(run.out, p.id) + "/summary.json");
      finished(p, s.final_loss, std::isnan(s.test_accuracy) ? -1 : s.test_accuracy, s.diverged);
    });
  }
  progress.finish();
  return o;
}

std::string point_id(double lr, int64_t depth, double momentum, const std::string& lr_control, uint64_t seed) {
  return fmt::format("lr{}_d{}_m{}_{}_s{}", format_double(lr), depth, format_double(momentum), lr_control, seed);
}

std::vector<SweepPoint> expand_grid(const SweepGrid& g) {
  std::vector<SweepPoint> points;
  for (double lr : g.lrs)
    for (int64_t depth : g.depths)
      for (double momentum : g.momenta)
        for (const std::string& control : g.lr_controls)
          for (uint64_t seed : g.seeds) {
            SweepPoint p;
            p.index = static_cast<int64_t>(points.size());
            p.lr = lr;
            p.depth = depth;
            p.momentum = momentum;
            p.lr_control = control;
            p.seed = seed;
            p.id = point_id(lr, depth, momentum, control, seed);
            points.push_back(p);
          }
  return points;
}

std::string point_dir(const std::string& sweep_dir, const SweepPoint& p) { return grid_point_dir(sweep_dir, p.id); }

TrainConfig point_config(const TrainConfig& base, const SweepPoint& p, const std::string& sweep_dir) {
  TrainConfig c = base;
  c.lr = p.lr;
  c.model.depth = static_cast<int>(p.depth);
  c.momentum = p.momentum;
  c.lr_control = parse_lr_control(p.lr_control);
  c.seed = p.seed;
  c.out = point_dir(sweep_dir, p);
  c.progress = false;  // the sweep shows its own progress
  return c;
}

std::vector<double> parse_double_list(const std::string& text, const std::string& option) {
  std::vector<double> out;
  for (const std::string& w : split_words(text)) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(w, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != w.size() || !std::isfinite(v)) throw UserError(fmt::format("{}: '{}' is not a number", option, w));
    out.push_back(v);
  }
  if (out.empty()) throw UserError(fmt::format("{}: needs at least one value", option));
  reject_duplicates(out, option);
  return out;
}

std::vector<int64_t> parse_int_list(const std::string& text, const std::string& option) {
  std::vector<int64_t> out;
  for (const std::string& w : split_words(text)) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(w, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != w.size()) throw UserError(fmt::format("{}: '{}' is not a whole number", option, w));
    out.push_back(v);
  }
  if (out.empty()) throw UserError(fmt::format("{}: needs at least one value", option));
  reject_duplicates(out, option);
  return out;
}

std::vector<std::string> parse_word_list(const std::string& text) { return split_words(text); }

void parse_shard(const std::string& text, int64_t& index, int64_t& count) {
  const size_t slash = text.find('/');
  bool ok = slash != std::string::npos;
  if (ok) {
    try {
      size_t a = 0, b = 0;
      index = std::stoll(text.substr(0, slash), &a);
      count = std::stoll(text.substr(slash + 1), &b);
      ok = a == slash && b == text.size() - slash - 1 && count >= 1 && index >= 0 && index < count;
    } catch (const std::exception&) {
      ok = false;
    }
  }
  if (!ok) throw UserError(fmt::format("--shard: expected i/n with 0 <= i < n (e.g. 0/4), got '{}'", text));
}

nlohmann::json sweep_to_json(const SweepConfig& c) {
  nlohmann::json fixed = config_to_json(c.base);
  // The varied settings live in the grid; the thread count does not change results.
  for (const char* k : {"lr", "depth", "momentum", "lr_control", "seed", "threads"}) fixed.erase(k);
  nlohmann::json seeds = nlohmann::json::array();
  for (uint64_t s : c.grid.seeds) seeds.push_back(s);
  return {{"grid",
           {{"lrs", c.grid.lrs},
            {"depths", c.grid.depths},
            {"momenta", c.grid.momenta},
            {"lr_controls", c.grid.lr_controls},
            {"seeds", seeds},
            {"order", "lr, depth, momentum, lr_control, seed (seed varies fastest)"}}},
          {"points", expand_grid(c.grid).size()},
          {"fixed", fixed},
          {"table", {{"spread_steps", c.spread_steps}, {"spread_threshold", c.spread_threshold}}}};
}

SweepGrid grid_from_json(const nlohmann::json& j, const std::string& source) {
  SweepGrid g;
  try {
    const nlohmann::json& grid = j.at("grid");
    g.lrs = grid.at("lrs").get<std::vector<double>>();
    g.depths = grid.at("depths").get<std::vector<int64_t>>();
    g.momenta = grid.at("momenta").get<std::vector<double>>();
    g.lr_controls = grid.at("lr_controls").get<std::vector<std::string>>();
    g.seeds = grid.at("seeds").get<std::vector<uint64_t>>();
  } catch (const nlohmann::json::exception& e) {
    throw UserError(fmt::format("'{}' is not a sweep description: {}", source, e.what()));
  }
  return g;
}

std::vector<SweepRow> collect_rows(const std::string& sweep_dir, const std::vector<int64_t>& spread_steps,
                                   double threshold) {
  const std::string meta = sweep_dir + "/sweep.json";
  if (!path_exists(meta)) throw UserError(fmt::format("'{}' is not a sweep directory (no sweep.json)", sweep_dir));
  std::vector<SweepRow> rows;
  for (const SweepPoint& p : expand_grid(grid_from_json(read_json(meta), meta))) {
    const std::string dir = point_dir(sweep_dir, p);
    if (run_finished(dir)) rows.push_back(read_row(dir, p, spread_steps, threshold));
  }
  return rows;
}

std::string sweep_table_csv(const std::vector<SweepRow>& rows, const std::vector<int64_t>& spread_steps,
                            double threshold) {
  auto join = [](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t i = 0; i < cells.size(); ++i) s += (i ? "," : "") + cells[i];
    return s + "\n";
  };
  std::string out = join(header(spread_steps, threshold));
  for (const SweepRow& r : rows) out += join(row_cells(r, false));
  return out;
}

std::string sweep_table_markdown(const std::vector<SweepRow>& rows, const std::vector<int64_t>& spread_steps,
                                 double threshold) {
  auto join = [](const std::vector<std::string>& cells) {
    std::string s = "|";
    for (const std::string& c : cells) s += " " + c + " |";
    return s + "\n";
  };
  const std::vector<std::string> h = header(spread_steps, threshold);
  std::string out = join(h);
  out += join(std::vector<std::string>(h.size(), "---"));
  for (const SweepRow& r : rows) out += join(row_cells(r, true));
  return out;
}

int64_t write_sweep_table(const std::string& sweep_dir, const std::vector<int64_t>& spread_steps, double threshold) {
  const std::vector<SweepRow> rows = collect_rows(sweep_dir, spread_steps, threshold);
  write_shared_file(sweep_dir + "/table.csv", sweep_table_csv(rows, spread_steps, threshold));
  write_shared_file(sweep_dir + "/table.md", sweep_table_markdown(rows, spread_steps, threshold));
  return static_cast<int64_t>(rows.size());
}

SweepOutcome run_sweep(const SweepConfig& c) {
  if (c.out.empty()) throw UserError("--out: the sweep directory is required");
  reject_duplicates(c.grid.lrs, "--lrs");
  reject_duplicates(c.grid.depths, "--depths");
  reject_duplicates(c.grid.momenta, "--momenta");
  reject_duplicates(c.grid.lr_controls, "--lr-controls");
  reject_duplicates(c.grid.seeds, "--seeds");
  if (c.grid.lr_controls.empty()) throw UserError("--lr-controls: needs at least one value");
  if (c.grid.seeds.empty()) throw UserError("--seeds: needs at least one value");
  if (!(c.spread_threshold > 0)) throw UserError(fmt::format("--spread-threshold: must be positive, got {}", c.spread_threshold));
  const std::vector<SweepPoint> points = expand_grid(c.grid);
  if (points.empty()) throw UserError("the grid is empty: every list needs at least one value");
  GridRun run;
  run.out = c.out;
  run.meta_file = "sweep.json";
  run.meta = sweep_to_json(c);
  run.shard_index = c.shard_index;
  run.shard_count = c.shard_count;
  run.progress = c.progress;
  std::vector<GridPoint> grid_points;
  for (const SweepPoint& p : points) grid_points.push_back({p.index, p.id, point_config(c.base, p, c.out)});
  SweepOutcome o;
  static_cast<GridOutcome&>(o) = run_grid(run, grid_points);
  o.table_rows = write_sweep_table(c.out, c.spread_steps, c.spread_threshold);
  return o;
}

}  // namespace elr
