// The report of several runs side by side: which settings differ, each run's summary, and the
// curves against step overlaid, one colour per run.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "experiments/report/colors.h"
#include "experiments/report/curves.h"
#include "experiments/report/report_pages.h"
#include "experiments/report/run_tables.h"

namespace elr {

namespace {

// Curves of one metrics.jsonl column, one per run in the run's colour. Each run's line is thinner
// than the one before, so that runs with equal numbers still show every colour.
std::vector<Curve> per_run(const std::vector<RunData>& runs, double MetricsRow::*column, const std::string& suffix = "",
                           bool dashed = false) {
  std::vector<Curve> curves;
  for (size_t i = 0; i < runs.size(); ++i)
    curves.push_back({runs[i].label + suffix, series_color(i), metric_points(runs[i].metrics, column), dashed, false,
                      1.5 + 1.5 * static_cast<double>(runs.size() - 1 - i)});
  return curves;
}

// The longest run's step axis, and every divergence marked with the run's name.
std::string shared_step_axis(const std::vector<RunData>& runs) {
  int64_t last = 0;
  std::vector<Divergence> marks;
  for (const RunData& r : runs) {
    last = std::max(last, r.last_step());
    if (r.diverged_step() >= 0)
      marks.push_back({r.diverged_step(), fmt::format("{} diverged at step {}", r.label, r.diverged_step())});
  }
  return step_axis(last, marks);
}

}  // namespace

void comparison_page(const std::vector<RunData>& runs, int64_t first_steps, Page& page) {
  page.doc.heading("Runs");
  TableRows list = {{"run", "colour in the plots", "folder"}};
  for (size_t i = 0; i < runs.size(); ++i) list.push_back({runs[i].label, series_color_name(i), runs[i].dir});
  page.doc.table(list);

  page.doc.heading("Settings that differ");
  const TableRows differing = differing_settings_table(runs);
  if (differing.size() == 1)
    page.doc.paragraph("None: config.json holds the same settings in every run.");
  else
    page.doc.table(differing);
  page.doc.heading("Settings they share");
  page.doc.table(shared_settings_table(runs));

  page.doc.heading("Summary");
  page.doc.table(run_summary_table(runs, first_steps));
  page.doc.paragraph(
      "Spread = max ELR / min ELR over the scale-invariant layers, from metrics.jsonl; the log10 statistics count "
      "the logged steps with a positive finite spread.");
  if (!page.plots) return;

  const std::string axis = shared_step_axis(runs) + kKeyBelow;
  page.add_plot({"loss", "Training loss", "step", "loss (cross-entropy of the batch)", axis,
                 "The mean cross-entropy of each logged step's batch, before the update; one colour per run."},
                {curves_plot(page.out, "loss", per_run(runs, &MetricsRow::loss), false)},
                "no finite loss in any metrics.jsonl");

  std::vector<Curve> accuracy = per_run(runs, &MetricsRow::accuracy, " batch");
  for (size_t i = 0; i < runs.size(); ++i)
    if (runs[i].summary && std::isfinite(runs[i].summary->test_accuracy))
      accuracy.push_back({runs[i].label + " test (final model)",
                          series_color(i),
                          {{runs[i].last_step(), runs[i].summary->test_accuracy}}});
  page.add_plot({"accuracy", "Accuracy", "step", "accuracy (fraction)", axis + "set yrange [0:1]\n",
                 "Batch accuracy before each logged step's update (lines), and the test-set accuracy of each final "
                 "model (a point at its last step, when evaluated)."},
                {curves_plot(page.out, "accuracy", accuracy, false)}, "no accuracy in any metrics.jsonl");

  std::vector<Curve> lr = per_run(runs, &MetricsRow::lr, " lr");
  for (Curve& c : per_run(runs, &MetricsRow::critical_lr, " critical LR", true)) lr.push_back(c);
  page.add_plot({"lr", "Learning rate and critical LR", "step", "learning rate", axis + "set logscale y\n",
                 "The global learning rate (solid; per-layer LR control sets each layer's own, see each run's "
                 "report) and the critical LR 1/sqrt(e_max e_min) (dashed): above it, one plain SGD step widens "
                 "the spread."},
                {curves_plot(page.out, "lr", lr, true)}, "no positive learning rate logged");

  const PlotParts spread = curves_plot(page.out, "spread", per_run(runs, &MetricsRow::spread), true);
  page.add_plot({"spread", "ELR spread across layers", "step", "spread (max/min ELR)", axis + "set logscale y\n",
                 "Max ELR / min ELR over the scale-invariant layers at each logged step; 1 means equal ELRs."},
                spread.empty() ? std::vector<PlotParts>{}
                               : std::vector<PlotParts>{spread,
                                                        {"",
                                                         "1 with lines dt 3 lw 1 lc rgb '#888888' "
                                                         "title 'spread = 1'"}},
                "no finite spread in any metrics.jsonl");

  std::vector<Curve> extremes = per_run(runs, &MetricsRow::elr_max, " largest ELR");
  for (Curve& c : per_run(runs, &MetricsRow::elr_min, " smallest ELR", true)) extremes.push_back(c);
  page.add_plot({"elr_range", "Largest and smallest ELR", "step", "ELR (rad/step)",
                 axis + "set logscale y\nset format y '%.0e'\n",
                 "The largest (solid) and the smallest (dashed) ELR over the scale-invariant layers: the band "
                 "between them is the spread."},
                {curves_plot(page.out, "elr_range", extremes, true)}, "no positive ELR in any metrics.jsonl");
}

}  // namespace elr
