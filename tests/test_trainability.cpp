// `elrscope trainability`: every column of its table recomputed from the runs' own files, the
// groups' intervals, shards and a resume after SIGKILL giving the same tables as one run, the presets
// and warm-ups reaching the runs, and the verdict's rule.
#include "test_util.h"
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "experiments/studies/trainability.h"

using elr::testing::exists;
using elr::testing::Outcome;
using elr::testing::read_all;
using elr::testing::run_elrscope;

namespace {

std::string scratch(const std::string& name) {
  const std::string dir = "/tmp/elr_test_trainability_" + std::to_string(::getpid()) + "/" + name;
  std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str());
  return dir;
}

// 2 models x 1 depth x 1 lr x 2 warm-ups x 2 seeds on the synthetic set; logged every other step,
// so that the step-weighted means are tested.
std::string tiny_grid(int steps = 7) {
  return fmt::format(
      "trainability --dataset synthetic --synthetic-size 64 --batch 16 --steps {} --width 2 --depths 8 --lrs 0.5 "
      "--warmups 'none max-elr-warmup' --seeds '0 1' --early-steps 3 --log-every 2 --jobs 1 --threads 1 --no-plots "
      "--quiet ",
      steps);
}

const std::vector<std::string> kPointIds = {
    "resnet_d8_lr0.5_none_s0",         "resnet_d8_lr0.5_none_s1",         "resnet_d8_lr0.5_max-elr-warmup_s0",
    "resnet_d8_lr0.5_max-elr-warmup_s1", "resnet-noshort_d8_lr0.5_none_s0", "resnet-noshort_d8_lr0.5_none_s1",
    "resnet-noshort_d8_lr0.5_max-elr-warmup_s0", "resnet-noshort_d8_lr0.5_max-elr-warmup_s1"};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  for (std::string l; std::getline(ss, l);) lines.push_back(l);
  return lines;
}

std::vector<std::string> cells_of(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream ss(line);
  for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
  if (!line.empty() && line.back() == ',') cells.push_back("");
  return cells;
}

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  explicit Table(const std::string& path) {
    const std::vector<std::string> lines = lines_of(read_all(path));
    REQUIRE(!lines.empty());
    header = cells_of(lines[0]);
    for (size_t i = 1; i < lines.size(); ++i) {
      rows.push_back(cells_of(lines[i]));
      REQUIRE(rows.back().size() == header.size());
    }
  }
  const std::string& at(size_t row, const std::string& column) const {
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == column) return rows[row][i];
    FAIL("no column " << column);
    return header[0];
  }
};

// The table's cell as a number; an empty cell is NaN.
double number(const std::string& cell) { return cell.empty() ? std::nan("") : std::stod(cell); }

void check_same(double cell, double expected) {
  if (std::isnan(expected))
    CHECK(std::isnan(cell));
  else
    CHECK(cell == Approx(expected).epsilon(1e-12));
}

// The uninterrupted, unsharded study, run once per test process.
const std::string& reference_study() {
  static const std::string dir = [] {
    const std::string d = scratch("reference");
    const Outcome o = run_elrscope(tiny_grid() + "--out '" + d + "'");
    INFO(o.output);
    REQUIRE(o.exit_code == 0);
    return d;
  }();
  return dir;
}

}  // namespace

TEST_CASE("trainability: every column of the table is the runs' own files", "[trainability]") {
  const std::string dir = reference_study();
  const Table t(dir + "/table.csv");
  REQUIRE(t.rows.size() == kPointIds.size());
  for (const std::string& h : t.header) CHECK(h.find("second") == std::string::npos);  // nothing that depends on timing
  for (size_t r = 0; r < kPointIds.size(); ++r) {
    const std::string& id = kPointIds[r];
    INFO(id);
    CHECK(t.at(r, "point") == id);
    CHECK(t.at(r, "index") == std::to_string(r));
    const std::string point = dir + "/points/" + id;
    const nlohmann::json config = nlohmann::json::parse(read_all(point + "/config.json"));
    CHECK(t.at(r, "model") == config["model"].get<std::string>());
    CHECK(t.at(r, "depth") == std::to_string(config["depth"].get<int>()));
    CHECK(number(t.at(r, "lr")) == config["lr"].get<double>());
    CHECK(t.at(r, "seed") == std::to_string(config["seed"].get<int>()));
    CHECK(t.at(r, "warmup") == (config["lr_control"] == "none" ? "none" : config["lr_control"].get<std::string>()));

    // Logged steps 0, 2, 4 and 6 (the last) of 7: each stands for the steps up to the next one.
    std::vector<int64_t> steps;
    std::vector<double> log_spread, loss;
    for (const std::string& line : lines_of(read_all(point + "/metrics.jsonl"))) {
      const nlohmann::json m = nlohmann::json::parse(line);
      steps.push_back(m["step"].get<int64_t>());
      log_spread.push_back(m["spread"].is_null() ? std::nan("") : std::log10(m["spread"].get<double>()));
      loss.push_back(m["loss"].get<double>());
    }
    REQUIRE(steps == std::vector<int64_t>{0, 2, 4, 6});
    const double early_mean = (2 * log_spread[0] + 1 * log_spread[1]) / 3;  // steps 0-1 and 2 of 0-2
    const double all_mean = (2 * log_spread[0] + 2 * log_spread[1] + 2 * log_spread[2] + 1 * log_spread[3]) / 7;
    check_same(number(t.at(r, "mean_log10_spread_first_3")), early_mean);
    check_same(number(t.at(r, "max_log10_spread_first_3")), std::max(log_spread[0], log_spread[1]));
    check_same(number(t.at(r, "mean_log10_spread_all")), all_mean);
    check_same(number(t.at(r, "max_log10_spread_all")),
               std::max(std::max(log_spread[0], log_spread[1]), std::max(log_spread[2], log_spread[3])));
    int64_t below = -1;
    for (size_t i = 0; i < steps.size() && below < 0; ++i)
      if (std::pow(10.0, log_spread[i]) < 2) below = steps[i];
    CHECK(t.at(r, "first_step_spread_below_2") == (below < 0 ? "" : std::to_string(below)));
    check_same(number(t.at(r, "train_loss")), loss[3]);  // the last tenth of 7 steps: step 6

    const nlohmann::json summary = nlohmann::json::parse(read_all(point + "/summary.json"));
    CHECK(t.at(r, "steps") == std::to_string(summary["steps"].get<int64_t>()));
    CHECK(t.at(r, "diverged") == (summary["diverged"].get<bool>() ? "1" : "0"));
    check_same(number(t.at(r, "test_accuracy")),
               summary["test_accuracy"].is_null() ? std::nan("") : summary["test_accuracy"].get<double>());
  }

  // groups.csv: one row per setting, the mean of its two seeds and the t interval (t(0.975, 1) = 12.706).
  const Table g(dir + "/groups.csv");
  REQUIRE(g.rows.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    const double a = number(t.at(2 * i, "test_accuracy")), b = number(t.at(2 * i + 1, "test_accuracy"));
    INFO("group " << i);
    CHECK(g.at(i, "model") == t.at(2 * i, "model"));
    CHECK(g.at(i, "warmup") == t.at(2 * i, "warmup"));
    CHECK(g.at(i, "runs") == "2");
    CHECK(number(g.at(i, "test_accuracy_mean")) == Approx((a + b) / 2).epsilon(1e-12));
    const double half = 12.706204736174707 * std::abs(a - b) / 2;  // t s / sqrt(2) with s = |a - b| / sqrt(2)
    CHECK(number(g.at(i, "test_accuracy_high")) - number(g.at(i, "test_accuracy_mean")) ==
          Approx(half).margin(1e-12));
  }
  CHECK(read_all(dir + "/verdict.md").find("Rule:") != std::string::npos);
  CHECK(exists(dir + "/table.md"));
  CHECK(exists(dir + "/groups.md"));
}

TEST_CASE("trainability: shards, and a study killed midway and resumed, give the table of one run",
          "[trainability]") {
  const std::string reference = reference_study();
  const std::string sharded = scratch("sharded");
  for (const char* shard : {"0/2", "1/2"}) {
    const Outcome o = run_elrscope(tiny_grid() + "--shard " + shard + " --out '" + sharded + "'");
    INFO(o.output);
    REQUIRE(o.exit_code == 0);
  }
  for (const char* file : {"/table.csv", "/table.md", "/groups.csv", "/groups.md", "/verdict.md", "/trainability.json"})
    CHECK(read_all(sharded + file) == read_all(reference + file));

  // Longer runs, so that the kill lands before the last point ends.
  const std::string longer = scratch("longer_reference");
  {
    const Outcome o = run_elrscope(tiny_grid(41) + "--out '" + longer + "'");
    INFO(o.output);
    REQUIRE(o.exit_code == 0);
  }
  const std::string dir = scratch("killed");
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const std::string cmd = std::string(ELR_BINARY) + " " + tiny_grid(41) + "--out '" + dir + "' > /dev/null 2>&1";
    ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const std::string first = dir + "/points/" + kPointIds[0] + "/summary.json";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!exists(first) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(exists(first));
  const bool was_killed = !exists(dir + "/points/" + kPointIds.back() + "/summary.json");
  const Outcome resumed = run_elrscope(tiny_grid(41) + "--out '" + dir + "'");
  INFO(resumed.output);
  REQUIRE(resumed.exit_code == 0);
  for (const char* file : {"/table.csv", "/groups.csv", "/verdict.md"})
    CHECK(read_all(dir + file) == read_all(longer + file));
  CHECK(was_killed);
}

TEST_CASE("trainability: presets fill the options not given, and each warm-up reaches its runs", "[trainability]") {
  const std::string dir = scratch("presets");
  const std::string one_point = "--models resnet --depths 8 --seeds 0 --dataset synthetic --synthetic-size 32 "
                                "--batch 16 --no-plots --quiet --no-eval ";
  {
    const Outcome o = run_elrscope("trainability --preset quick --warmups none --steps 1 " + one_point + "--out '" +
                                   dir + "/quick'");
    INFO(o.output);
    REQUIRE(o.exit_code == 0);
    const nlohmann::json fixed = nlohmann::json::parse(read_all(dir + "/quick/trainability.json"))["fixed"];
    CHECK(fixed["width"] == 8);  // the preset's
    CHECK(fixed["momentum"] == 0.9);
    CHECK(fixed["weight_decay"] == 0.0001);
    CHECK(fixed["schedule"] == "step");
    CHECK(fixed["warmup_steps"] == 50);
    CHECK(fixed["warmup_lr"] == 0.01);
    CHECK(fixed["steps"] == 1);  // given
    CHECK(fixed["batch"] == 16);
    CHECK(fixed["dataset"] == "synthetic");
  }
  {  // --epochs excludes the preset's --steps
    const Outcome o = run_elrscope("trainability --preset paper --warmups none --epochs 0.5 --width 2 " + one_point +
                                   "--out '" + dir + "/paper'");
    INFO(o.output);
    REQUIRE(o.exit_code == 0);
    const nlohmann::json fixed = nlohmann::json::parse(read_all(dir + "/paper/trainability.json"))["fixed"];
    CHECK(fixed["steps"] == 0);
    CHECK(fixed["epochs"] == 0.5);
    CHECK(fixed["warmup_steps"] == 400);
  }
  const Outcome o = run_elrscope("trainability --warmups 'none linear low-lr critical-warmup max-elr-warmup' --steps 4 "
                                 "--warmup 4 --warmup-lr 0.02 --width 2 --lrs 0.4 " + one_point + "--out '" + dir +
                                 "/warmups'");
  INFO(o.output);
  REQUIRE(o.exit_code == 0);
  // (warm-up, lr control, warm-up steps, warm-up lr, lr of step 0)
  const std::vector<std::tuple<std::string, std::string, int, double, double>> expected = {
      {"none", "none", 0, 0.0, 0.4},
      {"linear", "none", 4, 0.0, 0.1},
      {"low-lr", "none", 4, 0.02, 0.02},
      {"critical-warmup", "critical-warmup", 0, 0.0, -1},
      {"max-elr-warmup", "max-elr-warmup", 0, 0.0, -1}};
  for (const auto& [warmup, control, steps, lr, first_lr] : expected) {
    INFO(warmup);
    const std::string point = dir + "/warmups/points/resnet_d8_lr0.4_" + warmup + "_s0";
    const nlohmann::json config = nlohmann::json::parse(read_all(point + "/config.json"));
    CHECK(config["lr_control"] == control);
    CHECK(config["warmup_steps"] == steps);
    CHECK(config["warmup_lr"] == lr);
    const nlohmann::json m = nlohmann::json::parse(lines_of(read_all(point + "/metrics.jsonl"))[0]);
    if (first_lr > 0)
      CHECK(m["lr"].get<double>() == Approx(first_lr));
    else
      CHECK(m["lr"].get<double>() <= 0.4);  // capped, at most the schedule's
  }
  const Outcome bad = run_elrscope("trainability --warmups 'none slow' --steps 1 " + one_point + "--out '" + dir + "/bad'");
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("'slow'") != std::string::npos);
  CHECK(!exists(dir + "/bad/points"));
}

TEST_CASE("trainability: the intervals", "[trainability]") {
  CHECK(elr::student_t_quantile(0.975, 1) == Approx(12.706204736174707).epsilon(1e-10));
  CHECK(elr::student_t_quantile(0.975, 2) == Approx(4.302652729749464).epsilon(1e-10));
  CHECK(elr::student_t_quantile(0.975, 10) == Approx(2.228138851986274).epsilon(1e-10));
  CHECK(elr::student_t_quantile(0.975, 1e7) == Approx(1.959963984540054).epsilon(1e-6));
  CHECK(elr::student_t_quantile(0.025, 4.5) == Approx(-elr::student_t_quantile(0.975, 4.5)));

  const elr::Interval m = elr::mean_interval({1, 2, 3, std::nan("")});  // NaN left out
  CHECK(m.n == 3);
  CHECK(m.mean == Approx(2));
  CHECK(m.high - m.mean == Approx(4.302652729749464 / std::sqrt(3.0)));
  CHECK(std::isnan(elr::mean_interval({5}).low));

  // Welch: variances 1 and 4 over n = 3 and 3: se = sqrt(1/3 + 4/3), df = (5/3)^2 / ((1/9 + 16/9) / 2) = 2.94.
  const elr::Interval d = elr::difference_interval({1, 2, 3}, {0, 2, 4});
  CHECK(d.mean == Approx(0));
  const double df = (5.0 / 3) * (5.0 / 3) / ((1.0 / 9 + 16.0 / 9) / 2);
  CHECK(d.high == Approx(elr::student_t_quantile(0.975, df) * std::sqrt(5.0 / 3)));
}

TEST_CASE("trainability: the verdict follows its rule", "[trainability]") {
  using elr::TrainabilityGroup;
  auto group = [](const std::string& model, const std::string& warmup, std::vector<double> spread,
                  std::vector<double> accuracy) {
    TrainabilityGroup g;
    g.model = model;
    g.depth = 56;
    g.lr = 0.1;
    g.warmup = warmup;
    g.runs = static_cast<int64_t>(accuracy.size());
    g.early_log10_spread = spread;
    g.test_accuracy = accuracy;
    return g;
  };
  elr::TrainabilityGrid grid;
  grid.depths = {56};
  grid.warmups = {"none", "low-lr", "critical-warmup", "max-elr-warmup"};
  const std::vector<TrainabilityGroup> groups = {
      group("resnet", "none", {2.0, 2.1, 2.2}, {0.80, 0.81, 0.79}),
      group("resnet", "low-lr", {2.0, 2.1, 2.2}, {0.80, 0.81, 0.80}),
      group("resnet", "critical-warmup", {2.0, 2.1, 2.2}, {0.80, 0.81, 0.80}),
      group("resnet", "max-elr-warmup", {2.0, 2.1, 2.2}, {0.80, 0.81, 0.80}),
      group("resnet-noshort", "none", {3.0, 3.1, 3.2}, {0.50, 0.52, 0.48}),
      group("resnet-noshort", "low-lr", {2.0, 2.1, 2.2}, {0.80, 0.79, 0.81}),         // closes
      group("resnet-noshort", "critical-warmup", {2.5, 2.6, 2.7}, {0.60, 0.62, 0.61}),  // narrows
      group("resnet-noshort", "max-elr-warmup", {3.0, 3.1, 3.2}, {0.50, 0.52, 0.49})};  // no gain
  const std::string v = elr::trainability_verdict(groups, grid, 100, 24, 24);
  INFO(v);
  CHECK(v.find("Early log10 spread, No Short - Short, no warm-up: +1 [") != std::string::npos);
  CHECK(v.find("- Claim 1: holds.") != std::string::npos);
  CHECK(v.find("Warm-up low-lr: No Short's accuracy gain") != std::string::npos);
  CHECK(v.find("(no clear difference): **closes the gap**") == std::string::npos);  // its spread fell too
  CHECK(v.find("(lower): **closes the gap**") != std::string::npos);
  CHECK(v.find("**narrows the gap**") != std::string::npos);
  CHECK(v.find("**does not close the gap**") != std::string::npos);
  CHECK(v.find("Claim 1 holds at 1 of 1 decided settings") != std::string::npos);

  // Without the second seed nothing is decided.
  std::vector<TrainabilityGroup> single = groups;
  for (TrainabilityGroup& g : single) {
    g.early_log10_spread.resize(1);
    g.test_accuracy.resize(1);
  }
  const std::string undecided = elr::trainability_verdict(single, grid, 100, 8, 24);
  CHECK(undecided.find("- Claim 1: not decided") != std::string::npos);
  CHECK(undecided.find("Claim 1 holds at 0 of 0 decided settings") != std::string::npos);
}
