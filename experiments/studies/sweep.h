// `elrscope sweep`: a grid of training runs (lr x depth x momentum x lr control x seed), each in its
// own run directory under SWEEP_DIR/points/, sharded by index and resumable, and one table over all
// finished points (docs/sweep-and-report.md). run_grid is the machinery under it, which other grids
// of runs (experiments/studies/trainability.h) share.
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "experiments/run/train.h"

namespace elr {

// ---- any grid of training runs: one run directory per point, sharded by index, resumable --------

struct GridPoint {
  int64_t index = 0;   // position in the grid order; shard i of n runs the points with index % n == i
  std::string id;      // its run directory, DIR/points/<id>
  TrainConfig config;  // the run (its out is that directory)
};

struct GridRun {
  std::string out;              // the grid directory
  std::string meta_file;        // e.g. "sweep.json": the grid and the fixed settings
  nlohmann::json meta;          // its contents; an existing one must have the same "grid" and "fixed"
  std::string kind = "sweep";   // names the grid in messages
  int64_t shard_index = 0, shard_count = 1;
  int jobs = 1;                 // points trained at the same time, each in its own process when > 1
  bool progress = true;
};

struct GridOutcome {
  int64_t total_points = 0;   // whole grid
  int64_t shard_points = 0;   // points of this shard
  int64_t skipped = 0;        // of this shard, already finished
  int64_t ran = 0;            // of this shard, trained now
  int64_t diverged = 0;       // of those trained now
  int interrupted_by = 0;     // SIGINT or SIGTERM stopped a point (its checkpoint lets the grid continue)
};

// Checks every point's settings (UserError naming the point), writes the meta file (refusing a
// directory that holds a different grid), then trains this shard's unfinished points, `jobs` at a
// time. A point is finished when its run has ended for good (run_finished); an unfinished one
// continues from its checkpoint, or starts again when it has none. SIGINT or SIGTERM stops the grid
// after the points on hand checkpoint (interrupted_by).
GridOutcome run_grid(const GridRun& run, const std::vector<GridPoint>& points);
std::string grid_point_dir(const std::string& grid_dir, const std::string& id);  // DIR/points/<id>
bool grid_point_finished(const std::string& grid_dir, const std::string& id);
// Writes a file that several shards may write at the same moment: each writes its own temporary
// file, and the rename makes the last complete one win.
void write_shared_file(const std::string& path, const std::string& contents);
// "i/n" -> (i, n) with 0 <= i < n.
void parse_shard(const std::string& text, int64_t& index, int64_t& count);
// The same value twice in a list option is a UserError naming the option.
template <class T>
void reject_duplicates(const std::vector<T>& values, const std::string& option) {
  std::set<T> seen;
  for (const T& v : values)
    if (!seen.insert(v).second) throw UserError(fmt::format("{}: the value {} appears twice", option, v));
}

// ---- elrscope sweep ---------------------------------------------------------------------------

// The varied settings. Grid order (which fixes each point's index, and so its shard): lr outermost,
// then depth, momentum, lr control, and seed innermost, each in the order given.
struct SweepGrid {
  std::vector<double> lrs{0.01, 0.1, 1};
  std::vector<int64_t> depths{10, 20};
  std::vector<double> momenta{0, 0.9};
  std::vector<std::string> lr_controls{"none", "critical-warmup"};
  std::vector<uint64_t> seeds{0, 1};
};

struct SweepPoint {
  int64_t index = 0;
  std::string id;  // stable directory name, e.g. lr0.1_d10_m0.9_none_s0
  double lr = 0;
  int64_t depth = 0;
  double momentum = 0;
  std::string lr_control;
  uint64_t seed = 0;
};

struct SweepConfig {
  TrainConfig base;  // the fixed training settings (its lr, depth, momentum, lr_control, seed, out are replaced)
  SweepGrid grid;
  std::string out;   // sweep directory
  int64_t shard_index = 0, shard_count = 1;
  std::vector<int64_t> spread_steps{0, 1, 10, 50};
  double spread_threshold = 2.0;
  bool progress = true;
};

std::vector<SweepPoint> expand_grid(const SweepGrid& grid);
std::string point_id(double lr, int64_t depth, double momentum, const std::string& lr_control, uint64_t seed);
// The training configuration of one point.
TrainConfig point_config(const TrainConfig& base, const SweepPoint& p, const std::string& sweep_dir);
std::string point_dir(const std::string& sweep_dir, const SweepPoint& p);

// "0.01 0.1 1" (spaces or commas) -> numbers; UserError naming `option` on bad text.
std::vector<double> parse_double_list(const std::string& text, const std::string& option);
std::vector<int64_t> parse_int_list(const std::string& text, const std::string& option);
std::vector<std::string> parse_word_list(const std::string& text);

// sweep.json: the grid and the fixed settings; read back to rebuild the grid.
nlohmann::json sweep_to_json(const SweepConfig& c);
SweepGrid grid_from_json(const nlohmann::json& j, const std::string& source = "sweep.json");  // UserError naming it

struct SweepOutcome : GridOutcome {
  int64_t table_rows = 0;     // finished points in the table (any shard)
};

// Writes sweep.json (refusing a directory that holds a different sweep), runs this shard's
// unfinished points, then rebuilds the table.
SweepOutcome run_sweep(const SweepConfig& c);

// One row of the table: a finished point.
struct SweepRow {
  SweepPoint point;
  std::vector<double> spread_at;   // per requested step; NaN: not logged; +inf..: as logged
  std::vector<bool> spread_logged;
  int64_t first_below = -1;        // first logged step with spread < threshold, -1 when none
  int64_t steps = 0;
  double final_loss = 0;           // NaN when not finite
  double train_accuracy = 0;
  double test_accuracy = -1;       // -1: not evaluated (or diverged)
  bool diverged = false;
};

// Rows of every finished point of the sweep in `sweep_dir` (grid order).
std::vector<SweepRow> collect_rows(const std::string& sweep_dir, const std::vector<int64_t>& spread_steps,
                                   double spread_threshold);
// table.csv and table.md in `sweep_dir`, from collect_rows; returns the number of rows.
int64_t write_sweep_table(const std::string& sweep_dir, const std::vector<int64_t>& spread_steps,
                          double spread_threshold);
std::string sweep_table_csv(const std::vector<SweepRow>& rows, const std::vector<int64_t>& spread_steps,
                            double spread_threshold);
std::string sweep_table_markdown(const std::vector<SweepRow>& rows, const std::vector<int64_t>& spread_steps,
                                 double spread_threshold);

}  // namespace elr
