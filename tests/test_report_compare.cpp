// `elrscope report RUN1 RUN2 ...`: the runs side by side. The table of settings names exactly the
// settings that differ, each plot overlays one curve per run with that run's numbers, and the
// folders must all be runs (or all explode folders) with --out saying where the report goes.
#include "test_util.h"
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
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
  const std::string dir = "/tmp/elr_test_report_compare_" + std::to_string(::getpid()) + "/" + name;
  std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str());
  return dir;
}

std::string tiny_run(const std::string& dir, const std::string& extra) {
  const Outcome o = run_elrscope(
      "train --model plain --depth 4 --width 4 --dataset synthetic --synthetic-size 64 "
      "--batch 16 --steps 4 --lr 50 --momentum 0 --divergence-loss 1e30 --threads 1 --quiet " +
      extra + " --out '" + dir + "'");
  INFO(o.output);
  REQUIRE(o.exit_code == 0);
  return dir;
}

// The blocks of a .dat file (separated by two blank lines), each as its (step, value) lines.
std::vector<std::vector<std::pair<long, double>>> dat_blocks(const std::string& path) {
  std::vector<std::vector<std::pair<long, double>>> blocks(1);
  std::ifstream in(path);
  std::string line;
  int blank = 0;
  while (std::getline(in, line)) {
    if (line.empty()) {
      if (++blank == 2 && !blocks.back().empty()) blocks.emplace_back();
      continue;
    }
    blank = 0;
    if (line[0] == '#') continue;
    std::istringstream cells(line);
    long step = 0;
    double v = 0;
    cells >> step >> v;
    blocks.back().emplace_back(step, v);
  }
  if (blocks.back().empty()) blocks.pop_back();
  return blocks;
}

}  // namespace

TEST_CASE("report: several runs are compared, one colour per run, with the settings that differ", "[report]") {
  REQUIRE(std::system("command -v gnuplot >/dev/null 2>&1") == 0);
  const std::string root = scratch("runs");
  // lr 50 is above the critical LR at step 0, so critical-warmup changes the run.
  const std::string none = tiny_run(root + "/none", "--lr-control none");
  const std::string warmup = tiny_run(root + "/warmup", "--lr-control critical-warmup");
  const std::string out = root + "/compared";

  const Outcome no_out = run_elrscope("report '" + none + "' '" + warmup + "'");
  CHECK(no_out.exit_code == 2);
  CHECK(no_out.output.find("--out") != std::string::npos);

  const Outcome o = run_elrscope("report '" + none + "' '" + warmup + "' --out '" + out + "'");
  INFO(o.output);
  REQUIRE(o.exit_code == 0);
  CHECK(o.output.find("report (comparison)") != std::string::npos);
  const std::string md = read_all(out + "/report.md");
  INFO(md);
  // Only lr_control differs (out, the folder, is not a setting).
  const size_t differ = md.find("## Settings that differ");
  const size_t shared = md.find("## Settings they share");
  REQUIRE(differ != std::string::npos);
  REQUIRE(shared != std::string::npos);
  const std::string differing = md.substr(differ, shared - differ);
  CHECK(differing.find("| setting | none | warmup |") != std::string::npos);
  CHECK(differing.find("| lr_control | none | critical-warmup |") != std::string::npos);
  CHECK(std::count(differing.begin(), differing.end(), '\n') == 6);  // heading, blank, header, ---, one row, blank
  CHECK(md.find("| model_description | plain-4 (width 4) |") != std::string::npos);
  CHECK(md.find("| quantity | none | warmup |") != std::string::npos);  // the summaries side by side
  CHECK(md.find("| none | blue |") != std::string::npos);
  CHECK(md.find("| warmup | orange |") != std::string::npos);

  // One curve per run in the run's order, holding that run's logged numbers.
  const std::string html = read_all(out + "/report.html");
  for (const char* plot : {"loss", "accuracy", "lr", "spread", "elr_range"}) {
    INFO(plot);
    CHECK(html.find("<figure id=\"" + std::string(plot) + "\">") != std::string::npos);
  }
  const auto loss = dat_blocks(out + "/loss.dat");
  REQUIRE(loss.size() == 2);
  for (size_t r = 0; r < 2; ++r) {
    const std::vector<elr::MetricsRow> m = elr::read_metrics_jsonl((r == 0 ? none : warmup) + "/metrics.jsonl");
    REQUIRE(loss[r].size() == m.size());
    for (size_t i = 0; i < m.size(); ++i) {
      CHECK(loss[r][i].first == m[i].step);
      CHECK(loss[r][i].second == m[i].loss);
    }
  }
  CHECK(loss[0] != loss[1]);
  const std::string lr_svg = read_all(out + "/lr.svg");
  for (const char* key : {"none lr", "warmup lr", "none critical LR", "warmup critical LR"}) {
    INFO(key);
    CHECK(lr_svg.find(key) != std::string::npos);
  }

  // Two folders of the same name are told apart by their paths.
  const std::string other = tiny_run(root + "/elsewhere/none", "--lr-control none");
  REQUIRE(run_elrscope("report --no-plots '" + none + "' '" + other + "' --out '" + out + "'").exit_code == 0);
  CHECK(read_all(out + "/report.md").find("| quantity | " + none + " | " + other + " |") != std::string::npos);
}

TEST_CASE("report: folders of different kinds are refused", "[report]") {
  const std::string root = scratch("mixed");
  const std::string run = tiny_run(root + "/run", "");
  const std::string sweep = root + "/sweep";
  const Outcome s = run_elrscope(
      "sweep --dataset synthetic --synthetic-size 64 --batch 16 --steps 2 --width 4 "
      "--lrs 0.1 --depths 3 --momenta 0 --lr-controls none --seeds 0 --threads 1 --quiet "
      "--out '" +
      sweep + "'");
  REQUIRE(s.exit_code == 0);
  const Outcome mixed = run_elrscope("report --no-plots '" + run + "' '" + sweep + "' --out '" + root + "/r'");
  CHECK(mixed.exit_code == 2);
  CHECK(mixed.output.find("is a run folder but") != std::string::npos);
  const Outcome two_sweeps = run_elrscope("report --no-plots '" + sweep + "' '" + sweep + "' --out '" + root + "/r'");
  CHECK(two_sweeps.exit_code == 2);
  CHECK(two_sweeps.output.find("one sweep folder at a time") != std::string::npos);
  CHECK(!exists(root + "/r/report.md"));
}
