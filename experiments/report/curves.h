// Curves against step, for the run and comparison pages: their data file and plot command, lines
// of every scale-invariant layer coloured by depth, and the step axis (its range, and where a run
// diverged).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "experiments/report/plot.h"
#include "experiments/report/run_data.h"

namespace elr {

// The key under the plot, one entry a line when the names are long. No box: the SVG's text is
// wider than gnuplot reckons, and a box would cut through the x label or the names.
constexpr const char* kKeyBelow = "set key below nobox noopaque reverse Left width 3\n";

struct Curve {
  std::string title;                               // key entry; "" for none
  std::string color;                               // '#rrggbb'
  std::vector<std::pair<int64_t, double>> points;  // (step, value)
  bool dashed = false;
  bool right_axis = false;  // drawn against y2
  double width = 0;         // line width; 0: 2 (1.5 when dashed)
};

// A run's metrics.jsonl column as curve points.
std::vector<std::pair<int64_t, double>> metric_points(const std::vector<MetricsRow>& metrics,
                                                      double MetricsRow::*column);

// Writes `dir`/<file>.dat, one block per curve, with the points whose value is finite (and
// positive when `log_scale`). A short curve gets a marker on every point, so that a single finite
// step (a run that diverged at once) is still drawn.
PlotParts curves_plot(const std::string& dir, const std::string& file, const std::vector<Curve>& curves,
                      bool log_scale);

// Writes `dir`/<file>.dat: one line per scale-invariant layer of `column` (positive finite values),
// coloured by depth index with a colour bar.
PlotParts layer_lines_plot(const std::string& dir, const std::string& file, const std::vector<LayerSeries>& layers,
                           std::vector<double> LayerSeries::*column);

struct Divergence {
  int64_t step = 0;
  std::string text;  // e.g. "diverged at step 3"
};
// The step axis from 0 to `last_step` (and a little beyond), and a dashed red line with its text at each divergence.
std::string step_axis(int64_t last_step, const std::vector<Divergence>& divergences);

}  // namespace elr
