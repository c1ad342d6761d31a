// A run folder belongs to one run: a non-empty --out is refused unless --overwrite (which removes
// what the earlier run left, and nothing else), runs without --out get folders of their own, and
// RUN/lock keeps a second writer out while a run writes.
#include "test_util.h"
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "engine/files.h"
#include "experiments/run/run_dir.h"
#include "experiments/run/run_logs.h"

using Catch::Contains;
using elr::testing::exists;
using elr::testing::read_all;
using elr::testing::run_elrscope;
using elr::testing::snapshot;
using elr::testing::temp_dir;
namespace fs = std::filesystem;

namespace {

const std::string kTiny =
    "train --model plain --depth 3 --width 4 --dataset synthetic --synthetic-size 64 --batch 16 --no-eval --quiet "
    "--threads 1";

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::string hostname() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

}  // namespace

TEST_CASE("run folder: an --out that holds a run is refused, and --overwrite removes the old run's files",
          "[run-folder]") {
  const std::string dir = temp_dir("out_taken");
  REQUIRE(run_elrscope(kTiny + " --steps 30 --out " + dir).exit_code == 0);
  write_text(dir + "/ode.csv", "step,layer\n");
  elr::make_directories(dir + "/report");
  write_text(dir + "/report/report.md", "# report\n");
  const auto before = snapshot(dir);

  const auto again = run_elrscope(kTiny + " --steps 5 --lr 0.5 --out " + dir);
  CHECK(again.exit_code == 2);
  CHECK_THAT(again.output, Contains("'" + dir + "' holds a finished run") && Contains("--resume " + dir) &&
                               Contains("--overwrite"));
  CHECK(snapshot(dir) == before);

  const auto replaced = run_elrscope(kTiny + " --steps 5 --lr 0.5 --overwrite --out " + dir);
  INFO(replaced.output);
  CHECK(replaced.exit_code == 0);
  CHECK_THAT(replaced.output, Contains("--overwrite: removed the earlier run's files"));
  CHECK(!exists(dir + "/ode.csv"));
  CHECK(!exists(dir + "/report"));
  CHECK(elr::read_json(dir + "/config.json")["lr"] == 0.5);
  const std::vector<elr::LayerRow> rows = elr::read_layers_csv(dir + "/layers.csv");
  REQUIRE(!rows.empty());
  CHECK(rows.front().step == 0);
  CHECK(rows.back().step == 4);  // only the new run's steps
  CHECK(elr::read_run_summary(dir + "/summary.json").steps == 5);
}

TEST_CASE("run folder: files that no run writes are never removed", "[run-folder]") {
  const std::string dir = temp_dir("out_foreign");
  elr::make_directories(dir);
  write_text(dir + "/notes.txt", "mine\n");
  const auto plain = run_elrscope(kTiny + " --steps 2 --out " + dir);
  CHECK(plain.exit_code == 2);
  CHECK_THAT(plain.output, Contains("'" + dir + "' is not empty (notes.txt)"));
  const auto over = run_elrscope(kTiny + " --steps 2 --overwrite --out " + dir);
  CHECK(over.exit_code == 2);
  CHECK_THAT(over.output, Contains("holds files that no run writes (notes.txt)") && Contains("nothing was removed"));
  CHECK(read_all(dir + "/notes.txt") == "mine\n");

  // A run with a file of someone else's in its folder: --overwrite removes nothing either.
  fs::remove(dir + "/notes.txt");
  REQUIRE(run_elrscope(kTiny + " --steps 2 --out " + dir).exit_code == 0);
  write_text(dir + "/notes.txt", "mine\n");
  const auto before = snapshot(dir);
  CHECK(run_elrscope(kTiny + " --steps 2 --overwrite --out " + dir).exit_code == 2);
  CHECK(snapshot(dir) == before);
}

TEST_CASE("run folder: runs started together without --out get folders of their own", "[run-folder]") {
  const std::string cwd = temp_dir("default_names");
  elr::make_directories(cwd);
  const std::string run = std::string(ELR_BINARY) + " " + kTiny + " --steps 3";
  const std::string both = "cd '" + cwd + "' && (" + run + " & " + run + " & wait) >/dev/null 2>&1";
  REQUIRE(std::system(both.c_str()) == 0);
  std::vector<std::string> dirs;
  for (const auto& e : fs::directory_iterator(cwd + "/runs")) dirs.push_back(e.path().string());
  REQUIRE(dirs.size() == 2);
  for (const std::string& d : dirs) {
    INFO(d);
    CHECK(fs::path(d).filename().string().rfind("plain-3-", 0) == 0);
    CHECK(elr::read_run_summary(d + "/summary.json").steps == 3);
    CHECK(elr::read_layers_csv(d + "/layers.csv").back().step == 2);
  }

  // The name of this second (and of the next) taken already: the run gets another new folder.
  const fs::path here = fs::current_path();
  fs::current_path(cwd);
  std::set<std::string> made;
  for (int i = 0; i < 4; ++i) made.insert(elr::create_default_run_dir("plain", 3));
  fs::current_path(here);
  CHECK(made.size() == 4);
  for (const std::string& d : made) CHECK(fs::is_empty(cwd + "/" + d));
}

TEST_CASE("run folder: a second writer is refused while a run holds its lock", "[run-folder][lock]") {
  const std::string dir = temp_dir("locked"), log = dir + ".log";
  const pid_t first = elr::testing::start_elrscope(kTiny + " --steps 1000000 --log-every 1 --out " + dir, log);
  REQUIRE(first > 0);
  REQUIRE(elr::testing::wait_for_step(dir + "/layers.csv", 5, first));

  for (const std::string& second : {kTiny + " --steps 5 --out " + dir, kTiny + " --steps 5 --overwrite --out " + dir,
                                    std::string("train --quiet --resume ") + dir}) {
    INFO(second);
    const auto refused = run_elrscope(second);
    CHECK(refused.exit_code == 2);
    CHECK_THAT(refused.output, Contains("'" + dir + "' is in use by process " + std::to_string(first) + " on host " +
                                        hostname()) &&
                                   Contains(dir + "/lock"));
  }
  ::kill(first, SIGINT);  // no need to wait for a million steps
  CHECK(elr::testing::wait_exit(first) == 130);
  // The first run's logs are whole: every step once, in order.
  const std::vector<elr::LayerRow> rows = elr::read_layers_csv(dir + "/layers.csv");
  const int64_t steps = elr::read_run_summary(dir + "/summary.json").steps;
  REQUIRE(!rows.empty());
  CHECK(rows.size() % steps == 0);
  const size_t per_step = rows.size() / steps;
  for (size_t i = 0; i < rows.size(); ++i) CHECK(rows[i].step == static_cast<int64_t>(i / per_step));
  CHECK(!exists(dir + "/lock"));
}

TEST_CASE("run folder: the lock of a process that is gone is taken over, on this host only", "[run-folder][lock]") {
  const std::string dir = temp_dir("stale_lock");
  elr::make_directories(dir);
  const pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  REQUIRE(elr::testing::wait_exit(gone) == 0);
  const nlohmann::json record = {{"pid", gone}, {"host", hostname()}, {"started", "2024-01-01 00:00:00"}};
  write_text(dir + "/lock", record.dump());
  const auto taken = run_elrscope(kTiny + " --steps 2 --out " + dir);
  CHECK(taken.exit_code == 0);
  CHECK_THAT(taken.output, Contains("taking over the lock of process " + std::to_string(gone) + " on host " +
                                    hostname() + ", started 2024-01-01 00:00:00"));
  CHECK(!exists(dir + "/lock"));

  const std::string other = temp_dir("foreign_lock");
  elr::make_directories(other);
  write_text(other + "/lock", nlohmann::json{{"pid", 1}, {"host", "elsewhere"}, {"started", "x"}}.dump());
  const auto refused = run_elrscope(kTiny + " --steps 2 --out " + other);
  CHECK(refused.exit_code == 2);
  CHECK_THAT(refused.output, Contains("was locked by process 1 on host elsewhere") && Contains("delete"));
  CHECK(snapshot(other).size() == 1);  // the lock file only
}
