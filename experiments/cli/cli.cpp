#include "experiments/cli/cli.h"

#include <cstdio>
#include <exception>
#include <new>
#include <vector>

#include "engine/error.h"
#include "engine/files.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/train_command.h"

namespace elr {

int run_cli(int argc, char** argv) {
  CLI::App app{"elrscope: effective learning rates in batch-normalized networks.\n"
               "With no command, runs the default experiment: plain-10 on Fashion-MNIST, batch 128, one epoch, "
               "SGD lr 0.1 momentum 0.9, cosine schedule."};
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", [] { return "elrscope " + version_text(); });
  std::vector<Command> commands;
  // One line per subcommand.
  commands.push_back(register_train_command(app));
  commands.push_back(register_bench_command(app));
  commands.push_back(register_sweep_command(app));
  commands.push_back(register_trainability_command(app));
  commands.push_back(register_report_command(app));
  commands.push_back(register_explode_command(app));
  commands.push_back(register_ode_command(app));

  // The named settings (--schedule, --device, ...) are parsed with the command line, so a
  // UserError can come from parsing too.
  try {
    app.parse(argc, argv);
    for (const Command& c : commands)
      if (c.app->parsed()) return c.run();
    return run_train_command(TrainConfig{});
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const UserError& e) {
    std::fprintf(stderr, "elrscope: error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "elrscope: error: out of memory (a smaller --batch, model or data set needs less)\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "elrscope: internal error: %s\n", e.what());
    return 1;
  }
}

}  // namespace elr
