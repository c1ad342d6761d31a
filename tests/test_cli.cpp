// The command line rejects wrong options with a non-zero exit and a one-line message naming the
// option, before doing any work.
#include "elr_test_paths.h"
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <string>

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
