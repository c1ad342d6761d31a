// `elrscope report` of explode --out folders: the growth-fit and amplification tables hold
// explode_summary.csv's numbers, the plot draws each depth's e against the layer index with the
// least-squares line of log10 e, and several folders (e.g. one per model) share one page.
#include "test_util.h"
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "experiments/run/run_logs.h"

using elr::testing::Outcome;
using elr::testing::read_all;
using elr::testing::run_elrscope;

namespace {

std::string explode_dir(const std::string& name, const std::string& model, const std::string& depths) {
  const std::string dir = "/tmp/elr_test_report_explode_" + std::to_string(::getpid()) + "/" + name;
  std::system(("rm -rf '" + dir + "'").c_str());
  const Outcome o = run_elrscope("explode --model " + model + " --depths '" + depths +
                                 "' --width 4 --dataset synthetic "
                                 "--synthetic-size 64 --batch 16 --batches 1 --seeds 0 --threads 1 --quiet --out '" +
                                 dir + "'");
  INFO(o.output);
  REQUIRE(o.exit_code == 0);
  return dir;
}

}  // namespace

TEST_CASE("report: an explode folder gives e against layer with its growth fit and the amplification table",
          "[report][explode]") {
  REQUIRE(std::system("command -v gnuplot >/dev/null 2>&1") == 0);
  const std::string plain = explode_dir("plain", "plain", "4 6");
  const Outcome o = run_elrscope("report '" + plain + "'");
  INFO(o.output);
  REQUIRE(o.exit_code == 0);
  CHECK(o.output.find("report (explode)") != std::string::npos);
  const std::string md = read_all(plain + "/report/report.md");
  INFO(md);

  const elr::CsvTable summary(plain + "/explode_summary.csv");
  REQUIRE(summary.rows() == 2);
  auto num = [&](size_t r, const char* c) { return summary.number(r, summary.column(c)); };
  for (size_t r = 0; r < summary.rows(); ++r) {
    CHECK(md.find(fmt::format("| {} | {} | {:.6g} | {:.6g} | {:.6g} | {:.6g} |", summary.text(r, 0),
                              summary.text(r, summary.column("layers")), num(r, "growth_log10"),
                              num(r, "growth_factor"), num(r, "fit_r2"), num(r, "e_first_last"))) != std::string::npos);
    CHECK(md.find(fmt::format("| {} | {:.6g} | {:.6g} | {:.6g} | {:.6g} |", summary.text(r, 0), num(r, "bn_amp"),
                              num(r, "conv_amp"), num(r, "bn_amp") * num(r, "conv_amp"), num(r, "growth_factor"))) !=
          std::string::npos);
  }

  // Blocks alternate: a depth's measured e, then its fitted line (two end points), whose slope in
  // log10 is minus the summary's growth rate.
  std::ifstream dat(plain + "/report/explode_e.dat");
  std::vector<std::vector<std::pair<double, double>>> blocks(1);
  std::string line;
  while (std::getline(dat, line)) {
    if (line.empty()) {
      if (!blocks.back().empty()) blocks.emplace_back();
      continue;
    }
    if (line[0] == '#') continue;
    std::istringstream cells(line);
    double x = 0, e = 0;
    cells >> x >> e;
    blocks.back().emplace_back(x, e);
  }
  if (blocks.back().empty()) blocks.pop_back();
  REQUIRE(blocks.size() == 4);
  for (size_t d = 0; d < 2; ++d) {
    const auto& measured = blocks[2 * d];
    const auto& line_ends = blocks[2 * d + 1];
    CHECK(measured.size() == static_cast<size_t>(num(d, "layers")));
    REQUIRE(line_ends.size() == 2);
    const double slope =
        (std::log10(line_ends[1].second) - std::log10(line_ends[0].second)) / (line_ends[1].first - line_ends[0].first);
    CHECK(-slope == Approx(num(d, "growth_log10")).epsilon(1e-9));
  }
  const std::string svg = read_all(plain + "/report/explode_e.svg");
  for (const char* label :
       {"index of the scale-invariant layer (0 = input side)", "e = |g| / |W| (log scale)", "depth 4:", "depth 6:"}) {
    INFO(label);
    CHECK(svg.find(label) != std::string::npos);
  }

  // Two folders (two models) on one page, named by their folders.
  const std::string resnet = explode_dir("resnet", "resnet", "8");
  const std::string out = plain + "/../both";
  const Outcome both = run_elrscope("report '" + plain + "' '" + resnet + "' --out '" + out + "'");
  INFO(both.output);
  REQUIRE(both.exit_code == 0);
  const std::string both_md = read_all(out + "/report.md");
  CHECK(both_md.find("| folder | depth | layers |") != std::string::npos);
  CHECK(both_md.find("| resnet | 8 |") != std::string::npos);
  CHECK(both_md.find("| plain | 6 |") != std::string::npos);
  const std::string both_svg = read_all(out + "/explode_e.svg");
  CHECK(both_svg.find("plain, depth 4:") != std::string::npos);
  CHECK(both_svg.find("resnet, depth 8:") != std::string::npos);
}
