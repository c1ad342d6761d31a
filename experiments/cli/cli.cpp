#include "experiments/cli/cli.h"

#include <cstdio>
#include <exception>
#include <memory>
#include <new>
#include <vector>

#include "engine/comm.h"
#include "engine/error.h"
#include "engine/files.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/train_command.h"

namespace elr {

namespace {

// "rank 1 of 4: " in front of a message from one of several ranks.
std::string rank_prefix() {
  return world().size() > 1 ? fmt::format("rank {} of {}: ", world().rank(), world().size()) : "";
}

}  // namespace

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
  commands.push_back(register_critical_command(app));

  // The named settings (--schedule, --device, ...) are parsed with the command line, so a
  // UserError can come from parsing too. Started by mpirun or srun as one of several ranks, the
  // process joins the others first (docs/scale.md); an error that only this rank met ends them all.
  std::unique_ptr<WorldScope> ranks;
  auto failed = [&](int code) {
    if (ranks && world().size() > 1 && !failure_agreed()) world().abort(code);
    return code;
  };
  try {
    ranks = std::make_unique<WorldScope>();
    app.parse(argc, argv);
    for (const Command& c : commands) {
      if (!c.app->parsed()) continue;
      if (world().size() > 1 && c.app->get_name() != "train" && c.app->get_name() != "bench")
        throw UserError(fmt::format("`elrscope {}` runs as one process; only train and bench run on several ranks",
                                    c.app->get_name()));
      return c.run();
    }
    return run_train_command(TrainConfig{});
  } catch (const OtherRankFailed& e) {
    return e.exit_code;  // that rank has said why
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const UserError& e) {
    std::fprintf(stderr, "elrscope: %serror: %s\n", rank_prefix().c_str(), e.what());
    return failed(2);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "elrscope: %serror: out of memory (a smaller --batch, model or data set needs less)\n",
                 rank_prefix().c_str());
    return failed(1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "elrscope: %sinternal error: %s\n", rank_prefix().c_str(), e.what());
    return failed(1);
  }
}

}  // namespace elr
