// `elrscope report`: a run's and a sweep's report hold every plot, with labelled axes, in a
// self-contained HTML; the |W|^2 jump data match layers.csv; without gnuplot the command names it.
#include "test_util.h"
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

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

// A tiny finished run: plain SGD (no momentum, no weight decay), so that |W_1|^2 = |W_0|^2 (1 + ELR_0^2).
std::string tiny_run(const std::string& name) {
  const std::string dir = scratch(name);
  const Outcome o = run_elrscope("train --model plain --depth 4 --width 4 --dataset synthetic --synthetic-size 64 "
                                 "--batch 16 --steps 3 --lr 1 --momentum 0 --threads 1 --quiet --out '" + dir + "'");
  INFO(o.output);
  REQUIRE(o.exit_code == 0);
  return dir;
}

// The axis labels each plot must show.
const std::map<std::string, std::vector<std::string>> kRunPlotLabels = {
    {"elr", {"step", "ELR (rad/step)", "depth index of the scale-invariant layer"}},
    {"spread", {"step", "spread (max/min ELR)"}},
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
  CHECK(md.find("plain-4") != std::string::npos);
  CHECK(read_all(run + "/report/report.html").find("<svg") == std::string::npos);

  const Outcome not_a_run = run_elrscope("report '" + scratch("empty") + "'");
  CHECK(not_a_run.exit_code == 2);
  CHECK(not_a_run.output.find("neither a run directory") != std::string::npos);
}

TEST_CASE("report: a run's report holds every plot with labelled axes, self-contained", "[report]") {
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
  const std::string report = run + "/report";
  const std::string md = read_all(report + "/report.md");
  const std::string html = read_all(report + "/report.html");
  for (const auto& [plot, labels] : kRunPlotLabels) {
    INFO(plot);
    CHECK(md.find("](" + plot + ".png)") != std::string::npos);
    CHECK(exists(report + "/" + plot + ".png"));
    CHECK(exists(report + "/" + plot + ".dat"));
    const std::string svg = read_all(report + "/" + plot + ".svg");
    REQUIRE(!svg.empty());
    for (const std::string& label : labels) {
      INFO(label);
      CHECK(svg.find(label) != std::string::npos);
      CHECK(html.find(label) != std::string::npos);
    }
  }
  // Every plot is inline in the HTML, which refers to no other file.
  CHECK(count(html, "<svg") == kRunPlotLabels.size());
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find(".png") == std::string::npos);
  CHECK(count(html, "xlink:href=\"") == count(html, "xlink:href=\"#"));
  CHECK(html.find("plain-4 (width 4)") != std::string::npos);  // the config table

  // The plotted |W|^2 jump is layers.csv's w2 at step 1 over step 0, and with plain SGD it is
  // 1 + ELR_0^2 (the norm grows by the orthogonal update only).
  std::map<std::string, std::map<int, double>> w2, elr;
  {
    std::ifstream csv(run + "/layers.csv");
    std::string line;
    std::getline(csv, line);
    const std::vector<std::string> header = split(line, ',');
    auto col = [&](const std::string& n) { return std::find(header.begin(), header.end(), n) - header.begin(); };
    while (std::getline(csv, line)) {
      const std::vector<std::string> c = split(line, ',');
      if (c[col("scale_invariant")] != "1") continue;
      const int step = std::stoi(c[col("step")]);
      w2[c[col("name")]][step] = std::stod(c[col("w2")]);
      elr[c[col("name")]][step] = std::stod(c[col("elr")]);
    }
  }
  REQUIRE(w2.size() == 4);
  std::ifstream jump(report + "/w2_jump.dat");
  std::string line;
  int rows = 0;
  while (std::getline(jump, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::vector<std::string> c = split(line, ' ');
    REQUIRE(c.size() == 5);
    const std::string& name = c[4];
    const double ratio = std::stod(c[1]);
    CHECK(ratio == Approx(w2[name][1] / w2[name][0]).epsilon(1e-9));
    CHECK(ratio == Approx(1 + elr[name][0] * elr[name][0]).epsilon(1e-4));
    ++rows;
  }
  CHECK(rows == 4);

  // Without ode.csv that plot is left out.
  std::remove((run + "/ode.csv").c_str());
  std::system(("rm -rf '" + report + "'").c_str());
  const Outcome again = run_elrscope("report '" + run + "'");
  REQUIRE(again.exit_code == 0);
  CHECK(!exists(report + "/ode.svg"));
  CHECK(count(read_all(report + "/report.html"), "<svg") == kRunPlotLabels.size() - 1);
}

TEST_CASE("report: a sweep's report holds the spread heatmaps and accuracy against spread", "[report]") {
  INFO("the report tests need gnuplot (Debian: apt-get install gnuplot-nox)");
  REQUIRE(have_gnuplot());
  const std::string dir = scratch("sweep");
  const Outcome s = run_elrscope("sweep --dataset synthetic --synthetic-size 64 --batch 16 --steps 3 --width 4 "
                                 "--lrs '0.1 1' --depths 3 --momenta 0 --lr-controls none --seeds 0 --threads 1 "
                                 "--quiet --out '" + dir + "'");
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
  for (const char* label : {"spread at step 2 (max/min ELR)", "test accuracy (fraction)", "depth 3"}) {
    INFO(label);
    CHECK(acc.find(label) != std::string::npos);
  }
  const std::string html = read_all(report + "/report.html");
  CHECK(count(html, "<svg") == 2);
  CHECK(html.find("lr1_d3_m0_none_s0") != std::string::npos);  // the table
  CHECK(exists(report + "/report.md"));
}
