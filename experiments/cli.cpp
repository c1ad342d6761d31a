#include "experiments/cli.h"

#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "engine/error.h"
#include "experiments/cli_train.h"

namespace elr {

int run_cli(int argc, char** argv) {
  CLI::App app{"elrscope: effective learning rates in batch-normalized networks.\n"
               "With no command, runs the default experiment: plain-10 on Fashion-MNIST, batch 128, one epoch, "
               "SGD lr 0.1 momentum 0.9."};
  app.require_subcommand(0, 1);
  TrainConfig train_cfg;
  CLI::App* train_cmd = app.add_subcommand("train", "train a BN network and log every layer's ELR");
  add_train_options(*train_cmd, train_cfg);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (app.get_subcommands().empty() || train_cmd->parsed()) {
      TrainResult r = train(train_cfg);
      print_train_result(train_cfg, r);
      return r.diverged && train_cfg.on_divergence == "stop" ? 3 : 0;
    }
  } catch (const UserError& e) {
    std::fprintf(stderr, "elrscope: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "elrscope: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace elr
