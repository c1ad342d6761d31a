#include "experiments/run/run_logs.h"

#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "engine/error.h"
#include "engine/files.h"

namespace elr {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- the columns and keys, each named once, in the order they are written ---------------------

template <class Row, class Visit>
void for_each_layers_column(Row& r, Visit&& visit) {
  visit("step", r.step);
  visit("layer", r.layer);
  visit("name", r.name);
  visit("kind", r.kind);
  visit("scale_invariant", r.scale_invariant);
  visit("w2", r.w2);
  visit("g2", r.g2);
  visit("gw", r.gw);
  visit("v2", r.v2);
  visit("dw2", r.dw2);
  visit("lr", r.lr);
  visit("elr", r.elr);
  visit("elr_classic", r.elr_classic);
  visit("rel_update", r.rel_update);
  visit("numel", r.numel);
}

template <class Row, class Visit>
void for_each_metrics_key(Row& m, Visit&& visit) {
  visit("step", m.step);
  visit("epoch", m.epoch);
  visit("loss", m.loss);
  visit("accuracy", m.accuracy);
  visit("lr", m.lr);
  visit("spread", m.spread);
  visit("log10_std", m.log10_std);
  visit("first_last", m.first_last);
  visit("elr_min", m.elr_min);
  visit("elr_max", m.elr_max);
  visit("critical_lr", m.critical_lr);
  visit("si_layers", m.si_layers);
  visit("zero_elr_layers", m.zero_elr_layers);
  visit("elapsed_s", m.elapsed_s);
}

template <class Summary, class Visit>
void for_each_summary_key(Summary& s, Visit&& visit) {
  visit("steps", s.steps);
  visit("total_steps", s.total_steps);
  visit("final_loss", s.final_loss);
  visit("train_accuracy", s.train_accuracy);
  visit("test_accuracy", s.test_accuracy);
  visit("diverged", s.diverged);
  visit("diverged_step", s.diverged_step);
  visit("divergence", s.divergence);
  visit("interrupted", s.interrupted);
  visit("first_step", s.first_step);
  visit("seconds", s.seconds);
  visit("steps_per_second", s.steps_per_second);
  visit("step_mode", s.step_mode);
  visit("cuda_graph_note", s.cuda_graph_note);
}

// ---- reading lines and cells --------------------------------------------------------------------

[[noreturn]] void bad_line(const std::string& path, int64_t number, const std::string& why, const std::string& line) {
  throw UserError(fmt::format("'{}' line {}: {}: {}", path, number, why, line.substr(0, 80)));
}

[[noreturn]] void bad_cell(const std::string& path, int64_t number, const std::string& column, const std::string& text,
                           const char* expected) {
  throw UserError(fmt::format("'{}' line {}, column '{}': '{}' is not {}", path, number, column, text, expected));
}

// Calls each(line, number) for every line of the file. complete_only: a last line without its
// newline was cut short while being appended, and is left out.
template <class Each>
void for_each_line(const std::string& path, bool complete_only, Each&& each) {
  std::ifstream in(path);
  if (!in) throw UserError(fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (complete_only && in.eof()) break;
    each(line, number);
  }
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells(1);
  for (char ch : line) {
    if (ch == ',')
      cells.emplace_back();
    else
      cells.back() += ch;
  }
  return cells;
}

std::map<std::string, size_t> header_columns(const std::vector<std::string>& header) {
  std::map<std::string, size_t> columns;
  for (size_t i = 0; i < header.size(); ++i) columns[header[i]] = i;
  return columns;
}

bool parse_cell(const std::string& text, int64_t& v) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  return ec == std::errc() && ptr == end && !text.empty();
}

// Also nan, inf and -inf, as format_double writes them.
bool parse_cell(const std::string& text, double& v) {
  if (text.empty()) return false;
  char* end = nullptr;
  v = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size();
}

bool parse_cell(const std::string& text, std::optional<double>& v) {
  if (text.empty()) {
    v.reset();
    return true;
  }
  double d = 0;
  if (!parse_cell(text, d)) return false;
  v = d;
  return true;
}

bool parse_cell(const std::string& text, bool& v) {
  v = text == "1";
  return text == "1" || text == "0";
}

bool parse_cell(const std::string& text, std::string& v) {
  v = text;
  return true;
}

const char* cell_kind(int64_t) { return "a whole number"; }
const char* cell_kind(double) { return "a number"; }
const char* cell_kind(const std::optional<double>&) { return "a number or empty"; }
const char* cell_kind(bool) { return "0 or 1"; }
const char* cell_kind(const std::string&) { return "text"; }

std::string cell_text(int64_t v) { return std::to_string(v); }
std::string cell_text(double v) { return format_double(v); }
std::string cell_text(const std::optional<double>& v) { return v ? format_double(*v) : std::string(); }
std::string cell_text(bool v) { return v ? "1" : "0"; }
std::string cell_text(const std::string& v) { return v; }

// layers.csv's rows, its columns found by name in the header line.
class LayerRowParser {
 public:
  LayerRowParser(const std::string& path, const std::string& header_line) : path_(path) {
    const std::vector<std::string> header = split_csv_line(header_line);
    header_size_ = header.size();
    const std::map<std::string, size_t> columns = header_columns(header);
    LayerRow names_only;
    for_each_layers_column(names_only, [&](const char* name, auto&) {
      const auto it = columns.find(name);
      if (it == columns.end()) throw UserError(fmt::format("'{}' has no column '{}'", path, name));
      positions_.push_back(it->second);
    });
  }

  LayerRow parse(const std::string& line, int64_t number) const {
    const std::vector<std::string> cells = split_csv_line(line);
    if (cells.size() != header_size_)
      bad_line(path_, number, fmt::format("{} cells where the header has {}", cells.size(), header_size_), line);
    LayerRow r;
    size_t k = 0;
    for_each_layers_column(r, [&](const char* name, auto& field) {
      const std::string& text = cells[positions_[k++]];
      if (!parse_cell(text, field)) bad_cell(path_, number, name, text, cell_kind(field));
    });
    return r;
  }

 private:
  std::string path_;
  size_t header_size_ = 0;
  std::vector<size_t> positions_;  // of the columns, in for_each_layers_column's order
};

// ---- JSON values ---------------------------------------------------------------------------------

nlohmann::json json_value(int64_t v) { return v; }
nlohmann::json json_value(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
nlohmann::json json_value(bool v) { return v; }
nlohmann::json json_value(const std::string& v) { return v; }

bool parse_json_value(const nlohmann::json& j, int64_t& v) {
  if (!j.is_number_integer()) return false;
  v = j.get<int64_t>();
  return true;
}

bool parse_json_value(const nlohmann::json& j, double& v) {
  if (!j.is_null() && !j.is_number()) return false;
  v = j.is_null() ? kNaN : j.get<double>();
  return true;
}

bool parse_json_value(const nlohmann::json& j, bool& v) {
  if (!j.is_boolean()) return false;
  v = j.get<bool>();
  return true;
}

bool parse_json_value(const nlohmann::json& j, std::string& v) {
  if (!j.is_string()) return false;
  v = j.get<std::string>();
  return true;
}

MetricsRow parse_metrics_line(const std::string& path, const std::string& line, int64_t number) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception&) {
    bad_line(path, number, "not JSON", line);
  }
  if (!j.is_object()) bad_line(path, number, "not a JSON object", line);
  MetricsRow m;
  for_each_metrics_key(m, [&](const char* key, auto& field) {
    if (!j.contains(key)) bad_line(path, number, fmt::format("no \"{}\"", key), line);
    if (!parse_json_value(j.at(key), field))
      bad_line(path, number, fmt::format("\"{}\" has the wrong type", key), line);
  });
  return m;
}

// Keeps the lines of a log whose step is below next_step; step_of(line, number) gives a line's
// step, or nothing for the header (always kept).
template <class StepOf>
void truncate_log(const std::string& path, int64_t next_step, StepOf&& step_of) {
  std::string kept;
  for_each_line(path, true, [&](const std::string& line, int64_t number) {
    const std::optional<int64_t> step = step_of(line, number);
    if (!step || *step < next_step) kept += line + "\n";
  });
  write_file_atomic(path, kept);
}

}  // namespace

// ---- layers.csv ----------------------------------------------------------------------------------

LayerRow layer_row(int64_t step, size_t index, const LayerStats& l) {
  LayerRow r;
  r.step = step;
  r.layer = static_cast<int64_t>(index);
  r.name = l.name;
  r.kind = param_kind_name(l.kind);
  r.scale_invariant = l.scale_invariant;
  r.w2 = l.w2;
  r.g2 = l.g2;
  r.gw = l.gw;
  r.v2 = l.v2;
  r.dw2 = l.dw2;
  r.lr = l.lr;
  if (l.scale_invariant) {
    r.elr = l.elr();
    r.elr_classic = l.elr_classic();
  }
  r.rel_update = l.rel_update();
  r.numel = l.numel;
  return r;
}

std::string layers_csv_header() {
  std::string header;
  LayerRow names_only;
  for_each_layers_column(names_only, [&](const char* name, auto&) {
    if (!header.empty()) header += ',';
    header += name;
  });
  return header;
}

std::string layers_csv_line(const LayerRow& r) {
  std::string line;
  bool first = true;
  for_each_layers_column(r, [&](const char*, const auto& field) {
    if (!first) line += ',';
    first = false;
    line += cell_text(field);
  });
  return line;
}

std::vector<LayerRow> read_layers_csv(const std::string& path) {
  std::optional<LayerRowParser> parser;
  std::vector<LayerRow> rows;
  for_each_line(path, true, [&](const std::string& line, int64_t number) {
    if (number == 1)
      parser.emplace(path, line);
    else
      rows.push_back(parser->parse(line, number));
  });
  if (!parser) throw UserError(fmt::format("'{}' is empty (no header line)", path));
  return rows;
}

// ---- metrics.jsonl -------------------------------------------------------------------------------

MetricsRow metrics_row(const StepRecord& r, const SpreadStats& spread, double elapsed_s) {
  MetricsRow m;
  m.step = r.step;
  m.epoch = r.epoch;
  m.loss = r.loss;
  m.accuracy = static_cast<double>(r.correct) / r.batch_size;
  m.lr = r.global_lr;
  m.spread = spread.spread;
  m.log10_std = spread.log10_std;
  m.first_last = spread.first_last;
  m.elr_min = spread.elr_min;
  m.elr_max = spread.elr_max;
  m.critical_lr = spread.critical_lr;
  m.si_layers = spread.layers;
  m.zero_elr_layers = spread.zero_layers;
  m.elapsed_s = elapsed_s;
  return m;
}

std::string metrics_jsonl_line(const MetricsRow& m) {
  nlohmann::json j = nlohmann::json::object();
  for_each_metrics_key(m, [&](const char* key, const auto& field) { j[key] = json_value(field); });
  return j.dump();
}

std::vector<MetricsRow> read_metrics_jsonl(const std::string& path) {
  std::vector<MetricsRow> rows;
  for_each_line(path, true, [&](const std::string& line, int64_t number) {
    rows.push_back(parse_metrics_line(path, line, number));
  });
  return rows;
}

// ---- summary.json --------------------------------------------------------------------------------

RunSummary run_summary(const TrainResult& r, int64_t total_steps) {
  RunSummary s;
  s.steps = r.steps;
  s.total_steps = total_steps;
  s.final_loss = r.final_loss;
  s.train_accuracy = r.train_accuracy;
  s.test_accuracy = r.test_accuracy >= 0 ? r.test_accuracy : kNaN;
  s.diverged = r.diverged;
  s.diverged_step = r.diverged_step;
  s.divergence = r.divergence;
  s.interrupted = r.interrupted_by != 0;
  s.first_step = r.first_step;
  s.seconds = r.seconds;
  s.steps_per_second = r.steps_per_second;
  s.step_mode = r.step_mode;
  s.cuda_graph_note = r.cuda_graph_note;
  return s;
}

void write_run_summary(const std::string& path, const RunSummary& s) {
  nlohmann::json j = nlohmann::json::object();
  for_each_summary_key(s, [&](const char* key, const auto& field) { j[key] = json_value(field); });
  write_json_atomic(path, j);
}

RunSummary read_run_summary(const std::string& path) {
  const nlohmann::json j = read_json(path);
  if (!j.is_object()) throw UserError(fmt::format("'{}' is not a JSON object", path));
  RunSummary s;
  static const std::set<std::string> added_later = {"interrupted", "first_step", "step_mode", "cuda_graph_note"};
  for_each_summary_key(s, [&](const char* key, auto& field) {
    if (!j.contains(key)) {
      if (added_later.count(key)) return;  // the default
      throw UserError(fmt::format("'{}' has no \"{}\"", path, key));
    }
    if (!parse_json_value(j.at(key), field)) throw UserError(fmt::format("'{}': \"{}\" has the wrong type", path, key));
  });
  return s;
}

// ---- --resume ------------------------------------------------------------------------------------

void truncate_run_logs(const std::string& run_dir, int64_t next_step) {
  try {
    const std::string metrics = run_dir + "/metrics.jsonl";
    truncate_log(metrics, next_step, [&](const std::string& line, int64_t number) -> std::optional<int64_t> {
      return parse_metrics_line(metrics, line, number).step;
    });
    const std::string layers = run_dir + "/layers.csv";
    std::optional<LayerRowParser> parser;
    truncate_log(layers, next_step, [&](const std::string& line, int64_t number) -> std::optional<int64_t> {
      if (number > 1) return parser->parse(line, number).step;
      parser.emplace(layers, line);
      return std::nullopt;
    });
  } catch (const UserError& e) {
    throw UserError(fmt::format("--resume: {}", e.what()));
  }
}

// ---- any CSV table -------------------------------------------------------------------------------

CsvTable::CsvTable(const std::string& path) : path_(path) {
  for_each_line(path, false, [&](const std::string& line, int64_t number) {
    if (number == 1) {
      header_ = split_csv_line(line);
      columns_ = header_columns(header_);
      return;
    }
    std::vector<std::string> cells = split_csv_line(line);
    if (cells.size() != header_.size())
      bad_line(path, number, fmt::format("{} cells where the header has {}", cells.size(), header_.size()), line);
    rows_.push_back(std::move(cells));
    lines_.push_back(number);
  });
  if (header_.empty()) throw UserError(fmt::format("'{}' is empty (no header line)", path));
}

size_t CsvTable::column(const std::string& name) const {
  const auto it = columns_.find(name);
  if (it == columns_.end()) throw UserError(fmt::format("'{}' has no column '{}'", path_, name));
  return it->second;
}

double CsvTable::number(size_t row, size_t column) const {
  const std::string& t = text(row, column);
  double v = kNaN;
  if (!t.empty() && !parse_cell(t, v)) bad_cell(path_, lines_[row], header_[column], t, "a number");
  return v;
}

int64_t CsvTable::integer(size_t row, size_t column) const {
  const std::string& t = text(row, column);
  int64_t v = 0;
  if (!parse_cell(t, v)) bad_cell(path_, lines_[row], header_[column], t, "a whole number");
  return v;
}

}  // namespace elr
