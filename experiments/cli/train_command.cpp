#include "experiments/cli/train_command.h"

#include <cstdio>

#include <fmt/format.h>

#include "engine/error.h"
#include "engine/files.h"
#include "experiments/cli/commands.h"

namespace elr {

namespace {

// --steps overrides --epochs: the two together are refused by the parser.
void exclude_steps_and_epochs(CLI::App& app) {
  CLI::Option* steps = app.get_option_no_throw("--steps");
  CLI::Option* epochs = app.get_option_no_throw("--epochs");
  if (steps && epochs) epochs->excludes(steps);
}

}  // namespace

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
      "  RUN/summary.json   steps, final loss, test accuracy, divergence, time\n"
      "  RUN/checkpoint.safetensors  weights, BN statistics, momentum buffers and training state\n"
      "Exit codes: 0 done, 2 bad input, 3 diverged (with --on-divergence stop), 1 internal error.");
}

void print_train_result(const TrainConfig& cfg, const TrainResult& r) {
  std::printf("run directory: %s\n", r.run_dir.c_str());
  std::printf("steps: %lld in %.1f s (%.2f steps/s), final loss %.4f, train accuracy %.4f\n",
              static_cast<long long>(r.steps), r.seconds, r.steps_per_second, r.final_loss, r.train_accuracy);
  if (r.diverged) std::printf("diverged: %s\n", r.divergence.c_str());
  if (r.test_accuracy >= 0) std::printf("test accuracy: %.4f\n", r.test_accuracy);
}

int run_train_command(const TrainConfig& cfg) {
  TrainResult r = train(cfg);
  print_train_result(cfg, r);
  return r.diverged && cfg.on_divergence == OnDivergence::Stop ? 3 : 0;
}

Command register_train_command(CLI::App& parent) {
  auto cfg = std::make_shared<TrainConfig>();
  auto resume_dir = std::make_shared<std::string>();
  CLI::App* app = parent.add_subcommand("train", "train a BN network and log every layer's ELR every step");
  add_train_options(*app, *cfg);
  app->add_option("--resume", *resume_dir,
                  "continue the run in RUN_DIR from its last checkpoint, with the settings of its config.json "
                  "(only --threads and --quiet may be given too)");
  return {app, [cfg, resume_dir, app] {
            if (resume_dir->empty()) return run_train_command(*cfg);
            for (const CLI::Option* opt : app->get_options()) {
              const std::string name = opt->get_name();
              if (opt->count() > 0 && name != "--resume" && name != "--threads" && name != "--quiet")
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
            return run_train_command(resumed);
          }};
}

}  // namespace elr
