// The report of one run: settings and summary tables; loss, accuracy, lr and spread against step;
// every scale-invariant layer's ELR, |W|² and |g| against step, the ELR as a layer x step picture;
// the first step's |W|² jump; and the ODE model's prediction when ode.csv is there.
#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "engine/files.h"
#include "experiments/report/colors.h"
#include "experiments/report/curves.h"
#include "experiments/report/report_pages.h"
#include "experiments/report/run_tables.h"

namespace elr {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kBlue = "#1b3a8c";
constexpr const char* kOrange = "#e6550d";
constexpr const char* kGrey = "#888888";
constexpr const char* kDepthAxis = "depth index of the scale-invariant layer (0 = input side)";

bool positive_finite(double v) { return std::isfinite(v) && v > 0; }

std::vector<Divergence> divergences(const RunData& run) {
  if (run.diverged_step() < 0) return {};
  return {{run.diverged_step(), fmt::format("diverged at step {}", run.diverged_step())}};
}

std::string step_axis_of(const RunData& run) { return step_axis(run.last_step(), divergences(run)); }

void loss_plot(const RunData& run, Page& page) {
  page.add_plot(
      {"loss", "Training loss", "step", "loss (cross-entropy of the batch)", step_axis_of(run) + "unset key\n",
       "The mean cross-entropy of each logged step's batch, before that step's update."},
      {curves_plot(page.out, "loss", {{"batch loss", kBlue, metric_points(run.metrics, &MetricsRow::loss)}}, false)},
      "no finite loss in metrics.jsonl");
}

void accuracy_plot(const RunData& run, Page& page) {
  std::vector<Curve> curves = {{"batch accuracy", kBlue, metric_points(run.metrics, &MetricsRow::accuracy)}};
  if (run.summary && std::isfinite(run.summary->test_accuracy))
    curves.push_back({"test accuracy (final model)", kOrange, {{run.last_step(), run.summary->test_accuracy}}});
  page.add_plot({"accuracy", "Accuracy", "step", "accuracy (fraction)",
                 step_axis_of(run) + "set yrange [0:1]\n" + std::string(kKeyBelow),
                 "Fraction of each logged step's batch classified correctly before the update (noisy: one batch), "
                 "and the test-set accuracy of the final model (one point at the last step; absent when not evaluated "
                 "or diverged)."},
                {curves_plot(page.out, "accuracy", curves, false)}, "no accuracy in metrics.jsonl");
}

// Whether LR control gave some layer a learning rate of its own (uniform-elr, lars).
bool per_layer_lr(const RunData& run) {
  std::map<int64_t, double> global;
  for (const MetricsRow& m : run.metrics) global[m.step] = m.lr;
  for (const LayerSeries& l : run.layers)
    for (size_t k = 0; k < l.steps.size(); ++k) {
      const auto g = global.find(l.steps[k]);
      if (g != global.end() && std::isfinite(l.lr[k]) && std::abs(l.lr[k] - g->second) > 1e-9 * std::abs(g->second))
        return true;
    }
  return false;
}

void lr_plot(const RunData& run, Page& page) {
  const bool per_layer = per_layer_lr(run);
  std::vector<PlotParts> parts;
  if (per_layer) parts.push_back(layer_lines_plot(page.out, "layer_lr", run.layers, &LayerSeries::lr));
  parts.push_back(curves_plot(page.out, "lr",
                              {{per_layer ? "global lr (the schedule's)" : "lr", "#000000",
                                metric_points(run.metrics, &MetricsRow::lr), per_layer}},
                              true));
  page.add_plot(
      {"lr", "Learning rate", "step", "learning rate", step_axis_of(run) + "set logscale y\n" + std::string(kKeyBelow),
       per_layer ? "The learning rate of every scale-invariant layer (colour: depth index), set per layer by the "
                   "LR control, and the global schedule's lr (dashed)."
                 : "The learning rate of every tensor: the schedule's value (capped by the critical LR under "
                   "critical-warmup)."},
      parts, "no positive learning rate logged");
}

void spread_plot(const RunData& run, Page& page) {
  const std::vector<Curve> curves = {
      {"spread = max ELR / min ELR", kBlue, metric_points(run.metrics, &MetricsRow::spread)},
      {"lr (right axis)", "#000000", metric_points(run.metrics, &MetricsRow::lr), false, true},
      {"critical LR 1/sqrt(e_max e_min) (right axis)", kOrange, metric_points(run.metrics, &MetricsRow::critical_lr),
       true, true}};
  const PlotParts spread = curves_plot(page.out, "spread", curves, true);
  const PlotParts equal = {"", "1 with lines dt 3 lw 1 lc rgb '" + std::string(kGrey) + "' title 'spread = 1'"};
  page.add_plot(
      {"spread", "ELR spread across layers", "step", "spread (max/min ELR)",
       step_axis_of(run) +
           "set logscale y\nset logscale y2\nset ytics nomirror\nset y2tics\nset y2label 'learning rate'\n" + kKeyBelow,
       "The ratio of the largest to the smallest ELR over the scale-invariant layers (left axis; 1 means equal "
       "ELRs), with the learning rate and the critical LR (right axis): while the lr is above the critical "
       "LR, one plain SGD step widens the spread (docs/science.md)."},
      spread.empty() ? std::vector<PlotParts>{} : std::vector<PlotParts>{spread, equal},
      "no finite spread in metrics.jsonl");
}

void layer_plot(const RunData& run, Page& page, const std::string& name, const std::string& title,
                const std::string& ylabel, std::vector<double> LayerSeries::*column, const std::string& caption) {
  page.add_plot(
      {name, title, "step", ylabel, step_axis_of(run) + "set logscale y\nset format y '%.0e'\nunset key\n", caption},
      {layer_lines_plot(page.out, name, run.layers, column)},
      "no positive finite values of the scale-invariant layers in layers.csv");
}

// log10 ELR over layer (y) x step (x). The logged steps thin out after step 200, so the picture
// has evenly spaced columns, each showing the last logged step at or before its centre.
void elr_map_plot(const RunData& run, Page& page) {
  const int64_t steps = run.last_step() + 1;
  const int64_t columns = std::min<int64_t>(steps, 300);
  const double width = static_cast<double>(steps) / columns;
  std::string data = "# step depth_index log10_elr  (a grid: one row per layer, evenly spaced columns of steps)\n";
  size_t finite = 0;
  for (size_t i = 0; i < run.layers.size(); ++i) {
    const LayerSeries& l = run.layers[i];
    for (int64_t c = 0; c < columns; ++c) {
      const double centre = (c + 0.5) * width - 0.5;
      const auto after = std::upper_bound(l.steps.begin(), l.steps.end(), static_cast<int64_t>(std::floor(centre)));
      const double elr = after == l.steps.begin() ? kNaN : l.elr[after - l.steps.begin() - 1];
      const double v = positive_finite(elr) ? std::log10(elr) : kNaN;
      finite += std::isfinite(v);
      data += fmt::format("{} {} {}\n", format_double(centre), i, std::isfinite(v) ? format_double(v) : "NaN");
    }
    data += "\n";
  }
  if (run.layers.size() < 2 || columns < 2 || finite == 0) {
    page.skipped.push_back("elr_map: needs two scale-invariant layers, two logged steps and a positive ELR");
    return;
  }
  write_file_atomic(page.out + "/elr_map.dat", data);
  page.specs.push_back(
      {"elr_map", "ELR of every layer at every step", "step", kDepthAxis,
       fmt::format("{}set xrange [-0.5:{}]\nset yrange [-0.5:{}]\n{}unset grid\nset tics out\n{}"
                   "set cblabel 'log10 ELR (rad/step)'\nset rmargin 13\nunset key\n"
                   "plot 'elr_map.dat' using 1:2:3 with image notitle",
                   step_axis_of(run), steps - 0.5, run.layers.size() - 0.5,
                   run.layers.size() <= 12 ? "set ytics 1\n" : "", gnuplot_palette(kElrPalette)),
       fmt::format("log10 of each scale-invariant layer's ELR (rows, input side at the bottom) at each step "
                   "(columns){}. Horizontal bands that fade into one colour mean the ELRs equalize; white cells: no "
                   "positive finite ELR.",
                   columns < steps ? fmt::format(", in {} even columns of {:.3g} steps, each showing the last logged "
                                                 "step at or before its centre",
                                                 columns, width)
                                   : "")});
}

void w2_jump_plot(const RunData& run, Page& page) {
  std::string data = "# depth_index w2_step1/w2_step0 1+elr_step0^2 layer name\n";
  size_t points = 0;
  double max_ratio = 0;
  for (size_t i = 0; i < run.layers.size(); ++i) {
    const LayerSeries& l = run.layers[i];
    if (l.steps.size() < 2 || l.steps[0] != 0 || l.steps[1] != 1) continue;
    const double ratio = l.w2[1] / l.w2[0];
    if (!positive_finite(ratio)) continue;
    const double predicted = std::isfinite(l.elr[0]) ? 1 + l.elr[0] * l.elr[0] : kNaN;
    max_ratio = std::max(max_ratio, std::max(ratio, std::isfinite(predicted) ? predicted : 0.0));
    data += fmt::format("{} {} {} {} {}\n", i, format_double(ratio), format_double(predicted), l.layer, l.name);
    ++points;
  }
  if (points == 0) {
    page.skipped.push_back("w2_jump: steps 0 and 1 are not both logged (finite) in layers.csv");
    return;
  }
  write_file_atomic(page.out + "/w2_jump.dat", data);
  page.specs.push_back(
      {"w2_jump", "Weight-norm jump on the first step", kDepthAxis, "|W₁|² / |W₀|² (ratio)",
       // Small jumps (all near 1) read better on a linear axis.
       std::string(max_ratio > 10 ? "set logscale y\n" : "") + "set key top right\n" +
           fmt::format("plot 'w2_jump.dat' using 1:2 with linespoints pt 7 ps 0.8 lw 1.5 lc rgb '{}' title "
                       "'measured |W₁|²/|W₀|²', '' using 1:3 with lines dt 2 lw 1.5 lc rgb '{}' title "
                       "'1 + ELR₀² (plain SGD step, no weight decay)'",
                       kOrange, kBlue),
       "How much each layer's squared weight norm grew on step 0's update. A layer with ELR₀ ≫ 1 "
       "overshoots: its norm grows by about 1 + ELR₀² and its next ELR drops to about 1/ELR₀."});
}

// Predicted against measured ELR when the ODE model's output (elrscope ode) is in the run folder.
void ode_plot(const RunData& run, Page& page) {
  if (!path_exists(run.dir + "/ode.csv")) return;
  const CsvTable csv(run.dir + "/ode.csv");
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
    page.skipped.push_back("ode: ode.csv lacks the columns step, layer, elr_pred, elr_meas or holds no positive ELR");
    return;
  }
  write_file_atomic(page.out + "/ode.dat", data);
  page.specs.push_back(
      {"ode", "Predicted and measured ELR", "step", "ELR (rad/step)",
       fmt::format("set logscale y\nset format y '%.0e'\n{}set cblabel 'layer (rank in ode.csv, 0 = input side)'\n"
                   "set cbrange [0:{}]\nset key top right\n"
                   "plot 'ode.dat' using 1:2:4 with points pt 7 ps 0.5 lc palette notitle, "
                   "'' using 1:3:4 with lines lw 1.2 lc palette notitle, "
                   "NaN with points pt 7 lc rgb 'black' title 'measured', "
                   "NaN with lines lc rgb 'black' title 'predicted (model)'",
                   gnuplot_palette(kDepthPalette), std::max<size_t>(rank, 2) - 1),
       "The ODE model's ELR (lines) against the run's measured ELR (points), from ode.csv."});
}

}  // namespace

void run_page(const RunData& run, int64_t first_steps, Page& page) {
  page.doc.heading("Run");
  page.doc.table(run_settings_table(run));
  page.doc.heading("Summary");
  if (!run.summary) page.doc.paragraph("The run has no summary.json: it has not finished (or was killed).");
  if (run.summary && run.summary->interrupted)
    page.doc.paragraph("The run was interrupted; `elrscope train --resume " + run.dir + "` continues it.");
  page.doc.table(run_summary_table({run}, first_steps));
  page.doc.paragraph(fmt::format(
      "Spread = max ELR / min ELR over the scale-invariant layers, from metrics.jsonl; the log10 statistics count "
      "the logged steps with a positive finite spread (every step for the first 200, then every 10th by default)."));
  if (!page.plots) return;

  loss_plot(run, page);
  accuracy_plot(run, page);
  lr_plot(run, page);
  spread_plot(run, page);
  layer_plot(run, page, "elr", "Effective learning rate per layer", "ELR (rad/step)", &LayerSeries::elr,
             "ELR = lr·|g|/|W| of every scale-invariant layer, the angle it rotates per step; colour: depth index. "
             "Lines that converge mean the ELRs equalize; a fan that stays open is a persistent spread.");
  elr_map_plot(run, page);
  layer_plot(run, page, "w2", "Squared weight norm per layer", "|W|²", &LayerSeries::w2,
             "|W|² of every scale-invariant layer before each step's update; colour: depth index. Scale-invariant "
             "weights grow with every plain SGD step (the update is orthogonal to W), which lowers their ELR.");
  layer_plot(run, page, "grad", "Gradient norm per layer", "|g|", &LayerSeries::g_norm,
             "|g| of every scale-invariant layer (gradient of the mean batch loss, weight decay not included); "
             "colour: depth index.");
  w2_jump_plot(run, page);
  ode_plot(run, page);
}

}  // namespace elr
