// The command line rejects wrong options with a non-zero exit and a one-line message naming the
// option, before doing any work; every train option reaches config.json and reads back from it.
#include "elr_test_paths.h"
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "experiments/cli/train_command.h"
#include "experiments/run/train_config.h"

namespace {

struct Outcome {
  int exit_code;
  std::string output;
};

Outcome run(const std::string& args) {
  const std::string cmd = std::string(ELR_BINARY) + " " + args + " --out /tmp/elr_cli_test_run --quiet 2>&1";
  Outcome o{-1, ""};
  if (std::FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) o.output += buf;
    int status = ::pclose(p);
    o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  return o;
}

void expect_rejected(const std::string& args, const std::string& option, const std::string& detail) {
  Outcome o = run("train " + args);
  INFO("elrscope train " << args << "\n" << o.output);
  CHECK(o.exit_code != 0);
  CHECK(o.output.find(option) != std::string::npos);
  CHECK(o.output.find(detail) != std::string::npos);
  // One line: the message, and nothing else.
  CHECK(std::count(o.output.begin(), o.output.end(), '\n') == 1);
}

}  // namespace

TEST_CASE("cli: wrong options exit non-zero with a message naming the option", "[cli]") {
  expect_rejected("--model transformer", "--model", "transformer");
  expect_rejected("--depth 2", "--depth", "3 to 200");
  expect_rejected("--model resnet --depth 21", "--depth", "6n+2");
  expect_rejected("--data-dir /nonexistent/folder", "--data-dir", "/nonexistent/folder");
  expect_rejected("--lr -0.5", "--lr", "positive");
  expect_rejected("--momentum 1.5", "--momentum", "[0, 1)");
  expect_rejected("--lr-control magic", "--lr-control", "magic");
  expect_rejected("--batch 1", "--batch", "at least 2");
  expect_rejected("--dataset cifar10", "--data-dir", "cifar10");
  expect_rejected("--target-elr 0.1", "--target-elr", "uniform-elr");
  expect_rejected("--nesterov --momentum 0", "--nesterov", "momentum");
  expect_rejected("--tf32", "--tf32", "--device cuda");
}

TEST_CASE("cli: --help documents every option and the outputs", "[cli]") {
  Outcome o = run("train --help");
  CHECK(o.exit_code == 0);
  for (const char* opt : {"--model", "--depth", "--width", "--dataset", "--data-dir", "--batch", "--steps", "--epochs",
                          "--lr", "--momentum", "--nesterov", "--wd", "--schedule", "--lr-control", "--seed",
                          "--log-every", "--out", "--device", "--no-cuda-graph", "--tf32", "--threads", "layers.csv", "metrics.jsonl",
                          "summary.json"})
    CHECK(o.output.find(opt) != std::string::npos);
}

TEST_CASE("cli: unknown flags are rejected by the parser", "[cli]") {
  Outcome o = run("train --learning-rate 0.1");
  CHECK(o.exit_code != 0);
  CHECK(o.output.find("--learning-rate") != std::string::npos);
}

TEST_CASE("cli: every train option reaches config.json, and config.json reads back the same", "[cli][resume]") {
  const std::vector<std::string> args = {
      "train", "--model", "resnet", "--depth", "20", "--width", "8", "--dataset", "synthetic", "--data-dir", "/tmp",
      "--synthetic-size", "100", "--image-size", "32", "--data-threads", "3", "--skip-corrupt", "--batch", "32",
      "--steps", "7", "--lr", "0.5", "--momentum", "0.5", "--nesterov",
      "--wd", "0.001", "--schedule", "step", "--warmup", "3", "--warmup-lr", "0.05", "--lr-control", "uniform-elr",
      "--target-elr", "0.2", "--target-elr-rule", "step0", "--bn-recalibrate", "3",
      "--seed", "9", "--log-every", "2", "--out", "/tmp/x", "--device", "cuda:1", "--tf32", "--no-cuda-graph",
      "--threads", "2", "--augment", "1", "--on-divergence", "continue", "--divergence-loss", "50",
      "--checkpoint-every", "4", "--no-eval", "--quiet", "--sync-bn", "--bn-groups", "2", "--affine-lr-scale", "0.5",
      "--dampened-momentum", "--keep-checkpoints", "0 3"};  // parsed, not validated: --dampened-momentum with --nesterov is refused later
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  elr::TrainConfig parsed;
  CLI::App app{"train"};
  elr::add_train_options(app, parsed);
  app.parse(static_cast<int>(argv.size()), argv.data());
  CHECK(parsed.schedule == elr::ScheduleKind::Step);
  CHECK(parsed.lr_control == elr::LrControlKind::UniformElr);
  CHECK(parsed.on_divergence == elr::OnDivergence::Continue);
  CHECK(parsed.device == elr::Device::cuda(1));
  CHECK(!parsed.progress);

  const nlohmann::json j = elr::config_to_json(parsed);
  CHECK(j["schedule"] == "step");
  CHECK(j["lr_control"] == "uniform-elr");
  CHECK(j["on_divergence"] == "continue");
  CHECK(j["device"] == "cuda:1");
  CHECK(j["weight_decay"] == 0.001);
  CHECK(j["cuda_graph"] == false);
  // Every setting given differs from its default, so a key that kept the default value did not
  // get the option (--epochs is left out: --steps excludes it).
  const nlohmann::json defaults = elr::config_to_json(elr::TrainConfig{});
  for (const auto& [key, value] : j.items()) {
    INFO(key);
    if (key != "epochs" && key != "momentum_convention") CHECK(value != defaults[key]);
  }
  CHECK(elr::config_to_json(elr::config_from_json(j, "config.json")) == j);
  CHECK(elr::setting_text(elr::config_from_json(j, "config.json").device) == "cuda:1");
}
