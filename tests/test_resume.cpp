// Checkpoints and exact resume: a run killed with SIGKILL at a random step and resumed writes the
// same layers.csv and final checkpoint, byte for byte, as the run that was never interrupted.
#include "test_util.h"
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "engine/files.h"
#include "engine/safetensors.h"

namespace {

std::string fresh_dir(const std::string& name) {
  std::string d = "/tmp/elr_resume_" + name + "_" + std::to_string(::getpid());
  std::system(("rm -rf '" + d + "'").c_str());
  return d;
}

const char* kRunArgs =
    "train --model plain --depth 5 --width 24 --dataset synthetic --synthetic-size 512 --batch 64 --steps 24 "
    "--lr 0.3 --momentum 0.9 --log-every 1 --checkpoint-every 1 --no-eval --quiet --threads 1";

int run_elrscope(const std::string& args) { return elr::testing::run_elrscope(args + " >/dev/null").exit_code; }

}  // namespace

TEST_CASE("resume: a run killed with SIGKILL at a random step resumes byte-identically", "[resume]") {
  const std::string reference = fresh_dir("reference"), killed = fresh_dir("killed");
  REQUIRE(run_elrscope(std::string(kRunArgs) + " --out " + reference) == 0);

  std::random_device rd;
  const int64_t kill_after = 2 + static_cast<int64_t>(rd() % 18);  // somewhere in steps 2..19
  INFO("killing after step " << kill_after);
  const pid_t pid = elr::testing::start_elrscope(std::string(kRunArgs) + " --out " + killed, "/dev/null");
  REQUIRE(pid > 0);
  elr::testing::wait_for_step(killed + "/layers.csv", kill_after, pid, 120);
  ::kill(pid, SIGKILL);
  INFO("last logged step when killed: " << elr::testing::last_logged_step(killed + "/layers.csv"));
  CHECK(elr::testing::wait_exit(pid) == 1000 + SIGKILL);  // it had not finished on its own

  REQUIRE(run_elrscope("train --quiet --threads 1 --resume " + killed) == 0);
  CHECK(elr::testing::read_all(killed + "/layers.csv") == elr::testing::read_all(reference + "/layers.csv"));
  // Final weights, BN statistics and momentum buffers byte for byte; the metadata differs only in
  // the run directory's name inside the stored config.
  auto a = elr::load_safetensors(killed + "/checkpoint.safetensors");
  auto b = elr::load_safetensors(reference + "/checkpoint.safetensors");
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (const auto& [name, t] : b.tensors) {
    INFO(name);
    REQUIRE(a.tensors.count(name) == 1);
    CHECK(a.tensors.at(name).shape == t.shape);
    CHECK((a.tensors.at(name).bytes == t.bytes));
  }
  for (const char* key : {"next_step", "data_epoch", "data_index", "correct", "seen", "reference_elr"})
    CHECK(a.metadata.at(key) == b.metadata.at(key));
  auto summary = elr::read_json(killed + "/summary.json");
  CHECK(summary["steps"] == 24);
}

TEST_CASE("resume: --resume refuses other settings and non-run folders", "[resume][cli]") {
  const std::string dir = fresh_dir("refuse");
  elr::make_directories(dir);
  CHECK(run_elrscope("train --threads 1 --resume " + dir) == 2);
  CHECK(run_elrscope("train --threads 1 --resume " + dir + " --lr 0.5") == 2);
}

TEST_CASE("checkpoint: a corrupt checkpoint is a clear error and nothing is overwritten", "[resume][bad-input]") {
  const std::string dir = fresh_dir("corrupt");
  REQUIRE(run_elrscope(
              "train --model plain --depth 3 --width 4 --dataset synthetic --synthetic-size 64 --batch 16 --steps 2 "
              "--no-eval --quiet --out " + dir) == 0);
  ::unlink((dir + "/summary.json").c_str());  // as if killed after its last checkpoint: --resume reads it
  const std::string ckpt = dir + "/checkpoint.safetensors";
  std::string bytes = elr::testing::read_all(ckpt);
  REQUIRE(bytes.size() > 100);
  const std::string truncated = bytes.substr(0, bytes.size() - 10);
  std::ofstream(ckpt, std::ios::binary) << truncated;
  const std::string layers_before = elr::testing::read_all(dir + "/layers.csv");
  CHECK_THROWS_WITH(elr::load_safetensors(ckpt), Catch::Contains(ckpt) && Catch::Contains("truncated"));
  CHECK(run_elrscope("train --quiet --threads 1 --resume " + dir) == 2);
  CHECK(elr::testing::read_all(dir + "/layers.csv") == layers_before);
  CHECK_THROWS_WITH(elr::parse_safetensors("abc", "x.safetensors"), Catch::Contains("x.safetensors"));
  CHECK_THROWS_WITH(elr::parse_safetensors(std::string("\x10\0\0\0\0\0\0\0{\"a\":1}         ", 24), "y.safetensors"),
                    Catch::Contains("y.safetensors") && Catch::Contains("'a'"));
}
