// Registration of `elrscope train` (and the options other commands share with it).
#pragma once
#include <CLI/CLI.hpp>

#include "experiments/run/train.h"

namespace elr {

// Adds the training options to `app`, bound to `cfg`.
void add_train_options(CLI::App& app, TrainConfig& cfg);
// Prints the one-paragraph summary of a finished run to stdout.
void print_train_result(const TrainConfig& cfg, const TrainResult& r);
// The default experiment (also what `elrscope` runs with no command).
int run_train_command(const TrainConfig& cfg);

}  // namespace elr
