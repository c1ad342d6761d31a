// Bad input not covered elsewhere: malformed safetensors headers, checkpoints that do not fit the
// model, paths that are not readable files, contradictory or out-of-range options, and broken run
// folders for --resume. Each case checks that the error is an elr::UserError whose message names
// the file or the option and the problem.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/files.h"
#include "engine/safetensors.h"
#include "experiments/cli/train_command.h"
#include "experiments/data/dataset.h"
#include "experiments/run/checkpoint.h"
#include "experiments/run/train.h"
#include "fuzz/fuzz_entries.h"
#include "test_util.h"

using namespace elr;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "elr-bad-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  REQUIRE(out.good());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A safetensors file from a header (dumped as is, padded to 8 bytes) and a data section.
std::string safetensors_bytes(const nlohmann::json& header, const std::string& data) {
  std::string json = header.dump();
  while (json.size() % 8 != 0) json.push_back(' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((static_cast<uint64_t>(json.size()) >> (8 * i)) & 0xFF);
  return out + json + data;
}

std::string with_length(uint64_t n, const std::string& rest) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + rest;
}

nlohmann::json f32_entry(std::vector<int64_t> shape, uint64_t begin, uint64_t end) {
  return {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {begin, end}}};
}

bool running_as_root() { return ::geteuid() == 0; }

// The small training run the resume cases start from.
TrainConfig tiny_run(const std::string& out) {
  TrainConfig c;
  c.model.name = "plain";
  c.model.depth = 3;
  c.model.width = 4;
  c.dataset = "synthetic";
  c.synthetic_size = 64;
  c.batch = 16;
  c.steps = 3;
  c.out = out;
  c.evaluate = false;
  c.progress = false;
  return c;
}

TrainConfig resume_of(const std::string& out) {
  TrainConfig c = config_from_json(read_json(out + "/config.json"), out + "/config.json");
  c.out = out;
  c.resume = true;
  c.progress = false;
  return c;
}

}  // namespace

TEST_CASE("bad input: every malformed safetensors header is a UserError naming the file and the fault",
          "[bad-input][resume]") {
  const std::string src = "model.safetensors";
  auto fails_with = [&](const std::string& bytes, const std::string& detail) {
    INFO("expecting: " << detail);
    CHECK_THROWS_AS(parse_safetensors(bytes, src), UserError);
    CHECK_THROWS_WITH(parse_safetensors(bytes, src), Contains(src) && Contains(detail));
  };
  const std::string data16(16, '\0');
  fails_with(with_length(1000, "{}      "), "header length 1000 exceeds the file (16 bytes)");
  fails_with(with_length(8, "{\"a\":[1,"), "the header is not valid JSON");
  fails_with(with_length(8, "[1,2]   "), "the header is not a JSON object");
  fails_with(safetensors_bytes({{"__metadata__", 5}}, ""), "__metadata__ is not an object");
  fails_with(safetensors_bytes({{"__metadata__", {{"step", 3}}}}, ""), "metadata 'step' is not a string");
  fails_with(safetensors_bytes({{"w", {{"dtype", "F8"}, {"shape", {4}}, {"data_offsets", {0, 4}}}}}, std::string(4, '\0')),
             "tensor 'w' has unknown dtype 'F8'");
  fails_with(safetensors_bytes({{"w", f32_entry({-1}, 0, 4)}}, std::string(4, '\0')), "tensor 'w' has a bad dimension");
  fails_with(safetensors_bytes({{"w", f32_entry({1 << 30, 1 << 30, 1 << 30}, 0, 4)}}, std::string(4, '\0')),
             "tensor 'w' is impossibly large");
  fails_with(safetensors_bytes({{"w", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {"0", 4}}}}}, std::string(4, '\0')),
             "tensor 'w' has bad data_offsets");
  fails_with(safetensors_bytes({{"w", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {0}}}}}, std::string(4, '\0')),
             "tensor 'w' lacks dtype, shape or data_offsets");
  SECTION("offsets out of range, reversed, or past 2^64") {
    fails_with(safetensors_bytes({{"w", f32_entry({16}, 0, 64)}}, data16), "tensor 'w' spans bytes 0..64 of a 16-byte data section");
    fails_with(safetensors_bytes({{"w", f32_entry({1}, 8, 4)}}, data16), "spans bytes 8..4");
    const uint64_t top = std::numeric_limits<uint64_t>::max();
    fails_with(safetensors_bytes({{"w", f32_entry({4}, top - 8, top)}}, data16), "spans bytes 18446744073709551607..");
  }
  SECTION("byte count that does not match the shape and dtype") {
    fails_with(safetensors_bytes({{"w", f32_entry({3}, 0, 8)}}, std::string(8, '\0')), "tensor 'w' has 8 bytes for shape [3] of F32");
  }
  SECTION("a hole: data bytes no tensor covers") {
    fails_with(safetensors_bytes({{"a", f32_entry({1}, 0, 4)}, {"b", f32_entry({1}, 8, 12)}}, std::string(12, '\0')),
               "tensor data overlaps or leaves a hole at byte 4");
  }
  SECTION("overlapping tensors whose sizes add up to the data section") {
    fails_with(safetensors_bytes({{"a", f32_entry({1}, 0, 4)}, {"b", f32_entry({1}, 0, 4)}}, std::string(8, '\0')),
               "tensor data overlaps or leaves a hole at byte 0");
  }
  SECTION("tensors that stop short of the end of the data section") {
    fails_with(safetensors_bytes({{"a", f32_entry({1}, 0, 4)}}, std::string(8, '\0')),
               "the tensors cover 4 of 8 data bytes");
  }
  SECTION("a well-formed file with every dtype width still parses (the cases above are not over-strict)") {
    nlohmann::json h = {{"a", {{"dtype", "F64"}, {"shape", {1}}, {"data_offsets", {0, 8}}}},
                        {"b", {{"dtype", "BF16"}, {"shape", {2}}, {"data_offsets", {8, 12}}}},
                        {"c", {{"dtype", "U8"}, {"shape", {4}}, {"data_offsets", {12, 16}}}}};
    SafeTensorsFile f = parse_safetensors(safetensors_bytes(h, data16), src);
    CHECK(f.tensors.size() == 3);
    CHECK(f.tensors.at("b").bytes.size() == 4);
  }
}

TEST_CASE("bad input: a checkpoint that does not fit the model is refused with the tensor's name",
          "[bad-input][resume]") {
  TempDir dir;
  fuzz::CheckpointTarget target;
  // Momentum buffers (SGD with momentum after a step has one per parameter), so the optimizer state is saved too.
  std::vector<Parameter*> params = target.model->parameters();
  REQUIRE(params.size() >= 2);
  REQUIRE(target.sgd->momentum_buffers().size() == params.size());
  for (size_t i = 0; i < params.size(); ++i)
    target.sgd->momentum_buffers()[i] = Tensor::from_vector(
        params[i]->value.shape(), std::vector<float>(static_cast<size_t>(params[i]->value.numel()), 0.125f));
  TrainState state;
  state.next_step = 2;
  const std::string good = dir / "good.safetensors";
  save_checkpoint(good, *target.model, *target.sgd, state, nlohmann::json{{"model", "plain"}});
  REQUIRE_NOTHROW(load_checkpoint(good, *target.model, *target.sgd));
  const SafeTensorsFile original = load_safetensors(good);
  const std::string p0 = params[0]->name, p1 = params[1]->name;
  REQUIRE(original.tensors.count("optimizer.momentum." + p0) == 1);

  // Writes the edited file (with a checksum that fits it, unless `resign` is false) and expects
  // load_checkpoint to refuse it with the given details.
  auto refused = [&](SafeTensorsFile f, const std::vector<std::string>& details, bool resign = true) {
    const std::string path = dir / "edited.safetensors";
    if (resign) f.metadata["checksum"] = checkpoint_checksum(f);
    write_file(path, serialize_safetensors(f));
    try {
      load_checkpoint(path, *target.model, *target.sgd);
      FAIL_CHECK("accepted a checkpoint that does not fit");
    } catch (const UserError& e) {
      const std::string msg = e.what();
      INFO(msg);
      CHECK(msg.find(path) != std::string::npos);
      for (const std::string& d : details) CHECK(msg.find(d) != std::string::npos);
    }
  };
  SECTION("a parameter with another shape") {
    SafeTensorsFile f = original;
    const SafeTensor& t = f.tensors.at(p1);
    std::vector<float> one(static_cast<size_t>(t.bytes.size() / 4 + 1), 0.5f);
    f.put_f32(p1, {static_cast<int64_t>(one.size())}, one.data());
    refused(f, {"tensor '" + p1 + "'", "the model has f32"});
  }
  SECTION("a parameter stored as F64") {
    SafeTensorsFile f = original;
    std::vector<double> wide(f.tensors.at(p1).bytes.size() / 4, 0.25);
    f.put_f64(p1, f.tensors.at(p1).shape, wide.data());
    refused(f, {"tensor '" + p1 + "' is F64"});
  }
  SECTION("a missing parameter") {
    SafeTensorsFile f = original;
    f.tensors.erase(p1);
    refused(f, {"has no tensor named '" + p1 + "'"});
  }
  SECTION("a momentum buffer with another shape") {
    SafeTensorsFile f = original;
    const float v[2] = {1, 2};
    f.put_f32("optimizer.momentum." + p0, {2}, v);
    refused(f, {"optimizer.momentum." + p0});
  }
  SECTION("a tensor the model does not have") {
    SafeTensorsFile f = original;
    const float v[1] = {1};
    f.put_f32("layers.9.conv.weight", {1}, v);
    refused(f, {"holds tensor 'layers.9.conv.weight'", "do not have"});
  }
  SECTION("a missing momentum buffer, and momentum buffers where the step count says none were made") {
    SafeTensorsFile f = original;
    f.tensors.erase("optimizer.momentum." + p1);
    refused(f, {"'optimizer.momentum." + p1 + "'"});
    f = original;
    f.metadata["next_step"] = "0";
    refused(f, {"holds tensor 'optimizer.momentum."});
  }
  SECTION("a flipped bit in the data section or in the metadata: the checksum does not match") {
    SafeTensorsFile f = original;
    f.tensors.at(p1).bytes[3] ^= 0x10;
    refused(f, {"is damaged", "do not match its checksum"}, false);
    f = original;
    f.metadata["next_step"] = "3";
    refused(f, {"is damaged"}, false);
    f = original;
    f.metadata.erase("checksum");
    refused(f, {"lacks metadata 'checksum'"}, false);
  }
  SECTION("a checkpoint of the format before checksums") {
    SafeTensorsFile f = original;
    f.metadata["format"] = "elrscope-checkpoint-1";
    f.metadata.erase("checksum");
    refused(f, {"written by an older elrscope", "--overwrite"});
  }
  SECTION("a file from another program (no format metadata)") {
    SafeTensorsFile f = original;
    f.metadata.erase("format");
    refused(f, {"was not written by elrscope"});
  }
  SECTION("metadata that is missing, not a number, or negative") {
    SafeTensorsFile f = original;
    f.metadata.erase("next_step");
    refused(f, {"lacks metadata 'next_step'"});
    f = original;
    f.metadata["data_index"] = "many";
    refused(f, {"metadata 'data_index' = 'many' is not an integer"});
    f = original;
    f.metadata["data_epoch"] = "-1";
    refused(f, {"negative step or data position"});
    f = original;
    f.metadata.erase("reference_elr");
    refused(f, {"bad or missing metadata 'reference_elr'"});
  }
  SECTION("a directory, or nothing, where the checkpoint file should be") {
    const std::string folder = dir / "ckpt_dir";
    fs::create_directory(folder);
    CHECK_THROWS_AS(load_checkpoint(folder, *target.model, *target.sgd), UserError);
    CHECK_THROWS_WITH(load_checkpoint(folder, *target.model, *target.sgd), Contains(folder));
    const std::string absent = dir / "absent.safetensors";
    CHECK_THROWS_WITH(load_checkpoint(absent, *target.model, *target.sgd),
                      Contains("cannot read checkpoint") && Contains(absent));
  }
  SECTION("a checkpoint without read permission") {
    if (running_as_root()) {
      WARN("running as root: file permissions are not enforced, the unreadable-file case is skipped");
    } else {
      const std::string locked = dir / "locked.safetensors";
      write_file(locked, read_file(good));
      fs::permissions(locked, fs::perms::none);
      CHECK_THROWS_WITH(load_checkpoint(locked, *target.model, *target.sgd),
                        Contains("cannot read checkpoint") && Contains(locked));
    }
  }
}

TEST_CASE("bad input: data paths that are not readable files name the path", "[bad-input][data]") {
  TempDir dir;
  SECTION("CIFAR: a directory where a batch file should be") {
    fs::create_directory(dir / "test_batch.bin");
    CHECK_THROWS_WITH(load_cifar(dir.path, 10, false), Contains(dir / "test_batch.bin") && Contains("is a directory"));
  }
  SECTION("Fashion-MNIST: a regular file given as the folder") {
    write_file(dir / "not_a_folder", "x");
    CHECK_THROWS_AS(load_fashion_mnist(dir / "not_a_folder", true), UserError);
    CHECK_THROWS_WITH(load_fashion_mnist(dir / "not_a_folder", true),
                      Contains(dir / "not_a_folder/train-images-idx3-ubyte") && Contains("Not a directory"));
  }
  SECTION("Fashion-MNIST: a header whose dimensions describe more than 64 GiB") {
    const std::string header = {0, 0, 8, 3, '\xff', '\xff', '\xff', '\xff', 0, 0, 0, 28, 0, 0, 0, 28};
    write_file(dir / "train-images-idx3-ubyte", header);
    CHECK_THROWS_WITH(load_fashion_mnist(dir.path, true),
                      Contains(dir / "train-images-idx3-ubyte") && Contains("more than 64 GiB"));
  }
  SECTION("files without read permission") {
    if (running_as_root()) {
      WARN("running as root: file permissions are not enforced, the unreadable-file cases are skipped");
    } else {
      write_file(dir / "test_batch.bin", std::string(3073, '\0'));
      fs::permissions(dir / "test_batch.bin", fs::perms::none);
      CHECK_THROWS_WITH(load_cifar(dir.path, 10, false),
                        Contains(dir / "test_batch.bin") && Contains("Permission denied"));
      write_file(dir / "t10k-images-idx3-ubyte", std::string(16, '\0'));
      fs::permissions(dir / "t10k-images-idx3-ubyte", fs::perms::none);
      CHECK_THROWS_WITH(load_fashion_mnist(dir.path, false),
                        Contains(dir / "t10k-images-idx3-ubyte") && Contains("Permission denied"));
    }
  }
}

TEST_CASE("bad input: out-of-range and contradictory train options name the option", "[bad-input][cli]") {
  auto rejected = [](TrainConfig c, const std::string& option, const std::string& detail) {
    INFO(option << ": " << detail);
    CHECK_THROWS_AS(validate_train_config(c), UserError);
    CHECK_THROWS_WITH(validate_train_config(c), Contains(option) && Contains(detail));
  };
  TrainConfig base;
  base.dataset = "synthetic";
  REQUIRE_NOTHROW(validate_train_config(base));
  TrainConfig c = base;
  c.steps = -1;
  rejected(c, "--steps", "got -1");
  c = base;
  c.epochs = 0;
  rejected(c, "--epochs", "must be positive");
  c = base;
  c.lr = std::numeric_limits<double>::infinity();
  rejected(c, "--lr", "inf");
  c = base;
  c.lr = std::nan("");
  rejected(c, "--lr", "nan");
  c = base;
  c.momentum = std::nan("");
  rejected(c, "--momentum", "[0, 1)");
  c = base;
  c.weight_decay = -1e-4;
  rejected(c, "--wd", "must not be negative");
  c = base;
  c.warmup_steps = -5;
  rejected(c, "--warmup", "-5");
  c = base;
  c.log_every = -1;
  rejected(c, "--log-every", "-1");
  c = base;
  c.threads = -2;
  rejected(c, "--threads", "-2");
  c = base;
  c.checkpoint_every = -1;
  rejected(c, "--checkpoint-every", "-1");
  c = base;
  c.synthetic_size = 3;
  rejected(c, "--synthetic-size", "at least 4");
  c = base;
  c.target_elr = -0.1;
  c.lr_control = LrControlKind::UniformElr;
  rejected(c, "--target-elr", "must not be negative");
  c = base;
  c.target_elr = 0.1;
  rejected(c, "--target-elr", "only used with --lr-control uniform-elr");

  SECTION("unknown words of named settings are refused while the command line is parsed") {
    auto refused = [](const std::string& option, const std::string& value, const std::string& detail) {
      INFO(option << " " << value);
      TrainConfig parsed;
      CLI::App app{"train"};
      add_train_options(app, parsed);
      const char* argv[] = {"train", option.c_str(), value.c_str()};
      CHECK_THROWS_AS(app.parse(3, argv), UserError);
      CLI::App again{"train"};
      add_train_options(again, parsed);
      CHECK_THROWS_WITH(again.parse(3, argv), Contains(option) && Contains(detail));
    };
    refused("--schedule", "linear", "'linear'");
    refused("--on-divergence", "ignore", "'ignore'");
    refused("--lr-control", "magic", "'magic'");
    refused("--device", "tpu", "expected cpu, cuda or cuda:N");
    refused("--device", "cuda:x", "unknown device 'cuda:x'");
  }

  SECTION("--steps and --epochs together are refused by the parser") {
    TrainConfig parsed;
    CLI::App app{"train"};
    add_train_options(app, parsed);
    const char* argv[] = {"train", "--steps", "10", "--epochs", "2"};
    try {
      app.parse(5, argv);
      FAIL_CHECK("--steps with --epochs was accepted");
    } catch (const CLI::ParseError& e) {
      CHECK(std::string(e.what()).find("--steps") != std::string::npos);
      CHECK(std::string(e.what()).find("--epochs") != std::string::npos);
    }
  }
  SECTION("a --batch larger than the training set") {
    TempDir dir;
    TrainConfig t = tiny_run(dir / "run");
    t.synthetic_size = 8;
    CHECK_THROWS_WITH(train(t), Contains("--batch: 16 is larger than the training set (8 images)"));
  }
}

TEST_CASE("bad input: broken run folders are refused by --resume with the file's name", "[bad-input][resume]") {
  TempDir dir;
  const std::string run = dir / "run";
  REQUIRE_NOTHROW(train(tiny_run(run)));
  REQUIRE(path_exists(run + "/checkpoint.safetensors"));
  fs::remove(run + "/summary.json");  // as if killed after its last checkpoint: --resume reads it
  const nlohmann::json config = read_json(run + "/config.json");

  SECTION("a config.json with a missing, mistyped or unknown setting") {
    nlohmann::json j = config;
    j.erase("lr");
    CHECK_THROWS_WITH(config_from_json(j, "cfg.json"), Contains("'cfg.json' is not an elrscope run configuration"));
    j = config;
    j["batch"] = "sixteen";
    CHECK_THROWS_WITH(config_from_json(j, "cfg.json"), Contains("'cfg.json' is not an elrscope run configuration"));
    j = config;
    j["schedule"] = "linear";
    CHECK_THROWS_WITH(config_from_json(j, "cfg.json"), Contains("'cfg.json'") && Contains("--schedule") &&
                                                           Contains("'linear'"));
  }
  SECTION("a config.json from before --no-cuda-graph and --tf32 loads with their defaults") {
    nlohmann::json j = config;
    j["cuda_graph"] = false;
    j["tf32"] = true;
    CHECK(!config_from_json(j, "cfg.json").cuda_graph);
    CHECK(config_from_json(j, "cfg.json").tf32);
    j.erase("cuda_graph");
    j.erase("tf32");
    const TrainConfig old = config_from_json(j, "cfg.json");
    CHECK(old.cuda_graph);
    CHECK(!old.tf32);
  }
  SECTION("a config.json that is not JSON, or a directory in its place") {
    write_file(run + "/config.json", "{\"model\": ");
    CHECK_THROWS_WITH(read_json(run + "/config.json"), Contains(run + "/config.json") && Contains("not valid JSON"));
    fs::remove(run + "/config.json");
    fs::create_directory(run + "/config.json");
    CHECK_THROWS_AS(read_json(run + "/config.json"), UserError);
    CHECK_THROWS_WITH(read_json(run + "/config.json"), Contains(run + "/config.json"));
  }
  SECTION("a checkpoint past the run's last step") {
    nlohmann::json j = config;
    j["steps"] = 1;
    j["total_steps"] = 1;
    write_json_atomic(run + "/config.json", j);
    CHECK_THROWS_WITH(train(resume_of(run)), Contains("--resume: checkpoint") && Contains("is at step 3, past the run's 1 steps"));
  }
  SECTION("a malformed line in layers.csv, and a missing metrics.jsonl") {
    const std::string csv = read_file(run + "/layers.csv");
    const int64_t lines = std::count(csv.begin(), csv.end(), '\n');
    write_file(run + "/layers.csv", csv + "not-a-step,garbage\n");
    CHECK_THROWS_WITH(train(resume_of(run)), Contains("--resume: '" + run + "/layers.csv' line " +
                                                      std::to_string(lines + 1)) &&
                                                 Contains("not-a-step,garbage"));
    write_file(run + "/layers.csv", csv);
    fs::remove(run + "/metrics.jsonl");
    CHECK_THROWS_WITH(train(resume_of(run)), Contains("--resume: cannot read") && Contains(run + "/metrics.jsonl"));
  }
}

TEST_CASE("bad input: values that used to be taken silently are refused, naming the option", "[bad-input][cli]") {
  TempDir dir;
  const std::string tiny = "train --model plain --depth 3 --dataset synthetic --batch 16 --no-eval --quiet --out " +
                           (dir / "run") + " ";
  const std::string small = tiny + "--width 4 --synthetic-size 64 --threads 1 ";
  auto refused = [&](const std::string& args, const std::string& words) {
    INFO(args);
    const testing::Outcome r = testing::run_elrscope(args);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(words));
    CHECK(!path_exists(dir / "run"));  // refused before anything was written
  };
  refused(small + "--steps 0", "--steps: must be positive, got 0");
  refused(tiny + "--steps 5 --width 0 --synthetic-size 64", "--width: must be positive, got 0");
  refused(small + "--steps 5 --seed -1", "--seed: must not be negative, got -1");
  refused(tiny + "--steps 5 --width 4 --synthetic-size 100000000",
          "--synthetic-size: must be at most 1000000, got 100000000");
  refused(small + "--steps 10 --warmup 50", "--warmup: 50 steps is longer than the run (10 steps)");
  refused(small + "--steps 5 --divergence-loss -1", "--divergence-loss: must not be negative");

  // More threads than processors: allowed (the results do not depend on it), with a warning.
  const testing::Outcome many = testing::run_elrscope(tiny + "--steps 2 --width 4 --synthetic-size 64 --threads 999");
  CHECK(many.exit_code == 0);
  CHECK_THAT(many.output, Contains("--threads 999 is more than the") && Contains("processors here"));
}

TEST_CASE("bad input: ode refuses out-of-range values and names missing input files", "[bad-input][ode]") {
  TempDir dir;
  const std::string run = dir / "run";
  REQUIRE(testing::run_elrscope("train --model plain --depth 3 --width 4 --dataset synthetic --synthetic-size 64 "
                                "--batch 16 --steps 3 --no-eval --quiet --threads 1 --out " + run)
              .exit_code == 0);
  auto refused = [&](const std::string& args, const std::string& words) {
    INFO(args);
    const testing::Outcome r = testing::run_elrscope(args);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(words));
    CHECK(!path_exists(run + "/ode.csv"));
  };
  refused("ode " + run + " --lr -1", "--lr: must be positive, got -1");
  refused("ode " + run + " --lr nan", "--lr: must be positive, got nan");
  refused("ode " + run + " --steps -5", "--steps: must not be negative, got -5");
  refused("ode " + run + " --momentum 1.5", "--momentum: must be in [0, 1)");
  refused("ode " + run + " --wd -0.1", "--wd: must not be negative");
  fs::rename(run + "/layers.csv", run + "/layers.moved");
  refused("ode " + run, "cannot read '" + run + "/layers.csv': No such file or directory");
}

TEST_CASE("bad input: report names the file a run directory lacks", "[bad-input][report]") {
  TempDir dir;
  const std::string run = dir / "run";
  REQUIRE(testing::run_elrscope("train --model plain --depth 3 --width 4 --dataset synthetic --synthetic-size 64 "
                                "--batch 16 --steps 3 --no-eval --quiet --threads 1 --out " + run)
              .exit_code == 0);
  for (const std::string file : {"layers.csv", "metrics.jsonl", "config.json"}) {
    INFO(file);
    fs::rename(run + "/" + file, run + "/" + file + ".moved");
    const testing::Outcome r = testing::run_elrscope("report --no-plots " + run);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(file == "config.json" ? "'" + run + "' is neither a run directory (config.json"
                                                        : "'" + run + "/" + file + "' is missing"));
    CHECK(!path_exists(run + "/report"));
    fs::rename(run + "/" + file + ".moved", run + "/" + file);
  }
  write_file(run + "/metrics.jsonl", "{\"step\": 0,\n");
  const testing::Outcome malformed = testing::run_elrscope("report --no-plots " + run);
  CHECK(malformed.exit_code == 2);
  CHECK_THAT(malformed.output, Contains("'" + run + "/metrics.jsonl' line 1: not JSON"));
}

TEST_CASE("bad input: a sweep directory whose sweep.json is not a sweep's is named", "[bad-input][sweep]") {
  TempDir dir;
  write_file(dir / "sweep.json", "{\"grid\": {\"lrs\": \"fast\"}}");
  const testing::Outcome r = testing::run_elrscope("sweep --collect-only --out " + dir.path);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("'" + (dir / "sweep.json") + "' is not a sweep description"));
  write_file(dir / "sweep.json", "[1, 2]");
  const testing::Outcome list = testing::run_elrscope("sweep --collect-only --out " + dir.path);
  CHECK(list.exit_code == 2);
  CHECK_THAT(list.output, Contains("sweep.json"));
}
