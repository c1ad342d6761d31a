// A checkpoint is only continued from when it is whole and belongs to the run: a flipped byte, a
// checkpoint of another model or optimizer, and a config.json edited since are refused by --resume,
// naming what differs, with no file of the run changed. And a failed write (ELR_FAIL_WRITE, the
// test hook of engine/files.h) stops the run at once, leaving its last checkpoint loadable.
#include "test_util.h"
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/files.h"
#include "engine/safetensors.h"
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
    "train --model plain --dataset synthetic --synthetic-size 64 --batch 16 --no-eval --quiet --threads 1 "
    "--log-every 1";

// A run of `settings` killed after its last checkpoint: --resume reads the checkpoint.
std::string unfinished_run(const std::string& name, const std::string& settings) {
  const std::string dir = temp_dir(name);
  REQUIRE(run_elrscope(kTiny + " " + settings + " --out " + dir).exit_code == 0);
  fs::remove(dir + "/summary.json");
  return dir;
}

// --resume must fail with exit code 2 and these words, and change no file.
void resume_refused(const std::string& dir, const std::vector<std::string>& words) {
  const auto before = snapshot(dir);
  const auto r = run_elrscope("train --threads 1 --resume " + dir);
  INFO(r.output);
  CHECK(r.exit_code == 2);
  for (const std::string& w : words) CHECK_THAT(r.output, Contains(w));
  CHECK(snapshot(dir) == before);
}

}  // namespace

TEST_CASE("checkpoint: a flipped byte in the tensor data is found by the checksum", "[checkpoint][resume]") {
  const std::string dir = unfinished_run("flipped", "--depth 3 --width 4 --steps 6");
  const std::string path = dir + "/checkpoint.safetensors";
  std::string bytes = read_all(path);
  bytes[bytes.size() - 7] ^= 0x04;  // in the data section, which ends the file
  std::ofstream(path, std::ios::binary) << bytes;
  resume_refused(dir, {"checkpoint '" + path + "' is damaged", "do not match its checksum"});
}

TEST_CASE("checkpoint: one of another model, optimizer or config.json is refused, naming the setting",
          "[checkpoint][resume]") {
  SECTION("a depth-12 checkpoint in a depth-8 run") {
    const std::string deep = unfinished_run("depth12", "--depth 12 --width 4 --steps 2");
    const std::string dir = unfinished_run("depth8", "--depth 8 --width 4 --steps 2");
    fs::copy_file(deep + "/checkpoint.safetensors", dir + "/checkpoint.safetensors",
                  fs::copy_options::overwrite_existing);
    resume_refused(dir, {"was written with depth = 12, but the run has depth = 8"});
  }
  SECTION("a momentum-0 checkpoint in a momentum-0.9 run") {
    const std::string plain = unfinished_run("momentum0", "--depth 3 --width 4 --steps 2 --momentum 0");
    const std::string dir = unfinished_run("momentum09", "--depth 3 --width 4 --steps 2 --momentum 0.9");
    fs::copy_file(plain + "/checkpoint.safetensors", dir + "/checkpoint.safetensors",
                  fs::copy_options::overwrite_existing);
    resume_refused(dir, {"was written with momentum = 0.0, but the run has momentum = 0.9"});
  }
  SECTION("a learning rate edited in config.json") {
    const std::string dir = unfinished_run("edited_lr", "--depth 3 --width 4 --steps 2 --lr 0.1");
    nlohmann::json config = elr::read_json(dir + "/config.json");
    config["lr"] = 0.2;
    elr::write_json_atomic(dir + "/config.json", config);
    resume_refused(dir, {"was written with lr = 0.1, but the run has lr = 0.2 (config.json)"});
  }
  SECTION("settings that do not change the numbers may differ") {
    const std::string dir = unfinished_run("threads_eval", "--depth 3 --width 4 --steps 2");
    nlohmann::json config = elr::read_json(dir + "/config.json");
    config["checkpoint_every"] = 7;
    config["evaluate"] = true;
    elr::write_json_atomic(dir + "/config.json", config);
    CHECK(run_elrscope("train --quiet --threads 1 --resume " + dir).exit_code == 0);
  }
}

TEST_CASE("checkpoint: the first failed write stops the run, and its last checkpoint resumes it",
          "[checkpoint][write-failure]") {
  const std::string settings = "--depth 3 --width 4 --steps 30 --checkpoint-every 10";
  const std::string reference = temp_dir("write_ref");
  REQUIRE(run_elrscope(kTiny + " " + settings + " --out " + reference).exit_code == 0);
  // Writes: config.json, the layers.csv header, then per step a metrics line and a line per
  // parameter, and a checkpoint after steps 9 and 19.
  const int64_t per_step = 1 + static_cast<int64_t>(elr::read_json(reference + "/config.json")["parameters"].size());
  auto write_number = [&](int64_t steps, int64_t checkpoints) { return 2 + steps * per_step + checkpoints; };

  struct Case {
    const char* what;
    int64_t failing_write;
    std::string failed_file;
    int64_t checkpoint_left;  // -1: none
  };
  const std::vector<Case> cases = {
      {"a layers.csv line of step 14", write_number(14, 1) + 3, "layers.csv", 10},
      {"the metrics line of step 3", write_number(3, 0) + 1, "metrics.jsonl", -1},
      {"the checkpoint of step 20", write_number(20, 1) + 1, "checkpoint.safetensors.tmp", 10},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    const std::string dir = temp_dir("write_fail");
    const auto r = run_elrscope(kTiny + " " + settings + " --out " + dir,
                                "ELR_FAIL_WRITE=" + std::to_string(c.failing_write));
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains("cannot write '" + dir + "/" + c.failed_file + "': No space left on device"));
    CHECK(!exists(dir + "/summary.json"));
    CHECK(!exists(dir + "/checkpoint.safetensors.tmp"));
    if (c.checkpoint_left < 0) {
      CHECK_THAT(r.output, Contains("before its first checkpoint"));
      CHECK(!exists(dir + "/checkpoint.safetensors"));
    } else {
      CHECK_THAT(r.output, Contains("its checkpoint of step " + std::to_string(c.checkpoint_left) + " is intact"));
      CHECK(elr::load_safetensors(dir + "/checkpoint.safetensors").metadata.at("next_step") ==
            std::to_string(c.checkpoint_left));
    }
    // Nothing was written after the failed write: a log that failed ends in the cut line.
    if (c.failed_file != "checkpoint.safetensors.tmp") CHECK(read_all(dir + "/" + c.failed_file).back() != '\n');
    const auto resumed = run_elrscope("train --quiet --threads 1 --resume " + dir);
    INFO(resumed.output);
    CHECK(resumed.exit_code == 0);
    CHECK(read_all(dir + "/layers.csv") == read_all(reference + "/layers.csv"));
  }
}
