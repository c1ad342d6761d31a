#include "experiments/cli/train_command.h"

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "engine/comm.h"
#include "engine/error.h"
#include "engine/files.h"
#include "experiments/cli/commands.h"
#include "experiments/run/interrupt.h"

namespace elr {

namespace {

int train_exit_code(const TrainConfig& cfg, const TrainResult& r) {
  if (r.interrupted_by) return interrupted_exit_code(r.interrupted_by);
  if (r.already_finished) return 0;
  return r.diverged && cfg.on_divergence == OnDivergence::Stop ? 3 : 0;
}

// --steps overrides --epochs: the two together are refused by the parser.
void exclude_steps_and_epochs(CLI::App& app) {
  CLI::Option* steps = app.get_option_no_throw("--steps");
  CLI::Option* epochs = app.get_option_no_throw("--epochs");
  if (steps && epochs) epochs->excludes(steps);
}

}  // namespace

CLI::Validator given_value_check(const std::string& flag, bool positive) {
  return CLI::Validator(
      [flag, positive](std::string& text) {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (end == text.c_str()) return std::string();  // not a number: the conversion says so
        if (positive && !(v > 0)) throw UserError(fmt::format("{}: must be positive, got {}", flag, text));
        if (!positive && (v < 0 || text.rfind('-', 0) == 0))
          throw UserError(fmt::format("{}: must not be negative, got {}", flag, text));
        return std::string();
      },
      positive ? "POSITIVE" : "NON-NEGATIVE");
}

void add_train_options(CLI::App& app, TrainConfig& cfg, const std::vector<std::string>& flags) {
  for (const std::string& flag : flags) {
    bool found = false;
    for_each_train_option(cfg, [&](const TrainOption& o, auto& value) {
      if (o.name() != flag) return;
      add_train_option(app, o, value);
      found = true;
    });
    ELR_CHECK(found, "add_train_options: `elrscope train` has no option {}", flag);
  }
  exclude_steps_and_epochs(app);
}

void add_train_options(CLI::App& app, TrainConfig& c) {
  for_each_train_option(c, [&](const TrainOption& o, auto& value) { add_train_option(app, o, value); });
  exclude_steps_and_epochs(app);
  app.footer(
      "Outputs (docs/outputs.md defines every column):\n"
      "  RUN/config.json    every setting, the model's parameters with their kinds, git revision\n"
      "  RUN/metrics.jsonl  one line per logged step: loss, batch accuracy, lr, ELR spread statistics\n"
      "  RUN/layers.csv     one row per logged step and parameter tensor: |W|^2 |g|^2 <g,W> |v|^2 |dW|^2 lr ELR\n"
      "  RUN/summary.json   steps, final loss, test accuracy, divergence, interruption, time\n"
      "  RUN/checkpoint.safetensors  weights, BN statistics, momentum buffers and training state\n"
      "  RUN/lock           while a process writes the run (docs/outputs.md: the run directory's life)\n"
      "Exit codes: 0 done (or, with --resume, nothing left to do), 2 bad input or a failed write, 3 diverged (with\n"
      "--on-divergence stop), 130 / 143 stopped by SIGINT / SIGTERM (checkpoint written: --resume continues),\n"
      "1 internal error.");
}

void print_train_result(const TrainConfig& cfg, const TrainResult& r) {
  std::printf("run directory: %s\n", r.run_dir.c_str());
  if (r.already_finished) {
    const std::string further = r.diverged ? "" : fmt::format(" (train further: --resume {} --steps N)", r.run_dir);
    std::printf("the run had %s at step %lld: nothing to do, nothing written%s\n", r.diverged ? "diverged" : "finished",
                static_cast<long long>(r.steps), further.c_str());
    return;
  }
  const std::string resumed =
      r.first_step > 0 ? fmt::format(" (resumed at step {}: {} now)", r.first_step, r.steps - r.first_step) : "";
  std::printf("steps: %lld%s in %.1f s (%.2f steps/s), final loss %.4f, train accuracy %.4f\n",
              static_cast<long long>(r.steps), resumed.c_str(), r.seconds, r.steps_per_second, r.final_loss,
              r.train_accuracy);
  if (r.diverged) std::printf("diverged: %s\n", r.divergence.c_str());
  if (r.interrupted_by)
    std::printf("interrupted by %s after %lld steps: checkpoint written; continue with: elrscope train --resume %s\n",
                signal_name(r.interrupted_by), static_cast<long long>(r.steps), r.run_dir.c_str());
  if (r.test_accuracy >= 0) std::printf("test accuracy: %.4f\n", r.test_accuracy);
}

int run_train_command(const TrainConfig& cfg) {
  const TrainResult r = train(cfg);
  if (world().is_root()) print_train_result(cfg, r);  // one report for all ranks
  return train_exit_code(cfg, r);
}

Command register_train_command(CLI::App& parent) {
  auto cfg = std::make_shared<TrainConfig>();
  auto resume_dir = std::make_shared<std::string>();
  CLI::App* app = parent.add_subcommand("train", "train a BN network and log every layer's ELR every step");
  add_train_options(*app, *cfg);
  app->add_option("--resume", *resume_dir,
                  "continue the run in RUN_DIR from its last checkpoint, with the settings of its config.json (only "
                  "--threads, --quiet and --steps may be given too; --steps N extends the run to N steps)");
  return {app, [cfg, resume_dir, app] {
            if (resume_dir->empty()) return run_train_command(*cfg);
            for (const CLI::Option* opt : app->get_options()) {
              const std::string name = opt->get_name();
              if (opt->count() > 0 && name != "--resume" && name != "--threads" && name != "--quiet" &&
                  name != "--steps")
                throw UserError(fmt::format(
                    "--resume: cannot be combined with {} (a resumed run keeps the settings of its config.json)", name));
            }
            const std::string config_path = *resume_dir + "/config.json";
            if (!path_exists(config_path))
              throw UserError(fmt::format("--resume: '{}' is not a run directory (no config.json)", *resume_dir));
            TrainConfig resumed = config_from_json(read_json(config_path), config_path);
            resumed.out = *resume_dir;
            resumed.resume = true;
            resumed.threads = cfg->threads;
            resumed.progress = cfg->progress;
            if (app->get_option("--steps")->count() > 0) resumed.steps = cfg->steps;
            return run_train_command(resumed);
          }};
}

}  // namespace elr
