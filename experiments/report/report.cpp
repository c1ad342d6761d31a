#include "experiments/report/report.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/files.h"
#include "experiments/report/plot.h"
#include "experiments/run/run_logs.h"
#include "experiments/studies/sweep.h"

namespace elr {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- the report as a list of blocks, rendered to Markdown and to HTML -------------------------

struct Block {
  enum Kind { kHeading, kParagraph, kTable, kPlot } kind;
  std::string text;                          // heading, paragraph, or plot caption
  std::vector<std::vector<std::string>> rows;  // table: first row is the header
  std::string plot;                          // plot name
  std::string plot_title;
};

struct Document {
  std::vector<Block> blocks;
  void heading(const std::string& t) { blocks.push_back({Block::kHeading, t, {}, "", ""}); }
  void paragraph(const std::string& t) { blocks.push_back({Block::kParagraph, t, {}, "", ""}); }
  void table(std::vector<std::vector<std::string>> rows) { blocks.push_back({Block::kTable, "", std::move(rows), "", ""}); }
  void plot(const PlotSpec& p) { blocks.push_back({Block::kPlot, p.caption, {}, p.name, p.title}); }
};

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string md_cell(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

std::string render_markdown(const std::string& title, const Document& doc) {
  std::string md = "# " + title + "\n";
  for (const Block& b : doc.blocks) {
    switch (b.kind) {
      case Block::kHeading: md += "\n## " + b.text + "\n"; break;
      case Block::kParagraph: md += "\n" + b.text + "\n"; break;
      case Block::kTable:
        md += "\n";
        for (size_t r = 0; r < b.rows.size(); ++r) {
          md += "|";
          for (const std::string& c : b.rows[r]) md += " " + md_cell(c) + " |";
          md += "\n";
          if (r == 0) {
            md += "|";
            for (size_t i = 0; i < b.rows[0].size(); ++i) md += " --- |";
            md += "\n";
          }
        }
        break;
      case Block::kPlot:
        md += fmt::format("\n### {}\n\n![{}]({}.png)\n\n{} (vector version: [{}.svg]({}.svg))\n", b.plot_title,
                          b.plot_title, b.plot, b.text, b.plot, b.plot);
        break;
    }
  }
  return md;
}

// The SVG element of a gnuplot SVG file, without its XML prologue, to be placed inline.
std::string inline_svg(const std::string& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t start = text.find("<svg");
  if (start == std::string::npos) throw UserError(fmt::format("'{}' holds no SVG image", path));
  return text.substr(start);
}

std::string render_html(const std::string& title, const Document& doc, const std::string& report_dir) {
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + html_escape(title) +
      "</title>\n<style>\n"
      "body{font-family:sans-serif;max-width:1000px;margin:1.5em auto;padding:0 1em;color:#222;line-height:1.4}\n"
      "table{border-collapse:collapse;margin:0.6em 0;font-size:0.9em}\n"
      "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}\nth{background:#f0f0f0}\n"
      "figure{margin:1em 0}\nfigure svg{max-width:100%;height:auto}\nfigcaption{font-size:0.9em;color:#444}\n"
      "</style>\n</head>\n<body>\n<h1>" +
      html_escape(title) + "</h1>\n";
  for (const Block& b : doc.blocks) {
    switch (b.kind) {
      case Block::kHeading: h += "<h2>" + html_escape(b.text) + "</h2>\n"; break;
      case Block::kParagraph: h += "<p>" + html_escape(b.text) + "</p>\n"; break;
      case Block::kTable:
        h += "<table>\n";
        for (size_t r = 0; r < b.rows.size(); ++r) {
          h += "<tr>";
          for (const std::string& c : b.rows[r]) h += (r == 0 ? "<th>" : "<td>") + html_escape(c) + (r == 0 ? "</th>" : "</td>");
          h += "</tr>\n";
        }
        h += "</table>\n";
        break;
      case Block::kPlot:
        h += "<figure>\n<h3>" + html_escape(b.plot_title) + "</h3>\n" + inline_svg(report_dir + "/" + b.plot + ".svg") +
             "\n<figcaption>" + html_escape(b.text) + "</figcaption>\n</figure>\n";
        break;
    }
  }
  return h + "</body>\n</html>\n";
}

// ---- values as the report shows them ------------------------------------------------------------

// A number: empty when absent (NaN).
std::string number_text(double v) { return std::isnan(v) ? "" : fmt::format("{:.6g}", v); }

std::string json_text(const nlohmann::json& j) {
  if (j.is_null()) return "";
  if (j.is_string()) return j.get<std::string>();
  if (j.is_boolean()) return j.get<bool>() ? "yes" : "no";
  if (j.is_number_float()) return number_text(j.get<double>());
  return j.dump();
}

bool positive_finite(double v) { return std::isfinite(v) && v > 0; }

void write_text(const std::string& path, const std::string& text) { write_file_atomic(path, text); }

// ---- the run report ---------------------------------------------------------------------------

struct LayerSeries {
  int64_t layer = 0;
  std::string name;
  std::vector<std::pair<int64_t, double>> elr;  // (step, ELR) where positive and finite
  double w2_step0 = kNaN, w2_step1 = kNaN, elr_step0 = kNaN;
};

const char* kDepthColorbox = "set cblabel 'depth index of the scale-invariant layer (0 = input side)'\n";
const char* kPalette = "set palette defined (0 '#1b3a8c', 0.5 '#2ca25f', 1 '#e6550d')\n";

void run_report(const std::string& dir, const std::string& out, bool plots, Document& doc, std::vector<PlotSpec>& specs,
                ReportResult& result) {
  const nlohmann::json config = read_json(dir + "/config.json");
  std::optional<RunSummary> summary;  // none: the run has not finished
  if (path_exists(dir + "/summary.json")) summary = read_run_summary(dir + "/summary.json");
  const std::vector<MetricsRow> metrics = read_metrics_jsonl(dir + "/metrics.jsonl");

  // Per scale-invariant layer series from layers.csv.
  std::vector<LayerSeries> layers;
  {
    std::map<int64_t, LayerSeries> by_layer;
    for (const LayerRow& row : read_layers_csv(dir + "/layers.csv")) {
      if (!row.scale_invariant) continue;
      LayerSeries& s = by_layer[row.layer];
      s.layer = row.layer;
      s.name = row.name;
      const double elr = row.elr.value_or(kNaN);
      if (positive_finite(elr)) s.elr.emplace_back(row.step, elr);
      if (row.step == 0) {
        s.w2_step0 = row.w2;
        s.elr_step0 = elr;
      }
      if (row.step == 1) s.w2_step1 = row.w2;
    }
    for (auto& kv : by_layer) layers.push_back(kv.second);
  }

  doc.heading("Run");
  std::vector<std::vector<std::string>> cfg_rows = {{"setting", "value"}};
  for (const char* k : {"model_description", "dataset", "batch", "total_steps", "lr", "momentum", "weight_decay",
                        "schedule", "warmup_steps", "lr_control", "seed", "device", "git_revision"})
    if (config.contains(k)) cfg_rows.push_back({k, json_text(config[k])});
  cfg_rows.push_back({"scale-invariant layers", std::to_string(layers.size())});
  doc.table(cfg_rows);

  doc.heading("Summary");
  if (!summary) doc.paragraph("The run has no summary.json: it has not finished (or was killed).");
  if (summary && summary->interrupted)
    doc.paragraph("The run was interrupted; `elrscope train --resume " + dir + "` continues it.");
  std::vector<std::vector<std::string>> sum_rows = {{"quantity", "value"}};
  if (summary) {
    sum_rows.push_back({"steps", std::to_string(summary->steps)});
    sum_rows.push_back({"final_loss", number_text(summary->final_loss)});
    sum_rows.push_back({"train_accuracy", number_text(summary->train_accuracy)});
    sum_rows.push_back({"test_accuracy", number_text(summary->test_accuracy)});
    sum_rows.push_back({"diverged", summary->diverged ? "yes" : "no"});
    if (!summary->divergence.empty()) sum_rows.push_back({"divergence", summary->divergence});
    sum_rows.push_back({"seconds", number_text(summary->seconds)});
  }
  if (!metrics.empty()) {
    sum_rows.push_back({"spread at step 0", number_text(metrics.front().spread)});
    sum_rows.push_back({fmt::format("spread at step {} (last logged)", metrics.back().step),
                        number_text(metrics.back().spread)});
    std::string first_below = "never";
    for (const MetricsRow& m : metrics)
      if (m.spread < 2) {
        first_below = std::to_string(m.step);
        break;
      }
    sum_rows.push_back({"first logged step with spread < 2", first_below});
  }
  doc.table(sum_rows);
  if (!plots) return;

  // ELR per layer against step.
  {
    std::string data = "# step elr depth_index  (one block per scale-invariant layer, ELR definition B)\n";
    size_t points = 0;
    for (size_t i = 0; i < layers.size(); ++i) {
      data += fmt::format("# {} {}\n", layers[i].layer, layers[i].name);
      for (const auto& [step, elr] : layers[i].elr) data += fmt::format("{} {} {}\n", step, format_double(elr), i);
      points += layers[i].elr.size();
      data += "\n\n";
    }
    if (points == 0) {
      result.skipped.push_back("elr: no positive ELR values in layers.csv");
    } else {
      write_text(out + "/elr.dat", data);
      specs.push_back({"elr", "Effective learning rate per layer", "step", "ELR (rad/step)",
                       fmt::format("set logscale y\nset format y '%.0e'\n{}{}set cbrange [0:{}]\nunset key\n"
                                   "plot 'elr.dat' using 1:2:3 with lines lw 1.5 lc palette notitle",
                                   kPalette, kDepthColorbox, std::max<size_t>(layers.size() - 1, 1)),
                       "ELR = lr·|g|/|W| of every scale-invariant layer, the angle it rotates per step; colour: depth "
                       "index. Lines that converge mean the ELRs equalize; a fan that stays open is a persistent spread."});
    }
  }
  // Spread against step.
  {
    std::string data = "# step spread\n";
    size_t points = 0;
    for (const MetricsRow& m : metrics) {
      if (!positive_finite(m.spread)) continue;
      data += fmt::format("{} {}\n", m.step, format_double(m.spread));
      ++points;
    }
    if (points == 0) {
      result.skipped.push_back("spread: no finite spread in metrics.jsonl");
    } else {
      write_text(out + "/spread.dat", data);
      specs.push_back({"spread", "ELR spread across layers", "step", "spread (max/min ELR)",
                       "set logscale y\nset key top right\n"
                       "plot 'spread.dat' using 1:2 with lines lw 2 lc rgb '#1b3a8c' title 'spread = max ELR / min ELR', "
                       "1 with lines dt 2 lw 1.5 lc rgb '#888888' title 'spread = 1 (equal ELRs)'",
                       "Ratio of the largest to the smallest ELR over the scale-invariant layers at each logged step."});
    }
  }
  // |W|^2 jump on the first step.
  {
    std::string data = "# depth_index w2_step1/w2_step0 1+elr_step0^2 layer name\n";
    size_t points = 0;
    double max_ratio = 0;
    for (size_t i = 0; i < layers.size(); ++i) {
      const LayerSeries& l = layers[i];
      const double ratio = l.w2_step1 / l.w2_step0;
      if (!positive_finite(ratio)) continue;
      const double predicted = std::isfinite(l.elr_step0) ? 1 + l.elr_step0 * l.elr_step0 : kNaN;
      max_ratio = std::max(max_ratio, std::max(ratio, std::isfinite(predicted) ? predicted : 0.0));
      data += fmt::format("{} {} {} {} {}\n", i, format_double(ratio), format_double(predicted), l.layer, l.name);
      ++points;
    }
    if (points == 0) {
      result.skipped.push_back("w2_jump: steps 0 and 1 are not both logged in layers.csv");
    } else {
      write_text(out + "/w2_jump.dat", data);
      specs.push_back({"w2_jump", "Weight-norm jump on the first step",
                       "depth index of the scale-invariant layer (0 = input side)", "|W₁|² / |W₀|² (ratio)",
                       // Small jumps (all near 1) read better on a linear axis.
                       std::string(max_ratio > 10 ? "set logscale y\n" : "") + "set key top right\n"
                       "plot 'w2_jump.dat' using 1:2 with linespoints pt 7 ps 0.8 lw 1.5 lc rgb '#e6550d' title "
                       "'measured |W₁|²/|W₀|²', '' using 1:3 with lines dt 2 lw 1.5 lc rgb '#1b3a8c' title "
                       "'1 + ELR₀² (plain SGD step, no weight decay)'",
                       "How much each layer's squared weight norm grew on step 0's update. A layer with ELR₀ ≫ 1 "
                       "overshoots: its norm grows by about 1 + ELR₀² and its next ELR drops to about 1/ELR₀."});
    }
  }
  // Predicted against measured ELR when the ODE model's output is present.
  if (path_exists(dir + "/ode.csv")) {
    const CsvTable csv(dir + "/ode.csv");
    bool ok = true;
    for (const char* c : {"step", "layer", "elr_pred", "elr_meas"}) ok = ok && csv.has(c);
    std::map<int64_t, std::vector<std::tuple<int64_t, double, double>>> by_layer;
    if (ok) {
      const size_t step = csv.column("step"), layer = csv.column("layer"), meas = csv.column("elr_meas"),
                   pred = csv.column("elr_pred");
      for (size_t i = 0; i < csv.rows(); ++i)
        by_layer[csv.integer(i, layer)].emplace_back(csv.integer(i, step), csv.number(i, meas), csv.number(i, pred));
    }
    std::string data = "# step elr_meas elr_pred layer_rank  (one block per layer of ode.csv)\n";
    size_t rank = 0, points = 0;
    for (const auto& [layer, rows] : by_layer) {
      data += fmt::format("# layer {}\n", layer);
      for (const auto& [step, meas, pred] : rows) {
        if (!positive_finite(meas) && !positive_finite(pred)) continue;
        data += fmt::format("{} {} {} {}\n", step, positive_finite(meas) ? format_double(meas) : "NaN",
                            positive_finite(pred) ? format_double(pred) : "NaN", rank);
        ++points;
      }
      data += "\n\n";
      ++rank;
    }
    if (!ok || points == 0) {
      result.skipped.push_back("ode: ode.csv lacks the columns step, layer, elr_pred, elr_meas or holds no positive ELR");
    } else {
      write_text(out + "/ode.dat", data);
      specs.push_back(
          {"ode", "Predicted and measured ELR", "step", "ELR (rad/step)",
           fmt::format("set logscale y\nset format y '%.0e'\n{}set cblabel 'layer (rank in ode.csv, 0 = input side)'\n"
                       "set cbrange [0:{}]\nset key top right\n"
                       "plot 'ode.dat' using 1:2:4 with points pt 7 ps 0.5 lc palette notitle, "
                       "'' using 1:3:4 with lines lw 1.2 lc palette notitle, "
                       "NaN with points pt 7 lc rgb 'black' title 'measured', "
                       "NaN with lines lc rgb 'black' title 'predicted (model)'",
                       kPalette, std::max<size_t>(rank - 1, 1)),
           "The ODE model's ELR (lines) against the run's measured ELR (points), from ode.csv."});
    }
  }
}

// ---- the sweep report -------------------------------------------------------------------------

std::string join_json_list(const nlohmann::json& list) {
  std::string s;
  for (const auto& v : list) s += (s.empty() ? "" : " ") + json_text(v);
  return s;
}

void sweep_report(const std::string& dir, const std::string& out, int64_t step, bool plots, Document& doc,
                  std::vector<PlotSpec>& specs, ReportResult& result) {
  const nlohmann::json meta = read_json(dir + "/sweep.json");
  const nlohmann::json table_settings = meta.value("table", nlohmann::json::object());
  const std::vector<int64_t> table_steps =
      table_settings.contains("spread_steps") ? table_settings["spread_steps"].get<std::vector<int64_t>>()
                                              : std::vector<int64_t>{0, 1, 10, 50};
  const double threshold = table_settings.value("spread_threshold", 2.0);
  const SweepGrid grid = grid_from_json(meta);
  const std::vector<SweepRow> table_rows = collect_rows(dir, table_steps, threshold);
  const std::vector<SweepRow> rows = collect_rows(dir, {step}, threshold);

  doc.heading("Sweep");
  std::vector<std::vector<std::string>> grid_rows = {{"varied", "values"}};
  for (const char* k : {"lrs", "depths", "momenta", "lr_controls", "seeds"})
    grid_rows.push_back({k, join_json_list(meta["grid"][k])});
  grid_rows.push_back({"points finished", fmt::format("{} of {}", table_rows.size(), expand_grid(grid).size())});
  doc.table(grid_rows);
  std::vector<std::vector<std::string>> fixed_rows = {{"fixed setting", "value"}};
  const nlohmann::json fixed = meta.value("fixed", nlohmann::json::object());
  for (const char* k : {"model", "width", "dataset", "batch", "steps", "epochs", "weight_decay", "schedule",
                        "warmup_steps", "log_every", "device"})
    if (fixed.contains(k)) fixed_rows.push_back({k, json_text(fixed[k])});
  doc.table(fixed_rows);

  doc.heading("Table");
  doc.paragraph("One row per finished point (the same as table.md; docs/sweep-and-report.md defines the columns).");
  std::vector<std::vector<std::string>> cells;
  {
    std::stringstream md(sweep_table_markdown(table_rows, table_steps, threshold));
    std::string line;
    size_t n = 0;
    while (std::getline(md, line)) {
      if (n++ == 1) continue;  // the --- separator
      std::vector<std::string> row;
      std::stringstream ls(line.substr(1));
      std::string cell;
      while (std::getline(ls, cell, '|')) {
        const size_t a = cell.find_first_not_of(' '), b = cell.find_last_not_of(' ');
        row.push_back(a == std::string::npos ? "" : cell.substr(a, b - a + 1));
      }
      cells.push_back(row);
    }
  }
  doc.table(cells);
  if (!plots) return;

  // Heatmaps of the spread at `step` over lr x depth, one per (momentum, lr control); the
  // geometric mean over seeds.
  for (double momentum : grid.momenta)
    for (const std::string& control : grid.lr_controls) {
      std::map<std::pair<size_t, size_t>, std::pair<double, int>> cell;  // (lr, depth) -> (sum log, count)
      for (const SweepRow& r : rows) {
        if (r.point.momentum != momentum || r.point.lr_control != control) continue;
        if (!r.spread_logged[0] || !positive_finite(r.spread_at[0])) continue;
        const size_t li = std::find(grid.lrs.begin(), grid.lrs.end(), r.point.lr) - grid.lrs.begin();
        const size_t di = std::find(grid.depths.begin(), grid.depths.end(), r.point.depth) - grid.depths.begin();
        auto& c = cell[{li, di}];
        c.first += std::log(r.spread_at[0]);
        c.second += 1;
      }
      const std::string name = fmt::format("heatmap_m{}_{}", format_double(momentum), control);
      if (cell.empty()) {
        result.skipped.push_back(fmt::format("{}: no finished point with a spread logged at step {}", name, step));
        continue;
      }
      std::string data = "# lr_index depth_index spread(geometric mean over seeds) seeds\n";
      double lo = INFINITY, hi = 0;
      for (const auto& [key, v] : cell) {
        const double g = std::exp(v.first / v.second);
        lo = std::min(lo, g);
        hi = std::max(hi, g);
        data += fmt::format("{} {} {} {}\n", key.first, key.second, format_double(g), v.second);
      }
      if (hi <= lo * 1.01) {
        lo /= 2;
        hi *= 2;
      }
      write_text(out + "/" + name + ".dat", data);
      // Log colour scale with explicit ticks: a narrow range would otherwise show no decade tick.
      std::string cbtics;
      for (int i = 0; i < 5; ++i)
        cbtics += fmt::format("{}'{:.3g}' {}", i ? ", " : "", lo * std::pow(hi / lo, i / 4.0), lo * std::pow(hi / lo, i / 4.0));
      std::string xtics, ytics;
      for (size_t i = 0; i < grid.lrs.size(); ++i)
        xtics += fmt::format("{}'{}' {}", i ? ", " : "", format_double(grid.lrs[i]), i);
      for (size_t i = 0; i < grid.depths.size(); ++i)
        ytics += fmt::format("{}'{}' {}", i ? ", " : "", grid.depths[i], i);
      specs.push_back(
          {name, fmt::format("Spread at step {}: momentum {}, lr control {}", step, format_double(momentum), control),
           "learning rate", "depth (layers)",
           fmt::format("set xtics ({})\nset ytics ({})\nset xrange [-0.5:{}]\nset yrange [-0.5:{}]\nunset grid\n"
                       "set logscale cb\nset cbrange [{}:{}]\nset cbtics ({})\nset cblabel 'spread at step {} (max/min ELR, log scale)'\n"
                       "set palette defined (0 '#fff7bc', 0.5 '#fc8d59', 1 '#7f0000')\nunset key\n"
                       "plot '{}.dat' using 1:2:(0.5):(0.5):3 with boxxyerror fs solid 1.0 noborder fc palette notitle, "
                       "'' using 1:2:(sprintf('%.3g', $3)) with labels font ',11' notitle",
                       xtics, ytics, grid.lrs.size() - 0.5, grid.depths.size() - 0.5, format_double(lo),
                       format_double(hi), cbtics, step, name),
           fmt::format("Spread (max/min ELR) at step {}, geometric mean over seeds; empty cells: no finished point "
                       "with that step logged (or a non-finite spread).",
                       step)});
    }

  // Accuracy against early spread.
  {
    bool any_test = false;
    for (const SweepRow& r : rows) any_test = any_test || r.test_accuracy >= 0;
    std::string data = "# spread_at_step accuracy  (one block per depth; last block: diverged points at accuracy 0)\n";
    std::string plot_cmd;
    size_t points = 0, block = 0;
    const char* colors[] = {"#1b3a8c", "#e6550d", "#2ca25f", "#756bb1", "#d62728", "#8c564b", "#17becf", "#7f7f7f"};
    for (int64_t depth : grid.depths) {
      std::string lines;
      for (const SweepRow& r : rows) {
        if (r.point.depth != depth || r.diverged || !r.spread_logged[0] || !positive_finite(r.spread_at[0])) continue;
        const double acc = any_test ? r.test_accuracy : r.train_accuracy;
        if (acc < 0) continue;
        lines += fmt::format("{} {} {}\n", format_double(r.spread_at[0]), format_double(acc), r.point.id);
      }
      if (lines.empty()) continue;
      data += fmt::format("# depth {}\n{}\n\n", depth, lines);
      plot_cmd += fmt::format("{}'accuracy.dat' index {} using 1:2 with points pt 7 ps 1.2 lc rgb '{}' title 'depth {}'",
                              plot_cmd.empty() ? "" : ", ", block, colors[block % 8], depth);
      ++block;
      points += 1;
    }
    std::string diverged;
    for (const SweepRow& r : rows)
      if (r.diverged && r.spread_logged[0] && positive_finite(r.spread_at[0]))
        diverged += fmt::format("{} 0 {}\n", format_double(r.spread_at[0]), r.point.id);
    if (!diverged.empty()) {
      data += "# diverged\n" + diverged + "\n\n";
      plot_cmd += fmt::format("{}'accuracy.dat' index {} using 1:2 with points pt 2 ps 1.5 lc rgb 'black' title "
                              "'diverged (shown at 0)'",
                              plot_cmd.empty() ? "" : ", ", block++);
      points += 1;
    }
    if (points == 0) {
      result.skipped.push_back(fmt::format("accuracy: no finished point with a spread logged at step {}", step));
    } else {
      write_text(out + "/accuracy.dat", data);
      const std::string ylabel = any_test ? "test accuracy (fraction)" : "train accuracy (mean batch accuracy, fraction)";
      specs.push_back({"accuracy", fmt::format("Accuracy against the spread at step {}", step),
                       fmt::format("spread at step {} (max/min ELR)", step), ylabel,
                       "set logscale x\nset yrange [0:*]\nset key outside right top\nplot " + plot_cmd,
                       "Each point is one finished run of the sweep. The paper's claim: large early spreads go "
                       "with worse accuracy, most clearly in deep plain networks."});
    }
  }
}

}  // namespace

ReportResult write_report(const ReportConfig& c) {
  ReportResult result;
  const std::string& dir = c.dir;
  result.is_sweep = path_exists(dir + "/sweep.json");
  if (!result.is_sweep && !path_exists(dir + "/config.json"))
    throw UserError(fmt::format("report: '{}' is neither a run directory (config.json, metrics.jsonl, layers.csv) nor "
                                "a sweep directory (sweep.json)",
                                dir));
  for (const char* file : {"metrics.jsonl", "layers.csv"})
    if (!result.is_sweep && !path_exists(dir + "/" + file))
      throw UserError(fmt::format("report: '{}/{}' is missing: a run directory has config.json, metrics.jsonl and "
                                  "layers.csv",
                                  dir, file));
  std::string gnuplot;
  if (c.plots) {
    gnuplot = find_gnuplot();
    if (gnuplot.empty())
      throw UserError(fmt::format("report: gnuplot not found on PATH; the plots need it ({}), or pass --no-plots "
                                  "for a report with tables only",
                                  gnuplot_install_hint()));
  }
  result.report_dir = dir + "/report";
  make_directories(result.report_dir);

  Document doc;
  std::vector<PlotSpec> specs;
  if (result.is_sweep)
    sweep_report(dir, result.report_dir, c.sweep_step, c.plots, doc, specs, result);
  else
    run_report(dir, result.report_dir, c.plots, doc, specs, result);

  if (!specs.empty()) render_plots(gnuplot, result.report_dir, specs);
  doc.heading("Plots");
  if (!c.plots) doc.paragraph("Written with --no-plots: no plots.");
  for (const PlotSpec& p : specs) {
    doc.plot(p);
    result.plots.push_back(p.name);
  }
  for (const std::string& s : result.skipped) doc.paragraph("Not plotted: " + s + ".");
  doc.paragraph(
      "Plot data: the .dat files next to the plots; plots.gp re-renders them (gnuplot plots.gp). Column "
      "definitions: docs/outputs.md and docs/sweep-and-report.md.");

  const std::string title = (result.is_sweep ? "elrscope sweep report: " : "elrscope run report: ") + dir;
  write_file_atomic(result.report_dir + "/report.md", render_markdown(title, doc));
  write_file_atomic(result.report_dir + "/report.html", render_html(title, doc, result.report_dir));
  return result;
}

}  // namespace elr
