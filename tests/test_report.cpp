// `elrscope report` of a run and of a sweep: every plot, with labelled axes and a caption, in a
// self-contained HTML; the plotted numbers match the run's logs (|W|² jump, the ELR picture, the
// spread summary); a diverged run's finite step is drawn and its divergence marked; the sweep's
// heat-map labels contrast with their cells and equal results stay visible; without gnuplot the
// command names it.
#include "test_util.h"
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "experiments/run/run_logs.h"

using elr::testing::exists;
using elr::testing::Outcome;
using elr::testing::read_all;
using elr::testing::run_elrscope;

namespace {

std::string scratch(const std::string& name) {
  const std::string dir = "/tmp/elr_test_report_" + std::to_string(::getpid()) + "/" + name;
  std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str());
  return dir;
}

bool have_gnuplot() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> cells;
  std::stringstream ss(line);
  std::string c;
  while (std::getline(ss, c, sep)) cells.push_back(c);
  return cells;
}

// The data lines of a plot's .dat file (comments and blank lines left out), split at spaces.
std::vector<std::vector<std::string>> dat_rows(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] != '#') rows.push_back(split(line, ' '));
  return rows;
}

// A tiny finished run: plain SGD (no momentum, no weight decay), so that |W_1|^2 = |W_0|^2 (1 + ELR_0^2).
std::string tiny_run(const std::string& name, const std::string& extra = "", int steps = 3) {
  const std::string dir = scratch(name);
  const Outcome o =
      run_elrscope(fmt::format("train --model plain --depth 4 --width 4 --dataset synthetic "
                               "--synthetic-size 64 --batch 16 --steps {} --lr 1 --momentum 0 --threads 1 "
                               "--quiet {} --out '{}'",
                               steps, extra, dir));
  INFO(o.output);
  REQUIRE(o.exit_code == 0);
  return dir;
}

// The ids inside each inline plot carry the plot's name, so that no two plots share one (gnuplot
// names its definitions alike in every SVG).
bool ids_scoped(const std::string& html) {
  size_t figures = 0;
  for (size_t at = html.find("<figure id=\""); at != std::string::npos; at = html.find("<figure id=\"", at + 1)) {
    const size_t name_begin = at + 12;
    const std::string name = html.substr(name_begin, html.find('"', name_begin) - name_begin);
    const std::string figure = html.substr(name_begin, html.find("</figure>", at) - name_begin);
    for (const char* attr : {" id='", " id=\""})
      for (size_t i = figure.find(attr); i != std::string::npos; i = figure.find(attr, i + 1))
        if (figure.compare(i + 5, name.size() + 1, name + "-") != 0) {
          UNSCOPED_INFO("plot " << name << " holds an id without its name: " << figure.substr(i, 40));
          return false;
        }
    ++figures;
  }
  return figures > 0;
}

// Every link of the page points inside it (#id) or holds its data (data: URI).
bool self_contained(const std::string& html) {
  for (const char* attr : {"href='", "href=\""})
    for (size_t at = html.find(attr); at != std::string::npos; at = html.find(attr, at + 1)) {
      const std::string target = html.substr(at + 6, 5);
      if (target[0] != '#' && target != "data:") return false;
    }
  return html.find("src=") == std::string::npos && html.find(".png") == std::string::npos;
}

// The axis labels (and key entries) each plot must show.
const std::map<std::string, std::vector<std::string>> kRunPlotLabels = {
    {"loss", {"step", "loss (cross-entropy of the batch)"}},
    {"accuracy", {"step", "accuracy (fraction)", "batch accuracy", "test accuracy (final model)"}},
    {"lr", {"step", "learning rate"}},
    {"spread", {"step", "spread (max/min ELR)", "learning rate", "critical LR"}},
    {"elr", {"step", "ELR (rad/step)", "depth index of the scale-invariant layer"}},
    {"elr_map", {"step", "depth index of the scale-invariant layer", "log10 ELR (rad/step)"}},
    {"w2", {"step", "|W|²", "depth index of the scale-invariant layer"}},
    {"grad", {"step", "|g|", "depth index of the scale-invariant layer"}},
    {"w2_jump", {"depth index of the scale-invariant layer (0 = input side)", "|W₁|² / |W₀|² (ratio)"}},
    {"ode", {"step", "ELR (rad/step)", "measured", "predicted"}},
};

}  // namespace

TEST_CASE("report: without gnuplot the command names it and how to install it", "[report]") {
  const std::string run = tiny_run("no_gnuplot");
  const Outcome o = run_elrscope("report '" + run + "'", "PATH=/nonexistent");
  INFO(o.output);
  CHECK(o.exit_code == 2);
  CHECK(o.output.find("gnuplot") != std::string::npos);
  CHECK(o.output.find("apt-get install gnuplot-nox") != std::string::npos);
  CHECK(std::count(o.output.begin(), o.output.end(), '\n') == 1);
  CHECK(!exists(run + "/report/report.html"));

  // --no-plots writes the tables without gnuplot.
  const Outcome tables = run_elrscope("report --no-plots '" + run + "'", "PATH=/nonexistent");
  INFO(tables.output);
  CHECK(tables.exit_code == 0);
  const std::string md = read_all(run + "/report/report.md");
  CHECK(md.find("--no-plots") != std::string::npos);
  CHECK(md.find(".png") == std::string::npos);
  CHECK(md.find(".svg") == std::string::npos);
  CHECK(md.find("plain-4") != std::string::npos);
  CHECK(read_all(run + "/report/report.html").find("<svg") == std::string::npos);

  const Outcome not_a_run = run_elrscope("report '" + scratch("empty") + "'");
  CHECK(not_a_run.exit_code == 2);
  CHECK(not_a_run.output.find("neither a run directory") != std::string::npos);
  CHECK(run_elrscope("report --first-steps 0 '" + run + "'").exit_code == 2);
}

TEST_CASE("report: a run's report holds every plot with labelled axes and a caption, self-contained", "[report]") {
  INFO("the report tests need gnuplot (Debian: apt-get install gnuplot-nox)");
  REQUIRE(have_gnuplot());
  const std::string run = tiny_run("run");
  // An ODE prediction file as the ode command writes it (values need not be a real prediction here).
  {
    std::ofstream ode(run + "/ode.csv");
    ode << "step,layer,name,w2_pred,w2_meas,elr_pred,elr_meas\n";
    for (int layer : {0, 3, 6})
      for (int step = 0; step < 3; ++step)
        ode << step << "," << layer << ",layers." << layer << ".conv.weight,1,1," << 0.1 / (step + 1) << ","
            << 0.12 / (step + 1) << "\n";
  }
  const Outcome o = run_elrscope("report '" + run + "'");
  INFO(o.output);
  REQUIRE(o.exit_code == 0);
  CHECK(o.output.find("report (run)") != std::string::npos);
  const std::string report = run + "/report";
  const std::string md = read_all(report + "/report.md");
  const std::string html = read_all(report + "/report.html");
  for (const auto& [plot, labels] : kRunPlotLabels) {
    INFO(plot);
    CHECK(md.find("](" + plot + ".svg)") != std::string::npos);  // SVG unless --png
    CHECK(!exists(report + "/" + plot + ".png"));
    CHECK(exists(report + "/" + plot + ".dat"));
    CHECK(html.find("<figure id=\"" + plot + "\">") != std::string::npos);
    const std::string svg = read_all(report + "/" + plot + ".svg");
    REQUIRE(!svg.empty());
    for (const std::string& label : labels) {
      INFO(label);
      CHECK(svg.find(label) != std::string::npos);
      CHECK(html.find(label) != std::string::npos);
    }
  }
  // Every plot is inline in the HTML, with a caption, and the page refers to no other file.
  CHECK(count(html, "<svg") == kRunPlotLabels.size());
  CHECK(count(html, "<figcaption>") == kRunPlotLabels.size());
  CHECK(count(html, "<figcaption></figcaption>") == 0);
  CHECK(self_contained(html));
  CHECK(ids_scoped(html));
  CHECK(html.find("plain-4 (width 4)") != std::string::npos);  // the config table
  // The layer x step picture is an image with sharp cells.
  CHECK(read_all(report + "/elr_map.svg").find("<image style='image-rendering:pixelated'") != std::string::npos);

  // The plotted |W|^2 jump is layers.csv's w2 at step 1 over step 0, and with plain SGD it is
  // 1 + ELR_0^2 (the norm grows by the orthogonal update only).
  std::map<std::string, std::map<int, double>> w2, elr;
  std::vector<std::string> layer_names;  // input side first
  for (const elr::LayerRow& row : elr::read_layers_csv(run + "/layers.csv")) {
    if (!row.scale_invariant) continue;
    if (row.step == 0) layer_names.push_back(row.name);
    w2[row.name][static_cast<int>(row.step)] = row.w2;
    elr[row.name][static_cast<int>(row.step)] = *row.elr;
  }
  REQUIRE(w2.size() == 4);
  int rows = 0;
  for (const std::vector<std::string>& c : dat_rows(report + "/w2_jump.dat")) {
    REQUIRE(c.size() == 5);
    const std::string& name = c[4];
    const double ratio = std::stod(c[1]);
    CHECK(ratio == Approx(w2[name][1] / w2[name][0]).epsilon(1e-9));
    CHECK(ratio == Approx(1 + elr[name][0] * elr[name][0]).epsilon(1e-4));
    ++rows;
  }
  CHECK(rows == 4);

  // The ELR picture: one cell per layer and step (3 steps: one column each), log10 of layers.csv's ELR.
  rows = 0;
  for (const std::vector<std::string>& c : dat_rows(report + "/elr_map.dat")) {
    REQUIRE(c.size() == 3);
    const int step = static_cast<int>(std::lround(std::stod(c[0])));
    const std::string& name = layer_names.at(std::stoul(c[1]));
    CHECK(std::stod(c[2]) == Approx(std::log10(elr[name][step])).epsilon(1e-12));
    ++rows;
  }
  CHECK(rows == 4 * 3);

  // Without ode.csv that plot is left out.
  std::remove((run + "/ode.csv").c_str());
  std::system(("rm -rf '" + report + "'").c_str());
  const Outcome again = run_elrscope("report '" + run + "'");
  REQUIRE(again.exit_code == 0);
  CHECK(!exists(report + "/ode.svg"));
  CHECK(count(read_all(report + "/report.html"), "<svg") == kRunPlotLabels.size() - 1);

  // --png: every plot also as PNG, and report.md shows those; --out puts the report elsewhere.
  const std::string elsewhere = scratch("run_png");
  const Outcome png = run_elrscope("report --png --out '" + elsewhere + "' '" + run + "'");
  REQUIRE(png.exit_code == 0);
  const std::string png_md = read_all(elsewhere + "/report.md");
  for (const char* plot : {"loss", "elr_map", "spread"}) {
    INFO(plot);
    CHECK(exists(elsewhere + "/" + std::string(plot) + ".png"));
    CHECK(png_md.find("](" + std::string(plot) + ".png)") != std::string::npos);
  }
}

TEST_CASE("report: a run's summary gives the spread early and over the run, from metrics.jsonl", "[report]") {
  const std::string run = tiny_run("summary", "", 6);
  const Outcome o = run_elrscope("report --no-plots --first-steps 3 '" + run + "'");
  INFO(o.output);
  REQUIRE(o.exit_code == 0);
  const std::string md = read_all(run + "/report/report.md");
  INFO(md);
  double sum_first = 0, max_first = -INFINITY, sum_all = 0, max_all = -INFINITY;
  int n_first = 0, n_all = 0;
  int64_t first_below = -1;
  for (const elr::MetricsRow& m : elr::read_metrics_jsonl(run + "/metrics.jsonl")) {
    const double l = std::log10(m.spread);
    sum_all += l;
    max_all = std::max(max_all, l);
    ++n_all;
    if (m.step < 3) {
      sum_first += l;
      max_first = std::max(max_first, l);
      ++n_first;
    }
    if (first_below < 0 && m.spread < 2) first_below = m.step;
  }
  REQUIRE(n_all == 6);
  auto row = [](const std::string& quantity, double v) { return fmt::format("| {} | {:.6g} |", quantity, v); };
  CHECK(md.find(row("log10 spread, mean over steps 0-2", sum_first / n_first)) != std::string::npos);
  CHECK(md.find(row("log10 spread, max over steps 0-2", max_first)) != std::string::npos);
  CHECK(md.find(row("log10 spread, mean over the run", sum_all / n_all)) != std::string::npos);
  CHECK(md.find(row("log10 spread, max over the run", max_all)) != std::string::npos);
  CHECK(md.find(fmt::format("| first logged step with spread < 2 | {} |",
                            first_below < 0 ? std::string("never") : std::to_string(first_below))) !=
        std::string::npos);
  CHECK(md.find("| steps taken (planned) | 6 (6) |") != std::string::npos);
}

TEST_CASE("report: per-layer learning rates are drawn only when LR control sets them", "[report]") {
  REQUIRE(have_gnuplot());
  const std::string plain = tiny_run("lr_none");
  const std::string uniform = tiny_run("lr_uniform", "--lr-control uniform-elr");
  REQUIRE(run_elrscope("report '" + plain + "'").exit_code == 0);
  REQUIRE(run_elrscope("report '" + uniform + "'").exit_code == 0);
  CHECK(!exists(plain + "/report/layer_lr.dat"));
  CHECK(exists(uniform + "/report/layer_lr.dat"));
  CHECK(read_all(uniform + "/report/lr.svg").find("global lr (the schedule's)") != std::string::npos);
}

TEST_CASE("report: a diverged run's finite step is drawn and its divergence marked", "[report]") {
  REQUIRE(have_gnuplot());
  const std::string run = scratch("diverged");
  // lr 1e30 overflows the weights on the first update: step 0 is finite, step 1 is not.
  const Outcome t = run_elrscope(
      "train --model plain --depth 4 --width 4 --dataset synthetic --synthetic-size 64 "
      "--batch 16 --steps 12 --lr 1e30 --momentum 0 --threads 1 --quiet --out '" +
      run + "'");
  REQUIRE(read_all(run + "/summary.json").find("\"diverged_step\": 1") != std::string::npos);
  const Outcome o = run_elrscope("report '" + run + "'");
  INFO(o.output);
  REQUIRE(o.exit_code == 0);
  const std::string report = run + "/report";
  const std::vector<std::vector<std::string>> spread = dat_rows(report + "/spread.dat");
  REQUIRE(!spread.empty());
  CHECK(spread[0][0] == "0");                        // the spread of step 0
  CHECK(dat_rows(report + "/elr.dat").size() == 4);  // every layer's ELR at step 0
  const std::string gp = read_all(report + "/plots.gp");
  for (const char* plot : {"spread", "elr", "loss"}) {
    INFO(plot);
    const size_t at = gp.find(std::string("# ---- ") + plot + " ----");
    REQUIRE(at != std::string::npos);
    const std::string section = gp.substr(at, gp.find("unset output", at) - at);
    CHECK(section.find("set label 'diverged at step 1'") != std::string::npos);
    CHECK(section.find("set arrow from 1, graph 0 to 1, graph 1") != std::string::npos);
    // One finite point per line: drawn with a marker, since a line needs two.
    CHECK(section.find("linespoints") != std::string::npos);
  }
  CHECK(read_all(report + "/report.md").find("| diverged | yes: non-finite values at step 1") != std::string::npos);
}

TEST_CASE("report: a sweep's report holds the spread heatmaps and accuracy against spread", "[report]") {
  INFO("the report tests need gnuplot (Debian: apt-get install gnuplot-nox)");
  REQUIRE(have_gnuplot());
  const std::string dir = scratch("sweep");
  // At lr 0.1 the critical LR never caps the lr: none and critical-warmup give equal results.
  const Outcome s = run_elrscope(
      "sweep --dataset synthetic --synthetic-size 64 --batch 16 --steps 3 --width 4 "
      "--lrs '0.1 1' --depths '3 4' --momenta 0 --lr-controls 'none critical-warmup' "
      "--seeds 0 --threads 1 --quiet --out '" +
      dir + "'");
  INFO(s.output);
  REQUIRE(s.exit_code == 0);
  const Outcome o = run_elrscope("report --step 2 '" + dir + "'");
  INFO(o.output);
  REQUIRE(o.exit_code == 0);
  const std::string report = dir + "/report";
  const std::string heat = read_all(report + "/heatmap_m0_none.svg");
  for (const char* label : {"learning rate", "depth (layers)", "spread at step 2 (max/min ELR, log scale)"}) {
    INFO(label);
    CHECK(heat.find(label) != std::string::npos);
  }
  const std::string acc = read_all(report + "/accuracy.svg");
  for (const char* label : {"spread at step 2 (max/min ELR)", "test accuracy (fraction)", "depth 3", "depth 4",
                            "momentum 0, none", "momentum 0, critical-warmup"}) {
    INFO(label);
    CHECK(acc.find(label) != std::string::npos);
  }
  const std::string html = read_all(report + "/report.html");
  CHECK(count(html, "<svg") == 3);
  CHECK(html.find("lr1_d3_m0_none_s0") != std::string::npos);                 // the table
  CHECK(html.find("<div class=\"table-box\"><table>") != std::string::npos);  // wide tables scroll in a box
  CHECK(exists(report + "/report.md"));

  // Heat-map labels: white on the darkest cell (the largest spread), black on the lightest.
  const std::vector<std::vector<std::string>> cells = dat_rows(report + "/heatmap_m0_none.dat");
  REQUIRE(cells.size() == 4);
  auto by_spread = [](const auto& a, const auto& b) { return std::stod(a[2]) < std::stod(b[2]); };
  CHECK(std::min_element(cells.begin(), cells.end(), by_spread)->at(4) == "0x000000");
  CHECK(std::max_element(cells.begin(), cells.end(), by_spread)->at(4) == "0xffffff");

  // Points with equal spread and accuracy are drawn apart; the exact spread stays in column 1.
  std::map<std::pair<std::string, std::string>, std::multiset<std::string>> drawn;  // (spread, accuracy) -> x
  size_t points = 0;
  for (const std::vector<std::string>& c : dat_rows(report + "/accuracy.dat")) {
    drawn[{c[0], c[2]}].insert(c[1]);
    ++points;
  }
  CHECK(points == 8);
  bool some_equal = false;
  for (const auto& [place, at] : drawn) {
    some_equal = some_equal || at.size() > 1;
    CHECK(std::set<std::string>(at.begin(), at.end()).size() == at.size());  // each drawn at its own x
  }
  CHECK(some_equal);
}
