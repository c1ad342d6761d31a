// The files a training run writes as it goes (docs/outputs.md): layers.csv, metrics.jsonl and
// summary.json. train() writes them, and the report, ode, sweep and --resume read them, all
// through here, so every column and key is named once. A reader throws UserError naming the file
// (and the line and column) when the file is missing or malformed; the last line of a log without
// its newline was cut short by a crash, and is left out.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "experiments/run/train.h"
#include "optim/layer_stats.h"
#include "optim/step_record.h"

namespace elr {

// layers.csv: one row per logged step and parameter tensor.
struct LayerRow {
  int64_t step = 0;
  int64_t layer = 0;          // position in the model's parameter list
  std::string name;
  std::string kind;           // conv | linear | bn_weight | bn_bias | classifier
  bool scale_invariant = false;
  double w2 = 0, g2 = 0, gw = 0, v2 = 0, dw2 = 0, lr = 0;
  std::optional<double> elr, elr_classic;  // scale-invariant tensors only (else an empty cell)
  double rel_update = 0;
  int64_t numel = 0;
};
LayerRow layer_row(int64_t step, size_t index, const LayerStats& l);
std::string layers_csv_header();
std::string layers_csv_line(const LayerRow& r);
std::vector<LayerRow> read_layers_csv(const std::string& path);

// metrics.jsonl: one line per logged step. A statistic that is not finite is written as null and
// read back as NaN.
struct MetricsRow {
  int64_t step = 0, epoch = 0;
  double loss = 0, accuracy = 0, lr = 0;  // accuracy: of this step's batch
  double spread = 0, log10_std = 0, first_last = 0, elr_min = 0, elr_max = 0, critical_lr = 0;
  int64_t si_layers = 0, zero_elr_layers = 0;
  double elapsed_s = 0;
};
MetricsRow metrics_row(const StepRecord& r, const SpreadStats& spread, double elapsed_s);
std::string metrics_jsonl_line(const MetricsRow& m);
std::vector<MetricsRow> read_metrics_jsonl(const std::string& path);

// summary.json: how the run ended, or how the process that ran it last stopped (interrupted).
// Numbers that are not finite are written as null and read back as NaN (test_accuracy: not
// evaluated). Keys added after the first version (interrupted, first_step, step_mode,
// cuda_graph_note) read back as their defaults when absent.
struct RunSummary {
  int64_t steps = 0, total_steps = 0;
  double final_loss = 0, train_accuracy = 0, test_accuracy = 0;
  bool diverged = false;
  int64_t diverged_step = -1;
  std::string divergence;
  bool interrupted = false;   // stopped by SIGINT or SIGTERM; --resume continues it
  int64_t first_step = 0;     // where this process began (> 0 when resumed)
  double seconds = 0, steps_per_second = 0;  // of this process's steps
  std::string step_mode, cuda_graph_note;
};
RunSummary run_summary(const TrainResult& r, int64_t total_steps);
void write_run_summary(const std::string& path, const RunSummary& s);
RunSummary read_run_summary(const std::string& path);

// --resume: cuts RUN/metrics.jsonl and RUN/layers.csv back to the lines of the steps before
// next_step (and the header): what an uninterrupted run had written at that point.
void truncate_run_logs(const std::string& run_dir, int64_t next_step);

// Any CSV file with a header line (ode.csv, explode_layers.csv), read whole; cells are looked up
// by column name.
class CsvTable {
 public:
  explicit CsvTable(const std::string& path);
  bool has(const std::string& column) const { return columns_.count(column) > 0; }
  size_t column(const std::string& name) const;  // UserError naming the file when there is none
  size_t rows() const { return rows_.size(); }
  const std::string& text(size_t row, size_t column) const { return rows_[row][column]; }
  double number(size_t row, size_t column) const;  // an empty cell: NaN
  int64_t integer(size_t row, size_t column) const;

 private:
  std::string path_;
  std::vector<std::string> header_;
  std::map<std::string, size_t> columns_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<int64_t> lines_;  // each row's line number in the file
};

}  // namespace elr
