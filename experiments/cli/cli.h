// The `elrscope` command line: subcommands, their options and help texts.
#pragma once

namespace elr {

// Runs the command line; returns the process exit code (0 ok, 2 bad input, 1 other failure).
int run_cli(int argc, char** argv);

}  // namespace elr
