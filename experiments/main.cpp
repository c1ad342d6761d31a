#include "experiments/cli.h"

int main(int argc, char** argv) { return elr::run_cli(argc, argv); }
