#include "experiments/report/curves.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "engine/files.h"
#include "experiments/report/colors.h"
#include "experiments/report/plot.h"

namespace elr {

namespace {

bool plottable(double v, bool log_scale) { return std::isfinite(v) && (!log_scale || v > 0); }

// Lines of few points get a marker on each.
bool mark_points(size_t points) { return points <= 20; }

}  // namespace

std::vector<std::pair<int64_t, double>> metric_points(const std::vector<MetricsRow>& metrics,
                                                      double MetricsRow::*column) {
  std::vector<std::pair<int64_t, double>> points;
  for (const MetricsRow& m : metrics) points.emplace_back(m.step, m.*column);
  return points;
}

PlotParts curves_plot(const std::string& dir, const std::string& file, const std::vector<Curve>& curves,
                      bool log_scale) {
  std::string data = "# step value  (one block per curve)\n", plot;
  size_t block = 0;
  for (const Curve& c : curves) {
    std::string lines;
    size_t n = 0;
    for (const auto& [step, v] : c.points)
      if (plottable(v, log_scale)) {
        lines += fmt::format("{} {}\n", step, format_double(v));
        ++n;
      }
    if (n == 0) continue;
    data += fmt::format("# {}\n{}\n\n", c.title, lines);
    plot += fmt::format("{}'{}.dat' index {} using 1:2{} with {} lw {} lc rgb '{}'{} {}", plot.empty() ? "" : ", ",
                        file, block++, c.right_axis ? " axes x1y2" : "",
                        mark_points(n) ? "linespoints pt 7 ps 0.6" : "lines", c.width > 0 ? c.width : c.dashed ? 1.5 : 2, c.color,
                        c.dashed ? " dt 2" : "", c.title.empty() ? "notitle" : "title " + gnuplot_quote(c.title));
  }
  if (plot.empty()) return {};
  write_file_atomic(dir + "/" + file + ".dat", data);
  return {"", plot};
}

PlotParts layer_lines_plot(const std::string& dir, const std::string& file, const std::vector<LayerSeries>& layers,
                           std::vector<double> LayerSeries::*column) {
  std::string data = "# step value depth_index  (one block per scale-invariant layer)\n";
  size_t points = 0, longest = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerSeries& l = layers[i];
    data += fmt::format("# {} {}\n", l.layer, l.name);
    size_t n = 0;
    for (size_t k = 0; k < l.steps.size(); ++k)
      if (plottable((l.*column)[k], true)) {
        data += fmt::format("{} {} {}\n", l.steps[k], format_double((l.*column)[k]), i);
        ++n;
      }
    data += "\n\n";
    points += n;
    longest = std::max(longest, n);
  }
  if (points == 0) return {};
  write_file_atomic(dir + "/" + file + ".dat", data);
  return {fmt::format("{}set cblabel 'depth index of the scale-invariant layer (0 = input side)'\nset cbrange [0:{}]\n",
                      gnuplot_palette(kDepthPalette), std::max<size_t>(layers.size(), 2) - 1),
          fmt::format("'{}.dat' using 1:2:3 with {} lw 1.5 lc palette notitle", file,
                      mark_points(longest) ? "linespoints pt 7 ps 0.6" : "lines")};
}

std::string step_axis(int64_t last_step, const std::vector<Divergence>& divergences) {
  const int64_t end = std::max<int64_t>(last_step, 1);
  // A little room on both sides, so that points on the first and last step are not hidden by the border.
  const double pad = 0.02 * static_cast<double>(end);
  std::string s = fmt::format("set xrange [{}:{}]\n{}", -pad, end + pad, end <= 10 ? "set xtics 1\n" : "");
  for (size_t i = 0; i < divergences.size(); ++i) {
    const Divergence& d = divergences[i];
    // The text goes on the side of the line with more room.
    const bool left_half = d.step < end / 2.0;
    s += fmt::format(
        "set arrow from {0}, graph 0 to {0}, graph 1 nohead lw 1.5 dt 2 lc rgb '#d62728' front\n"
        "set label {1} at {0}, graph {2} {3} offset {4},0 tc rgb '#d62728' front\n",
        d.step, gnuplot_quote(d.text), 0.05 + 0.07 * static_cast<double>(i), left_half ? "left" : "right",
        left_half ? 0.7 : -0.7);
  }
  return s;
}

}  // namespace elr
