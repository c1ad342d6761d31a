// The `elrscope` command line: subcommands, their options and help texts.
#pragma once

namespace elr {

// Runs the command line; returns the process exit code (0 ok, 2 bad input or a failed write, 3 a
// diverged run, 130 / 143 a run stopped by SIGINT / SIGTERM, 1 other failure).
int run_cli(int argc, char** argv);

}  // namespace elr
