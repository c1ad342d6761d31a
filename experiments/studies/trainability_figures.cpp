// The trainability study's figures (gnuplot, through experiments/report/plot.h): accuracy against
// the early spread, accuracy against lr, and the spread against step.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "engine/error.h"
#include "engine/files.h"
#include "experiments/report/plot.h"
#include "experiments/run/run_logs.h"
#include "experiments/studies/trainability.h"

namespace elr {

namespace {

namespace fs = std::filesystem;

std::string warmup_colour(const std::string& warmup) {
  static const std::map<std::string, std::string> colours = {{"none", "#d62728"},
                                                             {"linear", "#8c564b"},
                                                             {"low-lr", "#1f77b4"},
                                                             {"critical-warmup", "#2ca02c"},
                                                             {"max-elr-warmup", "#ff7f0e"}};
  const auto it = colours.find(warmup);
  return it == colours.end() ? "#7f7f7f" : it->second;
}

bool is_short(const std::string& model) { return model == "resnet"; }
std::string model_label(const std::string& model) { return is_short(model) ? "Short (resnet)" : "No Short (resnet-noshort)"; }
int filled_marker(const std::string& model) { return is_short(model) ? 7 : 9; }  // circle, triangle
int open_marker(const std::string& model) { return is_short(model) ? 6 : 8; }

double depth_point_size(const TrainabilityGrid& grid, int64_t depth) {
  for (size_t i = 0; i < grid.depths.size(); ++i)
    if (grid.depths[i] == depth) return 0.9 + 0.6 * static_cast<double>(i);
  return 1;
}

// The interval's ends, or its mean twice when it has none.
double low_or_mean(const Interval& i) { return std::isnan(i.low) ? i.mean : i.low; }
double high_or_mean(const Interval& i) { return std::isnan(i.high) ? i.mean : i.high; }

std::string number(double v) { return format_double(v); }

// Key entries that explain the markers, colours and sizes once.
std::string legend(const TrainabilityGrid& grid, bool sizes) {
  std::string s;
  for (const std::string& m : grid.models)
    s += fmt::format(", NaN with points pt {} ps 1.3 lc rgb 'black' title {}", filled_marker(m),
                     gnuplot_quote(model_label(m)));
  for (const std::string& w : grid.warmups)
    s += fmt::format(", NaN with lines lw 4 lc rgb '{}' title {}", warmup_colour(w), gnuplot_quote("warm-up " + w));
  if (sizes)
    for (int64_t d : grid.depths)
      s += fmt::format(", NaN with points pt 6 ps {} lc rgb 'black' title 'depth {}'", depth_point_size(grid, d), d);
  return s;
}

PlotSpec accuracy_vs_spread(const std::string& dir, const std::vector<TrainabilityRow>& rows,
                            const std::vector<TrainabilityGroup>& groups, const TrainabilityGrid& grid,
                            int64_t early_steps) {
  std::string data = "# early mean log10 spread: mean low high; test accuracy: mean low high (one block per setting)\n";
  std::string runs = "# early mean log10 spread, test accuracy (one block per setting, one line per run)\n";
  std::string plot = "plot ";
  int block = 0;
  for (const TrainabilityGroup& g : groups) {
    if (std::isnan(g.early_spread.mean) || std::isnan(g.accuracy.mean)) continue;
    data += fmt::format("{} {} {} {} {} {}\n\n\n", number(g.early_spread.mean), number(low_or_mean(g.early_spread)),
                        number(high_or_mean(g.early_spread)), number(g.accuracy.mean),
                        number(low_or_mean(g.accuracy)), number(high_or_mean(g.accuracy)));
    for (const TrainabilityRow& r : rows)
      if (r.point.model == g.model && r.point.depth == g.depth && r.point.lr == g.lr && r.point.warmup == g.warmup &&
          std::isfinite(r.early_mean_log10_spread) && std::isfinite(r.test_accuracy))
        runs += fmt::format("{} {}\n", number(r.early_mean_log10_spread), number(r.test_accuracy));
    runs += "\n\n";
    const std::string colour = warmup_colour(g.warmup);
    const double size = depth_point_size(grid, g.depth);
    plot += fmt::format("{}'accuracy_vs_spread.dat' index {} using 1:4:2:3:5:6 with xyerrorbars pt {} ps {} lw 1.3 "
                        "lc rgb '{}' notitle, 'accuracy_vs_spread_runs.dat' index {} using 1:2 with points pt {} ps {} "
                        "lc rgb '{}' notitle",
                        block ? ", " : "", block, filled_marker(g.model), size, colour, block, open_marker(g.model),
                        0.6 * size, colour);
    ++block;
  }
  write_file_atomic(dir + "/accuracy_vs_spread.dat", data);
  write_file_atomic(dir + "/accuracy_vs_spread_runs.dat", runs);
  PlotSpec p;
  p.name = "accuracy_vs_spread";
  p.title = "Test accuracy against the early ELR spread";
  p.xlabel = fmt::format("mean log10 ELR spread over steps 0-{}", early_steps - 1);
  p.ylabel = "test accuracy (fraction)";
  p.body = "set key outside right top\nset yrange [0<*:*<1]\n" + plot + legend(grid, grid.depths.size() > 1);
  p.caption = "Each setting (model, depth, lr, warm-up) at its mean over seeds, with t-based 95% intervals in both "
              "directions; open markers are the single runs. Marker: Short or No Short; colour: warm-up; size: depth.";
  if (block == 0) p.body.clear();
  return p;
}

std::vector<PlotSpec> accuracy_vs_lr(const std::string& dir, const std::vector<TrainabilityGroup>& groups,
                                     const TrainabilityGrid& grid) {
  std::vector<PlotSpec> specs;
  for (int64_t depth : grid.depths) {
    const std::string name = fmt::format("accuracy_vs_lr_d{}", depth);
    std::string data = "# lr, test accuracy: mean low high (one block per model and warm-up)\n";
    std::string plot = "plot ";
    int block = 0;
    for (const std::string& model : grid.models)
      for (const std::string& warmup : grid.warmups) {
        std::string lines;
        for (const TrainabilityGroup& g : groups)
          if (g.model == model && g.depth == depth && g.warmup == warmup && !std::isnan(g.accuracy.mean))
            lines += fmt::format("{} {} {} {}\n", number(g.lr), number(g.accuracy.mean), number(low_or_mean(g.accuracy)),
                                 number(high_or_mean(g.accuracy)));
        if (lines.empty()) continue;
        data += lines + "\n\n";
        plot += fmt::format("{}'{}.dat' index {} using 1:2:3:4 with yerrorlines pt {} ps 1.2 lw 1.5 dt {} lc rgb '{}' "
                            "notitle",
                            block ? ", " : "", name, block, filled_marker(model), is_short(model) ? 1 : 2,
                            warmup_colour(warmup));
        ++block;
      }
    if (block == 0) continue;
    write_file_atomic(dir + "/" + name + ".dat", data);
    PlotSpec p;
    p.name = name;
    p.title = fmt::format("Test accuracy against the learning rate, depth {}", depth);
    p.xlabel = "base learning rate";
    p.ylabel = "test accuracy (fraction)";
    p.body = "set logscale x\nset key outside right top\nset yrange [0<*:*<1]\nset offsets graph 0.05, graph 0.05, 0, 0\n" + plot +
             legend(grid, false);
    p.caption = "Means over seeds with t-based 95% intervals; solid: Short, dashed: No Short; colour: warm-up.";
    specs.push_back(p);
  }
  return specs;
}

std::vector<PlotSpec> spread_against_step(const std::string& study_dir, const std::string& dir,
                                          const std::vector<TrainabilityRow>& rows, const TrainabilityGrid& grid) {
  std::vector<PlotSpec> specs;
  for (int64_t depth : grid.depths)
    for (double lr : grid.lrs) {
      const std::string name = fmt::format("spread_d{}_lr{}", depth, format_double(lr));
      std::string data = "# step, mean over seeds of log10 spread (one block per model and warm-up)\n";
      std::string plot = "plot ";
      int block = 0;
      for (const std::string& model : grid.models)
        for (const std::string& warmup : grid.warmups) {
          std::map<int64_t, std::pair<double, int>> sums;  // step -> (sum of log10 spread, runs)
          for (const TrainabilityRow& r : rows) {
            const TrainabilityPoint& p = r.point;
            if (p.model != model || p.depth != depth || p.lr != lr || p.warmup != warmup) continue;
            for (const MetricsRow& m : read_metrics_jsonl(grid_point_dir(study_dir, p.id) + "/metrics.jsonl")) {
              const double v = std::log10(m.spread);
              if (!std::isfinite(v)) continue;
              sums[m.step].first += v;
              ++sums[m.step].second;
            }
          }
          if (sums.empty()) continue;
          for (const auto& [step, sum] : sums) data += fmt::format("{} {}\n", step, number(sum.first / sum.second));
          data += "\n\n";
          plot += fmt::format("{}'{}.dat' index {} using 1:2 with lines lw 1.6 dt {} lc rgb '{}' notitle", block ? ", " : "",
                              name, block, is_short(model) ? 1 : 2, warmup_colour(warmup));
          ++block;
        }
      if (block == 0) continue;
      write_file_atomic(dir + "/" + name + ".dat", data);
      PlotSpec p;
      p.name = name;
      p.title = fmt::format("ELR spread during training, depth {}, lr {}", depth, format_double(lr));
      p.xlabel = "step";
      p.ylabel = "log10 (max ELR / min ELR), mean over seeds";
      std::string keys;
      for (const std::string& m : grid.models)
        keys += fmt::format(", NaN with lines lw 2 dt {} lc rgb 'black' title {}", is_short(m) ? 1 : 2,
                            gnuplot_quote(model_label(m)));
      for (const std::string& w : grid.warmups)
        keys += fmt::format(", NaN with lines lw 4 lc rgb '{}' title {}", warmup_colour(w), gnuplot_quote("warm-up " + w));
      p.body = "set key outside right top\n" + plot + keys;
      p.caption = "The mean over seeds of log10 spread at each logged step; solid: Short, dashed: No Short; colour: "
                  "warm-up.";
      specs.push_back(p);
    }
  return specs;
}

}  // namespace

std::vector<std::string> render_trainability_figures(const std::string& dir, const std::vector<TrainabilityRow>& rows,
                                                     const std::vector<TrainabilityGroup>& groups,
                                                     const TrainabilityGrid& grid, int64_t early_steps) {
  const std::string gnuplot = find_gnuplot();
  if (gnuplot.empty())
    throw UserError(fmt::format("the figures need gnuplot, which is not on PATH ({})", gnuplot_install_hint()));
  const std::string work = fmt::format("{}/figures.tmp.{}", dir, ::getpid());
  fs::remove_all(work);
  make_directories(work);
  std::vector<PlotSpec> specs;
  const PlotSpec scatter = accuracy_vs_spread(work, rows, groups, grid, early_steps);
  if (!scatter.body.empty()) specs.push_back(scatter);
  for (const PlotSpec& p : accuracy_vs_lr(work, groups, grid)) specs.push_back(p);
  for (const PlotSpec& p : spread_against_step(dir, work, rows, grid)) specs.push_back(p);
  std::vector<std::string> names;
  if (!specs.empty()) {
    render_plots(gnuplot, work, specs, true);
    for (const PlotSpec& p : specs) names.push_back(p.name);
  }
  // Into DIR/figures/ one file at a time: each rename replaces a whole file.
  make_directories(dir + "/figures");
  for (const fs::directory_entry& e : fs::directory_iterator(work))
    fs::rename(e.path(), fs::path(dir) / "figures" / e.path().filename());
  fs::remove_all(work);
  return names;
}

}  // namespace elr
