// A run's life after it started: SIGINT and SIGTERM stop it with a checkpoint and a summary marked
// interrupted; --resume continues it byte for byte (from step 0 when it was killed before its first
// checkpoint), changes nothing in a finished run, and extends one with --steps.
#include "test_util.h"
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "engine/files.h"
#include "engine/safetensors.h"
#include "experiments/run/run_logs.h"

using Catch::Contains;
using elr::testing::exists;
using elr::testing::read_all;
using elr::testing::run_elrscope;
using elr::testing::snapshot;
using elr::testing::temp_dir;

namespace {

// The default settings but a small model and data set (checkpoints at their default interval, 200
// steps), every step logged.
const std::string kRun =
    "train --model plain --depth 3 --width 8 --dataset synthetic --synthetic-size 256 --batch 16 --steps 400 "
    "--log-every 1 --no-eval --quiet --threads 1";

const std::string kTiny =
    "train --model plain --depth 3 --width 4 --dataset synthetic --synthetic-size 64 --batch 16 --no-eval --quiet "
    "--threads 1 --log-every 1";

// The reference: the same run, never interrupted.
const std::string& reference_run() {
  static const std::string dir = [] {
    const std::string d = temp_dir("uninterrupted");
    REQUIRE(run_elrscope(kRun + " --out " + d).exit_code == 0);
    return d;
  }();
  return dir;
}

// Starts kRun in `dir`, and sends `signal` once step `step` is logged; returns the exit code.
int run_and_signal(const std::string& dir, int64_t step, int signal) {
  const pid_t pid = elr::testing::start_elrscope(kRun + " --out " + dir, dir + ".log");
  REQUIRE(pid > 0);
  REQUIRE(elr::testing::wait_for_step(dir + "/layers.csv", step, pid));
  ::kill(pid, signal);
  return elr::testing::wait_exit(pid);
}

}  // namespace

TEST_CASE("interrupt: SIGINT at a random step, then --resume, writes the uninterrupted run's layers.csv",
          "[interrupt][resume]") {
  const std::string ref = reference_run(), dir = temp_dir("sigint");
  std::random_device rd;
  const int64_t at = 1 + static_cast<int64_t>(rd() % 250);  // before and after the checkpoint of step 200 (of 400)
  INFO("SIGINT after step " << at);
  REQUIRE(run_and_signal(dir, at, SIGINT) == 130);
  const std::string log = read_all(dir + ".log");
  CHECK_THAT(log, Contains("interrupted by SIGINT") && Contains("continue with: elrscope train --resume " + dir));

  const elr::RunSummary stopped = elr::read_run_summary(dir + "/summary.json");
  INFO("stopped after " << stopped.steps << " steps");
  CHECK(stopped.interrupted);
  CHECK(stopped.steps > at);
  CHECK(stopped.steps < 400);
  CHECK(elr::load_safetensors(dir + "/checkpoint.safetensors").metadata.at("next_step") ==
        std::to_string(stopped.steps));
  CHECK(elr::testing::last_logged_step(dir + "/layers.csv") == stopped.steps - 1);

  const auto resumed = run_elrscope("train --quiet --threads 1 --resume " + dir);
  INFO(resumed.output);
  REQUIRE(resumed.exit_code == 0);
  CHECK_THAT(resumed.output, Contains("resumed at step " + std::to_string(stopped.steps)));
  CHECK(read_all(dir + "/layers.csv") == read_all(ref + "/layers.csv"));
  // steps/s counts only the steps this process ran.
  const elr::RunSummary done = elr::read_run_summary(dir + "/summary.json");
  CHECK(!done.interrupted);
  CHECK(done.steps == 400);
  CHECK(done.first_step == stopped.steps);
  CHECK(done.steps_per_second == Approx((400 - stopped.steps) / done.seconds));
  CHECK(!exists(dir + "/lock"));
}

TEST_CASE("interrupt: SIGTERM stops the run the same way, with exit code 143", "[interrupt]") {
  const std::string dir = temp_dir("sigterm");
  REQUIRE(run_and_signal(dir, 20, SIGTERM) == 143);
  CHECK_THAT(read_all(dir + ".log"), Contains("interrupted by SIGTERM"));
  CHECK(elr::read_run_summary(dir + "/summary.json").interrupted);
  REQUIRE(run_elrscope("train --quiet --threads 1 --resume " + dir).exit_code == 0);
  CHECK(read_all(dir + "/layers.csv") == read_all(reference_run() + "/layers.csv"));
}

TEST_CASE("interrupt: a run killed before its first checkpoint starts again from step 0 on --resume",
          "[interrupt][resume]") {
  const std::string dir = temp_dir("killed_early");
  REQUIRE(run_and_signal(dir, 30, SIGKILL) == 1000 + SIGKILL);
  REQUIRE(!exists(dir + "/checkpoint.safetensors"));  // the first one comes at step 200
  REQUIRE(exists(dir + "/config.json"));
  const auto resumed = run_elrscope("train --quiet --threads 1 --resume " + dir);
  INFO(resumed.output);
  REQUIRE(resumed.exit_code == 0);
  CHECK_THAT(resumed.output, Contains("has no checkpoint") && Contains("starts again from step 0"));
  CHECK_THAT(resumed.output, Contains("taking over the lock"));  // the killed process could not remove it
  CHECK(read_all(dir + "/layers.csv") == read_all(reference_run() + "/layers.csv"));
}

TEST_CASE("resume: a finished run is left as it is", "[resume]") {
  const std::string dir = temp_dir("finished");
  REQUIRE(run_elrscope(kTiny + " --steps 20 --out " + dir).exit_code == 0);
  const auto before = snapshot(dir);
  const auto again = run_elrscope("train --threads 1 --resume " + dir);
  CHECK(again.exit_code == 0);
  CHECK_THAT(again.output, Contains("finished at step 20: nothing to do, nothing written"));
  CHECK(snapshot(dir) == before);

  // A diverged run too; it cannot be extended.
  const std::string diverged = temp_dir("finished_diverged");
  REQUIRE(run_elrscope(kTiny + " --steps 20 --lr 1e8 --out " + diverged).exit_code == 3);
  const auto kept = snapshot(diverged);
  const auto resumed = run_elrscope("train --threads 1 --resume " + diverged);
  CHECK(resumed.exit_code == 0);
  CHECK_THAT(resumed.output, Contains("the run had diverged at step"));
  const auto extended = run_elrscope("train --threads 1 --resume " + diverged + " --steps 40");
  CHECK(extended.exit_code == 2);
  CHECK_THAT(extended.output, Contains("diverged at step") && Contains("cannot be extended"));
  CHECK(snapshot(diverged) == kept);
}

TEST_CASE("resume: --steps extends a finished run, and the schedule spans the new length", "[resume][extend]") {
  // A constant schedule: the extended run logs what a run planned with 40 steps logs.
  const std::string planned = temp_dir("planned40"), dir = temp_dir("extended");
  REQUIRE(run_elrscope(kTiny + " --steps 40 --schedule constant --out " + planned).exit_code == 0);
  REQUIRE(run_elrscope(kTiny + " --steps 20 --schedule constant --out " + dir).exit_code == 0);
  const auto before = snapshot(dir);
  const auto shorter = run_elrscope("train --threads 1 --resume " + dir + " --steps 10");
  CHECK(shorter.exit_code == 2);
  CHECK_THAT(shorter.output, Contains("plans 20 steps; a run can be extended, not shortened"));
  CHECK(snapshot(dir) == before);

  const auto extended = run_elrscope("train --quiet --threads 1 --resume " + dir + " --steps 40");
  INFO(extended.output);
  REQUIRE(extended.exit_code == 0);
  CHECK_THAT(extended.output, Contains("extending the run in '" + dir + "' from 20 to 40 steps") &&
                                  Contains("the constant schedule now spans 40 steps"));
  CHECK(read_all(dir + "/layers.csv") == read_all(planned + "/layers.csv"));
  const nlohmann::json config = elr::read_json(dir + "/config.json");
  CHECK(config["steps"] == 40);
  CHECK(config["total_steps"] == 40);
  REQUIRE(config["extensions"].size() == 1);
  CHECK(config["extensions"][0]["at_step"] == 20);
  CHECK(config["extensions"][0]["total_steps_before"] == 20);
  CHECK(elr::read_run_summary(dir + "/summary.json").steps == 40);

  // Cosine: the schedule is recomputed over 40 steps, so the lr of step 20 jumps back up.
  const std::string cosine = temp_dir("extended_cosine");
  REQUIRE(run_elrscope(kTiny + " --steps 20 --schedule cosine --lr 0.1 --out " + cosine).exit_code == 0);
  const auto longer = run_elrscope("train --quiet --threads 1 --resume " + cosine + " --steps 40");
  REQUIRE(longer.exit_code == 0);
  CHECK_THAT(longer.output, Contains("the cosine schedule now spans 40 steps, so step 20 runs at lr 0.05"));
  const std::vector<elr::MetricsRow> rows = elr::read_metrics_jsonl(cosine + "/metrics.jsonl");
  REQUIRE(rows.size() == 40);
  CHECK(rows[19].lr < 0.001);
  CHECK(rows[20].lr == Approx(0.05));
}
