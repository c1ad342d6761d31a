// The report of `elrscope explode --out DIR` (one folder, or several to compare models): e = |g|/|W|
// against the layer index per depth, with the fitted growth line; the growth fit and the
// backward amplification tables.
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "engine/files.h"
#include "experiments/report/colors.h"
#include "experiments/report/curves.h"
#include "experiments/report/plot.h"
#include "experiments/report/report_pages.h"
#include "experiments/report/run_tables.h"
#include "experiments/run/run_logs.h"
#include "experiments/studies/explode.h"

namespace elr {

namespace {

std::string folder_label(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return d.substr(d.find_last_of('/') == std::string::npos ? 0 : d.find_last_of('/') + 1);
}

// A number of the summary, or "-" where explode left it empty (not measured).
std::string cell(const CsvTable& t, size_t row, const char* column) {
  const double v = t.number(row, t.column(column));
  return std::isnan(v) ? "-" : number_text(v);
}

}  // namespace

bool is_explode_dir(const std::string& dir) {
  return path_exists(dir + "/explode_layers.csv") && path_exists(dir + "/explode_summary.csv");
}

void explode_page(const std::vector<std::string>& dirs, Page& page) {
  const bool several = dirs.size() > 1;
  TableRows fit = {{"depth", "layers", "growth/layer (log10 e)", "factor", "R²", "e first/last"}};
  TableRows amp = {{"depth", "BN-bwd amp", "conv-bwd amp", "BN*conv", "factor (fit)", "BN nodes", "conv nodes"}};
  if (several) {
    fit[0].insert(fit[0].begin(), "folder");
    amp[0].insert(amp[0].begin(), "folder");
  }
  std::string data = "# index e  (blocks: measured e of one folder and depth, then its fitted line)\n", plot;
  size_t block = 0, curve = 0;
  std::map<int, size_t> depth_colour;
  const int shapes[] = {7, 5, 9, 13, 11, 15};
  for (size_t f = 0; f < dirs.size(); ++f) {
    const std::string label = folder_label(dirs[f]);
    const CsvTable summary(dirs[f] + "/explode_summary.csv");
    for (size_t r = 0; r < summary.rows(); ++r) {
      std::vector<std::string> fit_row = {summary.text(r, summary.column("depth")),
                                          summary.text(r, summary.column("layers")),
                                          cell(summary, r, "growth_log10"),
                                          cell(summary, r, "growth_factor"),
                                          cell(summary, r, "fit_r2"),
                                          cell(summary, r, "e_first_last")};
      const double bn = summary.number(r, summary.column("bn_amp")),
                   conv = summary.number(r, summary.column("conv_amp"));
      std::vector<std::string> amp_row = {summary.text(r, summary.column("depth")),
                                          cell(summary, r, "bn_amp"),
                                          cell(summary, r, "conv_amp"),
                                          std::isnan(bn * conv) ? "-" : number_text(bn * conv),
                                          cell(summary, r, "growth_factor"),
                                          summary.text(r, summary.column("bn_nodes")),
                                          summary.text(r, summary.column("conv_nodes"))};
      if (several) {
        fit_row.insert(fit_row.begin(), label);
        amp_row.insert(amp_row.begin(), label);
      }
      fit.push_back(fit_row);
      amp.push_back(amp_row);
    }

    const CsvTable layers(dirs[f] + "/explode_layers.csv");
    std::map<int64_t, std::vector<std::pair<double, double>>> by_depth;  // depth -> (index, e)
    for (size_t r = 0; r < layers.rows(); ++r) {
      const double e = layers.number(r, layers.column("e"));
      if (std::isfinite(e) && e > 0)
        by_depth[layers.integer(r, layers.column("depth"))].emplace_back(
            static_cast<double>(layers.integer(r, layers.column("index"))), e);
    }
    for (const auto& [depth, points] : by_depth) {
      std::vector<double> x, y;
      for (const auto& [index, e] : points) {
        x.push_back(index);
        y.push_back(std::log10(e));
        data += fmt::format("{} {}\n", index, format_double(e));
      }
      const LineFit line = fit_line(x, y);
      data += fmt::format("\n\n{} {}\n{} {}\n\n\n", x.front(),
                          format_double(std::pow(10.0, line.intercept + line.slope * x.front())), x.back(),
                          format_double(std::pow(10.0, line.intercept + line.slope * x.back())));
      const size_t colour = depth_colour.emplace(static_cast<int>(depth), depth_colour.size()).first->second;
      const std::string title =
          fmt::format("{}depth {}: {:.3g} decades/layer", several ? label + ", " : "", depth, -line.slope);
      plot += fmt::format(
          "{}'explode_e.dat' index {} using 1:2 with linespoints pt {} ps 0.6 lw 1.5 lc rgb '{}' title {}, "
          "'' index {} using 1:2 with lines dt 2 lw 1.5 lc rgb '{}' notitle",
          plot.empty() ? "" : ", ", block, shapes[f % 6], series_color(colour), gnuplot_quote(title), block + 1,
          series_color(colour));
      block += 2;
      ++curve;
    }
  }

  page.doc.heading("Growth of e = |g|/|W| with depth");
  page.doc.paragraph(
      "Per depth: a least-squares line through (layer index, log10 e) over the scale-invariant layers, index 0 "
      "nearest the input. growth/layer = minus its slope (> 0: e grows toward the input, a gradient explosion); "
      "factor = 10^growth, e's ratio between neighbouring layers; R² says how straight the line is "
      "(docs/explode-and-ode.md).");
  page.doc.table(fit);
  page.doc.heading("Backward amplification");
  page.doc.paragraph(
      "Geometric mean of |dL/dx| / |dL/dy| across each batch-norm backward (with its fused ReLU) and each conv "
      "backward-data; BN*conv is the per-layer growth of the activation gradient the kernels predict, to compare "
      "with the fitted factor. '-': not measured.");
  page.doc.table(amp);
  if (!page.plots) return;
  if (curve == 0) {
    page.skipped.push_back("explode_e: no positive e in explode_layers.csv");
    return;
  }
  write_file_atomic(page.out + "/explode_e.dat", data);
  page.specs.push_back(
      {"explode_e", "e = |g|/|W| at initialization, per layer", "index of the scale-invariant layer (0 = input side)",
       "e = |g| / |W| (log scale)",
       "set logscale y\nset format y '%.0e'\nset offsets 0.2, 0.2, 0, 0\nset autoscale xfix\n" + std::string(kKeyBelow) + "plot " + plot,
       std::string("Geometric mean of e over the batches and seeds of explode, one line per depth") +
           (several ? " and folder (shape: folder)" : "") +
           "; dashed: the fitted line of log10 e. A straight falling line is the exponential growth of the gradient "
           "toward the input."});
}

}  // namespace elr
