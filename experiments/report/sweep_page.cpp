// The report of a sweep: the grid, the fixed settings and the table; the spread at one step as
// heat maps over learning rate x depth; accuracy against that spread.
#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "engine/files.h"
#include "experiments/report/colors.h"
#include "experiments/report/curves.h"
#include "experiments/report/report_pages.h"
#include "experiments/report/run_tables.h"
#include "experiments/studies/sweep.h"

namespace elr {

namespace {

bool positive_finite(double v) { return std::isfinite(v) && v > 0; }

std::string join_json_list(const nlohmann::json& list) {
  std::string s;
  for (const auto& v : list) s += (s.empty() ? "" : " ") + json_text(v);
  return s;
}

// table.md's rows as cells.
TableRows markdown_cells(const std::string& markdown) {
  TableRows cells;
  std::stringstream md(markdown);
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
  return cells;
}

// Heat maps of the spread at `step` over lr x depth, one per (momentum, lr control): the geometric
// mean over seeds, written in each cell in black or white, whichever reads better on its colour.
void heatmaps(const SweepGrid& grid, const std::vector<SweepRow>& rows, int64_t step, Page& page) {
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
        page.skipped.push_back(fmt::format("{}: no finished point with a spread logged at step {}", name, step));
        continue;
      }
      double lo = INFINITY, hi = 0;
      for (const auto& [key, v] : cell) {
        const double g = std::exp(v.first / v.second);
        lo = std::min(lo, g);
        hi = std::max(hi, g);
      }
      if (hi <= lo * 1.01) {
        lo /= 2;
        hi *= 2;
      }
      std::string data = "# lr_index depth_index spread(geometric mean over seeds) seeds label_colour\n";
      for (const auto& [key, v] : cell) {
        const double g = std::exp(v.first / v.second);
        const Rgb fill = palette_color(kSpreadPalette, std::log(g / lo) / std::log(hi / lo));
        data += fmt::format("{} {} {} {} {:#08x}\n", key.first, key.second, format_double(g), v.second,
                            text_color_on(fill));
      }
      write_file_atomic(page.out + "/" + name + ".dat", data);
      // Log colour scale with explicit ticks: a narrow range would otherwise show no decade tick.
      std::string cbtics;
      for (int i = 0; i < 5; ++i)
        cbtics += fmt::format("{}'{:.3g}' {}", i ? ", " : "", lo * std::pow(hi / lo, i / 4.0),
                              lo * std::pow(hi / lo, i / 4.0));
      std::string xtics, ytics;
      for (size_t i = 0; i < grid.lrs.size(); ++i)
        xtics += fmt::format("{}'{}' {}", i ? ", " : "", format_double(grid.lrs[i]), i);
      for (size_t i = 0; i < grid.depths.size(); ++i)
        ytics += fmt::format("{}'{}' {}", i ? ", " : "", grid.depths[i], i);
      page.specs.push_back(
          {name, fmt::format("Spread at step {}: momentum {}, lr control {}", step, format_double(momentum), control),
           "learning rate", "depth (layers)",
           fmt::format(
               "set xtics ({})\nset ytics ({})\nset xrange [-0.5:{}]\nset yrange [-0.5:{}]\nunset grid\n"
               "set logscale cb\nset cbrange [{}:{}]\nset cbtics ({})\nset cblabel 'spread at step {} (max/min ELR, "
               "log scale)'\n"
               "{}unset key\n"
               "plot '{}.dat' using 1:2:(0.5):(0.5):3 with boxxyerror fs solid 1.0 noborder fc palette notitle, "
               "'' using 1:2:(sprintf('%.3g', $3)):5 with labels font ',11' tc rgb variable notitle",
               xtics, ytics, grid.lrs.size() - 0.5, grid.depths.size() - 0.5, format_double(lo), format_double(hi),
               cbtics, step, gnuplot_palette(kSpreadPalette), name),
           fmt::format("Spread (max/min ELR) at step {}, geometric mean over seeds; empty cells: no finished point "
                       "with that step logged (or a spread that is not positive and finite).",
                       step)});
    }
}

// Accuracy against the spread at `step`: colour = depth, shape = (momentum, lr control). Points
// that would sit on top of each other (equal results, e.g. an lr control that never acted) are
// spread sideways a little, so each stays visible; the data file keeps the exact spread.
void accuracy_scatter(const SweepGrid& grid, const std::vector<SweepRow>& rows, int64_t step, Page& page) {
  bool any_test = false;
  for (const SweepRow& r : rows) any_test = any_test || r.test_accuracy >= 0;
  const int shapes[] = {6, 4, 8, 12, 10, 14, 3, 1};  // open circle, square, triangles, diamond, ...
  struct Dot {
    double spread, accuracy;
    size_t depth, variant;
    bool diverged;
    std::string id;
  };
  std::vector<Dot> dots;
  size_t left_out = 0;
  for (const SweepRow& r : rows) {
    const double acc = r.diverged ? 0.0 : (any_test ? r.test_accuracy : r.train_accuracy);
    if (!r.spread_logged[0] || !positive_finite(r.spread_at[0]) || acc < 0) {
      ++left_out;
      continue;
    }
    const size_t depth = std::find(grid.depths.begin(), grid.depths.end(), r.point.depth) - grid.depths.begin();
    const size_t m = std::find(grid.momenta.begin(), grid.momenta.end(), r.point.momentum) - grid.momenta.begin();
    const size_t c =
        std::find(grid.lr_controls.begin(), grid.lr_controls.end(), r.point.lr_control) - grid.lr_controls.begin();
    dots.push_back({r.spread_at[0], acc, depth, m * grid.lr_controls.size() + c, r.diverged, r.point.id});
  }
  if (left_out > 0)
    page.skipped.push_back(
        fmt::format("in accuracy, {} finished point(s) without a positive finite spread at step {} "
                    "(not logged, not finite, or 0: every scale-invariant layer's gradient is 0, a "
                    "dead network)",
                    left_out, step));
  if (dots.empty()) {
    page.skipped.push_back(fmt::format("accuracy: no finished point with a positive spread logged at step {}", step));
    return;
  }
  // Dots that coincide on the plot (to 0.3% in spread and 0.003 in accuracy) are fanned out in log x.
  std::map<std::pair<long, long>, std::vector<size_t>> same_place;
  for (size_t i = 0; i < dots.size(); ++i)
    same_place[{std::lround(std::log10(dots[i].spread) * 800), std::lround(dots[i].accuracy * 300)}].push_back(i);
  std::vector<double> drawn_at(dots.size());
  for (const auto& [place, members] : same_place)
    for (size_t k = 0; k < members.size(); ++k)
      drawn_at[members[k]] = dots[members[k]].spread * std::pow(10.0, 0.025 * (k - (members.size() - 1) / 2.0));

  std::string data = "# spread_at_step spread_drawn_at accuracy depth_index variant_index diverged point\n";
  for (size_t i = 0; i < dots.size(); ++i)
    data += fmt::format("{} {} {} {} {} {} {}\n", format_double(dots[i].spread), format_double(drawn_at[i]),
                        format_double(dots[i].accuracy), dots[i].depth, dots[i].variant, dots[i].diverged ? 1 : 0,
                        dots[i].id);
  write_file_atomic(page.out + "/accuracy.dat", data);

  // One clause per (depth, variant) that has points, plus key entries for colours and shapes alone.
  std::string plot;
  auto clause = [&](const std::string& c) { plot += (plot.empty() ? "" : ", ") + c; };
  const size_t variants = grid.momenta.size() * grid.lr_controls.size();
  for (size_t d = 0; d < grid.depths.size(); ++d)
    for (size_t v = 0; v < variants; ++v) {
      bool any = false;
      for (const Dot& dot : dots) any = any || (!dot.diverged && dot.depth == d && dot.variant == v);
      if (any)
        clause(
            fmt::format("'accuracy.dat' using 2:(($4=={} && $5=={} && $6==0) ? $3 : NaN) with points pt {} ps 1.4 "
                        "lw 1.5 lc rgb '{}' notitle",
                        d, v, shapes[v % 8], series_color(d)));
    }
  for (size_t d = 0; d < grid.depths.size(); ++d)
    clause(fmt::format("NaN with points pt 7 ps 1.2 lc rgb '{}' title 'depth {}'", series_color(d), grid.depths[d]));
  if (variants > 1)
    for (size_t m = 0; m < grid.momenta.size(); ++m)
      for (size_t c = 0; c < grid.lr_controls.size(); ++c)
        clause(fmt::format("NaN with points pt {} ps 1.2 lw 1.5 lc rgb 'black' title 'momentum {}, {}'",
                           shapes[(m * grid.lr_controls.size() + c) % 8], format_double(grid.momenta[m]),
                           grid.lr_controls[c]));
  bool any_diverged = false;
  for (const Dot& dot : dots) any_diverged = any_diverged || dot.diverged;
  if (any_diverged)
    clause(
        "'accuracy.dat' using 2:($6==1 ? 0 : NaN) with points pt 2 ps 1.5 lw 1.5 lc rgb 'black' "
        "title 'diverged (shown at 0)'");
  const std::string ylabel = any_test ? "test accuracy (fraction)" : "train accuracy (mean batch accuracy, fraction)";
  page.specs.push_back({"accuracy", fmt::format("Accuracy against the spread at step {}", step),
                        fmt::format("spread at step {} (max/min ELR)", step), ylabel,
                        "set logscale x\nset yrange [0:*]\n" + std::string(kKeyBelow) + "plot " + plot,
                        "Each point is one finished run of the sweep: colour = depth, shape = momentum and lr "
                        "control. Points with equal results are spread sideways a little so that each is visible "
                        "(accuracy.dat holds the exact spread). The paper's claim: large early spreads go with "
                        "worse accuracy, most clearly in deep plain networks."});
}

}  // namespace

void sweep_page(const std::string& dir, int64_t step, Page& page) {
  const nlohmann::json meta = read_json(dir + "/sweep.json");
  const nlohmann::json table_settings = meta.value("table", nlohmann::json::object());
  const std::vector<int64_t> table_steps = table_settings.contains("spread_steps")
                                               ? table_settings["spread_steps"].get<std::vector<int64_t>>()
                                               : std::vector<int64_t>{0, 1, 10, 50};
  const double threshold = table_settings.value("spread_threshold", 2.0);
  const SweepGrid grid = grid_from_json(meta);
  const std::vector<SweepRow> table_rows = collect_rows(dir, table_steps, threshold);
  const std::vector<SweepRow> rows = collect_rows(dir, {step}, threshold);

  page.doc.heading("Sweep");
  TableRows grid_rows = {{"varied", "values"}};
  for (const char* k : {"lrs", "depths", "momenta", "lr_controls", "seeds"})
    grid_rows.push_back({k, join_json_list(meta["grid"][k])});
  grid_rows.push_back({"points finished", fmt::format("{} of {}", table_rows.size(), expand_grid(grid).size())});
  page.doc.table(grid_rows);
  TableRows fixed_rows = {{"fixed setting", "value"}};
  const nlohmann::json fixed = meta.value("fixed", nlohmann::json::object());
  for (const char* k : {"model", "width", "dataset", "batch", "steps", "epochs", "weight_decay", "schedule",
                        "warmup_steps", "log_every", "device"})
    if (fixed.contains(k)) fixed_rows.push_back({k, json_text(fixed[k])});
  page.doc.table(fixed_rows);

  page.doc.heading("Table");
  page.doc.paragraph(
      "One row per finished point (the same as table.md; docs/sweep-and-report.md defines the columns).");
  page.doc.table(markdown_cells(sweep_table_markdown(table_rows, table_steps, threshold)));
  if (!page.plots) return;

  heatmaps(grid, rows, step, page);
  accuracy_scatter(grid, rows, step, page);
}

}  // namespace elr
