// `elrscope sweep`: shards of a grid together give the unsharded table, byte for byte; a sweep killed
// midway resumes without redoing finished points and gives the same table; the table's spreads are
// those of the points' metrics.jsonl.
#include "test_util.h"
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

using elr::testing::exists;
using elr::testing::Outcome;
using elr::testing::read_all;
using elr::testing::run_elrscope;

namespace {

long long mtime_ns(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
}

std::string scratch(const std::string& name) {
  const std::string dir = "/tmp/elr_test_sweep_" + std::to_string(::getpid()) + "/" + name;
  std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str());
  return dir;
}

// Four points: lr {0.1, 1} x depth {3, 4}, in grid order.
const std::vector<std::string> kGridArgs = {"sweep",          "--dataset",      "synthetic", "--synthetic-size", "64",
                                            "--batch",        "16",             "--steps",   "3",
                                            "--width",        "4",              "--lrs",     "0.1 1",
                                            "--depths",       "3 4",            "--momenta", "0",
                                            "--lr-controls",  "none",           "--seeds",   "0",
                                            "--spread-steps", "0 1 2",          "--threads", "1",
                                            "--quiet"};
const std::vector<std::string> kPointIds = {"lr0.1_d3_m0_none_s0", "lr0.1_d4_m0_none_s0", "lr1_d3_m0_none_s0",
                                            "lr1_d4_m0_none_s0"};

// The grid's arguments with some options' values replaced.
std::vector<std::string> grid_args(const std::map<std::string, std::string>& overrides = {}) {
  std::vector<std::string> args;
  for (size_t i = 0; i < kGridArgs.size(); ++i) {
    const bool replaced = i > 0 && overrides.count(kGridArgs[i - 1]) > 0;
    args.push_back(replaced ? overrides.at(kGridArgs[i - 1]) : kGridArgs[i]);
  }
  return args;
}

// The same, shell-quoted.
std::string grid_args_text(const std::map<std::string, std::string>& overrides = {}) {
  std::string s;
  for (const std::string& a : grid_args(overrides)) s += "'" + a + "' ";
  return s;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  std::string l;
  while (std::getline(ss, l)) lines.push_back(l);
  return lines;
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream ss(line);
  std::string c;
  while (std::getline(ss, c, ',')) cells.push_back(c);
  if (!line.empty() && line.back() == ',') cells.push_back("");
  return cells;
}

// The uninterrupted, unsharded sweep, run once per test process.
const std::string& reference_sweep() {
  static const std::string dir = [] {
    const std::string d = scratch("reference");
    const Outcome o = run_elrscope(grid_args_text() + "--out '" + d + "'");
    INFO(o.output);
    REQUIRE(o.exit_code == 0);
    return d;
  }();
  return dir;
}

}  // namespace

TEST_CASE("sweep: the table has one row per point, with the spreads of its metrics.jsonl", "[sweep]") {
  const std::string dir = reference_sweep();
  const std::vector<std::string> rows = lines_of(read_all(dir + "/table.csv"));
  REQUIRE(rows.size() == 1 + kPointIds.size());
  const std::vector<std::string> header = split(rows[0]);
  CHECK(header[0] == "point");
  // No column may depend on timing, or the shard comparison below could not be byte-exact.
  for (const std::string& h : header) {
    CHECK(h.find("second") == std::string::npos);
    CHECK(h.find("elapsed") == std::string::npos);
  }
  auto column = [&](const std::string& name) {
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return i;
    FAIL("no column " << name);
    return size_t{0};
  };
  for (size_t r = 0; r < kPointIds.size(); ++r) {
    const std::vector<std::string> cells = split(rows[r + 1]);
    REQUIRE(cells.size() == header.size());
    CHECK(cells[column("point")] == kPointIds[r]);  // grid order: lr outer, depth inner
    CHECK(cells[column("index")] == std::to_string(r));
    const std::string point = dir + "/points/" + kPointIds[r];
    REQUIRE(exists(point + "/summary.json"));
    // Spreads straight from the point's metrics.jsonl.
    std::ifstream metrics(point + "/metrics.jsonl");
    std::string line;
    int seen = 0;
    double first_below = -1;
    while (std::getline(metrics, line)) {
      const nlohmann::json m = nlohmann::json::parse(line);
      const int64_t step = m["step"].get<int64_t>();
      const double spread = m["spread"].get<double>();
      if (first_below < 0 && spread < 2) first_below = static_cast<double>(step);
      const std::string cell = cells[column("spread_step_" + std::to_string(step))];
      CHECK(std::stod(cell) == Approx(spread).epsilon(1e-15));
      ++seen;
    }
    CHECK(seen == 3);
    const std::string below = cells[column("first_step_spread_below_2")];
    if (first_below < 0)
      CHECK(below.empty());
    else
      CHECK(std::stod(below) == first_below);
    const nlohmann::json summary = nlohmann::json::parse(read_all(point + "/summary.json"));
    CHECK(std::stod(cells[column("final_loss")]) == Approx(summary["final_loss"].get<double>()).epsilon(1e-15));
    CHECK(cells[column("diverged")] == (summary["diverged"].get<bool>() ? "1" : "0"));
    CHECK(cells[column("steps")] == "3");
  }
  CHECK(exists(dir + "/table.md"));
  const nlohmann::json meta = nlohmann::json::parse(read_all(dir + "/sweep.json"));
  CHECK(meta["points"] == 4);
  CHECK(meta["grid"]["lrs"].size() == 2);
}

TEST_CASE("sweep: shards 0/2 and 1/2 into one directory give the unsharded table", "[sweep]") {
  const std::string reference = reference_sweep();
  const std::string dir = scratch("sharded");
  const Outcome first = run_elrscope(grid_args_text() + "--shard 0/2 --out '" + dir + "'");
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  // Shard 0 of 2 holds the even grid indices only.
  CHECK(exists(dir + "/points/" + kPointIds[0] + "/summary.json"));
  CHECK(!exists(dir + "/points/" + kPointIds[1]));
  CHECK(exists(dir + "/points/" + kPointIds[2] + "/summary.json"));
  CHECK(!exists(dir + "/points/" + kPointIds[3]));
  CHECK(lines_of(read_all(dir + "/table.csv")).size() == 3);

  const Outcome second = run_elrscope(grid_args_text() + "--shard 1/2 --out '" + dir + "'");
  INFO(second.output);
  REQUIRE(second.exit_code == 0);
  CHECK(read_all(dir + "/table.csv") == read_all(reference + "/table.csv"));
  CHECK(read_all(dir + "/table.md") == read_all(reference + "/table.md"));
  CHECK(read_all(dir + "/sweep.json") == read_all(reference + "/sweep.json"));
}

TEST_CASE("sweep: a sweep killed midway resumes without redoing finished points", "[sweep]") {
  // Longer points than the other tests', so that the kill lands before the last one ends.
  const std::map<std::string, std::string> longer = {{"--steps", "40"}};
  const std::string reference = scratch("killed_reference");
  {
    const Outcome o = run_elrscope(grid_args_text(longer) + "--out '" + reference + "'");
    INFO(o.output);
    REQUIRE(o.exit_code == 0);
  }
  const std::string dir = scratch("killed");
  std::vector<std::string> args = grid_args(longer);
  args.push_back("--out");
  args.push_back(dir);
  std::vector<char*> argv = {const_cast<char*>(ELR_BINARY)};
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::execv(ELR_BINARY, argv.data());
    ::_exit(127);
  }
  // Kill it as soon as the first point has finished.
  const std::string first_summary = dir + "/points/" + kPointIds[0] + "/summary.json";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!exists(first_summary) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(exists(first_summary));

  // What finished before the kill, and its files' modification times.
  std::vector<std::string> finished;
  std::vector<long long> stamps;
  for (const std::string& id : kPointIds) {
    const std::string p = dir + "/points/" + id;
    if (!exists(p + "/summary.json")) continue;
    finished.push_back(id);
    for (const char* f : {"/summary.json", "/metrics.jsonl", "/layers.csv", "/config.json"}) stamps.push_back(mtime_ns(p + f));
  }
  // An unfinished point with stale partial files: a bogus spread the rerun must overwrite.
  const std::string partial = dir + "/points/" + kPointIds[3];
  std::system(("mkdir -p '" + partial + "'").c_str());
  std::ofstream(partial + "/metrics.jsonl") << "{\"step\":0,\"spread\":12345}\n";
  const bool was_killed = finished.size() < kPointIds.size();

  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a rewrite would get a later mtime
  const Outcome resumed = run_elrscope(grid_args_text(longer) + "--out '" + dir + "'");
  INFO(resumed.output);
  REQUIRE(resumed.exit_code == 0);
  CHECK(resumed.output.find("skipped " + std::to_string(finished.size()) + " finished") != std::string::npos);
  size_t k = 0;
  for (const std::string& id : finished)
    for (const char* f : {"/summary.json", "/metrics.jsonl", "/layers.csv", "/config.json"})
      CHECK(mtime_ns(dir + "/points/" + id + f) == stamps[k++]);
  for (const std::string& id : kPointIds) CHECK(exists(dir + "/points/" + id + "/summary.json"));
  CHECK(read_all(dir + "/table.csv") == read_all(reference + "/table.csv"));
  CHECK(was_killed);
}

TEST_CASE("sweep: --collect-only rebuilds the table, wrong options are refused before any work", "[sweep]") {
  const std::string reference = reference_sweep();
  const std::string expected = read_all(reference + "/table.csv");
  REQUIRE(std::remove((reference + "/table.csv").c_str()) == 0);
  const Outcome collect = run_elrscope("sweep --collect-only --out '" + reference + "'");
  INFO(collect.output);
  CHECK(collect.exit_code == 0);
  CHECK(read_all(reference + "/table.csv") == expected);

  // The same directory with a different grid is refused, and nothing is run.
  const Outcome other = run_elrscope(grid_args_text({{"--lrs", "0.5"}}) + "--out '" + reference + "'");
  CHECK(other.exit_code == 2);
  CHECK(other.output.find("--out") != std::string::npos);
  CHECK(!exists(reference + "/points/lr0.5_d3_m0_none_s0"));

  const std::string dir = scratch("bad");
  // (option, value, what the message names)
  const std::vector<std::tuple<std::string, std::string, std::string>> bad = {
      {"--shard", "2/2", "--shard"},    {"--shard", "x", "--shard"},           {"--lrs", "0.1 abc", "abc"},
      {"--depths", "3 3", "--depths"}, {"--lr-controls", "none magic", "magic"}};
  for (const auto& [option, value, named] : bad) {
    const std::string args = option == "--shard" ? grid_args_text() + "--shard '" + value + "'"
                                                 : grid_args_text({{option, value}});
    const Outcome o = run_elrscope(args + " --out '" + dir + "/x'");
    INFO(option << " " << value << "\n" << o.output);
    CHECK(o.exit_code == 2);
    CHECK(o.output.find(named) != std::string::npos);
    CHECK(!exists(dir + "/x/points"));
  }
  const Outcome missing = run_elrscope("sweep --collect-only --out '" + dir + "/none'");
  CHECK(missing.exit_code == 2);
  CHECK(missing.output.find("sweep.json") != std::string::npos);
}
