// Each `elrscope` subcommand lives in its own <name>_command.cpp: it adds its options to the parent
// app and returns what to run when it is chosen (an exit code: 0 ok, 2 bad input, 3 diverged).
#pragma once
#include <functional>

#include <CLI/CLI.hpp>

namespace elr {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command register_train_command(CLI::App& parent);         // train_command.cpp
Command register_explode_command(CLI::App& parent);       // explode_command.cpp
Command register_ode_command(CLI::App& parent);           // ode_command.cpp
Command register_critical_command(CLI::App& parent);      // critical_command.cpp
Command register_sweep_command(CLI::App& parent);         // sweep_command.cpp
Command register_report_command(CLI::App& parent);        // report_command.cpp
Command register_bench_command(CLI::App& parent);         // bench_command.cpp
Command register_trainability_command(CLI::App& parent);  // trainability_command.cpp

}  // namespace elr
